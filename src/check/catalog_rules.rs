//! Checks that need the whole program: tool names, argument paths and types against the
//! catalog; allow/audit rules that overlap a never-auto class; rules that can never match.

use crate::ast::Effect;
use crate::catalog::{ArgSpec, ArgType, Catalog, ToolSpec};
use crate::check::overlap;
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::ir::toolset::{self, ToolSet};
use crate::ir::{Cond, Lit, Op, PathExpr, Program, Root, Rule, Seg, TemplatePart, Term};

pub(super) fn check(program: &Program) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in &program.rules {
        if overlap::can_hold(program, &rule.cond, false) == Some(false) {
            out.push(
                Diagnostic::new(
                    Code::NeverMatches,
                    rule.name_span,
                    format!(
                        "rule `{}` can never match: its conditions exclude each other",
                        rule.name
                    ),
                )
                .with_help(
                    "a call has one tool name, and a value cannot be on both sides of a bound",
                ),
            );
        }
    }
    // With a catalog, a quick first cut: the catalog tools each floor class can hold.
    let universe: Vec<&str> = program
        .catalog
        .as_deref()
        .map(|c| c.tools.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let floor_tools: Vec<(u32, ToolSet, Vec<bool>)> = program
        .never_auto
        .iter()
        .map(|&c| {
            let set = toolset::of_class(program, c);
            let members = universe.iter().map(|t| set.contains(t)).collect();
            (c, set, members)
        })
        .collect();
    for rule in program
        .rules
        .iter()
        .filter(|r| matches!(r.effect, Effect::Allow | Effect::Audit))
    {
        let set = toolset::of(program, &rule.cond);
        let rule_members: Vec<bool> = match &set {
            ToolSet::Some { exact, globs } if globs.is_empty() => {
                universe.iter().map(|t| exact.contains(*t)).collect()
            }
            s => universe.iter().map(|t| s.contains(t)).collect(),
        };
        for (class, class_set, class_members) in &floor_tools {
            let class = *class;
            let Some(c) = program.class(class) else {
                continue;
            };
            if !universe.is_empty()
                && !rule_members
                    .iter()
                    .zip(class_members)
                    .any(|(a, b)| *a && *b)
            {
                continue;
            }
            // The catalog's tools are taken as all the tools there are: an overlap only
            // through unlisted tools is not reported.
            if overlap::can_both_hold(program, &rule.cond, &Cond::Class(class), true) != Some(true)
            {
                continue;
            }
            let both = set.clone().intersect(class_set.clone());
            let example = match program.catalog.as_ref() {
                Some(cat) => cat.tools.keys().find(|t| both.contains(t)).cloned(),
                None => match &both {
                    ToolSet::Some { exact, .. } => exact.iter().next().cloned(),
                    ToolSet::Any => None,
                },
            };
            let eg = example
                .map(|t| format!(" (for example `{t}`)"))
                .unwrap_or_default();
            out.push(
                Diagnostic::new(
                    Code::NeverAutoOverlap,
                    rule.name_span,
                    format!(
                        "{} rule `{}` can match calls of never-auto class `{}`{eg}; those calls \
                         wait for approval anyway",
                        rule.effect, rule.name, c.name
                    ),
                )
                .with_help(format!(
                    "narrow the rule so it excludes `{}`, or make it an approve rule",
                    c.name
                )),
            );
        }
    }
    let Some(catalog) = program.catalog.as_deref() else {
        return out;
    };
    let mut cx = Cx {
        program,
        catalog,
        out: &mut out,
    };
    for class in &program.classes {
        if let Some(cond) = &class.cond {
            let set = toolset::of(program, cond);
            cx.walk(cond, &set);
        }
    }
    for rule in &program.rules {
        let set = toolset::of(program, &rule.cond);
        cx.walk(&rule.cond, &set);
        cx.shown(rule, &set);
    }
    out
}

struct Cx<'a> {
    program: &'a Program,
    catalog: &'a Catalog,
    out: &'a mut Vec<Diagnostic>,
}

impl Cx<'_> {
    fn walk(&mut self, cond: &Cond, ctx: &ToolSet) {
        match cond {
            Cond::And(items) => {
                let here = ctx.clone().intersect(toolset::of(self.program, cond));
                for c in items.iter() {
                    self.walk(c, &here);
                }
            }
            Cond::Or(items) => {
                for c in items.iter() {
                    self.walk(c, ctx);
                }
            }
            Cond::Not(c) => self.walk(c, ctx),
            Cond::Quantified { list, .. } => {
                self.arg(list, ctx, None);
            }
            Cond::Exists(p) => {
                self.arg(p, ctx, None);
            }
            Cond::Truthy(t) => {
                if let Term::Path(p) = t {
                    self.arg(p, ctx, Some(("a condition", &[ArgType::Boolean])));
                }
            }
            Cond::Compare {
                left,
                op,
                right,
                span,
            } => {
                self.tools(left, op, right, *span);
                let wanted = wanted_types(op, right);
                match left {
                    Term::Path(p) => self.arg(p, ctx, wanted),
                    Term::Len(p) => {
                        self.arg(p, ctx, Some(("`len`", &[ArgType::String, ArgType::List])))
                    }
                    Term::Count(c) => self.arg(&c.list, ctx, Some(("`count`", &[ArgType::List]))),
                    _ => {}
                }
                let wanted_right = wanted_types(op, left);
                match right {
                    Term::Path(p) => {
                        let w = match op {
                            Op::In | Op::NotIn => Some(("`in`", &[ArgType::List][..])),
                            // What a list contains can be of any type.
                            Op::Contains => None,
                            _ => wanted_right,
                        };
                        self.arg(p, ctx, w)
                    }
                    Term::Len(p) => {
                        self.arg(p, ctx, Some(("`len`", &[ArgType::String, ArgType::List])))
                    }
                    Term::Count(c) => self.arg(&c.list, ctx, Some(("`count`", &[ArgType::List]))),
                    _ => {}
                }
            }
            Cond::Const(_) | Cond::Class(_) | Cond::GlobHit { .. } => {}
        }
    }

    fn tools(&mut self, left: &Term, op: &Op, right: &Term, span: crate::source::Span) {
        // `"x" == tool` is `tool == "x"`.
        let (left, right) = match (left, right) {
            (Term::Lit(_), Term::Tool) if matches!(op, Op::Eq | Op::Ne) => (right, left),
            _ => (left, right),
        };
        let Term::Tool = left else { return };
        let names: Vec<&str> = match (op, right) {
            (Op::Eq | Op::Ne, Term::Lit(Lit::Str(s))) => vec![s],
            (Op::In | Op::NotIn, Term::Lit(Lit::List(items))) => items
                .iter()
                .filter_map(|i| match i {
                    Lit::Str(s) => Some(&**s),
                    _ => None,
                })
                .collect(),
            (Op::Glob(g), Term::Lit(_)) => {
                if !self.catalog.tools.keys().any(|t| g.matches(t)) {
                    self.out.push(
                        Diagnostic::new(
                            Code::GlobMatchesNoTool,
                            span,
                            format!(
                                "glob `{}` matches no tool of catalog `{}`",
                                g.as_str(),
                                self.catalog.name
                            ),
                        )
                        .with_help("check the spelling, or add the tools to the catalog"),
                    );
                }
                return;
            }
            _ => return,
        };
        for name in names {
            if self.catalog.covers(name) && self.catalog.tool(name).is_none() {
                let mut d = Diagnostic::new(
                    Code::UnknownTool,
                    span,
                    format!(
                        "unknown tool `{name}`: catalog `{}` has no such tool",
                        self.catalog.name
                    ),
                );
                // `delete_file` for `files.delete_file`: the name under a scope.
                let scoped = self
                    .catalog
                    .tools
                    .keys()
                    .find(|t| t.strip_suffix(name).is_some_and(|p| p.ends_with('.')));
                if let Some(s) = scoped
                    .map(String::as_str)
                    .or_else(|| did_you_mean(name, self.catalog.tools.keys().map(String::as_str)))
                {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.out.push(d);
            }
        }
    }

    /// What the approver reads is checked like conditions are: the `{args.…}` holes of a
    /// rule's `reason` and its `show diff` path, against the tools the rule applies to
    /// (`{args.quoteid}` for `args.quote_id` would read `<missing>`).
    fn shown(&mut self, rule: &Rule, set: &ToolSet) {
        let holes = rule.reason.iter().flat_map(|t| t.parts.iter());
        for part in holes {
            if let TemplatePart::Hole(Term::Path(p) | Term::Len(p)) = part {
                self.arg(p, set, None);
            }
        }
        if let Some(p) = rule.gate.as_ref().and_then(|g| g.show_diff.as_deref()) {
            self.arg(p, set, None);
        }
    }

    /// Checks an `args.` path against the tools the condition can apply to.
    fn arg(&mut self, path: &PathExpr, ctx: &ToolSet, wanted: Option<(&str, &[ArgType])>) {
        if path.root != Root::Args {
            return;
        }
        let candidates: Vec<(&String, &ToolSpec)> = self
            .catalog
            .tools
            .iter()
            .filter(|(name, _)| ctx.contains(name))
            .collect();
        if candidates.is_empty() {
            return;
        }
        let mut found: Vec<(&str, &ArgSpec)> = Vec::new();
        let mut open = false;
        let mut key_names: Vec<&str> = Vec::new();
        for (name, spec) in &candidates {
            let Some(args) = &spec.args else {
                open = true;
                continue;
            };
            key_names.extend(args.keys().map(String::as_str));
            match resolve(args, &path.segments) {
                Resolved::Found(a) => found.push((name.as_str(), a)),
                Resolved::Open => open = true,
                Resolved::Missing => {}
            }
        }
        if found.is_empty() && !open {
            let tools: Vec<&str> = candidates.iter().map(|(n, _)| n.as_str()).take(3).collect();
            let which = if candidates.len() == 1 {
                format!("tool `{}`", tools.join(""))
            } else if let ToolSet::Any = ctx {
                "any tool of the catalog".to_string()
            } else {
                format!(
                    "the tools this rule applies to ({}{})",
                    tools.join(", "),
                    if candidates.len() > 3 { ", ..." } else { "" }
                )
            };
            let mut d = Diagnostic::new(
                Code::UnknownArgument,
                path.span,
                format!("unknown argument `{}` for {which}", path.text),
            );
            if let Some(Seg::Key(first)) = path.segments.first()
                && let Some(s) = did_you_mean(first, key_names.iter().copied())
            {
                d = d.with_help(format!("did you mean `args.{s}`?"));
            }
            self.out.push(d);
            return;
        }
        let Some((what, types)) = wanted else { return };
        if open || found.is_empty() {
            return;
        }
        let fits = |a: &ArgSpec| {
            a.ty == ArgType::Any
                || types.contains(&a.ty)
                || (a.ty == ArgType::Integer && types.contains(&ArgType::Number))
                || (a.ty == ArgType::Number && types.contains(&ArgType::Integer))
        };
        if let Some(&(tool, a)) = found.first()
            && found.iter().all(|(_, a)| !fits(a))
        {
            let need: Vec<String> = types
                .iter()
                .map(|t| format!("{} {}", article(*t), t.as_str()))
                .collect();
            self.out.push(
                Diagnostic::new(
                    Code::CatalogType,
                    path.span,
                    format!(
                        "`{}` is {} {} for tool `{tool}`, but {what} needs {}",
                        path.text,
                        article(a.ty),
                        a.ty.as_str(),
                        need.join(" or ")
                    ),
                )
                .with_help("a value of the wrong type makes the condition unknown on every call"),
            );
        }
    }
}

fn article(t: ArgType) -> &'static str {
    match t {
        ArgType::Integer | ArgType::Object | ArgType::Any => "an",
        _ => "a",
    }
}

/// The types the other side of `op` must have, given one side.
fn wanted_types(op: &Op, other: &Term) -> Option<(&'static str, &'static [ArgType])> {
    const NUM: &[ArgType] = &[ArgType::Number, ArgType::Integer];
    const STR: &[ArgType] = &[ArgType::String];
    match op {
        Op::Lt | Op::Le | Op::Gt | Op::Ge => Some(("an ordering comparison", NUM)),
        Op::StartsWith | Op::EndsWith => Some(("a string test", STR)),
        Op::Glob(_) => Some(("`matches`", STR)),
        Op::Regex(_) => Some(("`=~`", STR)),
        Op::Contains => Some(("`contains`", &[ArgType::String, ArgType::List])),
        Op::Eq | Op::Ne | Op::In | Op::NotIn => {
            let lit = match other {
                Term::Lit(Lit::List(items)) => items.first(),
                Term::Lit(l) => Some(l),
                _ => None,
            }?;
            Some(match lit {
                Lit::Str(_) => ("a comparison with a string", STR),
                Lit::Num(_) => ("a comparison with a number", NUM),
                Lit::Bool(_) => ("a comparison with a boolean", &[ArgType::Boolean]),
                Lit::List(_) => ("a comparison with a list", &[ArgType::List]),
            })
        }
    }
}

enum Resolved<'a> {
    Found(&'a ArgSpec),
    Open,
    Missing,
}

fn resolve<'a>(
    args: &'a std::collections::BTreeMap<String, ArgSpec>,
    segs: &[Seg],
) -> Resolved<'a> {
    let Some((Seg::Key(first), rest)) = segs.split_first() else {
        return Resolved::Open;
    };
    let Some(mut cur) = args.get(&**first) else {
        return Resolved::Missing;
    };
    for seg in rest {
        match seg {
            Seg::Key(k) => match (&cur.properties, cur.ty) {
                (Some(props), _) => match props.get(&**k) {
                    Some(a) => cur = a,
                    None => return Resolved::Missing,
                },
                (None, ArgType::Object | ArgType::Any) => return Resolved::Open,
                (None, _) => return Resolved::Missing,
            },
            Seg::Index(_) => match (&cur.items, cur.ty) {
                (Some(item), _) => cur = item,
                (None, ArgType::List | ArgType::Any) => return Resolved::Open,
                (None, _) => return Resolved::Missing,
            },
        }
    }
    Resolved::Found(cur)
}
