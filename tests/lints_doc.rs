//! Every lint example of docs/lints.md: each bad example reports exactly its lint, each
//! good example nothing.

use std::collections::BTreeSet;

use holdpoint::approval::ApproversFile;
use holdpoint::{Catalog, PolicyBuilder};

#[test]
fn lint_examples_report_exactly_their_lint() {
    let text = std::fs::read_to_string("docs/lints.md").unwrap();
    let mut catalog: Option<String> = None;
    let mut approvers: Option<String> = None;
    let mut block: Option<(String, String)> = None;
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        if line.starts_with("## ") {
            catalog = None;
            approvers = None;
        }
        match &mut block {
            None => {
                if let Some(info) = line.strip_prefix("```")
                    && (info.starts_with("gate-lint")
                        || info == "tools-yaml"
                        || info == "approvers-yaml")
                {
                    block = Some((info.to_string(), String::new()));
                }
            }
            Some((info, body)) => {
                if line.starts_with("```") {
                    let (info, body) = (info.clone(), body.clone());
                    block = None;
                    if info == "tools-yaml" {
                        catalog = Some(body);
                        continue;
                    }
                    if info == "approvers-yaml" {
                        approvers = Some(body);
                        continue;
                    }
                    count += 1;
                    let parts: Vec<&str> = info.split_whitespace().collect();
                    let (code, kind) = (parts[1], parts[2]);
                    let mut b = PolicyBuilder::new().source("example.gate", &body);
                    if code == "W110" {
                        // Off by default: the examples are checked with it on.
                        b = b.lints(
                            holdpoint::LintConfig::parse("test", "lints:\n  W110: warning\n")
                                .unwrap(),
                        );
                    }
                    if let Some(c) = &catalog {
                        b = b.catalog(Catalog::from_yaml("tools.yaml", c).unwrap());
                    }
                    if let Some(a) = &approvers {
                        b = b.approvers(ApproversFile::from_yaml("approvers.yaml", a).unwrap());
                    }
                    let report = b.check();
                    let codes: BTreeSet<&str> =
                        report.diagnostics.iter().map(|d| d.code.as_str()).collect();
                    let ok = match kind {
                        "bad" => codes == BTreeSet::from([code]),
                        _ => codes.is_empty(),
                    };
                    if !ok {
                        failures.push(format!("{code} {kind}: got {codes:?}\n{body}"));
                    }
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(count >= 20, "only {count} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
