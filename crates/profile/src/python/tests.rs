//! Unit tests of the Python subset: one `check_*` per entry point, the
//! PEP 440 specifier golden (`test_data/python/specifiers.json`), resource
//! limits on hostile input, and property tests (cases from
//! `PROPTEST_CASES`): no input panics, and `!py!` encoding round-trips.

use proptest::prelude::*;

use super::pep440::Specifier;
use super::value::{dict_insert, set_insert};
use super::*;

fn env() -> PythonEnv {
    PythonEnv::new((3, 11, 2))
}

fn check_condition(expression: &str, expected: bool) {
    assert_eq!(
        evaluate_condition(expression, &env()),
        Ok(expected),
        "condition {expression:?}"
    );
}

fn check_condition_error(expression: &str, needle: &str) {
    match evaluate_condition(expression, &env()) {
        Err(error) => assert!(error.message.contains(needle), "{expression:?}: {error}"),
        Ok(value) => panic!("{expression:?}: expected an error with {needle:?}, got {value}"),
    }
}

fn check_decode(text: &str, expected_repr: &str) {
    let value = decode_py_value(text).unwrap_or_else(|error| panic!("{text:?}: {error}"));
    assert_eq!(python_repr(&value), expected_repr, "!py!{text}");
}

#[test]
fn slapos_condition_forms_follow_the_environment() {
    check_condition("python2", false);
    check_condition("python3", true);
    check_condition("python311", true);
    check_condition("linux and platform.machine() == \"x86_64\"", true);
    check_condition("bits32", false);
    check_condition("sys.version_info < (3,8)", false);
    check_condition(
        "python_version >= \"3.8\" and platform_system == \"Linux\"",
        true,
    );
    let mut old = PythonEnv::new((2, 7, 18));
    old.platform_machine = "i686".to_owned();
    old.pointer_bits = 32;
    assert_eq!(evaluate_condition("python2 and bits32", &old), Ok(true));
    assert_eq!(
        evaluate_condition("sys.version_info < (3,8)", &old),
        Ok(true)
    );
    assert_eq!(evaluate_condition("python_version < \"3\"", &old), Ok(true));
}

#[test]
fn conditions_read_the_machine_like_python() {
    let dir = std::env::temp_dir().join(format!("profile-condition-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("model");
    std::fs::write(&file, "Board OLinuXino\r\nrev 2\n").unwrap();
    let (dir_text, file_text) = (dir.display().to_string(), file.display().to_string());
    check_condition(&format!("os.path.isdir('{dir_text}') and os.access('{file_text}', os.R_OK) and 'OLinuXino' in open('{file_text}').read()"), true);
    check_condition(&format!("open('{file_text}').read() == 'Board OLinuXino\\nrev 2\\n'"), true);
    check_condition(&format!("open('{file_text}').readlines()[1] == 'rev 2\\n'"), true);
    check_condition(&format!("open('{file_text}', 'rb').read()[:5] == b'Board'"), true);
    check_condition(&format!("os.path.isfile('{file_text}') and not os.path.isdir('{file_text}') and os.path.getsize('{file_text}') == 23"), true);
    check_condition(&format!("os.path.exists('{dir_text}/missing') or os.access('{dir_text}/missing', os.F_OK)"), false);
    // Short-circuit: the missing file is never opened.
    check_condition("os.path.isdir('/nonexistent/slapos') and 'x' in open('/nonexistent/slapos/model').read()", false);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(decode_py_value("open('/etc/hostname')").is_err(), "!py! values never read the machine");
}

#[test]
fn header_escapes_are_undone_before_evaluation() {
    check_condition(r"'\x23' == chr(35)", true);
    check_condition(r"os_name != '\x3b'", true);
}

#[test]
fn conditions_report_errors_naming_the_expression() {
    check_condition_error("undefined_name", "undefined_name");
    check_condition_error("os.listdir('/')", "without reading the machine");
    check_condition_error("open('/nonexistent/slapos-condition')", "FileNotFoundError");
    check_condition_error("os.access('/', os.X_OK)", "not supported");
    check_condition_error("extras == 'x'", "UndefinedEnvironmentName");
    check_condition_error("os_name ~= 'posix'", "UndefinedComparison");
    check_condition_error("", "IndexError");
}

#[test]
fn py_values_decode_like_the_slapos_fork() {
    check_decode("'cron-entry-backup'[11:]", "'backup'");
    check_decode("{'a': [1, (2,)], 'b': None}", "{'a': [1, (2,)], 'b': None}");
    check_decode("'a' + 'b'", "'ab'");
    check_decode("frozenset([1, 1])", "frozenset({1})");
    assert!(
        decode_py_value("len('a')").is_err(),
        "only the restricted builtins exist"
    );
}

#[test]
fn encoding_escapes_dollar_and_semicolon() {
    let value = PyValue::List(vec![
        PyValue::Str("${a:b};".to_owned()),
        PyValue::Float(1e16),
    ]);
    assert_eq!(encode_py_value(&value), r"!py!['\x24{a:b}\x3b', 1e+16]");
    assert_eq!(dumps(&value), encode_py_value(&value));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [MAX_NESTING_DEPTH + 1, 10_000, 100_000] {
        for (open, close) in [
            ("(", ")"),
            ("[", "]"),
            ("-", ""),
            ("not ", ""),
            ("{1:", "}"),
        ] {
            let text = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            assert!(
                evaluate_condition(&text, &env()).is_err(),
                "{open} x {depth}"
            );
            assert!(decode_py_value(&text).is_err(), "{open} x {depth}");
        }
    }
    let clauses = " for x in [1]".repeat(10_000);
    assert!(decode_py_value(&format!("[x{clauses}]")).is_err());
}

#[test]
fn long_flat_chains_evaluate_iteratively() {
    let sum = vec!["1"; 100_000].join(" + ");
    assert_eq!(decode_py_value(&sum).ok(), Some(PyValue::Int(100_000)));
    let chain = vec!["1"; 100_000].join(" == ");
    check_condition(&chain, true);
    let trailers = format!("'a'{}", "[0]".repeat(100_000));
    assert_eq!(
        decode_py_value(&trailers).ok(),
        Some(PyValue::Str("a".to_owned()))
    );
}

#[test]
fn hostile_sizes_hit_the_work_budget() {
    for text in [
        "[[0] * 1000000] * 1000000",
        "'a' * 10000000",
        "[0 for a in [0] * 100000 for b in [0] * 100000 if 0]",
        "[('x' * 1000000) for a in [0] * 100000]",
    ] {
        assert!(decode_py_value(text).is_err(), "{text}");
    }
}

#[test]
fn probe_json_round_trips_the_defaults() {
    assert!(PythonEnv::PROBE_SCRIPT.contains("json.dumps"));
    assert!(PythonEnv::from_probe_json("{}").is_err());
    assert!(PythonEnv::from_probe_json("not json").is_err());
    let defaults = env();
    let json = serde_json::json!({
        "version_info": [3, 11, 2, "final", 0],
        "sys_version": defaults.sys_version, "sys_platform": defaults.sys_platform,
        "sys_executable": defaults.sys_executable, "sys_maxsize": defaults.sys_maxsize,
        "sys_byteorder": defaults.sys_byteorder, "sys_hexversion": defaults.sys_hexversion,
        "implementation_name": defaults.implementation_name,
        "implementation_version": defaults.implementation_version,
        "os_name": defaults.os_name, "os_sep": defaults.os_sep, "os_pathsep": defaults.os_pathsep,
        "os_linesep": defaults.os_linesep, "platform_machine": defaults.platform_machine,
        "platform_system": defaults.platform_system, "platform_release": defaults.platform_release,
        "platform_version": defaults.platform_version, "platform_node": defaults.platform_node,
        "platform_python_implementation": defaults.platform_python_implementation,
        "platform_python_version": defaults.platform_python_version,
        "platform_linkage": defaults.platform_linkage, "pointer_bits": defaults.pointer_bits,
    });
    assert_eq!(PythonEnv::from_probe_json(&json.to_string()), Ok(defaults));
}

#[test]
fn specifiers_match_packaging() {
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../test_data/python/specifiers.json"))
            .expect("golden is JSON");
    let versions: Vec<&str> = golden["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let mut failures = Vec::new();
    for case in golden["specifiers"].as_array().expect("specifiers") {
        let text = case["specifier"].as_str().unwrap_or_default();
        let parsed = Specifier::parse(text);
        if parsed.is_some() != case["valid"].as_bool().unwrap_or(false) {
            failures.push(format!("{text}: validity differs"));
            continue;
        }
        let (Some(specifier), Some(expected)) = (parsed, case["matches"].as_array()) else {
            continue;
        };
        let expected: Vec<&str> = expected.iter().filter_map(|v| v.as_str()).collect();
        let actual: Vec<&str> = versions
            .iter()
            .copied()
            .filter(|v| specifier.contains(v))
            .collect();
        if actual != expected {
            failures.push(format!(
                "{text}: matched {actual:?}, packaging {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn float_repr_matches_python_layout() {
    for (value, expected) in [
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (0.1, "0.1"),
        (-0.0, "-0.0"),
        (f64::INFINITY, "inf"),
        (f64::NAN, "nan"),
        (1.5e300, "1.5e+300"),
        (123456789.123456789, "123456789.12345679"),
    ] {
        assert_eq!(python_repr(&PyValue::Float(value)), expected);
    }
}

/// Characters that make Python-looking text, to reach deep parser states.
const PYTHON_ALPHABET: &[char] = &[
    'a', 'x', '1', '0', '9', '.', 'e', 'j', '_', ' ', '(', ')', '[', ']', '{', '}', ',', ':', '\'',
    '"', '\\', '+', '-', '*', '/', '%', '<', '>', '=', '!', '~', '&', '|', '^', '#', '\n', 'r',
    'b', 'f', 'u', 'N', 'é', '😀', '\t',
];

fn python_like_text() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "and ",
        "or ",
        "not ",
        "in ",
        "is ",
        "if ",
        "else ",
        "for ",
        "lambda ",
        "None",
        "True",
        "sys",
        ".version_info",
        "platform",
        ".machine()",
        "python_version",
        "os_name",
        "\"3.8\"",
        "==",
        "~=",
        "===",
        "0x1F",
        "1e400",
        "'\\x41'",
        "'\\u12'",
        "b'\\xff'",
        "9223372036854775807",
    ]);
    let piece = prop_oneof![
        prop::sample::select(PYTHON_ALPHABET.to_vec()).prop_map(String::from),
        words.prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn hashable_leaf() -> impl Strategy<Value = PyValue> {
    prop_oneof![
        Just(PyValue::None),
        any::<bool>().prop_map(PyValue::Bool),
        any::<i64>().prop_map(PyValue::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(PyValue::Float),
        (-1e6f64..1e6, -1e6f64..1e6).prop_map(|(re, im)| PyValue::Complex(re, im)),
        any::<String>().prop_map(PyValue::Str),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(PyValue::Bytes),
    ]
}

fn py_value() -> impl Strategy<Value = PyValue> {
    hashable_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(PyValue::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(PyValue::Tuple),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(PyValue::ByteArray),
            prop::collection::vec((hashable_leaf(), inner), 0..6).prop_map(|pairs| {
                let mut dict = Vec::new();
                for (key, value) in pairs {
                    dict_insert(&mut dict, key, value).expect("leaves are hashable");
                }
                PyValue::Dict(dict)
            }),
            prop::collection::vec(hashable_leaf(), 0..6).prop_map(|items| {
                let mut set = Vec::new();
                for item in items {
                    set_insert(&mut set, item).expect("leaves are hashable");
                }
                PyValue::Set(set)
            }),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = evaluate_condition(&text, &env());
        let _ = decode_py_value(&text);
        let _ = is_marker(&text);
    }

    #[test]
    fn python_like_text_never_panics(text in python_like_text()) {
        let _ = evaluate_condition(&text, &env());
        let _ = decode_py_value(&text);
    }

    #[test]
    fn encoding_round_trips(value in py_value()) {
        let encoded = encode_py_value(&value);
        let text = encoded.strip_prefix("!py!").expect("encoding starts with !py!");
        prop_assert!(!text.contains('$') && !text.contains(';'));
        let decoded = decode_py_value(text);
        prop_assert_eq!(decoded, Ok(value));
    }
}
