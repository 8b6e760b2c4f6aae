//! PEP 440 versions and single version specifiers, as packaging 26.4 (the
//! one zc.buildout 6.0.1 uses for markers) parses, orders and matches them
//! with pre-releases allowed: `==`/`!=` with `.*` prefixes and local
//! labels, `<`/`>` excluding the specified version's family as packaging
//! does, `~=`, and `===` as case-insensitive text equality. Numbers are kept
//! as digit strings, so arbitrarily long components compare correctly.

use std::cmp::Ordering;

/// A non-negative integer of any length, as its digits without leading
/// zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Number(String);

impl Number {
    fn parse(digits: &str) -> Number {
        let trimmed = digits.trim_start_matches('0');
        Number(if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        })
    }

    fn zero() -> Number {
        Number("0".to_owned())
    }

    fn is_zero(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One dot-separated part of a local label: strings sort before numbers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum LocalSegment {
    Text(String),
    Numeric(Number),
}

/// A parsed PEP 440 version.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    epoch: Number,
    release: Vec<Number>,
    /// Rank (`a` 0, `b` 1, `rc` 2) and number.
    pre: Option<(u8, Number)>,
    post: Option<Number>,
    dev: Option<Number>,
    local: Option<Vec<LocalSegment>>,
}

/// A cursor over an ASCII-lowercased version text.
struct Cursor<'t> {
    text: &'t [u8],
    position: usize,
}

impl Cursor<'_> {
    fn eat(&mut self, literal: &str) -> bool {
        let found = self.text[self.position..].starts_with(literal.as_bytes());
        if found {
            self.position += literal.len();
        }
        found
    }

    fn eat_separator(&mut self) -> bool {
        self.eat(".") || self.eat("_") || self.eat("-")
    }

    fn digits(&mut self) -> Option<Number> {
        let start = self.position;
        while self.text.get(self.position).is_some_and(u8::is_ascii_digit) {
            self.position += 1;
        }
        let digits = std::str::from_utf8(&self.text[start..self.position]).ok()?;
        (self.position > start).then(|| Number::parse(digits))
    }

    fn at_end(&self) -> bool {
        self.position == self.text.len()
    }

    /// Runs `parse`; on `None` the cursor goes back, like an optional group.
    fn optional<T>(&mut self, parse: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let saved = self.position;
        let result = parse(self);
        if result.is_none() {
            self.position = saved;
        }
        result
    }
}

/// The parts of a version text, with whether it ended in `.*`.
struct Parsed {
    version: Version,
    wildcard: bool,
}

/// Parses a version, optionally followed by `.*` when `allow_wildcard`.
/// Surrounding whitespace is allowed, as packaging allows it.
fn parse_parts(text: &str, allow_wildcard: bool) -> Option<Parsed> {
    let lowered = text.trim().to_ascii_lowercase();
    let mut cursor = Cursor {
        text: lowered.as_bytes(),
        position: 0,
    };
    cursor.eat("v");
    let epoch = cursor
        .optional(|c| {
            let digits = c.digits()?;
            c.eat("!").then_some(digits)
        })
        .unwrap_or_else(Number::zero);
    let mut release = vec![cursor.digits()?];
    while let Some(part) = cursor.optional(|c| if c.eat(".") { c.digits() } else { None }) {
        release.push(part);
    }
    if allow_wildcard && cursor.eat(".*") {
        let version = Version {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local: None,
        };
        return cursor.at_end().then_some(Parsed {
            version,
            wildcard: true,
        });
    }
    let pre = cursor.optional(|c| {
        c.eat_separator();
        let rank = [
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("preview", 2),
            ("pre", 2),
            ("c", 2),
            ("rc", 2),
        ]
        .into_iter()
        .find(|(letter, _)| c.eat(letter))
        .map(|(_, rank)| rank)?;
        c.eat_separator();
        Some((rank, c.digits().unwrap_or_else(Number::zero)))
    });
    let post = cursor
        .optional(|c| if c.eat("-") { c.digits() } else { None })
        .or_else(|| {
            cursor.optional(|c| {
                c.eat_separator();
                if !(c.eat("post") || c.eat("rev") || c.eat("r")) {
                    return None;
                }
                c.eat_separator();
                Some(c.digits().unwrap_or_else(Number::zero))
            })
        });
    let dev = cursor.optional(|c| {
        c.eat_separator();
        if !c.eat("dev") {
            return None;
        }
        c.eat_separator();
        Some(c.digits().unwrap_or_else(Number::zero))
    });
    let local = if cursor.eat("+") {
        Some(parse_local(&mut cursor)?)
    } else {
        None
    };
    if !cursor.at_end() {
        return None;
    }
    Some(Parsed {
        version: Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        },
        wildcard: false,
    })
}

/// `[a-z0-9]+([._-][a-z0-9]+)*` to the end of the text.
fn parse_local(cursor: &mut Cursor<'_>) -> Option<Vec<LocalSegment>> {
    let mut segments = Vec::new();
    loop {
        let start = cursor.position;
        while cursor
            .text
            .get(cursor.position)
            .is_some_and(u8::is_ascii_alphanumeric)
        {
            cursor.position += 1;
        }
        let part = std::str::from_utf8(&cursor.text[start..cursor.position]).ok()?;
        if part.is_empty() {
            return None;
        }
        segments.push(if part.bytes().all(|b| b.is_ascii_digit()) {
            LocalSegment::Numeric(Number::parse(part))
        } else {
            LocalSegment::Text(part.to_owned())
        });
        if cursor.at_end() {
            return Some(segments);
        }
        if !cursor.eat_separator() {
            return None;
        }
    }
}

impl Version {
    /// Parses a version as packaging's `Version` does.
    pub(crate) fn parse(text: &str) -> Option<Version> {
        parse_parts(text, false).map(|parsed| parsed.version)
    }

    fn trimmed_release(&self) -> &[Number] {
        let end = self
            .release
            .iter()
            .rposition(|n| !n.is_zero())
            .map_or(0, |i| i + 1);
        &self.release[..end]
    }

    /// packaging's ordering suffix: `(pre_rank, pre_n, post_rank, post_n,
    /// dev_rank, dev_n)` with dev-only releases first.
    fn suffix(&self) -> (i8, Number, u8, Number, u8, Number) {
        let (pre_rank, pre_number) = match (&self.pre, &self.post, &self.dev) {
            (None, None, Some(_)) => (-1, Number::zero()),
            (None, _, _) => (3, Number::zero()),
            (Some((rank, number)), _, _) => (i8::try_from(*rank).unwrap_or(3), number.clone()),
        };
        let (post_rank, post_number) = match &self.post {
            None => (0, Number::zero()),
            Some(number) => (1, number.clone()),
        };
        let (dev_rank, dev_number) = match &self.dev {
            None => (1, Number::zero()),
            Some(number) => (0, number.clone()),
        };
        (
            pre_rank,
            pre_number,
            post_rank,
            post_number,
            dev_rank,
            dev_number,
        )
    }

    fn family(&self) -> (&Number, &[Number]) {
        (&self.epoch, self.trimmed_release())
    }

    /// Total order of packaging's comparison key; `with_local` false
    /// compares the public versions.
    fn compare(&self, other: &Version, with_local: bool) -> Ordering {
        self.family()
            .cmp(&other.family())
            .then_with(|| self.suffix().cmp(&other.suffix()))
            .then_with(|| {
                if with_local {
                    self.local.cmp(&other.local)
                } else {
                    Ordering::Equal
                }
            })
    }

    fn is_prerelease_or_dev(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    fn with_dev_zero(&self) -> Version {
        Version {
            dev: Some(Number::zero()),
            local: None,
            ..self.clone()
        }
    }
}

/// One specifier, e.g. `>=3.8`.
#[derive(Debug, Clone)]
pub(crate) struct Specifier {
    operator: &'static str,
    /// The text after the operator, trimmed (`===` compares it as text).
    text: String,
    /// The parsed version (absent only for `===`).
    version: Option<Version>,
    wildcard: bool,
}

impl Specifier {
    /// Parses `OP VERSION` as packaging's `Specifier` does; `None` when
    /// packaging raises `InvalidSpecifier`.
    pub(crate) fn parse(text: &str) -> Option<Specifier> {
        let trimmed = text.trim();
        let operator = ["===", "~=", "==", "!=", "<=", ">=", "<", ">"]
            .into_iter()
            .find(|op| trimmed.starts_with(op))?;
        let rest = trimmed[operator.len()..].trim_start();
        if operator == "===" {
            let valid = !rest.is_empty()
                && !rest
                    .chars()
                    .any(|c| c.is_whitespace() || c == ';' || c == ')');
            return valid.then(|| Specifier {
                operator,
                text: rest.to_owned(),
                version: Version::parse(rest),
                wildcard: false,
            });
        }
        let allow_wildcard = matches!(operator, "==" | "!=");
        // The specifier grammar has no space inside the version.
        if rest.chars().any(char::is_whitespace) {
            return None;
        }
        let parsed = parse_parts(rest, allow_wildcard)?;
        let version = &parsed.version;
        let valid = match operator {
            "==" | "!=" => true,
            "~=" => version.local.is_none() && version.release.len() >= 2,
            _ => version.local.is_none(),
        };
        valid.then(|| Specifier {
            operator,
            text: rest.to_owned(),
            version: Some(parsed.version),
            wildcard: parsed.wildcard,
        })
    }

    /// `Specifier.contains(candidate, prereleases=True)`.
    pub(crate) fn contains(&self, candidate: &str) -> bool {
        if self.operator == "===" {
            return candidate.to_lowercase() == self.text.to_lowercase();
        }
        let (Some(spec), Some(candidate)) = (&self.version, Version::parse(candidate)) else {
            return false;
        };
        match self.operator {
            "==" => self.equal(spec, &candidate),
            "!=" => !self.equal(spec, &candidate),
            "<=" => candidate.compare(spec, false) != Ordering::Greater,
            ">=" => candidate.compare(spec, true) != Ordering::Less,
            "<" => less_than(spec, &candidate),
            ">" => greater_than(spec, &candidate),
            _ => compatible(spec, &candidate),
        }
    }

    fn equal(&self, spec: &Version, candidate: &Version) -> bool {
        if self.wildcard {
            return prefix_match(spec, candidate);
        }
        if spec.local.is_some() {
            candidate.compare(spec, true) == Ordering::Equal
        } else {
            candidate.compare(spec, false) == Ordering::Equal
        }
    }
}

/// `==V.*`: same epoch and, zero-padded, the same leading release parts.
fn prefix_match(spec: &Version, candidate: &Version) -> bool {
    if spec.epoch != candidate.epoch {
        return false;
    }
    spec.release.iter().enumerate().all(|(index, part)| {
        candidate
            .release
            .get(index)
            .cloned()
            .unwrap_or_else(Number::zero)
            == *part
    })
}

/// `<V`: below V, and never a pre-release or dev release of a final V.
fn less_than(spec: &Version, candidate: &Version) -> bool {
    if candidate.family() != spec.family() || spec.is_prerelease_or_dev() {
        return candidate.compare(spec, true) == Ordering::Less;
    }
    if spec.post.is_none() {
        return false;
    }
    candidate.compare(&spec.with_dev_zero(), true) == Ordering::Less
}

/// `>V`: above V, excluding V's local versions and, unless V is a post or
/// dev release, the post-releases that share V's pre-release segment.
fn greater_than(spec: &Version, candidate: &Version) -> bool {
    if candidate.compare(spec, true) != Ordering::Greater {
        return false;
    }
    if candidate.family() != spec.family() {
        return true;
    }
    if candidate.compare(spec, false) == Ordering::Equal {
        return false;
    }
    if spec.dev.is_some() || spec.post.is_some() {
        return true;
    }
    candidate.pre != spec.pre
}

/// `~=V`: `>=V` and `==P.*` where P is V's release without its last part.
fn compatible(spec: &Version, candidate: &Version) -> bool {
    if candidate.compare(spec, true) == Ordering::Less {
        return false;
    }
    let prefix_length = spec.release.len().saturating_sub(1);
    let prefix = Version {
        release: spec.release[..prefix_length].to_vec(),
        pre: None,
        post: None,
        dev: None,
        local: None,
        epoch: spec.epoch.clone(),
    };
    prefix_match(&prefix, candidate)
}
