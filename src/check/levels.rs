//! Lint levels: a `.policy.yaml` beside a policy (or in a directory above it), and
//! `# policy: allow(CODE)` comments on a line.
//!
//! ```yaml
//! lints:
//!   async-gate-without-owner: error   # by name or by code
//!   W108: off
//! ```

use std::collections::HashMap;
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::source::SourceMap;
use crate::yaml::Place;

/// A level set for a lint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fails the policy.
    Error,
    /// Reported, does not fail.
    Warning,
    /// Not reported.
    Off,
}

/// Levels per lint.
#[derive(Debug, Clone, Default)]
pub struct LintConfig {
    levels: HashMap<Code, Level>,
}

#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "lint levels: a `lints:` mapping of lint names to error, warning or off"
)]
struct Raw {
    #[serde(default)]
    lints: crate::yaml::Unique<String>,
}

/// A lint-levels file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", crate::yaml::suffix(*place))]
pub struct LevelsError {
    /// The file.
    pub file: String,
    /// Where in the file, when known.
    pub place: Option<Place>,
    /// What is wrong.
    pub message: String,
}

impl LintConfig {
    /// Reads a config file; the error names the file and what is wrong.
    pub fn load(path: &Path) -> Result<LintConfig, LevelsError> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LevelsError {
            file: label.clone(),
            place: None,
            message: format!("cannot read it: {e}"),
        })?;
        LintConfig::parse(&label, &text)
    }

    /// Parses a config's text (`label` names it in errors).
    pub fn parse(label: &str, text: &str) -> Result<LintConfig, LevelsError> {
        let err = |place, message| LevelsError {
            file: label.to_string(),
            place,
            message,
        };
        let raw: Raw = crate::yaml::from_str(text).map_err(|e| err(e.place, e.message))?;
        let mut levels = HashMap::new();
        for (key, value) in raw.lints.0 {
            let at = crate::yaml::key_place(text, &key);
            let code = Code::find(&key)
                .filter(|c| c.severity() == Severity::Warning)
                .ok_or_else(|| {
                    err(
                        at,
                        format!(
                            "`{key}` is not a lint (see docs/lints.md for their codes and names)"
                        ),
                    )
                })?;
            let level = match value.trim() {
                "error" => Level::Error,
                "warning" => Level::Warning,
                "off" => Level::Off,
                other => {
                    return Err(err(
                        at,
                        format!("`{other}` is not a level for `{key}`: use error, warning or off"),
                    ));
                }
            };
            levels.insert(code, level);
        }
        Ok(LintConfig { levels })
    }

    /// Whether a lint is off unless a config turns it on.
    pub fn off_by_default(code: Code) -> bool {
        code == Code::NotFormatted
    }

    /// Whether this config reports a lint at all.
    pub fn wants(&self, code: Code) -> bool {
        match self.levels.get(&code) {
            Some(Level::Off) => false,
            Some(_) => true,
            None => !LintConfig::off_by_default(code),
        }
    }

    /// Applies the levels and the `# policy: allow(...)` comments to findings.
    pub fn apply(&self, diags: Vec<Diagnostic>, sources: &SourceMap) -> Vec<Diagnostic> {
        diags
            .into_iter()
            .filter_map(|mut d| {
                if d.code.severity() == Severity::Warning {
                    if !self.wants(d.code) {
                        return None;
                    }
                    match self.levels.get(&d.code) {
                        Some(Level::Error) => d.severity = Severity::Error,
                        Some(Level::Warning) => d.severity = Severity::Warning,
                        _ => {}
                    }
                    if allowed_inline(&d, sources) {
                        return None;
                    }
                }
                Some(d)
            })
            .collect()
    }
}

/// Whether the finding's line, or the line above it, says `# policy: allow(CODE)`.
fn allowed_inline(d: &Diagnostic, sources: &SourceMap) -> bool {
    let Some(span) = d.span else { return false };
    let Some(file) = sources.get(span.file) else {
        return false;
    };
    let (line, _) = file.line_col(span.start);
    [line, line.saturating_sub(1)]
        .into_iter()
        .filter(|l| *l > 0)
        .any(|l| allows(file.line_text(l), d.code))
}

/// Whether a line's comment (not a string that looks like one) says
/// `# policy: allow(CODE, ...)` for `code`.
fn allows(line: &str, code: Code) -> bool {
    let Some(comment) = crate::syntax::comments::comment_of(line) else {
        return false;
    };
    let Some(rest) = comment
        .trim_start_matches('#')
        .trim_start()
        .strip_prefix("policy:")
    else {
        return false;
    };
    let Some(inner) = rest
        .find("allow(")
        .and_then(|at| rest.get(at + "allow(".len()..))
    else {
        return false;
    };
    let inner = inner.split(')').next().unwrap_or("");
    inner.split(',').any(|c| Code::find(c) == Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_code_or_name() {
        let c = LintConfig::parse(
            "c",
            "lints:\n  W108: off\n  async-gate-without-owner: error\n",
        )
        .unwrap();
        assert_eq!(c.levels.get(&Code::UnusedClass), Some(&Level::Off));
        assert_eq!(
            c.levels.get(&Code::AsyncGateWithoutOwner),
            Some(&Level::Error)
        );
        let e = LintConfig::parse("c", "lints:\n  E001: off\n").unwrap_err();
        assert!(
            e.to_string().starts_with("c:2:3: `E001` is not a lint"),
            "{e}"
        );
        let e = LintConfig::parse("c", "lints:\n  W108: loud\n").unwrap_err();
        assert!(e.to_string().contains("use error, warning or off"), "{e}");
        let e = LintConfig::parse("c", "lint: {}\n").unwrap_err();
        assert!(e.to_string().starts_with("c:1:1"), "{e}");
    }

    #[test]
    fn inline_allow() {
        assert!(allows(
            "class x = tool == \"a\"  # policy: allow(W108)",
            Code::UnusedClass
        ));
        assert!(allows(
            "# policy: allow(unused-class, W107)",
            Code::AsyncGateWithoutOwner
        ));
        assert!(!allows("# policy: allow(W107)", Code::UnusedClass));
        assert!(!allows("# allow(W108)", Code::UnusedClass));
    }

    /// A string that reads like an allowance comment is not one: before the one comment
    /// scanner, `reason "# policy: allow(W106)"` silenced W106 on its line.
    #[test]
    fn an_allowance_inside_a_string_does_not_silence_a_lint() {
        let catalog = crate::Catalog::from_yaml(
            "tools.yaml",
            "tools:\n  email.send: {args: {to: list, cc: \"list?\"}}\n",
        )
        .unwrap();
        let codes = |policy: &str| -> Vec<Code> {
            crate::PolicyBuilder::new()
                .source("p.gate", policy)
                .catalog(catalog.clone())
                .check()
                .diagnostics
                .iter()
                .map(|d| d.code)
                .collect()
        };
        let rule = "approve wide_cc { when tool == \"email.send\" and len(args.cc) > 5";
        let in_string = format!("default audit\n{rule} reason \"# policy: allow(W106)\" }}\n");
        assert!(codes(&in_string).contains(&Code::UnguardedOptional));
        let in_comment = format!("default audit\n{rule} }} # policy: allow(W106)\n");
        assert!(!codes(&in_comment).contains(&Code::UnguardedOptional));
    }
}
