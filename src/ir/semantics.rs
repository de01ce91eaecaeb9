//! Three-valued (Kleene) evaluation of conditions over a call's JSON.
//!
//! A comparison on a missing value, or on a value of the wrong type, is unknown, never
//! false: that is what makes the policy fail closed. Nothing here allocates.

use serde_json::Value;

mod count;
mod memo;
mod read;

pub use count::{Counted, count};
use count::{lowest, ranged};
pub use memo::Memo;
pub(crate) use read::{Doc, read, read_doc};

use crate::catalog::{ArgSpec, ArgType};
use crate::ir::{Cond, Lit, Op, PathExpr, Program, Root, Seg, Term};

/// JSON kinds, for "is a string, expected a number".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true`/`false`.
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    List,
    /// An object.
    Object,
}

impl Kind {
    /// "a string", "a number", ...
    pub fn phrase(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Number => "a number",
            Kind::String => "a string",
            Kind::List => "a list",
            Kind::Object => "an object",
        }
    }
}

/// What a condition needed from a value it could not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// A number.
    Number,
    /// A string.
    String,
    /// A boolean.
    Boolean,
    /// A list.
    List,
    /// A string or a list.
    StringOrList,
    /// A single value (not a list or object).
    Scalar,
    /// A value of the same type as the other side.
    SameType,
}

impl Expected {
    fn phrase(self) -> &'static str {
        match self {
            Expected::Number => "a number",
            Expected::String => "a string",
            Expected::Boolean => "a boolean",
            Expected::List => "a list",
            Expected::StringOrList => "a string or a list",
            Expected::Scalar => "a single value",
            Expected::SameType => "the type it is compared with",
        }
    }
}

/// Why a value made a condition unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Why {
    /// The path is not in the call (or is `null`).
    Missing,
    /// The value has the wrong type.
    WrongType {
        /// What it is.
        found: Kind,
        /// What was needed.
        expected: Expected,
    },
    /// The value contradicts the type the catalog declares for it (and so does everything
    /// read under it).
    Contradicts {
        /// What it is.
        found: Kind,
        /// What the catalog says it is.
        declared: ArgType,
        /// How many steps of the path read lead to it (fewer than the path has when the
        /// path goes on under it).
        at: u16,
    },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Missing => f.write_str("missing"),
            Why::WrongType { found, expected } => {
                write!(f, "is {}, expected {}", found.phrase(), expected.phrase())
            }
            Why::Contradicts {
                found: Kind::Number,
                declared: ArgType::Integer,
                ..
            } => f.write_str("is a number with a fraction, the catalog says integer"),
            Why::Contradicts {
                found, declared, ..
            } => {
                write!(
                    f,
                    "is {}, the catalog says {}",
                    found.phrase(),
                    declared.as_str()
                )
            }
        }
    }
}

/// The first value that made a condition unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cause<'p> {
    /// The path read (always present for conditions a policy can write).
    pub path: Option<&'p PathExpr>,
    /// Why it could not be used.
    pub why: Why,
}

impl Cause<'_> {
    /// Why, in words, as decisions report it: [`Why`]'s words, and for a path read under a
    /// value the catalog contradicts, which value (`is under args.meta, which is a list,
    /// the catalog says object`).
    pub fn why_text(&self) -> impl std::fmt::Display + '_ {
        read::WhyText(self)
    }
}

/// A truth value of Kleene logic; unknown carries its first cause.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tri<'p> {
    /// Does not hold.
    False,
    /// Holds.
    True,
    /// Cannot be judged.
    Unknown(Cause<'p>),
}

impl<'p> Tri<'p> {
    /// From a bool.
    pub fn from_bool(b: bool) -> Tri<'p> {
        if b { Tri::True } else { Tri::False }
    }

    /// Kleene negation.
    pub fn negate(self) -> Tri<'p> {
        match self {
            Tri::False => Tri::True,
            Tri::True => Tri::False,
            u => u,
        }
    }

    /// Whether this is `True`.
    pub fn is_true(self) -> bool {
        matches!(self, Tri::True)
    }
}

/// A bound variable of `any`/`all`/`count`, innermost first.
#[derive(Clone, Copy)]
pub struct Scope<'c, 'p> {
    /// The element.
    pub value: &'c Value,
    /// What the catalog declares for the elements of its list (`items`), if anything.
    pub declared: Option<&'c ArgSpec>,
    /// The enclosing scope.
    pub up: Option<&'c Scope<'c, 'p>>,
    /// The values of closed quantifiers and counts inside, kept for this list's walk.
    pub memo: &'c Memo<'p>,
}

/// What a condition reads: the call, the program (for classes) and glob hits.
#[derive(Debug, Clone, Copy)]
pub struct Env<'c, 'p> {
    /// The tool name.
    pub tool: &'c str,
    /// The arguments.
    pub args: &'c Value,
    /// The context.
    pub context: &'c Value,
    /// The program (classes, catalog membership).
    pub program: &'p Program,
    /// Bits of the tree's combined glob matcher (empty outside the tree).
    pub glob_hits: &'c [u64],
    /// What the catalog declares for the tool's arguments (`None`: nothing, so nothing is
    /// checked): a value it contradicts cannot be judged.
    pub declared: Option<&'p std::collections::BTreeMap<String, ArgSpec>>,
}

impl<'c, 'p> Env<'c, 'p> {
    /// What a condition reads for a call, outside the compiled tree (no glob hits), with
    /// the catalog's declaration of the tool's arguments.
    pub fn for_call(call: &'c crate::call::ToolCall, program: &'p Program) -> Env<'c, 'p> {
        Env {
            tool: &call.tool,
            args: &call.args,
            context: &call.context,
            program,
            glob_hits: &[],
            declared: program
                .catalog
                .as_deref()
                .and_then(|c| c.tool(&call.tool))
                .and_then(|t| t.args.as_ref()),
        }
    }
}

/// Evaluates a condition.
pub fn eval<'p>(cond: &'p Cond, env: &Env<'_, 'p>, scope: Option<&Scope<'_, 'p>>) -> Tri<'p> {
    match cond {
        Cond::Const(b) => Tri::from_bool(*b),
        Cond::And(items) => {
            let mut unknown = None;
            for c in items.iter() {
                match eval(c, env, scope) {
                    Tri::False => return Tri::False,
                    Tri::Unknown(u) => {
                        if unknown.is_none() {
                            unknown = Some(u);
                        }
                    }
                    Tri::True => {}
                }
            }
            unknown.map_or(Tri::True, Tri::Unknown)
        }
        Cond::Or(items) => {
            let mut unknown = None;
            for c in items.iter() {
                match eval(c, env, scope) {
                    Tri::True => return Tri::True,
                    Tri::Unknown(u) => {
                        if unknown.is_none() {
                            unknown = Some(u);
                        }
                    }
                    Tri::False => {}
                }
            }
            unknown.map_or(Tri::False, Tri::Unknown)
        }
        Cond::Not(c) => eval(c, env, scope).negate(),
        Cond::Class(id) => class_member(*id, env),
        Cond::Exists(path) => Tri::from_bool(!matches!(
            lookup(path, env, scope),
            None | Some(Value::Null)
        )),
        Cond::Quantified {
            all,
            list,
            body,
            reads_element,
            closed,
            ..
        } => {
            let judge = || quantified(*all, list, body, *reads_element, env, scope);
            match scope {
                // Inside a list's walk, a closed quantifier is judged once and kept.
                Some(s) if *closed => s.memo.truth(cond, judge),
                _ => judge(),
            }
        }
        Cond::Truthy(term) => match resolve(term, env, scope) {
            V::Bool(b) => Tri::from_bool(b),
            v => Tri::Unknown(cause(term, v, Expected::Boolean)),
        },
        Cond::Compare {
            left, op, right, ..
        } => compare(left, op, right, env, scope),
        Cond::GlobHit { id: n, .. } => {
            let word = env.glob_hits.get((*n / 64) as usize).copied().unwrap_or(0);
            Tri::from_bool(word & (1u64 << (n % 64)) != 0)
        }
    }
}

/// `any(...)` (`all` false) or `all(...)` over `list`.
fn quantified<'p>(
    all: bool,
    list: &'p PathExpr,
    body: &'p Cond,
    reads_element: bool,
    env: &Env<'_, 'p>,
    scope: Option<&Scope<'_, 'p>>,
) -> Tri<'p> {
    let (items, declared) = match read::list(list, env, scope) {
        Ok(l) => l,
        Err(why) => {
            return Tri::Unknown(Cause {
                path: Some(list),
                why,
            });
        }
    };
    let memo = Memo::default();
    let at = |item| Scope {
        value: item,
        declared,
        up: scope,
        memo: &memo,
    };
    // A condition that does not read the element has one value for every element:
    // judging it once keeps nested quantifiers linear instead of exponential.
    if !reads_element {
        return match items.first() {
            None => Tri::from_bool(all),
            Some(first) => eval(body, env, Some(&at(first))),
        };
    }
    let mut unknown = None;
    for item in items {
        match (eval(body, env, Some(&at(item))), all) {
            (Tri::True, false) => return Tri::True,
            (Tri::False, true) => return Tri::False,
            (Tri::Unknown(u), _) if unknown.is_none() => unknown = Some(u),
            _ => {}
        }
    }
    unknown.map_or(Tri::from_bool(all), Tri::Unknown)
}

/// Whether the call is in a class: the catalog puts its tool there, or the predicate holds.
pub fn class_member<'p>(id: crate::ir::ClassId, env: &Env<'_, 'p>) -> Tri<'p> {
    let Some(class) = env.program.class(id) else {
        return Tri::False;
    };
    if class.has_catalog_tool(env.tool) {
        return Tri::True;
    }
    match &class.cond {
        Some(c) => eval(c, env, None),
        None => Tri::False,
    }
}

/// A value as comparisons see it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum V<'v> {
    Missing,
    Bad(Why),
    Null,
    Bool(bool),
    Num(f64),
    Str(&'v str),
    JList(&'v [Value]),
    LList(&'v [Lit]),
    Obj,
    /// A `count` some elements left unknown: any whole number from the first to the second.
    Range(f64, f64),
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Object,
    }
}

fn v_kind(v: V<'_>) -> Kind {
    match v {
        V::Missing | V::Null | V::Bad(_) => Kind::Null,
        V::Bool(_) => Kind::Bool,
        V::Num(_) | V::Range(..) => Kind::Number,
        V::Str(_) => Kind::String,
        V::JList(_) | V::LList(_) => Kind::List,
        V::Obj => Kind::Object,
    }
}

fn json(v: &Value) -> V<'_> {
    match v {
        Value::Null => V::Null,
        Value::Bool(b) => V::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(V::Null, V::Num),
        Value::String(s) => V::Str(s),
        Value::Array(a) => V::JList(a),
        Value::Object(_) => V::Obj,
    }
}

fn lit(l: &Lit) -> V<'_> {
    match l {
        Lit::Str(s) => V::Str(s),
        Lit::Num(n) => V::Num(*n),
        Lit::Bool(b) => V::Bool(*b),
        Lit::List(items) => V::LList(items),
    }
}

/// Follows a path into the call.
pub fn lookup<'c>(
    path: &PathExpr,
    env: &Env<'c, '_>,
    scope: Option<&Scope<'c, '_>>,
) -> Option<&'c Value> {
    let mut cur: &'c Value = match path.root {
        Root::Args => env.args,
        Root::Context => env.context,
        Root::Var(depth) => {
            let mut s = scope?;
            for _ in 0..depth {
                s = s.up?;
            }
            s.value
        }
    };
    for seg in path.segments.iter() {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Object(map)) => map.get(&**k)?,
            (Seg::Index(i), Value::Array(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

pub(crate) fn resolve<'v>(
    term: &'v Term,
    env: &Env<'v, 'v>,
    scope: Option<&Scope<'v, '_>>,
) -> V<'v> {
    match term {
        Term::Tool => V::Str(env.tool),
        Term::Lit(l) => lit(l),
        Term::Path(p) => path_value(p, env, scope),
        Term::Len(p) => len_value(p, env, scope),
        // Counted where its causes can be kept (see `side`); here only the list is read.
        Term::Count(c) => match read::list(&c.list, env, scope) {
            Ok(_) => V::Missing,
            Err(Why::Missing) => V::Missing,
            Err(why) => V::Bad(why),
        },
    }
}

/// The value at a path, as comparisons see it.
pub(crate) fn path_value<'v>(
    p: &PathExpr,
    env: &Env<'v, 'v>,
    scope: Option<&Scope<'v, '_>>,
) -> V<'v> {
    match read(p, env, scope) {
        Ok((v, _)) => v.map_or(V::Missing, json),
        Err(why) => V::Bad(why),
    }
}

/// `len(PATH)` as comparisons see it.
pub(crate) fn len_value<'v>(
    p: &PathExpr,
    env: &Env<'v, 'v>,
    scope: Option<&Scope<'v, '_>>,
) -> V<'v> {
    match read(p, env, scope) {
        Ok((None | Some(Value::Null), _)) => V::Missing,
        Ok((Some(Value::String(s)), _)) => V::Num(s.chars().count() as f64),
        Ok((Some(Value::Array(a)), _)) => V::Num(a.len() as f64),
        Ok((Some(other), _)) => V::Bad(Why::WrongType {
            found: kind(other),
            expected: Expected::StringOrList,
        }),
        Err(why) => V::Bad(why),
    }
}

/// Whether `exists(PATH)` holds.
pub(crate) fn present(p: &PathExpr, env: &Env<'_, '_>) -> bool {
    !matches!(lookup(p, env, None), None | Some(Value::Null))
}

/// One side of a comparison: its value, and for a `count` left open by unknown elements
/// why it is open; the cause at once when a `count`'s list cannot be read.
fn side<'v, 'p: 'v>(
    term: &'p Term,
    env: &Env<'v, 'p>,
    scope: Option<&Scope<'v, 'p>>,
) -> Result<(V<'v>, Option<Cause<'p>>), Cause<'p>> {
    match term {
        Term::Count(c) => {
            let counted = count(c, env, scope)?;
            Ok((counted.value(), counted.first_unknown))
        }
        _ => Ok((resolve(term, env, scope), None)),
    }
}

fn cause<'p>(term: &'p Term, v: V<'_>, expected: Expected) -> Cause<'p> {
    cause_at(term.path().map(|p| &**p), v, expected)
}

/// Why a value read at `path` (none: a literal) cannot be used where `expected` is.
pub(crate) fn cause_at<'p>(path: Option<&'p PathExpr>, v: V<'_>, expected: Expected) -> Cause<'p> {
    let why = match v {
        V::Missing | V::Null => Why::Missing,
        V::Bad(w) => w,
        other => Why::WrongType {
            found: v_kind(other),
            expected,
        },
    };
    Cause { path, why }
}

pub(crate) fn absent(v: V<'_>) -> bool {
    matches!(v, V::Missing | V::Null | V::Bad(_))
}

/// Equality where both sides have one type; `None` when the types differ.
fn equal(a: V<'_>, b: V<'_>) -> Option<bool> {
    match (a, b) {
        (V::Num(x), V::Num(y)) => Some(x == y),
        (V::Str(x), V::Str(y)) => Some(x == y),
        (V::Bool(x), V::Bool(y)) => Some(x == y),
        (V::JList(x), V::JList(y)) => Some(
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|(p, q)| equal(json(p), json(q)) == Some(true)),
        ),
        (V::JList(x), V::LList(y)) | (V::LList(y), V::JList(x)) => Some(
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(p, q)| equal(json(p), lit(q)) == Some(true)),
        ),
        (V::LList(x), V::LList(y)) => Some(x == y),
        _ => None,
    }
}

/// Membership of `needle` in a list: true if equal to an element; false if some element
/// has its type; unknown (None) when no element has its type.
fn member(needle: V<'_>, list: V<'_>) -> Option<Option<bool>> {
    let mut comparable = false;
    let mut check = |e: V<'_>| match equal(needle, e) {
        Some(true) => Some(true),
        Some(false) => {
            comparable = true;
            None
        }
        None => None,
    };
    let empty = match list {
        V::JList(items) => {
            for i in items {
                if check(json(i)).is_some() {
                    return Some(Some(true));
                }
            }
            items.is_empty()
        }
        V::LList(items) => {
            for i in items.iter() {
                if check(lit(i)).is_some() {
                    return Some(Some(true));
                }
            }
            items.is_empty()
        }
        _ => return None,
    };
    Some(if comparable || empty {
        Some(false)
    } else {
        None
    })
}

fn compare<'p>(
    left: &'p Term,
    op: &'p Op,
    right: &'p Term,
    env: &Env<'_, 'p>,
    scope: Option<&Scope<'_, 'p>>,
) -> Tri<'p> {
    let (l, l_open) = match side(left, env, scope) {
        Ok(s) => s,
        Err(c) => return Tri::Unknown(c),
    };
    if absent(l) {
        return Tri::Unknown(cause(left, l, Expected::SameType));
    }
    let (r, r_open) = match side(right, env, scope) {
        Ok(s) => s,
        Err(c) => return Tri::Unknown(c),
    };
    if absent(r) {
        return Tri::Unknown(cause(right, r, Expected::SameType));
    }
    if let Some(open) = l_open.or(r_open) {
        if let Some(decided) = ranged(op, l, r) {
            return decided.map_or(Tri::Unknown(open), Tri::from_bool);
        }
    }
    // What is left does not depend on the count: any value of its range gives it.
    let (l, r) = (lowest(l), lowest(r));
    let (l_reads, r_reads) = (left.path().is_some(), right.path().is_some());
    match judge(op, l, r, l_reads, r_reads, |side, v, expected| match side {
        Side::Left => cause(left, v, expected),
        Side::Right => cause(right, v, expected),
    }) {
        Ok(b) => Tri::from_bool(b),
        Err(c) => Tri::Unknown(c),
    }
}

/// Which side of a comparison a cause is blamed on.
#[derive(Clone, Copy)]
pub(crate) enum Side {
    Left,
    Right,
}

/// The judgement of `l op r` on two present values, the one both evaluators use: whether
/// it holds, or the blame (`blame(side, value, expected)`) when it cannot be judged.
/// `l_reads`/`r_reads` say which sides read the call: types that do not fit are blamed
/// on a side read from the call.
#[inline]
pub(crate) fn judge<C>(
    op: &Op,
    l: V<'_>,
    r: V<'_>,
    l_reads: bool,
    r_reads: bool,
    blame: impl Fn(Side, V<'_>, Expected) -> C,
) -> Result<bool, C> {
    // Unknown, blamed on `first` if it reads the call, else on `second`.
    let pair = |first: Side, expected: Expected| {
        let (fv, f_reads, sv, s_reads) = match first {
            Side::Left => (l, l_reads, r, r_reads),
            Side::Right => (r, r_reads, l, l_reads),
        };
        let second = match first {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        };
        if f_reads || !s_reads {
            Err(blame(first, fv, expected))
        } else {
            Err(blame(second, sv, expected))
        }
    };
    match op {
        Op::Eq | Op::Ne => match equal(l, r) {
            Some(b) => Ok(b == matches!(op, Op::Eq)),
            None => pair(Side::Left, Expected::SameType),
        },
        Op::Lt | Op::Le | Op::Gt | Op::Ge => match (l, r) {
            (V::Num(a), V::Num(b)) => Ok(match op {
                Op::Lt => a < b,
                Op::Le => a <= b,
                Op::Gt => a > b,
                _ => a >= b,
            }),
            (V::Num(_), _) => Err(blame(Side::Right, r, Expected::Number)),
            _ => Err(blame(Side::Left, l, Expected::Number)),
        },
        Op::In | Op::NotIn => {
            if matches!(l, V::JList(_) | V::LList(_) | V::Obj) {
                return Err(blame(Side::Left, l, Expected::Scalar));
            }
            match member(l, r) {
                None => pair(Side::Right, Expected::List),
                Some(None) => pair(Side::Left, Expected::SameType),
                Some(Some(b)) => Ok(b == matches!(op, Op::In)),
            }
        }
        Op::Contains => match (l, r) {
            (V::Str(s), V::Str(t)) => Ok(s.contains(t)),
            (V::Str(_), _) => pair(Side::Right, Expected::String),
            (V::JList(_) | V::LList(_), _) => match member(r, l) {
                Some(Some(b)) => Ok(b),
                // No element has the needle's type: as with `in`, that is unknown.
                _ => pair(Side::Right, Expected::SameType),
            },
            _ => Err(blame(Side::Left, l, Expected::StringOrList)),
        },
        Op::StartsWith | Op::EndsWith => match (l, r) {
            (V::Str(s), V::Str(t)) => Ok(if matches!(op, Op::StartsWith) {
                s.starts_with(t)
            } else {
                s.ends_with(t)
            }),
            (V::Str(_), _) => Err(blame(Side::Right, r, Expected::String)),
            _ => Err(blame(Side::Left, l, Expected::String)),
        },
        Op::Glob(g) => match l {
            V::Str(s) => Ok(g.matches(s)),
            _ => Err(blame(Side::Left, l, Expected::String)),
        },
        Op::Regex(re) => match l {
            V::Str(s) => Ok(re.is_match(s)),
            _ => Err(blame(Side::Left, l, Expected::String)),
        },
    }
}

/// A value of the call written for a reason: strings as they are, `<missing>` if absent.
pub fn write_term(
    term: &Term,
    env: &Env<'_, '_>,
    out: &mut impl std::fmt::Write,
) -> std::fmt::Result {
    match term {
        Term::Tool => out.write_str(env.tool),
        Term::Lit(l) => write!(out, "{l:?}"),
        Term::Path(p) => match lookup(p, env, None) {
            None | Some(Value::Null) => out.write_str("<missing>"),
            Some(Value::String(s)) => out.write_str(s),
            Some(other) => write!(out, "{other}"),
        },
        Term::Len(p) => match lookup(p, env, None) {
            Some(Value::String(s)) => write!(out, "{}", s.chars().count()),
            Some(Value::Array(a)) => write!(out, "{}", a.len()),
            _ => out.write_str("<missing>"),
        },
        Term::Count(c) => match count(c, env, None) {
            Ok(k) if k.unknown == 0 => write!(out, "{}", k.held),
            _ => out.write_str("<missing>"),
        },
    }
}

/// A value of the call rendered for a reason: strings as they are, `<missing>` if absent.
pub fn render_term(term: &Term, env: &Env<'_, '_>, out: &mut String) {
    let _ = write_term(term, env, out);
}
