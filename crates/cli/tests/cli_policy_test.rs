//! `policy test` as a user runs it: what a case that passes with a warning shows in each
//! output format, with and without `--strict`.

use std::process::Output;

mod common;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A policy with a catalog and two cases, one of a tool the catalog does not list.
fn unlisted_case(name: &str) -> std::path::PathBuf {
    let d = common::scratch(&format!("cli-ptest-{name}"));
    let write = |file: &str, text: &str| std::fs::write(d.join(file), text).unwrap();
    write("p.gate", "default allow\ndeny d { when tool == \"pay\" }\n");
    write("tools.yaml", "tools:\n  pay: {}\n");
    write(
        "p.test.yaml",
        "cases:\n  - name: reads run\n    call: {tool: \"payy\"}\n    expect: {effect: allow}\n  - name: pay is denied\n    call: {tool: pay}\n    expect: {effect: deny}\n",
    );
    d
}

/// Before: the JUnit report said the case passed (`failures="0"`, no message) while the
/// command failed with exit 1.
#[test]
fn junit_under_strict_shows_a_case_with_an_unlisted_tool_as_a_failure() {
    let d = unlisted_case("junit-strict");
    let o = common::run_policy(
        &["test", d.to_str().unwrap(), "--format", "junit", "--strict"],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let xml = stdout(&o);
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    assert!(
        xml.contains("name=\"reads run\">\n      <failure message=\"tool `payy` is not in catalog"),
        "{xml}"
    );
    assert!(xml.contains("name=\"pay is denied\"/>"), "{xml}");
    assert!(!xml.contains("<system-out>"), "{xml}");
}

/// Before: the warning was only on standard error, which a CI test report does not show.
#[test]
fn junit_without_strict_puts_the_warning_in_the_cases_system_out() {
    let d = unlisted_case("junit-warning");
    let o = common::run_policy(
        &["test", d.to_str().unwrap(), "--format", "junit"],
        None,
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let xml = stdout(&o);
    assert!(xml.contains("tests=\"2\" failures=\"0\""), "{xml}");
    assert!(
        xml.contains(
            "name=\"reads run\">\n      <system-out>warning: tool `payy` is not in catalog"
        ),
        "{xml}"
    );
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(
        stderr(&o).contains("`payy` is not in catalog"),
        "{}",
        stderr(&o)
    );
}
