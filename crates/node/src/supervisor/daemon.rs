//! The supervisor daemon: one task that owns every program's `Machine`,
//! serves the socket protocol on `instance_root/sv.sock`, spawns and
//! signals services, watches them die (own children through `wait`,
//! re-adopted ones by polling `/proc`), bangs through the watchdog, and
//! persists its state after every change so a new daemon can re-adopt
//! the services after a crash or a restart.
//!
//! The shell decides nothing: what to do when a process starts, dies or
//! is asked to stop comes from `machine`; what to bang from `watchdog`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::machine::{Action, ExitInfo, Machine, Policy};
use super::program::{self, ProgramSpec};
use super::protocol::{self, ActionResult, Reply, Request};
use super::store::{
    self, PersistedGroup, PersistedProcess, PersistedProgram, PersistedRetiring, PersistedState,
};
use super::sys;
use super::watchdog::{self, Bang, Watchdog};
use super::SupervisorError;

/// How often re-adopted processes (not our children) are checked.
const ADOPTED_POLL: Duration = Duration::from_millis(500);
/// How often logs are checked for rotation.
const ROTATION_PERIOD: Duration = Duration::from_secs(30);
/// Connections served at once.
const CONNECTIONS_MAX: usize = 64;
/// Events queued towards the daemon task.
const EVENTS_MAX: usize = 1024;
/// Bound on writing the last replies when the daemon stops.
const DRAIN_MAX: Duration = Duration::from_secs(2);

/// How the daemon runs.
#[derive(Clone)]
pub struct DaemonOptions {
    /// Startsecs, stop timeout and backoff.
    pub policy: Policy,
    /// Size over which a service log is rotated to `.1`.
    pub log_size_max_bytes: u64,
    /// Who hears about failing `-on-watch` services; none: nobody.
    pub watchdog: Option<Arc<dyn Watchdog>>,
    /// Whether `SIGTERM` (or the shutdown future) stops the services too;
    /// by default they keep running and the next daemon adopts them.
    pub stop_processes_on_shutdown: bool,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            policy: Policy::default(),
            log_size_max_bytes: 1024 * 1024,
            watchdog: None,
            stop_processes_on_shutdown: false,
        }
    }
}

/// Run the daemon for `instance_root` until a `shutdown` request or
/// `SIGTERM`.
///
/// # Errors
///
/// Another daemon runs, the socket cannot be bound, or the state file is
/// unreadable.
pub async fn run(instance_root: &Path, options: DaemonOptions) -> Result<(), SupervisorError> {
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|error| SupervisorError::io(instance_root, error))?;
    run_until(instance_root, options, async move {
        sigterm.recv().await;
    })
    .await
}

/// Run the daemon until a `shutdown` request or until `shutdown` completes.
///
/// # Errors
///
/// As `run`.
pub async fn run_until(
    instance_root: &Path,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SupervisorError> {
    let _lock = sys::lock_instance(instance_root)?;
    let socket = instance_root.join(super::SOCKET_FILE);
    match std::fs::remove_file(&socket) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(SupervisorError::io(&socket, error))
        }
        _ => {}
    }
    let listener =
        UnixListener::bind(&socket).map_err(|error| SupervisorError::io(&socket, error))?;
    sys::restrict_socket(&socket)?;
    let state = store::load(instance_root)?;
    let (events_tx, mut events_rx) = mpsc::channel(EVENTS_MAX);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let accept = tokio::spawn(accept_loop(listener, events_tx.clone(), in_flight.clone()));
    let mut daemon = Daemon::new(instance_root, options, events_tx);
    daemon.restore(state, Instant::now());
    tracing::info!(instance_root = %instance_root.display(), "supervisor daemon started");
    let result = daemon.serve(&mut events_rx, shutdown).await;
    accept.abort();
    drop(daemon);
    drop(events_rx);
    // Let connections write the replies already decided (the shutdown
    // request's own reply among them), bounded.
    let drain_deadline = Instant::now() + DRAIN_MAX;
    while in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = std::fs::remove_file(&socket);
    tracing::info!(instance_root = %instance_root.display(), "supervisor daemon stopped");
    result
}

async fn accept_loop(
    listener: UnixListener,
    events: mpsc::Sender<Event>,
    in_flight: Arc<AtomicUsize>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let (events, in_flight) = (events.clone(), in_flight.clone());
                tokio::spawn(async move {
                    serve_connection(stream, events, in_flight).await;
                    drop(permit);
                });
            }
            Err(error) => {
                tracing::warn!(error = %error, "supervisor socket accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn serve_connection(
    stream: UnixStream,
    events: mpsc::Sender<Event>,
    in_flight: Arc<AtomicUsize>,
) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let limit = u64::try_from(protocol::LINE_BYTES_MAX).unwrap_or(u64::MAX);
        match (&mut reader).take(limit).read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let too_long = !line.ends_with('\n');
        // Counted from the request to its written reply, so a stopping
        // daemon can wait for replies it already decided.
        in_flight.fetch_add(1, Ordering::SeqCst);
        let reply = if too_long {
            Reply::Error {
                message: "request line too long".to_owned(),
            }
        } else {
            match serde_json::from_str::<Request>(line.trim_end()) {
                Err(error) => Reply::Error {
                    message: format!("bad request: {error}"),
                },
                Ok(request) => {
                    let (reply_tx, reply_rx) = oneshot::channel();
                    match events.send(Event::Request(request, reply_tx)).await {
                        Ok(()) => reply_rx.await.ok(),
                        Err(_) => None,
                    }
                    .unwrap_or(Reply::Error {
                        message: "supervisor daemon is shutting down".to_owned(),
                    })
                }
            }
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        let written = write.write_all(text.as_bytes()).await;
        in_flight.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() || too_long {
            return;
        }
    }
}

/// What wakes the daemon task.
enum Event {
    Request(Request, oneshot::Sender<Reply>),
    Exited {
        slot: SlotId,
        pid: u32,
        exit: ExitInfo,
    },
}

type SlotId = u64;

/// One program and its process (a slot outlives its group entry while
/// its process is being stopped after removal).
struct Slot {
    partition: String,
    directory: PathBuf,
    spec: ProgramSpec,
    machine: Machine,
    process: Option<PersistedProcess>,
}

impl Slot {
    fn full_name(&self) -> String {
        program::full_name(&self.partition, &self.spec.name)
    }

    fn log_path(&self) -> PathBuf {
        program::log_path(&self.directory, &self.partition, &self.spec.name)
    }
}

struct Group {
    directory: PathBuf,
    programs: BTreeMap<String, SlotId>,
}

/// What to do once every slot of a waiter has no process any more.
enum Then {
    Reply,
    StartThenReply(Vec<SlotId>),
    Exit,
}

struct Waiter {
    slots: Vec<SlotId>,
    results: Vec<ActionResult>,
    then: Then,
    reply: Option<oneshot::Sender<Reply>>,
}

struct Daemon {
    instance_root: PathBuf,
    options: DaemonOptions,
    environment: Vec<(OsString, OsString)>,
    groups: BTreeMap<String, Group>,
    slots: BTreeMap<SlotId, Slot>,
    next_slot: SlotId,
    waiters: Vec<Waiter>,
    events: mpsc::Sender<Event>,
    bang_lock: Arc<Mutex<()>>,
    saved: String,
    exit: bool,
}

impl Daemon {
    fn new(instance_root: &Path, options: DaemonOptions, events: mpsc::Sender<Event>) -> Self {
        let environment = std::env::vars_os()
            .filter(|(key, _)| !matches!(key.to_str(), Some("USER" | "LOGNAME" | "HOME")))
            .collect();
        Daemon {
            instance_root: instance_root.to_owned(),
            options,
            environment,
            groups: BTreeMap::new(),
            slots: BTreeMap::new(),
            next_slot: 0,
            waiters: Vec::new(),
            events,
            bang_lock: Arc::new(Mutex::new(())),
            saved: String::new(),
            exit: false,
        }
    }

    async fn serve(
        &mut self,
        events: &mut mpsc::Receiver<Event>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SupervisorError> {
        tokio::pin!(shutdown);
        let mut shutdown_seen = false;
        let mut next_rotation = Instant::now() + ROTATION_PERIOD;
        self.settle(Instant::now());
        while !self.exit {
            let wake = self
                .next_deadline()
                .map_or(next_rotation, |deadline| deadline.min(next_rotation));
            tokio::select! {
                event = events.recv() => match event {
                    Some(Event::Request(request, reply)) => self.handle_request(request, reply, Instant::now()),
                    Some(Event::Exited { slot, pid, exit }) => self.handle_exited(slot, pid, exit, Instant::now()),
                    None => self.exit = true,
                },
                () = tokio::time::sleep_until(wake.into()) => {}
                () = &mut shutdown, if !shutdown_seen => {
                    shutdown_seen = true;
                    tracing::info!("supervisor daemon asked to stop");
                    if self.options.stop_processes_on_shutdown {
                        self.stop_everything_then_exit(None, Instant::now());
                    } else {
                        self.exit = true;
                    }
                }
            }
            let now = Instant::now();
            if now >= next_rotation {
                self.rotate_logs();
                next_rotation = now + ROTATION_PERIOD;
            }
            self.settle(now);
        }
        Ok(())
    }

    /// Run due timeouts, complete waiters, drop retired slots, persist.
    fn settle(&mut self, now: Instant) {
        let due: Vec<SlotId> = self
            .slots
            .iter()
            .filter(|(_, slot)| {
                slot.machine
                    .poll_timeout()
                    .is_some_and(|deadline| deadline <= now)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(slot) = self.slots.get_mut(&id) {
                let action = slot.machine.handle_timeout(now);
                self.execute(id, action, now);
            }
        }
        self.complete_waiters(now);
        let referenced: BTreeSet<SlotId> = self
            .groups
            .values()
            .flat_map(|group| group.programs.values().copied())
            .collect();
        self.slots
            .retain(|id, slot| referenced.contains(id) || slot.machine.state().has_process());
        self.persist();
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter_map(|slot| slot.machine.poll_timeout())
            .min()
    }

    fn add_slot(
        &mut self,
        partition: &str,
        directory: &Path,
        spec: ProgramSpec,
        machine: Machine,
    ) -> SlotId {
        let id = self.next_slot;
        self.next_slot += 1;
        let slot = Slot {
            partition: partition.to_owned(),
            directory: directory.to_owned(),
            spec,
            machine,
            process: None,
        };
        self.slots.insert(id, slot);
        id
    }

    /// Rebuild groups and slots from the state file, re-adopting live
    /// processes and handling those that died while no daemon ran.
    fn restore(&mut self, state: PersistedState, now: Instant) {
        for group in state.groups {
            let mut programs = BTreeMap::new();
            for persisted in group.programs {
                let name = persisted.spec.name.clone();
                let id = self.restore_program(&group.partition, &group.directory, persisted, now);
                programs.insert(name, id);
            }
            self.groups.insert(
                group.partition,
                Group {
                    directory: group.directory,
                    programs,
                },
            );
        }
        for retiring in state.retiring {
            let mut program = retiring.program;
            program.wanted = false;
            self.restore_program(&retiring.partition, &retiring.directory, program, now);
        }
    }

    fn restore_program(
        &mut self,
        partition: &str,
        directory: &Path,
        persisted: PersistedProgram,
        now: Instant,
    ) -> SlotId {
        let policy = self.options.policy;
        let process = persisted
            .process
            .filter(|process| sys::is_alive(process.pid, process.start_time_ticks));
        let (machine, action) = match (persisted.process, process, persisted.wanted) {
            (_, Some(alive), wanted) => {
                let running_ms = sys::unix_now_ms().saturating_sub(alive.started_at_unix_ms);
                let started = now
                    .checked_sub(Duration::from_millis(running_ms))
                    .unwrap_or(now);
                let mut machine = Machine::adopted(policy, alive.pid, started);
                let action = if wanted {
                    None
                } else {
                    machine.handle_stop(now)
                };
                (machine, action)
            }
            (Some(dead), None, true) => {
                let mut machine = Machine::adopted(policy, dead.pid, now);
                let action = machine.handle_exit(now, ExitInfo::default());
                (machine, action)
            }
            (None, None, true) => (Machine::resumed(policy, now), None),
            (_, None, false) => (Machine::new(policy), None),
        };
        let id = self.add_slot(partition, directory, persisted.spec, machine);
        if let Some(alive) = process {
            if let Some(slot) = self.slots.get_mut(&id) {
                tracing::info!(process = %slot.full_name(), pid = alive.pid, "re-adopted");
                slot.process = Some(alive);
            }
            self.watch_adopted(id, alive);
        }
        self.execute(id, action, now);
        id
    }

    fn watch_adopted(&self, id: SlotId, process: PersistedProcess) {
        let events = self.events.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ADOPTED_POLL).await;
                if events.is_closed() {
                    return;
                }
                if !sys::is_alive(process.pid, process.start_time_ticks) {
                    let _ = events
                        .send(Event::Exited {
                            slot: id,
                            pid: process.pid,
                            exit: ExitInfo::default(),
                        })
                        .await;
                    return;
                }
            }
        });
    }

    fn handle_exited(&mut self, id: SlotId, pid: u32, exit: ExitInfo, now: Instant) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        if slot.machine.pid() != Some(pid) {
            return;
        }
        tracing::info!(process = %slot.full_name(), pid, exit = %exit, "process exited");
        slot.process = None;
        let action = slot.machine.handle_exit(now, exit);
        self.execute(id, action, now);
    }

    fn execute(&mut self, id: SlotId, action: Option<Action>, now: Instant) {
        let Some(action) = action else {
            return;
        };
        let Some(slot) = self.slots.get(&id) else {
            return;
        };
        match action {
            Action::Spawn => self.spawn(id, now),
            Action::Terminate | Action::Kill => {
                let signal = if action == Action::Kill {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                };
                if let Some(pid) = slot.machine.pid() {
                    if let Err(error) = sys::signal_group(pid, signal) {
                        tracing::warn!(process = %slot.full_name(), pid, error = %error, "cannot signal process group");
                    }
                }
            }
            Action::ReportFailure => self.report_failure(id),
        }
    }

    fn spawn(&mut self, id: SlotId, now: Instant) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        let process = slot.full_name();
        let log = slot.log_path();
        let spawned = sys::identity_for(&slot.directory, &process).and_then(|identity| {
            sys::spawn(&sys::SpawnRequest {
                process: &process,
                command: &slot.spec.command,
                directory: &slot.directory,
                log: &log,
                log_size_max_bytes: self.options.log_size_max_bytes,
                identity: &identity,
                environment: &self.environment,
            })
        });
        let child = match spawned.map(|child| (child.id(), child)) {
            Ok((Some(pid), child)) => (pid, child),
            Ok((None, _)) => {
                let action = slot
                    .machine
                    .handle_spawn_failed(now, "exited before its pid was known".to_owned());
                self.execute(id, action, now);
                return;
            }
            Err(error) => {
                tracing::warn!(process = %process, error = %error, "spawn failed");
                let action = slot.machine.handle_spawn_failed(now, error.to_string());
                self.execute(id, action, now);
                return;
            }
        };
        let (pid, mut child) = child;
        let start_time_ticks = sys::proc_stat(pid).map_or(0, |stat| stat.start_time_ticks);
        slot.process = Some(PersistedProcess {
            pid,
            start_time_ticks,
            started_at_unix_ms: sys::unix_now_ms(),
        });
        slot.machine.handle_spawned(now, pid);
        tracing::info!(process = %process, pid, "spawned");
        let events = self.events.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => ExitInfo {
                    code: status.code(),
                    signal: status.signal(),
                },
                Err(_) => ExitInfo::default(),
            };
            let _ = events
                .send(Event::Exited {
                    slot: id,
                    pid,
                    exit,
                })
                .await;
        });
    }

    /// Bang for an `-on-watch` program, on a blocking thread (the watchdog
    /// may do HTTP), one at a time, following the dedup rule.
    fn report_failure(&self, id: SlotId) {
        let (Some(slot), Some(watchdog)) = (self.slots.get(&id), self.options.watchdog.clone())
        else {
            return;
        };
        if !slot.spec.on_watch {
            return;
        }
        let (partition, process, directory) = (
            slot.partition.clone(),
            slot.spec.name.clone(),
            slot.directory.clone(),
        );
        let lock = self.bang_lock.clone();
        tokio::task::spawn_blocking(move || {
            let _serial = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            match bang_with_dedup(watchdog.as_ref(), &directory, &partition, &process) {
                Ok(true) => tracing::info!(partition = %partition, process = %process, "banged"),
                Ok(false) => {
                    tracing::debug!(partition = %partition, process = %process, "bang skipped: already banged for this deployment")
                }
                Err(error) => {
                    tracing::warn!(partition = %partition, process = %process, error = %error, "bang failed")
                }
            }
        });
    }

    fn rotate_logs(&self) {
        for slot in self
            .slots
            .values()
            .filter(|slot| slot.machine.state().has_process())
        {
            if let Err(error) = sys::rotate_log(&slot.log_path(), self.options.log_size_max_bytes) {
                tracing::warn!(process = %slot.full_name(), error = %error, "log rotation failed");
            }
        }
    }

    fn persist(&mut self) {
        let text = store::encode(&self.persisted_state());
        if text == self.saved {
            return;
        }
        match store::save(&self.instance_root, &text) {
            Ok(()) => self.saved = text,
            Err(error) => tracing::error!(error = %error, "cannot save supervisor state"),
        }
    }

    fn persisted_program(slot: &Slot) -> PersistedProgram {
        PersistedProgram {
            spec: slot.spec.clone(),
            wanted: slot.machine.wanted(),
            process: slot.process,
        }
    }

    fn persisted_state(&self) -> PersistedState {
        let groups = self
            .groups
            .iter()
            .map(|(partition, group)| PersistedGroup {
                partition: partition.clone(),
                directory: group.directory.clone(),
                programs: group
                    .programs
                    .values()
                    .filter_map(|id| self.slots.get(id))
                    .map(Self::persisted_program)
                    .collect(),
            })
            .collect();
        let referenced: BTreeSet<SlotId> = self
            .groups
            .values()
            .flat_map(|group| group.programs.values().copied())
            .collect();
        let retiring = self
            .slots
            .iter()
            .filter(|(id, _)| !referenced.contains(id))
            .map(|(_, slot)| PersistedRetiring {
                partition: slot.partition.clone(),
                directory: slot.directory.clone(),
                program: Self::persisted_program(slot),
            })
            .collect();
        PersistedState {
            version: store::STATE_VERSION,
            groups,
            retiring,
        }
    }
}

/// Apply the dedup rule of spec §8.4 and bang if it allows; returns
/// whether a bang was sent.
fn bang_with_dedup(
    watchdog: &dyn Watchdog,
    directory: &Path,
    partition: &str,
    process: &str,
) -> Result<bool, String> {
    let read = |name: &str| -> Result<Option<String>, String> {
        let path = directory.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(format!("{}: {error}", path.display())),
        }
    };
    let latest_bang = read(watchdog::LATEST_BANG_FILE)?;
    let timestamp = read(watchdog::TIMESTAMP_FILE)?;
    if !watchdog::should_bang(latest_bang.as_deref(), timestamp.as_deref()) {
        return Ok(false);
    }
    watchdog
        .bang(&Bang::new(partition, process))
        .map_err(|error| error.to_string())?;
    let path = directory.join(watchdog::LATEST_BANG_FILE);
    std::fs::write(&path, watchdog::recorded_timestamp(timestamp.as_deref()))
        .map_err(|error| format!("{}: {error}", path.display()))?;
    Ok(true)
}

mod requests;
