//! `policy check --format sarif` is a valid SARIF 2.1.0 log: validated against the
//! official schema (tests/data/sarif-2.1.0-rtm.5.json, from OASIS via SchemaStore).

mod common;

#[test]
fn sarif_output_validates_against_the_schema() {
    let dir = std::env::temp_dir().join(format!("holdpoint-sarif-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gate = dir.join("p.gate");
    std::fs::write(
        &gate,
        "default allow\nclass unused = tool == \"a\"\napprove x {\n  when money and tool == \"a\"\n}\n",
    )
    .unwrap();
    // The official schema's `language` pattern ends in an unescaped `]`, which its own
    // meta-schema (and Rust's regex) rejects; it is escaped here, nothing else changes.
    let text = std::fs::read_to_string(common::root().join("tests/data/sarif-2.1.0-rtm.5.json"))
        .unwrap()
        .replace("[a-zA-Z]{2}]?$", "[a-zA-Z]{2}\\\\]?$");
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for target in [gate.to_str().unwrap(), "policies/"] {
        let out = common::policy_command()
            .args(["check", target, "--format", "sarif"])
            .output()
            .unwrap();
        let log: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{target}: {errors:#?}");
        // The validator does catch a broken log.
        let mut broken = log.clone();
        broken["runs"][0]["results"] = serde_json::json!([{"level": "fatal", "message": {}}]);
        assert!(validator.iter_errors(&broken).next().is_some());
        if target != "policies/" {
            assert!(!log["runs"][0]["results"].as_array().unwrap().is_empty());
        }
    }
}
