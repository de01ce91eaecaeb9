//! `policy check`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{FAILED, Format, OK, USAGE, builder, load_catalog};
use crate::diagnostic::DiagnosticRecord;
use crate::policy::gate_files;

/// Arguments of `policy check`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Tool catalog (YAML, or an MCP tools/list JSON); replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Serialize)]
struct JsonOut {
    policies: Vec<JsonPolicy>,
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
struct JsonPolicy {
    path: String,
    files: Vec<String>,
    diagnostics: Vec<DiagnosticRecord>,
}

/// Every policy under `path`: the path itself if it is a file or holds `.gate` files,
/// else each directory beneath it that does.
pub(super) fn discover(path: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    if !gate_files(path)?.is_empty() {
        out.push(path.to_path_buf());
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    for d in subdirs {
        discover(&d, out)?;
    }
    Ok(())
}

pub(super) fn run(args: Args) -> i32 {
    let catalog = match load_catalog(args.tools.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut policies = Vec::new();
    for p in &args.paths {
        let before = policies.len();
        if let Err(e) = discover(p, &mut policies) {
            eprintln!("error: cannot read `{}`: {e}", p.display());
            return USAGE;
        }
        if policies.len() == before {
            eprintln!("error: no `.gate` file under `{}`", p.display());
            return USAGE;
        }
    }
    let (mut errors, mut warnings) = (0, 0);
    let mut json = JsonOut {
        policies: Vec::new(),
        errors: 0,
        warnings: 0,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for p in &policies {
        let b = match builder(p, catalog.as_ref()) {
            Ok(b) => b,
            Err(e) => return super::report_load_error(&e),
        };
        let report = b.check();
        for d in &report.diagnostics {
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
        }
        match args.format {
            Format::Human => {
                for d in &report.diagnostics {
                    let _ = writeln!(out, "{}", d.render(&report.sources));
                }
            }
            Format::Json => json.policies.push(JsonPolicy {
                path: p.display().to_string(),
                files: report
                    .sources
                    .iter()
                    .map(|(_, f)| f.name.to_string())
                    .collect(),
                diagnostics: report
                    .diagnostics
                    .iter()
                    .map(|d| d.to_record(&report.sources))
                    .collect(),
            }),
        }
    }
    match args.format {
        Format::Human => {
            let _ = writeln!(
                out,
                "checked {} polic{}: {errors} error(s), {warnings} warning(s)",
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" }
            );
        }
        Format::Json => {
            json.errors = errors;
            json.warnings = warnings;
            match serde_json::to_string_pretty(&json) {
                Ok(s) => {
                    let _ = writeln!(out, "{s}");
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return USAGE;
                }
            }
        }
    }
    if errors > 0 || (args.deny_warnings && warnings > 0) {
        FAILED
    } else {
        OK
    }
}
