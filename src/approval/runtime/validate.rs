//! What a proposal must be before anything is decided or stored: every identity field and
//! key present and readable as written, a tool named, and a credentials reference that is
//! a reference, not the secret.

use super::super::Error;
use super::super::checkpoint::Proposal;

/// Refuses a proposal that is incomplete or does not read as written.
pub(super) fn validate(p: &Proposal) -> Result<(), Error> {
    let user = p.identity.user.as_ref();
    let fields = [
        ("identity.tenant", Some(&p.identity.tenant)),
        ("identity.agent", Some(&p.identity.agent)),
        ("identity.user", user),
        ("run_id", Some(&p.run_id)),
        ("tool_call_id", Some(&p.tool_call_id)),
    ];
    for (name, v) in fields {
        let Some(v) = v else { continue };
        if v.trim().is_empty() {
            return Err(Error::BadProposal(format!("`{name}` is empty")));
        }
        // A padded name, or one with a hidden character, could slip past "not the user".
        if v.trim() != v {
            return Err(Error::BadProposal(format!(
                "`{name}` has leading or trailing spaces: `{v}`"
            )));
        }
        if v.chars().any(crate::text::is_hidden) {
            return Err(Error::BadProposal(format!(
                "`{name}` holds a hidden (control, format or bidirectional) character: {}",
                crate::text::quoted(v)
            )));
        }
    }
    if p.call.tool.is_empty() {
        return Err(Error::BadProposal("the call names no tool".into()));
    }
    if let Some(r) = &p.identity.credentials_ref
        && looks_like_a_secret(r)
    {
        return Err(Error::BadProposal(
            "`identity.credentials_ref` looks like a secret; checkpoints keep a reference to the credentials (a vault path, a key id), never the secret itself".into(),
        ));
    }
    Ok(())
}

/// Whether a credentials reference is more likely the secret itself: a PEM block, a
/// well-known API key prefix, or a long unbroken token.
fn looks_like_a_secret(r: &str) -> bool {
    const PREFIXES: [&str; 10] = [
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "ghp_",
        "gho_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "AKIA",
        "AIza",
    ];
    let long_token = r.len() >= 40
        && !r.contains([':', '/'])
        && r.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_+=.".contains(c));
    r.contains("-----BEGIN") || PREFIXES.iter().any(|p| r.starts_with(p)) || long_token
}
