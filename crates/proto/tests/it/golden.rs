//! Golden tests: walk `test_data/`, recorded from xml_marshaller 1.0.3,
//! lxml and slapos.core 1.26.1 by `test_data/generate.py`, and compare our
//! codecs with it byte for byte. Each test reports every mismatching file.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proto::documents::{
    ComputerDoc, ComputerPartitionDoc, SoftwareInstanceDoc, SoftwareReleaseDoc,
};
use proto::marshal::{decode, encode, Class, Value};
use proto::{instance_xml, python_repr};
use serde_json::Value as Json;

fn suite(name: &str) -> PathBuf {
    crate::crate_dir()
        .join("test_data")
        .join(name)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn read_json(path: &Path) -> Json {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `(case name, sidecar)` for every `NAME.json` of a suite, sorted.
fn cases(name: &str) -> Vec<(String, Json)> {
    let directory = suite(name);
    let mut names: Vec<String> = fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|file| file.strip_suffix(".json").map(str::to_owned))
        .collect();
    names.sort();
    assert!(names.len() > 10, "{}: too few cases", directory.display());
    names
        .into_iter()
        .map(|case| {
            (
                case.clone(),
                read_json(&directory.join(format!("{case}.json"))),
            )
        })
        .collect()
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The value a type-tagged description (see `generate.py`) stands for.
fn build(description: &Json) -> Value {
    let tag = description[0].as_str().unwrap_or_default();
    let items = || description[1].as_array().cloned().unwrap_or_default();
    match tag {
        "none" => Value::None,
        "bool" => Value::Bool(description[1].as_bool().unwrap_or_default()),
        "int" => {
            let digits = description[1].as_str().unwrap_or_default();
            digits
                .parse()
                .map(Value::Int)
                .unwrap_or_else(|_| Value::BigInt(digits.to_owned()))
        }
        "float" => Value::Float(
            description[1]
                .as_str()
                .unwrap_or_default()
                .parse()
                .unwrap_or(f64::NAN),
        ),
        "str" => Value::str(description[1].as_str().unwrap_or_default()),
        "tuple" => Value::Tuple(items().iter().map(build).collect()),
        "list" => Value::List(items().iter().map(build).collect()),
        "set" => Value::Set(items().iter().map(build).collect()),
        "dict" => Value::Dict(
            items()
                .iter()
                .map(|pair| (build(&pair[0]), build(&pair[1])))
                .collect(),
        ),
        "object" => {
            let class = Class::from_name(description[1].as_str().unwrap_or_default())
                .expect("a known class");
            let initargs = description[2]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(build)
                .collect();
            let state = description[3].as_array().cloned().unwrap_or_default();
            let state = state
                .iter()
                .map(|pair| {
                    (
                        Value::str(pair[0].as_str().unwrap_or_default()),
                        build(&pair[1]),
                    )
                })
                .collect();
            Value::object(class, initargs, state)
        }
        other => panic!("unknown tag {other}"),
    }
}

/// Equality where dict items (and object attributes) may come in any order.
fn same(a: &Value, b: &Value) -> bool {
    fn same_pairs(a: &[(Value, Value)], b: &[(Value, Value)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .all(|(k, v)| b.iter().any(|(kk, vv)| same(k, kk) && same(v, vv)))
    }
    fn same_items(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
    }
    match (a, b) {
        (Value::Dict(x), Value::Dict(y)) => same_pairs(x, y),
        (Value::Tuple(x), Value::Tuple(y))
        | (Value::List(x), Value::List(y))
        | (Value::Set(x), Value::Set(y)) => same_items(x, y),
        (Value::Object(x), Value::Object(y)) => {
            x.class == y.class
                && same_items(&x.initargs, &y.initargs)
                && same_pairs(&x.state, &y.state)
        }
        _ => a.equivalent(b),
    }
}

/// Inputs Python refuses that we accept on purpose: a reference to a
/// character XML 1.0 forbids is how our encoder writes such characters
/// (Python cannot marshal them at all), so our decoder reads it back.
const DELIBERATELY_ACCEPTED: &[&str] = &["decode_error_control_char_ref"];

#[test]
fn marshal_encodes_byte_for_byte_and_decodes_golden_files() {
    let directory = suite("marshal");
    let mut failures = Vec::new();
    for (case, sidecar) in cases("marshal") {
        let golden = read(&directory.join(format!("{case}.xml")));
        let golden_text = String::from_utf8_lossy(&golden);
        let decoded = decode(&golden);
        if let Some(error) = sidecar.get("error") {
            match decoded {
                Ok(value) if !DELIBERATELY_ACCEPTED.contains(&case.as_str()) => {
                    failures.push(format!(
                        "{case}: python refuses ({error}), we decode {value:?}"
                    ));
                }
                _ => {}
            }
            continue;
        }
        let expected = build(&sidecar["value"]);
        let decoded = match decoded {
            Ok(value) => value,
            Err(error) => {
                failures.push(format!("{case}: {error}"));
                continue;
            }
        };
        if !same(&decoded, &expected) {
            failures.push(format!(
                "{case}: decoded {decoded:?}, python has {expected:?}"
            ));
        }
        if case.starts_with("decode_") {
            continue;
        }
        // Our encoder never emits <reference>: compare with the unshared copy.
        let written = match sidecar.get("expanded").and_then(Json::as_str) {
            Some(expanded) => {
                String::from_utf8_lossy(&read(&directory.join(expanded))).into_owned()
            }
            None => golden_text.into_owned(),
        };
        let ours = encode(&expected);
        if ours != written {
            failures.push(format!(
                "{case}: encode gives\n  {ours}\npython wrote\n  {written}"
            ));
        }
        let again = encode(&decoded);
        if again != written {
            failures.push(format!(
                "{case}: encode(decode(golden)) gives\n  {again}\npython wrote\n  {written}"
            ));
        }
    }
    report(failures);
}

#[test]
fn documents_rebuild_what_the_real_classes_marshal() {
    type Rebuild = fn(&Value) -> Result<Value, String>;
    // `computer_empty` is left out: a `Computer` without its two lists is
    // nothing the proxy sends, and `ComputerDoc` always writes them.
    let rebuilders: [(&str, Rebuild); 7] = [
        ("software_release_spec", |v| {
            SoftwareReleaseDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("software_release_plain", |v| {
            SoftwareReleaseDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("computer_partition_free", |v| {
            ComputerPartitionDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("computer_partition_allocated", |v| {
            ComputerPartitionDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("computer", |v| {
            ComputerDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("software_instance", |v| {
            SoftwareInstanceDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
        ("software_instance_shared", |v| {
            SoftwareInstanceDoc::from_value(v)
                .map(|d| d.to_value())
                .map_err(|e| e.to_string())
        }),
    ];
    let mut failures = Vec::new();
    for (case, rebuild) in rebuilders {
        let golden = read(&suite("marshal").join(format!("{case}.xml")));
        let rebuilt = decode(&golden)
            .map_err(|error| error.to_string())
            .and_then(|value| rebuild(&value));
        match rebuilt {
            Ok(value) if encode(&value).as_bytes() == golden => {}
            Ok(value) => failures.push(format!(
                "{case}: rebuilt as\n  {}\npython wrote\n  {}",
                encode(&value),
                String::from_utf8_lossy(&golden)
            )),
            Err(error) => failures.push(format!("{case}: {error}")),
        }
    }
    report(failures);
}

#[test]
fn instance_xml_matches_dict2xml_and_xml2dict() {
    let directory = suite("instance_xml");
    let mut failures = Vec::new();
    for (case, sidecar) in cases("instance_xml") {
        let golden = String::from_utf8(read(&directory.join(format!("{case}.xml"))))
            .expect("utf-8 golden file");
        let decoded = instance_xml::decode(&golden);
        if let Some(error) = sidecar.get("error") {
            if let Ok(params) = decoded {
                failures.push(format!(
                    "{case}: python refuses ({error}), we decode {params:?}"
                ));
            }
            continue;
        }
        let expected: BTreeMap<String, Option<String>> = sidecar["decoded"]
            .as_object()
            .map(|map| {
                map.iter()
                    .map(|(key, value)| (key.clone(), value.as_str().map(str::to_owned)))
                    .collect()
            })
            .unwrap_or_default();
        if decoded.as_ref() != Ok(&expected) {
            failures.push(format!(
                "{case}: decoded {decoded:?}, xml2dict gives {expected:?}"
            ));
        }
        if let Some(input) = sidecar.get("input") {
            match instance_xml::from_dict(&build(input)) {
                Ok(params) if instance_xml::encode(&params) == golden => {}
                Ok(params) => failures.push(format!(
                    "{case}: encode gives\n{}dict2xml wrote\n{golden}",
                    instance_xml::encode(&params)
                )),
                Err(error) => failures.push(format!("{case}: {error}")),
            }
        }
    }
    report(failures);
}

#[test]
fn str_and_repr_match_cpython() {
    let values = read_json(&suite("python_repr").join("values.json"));
    let mut failures = Vec::new();
    for case in values.as_array().cloned().unwrap_or_default() {
        let value = build(&case["value"]);
        let (str_expected, repr_expected) = (
            case["str"].as_str().unwrap_or_default(),
            case["repr"].as_str().unwrap_or_default(),
        );
        if python_repr::str_of(&value) != str_expected {
            failures.push(format!(
                "str: ours {:?}, python {str_expected:?}",
                python_repr::str_of(&value)
            ));
        }
        if python_repr::repr_of(&value) != repr_expected {
            failures.push(format!(
                "repr: ours {:?}, python {repr_expected:?}",
                python_repr::repr_of(&value)
            ));
        }
    }
    let floats = read_json(&suite("python_repr").join("floats.json"));
    let floats = floats.as_array().cloned().unwrap_or_default();
    assert!(floats.len() > 5000);
    for case in floats {
        let bits = u64::from_str_radix(case[0].as_str().unwrap_or_default(), 16).expect("hex bits");
        let number = f64::from_bits(bits);
        let expected = case[1].as_str().unwrap_or_default();
        if python_repr::float_repr(number) != expected {
            failures.push(format!(
                "repr({number:e}): ours {}, python {expected}",
                python_repr::float_repr(number)
            ));
        }
    }
    report(failures);
}
