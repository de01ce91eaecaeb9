//! Walking the tree for one call.

use smallvec::SmallVec;

use super::globs::Hits;
use super::{Bound, Entry, Index, Slice, TIER_ORDER, Tier, Tree};
use crate::ast::Effect;
use crate::eval::call::ToolCall;
use crate::eval::decision::{Decision, Named, Unknown};
use crate::eval::value::{Env, Tri, eval, lookup};
use crate::ir::Program;

impl Tree {
    /// Decides a call.
    pub fn evaluate<'p>(&'p self, program: &'p Program, call: &ToolCall) -> Decision<'p> {
        let mut hits = Hits::new();
        let listed = self
            .exact
            .get(call.tool.as_str())
            .and_then(|&i| self.slices.get(i as usize));
        if listed.is_none() {
            self.matcher.matches(&call.tool, &mut hits);
        }
        let env = Env {
            tool: &call.tool,
            args: &call.args,
            context: &call.context,
            program,
            glob_hits: &hits,
        };
        let mut d = Decision::new(program);
        let mut deny_unknown: SmallVec<[Unknown<'p>; 2]> = SmallVec::new();
        let mut effect = None;
        for (t, tier_effect) in TIER_ORDER.iter().enumerate() {
            self.for_each_slice(listed, &hits, |slice| {
                if let Some(tier) = slice.tiers.get(t) {
                    walk_tier(tier, *tier_effect, &env, &mut d, &mut deny_unknown);
                }
            });
            match tier_effect {
                Effect::Deny => {
                    if !d.named.is_empty() {
                        effect = Some(Effect::Deny);
                        break;
                    }
                    // Unknown deny conditions ask a human.
                    d.named.extend(deny_unknown.iter().map(|u| u.source));
                    d.unknown.extend(deny_unknown.drain(..));
                }
                e => {
                    if !d.named.is_empty() {
                        effect = Some(*e);
                        break;
                    }
                }
            }
        }
        match effect {
            Some(e) => d.effect = e,
            None => {
                d.effect = program.default;
                d.default_applied = true;
                if program.default == Effect::Approve {
                    d.named.push(Named::Default);
                }
            }
        }
        if d.effect < Effect::Approve {
            let mut raised = false;
            let floors = match listed {
                Some(s) => &s.floors,
                None => &self.fallback.always.floors,
            };
            for (class, cond) in floors.iter() {
                let n = Named::NeverAuto(*class);
                let hit = match eval(cond, &env, None) {
                    Tri::True => None,
                    Tri::Unknown(cause) => Some(Unknown { source: n, cause }),
                    Tri::False => continue,
                };
                if !raised {
                    raised = true;
                    d.named.clear();
                    d.unknown.clear();
                    d.default_applied = false;
                    d.effect = Effect::Approve;
                }
                d.named.push(n);
                if let Some(u) = hit {
                    d.unknown.push(u);
                }
            }
        }
        if d.effect != Effect::Approve {
            d.unknown.clear();
        }
        d.finish()
    }

    fn for_each_slice<'a>(
        &'a self,
        listed: Option<&'a Slice>,
        hits: &Hits,
        mut f: impl FnMut(&'a Slice),
    ) {
        match listed {
            Some(s) => f(s),
            None => {
                f(&self.fallback.always);
                for (w, word) in hits.iter().enumerate() {
                    let mut bits = *word;
                    while bits != 0 {
                        let b = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        if let Some(s) = self.fallback.per_glob.get(w * 64 + b) {
                            f(s);
                        }
                    }
                }
            }
        }
    }

    /// Which rules the tree would consider for a tool name (for `--explain`).
    pub fn candidate_rules(&self, tool: &str) -> Vec<u32> {
        let mut hits = Hits::new();
        let listed = self
            .exact
            .get(tool)
            .and_then(|&i| self.slices.get(i as usize));
        if listed.is_none() {
            self.matcher.matches(tool, &mut hits);
        }
        let mut out = Vec::new();
        self.for_each_slice(listed, &hits, |s| {
            for tier in &s.tiers {
                out.extend(tier.plain.iter().map(|e| e.rule));
                for idx in tier.indexes.iter() {
                    out.extend(idx.entries.iter().map(|(_, e)| e.rule));
                }
            }
        });
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn record<'p>(
    entry: &'p Entry,
    effect: Effect,
    env: &Env<'_, 'p>,
    d: &mut Decision<'p>,
    deny_unknown: &mut SmallVec<[Unknown<'p>; 2]>,
) {
    let n = Named::Rule(entry.rule);
    match eval(&entry.cond, env, None) {
        Tri::True => {
            if !d.named.contains(&n) {
                d.named.push(n);
            }
        }
        Tri::Unknown(cause) => match effect {
            Effect::Deny if !deny_unknown.iter().any(|u| u.source == n) => {
                deny_unknown.push(Unknown { source: n, cause });
            }
            Effect::Approve if !d.named.contains(&n) => {
                d.named.push(n);
                d.unknown.push(Unknown { source: n, cause });
            }
            _ => {}
        },
        Tri::False => {}
    }
}

fn walk_tier<'p>(
    tier: &'p Tier,
    effect: Effect,
    env: &Env<'_, 'p>,
    d: &mut Decision<'p>,
    deny_unknown: &mut SmallVec<[Unknown<'p>; 2]>,
) {
    for idx in tier.indexes.iter() {
        let candidates = candidates(idx, env);
        for (_, entry) in candidates {
            record(entry, effect, env, d, deny_unknown);
        }
    }
    for entry in tier.plain.iter() {
        record(entry, effect, env, d, deny_unknown);
    }
}

/// The entries whose indexed comparison can hold: a binary search when the value is a
/// number; every entry when it is missing or not a number (each is then judged in full).
fn candidates<'p>(idx: &'p Index, env: &Env<'_, 'p>) -> &'p [(f64, Entry)] {
    let all = &idx.entries[..];
    let v = match lookup(&idx.path, env, None).and_then(|v| v.as_f64()) {
        Some(v) => v,
        None => return all,
    };
    let split = |pred: &dyn Fn(f64) -> bool| all.partition_point(|(k, _)| pred(*k));
    match idx.bound {
        // PATH > k holds for every k < v: a prefix.
        Bound::Gt => all.get(..split(&|k| k < v)).unwrap_or(&[]),
        Bound::Ge => all.get(..split(&|k| k <= v)).unwrap_or(&[]),
        // PATH < k holds for every k > v: a suffix.
        Bound::Lt => all.get(split(&|k| k <= v)..).unwrap_or(&[]),
        Bound::Le => all.get(split(&|k| k < v)..).unwrap_or(&[]),
        Bound::Eq => {
            let lo = split(&|k| k < v);
            let hi = split(&|k| k <= v);
            all.get(lo..hi).unwrap_or(&[])
        }
    }
}
