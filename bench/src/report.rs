//! One result, two renderings: the human table (metric, slapproxy,
//! slapos-rs, ratio, target) with the per-measurement details and every
//! failure seen, and the JSON document of `--json FILE`.
//!
//! Ratios are "how many times better slapos-rs is": ours / slapproxy for
//! rates, slapproxy / ours for latencies and memory. Targets are reported
//! as met or not, never enforced.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value as Json};

use crate::load::Outcome;
use crate::scenario::{ComputerRun, RequestRun, Settings};
use crate::server::Kind;

/// Everything one implementation produced.
#[derive(Debug, Clone)]
pub(crate) struct ServerResults {
    /// Which implementation.
    pub(crate) kind: Kind,
    /// The program that ran.
    pub(crate) program: String,
    /// Request measurements, one per concurrency.
    pub(crate) requests: Vec<RequestRun>,
    /// The computer document measurement.
    pub(crate) computer: Option<ComputerRun>,
}

/// Which direction is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Higher,
    Lower,
}

/// One line of the summary table.
#[derive(Debug, Clone)]
struct Row {
    metric: String,
    slapproxy: Option<f64>,
    slapos_rs: Option<f64>,
    better: Better,
    ratio_target: Option<f64>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        let (python, rust) = (self.slapproxy?, self.slapos_rs?);
        let (numerator, denominator) = match self.better {
            Better::Higher => (rust, python),
            Better::Lower => (python, rust),
        };
        (denominator > 0.0).then(|| numerator / denominator)
    }

    fn target_met(&self) -> Option<bool> {
        Some(self.ratio()? >= self.ratio_target?)
    }
}

/// The targets: ours at least this many times slapproxy.
const REQUEST_RATE_RATIO_TARGET: f64 = 50.0;
const POLL_LATENCY_RATIO_TARGET: f64 = 20.0;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn summary_rows(python: Option<&ServerResults>, rust: Option<&ServerResults>, settings: &Settings) -> Vec<Row> {
    let row = |metric: String, better, target, value: &dyn Fn(&ServerResults) -> Option<f64>| Row {
        metric,
        slapproxy: python.and_then(value),
        slapos_rs: rust.and_then(value),
        better,
        ratio_target: target,
    };
    let run_at = |results: &ServerResults, clients: usize| results.requests.iter().find(|run| run.clients == clients).cloned();
    let mut rows = Vec::new();
    for &clients in &settings.clients {
        rows.push(row(
            format!("(a) new requests/s, {clients} clients"),
            Better::Higher,
            Some(REQUEST_RATE_RATIO_TARGET),
            &|r| run_at(r, clients).map(|run| run.new.rate_per_s()),
        ));
        rows.push(row(
            format!("(a) re-requests/s, {clients} clients"),
            Better::Higher,
            Some(REQUEST_RATE_RATIO_TARGET),
            &|r| run_at(r, clients).map(|run| run.again.rate_per_s()),
        ));
    }
    for &clients in &settings.clients {
        rows.push(row(
            format!("(a) server CPU ms per new request, {clients} clients"),
            Better::Lower,
            None,
            &|r| run_at(r, clients).and_then(|run| run.new.server_cpu_ms_per_request()),
        ));
        rows.push(row(
            format!("(a) server CPU ms per re-request, {clients} clients"),
            Better::Lower,
            None,
            &|r| run_at(r, clients).and_then(|run| run.again.server_cpu_ms_per_request()),
        ));
    }
    let slots = settings.computer_partitions;
    for (name, quantile) in [("p50", Some(0.5)), ("p99", Some(0.99)), ("mean", None)] {
        rows.push(row(
            format!("(b) getFullComputerInformation {name} ms, {slots} allocated"),
            Better::Lower,
            Some(POLL_LATENCY_RATIO_TARGET),
            &|r| {
                let latency = &r.computer.as_ref()?.latency;
                match quantile {
                    Some(quantile) => latency.latency_ms(quantile),
                    None => latency.latency_mean_ms(),
                }
            },
        ));
    }
    rows.push(row(
        format!("(b) server CPU ms per getFullComputerInformation, {slots} allocated"),
        Better::Lower,
        None,
        &|r| r.computer.as_ref()?.latency.server_cpu_ms_per_request(),
    ));
    rows.push(row("(c) VmRSS idle after start, MiB".to_owned(), Better::Lower, None, &|r| {
        r.requests.first().map(|run| mib(run.idle.rss_kib))
    }));
    for &clients in &settings.clients {
        rows.push(row(
            format!("(c) VmRSS peak under load, {clients} clients, MiB"),
            Better::Lower,
            None,
            &|r| run_at(r, clients).map(|run| mib(run.new.rss_peak_kib.max(run.again.rss_peak_kib))),
        ));
    }
    rows.push(row(
        format!("(c) VmRSS peak polling {slots} allocated, MiB"),
        Better::Lower,
        None,
        &|r| r.computer.as_ref().map(|run| mib(run.latency.rss_peak_kib)),
    ));
    rows.push(row(
        "(c) VmHWM, largest of all scenarios, MiB".to_owned(),
        Better::Lower,
        None,
        &|r| {
            let request_peaks = r.requests.iter().map(|run| run.end.hwm_kib);
            request_peaks.chain(r.computer.as_ref().map(|run| run.end.hwm_kib)).max().map(mib)
        },
    ));
    rows
}

fn number(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(value) if value >= 100.0 => format!("{value:.0}"),
        Some(value) if value >= 10.0 => format!("{value:.1}"),
        Some(value) => format!("{value:.2}"),
    }
}

/// Writes the human report.
///
/// # Errors
/// The output cannot be written.
pub(crate) fn write_table(out: &mut dyn Write, machine: &str, settings: &Settings, results: &[ServerResults]) -> std::io::Result<()> {
    let python = results.iter().find(|r| r.kind == Kind::Slapproxy);
    let rust = results.iter().find(|r| r.kind == Kind::SlaposRs);
    writeln!(out, "machine: {machine}")?;
    for result in results {
        writeln!(out, "{}: {}", result.kind.label(), result.program)?;
    }
    let header = ["metric", "slapproxy", "slapos-rs", "ratio", "target"];
    let mut lines = vec![header.map(str::to_owned).to_vec()];
    for row in summary_rows(python, rust, settings) {
        let target = match (row.ratio_target, row.target_met()) {
            (None, _) => String::new(),
            (Some(target), None) => format!(">= {target:.0}x: n/a"),
            (Some(target), Some(true)) => format!(">= {target:.0}x: met"),
            (Some(target), Some(false)) => format!(">= {target:.0}x: NOT met"),
        };
        let ratio = row
            .ratio()
            .map(|ratio| format!("{}x", number(Some(ratio))))
            .unwrap_or_else(|| "-".to_owned());
        lines.push(vec![
            row.metric.clone(),
            number(row.slapproxy),
            number(row.slapos_rs),
            ratio,
            target,
        ]);
    }
    writeln!(out)?;
    write_columns(out, &lines)?;
    writeln!(out)?;
    write_details(out, results, settings)
}

fn write_details(out: &mut dyn Write, results: &[ServerResults], settings: &Settings) -> std::io::Result<()> {
    let header = [
        "server",
        "measurement",
        "clients",
        "ok",
        "failed",
        "seconds",
        "ok/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "stall ms",
        "cpu ms/req",
    ];
    let mut lines = vec![header.map(str::to_owned).to_vec()];
    let mut failures = Vec::new();
    let mut censuses = Vec::new();
    for result in results {
        for (name, outcome) in measurements(result, settings) {
            let max_ms = outcome.latency_ms(1.0);
            lines.push(vec![
                result.kind.label().to_owned(),
                name.clone(),
                outcome.clients.to_string(),
                outcome.ok().to_string(),
                outcome.failed().to_string(),
                format!("{:.2}", outcome.elapsed.as_secs_f64()),
                number(Some(outcome.rate_per_s())),
                number(outcome.latency_ms(0.5)),
                number(outcome.latency_ms(0.99)),
                number(max_ms),
                number(Some(millis(outcome.stall_max))),
                number(outcome.server_cpu_ms_per_request()),
            ]);
            for (kind, failure) in &outcome.failures {
                failures.push(format!(
                    "{} {name} ({} clients): {kind} x{}, first: {}",
                    result.kind.label(),
                    outcome.clients,
                    failure.count,
                    failure.example
                ));
            }
        }
        for run in &result.requests {
            censuses.push(format!(
                "{} after new requests at {} clients: {} accepted, {} slots allocated",
                result.kind.label(),
                run.clients,
                run.new.ok(),
                run.allocated_after_new
            ));
        }
        if let Some(computer) = &result.computer {
            censuses.push(format!(
                "{} before getFullComputerInformation: {} slots, {} allocated, document {} bytes",
                result.kind.label(),
                computer.partitions,
                computer.allocated,
                computer.document_bytes
            ));
        }
    }
    write_columns(out, &lines)?;
    writeln!(out)?;
    writeln!(out, "census (allocated slots in getFullComputerInformation):")?;
    for census in censuses {
        writeln!(out, "  {census}")?;
    }
    if failures.is_empty() {
        writeln!(out, "failures: none")?;
    } else {
        writeln!(out, "failures:")?;
        for failure in failures {
            writeln!(out, "  {failure}")?;
        }
    }
    Ok(())
}

fn measurements(result: &ServerResults, settings: &Settings) -> Vec<(String, Outcome)> {
    let mut list = Vec::new();
    for run in &result.requests {
        list.push((format!("format {} slots", settings.partitions), run.format.clone()));
        list.push(("new requests".to_owned(), run.new.clone()));
        list.push(("re-requests".to_owned(), run.again.clone()));
    }
    if let Some(computer) = &result.computer {
        list.push((format!("allocate {} slots", settings.computer_partitions), computer.setup.clone()));
        list.push(("getFullComputerInformation".to_owned(), computer.latency.clone()));
    }
    list
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn write_columns(out: &mut dyn Write, lines: &[Vec<String>]) -> std::io::Result<()> {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .filter_map(|line| line.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c == 0 {
                text.push_str(&format!("{cell:<width$}", width = widths[c]));
            } else {
                text.push_str(&format!("  {cell:>width$}", width = widths[c]));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

fn outcome_json(outcome: &Outcome) -> Json {
    let failures: serde_json::Map<String, Json> = outcome
        .failures
        .iter()
        .map(|(kind, failure)| (kind.clone(), json!({ "count": failure.count, "example": failure.example })))
        .collect();
    json!({
        "clients": outcome.clients,
        "ok": outcome.ok(),
        "failed": outcome.failed(),
        "failures": failures,
        "elapsed_s": outcome.elapsed.as_secs_f64(),
        "ok_per_s": outcome.rate_per_s(),
        "latency_ms": {
            "p50": outcome.latency_ms(0.5),
            "p99": outcome.latency_ms(0.99),
            "max": outcome.latency_ms(1.0),
            "mean": outcome.latency_mean_ms(),
        },
        "stall_max_ms": millis(outcome.stall_max),
        "rss_peak_kib": outcome.rss_peak_kib,
        "server_cpu_s": outcome.server_cpu.as_secs_f64(),
        "server_cpu_ms_per_request": outcome.server_cpu_ms_per_request(),
    })
}

fn server_json(result: &ServerResults) -> Json {
    let requests: Vec<Json> = result
        .requests
        .iter()
        .map(|run| {
            json!({
                "clients": run.clients,
                "idle": { "rss_kib": run.idle.rss_kib, "hwm_kib": run.idle.hwm_kib },
                "format": outcome_json(&run.format),
                "new": outcome_json(&run.new),
                "allocated_after_new": run.allocated_after_new,
                "again": outcome_json(&run.again),
                "end": { "rss_kib": run.end.rss_kib, "hwm_kib": run.end.hwm_kib },
            })
        })
        .collect();
    let computer = result.computer.as_ref().map(|run| {
        json!({
            "idle": { "rss_kib": run.idle.rss_kib, "hwm_kib": run.idle.hwm_kib },
            "partitions": run.partitions,
            "allocated": run.allocated,
            "document_bytes": run.document_bytes,
            "setup": outcome_json(&run.setup),
            "latency": outcome_json(&run.latency),
            "end": { "rss_kib": run.end.rss_kib, "hwm_kib": run.end.hwm_kib },
        })
    });
    json!({ "program": result.program, "requests": requests, "computer": computer })
}

/// The JSON document of `--json FILE`: settings, machine, the summary rows
/// with ratios and targets, and every measurement of each server.
pub(crate) fn to_json(machine: &str, settings: &Settings, results: &[ServerResults]) -> Json {
    let python = results.iter().find(|r| r.kind == Kind::Slapproxy);
    let rust = results.iter().find(|r| r.kind == Kind::SlaposRs);
    let summary: Vec<Json> = summary_rows(python, rust, settings)
        .iter()
        .map(|row| {
            json!({
                "metric": row.metric,
                "slapproxy": row.slapproxy,
                "slapos_rs": row.slapos_rs,
                "ratio": row.ratio(),
                "ratio_target": row.ratio_target,
                "target_met": row.target_met(),
            })
        })
        .collect();
    let servers: serde_json::Map<String, Json> = results.iter().map(|r| (r.kind.label().to_owned(), server_json(r))).collect();
    json!({
        "machine": machine,
        "settings": {
            "clients": settings.clients,
            "requests_max": settings.request_bounds.requests_max,
            "seconds_max": settings.request_bounds.duration_max.as_secs_f64(),
            "partitions": settings.partitions,
            "computer_partitions": settings.computer_partitions,
            "setup_clients": settings.setup_clients,
            "setup_seconds_max": settings.setup_duration_max.as_secs_f64(),
            "latency_requests_max": settings.latency_bounds.requests_max,
            "latency_seconds_max": settings.latency_bounds.duration_max.as_secs_f64(),
            "request_timeout_s": settings.driver.request_timeout.as_secs_f64(),
        },
        "summary": summary,
        "servers": servers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(better: Better, python: f64, rust: f64) -> Row {
        Row {
            metric: String::new(),
            slapproxy: Some(python),
            slapos_rs: Some(rust),
            better,
            ratio_target: Some(10.0),
        }
    }

    #[test]
    fn ratio_says_how_many_times_better_ours_is() {
        assert_eq!(row(Better::Higher, 10.0, 200.0).ratio(), Some(20.0));
        assert_eq!(row(Better::Lower, 300.0, 3.0).ratio(), Some(100.0));
        assert_eq!(row(Better::Higher, 10.0, 50.0).target_met(), Some(false));
        assert_eq!(row(Better::Higher, 0.0, 50.0).ratio(), None);
    }
}
