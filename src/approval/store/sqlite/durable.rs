//! Group commit: commits are written with `synchronous = NORMAL` (into the WAL, not yet
//! flushed), then each writer, after letting go of the connection, waits until one
//! `fsync` of the WAL file has covered its commit. Writers that commit while a flush runs
//! share the next one, so under load one flush makes many changes durable, and the
//! connection is never held during a flush. A change is answered only once it is durable,
//! as with `synchronous = FULL`; and since the WAL is flushed in order, whatever a durable
//! change built on (an approval under a claim) is durable too.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::approval::Error;

#[derive(Debug, Default)]
struct Progress {
    /// Commits made, numbered from 1.
    committed: u64,
    /// Every commit up to this one is on disk.
    flushed: u64,
    /// A flush is running.
    flushing: bool,
    /// The WAL file, opened at the first flush.
    wal: Option<File>,
    /// A flush failed: after that nothing is known to be on disk (the kernel may have
    /// dropped the pages it could not write), so no later change is answered as durable.
    failed: Option<String>,
}

/// Makes commits durable, several at a time.
#[derive(Debug)]
pub(super) struct GroupCommit {
    wal: PathBuf,
    progress: Mutex<Progress>,
    done: Condvar,
}

impl GroupCommit {
    /// For the database at `db` (its WAL is `db-wal`).
    pub(super) fn new(db: &Path) -> GroupCommit {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        GroupCommit {
            wal: PathBuf::from(wal),
            progress: Mutex::new(Progress::default()),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a commit (call it while still holding the connection, so the numbers follow
    /// the WAL's order); the ticket to wait for.
    pub(super) fn committed(&self) -> u64 {
        let mut p = self.lock();
        p.committed += 1;
        p.committed
    }

    /// Returns once commit `ticket` is on disk, flushing the WAL if nobody else is.
    pub(super) fn wait(&self, ticket: u64) -> Result<(), Error> {
        let mut p = self.lock();
        loop {
            // A commit an earlier flush covered stays durable whatever failed since.
            if p.flushed >= ticket {
                return Ok(());
            }
            if let Some(why) = &p.failed {
                return Err(Error::Store(format!(
                    "`{}`: the change is committed, but the store cannot make changes durable since a flush failed ({why}); restart the service once the disk is healthy",
                    self.wal.display()
                )));
            }
            if p.flushing {
                p = self.done.wait(p).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            p.flushing = true;
            let target = p.committed;
            let file = match p.wal.take() {
                Some(f) => Ok(f),
                None => File::open(&self.wal),
            };
            drop(p);
            let flushed = file.and_then(|f| f.sync_data().map(|()| f));
            p = self.lock();
            p.flushing = false;
            self.done.notify_all();
            match flushed {
                Ok(f) => {
                    p.wal = Some(f);
                    p.flushed = p.flushed.max(target);
                }
                Err(e) => p.failed = Some(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flushed_commit_stays_durable_after_a_later_flush_fails() {
        let dir = std::env::temp_dir().join(format!("holdpoint-durable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("a.db");
        std::fs::write(dir.join("a.db-wal"), b"wal").unwrap();
        let g = GroupCommit::new(&db);
        let first = g.committed();
        g.wait(first).unwrap();
        let second = g.committed();
        g.lock().failed = Some("EIO".into());
        assert!(
            g.wait(first).is_ok(),
            "the first commit was flushed before the failure"
        );
        let e = g.wait(second).unwrap_err().to_string();
        assert!(e.contains("flush failed (EIO)"), "{e}");
    }
}
