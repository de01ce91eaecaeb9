//! Evaluation: tool calls in, decisions out.
//!
//! [`value`] holds the three-valued semantics of every operator, shared by both
//! evaluators; [`reference`] is the plain interpreter kept as the test oracle; the fast
//! path is the compiled tree in [`crate::compile`].

pub mod call;
pub mod decision;
pub mod explain;
pub mod reference;
pub mod value;
