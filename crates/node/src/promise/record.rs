//! The promise records SlapOS tools read, and the pure rules around them
//! (spec §6.2): the `.status.json` result, the scheduling cache, the log
//! line format and the legacy promises' history read back from it, message
//! truncation and the UTC result date.
//!
//! Everything here is pure: the `store` module reads and writes the bytes,
//! `mod.rs` decides with these values. Files are written the way Python's
//! `json.dump` writes them (`", "` and `": "` separators, non-ASCII escaped)
//! because monitors and the real `slapos node` read them back.

use serde::{Deserialize, Serialize};

/// A promise message longer than this keeps only its tail, as SlapOS does
/// so a chatty promise cannot bloat the master's error log.
pub(crate) const MESSAGE_CHARS_MAX: usize = 5000;

/// Periodicity of legacy promises, in minutes (spec §6.1).
pub(crate) const LEGACY_PERIODICITY_MINUTES: u64 = 2;

/// How many consecutive failed runs make a legacy promise an anomaly.
pub(crate) const LEGACY_ANOMALY_FAILURES: usize = 3;

/// `<title>.status.json`: the last result of one promise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StatusFile {
    pub(crate) title: String,
    pub(crate) name: String,
    pub(crate) path: String,
    #[serde(rename = "execution-time")]
    pub(crate) execution_time: f64,
    pub(crate) result: StatusResult,
}

/// The `result` object of a status file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StatusResult {
    /// `"Test Result"` or `"Anomaly Result"`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) failed: bool,
    /// `%Y-%m-%dT%H:%M:%S+0000`, UTC.
    pub(crate) date: String,
    pub(crate) message: Option<String>,
}

/// `cache/<title>`: what the last launch learnt about a promise, so the
/// next run knows whether it is due and whether it is disabled in a mode.
///
/// Fields are optional when read: SlapOS reads them with `dict.get`, so a
/// missing key means "falsy", never a parse error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CacheFile {
    #[serde(default)]
    pub(crate) is_tested: Option<bool>,
    #[serde(default)]
    pub(crate) is_anomaly_detected: Option<bool>,
    /// Minutes, as the promise set it (an integer or a float).
    #[serde(default)]
    pub(crate) periodicity: Option<serde_json::Number>,
    /// Unix seconds from which the promise is due again.
    #[serde(default)]
    pub(crate) next_run_after: Option<f64>,
    #[serde(default)]
    pub(crate) timestamp: Option<f64>,
    /// The cache is ignored once this file is gone (the promise moved).
    pub(crate) module_file: String,
    #[serde(default)]
    pub(crate) module_file_mtime: Option<f64>,
}

impl CacheFile {
    /// The cache of a promise launched at `timestamp` (Unix seconds).
    /// `started` is false when the promise is disabled in the running mode:
    /// then it is due again at once, as SlapOS does.
    pub(crate) fn launched(
        timestamp: f64,
        enabled: (bool, bool),
        periodicity: serde_json::Number,
        module: (String, f64),
        started: bool,
    ) -> CacheFile {
        let minutes = periodicity
            .as_f64()
            .unwrap_or(LEGACY_PERIODICITY_MINUTES as f64);
        let next_run_after = if started {
            timestamp + minutes * 60.0
        } else {
            timestamp
        };
        CacheFile {
            is_tested: Some(enabled.0),
            is_anomaly_detected: Some(enabled.1),
            periodicity: Some(periodicity),
            next_run_after: Some(next_run_after),
            timestamp: Some(timestamp),
            module_file: module.0,
            module_file_mtime: Some(module.1),
        }
    }
}

/// The title of a promise: its file name without the last extension
/// (`check-port.py` → `check-port`), as `os.path.splitext` cuts it.
pub(crate) fn title_from_file_name(name: &str) -> &str {
    match name.rfind('.') {
        // A leading dot starts a hidden name, not an extension.
        Some(dot) if name[..dot].chars().any(|c| c != '.') => &name[..dot],
        _ => name,
    }
}

/// Keeps the last `MESSAGE_CHARS_MAX` characters of a long message behind
/// `...`, so the result stays small; idempotent.
pub(crate) fn truncate_message(message: &str) -> String {
    let count = message.chars().count();
    if count <= MESSAGE_CHARS_MAX {
        return message.to_owned();
    }
    let tail: String = message.chars().skip(count - MESSAGE_CHARS_MAX).collect();
    format!("...{tail}")
}

/// Python's `str.strip()` for a promise's output: Unicode whitespace.
pub(crate) fn strip_output(output: &[u8]) -> String {
    String::from_utf8_lossy(output).trim().to_owned()
}

/// A broken-down civil time (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CivilTime {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

impl CivilTime {
    /// The civil time `seconds` after the Unix epoch (days-from-civil
    /// inverted, valid for any `i64` day count we can meet).
    pub(crate) fn from_unix(seconds: i64) -> CivilTime {
        let days = seconds.div_euclid(86_400);
        let second_of_day = seconds.rem_euclid(86_400);
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted.rem_euclid(146_097);
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_index + 2) / 5 + 1;
        let month = if month_index < 10 {
            month_index + 3
        } else {
            month_index - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        CivilTime {
            year,
            month: month as u32,
            day: day as u32,
            hour: (second_of_day / 3600) as u32,
            minute: (second_of_day % 3600 / 60) as u32,
            second: (second_of_day % 60) as u32,
        }
    }
}

/// The result date SlapOS writes: `%Y-%m-%dT%H:%M:%S+0000`, always UTC.
pub(crate) fn format_result_date(unix_seconds: i64) -> String {
    let t = CivilTime::from_unix(unix_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// One line of `<title>.log`:
/// `YYYY-mm-dd HH:MM:SS - LEVEL - <transaction> - message`, the date in
/// local time as Python's logging writes it (`local_seconds` already holds
/// the offset).
pub(crate) fn format_log_line(
    local_seconds: i64,
    level: &str,
    transaction: &str,
    message: &str,
) -> String {
    let t = CivilTime::from_unix(local_seconds);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} - {level} - {transaction} - {message}\n",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// A transaction id as GenericPromise makes them, `<int(time)>-<100..999>`;
/// the suffix comes from the caller's entropy so this stays pure.
pub(crate) fn transaction_id(unix_seconds: i64, entropy: u64) -> String {
    format!("{unix_seconds}-{}", 100 + entropy % 900)
}

/// One parsed log line: its level, transaction id and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LogLine<'a> {
    level: &'a str,
    transaction: &'a str,
}

/// Parses `YYYY-mm-dd HH:MM:SS - LEVEL - 123-456 - message`; `None` for a
/// continuation line of a multi-line message.
fn parse_log_line(line: &str) -> Option<LogLine<'_>> {
    let rest = line.get(19..)?;
    let date = &line[..19];
    let date_ok = date.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b' ',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if !date_ok {
        return None;
    }
    let rest = rest.strip_prefix(" - ")?;
    let (level, rest) = rest.split_once(" - ")?;
    if level.is_empty()
        || !level
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return None;
    }
    let (transaction, _message) = rest.split_once(" -").unwrap_or((rest, ""));
    let (seconds, suffix) = transaction.split_once('-')?;
    let well_formed = !seconds.is_empty()
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && suffix.len() == 3
        && suffix.bytes().all(|b| b.is_ascii_digit());
    well_formed.then_some(LogLine { level, transaction })
}

/// Whether each of the last `count` runs recorded in a promise log failed,
/// most recent first. A run is the lines of one transaction; it failed when
/// one of them is `ERROR` or `CRITICAL`.
pub(crate) fn recent_run_failures(log_text: &str, count: usize) -> Vec<bool> {
    let mut runs: Vec<bool> = Vec::new();
    let mut current: Option<&str> = None;
    for line in log_text.lines().rev() {
        let Some(parsed) = parse_log_line(line) else {
            continue;
        };
        if current != Some(parsed.transaction) {
            if runs.len() == count {
                break;
            }
            runs.push(false);
            current = Some(parsed.transaction);
        }
        if matches!(parsed.level, "ERROR" | "CRITICAL") {
            if let Some(last) = runs.last_mut() {
                *last = true;
            }
        }
    }
    runs
}


/// Serializes as Python's `json.dumps` does by default: `", "` and `": "`
/// separators and non-ASCII characters escaped as `\uXXXX`.
pub(crate) fn to_python_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// The `serde_json` formatter behind [`to_python_json`].
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units).iter() {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}
