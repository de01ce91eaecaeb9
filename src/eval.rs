//! Evaluation: tool calls in, decisions out.
//!
//! [`tree`] walks the compiled decision tree (the fast path); [`reference`] is the plain
//! interpreter kept as the test oracle. Both read the three-valued semantics of every
//! operator from [`crate::ir::semantics`] and give a [`decision::Decision`].

pub mod decision;
pub(crate) mod fast;
mod flat;
pub mod reference;
pub mod stance;
pub mod standing;
pub mod tree;
