//! The checked program to a decision tree that, for a call, touches only the rules that
//! can match it.
//!
//! 1. **Slice by tool name.** Every tool name the catalog or the policy names gets its own
//!    slice, found by one hash lookup; inside it every condition is folded for that name
//!    (tool tests and catalog class membership become constants, classes are inlined).
//!    Other names go to a fallback slice whose `tool matches` globs are all tested at once
//!    by one combined automaton ([`globs`]).
//! 2. **Tiers, deny first.** A slice holds its rules by effect: deny, approve, audit,
//!    allow. A deny ends the walk; an approve skips audit and allow.
//! 3. **Threshold indexes.** Rules whose condition requires `PATH > N` (or `>=`, `<`,
//!    `<=`, `==`) on a shared path are kept sorted by N, so one read and one binary search
//!    settle them all; only the rules the search selects are evaluated further.
//!
//! The tree is immutable once built: evaluation mutates nothing shared.

mod fold;
pub mod globs;
pub mod print;
mod walk;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::ast::Effect;
use crate::ir::{ClassId, Cond, Lit, Op, PathExpr, Program, Root, RuleId, Term};
use crate::toolset::{self, ToolSet};

/// The compiled decision tree of a program.
#[derive(Debug)]
pub struct Tree {
    exact: HashMap<Box<str>, u32>,
    slices: Vec<Slice>,
    fallback: Fallback,
    matcher: globs::GlobMatcher,
    glob_patterns: Vec<String>,
}

#[derive(Debug, Default)]
struct Slice {
    /// Deny, approve, audit, allow.
    tiers: [Tier; 4],
    floors: Box<[(ClassId, Cond)]>,
}

#[derive(Debug, Default)]
struct Tier {
    indexes: Box<[Index]>,
    plain: Box<[Entry]>,
}

#[derive(Debug)]
struct Entry {
    rule: RuleId,
    cond: Cond,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bound {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

#[derive(Debug)]
struct Index {
    path: Arc<PathExpr>,
    bound: Bound,
    /// Sorted by threshold.
    entries: Box<[(f64, Entry)]>,
}

#[derive(Debug, Default)]
struct Fallback {
    always: Slice,
    per_glob: Box<[Slice]>,
}

const TIER_ORDER: [Effect; 4] = [Effect::Deny, Effect::Approve, Effect::Audit, Effect::Allow];

fn tier_of(e: Effect) -> usize {
    match e {
        Effect::Deny => 0,
        Effect::Approve => 1,
        Effect::Audit => 2,
        Effect::Allow => 3,
    }
}

impl Tree {
    /// Builds the tree for a checked program.
    pub fn build(program: &Program) -> Tree {
        let rule_sets: Vec<ToolSet> = program
            .rules
            .iter()
            .map(|r| toolset::of(program, &r.cond))
            .collect();
        let floor_sets: Vec<(ClassId, ToolSet)> = program
            .never_auto
            .iter()
            .map(|&c| (c, toolset::of_class(program, c)))
            .collect();

        // Every name the catalog or the policy mentions gets its own slice.
        let mut names: BTreeSet<String> = BTreeSet::new();
        if let Some(cat) = &program.catalog {
            names.extend(cat.tools.keys().cloned());
        }
        for class in &program.classes {
            names.extend(class.catalog_tools.iter().cloned());
            if let Some(c) = &class.cond {
                fold::exact_names(c, &mut names);
            }
        }
        for r in &program.rules {
            fold::exact_names(&r.cond, &mut names);
        }
        let mut glob_patterns: Vec<String> = Vec::new();
        for class in &program.classes {
            if let Some(c) = &class.cond {
                fold::glob_patterns(c, &mut glob_patterns);
            }
        }
        for r in &program.rules {
            fold::glob_patterns(&r.cond, &mut glob_patterns);
        }
        let glob_ids: HashMap<&str, u32> = glob_patterns
            .iter()
            .enumerate()
            .map(|(i, g)| (g.as_str(), i as u32))
            .collect();

        let mut exact = HashMap::with_capacity(names.len());
        let mut slices = Vec::with_capacity(names.len());
        for name in &names {
            let ctx = fold::Ctx {
                program,
                tool: fold::ToolKnown::Known(name),
            };
            let mut slice = Slice::default();
            let mut tiers: [Vec<Entry>; 4] = Default::default();
            for (i, rule) in program.rules.iter().enumerate() {
                if !rule_sets.get(i).is_some_and(|s| s.contains(name)) {
                    continue;
                }
                let cond = ctx.fold(&rule.cond);
                if matches!(cond, Cond::Const(false)) {
                    continue;
                }
                if let Some(t) = tiers.get_mut(tier_of(rule.effect)) {
                    t.push(Entry {
                        rule: i as RuleId,
                        cond,
                    });
                }
            }
            slice.tiers = tiers.map(index_tier);
            slice.floors = floor_sets
                .iter()
                .filter(|(_, s)| s.contains(name))
                .map(|(c, _)| (*c, ctx.fold(&Cond::Class(*c))))
                .filter(|(_, c)| !matches!(c, Cond::Const(false)))
                .collect();
            exact.insert(name.as_str().into(), slices.len() as u32);
            slices.push(slice);
        }

        // The fallback: names nobody listed. Rules reach it through globs or no tool test.
        let ctx = fold::Ctx {
            program,
            tool: fold::ToolKnown::Unlisted(&glob_ids),
        };
        let mut always: [Vec<Entry>; 4] = Default::default();
        let mut per_glob: Vec<[Vec<Entry>; 4]> = (0..glob_patterns.len())
            .map(|_| Default::default())
            .collect();
        for (i, rule) in program.rules.iter().enumerate() {
            let Some(set) = rule_sets.get(i) else {
                continue;
            };
            let targets: Vec<usize> = match set {
                ToolSet::Any => vec![usize::MAX],
                // A conjunction of globs is filed under its first glob; the rest are
                // tested by the folded condition.
                ToolSet::Some { globs, .. } => {
                    let mut t: Vec<usize> = globs
                        .iter()
                        .filter_map(|c| c.first())
                        .filter_map(|g| glob_ids.get(g.as_str()).map(|&id| id as usize))
                        .collect();
                    t.sort_unstable();
                    t.dedup();
                    t
                }
            };
            if targets.is_empty() {
                continue;
            }
            let cond = ctx.fold(&rule.cond);
            if matches!(cond, Cond::Const(false)) {
                continue;
            }
            let tier = tier_of(rule.effect);
            for t in targets {
                let bucket = if t == usize::MAX {
                    always.get_mut(tier)
                } else {
                    per_glob.get_mut(t).and_then(|b| b.get_mut(tier))
                };
                if let Some(b) = bucket {
                    b.push(Entry {
                        rule: i as RuleId,
                        cond: cond.clone(),
                    });
                }
            }
        }
        let fallback = Fallback {
            always: Slice {
                tiers: always.map(index_tier),
                floors: floor_sets
                    .iter()
                    .filter(|(_, s)| !matches!(s, ToolSet::Some { globs, .. } if globs.is_empty()))
                    .map(|(c, _)| (*c, ctx.fold(&Cond::Class(*c))))
                    .filter(|(_, c)| !matches!(c, Cond::Const(false)))
                    .collect(),
            },
            per_glob: per_glob
                .into_iter()
                .map(|tiers| Slice {
                    tiers: tiers.map(index_tier),
                    floors: Box::new([]),
                })
                .collect(),
        };
        let matcher = globs::GlobMatcher::new(&glob_patterns);
        Tree {
            exact,
            slices,
            fallback,
            matcher,
            glob_patterns,
        }
    }

    /// How many tool names have a slice of their own.
    pub fn listed_tools(&self) -> usize {
        self.exact.len()
    }
}

/// Splits a tier's entries into threshold indexes (two or more rules bounding one path)
/// and plain entries.
fn index_tier(entries: Vec<Entry>) -> Tier {
    type Key = (Root, Box<str>, Bound);
    let mut groups: HashMap<Key, Vec<(f64, Entry, Arc<PathExpr>)>> = HashMap::new();
    let mut keys: Vec<Key> = Vec::new();
    let mut plain = Vec::new();
    for e in entries {
        match threshold(&e.cond) {
            Some((path, bound, n)) => {
                let key = (path.root, path.text.clone(), bound);
                if !groups.contains_key(&key) {
                    keys.push(key.clone());
                }
                groups.entry(key).or_default().push((n, e, path));
            }
            None => plain.push(e),
        }
    }
    let mut indexes = Vec::new();
    for key in keys {
        let Some(mut group) = groups.remove(&key) else {
            continue;
        };
        if group.len() < 2 {
            plain.extend(group.into_iter().map(|(_, e, _)| e));
            continue;
        }
        group.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path = group
            .first()
            .map(|g| g.2.clone())
            .unwrap_or_else(|| Arc::new(empty_path()));
        indexes.push(Index {
            path,
            bound: key.2,
            entries: group.into_iter().map(|(n, e, _)| (n, e)).collect(),
        });
    }
    plain.sort_by_key(|e| e.rule);
    Tier {
        indexes: indexes.into(),
        plain: plain.into(),
    }
}

fn empty_path() -> PathExpr {
    PathExpr {
        root: Root::Args,
        segments: Box::new([]),
        text: "args".into(),
        span: Default::default(),
    }
}

/// The first conjunct of the form `PATH op NUMBER` (args or context roots only).
fn threshold(cond: &Cond) -> Option<(Arc<PathExpr>, Bound, f64)> {
    match cond {
        Cond::And(items) => items.iter().find_map(threshold),
        Cond::Compare {
            left: Term::Path(p),
            op,
            right: Term::Lit(Lit::Num(n)),
            ..
        } if !matches!(p.root, Root::Var(_)) => {
            let b = match op {
                Op::Gt => Bound::Gt,
                Op::Ge => Bound::Ge,
                Op::Lt => Bound::Lt,
                Op::Le => Bound::Le,
                Op::Eq => Bound::Eq,
                _ => return None,
            };
            Some((p.clone(), b, *n))
        }
        Cond::Compare {
            left: Term::Lit(Lit::Num(n)),
            op,
            right: Term::Path(p),
            ..
        } if !matches!(p.root, Root::Var(_)) => {
            // `N < PATH` is `PATH > N`.
            let b = match op {
                Op::Lt => Bound::Gt,
                Op::Le => Bound::Ge,
                Op::Gt => Bound::Lt,
                Op::Ge => Bound::Le,
                Op::Eq => Bound::Eq,
                _ => return None,
            };
            Some((p.clone(), b, *n))
        }
        _ => None,
    }
}
