//! Syntax trees to a checked [`Program`], with every finding: names, classes, options,
//! patterns, durations, static types, and (given a catalog) tools, arguments and their types.

mod catalog_rules;
pub(crate) mod levels;
pub(crate) mod lints;
mod lower;
pub(crate) mod overlap;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::ast::{self, Effect, Statement};
use crate::catalog::Catalog;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::ir::{Class, ClassId, Program, Rule};
use crate::source::{FileId, SourceMap, Span};

/// What checking found, and the program when there was no error.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The checked program (`None` when a check other than a lint found an error).
    pub program: Option<Program>,
    /// Every finding, errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks; `thorough` adds the lints that compare rules pairwise (what `policy check`
/// runs; loading a policy for evaluation skips them).
pub fn check_with(
    files: &[(FileId, ast::File)],
    sources: SourceMap,
    catalog: Option<Arc<Catalog>>,
    thorough: bool,
) -> Checked {
    let mut diags = Vec::new();
    let statements = statements_by_kind(files, &sources, &mut diags);
    if statements.default.is_none() {
        diags.push(missing_default(files));
    }
    diags.extend(duplicate_names(&statements, &sources));
    let catalog_members = catalog_members(catalog.as_deref());
    let (class_ids, mut table) = class_table(&statements.classes, &catalog_members);
    let rules = lower_bodies(&statements, &sources, &class_ids, &mut table, &mut diags);
    let cycles = find_cycles(&table);
    if cycles.is_empty() {
        diags.extend(too_deep_classes(&table));
    }
    diags.extend(cycles);
    let never_auto = never_auto_classes(&statements, &class_ids, &mut diags);
    let program = Program {
        name: statements.header.map(|(n, _)| n),
        default: statements
            .default
            .map(|(e, _)| e)
            .unwrap_or(Effect::Approve),
        rules,
        classes: table,
        never_auto,
        sources,
        catalog,
    };
    check_program(program, diags, thorough)
}

/// The statements of every file, by kind: the first header and default, every
/// declaration in order.
struct Statements<'f> {
    header: Option<(String, Span)>,
    default: Option<(Effect, Span)>,
    classes: Vec<&'f ast::ClassDecl>,
    rules: Vec<&'f ast::RuleDecl>,
    never: Vec<&'f ast::Name>,
}

/// Sorts every file's statements by kind; a second header or default is reported.
fn statements_by_kind<'f>(
    files: &'f [(FileId, ast::File)],
    sources: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) -> Statements<'f> {
    let mut out = Statements {
        header: None,
        default: None,
        classes: Vec::new(),
        rules: Vec::new(),
        never: Vec::new(),
    };
    for (_, file) in files {
        for stmt in &file.statements {
            match stmt {
                Statement::Policy(name, span) => match &out.header {
                    Some((_, first)) => diags.push(
                        Diagnostic::new(
                            Code::RepeatedHeader,
                            *span,
                            "a policy has one `policy \"name\"` header",
                        )
                        .with_help(format!("the first is at {}", sources.locate(*first))),
                    ),
                    None => out.header = Some((name.value.clone(), *span)),
                },
                Statement::Default(effect, span) => match &out.default {
                    Some((_, first)) => diags.push(
                        Diagnostic::new(
                            Code::RepeatedDefault,
                            *span,
                            "repeated `default`: a policy has exactly one, across all its files",
                        )
                        .with_help(format!("the first is at {}", sources.locate(*first))),
                    ),
                    None => out.default = Some((*effect, *span)),
                },
                Statement::Class(c) => out.classes.push(c),
                Statement::Rule(r) => out.rules.push(r),
                Statement::NeverAuto(names, _) => out.never.extend(names.iter()),
            }
        }
    }
    out
}

/// The finding for a policy without `default`, at the start of its first file.
fn missing_default(files: &[(FileId, ast::File)]) -> Diagnostic {
    let span = files.first().map(|(f, _)| Span::new(*f, 0, 0));
    Diagnostic::new(
        Code::MissingDefault,
        span,
        "the policy has no `default`: say what happens to a call no rule matches",
    )
    .with_help("add `default approve` (assistive), `default audit` or `default allow`")
}

/// Names: rules and classes share one namespace, across all files; each reuse of a name
/// is reported.
fn duplicate_names(statements: &Statements<'_>, sources: &SourceMap) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, kind) in statements
        .classes
        .iter()
        .map(|c| (&c.name, "class"))
        .chain(statements.rules.iter().map(|r| (&r.name, "rule")))
    {
        if let Some(first) = seen.get(name.text.as_str()) {
            out.push(
                Diagnostic::new(
                    Code::DuplicateName,
                    name.span,
                    format!("the name `{}` is already used", name.text),
                )
                .with_label(format!("this {kind} repeats it"))
                .with_help(format!(
                    "names are unique across the policy's files; the first is at {}",
                    sources.locate(*first)
                )),
            );
        } else {
            seen.insert(&name.text, name.span);
        }
    }
    out
}

/// The tools the catalog puts in each class, by class name.
fn catalog_members(catalog: Option<&Catalog>) -> BTreeMap<&str, Vec<String>> {
    let mut catalog_members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    if let Some(cat) = catalog {
        for class in &cat.classes {
            catalog_members.entry(class.as_str()).or_default();
        }
        for (tool, spec) in &cat.tools {
            for class in &spec.classes {
                catalog_members
                    .entry(class.as_str())
                    .or_default()
                    .push(tool.clone());
            }
        }
    }
    catalog_members
}

/// The class table: declared classes, then classes only the catalog defines, each with
/// its catalog tools (sorted, once); and each class's id by name.
fn class_table(
    classes: &[&ast::ClassDecl],
    catalog_members: &BTreeMap<&str, Vec<String>>,
) -> (HashMap<String, ClassId>, Vec<Class>) {
    let mut class_ids: HashMap<String, ClassId> = HashMap::new();
    let mut table: Vec<Class> = Vec::new();
    for c in classes {
        if class_ids.contains_key(&c.name.text) {
            continue;
        }
        class_ids.insert(c.name.text.clone(), table.len() as ClassId);
        table.push(Class {
            name: c.name.text.clone(),
            cond: None,
            catalog_tools: catalog_members
                .get(c.name.text.as_str())
                .cloned()
                .unwrap_or_default(),
            span: Some(c.name.span),
        });
    }
    for (name, tools) in catalog_members {
        if !class_ids.contains_key(*name) {
            class_ids.insert(name.to_string(), table.len() as ClassId);
            table.push(Class {
                name: name.to_string(),
                cond: None,
                catalog_tools: tools.clone(),
                span: None,
            });
        }
    }
    for class in &mut table {
        class.catalog_tools.sort();
        class.catalog_tools.dedup();
    }
    (class_ids, table)
}

/// Lowers the class predicates (each then set on its class) and the rules; the rules
/// that lowered without error.
fn lower_bodies(
    statements: &Statements<'_>,
    sources: &SourceMap,
    class_ids: &HashMap<String, ClassId>,
    table: &mut [Class],
    diags: &mut Vec<Diagnostic>,
) -> Vec<Rule> {
    let mut lowerer = lower::Lowerer::new(sources, class_ids, table);
    let mut class_conds = Vec::new();
    for c in &statements.classes {
        let Some(&id) = class_ids.get(&c.name.text) else {
            continue;
        };
        if let Some(cond) = lowerer.condition(&c.expr) {
            class_conds.push((id, cond));
        }
    }
    let rules_ir: Vec<_> = statements
        .rules
        .iter()
        .filter_map(|r| lowerer.rule(r))
        .collect();
    diags.extend(lowerer.take_diagnostics());
    for (id, cond) in class_conds {
        if let Some(class) = table.get_mut(id as usize) {
            class.cond = Some(cond);
        }
    }
    rules_ir
}

/// The classes `never auto` names, each once; a name that is no class is reported.
fn never_auto_classes(
    statements: &Statements<'_>,
    class_ids: &HashMap<String, ClassId>,
    diags: &mut Vec<Diagnostic>,
) -> Vec<ClassId> {
    let mut never_auto = Vec::new();
    for name in &statements.never {
        match class_ids.get(&name.text) {
            Some(id) => {
                if !never_auto.contains(id) {
                    never_auto.push(*id);
                }
            }
            None => {
                let is_rule = statements.rules.iter().any(|r| r.name.text == name.text);
                let what = if is_rule {
                    "a rule, not a class"
                } else {
                    "not a class"
                };
                let mut d = Diagnostic::new(
                    Code::UnknownClass,
                    name.span,
                    format!("`never auto` names `{}`, which is {what}", name.text),
                );
                let mut classes: Vec<&str> = class_ids.keys().map(String::as_str).collect();
                classes.sort_unstable();
                let near = (!is_rule)
                    .then(|| did_you_mean(&name.text, classes.iter().copied()))
                    .flatten();
                d = match near {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None if classes.is_empty() => d.with_help(
                        "`never auto` takes a class: define one with `class NAME = ...`",
                    ),
                    None => d.with_help(format!(
                        "`never auto` takes a class; the classes are: {}",
                        classes
                            .iter()
                            .take(12)
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                };
                diags.push(d);
            }
        }
    }
    never_auto
}

/// The checks of the whole program: the catalog rules, then (when nothing failed) the
/// lints; the findings sorted, and the program when none is an error.
fn check_program(program: Program, mut diags: Vec<Diagnostic>, thorough: bool) -> Checked {
    // The catalog's checks follow class references: not along a chain too deep to follow.
    if !diags.iter().any(|d| d.code == Code::TooDeep) {
        diags.extend(catalog_rules::check(&program));
    }
    // Lints judge policies that load: after an error they would only add noise. Their
    // levels are the caller's to set (`.policy.yaml`), so they do not decide here whether
    // the program exists; the caller drops it if a lint ends up an error.
    let failed = diags.iter().any(Diagnostic::is_error);
    if !failed {
        diags.extend(lints::check(&program, thorough));
    }
    sort(&mut diags);
    Checked {
        program: (!failed).then_some(program),
        diagnostics: diags,
    }
}

/// Source order: by file, then position; findings without a place last.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| {
        d.span
            .map(|s| (0u8, s.file.0, s.start, s.end))
            .unwrap_or((1, 0, 0, 0))
    });
}

/// For each class, the classes its predicate names.
fn class_edges(classes: &[Class]) -> Vec<Vec<ClassId>> {
    classes
        .iter()
        .map(|c| {
            c.cond
                .as_ref()
                .map(|cond| cond.class_refs())
                .unwrap_or_default()
        })
        .collect()
}

/// The deepest a chain of classes may go (`class c2 = c1`, `class c1 = c0` ...): every later
/// stage follows class references by recursion.
pub const MAX_CLASS_DEPTH: usize = 16;

/// Classes whose chain of references is deeper than [`MAX_CLASS_DEPTH`], found without
/// recursion (the classes have no cycle).
fn too_deep_classes(classes: &[Class]) -> Vec<Diagnostic> {
    let edges = class_edges(classes);
    let mut depth: Vec<Option<usize>> = vec![None; classes.len()];
    for start in 0..classes.len() {
        let mut stack = vec![(start, false)];
        while let Some((node, expanded)) = stack.pop() {
            if depth.get(node).copied().flatten().is_some() {
                continue;
            }
            let succ = edges.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if expanded {
                let below = succ
                    .iter()
                    .filter_map(|&s| depth.get(s as usize).copied().flatten())
                    .max()
                    .unwrap_or(0);
                if let Some(d) = depth.get_mut(node) {
                    *d = Some(below + 1);
                }
            } else {
                stack.push((node, true));
                stack.extend(succ.iter().map(|&s| (s as usize, false)));
            }
        }
    }
    classes
        .iter()
        .zip(&depth)
        .filter(|(_, d)| d.is_some_and(|d| d > MAX_CLASS_DEPTH))
        .take(1)
        .map(|(c, d)| {
            Diagnostic::new(
                Code::TooDeep,
                c.span,
                format!(
                    "class `{}` is defined through a chain of {} classes; at most {MAX_CLASS_DEPTH} are followed",
                    c.name,
                    d.unwrap_or(0)
                ),
            )
            .with_help("define it more directly: a class may name a few others, not a long chain")
        })
        .collect()
}

fn find_cycles(classes: &[Class]) -> Vec<Diagnostic> {
    let edges = class_edges(classes);
    // 0 = unvisited, 1 = on stack, 2 = done.
    let mut state = vec![0u8; classes.len()];
    let mut out = Vec::new();
    for start in 0..classes.len() {
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        let mut path: Vec<usize> = Vec::new();
        if state.get(start) != Some(&0) {
            continue;
        }
        while let Some((node, next)) = stack.pop() {
            if next == 0 {
                if let Some(s) = state.get_mut(node) {
                    *s = 1;
                }
                path.push(node);
            }
            let succ = edges
                .get(node)
                .and_then(|e| e.get(next))
                .map(|&n| n as usize);
            match succ {
                Some(n) => {
                    stack.push((node, next + 1));
                    match state.get(n) {
                        Some(0) => stack.push((n, 0)),
                        Some(1) => {
                            let at = path.iter().position(|&p| p == n).unwrap_or(0);
                            let cycle: Vec<&str> = path
                                .get(at..)
                                .unwrap_or(&[])
                                .iter()
                                .chain(std::iter::once(&n))
                                .filter_map(|&i| classes.get(i).map(|c| c.name.as_str()))
                                .collect();
                            let span = classes.get(n).and_then(|c| c.span);
                            out.push(
                                Diagnostic::new(
                                    Code::ClassCycle,
                                    span,
                                    format!("class cycle: {}", cycle.join(" -> ")),
                                )
                                .with_help("a class cannot be defined in terms of itself"),
                            );
                        }
                        _ => {}
                    }
                }
                None => {
                    if let Some(s) = state.get_mut(node) {
                        *s = 2;
                    }
                    path.pop();
                }
            }
        }
    }
    out
}
