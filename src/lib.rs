//! holdpoint decides, for every tool call an AI agent is about to make, whether it runs
//! now (`allow`), runs with an audit record (`audit`), waits for an explicit human decision
//! (`approve`), or is refused (`deny`), by a policy written in `.gate` files.
//!
//! # Load, check, evaluate
//!
//! ```
//! use holdpoint::{Effect, Policy, PolicyBuilder, ToolCall};
//!
//! let source = r#"
//! policy "refunds"
//! default approve
//! allow small_refund { when tool == "stripe.refund" and args.amount <= 500 }
//! approve big_refund {
//!   when   tool == "stripe.refund" and args.amount > 500
//!   by     "finance"
//!   within 48h
//!   reason "Refund of {args.amount} is above the 500 lane"
//! }
//! "#;
//!
//! // Check: every finding, with its place (what `policy check` prints).
//! let report = PolicyBuilder::new().source("refunds.gate", source).check();
//! assert!(!report.has_errors());
//! for finding in &report.diagnostics {
//!     eprintln!("{}", finding.render(&report.sources));
//! }
//!
//! // Load: check and compile to a decision tree (or `Policy::load("policies/support")`
//! // for a directory, with the tool catalog beside it).
//! let policy = Policy::from_source(source)?;
//!
//! // Evaluate: no allocation on this path; a `Policy` is `Send + Sync`.
//! let call = ToolCall::from_json(r#"{"tool":"stripe.refund","args":{"amount":900}}"#)?;
//! let decision = policy.evaluate(&call);
//! assert_eq!(decision.effect(), Effect::Approve);
//! let gate = decision.gates().next().expect("one gate");
//! assert_eq!(gate.options.by, ["finance"]);
//! assert_eq!(
//!     decision.reason(gate.source, &call).as_deref(),
//!     Some("Refund of 900 is above the 500 lane")
//! );
//! // The decision as JSON, for a log or an approver's inbox.
//! let json = serde_json::to_string(&decision.report(&call))?;
//! assert!(json.contains(r#""effect":"approve""#));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A value the policy cannot judge (missing, or of the wrong type) never turns a gate into
//! an auto-execute: the gate asks a human, and the decision lists the unknowns.
//!
//! # The API
//!
//! - [`Policy`], [`PolicyBuilder`]: load sources, a tool [`Catalog`], approvers and lint
//!   levels ([`LintConfig`]); [`PolicyBuilder::check`] gives a [`Report`] of
//!   [`Diagnostic`]s, [`PolicyBuilder::build`] a `Policy` or a [`LoadError`].
//! - [`ToolCall`]: a call as the agent sends it (holdpoint's own shape, OpenAI's
//!   `function`, MCP's `tools/call`).
//! - [`Decision`]: the [`Effect`], the rules and [`Gate`]s that fired, the [`Unknown`]s;
//!   [`DecisionReport`] is its JSON form.
//! - [`project`]: where a project's files are (policies, catalogs, approvers, tests, lint
//!   levels).
//! - [`approval`] (feature `approvals`): what happens while a call waits: the agent's
//!   `Guard`, the approvers' `Desk`, the `Permit` that is the only way to get the call to
//!   run, and the stores (`MemoryStore`; `SqliteStore` with feature `sqlite`).
//! - [`tools`]: `policy test` cases, `policy diff`, `--explain`, the printed tree, the
//!   benchmark generator.
//!
//! # Features
//!
//! | feature | default | adds |
//! |---|---|---|
//! | (none) | yes | the language and the evaluator: what an agent that embeds the policy needs |
//! | `approvals` | no | [`approval`]: checkpoints, decisions, permits, the in-memory store (sha2) |
//! | `sqlite` | no | `approval::store::SqliteStore` (rusqlite with the bundled SQLite) |
//!
//! The `policy` command is the `holdpoint-cli` crate of this workspace.
//!
//! The language is described in `docs/language.md`, the approval runtime in
//! `docs/approvals.md`, and the layers of this crate in `docs/architecture.md`.
#![forbid(unsafe_code)]
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

// The language core, bottom to top: no module imports one further down this list.
mod approvers;
mod ast;
mod call;
mod catalog;
mod check;
mod compile;
mod diagnostic;
mod duration;
mod eval;
mod ir;
mod json;
mod policy;
mod source;
mod syntax;
mod text;
mod yaml;

pub mod project;
pub mod tools;

#[cfg(feature = "approvals")]
pub mod approval;

#[doc(hidden)]
pub mod unstable;

pub use approvers::{Approvers, ApproversError, ApproversFile, Vouched};
pub use ast::{DecisionKind, Effect, Mode, OnTimeout};
pub use call::{CallError, ToolCall};
pub use catalog::{ANNOTATION_CLASSES, ArgSpec, ArgType, Catalog, CatalogError, ToolSpec};
pub use check::levels::{Level, LintConfig};
pub use diagnostic::{Code, Diagnostic, DiagnosticRecord, Severity};
pub use duration::{DurationError, parse_duration};
pub use eval::decision::{
    ApprovalReport, Decision, DecisionJson, DecisionReport, Gate, GateReport, Named, ReasonReport,
    Unknown, UnknownReport,
};
pub use eval::fast::{CallReader, JsonDecision};
pub use eval::stance::{StanceRule, ToolStance};
pub use eval::standing::ToolStanding;
pub use ir::GateOptions;
pub use json::parse as parse_json;
pub use policy::{LoadError, Policy, PolicyBuilder, Report};
pub use source::{FileId, Location, SourceFile, SourceMap, Span};
pub use syntax::format::format_source;
pub use text::{escape as escaped, fold};

/// Compile-time proof that a policy can be shared across threads without locks.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Policy>();
};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
