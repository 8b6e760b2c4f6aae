//! Unit tests and properties of instance XML; byte-for-byte comparison with
//! `dict2xml` is the golden test in `tests/it/golden.rs`. Proptest case
//! counts follow `PROPTEST_CASES`.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::{decode, encode, from_dict, to_value, validate, InstanceXmlError};
use crate::marshal::proptests::{mutate, mutations, text};
use crate::marshal::Value;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn decoded(xml: &str) -> Vec<(String, Option<String>)> {
    decode(xml)
        .unwrap_or_else(|error| panic!("{xml}: {error}"))
        .into_iter()
        .collect()
}

fn some(key: &str, value: &str) -> (String, Option<String>) {
    (key.to_owned(), Some(value.to_owned()))
}

#[test]
fn spec_example() {
    let params = map(&[("foo", "bar"), ("_", "{\"a\": 1}")]);
    assert_eq!(
        encode(&params),
        "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id=\"_\">{\"a\": 1}</parameter>\n  <parameter id=\"foo\">bar</parameter>\n</instance>\n"
    );
    assert_eq!(
        encode(&BTreeMap::new()),
        "<?xml version='1.0' encoding='utf-8'?>\n<instance/>\n"
    );
}

#[test]
fn escaping_is_single_and_utf8_is_raw() {
    let params = map(&[("a\"b\n", "x&<y>\"'\r\n\té"), ("empty", "")]);
    assert_eq!(
        encode(&params),
        "<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id=\"a&quot;b&#10;\">x&amp;&lt;y&gt;\"'&#13;\n\té</parameter>\n  <parameter id=\"empty\"></parameter>\n</instance>\n"
    );
}

#[test]
fn from_dict_stringifies_values_as_python_str() {
    let value = Value::dict_from([
        ("int", Value::Int(1)),
        ("none", Value::None),
        ("bool", Value::Bool(true)),
        (
            "list",
            Value::List(vec![Value::Int(1), Value::str("a"), Value::None]),
        ),
        ("text", Value::str("t")),
    ]);
    assert_eq!(
        from_dict(&value).unwrap(),
        map(&[
            ("int", "1"),
            ("none", "None"),
            ("bool", "True"),
            ("list", "[1, 'a', None]"),
            ("text", "t")
        ])
    );
    assert_eq!(
        from_dict(&Value::Int(1)),
        Err(InstanceXmlError::NotADict {
            found: "int".to_owned()
        })
    );
    assert_eq!(
        from_dict(&Value::Dict(vec![(Value::Int(1), Value::None)]))
            .map_err(|error| error.to_string()),
        Err("parameter name must be a string, not 1".to_owned())
    );
    assert_eq!(
        from_dict(&Value::dict_from([("k", Value::str("\u{1}"))])),
        Err(InstanceXmlError::UnencodableChar {
            key: "k".to_owned(),
            code: 1
        })
    );
    assert!(validate(&map(&[("k", "\t\r\n ok")])).is_ok());
}

#[test]
fn decode_follows_xml2dict() {
    assert_eq!(decoded(""), []);
    assert_eq!(decoded("<instance/>"), []);
    assert_eq!(
        decoded("<instance><parameter id=\"a\">1</parameter></instance>"),
        [some("a", "1")]
    );
    assert_eq!(decoded("<?xml version='1.0' encoding='utf-8'?>\n<instance>\n  <parameter id=\"a\"></parameter>\n</instance>\n"), [("a".to_owned(), None)]);
    assert_eq!(decoded("<instance><parameter id=\"a\">1</parameter><parameter id=\"a\">2</parameter></instance>"), [some("a", "1 2")]);
    assert_eq!(
        decoded("<instance><parameter id=\"a\"/><parameter id=\"a\">2</parameter></instance>"),
        [some("a", "2")]
    );
    assert_eq!(
        decoded("<instance><parameter id=\"a\">x<b>y</b>z</parameter></instance>"),
        [some("a", "x")]
    );
    assert_eq!(
        decoded("<instance><parameter id=\"a\">x<!-- c -->z</parameter></instance>"),
        [some("a", "x")]
    );
    assert_eq!(
        decoded("<instance><parameter id=\"a\"><![CDATA[<&>]]></parameter></instance>"),
        [some("a", "<&>")]
    );
    assert_eq!(
        decoded("<root><other id=\"x\">1</other><parameter id=\"a\">  </parameter></root>"),
        [some("a", "  ")]
    );
    assert_eq!(
        decoded("<instance><x><parameter id=\"deep\">1</parameter></x></instance>"),
        []
    );
}

#[test]
fn decode_errors() {
    assert_eq!(
        decode("<instance><parameter id=\"a\">1</parameter><parameter id=\"a\"/></instance>"),
        Err(InstanceXmlError::EmptyRepeat {
            position: 41,
            key: "a".to_owned()
        })
    );
    assert_eq!(
        decode("<instance><parameter>1</parameter></instance>"),
        Err(InstanceXmlError::MissingId { position: 10 })
    );
    assert_eq!(
        decode("<instance><parameter id=\"a\">1</instance>").map_err(|error| error.to_string()),
        Err("byte 29: malformed xml, expected `</parameter>`".to_owned())
    );
    assert!(matches!(
        decode("not xml"),
        Err(InstanceXmlError::Syntax { position: 0, .. })
    ));
}

#[test]
fn to_value_gives_the_xml2dict_dict() {
    let params: BTreeMap<String, Option<String>> = [
        ("a".to_owned(), Some("1".to_owned())),
        ("b".to_owned(), None),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        to_value(&params),
        Value::dict_from([("a", Value::str("1")), ("b", Value::None)])
    );
}

fn xml_text() -> impl Strategy<Value = String> {
    text().prop_map(|text| {
        text.chars()
            .filter(|c| crate::xml::is_xml_char(*c))
            .collect()
    })
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_params_back(params in proptest::collection::btree_map(xml_text(), xml_text(), 0..6)) {
        let decoded = decode(&encode(&params));
        let expected: BTreeMap<String, Option<String>> = params
            .into_iter()
            .map(|(key, value)| (key, if value.is_empty() { None } else { Some(value) }))
            .collect();
        prop_assert_eq!(decoded, Ok(expected));
    }

    #[test]
    fn decode_survives_mutations(params in proptest::collection::btree_map(text(), text(), 0..4), mutations in mutations()) {
        let bytes = mutate(encode(&params).into_bytes(), &mutations);
        let _ = decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn decode_survives_arbitrary_text(input in "[<>/=\"' a-z&;#!\\[\\]?-]{0,80}") {
        let _ = decode(&input);
    }
}
