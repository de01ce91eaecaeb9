//! The upstream MCP servers: commands the gateway starts and speaks to on stdio, or
//! servers it reaches by streamable HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::handler::client::ClientHandler;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, JsonObject, ProgressNotificationParam, ProgressToken, ServerResult, Tool,
};
use rmcp::service::{
    NotificationContext, Peer, PeerRequestOptions, RoleClient, RoleServer, RunningService,
    ServiceExt,
};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio_util::sync::CancellationToken;

use crate::GatewayError;

/// An upstream as given on the command line: `NAME=COMMAND ARGS...` or `NAME=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Its name: the policy sees its tools as `NAME.TOOL`.
    pub name: String,
    /// How it is reached.
    pub target: Target,
    /// For a URL: the bearer token sent with every request.
    pub token: Option<String>,
    /// How long it has to complete the MCP handshake.
    pub handshake: std::time::Duration,
}

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A command the gateway starts, spoken to on its stdin and stdout.
    Command {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// A streamable-HTTP MCP endpoint (`http://127.0.0.1:8000/mcp`).
    Url(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Command { program, args } => {
                f.write_str(program)?;
                for a in args {
                    write!(f, " {a}")?;
                }
                Ok(())
            }
            Target::Url(url) => f.write_str(url),
        }
    }
}

impl UpstreamSpec {
    /// Parses `NAME=COMMAND ARGS...` (the command line split as a POSIX shell would,
    /// quotes included) or `NAME=URL` (`http://` or `https://`). A name is letters,
    /// digits, `_` and `-`.
    pub fn parse(spec: &str) -> Result<UpstreamSpec, GatewayError> {
        let bad = |why: &str| GatewayError::BadUpstream {
            spec: spec.to_string(),
            why: why.to_string(),
        };
        let (name, command) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected NAME=COMMAND (for example files=\"npx -y @modelcontextprotocol/server-filesystem /tmp\")"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                "the name must be letters, digits, `_` or `-` (the policy sees NAME.TOOL)",
            ));
        }
        let trimmed = command.trim();
        let target = if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
            if trimmed.contains(char::is_whitespace) {
                return Err(bad("a URL upstream is the URL alone, without spaces"));
            }
            Target::Url(trimmed.to_string())
        } else {
            let words =
                split_words(command).ok_or_else(|| bad("an unclosed quote in the command"))?;
            let mut words = words.into_iter();
            let program = words.next().ok_or_else(|| bad("no command after `=`"))?;
            Target::Command {
                program,
                args: words.collect(),
            }
        };
        Ok(UpstreamSpec {
            name: name.to_string(),
            target,
            token: None,
            handshake: std::time::Duration::from_secs(30),
        })
    }

    /// The command line or URL, for messages.
    pub fn command_line(&self) -> String {
        self.target.to_string()
    }
}

/// Splits a command line into words: whitespace separates, `'...'` is literal, `"..."`
/// allows `\"` and `\\`, a backslash outside quotes escapes the next character. `None`
/// for an unclosed quote.
fn split_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A connected upstream server.
pub struct Upstream {
    /// How it was given.
    pub spec: UpstreamSpec,
    service: RunningService<RoleClient, Relay>,
    relay: Relay,
}

/// Where the progress of a forwarded call goes: the client that asked, under its own
/// token (the upstream sees a token of the gateway's).
pub struct Listener {
    /// The client.
    pub peer: Peer<RoleServer>,
    /// The client's token for the call.
    pub token: ProgressToken,
    /// The last progress relayed: notifications are handled in tasks of their own, so
    /// one that arrives late (not above it) is dropped rather than sent out of order.
    pub last: Mutex<Option<f64>>,
}

/// The gateway as the upstream's client: relays the progress of forwarded calls to the
/// clients that asked for it.
#[derive(Clone, Default)]
struct Relay {
    listening: Arc<Mutex<HashMap<ProgressToken, Arc<Listener>>>>,
}

impl Relay {
    fn listen(&self, token: ProgressToken, to: Arc<Listener>) {
        if let Ok(mut map) = self.listening.lock() {
            map.insert(token, to);
        }
    }

    fn forget(&self, token: &ProgressToken) {
        if let Ok(mut map) = self.listening.lock() {
            map.remove(token);
        }
    }
}

impl ClientHandler for Relay {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let to = self
            .listening
            .lock()
            .ok()
            .and_then(|map| map.get(&params.progress_token).cloned());
        if let Some(to) = to {
            let in_order = to.last.lock().is_ok_and(|mut last| {
                let newer = last.is_none_or(|l| params.progress > l);
                if newer {
                    *last = Some(params.progress);
                }
                newer
            });
            if !in_order {
                return;
            }
            let mut note = ProgressNotificationParam::new(to.token.clone(), params.progress);
            if let Some(total) = params.total {
                note = note.with_total(total);
            }
            if let Some(message) = params.message {
                note = note.with_message(message);
            }
            // A client that stopped listening does not stop the call.
            let _ = to.peer.notify_progress(note).await;
        }
    }
}

impl Upstream {
    /// Starts the command (or opens the HTTP session) and completes the MCP handshake.
    pub async fn connect(spec: UpstreamSpec) -> Result<Upstream, GatewayError> {
        let fail = |why: String| GatewayError::Upstream {
            name: spec.name.clone(),
            command: spec.command_line(),
            why,
        };
        let relay = Relay::default();
        let within = spec.handshake;
        let late = || {
            fail(format!(
                "it did not complete the MCP handshake within {} s (is it an MCP server on \
                 stdio, or at that URL?)",
                within.as_secs_f64()
            ))
        };
        let service = match &spec.target {
            Target::Command { program, args } => {
                let mut command = tokio::process::Command::new(program);
                command.args(args);
                let transport = TokioChildProcess::new(command).map_err(|e| fail(e.to_string()))?;
                tokio::time::timeout(within, relay.clone().serve(transport))
                    .await
                    .map_err(|_| late())?
                    .map_err(|e| fail(e.to_string()))?
            }
            Target::Url(url) => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(token) = &spec.token {
                    config = config.auth_header(token.clone());
                }
                let transport = StreamableHttpClientTransport::from_config(config);
                tokio::time::timeout(within, relay.clone().serve(transport))
                    .await
                    .map_err(|_| late())?
                    .map_err(|e| fail(e.to_string()))?
            }
        };
        Ok(Upstream {
            spec,
            service,
            relay,
        })
    }

    /// Every tool it offers (following `tools/list` pages).
    pub async fn tools(&self) -> Result<Vec<Tool>, GatewayError> {
        self.service
            .list_all_tools()
            .await
            .map_err(|e| self.error(format!("tools/list: {e}")))
    }

    /// Calls one of its tools with exactly `args`. Its progress goes to `listener`;
    /// when `cancelled` fires first, the upstream is told the call is cancelled.
    pub async fn call(
        &self,
        tool: &str,
        args: JsonObject,
        listener: Option<Listener>,
        cancelled: &CancellationToken,
    ) -> Result<CallToolResult, String> {
        if cancelled.is_cancelled() {
            // Cancelled before it was sent: the upstream never sees it.
            return Err("cancelled by the client".to_string());
        }
        let params = CallToolRequestParams::new(tool.to_string()).with_arguments(args);
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let mut handle = self
            .service
            .send_request_with_option(request, PeerRequestOptions::no_options())
            .await
            .map_err(|e| e.to_string())?;
        let token = handle.progress_token.clone();
        if let Some(listener) = listener {
            self.relay.listen(token.clone(), Arc::new(listener));
        }
        let answer = tokio::select! {
            // An answer that is there wins over a cancellation that is too.
            biased;
            answer = &mut handle.rx => Some(answer),
            () = cancelled.cancelled() => None,
        };
        self.relay.forget(&token);
        match answer {
            Some(Ok(Ok(ServerResult::CallToolResult(result)))) => Ok(result),
            Some(Ok(Ok(_))) => Err("the answer to tools/call is not a tool result".to_string()),
            Some(Ok(Err(e))) => Err(e.to_string()),
            Some(Err(_)) => Err("the connection closed before the answer".to_string()),
            None => {
                let note = CancelledNotificationParam::new(
                    Some(handle.id.clone()),
                    Some("the client cancelled the call".to_string()),
                );
                let _ = self.service.notify_cancelled(note).await;
                Err("cancelled by the client".to_string())
            }
        }
    }

    fn error(&self, why: String) -> GatewayError {
        GatewayError::Upstream {
            name: self.spec.name.clone(),
            command: self.spec.command_line(),
            why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_is_a_name_and_a_command_line_split_as_a_shell_would() {
        let s = UpstreamSpec::parse(r#"files=python3 -m "my server" 'a b' c\ d"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.name, "files");
        let Target::Command { program, args } = &s.target else {
            panic!("{s:?}")
        };
        assert_eq!(program, "python3");
        assert_eq!(args, &["-m", "my server", "a b", "c d"]);
    }

    #[test]
    fn an_upstream_may_be_a_streamable_http_url() {
        let s = UpstreamSpec::parse("docs= https://127.0.0.1:8000/mcp ")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.target, Target::Url("https://127.0.0.1:8000/mcp".into()));
        assert_eq!(s.command_line(), "https://127.0.0.1:8000/mcp");
    }

    #[test]
    fn a_bad_upstream_says_what_is_wrong() {
        for (spec, says) in [
            ("python3 server.py", "expected NAME=COMMAND"),
            ("=python3", "the name must be"),
            ("my.files=python3", "the name must be"),
            ("files=", "no command"),
            ("files=python3 'server.py", "unclosed quote"),
            ("docs=http://127.0.0.1:1/mcp extra", "without spaces"),
        ] {
            let e = UpstreamSpec::parse(spec).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{spec}: {e:?}"
            );
        }
    }
}
