//! `policy eval`.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use super::{Exit, input, load_policy};
use holdpoint::ToolCall;
use holdpoint::tools::explain;
use holdpoint::{CallReader, Policy};

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

/// One output line for every non-empty input line, in constant memory: the decision, or
/// the error, with the input's line number and the call's id (when it has one). A line
/// that is not UTF-8 or not a call gives an error line and the stream goes on. Output is
/// flushed whenever no more input is waiting, so a program can write one call to the pipe
/// and read its decision back without closing it.
fn stream(policy: &Policy, reader: Box<dyn Read>, label: &str, reference: bool) -> Exit {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut bytes = Vec::new();
    let mut calls = CallReader::default();
    let mut number = 0usize;
    let mut bad = 0usize;
    loop {
        bytes.clear();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = out.flush();
                eprintln!("error: cannot read `{label}` at line {}: {e}", number + 1);
                return Exit::Usage;
            }
        }
        number += 1;
        let written = match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => decide_line(
                policy, text, number, reference, &mut calls, &mut out, &mut bad,
            ),
            Err(e) => {
                bad += 1;
                let error = format!("not valid UTF-8 (at byte {})", e.valid_up_to());
                write_line(
                    &mut out,
                    &Line {
                        line: number,
                        id: None,
                        body: Error { error },
                    },
                )
            }
        };
        let flushed = match written {
            Ok(()) if reader.buffer().is_empty() => out.flush(),
            other => other,
        };
        if flushed.is_err() {
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

/// Decides one input line and writes its output line.
fn decide_line(
    policy: &Policy,
    text: &str,
    number: usize,
    reference: bool,
    calls: &mut CallReader,
    out: &mut impl Write,
    bad: &mut usize,
) -> std::io::Result<()> {
    if !reference {
        // One pass over the text, its buffers reused from line to line.
        return match policy.evaluate_json(text, calls) {
            Ok(d) => write_line(
                out,
                &Line {
                    line: number,
                    id: d.id(),
                    body: d.json(),
                },
            ),
            Err(e) => {
                *bad += 1;
                let id = line_id(text);
                write_line(
                    out,
                    &Line {
                        line: number,
                        id: id.as_deref(),
                        body: Error {
                            error: e.to_string(),
                        },
                    },
                )
            }
        };
    }
    match ToolCall::from_json(text) {
        Ok(call) => {
            let d = if reference {
                policy.evaluate_reference(&call)
            } else {
                policy.evaluate(&call)
            };
            let id = call.id.as_deref();
            write_line(
                out,
                &Line {
                    line: number,
                    id,
                    body: d.json(&call),
                },
            )
        }
        Err(e) => {
            *bad += 1;
            let id = line_id(text);
            let error = e.to_string();
            write_line(
                out,
                &Line {
                    line: number,
                    id: id.as_deref(),
                    body: Error { error },
                },
            )
        }
    }
}

/// The id of a line that is not a valid call, if it still reads as JSON with one.
fn line_id(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    match v.get("id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One output line: where it came from, then what it says.
#[derive(serde::Serialize)]
struct Line<'a, T: serde::Serialize> {
    line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(flatten)]
    body: T,
}

/// The body of a line that is not a call.
#[derive(serde::Serialize)]
struct Error {
    error: String,
}

fn write_line(out: &mut impl Write, line: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}
