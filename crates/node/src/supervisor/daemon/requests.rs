//! The daemon's handling of each protocol request: group updates and
//! removals, the start/stop/restart verbs on `P:name`, `P:*` and `all`,
//! status lines, log tails and shutdown. Verbs that stop processes answer
//! only once those processes are gone (a `Waiter`), as supervisorctl does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::oneshot;

use super::{Daemon, Group, SlotId, Then, Waiter};
use crate::supervisor::machine::{Machine, ProcessState, StartRefused};
use crate::supervisor::program::{self, Target};
use crate::supervisor::protocol::{self, ActionResult, ProcessStatus, Reply, Request};
use crate::supervisor::sys;

fn send(reply: oneshot::Sender<Reply>, message: Reply) {
    // The client may have gone; nothing to do then.
    let _ = reply.send(message);
}

fn error(message: impl Into<String>) -> Reply {
    Reply::Error {
        message: message.into(),
    }
}

fn result(process: String, outcome: &str) -> ActionResult {
    ActionResult {
        process,
        outcome: outcome.to_owned(),
    }
}

impl Daemon {
    pub(super) fn handle_request(
        &mut self,
        request: Request,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
        match request {
            Request::Ping => send(
                reply,
                Reply::Pong {
                    pid: sys::own_pid(),
                },
            ),
            Request::UpdateGroup {
                partition,
                directory,
            } => self.update_group(partition, directory, reply, now),
            Request::RemoveGroup { partition } => self.remove_group(&partition, reply, now),
            Request::Start { target } => match self.resolve(&target) {
                Ok(ids) => {
                    let results = self.start_slots(&ids, now);
                    send(reply, Reply::Done { results });
                }
                Err(message) => send(reply, error(message)),
            },
            Request::Stop { target } => match self.resolve(&target) {
                Ok(ids) => {
                    let results = self.stop_slots(&ids, now);
                    self.wait(ids, results, Then::Reply, Some(reply));
                }
                Err(message) => send(reply, error(message)),
            },
            Request::Restart { target } => match self.resolve(&target) {
                Ok(ids) => {
                    let results = self.stop_slots(&ids, now);
                    self.wait(ids.clone(), results, Then::StartThenReply(ids), Some(reply));
                }
                Err(message) => send(reply, error(message)),
            },
            Request::Status => send(
                reply,
                Reply::Status {
                    processes: self.status(now),
                },
            ),
            Request::Tail { process, bytes } => send(reply, self.tail(&process, bytes)),
            Request::Shutdown {
                stop_processes: true,
            } => self.stop_everything_then_exit(Some(reply), now),
            Request::Shutdown {
                stop_processes: false,
            } => {
                send(
                    reply,
                    Reply::Done {
                        results: Vec::new(),
                    },
                );
                self.exit = true;
            }
        }
    }

    /// The slots a target names (only those still in a group).
    fn resolve(&self, target: &str) -> Result<Vec<SlotId>, String> {
        let target: Target = target
            .parse()
            .map_err(|bad: program::BadTarget| bad.to_string())?;
        match target {
            Target::All => Ok(self
                .groups
                .values()
                .flat_map(|group| group.programs.values().copied())
                .collect()),
            Target::Group(partition) => self
                .groups
                .get(&partition)
                .map(|group| group.programs.values().copied().collect())
                .ok_or_else(|| format!("no such group {partition}")),
            Target::Process { partition, name } => self
                .groups
                .get(&partition)
                .and_then(|group| group.programs.get(&name))
                .map(|id| vec![*id])
                .ok_or_else(|| format!("no such process {partition}:{name}")),
        }
    }

    /// Recompute a partition's programs from its directory: new ones are
    /// added stopped; removed or changed ones are stopped and dropped (a
    /// changed one is replaced by a stopped new one). Answered once the
    /// dropped ones are stopped.
    fn update_group(
        &mut self,
        partition: String,
        directory: PathBuf,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
        let specs = match sys::list_programs(&directory) {
            Ok(specs) => specs,
            Err(failure) => {
                return send(
                    reply,
                    error(format!("cannot update partition {partition}: {failure}")),
                )
            }
        };
        if specs.is_empty() {
            tracing::warn!(partition = %partition, "No runners nor services found for partition");
        }
        let old_programs = self
            .groups
            .get(&partition)
            .map(|group| group.programs.clone())
            .unwrap_or_default();
        let mut programs = BTreeMap::new();
        let mut results = Vec::new();
        for spec in specs {
            let name = spec.name.clone();
            let old = old_programs.get(&name).copied();
            let unchanged = old.filter(|id| {
                self.slots
                    .get(id)
                    .is_some_and(|slot| slot.spec == spec && slot.directory == directory)
            });
            let id = match unchanged {
                Some(id) => id,
                None => {
                    let outcome = if old.is_some() { "changed" } else { "added" };
                    results.push(result(program::full_name(&partition, &name), outcome));
                    self.add_slot(
                        &partition,
                        &directory,
                        spec,
                        Machine::new(self.options.policy),
                    )
                }
            };
            programs.insert(name, id);
        }
        let kept: BTreeSet<SlotId> = programs.values().copied().collect();
        let retired: Vec<SlotId> = old_programs
            .values()
            .copied()
            .filter(|id| !kept.contains(id))
            .collect();
        for name in old_programs
            .keys()
            .filter(|name| !programs.contains_key(*name))
        {
            results.push(result(program::full_name(&partition, name), "removed"));
        }
        self.groups.insert(
            partition,
            Group {
                directory,
                programs,
            },
        );
        self.stop_slots(&retired, now);
        self.wait(retired, results, Then::Reply, Some(reply));
    }

    fn remove_group(&mut self, partition: &str, reply: oneshot::Sender<Reply>, now: Instant) {
        let Some(group) = self.groups.remove(partition) else {
            return send(reply, error(format!("no such group {partition}")));
        };
        let ids: Vec<SlotId> = group.programs.values().copied().collect();
        let results = group
            .programs
            .keys()
            .map(|name| result(program::full_name(partition, name), "removed"))
            .collect();
        self.stop_slots(&ids, now);
        self.wait(ids, results, Then::Reply, Some(reply));
    }

    fn start_slots(&mut self, ids: &[SlotId], now: Instant) -> Vec<ActionResult> {
        let mut results = Vec::new();
        for &id in ids {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let name = slot.full_name();
            let outcome = match slot.machine.handle_start(now) {
                Ok(action) => {
                    self.execute(id, Some(action), now);
                    match self.slots.get(&id).map(|slot| slot.machine.state()) {
                        Some(ProcessState::Fatal) => "ERROR (spawn error)",
                        _ => "started",
                    }
                }
                Err(StartRefused::AlreadyStarted) => "ERROR (already started)",
                Err(StartRefused::Stopping) => "ERROR (stopping)",
            };
            results.push(result(name, outcome));
        }
        results
    }

    fn stop_slots(&mut self, ids: &[SlotId], now: Instant) -> Vec<ActionResult> {
        let mut results = Vec::new();
        for &id in ids {
            let Some(slot) = self.slots.get_mut(&id) else {
                continue;
            };
            let name = slot.full_name();
            let before = slot.machine.state();
            let action = slot.machine.handle_stop(now);
            self.execute(id, action, now);
            let outcome = match before {
                ProcessState::Starting
                | ProcessState::Running
                | ProcessState::Stopping
                | ProcessState::Backoff => "stopped",
                ProcessState::Stopped | ProcessState::Exited | ProcessState::Fatal => {
                    "ERROR (not running)"
                }
            };
            results.push(result(name, outcome));
        }
        results
    }

    pub(super) fn stop_everything_then_exit(
        &mut self,
        reply: Option<oneshot::Sender<Reply>>,
        now: Instant,
    ) {
        let ids: Vec<SlotId> = self.slots.keys().copied().collect();
        let results = self.stop_slots(&ids, now);
        self.wait(ids, results, Then::Exit, reply);
    }

    fn wait(
        &mut self,
        slots: Vec<SlotId>,
        results: Vec<ActionResult>,
        then: Then,
        reply: Option<oneshot::Sender<Reply>>,
    ) {
        self.waiters.push(Waiter {
            slots,
            results,
            then,
            reply,
        });
    }

    /// Answer the waiters whose processes are all gone.
    pub(super) fn complete_waiters(&mut self, now: Instant) {
        let waiters = std::mem::take(&mut self.waiters);
        let mut pending = Vec::new();
        for mut waiter in waiters {
            let busy = waiter.slots.iter().any(|id| {
                self.slots
                    .get(id)
                    .is_some_and(|slot| slot.machine.state().has_process())
            });
            if busy {
                pending.push(waiter);
                continue;
            }
            match std::mem::replace(&mut waiter.then, Then::Reply) {
                Then::Reply => {}
                Then::StartThenReply(ids) => {
                    let in_groups: BTreeSet<SlotId> = self
                        .groups
                        .values()
                        .flat_map(|group| group.programs.values().copied())
                        .collect();
                    let ids: Vec<SlotId> = ids
                        .into_iter()
                        .filter(|id| in_groups.contains(id))
                        .collect();
                    let started = self.start_slots(&ids, now);
                    waiter.results.extend(started);
                }
                Then::Exit => self.exit = true,
            }
            if let Some(reply) = waiter.reply.take() {
                send(
                    reply,
                    Reply::Done {
                        results: waiter.results,
                    },
                );
            }
        }
        self.waiters.extend(pending);
    }

    fn status(&self, now: Instant) -> Vec<ProcessStatus> {
        let mut processes: Vec<ProcessStatus> = self
            .groups
            .values()
            .flat_map(|group| group.programs.values())
            .filter_map(|id| self.slots.get(id))
            .map(|slot| {
                let machine = &slot.machine;
                let uptime_secs = machine
                    .started()
                    .map(|started| now.saturating_duration_since(started).as_secs());
                let exit = machine.last_exit().map(|exit| exit.to_string());
                let description = match (machine.state(), machine.pid()) {
                    (ProcessState::Starting | ProcessState::Running, Some(pid)) => {
                        format!(
                            "pid {pid}, uptime {}",
                            protocol::format_uptime(uptime_secs.unwrap_or(0))
                        )
                    }
                    (ProcessState::Stopping, Some(pid)) => format!("pid {pid}"),
                    (ProcessState::Backoff, _) => {
                        let wait = machine
                            .restart_in(now)
                            .map_or(0, |wait| wait.as_secs_f64().ceil() as u64);
                        format!(
                            "{}; restart in {wait} s",
                            exit.unwrap_or_else(|| "not running".to_owned())
                        )
                    }
                    (ProcessState::Fatal, _) => {
                        machine.fatal_reason().unwrap_or("spawn error").to_owned()
                    }
                    _ => exit.unwrap_or_else(|| "Not started".to_owned()),
                };
                ProcessStatus {
                    name: slot.full_name(),
                    state: machine.state(),
                    pid: machine.pid(),
                    uptime_secs: machine.pid().and(uptime_secs),
                    description,
                }
            })
            .collect();
        processes.sort_by(|left, right| left.name.cmp(&right.name));
        processes
    }

    fn tail(&self, process: &str, bytes: u64) -> Reply {
        let ids = match process.parse::<Target>() {
            Ok(Target::Process { .. }) => self.resolve(process),
            _ => Err(format!(
                "tail needs one process `partition:name`, not {process:?}"
            )),
        };
        let slot = match ids.map(|ids| ids.first().and_then(|id| self.slots.get(id))) {
            Ok(Some(slot)) => slot,
            Ok(None) => return error(format!("no such process {process}")),
            Err(message) => return error(message),
        };
        match sys::tail(&slot.log_path(), bytes.min(protocol::TAIL_BYTES_MAX)) {
            Ok(text) => Reply::Tail { text },
            Err(failure) => error(failure.to_string()),
        }
    }
}
