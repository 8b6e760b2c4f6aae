//! The load driver: `clients` tasks, each with its own keep-alive HTTP
//! connection (`http1`), send requests back to back. Every
//! measurement is bounded twice: at most `requests_max` requests are
//! started and none is started after `duration_max`; a request in flight at
//! the deadline completes (bounded by the per-request timeout) and counts.
//! Rates are computed from what completed, so a slow server simply shows
//! fewer requests in the same window.
//!
//! While the load runs, a sampler reads the server's `VmRSS` every
//! [`MEMORY_SAMPLE_PERIOD`] and keeps the largest value.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http1::{form_urlencoded, Connection};
use crate::server::{cpu_of, memory_of, Server};
use crate::slap::Form;

/// How often the server's resident memory is sampled under load.
pub(crate) const MEMORY_SAMPLE_PERIOD: Duration = Duration::from_millis(100);

/// The two limits of one measurement, whichever is reached first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Requests started at most.
    pub(crate) requests_max: usize,
    /// No request is started after this much time.
    pub(crate) duration_max: Duration,
}

/// One HTTP call of a workload.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    /// A form POST to an endpoint of the classic API.
    Post { path: &'static str, form: Form },
    /// A GET with query parameters.
    Get { path: &'static str, query: Form },
}

/// What a measurement drives: the call for the n-th request and the check
/// of a 200 body.
pub(crate) struct Workload {
    /// Builds request number `index` (0-based, in start order).
    pub(crate) call: Box<dyn Fn(usize) -> Call + Send + Sync>,
    /// Accepts the body of a 200 answer.
    pub(crate) accept: fn(&str) -> bool,
}

/// Failures of one kind: how many, and the first one seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failures {
    /// How many requests failed this way.
    pub(crate) count: usize,
    /// The first failure's detail (body excerpt or error chain).
    pub(crate) example: String,
}

/// The result of one measurement.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Concurrent clients.
    pub(crate) clients: usize,
    /// From the first request started to the last one completed.
    pub(crate) elapsed: Duration,
    /// Indexes of the requests that succeeded (200 and accepted body).
    pub(crate) ok_indexes: Vec<usize>,
    /// Latencies of the successful requests, sorted, in microseconds.
    pub(crate) latencies_us: Vec<u64>,
    /// Failed requests by kind (`HTTP 500`, `bad body`, `transport: timeout`…).
    pub(crate) failures: BTreeMap<String, Failures>,
    /// The longest time no request completed, from the start to the end.
    pub(crate) stall_max: Duration,
    /// The largest `VmRSS` sampled during the measurement.
    pub(crate) rss_peak_kib: u64,
    /// CPU time the server used during the measurement (all threads).
    pub(crate) server_cpu: Duration,
}

impl Outcome {
    /// Successful requests.
    pub(crate) fn ok(&self) -> usize {
        self.ok_indexes.len()
    }

    /// Failed requests of every kind.
    pub(crate) fn failed(&self) -> usize {
        self.failures.values().map(|f| f.count).sum()
    }

    /// Successful requests per second of elapsed time.
    pub(crate) fn rate_per_s(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.ok() as f64 / seconds
        } else {
            0.0
        }
    }

    /// The `quantile` (0..=1) latency of the successful requests, nearest rank.
    pub(crate) fn latency_ms(&self, quantile: f64) -> Option<f64> {
        percentile(&self.latencies_us, quantile).map(|us| us as f64 / 1000.0)
    }

    /// Server CPU time per completed request (successful or not).
    pub(crate) fn server_cpu_ms_per_request(&self) -> Option<f64> {
        let completed = self.ok() + self.failed();
        (completed > 0).then(|| self.server_cpu.as_secs_f64() * 1000.0 / completed as f64)
    }

    /// The mean latency of the successful requests.
    pub(crate) fn latency_mean_ms(&self) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        let total: u64 = self.latencies_us.iter().sum();
        Some(total as f64 / self.latencies_us.len() as f64 / 1000.0)
    }
}

/// What one client task saw of one request.
struct Record {
    index: usize,
    completed_at: Duration,
    latency: Duration,
    result: Result<(), (String, String)>,
}

/// Settings shared by every measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Driver {
    /// Longest wait for one answer.
    pub(crate) request_timeout: Duration,
}

impl Driver {
    /// Runs `workload` against `server` from `clients` concurrent clients
    /// within `bounds`.
    ///
    /// # Errors
    /// An HTTP client cannot be built, a client task panicked, or the server
    /// process died during the measurement.
    pub(crate) async fn run(&self, server: &mut Server, workload: Workload, clients: usize, bounds: Bounds) -> anyhow::Result<Outcome> {
        let workload = Arc::new(workload);
        let next_index = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = tokio::spawn(sample_rss(server.pid(), done.clone()));
        let cpu_before = cpu_of(server.pid())?;
        let start = Instant::now();
        let deadline = start + bounds.duration_max;
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let (address, request_timeout) = (server.address, self.request_timeout);
            let (workload, next_index) = (workload.clone(), next_index.clone());
            tasks.push(tokio::spawn(async move {
                let mut records = Vec::new();
                let mut connection = Connection::new(address);
                loop {
                    let index = next_index.fetch_add(1, Ordering::Relaxed);
                    if index >= bounds.requests_max || Instant::now() >= deadline {
                        return records;
                    }
                    let call = (workload.call)(index);
                    let sent = Instant::now();
                    let result = send(&mut connection, request_timeout, call, workload.accept).await;
                    let completed = Instant::now();
                    records.push(Record {
                        index,
                        completed_at: completed - start,
                        latency: completed - sent,
                        result,
                    });
                }
            }));
        }
        let mut records = Vec::new();
        let mut joined = Ok(());
        for task in tasks {
            match task.await {
                Ok(mut task_records) => records.append(&mut task_records),
                Err(error) => joined = Err(error),
            }
        }
        let elapsed = start.elapsed();
        let server_cpu = cpu_of(server.pid()).map(|after| after.saturating_sub(cpu_before));
        done.store(true, Ordering::Relaxed);
        let rss_peak_kib = sampler.await.unwrap_or(0);
        joined.context("a client task failed")?;
        server.check_alive()?;
        let server_cpu = server_cpu?;
        Ok(summarize(clients, elapsed, records, rss_peak_kib, server_cpu))
    }
}

/// Sends one call and classifies its answer. After a timeout the
/// connection is dropped: its state is unknown.
async fn send(connection: &mut Connection, timeout: Duration, call: Call, accept: fn(&str) -> bool) -> Result<(), (String, String)> {
    let exchange = async {
        match &call {
            Call::Post { path, form } => {
                let body = form_urlencoded(form.iter().map(|(name, value)| (*name, value.as_str())));
                connection.post_form(&format!("/{path}"), &body).await
            }
            Call::Get { path, query } => {
                let query = form_urlencoded(query.iter().map(|(name, value)| (*name, value.as_str())));
                connection.get(&format!("/{path}?{query}")).await
            }
        }
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return Err(("transport: error".to_owned(), error.to_string())),
        Err(_) => {
            *connection = Connection::new(connection.address());
            return Err(("transport: timeout".to_owned(), format!("no answer within {timeout:?}")));
        }
    };
    let body = String::from_utf8_lossy(&answer.body);
    if answer.status != 200 {
        return Err((format!("HTTP {}", answer.status), excerpt(&body)));
    }
    if !accept(&body) {
        return Err(("bad body".to_owned(), excerpt(&body)));
    }
    Ok(())
}

/// The start of a body, on one line, for failure reports.
fn excerpt(body: &str) -> String {
    const EXCERPT_CHARS_MAX: usize = 300;
    body.chars()
        .take(EXCERPT_CHARS_MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Samples the server's `VmRSS` until `done`; returns the largest value.
async fn sample_rss(pid: u32, done: Arc<AtomicBool>) -> u64 {
    let mut peak_kib = 0;
    while !done.load(Ordering::Relaxed) {
        if let Ok(memory) = memory_of(pid) {
            peak_kib = peak_kib.max(memory.rss_kib);
        }
        tokio::time::sleep(MEMORY_SAMPLE_PERIOD).await;
    }
    peak_kib
}

fn summarize(clients: usize, elapsed: Duration, mut records: Vec<Record>, rss_peak_kib: u64, server_cpu: Duration) -> Outcome {
    records.sort_by_key(|record| record.completed_at);
    let mut stall_max = Duration::ZERO;
    let mut previous = Duration::ZERO;
    for record in &records {
        stall_max = stall_max.max(record.completed_at - previous);
        previous = record.completed_at;
    }
    stall_max = stall_max.max(elapsed.saturating_sub(previous));
    let mut ok_indexes = Vec::new();
    let mut latencies_us = Vec::new();
    let mut failures: BTreeMap<String, Failures> = BTreeMap::new();
    for record in records {
        match record.result {
            Ok(()) => {
                ok_indexes.push(record.index);
                latencies_us.push(u64::try_from(record.latency.as_micros()).unwrap_or(u64::MAX));
            }
            Err((kind, example)) => failures.entry(kind).or_insert(Failures { count: 0, example }).count += 1,
        }
    }
    ok_indexes.sort_unstable();
    latencies_us.sort_unstable();
    Outcome {
        clients,
        elapsed,
        ok_indexes,
        latencies_us,
        failures,
        stall_max,
        rss_peak_kib,
        server_cpu,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], quantile: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (quantile * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), Some(50));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&values, 1.0), Some(100));
        assert_eq!(percentile(&[7], 0.99), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn summary_counts_failures_by_kind_and_finds_the_longest_stall() {
        let record = |index, completed_ms, result| Record {
            index,
            completed_at: Duration::from_millis(completed_ms),
            latency: Duration::from_millis(1),
            result,
        };
        let failure = || Err(("HTTP 500".to_owned(), "boom".to_owned()));
        let records = vec![
            record(1, 30, Ok(())),
            record(0, 10, Ok(())),
            record(2, 500, failure()),
            record(3, 510, failure()),
        ];
        let outcome = summarize(4, Duration::from_millis(600), records, 0, Duration::ZERO);
        assert_eq!(outcome.ok_indexes, [0, 1]);
        assert_eq!(
            outcome.failures["HTTP 500"],
            Failures {
                count: 2,
                example: "boom".to_owned()
            }
        );
        assert_eq!(outcome.stall_max, Duration::from_millis(470));
    }
}
