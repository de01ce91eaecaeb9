//! The audit record of calls the policy audits, and of calls their requester confirmed:
//! one JSON line each, appended to a file and flushed before the call's result goes back
//! to the client.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::GatewayError;

/// One call that ran and is recorded.
pub struct Record<'a> {
    /// The tool as the policy names it.
    pub tool: &'a str,
    /// The arguments forwarded.
    pub args: &'a Value,
    /// The rules that decided.
    pub rules: &'a [String],
    /// `audit`, or `approve` for a call its requester confirmed.
    pub effect: &'a str,
    /// Who confirmed it (a call the policy lets its requester confirm).
    pub confirmed_by: Option<&'a str>,
    /// The MCP client that asked them, as it named itself.
    pub client: Option<&'a str>,
    /// Whether the upstream reported an error.
    pub upstream_error: bool,
}

/// One record as a JSON line (without its newline): when, the tool, the arguments
/// forwarded, the rules, the effect, who confirmed (when someone did), and whether the
/// upstream reported an error.
pub fn record_line(r: &Record<'_>) -> String {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut line = json!({
        "at_ms": at_ms, "tool": r.tool, "args": r.args, "rules": r.rules,
        "effect": r.effect, "upstream_error": r.upstream_error,
    });
    if let Value::Object(m) = &mut line {
        if let Some(by) = r.confirmed_by {
            m.insert("confirmed_by".into(), Value::String(by.to_string()));
        }
        if let Some(client) = r.client {
            m.insert("client".into(), Value::String(client.to_string()));
        }
    }
    line.to_string()
}

/// An append-only JSON Lines file of audited calls.
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<tokio::fs::File>,
}

impl AuditLog {
    /// Opens (or creates) the file for appending.
    pub async fn open(path: &Path) -> Result<AuditLog, GatewayError> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|source| GatewayError::Audit {
                path: path.display().to_string(),
                source,
            })?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends one record ([`record_line`]) and flushes it to the disk.
    pub async fn record(&self, record: &Record<'_>) -> Result<(), GatewayError> {
        let mut line = record_line(record);
        line.push('\n');
        let mut file = self.file.lock().await;
        let written = async {
            file.write_all(line.as_bytes()).await?;
            file.sync_data().await
        };
        written.await.map_err(|source| GatewayError::Audit {
            path: self.path.display().to_string(),
            source,
        })
    }
}
