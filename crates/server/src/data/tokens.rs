//! The token hashes, held in memory: a lookup is a hash-map read, not a file read. The
//! file is looked at again (its size, modification time and inode, then its text only
//! when one changed) at most once a second while tokens are found, and at once when a
//! token is not, so `policy tokens create` while the service runs works at the next call,
//! and a token removed from `tokens.json` stops working within about a second.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

use super::{DataError, Holder, io, read_tokens, stored_digest};

/// How long a found token is trusted without looking at the file again.
const RECHECK: Duration = Duration::from_secs(1);

/// What identifies one version of `tokens.json` (it is replaced by a rename on each write,
/// so its inode changes too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

#[derive(Debug, Default)]
struct Cached {
    /// The file's stamp when it was read (`None`: it did not exist); `None`
    /// before the first read.
    stamp: Option<Option<Stamp>>,
    /// When the stamp was last compared with the file's.
    checked: Option<Instant>,
    /// Holders by token digest (entries whose hash does not read are never found).
    holders: HashMap<[u8; 32], Holder>,
}

/// The token hashes of one data directory, in memory.
#[derive(Debug)]
pub(super) struct TokenCache {
    path: PathBuf,
    state: RwLock<Cached>,
}

impl TokenCache {
    /// A cache of `path`, read at the first lookup.
    pub(super) fn new(path: PathBuf) -> TokenCache {
        TokenCache {
            path,
            state: RwLock::new(Cached::default()),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Cached> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Who holds the token with this digest, if anyone.
    pub(super) fn holder(&self, hash: &[u8; 32]) -> Result<Option<Holder>, DataError> {
        {
            let cached = self.read();
            let fresh = cached.checked.is_some_and(|t| t.elapsed() < RECHECK);
            if fresh && let Some(h) = cached.holders.get(hash) {
                return Ok(Some(h.clone()));
            }
        }
        self.refresh()?;
        Ok(self.read().holders.get(hash).cloned())
    }

    /// Reads the file again if it changed since it was read.
    fn refresh(&self) -> Result<(), DataError> {
        // The stamp is taken before the text: a write in between is read again next time.
        let stamp = stamp(&self.path)?;
        let unchanged = self.read().stamp == Some(stamp);
        let mut cached = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if !unchanged {
            let file = read_tokens(&self.path)?;
            cached.holders = file
                .tokens
                .into_iter()
                .filter_map(|t| Some((stored_digest(&t.hash)?, t.holder)))
                .collect();
            cached.stamp = Some(stamp);
        }
        cached.checked = Some(Instant::now());
        Ok(())
    }
}

/// The file's stamp, or `None` when there is no file yet.
fn stamp(path: &Path) -> Result<Option<Stamp>, DataError> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            inode: inode(&m),
        })),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path, &e)),
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

#[cfg(not(unix))]
fn inode(_m: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::super::{DataDir, Holder};

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("holdpoint-tokens-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn approver(id: &str) -> Holder {
        Holder::Approver { id: id.into() }
    }

    #[test]
    fn a_token_created_after_the_first_lookup_is_found_at_once() {
        let dir = DataDir::open(&scratch("created")).unwrap();
        assert_eq!(dir.holder("hpt_nothing-yet").unwrap(), None);
        let first = dir.create_token(approver("fiona"), 0).unwrap();
        assert_eq!(dir.holder(&first).unwrap(), Some(approver("fiona")));
        // Another process (`policy tokens create`) writes the file while this one serves.
        let other = DataDir::open(dir.root()).unwrap();
        let second = other.create_token(approver("frank"), 0).unwrap();
        assert_eq!(dir.holder(&second).unwrap(), Some(approver("frank")));
        assert_eq!(dir.holder(&first).unwrap(), Some(approver("fiona")));
        assert_eq!(dir.holder("hpt_unknown").unwrap(), None);
    }

    #[test]
    fn a_token_removed_from_the_file_stops_working_within_about_a_second() {
        let dir = DataDir::open(&scratch("removed")).unwrap();
        let token = dir.create_token(approver("fiona"), 0).unwrap();
        assert_eq!(dir.holder(&token).unwrap(), Some(approver("fiona")));
        std::fs::write(dir.root().join("tokens.json"), r#"{"tokens": []}"#).unwrap();
        std::thread::sleep(super::RECHECK + std::time::Duration::from_millis(100));
        assert_eq!(dir.holder(&token).unwrap(), None);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it_not_an_empty_set() {
        let dir = DataDir::open(&scratch("broken")).unwrap();
        std::fs::write(dir.root().join("tokens.json"), "{not json").unwrap();
        let e = dir.holder("hpt_x").unwrap_err().to_string();
        assert!(e.contains("tokens.json"), "{e}");
    }
}
