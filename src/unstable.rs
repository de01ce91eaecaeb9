//! Internals for this crate's own tests, benchmarks and tools (the peer engines'
//! translation, the property tests). Not a stable API: anything here may change in any
//! release.

use crate::Policy;

/// The checked program of the policy language (names resolved, classes linked).
pub mod ir {
    pub use crate::ir::{
        Class, ClassId, Cond, Count, GateOptions, Lit, Op, PathExpr, Program, Root, Rule, RuleId,
        Seg, Template, TemplatePart, Term,
    };
}

/// The three-valued semantics of every operator, shared by both evaluators.
pub mod semantics {
    pub use crate::ir::semantics::{Counted, Env, Tri, class_member, count, eval};
}

/// The one YAML reader.
pub mod yaml {
    pub use crate::yaml::{YamlError, from_str, to_json};
}

pub use crate::compile::Tree;

/// The checked program a policy was compiled from.
pub fn program(policy: &Policy) -> &ir::Program {
    policy.program()
}

/// The compiled decision tree of a policy.
pub fn tree(policy: &Policy) -> &Tree {
    policy.tree()
}
