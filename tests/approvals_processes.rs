//! Several processes on one SQLite file: a worker killed with SIGKILL at random points
//! loses nothing it acknowledged and never runs a call twice or unapproved; racing
//! deciders and claimers each get exactly one winner and never a busy error.
//!
//! The child processes are this test binary again, running the ignored `child` test with
//! `HOLDPOINT_CHILD` set.
#![cfg(feature = "sqlite")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::approvals::{approvers, policy, refund};
use holdpoint::approval::store::{SqliteStore, Store};
use holdpoint::approval::{
    Desk, Error, EventKind, Guard, ManualClock, Proposal, Resumed, Ruling, State, Submitted,
    Verdict,
};
use serde_json::json;

fn temp_dir(name: &str) -> PathBuf {
    common::scratch(&format!("proc-{name}"))
}

/// Distinct payloads per call, so a mix-up of requests would show.
fn proposal(call_id: &str) -> Proposal {
    let mut p = refund(900, "standard", call_id);
    p.call.args["call"] = json!(call_id);
    p
}

/// Spawns this binary as a child doing `role` on `db`.
fn spawn(role: &str, db: &Path, arg: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("HOLDPOINT_CHILD", role)
        .env("HOLDPOINT_DB", db)
        .env("HOLDPOINT_ARG", arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The lines a child acknowledged (`ACK ...`), until it ended.
fn acks(child: &mut std::process::Child) -> Vec<String> {
    let out = child.stdout.take().unwrap();
    BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        // libtest writes `test child ... ` without a newline before the first line.
        .filter_map(|l| l.find("ACK ").map(|i| l[i + 4..].to_string()))
        .collect()
}

/// The child side. Does nothing unless started by a test above.
#[test]
#[ignore = "run as a child process by the tests in this file"]
fn child() {
    let Ok(role) = std::env::var("HOLDPOINT_CHILD") else {
        return;
    };
    let db = std::env::var("HOLDPOINT_DB").unwrap();
    let arg = std::env::var("HOLDPOINT_ARG").unwrap();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let guard = Guard::new(policy(), store.clone(), approvers());
    let desk = Desk::new(store.clone(), approvers());
    match role.as_str() {
        "worker" => worker(&guard, &desk, &*store, &arg),
        "racer" => racer(&guard, &desk, &*store, &arg),
        other => panic!("unknown role {other}"),
    }
}

/// Decides what is pending, claims and runs what is approved, creates more; forever.
fn worker(guard: &Guard, desk: &Desk, store: &dyn Store, prefix: &str) {
    for n in 0.. {
        for r in store.list(Some(State::Pending)).unwrap() {
            let approver = if n % 2 == 0 { "fiona" } else { "frank" };
            match desk.decide(r.id(), &Ruling::new(approver, Verdict::Approve)) {
                Ok(_) => println!("ACK decided {}", r.id()),
                Err(e) => panic!("decide {}: {e}", r.id()),
            }
        }
        for r in store.list(Some(State::Approved)).unwrap() {
            match guard.resume(r.id()).unwrap() {
                Resumed::Permit(p) => {
                    println!("ACK claimed {}", r.id());
                    guard.finish(p, Ok(json!({"ran": n}))).unwrap();
                    println!("ACK finished {}", r.id());
                }
                other => panic!("{other:?}"),
            }
        }
        match guard.submit(proposal(&format!("{prefix}-{n}"))).unwrap() {
            Submitted::Waiting(w) => println!("ACK created {}", w.id),
            other => panic!("{other:?}"),
        }
    }
}

/// Waits for the start file, then tries to decide and claim every listed request.
fn racer(guard: &Guard, desk: &Desk, _store: &dyn Store, arg: &str) {
    let (start, ids) = arg.split_once('|').unwrap();
    while !Path::new(start).exists() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let me = std::process::id();
    for id in ids.split(',') {
        let approver = if me % 2 == 0 { "fiona" } else { "frank" };
        match desk.decide(id, &Ruling::new(approver, Verdict::Approve)) {
            Ok(_) => println!("ACK decide-won {id}"),
            Err(Error::AlreadyDecided { .. } | Error::NotPending { .. }) => {
                println!("ACK decide-lost {id}")
            }
            Err(e) => println!("ACK error decide {id}: {e}"),
        }
    }
    for id in ids.split(',') {
        match guard.resume(id) {
            Ok(Resumed::Permit(p)) => {
                println!("ACK claim-won {id}");
                guard.finish(p, Ok(json!(me))).unwrap();
            }
            Err(Error::AlreadyClaimed { .. }) => println!("ACK claim-lost {id}"),
            Ok(other) => println!("ACK error claim {id}: {other:?}"),
            Err(e) => println!("ACK error claim {id}: {e}"),
        }
    }
}

/// A small deterministic generator for kill delays.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn a_worker_killed_at_random_points_loses_nothing_and_runs_nothing_twice() {
    let dir = temp_dir("crash");
    let db = dir.join("approvals.db");
    drop(SqliteStore::open(&db).unwrap());
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut acked: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let rounds = 40;
    for round in 0..rounds {
        let mut child = spawn("worker", &db, &format!("r{round}"));
        // Let the child open the database, then kill it somewhere in its work.
        std::thread::sleep(Duration::from_millis(20 + next(&mut seed) % 120));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        for line in acks(&mut child) {
            let (what, id) = line.split_once(' ').unwrap();
            acked
                .entry(what.to_string())
                .or_default()
                .insert(id.to_string());
        }
    }
    assert!(
        acked.get("decided").is_some_and(|s| s.len() >= 10),
        "the workers got too little done to test anything: {acked:?}"
    );

    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let all = store.list(None).unwrap();
    let by_id: BTreeMap<&str, State> = all.iter().map(|r| (r.id(), r.state())).collect();
    let decided_states = [
        State::Approved,
        State::Executing,
        State::Executed,
        State::OutcomeUnknown,
    ];
    for id in acked.get("created").into_iter().flatten() {
        assert!(by_id.contains_key(id.as_str()), "created {id} was lost");
    }
    for id in acked.get("decided").into_iter().flatten() {
        let s = by_id.get(id.as_str()).copied();
        assert!(
            s.is_some_and(|s| decided_states.contains(&s)),
            "decided {id} is {s:?}"
        );
    }
    for id in acked.get("claimed").into_iter().flatten() {
        let s = by_id.get(id.as_str()).copied();
        assert!(
            s.is_some_and(|s| matches!(
                s,
                State::Executing | State::Executed | State::OutcomeUnknown
            )),
            "claimed {id} is {s:?}"
        );
    }
    for id in acked.get("finished").into_iter().flatten() {
        assert_eq!(by_id.get(id.as_str()), Some(&State::Executed), "{id}");
    }
    for r in &all {
        let events = store.events(Some(r.id())).unwrap();
        let count = |k: EventKind| events.iter().filter(|e| e.kind == k).count();
        assert!(
            count(EventKind::Approved) <= 1,
            "{} has two decisions",
            r.id()
        );
        assert!(
            count(EventKind::Claimed) <= 1,
            "{} was claimed twice",
            r.id()
        );
        assert!(count(EventKind::Executed) <= 1, "{} ran twice", r.id());
        if let Some(claim) = events.iter().position(|e| e.kind == EventKind::Claimed) {
            assert!(
                events[..claim]
                    .iter()
                    .any(|e| e.kind == EventKind::Approved),
                "{} was claimed without an approval",
                r.id()
            );
        }
    }
    let approvers = approvers();
    let report = Desk::new(store.clone(), approvers.clone())
        .verify()
        .unwrap();
    assert!(report.is_ok(), "{report:?}");

    // Much later: every claim that was cut off is outcome_unknown, none is approved again.
    let later = ManualClock::at(i64::MAX / 2);
    let desk = Desk::new(store.clone(), approvers).with_clock(Arc::new(later));
    desk.expire().unwrap();
    for r in store.list(None).unwrap() {
        assert_ne!(r.state(), State::Executing, "{}", r.id());
    }
}

#[test]
fn racing_processes_get_exactly_one_winner_each_and_no_busy_error() {
    let dir = temp_dir("race");
    let db = dir.join("approvals.db");
    let ids: Vec<String> = {
        let store = Arc::new(SqliteStore::open(&db).unwrap());
        let guard = Guard::new(policy(), store, approvers());
        (0..24)
            .map(
                |i| match guard.submit(proposal(&format!("race-{i}"))).unwrap() {
                    Submitted::Waiting(w) => w.id,
                    other => panic!("{other:?}"),
                },
            )
            .collect()
    };
    let start = dir.join("go");
    let arg = format!("{}|{}", start.display(), ids.join(","));
    let mut children: Vec<_> = (0..4).map(|_| spawn("racer", &db, &arg)).collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&start, b"go").unwrap();
    let mut lines = Vec::new();
    for c in &mut children {
        lines.extend(acks(c));
        assert!(c.wait().unwrap().success());
    }
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    for id in &ids {
        for what in ["decide", "claim"] {
            let won = lines
                .iter()
                .filter(|l| **l == format!("{what}-won {id}"))
                .count();
            let lost = lines
                .iter()
                .filter(|l| **l == format!("{what}-lost {id}"))
                .count();
            assert_eq!((won, lost), (1, 3), "{what} {id}");
        }
    }
    let store = SqliteStore::open(&db).unwrap();
    for id in &ids {
        assert_eq!(store.get(id).unwrap().unwrap().state(), State::Executed);
    }
}
