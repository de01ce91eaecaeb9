//! The reference interpreter: every rule, in order, by the book. Slow and obviously right;
//! the compiled tree must agree with it on every policy and call (the property tests).

use super::decision::{Decision, Named, Unknown};
use crate::ast::Effect;
use crate::call::ToolCall;
use crate::ir::Program;
use crate::ir::semantics::{Env, Tri, class_member, eval};

/// Decides a call by evaluating every rule.
pub fn evaluate<'p>(program: &'p Program, call: &ToolCall) -> Decision<'p> {
    let env = Env::for_call(call, program);
    let mut d = Decision::new(program);
    let mut matched: Vec<(Named, Effect)> = Vec::new();
    for (i, rule) in program.rules.iter().enumerate() {
        let id = Named::Rule(i as u32);
        match eval(&rule.cond, &env, None) {
            Tri::True => matched.push((id, rule.effect)),
            Tri::Unknown(cause) if rule.effect >= Effect::Approve => {
                matched.push((id, Effect::Approve));
                d.unknown.push(Unknown { source: id, cause });
            }
            _ => {}
        }
    }
    match matched.iter().map(|(_, e)| *e).max() {
        Some(top) => {
            d.effect = top;
            d.named = matched
                .iter()
                .filter(|(_, e)| *e == top)
                .map(|(n, _)| *n)
                .collect();
            if top != Effect::Approve {
                d.unknown.clear();
            }
        }
        None => {
            d.effect = program.default;
            d.default_applied = true;
            if program.default == Effect::Approve {
                d.named.push(Named::Default);
            }
        }
    }
    if d.effect < Effect::Approve {
        let mut floors = Vec::new();
        let mut unknowns = Vec::new();
        for &class in &program.never_auto {
            let n = Named::NeverAuto(class);
            match class_member(class, &env) {
                Tri::True => floors.push(n),
                Tri::Unknown(cause) => {
                    floors.push(n);
                    unknowns.push(Unknown { source: n, cause });
                }
                Tri::False => {}
            }
        }
        if !floors.is_empty() {
            d.effect = Effect::Approve;
            d.named = floors.into_iter().collect();
            d.unknown = unknowns.into_iter().collect();
            d.default_applied = false;
        }
    }
    d.finish()
}
