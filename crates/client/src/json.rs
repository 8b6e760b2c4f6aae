//! Marshalled values shown as JSON (for `--json` output and for callers that
//! store what the master answered): the obvious mapping, with the few
//! Python values JSON lacks made explicit.

use proto::Value;

/// `value` as JSON: `None` → `null`, tuples, lists and sets → arrays,
/// dicts → objects (a non-string key becomes its Python `repr`), integers
/// outside `i64`/`u64` and non-finite floats → their Python text as a
/// string, objects → `{"__class__": name, ...attributes}`.
pub fn value_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::None => Json::Null,
        Value::Bool(flag) => Json::Bool(*flag),
        Value::Int(number) => {
            if let Ok(small) = i64::try_from(*number) {
                Json::from(small)
            } else if let Ok(large) = u64::try_from(*number) {
                Json::from(large)
            } else {
                Json::String(number.to_string())
            }
        }
        Value::BigInt(digits) => Json::String(digits.clone()),
        Value::Float(number) => serde_json::Number::from_f64(*number)
            .map_or_else(|| Json::String(proto::python_repr::float_repr(*number)), Json::Number),
        Value::String(text) => Json::String(text.clone()),
        Value::Tuple(items) | Value::List(items) | Value::Set(items) => {
            Json::Array(items.iter().map(value_to_json).collect())
        }
        Value::Dict(items) => {
            Json::Object(items.iter().map(|(key, item)| (key_text(key), value_to_json(item))).collect())
        }
        Value::Object(object) => {
            let mut map = serde_json::Map::new();
            map.insert("__class__".to_owned(), Json::String(object.class.name().to_owned()));
            for (key, item) in &object.state {
                map.insert(key_text(key), value_to_json(item));
            }
            Json::Object(map)
        }
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        other => proto::python_repr::repr_of(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_values_map_to_json() {
        let value = Value::dict_from([
            ("a", Value::Int(1)),
            ("b", Value::List(vec![Value::None, Value::Bool(true)])),
            ("c", Value::Tuple(vec![Value::str("tap0"), Value::str("10.0.0.1")])),
            ("d", Value::Float(f64::INFINITY)),
            ("e", Value::Int(i128::MAX)),
        ]);
        assert_eq!(
            value_to_json(&value).to_string(),
            r#"{"a":1,"b":[null,true],"c":["tap0","10.0.0.1"],"d":"inf","e":"170141183460469231731687303715884105727"}"#
        );
        let keyed = Value::Dict(vec![(Value::Int(1), Value::str("x"))]);
        assert_eq!(value_to_json(&keyed).to_string(), r#"{"1":"x"}"#);
    }
}
