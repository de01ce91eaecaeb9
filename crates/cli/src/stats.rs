//! `policy stats`: per-gate numbers from an approvals database.

use std::path::PathBuf;

use super::approvals::{approval_error, open_store, print_json};
use super::{Exit, Format};
use holdpoint::approval::Stats;
use holdpoint::approval::store::Store;

/// Arguments of `policy stats`.
#[derive(clap::Args)]
pub struct Args {
    /// The approvals database.
    #[arg(long, value_name = "FILE", env = "HOLDPOINT_DB")]
    db: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

fn secs(s: Option<f64>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) if s < 172_800.0 => format!("{:.1}h", s / 3600.0),
        Some(s) => format!("{:.1}d", s / 86_400.0),
    }
}

pub(super) fn run(args: Args) -> Exit {
    if !args.db.exists() {
        eprintln!("error: no approvals database at `{}`", args.db.display());
        return Exit::Usage;
    }
    let store = match open_store(&args.db) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let events = match store.events(None) {
        Ok(e) => e,
        Err(e) => return approval_error(&e),
    };
    let stats = Stats::from_events(&events);
    if args.format == Format::Json {
        print_json(&serde_json::json!(stats));
        return Exit::Ok;
    }
    if stats.gates.is_empty() {
        say!("no gate has fired yet");
        return Exit::Ok;
    }
    say!(
        "{:<28} {:>6} {:>9} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8}",
        "gate",
        "fired",
        "approved",
        "edited",
        "rejected",
        "escalated",
        "expired",
        "median",
        "p90"
    );
    for g in &stats.gates {
        say!(
            "{:<28} {:>6} {:>9} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8}{}",
            g.gate,
            g.fired,
            g.approved,
            g.approved_with_edits,
            g.rejected,
            g.escalated,
            g.expired,
            secs(g.median_s),
            secs(g.p90_s),
            if g.rubber_stamp { "  rubber stamp" } else { "" }
        );
    }
    for advice in stats.gates.iter().filter_map(|g| g.advice()) {
        say!("\nwarning: {advice}");
    }
    Exit::Ok
}
