//! What several test files share: scratch directories, and the approval runtime's test
//! policy, approvers and proposals.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

pub mod cases;

/// A fresh scratch directory unique to the test process and `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("holdpoint-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The approval runtime's test policy and approvers.
pub const POLICY: &str = "tests/data/approvals/refunds.gate";
/// Groups: finance (fiona, frank), finance-leads (lena), account-managers (amir), cfo (carla).
pub const APPROVERS: &str = "tests/data/approvals/approvers.yaml";

#[cfg(feature = "approvals")]
pub mod approvals {
    use std::sync::Arc;

    use holdpoint::approval::{ApproversFile, Identity, Proposal};
    use holdpoint::{Policy, ToolCall};
    use serde_json::json;

    /// The test policy, loaded.
    pub fn policy() -> Arc<Policy> {
        Arc::new(Policy::load(super::POLICY).unwrap())
    }

    /// The test approvers.
    pub fn approvers() -> Arc<ApproversFile> {
        Arc::new(ApproversFile::load(super::APPROVERS.as_ref()).unwrap())
    }

    /// The agent `support-bot`, acting for `uma` of tenant `acme`.
    pub fn identity() -> Identity {
        Identity {
            user: Some("uma".into()),
            tenant: "acme".into(),
            agent: "support-bot".into(),
            credentials_ref: Some("vault:stripe/acme".into()),
        }
    }

    /// A refund proposal in run `run-1`.
    pub fn refund(amount: i64, tier: &str, call_id: &str) -> Proposal {
        let call = ToolCall::new("refund", json!({"amount": amount, "order": "o-17"}))
            .with_context(json!({"tier": tier}));
        Proposal::new(call, identity(), "run-1", call_id)
            .with_inputs(json!({"request": "customer asked for a refund"}))
            .with_reasoning("the order arrived broken")
    }
}
