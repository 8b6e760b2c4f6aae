//! `slapos node run`: the long-running node agent. Where the real node
//! relies on cron (software and instance every minute, report hourly) and
//! pidfiles, one process loops over the three, one at a time.
//!
//! The master may be unreachable for minutes or days: a failed round is
//! logged and the next one tries again, while the services keep running
//! in the supervisor daemon, which never needs the master. When the master
//! answers again, the next round catches up with whatever changed.
//! Releases that fail to build are retried with a growing delay
//! (`software::RetryBackoff`), not every minute. Each round holds its
//! loop's lock (`lock`), so a one-shot `slapos node instance` never runs
//! over the agent's.

use std::future::Future;
use std::time::Duration;

use client::SlapClient;

use crate::build::Engine;
use crate::config::NodeConfig;
use crate::instance::{InstanceOptions, Services};
use crate::lock::{Loop, LoopLock};
use crate::software::{RetryBackoff, SoftwareOptions};

/// How often each loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    /// Between two software rounds (the real node's cron: 1 min).
    pub software: Duration,
    /// Between two instance rounds (1 min).
    pub instance: Duration,
    /// Between two report rounds (1 h).
    pub report: Duration,
}

impl Default for Periods {
    fn default() -> Self {
        Periods { software: Duration::from_secs(60), instance: Duration::from_secs(60), report: Duration::from_secs(3600) }
    }
}

/// The report round, given by the caller (usage and destruction).
#[allow(async_fn_in_trait)] // used with concrete types only, never as `dyn`
pub trait ReportRound {
    /// One round; an error is logged and retried next time.
    async fn report(&mut self) -> Result<(), String>;
}

/// Which round is due next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    Software,
    Instance,
    Report,
}

/// When each round is next due, in seconds from the agent's start: pure,
/// so the order of rounds is tested without waiting.
#[derive(Debug, Clone)]
struct Schedule {
    periods: Periods,
    next: [(Round, Duration); 3],
}

impl Schedule {
    fn new(periods: Periods) -> Schedule {
        Schedule {
            periods,
            next: [(Round::Software, Duration::ZERO), (Round::Instance, Duration::ZERO), (Round::Report, Duration::ZERO)],
        }
    }

    /// The earliest due round and when; ties in the order software,
    /// instance, report (a release must exist before its instances).
    fn due(&self) -> (Round, Duration) {
        let mut best = self.next[0];
        for candidate in &self.next[1..] {
            if candidate.1 < best.1 {
                best = *candidate;
            }
        }
        best
    }

    /// `round` ran, finishing at `now`.
    fn ran(&mut self, round: Round, now: Duration) {
        let period = match round {
            Round::Software => self.periods.software,
            Round::Instance => self.periods.instance,
            Round::Report => self.periods.report,
        };
        for entry in &mut self.next {
            if entry.0 == round {
                entry.1 = now + period;
            }
        }
    }
}

/// Runs the loops until `shutdown` resolves (between rounds, or during
/// the wait for the next one; a round in progress completes first).
pub async fn run<S: Services, R: ReportRound>(
    config: &NodeConfig,
    client: &SlapClient,
    engine: &Engine,
    services: &S,
    report: &mut R,
    periods: Periods,
    shutdown: impl Future<Output = ()>,
) {
    let start = tokio::time::Instant::now();
    let mut schedule = Schedule::new(periods);
    let mut retry = RetryBackoff::default();
    tokio::pin!(shutdown);
    loop {
        let (round, at) = schedule.due();
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep_until(start + at) => {}
        }
        let guarded = match round {
            Round::Software => Loop::Software,
            Round::Instance => Loop::Instance,
            Round::Report => Loop::Report,
        };
        let _lock = match LoopLock::acquire(&guarded.path(config)) {
            Ok(lock) => lock,
            Err(error) => {
                tracing::warn!(%error, "skipping this round");
                schedule.ran(round, start.elapsed());
                continue;
            }
        };
        match round {
            Round::Software => {
                match crate::software::run(config, client, engine, &SoftwareOptions::default(), Some(&mut retry)).await {
                    Ok(results) => {
                        for result in results {
                            tracing::debug!(url = %result.url, outcome = ?result.outcome, "software round");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "software round failed; retrying next round"),
                }
            }
            Round::Instance => match crate::instance::run(config, client, engine, services, &InstanceOptions::default()).await {
                Ok(results) => {
                    for result in results {
                        tracing::debug!(partition = %result.partition, outcome = ?result.outcome, "instance round");
                    }
                }
                Err(error) => tracing::warn!(%error, "instance round failed (master unreachable?): services keep running"),
            },
            Round::Report => {
                if let Err(error) = report.report().await {
                    tracing::warn!(%error, "report round failed; retrying next round");
                }
            }
        }
        schedule.ran(round, start.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_come_in_order_and_at_their_periods() {
        let periods = Periods { software: Duration::from_secs(60), instance: Duration::from_secs(60), report: Duration::from_secs(3600) };
        let mut schedule = Schedule::new(periods);
        assert_eq!(schedule.due(), (Round::Software, Duration::ZERO), "software first: instances need their release");
        schedule.ran(Round::Software, Duration::from_secs(5));
        assert_eq!(schedule.due(), (Round::Instance, Duration::ZERO));
        schedule.ran(Round::Instance, Duration::from_secs(6));
        assert_eq!(schedule.due(), (Round::Report, Duration::ZERO));
        schedule.ran(Round::Report, Duration::from_secs(7));
        assert_eq!(schedule.due(), (Round::Software, Duration::from_secs(65)));
        schedule.ran(Round::Software, Duration::from_secs(65));
        assert_eq!(schedule.due(), (Round::Instance, Duration::from_secs(66)));
        schedule.ran(Round::Instance, Duration::from_secs(66));
        assert_eq!(schedule.due().0, Round::Software, "report waits its hour");
        assert_eq!(schedule.next[2].1, Duration::from_secs(3607));
    }
}
