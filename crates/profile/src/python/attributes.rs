//! Names, attributes and calls: the globals zc.buildout gives conditions
//! (`sys os platform re` and the flags of `_default_globals`), the builtins
//! the SlapOS fork gives `!py!` values, the Python builtins conditions use
//! (`len`, `int`, `any`, ...), the module attributes answered from
//! [`PythonEnv`], and a few `str`/`list`/`dict` methods. Conditions read
//! the local machine's files where real SlapOS profiles do (`open(path)
//! .read()`, `os.path.isdir/exists/isfile/islink/lexists/getsize`,
//! `os.access(path, os.F_OK | os.R_OK)`, `platform.freedesktop_os_release()`,
//! as `component/gcc` and `component/poppler` do): zc.buildout evaluates them
//! with Python on the machine the probed interpreter runs on, which is this
//! one. Relative paths are taken from the process's working directory, as
//! Python does. The rest of the machine (`os.environ`, `os.listdir`,
//! `os.path.realpath`...) stays an error.

use super::env::PythonEnv;
use super::eval::{Object, Scope, MAX_SEQUENCE_LENGTH};
use super::operators::iterate;
use super::repr::{repr, str_of};
use super::value::{dict_insert, python_compare, set_insert, Number, PyValue};
use super::PythonError;

/// A module reachable from the condition globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Module {
    Sys,
    SysImplementation,
    Os,
    OsPath,
    Platform,
    Re,
}

/// A callable builtin or module function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    // The `!py!` builtins.
    ByteArray,
    Complex,
    FrozenSet,
    Set,
    Dict,
    List,
    Str,
    Tuple,
    // Further builtins conditions may use.
    Len,
    Int,
    Float,
    Bool,
    Bytes,
    Repr,
    Abs,
    Min,
    Max,
    Any,
    All,
    Sorted,
    Range,
    Chr,
    Ord,
    HasAttr,
    GetAttr,
    Open,
    /// `os.path.<name>(path)`: a file-system test.
    PathTest(&'static str),
    /// `os.access(path, mode)`.
    OsAccess,
    /// `platform.freedesktop_os_release()`.
    FreedesktopOsRelease,
    // Module functions answered from the environment.
    PlatformMachine,
    PlatformSystem,
    PlatformRelease,
    PlatformVersion,
    PlatformNode,
    PlatformPythonVersion,
    PlatformPythonVersionTuple,
    PlatformPythonImplementation,
    PlatformArchitecture,
    /// A function that would read the machine; calling it is an error.
    Io(&'static str),
    /// A `re` function; regular expressions are not supported.
    Regex(&'static str),
}

const LITERAL_BUILTINS: [(&str, Function); 8] = [
    ("bytearray", Function::ByteArray),
    ("complex", Function::Complex),
    ("frozenset", Function::FrozenSet),
    ("set", Function::Set),
    ("dict", Function::Dict),
    ("list", Function::List),
    ("str", Function::Str),
    ("tuple", Function::Tuple),
];

const CONDITION_BUILTINS: [(&str, Function); 19] = [
    ("chr", Function::Chr),
    ("ord", Function::Ord),
    ("len", Function::Len),
    ("int", Function::Int),
    ("float", Function::Float),
    ("bool", Function::Bool),
    ("bytes", Function::Bytes),
    ("repr", Function::Repr),
    ("abs", Function::Abs),
    ("min", Function::Min),
    ("max", Function::Max),
    ("any", Function::Any),
    ("all", Function::All),
    ("sorted", Function::Sorted),
    ("range", Function::Range),
    ("hasattr", Function::HasAttr),
    ("getattr", Function::GetAttr),
    ("open", Function::Open),
    ("input", Function::Io("input")),
];

fn name_error(name: &str) -> PythonError {
    PythonError::new(format!("NameError: name '{name}' is not defined"))
}

/// Looks a global name up in `scope`.
///
/// # Errors
/// `NameError` for an unknown name.
pub(crate) fn global(scope: Scope<'_>, name: &str) -> Result<Object, PythonError> {
    if let Some((_, function)) = LITERAL_BUILTINS
        .iter()
        .find(|(builtin, _)| *builtin == name)
    {
        return Ok(Object::Function(*function));
    }
    let Scope::Condition(env) = scope else {
        return Err(name_error(name));
    };
    let module = match name {
        "sys" => Some(Module::Sys),
        "os" => Some(Module::Os),
        "platform" => Some(Module::Platform),
        "re" => Some(Module::Re),
        _ => None,
    };
    if let Some(module) = module {
        return Ok(Object::Module(module));
    }
    if let Some(flag) = env.default_global_flag(name) {
        return Ok(Object::Value(PyValue::Bool(flag)));
    }
    if let Some((_, function)) = CONDITION_BUILTINS
        .iter()
        .find(|(builtin, _)| *builtin == name)
    {
        return Ok(Object::Function(*function));
    }
    Err(name_error(name))
}

fn text(value: &str) -> Object {
    Object::Value(PyValue::Str(value.to_owned()))
}

fn no_attribute(owner: &str, name: &str) -> PythonError {
    PythonError::new(format!("AttributeError: {owner} has no attribute '{name}'"))
}

fn unsupported_attribute(owner: &str, name: &str) -> PythonError {
    PythonError::new(format!("{owner}.{name} is not supported in conditions"))
}

/// `object.name`.
///
/// # Errors
/// `AttributeError`, or an error for attributes this evaluator does not
/// model (including everything that reads the machine).
pub(crate) fn get_attribute(
    scope: Scope<'_>,
    object: Object,
    name: &str,
) -> Result<Object, PythonError> {
    match object {
        Object::Module(module) => {
            let Scope::Condition(env) = scope else {
                return Err(unsupported_attribute("module", name));
            };
            module_attribute(env, module, name)
        }
        Object::File(file) => super::machine::file_method(file, name),
        Object::VersionInfo(items) => {
            let position = ["major", "minor", "micro", "releaselevel", "serial"]
                .iter()
                .position(|field| *field == name)
                .ok_or_else(|| no_attribute("'sys.version_info' object", name))?;
            items
                .into_iter()
                .nth(position)
                .map(Object::Value)
                .ok_or_else(|| no_attribute("'sys.version_info' object", name))
        }
        Object::Value(value) => {
            if METHODS
                .iter()
                .any(|(type_name, method)| *type_name == value.type_name() && *method == name)
            {
                Ok(Object::Method(value, name.to_owned()))
            } else {
                let owner = format!("'{}' object", value.type_name());
                Err(PythonError::new(format!(
                    "AttributeError (or an unsupported method): {owner} has no attribute '{name}'"
                )))
            }
        }
        other => Err(unsupported_attribute(other.type_name(), name)),
    }
}

fn module_attribute(env: &PythonEnv, module: Module, name: &str) -> Result<Object, PythonError> {
    let function = |function: Function| Ok(Object::Function(function));
    match (module, name) {
        (Module::Sys, "version_info") => Ok(version_info(env)),
        (Module::Sys, "version") => Ok(text(&env.sys_version)),
        (Module::Sys, "platform") => Ok(text(&env.sys_platform)),
        (Module::Sys, "executable") => Ok(text(&env.sys_executable)),
        (Module::Sys, "byteorder") => Ok(text(&env.sys_byteorder)),
        (Module::Sys, "maxsize") => Ok(Object::Value(PyValue::Int(env.sys_maxsize))),
        (Module::Sys, "hexversion") => Ok(Object::Value(PyValue::Int(env.sys_hexversion))),
        (Module::Sys, "implementation") => Ok(Object::Module(Module::SysImplementation)),
        (Module::Sys, "pypy_version_info") if env.implementation_name != "pypy" => {
            Err(no_attribute("module 'sys'", name))
        }
        (Module::SysImplementation, "name") => Ok(text(&env.implementation_name)),
        (Module::Os, "name") => Ok(text(&env.os_name)),
        (Module::Os, "sep") => Ok(text(&env.os_sep)),
        (Module::Os, "pathsep") => Ok(text(&env.os_pathsep)),
        (Module::Os, "linesep") => Ok(text(&env.os_linesep)),
        (Module::Os, "curdir") => Ok(text(".")),
        (Module::Os, "pardir") => Ok(text("..")),
        (Module::Os, "extsep") => Ok(text(".")),
        (Module::Os, "path") => Ok(Object::Module(Module::OsPath)),
        (Module::Os, "F_OK") => Ok(Object::Value(PyValue::Int(0))),
        (Module::Os, "X_OK") => Ok(Object::Value(PyValue::Int(1))),
        (Module::Os, "W_OK") => Ok(Object::Value(PyValue::Int(2))),
        (Module::Os, "R_OK") => Ok(Object::Value(PyValue::Int(4))),
        (Module::Os, "access") => function(Function::OsAccess),
        (
            Module::Os,
            "environ" | "getenv" | "getcwd" | "listdir" | "uname" | "getuid" | "stat",
        ) => Err(PythonError::new(format!(
            "os.{name} is not supported: conditions are evaluated without reading the machine"
        ))),
        (Module::OsPath, "sep") => Ok(text(&env.os_sep)),
        (Module::OsPath, "exists" | "isfile" | "isdir" | "islink" | "lexists" | "getsize") => {
            function(Function::PathTest(io_name(name)))
        }
        (Module::OsPath, "realpath" | "expanduser") => function(Function::Io(io_name(name))),
        (Module::Platform, "machine") => function(Function::PlatformMachine),
        (Module::Platform, "system") => function(Function::PlatformSystem),
        (Module::Platform, "release") => function(Function::PlatformRelease),
        (Module::Platform, "version") => function(Function::PlatformVersion),
        (Module::Platform, "node") => function(Function::PlatformNode),
        (Module::Platform, "python_version") => function(Function::PlatformPythonVersion),
        (Module::Platform, "python_version_tuple") => {
            function(Function::PlatformPythonVersionTuple)
        }
        (Module::Platform, "python_implementation") => {
            function(Function::PlatformPythonImplementation)
        }
        (Module::Platform, "architecture") => function(Function::PlatformArchitecture),
        (Module::Platform, "freedesktop_os_release") => function(Function::FreedesktopOsRelease),
        (
            Module::Re,
            "match" | "search" | "fullmatch" | "compile" | "findall" | "sub" | "split",
        ) => function(Function::Regex(regex_name(name))),
        (module, name) => Err(unsupported_attribute(module_name(module), name)),
    }
}

fn io_name(name: &str) -> &'static str {
    [
        "exists",
        "isfile",
        "isdir",
        "islink",
        "lexists",
        "realpath",
        "expanduser",
        "getsize",
    ]
    .into_iter()
    .find(|known| *known == name)
    .unwrap_or("path function")
}

fn regex_name(name: &str) -> &'static str {
    [
        "match",
        "search",
        "fullmatch",
        "compile",
        "findall",
        "sub",
        "split",
    ]
    .into_iter()
    .find(|known| *known == name)
    .unwrap_or("function")
}

fn module_name(module: Module) -> &'static str {
    match module {
        Module::Sys => "sys",
        Module::SysImplementation => "sys.implementation",
        Module::Os => "os",
        Module::OsPath => "os.path",
        Module::Platform => "platform",
        Module::Re => "re",
    }
}

fn version_info(env: &PythonEnv) -> Object {
    let info = &env.version_info;
    Object::VersionInfo(vec![
        PyValue::Int(i64::from(info.major)),
        PyValue::Int(i64::from(info.minor)),
        PyValue::Int(i64::from(info.micro)),
        PyValue::Str(info.releaselevel.clone()),
        PyValue::Int(i64::from(info.serial)),
    ])
}

/// The methods of data types this evaluator implements.
const METHODS: [(&str, &str); 21] = [
    ("str", "startswith"),
    ("str", "endswith"),
    ("str", "lower"),
    ("str", "upper"),
    ("str", "strip"),
    ("str", "lstrip"),
    ("str", "rstrip"),
    ("str", "split"),
    ("str", "join"),
    ("str", "replace"),
    ("str", "find"),
    ("str", "count"),
    ("str", "isdigit"),
    ("list", "index"),
    ("list", "count"),
    ("tuple", "index"),
    ("tuple", "count"),
    ("dict", "get"),
    ("dict", "keys"),
    ("dict", "values"),
    ("dict", "items"),
];

/// Calls `callee` with evaluated arguments.
///
/// # Errors
/// `TypeError` for bad arguments or a non-callable, an error for `open`
/// and other machine access, and whatever the function raises.
pub(crate) fn call(
    scope: Scope<'_>,
    callee: Object,
    args: Vec<Object>,
    kwargs: Vec<(String, PyValue)>,
) -> Result<Object, PythonError> {
    match callee {
        Object::Function(function) => call_function(scope, function, args, kwargs),
        Object::FileMethod(file, name) => {
            if !kwargs.is_empty() {
                return Err(PythonError::new(format!(
                    "keyword arguments to {name}() are not supported"
                )));
            }
            super::machine::call_file_method(&file, name, &data_arguments(args)?).map(Object::Value)
        }
        Object::Method(receiver, name) => {
            if !kwargs.is_empty() {
                return Err(PythonError::new(format!(
                    "keyword arguments to {name}() are not supported"
                )));
            }
            let args = data_arguments(args)?;
            super::methods::call_method(receiver, &name, args).map(Object::Value)
        }
        other => Err(PythonError::new(format!(
            "TypeError: '{}' object is not callable",
            other.type_name()
        ))),
    }
}

fn data_arguments(args: Vec<Object>) -> Result<Vec<PyValue>, PythonError> {
    args.into_iter()
        .map(|arg| match arg {
            Object::Generator(items) => Ok(PyValue::List(items)),
            other => other.into_value("argument"),
        })
        .collect()
}

fn arity(name: &str, args: &[PyValue], min: usize, max: usize) -> Result<(), PythonError> {
    if args.len() < min || args.len() > max {
        return Err(PythonError::new(format!(
            "TypeError: {name}() takes from {min} to {max} arguments ({} given)",
            args.len()
        )));
    }
    Ok(())
}

fn env_text(scope: Scope<'_>, read: fn(&PythonEnv) -> &str) -> Result<Object, PythonError> {
    match scope {
        Scope::Condition(env) => Ok(text(read(env))),
        Scope::Literal => Err(PythonError::new("platform is not available in !py! values")),
    }
}

fn call_function(
    scope: Scope<'_>,
    function: Function,
    args: Vec<Object>,
    kwargs: Vec<(String, PyValue)>,
) -> Result<Object, PythonError> {
    if let Function::HasAttr | Function::GetAttr = function {
        return call_attribute_function(scope, function, args);
    }
    if !kwargs.is_empty() && function != Function::Dict {
        return Err(PythonError::new(
            "keyword arguments are only supported for dict()",
        ));
    }
    let args = data_arguments(args)?;
    let value = |result: PyValue| Ok(Object::Value(result));
    match function {
        Function::PlatformMachine => env_text(scope, |env| &env.platform_machine),
        Function::PlatformSystem => env_text(scope, |env| &env.platform_system),
        Function::PlatformRelease => env_text(scope, |env| &env.platform_release),
        Function::PlatformVersion => env_text(scope, |env| &env.platform_version),
        Function::PlatformNode => env_text(scope, |env| &env.platform_node),
        Function::PlatformPythonVersion => env_text(scope, |env| &env.platform_python_version),
        Function::PlatformPythonImplementation => {
            env_text(scope, |env| &env.platform_python_implementation)
        }
        Function::PlatformPythonVersionTuple => match scope {
            Scope::Condition(env) => value(PyValue::Tuple(
                env.python_version_tuple()
                    .into_iter()
                    .map(PyValue::Str)
                    .collect(),
            )),
            Scope::Literal => Err(PythonError::new("platform is not available in !py! values")),
        },
        Function::PlatformArchitecture => match scope {
            Scope::Condition(env) => value(PyValue::Tuple(vec![
                PyValue::Str(format!("{}bit", env.pointer_bits)),
                PyValue::Str(env.platform_linkage.clone()),
            ])),
            Scope::Literal => Err(PythonError::new("platform is not available in !py! values")),
        },
        Function::Open | Function::PathTest(_) | Function::OsAccess | Function::FreedesktopOsRelease => {
            if let Scope::Literal = scope {
                return Err(PythonError::new("the machine is not available in !py! values"));
            }
            super::machine::call(function, args)
        }
        Function::Io(name) => Err(PythonError::new(format!(
            "{name}() is not supported: conditions are evaluated without reading the machine"
        ))),
        Function::Regex(name) => Err(PythonError::new(format!(
            "re.{name}() is not supported: regular expressions are not implemented"
        ))),
        Function::Dict => build_dict(args, kwargs).map(Object::Value),
        other => super::methods::call_builtin(other, args).map(Object::Value),
    }
}

/// `hasattr(obj, name)` and `getattr(obj, name[, default])`.
fn call_attribute_function(
    scope: Scope<'_>,
    function: Function,
    mut args: Vec<Object>,
) -> Result<Object, PythonError> {
    let expected = if function == Function::HasAttr {
        2..=2
    } else {
        2..=3
    };
    if !expected.contains(&args.len()) {
        return Err(PythonError::new(
            "TypeError: wrong number of arguments to hasattr/getattr",
        ));
    }
    let default = if args.len() == 3 { args.pop() } else { None };
    let name = match args.pop() {
        Some(Object::Value(PyValue::Str(name))) => name,
        _ => return Err(PythonError::new("TypeError: attribute name must be string")),
    };
    let object = args
        .pop()
        .ok_or_else(|| PythonError::new("TypeError: missing object"))?;
    let found = get_attribute(scope, object, &name);
    let is_missing = |error: &PythonError| error.message.starts_with("AttributeError:");
    match (function, found, default) {
        (Function::HasAttr, Ok(_), _) => Ok(Object::Value(PyValue::Bool(true))),
        (Function::HasAttr, Err(error), _) if is_missing(&error) => {
            Ok(Object::Value(PyValue::Bool(false)))
        }
        (_, Ok(object), _) => Ok(object),
        (_, Err(error), Some(default)) if is_missing(&error) => Ok(default),
        (_, Err(error), _) => Err(error),
    }
}

/// `dict()`, `dict(mapping_or_pairs)`, `dict(**kwargs)`.
fn build_dict(args: Vec<PyValue>, kwargs: Vec<(String, PyValue)>) -> Result<PyValue, PythonError> {
    arity("dict", &args, 0, 1)?;
    let mut pairs = Vec::new();
    if let Some(source) = args.into_iter().next() {
        match source {
            PyValue::Dict(existing) => pairs = existing,
            other => {
                for item in iterate(other)? {
                    let pair = iterate(item)?;
                    let [key, value]: [PyValue; 2] = pair.try_into().map_err(|_| {
                        PythonError::new(
                            "ValueError: dictionary update sequence element has wrong length",
                        )
                    })?;
                    dict_insert(&mut pairs, key, value)?;
                }
            }
        }
    }
    for (key, value) in kwargs {
        dict_insert(&mut pairs, PyValue::Str(key), value)?;
    }
    Ok(PyValue::Dict(pairs))
}

/// Shared helpers for `methods`.
pub(crate) fn check_arity(
    name: &str,
    args: &[PyValue],
    min: usize,
    max: usize,
) -> Result<(), PythonError> {
    arity(name, args, min, max)
}

/// Builds a set from an iterable, with Python's duplicate rules.
pub(crate) fn collect_set(items: Vec<PyValue>) -> Result<Vec<PyValue>, PythonError> {
    let mut set = Vec::new();
    for item in items {
        set_insert(&mut set, item)?;
    }
    Ok(set)
}

/// Orders values for `sorted`, `min` and `max`, failing like Python on
/// unordered types.
pub(crate) fn ordering(left: &PyValue, right: &PyValue) -> Result<std::cmp::Ordering, PythonError> {
    Ok(python_compare(left, right, "<")?.unwrap_or(std::cmp::Ordering::Equal))
}

/// `str(x)`/`repr(x)` for `methods`.
pub(crate) fn to_text(value: &PyValue, as_repr: bool) -> String {
    if as_repr {
        repr(value)
    } else {
        str_of(value)
    }
}

/// The cap on built sequences, for `methods`.
pub(crate) const SEQUENCE_CAP: usize = MAX_SEQUENCE_LENGTH;

/// A number operand for `methods`.
pub(crate) fn number(value: &PyValue) -> Option<Number> {
    value.as_number()
}
