//! The checked policy: names resolved, classes linked, patterns compiled.
//!
//! This is what both evaluators read: the compiled decision tree (`compile`) and the
//! plain reference interpreter (`eval::reference`).

pub mod glob;
pub mod semantics;
pub mod toolset;

use std::sync::Arc;

use crate::ast::{DecisionKind, Effect, Mode, OnTimeout};
use crate::catalog::Catalog;
use crate::ir::glob::Glob;
use crate::source::{SourceMap, Span};

/// Index of a rule in [`Program::rules`] (declaration order).
pub type RuleId = u32;
/// Index of a class in [`Program::classes`].
pub type ClassId = u32;

/// A whole checked policy.
#[derive(Debug, Clone)]
pub struct Program {
    /// `policy "name"`, if given.
    pub name: Option<String>,
    /// The effect when no rule matches.
    pub default: Effect,
    /// Rules in declaration order (file order, then position).
    pub rules: Vec<Rule>,
    /// Classes: declared ones first, then those only the catalog defines.
    pub classes: Vec<Class>,
    /// The `never auto` classes, each once.
    pub never_auto: Vec<ClassId>,
    /// The sources, for messages.
    pub sources: SourceMap,
    /// The tool catalog the policy was checked against, if any.
    pub catalog: Option<Arc<Catalog>>,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Its effect.
    pub effect: Effect,
    /// Its condition.
    pub cond: Cond,
    /// `reason "..."`, parsed.
    pub reason: Option<Template>,
    /// Approval options; present exactly for approve rules.
    pub gate: Option<GateOptions>,
    /// The whole rule.
    pub span: Span,
    /// The rule's name.
    pub name_span: Span,
}

/// How an approval gate waits and who decides.
#[derive(Debug, Clone)]
pub struct GateOptions {
    /// sync or async.
    pub mode: Mode,
    /// Approver groups (empty: any approver).
    pub by: Vec<String>,
    /// How many distinct approvers must approve (`by N of ...`; 1 when not written).
    pub quorum: u32,
    /// SLA in seconds.
    pub within_s: Option<u64>,
    /// What happens when the SLA runs out.
    pub on_timeout: Option<OnTimeout>,
    /// Decisions an approver may make.
    pub decisions: Vec<DecisionKind>,
    /// What the approver should see as a diff.
    pub show_diff: Option<Arc<PathExpr>>,
    /// Whether the person the agent acts for may confirm the call themselves, where
    /// their own client can ask them (`confirm by requester`).
    pub confirm_by_requester: bool,
}

impl GateOptions {
    /// The options of a synthetic gate (default or never-auto floor): sync, any approver.
    pub fn synthetic() -> GateOptions {
        GateOptions {
            mode: Mode::Sync,
            by: Vec::new(),
            quorum: 1,
            within_s: None,
            on_timeout: None,
            decisions: DecisionKind::ALL.to_vec(),
            show_diff: None,
            confirm_by_requester: false,
        }
    }
}

/// A named predicate.
#[derive(Debug, Clone)]
pub struct Class {
    /// Its name.
    pub name: String,
    /// Its declared predicate (`None` when only the catalog defines it).
    pub cond: Option<Cond>,
    /// Tools the catalog puts in this class, sorted.
    pub catalog_tools: Vec<String>,
    /// Where it is declared.
    pub span: Option<Span>,
}

impl Class {
    /// Whether the catalog puts `tool` in this class.
    pub fn has_catalog_tool(&self, tool: &str) -> bool {
        self.catalog_tools
            .binary_search_by(|t| t.as_str().cmp(tool))
            .is_ok()
    }
}

/// A reason template: text with `{path}` holes.
#[derive(Debug, Clone)]
pub struct Template {
    /// Literal text and holes, in order.
    pub parts: Vec<TemplatePart>,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone)]
pub enum TemplatePart {
    /// Text as is.
    Text(String),
    /// A value from the call.
    Hole(Term),
}

/// A checked condition, evaluated in three-valued (Kleene) logic.
#[derive(Debug, Clone)]
pub enum Cond {
    /// A constant (from folding, or `true`/`false` written as a condition).
    Const(bool),
    /// All must hold.
    And(Box<[Cond]>),
    /// One must hold.
    Or(Box<[Cond]>),
    /// Negation.
    Not(Box<Cond>),
    /// Membership in a class.
    Class(ClassId),
    /// `exists(PATH)`: never unknown.
    Exists(Arc<PathExpr>),
    /// `any`/`all` over a list.
    Quantified {
        /// true for `all`, false for `any`.
        all: bool,
        /// The list.
        list: Arc<PathExpr>,
        /// The variable's name, for display.
        var: Box<str>,
        /// The condition per element (the element is variable 0).
        body: Box<Cond>,
        /// Whether the condition reads the element. When it does not, it has one value for
        /// every element, and is judged once for the whole list.
        reads_element: bool,
        /// Whether the quantifier reads no variable bound around it: then it has one value
        /// for the whole call, judged once however many lists around it are gone through.
        closed: bool,
    },
    /// `LEFT OP RIGHT`.
    Compare {
        /// Left operand.
        left: Term,
        /// Operator (patterns compiled).
        op: Op,
        /// Right operand.
        right: Term,
        /// The comparison in the source.
        span: Span,
    },
    /// A boolean value used as a condition (`args.urgent`).
    Truthy(Term),
    /// The call's tool matched glob number `id` of the tree's combined matcher.
    /// Only the compiled tree produces this.
    GlobHit {
        /// Index in the combined matcher.
        id: u32,
        /// The glob, for display.
        glob: Arc<Glob>,
    },
}

/// An operator with its pattern compiled.
#[derive(Debug, Clone)]
pub enum Op {
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
    /// `matches "glob"`
    Glob(Arc<Glob>),
    /// `=~ "regex"`
    Regex(Arc<regex::Regex>),
}

impl Op {
    /// The operator as written.
    pub fn as_str(&self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Glob(_) => "matches",
            Op::Regex(_) => "=~",
        }
    }
}

/// A value in a comparison.
#[derive(Debug, Clone)]
pub enum Term {
    /// The tool name.
    Tool,
    /// A path into the call.
    Path(Arc<PathExpr>),
    /// `len(PATH)`.
    Len(Arc<PathExpr>),
    /// `count(x in PATH: COND)`.
    Count(Box<Count>),
    /// A literal.
    Lit(Lit),
}

impl Term {
    /// The path this term reads, if any (for `count`, its list).
    pub fn path(&self) -> Option<&Arc<PathExpr>> {
        match self {
            Term::Path(p) | Term::Len(p) => Some(p),
            Term::Count(c) => Some(&c.list),
            _ => None,
        }
    }

    /// The condition of a `count`, if this term is one.
    pub fn count_body(&self) -> Option<&Cond> {
        match self {
            Term::Count(c) => Some(&c.body),
            _ => None,
        }
    }
}

/// `count(x in PATH: COND)`: how many elements of a list the condition holds for.
#[derive(Debug, Clone)]
pub struct Count {
    /// The list.
    pub list: Arc<PathExpr>,
    /// The variable's name, for display.
    pub var: Box<str>,
    /// The condition per element (the element is variable 0).
    pub body: Cond,
    /// Whether the condition reads the element (when not, it is judged once, and holds
    /// for all the elements or none).
    pub reads_element: bool,
    /// Whether the count reads no variable bound around it (one count for the whole call).
    pub closed: bool,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// A string.
    Str(Box<str>),
    /// A number.
    Num(f64),
    /// A boolean.
    Bool(bool),
    /// A list of scalars.
    List(Box<[Lit]>),
}

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Root {
    /// The call's arguments.
    Args,
    /// The call's context.
    Context,
    /// A variable bound by `any`/`all`/`count`: 0 is the innermost.
    Var(u32),
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    /// An object key.
    Key(Box<str>),
    /// A list index.
    Index(usize),
}

/// A resolved path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathExpr {
    /// Where it starts.
    pub root: Root,
    /// Steps.
    pub segments: Box<[Seg]>,
    /// As written (canonical spelling), for messages.
    pub text: Box<str>,
    /// Where it is.
    pub span: Span,
}

impl Cond {
    /// Calls `f` on every atom of the condition (anything but `and`, `or`, `not` and
    /// quantifiers, whose parts it visits), class references included; a comparison with a
    /// `count` is an atom, and the atoms of the count's condition are visited too.
    pub fn for_each_atom<'a>(&'a self, f: &mut impl FnMut(&'a Cond)) {
        match self {
            Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| c.for_each_atom(f)),
            Cond::Not(c) => c.for_each_atom(f),
            Cond::Quantified { body, .. } => body.for_each_atom(f),
            Cond::Compare { left, right, .. } => {
                f(self);
                for body in [left, right].into_iter().filter_map(Term::count_body) {
                    body.for_each_atom(f);
                }
            }
            atom => f(atom),
        }
    }

    /// Whether the condition reads a variable `v` for which `which(v)` holds, the
    /// variables numbered from the innermost bound around the condition (0).
    pub fn reads_var(&self, which: &impl Fn(u32) -> bool) -> bool {
        self.reads_var_at(0, which)
    }

    /// As [`Cond::reads_var`], `inner` quantifiers deep inside the condition.
    fn reads_var_at(&self, inner: u32, which: &impl Fn(u32) -> bool) -> bool {
        let path = |p: &PathExpr| matches!(p.root, Root::Var(d) if d >= inner && which(d - inner));
        let term = |t: &Term| match t {
            Term::Path(p) | Term::Len(p) => path(p),
            Term::Count(c) => path(&c.list) || c.body.reads_var_at(inner + 1, which),
            Term::Tool | Term::Lit(_) => false,
        };
        match self {
            Cond::And(items) | Cond::Or(items) => {
                items.iter().any(|c| c.reads_var_at(inner, which))
            }
            Cond::Not(c) => c.reads_var_at(inner, which),
            Cond::Exists(p) => path(p),
            Cond::Quantified { list, body, .. } => {
                path(list) || body.reads_var_at(inner + 1, which)
            }
            Cond::Compare { left, right, .. } => term(left) || term(right),
            Cond::Truthy(t) => term(t),
            // A class is judged outside any quantifier.
            Cond::Const(_) | Cond::Class(_) | Cond::GlobHit { .. } => false,
        }
    }

    /// What a quantifier or `count` over `list` with this condition reads of the variables:
    /// whether it reads its element, and whether it is closed (reads no variable bound
    /// around it, so it has one value for the whole call).
    pub fn element_and_closed(&self, list: &PathExpr) -> (bool, bool) {
        let element = self.reads_var(&|v| v == 0);
        let closed = !matches!(list.root, Root::Var(_)) && !self.reads_var(&|v| v > 0);
        (element, closed)
    }

    /// The classes the condition names directly.
    pub fn class_refs(&self) -> Vec<ClassId> {
        let mut out = Vec::new();
        self.for_each_atom(&mut |c| {
            if let Cond::Class(id) = c {
                out.push(*id);
            }
        });
        out
    }
}

impl Program {
    /// The rule with this id.
    pub fn rule(&self, id: RuleId) -> Option<&Rule> {
        self.rules.get(id as usize)
    }

    /// The class with this id.
    pub fn class(&self, id: ClassId) -> Option<&Class> {
        self.classes.get(id as usize)
    }
}
