//! JWTs (an OpenID Connect ID token or any JWT) verified against a JWKS file, so a
//! company's single sign-on can name the approvers: the signature with the key the token's
//! `kid` names (RS*, PS*, ES256, ES384 or EdDSA; never `alg: none` nor a shared-secret
//! HS*), `iss` equal to the configured issuer, `aud` containing the configured audience,
//! `exp` in the future and `nbf` (when present) in the past, with [`LEEWAY_S`] for clocks.
//!
//! The identity is the `email` claim (or `sub`), the groups the configured claim's names.
//! A JWT is only ever an approver's. The JWKS file is read once, at start: to take a
//! rotated key, restart the service.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::Approver;

/// The clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_S: u64 = 30;

/// Which claim names the approver: exactly one, never a fallback to the other (a token
/// without `email` must not name the same person as someone else, say by `sub`, while
/// carrying the same groups: they could decide their own request, or count twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdentityClaim {
    /// `email`, required, and refused when `email_verified` is anything but `true` or absent.
    #[default]
    Email,
    /// `sub`, required.
    Sub,
}

/// How JWTs are verified (`policy serve --jwks FILE --issuer ISS --audience AUD`).
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The JWKS file: the identity provider's public keys (`{"keys": [...]}`).
    pub jwks: PathBuf,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The audience every token's `aud` must contain.
    pub audience: String,
    /// The claim whose names are the approver's groups (default `groups`).
    pub groups_claim: String,
    /// The claim that names the approver.
    pub identity_claim: IdentityClaim,
}

/// The JWKS file does not give usable keys.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct JwksError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// One verification key and what a token signed with it must satisfy.
struct Key {
    decoding: DecodingKey,
    validation: Validation,
}

/// Verifies JWTs against the keys of a JWKS file.
pub struct Verifier {
    keys: HashMap<String, Key>,
    file: String,
    groups_claim: String,
    identity: IdentityClaim,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("file", &self.file)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Reads the JWKS file: every signing key must have a `kid` and be usable; keys marked
    /// `"use": "enc"` are skipped, and symmetric (`kty: oct`) keys are refused.
    pub fn load(config: &JwtConfig) -> Result<Verifier, JwksError> {
        let err = |message: String| JwksError {
            path: config.jwks.clone(),
            message,
        };
        if jsonwebtoken::crypto::CryptoProvider::try_get_default().is_none() {
            return Err(err("this build has no JWT crypto backend".into()));
        }
        let text = std::fs::read_to_string(&config.jwks).map_err(|e| err(e.to_string()))?;
        let set: JwkSet = serde_json::from_str(&text)
            .map_err(|e| err(format!("not a JWKS (`{{\"keys\": [...]}}`): {e}")))?;
        let mut keys = HashMap::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
                continue;
            }
            let kid = jwk
                .common
                .key_id
                .clone()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| err(format!("key {} has no `kid`", i + 1)))?;
            let key = key(jwk, config).map_err(|m| err(format!("key `{kid}`: {m}")))?;
            if keys.insert(kid.clone(), key).is_some() {
                return Err(err(format!("two keys have `kid` `{kid}`")));
            }
        }
        if keys.is_empty() {
            return Err(err("no signing key".into()));
        }
        Ok(Verifier {
            keys,
            file: config.jwks.display().to_string(),
            groups_claim: config.groups_claim.clone(),
            identity: config.identity_claim,
        })
    }

    /// The approver a JWT names, or why it is refused (a 401's message).
    pub fn verify(&self, token: &str) -> Result<Approver, String> {
        self.verify_claims(token).map(|(approver, _)| approver)
    }

    /// The approver a JWT names and all its claims (single sign-on checks the `nonce`).
    pub fn verify_claims(&self, token: &str) -> Result<(Approver, Map<String, Value>), String> {
        let (alg, kid) = header(token)?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| format!("the JWT's key `{kid}` is not in {}", self.file))?;
        if !key
            .validation
            .algorithms
            .iter()
            .any(|a| format!("{a:?}") == alg)
        {
            return Err(format!(
                "the JWT's `alg` {alg} is not one key `{kid}` signs with ({})",
                names(&key.validation.algorithms)
            ));
        }
        let claims =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &key.validation)
                .map_err(|e| refusal(&e, &kid))?
                .claims;
        let approver = Approver {
            id: self.identity_of(&claims)?,
            groups: self.groups_of(&claims)?,
        };
        Ok((approver, claims))
    }

    fn identity_of(&self, claims: &Map<String, Value>) -> Result<String, String> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::trim);
        let email = || -> Result<Option<&str>, String> {
            match claims.get("email_verified") {
                None | Some(Value::Bool(true)) => {}
                Some(_) => {
                    return Err(
                        "the JWT's `email` is not verified (`email_verified` is not `true`)".into(),
                    );
                }
            }
            Ok(text("email"))
        };
        let id = match self.identity {
            IdentityClaim::Email => email()?,
            IdentityClaim::Sub => text("sub"),
        };
        let wanted = match self.identity {
            IdentityClaim::Email => "`email`",
            IdentityClaim::Sub => "`sub`",
        };
        id.filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("the JWT has no {wanted} claim naming the approver"))
    }

    fn groups_of(&self, claims: &Map<String, Value>) -> Result<Vec<String>, String> {
        let bad = || {
            format!(
                "the JWT's `{}` claim is not a list of names",
                self.groups_claim
            )
        };
        match claims.get(&self.groups_claim) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect(),
            Some(_) => Err(bad()),
        }
    }
}

/// The key `jwk` gives, with the algorithms it may sign with and the checks a token
/// signed with it must pass.
fn key(jwk: &Jwk, config: &JwtConfig) -> Result<Key, String> {
    let family = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => return Err("only the P-256 and P-384 curves are supported".into()),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err("only Ed25519 is supported".into()),
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys (`kty: oct`, HS256…) are refused: use the identity provider's public keys".into());
        }
        _ => return Err("an unsupported key type (RSA, EC and OKP are)".into()),
    };
    let algorithms = match jwk.common.key_algorithm {
        None => family,
        Some(a) => {
            let alg = Algorithm::from_str(&a.to_string())
                .ok()
                .filter(|alg| family.contains(alg))
                .ok_or_else(|| format!("`alg` {a} is not a signature this key can make"))?;
            vec![alg]
        }
    };
    let decoding = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable: {e}"))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.algorithms = algorithms;
    validation.leeway = LEEWAY_S;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    Ok(Key {
        decoding,
        validation,
    })
}

/// The `alg` and `kid` of a JWT's header, refusing what is not a signed JWT.
fn header(token: &str) -> Result<(String, String), String> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the bearer token is neither a service token nor a JWT".into());
    };
    let head: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or("the JWT's header is not base64url JSON")?;
    let alg = head.get("alg").and_then(Value::as_str).unwrap_or_default();
    if alg.is_empty() || alg.eq_ignore_ascii_case("none") {
        return Err("an unsigned JWT (`alg: none`) is refused".into());
    }
    if alg.to_ascii_uppercase().starts_with("HS") {
        return Err(format!(
            "a shared-secret JWT (`alg: {alg}`) is refused: sign with RS256, ES256 or EdDSA"
        ));
    }
    let kid = head
        .get("kid")
        .and_then(Value::as_str)
        .ok_or("the JWT's header names no key (`kid`)")?;
    Ok((alg.to_string(), kid.to_string()))
}

/// Why the crate refused a token, for the caller.
fn refusal(e: &jsonwebtoken::errors::Error, kid: &str) -> String {
    match e.kind() {
        ErrorKind::InvalidSignature => {
            format!("the JWT's signature does not verify with key `{kid}`")
        }
        ErrorKind::ExpiredSignature => "the JWT has expired (`exp`)".into(),
        ErrorKind::ImmatureSignature => "the JWT is not valid yet (`nbf`)".into(),
        ErrorKind::InvalidIssuer => "the JWT's issuer (`iss`) is not the one configured".into(),
        ErrorKind::InvalidAudience => {
            "the JWT's audience (`aud`) does not include this service".into()
        }
        ErrorKind::MissingRequiredClaim(c) => format!("the JWT has no `{c}` claim"),
        ErrorKind::InvalidClaimFormat(c) => format!("the JWT's `{c}` claim is malformed"),
        ErrorKind::InvalidAlgorithm => format!("the JWT's `alg` is not one key `{kid}` signs with"),
        _ => format!("the JWT does not read: {e}"),
    }
}

fn names(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}
