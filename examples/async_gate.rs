//! An asynchronous gate: the agent submits, is released, and resumes days later from a
//! fresh process. The approver edits the call; the edited call is what runs, once.
//!
//! Run with `cargo run --example async_gate`. Each phase opens the SQLite file anew, as
//! separate processes would.

use std::path::Path;
use std::sync::Arc;

use holdpoint::approval::store::SqliteStore;
use holdpoint::approval::{
    ApproversFile, Desk, Guard, Identity, Proposal, Resumed, Ruling, Submitted, Verdict,
};
use holdpoint::{Policy, ToolCall};
use serde_json::json;

const POLICY: &str = r#"
policy "refunds"
default deny

audit small_refund { when tool == "stripe.refund" and args.amount <= 500 }

approve refund_over_lane {
  when tool == "stripe.refund" and args.amount > 500
  mode async
  by "finance"
  within 2d
  on timeout escalate "finance-leads"
  decisions approve, reject, edit, escalate
  reason "Refund of {args.amount} to {args.customer}"
}
"#;

/// Who may approve: the desk decides with it, the guard checks with it who approved.
fn approvers() -> Arc<ApproversFile> {
    Arc::new(ApproversFile::from_groups([("finance", &["fiona"][..])]))
}

fn guard(db: &Path) -> Result<Guard, Box<dyn std::error::Error>> {
    let policy = Arc::new(Policy::from_source(POLICY)?);
    let store = Arc::new(SqliteStore::open(db)?);
    Ok(Guard::new(policy.clone(), store, approvers()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("holdpoint-async-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("approvals.db");

    // Day 1, the agent: propose, record the checkpoint, move on.
    let identity = Identity {
        user: Some("agent_support_1".into()),
        tenant: "acme".into(),
        agent: "support-bot".into(),
        credentials_ref: Some("vault:stripe/acme-live".into()),
    };
    let call = ToolCall::new(
        "stripe.refund",
        json!({"amount": 900, "customer": "cus_Q8x1", "charge": "ch_3PzK"}),
    )
    .with_context(json!({"ticket": "ZD-48213"}));
    let proposal = Proposal::new(call, identity, "ticket-ZD-48213", "toolu_01")
        .with_inputs(json!({"customer_message": "The parcel arrived crushed."}))
        .with_reasoning("damaged in transit; policy allows a full refund")
        .with_alternatives(vec!["send a replacement".into()]);
    let id = match guard(&db)?.submit(proposal)? {
        Submitted::Waiting(w) => {
            println!("agent: waiting for {:?}; request {}", w.groups, w.id);
            w.id
        }
        other => return Err(format!("expected the refund to wait, got {other:?}").into()),
    };

    // Day 2, finance: halve the refund (edit-then-approve).
    let policy = Arc::new(Policy::from_source(POLICY)?);
    let desk = Desk::new(Arc::new(SqliteStore::open(&db)?), approvers()).with_policy(policy);
    let edited = json!({"amount": 450, "customer": "cus_Q8x1", "charge": "ch_3PzK"});
    let ruling =
        Ruling::new("fiona", Verdict::Edit { args: edited }).with_note("partial: item resold");
    let r = desk.decide(&id, &ruling)?;
    println!(
        "finance: {} with patch {}",
        r.state(),
        r.status.patch.clone().unwrap_or_default()
    );

    // Day 2, the agent again (a new process): resume, run the edited call, report.
    let agent = guard(&db)?;
    match agent.resume(&id)? {
        Resumed::Permit(permit) => {
            println!("agent: running {} {}", permit.tool(), permit.args());
            agent.finish(permit, Ok(json!({"refund": "re_1QX"})))?;
        }
        other => return Err(format!("expected a permit, got {other:?}").into()),
    }
    // Resuming again never runs it twice.
    match agent.resume(&id) {
        Err(e) => println!("agent: resuming again: {e}"),
        Ok(other) => return Err(format!("a second permit: {other:?}").into()),
    }

    let report = desk.verify()?;
    println!(
        "audit log: {} events, intact: {}",
        report.events,
        report.is_ok()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
