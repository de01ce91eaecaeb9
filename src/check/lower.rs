//! Expressions and rules from syntax to IR: scopes, class references, static types,
//! patterns, options (a rule's options are in `options`).

mod options;

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{self, CompareOp, Effect, ExprKind, Literal, OperandKind, PathRoot};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::ir::glob::Glob;
use crate::ir::{
    Class, ClassId, Cond, Count, Lit, Op, PathExpr, Root, Rule, Seg, Template, TemplatePart, Term,
};
use crate::source::{SourceMap, Span};

/// A static type, as far as it is known without a catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum St {
    Str,
    Num,
    Bool,
    List,
    Unknown,
}

impl St {
    fn name(self) -> &'static str {
        match self {
            St::Str => "a string",
            St::Num => "a number",
            St::Bool => "a boolean",
            St::List => "a list",
            St::Unknown => "a value",
        }
    }
}

pub(super) fn static_type(t: &Term) -> St {
    match t {
        Term::Tool => St::Str,
        Term::Len(_) | Term::Count(_) => St::Num,
        Term::Path(_) => St::Unknown,
        Term::Lit(Lit::Str(_)) => St::Str,
        Term::Lit(Lit::Num(_)) => St::Num,
        Term::Lit(Lit::Bool(_)) => St::Bool,
        Term::Lit(Lit::List(_)) => St::List,
    }
}

pub(super) struct Lowerer<'a> {
    sources: &'a SourceMap,
    class_ids: &'a HashMap<String, ClassId>,
    classes: &'a [Class],
    diags: Vec<Diagnostic>,
    scope: Vec<String>,
    /// Patterns compiled so far: a pattern used by many rules is compiled once.
    globs: HashMap<String, Arc<Glob>>,
    regexes: HashMap<String, Arc<regex::Regex>>,
}

impl<'a> Lowerer<'a> {
    pub(super) fn new(
        sources: &'a SourceMap,
        class_ids: &'a HashMap<String, ClassId>,
        classes: &'a [Class],
    ) -> Self {
        Lowerer {
            sources,
            class_ids,
            classes,
            diags: Vec::new(),
            scope: Vec::new(),
            globs: HashMap::new(),
            regexes: HashMap::new(),
        }
    }

    pub(super) fn take_diagnostics(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags)
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// A condition; `None` after reporting an error in it.
    pub(super) fn condition(&mut self, e: &ast::Expr) -> Option<Cond> {
        let before = self.diags.iter().filter(|d| d.is_error()).count();
        let cond = self.expr(e);
        let after = self.diags.iter().filter(|d| d.is_error()).count();
        if after > before { None } else { cond }
    }

    fn expr(&mut self, e: &ast::Expr) -> Option<Cond> {
        match &e.kind {
            ExprKind::Or(items) | ExprKind::And(items) => {
                let lowered: Vec<Option<Cond>> = items.iter().map(|i| self.expr(i)).collect();
                let all: Option<Vec<Cond>> = lowered.into_iter().collect();
                let all = all?.into_boxed_slice();
                Some(if matches!(e.kind, ExprKind::Or(_)) {
                    Cond::Or(all)
                } else {
                    Cond::And(all)
                })
            }
            ExprKind::Not(inner) => Some(Cond::Not(Box::new(self.expr(inner)?))),
            ExprKind::Group(inner) => self.expr(inner),
            ExprKind::Exists(p) => Some(Cond::Exists(self.path(p)?)),
            ExprKind::Quantified {
                quantifier,
                var,
                list,
                body,
            } => {
                let list = self.path(list);
                self.scope.push(var.text.clone());
                let body = self.expr(body);
                self.scope.pop();
                let (body, list) = (body?, list?);
                let (reads_element, closed) = body.element_and_closed(&list);
                Some(Cond::Quantified {
                    all: *quantifier == ast::Quantifier::All,
                    list,
                    var: var.text.as_str().into(),
                    body: Box::new(body),
                    reads_element,
                    closed,
                })
            }
            ExprKind::Bare(op) => self.bare(op),
            ExprKind::Compare {
                left,
                op,
                op_span,
                right,
            } => {
                let l = self.operand(left);
                let r = self.operand(right);
                let (l, r) = (l?, r?);
                self.compare(l, *op, *op_span, r, e.span, right)
            }
        }
    }

    fn bare(&mut self, op: &ast::Operand) -> Option<Cond> {
        match &op.kind {
            OperandKind::Path(p) => {
                if let (PathRoot::Name(n), true) = (&p.root, p.segments.is_empty())
                    && !self.scope.contains(n)
                {
                    return match self.class_ids.get(n) {
                        Some(id) => Some(Cond::Class(*id)),
                        None => {
                            let mut d = Diagnostic::new(
                                Code::UnknownClass,
                                p.span,
                                format!("unknown class `{n}`"),
                            );
                            if let Some(s) =
                                did_you_mean(n, self.classes.iter().map(|c| c.name.as_str()))
                            {
                                d = d.with_help(format!("did you mean `{s}`?"));
                            } else {
                                d = d.with_help(
                                    "declare it with `class NAME = ...`, or give a catalog that \
                                     puts tools in it",
                                );
                            }
                            self.err(d);
                            None
                        }
                    };
                }
                Some(Cond::Truthy(Term::Path(self.path(p)?)))
            }
            OperandKind::Literal(Literal::Bool(b)) => Some(Cond::Const(*b)),
            other => {
                let what = match other {
                    OperandKind::Tool => "`tool` is a string",
                    OperandKind::Len(_) => "`len(...)` is a number",
                    OperandKind::Count(_) => "`count(...)` is a number",
                    OperandKind::List(_) => "a list",
                    _ => "a literal",
                };
                self.err(
                    Diagnostic::new(
                        Code::NotACondition,
                        op.span,
                        format!("{what}, not a condition"),
                    )
                    .with_help("compare it with something, as in `tool == \"crm.search\"`"),
                );
                None
            }
        }
    }

    fn operand(&mut self, op: &ast::Operand) -> Option<Term> {
        Some(match &op.kind {
            OperandKind::Tool => Term::Tool,
            OperandKind::Path(p) => {
                if let (PathRoot::Name(n), true) = (&p.root, p.segments.is_empty())
                    && !self.scope.contains(n)
                    && self.class_ids.contains_key(n)
                {
                    self.err(
                        Diagnostic::new(
                            Code::NotACondition,
                            p.span,
                            format!("class `{n}` is a condition, not a value to compare"),
                        )
                        .with_help(format!("use `{n}` on its own, as in `{n} and ...`")),
                    );
                    return None;
                }
                Term::Path(self.path(p)?)
            }
            OperandKind::Len(p) => Term::Len(self.path(p)?),
            OperandKind::Count(c) => {
                let list = self.path(&c.list);
                self.scope.push(c.var.text.clone());
                let body = self.expr(&c.body);
                self.scope.pop();
                let (body, list) = (body?, list?);
                let (reads_element, closed) = body.element_and_closed(&list);
                Term::Count(Box::new(Count {
                    list,
                    var: c.var.text.as_str().into(),
                    body,
                    reads_element,
                    closed,
                }))
            }
            OperandKind::Literal(l) => Term::Lit(lit(l)),
            OperandKind::List(items) => Term::Lit(Lit::List(items.iter().map(lit).collect())),
        })
    }

    fn path(&mut self, p: &ast::Path) -> Option<Arc<PathExpr>> {
        let root = match &p.root {
            PathRoot::Args => Root::Args,
            PathRoot::Context => Root::Context,
            PathRoot::Name(n) => match self.scope.iter().rev().position(|v| v == n) {
                Some(depth) => Root::Var(depth as u32),
                None => {
                    let mut d = Diagnostic::new(
                        Code::UnknownClass,
                        p.span,
                        format!(
                            "unknown name `{n}`: a path starts with `args`, `context`, or a \
                             variable bound by any(), all() or count()"
                        ),
                    );
                    let candidates = ["args", "context"]
                        .into_iter()
                        .chain(self.scope.iter().map(String::as_str));
                    if let Some(s) = did_you_mean(n, candidates) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.err(d);
                    return None;
                }
            },
        };
        Some(Arc::new(PathExpr {
            root,
            segments: p
                .segments
                .iter()
                .map(|s| match s {
                    ast::Segment::Key(k) => Seg::Key(k.as_str().into()),
                    ast::Segment::Index(i) => Seg::Index(*i),
                })
                .collect(),
            text: p.display().into(),
            span: p.span,
        }))
    }

    /// A comparison: its operand types checked, then its operator lowered (a pattern
    /// compiled); `None` after reporting an error.
    #[allow(clippy::too_many_arguments)]
    fn compare(
        &mut self,
        left: Term,
        op: CompareOp,
        op_span: Span,
        right: Term,
        span: Span,
        right_ast: &ast::Operand,
    ) -> Option<Cond> {
        let (lt, rt) = (static_type(&left), static_type(&right));
        if let Some(msg) = type_mismatch(op, lt, rt, &right) {
            let d = Diagnostic::new(Code::TypeMismatch, op_span, msg);
            self.err(
                match quoted_number(&left).or_else(|| quoted_number(&right)) {
                    Some(n) => d.with_help(format!(
                        "drop the quotes: `{n}` is a number, `\"{n}\"` a string"
                    )),
                    None => d,
                },
            );
            return None;
        }
        let op = self.operator(op, &right, right_ast)?;
        Some(Cond::Compare {
            left,
            op,
            right,
            span,
        })
    }

    /// The operator in IR; `matches` and `regex` compile their pattern, which must be a
    /// string literal. `None` after reporting an error.
    fn operator(&mut self, op: CompareOp, right: &Term, right_ast: &ast::Operand) -> Option<Op> {
        Some(match op {
            CompareOp::Eq => Op::Eq,
            CompareOp::Ne => Op::Ne,
            CompareOp::Lt => Op::Lt,
            CompareOp::Le => Op::Le,
            CompareOp::Gt => Op::Gt,
            CompareOp::Ge => Op::Ge,
            CompareOp::In => Op::In,
            CompareOp::NotIn => Op::NotIn,
            CompareOp::Contains => Op::Contains,
            CompareOp::StartsWith => Op::StartsWith,
            CompareOp::EndsWith => Op::EndsWith,
            CompareOp::Matches | CompareOp::Regex => {
                let Term::Lit(Lit::Str(pattern)) = right else {
                    let opname = op.as_str();
                    self.err(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            right_ast.span,
                            format!("the pattern after `{opname}` must be a string literal"),
                        )
                        .with_help("patterns are compiled once, when the policy loads"),
                    );
                    return None;
                };
                if op == CompareOp::Matches {
                    self.compiled_glob(pattern, right_ast)?
                } else {
                    self.compiled_regex(pattern, right_ast)?
                }
            }
        })
    }

    /// The glob of a `matches`, compiled once per pattern; `None` after reporting an
    /// invalid one.
    fn compiled_glob(&mut self, pattern: &str, right_ast: &ast::Operand) -> Option<Op> {
        if let Some(g) = self.globs.get(pattern) {
            return Some(Op::Glob(g.clone()));
        }
        match Glob::new(pattern) {
            Ok(g) => {
                let g = Arc::new(g);
                self.globs.insert(pattern.to_string(), g.clone());
                Some(Op::Glob(g))
            }
            Err(e) => {
                self.err(Diagnostic::new(
                    Code::InvalidGlob,
                    right_ast.span,
                    format!("invalid glob {}: {e}", ast::quote(pattern)),
                ));
                None
            }
        }
    }

    /// The regex of a `regex`, compiled once per pattern (within a size limit); `None`
    /// after reporting an invalid one.
    fn compiled_regex(&mut self, pattern: &str, right_ast: &ast::Operand) -> Option<Op> {
        if let Some(r) = self.regexes.get(pattern) {
            return Some(Op::Regex(r.clone()));
        }
        match regex::RegexBuilder::new(pattern)
            .size_limit(1 << 22)
            .build()
        {
            Ok(r) => {
                let r = Arc::new(r);
                self.regexes.insert(pattern.to_string(), r.clone());
                Some(Op::Regex(r))
            }
            Err(e) => {
                self.err(
                    Diagnostic::new(
                        Code::InvalidRegex,
                        right_ast.span,
                        format!(
                            "invalid regex {}: {}",
                            ast::quote(pattern),
                            regex_error_detail(&e)
                        ),
                    )
                    .with_help("the syntax is that of Rust's `regex` crate"),
                );
                None
            }
        }
    }

    /// A rule; `None` after reporting an error in it.
    ///
    /// A rule whose options had an error is kept (with those options left at their
    /// defaults) so that the whole-program checks still judge its condition: an option's
    /// error must not hide an unknown tool next to it. The program is not used when any
    /// finding is an error.
    pub(super) fn rule(&mut self, r: &ast::RuleDecl) -> Option<Rule> {
        let cond = self.when(r);
        let options = self.options(r);
        self.timeout_without_within(r, &options);
        Some(Rule {
            name: r.name.text.clone(),
            effect: r.effect,
            cond: cond?,
            reason: options.reason,
            gate: (r.effect == Effect::Approve).then_some(options.gate),
            span: r.span,
            name_span: r.name.span,
        })
    }

    /// The rule's one `when`, lowered; a missing `when`, and every one after the first,
    /// is reported.
    fn when(&mut self, r: &ast::RuleDecl) -> Option<Cond> {
        match r.when.as_slice() {
            [] => {
                self.err(
                    Diagnostic::new(
                        Code::MissingWhen,
                        r.name.span,
                        format!("rule `{}` has no `when` condition", r.name.text),
                    )
                    .with_help("add `when CONDITION` inside the braces"),
                );
                None
            }
            [first, rest @ ..] => {
                for extra in rest {
                    self.err(
                        Diagnostic::new(
                            Code::RepeatedOption,
                            extra.span,
                            format!("rule `{}` has more than one `when`", r.name.text),
                        )
                        .with_help("join the conditions with `and` or `or`"),
                    );
                }
                self.condition(first)
            }
        }
    }

    fn template(&mut self, s: &ast::Str) -> Option<Template> {
        // Holes are found in the raw source text so spans point at them; `{{`/`}}` are braces.
        let file = self.sources.get(s.span.file)?;
        let raw = file.slice(s.span);
        let body_offset = s.span.start as usize + 1;
        let mut parts = Vec::new();
        let mut text = String::new();
        let value = &s.value;
        let mut chars = value.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = value.get(i + 1..).unwrap_or("");
                    let Some(close) = rest.find('}') else {
                        self.err(
                            Diagnostic::new(
                                Code::BadTemplate,
                                s.span,
                                "a `{` in the reason is never closed",
                            )
                            .with_help("write `{{` for a literal brace"),
                        );
                        return None;
                    };
                    let hole = rest.get(..close).unwrap_or("");
                    // Locate the hole in the raw text (escapes may shift positions).
                    let brace = raw
                        .find(&format!("{{{hole}}}"))
                        .map(|p| s.span.start as usize + p)
                        .unwrap_or(body_offset);
                    let trimmed = hole.trim();
                    let at = brace + 1 + (hole.len() - hole.trim_start().len());
                    if trimmed == "tool" {
                        parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                        parts.push(TemplatePart::Hole(Term::Tool));
                    } else {
                        match crate::syntax::parse_path(s.span.file, trimmed, at) {
                            Ok(p) if !matches!(p.root, PathRoot::Name(_)) => {
                                let path = self.path(&p)?;
                                parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                                parts.push(TemplatePart::Hole(Term::Path(path)));
                            }
                            _ => {
                                self.err(Diagnostic::new(
                                    Code::BadTemplate,
                                    Span::new(s.span.file, brace, brace + hole.len() + 2),
                                    format!("`{{{hole}}}` is not a hole this reason can fill"),
                                ).with_help("a hole is `{tool}` or a path such as `{args.amount}`; write `{{` for a literal brace"));
                                return None;
                            }
                        }
                    }
                    for _ in 0..hole.chars().count() + 1 {
                        chars.next();
                    }
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(TemplatePart::Text(text));
        }
        parts.retain(|p| !matches!(p, TemplatePart::Text(t) if t.is_empty()));
        Some(Template { parts })
    }
}

/// The text of a string literal that reads as a number (`"200"`), if the term is one.
fn quoted_number(term: &Term) -> Option<&str> {
    match term {
        Term::Lit(Lit::Str(s)) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => Some(s),
        _ => None,
    }
}

/// Why the operand types of a comparison keep it from ever holding, if they do.
fn type_mismatch(op: CompareOp, lt: St, rt: St, right: &Term) -> Option<String> {
    let opname = op.as_str();
    match op {
        CompareOp::Eq | CompareOp::Ne => {
            (lt != St::Unknown && rt != St::Unknown && lt != rt).then(|| {
                format!(
                    "`{opname}` compares {} with {}: the comparison can never hold, so it \
                     is always unknown",
                    lt.name(),
                    rt.name()
                )
            })
        }
        CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => {
            wrong_side(lt, rt, St::Num)
                .map(|t| format!("`{opname}` compares numbers, but one side is {}", t.name()))
        }
        CompareOp::In | CompareOp::NotIn => membership_mismatch(opname, lt, rt, right),
        CompareOp::Contains => contains_mismatch(lt, rt),
        CompareOp::StartsWith | CompareOp::EndsWith => wrong_side(lt, rt, St::Str)
            .map(|t| format!("`{opname}` compares strings, but one side is {}", t.name())),
        CompareOp::Matches | CompareOp::Regex => (lt != St::Unknown && lt != St::Str).then(|| {
            format!(
                "`{opname}` tests a string, but the left side is {}",
                lt.name()
            )
        }),
    }
}

/// The known type of a side that is not `want`; the right side's when both are not.
fn wrong_side(lt: St, rt: St, want: St) -> Option<St> {
    [lt, rt]
        .into_iter()
        .rev()
        .find(|&t| t != St::Unknown && t != want)
}

/// Why `in` or `not in` cannot hold: no list on the right, a list on the left, or a
/// literal list that holds nothing of the left side's type.
fn membership_mismatch(opname: &str, lt: St, rt: St, right: &Term) -> Option<String> {
    if rt != St::Unknown && rt != St::List {
        Some(format!(
            "`{opname}` needs a list on the right, such as `[\"a\", \"b\"]`, not {}",
            rt.name()
        ))
    } else if lt == St::List {
        Some(format!(
            "`{opname}` tests one value, but the left side is a list"
        ))
    } else if let (Term::Lit(Lit::List(items)), true) = (right, lt != St::Unknown)
        && !items.is_empty()
        && !items
            .iter()
            .any(|i| static_type(&Term::Lit(i.clone())) == lt)
    {
        Some(format!(
            "the left side is {}, but the list holds none",
            lt.name()
        ))
    } else {
        None
    }
}

/// Why `contains` cannot hold: nothing to look inside, a list to look for, or a string
/// looked for something that is no string.
fn contains_mismatch(lt: St, rt: St) -> Option<String> {
    if lt != St::Unknown && lt != St::Str && lt != St::List {
        Some(format!(
            "`contains` looks inside a string or a list, not {}",
            lt.name()
        ))
    } else if rt == St::List {
        Some("`contains` looks for one value; to test several, use `any(...)`".into())
    } else if lt == St::Str && rt != St::Unknown && rt != St::Str {
        Some(format!(
            "a string can only contain a string, not {}",
            rt.name()
        ))
    } else {
        None
    }
}

/// The gist of a regex error: its last `error:` line, else the whole error on one line.
fn regex_error_detail(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim().trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| e.to_string().replace('\n', " "))
}

fn lit(l: &Literal) -> Lit {
    match l {
        Literal::String(s) => Lit::Str(s.as_str().into()),
        Literal::Number(n) => Lit::Num(*n),
        Literal::Bool(b) => Lit::Bool(*b),
    }
}
