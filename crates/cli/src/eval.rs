//! `policy eval`.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use super::{Exit, input, load_policy};
use holdpoint::Policy;
use holdpoint::ToolCall;
use holdpoint::tools::explain;

/// Arguments of `policy eval`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .gate file or a policy directory.
    path: PathBuf,
    /// The call as JSON (`-` reads standard input).
    #[arg(long, value_name = "FILE", default_value = "-")]
    call: String,
    /// Read one call per line and write one decision per line (streaming).
    #[arg(long, conflicts_with = "explain")]
    jsonl: bool,
    /// Print a human-readable trace instead of JSON.
    #[arg(long)]
    explain: bool,
    /// Tool catalog; replaces any tools.yaml beside the policy.
    #[arg(long, value_name = "CATALOG")]
    tools: Option<PathBuf>,
    /// Decide with the reference interpreter instead of the compiled tree.
    #[arg(long, hide = true)]
    reference: bool,
}

pub(super) fn run(args: Args) -> Exit {
    let policy = match load_policy(&args.path, args.tools.as_ref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let reader = match input(&args.call) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", args.call);
            return Exit::Usage;
        }
    };
    let label = if args.call == "-" {
        "<stdin>"
    } else {
        &args.call
    };
    if args.jsonl {
        return stream(&policy, reader, label, args.reference);
    }
    let mut text = String::new();
    let mut reader = reader;
    if let Err(e) = reader.read_to_string(&mut text) {
        eprintln!("error: cannot read `{label}`: {e}");
        return Exit::Usage;
    }
    let call = match ToolCall::from_json(&text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {label}: {e}");
            return Exit::Failed;
        }
    };
    let decision = if args.reference {
        policy.evaluate_reference(&call)
    } else {
        policy.evaluate(&call)
    };
    if let Some(cat) = policy.catalog() {
        let tool = holdpoint::escaped(&call.tool);
        match decision.confusable_with() {
            Some(listed) => eprintln!(
                "warning: tool `{tool}` is not in catalog `{}` but reads as its `{listed}`: refused",
                cat.name
            ),
            None if decision.unknown_tool() => eprintln!(
                "warning: tool `{tool}` is not in catalog `{}`; the policy decides it all the same (the decision says `unknown_tool`)",
                cat.name
            ),
            None => {}
        }
    }

    if args.explain {
        // The call's values are the agent's text: no control character reaches the terminal.
        for line in explain::explain(&policy, &call, &decision).lines() {
            say!("{}", holdpoint::escaped(line));
        }
        return Exit::Ok;
    }
    match serde_json::to_string_pretty(&decision.report(&call)) {
        Ok(s) => {
            say!("{s}");
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}

/// One decision per input line, in constant memory.
fn stream(policy: &Policy, reader: Box<dyn Read>, label: &str, reference: bool) -> Exit {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = String::new();
    let mut number = 0usize;
    let mut bad = 0usize;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: cannot read `{label}` at line {}: {e}", number + 1);
                return Exit::Usage;
            }
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        let written = match ToolCall::from_json(&line) {
            Ok(call) => {
                let d = if reference {
                    policy.evaluate_reference(&call)
                } else {
                    policy.evaluate(&call)
                };
                serde_json::to_writer(&mut out, &d.json(&call)).map_err(std::io::Error::from)
            }
            Err(e) => {
                bad += 1;
                let err = serde_json::json!({"line": number, "error": e.to_string()});
                serde_json::to_writer(&mut out, &err).map_err(std::io::Error::from)
            }
        };
        if written.and_then(|_| out.write_all(b"\n")).is_err() {
            // The reader went away (a closed pipe): stop quietly.
            return Exit::Ok;
        }
    }
    let _ = out.flush();
    if bad > 0 {
        eprintln!("{bad} of {number} line(s) were not valid tool calls");
        Exit::Failed
    } else {
        Exit::Ok
    }
}
