//! `PythonEnv`: the facts about the Python interpreter that a conditional
//! section can test, held as plain data so that evaluation stays pure. The
//! CLI and the differential tests fill it by running [`PythonEnv::PROBE_SCRIPT`]
//! on the real interpreter and passing its output to
//! [`PythonEnv::from_probe_json`]; this module itself never runs anything.

use super::PythonError;

/// `sys.version_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// `major`, e.g. 3.
    pub major: u32,
    /// `minor`, e.g. 11.
    pub minor: u32,
    /// `micro`, e.g. 7.
    pub micro: u32,
    /// `releaselevel`: `alpha`, `beta`, `candidate` or `final`.
    pub releaselevel: String,
    /// `serial`, e.g. 0.
    pub serial: u32,
}

/// The interpreter facts a condition can test.
///
/// Field names follow the Python expression that produces them. The PEP 508
/// marker variables are derived from these fields, as packaging derives
/// them (see [`PythonEnv::marker_variable`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PythonEnv {
    /// `sys.version_info`.
    pub version_info: VersionInfo,
    /// `sys.version`, e.g. `3.11.7 (main, ...) [GCC 12.2.0]`.
    pub sys_version: String,
    /// `sys.platform`, e.g. `linux`.
    pub sys_platform: String,
    /// `sys.executable`, the `[buildout] executable` default.
    pub sys_executable: String,
    /// `sys.maxsize`.
    pub sys_maxsize: i64,
    /// `sys.byteorder`: `little` or `big`.
    pub sys_byteorder: String,
    /// `sys.hexversion`.
    pub sys_hexversion: i64,
    /// `sys.implementation.name`, e.g. `cpython`.
    pub implementation_name: String,
    /// `sys.implementation.version` as packaging formats it, e.g. `3.11.7`.
    pub implementation_version: String,
    /// `os.name`, e.g. `posix`.
    pub os_name: String,
    /// `os.sep`.
    pub os_sep: String,
    /// `os.pathsep`.
    pub os_pathsep: String,
    /// `os.linesep`.
    pub os_linesep: String,
    /// `platform.machine()`, e.g. `x86_64`.
    pub platform_machine: String,
    /// `platform.system()`, e.g. `Linux`.
    pub platform_system: String,
    /// `platform.release()`, the kernel release.
    pub platform_release: String,
    /// `platform.version()`, the kernel build string.
    pub platform_version: String,
    /// `platform.node()`, the host name.
    pub platform_node: String,
    /// `platform.python_implementation()`, e.g. `CPython`.
    pub platform_python_implementation: String,
    /// `platform.python_version()`, e.g. `3.11.7`.
    pub platform_python_version: String,
    /// `platform.architecture()[1]`, the executable's linkage, e.g. `ELF`.
    pub platform_linkage: String,
    /// `struct.calcsize('P') * 8`: 32 or 64.
    pub pointer_bits: u32,
}

impl PythonEnv {
    /// A Python program printing, as one JSON object on stdout, every fact
    /// [`PythonEnv::from_probe_json`] reads. It runs on Python 2.7 and 3.x.
    pub const PROBE_SCRIPT: &'static str = r#"import json, os, platform, struct, sys
impl = getattr(sys, 'implementation', None)
if impl is not None:
    iv = impl.version
    impl_version = '%d.%d.%d' % (iv.major, iv.minor, iv.micro)
    if iv.releaselevel != 'final':
        impl_version += iv.releaselevel[0] + str(iv.serial)
    impl_name = impl.name
else:
    impl_version = '0'
    impl_name = platform.python_implementation().lower()
vi = sys.version_info
print(json.dumps({
    'version_info': [vi[0], vi[1], vi[2], vi[3], vi[4]],
    'sys_version': sys.version,
    'sys_platform': sys.platform,
    'sys_executable': sys.executable,
    'sys_maxsize': sys.maxsize,
    'sys_byteorder': sys.byteorder,
    'sys_hexversion': sys.hexversion,
    'implementation_name': impl_name,
    'implementation_version': impl_version,
    'os_name': os.name,
    'os_sep': os.sep,
    'os_pathsep': os.pathsep,
    'os_linesep': os.linesep,
    'platform_machine': platform.machine(),
    'platform_system': platform.system(),
    'platform_release': platform.release(),
    'platform_version': platform.version(),
    'platform_node': platform.node(),
    'platform_python_implementation': platform.python_implementation(),
    'platform_python_version': platform.python_version(),
    'platform_linkage': platform.architecture()[1],
    'pointer_bits': struct.calcsize('P') * 8,
}, sort_keys=True))
"#;

    /// A CPython on Linux x86_64 of the given version, with plausible
    /// defaults for the kernel and paths; for tests and for callers that
    /// cannot run the real interpreter.
    pub fn new(version: (u32, u32, u32)) -> PythonEnv {
        let (major, minor, micro) = version;
        let dotted = format!("{major}.{minor}.{micro}");
        PythonEnv {
            version_info: VersionInfo {
                major,
                minor,
                micro,
                releaselevel: "final".to_owned(),
                serial: 0,
            },
            sys_version: format!("{dotted} (main) [GCC 12.2.0]"),
            sys_platform: if major >= 3 { "linux" } else { "linux2" }.to_owned(),
            sys_executable: format!("/usr/bin/python{major}.{minor}"),
            sys_maxsize: i64::MAX,
            sys_byteorder: "little".to_owned(),
            sys_hexversion: i64::from(major) << 24
                | i64::from(minor) << 16
                | i64::from(micro) << 8
                | 0xf0,
            implementation_name: "cpython".to_owned(),
            implementation_version: dotted.clone(),
            os_name: "posix".to_owned(),
            os_sep: "/".to_owned(),
            os_pathsep: ":".to_owned(),
            os_linesep: "\n".to_owned(),
            platform_machine: "x86_64".to_owned(),
            platform_system: "Linux".to_owned(),
            platform_release: "6.1.0-18-amd64".to_owned(),
            platform_version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".to_owned(),
            platform_node: "localhost".to_owned(),
            platform_python_implementation: "CPython".to_owned(),
            platform_python_version: dotted,
            platform_linkage: "ELF".to_owned(),
            pointer_bits: 64,
        }
    }

    /// Reads the JSON object printed by [`PythonEnv::PROBE_SCRIPT`].
    ///
    /// # Errors
    /// Text that is not a JSON object, or a missing or mistyped field.
    pub fn from_probe_json(json: &str) -> Result<PythonEnv, PythonError> {
        let parsed: serde_json::Value = serde_json::from_str(json)
            .map_err(|error| PythonError::new(format!("python probe is not JSON: {error}")))?;
        let object = parsed
            .as_object()
            .ok_or_else(|| PythonError::new("python probe is not a JSON object"))?;
        let text = |key: &str| -> Result<String, PythonError> {
            object
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| PythonError::new(format!("python probe lacks string {key:?}")))
        };
        let integer = |key: &str| -> Result<i64, PythonError> {
            object
                .get(key)
                .and_then(serde_json::Value::as_i64)
                .ok_or_else(|| PythonError::new(format!("python probe lacks integer {key:?}")))
        };
        let version_info = read_version_info(object.get("version_info"))?;
        let pointer_bits = u32::try_from(integer("pointer_bits")?)
            .map_err(|_| PythonError::new("python probe pointer_bits out of range"))?;
        Ok(PythonEnv {
            version_info,
            sys_version: text("sys_version")?,
            sys_platform: text("sys_platform")?,
            sys_executable: text("sys_executable")?,
            sys_maxsize: integer("sys_maxsize")?,
            sys_byteorder: text("sys_byteorder")?,
            sys_hexversion: integer("sys_hexversion")?,
            implementation_name: text("implementation_name")?,
            implementation_version: text("implementation_version")?,
            os_name: text("os_name")?,
            os_sep: text("os_sep")?,
            os_pathsep: text("os_pathsep")?,
            os_linesep: text("os_linesep")?,
            platform_machine: text("platform_machine")?,
            platform_system: text("platform_system")?,
            platform_release: text("platform_release")?,
            platform_version: text("platform_version")?,
            platform_node: text("platform_node")?,
            platform_python_implementation: text("platform_python_implementation")?,
            platform_python_version: text("platform_python_version")?,
            platform_linkage: text("platform_linkage")?,
            pointer_bits,
        })
    }

    /// `platform.python_version_tuple()`: the dotted version split in three.
    pub fn python_version_tuple(&self) -> Vec<String> {
        let mut parts: Vec<String> = self
            .platform_python_version
            .split('.')
            .map(str::to_owned)
            .collect();
        parts.resize(3, "0".to_owned());
        parts.truncate(3);
        parts
    }

    /// The value of a PEP 508 marker variable, as packaging's
    /// `default_environment()` computes it (with `extra` empty, and
    /// `python_full_version` repaired for untagged builds ending in `+`).
    /// `None` for a name packaging does not define in that environment.
    pub fn marker_variable(&self, name: &str) -> Option<String> {
        let value = match name {
            "implementation_name" => self.implementation_name.clone(),
            "implementation_version" => self.implementation_version.clone(),
            "os_name" => self.os_name.clone(),
            "platform_machine" => self.platform_machine.clone(),
            "platform_release" => self.platform_release.clone(),
            "platform_system" => self.platform_system.clone(),
            "platform_version" => self.platform_version.clone(),
            "python_full_version" => {
                let version = &self.platform_python_version;
                if version.ends_with('+') {
                    format!("{version}local")
                } else {
                    version.clone()
                }
            }
            "platform_python_implementation" => self.platform_python_implementation.clone(),
            "python_version" => self.python_version_tuple()[..2].join("."),
            "sys_platform" => self.sys_platform.clone(),
            "extra" => String::new(),
            _ => return None,
        };
        Some(value)
    }

    /// The boolean globals of zc.buildout's `_default_globals` (`python3`,
    /// `python311`, `linux`, `bits64`, ...), `None` for other names.
    pub fn default_global_flag(&self, name: &str) -> Option<bool> {
        let tuple = self.python_version_tuple();
        let sys_version = self.sys_version.to_lowercase();
        let pypy = sys_version.contains("pypy");
        let jython = sys_version.contains("java");
        let ironpython = sys_version.contains("iron");
        let platform = self.sys_platform.to_lowercase();
        let flag = match name {
            "python2" => tuple[0] == "2",
            "python3" => tuple[0] == "3",
            "cpython" => !(pypy || jython || ironpython),
            "pypy" => pypy,
            "jython" => jython,
            "ironpython" => ironpython,
            "linux" => platform.contains("linux"),
            "windows" => platform.contains("win32"),
            "cygwin" => platform.contains("cygwin"),
            "solaris" => platform.contains("sunos"),
            "macosx" => platform.contains("darwin"),
            "posix" => self.os_name.to_lowercase().contains("posix"),
            "bits32" => self.pointer_bits == 32,
            "bits64" => self.pointer_bits == 64,
            "little_endian" => self.sys_byteorder == "little",
            "big_endian" => self.sys_byteorder == "big",
            _ => {
                let digits = name.strip_prefix("python")?;
                if !MINOR_VERSION_FLAGS.contains(&digits) {
                    return None;
                }
                format!("{}{}", tuple[0], tuple[1]) == digits
            }
        };
        Some(flag)
    }
}

/// The `pythonXY` names zc.buildout 6.0.1 defines, without the prefix.
const MINOR_VERSION_FLAGS: [&str; 24] = [
    "24", "25", "26", "27", "30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "310",
    "311", "312", "313", "314", "315", "316", "317", "318", "319",
];

/// Reads `[major, minor, micro, releaselevel, serial]`.
fn read_version_info(value: Option<&serde_json::Value>) -> Result<VersionInfo, PythonError> {
    let invalid = || PythonError::new("python probe version_info is not a 5-item list");
    let items = value
        .and_then(serde_json::Value::as_array)
        .ok_or_else(invalid)?;
    let number = |index: usize| -> Result<u32, PythonError> {
        items
            .get(index)
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(invalid)
    };
    let releaselevel = items
        .get(3)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(invalid)?
        .to_owned();
    Ok(VersionInfo {
        major: number(0)?,
        minor: number(1)?,
        micro: number(2)?,
        releaselevel,
        serial: number(4)?,
    })
}
