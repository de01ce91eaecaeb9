//! Writes the Cedar translation of a portable policy and its calls as Cedar requests, for
//! `benches/python/decide.py --cedar` to time `cedarpy` on the same rule set.
//!
//! Run: `cargo run --release --manifest-path benches/peers/Cargo.toml --bin cedar-export -- DIR`
//! where DIR was written by `policy gen --portable` (policy.gate, tools.yaml, calls.jsonl).
//! Before writing, Cedar (in Rust) must give holdpoint's outcome on every call. Writes into
//! DIR: `cedar.policies` (the whole set: item `i` is Cedar's `policy{i}`),
//! `cedar-by-tool.json` (the policy text of each tool's slice, `""` for calls to other
//! tools) and `cedar-requests.jsonl` (per call: the request, and the sorted indexes of the
//! policies that decide it, which cedarpy must report too).

use std::fs;
use std::path::Path;
use std::process::ExitCode;

use holdpoint::{PolicyBuilder, ToolCall};
use holdpoint_peers::{CedarEngine, cedar_context, cedar_texts, holdpoint_outcome};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: cedar-export DIR (a directory written by `policy gen --portable`)");
        return ExitCode::from(2);
    };
    match export(Path::new(&dir)) {
        Ok(n) => {
            println!("wrote the Cedar translation and {n} requests into {dir}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cedar-export: {e}");
            ExitCode::FAILURE
        }
    }
}

fn export(dir: &Path) -> Result<usize, String> {
    let policy = PolicyBuilder::new()
        .path(dir)
        .and_then(|b| b.build())
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let program = holdpoint::unstable::program(&policy);
    let texts = cedar_texts(program)?;
    let engine = CedarEngine::new(program)?;

    let whole: String = texts.iter().map(|(t, _)| format!("{t}\n")).collect();
    fs::write(dir.join("cedar.policies"), whole).map_err(|e| e.to_string())?;
    let mut by_tool = serde_json::Map::new();
    let tools: std::collections::BTreeSet<&str> =
        texts.iter().filter_map(|(_, a)| a.as_deref()).collect();
    let slice = |tool: Option<&str>| -> String {
        texts
            .iter()
            .filter(|(_, a)| a.is_none() || a.as_deref() == tool)
            .map(|(t, _)| format!("{t}\n"))
            .collect()
    };
    for tool in tools {
        by_tool.insert(tool.to_string(), slice(Some(tool)).into());
    }
    by_tool.insert(String::new(), slice(None).into());
    let by_tool = serde_json::to_string(&by_tool).map_err(|e| e.to_string())?;
    fs::write(dir.join("cedar-by-tool.json"), by_tool).map_err(|e| e.to_string())?;

    let calls = fs::read_to_string(dir.join("calls.jsonl")).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let mut n = 0;
    for (i, line) in calls.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let call = ToolCall::from_json(line).map_err(|e| format!("call {}: {e}", i + 1))?;
        let prepared = engine.prepare(&call)?;
        let want = holdpoint_outcome(&policy, &call);
        let got = engine.decide(program, &prepared);
        if got != want {
            return Err(format!(
                "call {}: Cedar gives {got:?}, holdpoint {want:?}",
                i + 1
            ));
        }
        let mut reasons: Vec<usize> = engine
            .reasons(&prepared)
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect();
        reasons.sort_unstable();
        let row = serde_json::json!({
            "request": {
                "principal": {"type": "Agent", "id": "agent"},
                "action": {"type": "Action", "id": call.tool},
                "resource": {"type": "Tool", "id": call.tool},
                "context": cedar_context(&call),
            },
            "tool": call.tool,
            "reasons": reasons,
        });
        out.push_str(&row.to_string());
        out.push('\n');
        n += 1;
    }
    fs::write(dir.join("cedar-requests.jsonl"), out).map_err(|e| e.to_string())?;
    Ok(n)
}
