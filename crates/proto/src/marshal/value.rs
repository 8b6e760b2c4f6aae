//! The Python value model the marshaller carries, with the accessors the
//! master, the node and the client use to build and read documents.

/// One Python value as `xml_marshaller` sees it.
///
/// Dictionaries keep their items as a list of pairs: keys may be any scalar
/// and the encoder sorts them as Python does, so no map type fits both sides.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None` — `<none/>`.
    None,
    /// `True`/`False` — `<bool>1</bool>`.
    Bool(bool),
    /// An integer: `<int>` below 1e24 in magnitude, `<long>` above.
    Int(i128),
    /// An integer too large for `i128`, as its decimal digits (with sign).
    BigInt(String),
    /// `<float>`, written as Python's `repr`.
    Float(f64),
    /// `str`, `bytes` or `unicode` — `<string>`.
    String(String),
    /// `<tuple>` (no id).
    Tuple(Vec<Value>),
    /// `<list id="iN">`.
    List(Vec<Value>),
    /// `<dictionary id="iN">`: alternating key and value children.
    Dict(Vec<(Value, Value)>),
    /// `<set id="iN">`.
    Set(Vec<Value>),
    /// One of the four objects the client's safe unmarshaller accepts.
    Object(Box<Object>),
}

/// The classes of `slapos.slap.slap` the Python client agrees to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `Computer(computer_id)`.
    Computer,
    /// `ComputerPartition(computer_id, partition_id, None)`.
    ComputerPartition,
    /// `SoftwareRelease(url, computer_guid)`.
    SoftwareRelease,
    /// `SoftwareInstance()`.
    SoftwareInstance,
}

/// `<object module="slapos.slap.slap" class="…">`: constructor arguments,
/// then attributes set on the built instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Which whitelisted class.
    pub class: Class,
    /// The `__getinitargs__` tuple.
    pub initargs: Vec<Value>,
    /// The attribute dictionary (`__dict__`).
    pub state: Vec<(Value, Value)>,
}

impl Class {
    /// The only module objects may come from, `slapos.slap.slap`.
    pub const MODULE: &'static str = "slapos.slap.slap";

    /// All four classes, for lookups and tests.
    pub const ALL: [Class; 4] = [
        Class::Computer,
        Class::ComputerPartition,
        Class::SoftwareRelease,
        Class::SoftwareInstance,
    ];

    /// The Python class name, as written in the `class` attribute.
    pub fn name(self) -> &'static str {
        match self {
            Class::Computer => "Computer",
            Class::ComputerPartition => "ComputerPartition",
            Class::SoftwareRelease => "SoftwareRelease",
            Class::SoftwareInstance => "SoftwareInstance",
        }
    }

    /// The class named `name` in [`Class::MODULE`], if it is one of the four.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|class| class.name() == name)
    }
}

impl Object {
    /// The state attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        lookup(&self.state, key)
    }
}

impl Value {
    /// A Python `str`.
    pub fn str(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// A dict with string keys, in the given order (the encoder sorts).
    pub fn dict_from<K: Into<String>>(items: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Dict(
            items
                .into_iter()
                .map(|(key, value)| (Value::String(key.into()), value))
                .collect(),
        )
    }

    /// An object of `class` built from `initargs`, then given `state`.
    pub fn object(class: Class, initargs: Vec<Value>, state: Vec<(Value, Value)>) -> Value {
        Value::Object(Box::new(Object {
            class,
            initargs,
            state,
        }))
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The value of a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        }
    }

    /// The value of an int (not a bool, not a [`Value::BigInt`]).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Value::Int(number) => Some(*number),
            _ => None,
        }
    }

    /// The items of a dict.
    pub fn as_dict(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Dict(items) => Some(items),
            _ => None,
        }
    }

    /// The items of a list or a tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// Whether this is `None`.
    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }

    /// The value under string key `key` of a dict (the last one if a
    /// hand-built dict repeats it); `None` for other values.
    pub fn dict_get(&self, key: &str) -> Option<&Value> {
        self.as_dict().and_then(|items| lookup(items, key))
    }

    /// The Python type name (`NoneType`, `bool`, `int`, `str`, ...), for
    /// error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Set(_) => "set",
            Value::Object(object) => object.class.name(),
        }
    }

    /// Structural equality where floats compare by bit pattern, so `NaN`
    /// equals itself and `0.0` differs from `-0.0`: "would encode the same".
    pub fn equivalent(&self, other: &Value) -> bool {
        fn all(left: &[Value], right: &[Value]) -> bool {
            left.len() == right.len() && left.iter().zip(right).all(|(a, b)| a.equivalent(b))
        }
        fn pairs(left: &[(Value, Value)], right: &[(Value, Value)]) -> bool {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|((ka, va), (kb, vb))| ka.equivalent(kb) && va.equivalent(vb))
        }
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => {
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }
            (Value::Tuple(a), Value::Tuple(b))
            | (Value::List(a), Value::List(b))
            | (Value::Set(a), Value::Set(b)) => all(a, b),
            (Value::Dict(a), Value::Dict(b)) => pairs(a, b),
            (Value::Object(a), Value::Object(b)) => {
                a.class == b.class && all(&a.initargs, &b.initargs) && pairs(&a.state, &b.state)
            }
            _ => self == other,
        }
    }
}

fn lookup<'v>(items: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    items
        .iter()
        .rev()
        .find(|(candidate, _)| candidate.as_str() == Some(key))
        .map(|(_, value)| value)
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Bool(flag)
    }
}

impl From<i64> for Value {
    fn from(number: i64) -> Value {
        Value::Int(i128::from(number))
    }
}

impl From<f64> for Value {
    fn from(number: f64) -> Value {
        Value::Float(number)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(option: Option<T>) -> Value {
        option.map_or(Value::None, Into::into)
    }
}

impl From<&serde_json::Value> for Value {
    /// What Python's `json.loads` makes of a JSON document. Objects keep
    /// serde_json's key order (sorted), not the document's.
    fn from(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::None,
            serde_json::Value::Bool(flag) => Value::Bool(*flag),
            serde_json::Value::Number(number) => {
                if let Some(integer) = number.as_i64() {
                    Value::Int(i128::from(integer))
                } else if let Some(integer) = number.as_u64() {
                    Value::Int(i128::from(integer))
                } else {
                    Value::Float(number.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(text) => Value::String(text.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from).collect()),
            serde_json::Value::Object(map) => Value::Dict(
                map.iter()
                    .map(|(key, value)| (Value::String(key.clone()), Value::from(value)))
                    .collect(),
            ),
        }
    }
}
