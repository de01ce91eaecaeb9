#![doc = include_str!("../README.md")]
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
mod policy;
mod source;
mod syntax;
mod yaml;

pub mod project;
pub mod tools;

#[cfg(feature = "approvals")]
pub mod approval;

#[doc(hidden)]
pub mod unstable;

pub use ast::{DecisionKind, Effect, Mode, OnTimeout};
pub use call::{CallError, ToolCall};
pub use catalog::{ArgType, Catalog, CatalogError};
pub use check::levels::{Level, LintConfig};
pub use diagnostic::{Code, Diagnostic, DiagnosticRecord, Severity};
pub use duration::{DurationError, parse_duration};
pub use eval::decision::{Decision, DecisionReport, Gate, Named, Unknown};
pub use policy::{LoadError, Policy, PolicyBuilder, Report};
pub use source::{FileId, Location, SourceFile, SourceMap, Span};
pub use syntax::format::format_source;

/// Compile-time proof that a policy can be shared across threads without locks.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Policy>();
};
