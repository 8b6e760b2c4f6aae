//! RFC 6570 URI templates, as the HATEOAS root hands them out
//! (`…/hateoas/?mode=search&query={query}&select_list={select_list}`) and as
//! the Python `uritemplate.expand` fills them: level 3 operators (none, `+`,
//! `#`, `.`, `/`, `;`, `?`, `&`), string and list values, undefined
//! variables dropped (so the client's extra `limit` vanishes from a template
//! without `{limit}`). Simple expansion percent-encodes everything but the
//! unreserved characters `A-Z a-z 0-9 - . _ ~` (UTF-8 first); lists join
//! with `,`. Modifiers (`:n`, `*`) are parsed and ignored beyond explode for
//! lists. A `{` without `}` is copied literally.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986 unreserved characters gets encoded.
const UNRESERVED_KEPT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `+` and `#` expansion also keep the reserved characters (and `%`
/// triplets already present).
const RESERVED_KEPT: &AsciiSet = &UNRESERVED_KEPT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b'%');

/// A template variable's value.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    /// A string.
    String(String),
    /// A list, joined with `,` (or the operator's separator when exploded).
    List(Vec<String>),
}

impl From<&str> for TemplateValue {
    fn from(text: &str) -> TemplateValue {
        TemplateValue::String(text.to_owned())
    }
}

struct Operator {
    first: &'static str,
    separator: &'static str,
    named: bool,
    if_empty: &'static str,
    allow_reserved: bool,
}

fn operator(symbol: Option<char>) -> Operator {
    let (first, separator, named, if_empty, allow_reserved) = match symbol {
        Some('+') => ("", ",", false, "", true),
        Some('#') => ("#", ",", false, "", true),
        Some('.') => (".", ".", false, "", false),
        Some('/') => ("/", "/", false, "", false),
        Some(';') => (";", ";", true, "", false),
        Some('?') => ("?", "&", true, "=", false),
        Some('&') => ("&", "&", true, "=", false),
        _ => ("", ",", false, "", false),
    };
    Operator { first, separator, named, if_empty, allow_reserved }
}

/// Expands `template` with `variables` (name → value); unknown names expand
/// to nothing.
pub fn expand(template: &str, variables: &[(&str, TemplateValue)]) -> String {
    let mut expanded = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        expanded.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            expanded.push_str(&rest[open..]);
            return expanded;
        };
        expand_expression(&after[..close], variables, &mut expanded);
        rest = &after[close + 1..];
    }
    expanded.push_str(rest);
    expanded
}

fn expand_expression(expression: &str, variables: &[(&str, TemplateValue)], out: &mut String) {
    let symbol = expression.chars().next().filter(|c| "+#./;?&".contains(*c));
    let operator = operator(symbol);
    let list = match symbol {
        Some(symbol) => &expression[symbol.len_utf8()..],
        None => expression,
    };
    let mut first = true;
    for spec in list.split(',') {
        let explode = spec.ends_with('*');
        let name = spec.trim_end_matches('*');
        let name = name.split_once(':').map_or(name, |(name, _prefix)| name);
        let Some((_, value)) = variables.iter().find(|(candidate, _)| *candidate == name) else {
            continue;
        };
        let encode = |text: &str| encode(text, operator.allow_reserved);
        let rendered = match value {
            TemplateValue::String(text) if operator.named && text.is_empty() => {
                format!("{name}{}", operator.if_empty)
            }
            TemplateValue::String(text) if operator.named => format!("{name}={}", encode(text)),
            TemplateValue::String(text) => encode(text),
            TemplateValue::List(items) if items.is_empty() => continue,
            TemplateValue::List(items) if explode && operator.named => {
                items.iter().map(|item| format!("{name}={}", encode(item))).collect::<Vec<_>>().join(operator.separator)
            }
            TemplateValue::List(items) => {
                let joiner = if explode { operator.separator } else { "," };
                let joined = items.iter().map(|item| encode(item)).collect::<Vec<_>>().join(joiner);
                if operator.named {
                    format!("{name}={joined}")
                } else {
                    joined
                }
            }
        };
        out.push_str(if first { operator.first } else { operator.separator });
        out.push_str(&rendered);
        first = false;
    }
}

fn encode(text: &str, allow_reserved: bool) -> String {
    if !allow_reserved {
        return utf8_percent_encode(text, UNRESERVED_KEPT).to_string();
    }
    // Keep `%XX` triplets, encode a `%` that does not start one.
    let mut encoded = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut start = 0;
    for (index, _) in text.match_indices('%') {
        encoded.push_str(&utf8_percent_encode(&text[start..index], RESERVED_KEPT).to_string());
        let triplet = bytes.get(index + 1..index + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit));
        encoded.push_str(if triplet { "%" } else { "%25" });
        start = index + 1;
    }
    encoded.push_str(&utf8_percent_encode(&text[start..], RESERVED_KEPT).to_string());
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(template: &str, expected: &str) {
        let variables = [
            ("var", TemplateValue::from("value")),
            ("hello", TemplateValue::from("Hello World!")),
            ("path", TemplateValue::from("/foo/bar")),
            ("empty", TemplateValue::from("")),
            ("list", TemplateValue::List(vec!["red".into(), "green".into(), "blue".into()])),
            ("x", TemplateValue::from("1024")),
            ("y", TemplateValue::from("768")),
            ("pct", TemplateValue::from("50%25 100%")),
        ];
        assert_eq!(expand(template, &variables), expected, "{template}");
    }

    #[test]
    fn rfc6570_examples() {
        check("{var}", "value");
        check("{hello}", "Hello%20World%21");
        check("{+hello}", "Hello%20World!");
        check("{+path}/here", "/foo/bar/here");
        check("X{#var}", "X#value");
        check("{x,y}", "1024,768");
        check("{.list}", ".red,green,blue");
        check("{/list*}", "/red/green/blue");
        check("{;x,y,empty}", ";x=1024;y=768;empty");
        check("{?x,y,empty}", "?x=1024&y=768&empty=");
        check("?fixed=yes{&x}", "?fixed=yes&x=1024");
        check("{?list*}", "?list=red&list=green&list=blue");
        check("{undefined}", "");
        check("a{?undefined,x}", "a?x=1024");
        check("{+pct}", "50%25%20100%25");
        check("open{brace", "open{brace");
    }

    #[test]
    fn hateoas_search_template_is_filled_like_python_uritemplate() {
        let template = "http://127.0.0.1:8080/hateoas/?mode=search&query={query}&select_list={select_list}";
        let query = r#"portal_type:"Instance Tree" AND validation_state:validated AND title:="é/x""#;
        let variables = [
            ("query", TemplateValue::from(query)),
            ("select_list", TemplateValue::List(vec!["title".into(), "url_string".into()])),
            ("limit", TemplateValue::from("40")),
        ];
        assert_eq!(
            expand(template, &variables),
            "http://127.0.0.1:8080/hateoas/?mode=search&query=portal_type%3A%22Instance%20Tree%22%20AND%20validation_state%3Avalidated%20AND%20title%3A%3D%22%C3%A9%2Fx%22&select_list=title,url_string"
        );
    }
}
