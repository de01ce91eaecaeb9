//! The approval runtime through its public API, on the in-memory store: what an agent can
//! obtain, what an approver may decide, and what time does.
#![cfg(feature = "approvals")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::approvals::{approvers, identity, policy, refund};

use holdpoint::approval::store::{MemoryStore, Store};
use holdpoint::approval::{
    Desk, Error, EventKind, Guard, ManualClock, Proposal, Resumed, Ruling, State, Stats, Submitted,
    Verdict, format_time,
};
use holdpoint::{DecisionKind, Effect, Policy, ToolCall};
use serde_json::json;

const START: i64 = 1_795_000_000_000;
const MINUTE: i64 = 60_000;

struct World {
    clock: ManualClock,
    store: Arc<MemoryStore>,
    guard: Guard,
    desk: Desk,
}

fn world() -> World {
    let clock = ManualClock::at(START);
    let store = Arc::new(MemoryStore::new());
    let guard =
        Guard::new(policy(), store.clone(), approvers()).with_clock(Arc::new(clock.clone()));
    let desk = Desk::new(store.clone(), approvers())
        .with_policy(policy())
        .with_clock(Arc::new(clock.clone()));
    World {
        clock,
        store,
        guard,
        desk,
    }
}

fn submit_waiting(w: &World, p: Proposal) -> String {
    match w.guard.submit(p).unwrap() {
        Submitted::Waiting(waiting) => waiting.id,
        other => panic!("expected a waiting request, got {other:?}"),
    }
}

/// Resumes an approved request, which must give its permit.
fn claim(w: &World, id: &str) -> holdpoint::approval::Permit {
    match w.guard.resume(id).unwrap() {
        Resumed::Permit(p) => p,
        other => panic!("expected a permit, got {other:?}"),
    }
}

/// The kinds of a request's events, in order.
fn kinds(w: &World, id: &str) -> Vec<EventKind> {
    let events = w.store.events(Some(id)).unwrap();
    events.iter().map(|e| e.kind).collect()
}

fn approve(by: &str) -> Ruling {
    Ruling::new(by, Verdict::Approve)
}

fn edit(by: &str, args: serde_json::Value) -> Ruling {
    Ruling::new(by, Verdict::Edit { args })
}

fn escalate(by: &str, to: &str) -> Ruling {
    Ruling::new(by, Verdict::Escalate { to: to.into() })
}

fn reject(by: &str, reason: &str) -> Ruling {
    Ruling::new(
        by,
        Verdict::Reject {
            reason: reason.into(),
        },
    )
}

#[test]
fn allow_and_audit_give_permits_at_once_and_audit_is_recorded() {
    let w = world();
    let call = ToolCall::new("search", json!({"q": "x"}));
    let Submitted::Permit(p) = w
        .guard
        .submit(Proposal::new(call, identity(), "run-1", "c1"))
        .unwrap()
    else {
        panic!("search is allowed")
    };
    assert_eq!((p.effect(), p.tool()), (Effect::Allow, "search"));
    assert!(
        w.store.events(None).unwrap().is_empty(),
        "allow writes nothing"
    );
    w.guard.finish(p, Ok(json!({"hits": 3}))).unwrap();

    let Submitted::Permit(p) = w.guard.submit(refund(100, "standard", "c2")).unwrap() else {
        panic!("a small refund is audited")
    };
    assert_eq!(p.effect(), Effect::Audit);
    let events = w.store.events(None).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Audited);
    assert_eq!(events[0].digest_after.as_deref(), Some(p.digest()));
    assert_eq!(
        events[0].data["identity"]["credentials_ref"],
        "vault:stripe/acme"
    );
    w.guard.finish(p, Ok(json!(null))).unwrap();
}

#[test]
fn deny_gives_no_permit_and_no_request() {
    let w = world();
    match w.guard.submit(refund(200_000, "standard", "c1")).unwrap() {
        Submitted::Denied(d) => assert_eq!(d.rules, ["huge_refund"]),
        other => panic!("expected deny, got {other:?}"),
    }
    assert!(w.store.list(None).unwrap().is_empty());
}

#[test]
fn the_checkpoint_keeps_everything_the_approver_needs() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    let r = w.desk.request(&id).unwrap();
    let c = &r.checkpoint;
    assert_eq!(c.version, holdpoint::approval::CHECKPOINT_VERSION);
    assert_eq!(c.payload.args, json!({"amount": 900, "order": "o-17"}));
    assert_eq!(c.payload_digest, c.payload.digest());
    assert_eq!(c.context, json!({"tier": "vip"}));
    assert_eq!(c.decision.rules, ["big_refund", "vip_customer"]);
    assert_eq!(c.inputs["request"], "customer asked for a refund");
    assert_eq!(c.reasoning.as_deref(), Some("the order arrived broken"));
    assert_eq!(c.identity, identity());
    assert_eq!(c.policy.name.as_deref(), Some("refunds"));
    assert_eq!(c.policy.hash, holdpoint::approval::policy_hash(&policy()));
    assert_eq!(
        (c.run_id.as_str(), c.tool_call_id.as_str()),
        ("run-1", "c1")
    );
    assert_eq!(c.created_at, START);
    assert_eq!(r.state(), State::Pending);
    assert_eq!(r.waiting_groups(), ["account-managers", "finance"]);
    // Round trip through JSON, as stores keep it.
    let text = serde_json::to_string(c).unwrap();
    assert_eq!(
        &holdpoint::approval::Checkpoint::from_json(&text).unwrap(),
        c
    );
}

#[test]
fn submitting_is_idempotent_on_the_key_and_refuses_a_changed_payload() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    match w.guard.submit(refund(900, "standard", "c1")).unwrap() {
        Submitted::Waiting(again) => {
            assert_eq!(again.id, id);
            assert!(!again.created);
        }
        other => panic!("{other:?}"),
    }
    let err = w.guard.submit(refund(950, "standard", "c1")).unwrap_err();
    assert!(matches!(err, Error::KeyReused { .. }), "{err}");
    assert_eq!(w.store.list(None).unwrap().len(), 1);
    // Another tool-call id is another request.
    assert_ne!(submit_waiting(&w, refund(950, "standard", "c2")), id);
}

#[test]
fn refused_decisions_change_nothing() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    let before = (w.desk.request(&id).unwrap(), w.store.events(None).unwrap());
    let cases = [
        (approve("uma"), "the user the agent acts for"),
        (approve("support-bot"), "the agent that proposed"),
        (approve("mallory"), "may not decide"),
        (approve(""), "may not decide"),
        (escalate("amir", "x"), "does not allow `escalate`"),
        (edit("amir", json!({"amount": 1})), "does not allow `edit`"),
        (reject("fiona", " "), "needs a reason"),
        (approve("fiona").for_gate("nope"), "no gate `nope`"),
        (escalate("fiona", "nobody"), "no group `nobody`"),
        (approve("fiona").for_gate("vip_customer"), "may not decide"),
        (
            edit("fiona", json!({"amount": 200_000, "order": "o-17"})),
            "denies the edited call",
        ),
        (edit("fiona", json!([1])), "must be a JSON object"),
        (
            edit("fiona", json!({"amount": 900, "order": "o-17"})),
            "changes nothing",
        ),
    ];
    for (ruling, needle) in cases {
        let err = w.desk.decide(&id, &ruling).unwrap_err();
        assert!(
            err.to_string().contains(needle),
            "{ruling:?}: `{err}` lacks `{needle}`"
        );
    }
    assert_eq!(
        (w.desk.request(&id).unwrap(), w.store.events(None).unwrap()),
        before
    );
    assert!(matches!(
        w.desk.decide("hp_nothing", &approve("fiona")),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn every_gate_must_approve_before_a_permit_and_the_permit_is_claimed_once() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    let r = w.desk.decide(&id, &approve("fiona")).unwrap();
    assert_eq!(
        r.state(),
        State::Pending,
        "account-managers have not approved"
    );
    assert_eq!(r.waiting_groups(), ["account-managers"]);
    assert!(matches!(w.guard.resume(&id).unwrap(), Resumed::Pending(_)));
    // The same gate cannot approve twice.
    let err = w.desk.decide(&id, &approve("frank")).unwrap_err();
    assert!(matches!(err, Error::AlreadyDecided { .. }), "{err}");

    let r = w.desk.decide(&id, &approve("amir")).unwrap();
    assert_eq!(r.state(), State::Approved);
    let permit = claim(&w, &id);
    assert_eq!(permit.args(), &json!({"amount": 900, "order": "o-17"}));
    assert!(!permit.was_edited());
    assert_eq!(permit.request_id(), Some(id.as_str()));
    let err = w.guard.resume(&id).unwrap_err();
    assert!(matches!(err, Error::AlreadyClaimed { .. }), "{err}");
    let err = w.desk.decide(&id, &approve("lena")).unwrap_err();
    assert!(matches!(err, Error::NotPending { .. }), "{err}");

    w.guard
        .finish(permit, Ok(json!({"refund": "re_1"})))
        .unwrap();
    let r = w.desk.request(&id).unwrap();
    assert_eq!(r.state(), State::Executed);
    assert_eq!(r.status.outcome, Some(json!({"refund": "re_1"})));
    let kinds = kinds(&w, &id);
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Approved,
            EventKind::Approved,
            EventKind::Claimed,
            EventKind::Executed
        ]
    );
    assert!(w.desk.verify().unwrap().is_ok());
}

#[test]
fn an_edit_runs_instead_and_the_other_gates_must_approve_the_edit() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    w.desk.decide(&id, &approve("amir")).unwrap();
    let edited = json!({"amount": 450, "order": "o-17"});
    let r = w
        .desk
        .decide(&id, &edit("fiona", edited.clone()).with_note("half"))
        .unwrap();
    // amir approved 900, not 450.
    assert_eq!(r.state(), State::Pending);
    assert_eq!(r.waiting_groups(), ["account-managers"]);
    assert_eq!(
        r.status.patch,
        Some(json!([{"op": "replace", "path": "/amount", "value": 450}]))
    );
    assert_eq!(
        r.checkpoint.payload.args["amount"], 900,
        "the original stays"
    );
    let r = w.desk.decide(&id, &approve("amir")).unwrap();
    assert_eq!(r.state(), State::ApprovedWithEdits);
    let p = claim(&w, &id);
    assert_eq!(p.args(), &edited);
    assert!(p.was_edited());
    assert_eq!(p.digest(), r.status.payload_digest);
    let edit = w
        .store
        .events(Some(&id))
        .unwrap()
        .into_iter()
        .find(|e| e.kind == EventKind::Edited)
        .unwrap();
    assert_eq!(
        edit.digest_before.as_deref(),
        Some(r.checkpoint.payload_digest.as_str())
    );
    assert_eq!(edit.digest_after.as_deref(), Some(p.digest()));
    assert_eq!(edit.reason.as_deref(), Some("half"));
}

#[test]
fn an_edit_that_fires_a_new_gate_waits_for_it_too() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    let r = w
        .desk
        .decide(&id, &edit("fiona", json!({"amount": 20_000})))
        .unwrap();
    assert_eq!(r.state(), State::Pending);
    assert_eq!(r.waiting_groups(), ["cfo"]);
    w.desk.decide(&id, &approve("carla")).unwrap();
    let r = w.desk.decide(&id, &approve("cyrus")).unwrap();
    assert_eq!(r.state(), State::ApprovedWithEdits);
    assert_eq!(r.status.gates.len(), 2);
    let p = claim(&w, &id);
    assert_eq!(p.args(), &json!({"amount": 20_000}));
}

#[test]
fn a_quorum_needs_that_many_distinct_people_approving_the_same_call() {
    let w = world();
    let id = submit_waiting(&w, refund(20_000, "standard", "c1"));
    let r = w.desk.decide(&id, &approve("carla")).unwrap();
    assert_eq!(r.state(), State::Pending, "one of two cfo approvals");
    assert!(matches!(w.guard.resume(&id).unwrap(), Resumed::Pending(_)));
    // The same person again, however written, is not a second approver.
    for again in ["carla", "CARLA", "\u{ff43}arla"] {
        let err = w.desk.decide(&id, &approve(again)).unwrap_err();
        assert!(
            matches!(err, Error::AlreadyDecided { .. }),
            "{again}: {err}"
        );
    }
    // Finance edits the call: carla's approval was of the old one and no longer counts.
    w.desk
        .decide(
            &id,
            &edit("fiona", json!({"amount": 15_000, "order": "o-17"})),
        )
        .unwrap();
    let r = w.desk.decide(&id, &approve("carla")).unwrap();
    assert_eq!(
        r.state(),
        State::Pending,
        "one of two approvals of the edited call"
    );
    let r = w.desk.decide(&id, &approve("cyrus")).unwrap();
    assert_eq!(r.state(), State::ApprovedWithEdits);
    let p = claim(&w, &id);
    assert_eq!(p.args()["amount"], 15_000);
}

#[test]
fn a_rejection_is_final_and_keeps_its_reason() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &reject("frank", "duplicate")).unwrap();
    match w.guard.resume(&id).unwrap() {
        Resumed::Rejected(r) => {
            assert_eq!((r.by.as_str(), r.reason.as_str()), ("frank", "duplicate"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        w.desk.decide(&id, &approve("fiona")),
        Err(Error::NotPending {
            state: State::Rejected,
            ..
        })
    ));
}

#[test]
fn escalation_hands_the_gate_to_the_named_group() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    let r = w
        .desk
        .decide(&id, &escalate("fiona", "finance-leads"))
        .unwrap();
    assert_eq!(r.state(), State::Pending);
    assert_eq!(r.waiting_groups(), ["finance-leads"]);
    assert!(matches!(
        w.desk.decide(&id, &approve("frank")),
        Err(Error::NotAnApprover { .. })
    ));
    assert_eq!(
        w.desk.decide(&id, &approve("lena")).unwrap().state(),
        State::Approved
    );
    let states: Vec<_> = w
        .store
        .events(Some(&id))
        .unwrap()
        .iter()
        .map(|e| (e.kind, e.to))
        .collect();
    assert_eq!(states[1], (EventKind::Escalated, Some(State::Escalated)));
    assert_eq!(states[2], (EventKind::Reopened, Some(State::Pending)));
}

#[test]
fn timeouts_escalate_once_then_reject_and_never_approve() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.clock.advance(59 * MINUTE);
    assert!(w.desk.expire().unwrap().events.is_empty());
    w.clock.advance(MINUTE);
    let events = w.desk.expire().unwrap().events;
    assert_eq!(events[0].kind, EventKind::Expired);
    assert_eq!(events[0].to, Some(State::Escalated));
    let r = w.desk.request(&id).unwrap();
    assert_eq!(
        (r.state(), r.waiting_groups()),
        (State::Pending, vec!["finance-leads".to_string()])
    );
    // The new group gets the SLA again; at its end the request expires.
    w.clock.advance(60 * MINUTE);
    // A late decision meets the expiry first.
    let err = w.desk.decide(&id, &approve("lena")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotPending {
                state: State::Expired,
                ..
            }
        ),
        "{err}"
    );
    match w.guard.resume(&id).unwrap() {
        Resumed::Expired(r) => assert!(r.reason.contains("again"), "{}", r.reason),
        other => panic!("{other:?}"),
    }
    // The first timeout escalated, the second expired: one of each.
    let stats = Stats::from_events(&w.store.events(None).unwrap());
    let big = stats.gates.iter().find(|g| g.gate == "big_refund").unwrap();
    assert_eq!((big.escalated, big.expired), (1, 1), "{big:?}");
}

#[test]
fn a_reject_on_timeout_expires_the_request_when_the_agent_looks() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    w.clock.advance(10 * MINUTE);
    assert!(matches!(w.guard.resume(&id).unwrap(), Resumed::Expired(_)));
}

#[test]
fn a_claim_whose_lease_runs_out_is_outcome_unknown_never_run_again() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    let p = claim(&w, &id);
    w.clock.advance(6 * MINUTE);
    let events = w.desk.expire().unwrap().events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::OutcomeUnknown);
    assert!(matches!(
        w.guard.resume(&id),
        Err(Error::AlreadyClaimed {
            state: State::OutcomeUnknown,
            ..
        })
    ));
    let err = w.guard.finish(p, Ok(json!(1))).unwrap_err();
    assert!(matches!(err, Error::LeaseExpired(_)), "{err}");
}

/// The test policy's text, changed by `edit`, as a guard and a desk on the world's store.
fn changed(w: &World, edit: impl Fn(String) -> String) -> (Guard, Desk) {
    let text = std::fs::read_to_string("tests/data/approvals/refunds.gate").unwrap();
    let policy = Arc::new(Policy::from_source(&edit(text)).unwrap());
    let clock = Arc::new(w.clock.clone());
    let guard = Guard::new(policy.clone(), w.store.clone(), approvers()).with_clock(clock.clone());
    let desk = Desk::new(w.store.clone(), approvers())
        .with_policy(policy)
        .with_clock(clock);
    (guard, desk)
}

#[test]
fn a_comment_or_fmt_keeps_every_approval_and_pending_request() {
    let w = world();
    let approved = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&approved, &approve("fiona")).unwrap();
    let pending = submit_waiting(&w, refund(900, "standard", "c2"));
    let (guard, desk) = changed(&w, |t| {
        let t = holdpoint::format_source(&t).unwrap();
        format!(
            "# reviewed by legal\n{}",
            t.replace("by \"finance\"", "by \"finance\"  # the team")
        )
    });
    assert_eq!(
        holdpoint::approval::policy_hash(guard.policy()),
        holdpoint::approval::policy_hash(w.guard.policy()),
        "a comment and formatting do not change what the policy means"
    );
    assert!(matches!(
        guard.resume(&approved).unwrap(),
        Resumed::Permit(_)
    ));
    // An edit under the commented policy is decided as before (it was refused).
    desk.decide(
        &pending,
        &edit("fiona", json!({"amount": 800, "order": "o-17"})),
    )
    .unwrap();
    assert!(!kinds(&w, &approved).contains(&EventKind::Redecided));
}

#[test]
fn a_changed_policy_decides_the_call_again_and_keeps_only_gates_that_fire_the_same() {
    // The threshold moved, the gate did not: the approval stands, and the event says so.
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    let (guard, _) = changed(&w, |t| t.replace("> 500", "> 400"));
    assert!(matches!(guard.resume(&id).unwrap(), Resumed::Permit(_)));
    let events = w.store.events(Some(&id)).unwrap();
    let again = events
        .iter()
        .find(|e| e.kind == EventKind::Redecided)
        .unwrap();
    assert_eq!(again.data["kept"], json!(["big_refund"]));
    assert_eq!(again.to, Some(State::Approved));

    // The gate now waits for another group: the approval by finance no longer counts.
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    let (guard, desk) = changed(&w, |t| t.replacen("by \"finance\"", "by \"cfo\"", 1));
    match guard.resume(&id).unwrap() {
        Resumed::Pending(p) => assert_eq!(p.groups, vec!["cfo".to_string()]),
        other => panic!("the changed gate must wait again, got {other:?}"),
    }
    let err = desk.decide(&id, &approve("fiona")).unwrap_err();
    assert!(matches!(err, Error::NotAnApprover { .. }), "{err}");
    desk.decide(&id, &approve("carla")).unwrap();
    assert!(matches!(guard.resume(&id).unwrap(), Resumed::Permit(_)));

    // The policy now denies the call: it runs under neither, and nothing changed.
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    let (guard, _) = changed(&w, |t| t.replace("> 100000", "> 800"));
    let err = guard.resume(&id).unwrap_err();
    assert!(matches!(err, Error::PolicyNowDenies { .. }), "{err}");
    assert!(err.to_string().contains("huge_refund"), "{err}");
    assert_eq!(w.desk.request(&id).unwrap().state(), State::Approved);
    // The old policy's guard, where it still runs, re-decides too: nothing is bound twice.
    assert!(matches!(w.guard.resume(&id).unwrap(), Resumed::Permit(_)));
}

#[test]
fn cancel_withdraws_a_pending_request() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    assert_eq!(
        w.guard.cancel(&id, "customer withdrew").unwrap().state(),
        State::Cancelled
    );
    assert!(matches!(w.guard.resume(&id).unwrap(), Resumed::Cancelled));
    assert!(w.guard.cancel(&id, "again").is_err());
}

#[test]
fn wait_blocks_until_an_approver_decides_in_another_thread() {
    let store = Arc::new(MemoryStore::new());
    let guard = Guard::new(policy(), store.clone(), approvers())
        .with_poll_interval(Duration::from_millis(5));
    let desk = Desk::new(store.clone(), approvers());
    let approver = std::thread::spawn(move || {
        loop {
            if let Some(r) = desk
                .list(Some(State::Pending), Some("finance"))
                .unwrap()
                .requests
                .first()
            {
                desk.decide(r.id(), &approve("fiona")).unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let resumed = guard.wait(refund(900, "standard", "c1"), None).unwrap();
    approver.join().unwrap();
    let Resumed::Permit(p) = resumed else {
        panic!("{resumed:?}")
    };
    assert_eq!(p.args()["amount"], 900);
}

#[test]
fn wait_with_a_limit_returns_pending_and_no_permit() {
    let w = world();
    let guard = Guard::new(policy(), w.store.clone(), approvers())
        .with_poll_interval(Duration::from_millis(5));
    let r = guard
        .wait(
            refund(900, "standard", "c1"),
            Some(Duration::from_millis(30)),
        )
        .unwrap();
    assert!(matches!(r, Resumed::Pending(_)), "{r:?}");
}

#[test]
fn wait_ends_at_the_sla_with_its_on_timeout_never_a_permit() {
    let policy = Arc::new(
        Policy::from_source(
            "default deny\napprove pay { when tool == \"pay\" within 1s on timeout reject }",
        )
        .unwrap(),
    );
    let guard = Guard::new(policy, Arc::new(MemoryStore::new()), approvers())
        .with_poll_interval(Duration::from_millis(20));
    let call = ToolCall::new("pay", json!({}));
    let r = guard
        .wait(
            Proposal::new(call, identity(), "r", "c"),
            Some(Duration::from_secs(30)),
        )
        .unwrap();
    assert!(matches!(r, Resumed::Expired(_)), "{r:?}");
}

#[test]
fn stats_count_decisions_and_flag_rubber_stamps() {
    let w = world();
    for i in 0..21 {
        let id = submit_waiting(&w, refund(900, "standard", &format!("c{i}")));
        w.clock.advance(i * 1000);
        w.desk.decide(&id, &approve("fiona")).unwrap();
    }
    let id = submit_waiting(&w, refund(900, "vip", "v"));
    w.desk.decide(&id, &reject("amir", "no")).unwrap();
    let stats = Stats::from_events(&w.store.events(None).unwrap());
    let big = stats.gates.iter().find(|g| g.gate == "big_refund").unwrap();
    assert_eq!((big.fired, big.approved, big.rejected), (22, 21, 0));
    assert!(big.rubber_stamp, "21 of 21 approved unchanged");
    // Request i waited i seconds: 0..=20 s.
    assert_eq!(big.median_s, Some(10.0));
    assert_eq!(big.p90_s, Some(18.0));
    let vip = stats
        .gates
        .iter()
        .find(|g| g.gate == "vip_customer")
        .unwrap();
    assert_eq!((vip.fired, vip.rejected, vip.rubber_stamp), (1, 1, false));
}

#[test]
fn stats_give_each_gate_its_final_decisions_per_day() {
    let w = world();
    let a = submit_waiting(&w, refund(900, "standard", "d1"));
    w.desk.decide(&a, &approve("fiona")).unwrap();
    w.clock.advance(24 * 60 * MINUTE);
    let b = submit_waiting(&w, refund(900, "standard", "d2"));
    w.desk
        .decide(&b, &edit("fiona", json!({"amount": 450, "order": "o-17"})))
        .unwrap();
    let c = submit_waiting(&w, refund(900, "standard", "d3"));
    w.desk.decide(&c, &reject("fiona", "no")).unwrap();
    let stats = Stats::from_events(&w.store.events(None).unwrap());
    let big = stats.gates.iter().find(|g| g.gate == "big_refund").unwrap();
    let days: Vec<_> = big
        .days
        .iter()
        .map(|d| (d.day.as_str(), d.approved, d.edited, d.rejected))
        .collect();
    let first = &format_time(START)[..10];
    let second = &format_time(START + 24 * 60 * MINUTE)[..10];
    assert_eq!(days, [(first, 1, 0, 0), (second, 0, 1, 1)]);
    assert_eq!(big.advice(), None, "three decisions flag nothing");
}

#[test]
fn the_gate_decisions_come_from_the_policy() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    let r = w.desk.request(&id).unwrap();
    let vip = r
        .status
        .gates
        .iter()
        .find(|g| g.rule == "vip_customer")
        .unwrap();
    assert_eq!(vip.decisions, [DecisionKind::Approve, DecisionKind::Reject]);
    assert_eq!(vip.deadline, Some(START + 10 * MINUTE));
}

#[test]
fn proposals_without_identity_or_keys_are_refused() {
    let w = world();
    let mut p = refund(900, "standard", "");
    assert!(matches!(
        w.guard.submit(p.clone()),
        Err(Error::BadProposal(_))
    ));
    p.tool_call_id = "c1".into();
    p.identity.tenant = String::new();
    assert!(matches!(w.guard.submit(p), Err(Error::BadProposal(_))));
}

mod property {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Submit {
            amount: i64,
            vip: bool,
            call: u8,
        },
        Decide {
            call: u8,
            who: usize,
            verdict: u8,
            value: i64,
            gate: Option<bool>,
        },
        Advance(i64),
        Expire,
        Resume {
            call: u8,
            finish: bool,
        },
        Cancel(u8),
    }

    const WHO: [&str; 9] = [
        "fiona",
        "frank",
        "lena",
        "amir",
        "carla",
        "cyrus",
        "uma",
        "support-bot",
        "mallory",
    ];
    const AMOUNTS: [i64; 5] = [100, 600, 900, 20_000, 200_000];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => (0..5usize, any::<bool>(), 0..4u8)
                .prop_map(|(a, vip, call)| Op::Submit { amount: AMOUNTS[a], vip, call }),
            4 => (0..4u8, 0..WHO.len(), 0..5u8, 0..5usize, prop::option::of(any::<bool>()))
                .prop_map(|(call, who, verdict, v, gate)| Op::Decide {
                    call, who, verdict, value: AMOUNTS[v], gate
                }),
            1 => prop_oneof![Just(MINUTE), Just(10 * MINUTE), Just(60 * MINUTE)].prop_map(Op::Advance),
            1 => Just(Op::Expire),
            2 => (0..4u8, any::<bool>()).prop_map(|(call, finish)| Op::Resume { call, finish }),
            1 => (0..4u8).prop_map(Op::Cancel),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// No sequence of calls yields a permit for a gated call unless every gate of its
        /// request recorded an approval of exactly the permitted payload, by an approver
        /// who is neither the user nor the agent; and no request yields two permits.
        #[test]
        fn no_permit_without_every_gate_approving_that_payload(ops in prop::collection::vec(op(), 1..40)) {
            let w = world();
            let mut ids: BTreeMap<u8, String> = BTreeMap::new();
            let mut permits: BTreeMap<String, usize> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Submit { amount, vip, call } => {
                        let tier = if vip { "vip" } else { "standard" };
                        if let Ok(Submitted::Waiting(wt)) = w.guard.submit(refund(amount, tier, &format!("c{call}"))) {
                            ids.insert(call, wt.id);
                        }
                    }
                    Op::Decide { call, who, verdict, value, gate } => {
                        let Some(id) = ids.get(&call) else { continue };
                        let verdict = match verdict {
                            0 | 1 => Verdict::Approve,
                            2 => Verdict::Reject { reason: "no".into() },
                            3 => Verdict::Edit { args: json!({"amount": value, "order": "o-17"}) },
                            _ => Verdict::Escalate { to: if value > 1000 { "cfo".into() } else { "finance-leads".into() } },
                        };
                        let mut ruling = Ruling::new(WHO[who], verdict);
                        if let Some(big) = gate {
                            ruling = ruling.for_gate(if big { "big_refund" } else { "vip_customer" });
                        }
                        let before = w.store.events(None).unwrap().len();
                        if w.desk.decide(id, &ruling).is_err() {
                            // A refused decision may only have applied a due expiry.
                            let after = w.store.events(None).unwrap();
                            prop_assert!(after[before..].iter().all(|e| e.actor == holdpoint::approval::SYSTEM));
                        }
                    }
                    Op::Advance(ms) => w.clock.advance(ms),
                    Op::Expire => { w.desk.expire().unwrap(); }
                    Op::Resume { call, finish } => {
                        let Some(id) = ids.get(&call) else { continue };
                        let Ok(Resumed::Permit(p)) = w.guard.resume(id) else { continue };
                        *permits.entry(id.clone()).or_default() += 1;
                        prop_assert_eq!(permits[id], 1, "two permits for {}", id);
                        let r = w.desk.request(id).unwrap();
                        prop_assert_eq!(p.digest(), p.payload().digest());
                        prop_assert!(!r.status.gates.is_empty());
                        let events = w.store.events(Some(id)).unwrap();
                        for g in &r.status.gates {
                            // As many distinct people as the gate's quorum, none of them a
                            // party, approved exactly this payload.
                            let mut people: Vec<String> = events.iter().filter(|e| {
                                matches!(e.kind, EventKind::Approved | EventKind::Edited)
                                    && e.gate.as_deref() == Some(g.rule.as_str())
                                    && e.digest_after.as_deref() == Some(p.digest())
                                    && !["uma", "support-bot", "system"].contains(&e.actor.as_str())
                            }).map(|e| holdpoint::fold(&e.actor)).collect();
                            people.sort();
                            people.dedup();
                            let quorum = if g.rule == "very_big_refund" { 2 } else { 1 };
                            prop_assert_eq!(g.quorum, quorum);
                            prop_assert!(people.len() >= quorum as usize,
                                "gate {} of {} approved {} by {:?}, quorum {}", g.rule, id, p.digest(), people, quorum);
                        }
                        // The permitted call is one the policy does not deny.
                        let call = ToolCall::new(p.tool(), p.args().clone()).with_context(r.checkpoint.context.clone());
                        prop_assert_ne!(w.guard.policy().evaluate(&call).effect(), Effect::Deny);
                        if finish {
                            w.guard.finish(p, Ok(json!(null))).unwrap();
                        }
                    }
                    Op::Cancel(call) => {
                        if let Some(id) = ids.get(&call) {
                            let _ = w.guard.cancel(id, "withdrawn");
                        }
                    }
                }
            }
            prop_assert!(w.desk.verify().unwrap().is_ok());
        }
    }
}

#[test]
fn a_decision_on_a_payload_that_changed_since_is_refused() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    let seen = w.desk.request(&id).unwrap().status.payload_digest;
    w.desk
        .decide(
            &id,
            &edit("fiona", json!({"amount": 9_000, "order": "o-17"})),
        )
        .unwrap();
    let before = w.store.events(None).unwrap();
    let err = w
        .desk
        .decide(&id, &approve("amir").having_seen(seen))
        .unwrap_err();
    assert!(matches!(err, Error::PayloadChanged { .. }), "{err}");
    assert_eq!(w.store.events(None).unwrap(), before);
    let now = w.desk.request(&id).unwrap().status.payload_digest;
    let r = w
        .desk
        .decide(&id, &approve("amir").having_seen(now))
        .unwrap();
    assert_eq!(r.state(), State::ApprovedWithEdits);
}

#[test]
fn a_late_report_is_kept_but_the_request_stays_outcome_unknown() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "standard", "c1"));
    w.desk.decide(&id, &approve("fiona")).unwrap();
    let p = claim(&w, &id);
    let token = p.claim_token().unwrap().to_string();
    // No sweep has run: the lease alone decides that the report is late.
    w.clock.advance(5 * MINUTE);
    let err = w
        .guard
        .finish(p, Ok(json!({"refund": "re_1"})))
        .unwrap_err();
    assert!(matches!(err, Error::LeaseExpired(_)), "{err}");
    let r = w.desk.request(&id).unwrap();
    assert_eq!(r.state(), State::OutcomeUnknown);
    let kinds = kinds(&w, &id);
    assert_eq!(
        kinds[kinds.len() - 2..],
        [EventKind::OutcomeUnknown, EventKind::LateReport]
    );
    assert_eq!(
        r.status.outcome,
        Some(json!({"executed": {"refund": "re_1"}}))
    );
    // Once only.
    let err = w.guard.report(&id, &token, Ok(json!(2))).unwrap_err();
    assert!(matches!(err, Error::AlreadyFinished { .. }), "{err}");
    assert!(w.desk.verify().unwrap().is_ok());
}

#[test]
fn the_same_key_for_another_user_or_padded_names_are_refused() {
    let w = world();
    submit_waiting(&w, refund(900, "standard", "c1"));
    let mut other = refund(900, "standard", "c1");
    other.identity.user = Some("bob".into());
    let err = w.guard.submit(other).unwrap_err();
    assert!(matches!(err, Error::KeyTaken { .. }), "{err}");
    let mut padded = refund(900, "standard", "c2");
    padded.identity.user = Some("uma ".into());
    let err = w.guard.submit(padded).unwrap_err();
    assert!(
        err.to_string().contains("leading or trailing spaces"),
        "{err}"
    );
}

#[test]
fn stats_count_a_gates_last_decision_and_gates_an_edit_adds() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    w.desk.decide(&id, &approve("amir")).unwrap();
    w.desk
        .decide(
            &id,
            &edit("fiona", json!({"amount": 20_000, "order": "o-17"})),
        )
        .unwrap();
    w.desk.decide(&id, &approve("amir")).unwrap();
    w.desk.decide(&id, &approve("carla")).unwrap();
    w.desk.decide(&id, &approve("cyrus")).unwrap();
    let stats = Stats::from_events(&w.store.events(None).unwrap());
    let get = |n: &str| stats.gates.iter().find(|g| g.gate == n).unwrap().clone();
    assert_eq!(
        (get("vip_customer").fired, get("vip_customer").approved),
        (1, 1)
    );
    assert_eq!(get("big_refund").approved_with_edits, 1);
    assert_eq!(
        (
            get("very_big_refund").fired,
            get("very_big_refund").approved
        ),
        (1, 1)
    );
}

#[test]
fn a_gate_an_edit_sends_back_gets_a_fresh_sla() {
    let w = world();
    let id = submit_waiting(&w, refund(900, "vip", "c1"));
    w.desk.decide(&id, &approve("amir")).unwrap();
    // vip_customer's 10 minutes are over, but amir approved in time; then finance edits.
    w.clock.advance(30 * MINUTE);
    let r = w
        .desk
        .decide(&id, &edit("fiona", json!({"amount": 700, "order": "o-17"})))
        .unwrap();
    let vip = r
        .status
        .gates
        .iter()
        .find(|g| g.rule == "vip_customer")
        .unwrap();
    assert_eq!(vip.deadline, Some(START + 40 * MINUTE));
    assert!(w.desk.expire().unwrap().events.is_empty());
    assert_eq!(
        w.desk.decide(&id, &approve("amir")).unwrap().state(),
        State::ApprovedWithEdits
    );
}

#[test]
fn a_secret_in_place_of_a_credentials_reference_is_refused() {
    let w = world();
    for secret in [
        "sk_live_51H8xQ2eZvKYlo2C0aBcDeFgHiJkLmNoP",
        "-----BEGIN PRIVATE KEY-----\nMIIE...",
        "AKIAIOSFODNN7EXAMPLE",
        "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG8",
    ] {
        let mut p = refund(900, "standard", "c1");
        p.identity.credentials_ref = Some(secret.into());
        let err = w.guard.submit(p).unwrap_err();
        assert!(
            err.to_string().contains("looks like a secret"),
            "{secret}: {err}"
        );
    }
    let mut p = refund(900, "standard", "c1");
    p.identity.credentials_ref = Some("vault:secret/data/stripe/acme-live#api_key".into());
    assert!(w.guard.submit(p).is_ok());
    assert!(
        w.store
            .events(None)
            .unwrap()
            .iter()
            .all(|e| !e.data.to_string().contains("sk_live"))
    );
}

/// Before: a request made for `FIONA`, `ｆｉｏｎａ` or `fiona` plus a zero-width space could
/// be approved by `fiona` herself.
#[test]
fn identities_compare_as_people_read_them() {
    let w = world();
    for (i, user) in ["FIONA", "ｆｉｏｎａ", "Fiona"].into_iter().enumerate() {
        let mut p = refund(900, "standard", &format!("fold-{i}"));
        p.identity.user = Some(user.into());
        let id = submit_waiting(&w, p);
        let err = w.desk.decide(&id, &approve("fiona")).unwrap_err();
        assert!(
            matches!(err, Error::RequesterCannotDecide(_)),
            "{user}: {err}"
        );
        // Another member of the group still decides it.
        w.desk.decide(&id, &approve("frank")).unwrap();
    }
    for user in ["fiona\u{200B}", "fi\u{202E}ona", "fiona\u{1b}"] {
        let mut p = refund(900, "standard", "hidden");
        p.identity.user = Some(user.into());
        let err = w.guard.submit(p).unwrap_err();
        assert!(err.to_string().contains("hidden"), "{user:?}: {err}");
    }
    let id = submit_waiting(&w, refund(900, "standard", "members"));
    for (who, words) in [
        (" fiona", "does not read as it is written"),
        ("fiona\u{200B}", "does not read as it is written"),
    ] {
        let err = w.desk.decide(&id, &approve(who)).unwrap_err();
        assert!(err.to_string().contains(words), "{who:?}: {err}");
    }
    // The approvers file says `fiona`; she may write her name as she likes.
    let r = w.desk.decide(&id, &approve("FIONA")).unwrap();
    assert!(r.state().is_approved(), "{:?}", r.state());
}
