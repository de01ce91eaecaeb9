//! The JSON a caller hands over to be guarded, read into a [`Proposal`]: a bare tool call
//! (any shape [`ToolCall`] reads), or a proposal envelope
//!
//! ```json
//! {"call": {"tool": "stripe.refund", "args": {"amount": 900}},
//!  "identity": {"user": "uma", "tenant": "acme", "agent": "support-bot",
//!               "credentials_ref": "vault:stripe/acme"},
//!  "run_id": "run-1", "tool_call_id": "call-7",
//!  "inputs": {...}, "reasoning": "...", "alternatives": ["..."],
//!  "before": {...}}
//! ```
//!
//! The text is read as strictly as a bare call: a key given twice anywhere is refused, and
//! so is a field the envelope does not have (a top-level `tool` beside `call` would be a
//! second call nobody judged).
//!
//! Each identity field and id comes from what the caller states ([`Stated`]: a flag, an
//! authenticated identity), else the envelope, else the call's `context` (`user`,
//! `tenant`), else a [`Fallbacks`] value. A missing tool-call id is derived from the
//! payload and the policy, so the same call under the same policy is the same request and
//! under a changed policy a new one.

use serde_json::Value;

use super::{Identity, Payload, Proposal};
use crate::{CallError, ToolCall};

/// The fields of a proposal envelope.
const ENVELOPE_FIELDS: [&str; 8] = [
    "call",
    "identity",
    "run_id",
    "tool_call_id",
    "inputs",
    "reasoning",
    "alternatives",
    "before",
];

/// What the caller states about a proposal; each field given wins over the envelope's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stated {
    /// The user the agent acts for.
    pub user: Option<String>,
    /// The tenant.
    pub tenant: Option<String>,
    /// The agent.
    pub agent: Option<String>,
    /// A reference to the credentials the call would use (never the secret).
    pub credentials_ref: Option<String>,
    /// The run id.
    pub run_id: Option<String>,
    /// The tool-call id.
    pub tool_call_id: Option<String>,
    /// The agent's reasoning.
    pub reasoning: Option<String>,
    /// The inputs that led to the call.
    pub inputs: Option<Value>,
}

/// What a proposal gets when neither the caller, the envelope nor the call says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallbacks {
    /// The tenant (`default`).
    pub tenant: String,
    /// The agent (`agent`).
    pub agent: String,
    /// The run id (`run`).
    pub run_id: String,
}

impl Default for Fallbacks {
    fn default() -> Fallbacks {
        Fallbacks {
            tenant: "default".into(),
            agent: "agent".into(),
            run_id: "run".into(),
        }
    }
}

/// JSON that is not a call or a proposal envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnvelopeError(String);

impl Proposal {
    /// Reads a tool call or a proposal envelope (see the [module docs](self)).
    /// `policy_hash` is [`super::policy_hash`] of the policy that will judge it.
    pub fn from_json(
        text: &str,
        stated: &Stated,
        fallbacks: &Fallbacks,
        policy_hash: &str,
    ) -> Result<Proposal, EnvelopeError> {
        let bad = |m: String| EnvelopeError(m);
        // Read as strictly as a bare call: a key given twice anywhere, the envelope's
        // own keys included, is refused.
        let value = crate::parse_json(text).map_err(|e| {
            bad(match e.classify() {
                serde_json::error::Category::Data => CallError::Shape(e.to_string()),
                _ => CallError::Json(e.to_string()),
            }
            .to_string())
        })?;
        let (call, env) = match value {
            Value::Object(mut m) if m.get("call").is_some_and(Value::is_object) => {
                // A field beside `call` that the envelope does not have (a top-level
                // `tool`, a `params` wrapper) is a second call nobody would judge.
                if let Some(k) = m.keys().find(|k| !ENVELOPE_FIELDS.contains(&k.as_str())) {
                    let known: Vec<String> =
                        ENVELOPE_FIELDS.iter().map(|k| format!("`{k}`")).collect();
                    return Err(bad(format!(
                        "not a proposal: unknown field `{k}` beside `call` (a proposal envelope has: {})",
                        known.join(", ")
                    )));
                }
                let call = m.remove("call").unwrap_or(Value::Null);
                (ToolCall::from_value(call), Value::Object(m))
            }
            bare => (ToolCall::from_value(bare), Value::Null),
        };
        let call = call.map_err(|e| bad(e.to_string()))?;
        let identity = identity(&call, &env, stated, fallbacks)?;
        let run_id = stated
            .run_id
            .clone()
            .or_else(|| str_field(&env, "run_id"))
            .unwrap_or_else(|| fallbacks.run_id.clone());
        let call_id = stated
            .tool_call_id
            .clone()
            .or_else(|| str_field(&env, "tool_call_id"))
            .unwrap_or_else(|| derived_call_id(&call, policy_hash));
        let inputs = stated
            .inputs
            .clone()
            .unwrap_or_else(|| env.get("inputs").cloned().unwrap_or(Value::Null));
        let alternatives = match env.get("alternatives") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| bad(format!("`alternatives` must be a list of strings: {e}")))?,
        };
        let mut p = Proposal::new(call, identity, run_id, call_id)
            .with_inputs(inputs)
            .with_alternatives(alternatives);
        p.before = env.get("before").filter(|v| !v.is_null()).cloned();
        for (what, v) in [("inputs", Some(&p.inputs)), ("before", p.before.as_ref())] {
            if let Some(v) = v {
                crate::json::check_nesting(what, v).map_err(bad)?;
            }
        }
        p.reasoning = stated
            .reasoning
            .clone()
            .or_else(|| str_field(&env, "reasoning"));
        Ok(p)
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Each identity field: stated, else the envelope's, else the call's context, else the
/// fallback.
fn identity(
    call: &ToolCall,
    env: &Value,
    stated: &Stated,
    fallbacks: &Fallbacks,
) -> Result<Identity, EnvelopeError> {
    let given = match env.get("identity") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => return Err(EnvelopeError("`identity` must be a JSON object".into())),
    };
    for key in ["user", "tenant", "agent", "credentials_ref"] {
        match given.get(key) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => return Err(EnvelopeError(format!("`identity.{key}` must be a string"))),
        }
    }
    let pick = |s: &Option<String>, key: &str| s.clone().or_else(|| str_field(&given, key));
    Ok(Identity {
        user: pick(&stated.user, "user").or_else(|| str_field(&call.context, "user")),
        tenant: pick(&stated.tenant, "tenant")
            .or_else(|| str_field(&call.context, "tenant"))
            .unwrap_or_else(|| fallbacks.tenant.clone()),
        agent: pick(&stated.agent, "agent").unwrap_or_else(|| fallbacks.agent.clone()),
        credentials_ref: pick(&stated.credentials_ref, "credentials_ref"),
    })
}

/// `payload-<16 hex of the payload digest>-<16 hex of the policy hash>`.
fn derived_call_id(call: &ToolCall, policy_hash: &str) -> String {
    let payload = Payload {
        tool: call.tool.clone(),
        args: call.args.clone(),
    };
    let hex = |d: &str| -> String {
        let hex = d.strip_prefix("sha256:").unwrap_or(d);
        hex.chars().take(16).collect()
    };
    format!("payload-{}-{}", hex(&payload.digest()), hex(policy_hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "sha256:00112233445566778899aabbccddeeff";

    fn read(text: &str, stated: &Stated) -> Result<Proposal, EnvelopeError> {
        Proposal::from_json(text, stated, &Fallbacks::default(), HASH)
    }

    #[test]
    fn a_key_given_twice_anywhere_in_an_envelope_is_refused() {
        for text in [
            r#"{"call":{"tool":"refund","args":{"amount":1,"amount":100000}},"run_id":"r"}"#,
            r#"{"call":{"tool":"refund","args":{}},"identity":{"user":"uma","user":"fiona"}}"#,
            r#"{"call":{"tool":"refund","args":{}},"tool_call_id":"a","tool_call_id":"b"}"#,
            r#"{"call":{"tool":"a","args":{}},"call":{"tool":"b","args":{}}}"#,
        ] {
            let err = read(text, &Stated::default()).unwrap_err();
            assert!(err.to_string().contains("given twice"), "{text}: {err}");
        }
    }

    #[test]
    fn a_bare_call_takes_its_identity_from_the_context_and_the_fallbacks() {
        let p = read(
            r#"{"tool":"refund","args":{"amount":5},"context":{"user":"uma","tenant":"acme"}}"#,
            &Stated::default(),
        )
        .unwrap();
        assert_eq!(p.identity.user.as_deref(), Some("uma"));
        assert_eq!(p.identity.tenant, "acme");
        assert_eq!(p.identity.agent, "agent");
        assert_eq!(p.run_id, "run");
        assert!(p.tool_call_id.starts_with("payload-"), "{}", p.tool_call_id);
        assert!(
            p.tool_call_id.ends_with("-0011223344556677"),
            "{}",
            p.tool_call_id
        );
    }

    #[test]
    fn what_the_caller_states_wins_over_the_envelope() {
        let text = r#"{"call":{"tool":"refund","args":{}},
            "identity":{"user":"uma","agent":"bot","tenant":"acme"},
            "run_id":"r1","tool_call_id":"c1","reasoning":"because","alternatives":["wait"]}"#;
        let p = read(text, &Stated::default()).unwrap();
        assert_eq!(
            (
                p.identity.agent.as_str(),
                p.run_id.as_str(),
                p.tool_call_id.as_str()
            ),
            ("bot", "r1", "c1")
        );
        assert_eq!(p.reasoning.as_deref(), Some("because"));
        assert_eq!(p.alternatives, vec!["wait".to_string()]);
        let stated = Stated {
            user: Some("vic".into()),
            tool_call_id: Some("c2".into()),
            ..Stated::default()
        };
        let p = read(text, &stated).unwrap();
        assert_eq!(p.identity.user.as_deref(), Some("vic"));
        assert_eq!(p.tool_call_id, "c2");
    }

    #[test]
    fn the_derived_call_id_follows_the_payload_and_the_policy() {
        let a = read(r#"{"tool":"t","args":{"n":1}}"#, &Stated::default()).unwrap();
        let b = read(r#"{"args":{"n":1},"tool":"t"}"#, &Stated::default()).unwrap();
        let c = read(r#"{"tool":"t","args":{"n":2}}"#, &Stated::default()).unwrap();
        assert_eq!(a.tool_call_id, b.tool_call_id);
        assert_ne!(a.tool_call_id, c.tool_call_id);
        let other = Proposal::from_json(
            r#"{"tool":"t","args":{"n":1}}"#,
            &Stated::default(),
            &Fallbacks::default(),
            "sha256:ffff",
        )
        .unwrap();
        assert_ne!(a.tool_call_id, other.tool_call_id);
    }

    /// Before: the envelope was read leniently, so a key given twice kept its last value
    /// (here the harmless call, or a harmless user) while a reader that keeps the first
    /// would run the `DROP`.
    #[test]
    fn a_key_given_twice_in_an_envelope_is_refused() {
        for (text, words) in [
            (
                r#"{"call":{"tool":"db.execute","args":{"sql":"DROP TABLE t"}},"call":{"tool":"crm.get"}}"#,
                "the key `call` is given twice",
            ),
            (
                r#"{"call":{"tool":"db.execute","args":{"sql":"x","sql":"DROP TABLE t"}}}"#,
                "the key `sql` is given twice in `call.args`",
            ),
            (
                r#"{"call":{"tool":"t"},"identity":{"user":"uma","user":"mallory"}}"#,
                "the key `user` is given twice in `identity`",
            ),
        ] {
            let e = read(text, &Stated::default()).unwrap_err().to_string();
            assert!(e.contains(words), "{text}: {e}");
        }
    }

    /// Before: the envelope's `call` was judged (the harmless `crm.get`) and the top-level
    /// call beside it, which a reader of plain calls would run, was ignored.
    #[test]
    fn an_envelope_with_a_call_beside_its_call_is_refused() {
        for text in [
            r#"{"call":{"tool":"crm.get"},"tool":"db.execute","args":{"sql":"DROP TABLE t"}}"#,
            r#"{"call":{"tool":"crm.get"},"params":{"name":"db.execute","arguments":{}}}"#,
            r#"{"call":{"tool":"crm.get"},"run":"r1"}"#,
        ] {
            let e = read(text, &Stated::default()).unwrap_err().to_string();
            assert!(e.contains("unknown field"), "{text}: {e}");
            assert!(e.contains("`call`, `identity`"), "{text}: {e}");
        }
    }

    #[test]
    fn malformed_envelopes_say_what_is_wrong() {
        for (text, words) in [
            ("{", "not valid JSON"),
            (
                r#"{"call":{"tool":"t"},"identity":"uma"}"#,
                "`identity` must be a JSON object",
            ),
            (
                r#"{"call":{"tool":"t"},"identity":{"user":7}}"#,
                "`identity.user` must be a string",
            ),
            (
                r#"{"call":{"tool":"t"},"alternatives":"x"}"#,
                "`alternatives` must be a list",
            ),
        ] {
            let e = read(text, &Stated::default()).unwrap_err().to_string();
            assert!(e.contains(words), "{text}: {e}");
        }
    }
}
