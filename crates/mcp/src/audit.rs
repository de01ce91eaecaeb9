//! The audit record of calls the policy audits: one JSON line each, appended to a file
//! and flushed before the call's result goes back to the client.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use crate::GatewayError;

/// One audit record as a JSON line (without its newline): when, the tool as the policy
/// names it, the arguments forwarded, the rules, and whether the upstream reported an
/// error.
pub fn record_line(tool: &str, args: &Value, rules: &[String], upstream_error: bool) -> String {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    json!({
        "at_ms": at_ms, "tool": tool, "args": args, "rules": rules,
        "effect": "audit", "upstream_error": upstream_error,
    })
    .to_string()
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

    /// Appends one record: when, the tool as the policy names it, the arguments that
    /// were forwarded, the rules, and whether the upstream reported an error.
    pub async fn record(
        &self,
        tool: &str,
        args: &Value,
        rules: &[String],
        upstream_error: bool,
    ) -> Result<(), GatewayError> {
        let mut line = record_line(tool, args, rules, upstream_error);
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
