//! Signed permits: what the approval service hands an agent with an approved call, and what
//! a tool server checks before it runs the call (feature `permits`).
//!
//! A permit is `hp1.BODY.SIGNATURE`: BODY is the base64url (no padding) of a JSON object
//! ([`PermitClaims`]: request id, tool, the digest of the canonical arguments, tenant,
//! expiry, nonce, key id), SIGNATURE the base64url of the service's Ed25519 signature of
//! exactly those BODY bytes. A verifier needs only the service's public key
//! (`GET /v1/keys`): [`verify`] checks the signature, the expiry, and that the call about to
//! run is the approved one (same tool, same canonical arguments), so a call that was not
//! approved, or was changed after approval, is refused even by code that bypasses the
//! agent.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpoint::Payload;

/// The prefix of this permit format.
pub const PERMIT_PREFIX: &str = "hp1";

/// What a permit says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitClaims {
    /// The request it came from.
    pub request: String,
    /// The tool the call may run.
    pub tool: String,
    /// The digest of the payload (tool and canonical arguments) approved.
    pub digest: String,
    /// The tenant the call acts in.
    pub tenant: String,
    /// When it stops being valid (milliseconds since the Unix epoch).
    pub expires_at: i64,
    /// A value used once (so two permits never look alike).
    pub nonce: String,
    /// Which of the service's keys signed it.
    pub key_id: String,
}

/// Why a permit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PermitError {
    /// Not a permit of this format.
    #[error("not a holdpoint permit: {0}")]
    Malformed(String),
    /// The signature does not verify with the key.
    #[error("the permit's signature does not verify with this key")]
    BadSignature,
    /// The permit ran out.
    #[error("the permit expired at {0} (milliseconds since the Unix epoch)")]
    Expired(i64),
    /// The call is not the one the permit is for.
    #[error("the permit is for {expected}, not for this call ({found})")]
    WrongCall {
        /// What the permit allows.
        expected: String,
        /// What was about to run.
        found: String,
    },
    /// A key that is not an Ed25519 public key.
    #[error("not an Ed25519 public key: {0}")]
    BadKey(String),
}

/// Signs claims with a 32-byte Ed25519 secret key.
pub fn sign(secret: &[u8; 32], claims: &PermitClaims) -> String {
    let key = SigningKey::from_bytes(secret);
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let sig = key.sign(&body);
    format!(
        "{PERMIT_PREFIX}.{}.{}",
        URL_SAFE_NO_PAD.encode(&body),
        URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

/// The public key of a 32-byte Ed25519 secret key, as base64url (what `GET /v1/keys`
/// publishes).
pub fn public_key(secret: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(SigningKey::from_bytes(secret).verifying_key().to_bytes())
}

/// Reads a public key published as base64url.
fn read_key(public_key: &str) -> Result<VerifyingKey, PermitError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(public_key.trim())
        .map_err(|e| PermitError::BadKey(e.to_string()))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| PermitError::BadKey("it is not 32 bytes long".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| PermitError::BadKey(e.to_string()))
}

/// Reads and checks a permit's signature, without looking at the call: the claims.
pub fn open(public_key: &str, permit: &str) -> Result<PermitClaims, PermitError> {
    let key = read_key(public_key)?;
    let mut parts = permit.trim().split('.');
    let (Some(prefix), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PermitError::Malformed("expected hp1.BODY.SIGNATURE".into()));
    };
    if prefix != PERMIT_PREFIX {
        return Err(PermitError::Malformed(format!("unknown format `{prefix}`")));
    }
    let body = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|e| PermitError::Malformed(format!("its body: {e}")))?;
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|e| PermitError::Malformed(format!("its signature: {e}")))?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| PermitError::Malformed("its signature is not 64 bytes".into()))?;
    key.verify(&body, &Signature::from_bytes(&sig))
        .map_err(|_| PermitError::BadSignature)?;
    serde_json::from_slice(&body).map_err(|e| PermitError::Malformed(format!("its claims: {e}")))
}

/// Checks that `permit`, signed by the key published as `public_key`, allows running
/// `tool` with `args` at `now_ms`: a good signature, not expired, and the same tool and
/// canonical arguments as approved. Gives the claims.
pub fn verify(
    public_key: &str,
    permit: &str,
    tool: &str,
    args: &Value,
    now_ms: i64,
) -> Result<PermitClaims, PermitError> {
    let claims = open(public_key, permit)?;
    if claims.expires_at <= now_ms {
        return Err(PermitError::Expired(claims.expires_at));
    }
    let payload = Payload {
        tool: tool.to_string(),
        args: args.clone(),
    };
    let digest = payload.digest();
    if claims.tool != tool || claims.digest != digest {
        return Err(PermitError::WrongCall {
            expected: format!("{} {}", claims.tool, claims.digest),
            found: format!("{tool} {digest}"),
        });
    }
    Ok(claims)
}

/// The service's Ed25519 key as the approvals log's signer ([`LogKey`]): each event hash is
/// signed under its own domain (`holdpoint-log-v1:`), so a log signature can never pass for
/// a permit, nor a permit for a log signature.
#[derive(Debug)]
pub struct LogSigner {
    key: SigningKey,
    id: String,
}

impl LogSigner {
    /// The signer of a 32-byte Ed25519 secret key, named `id`.
    pub fn new(secret: &[u8; 32], id: &str) -> LogSigner {
        LogSigner {
            key: SigningKey::from_bytes(secret),
            id: id.to_string(),
        }
    }
}

/// What a log signature signs.
fn log_message(hash: &str) -> Vec<u8> {
    format!("holdpoint-log-v1:{hash}").into_bytes()
}

impl super::store::LogKey for LogSigner {
    fn id(&self) -> &str {
        &self.id
    }

    fn sign(&self, hash: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(&log_message(hash)).to_bytes())
    }

    fn verify(&self, hash: &str, signature: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&bytes) else {
            return false;
        };
        self.key
            .verifying_key()
            .verify_strict(&log_message(hash), &sig)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: [u8; 32] = [7; 32];

    fn claims(args: &Value) -> PermitClaims {
        PermitClaims {
            request: "hp_1".into(),
            tool: "refund".into(),
            digest: Payload {
                tool: "refund".into(),
                args: args.clone(),
            }
            .digest(),
            tenant: "acme".into(),
            expires_at: 2_000,
            nonce: "n1".into(),
            key_id: "k1".into(),
        }
    }

    #[test]
    fn a_permit_allows_exactly_the_approved_call_until_it_expires() {
        let args = json!({"amount": 450, "order": "o-1"});
        let permit = sign(&SECRET, &claims(&args));
        let key = public_key(&SECRET);
        assert_eq!(
            verify(&key, &permit, "refund", &args, 1_000),
            Ok(claims(&args))
        );
        // The same arguments in another order are the same call.
        let reordered = json!({"order": "o-1", "amount": 450});
        assert!(verify(&key, &permit, "refund", &reordered, 1_000).is_ok());
        let more = json!({"amount": 900, "order": "o-1"});
        assert!(matches!(
            verify(&key, &permit, "refund", &more, 1_000),
            Err(PermitError::WrongCall { .. })
        ));
        assert!(matches!(
            verify(&key, &permit, "payout", &args, 1_000),
            Err(PermitError::WrongCall { .. })
        ));
        assert_eq!(
            verify(&key, &permit, "refund", &args, 2_000),
            Err(PermitError::Expired(2_000))
        );
    }

    #[test]
    fn a_forged_or_changed_permit_is_refused() {
        let args = json!({"amount": 450});
        let permit = sign(&SECRET, &claims(&args));
        let other = public_key(&[8; 32]);
        assert_eq!(
            verify(&other, &permit, "refund", &args, 0),
            Err(PermitError::BadSignature)
        );
        // A body rewritten to another amount, with the old signature.
        let mut parts: Vec<String> = permit.split('.').map(str::to_string).collect();
        let mut c = claims(&args);
        c.digest = Payload {
            tool: "refund".into(),
            args: json!({"amount": 90_000}),
        }
        .digest();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let key = public_key(&SECRET);
        assert_eq!(
            verify(
                &key,
                &parts.join("."),
                "refund",
                &json!({"amount": 90_000}),
                0
            ),
            Err(PermitError::BadSignature)
        );
        for junk in ["", "hp1.x", "hp2.a.b", "hp1.!!.!!", "hp1.YQ.YQ"] {
            assert!(
                matches!(open(&key, junk), Err(PermitError::Malformed(_))),
                "{junk}"
            );
        }
        assert!(matches!(
            open("short", &permit),
            Err(PermitError::BadKey(_))
        ));
    }
}
