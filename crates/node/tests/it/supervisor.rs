//! Tests of `node::supervisor` with real processes: each test owns a temp
//! instance root, launches a real daemon process through
//! `supervisor::launch` (this test binary re-executed on
//! `daemon_process_entry`), drives it over its socket, and kills every pid
//! it recorded when it ends, even on failure. As root, partitions are
//! owned by `nobody` so services run unprivileged, as on a real node.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use node::supervisor::{
    self, Bang, Client, DaemonOptions, LaunchOptions, Policy, ProcessState, ProcessStatus, Watchdog,
};

/// Set in the environment of a re-executed test binary that must be a daemon.
const DAEMON_ROOT_ENV: &str = "NODE_SUPERVISOR_IT_DAEMON_ROOT";
/// Generous bound for anything to happen.
const DEADLINE: Duration = Duration::from_secs(30);
/// Owner of partitions when tests run as root.
const NOBODY: u32 = 65534;
const BANGS_FILE: &str = "bangs.txt";

/// Records bangs as lines of a file the test reads.
struct FileWatchdog {
    path: PathBuf,
}

impl Watchdog for FileWatchdog {
    fn bang(&self, bang: &Bang) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use std::io::Write;
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{}|{}|{}", bang.partition, bang.process, bang.message)?;
        Ok(())
    }
}

/// Not a test of its own: when `DAEMON_ROOT_ENV` is set, this binary was
/// launched by a test to be the supervisor daemon of that instance root.
#[test]
fn daemon_process_entry() {
    let Some(root) = std::env::var_os(DAEMON_ROOT_ENV) else {
        return;
    };
    let root = PathBuf::from(root);
    let options = DaemonOptions {
        policy: Policy {
            stop_timeout: Duration::from_secs(5),
            ..Policy::default()
        },
        watchdog: Some(Arc::new(FileWatchdog {
            path: root.join(BANGS_FILE),
        })),
        ..DaemonOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(supervisor::run(&root, options))
        .expect("daemon runs");
}

/// Kills, on drop, every process group and pid a test recorded.
#[derive(Default, Clone)]
struct Pids(Arc<Mutex<Vec<u32>>>);

impl Pids {
    fn record(&self, pid: u32) {
        self.0.lock().expect("pids lock").push(pid);
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        let pids = std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for pid in pids {
            let pid = pid as libc::pid_t;
            // SAFETY: plain signal sends to pids this test started.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

fn is_root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `pid` is gone (no process, or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: plain signal send to a pid this test started.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|text| text.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

struct Fixture {
    _temp: tempfile::TempDir,
    root: PathBuf,
    pids: Pids,
}

impl Fixture {
    fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        fs::set_permissions(temp.path(), fs::Permissions::from_mode(0o755)).expect("chmod root");
        let root = temp.path().to_owned();
        Fixture {
            _temp: temp,
            root,
            pids: Pids::default(),
        }
    }

    /// Partition `name` with scripts in `etc/run` and `etc/service`.
    fn partition(&self, name: &str, run: &[(&str, &str)], service: &[(&str, &str)]) -> PathBuf {
        let directory = self.root.join(name);
        for (folder, scripts) in [("run", run), ("service", service)] {
            let folder = directory.join("etc").join(folder);
            fs::create_dir_all(&folder).expect("mkdir");
            for (file, body) in scripts {
                let path = folder.join(file);
                fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
                fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                    .expect("chmod script");
            }
        }
        self.own(&directory);
        directory
    }

    /// As root, give the partition to `nobody` (services never run as root).
    fn own(&self, path: &Path) {
        if !is_root() {
            return;
        }
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
        if path.is_dir() {
            for entry in fs::read_dir(path).expect("read dir") {
                self.own(&entry.expect("entry").path());
            }
        }
    }

    /// A client of the instance root's daemon, launching it if needed.
    async fn client(&self) -> Client {
        let executable = std::env::current_exe().expect("test binary path");
        let mut options = LaunchOptions::new(
            [
                executable.as_os_str(),
                "--exact".as_ref(),
                "supervisor::daemon_process_entry".as_ref(),
                "--nocapture".as_ref(),
            ]
            .into_iter()
            .map(OsString::from)
            .collect(),
        );
        options.environment = vec![(DAEMON_ROOT_ENV.into(), self.root.clone().into_os_string())];
        options.log_file = Some(self.root.join("daemon.log"));
        options.wait = DEADLINE;
        let mut client = supervisor::launch(&self.root, &options)
            .await
            .expect("daemon launched");
        self.pids.record(client.ping().await.expect("ping"));
        client
    }

    async fn daemon_pid(&self, client: &mut Client) -> u32 {
        client.ping().await.expect("ping")
    }

    async fn wait_state(
        &self,
        client: &mut Client,
        name: &str,
        state: ProcessState,
    ) -> ProcessStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let processes = client.status().await.expect("status");
            if let Some(status) = processes.iter().find(|status| status.name == name) {
                if let Some(pid) = status.pid {
                    self.pids.record(pid);
                }
                if status.state == state {
                    return status.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {name} {state}: {processes:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn bangs(&self) -> Vec<String> {
        lines(&self.root.join(BANGS_FILE))
    }
}

fn outcomes(results: &[supervisor::ActionResult]) -> Vec<String> {
    results
        .iter()
        .map(|result| format!("{}: {}", result.process, result.outcome))
        .collect()
}

#[tokio::test]
async fn programs_come_from_run_and_service_and_are_added_stopped() {
    let fixture = Fixture::new();
    let directory = fixture.partition(
        "slappart0",
        &[("b", "exec sleep 1000"), ("a", "exec sleep 1000")],
        &[("w", "exec sleep 1000")],
    );
    let mut client = fixture.client().await;
    let results = client
        .update_group("slappart0", &directory)
        .await
        .expect("update");
    assert_eq!(
        outcomes(&results),
        [
            "slappart0:a: added",
            "slappart0:b: added",
            "slappart0:w-on-watch: added"
        ]
    );
    let status = client.status().await.expect("status");
    let seen: Vec<(&str, ProcessState)> = status
        .iter()
        .map(|status| (status.name.as_str(), status.state))
        .collect();
    assert_eq!(
        seen,
        [
            ("slappart0:a", ProcessState::Stopped),
            ("slappart0:b", ProcessState::Stopped),
            ("slappart0:w-on-watch", ProcessState::Stopped)
        ]
    );
    assert!(client
        .update_group("slappart0", &directory)
        .await
        .expect("same again")
        .is_empty());
    let unknown = client
        .start("slappart9:*")
        .await
        .expect_err("unknown group");
    assert_eq!(unknown.to_string(), "no such group slappart9");
}

#[tokio::test]
async fn start_logs_and_stop_kills_the_whole_process_group() {
    let fixture = Fixture::new();
    let script = "echo \"hello from $(id -u)\"\nsleep 1000 &\necho $! > child.pid\nexec sleep 1000";
    let directory = fixture.partition("slappart0", &[("a", script)], &[]);
    let mut client = fixture.client().await;
    client
        .update_group("slappart0", &directory)
        .await
        .expect("update");
    assert_eq!(
        outcomes(&client.start_group("slappart0").await.expect("start")),
        ["slappart0:a: started"]
    );
    let running = fixture
        .wait_state(&mut client, "slappart0:a", ProcessState::Running)
        .await;
    let pid = running.pid.expect("running has a pid");
    assert!(
        running
            .description
            .starts_with(&format!("pid {pid}, uptime ")),
        "{}",
        running.description
    );
    let child_pid_file = directory.join("child.pid");
    wait_until("the script's child", || {
        fs::read_to_string(&child_pid_file).is_ok_and(|text| text.ends_with('\n'))
    })
    .await;
    let child: u32 = fs::read_to_string(&child_pid_file)
        .expect("child pid")
        .trim()
        .parse()
        .expect("pid");
    fixture.pids.record(child);
    let log = directory.join(".slappart0_a.log");
    // SAFETY: no preconditions.
    let expected_uid = if is_root() {
        NOBODY
    } else {
        unsafe { libc::geteuid() }
    };
    wait_until("log output", || {
        fs::read_to_string(&log).is_ok_and(|text| text.contains("hello from"))
    })
    .await;
    let expected_log = format!("hello from {expected_uid}\n");
    assert_eq!(fs::read_to_string(&log).expect("log"), expected_log);
    assert_eq!(
        client.tail("slappart0:a", 6).await.expect("tail"),
        expected_log[expected_log.len() - 6..]
    );
    assert_eq!(
        outcomes(&client.start("slappart0:a").await.expect("start again")),
        ["slappart0:a: ERROR (already started)"]
    );

    assert_eq!(
        outcomes(&client.stop_group("slappart0").await.expect("stop")),
        ["slappart0:a: stopped"]
    );
    assert!(is_gone(pid), "service {pid} still alive after stop");
    wait_until("the script's child to die", || is_gone(child)).await;
    let status = client.status().await.expect("status");
    assert_eq!(
        (status[0].state, status[0].pid),
        (ProcessState::Stopped, None)
    );
    assert_eq!(
        fixture.bangs(),
        Vec::<String>::new(),
        "run programs never bang"
    );
}

#[tokio::test]
async fn restart_replaces_the_process() {
    let fixture = Fixture::new();
    let directory = fixture.partition("slappart0", &[("a", "exec sleep 1000")], &[]);
    let mut client = fixture.client().await;
    client
        .update_group("slappart0", &directory)
        .await
        .expect("update");
    client.start("slappart0:a").await.expect("start");
    let first = fixture
        .wait_state(&mut client, "slappart0:a", ProcessState::Running)
        .await
        .pid
        .expect("pid");
    let results = client.restart("slappart0:a").await.expect("restart");
    assert_eq!(
        outcomes(&results),
        ["slappart0:a: stopped", "slappart0:a: started"]
    );
    assert!(is_gone(first));
    let second = fixture
        .wait_state(&mut client, "slappart0:a", ProcessState::Running)
        .await
        .pid
        .expect("pid");
    assert_ne!(first, second);
    client.stop("all").await.expect("stop all");
    assert!(is_gone(second));
}

#[tokio::test]
async fn failing_on_watch_service_is_restarted_with_backoff_and_bangs_once() {
    let fixture = Fixture::new();
    let directory = fixture.partition("slappart1", &[], &[("w", "echo $$ >> runs\nexit 3")]);
    fs::write(directory.join(".timestamp"), "1700000000.25\n").expect("timestamp");
    let mut client = fixture.client().await;
    client
        .update_group("slappart1", &directory)
        .await
        .expect("update");
    client.start_group("slappart1").await.expect("start");
    let backoff = fixture
        .wait_state(&mut client, "slappart1:w-on-watch", ProcessState::Backoff)
        .await;
    assert!(
        backoff
            .description
            .starts_with("exit status 3; restart in "),
        "{}",
        backoff.description
    );
    let runs = directory.join("runs");
    wait_until("three runs", || lines(&runs).len() >= 3).await;
    wait_until("the bang", || !fixture.bangs().is_empty()).await;
    assert_eq!(
        fixture.bangs(),
        ["slappart1|w-on-watch|w-on-watch process in partition slappart1 encountered a problem"],
        "one bang per deployment timestamp"
    );
    assert_eq!(
        fs::read_to_string(directory.join(".slapos_latest_bang_timestamp")).expect("recorded"),
        "1700000000.25"
    );
    client.stop_group("slappart1").await.expect("stop");
    let status = client.status().await.expect("status");
    assert_eq!(status[0].state, ProcessState::Stopped);
    let count = lines(&runs).len();
    fs::write(directory.join(".timestamp"), "1700000100").expect("new deployment");
    client.start_group("slappart1").await.expect("start again");
    wait_until("a bang for the new deployment", || {
        fixture.bangs().len() == 2
    })
    .await;
    assert!(lines(&runs).len() > count);
    client.stop_group("slappart1").await.expect("stop");
}

#[tokio::test]
async fn no_bang_when_the_last_bang_is_not_older_than_the_deployment() {
    let fixture = Fixture::new();
    let directory = fixture.partition(
        "slappart2",
        &[],
        &[("w", "echo $$ >> runs\nexit 1"), ("x", "exit 1")],
    );
    fs::write(directory.join(".timestamp"), "100").expect("timestamp");
    fs::write(directory.join(".slapos_latest_bang_timestamp"), "200").expect("last bang");
    let mut client = fixture.client().await;
    client
        .update_group("slappart2", &directory)
        .await
        .expect("update");
    client.start("slappart2:w-on-watch").await.expect("start");
    wait_until("two runs", || lines(&directory.join("runs")).len() >= 2).await;
    client.stop("slappart2:w-on-watch").await.expect("stop");
    // A bang that the rule allows, for ordering: once it is there, any
    // bang for `w` would have been written before it.
    fs::remove_file(directory.join(".slapos_latest_bang_timestamp")).expect("forget last bang");
    client.start("slappart2:x-on-watch").await.expect("start x");
    wait_until("the bang for x", || !fixture.bangs().is_empty()).await;
    client.stop("slappart2:x-on-watch").await.expect("stop x");
    let bangs = fixture.bangs();
    assert_eq!(bangs.len(), 1, "{bangs:?}");
    assert!(bangs[0].starts_with("slappart2|x-on-watch|"), "{bangs:?}");
}

#[tokio::test]
async fn a_requested_stop_never_bangs() {
    let fixture = Fixture::new();
    let directory = fixture.partition(
        "slappart3",
        &[],
        &[("s", "exec sleep 1000"), ("x", "exit 1")],
    );
    let mut client = fixture.client().await;
    client
        .update_group("slappart3", &directory)
        .await
        .expect("update");
    client.start("slappart3:s-on-watch").await.expect("start");
    let pid = fixture
        .wait_state(&mut client, "slappart3:s-on-watch", ProcessState::Running)
        .await
        .pid
        .expect("pid");
    assert_eq!(
        outcomes(&client.stop("slappart3:s-on-watch").await.expect("stop")),
        ["slappart3:s-on-watch: stopped"]
    );
    assert!(is_gone(pid));
    client.start("slappart3:x-on-watch").await.expect("start x");
    wait_until("the bang for x", || !fixture.bangs().is_empty()).await;
    client.stop("slappart3:*").await.expect("stop all");
    let bangs = fixture.bangs();
    assert_eq!(bangs.len(), 1, "{bangs:?}");
    assert!(bangs[0].starts_with("slappart3|x-on-watch|"), "{bangs:?}");
}

#[tokio::test]
async fn update_group_stops_a_removed_program() {
    let fixture = Fixture::new();
    let directory = fixture.partition(
        "slappart4",
        &[("a", "exec sleep 1000"), ("b", "exec sleep 1000")],
        &[],
    );
    let mut client = fixture.client().await;
    client
        .update_group("slappart4", &directory)
        .await
        .expect("update");
    client.start_group("slappart4").await.expect("start");
    let a = fixture
        .wait_state(&mut client, "slappart4:a", ProcessState::Running)
        .await
        .pid
        .expect("pid a");
    let b = fixture
        .wait_state(&mut client, "slappart4:b", ProcessState::Running)
        .await
        .pid
        .expect("pid b");
    fs::remove_file(directory.join("etc/run/b")).expect("remove b");
    let results = client
        .update_group("slappart4", &directory)
        .await
        .expect("update");
    assert_eq!(outcomes(&results), ["slappart4:b: removed"]);
    assert!(is_gone(b), "removed program still runs");
    assert!(!is_gone(a), "kept program was stopped");
    let names: Vec<String> = client
        .status()
        .await
        .expect("status")
        .into_iter()
        .map(|status| status.name)
        .collect();
    assert_eq!(names, ["slappart4:a"]);
    assert_eq!(
        outcomes(&client.remove_group("slappart4").await.expect("remove")),
        ["slappart4:a: removed"]
    );
    assert!(is_gone(a));
    assert!(client.status().await.expect("status").is_empty());
}

#[tokio::test]
async fn a_killed_daemon_leaves_services_running_and_a_new_one_adopts_them() {
    let fixture = Fixture::new();
    let directory = fixture.partition(
        "slappart5",
        &[("a", "echo $$ >> starts\nexec sleep 1000")],
        &[("w", "echo $$ >> starts-w\nexec sleep 1000")],
    );
    let mut client = fixture.client().await;
    client
        .update_group("slappart5", &directory)
        .await
        .expect("update");
    client.start_group("slappart5").await.expect("start");
    let a = fixture
        .wait_state(&mut client, "slappart5:a", ProcessState::Running)
        .await
        .pid
        .expect("pid a");
    let w = fixture
        .wait_state(&mut client, "slappart5:w-on-watch", ProcessState::Running)
        .await
        .pid
        .expect("pid w");

    let daemon = fixture.daemon_pid(&mut client).await;
    kill(daemon, libc::SIGKILL);
    wait_until("the daemon to die", || is_gone(daemon)).await;
    drop(client);
    assert!(!is_gone(a) && !is_gone(w), "services died with the daemon");
    kill(w, libc::SIGKILL);
    wait_until("w to die", || is_gone(w)).await;

    let mut client = fixture.client().await;
    assert_ne!(fixture.daemon_pid(&mut client).await, daemon);
    let adopted = fixture
        .wait_state(&mut client, "slappart5:a", ProcessState::Running)
        .await;
    assert_eq!(
        adopted.pid,
        Some(a),
        "the new daemon adopted the running service"
    );
    assert_eq!(
        lines(&directory.join("starts")).len(),
        1,
        "no second copy was started"
    );
    wait_until("w restarted", || {
        lines(&directory.join("starts-w")).len() == 2
    })
    .await;
    let restarted = fixture
        .wait_state(&mut client, "slappart5:w-on-watch", ProcessState::Running)
        .await;
    assert_ne!(restarted.pid, Some(w));
    wait_until("the bang for w", || fixture.bangs().len() == 1).await;
    assert!(fixture.bangs()[0].starts_with("slappart5|w-on-watch|"));

    assert_eq!(
        outcomes(&client.stop_group("slappart5").await.expect("stop")),
        ["slappart5:a: stopped", "slappart5:w-on-watch: stopped"]
    );
    assert!(is_gone(a), "the adopted service survived its stop");
    assert!(restarted.pid.is_some_and(is_gone));
    assert_eq!(lines(&directory.join("starts")).len(), 1);
    client.shutdown_daemon(false).await.expect("shutdown");
}

#[tokio::test]
async fn a_second_daemon_refuses_the_same_instance_root() {
    let fixture = Fixture::new();
    let mut client = fixture.client().await;
    let first = fixture.daemon_pid(&mut client).await;
    let mode = fs::metadata(fixture.root.join(supervisor::SOCKET_FILE))
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let second = supervisor::run_until(
        &fixture.root,
        DaemonOptions::default(),
        std::future::pending(),
    )
    .await;
    assert!(
        matches!(
            second,
            Err(supervisor::SupervisorError::AlreadyRunning { .. })
        ),
        "{second:?}"
    );
    let mut again = fixture.client().await;
    assert_eq!(
        fixture.daemon_pid(&mut again).await,
        first,
        "launch reuses the running daemon"
    );
    client.shutdown_daemon(true).await.expect("shutdown");
    wait_until("the daemon to exit", || is_gone(first)).await;
    assert!(
        !fixture.root.join(supervisor::SOCKET_FILE).exists(),
        "socket removed on exit"
    );
}
