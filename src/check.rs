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
use crate::ir::{Class, ClassId, Program};
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
    let mut header: Option<(String, Span)> = None;
    let mut default: Option<(Effect, Span)> = None;
    let mut classes: Vec<&ast::ClassDecl> = Vec::new();
    let mut rules: Vec<&ast::RuleDecl> = Vec::new();
    let mut never: Vec<&ast::Name> = Vec::new();

    for (_, file) in files {
        for stmt in &file.statements {
            match stmt {
                Statement::Policy(name, span) => match &header {
                    Some((_, first)) => diags.push(
                        Diagnostic::new(
                            Code::RepeatedHeader,
                            *span,
                            "a policy has one `policy \"name\"` header",
                        )
                        .with_help(format!("the first is at {}", sources.locate(*first))),
                    ),
                    None => header = Some((name.value.clone(), *span)),
                },
                Statement::Default(effect, span) => match &default {
                    Some((_, first)) => diags.push(
                        Diagnostic::new(
                            Code::RepeatedDefault,
                            *span,
                            "repeated `default`: a policy has exactly one, across all its files",
                        )
                        .with_help(format!("the first is at {}", sources.locate(*first))),
                    ),
                    None => default = Some((*effect, *span)),
                },
                Statement::Class(c) => classes.push(c),
                Statement::Rule(r) => rules.push(r),
                Statement::NeverAuto(names, _) => never.extend(names.iter()),
            }
        }
    }
    if default.is_none() {
        let span = files.first().map(|(f, _)| Span::new(*f, 0, 0));
        diags.push(
            Diagnostic::new(
                Code::MissingDefault,
                span,
                "the policy has no `default`: say what happens to a call no rule matches",
            )
            .with_help("add `default approve` (assistive), `default audit` or `default allow`"),
        );
    }

    // Names: rules and classes share one namespace, across all files.
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (name, kind) in classes
        .iter()
        .map(|c| (&c.name, "class"))
        .chain(rules.iter().map(|r| (&r.name, "rule")))
    {
        if let Some(first) = seen.get(name.text.as_str()) {
            diags.push(
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

    // The class table: declared classes, then classes only the catalog defines.
    let mut catalog_members: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    if let Some(cat) = &catalog {
        for (tool, spec) in &cat.tools {
            for class in &spec.classes {
                catalog_members
                    .entry(class.as_str())
                    .or_default()
                    .push(tool.clone());
            }
        }
    }
    let mut class_ids: HashMap<String, ClassId> = HashMap::new();
    let mut table: Vec<Class> = Vec::new();
    for c in &classes {
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
    for (name, tools) in &catalog_members {
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

    let mut lowerer = lower::Lowerer::new(&sources, &class_ids, &table);
    // Class predicates, then cycles between them.
    let mut class_conds = Vec::new();
    for c in &classes {
        let Some(&id) = class_ids.get(&c.name.text) else {
            continue;
        };
        if let Some(cond) = lowerer.condition(&c.expr) {
            class_conds.push((id, cond));
        }
    }
    let rules_ir: Vec<_> = rules.iter().filter_map(|r| lowerer.rule(r)).collect();
    diags.extend(lowerer.take_diagnostics());
    for (id, cond) in class_conds {
        if let Some(class) = table.get_mut(id as usize) {
            class.cond = Some(cond);
        }
    }
    diags.extend(find_cycles(&table));

    let mut never_auto = Vec::new();
    for name in never {
        match class_ids.get(&name.text) {
            Some(id) => {
                if !never_auto.contains(id) {
                    never_auto.push(*id);
                }
            }
            None => {
                let mut d = Diagnostic::new(
                    Code::UnknownClass,
                    name.span,
                    format!("`never auto` names `{}`, which is not a class", name.text),
                );
                if let Some(s) = did_you_mean(&name.text, class_ids.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                diags.push(d);
            }
        }
    }

    let program = Program {
        name: header.map(|(n, _)| n),
        default: default.map(|(e, _)| e).unwrap_or(Effect::Approve),
        rules: rules_ir,
        classes: table,
        never_auto,
        sources,
        catalog,
    };
    diags.extend(catalog_rules::check(&program));
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

fn find_cycles(classes: &[Class]) -> Vec<Diagnostic> {
    let edges: Vec<Vec<ClassId>> = classes
        .iter()
        .map(|c| {
            c.cond
                .as_ref()
                .map(|cond| cond.class_refs())
                .unwrap_or_default()
        })
        .collect();
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
