//! `policy fmt`.

use std::path::{Path, PathBuf};

use super::Exit;
use holdpoint::format_source;

/// Arguments of `policy fmt`.
#[derive(clap::Args)]
pub struct Args {
    /// `.gate` files, or directories searched for them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Change nothing; exit 1 (with a diff) if a file is not formatted.
    #[arg(long, conflicts_with = "write")]
    check: bool,
    /// Rewrite the files in place.
    #[arg(long)]
    write: bool,
}

/// The `.gate` files under a path: found the way `policy check` finds policies.
fn gate_files(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), holdpoint::project::ProjectError> {
    for policy in holdpoint::project::discover(p)? {
        out.extend(policy.gates);
    }
    Ok(())
}

pub(super) fn run(args: Args) -> Exit {
    let mut files = Vec::new();
    for p in &args.paths {
        if let Err(e) = gate_files(p, &mut files) {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    }
    let mut unformatted = 0;
    let mut broken = 0;
    for f in &files {
        let label = f.display().to_string();
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read `{label}`: {e}");
                return Exit::Usage;
            }
        };
        let formatted = match format_source(&text) {
            Ok(t) => t,
            Err(diags) => {
                let mut map = holdpoint::SourceMap::new();
                map.add(label.as_str(), text.as_str());
                for d in diags {
                    eprint!("{}", d.render(&map));
                }
                broken += 1;
                continue;
            }
        };
        if args.check {
            if formatted != text {
                unformatted += 1;
                let diff = similar::TextDiff::from_lines(&text, &formatted);
                say_raw!(
                    "{}",
                    diff.unified_diff()
                        .context_radius(2)
                        .header(&label, &format!("{label} (formatted)"))
                );
            }
        } else if args.write {
            if formatted != text
                && let Err(e) = std::fs::write(f, &formatted)
            {
                eprintln!("error: cannot write `{label}`: {e}");
                return Exit::Usage;
            }
        } else {
            say_raw!("{formatted}");
        }
    }
    if args.check && unformatted > 0 {
        eprintln!(
            "{unformatted} of {} file(s) would be reformatted",
            files.len()
        );
    }
    if broken > 0 || (args.check && unformatted > 0) {
        Exit::Failed
    } else {
        Exit::Ok
    }
}
