//! The `policy` command: one file per subcommand, over the `holdpoint` library's public API.
//!
//! Exit codes: 0 success, 1 findings or a failed decision input, 2 usage or I/O problem;
//! for approvals also 3 (the call waits) and 4 (the call must not run).
// Nothing from a user, a file or the network may panic: these hold outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

/// `println!` that stops quietly when standard output is closed (`policy ... | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `print!` that stops quietly when standard output is closed.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

mod approvals;
mod check;
mod diff;
mod eval;
mod fmt;
mod generate;
mod guard;
#[cfg(feature = "mcp")]
mod mcp;
#[cfg(feature = "serve")]
mod serve;
mod stats;
mod test;
mod tree;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use holdpoint::Catalog;
use holdpoint::{LoadError, PolicyBuilder};

/// How a command ends: the process's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// Findings, an invalid policy or an invalid call.
    Failed = 1,
    /// A usage or I/O problem.
    Usage = 2,
    /// The call waits for a human decision (`guard`, `approvals wait`).
    Waiting = 3,
    /// The call must not run: denied, rejected, expired or cancelled.
    Refused = 4,
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e as u8)
    }
}

/// The service allocates many small values per call on every core; mimalloc does that
/// better than the system allocator.
#[cfg(feature = "serve")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    run().into()
}

#[derive(Parser)]
#[command(
    name = "policy",
    version,
    about = "Gate AI agent tool calls: allow, audit, wait for a human, or deny",
    long_about = "Checks gate policies, evaluates tool calls against them, and shows the \
                  compiled decision tree. See docs/language.md for the language."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policies: syntax, names, classes, options, types, and tools against a catalog.
    ///
    /// Each PATH is a .gate file, a policy directory, or a directory searched for policy
    /// directories (every directory holding .gate files is one policy).
    Check(check::Args),
    /// Decide tool calls and print the decision as JSON.
    Eval(eval::Args),
    /// Print the compiled decision tree of a policy.
    Tree(tree::Args),
    /// Write a generated policy, its catalog and a JSONL file of calls (for benchmarks).
    Gen(generate::Args),
    /// Run the `*.test.yaml` cases beside each policy: calls and the decisions they must get.
    Test(test::Args),
    /// Compare two versions of a policy on recorded calls: which decisions move, and why.
    Diff(diff::Args),
    /// Format `.gate` files in the one canonical layout (comments kept).
    Fmt(fmt::Args),
    /// Decide a call and, if it must wait for a human, record its checkpoint.
    ///
    /// Exit 0: run it (the call is printed); 3: it waits (the request id is printed);
    /// 4: it must not run (denied, or with --wait: rejected, expired, cancelled).
    Guard(guard::Args),
    /// Work with waiting calls: list, show, decide, wait, expire, claim, finish, verify.
    ///
    /// Local mode (`--db`): single-user, the agent's process holds the database; for a trust
    /// boundary use `--server URL` (a running `policy serve`, token in HOLDPOINT_TOKEN).
    Approvals(approvals::Args),
    /// Per-gate numbers from an approvals database, with likely rubber stamps flagged.
    Stats(stats::Args),
    /// Serve the approval service: the only holder of the store and the signing key.
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Create the service's tokens for agents and approvers.
    #[cfg(feature = "serve")]
    Tokens(serve::TokensArgs),
    /// An MCP gateway: the policy in front of MCP servers, for any MCP client (stdio).
    #[cfg(feature = "mcp")]
    Mcp(mcp::McpArgs),
}

/// Output formats of `policy check`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Compiler-style messages with the source line and a caret.
    Human,
    /// One JSON document (schema in docs/cli.md).
    Json,
}

/// Runs the command line and returns how it ended.
fn run() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
        }
    };
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Tree(a) => tree::run(a),
        Command::Gen(a) => generate::run(a),
        Command::Test(a) => test::run(a),
        Command::Diff(a) => diff::run(a),
        Command::Fmt(a) => fmt::run(a),
        Command::Guard(a) => guard::run(a),
        Command::Approvals(a) => approvals::run(a),
        Command::Stats(a) => stats::run(a),
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve::serve(a),
        #[cfg(feature = "serve")]
        Command::Tokens(a) => serve::tokens(a),
        #[cfg(feature = "mcp")]
        Command::Mcp(a) => mcp::run(a),
    }
}

/// A builder for one policy path, with an explicit catalog if given.
fn builder(path: &std::path::Path, tools: Option<&Catalog>) -> Result<PolicyBuilder, LoadError> {
    let mut b = PolicyBuilder::new();
    if let Some(c) = tools {
        b = b.catalog(c.clone());
    }
    b.path(path)
}

/// Loads `--tools` if given; prints the error and returns the exit code otherwise.
fn load_catalog(path: Option<&PathBuf>) -> Result<Option<Catalog>, Exit> {
    match path {
        None => Ok(None),
        Some(p) => match Catalog::load(p) {
            Ok(c) => Ok(Some(c)),
            Err(e @ holdpoint::CatalogError::Io { .. }) => {
                eprintln!("error: {e}");
                Err(Exit::Usage)
            }
            Err(e) => {
                eprintln!("error: {e}");
                Err(Exit::Failed)
            }
        },
    }
}

/// Opens a file to read, or standard input for `-`.
fn input(name: &str) -> std::io::Result<Box<dyn std::io::Read>> {
    if name == "-" {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(std::fs::File::open(name)?))
    }
}

/// Loads a policy with `--tools` if given; on failure prints why and returns the exit code.
fn load_policy(path: &std::path::Path, tools: Option<&PathBuf>) -> Result<holdpoint::Policy, Exit> {
    let catalog = load_catalog(tools)?;
    builder(path, catalog.as_ref())
        .and_then(|b| b.build())
        .map_err(|e| report_load_error(&e))
}

/// Prints a load error and returns its exit code.
fn report_load_error(e: &LoadError) -> Exit {
    match e {
        LoadError::Io { .. } => {
            eprintln!("error: {e}");
            Exit::Usage
        }
        LoadError::Invalid { .. } => {
            eprintln!("{e}");
            Exit::Failed
        }
        _ => {
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}
