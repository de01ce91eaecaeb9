//! The upstream MCP servers: started as commands, spoken to on stdio.

use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject, Tool};
use rmcp::service::{RoleClient, RunningService, ServiceExt};
use rmcp::transport::TokioChildProcess;

use crate::GatewayError;

/// An upstream as given on the command line: `NAME=COMMAND ARGS...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSpec {
    /// Its name: the policy sees its tools as `NAME.TOOL`.
    pub name: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl UpstreamSpec {
    /// Parses `NAME=COMMAND ARGS...` (the command line split as a POSIX shell would,
    /// quotes included). A name is letters, digits, `_` and `-`.
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
        let words = split_words(command).ok_or_else(|| bad("an unclosed quote in the command"))?;
        let mut words = words.into_iter();
        let program = words.next().ok_or_else(|| bad("no command after `=`"))?;
        Ok(UpstreamSpec {
            name: name.to_string(),
            command: program,
            args: words.collect(),
        })
    }

    /// The command line, for messages.
    pub fn command_line(&self) -> String {
        std::iter::once(self.command.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
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
    service: RunningService<RoleClient, ()>,
}

impl Upstream {
    /// Starts the command and completes the MCP handshake.
    pub async fn connect(spec: UpstreamSpec) -> Result<Upstream, GatewayError> {
        let fail = |why: String| GatewayError::Upstream {
            name: spec.name.clone(),
            command: spec.command_line(),
            why,
        };
        let mut command = tokio::process::Command::new(&spec.command);
        command.args(&spec.args);
        let transport = TokioChildProcess::new(command).map_err(|e| fail(e.to_string()))?;
        let service = ().serve(transport).await.map_err(|e| fail(e.to_string()))?;
        Ok(Upstream { spec, service })
    }

    /// Every tool it offers (following `tools/list` pages).
    pub async fn tools(&self) -> Result<Vec<Tool>, GatewayError> {
        self.service
            .list_all_tools()
            .await
            .map_err(|e| self.error(format!("tools/list: {e}")))
    }

    /// Calls one of its tools with exactly `args`.
    pub async fn call(&self, tool: &str, args: JsonObject) -> Result<CallToolResult, String> {
        self.service
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
            .await
            .map_err(|e| e.to_string())
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
        assert_eq!(s.command, "python3");
        assert_eq!(s.args, ["-m", "my server", "a b", "c d"]);
    }

    #[test]
    fn a_bad_upstream_says_what_is_wrong() {
        for (spec, says) in [
            ("python3 server.py", "expected NAME=COMMAND"),
            ("=python3", "the name must be"),
            ("my.files=python3", "the name must be"),
            ("files=", "no command"),
            ("files=python3 'server.py", "unclosed quote"),
        ] {
            let e = UpstreamSpec::parse(spec).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{spec}: {e:?}"
            );
        }
    }
}
