//! Every example in the docs is tested: each ```gate block of README.md and docs/*.md is a
//! complete policy that loads without error; each ```gate-error block fails to load.

use holdpoint::Policy;

fn blocks(text: &str) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut current {
            None => {
                if let Some(tag) = trimmed.strip_prefix("```")
                    && (tag == "gate" || tag == "gate-error")
                {
                    current = Some((tag.to_string(), i + 1, String::new()));
                }
            }
            Some((_, _, body)) => {
                if trimmed.starts_with("```") {
                    out.push(current.take().unwrap());
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    out
}

#[test]
fn every_gate_example_in_the_docs_is_right() {
    let mut files = vec![std::path::PathBuf::from("README.md")];
    for e in std::fs::read_dir("docs").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            files.push(p);
        }
    }
    let mut failures = Vec::new();
    let mut count = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (tag, line, body) in blocks(&text) {
            count += 1;
            match (tag.as_str(), Policy::from_source(&body)) {
                ("gate", Err(e)) => {
                    failures.push(format!("{}:{line}: does not load:\n{e}", f.display()))
                }
                ("gate-error", Ok(_)) => failures.push(format!(
                    "{}:{line}: loads, but is shown as an error",
                    f.display()
                )),
                _ => {}
            }
        }
    }
    assert!(count >= 1, "no example found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
