//! Lints: findings about policies that load but probably do not say what their author
//! meant. Each has a stable code and name (docs/lints.md); levels can be changed in a
//! `.policy.yaml` and silenced per line with `# policy: allow(CODE)`.

use std::collections::HashSet;

use serde_json::Value;

use crate::ast::{Effect, Mode};
use crate::catalog::ArgSpec;
use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::ir::semantics::{Env, Tri, eval};
use crate::ir::toolset;
use crate::ir::{ClassId, Cond, PathExpr, Program, Root, Seg, Term};
use crate::source::Span;
use crate::syntax::comments::Region;

pub(super) fn check(program: &Program, thorough: bool) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    always_true(program, &mut out);
    async_without_owner(program, &mut out);
    unused_classes(program, &mut out);
    unguarded_optional(program, &mut out);
    if thorough {
        redundant_and_dead(program, &mut out);
    }
    out
}

/// W111 and W112: rules that never change a decision. Each rule is compared only with
/// the rules that can apply to its tools (found through an index by tool name), so the
/// pairwise test stays near linear; only `policy check` runs it.
fn redundant_and_dead(program: &Program, out: &mut Vec<Diagnostic>) {
    use std::collections::HashMap;

    use crate::check::overlap::{Dnf, dnf};
    use crate::ir::toolset::ToolSet;

    let rules = &program.rules;
    let sets: Vec<ToolSet> = rules
        .iter()
        .map(|r| toolset::of(program, &r.cond))
        .collect();
    let forms: Vec<Option<Dnf>> = rules.iter().map(|r| dnf(program, &r.cond)).collect();
    let floors: Vec<Dnf> = program
        .never_auto
        .iter()
        .filter_map(|&c| dnf(program, &Cond::Class(c)))
        .collect();
    // Every exact tool name any rule names, and which rules can apply to it.
    let mut names: Vec<&str> = Vec::new();
    for s in &sets {
        if let ToolSet::Some { exact, .. } = s {
            names.extend(exact.iter().map(String::as_str));
        }
    }
    names.sort_unstable();
    names.dedup();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut anywhere: Vec<usize> = Vec::new();
    for (j, s) in sets.iter().enumerate() {
        match s {
            ToolSet::Any => anywhere.push(j),
            ToolSet::Some { exact, globs } if globs.is_empty() => {
                for e in exact {
                    by_name.entry(e.as_str()).or_default().push(j);
                }
            }
            s => {
                for n in &names {
                    if s.contains(n) {
                        by_name.entry(n).or_default().push(j);
                    }
                }
            }
        }
    }
    let all: Vec<usize> = (0..rules.len()).collect();
    for (i, rule) in rules.iter().enumerate() {
        let (Some(mine), Some(form)) = (sets.get(i), forms.get(i).and_then(Option::as_ref)) else {
            continue;
        };
        // Rules that can apply to every tool this one applies to must apply to any one
        // name it applies to: look them up under that name.
        let first: Option<&str> = match mine {
            ToolSet::Some { exact, globs } if globs.is_empty() => {
                exact.iter().next().map(String::as_str)
            }
            ToolSet::Some { .. } => names.iter().copied().find(|n| mine.contains(n)),
            ToolSet::Any => None,
        };
        let pool: Vec<usize> = match first {
            Some(name) => by_name
                .get(name)
                .into_iter()
                .flatten()
                .chain(anywhere.iter())
                .copied()
                .collect(),
            None => all.clone(),
        };
        let covers = |j: usize| -> Option<&Dnf> {
            let s = sets.get(j)?;
            mine.subset_of(s).then(|| forms.get(j)?.as_ref()).flatten()
        };
        // Another rule of the same effect (and, for gates, the same options) that
        // matches every call this one matches.
        let twin = pool.iter().copied().find(|&j| {
            let Some(other) = rules.get(j) else {
                return false;
            };
            j != i
                && other.effect == rule.effect
                && options_equal(rule, other)
                && covers(j).is_some_and(|o| {
                    form.implies_any(program, &[o]) && (j < i || !o.implies_any(program, &[form]))
                })
        });
        if let Some(other) = twin.and_then(|j| rules.get(j)) {
            out.push(
                Diagnostic::new(
                    Code::RedundantRule,
                    rule.name_span,
                    format!(
                        "rule `{}` adds nothing: `{}` ({} too) matches every call it matches",
                        rule.name, other.name, other.effect
                    ),
                )
                .with_help("remove one of them, or narrow the other"),
            );
            continue;
        }
        if !matches!(rule.effect, Effect::Allow | Effect::Audit) {
            continue;
        }
        let mut stoppers: Vec<&Dnf> = pool
            .iter()
            .copied()
            .filter(|&j| rules.get(j).is_some_and(|r| r.effect >= Effect::Approve))
            .filter_map(covers)
            .collect();
        stoppers.extend(floors.iter());
        if !stoppers.is_empty() && form.implies_any(program, &stoppers) {
            out.push(
                Diagnostic::new(
                    Code::DeadPermissiveRule,
                    rule.name_span,
                    format!(
                        "{} rule `{}` never changes a decision: every call it matches is \
                         gated or denied by another rule or a never-auto floor",
                        rule.effect, rule.name
                    ),
                )
                .with_help("remove it, or narrow the gate it is hidden behind"),
            );
        }
    }
}

fn options_equal(a: &crate::ir::Rule, b: &crate::ir::Rule) -> bool {
    match (&a.gate, &b.gate) {
        (Some(x), Some(y)) => {
            x.mode == y.mode
                && x.by == y.by
                && x.quorum == y.quorum
                && x.within_s == y.within_s
                && x.on_timeout == y.on_timeout
                && x.decisions == y.decisions
        }
        (None, None) => true,
        _ => false,
    }
}

/// W105: true for every tool name, whatever the call says.
fn always_true(program: &Program, out: &mut Vec<Diagnostic>) {
    let empty = Value::Object(serde_json::Map::new());
    let mut names: Vec<String> = program
        .catalog
        .as_ref()
        .map(|c| c.tools.keys().cloned().collect())
        .unwrap_or_default();
    for r in &program.rules {
        collect_names(&r.cond, &mut names);
    }
    // A name no rule and no catalog lists, to stand for every other tool; tried first,
    // since most rules fail on it at once.
    names.insert(0, "\u{1}unlisted.tool".to_string());
    for rule in &program.rules {
        let holds = names.iter().all(|n| {
            let env = Env {
                tool: n,
                args: &empty,
                context: &empty,
                program,
                glob_hits: &[],
                declared: None,
            };
            matches!(eval(&rule.cond, &env, None), Tri::True)
        });
        if !holds {
            continue;
        }
        let permissive = matches!(rule.effect, Effect::Allow | Effect::Audit);
        let mut d = Diagnostic::new(
            Code::AlwaysTrue,
            rule.name_span,
            format!(
                "the condition of {} rule `{}` holds for every call",
                rule.effect, rule.name
            ),
        )
        .with_help(if permissive {
            "an allow or audit rule that matches everything overrides the default and every \
             gate below approve; name the tools it is for"
        } else {
            "if every call must be gated, say so with the `default`"
        });
        if permissive {
            d.severity = Severity::Error;
        }
        out.push(d);
    }
}

/// Every text a tool test compares the name with: probe names for `always_true`.
fn collect_names(cond: &Cond, out: &mut Vec<String>) {
    cond.for_each_atom(&mut |atom| {
        if let Cond::Compare {
            left: Term::Tool,
            right: Term::Lit(l),
            ..
        } = atom
        {
            match l {
                crate::ir::Lit::Str(s) => out.push(s.to_string()),
                crate::ir::Lit::List(items) => {
                    out.extend(items.iter().filter_map(|i| match i {
                        crate::ir::Lit::Str(s) => Some(s.to_string()),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
    });
}

/// W107: async gates need someone to own them and a deadline.
fn async_without_owner(program: &Program, out: &mut Vec<Diagnostic>) {
    for rule in &program.rules {
        let Some(g) = &rule.gate else { continue };
        if g.mode != Mode::Async {
            continue;
        }
        let missing = match (g.by.is_empty(), g.within_s.is_none()) {
            (true, true) => "no `by` and no `within`",
            (true, false) => "no `by`",
            (false, true) => "no `within`",
            (false, false) => continue,
        };
        out.push(
            Diagnostic::new(
                Code::AsyncGateWithoutOwner,
                rule.name_span,
                format!(
                    "async gate `{}` has {missing}: a request can wait unseen forever",
                    rule.name
                ),
            )
            .with_help("name the approvers with `by \"group\"` and a deadline with `within 48h`"),
        );
    }
}

/// W113: a gate whose `by` group or `on timeout escalate` group the approvers file does not
/// list (or lists with no members): nobody can ever decide it. W114: a gate whose quorum
/// is more distinct people than its `by` groups have: it can never be approved.
pub(crate) fn approver_groups(
    program: &Program,
    approvers: &crate::approvers::ApproversFile,
) -> Vec<Diagnostic> {
    use crate::approvers::Approvers as _;
    let mut out = Vec::new();
    let file = match approvers.name() {
        "" => "the approvers file".to_string(),
        name => format!("`{name}`"),
    };
    for rule in &program.rules {
        let Some(g) = &rule.gate else { continue };
        let timeout = match &g.on_timeout {
            Some(crate::ast::OnTimeout::Escalate(to)) => Some(to),
            _ => None,
        };
        for (group, how) in
            g.by.iter()
                .map(|b| (b, "waits for"))
                .chain(timeout.map(|t| (t, "escalates on timeout to")))
        {
            if approvers.has_group(group) {
                continue;
            }
            let mut d = Diagnostic::new(
                Code::UnknownApproverGroup,
                rule.name_span,
                format!(
                    "gate `{}` {how} group `{group}`, which {file} does not list with members: nobody can decide it",
                    rule.name
                ),
            );
            // A gate nobody can decide is a broken gate: an error unless `.policy.yaml`
            // lowers it.
            d.severity = Severity::Error;
            let names = approvers.groups().map(|(name, _)| name);
            d = match crate::diagnostic::did_you_mean(group, names) {
                Some(near) => d.with_help(format!("did you mean `{near}`?")),
                None => d.with_help(format!("add `{group}` and its members to {file}")),
            };
            out.push(d);
        }
        if g.by.iter().all(|b| approvers.has_group(b))
            && let Some(d) = unreachable_quorum(rule, g, approvers, &file)
        {
            out.push(d);
        }
    }
    out
}

/// W114 for one gate whose groups all exist: its quorum against the distinct members of
/// its groups (names compared as the approval desk compares them, folded).
fn unreachable_quorum(
    rule: &crate::ir::Rule,
    g: &crate::ir::GateOptions,
    approvers: &crate::approvers::ApproversFile,
    file: &str,
) -> Option<Diagnostic> {
    if g.quorum <= 1 {
        return None;
    }
    let people: HashSet<String> = approvers
        .groups()
        .filter(|(name, _)| g.by.iter().any(|b| b == name))
        .flat_map(|(_, members)| members.map(crate::text::fold))
        .collect();
    if people.len() >= g.quorum as usize {
        return None;
    }
    let groups: Vec<String> = g.by.iter().map(|b| format!("`{b}`")).collect();
    let mut d = Diagnostic::new(
        Code::UnreachableQuorum,
        rule.name_span,
        format!(
            "gate `{}` needs {} distinct approvers from {}, but {file} lists {} member{} there: it can never be approved",
            rule.name,
            g.quorum,
            groups.join(", "),
            people.len(),
            if people.len() == 1 { "" } else { "s" }
        ),
    )
    .with_help(format!(
        "lower the quorum to {}, or add members to {file}",
        people.len()
    ));
    // Like a group nobody is in: an error unless `.policy.yaml` lowers it.
    d.severity = Severity::Error;
    Some(d)
}

/// W108: declared classes that nothing uses.
fn unused_classes(program: &Program, out: &mut Vec<Diagnostic>) {
    let mut used: HashSet<ClassId> = program.never_auto.iter().copied().collect();
    let conds = program
        .rules
        .iter()
        .map(|r| &r.cond)
        .chain(program.classes.iter().filter_map(|c| c.cond.as_ref()));
    for cond in conds {
        used.extend(cond.class_refs());
    }
    for (i, c) in program.classes.iter().enumerate() {
        let Some(span) = c.span else { continue };
        if !used.contains(&(i as ClassId)) {
            out.push(
                Diagnostic::new(
                    Code::UnusedClass,
                    span,
                    format!("class `{}` is never used", c.name),
                )
                .with_help("use it in a rule or a `never auto`, or remove it"),
            );
        }
    }
}

/// W106: an argument the catalog marks optional, read without `exists()`.
fn unguarded_optional(program: &Program, out: &mut Vec<Diagnostic>) {
    let Some(catalog) = program.catalog.as_deref() else {
        return;
    };
    for rule in &program.rules {
        let set = toolset::of(program, &rule.cond);
        let tools: Vec<(&String, &std::collections::BTreeMap<String, ArgSpec>)> = catalog
            .tools
            .iter()
            .filter(|(n, _)| set.contains(n))
            .filter_map(|(n, t)| t.args.as_ref().map(|a| (n, a)))
            .collect();
        if tools.is_empty() {
            continue;
        }
        let mut reported: HashSet<String> = HashSet::new();
        let mut found: Vec<(&PathExpr, Span)> = Vec::new();
        walk(&rule.cond, &mut Vec::new(), &mut found);
        for (path, span) in found {
            let Some(Seg::Key(first)) = path.segments.first() else {
                continue;
            };
            let specs: Vec<(&String, &ArgSpec)> = tools
                .iter()
                .filter_map(|(n, a)| a.get(&**first).map(|s| (*n, s)))
                .collect();
            if specs.is_empty() || !specs.iter().all(|(_, s)| s.optional) {
                continue;
            }
            if !reported.insert(path.text.to_string()) {
                continue;
            }
            let tool = specs.first().map(|(n, _)| n.as_str()).unwrap_or("");
            let consequence = match rule.effect {
                Effect::Approve | Effect::Deny => {
                    "every call that leaves it out makes this gate fire, by fail-closed"
                }
                Effect::Allow | Effect::Audit => {
                    "a call that leaves it out never matches this rule"
                }
            };
            out.push(
                Diagnostic::new(
                    Code::UnguardedOptional,
                    span,
                    format!(
                        "`{}` is optional for `{tool}`, and rule `{}` reads it without \
                         `exists()`: {consequence}",
                        path.text, rule.name
                    ),
                )
                .with_help(format!(
                    "write `exists({}) and ...` to say what happens when it is absent",
                    path.text
                )),
            );
        }
    }
}

/// Paths read outside an `exists()` guard of the same path (or a prefix) in an enclosing
/// conjunction.
fn walk<'p>(cond: &'p Cond, guards: &mut Vec<&'p str>, out: &mut Vec<(&'p PathExpr, Span)>) {
    let guarded = |p: &PathExpr, guards: &Vec<&str>| {
        guards
            .iter()
            .any(|g| *g == &*p.text || p.text.starts_with(&format!("{g}.")))
    };
    match cond {
        Cond::And(items) => {
            let before = guards.len();
            for c in items.iter() {
                if let Cond::Exists(p) = c {
                    guards.push(&p.text);
                }
            }
            for c in items.iter() {
                walk(c, guards, out);
            }
            guards.truncate(before);
        }
        Cond::Or(items) => items.iter().for_each(|c| walk(c, guards, out)),
        Cond::Not(c) => walk(c, guards, out),
        Cond::Compare {
            left, right, span, ..
        } => {
            for t in [left, right] {
                if let Some(p) = t.path()
                    && p.root == Root::Args
                    && !guarded(p, guards)
                {
                    out.push((p, *span));
                }
            }
        }
        Cond::Truthy(t) => {
            if let Some(p) = t.path()
                && p.root == Root::Args
                && !guarded(p, guards)
            {
                out.push((p, p.span));
            }
        }
        Cond::Quantified { list, .. } if list.root == Root::Args && !guarded(list, guards) => {
            out.push((list, list.span));
        }
        _ => {}
    }
}

/// E034 and W109, from the raw text: bidirectional controls anywhere, look-alike letters
/// in names and strings (not in comments).
pub(crate) fn scan_text(file: crate::source::FileId, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (i, c, region) in crate::syntax::comments::regions(text) {
        let span = Span::new(file, i, i + c.len_utf8());
        if is_bidi(c) {
            out.push(
                Diagnostic::new(
                    Code::BidiCharacters,
                    span,
                    format!(
                        "bidirectional control character U+{:04X}: the text can read \
                         differently than it is parsed",
                        c as u32
                    ),
                )
                .with_help("remove it; write the text in logical order"),
            );
            continue;
        }
        if region == Region::Comment {
            continue;
        }
        let in_string = region == Region::String;
        if let Some(latin) = confusable(c) {
            out.push(
                Diagnostic::new(
                    Code::ConfusableIdentifier,
                    span,
                    format!(
                        "`{c}` (U+{:04X}) looks like the Latin `{latin}`{}",
                        c as u32,
                        if in_string {
                            ": a string with it never equals the one you see"
                        } else {
                            ": two names can look the same and differ"
                        }
                    ),
                )
                .with_help(format!("write `{latin}`")),
            );
        }
    }
    out
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The ASCII letter or digit a non-ASCII character is confusable with (Unicode's
/// confusables, UTS #39), if any.
fn confusable(c: char) -> Option<char> {
    if c.is_ascii() {
        return None;
    }
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf));
    let first = skeleton.next()?;
    if skeleton.next().is_some() || !first.is_ascii_alphanumeric() {
        return None;
    }
    // Unicode's prototype of a capital I is `l`; say what a reader sees.
    Some(if first == 'l' && c.is_uppercase() {
        'I'
    } else {
        first
    })
}

#[cfg(test)]
mod confusable_tests {
    use super::confusable;

    #[test]
    fn look_alike_letters_of_other_scripts_are_found() {
        // The letters the hand-written table knew, and a few it did not.
        for (c, latin) in [
            ('а', 'a'),
            ('е', 'e'),
            ('о', 'o'),
            ('р', 'p'),
            ('с', 'c'),
            ('у', 'y'),
            ('х', 'x'),
            ('і', 'i'),
            ('ј', 'j'),
            ('ѕ', 's'),
            ('ԁ', 'd'),
            ('һ', 'h'),
            ('ԛ', 'q'),
            ('ԝ', 'w'),
            ('А', 'A'),
            ('В', 'B'),
            ('Е', 'E'),
            ('К', 'K'),
            ('М', 'M'),
            ('Н', 'H'),
            ('О', 'O'),
            ('Р', 'P'),
            ('С', 'C'),
            ('Т', 'T'),
            ('Х', 'X'),
            ('ο', 'o'),
            ('ν', 'v'),
            ('α', 'a'),
            ('Α', 'A'),
            ('Β', 'B'),
            ('Ε', 'E'),
            ('Ζ', 'Z'),
            ('Η', 'H'),
            ('Ι', 'I'),
            ('Κ', 'K'),
            ('Μ', 'M'),
            ('Ν', 'N'),
            ('Ο', 'O'),
            ('Ρ', 'P'),
            ('Τ', 'T'),
            ('Υ', 'Y'),
            ('Χ', 'X'),
            ('ɡ', 'g'),
            ('ｅ', 'e'),
            ('𝐚', 'a'),
            ('ℓ', 'l'),
        ] {
            assert_eq!(confusable(c), Some(latin), "{c} U+{:04X}", c as u32);
        }
    }

    #[test]
    fn ordinary_text_is_not_flagged() {
        for c in "abcXYZ019 é ß ü ñ 日本 — ’ €".chars() {
            assert_eq!(confusable(c), None, "{c}");
        }
    }
}
