//! Checker cases (tests/cases/check/*.yaml): each policy gives exactly the listed findings,
//! with code, line, column, message and help. Each file is its own test,
//! `check::FILE.yaml`; the format is in tests/cases/README.md.

mod common;

use std::fmt;

use common::cases::Named;
use datatest_stable::Utf8Path;
use holdpoint::{Catalog, PolicyBuilder};
use serde::Deserialize;

datatest_stable::harness! {
    { test = check, root = "tests/cases/check", pattern = r"\.ya?ml$" },
}

/// One case: a policy, an optional catalog, and every finding it must give, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    policy: String,
    /// A tool catalog (YAML text) to check the policy against.
    catalog: Option<String>,
    /// `[]` for a clean policy.
    findings: Vec<Finding>,
}

/// One finding: code, 1-based line and column, words of the message, the whole end of the help.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    code: String,
    line: usize,
    col: usize,
    message: String,
    help: Option<String>,
}

impl Finding {
    /// Whether a finding as the checker prints it (`CODE LINE:COL MESSAGE | HELP`) is this one.
    fn matches(&self, got: &str) -> bool {
        let head = format!("{} {}:{} ", self.code, self.line, self.col);
        got.starts_with(&head)
            && got.contains(&self.message)
            && self.help.as_ref().is_none_or(|h| got.ends_with(h.as_str()))
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} ..{}..",
            self.code, self.line, self.col, self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, " | ..{help}")?;
        }
        Ok(())
    }
}

fn check(path: &Utf8Path, text: String) -> datatest_stable::Result<()> {
    Ok(common::cases::run_file::<Case>(
        path.as_str(),
        &text,
        "checker cases",
        run_case,
    )?)
}

impl Named for Case {
    fn name(&self) -> &str {
        &self.name
    }
}

/// What is wrong with one case.
fn run_case(case: &Case) -> Vec<String> {
    let mut b = PolicyBuilder::new().source("case.gate", &case.policy);
    if let Some(text) = &case.catalog {
        match Catalog::from_yaml("case.yaml", text) {
            Ok(catalog) => b = b.catalog(catalog),
            Err(e) => return vec![format!("the catalog does not load: {e}")],
        }
    }
    let report = b.check();
    let got: Vec<String> = report
        .diagnostics
        .iter()
        .map(|d| {
            let r = d.to_record(&report.sources);
            format!(
                "{} {}:{} {} | {}",
                r.code,
                r.line.unwrap_or(0),
                r.column.unwrap_or(0),
                r.message,
                r.help.unwrap_or_default()
            )
        })
        .collect();
    let mut errs = Vec::new();
    let ok = case.findings.len() == got.len()
        && case.findings.iter().zip(&got).all(|(w, g)| w.matches(g));
    if !ok {
        let want: Vec<String> = case.findings.iter().map(|w| format!("  {w}")).collect();
        let got: Vec<String> = got.iter().map(|g| format!("  {g}")).collect();
        errs.push(format!(
            "findings differ\n want ({}):\n{}\n got ({}):\n{}",
            want.len(),
            want.join("\n"),
            got.len(),
            got.join("\n")
        ));
    }
    if report.has_errors() != report.program.is_none() {
        errs.push("a program must exist exactly when there is no error".into());
    }
    errs
}
