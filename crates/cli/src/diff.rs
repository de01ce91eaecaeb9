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
    /// Exit 1 if any of these moves happens, e.g. `approve->allow,deny->allow`.
    #[arg(long, value_name = "MOVES")]
    fail_on: Option<String>,
    /// Tool catalog for both; replaces any tools.yaml beside them.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
}

pub(super) fn run(args: Args) -> Exit {
    let fail_on = match args.fail_on.as_deref().map(diff::parse_moves) {
        None => Vec::new(),
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
        Format::Human => {
            say!(
                "{} -> {}: {} calls, {} unchanged ({:.2}%)",
                args.old.display(),
                args.new.display(),
                report.calls,
                report.unchanged,
                100.0 * report.unchanged as f64 / report.calls.max(1) as f64
            );
            if report.moves.is_empty() {
                say!("no decision moves");
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
                        let names = |v: &[String]| {
                            if v.is_empty() {
                                "the default".to_string()
                            } else {
                                v.join(", ")
                            }
                        };
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
    }
    let forbidden: Vec<String> = report
        .moves
        .iter()
        .filter(|m| fail_on.contains(&(m.from, m.to)))
        .map(|m| format!("{} -> {} ({} calls)", m.from, m.to, m.count))
        .collect();
    if forbidden.is_empty() {
        Exit::Ok
    } else {
        eprintln!(
            "error: moves that must not happen: {}",
            forbidden.join(", ")
        );
        Exit::Failed
    }
}
