//! Tests of `node::promise`: real promise processes in a temp partition,
//! checked through the report and the files SlapOS tools read. Plugin
//! tests need the script-built venv (`/var/cache/slapos-rs/venv`, made by
//! `tests/run.sh`) and say so when it is absent.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use node::promise::{
    run_promises, Execution, Mode, PartitionPromises, PartitionUser, PromiseKind, PromiseReport,
    PromiseRunError, ResultType,
};

const VENV_PYTHON: &str = "/var/cache/slapos-rs/venv/bin/python";

/// Every test's bound: a hung promise must fail the test, not the CI job.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

/// A fixed `now` so dates and schedules are predictable.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

struct Partition {
    _root: tempfile::TempDir,
    dir: PathBuf,
}

impl Partition {
    fn new() -> Partition {
        let root = tempfile::tempdir().expect("temp dir");
        let dir = root.path().join("slappart0");
        fs::create_dir_all(dir.join("etc/promise")).expect("mkdir promise");
        fs::create_dir_all(dir.join("etc/plugin")).expect("mkdir plugin");
        Partition { _root: root, dir }
    }

    fn legacy(&self, name: &str, script: &str) -> PathBuf {
        let path = self.dir.join("etc/promise").join(name);
        fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("write promise");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn plugin(&self, name: &str, body: &str) -> PathBuf {
        let path = self.dir.join("etc/plugin").join(name);
        let source = format!(
            "import sys\nsys.path[0:0] = []\n\
             from zope.interface import implementer\n\
             from slapos.grid.promise import interface\n\
             from slapos.grid.promise.generic import GenericPromise\n\
             @implementer(interface.IPromise)\n\
             class RunPromise(GenericPromise):\n\
             \x20 def sense(self):\n\
             \x20   {body}\n\
             \x20 def test(self): return self._test(result_count=1, failure_amount=1)\n\
             \x20 def anomaly(self): return self._anomaly(result_count=1, failure_amount=1)\n"
        );
        fs::write(&path, source).expect("write plugin");
        path
    }

    fn config(&self) -> PartitionPromises {
        PartitionPromises::new("slappart0", &self.dir)
    }

    fn status(&self, title: &str) -> serde_json::Value {
        read_json(
            &self
                .dir
                .join(".slapgrid/promise/result")
                .join(format!("{title}.status.json")),
        )
    }

    fn cache(&self, title: &str) -> serde_json::Value {
        read_json(&self.dir.join(".slapgrid/promise/cache").join(title))
    }

    fn log(&self, title: &str) -> String {
        fs::read_to_string(
            self.dir
                .join(".slapgrid/promise/log")
                .join(format!("{title}.log")),
        )
        .expect("promise log")
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn check(promises: &PartitionPromises, mode: Mode, now: SystemTime) -> PromiseReport {
    tokio::time::timeout(TEST_DEADLINE, run_promises(promises, mode, now))
        .await
        .expect("promises finish within the test deadline")
        .expect("promise run keeps its books")
}

/// The venv python, or `None` with the reason printed.
fn venv_python() -> Option<PathBuf> {
    let python = PathBuf::from(VENV_PYTHON);
    if python.exists() {
        Some(python)
    } else {
        eprintln!("skipping plugin promise test: {VENV_PYTHON} is absent (tests/run.sh builds it)");
        None
    }
}

fn is_slapos_date(text: &str) -> bool {
    text.len() == 24
        && text.ends_with("+0000")
        && text.bytes().enumerate().take(19).all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        })
}

#[tokio::test]
async fn passing_legacy_promise_passes_and_leaves_its_files() {
    let partition = Partition::new();
    let path = partition.legacy("check-ok.sh", "echo '  fine  '");
    let report = check(&partition.config(), Mode::Test, t0()).await;

    assert_eq!(report.failure(), None);
    let [result] = report.results.as_slice() else {
        panic!("one result: {report:?}")
    };
    assert_eq!(
        (result.kind, result.execution, result.failed),
        (PromiseKind::Legacy, Execution::Ran, false)
    );
    assert_eq!(
        (result.title.as_str(), result.message.as_str()),
        ("check-ok", "fine")
    );

    let status = partition.status("check-ok");
    let keys: Vec<&str> = status
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{status}");
    assert_eq!(status["title"], "check-ok");
    assert_eq!(status["name"], "check-ok.sh");
    assert_eq!(status["path"], path.to_str().expect("utf-8 path"));
    assert!(status["execution-time"].is_f64(), "{status}");
    let result_keys: Vec<&str> = status["result"]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(result_keys.len(), 4, "{status}");
    assert_eq!(status["result"]["type"], "Test Result");
    assert_eq!(status["result"]["failed"], false);
    assert_eq!(status["result"]["message"], "fine");
    let date = status["result"]["date"].as_str().expect("date");
    assert!(
        is_slapos_date(date) && date.starts_with("2023-11-14T22:13:"),
        "{date}"
    );
    let raw = fs::read_to_string(
        partition
            .dir
            .join(".slapgrid/promise/result/check-ok.status.json"),
    )
    .expect("raw");
    assert!(
        raw.starts_with("{\"title\": \"check-ok\", \"name\": "),
        "written like Python's json.dump: {raw}"
    );

    let cache = partition.cache("check-ok");
    assert_eq!(cache["is_tested"], true);
    assert_eq!(cache["is_anomaly_detected"], true);
    assert_eq!(cache["periodicity"], 2);
    assert_eq!(cache["module_file"], path.to_str().expect("utf-8 path"));
    assert!(cache["module_file_mtime"].is_f64());
    let timestamp = cache["timestamp"].as_f64().expect("timestamp");
    assert!(timestamp >= 1_700_000_000.0, "{cache}");
    assert_eq!(cache["next_run_after"].as_f64(), Some(timestamp + 120.0));

    let log = partition.log("check-ok");
    let line = log.lines().next().expect("one log line");
    let (date, rest) = line.split_at(19);
    assert!(
        date.chars().nth(10) == Some(' ') && date.starts_with("2023-11-1"),
        "{line}"
    );
    let fields: Vec<&str> = rest.splitn(4, " - ").collect();
    assert_eq!(fields[0], "");
    assert_eq!(fields[1], "INFO");
    assert!(
        fields[2].starts_with("1700000000-") && fields[2].len() == 14,
        "{line}"
    );
    assert_eq!(fields[3], "fine");
}

#[tokio::test]
async fn failing_legacy_promise_fails_with_its_stripped_output() {
    let partition = Partition::new();
    partition.legacy(
        "a-broken",
        "echo 'port 80 closed' >&2\necho ' second line '\nexit 1",
    );
    partition.legacy("b-broken", "echo other; exit 1");
    let report = check(&partition.config(), Mode::Test, t0()).await;

    let failure = report.failure().expect("a failure");
    assert_eq!(
        failure.to_string(),
        "Promise 'a-broken' failed with output: port 80 closed\n second line"
    );
    assert_eq!(report.results.len(), 2, "every promise ran");
    assert!(report.results.iter().all(|r| r.failed));
    assert_eq!(partition.status("a-broken")["result"]["failed"], true);
    assert!(partition.log("a-broken").contains(" - ERROR - "));
}

#[tokio::test]
async fn failing_legacy_promise_without_output_says_so() {
    let partition = Partition::new();
    partition.legacy("silent", "exit 3");
    let report = check(&partition.config(), Mode::Test, t0()).await;
    assert_eq!(
        report.failure().expect("failure").to_string(),
        "Promise 'silent' failed with output: Error: No output returned by the promise"
    );
}

#[tokio::test]
async fn non_executable_legacy_promise_is_a_bad_promise_file() {
    let partition = Partition::new();
    let path = partition.dir.join("etc/promise/not-executable");
    fs::write(&path, "#!/bin/sh\nexit 0\n").expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::create_dir(partition.dir.join("etc/promise/a-directory")).expect("mkdir");
    let report = check(&partition.config(), Mode::Test, t0()).await;

    assert_eq!(report.results.len(), 2);
    assert!(report
        .results
        .iter()
        .all(|r| r.execution == Execution::BadFile && r.failed));
    let expected = format!("Bad promise file at '{}'.", path.display());
    assert_eq!(report.results[1].message, expected);
    assert!(!partition
        .dir
        .join(".slapgrid/promise/result/not-executable.status.json")
        .exists());
}

#[tokio::test]
async fn timed_out_promise_is_killed_with_its_children() {
    let partition = Partition::new();
    partition.legacy("slow", "sleep 60 &\necho $! > child.pid\nsleep 60");
    let mut promises = partition.config();
    promises.timeout = Duration::from_secs(1);
    let report = check(&promises, Mode::Test, t0()).await;

    let [result] = report.results.as_slice() else {
        panic!("one result: {report:?}")
    };
    assert_eq!(result.execution, Execution::TimedOut);
    assert_eq!(result.message, "Error: Promise timed out after 1 seconds");
    assert_eq!(
        partition.status("slow")["result"]["message"],
        "Error: Promise timed out after 1 seconds"
    );
    let child: u32 = fs::read_to_string(partition.dir.join("child.pid"))
        .expect("cwd is P")
        .trim()
        .parse()
        .expect("pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while is_alive(child) {
        assert!(
            Instant::now() < deadline,
            "background child {child} survived the timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether any user may run `path`: it and every folder above it (links
/// resolved) are open to others.
fn runnable_by_others(path: &Path) -> bool {
    let Ok(real) = fs::canonicalize(path) else {
        return false;
    };
    let file_ok = fs::metadata(&real).is_ok_and(|m| m.permissions().mode() & 0o005 == 0o005);
    file_ok
        && real
            .ancestors()
            .skip(1)
            .all(|dir| fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Whether a process still runs (a zombie waiting for its reaper is dead).
fn is_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn long_output_keeps_its_last_5000_characters() {
    let partition = Partition::new();
    partition.legacy(
        "chatty",
        "printf 'HEAD'\nhead -c 7000 /dev/zero | tr '\\0' x\nprintf 'TAIL'\nexit 1",
    );
    let report = check(&partition.config(), Mode::Test, t0()).await;
    let message = &report.results[0].message;
    assert_eq!(message.chars().count(), 5003);
    assert!(
        message.starts_with("...xxx") && message.ends_with("xTAIL"),
        "{}",
        &message[..20]
    );
}

#[tokio::test]
async fn anomaly_mode_reuses_a_stored_result_until_it_is_due() {
    let partition = Partition::new();
    let path = partition.legacy("flappy", "echo down; exit 1");
    let promises = partition.config();
    let first = check(&promises, Mode::Test, t0()).await;
    assert!(first.results[0].failed);
    let stored = fs::read(
        partition
            .dir
            .join(".slapgrid/promise/result/flappy.status.json"),
    )
    .expect("status");

    // Fixed now, yet not due: the stored failure still fails.
    fs::write(&path, "#!/bin/sh\necho up\n").expect("rewrite");
    let early = check(&promises, Mode::Anomaly, t0() + Duration::from_secs(60)).await;
    assert_eq!(early.results[0].execution, Execution::Reused);
    assert_eq!(
        early.failure().expect("stored failure").to_string(),
        "Promise 'flappy' failed with output: down"
    );
    let unchanged = fs::read(
        partition
            .dir
            .join(".slapgrid/promise/result/flappy.status.json"),
    )
    .expect("status");
    assert_eq!(stored, unchanged, "a reused result is not rewritten");

    let due = check(&promises, Mode::Anomaly, t0() + Duration::from_secs(121)).await;
    assert_eq!(
        (due.results[0].execution, due.results[0].failed),
        (Execution::Ran, false)
    );
    assert_eq!(due.failure(), None);
}

#[tokio::test]
async fn legacy_anomaly_needs_three_failed_runs_and_never_bangs() {
    let partition = Partition::new();
    partition.legacy("down", "echo down; exit 1");
    let promises = partition.config();
    let mut verdicts = Vec::new();
    for run in 0..3u64 {
        let report = check(
            &promises,
            Mode::Anomaly,
            t0() + Duration::from_secs(run * 200),
        )
        .await;
        let result = &report.results[0];
        assert_eq!(
            (result.execution, result.result_type, result.bang),
            (Execution::Ran, ResultType::Test, false)
        );
        verdicts.push(result.failed);
        assert_eq!(report.bang_message(), None);
    }
    assert_eq!(verdicts, [false, false, true]);
}

#[tokio::test]
async fn plugin_promise_passes_and_fails_through_the_instance_python() {
    let Some(python) = venv_python() else { return };
    let partition = Partition::new();
    partition.plugin("check-good.py", "self.logger.info('all good')");
    partition.plugin(
        "check-bad.py",
        "print('noise on stdout'); self.logger.error('boom')",
    );
    partition.legacy("zz-legacy", "echo legacy ok");
    let mut promises = partition.config();
    promises.instance_python = Some(python);
    let report = check(&promises, Mode::Test, t0()).await;

    let names: Vec<(&str, PromiseKind)> = report
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("check-bad.py", PromiseKind::Plugin),
            ("check-good.py", PromiseKind::Plugin),
            ("zz-legacy", PromiseKind::Legacy)
        ]
    );
    let good = &report.results[1];
    assert_eq!(
        (good.execution, good.failed, good.message.as_str()),
        (Execution::Ran, false, "all good")
    );
    assert_eq!(
        report.failure().expect("failure").to_string(),
        "Promise 'check-bad.py' failed with output: boom"
    );

    let status = partition.status("check-bad");
    assert_eq!(status["name"], "check-bad.py");
    assert_eq!(status["result"]["type"], "Test Result");
    assert_eq!(status["result"]["failed"], true);
    assert!(
        is_slapos_date(status["result"]["date"].as_str().expect("date")),
        "{status}"
    );
    let cache = partition.cache("check-good");
    assert_eq!(cache["periodicity"], 2);
    assert_eq!(cache["is_tested"], true);
    assert!(
        cache["module_file"]
            .as_str()
            .expect("module file")
            .ends_with("etc/plugin/check-good.py"),
        "{cache}"
    );
    assert!(
        partition.log("check-bad").contains(" - ERROR - "),
        "the plugin logs where GenericPromise reads"
    );
}

#[tokio::test]
async fn failing_plugin_anomaly_asks_for_one_bang() {
    let Some(python) = venv_python() else { return };
    let partition = Partition::new();
    partition.plugin("a-down.py", "self.logger.error('service down')");
    partition.plugin("b-down.py", "self.logger.error('also down')");
    let mut promises = partition.config();
    promises.instance_python = Some(python);
    let report = check(&promises, Mode::Anomaly, t0()).await;

    let bangs: Vec<bool> = report.results.iter().map(|r| r.bang).collect();
    assert_eq!(bangs, [true, false], "one bang per run");
    assert!(report
        .results
        .iter()
        .all(|r| r.failed && r.result_type == ResultType::Anomaly));
    assert_eq!(
        report.bang_message().as_deref(),
        Some("Promise a-down is failing")
    );
    assert_eq!(
        partition.status("a-down")["result"]["type"],
        "Anomaly Result"
    );
}

#[tokio::test]
async fn plugin_that_hangs_or_cannot_load_fails() {
    let Some(python) = venv_python() else { return };
    let partition = Partition::new();
    partition.plugin("hangs.py", "import time; time.sleep(60)");
    fs::write(
        partition.dir.join("etc/plugin/broken.py"),
        "raise RuntimeError('cannot import')\n",
    )
    .expect("write");
    fs::write(partition.dir.join("etc/plugin/__init__.py"), "").expect("write");
    let mut promises = partition.config();
    promises.instance_python = Some(python);
    promises.timeout = Duration::from_secs(2);
    let report = check(&promises, Mode::Test, t0()).await;

    let outcomes: Vec<(&str, Execution, &str)> = report
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.execution, r.message.as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "broken.py",
                Execution::NoOutput,
                "Error: No output returned by the promise"
            ),
            (
                "hangs.py",
                Execution::TimedOut,
                "Error: Promise timed out after 2 seconds"
            ),
        ]
    );
    assert_eq!(
        partition.cache("hangs")["is_tested"],
        true,
        "the cache is written before the promise runs"
    );
}

#[tokio::test]
async fn plugin_without_instance_python_fails() {
    let partition = Partition::new();
    partition.plugin("check.py", "pass");
    let report = check(&partition.config(), Mode::Test, t0()).await;
    let result = &report.results[0];
    assert_eq!(
        (result.execution, result.failed),
        (Execution::NoOutput, true)
    );
    assert!(
        result
            .message
            .starts_with("Error: No output returned by the promise"),
        "{}",
        result.message
    );
}

#[tokio::test]
async fn plugin_disabled_in_test_mode_is_skipped_without_a_result() {
    let Some(python) = venv_python() else { return };
    let partition = Partition::new();
    let path = partition.plugin("anomaly-only.py", "self.logger.error('never tested')");
    let source = fs::read_to_string(&path).expect("read").replace(
        "  def sense(self):",
        "  def __init__(self, config):\n    GenericPromise.__init__(self, config)\n    self.setTestLess()\n  def sense(self):",
    );
    fs::write(&path, source).expect("write");
    let mut promises = partition.config();
    promises.instance_python = Some(python);
    for _ in 0..2 {
        let report = check(&promises, Mode::Test, t0()).await;
        assert_eq!(
            (report.results[0].execution, report.results[0].failed),
            (Execution::Skipped, false)
        );
    }
    assert!(!partition
        .dir
        .join(".slapgrid/promise/result/anomaly-only.status.json")
        .exists());
    let cache = partition.cache("anomaly-only");
    assert_eq!(
        (
            cache["is_tested"].as_bool(),
            cache["next_run_after"].as_f64()
        ),
        (Some(false), cache["timestamp"].as_f64())
    );
}

#[tokio::test]
async fn promises_never_run_as_root_when_a_user_is_given() {
    let partition = Partition::new();
    let mut promises = partition.config();
    promises.user = Some(PartitionUser { uid: 0, gid: 1000 });
    let error = run_promises(&promises, Mode::Test, t0())
        .await
        .expect_err("root refused");
    assert!(matches!(error, PromiseRunError::RootUser { .. }), "{error}");
}

#[tokio::test]
async fn promises_run_as_the_partition_user_when_the_node_is_root() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        eprintln!("skipping privilege drop test: not running as root");
        return;
    }
    let partition = Partition::new();
    fs::set_permissions(partition._root.path(), fs::Permissions::from_mode(0o755))
        .expect("chmod root");
    partition.legacy("whoami", "echo \"$(id -u):$(id -g) $HOME\"");
    let mut promises = partition.config();
    promises.user = Some(PartitionUser {
        uid: 65534,
        gid: 65534,
    });
    promises.home = Some(PathBuf::from("/nonexistent"));
    let python = PathBuf::from(VENV_PYTHON);
    if runnable_by_others(&python) {
        partition.plugin("plugin.py", "self.logger.info('as user')");
        promises.instance_python = Some(python);
    } else {
        eprintln!("plugin part skipped: {VENV_PYTHON} is not reachable by other users");
    }
    let report = check(&promises, Mode::Test, t0()).await;
    assert_eq!(report.failure(), None, "{report:?}");
    let legacy = report
        .results
        .iter()
        .find(|r| r.kind == PromiseKind::Legacy)
        .expect("legacy result");
    assert_eq!(legacy.message, "65534:65534 /nonexistent");
    use std::os::unix::fs::MetadataExt;
    let log_dir = fs::metadata(partition.dir.join(".slapgrid/promise/log")).expect("log dir");
    assert_eq!(
        (log_dir.uid(), log_dir.gid()),
        (65534, 65534),
        "the user can write its logs"
    );
}

#[tokio::test]
async fn plugin_imports_from_its_declared_sys_path_and_reads_its_config() {
    let Some(python) = venv_python() else { return };
    let partition = Partition::new();
    let library = partition.dir.join("eggs");
    fs::create_dir(&library).expect("mkdir eggs");
    fs::write(
        library.join("promise_helper.py"),
        "GREETING = 'from the egg'\n",
    )
    .expect("write helper");
    let path = partition.plugin(
        "uses-egg.py",
        "self.logger.info('%s %s' % (GREETING, self.getConfig('partition-id')))",
    );
    let source = fs::read_to_string(&path).expect("read").replace(
        "sys.path[0:0] = []",
        &format!(
            "sys.path[0:0] = [{:?}]\nfrom promise_helper import GREETING",
            library.display().to_string()
        ),
    );
    fs::write(&path, source).expect("write");
    let mut promises = partition.config();
    promises.instance_python = Some(python);
    let report = check(&promises, Mode::Test, t0()).await;
    let result = &report.results[0];
    assert_eq!(
        (result.failed, result.message.as_str()),
        (false, "from the egg slappart0"),
        "{result:?}"
    );
}
