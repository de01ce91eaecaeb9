//! The syntax tree of a `.gate` file, as written; every node carries its span.

use crate::source::Span;

/// The four effects, ordered from least to most restrictive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Execute now.
    Allow,
    /// Execute now and write the call to the audit log.
    Audit,
    /// Do not execute: wait for an explicit, recorded human decision.
    Approve,
    /// Do not execute, ever, for this call.
    Deny,
}

impl Effect {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Audit => "audit",
            Effect::Approve => "approve",
            Effect::Deny => "deny",
        }
    }

    /// Parses the keyword.
    pub fn parse(s: &str) -> Option<Effect> {
        Some(match s {
            "allow" => Effect::Allow,
            "audit" => Effect::Audit,
            "approve" => Effect::Approve,
            "deny" => Effect::Deny,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identifier with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Name {
    /// The text.
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// A string literal, unescaped, with its span (quotes included).
#[derive(Debug, Clone, PartialEq)]
pub struct Str {
    /// The value, escapes resolved.
    pub value: String,
    /// Where it is.
    pub span: Span,
}

/// One parsed file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    /// Statements in source order.
    pub statements: Vec<Statement>,
}

/// A top-level statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `policy "name"`.
    Policy(Str, Span),
    /// `default EFFECT`.
    Default(Effect, Span),
    /// `class NAME = EXPR`.
    Class(ClassDecl),
    /// `never auto NAME, ...`.
    NeverAuto(Vec<Name>, Span),
    /// `EFFECT NAME { ... }`.
    Rule(RuleDecl),
}

/// `class NAME = EXPR`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassDecl {
    /// The class name.
    pub name: Name,
    /// Its predicate.
    pub expr: Expr,
    /// The whole statement.
    pub span: Span,
}

/// A rule: effect, name, condition and options.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDecl {
    /// The rule's effect.
    pub effect: Effect,
    /// Where the effect keyword is.
    pub effect_span: Span,
    /// The rule's name.
    pub name: Name,
    /// Each `when` clause (exactly one is valid).
    pub when: Vec<Expr>,
    /// Options in source order.
    pub options: Vec<RuleOption>,
    /// The whole rule.
    pub span: Span,
}

/// Approval mode of a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The agent blocks until a decision (seconds to minutes).
    Sync,
    /// The agent is released; the call resumes later (hours to days).
    Async,
}

/// The decisions an approver can make.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Run the call as proposed.
    Approve,
    /// Do not run it.
    Reject,
    /// Run an edited version of the call.
    Edit,
    /// Hand the decision to another group.
    Escalate,
}

impl DecisionKind {
    /// All four, in canonical order.
    pub const ALL: [DecisionKind; 4] = [
        DecisionKind::Approve,
        DecisionKind::Reject,
        DecisionKind::Edit,
        DecisionKind::Escalate,
    ];

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionKind::Approve => "approve",
            DecisionKind::Reject => "reject",
            DecisionKind::Edit => "edit",
            DecisionKind::Escalate => "escalate",
        }
    }
}

/// What happens when a gate's `within` runs out. There is no way to approve.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// The call is rejected.
    Reject,
    /// The request goes to another group.
    Escalate(String),
}

/// The `N of` of `by N of "group", ...`: how many distinct approvers a gate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    /// The number (`None` when it does not fit in 32 bits).
    pub value: Option<u32>,
    /// Where it is.
    pub span: Span,
}

/// One option inside a rule block.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOption {
    /// `reason "template"`.
    Reason(Str),
    /// `mode sync|async`.
    Mode(Mode, Span),
    /// `by "group", ...` or `by N of "group", ...`.
    By(Vec<Str>, Option<Quorum>, Span),
    /// `within 48h` (value in seconds, `None` when it overflowed).
    Within(Option<u64>, Span),
    /// `on timeout reject|escalate "group"`.
    OnTimeout(OnTimeout, Span),
    /// `decisions approve, reject, ...`.
    Decisions(Vec<(DecisionKind, Span)>, Span),
    /// `show diff PATH`.
    ShowDiff(Path, Span),
    /// `confirm by requester`.
    ConfirmByRequester(Span),
}

impl RuleOption {
    /// The option's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            RuleOption::Reason(_) => "reason",
            RuleOption::Mode(..) => "mode",
            RuleOption::By(..) => "by",
            RuleOption::Within(..) => "within",
            RuleOption::OnTimeout(..) => "on timeout",
            RuleOption::Decisions(..) => "decisions",
            RuleOption::ShowDiff(..) => "show diff",
            RuleOption::ConfirmByRequester(..) => "confirm by requester",
        }
    }

    /// Where the option is.
    pub fn span(&self) -> Span {
        match self {
            RuleOption::Reason(s) => s.span,
            RuleOption::Mode(_, s)
            | RuleOption::By(_, _, s)
            | RuleOption::Within(_, s)
            | RuleOption::OnTimeout(_, s)
            | RuleOption::Decisions(_, s)
            | RuleOption::ShowDiff(_, s)
            | RuleOption::ConfirmByRequester(s) => *s,
        }
    }
}

/// A boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is.
    pub span: Span,
}

/// Whether a quantifier needs one element or every element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quantifier {
    /// `any(x in PATH: EXPR)`.
    Any,
    /// `all(x in PATH: EXPR)`.
    All,
}

/// The kinds of boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `a or b or ...`.
    Or(Vec<Expr>),
    /// `a and b and ...`.
    And(Vec<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// `(a)`, kept so formatting can keep the parentheses.
    Group(Box<Expr>),
    /// `exists(PATH)`.
    Exists(Path),
    /// `any(x in PATH: EXPR)` or `all(...)`.
    Quantified {
        /// any or all.
        quantifier: Quantifier,
        /// The bound variable.
        var: Name,
        /// The list iterated.
        list: Path,
        /// The condition per element.
        body: Box<Expr>,
    },
    /// `LEFT OP RIGHT`.
    Compare {
        /// Left operand.
        left: Operand,
        /// The operator.
        op: CompareOp,
        /// Where the operator is.
        op_span: Span,
        /// Right operand.
        right: Operand,
    },
    /// An operand on its own: a class name, a boolean path or a literal.
    Bare(Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `contains`
    Contains,
    /// `starts_with`
    StartsWith,
    /// `ends_with`
    EndsWith,
    /// `matches` (glob)
    Matches,
    /// `=~` (regex)
    Regex,
}

impl CompareOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::In => "in",
            CompareOp::NotIn => "not in",
            CompareOp::Contains => "contains",
            CompareOp::StartsWith => "starts_with",
            CompareOp::EndsWith => "ends_with",
            CompareOp::Matches => "matches",
            CompareOp::Regex => "=~",
        }
    }
}

/// A value in a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// What it is.
    pub kind: OperandKind,
    /// Where it is.
    pub span: Span,
}

/// The kinds of operand.
#[derive(Debug, Clone, PartialEq)]
pub enum OperandKind {
    /// `tool`: the called tool's name.
    Tool,
    /// `args.x`, `context.y`, `var.z`, or a bare name (class or variable).
    Path(Path),
    /// `len(PATH)`.
    Len(Path),
    /// `count(x in PATH: EXPR)`: how many elements the condition holds for.
    Count(Box<CountExpr>),
    /// A string, number or boolean.
    Literal(Literal),
    /// `[a, b, ...]`.
    List(Vec<Literal>),
}

/// `count(x in PATH: EXPR)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CountExpr {
    /// The bound variable.
    pub var: Name,
    /// The list counted over.
    pub list: Path,
    /// The condition per element.
    pub body: Expr,
}

/// A scalar literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `"text"`.
    String(String),
    /// `500`, `0.7`, `10_000`.
    Number(f64),
    /// `true`, `false`.
    Bool(bool),
}

/// Where a path starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathRoot {
    /// `args`: the call's arguments.
    Args,
    /// `context`: what the agent runtime says about the call.
    Context,
    /// A bare name: a variable bound by any/all/count, or (with no segments) a class.
    Name(String),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// `.key` or `["key"]`.
    Key(String),
    /// `[3]`.
    Index(usize),
}

/// A dotted path into the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// Where it starts.
    pub root: PathRoot,
    /// The steps after the root.
    pub segments: Vec<Segment>,
    /// Where it is.
    pub span: Span,
}

impl Path {
    /// The path as written, in canonical spelling.
    pub fn display(&self) -> String {
        let mut out = match &self.root {
            PathRoot::Args => "args".to_string(),
            PathRoot::Context => "context".to_string(),
            PathRoot::Name(n) => n.clone(),
        };
        for seg in &self.segments {
            match seg {
                Segment::Key(k) if is_plain_key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                Segment::Key(k) => {
                    out.push('[');
                    out.push_str(&quote(k));
                    out.push(']');
                }
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

/// Whether a key can be written after a dot.
pub fn is_plain_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// A string as a quoted literal of the language.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
