//! The SQLite store: requests survive reopening, and a corrupt, foreign or newer file, an
//! unknown checkpoint version or a changed event is refused or reported, changing nothing.
#![cfg(feature = "sqlite")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::approvals::{approvers, policy, refund};

use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{
    ApproversFile, Desk, Error, Guard, Payload, Proposal, Resumed, Ruling, State, Submitted,
    Verdict,
};
use serde_json::json;

fn temp_db(name: &str) -> PathBuf {
    common::scratch(&format!("sqlite-{name}")).join("approvals.db")
}

fn desk(store: Arc<SqliteStore>) -> Desk {
    Desk::new(store, approvers()).with_policy(policy())
}

fn proposal(call_id: &str) -> Proposal {
    refund(900, "standard", call_id)
}

fn pending(path: &Path, call_id: &str) -> String {
    let store = Arc::new(SqliteStore::open(path).unwrap());
    match Guard::new(policy(), store, approvers())
        .submit(proposal(call_id))
        .unwrap()
    {
        Submitted::Waiting(w) => w.id,
        other => panic!("{other:?}"),
    }
}

fn sql(path: &Path, statement: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(statement).unwrap();
}

#[test]
fn requests_and_decisions_survive_reopening() {
    let db = temp_db("reopen");
    let id = pending(&db, "c1");
    {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        desk(store)
            .decide(&id, &Ruling::new("fiona", Verdict::Approve))
            .unwrap();
    }
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    assert_eq!(store.schema_version().unwrap(), 4);
    let guard = Guard::new(policy(), store.clone(), approvers());
    let Resumed::Permit(p) = guard.resume(&id).unwrap() else {
        panic!()
    };
    guard.finish(p, Ok(json!("done"))).unwrap();
    let reopened = SqliteStore::open(&db).unwrap();
    assert_eq!(reopened.get(&id).unwrap().unwrap().state(), State::Executed);
    assert_eq!(reopened.events(Some(&id)).unwrap().len(), 4);
    let report = desk(Arc::new(reopened)).verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, 4);
}

#[test]
fn the_database_is_in_wal_mode_with_a_migration_table() {
    let db = temp_db("pragmas");
    drop(SqliteStore::open(&db).unwrap());
    let c = rusqlite::Connection::open(&db).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let versions: i64 = c
        .query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(versions, 4);
    let app: i64 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_eq!(app, holdpoint::approval::store::SqliteStore::APPLICATION_ID);
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let db = temp_db("garbage");
    let bytes: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&db, &bytes).unwrap();
    let err = SqliteStore::open(&db).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

#[test]
fn a_database_of_another_application_is_refused_and_left_alone() {
    let db = temp_db("foreign");
    sql(
        &db,
        "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1);",
    );
    let before = std::fs::read(&db).unwrap();
    let err = SqliteStore::open(&db).unwrap_err();
    assert!(matches!(err, Error::Foreign(_)), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn a_version_1_database_is_migrated_and_keeps_its_requests() {
    let db = temp_db("v1");
    let id = pending(&db, "c1");
    // Back to the first schema, as a file from before the log signatures.
    sql(
        &db,
        "DROP INDEX events_actor; ALTER TABLE events DROP COLUMN actor;
         ALTER TABLE events DROP COLUMN signature; ALTER TABLE requests DROP COLUMN head;
         DELETE FROM schema_migrations WHERE version >= 2;",
    );
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), 4);
    assert_eq!(store.get(&id).unwrap().unwrap().state(), State::Pending);
    assert_eq!(store.events(Some(&id)).unwrap().len(), 1);
    let report = desk(Arc::new(store)).verify().unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn a_newer_schema_is_refused() {
    let db = temp_db("newer");
    drop(SqliteStore::open(&db).unwrap());
    sql(&db, "INSERT INTO schema_migrations VALUES (99, 0);");
    let err = SqliteStore::open(&db).unwrap_err();
    assert!(matches!(err, Error::NewerSchema { found: 99, .. }), "{err}");
}

#[test]
fn a_checkpoint_of_an_unknown_version_is_refused_and_nothing_changes() {
    let db = temp_db("version");
    let id = pending(&db, "c1");
    sql(
        &db,
        "UPDATE requests SET checkpoint = json_set(checkpoint, '$.version', 7);",
    );
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let err = store.get(&id).unwrap_err();
    assert!(
        matches!(err, Error::UnknownVersion { found: 7, .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&id), "{err}");
    let err = desk(store.clone())
        .decide(&id, &Ruling::new("fiona", Verdict::Approve))
        .unwrap_err();
    assert!(matches!(err, Error::UnknownVersion { .. }), "{err}");
    assert_eq!(
        store.events(None).unwrap().len(),
        1,
        "no decision was recorded"
    );
}

#[test]
fn a_damaged_status_is_reported_as_damage() {
    let db = temp_db("status");
    let id = pending(&db, "c1");
    sql(&db, "UPDATE requests SET status = '{\"state\": 3}';");
    let err = SqliteStore::open(&db).unwrap().get(&id).unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(err.to_string().contains(&id), "{err}");
}

#[test]
fn verify_reports_a_changed_event_and_a_changed_checkpoint() {
    let db = temp_db("verify");
    let id = pending(&db, "c1");
    pending(&db, "c2");
    {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        desk(store)
            .decide(&id, &Ruling::new("fiona", Verdict::Approve))
            .unwrap();
    }
    sql(
        &db,
        "UPDATE events SET body = replace(body, '\"actor\":\"fiona\"', '\"actor\":\"frank\"') WHERE kind = 'approved';",
    );
    let report = desk(Arc::new(SqliteStore::open(&db).unwrap()))
        .verify()
        .unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.breaks.len(), 1, "{report:?}");
    assert_eq!(report.breaks[0].seq, 3);
    assert!(report.breaks[0].problem.contains("changed"));

    let db = temp_db("verify-checkpoint");
    let id = pending(&db, "c1");
    sql(
        &db,
        "UPDATE requests SET checkpoint = json_set(checkpoint, '$.payload.args.amount', 90);",
    );
    let report = desk(Arc::new(SqliteStore::open(&db).unwrap()))
        .verify()
        .unwrap();
    assert!(report.breaks.is_empty());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&id) && p.contains("checkpoint")),
        "{report:?}"
    );

    let db = temp_db("verify-delete");
    pending(&db, "c1");
    pending(&db, "c2");
    pending(&db, "c3");
    sql(&db, "DELETE FROM events WHERE seq = 2;");
    let report = desk(Arc::new(SqliteStore::open(&db).unwrap()))
        .verify()
        .unwrap();
    assert!(
        report.breaks.iter().any(|b| b.problem.contains("missing")),
        "{report:?}"
    );
}

#[test]
fn floats_survive_the_store_and_keep_their_digest() {
    let db = temp_db("floats");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let mut p = proposal("c1");
    p.call.args["rate"] = json!(0.09144338512092887);
    let guard = Guard::new(policy(), store.clone(), approvers());
    let Submitted::Waiting(w) = guard.submit(p).unwrap() else {
        panic!()
    };
    desk(store.clone())
        .decide(&w.id, &Ruling::new("fiona", Verdict::Approve))
        .unwrap();
    let Resumed::Permit(permit) = guard.resume(&w.id).unwrap() else {
        panic!()
    };
    assert_eq!(permit.args()["rate"], json!(0.09144338512092887));
    assert_eq!(permit.digest(), permit.payload().digest());
    guard
        .finish(permit, Ok(json!({"rate": 0.30000000000000004})))
        .unwrap();
    let report = desk(Arc::new(SqliteStore::open(&db).unwrap()))
        .verify()
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn one_damaged_request_does_not_stop_listing_sweeping_or_verifying_the_others() {
    let db = temp_db("one-bad");
    let bad = pending(&db, "c1");
    let good = pending(&db, "c2");
    sql(
        &db,
        &format!("UPDATE requests SET status = 'oops', due_at = 0 WHERE id = '{bad}';"),
    );
    sql(
        &db,
        &format!("UPDATE requests SET due_at = 0 WHERE id = '{good}';"),
    );
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let d = desk(store.clone());
    let listing = d.list(None, None).unwrap();
    assert_eq!(listing.requests.len(), 1);
    assert_eq!(listing.unreadable[0].0, bad);
    let sweep = d.expire().unwrap();
    assert_eq!(sweep.failures.len(), 1);
    assert_eq!(sweep.failures[0].0, bad);
    let report = d.verify().unwrap();
    assert!(
        report.problems.iter().any(|p| p.contains(&bad)),
        "{report:?}"
    );
}

/// Claims `id` with a guard that checks approvals against `approvers`.
fn claim_with(db: &Path, id: &str, approvers: Arc<ApproversFile>) -> Result<Resumed, Error> {
    let store = Arc::new(SqliteStore::open(db).unwrap());
    Guard::new(policy(), store, approvers).resume(id)
}

fn approved(db: &Path, call_id: &str) -> String {
    let id = pending(db, call_id);
    desk(Arc::new(SqliteStore::open(db).unwrap()))
        .decide(&id, &Ruling::new("fiona", Verdict::Approve))
        .unwrap();
    id
}

fn unproven(r: Result<Resumed, Error>, says: &str) {
    match r {
        Err(Error::Unproven { problem, .. }) => assert!(problem.contains(says), "{problem}"),
        other => panic!("expected the claim to be refused ({says}), got {other:?}"),
    }
}

#[test]
fn a_claim_hands_out_nothing_its_events_do_not_prove() {
    // An approval written into the row, with no event: the state is not one any event left.
    let db = temp_db("forged-approval");
    let id = pending(&db, "c1");
    sql(
        &db,
        "UPDATE requests SET state = 'approved', status = json_set(status, '$.state', 'approved',
           '$.gates[0].approvals', json_array(json_object('by', 'fiona', 'at', 0,
             'digest', json_extract(status, '$.payload_digest'), 'edited', json('false'))));",
    );
    unproven(claim_with(&db, &id, approvers()), "no event left it so");

    // The approved payload swapped for another, its digest left as it was.
    let db = temp_db("swapped-payload");
    let id = approved(&db, "c1");
    sql(
        &db,
        "UPDATE requests SET status = json_set(status, '$.payload.args.amount', 90000);",
    );
    unproven(claim_with(&db, &id, approvers()), "does not hash");

    // ... and with its digest and the gate's approval rewritten to match it.
    let db = temp_db("swapped-digest");
    let id = approved(&db, "c1");
    let other = Payload {
        tool: "refund".into(),
        args: json!({"amount": 90000, "order": "o-17"}),
    };
    let d = other.digest();
    sql(
        &db,
        &format!(
            "UPDATE requests SET status = json_set(status, '$.payload.args.amount', 90000,
               '$.payload_digest', '{d}', '$.gates[0].approvals[0].digest', '{d}');"
        ),
    );
    unproven(
        claim_with(&db, &id, approvers()),
        "not the one its events recorded",
    );
    // Nothing was handed out: the request is still approved, unclaimed.
    let store = SqliteStore::open(&db).unwrap();
    assert_eq!(store.get(&id).unwrap().unwrap().state(), State::Approved);

    // An approver who may no longer decide (removed from the group) does not count.
    let db = temp_db("left-group");
    let id = approved(&db, "c1");
    let now = Arc::new(ApproversFile::from_groups([("finance", &["frank"][..])]));
    unproven(
        claim_with(&db, &id, now),
        "approved this payload by an approver",
    );
    // With the approvers as they were, the same request is handed out.
    assert!(matches!(
        claim_with(&db, &id, approvers()),
        Ok(Resumed::Permit(_))
    ));
}

#[test]
fn a_runs_requests_are_found_by_tenant_and_run_oldest_first() {
    let db = temp_db("run");
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let guard = Guard::new(policy(), store.clone(), approvers());
    let mut ids = Vec::new();
    for (run, tenant, call) in [
        ("run-1", "acme", "a"),
        ("run-2", "acme", "b"),
        ("run-1", "globex", "c"),
        ("run-1", "acme", "d"),
    ] {
        let mut p = proposal(call);
        p.run_id = run.into();
        p.identity.tenant = tenant.into();
        match guard.submit(p).unwrap() {
            Submitted::Waiting(w) => ids.push(w.id),
            other => panic!("{other:?}"),
        }
    }
    let run = store.run_ids("acme", "run-1").unwrap();
    assert_eq!(run, [ids[0].clone(), ids[3].clone()]);
    let listed = desk(store.clone()).run("acme", "run-1").unwrap();
    let listed: Vec<&str> = listed.requests.iter().map(|r| r.id()).collect();
    assert_eq!(listed, run);
    assert!(store.run_ids("acme", "run-9").unwrap().is_empty());
}

#[test]
fn an_approvers_decisions_are_found_latest_first_also_in_an_older_file() {
    let db = temp_db("decisions-by");
    let a = pending(&db, "a");
    let b = pending(&db, "b");
    {
        let d = desk(Arc::new(SqliteStore::open(&db).unwrap()));
        d.decide(&a, &Ruling::new("fiona", Verdict::Approve))
            .unwrap();
        d.decide(
            &b,
            &Ruling::new(
                "fiona",
                Verdict::Reject {
                    reason: "no".into(),
                },
            ),
        )
        .unwrap();
    }
    // As a file from before the actor column: the migration fills it from the log.
    sql(
        &db,
        "DROP INDEX events_actor; ALTER TABLE events DROP COLUMN actor;
         DELETE FROM schema_migrations WHERE version >= 4;",
    );
    let store = SqliteStore::open(&db).unwrap();
    let found: Vec<(Option<String>, &str)> = store
        .decisions_by("fiona", 10)
        .unwrap()
        .iter()
        .map(|e| (e.request_id.clone(), e.kind.as_str()))
        .collect();
    assert_eq!(
        found,
        [(Some(b.clone()), "rejected"), (Some(a.clone()), "approved")]
    );
    assert_eq!(store.decisions_by("fiona", 1).unwrap().len(), 1);
    assert!(store.decisions_by("frank", 10).unwrap().is_empty());
    // The store's index and a scan of the log agree.
    let scanned: Vec<u64> = store
        .events(None)
        .unwrap()
        .into_iter()
        .rev()
        .filter(|e| e.actor == "fiona" && e.kind.is_decision())
        .map(|e| e.seq)
        .collect();
    let indexed: Vec<u64> = store
        .decisions_by("fiona", 10)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(indexed, scanned);
}
