//! Groups an identity provider vouches for (a JWT's groups claim): they let a person the
//! approvers file does not list decide, only for groups the file defines, never a party
//! to the request, and the claim's proof still holds from the events alone.
#![cfg(feature = "approvals")]

mod common;

use std::sync::Arc;

use common::approvals::{approvers, policy, refund};

use holdpoint::approval::store::{MemoryStore, Store};
use holdpoint::approval::{
    Approvers, ApproversFile, Desk, Error, EventKind, Guard, ManualClock, Resumed, Ruling, State,
    Submitted, Verdict, Vouched,
};

const START: i64 = 1_795_000_000_000;

struct World {
    store: Arc<MemoryStore>,
    guard: Guard,
    desk: Desk,
}

fn world() -> World {
    let clock = Arc::new(ManualClock::at(START));
    let store = Arc::new(MemoryStore::new());
    let guard = Guard::new(policy(), store.clone(), approvers()).with_clock(clock.clone());
    let desk = Desk::new(store.clone(), approvers())
        .with_policy(policy())
        .with_clock(clock);
    World { store, guard, desk }
}

/// A refund of 800 for a standard customer: one gate, `big_refund`, by "finance".
fn waiting(w: &World) -> String {
    match w.guard.submit(refund(800, "standard", "c1")).unwrap() {
        Submitted::Waiting(waiting) => waiting.id,
        other => panic!("expected a waiting request, got {other:?}"),
    }
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn approve_as(by: &str, vouched: &[&str]) -> Ruling {
    Ruling::new(by, Verdict::Approve).with_groups(groups(vouched))
}

#[test]
fn a_vouched_group_lets_a_person_decide_and_the_claim_proves_it() {
    let w = world();
    let id = waiting(&w);
    let file = approvers();
    let r = w.desk.request(&id).unwrap();
    let finance = groups(&["finance"]);
    assert!(!r.awaits(&*file, "sam"), "sam is in no group of the file");
    assert!(r.awaits(&Vouched::new(&*file, "sam", &finance), "sam"));

    let refused = w.desk.decide(&id, &approve_as("sam", &[])).unwrap_err();
    assert!(matches!(refused, Error::NotAnApprover { .. }), "{refused}");

    let r = w
        .desk
        .decide(&id, &approve_as("sam", &["finance", "admins"]))
        .unwrap();
    assert_eq!(r.state(), State::Approved);
    let events = w.store.events(Some(&id)).unwrap();
    let approved = events
        .iter()
        .find(|e| e.kind == EventKind::Approved)
        .unwrap();
    assert_eq!(approved.actor, "sam");
    assert_eq!(
        approved.data["vouched"],
        serde_json::json!(["finance"]),
        "only the groups the file defines are recorded"
    );

    // The guard knows only the file; the event's record is what proves sam's approval.
    match w.guard.resume(&id).unwrap() {
        Resumed::Permit(p) => assert_eq!(p.tool(), "refund"),
        other => panic!("expected a permit, got {other:?}"),
    }
}

#[test]
fn groups_the_file_does_not_define_count_for_nothing() {
    let w = world();
    let id = waiting(&w);
    let file = approvers();
    let vouched = groups(&["admins", "Finance", "finance "]);
    let v = Vouched::new(&*file, "sam", &vouched);
    assert_eq!(v.groups().count(), 0);
    assert!(!v.is_approver("sam"));
    let r = w.desk.request(&id).unwrap();
    assert!(!r.awaits(&v, "sam"));
    let refused = w
        .desk
        .decide(&id, &approve_as("sam", &["admins", "Finance"]))
        .unwrap_err();
    assert!(matches!(refused, Error::NotAnApprover { .. }), "{refused}");
    assert_eq!(w.desk.request(&id).unwrap().state(), State::Pending);
}

#[test]
fn the_requester_and_the_agent_never_decide_whatever_their_groups() {
    let w = world();
    let id = waiting(&w);
    let file = approvers();
    let all = groups(&["finance", "finance-leads", "cfo"]);
    let r = w.desk.request(&id).unwrap();
    for party in ["uma", "UMA", "support-bot"] {
        assert!(
            !r.awaits(&Vouched::new(&*file, party, &all), party),
            "{party}"
        );
    }
    let e = w
        .desk
        .decide(&id, &approve_as("uma", &["finance"]))
        .unwrap_err();
    assert!(matches!(e, Error::RequesterCannotDecide(_)), "{e}");
    let e = w
        .desk
        .decide(&id, &approve_as("support-bot", &["finance"]))
        .unwrap_err();
    assert!(matches!(e, Error::AgentCannotDecide(_)), "{e}");
    assert_eq!(w.desk.request(&id).unwrap().state(), State::Pending);
}

#[test]
fn vouching_is_for_one_person_only() {
    let file = approvers();
    let finance = groups(&["finance"]);
    let v = Vouched::new(&*file, "sam", &finance);
    assert!(
        v.is_member("SAM", "finance"),
        "names compare as people read them"
    );
    assert!(
        !v.is_member("sara", "finance"),
        "nobody else gains the group"
    );
    assert!(
        v.is_member("fiona", "finance"),
        "the file's members stay members"
    );
    assert!(!v.is_member("sam", "cfo"));
}

#[test]
fn a_group_defined_without_members_can_be_filled_by_the_identity_provider() {
    let file = ApproversFile::from_yaml("sso.yaml", "groups:\n  finance: []\n").unwrap();
    assert!(file.defines_group("finance") && !file.has_group("finance"));
    assert!(!file.defines_group("cfo"));
    let finance = groups(&["finance"]);
    let v = Vouched::new(&file, "sam", &finance);
    assert!(v.is_member("sam", "finance") && v.has_group("finance"));
}

#[test]
fn a_vouched_approval_stops_counting_once_the_file_drops_the_group() {
    let w = world();
    let id = waiting(&w);
    w.desk
        .decide(&id, &approve_as("sam", &["finance"]))
        .unwrap();
    let without: Arc<ApproversFile> = Arc::new(ApproversFile::from_groups([(
        "finance-leads",
        &["lena"][..],
    )]));
    let guard = Guard::new(policy(), w.store.clone(), without);
    let e = guard.resume(&id).unwrap_err();
    assert!(matches!(e, Error::Unproven { .. }), "{e}");
}
