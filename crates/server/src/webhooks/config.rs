//! The webhooks file (`policy serve POLICY --webhooks FILE`): where to send what, signed
//! with which secret, in which format. Read through the project's one YAML reader; every
//! error names the file, the line and what is wrong.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::sign::Secret;

/// What a webhook tells: one kind of change to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A call was stopped and waits for a decision.
    Created,
    /// A gate was handed to another group (by an approver, or by its SLA running out).
    Escalated,
    /// A waiting gate's SLA ends soon.
    DueSoon,
    /// An approver approved (a gate of) the call as proposed.
    Approved,
    /// An approver edited the call and approved the edit.
    Edited,
    /// An approver rejected the call.
    Rejected,
    /// The SLA ran out and the request expired.
    Expired,
    /// The agent claimed the approved call to run it.
    Claimed,
    /// The agent reported that the call ran.
    Executed,
    /// The agent reported that the call failed.
    Failed,
    /// The claim's lease ran out with no report.
    OutcomeUnknown,
    /// The request was withdrawn.
    Cancelled,
}

impl EventType {
    /// Every type, in the order the docs list them.
    pub const ALL: [EventType; 12] = [
        EventType::Created,
        EventType::Escalated,
        EventType::DueSoon,
        EventType::Approved,
        EventType::Edited,
        EventType::Rejected,
        EventType::Expired,
        EventType::Claimed,
        EventType::Executed,
        EventType::Failed,
        EventType::OutcomeUnknown,
        EventType::Cancelled,
    ];

    /// The short name (`created`, `due_soon`), as the webhooks file writes it.
    pub fn name(self) -> &'static str {
        match self {
            EventType::Created => "created",
            EventType::Escalated => "escalated",
            EventType::DueSoon => "due_soon",
            EventType::Approved => "approved",
            EventType::Edited => "edited",
            EventType::Rejected => "rejected",
            EventType::Expired => "expired",
            EventType::Claimed => "claimed",
            EventType::Executed => "executed",
            EventType::Failed => "failed",
            EventType::OutcomeUnknown => "outcome_unknown",
            EventType::Cancelled => "cancelled",
        }
    }

    /// The `type` of the payload: `request.created`.
    pub fn full_name(self) -> String {
        format!("request.{}", self.name())
    }

    /// The types a name in `events:` stands for: one type, or a group (`decided`:
    /// approved, edited, rejected; `reported`: executed, failed, outcome_unknown).
    fn named(name: &str) -> Option<Vec<EventType>> {
        let name = name.strip_prefix("request.").unwrap_or(name);
        match name {
            "decided" => Some(vec![
                EventType::Approved,
                EventType::Edited,
                EventType::Rejected,
            ]),
            "reported" => Some(vec![
                EventType::Executed,
                EventType::Failed,
                EventType::OutcomeUnknown,
            ]),
            "all" => Some(EventType::ALL.to_vec()),
            _ => EventType::ALL
                .into_iter()
                .find(|t| t.name() == name)
                .map(|t| vec![t]),
        }
    }
}

/// How a message's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"type", "timestamp", "data"}`, signed per Standard Webhooks.
    Standard,
    /// A Slack Block Kit message (for an incoming-webhook URL).
    Slack,
}

/// One receiver.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where messages are POSTed; also the endpoint's key in the outbox.
    pub url: String,
    /// The signing secret (required for the standard format).
    pub secret: Option<Secret>,
    /// The body's format.
    pub format: Format,
    /// The types it receives.
    pub events: Vec<EventType>,
}

impl Endpoint {
    /// Whether it receives messages of this type.
    pub fn wants(&self, t: EventType) -> bool {
        self.events.contains(&t)
    }
}

/// The webhooks file, read and checked.
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// The service's address as people reach it, for links (`{public_url}/inbox/{id}`).
    pub public_url: Option<String>,
    /// The receivers.
    pub endpoints: Vec<Endpoint>,
    /// The first retry waits this long; each next one twice as long as the one before.
    pub retry_base: Duration,
    /// No wait between retries is longer than this.
    pub retry_max: Duration,
    /// After this many failed attempts a message is given up (recorded and counted).
    pub max_attempts: u32,
    /// How long one delivery may take.
    pub timeout: Duration,
    /// How often new events are looked for and due messages sent.
    pub poll: Duration,
    /// `due_soon` is sent this long before a gate's SLA ends, or at a fifth of the SLA
    /// before, whichever is shorter.
    pub due_soon: Duration,
}

/// The webhooks file does not read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}{place}: invalid webhooks file: {message}")]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// `:line:column`, or nothing when not known.
    pub place: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    public_url: Option<PublicUrl>,
    endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    retry_base: Option<Dur>,
    #[serde(default)]
    retry_max: Option<Dur>,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default)]
    timeout: Option<Dur>,
    #[serde(default)]
    poll: Option<Dur>,
    #[serde(default)]
    due_soon: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    url: Url,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    secret_file: Option<PathBuf>,
    #[serde(default = "standard")]
    format: Format,
    #[serde(default)]
    events: Option<Vec<Types>>,
}

fn standard() -> Format {
    Format::Standard
}

/// A URL to POST to: http or https, with a host.
#[derive(Debug)]
struct Url(String);

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
        let text = String::deserialize(d)?;
        check_url(&text).map_err(serde::de::Error::custom)?;
        Ok(Url(text))
    }
}

/// The service's public address: http(s), nothing after the path.
#[derive(Debug)]
struct PublicUrl(String);

impl<'de> Deserialize<'de> for PublicUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PublicUrl, D::Error> {
        let text = String::deserialize(d)?;
        check_url(&text).map_err(serde::de::Error::custom)?;
        // It goes into Slack links: nothing that could end or split one.
        if text.contains(['|', '<', '>', ' ', '?', '#']) {
            return Err(serde::de::Error::custom(format!(
                "`public_url` `{text}` must be a plain address (no query, fragment, spaces, `|`, `<` or `>`)"
            )));
        }
        Ok(PublicUrl(text.trim_end_matches('/').to_string()))
    }
}

fn check_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}`: use an http:// or https:// URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{text}` names no host"));
    }
    Ok(())
}

/// A name in `events:`.
#[derive(Debug)]
struct Types(Vec<EventType>);

impl<'de> Deserialize<'de> for Types {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Types, D::Error> {
        let name = String::deserialize(d)?;
        EventType::named(&name).map(Types).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
            serde::de::Error::custom(format!(
                "unknown event `{name}`: use {}, or `decided`, `reported`, `all`",
                known.join(", ")
            ))
        })
    }
}

/// A duration: `500ms`, `2s`, `15m`, `1h`.
#[derive(Debug, Clone, Copy)]
struct Dur(Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(d)?;
        let bad = || {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration (write `500ms`, `2s`, `15m`, `1h`)"
            ))
        };
        if let Some(ms) = text.strip_suffix("ms") {
            return ms
                .parse()
                .map(|n| Dur(Duration::from_millis(n)))
                .map_err(|_| bad());
        }
        holdpoint::parse_duration(&text).map(Dur).map_err(|_| bad())
    }
}

impl WebhooksConfig {
    /// Reads and checks the webhooks file.
    pub fn load(path: &Path) -> Result<WebhooksConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            place: String::new(),
            message: e.to_string(),
        })?;
        WebhooksConfig::parse(path, &text)
    }

    /// Reads the text of the webhooks file at `path` (relative `secret_file`s are read
    /// from beside it).
    pub fn parse(path: &Path, text: &str) -> Result<WebhooksConfig, ConfigError> {
        let err = |line: Option<(usize, usize)>, message: String| ConfigError {
            file: path.to_path_buf(),
            place: line.map_or(String::new(), |(l, c)| format!(":{l}:{c}")),
            message,
        };
        let raw: Raw = holdpoint::unstable::yaml::from_str(text)
            .map_err(|e| err(e.line().zip(e.column()), e.message))?;
        if raw.endpoints.is_empty() {
            return Err(err(
                line_of(text, "endpoints"),
                "`endpoints` is empty".into(),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut endpoints = Vec::new();
        for e in raw.endpoints {
            // A wrong secret is pointed at where it is written, anything else at the URL.
            let at = e
                .secret
                .as_deref()
                .filter(|s| Secret::parse(s).is_err())
                .unwrap_or(&e.url.0);
            let at = line_of(text, at);
            endpoints.push(endpoint(e, base).map_err(|m| err(at, m))?);
        }
        let d = |v: Option<Dur>, default: Duration| v.map_or(default, |x| x.0);
        Ok(WebhooksConfig {
            public_url: raw.public_url.map(|u| u.0),
            endpoints,
            retry_base: d(raw.retry_base, Duration::from_secs(5)),
            retry_max: d(raw.retry_max, Duration::from_secs(3600)),
            max_attempts: raw.max_attempts.unwrap_or(15).max(1),
            timeout: d(raw.timeout, Duration::from_secs(10)),
            poll: d(raw.poll, Duration::from_millis(250)).max(Duration::from_millis(10)),
            due_soon: d(raw.due_soon, Duration::from_secs(15 * 60)),
        })
    }
}

/// One endpoint, checked: a secret (inline or from its file) where the format needs one.
fn endpoint(e: RawEndpoint, base: &Path) -> Result<Endpoint, String> {
    let url = e.url.0;
    let secret = match (e.secret, e.secret_file) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "endpoint `{url}`: give `secret` or `secret_file`, not both"
            ));
        }
        (Some(s), None) => Some(Secret::parse(&s).map_err(|x| format!("endpoint `{url}`: {x}"))?),
        (None, Some(file)) => {
            let file = base.join(file);
            let text = std::fs::read_to_string(&file)
                .map_err(|x| format!("endpoint `{url}`: `{}`: {x}", file.display()))?;
            Some(
                Secret::parse(text.trim())
                    .map_err(|x| format!("endpoint `{url}`: `{}`: {x}", file.display()))?,
            )
        }
        (None, None) => None,
    };
    if secret.is_none() && e.format == Format::Standard {
        return Err(format!(
            "endpoint `{url}` needs a `secret` (or `secret_file`): standard webhooks are signed"
        ));
    }
    let mut events: Vec<EventType> = match e.events {
        Some(names) => names.into_iter().flat_map(|t| t.0).collect(),
        None => EventType::ALL.to_vec(),
    };
    events.sort();
    events.dedup();
    Ok(Endpoint {
        url,
        secret,
        format: e.format,
        events,
    })
}

/// The line and column of the first line that holds `needle` (to point at an endpoint
/// whose value read but is wrong).
fn line_of(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.lines().enumerate().find_map(|(i, line)| {
        line.find(needle)
            .map(|col| (i + 1, line.get(..col).map_or(1, |s| s.chars().count() + 1)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parse(text: &str) -> Result<WebhooksConfig, ConfigError> {
        WebhooksConfig::parse(Path::new("hooks.yaml"), text)
    }

    #[test]
    fn reads_endpoints_with_defaults() {
        let c = parse(&format!(
            "public_url: http://127.0.0.1:8787/\nendpoints:\n  - url: http://127.0.0.1:9000/hooks\n    secret: {SECRET}\n    events: [created, decided]\n  - url: http://127.0.0.1:9001/slack\n    format: slack\n"
        ))
        .unwrap();
        assert_eq!(c.public_url.as_deref(), Some("http://127.0.0.1:8787"));
        let e = &c.endpoints[0];
        assert_eq!(e.format, Format::Standard);
        assert!(e.wants(EventType::Created) && e.wants(EventType::Rejected));
        assert!(!e.wants(EventType::Claimed));
        assert!(c.endpoints[1].wants(EventType::DueSoon));
        assert_eq!(c.max_attempts, 15);
        assert_eq!(c.due_soon, Duration::from_secs(900));
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        let e = parse(&format!(
            "endpoints:\n  - url: http://x/h\n    secret: {SECRET}\n    events: [created, approvd]\n"
        ))
        .unwrap_err();
        assert!(e.to_string().starts_with("hooks.yaml:4:"), "{e}");
        assert!(e.message.contains("unknown event `approvd`"), "{e}");

        let e = parse("endpoints:\n  - url: ftp://x/h\n").unwrap_err();
        assert!(e.to_string().starts_with("hooks.yaml:2:"), "{e}");

        let e = parse("endpoints:\n  - url: http://x/h\n    secret: nope\n").unwrap_err();
        assert!(e.to_string().starts_with("hooks.yaml:3:"), "{e}");
        assert!(e.message.contains("whsec_"), "{e}");

        let e = parse("endpoints:\n  - url: http://x/h\n    sekret: 1\n").unwrap_err();
        assert!(e.message.contains("sekret"), "{e}");

        let e = parse("endpoints:\n  - url: http://x/h\n").unwrap_err();
        assert!(e.to_string().starts_with("hooks.yaml:2:"), "{e}");
        assert!(e.message.contains("needs a `secret`"), "{e}");
    }
}
