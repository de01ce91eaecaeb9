//! The tree as text, for `policy tree`, and conditions as text.

use std::fmt::Write as _;

use super::{Bound, Entry, Index, Slice, TIER_ORDER, Tree};
use crate::ast::Effect;
use crate::ir::{Cond, Lit, Program, Term};

impl Tree {
    /// A readable listing of the tree: one block per listed tool, then the fallback.
    pub fn render(&self, program: &Program) -> String {
        let mut out = String::new();
        let name = program.name.as_deref().unwrap_or("(unnamed)");
        let _ = writeln!(
            out,
            "policy {name}: {} rules, default {}, {} listed tool(s); unlisted tools: {}",
            program.rules.len(),
            program.default,
            self.exact.len(),
            self.matcher.describe()
        );
        let mut names: Vec<(&str, u32)> = self.exact.iter().map(|(k, v)| (&**k, *v)).collect();
        names.sort();
        for (tool, i) in names {
            let Some(slice) = self.slices.get(i as usize) else {
                continue;
            };
            let _ = writeln!(out, "\ntool {tool}");
            render_slice(slice, program, &mut out);
        }
        let _ = writeln!(out, "\nany other tool");
        render_slice(&self.fallback.always, program, &mut out);
        for (i, s) in self.fallback.per_glob.iter().enumerate() {
            let Some(g) = self.glob_patterns.get(i) else {
                continue;
            };
            let _ = writeln!(out, "  when it matches {}", crate::ast::quote(g));
            let mut inner = String::new();
            render_slice(s, program, &mut inner);
            for line in inner.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

fn render_slice(slice: &Slice, program: &Program, out: &mut String) {
    let effect = |e: &Entry| {
        TIER_ORDER
            .get(e.tier as usize)
            .copied()
            .unwrap_or(Effect::Allow)
    };
    for idx in slice.indexes.iter() {
        match idx {
            Index::Threshold {
                path, bound, tiers, ..
            } => {
                let op = match bound {
                    Bound::Gt => ">",
                    Bound::Ge => ">=",
                    Bound::Lt => "<",
                    Bound::Le => "<=",
                    Bound::Eq => "==",
                };
                let count: usize = tiers.iter().map(|t| t.entries.len()).sum();
                let _ = writeln!(
                    out,
                    "  index {} {op} N: {count} rules sorted by N, settled by one binary search",
                    path.text,
                );
                for tier in tiers.iter() {
                    for (n, e) in tier.keys.iter().zip(tier.entries.iter()) {
                        let _ = writeln!(
                            out,
                            "    N = {}: {} {}",
                            num(*n),
                            effect(e),
                            entry(e, program)
                        );
                    }
                }
            }
            Index::Present { path, entries, .. } => {
                let _ = writeln!(
                    out,
                    "  index exists({}): {} rules, skipped at once when it is absent",
                    path.text,
                    entries.len()
                );
                for e in entries.iter() {
                    let _ = writeln!(out, "    {} {}", effect(e), entry(e, program));
                }
            }
            Index::Equal {
                path, groups, all, ..
            } => {
                let _ = writeln!(
                    out,
                    "  index {} == TEXT: {} rules in {} groups, settled by one hash lookup",
                    path.text,
                    all.len(),
                    groups.len()
                );
                for e in all.iter() {
                    let _ = writeln!(out, "    {} {}", effect(e), entry(e, program));
                }
            }
        }
    }
    for e in slice.plain.iter() {
        let _ = writeln!(out, "  {:<7} {}", effect(e).as_str(), entry(e, program));
    }
    for crate::compile::Floor { class, cond, .. } in slice.floors.iter() {
        let name = program.class(*class).map(|c| c.name.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "  floor   never_auto:{name} when {}",
            cond_text(cond, program)
        );
    }
    if slice.indexes.is_empty() && slice.plain.is_empty() && slice.floors.is_empty() {
        let _ = writeln!(out, "  (no rule: the default applies)");
    }
}

fn entry(e: &Entry, program: &Program) -> String {
    let name = program.rule(e.rule).map(|r| r.name.as_str()).unwrap_or("");
    format!("{name} when {}", cond_text(&e.cond, program))
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        return format!("{}", n as i64);
    }
    serde_json::Number::from_f64(n)
        .map(|x| x.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// A condition as text, close to how it would be written.
pub fn cond_text(cond: &Cond, program: &Program) -> String {
    match cond {
        Cond::Const(b) => b.to_string(),
        Cond::And(items) => join(items, " and ", program),
        Cond::Or(items) => join(items, " or ", program),
        Cond::Not(c) => format!("not {}", wrap(c, program)),
        Cond::Class(id) => program
            .class(*id)
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        Cond::Exists(p) => format!("exists({})", p.text),
        Cond::Quantified {
            all,
            list,
            var,
            body,
            ..
        } => format!(
            "{}({var} in {}: {})",
            if *all { "all" } else { "any" },
            list.text,
            cond_text(body, program)
        ),
        Cond::Compare {
            left, op, right, ..
        } => format!(
            "{} {} {}",
            term(left, program),
            op.as_str(),
            term(right, program)
        ),
        Cond::Truthy(t) => term(t, program),
        Cond::GlobHit { glob, .. } => format!("tool matches {}", crate::ast::quote(glob.as_str())),
    }
}

fn join(items: &[Cond], sep: &str, program: &Program) -> String {
    items
        .iter()
        .map(|c| wrap(c, program))
        .collect::<Vec<_>>()
        .join(sep)
}

fn wrap(c: &Cond, program: &Program) -> String {
    match c {
        Cond::And(_) | Cond::Or(_) => format!("({})", cond_text(c, program)),
        _ => cond_text(c, program),
    }
}

/// A term as text.
pub fn term(t: &Term, program: &Program) -> String {
    match t {
        Term::Tool => "tool".into(),
        Term::Path(p) => p.text.to_string(),
        Term::Len(p) => format!("len({})", p.text),
        Term::Count(c) => format!(
            "count({} in {}: {})",
            c.var,
            c.list.text,
            cond_text(&c.body, program)
        ),
        Term::Lit(l) => lit(l),
    }
}

fn lit(l: &Lit) -> String {
    match l {
        Lit::Str(s) => crate::ast::quote(s),
        Lit::Num(n) => num(*n),
        Lit::Bool(b) => b.to_string(),
        Lit::List(items) => format!("[{}]", items.iter().map(lit).collect::<Vec<_>>().join(", ")),
    }
}
