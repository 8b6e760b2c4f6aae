//! Decoding of the bundled plugin runner's protocol (`runner.py`): JSON
//! lines on its stdout saying the promise was loaded (what its cache must
//! record), its verdict, or that it is disabled in this mode. Anything else
//! on stdout is ignored, so a stray print cannot break the node.

use super::record::CacheFile;

/// What the runner said, its last word per event kind.
#[derive(Debug, Default)]
pub(crate) struct Events {
    pub(crate) loaded: Option<Loaded>,
    pub(crate) result: Option<Outcome>,
    pub(crate) skipped: bool,
}

#[derive(Debug, serde::Deserialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event {
    Loaded(Loaded),
    Result(Outcome),
    Skipped,
}

/// The promise was imported: what its cache records.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Loaded {
    is_tested: bool,
    is_anomaly_detected: bool,
    periodicity: serde_json::Number,
    module_file: String,
    module_file_mtime: f64,
    started: bool,
}

impl Loaded {
    pub(crate) fn cache(&self, timestamp: f64) -> CacheFile {
        CacheFile::launched(
            timestamp,
            (self.is_tested, self.is_anomaly_detected),
            self.periodicity.clone(),
            (self.module_file.clone(), self.module_file_mtime),
            self.started,
        )
    }
}

/// The promise's verdict.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Outcome {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) failed: bool,
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) date: String,
    #[serde(default)]
    pub(crate) bang: bool,
}

/// Reads the JSON lines; anything else on stdout is ignored.
pub(crate) fn parse_events(stdout: &[u8]) -> Events {
    let mut events = Events::default();
    for line in String::from_utf8_lossy(stdout).lines() {
        if !line.starts_with('{') {
            continue;
        }
        match serde_json::from_str::<Event>(line) {
            Ok(Event::Loaded(loaded)) => events.loaded = Some(loaded),
            Ok(Event::Result(outcome)) => events.result = Some(outcome),
            Ok(Event::Skipped) => events.skipped = true,
            Err(error) => tracing::warn!(%error, "ignoring bad promise runner line"),
        }
    }
    events
}
