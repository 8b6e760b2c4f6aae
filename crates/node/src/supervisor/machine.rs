//! The life cycle of one supervised program, pure (no clock, no process):
//! the daemon feeds it `handle_*(now, ...)` calls and carries out the
//! returned `Action`s, and calls `handle_timeout(now)` at `poll_timeout()`.
//! Keeping it pure lets the restart policy (startsecs, stop timeout,
//! exponential backoff) be tested without sleeping.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The state words supervisord prints, which operators and scripts know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessState {
    /// Not running and not wanted.
    Stopped,
    /// Spawned, not yet up for `startsecs`.
    Starting,
    /// Up for at least `startsecs`.
    Running,
    /// Died unexpectedly; waiting before the next start.
    Backoff,
    /// Asked to stop; `SIGTERM` sent, `SIGKILL` after the stop timeout.
    Stopping,
    /// Exited on its own while not wanted (an adopted process that was
    /// already being stopped, for instance).
    Exited,
    /// Cannot be spawned at all; stays so until started again.
    Fatal,
}

impl ProcessState {
    /// The word as supervisorctl prints it.
    pub fn word(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
        }
    }

    /// Whether a process exists in this state.
    pub fn has_process(self) -> bool {
        matches!(
            self,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        )
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// How a process ended, when known (adopted processes are not our
/// children, so their exit status is lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExitInfo {
    /// Exit code, if it exited.
    pub code: Option<i32>,
    /// Signal number, if a signal killed it.
    pub signal: Option<i32>,
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code, self.signal) {
            (Some(code), _) => write!(f, "exit status {code}"),
            (None, Some(signal)) => write!(f, "terminated by signal {signal}"),
            (None, None) => f.write_str("exited, status unknown"),
        }
    }
}

/// Timing of the restart policy; defaults follow supervisord and the brief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long a process must stay up to count as RUNNING.
    pub startsecs: Duration,
    /// Time between `SIGTERM` and `SIGKILL` when stopping.
    pub stop_timeout: Duration,
    /// First delay before restarting a process that died.
    pub backoff_first: Duration,
    /// Cap of the doubling delay.
    pub backoff_max: Duration,
    /// A process that ran this long before dying starts over at
    /// `backoff_first`.
    pub backoff_reset_after: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            startsecs: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(60),
            backoff_first: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            backoff_reset_after: Duration::from_secs(30),
        }
    }
}

impl Policy {
    /// Delay before the restart following `failures` earlier consecutive
    /// failures: first, 2·first, 4·first … capped at `backoff_max`.
    pub fn backoff_delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.backoff_first
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// What the daemon must do for the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Spawn the program, then call `handle_spawned` or
    /// `handle_spawn_failed`.
    Spawn,
    /// Send `SIGTERM` to the process group.
    Terminate,
    /// Send `SIGKILL` to the process group.
    Kill,
    /// The process died (or could not start) without being asked to:
    /// an `-on-watch` program bangs.
    ReportFailure,
}

/// Why a start request did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartRefused {
    /// It already runs.
    AlreadyStarted,
    /// It is being stopped.
    Stopping,
}

/// One program's state machine.
#[derive(Debug, Clone)]
pub struct Machine {
    policy: Policy,
    state: ProcessState,
    pid: Option<u32>,
    started: Option<Instant>,
    deadline: Option<Instant>,
    failures: u32,
    last_exit: Option<ExitInfo>,
    fatal_reason: Option<String>,
}

impl Machine {
    /// A program that was just added: STOPPED.
    pub fn new(policy: Policy) -> Self {
        Machine {
            policy,
            state: ProcessState::Stopped,
            pid: None,
            started: None,
            deadline: None,
            failures: 0,
            last_exit: None,
            fatal_reason: None,
        }
    }

    /// A process found alive by a new daemon: RUNNING since `started`.
    pub fn adopted(policy: Policy, pid: u32, started: Instant) -> Self {
        let mut machine = Machine::new(policy);
        machine.state = ProcessState::Running;
        machine.pid = Some(pid);
        machine.started = Some(started);
        machine
    }

    /// A program that was wanted but had no process when the previous
    /// daemon died (it was in backoff): restart it at the next timeout.
    pub fn resumed(policy: Policy, now: Instant) -> Self {
        let mut machine = Machine::new(policy);
        machine.state = ProcessState::Backoff;
        machine.deadline = Some(now);
        machine
    }

    /// The current state.
    pub fn state(&self) -> ProcessState {
        self.state
    }

    /// The pid of the current process, if any.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// When the current process started, if any.
    pub fn started(&self) -> Option<Instant> {
        self.started
    }

    /// How the last process ended.
    pub fn last_exit(&self) -> Option<ExitInfo> {
        self.last_exit
    }

    /// Why the program is FATAL.
    pub fn fatal_reason(&self) -> Option<&str> {
        self.fatal_reason.as_deref()
    }

    /// Whether the program should be running: the daemon persists this so
    /// that a new daemon restarts what died while no daemon ran.
    pub fn wanted(&self) -> bool {
        matches!(
            self.state,
            ProcessState::Starting | ProcessState::Running | ProcessState::Backoff
        )
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// A start request: spawn unless a process exists.
    pub fn handle_start(&mut self, _now: Instant) -> Result<Action, StartRefused> {
        match self.state {
            ProcessState::Starting | ProcessState::Running => Err(StartRefused::AlreadyStarted),
            ProcessState::Stopping => Err(StartRefused::Stopping),
            ProcessState::Stopped
            | ProcessState::Exited
            | ProcessState::Fatal
            | ProcessState::Backoff => {
                self.failures = 0;
                self.deadline = None;
                Ok(Action::Spawn)
            }
        }
    }

    /// The spawn asked for succeeded.
    pub fn handle_spawned(&mut self, now: Instant, pid: u32) {
        self.state = ProcessState::Starting;
        self.pid = Some(pid);
        self.started = Some(now);
        self.deadline = Some(now + self.policy.startsecs);
        self.fatal_reason = None;
    }

    /// The spawn asked for failed: FATAL until started again (retrying a
    /// missing or non-executable file would only fill the logs).
    pub fn handle_spawn_failed(&mut self, _now: Instant, reason: String) -> Option<Action> {
        self.state = ProcessState::Fatal;
        self.pid = None;
        self.started = None;
        self.deadline = None;
        self.fatal_reason = Some(reason);
        Some(Action::ReportFailure)
    }

    /// A stop request: `SIGTERM` if a process exists; a pending restart is
    /// cancelled.
    pub fn handle_stop(&mut self, now: Instant) -> Option<Action> {
        match self.state {
            ProcessState::Starting | ProcessState::Running => {
                self.state = ProcessState::Stopping;
                self.deadline = Some(now + self.policy.stop_timeout);
                Some(Action::Terminate)
            }
            ProcessState::Backoff => {
                self.state = ProcessState::Stopped;
                self.deadline = None;
                None
            }
            ProcessState::Stopping
            | ProcessState::Stopped
            | ProcessState::Exited
            | ProcessState::Fatal => None,
        }
    }

    /// The current process ended. Asked to stop: STOPPED. Otherwise
    /// BACKOFF, restarted after the policy's delay, and reported.
    pub fn handle_exit(&mut self, now: Instant, exit: ExitInfo) -> Option<Action> {
        let uptime = self
            .started
            .map(|started| now.saturating_duration_since(started));
        self.pid = None;
        self.started = None;
        self.last_exit = Some(exit);
        match self.state {
            ProcessState::Stopping => {
                self.state = ProcessState::Stopped;
                self.deadline = None;
                self.failures = 0;
                None
            }
            ProcessState::Starting | ProcessState::Running => {
                let ran_long = self.state == ProcessState::Running
                    && uptime.is_some_and(|uptime| uptime >= self.policy.backoff_reset_after);
                if ran_long {
                    self.failures = 0;
                }
                let delay = self.policy.backoff_delay(self.failures);
                self.failures = self.failures.saturating_add(1);
                self.state = ProcessState::Backoff;
                self.deadline = Some(now + delay);
                Some(Action::ReportFailure)
            }
            ProcessState::Stopped
            | ProcessState::Exited
            | ProcessState::Fatal
            | ProcessState::Backoff => {
                self.state = ProcessState::Exited;
                self.deadline = None;
                None
            }
        }
    }

    /// Time passed: STARTING becomes RUNNING, BACKOFF spawns again,
    /// STOPPING escalates to `SIGKILL` (repeated every stop timeout).
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Action> {
        let due = self.deadline.is_some_and(|deadline| deadline <= now);
        if !due {
            return None;
        }
        match self.state {
            ProcessState::Starting => {
                self.state = ProcessState::Running;
                self.deadline = None;
                None
            }
            ProcessState::Backoff => {
                self.deadline = None;
                Some(Action::Spawn)
            }
            ProcessState::Stopping => {
                self.deadline = Some(now + self.policy.stop_timeout);
                Some(Action::Kill)
            }
            _ => {
                self.deadline = None;
                None
            }
        }
    }

    /// Seconds until the pending restart, for the status line.
    pub fn restart_in(&self, now: Instant) -> Option<Duration> {
        (self.state == ProcessState::Backoff)
            .then(|| self.deadline.map(|d| d.saturating_duration_since(now)))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = Policy::default();
        let delays: Vec<u64> = (0..9).map(|n| policy.backoff_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy.backoff_delay(u32::MAX), secs(60));
    }

    #[test]
    fn start_runs_after_startsecs() {
        let t0 = Instant::now();
        let mut machine = Machine::new(Policy::default());
        assert_eq!(machine.state(), ProcessState::Stopped);
        assert_eq!(machine.handle_start(t0), Ok(Action::Spawn));
        machine.handle_spawned(t0, 42);
        assert_eq!(machine.state(), ProcessState::Starting);
        assert_eq!(machine.handle_timeout(t0), None);
        assert_eq!(machine.state(), ProcessState::Starting);
        assert_eq!(machine.poll_timeout(), Some(t0 + secs(1)));
        assert_eq!(machine.handle_timeout(t0 + secs(1)), None);
        assert_eq!(machine.state(), ProcessState::Running);
        assert_eq!(machine.handle_start(t0), Err(StartRefused::AlreadyStarted));
        assert!(machine.wanted());
    }

    #[test]
    fn unexpected_exits_back_off_and_reset_after_a_long_run() {
        let t0 = Instant::now();
        let mut machine = Machine::new(Policy::default());
        let mut now = t0;
        let mut delays = Vec::new();
        assert_eq!(machine.handle_start(now), Ok(Action::Spawn));
        for pid in 1..=4 {
            machine.handle_spawned(now, pid);
            now += secs(2);
            machine.handle_timeout(now);
            assert_eq!(
                machine.handle_exit(
                    now,
                    ExitInfo {
                        code: Some(1),
                        signal: None
                    }
                ),
                Some(Action::ReportFailure)
            );
            assert_eq!(machine.state(), ProcessState::Backoff);
            let deadline = machine.poll_timeout().expect("backoff has a deadline");
            delays.push((deadline - now).as_secs());
            assert_eq!(
                machine.handle_timeout(deadline - Duration::from_millis(1)),
                None
            );
            now = deadline;
            assert_eq!(machine.handle_timeout(now), Some(Action::Spawn));
        }
        assert_eq!(delays, [1, 2, 4, 8]);
        machine.handle_spawned(now, 9);
        machine.handle_timeout(now + secs(1));
        now += secs(31);
        machine.handle_exit(now, ExitInfo::default());
        assert_eq!(
            machine.poll_timeout(),
            Some(now + secs(1)),
            "a long run resets the backoff"
        );
    }

    #[test]
    fn requested_stop_terminates_then_kills_and_never_reports() {
        let t0 = Instant::now();
        let mut machine = Machine::adopted(Policy::default(), 7, t0);
        assert_eq!(machine.state(), ProcessState::Running);
        assert_eq!(machine.handle_stop(t0), Some(Action::Terminate));
        assert_eq!(machine.state(), ProcessState::Stopping);
        assert!(!machine.wanted());
        assert_eq!(machine.handle_start(t0), Err(StartRefused::Stopping));
        assert_eq!(machine.handle_timeout(t0 + secs(59)), None);
        assert_eq!(machine.handle_timeout(t0 + secs(60)), Some(Action::Kill));
        assert_eq!(
            machine.handle_exit(
                t0 + secs(61),
                ExitInfo {
                    code: None,
                    signal: Some(9)
                }
            ),
            None
        );
        assert_eq!(machine.state(), ProcessState::Stopped);
        assert_eq!(machine.pid(), None);
    }

    #[test]
    fn stop_in_backoff_cancels_the_restart() {
        let t0 = Instant::now();
        let mut machine = Machine::resumed(Policy::default(), t0);
        assert!(machine.wanted());
        assert_eq!(machine.handle_stop(t0), None);
        assert_eq!(machine.state(), ProcessState::Stopped);
        assert_eq!(machine.handle_timeout(t0 + secs(100)), None);
    }

    #[test]
    fn spawn_failure_is_fatal_and_reported() {
        let t0 = Instant::now();
        let mut machine = Machine::new(Policy::default());
        assert_eq!(machine.handle_start(t0), Ok(Action::Spawn));
        assert_eq!(
            machine.handle_spawn_failed(t0, "no such file".into()),
            Some(Action::ReportFailure)
        );
        assert_eq!(machine.state(), ProcessState::Fatal);
        assert_eq!(machine.fatal_reason(), Some("no such file"));
        assert_eq!(machine.poll_timeout(), None);
        assert_eq!(machine.handle_start(t0), Ok(Action::Spawn));
    }
}
