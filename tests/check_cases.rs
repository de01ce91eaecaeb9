//! Checker cases (tests/cases/check/*.yaml): each policy gives exactly the listed findings,
//! with code, line, column, message and help.

use holdpoint::{Catalog, PolicyBuilder};

#[test]
fn checker_findings_match_the_cases() {
    let mut failures = Vec::new();
    let mut count = 0;
    for entry in std::fs::read_dir("tests/cases/check").unwrap() {
        let path = entry.unwrap().path();
        let cases =
            holdpoint::unstable::yaml::to_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in cases.as_array().unwrap() {
            count += 1;
            let name = case["name"].as_str().unwrap();
            let mut b = PolicyBuilder::new().source("case.gate", case["policy"].as_str().unwrap());
            if let Some(c) = case.get("catalog").and_then(|c| c.as_str()) {
                b = b.catalog(Catalog::from_yaml("case.yaml", c).unwrap());
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
            let want = case["findings"].as_array().unwrap();
            let ok = want.len() == got.len()
                && want.iter().zip(&got).all(|(w, g)| {
                    let head = format!(
                        "{} {}:{} ",
                        w["code"].as_str().unwrap(),
                        w["line"],
                        w["col"]
                    );
                    g.starts_with(&head)
                        && g.contains(w["message"].as_str().unwrap())
                        && w.get("help")
                            .is_none_or(|h| g.ends_with(h.as_str().unwrap()))
                });
            if !ok {
                failures.push(format!("{name}:\n  want {want:?}\n  got  {got:#?}"));
            }
            if report.has_errors() != report.program.is_none() {
                failures.push(format!(
                    "{name}: a program must exist exactly when there is no error"
                ));
            }
        }
    }
    assert!(count >= 20, "{count} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
