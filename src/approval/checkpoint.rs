//! The checkpoint: everything a person needs to decide a waiting call, written once when the
//! call is stopped and never changed afterwards.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::digest;
use crate::DecisionReport;

/// The version of the checkpoint format this build writes and reads.
pub const CHECKPOINT_VERSION: u32 = 1;

/// What would execute: the tool and its arguments, exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    /// The tool's name.
    pub tool: String,
    /// Its arguments (a JSON object).
    pub args: Value,
}

impl Payload {
    /// The canonical JSON text of the payload: the bytes its digest is taken over.
    pub fn canonical(&self) -> String {
        digest::canonical_json(&serde_json::json!({"tool": self.tool, "args": self.args}))
    }

    /// `sha256:` and the hex SHA-256 of [`Payload::canonical`].
    pub fn digest(&self) -> String {
        digest::sha256(self.canonical().as_bytes())
    }
}

/// Who the agent acts for. The credentials are only ever named, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Identity {
    /// The person the agent acts for; they may never approve their own request.
    #[serde(default)]
    pub user: Option<String>,
    /// The tenant (organisation) the call belongs to.
    pub tenant: String,
    /// The agent's own identity; it may never approve anything.
    pub agent: String,
    /// A reference to the credentials the call would run with (a vault path, a key id),
    /// never the secret itself.
    #[serde(default)]
    pub credentials_ref: Option<String>,
}

/// Which policy decided, bound by the hash of its sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    /// `policy "name"`, if the policy has one.
    pub name: Option<String>,
    /// The policy hash (see [`crate::approval::policy_hash`]).
    pub hash: String,
    /// Where the policy was loaded from, when known (the CLI uses it to find the policy
    /// and its `approvers.yaml` again).
    #[serde(default)]
    pub path: Option<String>,
    /// The tool catalog given in place of the policy's own (`--tools`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
}

/// What an agent hands over with a call that may have to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The call: tool, arguments, context.
    pub call: crate::ToolCall,
    /// Who the agent acts for.
    pub identity: Identity,
    /// The agent run (conversation, workflow instance) the call belongs to.
    pub run_id: String,
    /// The call's id within the run (the model's tool-call id).
    pub tool_call_id: String,
    /// What led here: the original request, retrieved context, prior tool results.
    pub inputs: Value,
    /// The agent's reasoning for this call.
    pub reasoning: Option<String>,
    /// Alternatives the agent considered.
    pub alternatives: Vec<String>,
    /// The current state of what the call changes (the record before an update), so an
    /// approver sees a diff, not a document. The agent's word: shown, never trusted.
    pub before: Option<Value>,
}

impl Proposal {
    /// A proposal with empty inputs and no reasoning.
    pub fn new(
        call: crate::ToolCall,
        identity: Identity,
        run_id: impl Into<String>,
        tool_call_id: impl Into<String>,
    ) -> Proposal {
        Proposal {
            call,
            identity,
            run_id: run_id.into(),
            tool_call_id: tool_call_id.into(),
            inputs: Value::Null,
            reasoning: None,
            alternatives: Vec::new(),
            before: None,
        }
    }

    /// Sets the state before the call (what the approver's diff starts from).
    pub fn with_before(mut self, before: Value) -> Proposal {
        self.before = Some(before);
        self
    }

    /// Sets the inputs that led to the call.
    pub fn with_inputs(mut self, inputs: Value) -> Proposal {
        self.inputs = inputs;
        self
    }

    /// Sets the agent's reasoning.
    pub fn with_reasoning(mut self, reasoning: impl Into<String>) -> Proposal {
        self.reasoning = Some(reasoning.into());
        self
    }

    /// Sets the alternatives the agent considered.
    pub fn with_alternatives(mut self, alternatives: Vec<String>) -> Proposal {
        self.alternatives = alternatives;
        self
    }
}

/// The durable record of a stopped call. Plain data; serialized as versioned JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The format version ([`CHECKPOINT_VERSION`]).
    pub version: u32,
    /// The request's id.
    pub request_id: String,
    /// The call as proposed.
    pub payload: Payload,
    /// The SHA-256 of the payload's canonical text.
    pub payload_digest: String,
    /// The call's context (confidence, tier, environment ...).
    pub context: Value,
    /// The decision, with every gate that fired and its options.
    pub decision: DecisionReport,
    /// What led to the call (free JSON from the agent).
    pub inputs: Value,
    /// The agent's reasoning.
    pub reasoning: Option<String>,
    /// Alternatives the agent considered.
    pub alternatives: Vec<String>,
    /// The state before the call, as the agent described it (absent when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// Who the agent acts for.
    pub identity: Identity,
    /// The policy that decided.
    pub policy: PolicyRef,
    /// The agent run.
    pub run_id: String,
    /// The call's id within the run.
    pub tool_call_id: String,
    /// When the call was stopped (milliseconds since the Unix epoch).
    pub created_at: i64,
}

impl Checkpoint {
    /// The digest of the checkpoint's canonical JSON (recorded in the `created` event, so
    /// `verify` notices a checkpoint changed afterwards). A gate's quorum of 1 (what a
    /// gate without `by N of` needs) is left out, so a checkpoint stored before gates had
    /// a quorum keeps the digest it was recorded with.
    pub fn digest(&self) -> String {
        match serde_json::to_value(self) {
            Ok(mut v) => {
                omit_default_quorums(&mut v);
                digest::of_json(&v)
            }
            Err(e) => digest::sha256(e.to_string().as_bytes()),
        }
    }

    /// Reads a checkpoint from JSON, refusing versions this build does not know.
    pub fn from_json(text: &str) -> Result<Checkpoint, super::Error> {
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<Value>,
        }
        let v: Versioned = serde_json::from_str(text)
            .map_err(|e| super::Error::Corrupt(format!("checkpoint is not JSON: {e}")))?;
        match v.version.as_ref().and_then(Value::as_u64) {
            Some(n) if n == u64::from(CHECKPOINT_VERSION) => {}
            Some(n) => {
                let request = serde_json::from_str::<Value>(text)
                    .ok()
                    .and_then(|v| v.get("request_id")?.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(super::Error::UnknownVersion { request, found: n });
            }
            None => {
                return Err(super::Error::Corrupt(
                    "checkpoint has no numeric `version`".into(),
                ));
            }
        }
        serde_json::from_str(text)
            .map_err(|e| super::Error::Corrupt(format!("checkpoint does not read: {e}")))
    }
}

/// Removes `"quorum": 1` from each gate of a checkpoint's decision.
fn omit_default_quorums(checkpoint: &mut Value) {
    let gates = checkpoint
        .pointer_mut("/decision/approval/gates")
        .and_then(Value::as_array_mut);
    for gate in gates.into_iter().flatten() {
        if let Some(g) = gate.as_object_mut()
            && g.get("quorum").and_then(Value::as_u64) == Some(1)
        {
            g.remove("quorum");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(source: &str) -> Checkpoint {
        let policy = crate::Policy::from_source(source).unwrap();
        let call = crate::ToolCall::from_json(r#"{"tool":"pay","args":{"amount":5}}"#).unwrap();
        let payload = Payload {
            tool: call.tool.clone(),
            args: call.args.clone(),
        };
        Checkpoint {
            version: CHECKPOINT_VERSION,
            request_id: "hp_1".into(),
            payload_digest: payload.digest(),
            payload,
            context: Value::Null,
            decision: policy.evaluate(&call).report(&call),
            inputs: Value::Null,
            reasoning: None,
            alternatives: Vec::new(),
            before: None,
            identity: Identity::default(),
            policy: PolicyRef {
                name: None,
                hash: "h".into(),
                path: None,
                catalog: None,
            },
            run_id: "r".into(),
            tool_call_id: "c".into(),
            created_at: 0,
        }
    }

    /// Before: reading a checkpoint stored without `quorum` gave it a quorum of 1, which its
    /// JSON then held, so `verify` found a digest other than the one recorded.
    #[test]
    fn a_checkpoint_stored_before_quorums_keeps_its_digest() {
        let c = checkpoint("default allow\napprove a { when tool == \"pay\" by \"f\" }\n");
        let mut old = serde_json::to_value(&c).unwrap();
        let gate = old.pointer_mut("/decision/approval/gates/0").unwrap();
        assert_eq!(
            gate.as_object_mut().unwrap().remove("quorum"),
            Some(1.into())
        );
        // The digest the build before quorums recorded for it.
        let recorded = digest::of_json(&old);
        let read = Checkpoint::from_json(&old.to_string()).unwrap();
        assert_eq!(read.decision.approval.as_ref().unwrap().gates[0].quorum, 1);
        assert_eq!(read.digest(), recorded);
        assert_eq!(c.digest(), recorded);
        // A quorum that is written is part of the digest.
        let two = checkpoint("default allow\napprove a { when tool == \"pay\" by 2 of \"f\" }\n");
        assert_ne!(two.digest(), c.digest());
    }
}
