//! Python's tokenizer, reduced to what one `eval`-mode expression needs:
//! names, keywords, numbers (int, float, imaginary, with `_` separators and
//! `0x`/`0o`/`0b` prefixes), string and bytes literals with Python's escape
//! rules, operators, comments and line joining. Errors read like Python's
//! `SyntaxError`s.

use super::PythonError;

/// One token of an expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// An identifier that is not a keyword.
    Name(String),
    /// A reserved word (`and`, `None`, `for`, ...).
    Keyword(&'static str),
    /// An integer literal that fits in `u64` (the parser narrows it to
    /// `i64`, accepting 2**63 only right after a unary minus).
    Int(u64),
    /// A float literal.
    Float(f64),
    /// An imaginary literal (`2j`), its imaginary part.
    Imaginary(f64),
    /// A `str` literal, escapes decoded.
    Str(String),
    /// A `bytes` literal, escapes decoded.
    Bytes(Vec<u8>),
    /// An operator or delimiter.
    Op(&'static str),
    /// A line break outside brackets (ends a logical line).
    Newline,
}

const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Longest operators first so that `**` wins over `*`.
const OPERATORS: [&str; 40] = [
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "~", "(", ")", "[", "]", "{", "}", ",",
    ":", ".", ";", "+", "-", "*", "/", "%",
];
const SINGLE_OPERATORS: [&str; 7] = ["<", ">", "=", "&", "|", "^", "@"];

fn syntax_error(message: &str) -> PythonError {
    PythonError::new(format!("SyntaxError: {message}"))
}

/// Splits `source` into tokens; trailing newlines are dropped.
///
/// # Errors
/// A `SyntaxError` for text Python's tokenizer rejects, and an error for
/// integers outside `i64`, f-strings and `\N{...}` escapes.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, PythonError> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut position = 0;
    let mut bracket_depth: usize = 0;
    while position < chars.len() {
        let c = chars[position];
        if c == ' ' || c == '\t' || c == '\x0c' || (c == '\r' && bracket_depth > 0) {
            position += 1;
        } else if c == '\\' {
            match (chars.get(position + 1), chars.get(position + 2)) {
                (Some('\n'), _) => position += 2,
                (Some('\r'), Some('\n')) => position += 3,
                _ => {
                    return Err(syntax_error(
                        "unexpected character after line continuation character",
                    ))
                }
            }
        } else if c == '#' {
            while position < chars.len() && chars[position] != '\n' {
                position += 1;
            }
        } else if c == '\n' || c == '\r' {
            position += 1;
            if bracket_depth == 0 && !tokens.is_empty() && tokens.last() != Some(&Token::Newline) {
                tokens.push(Token::Newline);
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(position + 1).is_some_and(char::is_ascii_digit))
        {
            let (token, next) = lex_number(&chars, position)?;
            tokens.push(token);
            position = next;
        } else if is_identifier_start(c) {
            let start = position;
            while position < chars.len() && is_identifier_continue(chars[position]) {
                position += 1;
            }
            let word: String = chars[start..position].iter().collect();
            if let Some(&quote) = chars.get(position).filter(|q| **q == '\'' || **q == '"') {
                if matches!(word.to_ascii_lowercase().as_str(), "f" | "fr" | "rf") {
                    return Err(PythonError::new("f-strings are not supported"));
                }
                if let Some(prefix) = string_prefix(&word) {
                    let (token, next) = lex_string(&chars, position, quote, prefix)?;
                    tokens.push(token);
                    position = next;
                    continue;
                }
            }
            match KEYWORDS.iter().find(|keyword| **keyword == word) {
                Some(keyword) => tokens.push(Token::Keyword(keyword)),
                None => tokens.push(Token::Name(word)),
            }
        } else if c == '\'' || c == '"' {
            let (token, next) = lex_string(&chars, position, c, StringPrefix::default())?;
            tokens.push(token);
            position = next;
        } else {
            let operator = OPERATORS
                .iter()
                .chain(SINGLE_OPERATORS.iter())
                .find(|op| {
                    op.chars()
                        .enumerate()
                        .all(|(i, oc)| chars.get(position + i) == Some(&oc))
                })
                .ok_or_else(|| {
                    syntax_error(&format!("invalid character '{c}' (U+{:04X})", u32::from(c)))
                })?;
            match *operator {
                "(" | "[" | "{" => bracket_depth += 1,
                ")" | "]" | "}" => {
                    bracket_depth = bracket_depth
                        .checked_sub(1)
                        .ok_or_else(|| syntax_error(&format!("unmatched '{operator}'")))?;
                }
                _ => {}
            }
            tokens.push(Token::Op(operator));
            position += operator.chars().count();
        }
    }
    while tokens.last() == Some(&Token::Newline) {
        tokens.pop();
    }
    Ok(tokens)
}

fn is_identifier_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_identifier_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The letters before a string's opening quote.
#[derive(Debug, Clone, Copy, Default)]
struct StringPrefix {
    raw: bool,
    bytes: bool,
}

fn string_prefix(word: &str) -> Option<StringPrefix> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "r" => Some(StringPrefix {
            raw: true,
            bytes: false,
        }),
        "u" => Some(StringPrefix::default()),
        "b" => Some(StringPrefix {
            raw: false,
            bytes: true,
        }),
        "br" | "rb" => Some(StringPrefix {
            raw: true,
            bytes: true,
        }),
        _ => None,
    }
}

/// Reads a string literal whose opening quote is at `start`.
fn lex_string(
    chars: &[char],
    start: usize,
    quote: char,
    prefix: StringPrefix,
) -> Result<(Token, usize), PythonError> {
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let mut position = if triple { start + 3 } else { start + 1 };
    let body_start = position;
    loop {
        let c = *chars.get(position).ok_or_else(|| {
            syntax_error(if triple {
                "unterminated triple-quoted string literal"
            } else {
                "unterminated string literal"
            })
        })?;
        if c == '\\' {
            position += 2;
            continue;
        }
        if c == '\n' && !triple {
            return Err(syntax_error("unterminated string literal"));
        }
        if c == quote
            && (!triple
                || (chars.get(position + 1) == Some(&quote)
                    && chars.get(position + 2) == Some(&quote)))
        {
            break;
        }
        position += 1;
    }
    let body = &chars[body_start..position];
    let end = if triple { position + 3 } else { position + 1 };
    let token = if prefix.bytes {
        Token::Bytes(decode_bytes_body(body, prefix.raw)?)
    } else {
        Token::Str(decode_str_body(body, prefix.raw)?)
    };
    Ok((token, end))
}

/// Decodes the escapes of a `str` literal body.
fn decode_str_body(body: &[char], raw: bool) -> Result<String, PythonError> {
    if raw {
        return Ok(body.iter().collect());
    }
    let mut text = String::with_capacity(body.len());
    let mut position = 0;
    while position < body.len() {
        let c = body[position];
        if c != '\\' {
            text.push(c);
            position += 1;
            continue;
        }
        let escape = body.get(position + 1).copied().unwrap_or('\\');
        position += 2;
        if escape == '\n' {
            continue;
        }
        match escape {
            'u' | 'U' => {
                let width = if escape == 'u' { 4 } else { 8 };
                let code = read_hex(body, position, width).ok_or_else(|| {
                    unicode_error(&format!("truncated \\{escape}{} escape", "X".repeat(width)))
                })?;
                position += width;
                let decoded = char::from_u32(code).ok_or_else(|| {
                    if code > 0x10FFFF {
                        unicode_error("illegal Unicode character")
                    } else {
                        PythonError::new("lone surrogates in strings are not supported")
                    }
                })?;
                text.push(decoded);
            }
            'N' => return Err(PythonError::new("\\N{...} escapes are not supported")),
            _ => {
                let (decoded, consumed) = common_escape(body, position, escape)?;
                position += consumed;
                match decoded {
                    Some(code) => text.push(char::from_u32(code).ok_or_else(|| {
                        PythonError::new("lone surrogates in strings are not supported")
                    })?),
                    None => {
                        text.push('\\');
                        position -= 1;
                    }
                }
            }
        }
    }
    Ok(text)
}

/// Decodes the escapes of a `bytes` literal body (ASCII only).
fn decode_bytes_body(body: &[char], raw: bool) -> Result<Vec<u8>, PythonError> {
    if body.iter().any(|c| !c.is_ascii()) {
        return Err(syntax_error(
            "bytes can only contain ASCII literal characters",
        ));
    }
    if raw {
        return Ok(body.iter().map(|c| *c as u8).collect());
    }
    let mut bytes = Vec::with_capacity(body.len());
    let mut position = 0;
    while position < body.len() {
        let c = body[position];
        if c != '\\' {
            bytes.push(c as u8);
            position += 1;
            continue;
        }
        let escape = body.get(position + 1).copied().unwrap_or('\\');
        position += 2;
        if escape == '\n' {
            continue;
        }
        let (decoded, consumed) = common_escape(body, position, escape)?;
        position += consumed;
        match decoded {
            Some(code) => bytes.push(
                u8::try_from(code)
                    .map_err(|_| PythonError::new("octal escape out of range in bytes"))?,
            ),
            None => {
                bytes.push(b'\\');
                position -= 1;
            }
        }
    }
    Ok(bytes)
}

/// Escapes shared by `str` and `bytes`. Returns the code (or `None` for an
/// unknown escape, kept as written) and how many characters after the
/// escape letter were consumed.
fn common_escape(
    body: &[char],
    position: usize,
    escape: char,
) -> Result<(Option<u32>, usize), PythonError> {
    let simple = match escape {
        '\\' => Some('\\'),
        '\'' => Some('\''),
        '"' => Some('"'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((Some(u32::from(c)), 0));
    }
    match escape {
        '0'..='7' => {
            let mut value = escape.to_digit(8).unwrap_or(0);
            let mut consumed = 0;
            while consumed < 2 {
                match body.get(position + consumed).and_then(|c| c.to_digit(8)) {
                    Some(digit) => value = value * 8 + digit,
                    None => break,
                }
                consumed += 1;
            }
            Ok((Some(value), consumed))
        }
        'x' => {
            let code = read_hex(body, position, 2)
                .ok_or_else(|| unicode_error("truncated \\xXX escape"))?;
            Ok((Some(code), 2))
        }
        _ => Ok((None, 0)),
    }
}

fn unicode_error(message: &str) -> PythonError {
    syntax_error(&format!(
        "(unicode error) 'unicodeescape' codec can't decode bytes: {message}"
    ))
}

fn read_hex(body: &[char], position: usize, width: usize) -> Option<u32> {
    let digits = body.get(position..position + width)?;
    digits
        .iter()
        .try_fold(0u32, |value, c| Some(value * 16 + c.to_digit(16)?))
}

/// Reads a number literal starting at `start`.
fn lex_number(chars: &[char], start: usize) -> Result<(Token, usize), PythonError> {
    let invalid = || syntax_error("invalid decimal literal");
    let next_is =
        |position: usize, set: &str| chars.get(position).is_some_and(|c| set.contains(*c));
    if chars[start] == '0' && next_is(start + 1, "xXoObB") {
        let radix = match chars[start + 1].to_ascii_lowercase() {
            'x' => 16,
            'o' => 8,
            _ => 2,
        };
        let (digits, end) = read_digits(chars, start + 2, radix).ok_or_else(invalid)?;
        let value = u64::from_str_radix(&digits, radix).map_err(|_| too_large())?;
        return Ok((Token::Int(value), end));
    }
    let mut text = String::new();
    let mut position = start;
    let mut is_float = false;
    if chars[start] != '.' {
        let (digits, end) = read_digits(chars, start, 10).ok_or_else(invalid)?;
        text.push_str(&digits);
        position = end;
    }
    if chars.get(position) == Some(&'.') {
        is_float = true;
        text.push('.');
        position += 1;
        if chars.get(position).is_some_and(char::is_ascii_digit) {
            let (digits, end) = read_digits(chars, position, 10).ok_or_else(invalid)?;
            text.push_str(&digits);
            position = end;
        }
    }
    if next_is(position, "eE") {
        let mut exponent_start = position + 1;
        if next_is(exponent_start, "+-") {
            exponent_start += 1;
        }
        if chars.get(exponent_start).is_some_and(char::is_ascii_digit) {
            let (digits, end) = read_digits(chars, exponent_start, 10).ok_or_else(invalid)?;
            text.push('e');
            if chars[exponent_start - 1] == '-' {
                text.push('-');
            }
            text.push_str(&digits);
            position = end;
            is_float = true;
        } else {
            return Err(invalid());
        }
    }
    if next_is(position, "jJ") {
        let value: f64 = text.parse().map_err(|_| invalid())?;
        return Ok((Token::Imaginary(value), position + 1));
    }
    if is_float {
        let value: f64 = text.parse().map_err(|_| invalid())?;
        return Ok((Token::Float(value), position));
    }
    if text.len() > 1 && text.starts_with('0') && text.chars().any(|c| c != '0') {
        return Err(syntax_error(
            "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
        ));
    }
    let value: u64 = text.parse().map_err(|_| too_large())?;
    Ok((Token::Int(value), position))
}

fn too_large() -> PythonError {
    PythonError::new("integer literal outside the 64-bit range is not supported")
}

/// Reads digits of `radix` with single `_` separators between them.
fn read_digits(chars: &[char], start: usize, radix: u32) -> Option<(String, usize)> {
    let mut digits = String::new();
    let mut position = start;
    loop {
        match chars.get(position) {
            Some(c) if c.is_digit(radix) => {
                digits.push(*c);
                position += 1;
            }
            Some('_')
                if !digits.is_empty()
                    && chars.get(position + 1).is_some_and(|c| c.is_digit(radix)) =>
            {
                position += 1;
            }
            _ => break,
        }
    }
    if digits.is_empty() || chars.get(position) == Some(&'_') {
        return None;
    }
    Some((digits, position))
}
