#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "approvals")]
pub mod approval;
pub mod approvers;
pub mod ast;
pub mod catalog;
pub mod check;
pub mod compile;
pub mod config;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod format;
pub mod generate;
pub mod glob;
pub mod ir;
pub mod overlap;
pub mod policy;
pub mod source;
#[cfg(feature = "approvals")]
pub mod store;
pub mod syntax;
pub mod testing;
pub mod toolset;
pub mod yaml;

#[cfg(feature = "cli")]
pub mod cli;

pub use ast::{DecisionKind, Effect, Mode, OnTimeout};
pub use catalog::Catalog;
pub use diagnostic::{Code, Diagnostic, Severity};
pub use eval::call::{CallError, ToolCall};
pub use eval::decision::{Decision, DecisionReport, Named};
pub use policy::{LoadError, Policy, PolicyBuilder, Report};

/// Compile-time proof that a policy can be shared across threads without locks.
const _: fn() = || {
    fn shareable<T: Send + Sync>() {}
    shareable::<Policy>();
};
