//! Walking the tree for one call.

use smallvec::SmallVec;

use crate::ast::Effect;
use crate::call::ToolCall;
use crate::compile::flat::Code;
use crate::compile::globs::Hits;
use crate::compile::{Bound, Entry, Floor, Index, Slice, TIER_ORDER, ThresholdTier, Tree};
use crate::eval::decision::{Decision, Named, Unknown};
use crate::eval::fast::ScannedCall;
use crate::eval::flat::{Reader, Source, run};
use crate::ir::semantics::{Env, Tri, V};
use crate::ir::{ClassId, Cond, Program};

/// What one read of an index's path selected.
#[derive(Clone, Copy)]
enum Sel<'p> {
    /// Entries by tier: `list[bounds[t]..bounds[t + 1]]`.
    Range(&'p [Entry], &'p [u32; 5]),
    /// A threshold index and the number read.
    Number(&'p [ThresholdTier; 4], Bound, f64),
    /// A threshold index whose value is missing or not a number: every entry.
    AllTiers(&'p [ThresholdTier; 4]),
    /// No entry can hold.
    Nothing,
}

impl<'p> Sel<'p> {
    fn tier(self, t: usize) -> &'p [Entry] {
        match self {
            Sel::Range(list, bounds) => match (bounds.get(t), bounds.get(t + 1)) {
                (Some(&a), Some(&b)) => list.get(a as usize..b as usize).unwrap_or(&[]),
                _ => &[],
            },
            Sel::Number(tiers, bound, v) => match tiers.get(t) {
                Some(tier) => by_threshold(tier, bound, v),
                None => &[],
            },
            Sel::AllTiers(tiers) => tiers.get(t).map_or(&[], |tier| &tier.entries),
            Sel::Nothing => &[],
        }
    }
}

/// The entries a call must look at: a selection of each index, and the plain entries,
/// of every slice the call walks, each with its slice's program.
type Candidates<'p> = SmallVec<[(Sel<'p>, &'p Code); 32]>;

impl Tree {
    /// Decides a call. Does not allocate unless a call walks more than a few slices, or
    /// reads more than 16 paths.
    pub fn evaluate<'p>(&'p self, program: &'p Program, call: &ToolCall) -> Decision<'p> {
        let mut hits = Hits::new();
        let listed = self.locate(&call.tool, &mut hits);
        let env = Env {
            tool: &call.tool,
            args: &call.args,
            context: &call.context,
            program,
            glob_hits: &hits,
            // A listed tool's slice has the catalog's declaration; an unlisted tool has none.
            declared: listed.and_then(|s| s.declared.as_ref()),
        };
        let slots = listed.map_or(&self.fallback.slots, |s| &s.slots);
        let mut reader = Reader::new(Source::Value(env), &hits, slots);
        // A call's own values never leave the walk short.
        self.walk(program, listed, &hits, &mut reader)
            .unwrap_or_else(|| crate::eval::reference::evaluate(program, call))
    }

    /// Decides a call read from its text by the fast reader; `None` when the decision
    /// needs what that reader does not keep (the caller then reads the call in full).
    pub(crate) fn evaluate_scanned<'p>(
        &'p self,
        program: &'p Program,
        call: &ScannedCall<'_>,
    ) -> Option<Decision<'p>> {
        let mut hits = Hits::new();
        let listed = self.locate(call.tool, &mut hits);
        let source = Source::Scanned {
            call,
            declared: listed.and_then(|s| s.declared.as_ref()),
        };
        let slots = listed.map_or(&self.fallback.slots, |s| &s.slots);
        let mut reader = Reader::new(source, &hits, slots);
        self.walk(program, listed, &hits, &mut reader)
    }

    /// The walk of one call: candidates from each slice's indexes, then tier by tier,
    /// deny first; then the `never auto` floors. `None` when the reader bailed.
    fn walk<'p>(
        &'p self,
        program: &'p Program,
        listed: Option<&'p Slice>,
        hits: &Hits,
        reader: &mut Reader<'_, 'p>,
    ) -> Option<Decision<'p>> {
        let mut candidates: Candidates<'p> = SmallVec::new();
        self.for_each_slice(listed, hits, |slice| {
            for idx in slice.indexes.iter() {
                candidates.push((select(idx, reader), &slice.code));
            }
            candidates.push((Sel::Range(&slice.plain, &slice.plain_tiers), &slice.code));
        });

        let mut d = Decision::new(program);
        let mut deny_unknown: SmallVec<[Unknown<'p>; 2]> = SmallVec::new();
        let mut effect = None;
        for (t, tier_effect) in TIER_ORDER.iter().enumerate() {
            for (sel, code) in &candidates {
                for entry in sel.tier(t) {
                    record(entry, code, *tier_effect, reader, &mut d, &mut deny_unknown);
                }
            }
            if *tier_effect == Effect::Deny {
                if !d.named.is_empty() {
                    effect = Some(Effect::Deny);
                    break;
                }
                // Unknown deny conditions ask a human.
                for u in deny_unknown.drain(..) {
                    d.named.push(u.source);
                    d.unknown.push(u);
                }
                continue;
            }
            if !d.named.is_empty() {
                effect = Some(*tier_effect);
                break;
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
            let floors = match listed {
                Some(s) => &s.floors,
                None => &self.fallback.always.floors,
            };
            let code = listed.map_or(&self.fallback.always.code, |s| &s.code);
            raise_to_floors(floors, code, reader, &mut d);
        }
        if d.effect != Effect::Approve {
            d.unknown.clear();
        }
        if reader.bailed() {
            return None;
        }
        Some(d.finish())
    }

    /// A listed tool's slice; for any other name, the globs it matches (in `hits`).
    fn locate(&self, tool: &str, hits: &mut Hits) -> Option<&Slice> {
        let listed = self
            .exact
            .get(tool)
            .and_then(|&i| self.slices.get(i as usize));
        if listed.is_none() {
            self.matcher.matches(tool, hits);
        }
        listed
    }

    pub(super) fn for_each_slice<'a>(
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

    /// The rules that can apply to a tool, each once, in rule order, and whether it
    /// applies to every call of the tool (its condition folds to `true` for the tool and
    /// it is not behind an index's test), for [`ToolStance`] and `--explain`.
    ///
    /// [`ToolStance`]: crate::ToolStance
    pub(crate) fn stance_entries(&self, tool: &str) -> Vec<(u32, bool)> {
        let mut hits = Hits::new();
        let listed = self.locate(tool, &mut hits);
        let mut out: Vec<(u32, bool)> = Vec::new();
        self.for_each_slice(listed, &hits, |s| {
            out.extend(
                s.plain
                    .iter()
                    .map(|e| (e.rule, matches!(*e.cond, Cond::Const(true)))),
            );
            for idx in s.indexes.iter() {
                out.extend(idx.entries().into_iter().map(|e| (e.rule, false)));
            }
        });
        // Unconditional first, so the dedup keeps it.
        out.sort_by_key(|&(rule, always)| (rule, !always));
        out.dedup_by_key(|(rule, _)| *rule);
        out
    }

    /// The `never auto` classes a tool can belong to.
    pub(crate) fn stance_floors(&self, tool: &str) -> Vec<ClassId> {
        let mut hits = Hits::new();
        let listed = self.locate(tool, &mut hits);
        let mut out = Vec::new();
        self.for_each_slice(listed, &hits, |s| {
            // Floors that fold to false for the tool were left out when compiling.
            out.extend(s.floors.iter().map(|f| f.class));
        });
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Which rules the tree would consider for a tool name (for `--explain`).
    pub fn candidate_rules(&self, tool: &str) -> Vec<u32> {
        self.stance_entries(tool)
            .into_iter()
            .map(|(rule, _)| rule)
            .collect()
    }
}

impl Index {
    /// Every entry of the index (an `in` list's entry may appear more than once).
    pub(super) fn entries(&self) -> Vec<&Entry> {
        match self {
            Index::Threshold { tiers, .. } => tiers.iter().flat_map(|t| t.entries.iter()).collect(),
            Index::Equal { all, .. } => all.iter().collect(),
            Index::Present { entries, .. } => entries.iter().collect(),
        }
    }
}

/// A call below `approve` in a `never auto` class the tool can belong to is raised to
/// `approve`, naming the classes.
fn raise_to_floors<'p>(
    floors: &'p [Floor],
    code: &'p Code,
    reader: &mut Reader<'_, 'p>,
    d: &mut Decision<'p>,
) {
    let mut raised = false;
    for floor in floors.iter() {
        let n = Named::NeverAuto(floor.class);
        let hit = match run(code, floor.start, reader) {
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

/// Judges one entry by its flat program (an unknown with its first cause).
fn record<'p>(
    entry: &'p Entry,
    code: &'p Code,
    effect: Effect,
    reader: &mut Reader<'_, 'p>,
    d: &mut Decision<'p>,
    deny_unknown: &mut SmallVec<[Unknown<'p>; 2]>,
) {
    let n = Named::Rule(entry.rule);
    let truth = run(code, entry.start, reader);
    match truth {
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

/// What an index selects for this call: found by one read and one search when the
/// value has the index's type; everything (each entry then judged in full) when it is
/// missing or of another type.
fn select<'p>(idx: &'p Index, reader: &mut Reader<'_, 'p>) -> Sel<'p> {
    match idx {
        Index::Equal {
            slot,
            groups,
            entries,
            all,
            all_tiers,
            ..
        } => match reader.slot(*slot) {
            // A value the catalog contradicts is judged by every entry, as the reference
            // judges it: unknown.
            V::Str(s) => match groups.get(s) {
                Some(bounds) => Sel::Range(entries, bounds),
                None => Sel::Nothing,
            },
            _ => Sel::Range(all, all_tiers),
        },
        Index::Present {
            slot,
            entries,
            tiers,
            ..
        } => match reader.slot(*slot) {
            V::Bool(true) => Sel::Range(entries, tiers),
            _ => Sel::Nothing,
        },
        Index::Threshold {
            slot, bound, tiers, ..
        } => match reader.slot(*slot) {
            V::Num(v) => Sel::Number(tiers, *bound, v),
            _ => Sel::AllTiers(tiers),
        },
    }
}

/// The entries of one threshold tier whose comparison holds for `v`.
fn by_threshold(tier: &ThresholdTier, bound: Bound, v: f64) -> &[Entry] {
    let keys = &tier.keys;
    let split = |pred: &dyn Fn(f64) -> bool| keys.partition_point(|k| pred(*k));
    let range = match bound {
        // PATH > k holds for every k < v: a prefix.
        Bound::Gt => 0..split(&|k| k < v),
        Bound::Ge => 0..split(&|k| k <= v),
        // PATH < k holds for every k > v: a suffix.
        Bound::Lt => split(&|k| k <= v)..keys.len(),
        Bound::Le => split(&|k| k < v)..keys.len(),
        Bound::Eq => split(&|k| k < v)..split(&|k| k <= v),
    };
    tier.entries.get(range).unwrap_or(&[])
}
