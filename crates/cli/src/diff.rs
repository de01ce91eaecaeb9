//! `policy diff`.

use std::io::BufReader;
use std::path::PathBuf;

use super::{Exit, Format, input, load_policy};
use holdpoint::tools::diff;

/// Arguments of `policy diff`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy as it is.
    old: PathBuf,
    /// The policy as it would be.
    new: PathBuf,
    /// Recorded calls, one JSON call per line (`-` reads standard input).
    #[arg(long, value_name = "FILE")]
    calls: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Exit 1 if any of these happens: moves such as `approve->allow`, or changes of who
    /// decides a call that waits under both (gates, approvers, mode, sla, on-timeout,
    /// decisions, show-diff), comma-separated.
    #[arg(long, value_name = "MOVES")]
    fail_on: Option<String>,
    /// Tool catalog for both; replaces any tools.yaml beside them.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> Exit {
    let fail_on = match args.fail_on.as_deref().map(diff::FailOn::parse) {
        None => diff::FailOn::default(),
        Some(Ok(m)) => m,
        Some(Err(e)) => {
            eprintln!("error: --fail-on: {e}");
            return Exit::Usage;
        }
    };
    let old = match load_policy(&args.old, args.tools.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let new = match load_policy(&args.new, args.tools.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let reader = match input(&args.calls) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.calls);
            return Exit::Usage;
        }
    };
    let report = match diff::compare(&old, &new, BufReader::with_capacity(1 << 16, reader)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.calls);
            return Exit::Usage;
        }
    };
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(s) => say!("{s}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        },
        Format::Human => human(&args, &report),
    }
    let moves: Vec<String> = report
        .forbidden_moves(&fail_on)
        .iter()
        .map(|m| format!("{} -> {} ({} calls)", m.from, m.to, m.count))
        .collect();
    let changes: Vec<String> = report
        .forbidden_changes(&fail_on)
        .iter()
        .map(|(kind, n)| format!("{kind} ({n} calls)"))
        .collect();
    if !moves.is_empty() {
        eprintln!("error: moves that must not happen: {}", moves.join(", "));
    }
    if !changes.is_empty() {
        eprintln!(
            "error: changes of who decides that must not happen: {}",
            changes.join(", ")
        );
    }
    if moves.is_empty() && changes.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// The names a decision gave, or `the default`.
fn names(v: &[String]) -> String {
    if v.is_empty() {
        "the default".to_string()
    } else {
        v.join(", ")
    }
}

/// The report in words.
fn human(args: &Args, report: &diff::Report) {
    let share = |n: u64| 100.0 * n as f64 / report.calls.max(1) as f64;
    say!(
        "{} -> {}: {} calls, {} unchanged ({:.2}%)",
        args.old.display(),
        args.new.display(),
        report.calls,
        report.unchanged,
        share(report.unchanged)
    );
    if report.moves.is_empty() {
        say!(
            "{}",
            if report.approval_changed == 0 {
                "no decision moves"
            } else {
                "no effect moves"
            }
        );
    } else {
        say!("{:<20} {:>10} {:>8}", "from -> to", "count", "share");
        for m in &report.moves {
            say!(
                "{:<20} {:>10} {:>7.2}%",
                format!("{} -> {}", m.from, m.to),
                m.count,
                m.share
            );
        }
        for m in &report.moves {
            say!("\n{} -> {}, for example:", m.from, m.to);
            for e in &m.examples {
                say!(
                    "  line {}: {}: {} -> {}",
                    e.line,
                    e.tool,
                    names(&e.old_rules),
                    names(&e.new_rules)
                );
            }
        }
    }
    if report.approval_changed > 0 {
        say!(
            "\nwho decides changed for {} calls ({:.2}%) that wait for a human under both versions:",
            report.approval_changed,
            share(report.approval_changed)
        );
        say!("{:<20} {:>10} {:>8}", "change", "count", "share");
        for (kind, n) in &report.kinds {
            say!("{:<20} {:>10} {:>7.2}%", kind.as_str(), n, share(*n));
        }
        for c in &report.approval_changes {
            say!("\n{}", c.summary);
            say!("  {} calls ({:.2}%), for example:", c.count, c.share);
            for e in &c.examples {
                say!("  line {}: {}", e.line, e.tool);
            }
        }
        if report.other_approval_changes > 0 {
            say!(
                "\nand {} calls with other changes of who decides",
                report.other_approval_changes
            );
        }
    }
    if report.invalid_lines > 0 {
        say!(
            "\n{} line(s) were not valid calls and were skipped:",
            report.invalid_lines
        );
        for (line, why) in &report.invalid_examples {
            say!("  line {line}: {why}");
        }
    }
}
