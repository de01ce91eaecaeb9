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

pub(crate) mod flat;
mod fold;
pub mod globs;
pub(crate) mod paths;
pub mod print;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::ast::Effect;
use crate::catalog::ArgSpec;
use crate::ir::toolset::{self, ToolSet};
use crate::ir::{ClassId, Cond, Lit, Op, PathExpr, Program, Root, Rule, RuleId, Term};

/// The compiled decision tree of a program.
#[derive(Debug)]
pub struct Tree {
    pub(crate) exact: rustc_hash::FxHashMap<Box<str>, u32>,
    pub(crate) slices: Vec<Slice>,
    pub(crate) fallback: Fallback,
    pub(crate) matcher: globs::GlobMatcher,
    pub(crate) glob_patterns: Vec<String>,
    /// Every path of the call the programs and the reasons read, for the fast reader.
    pub(crate) paths: paths::CallPaths,
}

#[derive(Debug, Default)]
pub(crate) struct Slice {
    /// Rules grouped under a shared attribute test.
    pub(crate) indexes: Box<[Index]>,
    /// Rules evaluated one by one, sorted by tier then rule.
    pub(crate) plain: Box<[Entry]>,
    /// Where each tier starts in `plain` (and where the last ends).
    pub(crate) plain_tiers: [u32; 5],
    pub(crate) floors: Box<[Floor]>,
    /// For a tool the catalog lists: what it declares for the tool's arguments, which every
    /// read of the call is checked against.
    pub(crate) declared: Option<BTreeMap<String, ArgSpec>>,
    /// The entries' conditions as one flat program.
    pub(crate) code: flat::Code,
    /// For a listed tool's slice, the paths its program reads (the fallback's slices
    /// share [`Fallback::slots`]).
    pub(crate) slots: flat::Slots,
}

/// A `never auto` class a slice's tool can belong to, with its condition folded for the
/// slice.
#[derive(Debug, Clone)]
pub(crate) struct Floor {
    pub(crate) class: ClassId,
    pub(crate) cond: Cond,
    /// Where its flat program starts in the slice's [`flat::Code`].
    pub(crate) start: u32,
}

/// Where each tier's entries start in a list sorted by tier (and where the last ends).
fn tier_starts(entries: &[Entry]) -> [u32; 5] {
    let mut out = [0u32; 5];
    for (t, slot) in out.iter_mut().enumerate() {
        *slot = entries.partition_point(|e| (e.tier as usize) < t) as u32;
    }
    out
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) rule: RuleId,
    /// 0 deny, 1 approve, 2 audit, 3 allow: the walk goes tier by tier.
    pub(crate) tier: u8,
    /// Its condition as written (folded), for causes and listings.
    pub(crate) cond: Box<Cond>,
    /// Where its flat program is in the slice's [`flat::Code`].
    pub(crate) start: u32,
    pub(crate) end: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Bound {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

/// Rules that each require one test on the same path. One read of the path and one
/// search settle them all: only the rules the search selects are evaluated further.
/// Entries are kept per tier, so the walk (deny first) never scans a tier twice.
#[derive(Debug)]
pub(crate) enum Index {
    /// `PATH op N` with one operator: per tier, entries sorted by N; a binary search
    /// finds the prefix or suffix whose comparison holds.
    Threshold {
        path: Arc<PathExpr>,
        /// The slot of `path`.
        slot: u32,
        bound: Bound,
        tiers: [ThresholdTier; 4],
    },
    /// `PATH == "text"` (or `PATH in [...]`): entries grouped by text, each group sorted
    /// by tier; a hash lookup finds the group.
    Equal {
        path: Arc<PathExpr>,
        /// The slot of `path`.
        slot: u32,
        groups: rustc_hash::FxHashMap<Box<str>, [u32; 5]>,
        entries: Box<[Entry]>,
        /// Every entry once, by tier: what a missing or non-text value must judge.
        all: Box<[Entry]>,
        all_tiers: [u32; 5],
    },
    /// `exists(PATH) and ...`: when the path is absent, none of these can hold.
    Present {
        path: Arc<PathExpr>,
        /// The slot of `exists(path)`.
        slot: u32,
        entries: Box<[Entry]>,
        tiers: [u32; 5],
    },
}

/// One tier of a threshold index.
#[derive(Debug, Default)]
pub(crate) struct ThresholdTier {
    pub(crate) keys: Box<[f64]>,
    pub(crate) entries: Box<[Entry]>,
}

#[derive(Debug, Default)]
pub(crate) struct Fallback {
    pub(crate) always: Slice,
    pub(crate) per_glob: Box<[Slice]>,
    /// The paths the fallback's programs read.
    pub(crate) slots: flat::Slots,
}

pub(crate) const TIER_ORDER: [Effect; 4] =
    [Effect::Deny, Effect::Approve, Effect::Audit, Effect::Allow];

fn tier_of(e: Effect) -> u8 {
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
        let names = listed_names(program);
        let glob_patterns = policy_globs(program);
        let glob_ids: HashMap<&str, u32> = glob_patterns
            .iter()
            .enumerate()
            .map(|(i, g)| (g.as_str(), i as u32))
            .collect();
        let per_name = rules_per_name(&names, &rule_sets);
        let (exact, mut slices) = listed_slices(program, &names, &per_name, &floor_sets);
        let mut fallback = fallback(
            program,
            &rule_sets,
            &floor_sets,
            &glob_ids,
            glob_patterns.len(),
        );
        for slice in &mut slices {
            slice.slots = flat::flatten_family(std::iter::once(&mut *slice));
        }
        fallback.slots = flat::flatten_family(
            std::iter::once(&mut fallback.always).chain(fallback.per_glob.iter_mut()),
        );
        let paths = paths::CallPaths::of(program, &slices, &fallback);
        let matcher = globs::GlobMatcher::new(&glob_patterns);
        Tree {
            exact,
            slices,
            fallback,
            matcher,
            glob_patterns,
            paths,
        }
    }

    /// How many tool names have a slice of their own.
    pub fn listed_tools(&self) -> usize {
        self.exact.len()
    }
}

/// Every tool name the catalog or the policy mentions, sorted: each gets its own slice.
fn listed_names(program: &Program) -> Vec<String> {
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
    names.into_iter().collect()
}

/// Every `tool matches` glob of the classes, then the rules, once each in order of
/// appearance: a glob's id is its place in this list.
fn policy_globs(program: &Program) -> Vec<String> {
    let mut glob_patterns: Vec<String> = Vec::new();
    for class in &program.classes {
        if let Some(c) = &class.cond {
            fold::glob_patterns(c, &mut glob_patterns);
        }
    }
    for r in &program.rules {
        fold::glob_patterns(&r.cond, &mut glob_patterns);
    }
    glob_patterns
}

/// Which rules can apply to each listed name: exact names by lookup, globs tested
/// against every name once, rules without a tool test everywhere.
fn rules_per_name(names: &[String], rule_sets: &[ToolSet]) -> Vec<Vec<usize>> {
    let name_index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(k, n)| (n.as_str(), k))
        .collect();
    let mut per_name: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (i, set) in rule_sets.iter().enumerate() {
        match set {
            ToolSet::Any => per_name.iter_mut().for_each(|v| v.push(i)),
            ToolSet::Some { exact, globs } => {
                if globs.is_empty() {
                    for e in exact {
                        if let Some(rules) = name_index
                            .get(e.as_str())
                            .and_then(|&k| per_name.get_mut(k))
                        {
                            rules.push(i);
                        }
                    }
                } else {
                    for (n, rules) in names.iter().zip(per_name.iter_mut()) {
                        if set.contains(n) {
                            rules.push(i);
                        }
                    }
                }
            }
        }
    }
    per_name
}

/// One slice per listed name, and the lookup from a name to its slice.
fn listed_slices(
    program: &Program,
    names: &[String],
    per_name: &[Vec<usize>],
    floor_sets: &[(ClassId, ToolSet)],
) -> (rustc_hash::FxHashMap<Box<str>, u32>, Vec<Slice>) {
    let mut exact =
        rustc_hash::FxHashMap::with_capacity_and_hasher(names.len(), Default::default());
    let mut slices = Vec::with_capacity(names.len());
    for (name, rules_here) in names.iter().zip(per_name) {
        let slice = listed_slice(program, name, rules_here, floor_sets);
        exact.insert(name.as_str().into(), slices.len() as u32);
        slices.push(slice);
    }
    (exact, slices)
}

/// The slice of one listed name: the rules that can apply, folded for that name and
/// indexed, and the `never auto` classes the name can belong to.
fn listed_slice(
    program: &Program,
    name: &str,
    rules_here: &[usize],
    floor_sets: &[(ClassId, ToolSet)],
) -> Slice {
    let ctx = fold::Ctx {
        program,
        tool: fold::ToolKnown::Known(name),
    };
    let mut entries = Vec::with_capacity(rules_here.len());
    for &i in rules_here {
        let Some(rule) = program.rules.get(i) else {
            continue;
        };
        if let Some(entry) = folded_entry(&ctx, i, rule) {
            entries.push(entry);
        }
    }
    let mut slice = index_slice(entries);
    slice.floors = folded_floors(&ctx, floor_sets, |s| s.contains(name));
    slice.declared = program
        .catalog
        .as_deref()
        .and_then(|c| c.tool(name))
        .and_then(|t| t.args.clone());
    slice
}

/// The fallback, for names nobody listed: rules reach it through globs (filed per glob)
/// or by having no tool test (`always`).
fn fallback(
    program: &Program,
    rule_sets: &[ToolSet],
    floor_sets: &[(ClassId, ToolSet)],
    glob_ids: &HashMap<&str, u32>,
    glob_count: usize,
) -> Fallback {
    let ctx = fold::Ctx {
        program,
        tool: fold::ToolKnown::Unlisted(glob_ids),
    };
    let mut always: Vec<Entry> = Vec::new();
    let mut per_glob: Vec<Vec<Entry>> = vec![Vec::new(); glob_count];
    for (i, rule) in program.rules.iter().enumerate() {
        let Some(set) = rule_sets.get(i) else {
            continue;
        };
        let targets = fallback_targets(set, glob_ids);
        if targets.is_empty() {
            continue;
        }
        let Some(entry) = folded_entry(&ctx, i, rule) else {
            continue;
        };
        for t in targets {
            let bucket = if t == usize::MAX {
                Some(&mut always)
            } else {
                per_glob.get_mut(t)
            };
            if let Some(b) = bucket {
                b.push(entry.clone());
            }
        }
    }
    let mut always = index_slice(always);
    always.floors = folded_floors(
        &ctx,
        floor_sets,
        |s| !matches!(s, ToolSet::Some { globs, .. } if globs.is_empty()),
    );
    Fallback {
        always,
        per_glob: per_glob.into_iter().map(index_slice).collect(),
        slots: flat::Slots::default(),
    }
}

/// Where a rule goes in the fallback: `usize::MAX` for `always` (no tool test), else the
/// ids of its globs (none when it names exact tools only).
fn fallback_targets(set: &ToolSet, glob_ids: &HashMap<&str, u32>) -> Vec<usize> {
    match set {
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
    }
}

/// A rule's entry, its condition folded in `ctx`; `None` when it folds to false.
fn folded_entry(ctx: &fold::Ctx<'_>, i: usize, rule: &Rule) -> Option<Entry> {
    let cond = ctx.fold(&rule.cond);
    if matches!(cond, Cond::Const(false)) {
        return None;
    }
    Some(Entry {
        rule: i as RuleId,
        tier: tier_of(rule.effect),
        cond: Box::new(cond),
        start: 0,
        end: 0,
    })
}

/// The `never auto` classes whose tool set passes `applies`, folded in `ctx`; those that
/// fold to false are left out.
fn folded_floors(
    ctx: &fold::Ctx<'_>,
    floor_sets: &[(ClassId, ToolSet)],
    applies: impl Fn(&ToolSet) -> bool,
) -> Box<[Floor]> {
    floor_sets
        .iter()
        .filter(|(_, s)| applies(s))
        .map(|(c, _)| (*c, ctx.fold(&Cond::Class(*c))))
        .filter(|(_, c)| !matches!(c, Cond::Const(false)))
        .map(|(class, cond)| Floor {
            class,
            cond,
            start: 0,
        })
        .collect()
}

/// What an index groups entries by: the kind of test, on which path.
#[derive(PartialEq, Eq, Hash, Clone)]
enum Key {
    Threshold(Root, Box<str>, Bound),
    Equal(Root, Box<str>),
    Present(Root, Box<str>),
}

/// What one entry's conjunct asks of the path its key names.
enum Probe {
    Threshold(f64),
    Equal(Vec<Box<str>>),
    Present,
}

/// A conjunct an entry could be indexed under: its key, its probe and its path.
type Candidate = (Key, Probe, Arc<PathExpr>);

/// An entry filed under a key, with its probe and its path.
type Member = (Probe, Entry, Arc<PathExpr>);

/// Splits a slice's entries into indexes (two or more rules testing one path the same
/// way) and plain entries.
fn index_slice(entries: Vec<Entry>) -> Slice {
    let options: Vec<Vec<Candidate>> = entries.iter().map(|e| candidates(&e.cond)).collect();
    let chosen = choose_candidates(&options);
    let Filed {
        keys,
        mut groups,
        mut plain,
    } = file_under_keys(entries, options, chosen);
    let mut indexes = Vec::new();
    for key in keys {
        let Some(group) = groups.remove(&key) else {
            continue;
        };
        if group.len() < 2 {
            plain.extend(group.into_iter().map(|(_, e, _)| e));
            continue;
        }
        indexes.push(build_index(key, group));
    }
    plain.sort_by_key(|e| (e.tier, e.rule));
    let plain_tiers = tier_starts(&plain);
    Slice {
        indexes: indexes.into(),
        plain: plain.into(),
        plain_tiers,
        floors: Box::new([]),
        declared: None,
        code: flat::Code::default(),
        slots: flat::Slots::default(),
    }
}

/// Every conjunct of a condition that an index could file it under.
fn candidates(cond: &Cond) -> Vec<Candidate> {
    let mut out = Vec::new();
    for c in conjuncts(cond) {
        if let Some((path, text)) = equality(c) {
            out.push((
                Key::Equal(path.root, path.text.clone()),
                Probe::Equal(text),
                path,
            ));
        } else if let Cond::Exists(path) = c
            && !matches!(path.root, Root::Var(_))
        {
            out.push((
                Key::Present(path.root, path.text.clone()),
                Probe::Present,
                path.clone(),
            ));
        } else if let Some((path, bound, n)) = threshold(c) {
            out.push((
                Key::Threshold(path.root, path.text.clone(), bound),
                Probe::Threshold(n),
                path,
            ));
        }
    }
    out
}

/// For each entry, the candidate whose key best splits the entries: distinct texts for
/// equality (the more, the fewer rules a lookup leaves); a presence test, usually false,
/// counts 2; a threshold settles a prefix or suffix, counted as 1.
fn choose_candidates(options: &[Vec<Candidate>]) -> Vec<Option<usize>> {
    let mut spread: HashMap<&Key, std::collections::HashSet<&str>> = HashMap::new();
    for opts in options {
        for (k, p, _) in opts {
            let set = spread.entry(k).or_default();
            if let Probe::Equal(texts) = p {
                set.extend(texts.iter().map(|t| &**t));
            }
        }
    }
    let score = |k: &Key| match k {
        Key::Present(..) => 2,
        _ => spread.get(k).map_or(0, |s| s.len().max(1)),
    };
    options
        .iter()
        .map(|opts| (0..opts.len()).max_by_key(|&i| opts.get(i).map_or(0, |(k, _, _)| score(k))))
        .collect()
}

/// Entries filed under their chosen keys, and those left plain.
struct Filed {
    /// Every key used, in order of first use.
    keys: Vec<Key>,
    /// Each key's members, in the order they were filed.
    groups: HashMap<Key, Vec<Member>>,
    /// The entries without a candidate.
    plain: Vec<Entry>,
}

/// Files each entry under the key of its chosen candidate.
fn file_under_keys(
    entries: Vec<Entry>,
    options: Vec<Vec<Candidate>>,
    chosen: Vec<Option<usize>>,
) -> Filed {
    let mut groups: HashMap<Key, Vec<Member>> = HashMap::new();
    let mut keys: Vec<Key> = Vec::new();
    let mut plain = Vec::new();
    for ((e, mut opts), pick) in entries.into_iter().zip(options).zip(chosen) {
        let found = pick.map(|i| opts.swap_remove(i));
        match found {
            Some((key, probe, path)) => {
                if !groups.contains_key(&key) {
                    keys.push(key.clone());
                }
                groups.entry(key).or_default().push((probe, e, path));
            }
            None => plain.push(e),
        }
    }
    Filed {
        keys,
        groups,
        plain,
    }
}

/// The index of one key's group (two or more entries), on the path of its first entry.
fn build_index(key: Key, group: Vec<Member>) -> Index {
    let path = group
        .first()
        .map(|g| g.2.clone())
        .unwrap_or_else(|| Arc::new(empty_path()));
    match key {
        Key::Threshold(_, _, bound) => threshold_index(path, bound, group),
        Key::Present(..) => present_index(path, group),
        Key::Equal(..) => equal_index(path, group),
    }
}

/// A threshold index: per tier, the entries sorted by their number (then rule).
fn threshold_index(path: Arc<PathExpr>, bound: Bound, group: Vec<Member>) -> Index {
    let mut items: Vec<(f64, Entry)> = group
        .into_iter()
        .filter_map(|(p, e, _)| match p {
            Probe::Threshold(n) => Some((n, e)),
            Probe::Equal(_) | Probe::Present => None,
        })
        .collect();
    items.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.rule.cmp(&b.1.rule)));
    let mut tiers: [ThresholdTier; 4] = Default::default();
    for (t, tier) in tiers.iter_mut().enumerate() {
        let mine: Vec<&(f64, Entry)> = items.iter().filter(|(_, e)| e.tier as usize == t).collect();
        tier.keys = mine.iter().map(|(n, _)| *n).collect();
        tier.entries = mine.into_iter().map(|(_, e)| e.clone()).collect();
    }
    Index::Threshold {
        path,
        slot: 0,
        bound,
        tiers,
    }
}

/// A presence index: the entries sorted by tier, then rule.
fn present_index(path: Arc<PathExpr>, group: Vec<Member>) -> Index {
    let mut list: Vec<Entry> = group.into_iter().map(|(_, e, _)| e).collect();
    list.sort_by_key(|e| (e.tier, e.rule));
    let tiers = tier_starts(&list);
    Index::Present {
        path,
        slot: 0,
        entries: list.into(),
        tiers,
    }
}

/// An equality index: the entries grouped by text, and every entry once for a value
/// that is missing or not text.
fn equal_index(path: Arc<PathExpr>, group: Vec<Member>) -> Index {
    let items = entries_by_text(group);
    let groups = text_groups(&items);
    let all = each_rule_once(&items);
    let all_tiers = tier_starts(&all);
    Index::Equal {
        path,
        slot: 0,
        groups,
        entries: items.into_iter().map(|(_, e)| e).collect(),
        all: all.into(),
        all_tiers,
    }
}

/// Each entry once per text it accepts (an `in` list files its entry under each of its
/// texts), sorted by text, then tier, then rule.
fn entries_by_text(group: Vec<Member>) -> Vec<(Box<str>, Entry)> {
    let mut items: Vec<(Box<str>, Entry)> = group
        .into_iter()
        .flat_map(|(p, e, _)| match p {
            Probe::Equal(texts) => {
                let mut texts = texts;
                texts.sort();
                texts.dedup();
                texts
                    .into_iter()
                    .map(|t| (t, e.clone()))
                    .collect::<Vec<_>>()
            }
            Probe::Threshold(_) | Probe::Present => Vec::new(),
        })
        .collect();
    items.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(a.1.tier.cmp(&b.1.tier))
            .then(a.1.rule.cmp(&b.1.rule))
    });
    items
}

/// For each text of the sorted items, where its run starts per tier (and where it ends).
fn text_groups(items: &[(Box<str>, Entry)]) -> rustc_hash::FxHashMap<Box<str>, [u32; 5]> {
    let mut groups = rustc_hash::FxHashMap::default();
    let mut start = 0usize;
    for i in 1..=items.len() {
        let boundary = match (items.get(i), items.get(start)) {
            (Some(a), Some(b)) => a.0 != b.0,
            _ => true,
        };
        if boundary {
            if let Some((text, _)) = items.get(start) {
                let mut bounds = [start as u32; 5];
                for (t, slot) in bounds.iter_mut().enumerate() {
                    let within = items
                        .get(start..i)
                        .map_or(0, |g| g.partition_point(|(_, e)| (e.tier as usize) < t));
                    *slot = (start + within) as u32;
                }
                groups.insert(text.clone(), bounds);
            }
            start = i;
        }
    }
    groups
}

/// Every rule of the items once, sorted by tier, then rule.
fn each_rule_once(items: &[(Box<str>, Entry)]) -> Vec<Entry> {
    let mut all: Vec<Entry> = Vec::new();
    for (_, e) in items {
        if !all.iter().any(|a| a.rule == e.rule) {
            all.push(e.clone());
        }
    }
    all.sort_by_key(|e| (e.tier, e.rule));
    all
}

/// The top-level conjuncts of a condition.
fn conjuncts(cond: &Cond) -> Vec<&Cond> {
    match cond {
        Cond::And(items) => items.iter().flat_map(conjuncts).collect(),
        c => vec![c],
    }
}

/// `PATH == "text"` or `PATH in ["a", "b"]` (args or context roots, strings only): the
/// path and every text that makes the comparison hold.
fn equality(cond: &Cond) -> Option<(Arc<PathExpr>, Vec<Box<str>>)> {
    match cond {
        Cond::Compare {
            left: Term::Path(p),
            op: Op::In,
            right: Term::Lit(Lit::List(items)),
            ..
        } if !matches!(p.root, Root::Var(_)) && !items.is_empty() => {
            let texts: Option<Vec<Box<str>>> = items
                .iter()
                .map(|i| match i {
                    Lit::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            texts.map(|t| (p.clone(), t))
        }
        Cond::Compare {
            left: Term::Path(p),
            op: Op::Eq,
            right: Term::Lit(Lit::Str(s)),
            ..
        }
        | Cond::Compare {
            left: Term::Lit(Lit::Str(s)),
            op: Op::Eq,
            right: Term::Path(p),
            ..
        } if !matches!(p.root, Root::Var(_)) => Some((p.clone(), vec![s.clone()])),
        _ => None,
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

/// `PATH op NUMBER` (args or context roots only).
fn threshold(cond: &Cond) -> Option<(Arc<PathExpr>, Bound, f64)> {
    match cond {
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
