//! Unit tests of Python `str()` / `repr()`; the exhaustive comparison with
//! CPython is the golden test in `tests/it/golden.rs`.

use super::{float_repr, is_printable, repr_of, str_of, string_repr};
use crate::marshal::{Class, Value};

fn s(text: &str) -> Value {
    Value::str(text)
}

#[test]
fn str_of_scalars() {
    assert_eq!(str_of(&Value::None), "None");
    assert_eq!(str_of(&Value::Bool(true)), "True");
    assert_eq!(str_of(&Value::Bool(false)), "False");
    assert_eq!(str_of(&Value::Int(-12)), "-12");
    assert_eq!(str_of(&Value::BigInt("1".repeat(45))), "1".repeat(45));
    assert_eq!(str_of(&Value::Float(1.0)), "1.0");
    assert_eq!(str_of(&s("it's")), "it's");
}

#[test]
fn containers_use_repr_of_their_items() {
    let value = Value::dict_from([
        ("a", Value::Int(1)),
        ("b", Value::List(vec![Value::None, Value::Bool(true)])),
    ]);
    assert_eq!(str_of(&value), "{'a': 1, 'b': [None, True]}");
    assert_eq!(repr_of(&Value::Tuple(vec![Value::Int(1)])), "(1,)");
    assert_eq!(repr_of(&Value::Tuple(vec![])), "()");
    assert_eq!(
        repr_of(&Value::Tuple(vec![s("slaptap0"), s("10.0.0.2")])),
        "('slaptap0', '10.0.0.2')"
    );
    assert_eq!(repr_of(&Value::Set(vec![])), "set()");
    assert_eq!(
        repr_of(&Value::Set(vec![Value::Int(1), Value::Int(2)])),
        "{1, 2}"
    );
    assert_eq!(repr_of(&Value::Dict(vec![])), "{}");
    assert_eq!(
        repr_of(&Value::object(Class::Computer, vec![], vec![])),
        "<slapos.slap.slap.Computer object>"
    );
}

#[test]
fn string_repr_picks_quotes_and_escapes() {
    assert_eq!(string_repr(""), "''");
    assert_eq!(string_repr("it's"), "\"it's\"");
    assert_eq!(string_repr("say \"hi\""), "'say \"hi\"'");
    assert_eq!(string_repr("both '\""), "'both \\'\"'");
    assert_eq!(string_repr("back\\slash"), "'back\\\\slash'");
    assert_eq!(
        string_repr("\t\n\r\u{0}\u{1f}\u{7f}"),
        "'\\t\\n\\r\\x00\\x1f\\x7f'"
    );
    assert_eq!(
        string_repr("\u{80}\u{a0}\u{ad}é日😀"),
        "'\\x80\\xa0\\xadé日😀'"
    );
    assert_eq!(
        string_repr("\u{200b}\u{2028}\u{e000}\u{ffff}\u{10ffff}"),
        "'\\u200b\\u2028\\ue000\\uffff\\U0010ffff'"
    );
    assert!(is_printable(' '));
    assert!(!is_printable('\u{3000}'));
    assert!(is_printable('\u{301}'));
}

#[test]
fn float_repr_matches_python() {
    for (number, text) in [
        (1.5, "1.5"),
        (100.0, "100.0"),
        (1e100, "1e+100"),
        (1e-5, "1e-05"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (9_999_999_999_999_998.0, "9999999999999998.0"),
        (0.1, "0.1"),
        (1.0 / 3.0, "0.3333333333333333"),
        (-2.5e-300, "-2.5e-300"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (1_700_000_000.123_456, "1700000000.123456"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (f64::NAN, "nan"),
        (-f64::NAN, "nan"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        assert_eq!(float_repr(number), text, "{number:e}");
    }
}
