//! Tools above the pipeline, for policy authors and reviewers: `policy test` cases,
//! `policy diff` between two versions, `--explain`, the printed decision tree, and the
//! generator of policies and calls for benchmarks.
//!
//! They use the [`Policy`](crate::Policy) facade; none of the stages below imports them.

pub mod diff;
pub mod explain;
pub mod generate;
pub mod test;

/// The compiled decision tree of a policy, as text (`policy tree`): per tool slice, its
/// indexes and rules in the order the evaluator tries them.
pub fn tree(policy: &crate::Policy) -> String {
    policy.tree().render(policy.program())
}
