//! Which tools a condition can be true (or unknown) for: the analysis behind slicing the
//! decision tree by tool name, the catalog checks, and the never-auto overlap warning.
//!
//! The result over-approximates: a tool outside the set makes the condition false, for
//! certain, because `tool` is always known. Inside the set nothing is promised.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::ir::glob::Glob;
use crate::ir::{ClassId, Cond, Lit, Op, Program, Term};

/// A set of tool names: every name, or some exact names and globs.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolSet {
    /// Any tool name.
    Any,
    /// These names, and every name that matches all globs of one of the conjunctions.
    Some {
        /// Exact names.
        exact: BTreeSet<String>,
        /// Conjunctions of globs (a name must match every glob of one of them).
        globs: Vec<Vec<Arc<Glob>>>,
    },
}

impl ToolSet {
    /// The empty set.
    pub fn empty() -> ToolSet {
        ToolSet::Some {
            exact: BTreeSet::new(),
            globs: Vec::new(),
        }
    }

    /// Whether no name is in the set.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        matches!(self, ToolSet::Some { exact, globs } if exact.is_empty() && globs.is_empty())
    }

    /// Whether `name` may be in the set.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            ToolSet::Any => true,
            ToolSet::Some { exact, globs } => {
                exact.contains(name) || globs.iter().any(|c| conj_matches(c, name))
            }
        }
    }

    /// Set union.
    pub fn union(self, other: ToolSet) -> ToolSet {
        match (self, other) {
            (ToolSet::Any, _) | (_, ToolSet::Any) => ToolSet::Any,
            (
                ToolSet::Some {
                    mut exact,
                    mut globs,
                },
                ToolSet::Some {
                    exact: e2,
                    globs: g2,
                },
            ) => {
                exact.extend(e2);
                for g in g2 {
                    if !globs.iter().any(|x| same(x, &g)) {
                        globs.push(g);
                    }
                }
                ToolSet::Some { exact, globs }
            }
        }
    }

    /// Set intersection (exact: glob conjunctions are kept as such).
    pub fn intersect(self, other: ToolSet) -> ToolSet {
        match (self, other) {
            (ToolSet::Any, x) | (x, ToolSet::Any) => x,
            (
                ToolSet::Some {
                    exact: e1,
                    globs: g1,
                },
                ToolSet::Some {
                    exact: e2,
                    globs: g2,
                },
            ) => {
                let mut exact = BTreeSet::new();
                for e in &e1 {
                    if e2.contains(e) || g2.iter().any(|c| conj_matches(c, e)) {
                        exact.insert(e.clone());
                    }
                }
                for e in &e2 {
                    if g1.iter().any(|c| conj_matches(c, e)) {
                        exact.insert(e.clone());
                    }
                }
                let mut globs: Vec<Vec<Arc<Glob>>> = Vec::new();
                for a in &g1 {
                    for b in &g2 {
                        let mut c = a.clone();
                        for g in b {
                            if !c.iter().any(|x| x.as_str() == g.as_str()) {
                                c.push(g.clone());
                            }
                        }
                        if !globs.iter().any(|x| same(x, &c)) {
                            globs.push(c);
                        }
                    }
                }
                ToolSet::Some { exact, globs }
            }
        }
    }

    /// Whether the set certainly holds a name: an exact name, or (given a universe of
    /// names) one of them; `None` when only glob conjunctions could say, undecided.
    pub fn certainly_nonempty<'a>(
        &self,
        universe: Option<impl IntoIterator<Item = &'a str>>,
    ) -> Option<bool> {
        match self {
            ToolSet::Any => Some(true),
            ToolSet::Some { exact, globs } => {
                if !exact.is_empty() {
                    return Some(true);
                }
                if globs.is_empty() {
                    return Some(false);
                }
                match universe {
                    Some(names) => Some(names.into_iter().any(|n| self.contains(n))),
                    None if globs.iter().any(|c| c.len() == 1) => Some(true),
                    None => None,
                }
            }
        }
    }

    /// Whether every name of `self` is in `other` (sound: glob conjunctions compare by
    /// pattern text).
    pub fn subset_of(&self, other: &ToolSet) -> bool {
        match (self, other) {
            (_, ToolSet::Any) => true,
            (ToolSet::Any, ToolSet::Some { .. }) => false,
            (
                ToolSet::Some { exact, globs },
                ToolSet::Some {
                    exact: oe,
                    globs: og,
                },
            ) => {
                exact
                    .iter()
                    .all(|e| oe.contains(e) || og.iter().any(|c| conj_matches(c, e)))
                    && globs.iter().all(|mine| {
                        og.iter().any(|theirs| {
                            theirs
                                .iter()
                                .all(|g| mine.iter().any(|h| h.as_str() == g.as_str()))
                        })
                    })
            }
        }
    }
}

/// The tools `cond` can be true or unknown for.
pub fn of(program: &Program, cond: &Cond) -> ToolSet {
    let mut visiting = Vec::new();
    walk(program, cond, &mut visiting)
}

/// The tools a class can hold: its predicate's set plus the catalog's members.
pub fn of_class(program: &Program, class: ClassId) -> ToolSet {
    let mut visiting = Vec::new();
    class_set(program, class, &mut visiting)
}

fn class_set(program: &Program, id: ClassId, visiting: &mut Vec<ClassId>) -> ToolSet {
    if visiting.contains(&id) {
        return ToolSet::Any;
    }
    let Some(class) = program.class(id) else {
        return ToolSet::Any;
    };
    visiting.push(id);
    let from_expr = match &class.cond {
        Some(c) => walk(program, c, visiting),
        None => ToolSet::empty(),
    };
    visiting.pop();
    from_expr.union(ToolSet::Some {
        exact: class.catalog_tools.iter().cloned().collect(),
        globs: Vec::new(),
    })
}

fn walk(program: &Program, cond: &Cond, visiting: &mut Vec<ClassId>) -> ToolSet {
    match cond {
        Cond::Const(false) => ToolSet::empty(),
        Cond::And(items) => items.iter().fold(ToolSet::Any, |acc, c| {
            acc.intersect(walk(program, c, visiting))
        }),
        Cond::Or(items) => items.iter().fold(ToolSet::empty(), |acc, c| {
            acc.union(walk(program, c, visiting))
        }),
        Cond::Class(id) => class_set(program, *id, visiting),
        Cond::Compare {
            left: Term::Tool,
            op,
            right: Term::Lit(lit),
            ..
        } => match (op, lit) {
            (Op::Eq, Lit::Str(s)) => ToolSet::Some {
                exact: BTreeSet::from([s.to_string()]),
                globs: Vec::new(),
            },
            (Op::In, Lit::List(items)) => ToolSet::Some {
                exact: items
                    .iter()
                    .filter_map(|l| match l {
                        Lit::Str(s) => Some(s.to_string()),
                        _ => None,
                    })
                    .collect(),
                globs: Vec::new(),
            },
            (Op::Glob(g), _) => ToolSet::Some {
                exact: BTreeSet::new(),
                globs: vec![vec![g.clone()]],
            },
            _ => ToolSet::Any,
        },
        _ => ToolSet::Any,
    }
}

fn conj_matches(conj: &[Arc<Glob>], name: &str) -> bool {
    conj.iter().all(|g| g.matches(name))
}

fn same(a: &[Arc<Glob>], b: &[Arc<Glob>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_str() == y.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(exact: &[&str], globs: &[&str]) -> ToolSet {
        ToolSet::Some {
            exact: exact.iter().map(|s| s.to_string()).collect(),
            globs: globs
                .iter()
                .map(|g| vec![Arc::new(Glob::new(g).unwrap())])
                .collect(),
        }
    }

    #[test]
    fn intersection_filters_names_by_globs() {
        let a = set(&["bank.wire", "crm.get"], &[]);
        let b = set(&[], &["bank.*"]);
        let i = a.intersect(b);
        assert!(i.contains("bank.wire"));
        assert!(!i.contains("crm.get"));
        assert!(!i.contains("bank.other"));
        assert!(set(&["a"], &[]).intersect(set(&["b"], &[])).is_empty());
        let both = set(&[], &["*.get"]).intersect(set(&[], &["iam.*"]));
        assert!(both.contains("iam.get") && !both.contains("crm.get") && !both.contains("iam.put"));
    }

    #[test]
    fn union_and_any() {
        let u = set(&["a"], &[]).union(set(&[], &["b*"]));
        assert!(u.contains("a") && u.contains("bz") && !u.contains("c"));
        assert_eq!(ToolSet::Any.intersect(set(&["a"], &[])), set(&["a"], &[]));
    }
}
