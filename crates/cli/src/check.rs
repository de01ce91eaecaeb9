//! `policy check`.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use super::{Exit, builder, load_catalog};
use holdpoint::tools::test::xml;
use holdpoint::{Code, DiagnosticRecord, Severity};

/// Output formats of `policy check`.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum CheckFormat {
    /// Compiler-style messages with the source line and a caret.
    Human,
    /// One line per finding: `file:line:col: CODE message`.
    Concise,
    /// One JSON document (schema in docs/cli.md).
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// GitHub Actions workflow commands (`::error file=...`).
    Github,
    /// JUnit XML: one test case per policy, failing with its findings.
    Junit,
}

/// The least severe finding that makes `policy check` fail.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum FailLevel {
    /// Errors only (the default).
    Error,
    /// Warnings too.
    Warning,
}

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
    format: CheckFormat,
    /// The least severe finding that fails the check (exit 1).
    #[arg(long, value_enum, default_value = "error")]
    fail_level: FailLevel,
    /// Fail on warnings too (the same as `--fail-level warning`).
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

pub(super) fn run(args: Args) -> Exit {
    let catalog = match load_catalog(args.tools.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut policies = Vec::new();
    for p in &args.paths {
        match holdpoint::project::discover(p) {
            Ok(found) => policies.extend(found),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        }
    }
    let mut checked: Vec<JsonPolicy> = Vec::new();
    let mut human = String::new();
    // Colour only on a terminal.
    let styled = std::io::IsTerminal::is_terminal(&std::io::stdout());
    for p in &policies {
        let b = match builder(&p.path, catalog.as_ref()) {
            Ok(b) => b,
            Err(e) => return super::report_load_error(&e),
        };
        let report = b.check();
        if args.format == CheckFormat::Human {
            for d in &report.diagnostics {
                let _ = writeln!(human, "{}", d.render_styled(&report.sources, styled));
            }
        }
        checked.push(JsonPolicy {
            path: p.path.display().to_string(),
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
        });
    }
    let all = || checked.iter().flat_map(|p| p.diagnostics.iter());
    let errors = all().filter(|d| d.severity == Severity::Error).count();
    let warnings = all().filter(|d| d.severity == Severity::Warning).count();
    let out = match args.format {
        CheckFormat::Human => {
            let _ = writeln!(
                human,
                "checked {} polic{}: {errors} error(s), {warnings} warning(s)",
                policies.len(),
                if policies.len() == 1 { "y" } else { "ies" }
            );
            human
        }
        CheckFormat::Concise => concise(&checked),
        CheckFormat::Github => github(&checked),
        CheckFormat::Junit => junit(&checked),
        CheckFormat::Sarif => match serde_json::to_string_pretty(&sarif(&checked)) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Usage;
            }
        },
        CheckFormat::Json => {
            let doc = JsonOut {
                policies: checked,
                errors,
                warnings,
            };
            match serde_json::to_string_pretty(&doc) {
                Ok(s) => s + "\n",
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::Usage;
                }
            }
        }
    };
    say_raw!("{out}");
    let fail_on_warnings = args.deny_warnings || args.fail_level == FailLevel::Warning;
    if errors > 0 || (fail_on_warnings && warnings > 0) {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

fn place(d: &DiagnosticRecord, policy: &str) -> (String, usize, usize) {
    (
        d.file.clone().unwrap_or_else(|| policy.to_string()),
        d.line.unwrap_or(1),
        d.column.unwrap_or(1),
    )
}

/// A finding's message with its `help:` (the fix, where one is known), on one line.
fn with_help(d: &DiagnosticRecord) -> String {
    match &d.help {
        Some(h) => format!("{} (help: {h})", d.message),
        None => d.message.clone(),
    }
}

fn concise(policies: &[JsonPolicy]) -> String {
    let mut out = String::new();
    for p in policies {
        for d in &p.diagnostics {
            let (file, line, col) = place(d, &p.path);
            let _ = writeln!(out, "{file}:{line}:{col}: {} {}", d.code, with_help(d));
        }
    }
    out
}

/// GitHub's workflow-command escaping for properties and messages.
fn gh(s: &str, property: bool) -> String {
    let s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        s.replace(':', "%3A").replace(',', "%2C")
    } else {
        s
    }
}

fn github(policies: &[JsonPolicy]) -> String {
    let mut out = String::new();
    for p in policies {
        for d in &p.diagnostics {
            let (file, line, col) = place(d, &p.path);
            let kind = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let mut props = format!("file={},line={line},col={col}", gh(&file, true));
            if let (Some(el), Some(ec)) = (d.end_line, d.end_column) {
                let _ = write!(props, ",endLine={el},endColumn={ec}");
            }
            let _ = write!(props, ",title={}", gh(d.code, true));
            let _ = writeln!(out, "::{kind} {props}::{}", gh(&with_help(d), false));
        }
    }
    out
}

fn junit(policies: &[JsonPolicy]) -> String {
    let failures = policies
        .iter()
        .filter(|p| p.diagnostics.iter().any(|d| d.severity == Severity::Error))
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"policy check\" tests=\"{}\" failures=\"{failures}\">\n",
        policies.len()
    );
    for p in policies {
        let _ = write!(
            out,
            "    <testcase classname=\"policy\" name=\"{}\"",
            xml(&p.path)
        );
        let line = |d: &&DiagnosticRecord| {
            let (file, line, col) = place(d, &p.path);
            format!("{file}:{line}:{col}: {} {}", d.code, with_help(d))
        };
        let (errors, warnings): (Vec<&DiagnosticRecord>, Vec<&DiagnosticRecord>) = p
            .diagnostics
            .iter()
            .partition(|d| d.severity == Severity::Error);
        if errors.is_empty() && warnings.is_empty() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        if !errors.is_empty() {
            let body: Vec<String> = errors.iter().map(line).collect();
            let _ = writeln!(
                out,
                "      <failure message=\"{} error(s)\">{}</failure>",
                errors.len(),
                xml(&body.join("\n"))
            );
        }
        // A policy that passes with warnings says so: CI report viewers show system-out.
        if !warnings.is_empty() {
            let body: Vec<String> = warnings.iter().map(line).collect();
            let _ = writeln!(
                out,
                "      <system-out>{} warning(s)\n{}</system-out>",
                warnings.len(),
                xml(&body.join("\n"))
            );
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

fn sarif(policies: &[JsonPolicy]) -> serde_json::Value {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let rules: Vec<serde_json::Value> = Code::ALL
        .iter()
        .map(|c| {
            serde_json::json!({
                "id": c.as_str(),
                "name": c.title(),
                "shortDescription": {"text": c.title()},
                "defaultConfiguration": {"level": level(c.severity())},
                "helpUri": "https://github.com/holdpoint/holdpoint/blob/main/docs/language.md#diagnostics"
            })
        })
        .collect();
    let mut results = Vec::new();
    for p in policies {
        for d in &p.diagnostics {
            let (file, line, col) = place(d, &p.path);
            let mut region = serde_json::Map::new();
            region.insert("startLine".into(), line.into());
            region.insert("startColumn".into(), col.into());
            if let (Some(el), Some(ec)) = (d.end_line, d.end_column) {
                region.insert("endLine".into(), el.into());
                region.insert("endColumn".into(), ec.into());
            }
            let rule_index = Code::ALL.iter().position(|c| c.as_str() == d.code);
            let mut message = d.message.clone();
            if let Some(h) = &d.help {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            results.push(serde_json::json!({
                "ruleId": d.code,
                "ruleIndex": rule_index,
                "level": level(d.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": file.replace('\\', "/")},
                        "region": region
                    }
                }]
            }));
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "holdpoint",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/holdpoint/holdpoint",
                "rules": rules
            }},
            "results": results
        }]
    })
}
