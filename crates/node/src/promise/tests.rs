//! Unit tests of the pure promise rules: titles, truncation, dates, log
//! history, scheduling decisions and the Python-compatible JSON.

use super::record::{self, CacheFile, StatusFile, StatusResult};
use super::{
    decide, generated_failure, timeout_message, Decision, Mode, PromiseError, PromiseReport,
    ResultType,
};
use std::time::Duration;

#[test]
fn title_is_file_name_without_last_extension() {
    assert_eq!(record::title_from_file_name("check-port.py"), "check-port");
    assert_eq!(record::title_from_file_name("a.b.py"), "a.b");
    assert_eq!(record::title_from_file_name("check_apache"), "check_apache");
    assert_eq!(record::title_from_file_name(".hidden"), ".hidden");
    assert_eq!(record::title_from_file_name("..x"), "..x");
}

#[test]
fn long_messages_keep_their_last_5000_characters() {
    assert_eq!(record::truncate_message("short"), "short");
    let exact = "x".repeat(5000);
    assert_eq!(record::truncate_message(&exact), exact);
    let long = format!("{}{}", "a".repeat(10), "é".repeat(5000));
    let truncated = record::truncate_message(&long);
    assert_eq!(truncated, format!("...{}", "é".repeat(5000)));
    assert_eq!(
        record::truncate_message(&truncated),
        truncated,
        "idempotent"
    );
}

#[test]
fn result_date_is_utc_in_slapos_format() {
    assert_eq!(record::format_result_date(0), "1970-01-01T00:00:00+0000");
    assert_eq!(
        record::format_result_date(951_782_400),
        "2000-02-29T00:00:00+0000"
    );
    assert_eq!(
        record::format_result_date(1_700_000_000),
        "2023-11-14T22:13:20+0000"
    );
    assert_eq!(record::format_result_date(-1), "1969-12-31T23:59:59+0000");
}

#[test]
fn log_lines_round_trip_through_history() {
    let mut log = String::new();
    for (second, level) in [(1, "ERROR"), (2, "INFO"), (3, "ERROR"), (4, "ERROR")] {
        let transaction = record::transaction_id(1_700_000_000 + second, second as u64);
        log.push_str(&record::format_log_line(
            1_700_000_000 + second,
            level,
            &transaction,
            "line one\nline two",
        ));
    }
    assert!(log.starts_with("2023-11-14 22:13:21 - ERROR - 1700000001-101 - line one\nline two\n"));
    assert_eq!(
        record::recent_run_failures(&log, 3),
        vec![true, true, false]
    );
    assert_eq!(
        record::recent_run_failures(&log, 10),
        vec![true, true, false, true]
    );
    assert_eq!(
        record::recent_run_failures("garbage\n", 3),
        Vec::<bool>::new()
    );
}

#[test]
fn python_repr_quotes_like_python() {
    assert_eq!(proto::python_repr::string_repr("check.py"), "'check.py'");
    assert_eq!(proto::python_repr::string_repr("it's"), "\"it's\"");
    assert_eq!(proto::python_repr::string_repr("a'\"b\n"), "'a\\'\"b\\n'");
}

#[test]
fn promise_error_quotes_the_file_name() {
    let error = PromiseError {
        name: "check.py".into(),
        message: "boom".into(),
    };
    assert_eq!(
        error.to_string(),
        "Promise 'check.py' failed with output: boom"
    );
    assert_eq!(PromiseReport::default().failure(), None);
}

#[test]
fn status_json_is_written_like_python() {
    let status = StatusFile {
        title: "t".into(),
        name: "t.py".into(),
        path: "/p/t.py".into(),
        execution_time: 0.5,
        result: StatusResult {
            kind: "Test Result".into(),
            failed: false,
            date: "d".into(),
            message: Some("é".into()),
        },
    };
    let text =
        String::from_utf8(record::to_python_json(&status).expect("serializable")).expect("ascii");
    assert_eq!(
        text,
        r#"{"title": "t", "name": "t.py", "path": "/p/t.py", "execution-time": 0.5, "result": {"type": "Test Result", "failed": false, "date": "d", "message": "\u00e9"}}"#
    );
}

fn cache(tested: bool, anomaly: bool, next_run_after: f64) -> CacheFile {
    CacheFile {
        is_tested: Some(tested),
        is_anomaly_detected: Some(anomaly),
        periodicity: Some(2.into()),
        next_run_after: Some(next_run_after),
        timestamp: Some(0.0),
        module_file: "/x".into(),
        module_file_mtime: Some(0.0),
    }
}

#[test]
fn test_mode_runs_every_enabled_promise() {
    assert_eq!(decide(None, Mode::Test, 10.0), Decision::Run);
    assert_eq!(
        decide(Some(&cache(true, true, 100.0)), Mode::Test, 10.0),
        Decision::Run
    );
    assert_eq!(
        decide(Some(&cache(false, true, 0.0)), Mode::Test, 10.0),
        Decision::Skip
    );
}

#[test]
fn anomaly_mode_runs_only_due_promises() {
    assert_eq!(decide(None, Mode::Anomaly, 10.0), Decision::Run);
    assert_eq!(
        decide(Some(&cache(true, true, 100.0)), Mode::Anomaly, 10.0),
        Decision::Reuse
    );
    assert_eq!(
        decide(Some(&cache(true, true, 100.0)), Mode::Anomaly, 100.0),
        Decision::Run
    );
    assert_eq!(
        decide(Some(&cache(true, false, 0.0)), Mode::Anomaly, 10.0),
        Decision::Skip
    );
}

#[test]
fn cache_of_a_launch_schedules_the_next_run() {
    let started = CacheFile::launched(1000.0, (true, true), 2.into(), ("/m.py".into(), 5.0), true);
    assert_eq!(started.next_run_after, Some(1120.0));
    let disabled = CacheFile::launched(
        1000.0,
        (false, true),
        2.into(),
        ("/m.py".into(), 5.0),
        false,
    );
    assert_eq!(disabled.next_run_after, Some(1000.0));
    let text =
        String::from_utf8(record::to_python_json(&started).expect("serializable")).expect("ascii");
    assert_eq!(
        text,
        r#"{"is_tested": true, "is_anomaly_detected": true, "periodicity": 2, "next_run_after": 1120.0, "timestamp": 1000.0, "module_file": "/m.py", "module_file_mtime": 5.0}"#
    );
}

#[test]
fn a_missing_result_fails_tests_but_not_a_first_anomaly() {
    assert_eq!(
        generated_failure(Mode::Test, None),
        (ResultType::Test, true)
    );
    assert_eq!(
        generated_failure(Mode::Anomaly, None),
        (ResultType::Anomaly, false)
    );
    let previous = StatusFile {
        title: "t".into(),
        name: "t".into(),
        path: "t".into(),
        execution_time: 0.0,
        result: StatusResult {
            kind: "Test Result".into(),
            failed: false,
            date: String::new(),
            message: Some("Error: Promise timed out after 20 seconds".into()),
        },
    };
    assert_eq!(
        generated_failure(Mode::Anomaly, Some(&previous)),
        (ResultType::Anomaly, true)
    );
}

#[test]
fn timeout_message_names_the_configured_seconds() {
    assert_eq!(
        timeout_message(Duration::from_secs(20)),
        "Error: Promise timed out after 20 seconds"
    );
    assert_eq!(
        timeout_message(Duration::from_millis(1500)),
        "Error: Promise timed out after 1.5 seconds"
    );
}

#[test]
fn runner_events_ignore_noise_on_stdout() {
    let stdout = b"hello\n{\"event\": \"loaded\", \"is_tested\": true, \"is_anomaly_detected\": false, \
        \"periodicity\": 0.5, \"module_file\": \"/m.py\", \"module_file_mtime\": 1.0, \"started\": true}\n\
        {not json\n{\"event\": \"result\", \"type\": \"Test Result\", \"failed\": true, \"message\": null, \
        \"date\": \"d\", \"bang\": true}\n";
    let events = super::runner::parse_events(stdout);
    let cache = events.loaded.expect("loaded").cache(100.0);
    assert_eq!(
        (cache.next_run_after, cache.is_anomaly_detected),
        (Some(130.0), Some(false))
    );
    let outcome = events.result.expect("result");
    assert_eq!((outcome.failed, outcome.message), (true, None));
    assert!(!events.skipped);
    assert!(super::runner::parse_events(b"").result.is_none());
}
