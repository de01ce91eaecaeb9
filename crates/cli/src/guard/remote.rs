//! `policy guard --server URL`: submit the call to a running `policy serve` with the
//! agent's token. The service decides under its policy, holds the request, and for a call
//! that may run hands out a signed permit. Exit codes as in the local mode: 0 run it, 3 it
//! waits, 4 it must not run.

use std::io::Read as _;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Args, print_line};
use crate::Exit;
use crate::approvals::remote::client::Server;
use crate::approvals::remote::{claim, wait_until_decided};
use crate::approvals::{parse_duration, print_json, read_json};

pub(super) fn run(url: &str, args: &Args) -> Exit {
    if args.agent.is_some() {
        eprintln!("error: with --server the agent is the token's: drop --agent");
        return Exit::Usage;
    }
    if args.tools.is_some() || args.policy.is_some() {
        eprintln!(
            "error: with --server the call is decided under the service's policy and catalog: drop POLICY and --tools"
        );
        return Exit::Usage;
    }
    let wait = match wait_limit(args.wait.as_deref()) {
        Ok(w) => w,
        Err(code) => return code,
    };
    let body = match proposal(args) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let server = match Server::connect(url, args.token.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let answer = match server.post("/v1/requests", &body) {
        Ok(v) => v,
        Err(f) => return f.report(),
    };
    let state = answer
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match answer.get("effect").and_then(Value::as_str) {
        Some("deny") => {
            print_json(&answer);
            Exit::Refused
        }
        Some("approve") => {
            let Some(limit) = wait else {
                print_json(&answer);
                return match state {
                    "pending" | "approved" | "approved_with_edits" => Exit::Waiting,
                    _ => Exit::Refused,
                };
            };
            // The id first, on its own line, before blocking (as the local mode does).
            print_line(&answer);
            let id = answer
                .get("request")
                .and_then(Value::as_str)
                .unwrap_or_default();
            wait_and_claim(&server, id, limit)
        }
        // allow or audit: the call runs now, with its permit.
        _ => {
            print_json(&answer);
            Exit::Ok
        }
    }
}

/// Long-polls until the request is decided (or `limit` passes); claims it if approved.
fn wait_and_claim(server: &Server, id: &str, limit: Option<Duration>) -> Exit {
    let v = match wait_until_decided(server, id, limit) {
        Ok(v) => v,
        Err(f) => return f.report(),
    };
    match v.get("state").and_then(Value::as_str).unwrap_or_default() {
        "approved" | "approved_with_edits" => claim(server, id),
        "pending" => {
            print_line(&v);
            Exit::Waiting
        }
        _ => {
            print_line(&v);
            Exit::Refused
        }
    }
}

/// `--wait` alone waits without a limit; `--wait 30s` at most that long.
fn wait_limit(text: Option<&str>) -> Result<Option<Option<Duration>>, Exit> {
    match text {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(t) => parse_duration(t).map(|d| Some(Some(d))).map_err(|e| {
            eprintln!("error: --wait: {e}");
            Exit::Usage
        }),
    }
}

/// The proposal envelope to send: the call (a bare tool call is wrapped as `call`), with
/// the flags filled in over the envelope's fields. The service reads it strictly.
fn proposal(args: &Args) -> Result<Value, Exit> {
    let label = if args.call == "-" {
        "<stdin>"
    } else {
        &args.call
    };
    let mut text = String::new();
    if let Err(e) = crate::input(&args.call).and_then(|mut r| r.read_to_string(&mut text)) {
        eprintln!("error: cannot read `{label}`: {e}");
        return Err(Exit::Usage);
    }
    let value = holdpoint::parse_json(&text).map_err(|e| {
        eprintln!("error: {label}: {e}");
        Exit::Failed
    })?;
    let mut env = match value {
        Value::Object(m) if m.get("call").is_some_and(Value::is_object) => m,
        bare => {
            let mut m = Map::new();
            m.insert("call".into(), bare);
            m
        }
    };
    let inputs = args.inputs.as_deref().map(read_json).transpose()?;
    let top = [
        ("run_id", args.run_id.clone().map(Value::String)),
        ("tool_call_id", args.call_id.clone().map(Value::String)),
        ("reasoning", args.reasoning.clone().map(Value::String)),
        ("inputs", inputs),
    ];
    for (key, v) in top {
        if let Some(v) = v {
            env.insert(key.into(), v);
        }
    }
    let who = [
        ("user", &args.user),
        ("tenant", &args.tenant),
        ("credentials_ref", &args.credentials),
    ];
    if who.iter().any(|(_, v)| v.is_some()) {
        let identity = env.entry("identity").or_insert_with(|| json!({}));
        let Some(m) = identity.as_object_mut() else {
            eprintln!("error: {label}: `identity` must be a JSON object");
            return Err(Exit::Failed);
        };
        for (key, v) in who {
            if let Some(v) = v {
                m.insert(key.into(), Value::String(v.clone()));
            }
        }
    }
    Ok(Value::Object(env))
}
