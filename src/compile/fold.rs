//! Folding a condition for what is known about the tool name ahead of time.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::ir::semantics::{Env, Tri, eval};
use crate::ir::{Cond, Count, Lit, Op, Program, Term};

/// What is known about the tool name when a slice is built.
#[derive(Clone, Copy)]
pub(super) enum ToolKnown<'a> {
    /// Exactly this name.
    Known(&'a str),
    /// A name that neither the catalog nor the policy lists; globs map to matcher bits.
    Unlisted(&'a HashMap<&'a str, u32>),
}

pub(super) struct Ctx<'a> {
    pub(super) program: &'a Program,
    pub(super) tool: ToolKnown<'a>,
}

static EMPTY: Value = Value::Null;

impl Ctx<'_> {
    /// The condition with tool tests and classes resolved as far as the name allows.
    pub(super) fn fold(&self, cond: &Cond) -> Cond {
        match cond {
            Cond::And(items) => {
                let mut out = Vec::with_capacity(items.len());
                for c in items.iter() {
                    match self.fold(c) {
                        Cond::Const(true) => {}
                        Cond::Const(false) => return Cond::Const(false),
                        Cond::And(inner) => out.extend(inner.into_vec()),
                        other => out.push(other),
                    }
                }
                match out.len() {
                    0 => Cond::Const(true),
                    1 => out.pop().unwrap_or(Cond::Const(true)),
                    _ => Cond::And(out.into()),
                }
            }
            Cond::Or(items) => {
                let mut out = Vec::with_capacity(items.len());
                for c in items.iter() {
                    match self.fold(c) {
                        Cond::Const(false) => {}
                        Cond::Const(true) => return Cond::Const(true),
                        Cond::Or(inner) => out.extend(inner.into_vec()),
                        other => out.push(other),
                    }
                }
                match out.len() {
                    0 => Cond::Const(false),
                    1 => out.pop().unwrap_or(Cond::Const(false)),
                    _ => Cond::Or(out.into()),
                }
            }
            Cond::Not(c) => match self.fold(c) {
                Cond::Const(b) => Cond::Const(!b),
                other => Cond::Not(Box::new(other)),
            },
            Cond::Class(id) => {
                let Some(class) = self.program.class(*id) else {
                    return Cond::Const(false);
                };
                if let ToolKnown::Known(name) = self.tool
                    && class.has_catalog_tool(name)
                {
                    return Cond::Const(true);
                }
                match &class.cond {
                    Some(c) => self.fold(c),
                    None => Cond::Const(false),
                }
            }
            // Folding never makes a condition read more, so `reads_element` still holds.
            Cond::Quantified {
                all,
                list,
                var,
                body,
                reads_element,
                closed,
            } => Cond::Quantified {
                all: *all,
                list: list.clone(),
                var: var.clone(),
                body: Box::new(self.fold(body)),
                reads_element: *reads_element,
                closed: *closed,
            },
            Cond::Compare {
                left,
                op,
                right,
                span,
            } if matches!(left, Term::Count(_)) || matches!(right, Term::Count(_)) => {
                Cond::Compare {
                    left: self.fold_term(left),
                    op: op.clone(),
                    right: self.fold_term(right),
                    span: *span,
                }
            }
            Cond::Compare {
                left, op, right, ..
            } if reads_only_tool(left) && reads_only_tool(right) => match self.tool {
                ToolKnown::Known(name) => {
                    let env = Env {
                        tool: name,
                        args: &EMPTY,
                        context: &EMPTY,
                        program: self.program,
                        glob_hits: &[],
                        declared: None,
                    };
                    match eval(cond, &env, None) {
                        Tri::True => Cond::Const(true),
                        Tri::False => Cond::Const(false),
                        Tri::Unknown(_) => cond.clone(),
                    }
                }
                ToolKnown::Unlisted(glob_ids) => match (left, op, right) {
                    // Every exact name the policy tests is listed, so an unlisted name
                    // equals none of them.
                    (Term::Tool, Op::Eq | Op::In, Term::Lit(_))
                    | (Term::Lit(_), Op::Eq, Term::Tool) => Cond::Const(false),
                    (Term::Tool, Op::Ne | Op::NotIn, Term::Lit(_))
                    | (Term::Lit(_), Op::Ne, Term::Tool) => Cond::Const(true),
                    (Term::Tool, Op::Glob(g), _) => match glob_ids.get(g.as_str()) {
                        Some(&id) => Cond::GlobHit {
                            id,
                            glob: g.clone(),
                        },
                        None => cond.clone(),
                    },
                    _ => cond.clone(),
                },
            },
            other => other.clone(),
        }
    }
}

impl Ctx<'_> {
    /// A term with the condition of a `count` folded.
    fn fold_term(&self, term: &Term) -> Term {
        match term {
            Term::Count(c) => Term::Count(Box::new(Count {
                list: c.list.clone(),
                var: c.var.clone(),
                body: self.fold(&c.body),
                reads_element: c.reads_element,
                closed: c.closed,
            })),
            other => other.clone(),
        }
    }
}

fn reads_only_tool(t: &Term) -> bool {
    matches!(t, Term::Tool | Term::Lit(_))
}

/// Collects the names of `tool == "x"` and `tool in [...]` tests.
pub(super) fn exact_names(cond: &Cond, out: &mut BTreeSet<String>) {
    cond.for_each_atom(&mut |atom| {
        let Cond::Compare {
            left, op, right, ..
        } = atom
        else {
            return;
        };
        let lit = match (left, right) {
            (Term::Tool, Term::Lit(l)) | (Term::Lit(l), Term::Tool) => l,
            _ => return,
        };
        if !matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn) {
            return;
        }
        match lit {
            Lit::Str(s) => {
                out.insert(s.to_string());
            }
            Lit::List(items) => {
                for i in items.iter() {
                    if let Lit::Str(s) = i {
                        out.insert(s.to_string());
                    }
                }
            }
            _ => {}
        }
    });
}

/// Collects the distinct globs of `tool matches "..."` tests, in first-seen order.
pub(super) fn glob_patterns(cond: &Cond, out: &mut Vec<String>) {
    cond.for_each_atom(&mut |atom| {
        if let Cond::Compare {
            left: Term::Tool,
            op: Op::Glob(g),
            ..
        } = atom
            && !out.iter().any(|p| p == g.as_str())
        {
            out.push(g.as_str().to_string());
        }
    });
}
