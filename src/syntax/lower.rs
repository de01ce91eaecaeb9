//! Pest pairs to the syntax tree. One function per grammar rule; pest's `Rule` stays here.

use pest::iterators::{Pair, Pairs};

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

struct Lower {
    file: FileId,
    errors: Vec<Diagnostic>,
}

type Res<T> = Result<T, Diagnostic>;

/// Lowers the pairs of the `file` rule.
pub(super) fn file(file: FileId, mut pairs: Pairs<'_, Rule>) -> Result<File, Vec<Diagnostic>> {
    let mut lw = Lower {
        file,
        errors: Vec::new(),
    };
    let mut out = File::default();
    let Some(top) = pairs.next() else {
        return Ok(out);
    };
    for pair in top.into_inner() {
        if pair.as_rule() == Rule::EOI {
            continue;
        }
        match lw.statement(pair) {
            Ok(stmt) => out.statements.push(stmt),
            Err(d) => lw.errors.push(d),
        }
    }
    if lw.errors.is_empty() {
        Ok(out)
    } else {
        Err(lw.errors)
    }
}

impl Lower {
    /// The pair's span, without the blanks and comments pest keeps at its end (a clause
    /// that ends in a repetition, like `by "a", "b"`, swallows what follows it), so a caret
    /// never runs onto the next line.
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        let text = super::comments::strip_comment_lines(pair.as_str());
        Span::new(self.file, s.start(), s.start() + text.len())
    }

    fn internal(&self, span: Span, what: &str) -> Diagnostic {
        Diagnostic::new(Code::Syntax, span, format!("unexpected input: {what}"))
    }

    fn next<'i>(&self, it: &mut Pairs<'i, Rule>, span: Span, what: &str) -> Res<Pair<'i, Rule>> {
        it.next().ok_or_else(|| self.internal(span, what))
    }

    fn statement(&mut self, pair: Pair<'_, Rule>) -> Res<Statement> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        match rule {
            Rule::policy_decl => {
                let _kw = self.next(&mut inner, span, "policy")?;
                let name = self.string(self.next(&mut inner, span, "policy name")?)?;
                Ok(Statement::Policy(name, span))
            }
            Rule::default_decl => {
                let _kw = self.next(&mut inner, span, "default")?;
                let eff = self.next(&mut inner, span, "effect")?;
                Ok(Statement::Default(self.effect(&eff)?, span))
            }
            Rule::class_decl => {
                let _kw = self.next(&mut inner, span, "class")?;
                let name = self.name(self.next(&mut inner, span, "class name")?);
                let expr = self.expr(self.next(&mut inner, span, "class expression")?)?;
                Ok(Statement::Class(ClassDecl { name, expr, span }))
            }
            Rule::never_decl => {
                let names = inner
                    .filter(|p| p.as_rule() == Rule::name)
                    .map(|p| self.name(p))
                    .collect();
                Ok(Statement::NeverAuto(names, span))
            }
            Rule::rule_decl => self.rule(span, inner).map(Statement::Rule),
            _ => Err(self.internal(span, "statement")),
        }
    }

    fn effect(&self, pair: &Pair<'_, Rule>) -> Res<Effect> {
        Effect::parse(pair.as_str()).ok_or_else(|| self.internal(self.span(pair), "effect"))
    }

    fn name(&self, pair: Pair<'_, Rule>) -> Name {
        Name {
            text: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn string(&self, pair: Pair<'_, Rule>) -> Res<Str> {
        let span = self.span(&pair);
        let raw = pair.as_str();
        let body = raw
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(raw);
        let mut value = String::with_capacity(body.len());
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                value.push(c);
                continue;
            }
            match chars.next() {
                Some((_, '"')) => value.push('"'),
                Some((_, '\\')) => value.push('\\'),
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((j, other)) => {
                    let at = span.start as usize + 1 + i;
                    return Err(Diagnostic::new(
                        Code::BadEscape,
                        Span::new(self.file, at, at + 1 + (j - i) + other.len_utf8() - 1),
                        format!("unknown escape `\\{other}` in a string"),
                    )
                    .with_help("the escapes are `\\\"`, `\\\\`, `\\n`, `\\t` and `\\r`"));
                }
                None => value.push('\\'),
            }
        }
        Ok(Str { value, span })
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> Res<f64> {
        let text: String = pair.as_str().chars().filter(|c| *c != '_').collect();
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(n),
            _ => Err(Diagnostic::new(
                Code::BadNumber,
                self.span(pair),
                format!("`{}` is not a number this language can hold", pair.as_str()),
            )),
        }
    }

    fn rule(&mut self, span: Span, mut inner: Pairs<'_, Rule>) -> Res<RuleDecl> {
        let eff_pair = self.next(&mut inner, span, "effect")?;
        let effect = self.effect(&eff_pair)?;
        let effect_span = self.span(&eff_pair);
        let name = self.name(self.next(&mut inner, span, "rule name")?);
        let mut decl = RuleDecl {
            effect,
            effect_span,
            name,
            when: Vec::new(),
            options: Vec::new(),
            span,
        };
        for clause in inner {
            let cspan = self.span(&clause);
            let rule = clause.as_rule();
            let mut parts = clause.into_inner();
            let _keyword = parts.next();
            match rule {
                Rule::when_clause => {
                    let e = self.next(&mut parts, cspan, "condition")?;
                    decl.when.push(self.expr(e)?);
                }
                Rule::reason_option => {
                    let s = self.string(self.next(&mut parts, cspan, "reason")?)?;
                    decl.options.push(RuleOption::Reason(s));
                }
                Rule::mode_option => {
                    let m = self.next(&mut parts, cspan, "mode")?;
                    let mode = if m.as_str() == "async" {
                        Mode::Async
                    } else {
                        Mode::Sync
                    };
                    decl.options.push(RuleOption::Mode(mode, cspan));
                }
                Rule::by_option => {
                    let mut quorum = None;
                    let mut groups = Vec::new();
                    for p in parts {
                        match p.as_rule() {
                            Rule::quorum => {
                                quorum = Some(Quorum {
                                    value: p.as_str().parse::<u32>().ok(),
                                    span: self.span(&p),
                                });
                            }
                            Rule::kw_of => {}
                            _ => groups.push(self.string(p)?),
                        }
                    }
                    decl.options.push(RuleOption::By(groups, quorum, cspan));
                }
                Rule::within_option => {
                    let d = self.next(&mut parts, cspan, "duration")?;
                    decl.options.push(RuleOption::Within(
                        crate::duration::seconds(d.as_str()).ok(),
                        cspan,
                    ));
                }
                Rule::timeout_option => {
                    let _timeout = self.next(&mut parts, cspan, "timeout")?;
                    let what = self.next(&mut parts, cspan, "timeout action")?;
                    let on = match what.as_rule() {
                        Rule::timeout_reject => OnTimeout::Reject,
                        Rule::timeout_escalate => {
                            let mut it = what.into_inner();
                            let _kw = it.next();
                            let g = self.string(self.next(&mut it, cspan, "group")?)?;
                            OnTimeout::Escalate(g.value)
                        }
                        _ => {
                            return Err(Diagnostic::new(
                                Code::TimeoutApprove,
                                self.span(&what),
                                format!(
                                    "`on timeout {}` is not allowed: a gate must never let a call \
                                     through because nobody decided",
                                    what.as_str()
                                ),
                            )
                            .with_help(
                                "write `on timeout reject`, or `on timeout escalate \"group\"` \
                                 to hand the request to someone else",
                            ));
                        }
                    };
                    decl.options.push(RuleOption::OnTimeout(on, cspan));
                }
                Rule::decisions_option => {
                    let kinds = parts
                        .map(|p| {
                            let k = match p.as_str() {
                                "approve" => DecisionKind::Approve,
                                "reject" => DecisionKind::Reject,
                                "edit" => DecisionKind::Edit,
                                _ => DecisionKind::Escalate,
                            };
                            (k, self.span(&p))
                        })
                        .collect();
                    decl.options.push(RuleOption::Decisions(kinds, cspan));
                }
                Rule::show_option => {
                    let _diff = self.next(&mut parts, cspan, "diff")?;
                    let p = self.path(self.next(&mut parts, cspan, "path")?)?;
                    decl.options.push(RuleOption::ShowDiff(p, cspan));
                }
                Rule::confirm_option => decl.options.push(RuleOption::ConfirmByRequester(cspan)),
                _ => return Err(self.internal(cspan, "rule option")),
            }
        }
        Ok(decl)
    }

    fn expr(&self, pair: Pair<'_, Rule>) -> Res<Expr> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::expr => {
                let mut it = pair.into_inner();
                self.expr(self.next(&mut it, span, "condition")?)
            }
            Rule::disjunction | Rule::conjunction => {
                let is_or = pair.as_rule() == Rule::disjunction;
                let mut items = Vec::new();
                for p in pair.into_inner() {
                    if matches!(p.as_rule(), Rule::kw_or | Rule::kw_and) {
                        continue;
                    }
                    items.push(self.expr(p)?);
                }
                if items.len() == 1 {
                    return items.pop().ok_or_else(|| self.internal(span, "condition"));
                }
                let kind = if is_or {
                    ExprKind::Or(items)
                } else {
                    ExprKind::And(items)
                };
                Ok(Expr { kind, span })
            }
            Rule::negation => {
                let mut it = pair.into_inner();
                let first = self.next(&mut it, span, "condition")?;
                if first.as_rule() == Rule::kw_not {
                    let inner = self.expr(self.next(&mut it, span, "condition")?)?;
                    Ok(Expr {
                        kind: ExprKind::Not(Box::new(inner)),
                        span,
                    })
                } else {
                    self.expr(first)
                }
            }
            Rule::group => {
                let mut it = pair.into_inner();
                let inner = self.expr(self.next(&mut it, span, "condition")?)?;
                Ok(Expr {
                    kind: ExprKind::Group(Box::new(inner)),
                    span,
                })
            }
            Rule::exists_call => {
                let mut it = pair.into_inner();
                let _kw = it.next();
                let p = self.path(self.next(&mut it, span, "path")?)?;
                Ok(Expr {
                    kind: ExprKind::Exists(p),
                    span,
                })
            }
            Rule::quantifier => {
                let mut it = pair.into_inner();
                let kw = self.next(&mut it, span, "any or all")?;
                let quantifier = if kw.as_rule() == Rule::kw_all {
                    Quantifier::All
                } else {
                    Quantifier::Any
                };
                let var = self.name(self.next(&mut it, span, "variable")?);
                let _in = it.next();
                let list = self.path(self.next(&mut it, span, "list path")?)?;
                let body = self.expr(self.next(&mut it, span, "condition")?)?;
                Ok(Expr {
                    kind: ExprKind::Quantified {
                        quantifier,
                        var,
                        list,
                        body: Box::new(body),
                    },
                    span,
                })
            }
            Rule::comparison => {
                let mut it = pair.into_inner();
                let left = self.operand(self.next(&mut it, span, "value")?)?;
                let Some(op_pair) = it.next() else {
                    return Ok(Expr {
                        kind: ExprKind::Bare(left),
                        span,
                    });
                };
                let op = match op_pair.as_rule() {
                    Rule::op_eq => CompareOp::Eq,
                    Rule::op_ne => CompareOp::Ne,
                    Rule::op_lt => CompareOp::Lt,
                    Rule::op_le => CompareOp::Le,
                    Rule::op_gt => CompareOp::Gt,
                    Rule::op_ge => CompareOp::Ge,
                    Rule::op_in => CompareOp::In,
                    Rule::op_not_in => CompareOp::NotIn,
                    Rule::op_contains => CompareOp::Contains,
                    Rule::op_starts_with => CompareOp::StartsWith,
                    Rule::op_ends_with => CompareOp::EndsWith,
                    Rule::op_matches => CompareOp::Matches,
                    Rule::op_regex => CompareOp::Regex,
                    _ => return Err(self.internal(span, "operator")),
                };
                let op_span = self.span(&op_pair);
                let right = self.operand(self.next(&mut it, span, "value")?)?;
                Ok(Expr {
                    kind: ExprKind::Compare {
                        left,
                        op,
                        op_span,
                        right,
                    },
                    span,
                })
            }
            _ => Err(self.internal(span, "condition")),
        }
    }

    fn operand(&self, pair: Pair<'_, Rule>) -> Res<Operand> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::tool => OperandKind::Tool,
            Rule::path => OperandKind::Path(self.path(pair)?),
            Rule::len_call => {
                let mut it = pair.into_inner();
                let _kw = it.next();
                OperandKind::Len(self.path(self.next(&mut it, span, "path")?)?)
            }
            Rule::count_call => {
                let mut it = pair.into_inner();
                let _kw = it.next();
                let var = self.name(self.next(&mut it, span, "variable")?);
                let _in = it.next();
                let list = self.path(self.next(&mut it, span, "list path")?)?;
                let body = self.expr(self.next(&mut it, span, "condition")?)?;
                OperandKind::Count(Box::new(CountExpr { var, list, body }))
            }
            Rule::list => {
                let items = pair
                    .into_inner()
                    .map(|p| self.literal(p))
                    .collect::<Res<Vec<_>>>()?;
                OperandKind::List(items)
            }
            Rule::string | Rule::number | Rule::boolean => {
                OperandKind::Literal(self.literal(pair)?)
            }
            _ => return Err(self.internal(span, "value")),
        };
        Ok(Operand { kind, span })
    }

    fn literal(&self, pair: Pair<'_, Rule>) -> Res<Literal> {
        match pair.as_rule() {
            Rule::string => Ok(Literal::String(self.string(pair)?.value)),
            Rule::number => Ok(Literal::Number(self.number(&pair)?)),
            Rule::boolean => Ok(Literal::Bool(pair.as_str() == "true")),
            _ => Err(self.internal(self.span(&pair), "literal")),
        }
    }

    fn path(&self, pair: Pair<'_, Rule>) -> Res<Path> {
        let span = self.span(&pair);
        let mut it = pair.into_inner();
        let root_pair = self.next(&mut it, span, "path")?;
        let root_inner = root_pair
            .into_inner()
            .next()
            .ok_or_else(|| self.internal(span, "path root"))?;
        let root = match root_inner.as_rule() {
            Rule::root_args => PathRoot::Args,
            Rule::root_context => PathRoot::Context,
            _ => PathRoot::Name(root_inner.as_str().to_string()),
        };
        let mut segments = Vec::new();
        for seg in it {
            match seg.as_rule() {
                Rule::key => segments.push(Segment::Key(seg.as_str().to_string())),
                Rule::string => segments.push(Segment::Key(self.string(seg)?.value)),
                Rule::index => {
                    let i = seg.as_str().parse::<usize>().map_err(|_| {
                        Diagnostic::new(Code::BadNumber, self.span(&seg), "list index is too large")
                    })?;
                    segments.push(Segment::Index(i));
                }
                _ => return Err(self.internal(span, "path step")),
            }
        }
        Ok(Path {
            root,
            segments,
            span,
        })
    }
}

/// Lowers a lone `path` pair.
pub(super) fn path_at(file: FileId, pair: Pair<'_, Rule>) -> Res<Path> {
    Lower {
        file,
        errors: Vec::new(),
    }
    .path(pair)
}
