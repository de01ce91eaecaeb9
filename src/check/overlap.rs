//! Whether conditions can hold together: a small, sound satisfiability check over the
//! facts a condition requires (tool names, numeric bounds, class membership).
//!
//! A condition is expanded into branches (its disjunctive form, up to a limit); each
//! branch is the conjunction of facts it requires. Facts the check does not understand
//! (regexes, quantifiers, string tests) are taken as satisfiable, so "cannot hold" is
//! only ever said when it is certain.

use std::collections::BTreeMap;

use crate::catalog::Catalog;
use crate::ir::toolset::{self, ToolSet};
use crate::ir::{ClassId, Cond, Lit, Op, Program, Root, Term};

const MAX_BRANCHES: usize = 256;

#[derive(Debug, Clone)]
struct Bound {
    lo: Option<(f64, bool)>,
    hi: Option<(f64, bool)>,
}

impl Bound {
    fn empty(&self) -> bool {
        match (self.lo, self.hi) {
            (Some((lo, lo_strict)), Some((hi, hi_strict))) => {
                lo > hi || (lo == hi && (lo_strict || hi_strict))
            }
            _ => false,
        }
    }

    fn meet(&mut self, other: &Bound) {
        if let Some((v, s)) = other.lo {
            self.lo = Some(match self.lo {
                Some((w, t)) if w > v || (w == v && t) => (w, t),
                _ => (v, s),
            });
        }
        if let Some((v, s)) = other.hi {
            self.hi = Some(match self.hi {
                Some((w, t)) if w < v || (w == v && t) => (w, t),
                _ => (v, s),
            });
        }
    }
}

/// One conjunction of required facts.
#[derive(Debug, Clone)]
struct Branch {
    /// Set when the branch also requires something this analysis does not model (a
    /// regex, a string test ...): it then promises less than its facts say.
    opaque: bool,
    tools: ToolSet,
    bounds: BTreeMap<(Root, Box<str>), Bound>,
    classes: Vec<ClassId>,
    not_classes: Vec<ClassId>,
}

impl Branch {
    fn top() -> Branch {
        Branch {
            opaque: false,
            tools: ToolSet::Any,
            bounds: BTreeMap::new(),
            classes: Vec::new(),
            not_classes: Vec::new(),
        }
    }

    fn and(&self, other: &Branch) -> Branch {
        let mut out = self.clone();
        out.tools = out.tools.intersect(other.tools.clone());
        for (k, b) in &other.bounds {
            out.bounds
                .entry(k.clone())
                .and_modify(|x| x.meet(b))
                .or_insert_with(|| b.clone());
        }
        out.opaque |= other.opaque;
        out.classes.extend(other.classes.iter().copied());
        out.not_classes.extend(other.not_classes.iter().copied());
        out
    }

    /// Some(false) when certainly contradictory; None when undecided.
    fn satisfiable(&self, catalog: Option<&Catalog>) -> Option<bool> {
        if self.bounds.values().any(Bound::empty)
            || self.classes.iter().any(|c| self.not_classes.contains(c))
        {
            return Some(false);
        }
        self.tools
            .certainly_nonempty(catalog.map(|c| c.tools.keys().map(String::as_str)))
    }
}

fn branches(program: &Program, cond: &Cond, depth: usize) -> Option<Vec<Branch>> {
    if depth > 32 {
        return None;
    }
    let single = |b: Branch| Some(vec![b]);
    match cond {
        Cond::Const(true) => single(Branch::top()),
        Cond::Const(false) => Some(Vec::new()),
        Cond::And(items) => {
            let mut acc = vec![Branch::top()];
            for c in items.iter() {
                let bs = branches(program, c, depth + 1)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &bs {
                        next.push(a.and(b));
                    }
                }
                if next.len() > MAX_BRANCHES {
                    return None;
                }
                acc = next;
            }
            Some(acc)
        }
        Cond::Or(items) => {
            let mut acc = Vec::new();
            for c in items.iter() {
                acc.extend(branches(program, c, depth + 1)?);
                if acc.len() > MAX_BRANCHES {
                    return None;
                }
            }
            Some(acc)
        }
        Cond::Class(id) => {
            let class = program.class(*id)?;
            let mut acc = match &class.cond {
                Some(c) => branches(program, c, depth + 1)?,
                None => Vec::new(),
            };
            if !class.catalog_tools.is_empty() {
                let mut b = Branch::top();
                b.tools = ToolSet::Some {
                    exact: class.catalog_tools.iter().cloned().collect(),
                    globs: Vec::new(),
                };
                acc.push(b);
            }
            for b in &mut acc {
                b.classes.push(*id);
            }
            Some(acc)
        }
        Cond::Not(inner) => match &**inner {
            Cond::Class(id) => {
                let mut b = Branch::top();
                b.not_classes.push(*id);
                single(b)
            }
            _ => single(Branch::opaque()),
        },
        Cond::Compare {
            left, op, right, ..
        } => {
            let mut b = Branch::top();
            if matches!(left, Term::Tool) {
                b.tools = toolset::of(program, cond);
                // Only `==`, `in` and `matches` are modelled exactly.
                b.opaque = !matches!(op, Op::Eq | Op::In | Op::Glob(_));
                return single(b);
            }
            let (path, op, n) = match (left, right) {
                (Term::Path(p), Term::Lit(Lit::Num(n))) => (p, op, *n),
                _ => return single(Branch::opaque()),
            };
            let bound = match op {
                Op::Gt => Bound {
                    lo: Some((n, true)),
                    hi: None,
                },
                Op::Ge => Bound {
                    lo: Some((n, false)),
                    hi: None,
                },
                Op::Lt => Bound {
                    lo: None,
                    hi: Some((n, true)),
                },
                Op::Le => Bound {
                    lo: None,
                    hi: Some((n, false)),
                },
                Op::Eq => Bound {
                    lo: Some((n, false)),
                    hi: Some((n, false)),
                },
                _ => return single(Branch::opaque()),
            };
            if matches!(path.root, Root::Var(_)) {
                return single(Branch::opaque());
            }
            b.bounds.insert((path.root, path.text.clone()), bound);
            single(b)
        }
        _ => single(Branch::opaque()),
    }
}

impl Branch {
    fn opaque() -> Branch {
        Branch {
            opaque: true,
            ..Branch::top()
        }
    }

    /// Whether every call that meets `self` meets `weaker` too (sound, not complete).
    fn implies(&self, weaker: &Branch) -> bool {
        if weaker.opaque {
            return false;
        }
        let bounds = weaker.bounds.iter().all(|(k, w)| {
            self.bounds.get(k).is_some_and(|s| {
                let lo = match (w.lo, s.lo) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some((wl, ws)), Some((sl, ss))) => sl > wl || (sl == wl && (ss || !ws)),
                };
                let hi = match (w.hi, s.hi) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some((wh, ws)), Some((sh, ss))) => sh < wh || (sh == wh && (ss || !ws)),
                };
                lo && hi
            })
        });
        bounds
            && weaker.classes.iter().all(|c| self.classes.contains(c))
            && weaker
                .not_classes
                .iter()
                .all(|c| self.not_classes.contains(c))
            && self.tools.subset_of(&weaker.tools)
    }
}

/// A condition in disjunctive form, computed once to be compared with many others.
#[derive(Debug, Clone)]
pub struct Dnf(Vec<Branch>);

/// The disjunctive form of a condition (`None` when it would be too large).
pub fn dnf(program: &Program, cond: &Cond) -> Option<Dnf> {
    branches(program, cond, 0).map(Dnf)
}

impl Dnf {
    /// Whether every call that makes `self` true makes one of `weak` true: `true` only
    /// when certain.
    pub fn implies_any(&self, program: &Program, weak: &[&Dnf]) -> bool {
        let catalog = program.catalog.as_deref();
        self.0.iter().any(|s| s.satisfiable(catalog) != Some(false))
            && self.0.iter().all(|s| {
                s.satisfiable(catalog) == Some(false)
                    || weak.iter().any(|ws| ws.0.iter().any(|w| s.implies(w)))
            })
    }
}

/// Whether some call can make both conditions true: `Some(false)` only when certain.
/// With `catalog_universe`, the catalog's tools are taken as every tool there is.
pub fn can_both_hold(
    program: &Program,
    a: &Cond,
    b: &Cond,
    catalog_universe: bool,
) -> Option<bool> {
    let (Some(xs), Some(ys)) = (branches(program, a, 0), branches(program, b, 0)) else {
        return None;
    };
    let catalog = program.catalog.as_deref().filter(|_| catalog_universe);
    let mut undecided = false;
    for x in &xs {
        for y in &ys {
            match x.and(y).satisfiable(catalog) {
                Some(true) => return Some(true),
                None => undecided = true,
                Some(false) => {}
            }
        }
    }
    if undecided { None } else { Some(false) }
}

/// Whether some call can make a condition true: `Some(false)` only when certain.
pub fn can_hold(program: &Program, a: &Cond, catalog_universe: bool) -> Option<bool> {
    can_both_hold(program, a, &Cond::Const(true), catalog_universe)
}
