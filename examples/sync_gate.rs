//! A synchronous gate: the agent blocks in `Guard::wait` while a person decides.
//!
//! Run with `cargo run --example sync_gate`. The approver here is a thread standing in for
//! a chat message with two buttons; in production it is your approval UI calling
//! `Desk::decide`, in this process or another one sharing the SQLite store.

use std::sync::Arc;
use std::time::Duration;

use holdpoint::approval::store::MemoryStore;
use holdpoint::approval::{
    ApproversFile, Desk, Error, Guard, Identity, Proposal, Resumed, Ruling, State, Verdict,
};
use holdpoint::{Policy, ToolCall};
use serde_json::json;

const POLICY: &str = r#"
policy "deploys"
default deny

allow read_status { when tool == "deploy.status" }

approve production_deploy {
  when tool == "deploy.run" and args.environment == "production"
  mode sync
  by "sre"
  within 15m
  on timeout reject
  decisions approve, reject
  reason "Deploy {args.service} {args.version} to production"
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy = Arc::new(Policy::from_source(POLICY)?);
    let store = Arc::new(MemoryStore::new());
    // Who may approve: a person in the `sre` group. The desk decides with it, and the
    // guard checks with it who approved before it hands out the call.
    let approvers = Arc::new(ApproversFile::from_groups([("sre", &["priya"][..])]));
    let guard = Guard::new(policy, store.clone(), approvers.clone())
        .with_poll_interval(Duration::from_millis(20));

    // The approver side.
    let desk = Desk::new(store, approvers);
    let person = std::thread::spawn(move || -> Result<(), Error> {
        loop {
            if let Some(r) = desk
                .list(Some(State::Pending), Some("sre"))?
                .requests
                .first()
            {
                let reason = &r.checkpoint.decision.reasons[0].reason;
                println!("approver sees: {reason} (request {})", r.id());
                desk.decide(r.id(), &Ruling::new("priya", Verdict::Approve))?;
                println!("approver: approved");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });

    // The agent side.
    let identity = Identity {
        user: Some("dev-on-call".into()),
        tenant: "acme".into(),
        agent: "release-bot".into(),
        credentials_ref: Some("vault:deploy/production".into()),
    };
    let call = ToolCall::new(
        "deploy.run",
        json!({"service": "billing", "version": "v2.14.0", "environment": "production"}),
    );
    let proposal = Proposal::new(call, identity, "release-2026-11-24", "call-1")
        .with_reasoning("all checks green on staging for 24h");
    println!("agent: proposing deploy.run, waiting for a decision");
    match guard.wait(proposal, Some(Duration::from_secs(30)))? {
        Resumed::Permit(permit) => {
            println!(
                "agent: permitted to run {} {}",
                permit.tool(),
                permit.args()
            );
            // ... run the deploy here, with permit.args() ...
            guard.finish(permit, Ok(json!({"deployed": true})))?;
            println!("agent: reported executed");
        }
        Resumed::Rejected(r) => println!("agent: rejected by {}: {}", r.by, r.reason),
        other => println!("agent: not permitted: {other:?}"),
    }
    person
        .join()
        .map_err(|_| "the approver thread panicked")??;
    Ok(())
}
