//! What the data-driven case harnesses share (tests/cases/*/): reading a file of typed
//! cases, refusing one with a key that is not in the format, and running every case.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::DeserializeOwned;

/// A test failure, printed as it is (datatest-stable prints errors with `{:?}`).
pub struct Failure(pub String);

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Failure {}

/// A case with a name, unique in its file.
pub trait Named {
    /// The case's name.
    fn name(&self) -> &str;
}

/// Runs every case of one file (`what` names the format in messages: "checker cases");
/// a failure names the file, the case and what `run` says is wrong.
pub fn run_file<C: DeserializeOwned + Named>(
    path: &str,
    text: &str,
    what: &str,
    run: impl Fn(&C) -> Vec<String>,
) -> Result<(), Failure> {
    let cases = read_cases::<C>(path, text, what)?;
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            run(case)
                .into_iter()
                .map(move |f| format!("{path}: case {:?}: {f}", case.name()))
        })
        .collect();
    if failures.is_empty() {
        return Ok(());
    }
    Err(Failure(format!(
        "{} failure(s) in {path} ({} cases):\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    )))
}

/// The cases of one file: a key that is not in the format fails with the file and the line.
fn read_cases<C: DeserializeOwned + Named>(
    path: &str,
    text: &str,
    what: &str,
) -> Result<Vec<C>, Failure> {
    let cases: Vec<C> = holdpoint::unstable::yaml::from_str(text).map_err(|e| {
        let case = first_bad_case::<C>(text)
            .map(|name| format!(" (case {name:?})"))
            .unwrap_or_default();
        Failure(format!(
            "{path}:{}:{}{case}: not a list of {what}: {}",
            e.line().unwrap_or(0),
            e.column().unwrap_or(0),
            e.message
        ))
    })?;
    if cases.is_empty() {
        return Err(Failure(format!("{path}: has no case")));
    }
    let mut names = BTreeSet::new();
    for case in &cases {
        if !names.insert(case.name()) {
            return Err(Failure(format!(
                "{path}: case {:?} is there twice",
                case.name()
            )));
        }
    }
    Ok(cases)
}

/// The name of the first case that is not of the format, to say which one the error is in.
fn first_bad_case<C: DeserializeOwned>(text: &str) -> Option<String> {
    let list: Vec<serde_json::Value> = holdpoint::unstable::yaml::from_str(text).ok()?;
    let bad = list
        .into_iter()
        .find(|case| serde_json::from_value::<C>(case.clone()).is_err())?;
    Some(bad.get("name")?.as_str()?.to_owned())
}
