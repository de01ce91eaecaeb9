//! A log signed by the service's key: an event written to the database by anything but the
//! store holding the key (another process, a hand-written row, another key) is refused, so
//! write access to the file is not enough to approve a call.
#![cfg(all(feature = "sqlite", feature = "permits"))]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::approvals::{approvers, policy, refund};

use holdpoint::approval::permit::LogSigner;
use holdpoint::approval::store::{LogKey, SqliteStore, Store};
use holdpoint::approval::{Desk, Error, Guard, Resumed, Ruling, State, Submitted, Verdict};

const SERVICE: [u8; 32] = [3; 32];
const OTHER: [u8; 32] = [4; 32];

fn temp_db(name: &str) -> PathBuf {
    common::scratch(&format!("signed-{name}")).join("approvals.db")
}

fn keyed(path: &Path, secret: &[u8; 32]) -> Result<Arc<SqliteStore>, Error> {
    let key: Arc<dyn LogKey> = Arc::new(LogSigner::new(secret, "k-test"));
    Ok(Arc::new(SqliteStore::open(path)?.with_log_key(key)?))
}

fn submit(store: Arc<SqliteStore>, call_id: &str) -> String {
    match Guard::new(policy(), store, approvers())
        .submit(refund(900, "standard", call_id))
        .unwrap()
    {
        Submitted::Waiting(w) => w.id,
        other => panic!("{other:?}"),
    }
}

fn approve(store: Arc<SqliteStore>, id: &str) -> Result<(), Error> {
    Desk::new(store, approvers())
        .with_policy(policy())
        .decide(id, &Ruling::new("fiona", Verdict::Approve))
        .map(|_| ())
}

fn claim(store: Arc<SqliteStore>, id: &str) -> Result<Resumed, Error> {
    Guard::new(policy(), store, approvers()).resume(id)
}

fn refused_as_outside_write(r: Result<Resumed, Error>, says: &str) {
    match r {
        Err(Error::Corrupt(m)) => {
            assert!(m.contains(says), "{m}");
            assert!(m.contains("outside the service"), "{m}");
        }
        other => panic!("expected the claim to be refused ({says}), got {other:?}"),
    }
}

#[test]
fn a_signed_log_runs_the_whole_cycle_and_verifies() {
    let db = temp_db("cycle");
    let store = keyed(&db, &SERVICE).unwrap();
    let id = submit(store.clone(), "c1");
    approve(store.clone(), &id).unwrap();
    let Resumed::Permit(p) = claim(store.clone(), &id).unwrap() else {
        panic!("approved, so a permit")
    };
    Guard::new(policy(), store.clone(), approvers())
        .finish(p, Ok(serde_json::json!("done")))
        .unwrap();
    let report = Desk::new(keyed(&db, &SERVICE).unwrap(), approvers())
        .verify()
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, 4);
    let c = rusqlite::Connection::open(&db).unwrap();
    let unsigned: i64 = c
        .query_row(
            "SELECT count(*) FROM events WHERE signature IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unsigned, 0);
}

#[test]
fn an_approval_written_without_the_key_is_refused_at_claim_and_reported() {
    let db = temp_db("forged");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    // The agent's own process opens the file and approves: the runtime's rules hold, the
    // event chains, but it is not signed.
    approve(Arc::new(SqliteStore::open(&db).unwrap()), &id).unwrap();
    refused_as_outside_write(claim(service.clone(), &id), "carries no signature");
    assert_eq!(service.get(&id).unwrap().unwrap().state(), State::Approved);
    let report = Desk::new(service, approvers()).verify().unwrap();
    assert!(!report.is_ok());
    assert!(
        report.problems.iter().any(|p| p.contains("event 2")),
        "{report:?}"
    );
}

#[test]
fn an_approval_signed_by_another_key_is_refused() {
    let db = temp_db("other-key");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    approve(Arc::new(SqliteStore::open(&db).unwrap()), &id).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let hash: String = c
        .query_row("SELECT hash FROM events WHERE seq = 2", [], |r| r.get(0))
        .unwrap();
    let signature = LogSigner::new(&OTHER, "k-other").sign(&hash);
    c.execute(
        "UPDATE events SET signature = ?1 WHERE seq = 2",
        [signature],
    )
    .unwrap();
    refused_as_outside_write(claim(service, &id), "not the service's log key's");
}

#[test]
fn a_signed_event_copied_to_another_place_is_refused() {
    let db = temp_db("moved");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    approve(service.clone(), &id).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    // The approval event, signed, copied once more at the end of the log.
    c.execute_batch(
        "INSERT INTO events (seq, request_id, kind, at, body, hash, signature)
         SELECT 3, request_id, kind, at, body, hash, signature FROM events WHERE seq = 2;",
    )
    .unwrap();
    refused_as_outside_write(claim(service, &id), "not at the place");
}

#[test]
fn a_database_written_in_local_mode_is_not_trusted_by_the_service() {
    let db = temp_db("local");
    submit(Arc::new(SqliteStore::open(&db).unwrap()), "c1");
    let err = keyed(&db, &SERVICE).unwrap_err();
    assert!(
        err.to_string()
            .contains("written without the service's log key"),
        "{err}"
    );
}

#[test]
fn a_claim_removed_from_the_log_does_not_make_the_request_claimable_again() {
    let db = temp_db("removed");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    approve(service.clone(), &id).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let approved: (String, String) = c
        .query_row(
            "SELECT state, status FROM requests WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let Resumed::Permit(_) = claim(service.clone(), &id).unwrap() else {
        panic!("approved, so a permit")
    };
    // Someone with write access to the file removes the claim and puts the row back as it
    // was when approved: every remaining event is still signed and chained.
    c.execute(
        "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)",
        [],
    )
    .unwrap();
    c.execute(
        "UPDATE requests SET state = ?2, status = ?3 WHERE id = ?1",
        [&id, &approved.0, &approved.1],
    )
    .unwrap();
    refused_as_outside_write(claim(service.clone(), &id), "events were removed");
    let report = Desk::new(service.clone(), approvers()).verify().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&id) && p.contains("events were removed")),
        "{report:?}"
    );
    // Another request's head does not fit either.
    let other = submit(service.clone(), "c2");
    c.execute(
        "UPDATE requests SET head = (SELECT head FROM requests WHERE id = ?1) WHERE id = ?2",
        [&other, &id],
    )
    .unwrap();
    refused_as_outside_write(claim(service, &id), "events were removed");
}

#[test]
fn a_log_signed_before_request_heads_existed_keeps_working_after_the_upgrade() {
    let db = temp_db("upgrade");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    drop(service);
    // The file as the previous version left it: schema 2, no heads (nor actors).
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "ALTER TABLE requests DROP COLUMN head;
         DROP INDEX events_actor; ALTER TABLE events DROP COLUMN actor;
         DELETE FROM schema_migrations WHERE version >= 3;",
    )
    .unwrap();
    drop(c);
    let service = keyed(&db, &SERVICE).unwrap();
    approve(service.clone(), &id).unwrap();
    assert!(matches!(claim(service, &id), Ok(Resumed::Permit(_))));
    // Heads are signed once, at the upgrade: a head removed later is not signed again.
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute("UPDATE requests SET head = NULL", []).unwrap();
    let service = keyed(&db, &SERVICE).unwrap();
    let again = Desk::new(service, approvers())
        .with_policy(policy())
        .decide(
            &id,
            &Ruling::new(
                "fiona",
                Verdict::Reject {
                    reason: "late".into(),
                },
            ),
        );
    match again {
        Err(Error::Corrupt(m)) => assert!(m.contains("no signed latest event"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_older_head_put_back_with_its_row_is_refused_while_the_service_runs() {
    let db = temp_db("rolled-back");
    let service = keyed(&db, &SERVICE).unwrap();
    let id = submit(service.clone(), "c1");
    approve(service.clone(), &id).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    // Everything a copy of the file taken while approved holds for this request.
    let approved: (String, String, String) = c
        .query_row(
            "SELECT state, status, head FROM requests WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let Resumed::Permit(_) = claim(service.clone(), &id).unwrap() else {
        panic!("approved, so a permit")
    };
    c.execute(
        "DELETE FROM events WHERE seq = (SELECT max(seq) FROM events)",
        [],
    )
    .unwrap();
    c.execute(
        "UPDATE requests SET state = ?2, status = ?3, head = ?4 WHERE id = ?1",
        [&id, &approved.0, &approved.1, &approved.2],
    )
    .unwrap();
    refused_as_outside_write(claim(service, &id), "events were removed");
}
