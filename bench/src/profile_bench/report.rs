//! The profile benchmark's table: medians, ratios ("times faster":
//! zc.buildout's time over ours) and the targets for the
//! release-shaped tree (under 100 ms, at least 100× faster than zc.buildout
//! 3.0.1), printed as met / NOT met, never enforced.

use std::fmt::Write as _;

use crate::timing::Timing;
use crate::workload::Workload;

/// The targets for a release-shaped tree.
const TARGET_SECONDS_MAX: f64 = 0.100;
const TARGET_RATIO_MIN: f64 = 100.0;

/// One workload's measurements.
pub(crate) struct Row {
    pub(crate) workload: Workload,
    pub(crate) ours: Timing,
    pub(crate) cli: Timing,
    pub(crate) buildout3: Timing,
    pub(crate) buildout6: Timing,
}

/// `/proc/loadavg`'s one-minute figure, to read the numbers by.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn duration(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.1} s")
    } else if seconds >= 0.001 {
        format!("{:.1} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

fn cell(timing: &Timing) -> String {
    match timing {
        Timing::Done { .. } => timing.median_seconds().map_or_else(|| "—".to_owned(), duration),
        Timing::Cut { cap_seconds } => format!("> {cap_seconds:.0} s"),
        Timing::Skipped => "—".to_owned(),
    }
}

/// zc.buildout's time over ours; a lower bound when zc.buildout was cut.
fn ratio(reference: &Timing, ours: &Timing) -> Option<(f64, bool)> {
    let ours = ours.median_seconds()?;
    match reference {
        Timing::Cut { cap_seconds } => Some((cap_seconds / ours, true)),
        _ => Some((reference.median_seconds()? / ours, false)),
    }
}

fn ratio_cell(reference: &Timing, ours: &Timing) -> String {
    match ratio(reference, ours) {
        Some((value, lower_bound)) => {
            let text = if value >= 100.0 { format!("{value:.0}×") } else { format!("{value:.1}×") };
            if lower_bound {
                format!("> {text}")
            } else {
                text
            }
        }
        None => "—".to_owned(),
    }
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT met"
    }
}

/// The targets of a release-shaped row, in words.
fn targets(row: &Row) -> String {
    if !row.workload.release_shaped {
        return String::new();
    }
    let mut parts = Vec::new();
    if let Some(seconds) = row.ours.median_seconds() {
        parts.push(format!("< 100 ms: {}", met(seconds < TARGET_SECONDS_MAX)));
    }
    if let Some((value, _)) = ratio(&row.buildout3, &row.ours) {
        parts.push(format!("≥ 100× 3.0.1: {}", met(value >= TARGET_RATIO_MIN)));
    }
    parts.join("; ")
}

/// Sections resolved per repetition by our engine, our CLI and zc.buildout
/// 6.0.1, which must agree (3.0.1 merges differently, spec §3.4, and
/// resolves a few more on the corpus).
fn sections_note(row: &Row) -> Option<String> {
    let count = |timing: &Timing| match timing {
        Timing::Done { sections, .. } => Some(*sections),
        _ => None,
    };
    let counts = [("ours", count(&row.ours)), ("CLI", count(&row.cli)), ("6.0.1", count(&row.buildout6))];
    let known: Vec<(&str, usize)> = counts.iter().filter_map(|(name, count)| count.map(|count| (*name, count))).collect();
    let first = known.first()?.1;
    if known.iter().all(|(_, count)| *count == first) {
        return None;
    }
    let listed: Vec<String> = known.iter().map(|(name, count)| format!("{name} {count}")).collect();
    Some(format!("{}: sections resolved differ ({})", row.workload.name, listed.join(", ")))
}

/// The whole report: the table, what each workload is, and notes.
pub(crate) fn render(rows: &[Row], load_before: String, load_after: String, repeat: usize, python_repeat: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nprofile resolve: median of {repeat} (ours) and of up to {python_repeat} (zc.buildout) repetitions; load average {load_before} → {load_after}\n"
    );
    let _ = writeln!(out, "| workload | zc.buildout 3.0.1 | zc.buildout 6.0.1 | slapos-rs (library) | slapos-rs (CLI) | vs 3.0.1 | vs 6.0.1 | CLI vs 3.0.1 | target |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.workload.name,
            cell(&row.buildout3),
            cell(&row.buildout6),
            cell(&row.ours),
            cell(&row.cli),
            ratio_cell(&row.buildout3, &row.ours),
            ratio_cell(&row.buildout6, &row.ours),
            ratio_cell(&row.buildout3, &row.cli),
            targets(row),
        );
    }
    out.push('\n');
    for row in rows {
        let _ = writeln!(out, "- {}: {}", row.workload.name, row.workload.shape);
    }
    for note in rows.iter().filter_map(sections_note) {
        let _ = writeln!(out, "- WARNING {note}");
    }
    out
}
