//! How results reach stdout: one JSON document with `--json`, else the
//! command's human rendering. The only module allowed to print.
#![allow(clippy::print_stdout)]

use std::io::Write;

/// A command's result, in both renderings.
#[derive(Debug)]
pub struct Output {
    /// For `--json`.
    pub json: serde_json::Value,
    /// For people; may be empty.
    pub human: String,
    /// Process exit status: 0, or e.g. 2 when the real CLI exits 2 (an
    /// instance still provisioning, an unknown service).
    pub exit_code: u8,
}

impl Output {
    /// A result serialised for `--json` and rendered for people.
    pub fn new(value: &impl serde::Serialize, human: impl Into<String>) -> Output {
        Output {
            json: serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
            human: human.into(),
            exit_code: 0,
        }
    }

    /// A result with nothing to show.
    pub fn empty() -> Output {
        Output { json: serde_json::Value::Null, human: String::new(), exit_code: 0 }
    }

    /// The same output, ending the process with `code`.
    pub fn with_exit_code(mut self, code: u8) -> Output {
        self.exit_code = code;
        self
    }
}

/// Writes one line to stdout now (e.g. a server's bound address, which a
/// harness waits for before the command ends). A closed stdout is ignored.
pub fn line(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// Prints a finished command's output. A broken pipe is a quiet success.
pub fn print(output: &Output, json: bool) {
    let mut stdout = std::io::stdout().lock();
    let text = if json {
        if output.json.is_null() {
            return;
        }
        serde_json::to_string_pretty(&output.json).unwrap_or_default()
    } else {
        output.human.trim_end().to_owned()
    };
    if text.is_empty() {
        return;
    }
    let _ = writeln!(stdout, "{text}");
}
