//! Golden tests of `profile::python` against results recorded from the
//! reference interpreter (zc.buildout 6.0.1 on CPython) by
//! `test_data/python/generate.py`: conditional-section expressions through
//! buildout's own parser, and `!py!` values with the restricted builtins.
//! Every case is checked and all differences are reported together.

use std::path::PathBuf;

use profile::python::{
    decode_py_value, encode_py_value, evaluate_condition, is_marker, python_repr, PythonEnv,
};
use serde_json::Value;

fn golden_dir() -> PathBuf {
    crate::crate_dir().join("test_data/python")
}

fn load(name: &str) -> Value {
    let path = golden_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("parse {}: {error}", path.display()))
}

fn recorded_env() -> PythonEnv {
    let text =
        std::fs::read_to_string(golden_dir().join("probe.json")).expect("probe.json is committed");
    PythonEnv::from_probe_json(&text).expect("probe.json matches PROBE_SCRIPT")
}

fn cases(golden: &Value) -> &Vec<Value> {
    golden.as_array().expect("a golden file is a JSON list")
}

#[test]
fn conditions_match_zc_buildout() {
    let env = recorded_env();
    let golden = load("conditions.json");
    let mut failures = Vec::new();
    for case in cases(&golden) {
        let expression = case["expression"].as_str().expect("expression is a string");
        let actual = evaluate_condition(expression, &env);
        if case["is_marker"].as_bool() != Some(is_marker(expression)) {
            failures.push(format!(
                "{expression:?}: is_marker differs (python {})",
                case["is_marker"]
            ));
        }
        let matches = if case.get("gap").is_some() {
            actual.is_err()
        } else if let Some(error) = case.get("error") {
            actual.is_err() || {
                failures.push(format!(
                    "{expression:?}: python raised {error}, got {actual:?}"
                ));
                true
            }
        } else {
            actual.as_ref().ok() == case["result"].as_bool().as_ref()
        };
        if !matches {
            failures.push(format!(
                "{expression:?}: python {}, got {actual:?}",
                case["result"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} conditions differ:\n{}",
        failures.len(),
        cases(&golden).len(),
        failures.join("\n")
    );
}

#[test]
fn py_values_match_python() {
    let golden = load("py_values.json");
    let mut failures = Vec::new();
    for case in cases(&golden) {
        let text = case["text"].as_str().expect("text is a string");
        if let Err(difference) = check_py_value(text, case) {
            failures.push(format!("{text:?}: {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} py values differ:\n{}",
        failures.len(),
        cases(&golden).len(),
        failures.join("\n")
    );
}

fn check_py_value(text: &str, case: &Value) -> Result<(), String> {
    let decoded = decode_py_value(text);
    if case.get("gap").is_some() {
        return decoded
            .map(|value| format!("known gap should be an error, got {value:?}"))
            .map_or(Ok(()), Err);
    }
    if let Some(error) = case.get("error") {
        return match decoded {
            Err(_) => Ok(()),
            Ok(value) => Err(format!("python raised {error}, got {value:?}")),
        };
    }
    let value =
        decoded.map_err(|error| format!("python gave {}, got error {error}", case["repr"]))?;
    let expected_repr = case["repr"].as_str().unwrap_or_default();
    if case["ordered"].as_bool() == Some(true) {
        let repr = python_repr(&value);
        if repr != expected_repr {
            return Err(format!("repr {repr:?}, python {expected_repr:?}"));
        }
        let encoded = encode_py_value(&value);
        if Some(encoded.as_str()) != case["encoded"].as_str() {
            return Err(format!("encoded {encoded:?}, python {}", case["encoded"]));
        }
    } else {
        let expected = decode_py_value(expected_repr)
            .map_err(|error| format!("python repr undecodable: {error}"))?;
        if expected != value {
            return Err(format!("value {value:?}, python {expected_repr:?}"));
        }
    }
    let encoded = encode_py_value(&value);
    let round_trip = encoded.strip_prefix("!py!").map(decode_py_value);
    let round_trips = matches!(&round_trip, Some(Ok(back)) if *back == value);
    if Some(round_trips) != case["roundtrip"].as_bool() {
        return Err(format!(
            "round trip {round_trip:?}, python round trip {}",
            case["roundtrip"]
        ));
    }
    Ok(())
}
