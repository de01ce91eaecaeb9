//! The service's data directory: the SQLite store, the signing key and the token hashes.
//! Only the service reads it; agents and approvers reach what it holds through the API.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

mod tokens;

/// How every service token begins (a bearer token without it is taken for a JWT when
/// JWTs are configured).
pub const TOKEN_PREFIX: &str = "hpt_";

/// A problem with the data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file does not read.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The system has no randomness to give.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// An agent, and the tenants it may act for.
    Agent {
        /// The agent's name (what checkpoints record).
        name: String,
        /// The tenants it may act for.
        tenants: Vec<String>,
    },
    /// An approver (a person; groups come from approvers.yaml).
    Approver {
        /// The approver's identity.
        id: String,
    },
}

/// One stored token: its hash, never the token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    hash: String,
    holder: Holder,
    created_at: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<StoredToken>,
}

/// The data directory. Clones share one in-memory copy of the token hashes.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
    cache: std::sync::Arc<tokens::TokenCache>,
}

impl DataDir {
    /// Opens the directory, creating it (readable by its owner only) if missing.
    pub fn open(root: &Path) -> Result<DataDir, DataError> {
        std::fs::create_dir_all(root).map_err(|e| io(root, &e))?;
        restrict(root, 0o700);
        Ok(DataDir {
            root: root.to_path_buf(),
            cache: std::sync::Arc::new(tokens::TokenCache::new(root.join(TOKENS))),
        })
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite file.
    pub fn database(&self) -> PathBuf {
        self.root.join("approvals.db")
    }

    fn key_path(&self) -> PathBuf {
        self.root.join("signing.key")
    }

    fn tokens_path(&self) -> PathBuf {
        self.root.join(TOKENS)
    }

    /// The Ed25519 signing key (32 bytes), created on first use in a file only the
    /// service's user may read.
    pub fn signing_key(&self) -> Result<[u8; 32], DataError> {
        let path = self.key_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let bytes =
                    URL_SAFE_NO_PAD
                        .decode(text.trim())
                        .map_err(|e| DataError::Invalid {
                            path: path.clone(),
                            message: format!("not a signing key: {e}"),
                        })?;
                bytes.try_into().map_err(|_| DataError::Invalid {
                    path,
                    message: "not a 32-byte signing key".into(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = random::<32>()?;
                write_private(&path, URL_SAFE_NO_PAD.encode(key).as_bytes())?;
                Ok(key)
            }
            Err(e) => Err(io(&path, &e)),
        }
    }

    /// Creates a token for `holder`: gives the token (shown once), stores only its hash.
    pub fn create_token(&self, holder: Holder, now: i64) -> Result<String, DataError> {
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()?));
        let mut file = self.tokens()?;
        file.tokens.push(StoredToken {
            hash: hash(&token),
            holder,
            created_at: now,
        });
        let text = serde_json::to_string_pretty(&file).map_err(|e| DataError::Invalid {
            path: self.tokens_path(),
            message: e.to_string(),
        })?;
        write_private(&self.tokens_path(), text.as_bytes())?;
        Ok(token)
    }

    /// Who holds `token`, if anyone: looked up by its hash in memory (see
    /// [`tokens`](self) for when `tokens.json` is read again).
    pub fn holder(&self, token: &str) -> Result<Option<Holder>, DataError> {
        self.cache.holder(&digest(token))
    }

    /// Who holds the token with this SHA-256 ([`token_digest`]), if it is still there.
    pub fn holder_of_digest(&self, digest: &[u8; 32]) -> Result<Option<Holder>, DataError> {
        self.cache.holder(digest)
    }

    fn tokens(&self) -> Result<TokenFile, DataError> {
        read_tokens(&self.tokens_path())
    }
}

/// The token file's name in the data directory.
const TOKENS: &str = "tokens.json";

/// Reads the token file (none yet: no tokens).
fn read_tokens(path: &Path) -> Result<TokenFile, DataError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| DataError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(io(path, &e)),
    }
}

/// The hash a token is stored as.
fn hash(token: &str) -> String {
    format!("sha256:{}", URL_SAFE_NO_PAD.encode(digest(token)))
}

/// A token's SHA-256: what the cache looks it up by (no allocation on the hot path).
pub fn token_digest(token: &str) -> [u8; 32] {
    digest(token)
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The digest a stored hash (`sha256:BASE64`) names, if it is one.
fn stored_digest(hash: &str) -> Option<[u8; 32]> {
    let b64 = hash.strip_prefix("sha256:")?;
    URL_SAFE_NO_PAD.decode(b64).ok()?.try_into().ok()
}

/// `N` random bytes from the operating system.
pub fn random<const N: usize>() -> Result<[u8; N], DataError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| DataError::Random(e.to_string()))?;
    Ok(buf)
}

/// Writes a file only its owner may read, through a temporary file and a rename.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, &e))?;
    restrict(&tmp, 0o600);
    f.write_all(bytes).map_err(|e| io(&tmp, &e))?;
    f.sync_all().map_err(|e| io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, &e))
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32) {}

fn io(path: &Path, e: &std::io::Error) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
