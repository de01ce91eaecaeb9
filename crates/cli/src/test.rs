//! `policy test`.

use std::path::{Path, PathBuf};

use super::{Exit, load_policy};
use holdpoint::tools::test::{self, RunResult};

/// Output formats of `policy test`.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum TestFormat {
    /// One line per case and a summary.
    Human,
    /// JUnit XML, for CI test reports.
    Junit,
}

/// Arguments of `policy test`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy directories (their `*.test.yaml` files run) or test files (their directory
    /// is the policy); directories without .gate files are searched for policies.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// List the rules no case reached.
    #[arg(long)]
    coverage: bool,
    /// Fail when a policy's rule coverage is below this percentage.
    #[arg(long, value_name = "PERCENT")]
    min_coverage: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: TestFormat,
    /// Tool catalog; replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
    /// Fail a case that passes with a warning (a tool the catalog does not list).
    #[arg(long)]
    strict: bool,
}

/// (policy directory, test files) for every path given.
fn plan(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<PathBuf>)>, String> {
    let mut out: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for p in paths {
        if p.is_file() {
            let dir = p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let dir = if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir
            };
            match out.iter_mut().find(|(d, _)| *d == dir) {
                Some((_, files)) => files.push(p.clone()),
                None => out.push((dir, vec![p.clone()])),
            }
            continue;
        }
        let policies = holdpoint::project::discover(p).map_err(|e| e.to_string())?;
        for policy in policies {
            let files = policy.tests().map_err(|e| e.to_string())?;
            if !files.is_empty() {
                out.push((policy.path, files));
            }
        }
    }
    if out.is_empty() {
        return Err("no `*.test.yaml` file found".into());
    }
    Ok(out)
}

pub(super) fn run(args: Args) -> Exit {
    let plan = match plan(&args.paths) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    let mut suites: Vec<(String, RunResult)> = Vec::new();
    for (dir, files) in &plan {
        let policy = match load_policy(dir, args.tools.as_ref()) {
            Ok(p) => p,
            Err(code) => return code,
        };
        match test::run(&policy, files) {
            Ok(r) => suites.push((dir.display().to_string(), r)),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        }
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut low = Vec::new();
    for (dir, r) in &suites {
        for c in &r.cases {
            let failure = c.failed(args.strict);
            if let (None, Some(w)) = (failure, &c.warning) {
                eprintln!("warning: {dir}: {} ({}): {w}", c.name, c.file);
            }
            match failure {
                None => {
                    passed += 1;
                    if args.format == TestFormat::Human {
                        say!("ok   {dir}: {}", c.name);
                    }
                }
                Some(f) => {
                    failed += 1;
                    if args.format == TestFormat::Human {
                        say!("FAIL {dir}: {} ({}): {f}", c.name, c.file);
                    }
                }
            }
        }
        let pct = r.coverage();
        if args.coverage && args.format == TestFormat::Human {
            let un = r.uncovered();
            say!(
                "coverage {dir}: {pct:.1}% of {} rules{}",
                r.rules.len(),
                if un.is_empty() {
                    String::new()
                } else {
                    format!("; no case reached: {}", un.join(", "))
                }
            );
        }
        if let Some(min) = args.min_coverage
            && pct < min
        {
            low.push(format!("{dir}: {pct:.1}% < {min}%"));
        }
    }
    match args.format {
        TestFormat::Human => say!("{passed} passed, {failed} failed"),
        TestFormat::Junit => say_raw!("{}", test::junit(&suites, args.strict)),
    }
    for l in &low {
        eprintln!("error: rule coverage below the minimum: {l}");
    }
    if failed > 0 || !low.is_empty() {
        Exit::Failed
    } else {
        Exit::Ok
    }
}
