//! Reading a path of the call against what the catalog declares for the tool's arguments:
//! a value the catalog contradicts (a string where it says list) cannot be judged, and
//! neither can anything under it. Nothing here allocates.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Cause, Env, Scope, Why, kind};
use crate::catalog::ArgSpec;
use crate::ir::{PathExpr, Root, Seg};

/// What the catalog declares for the value at one step of a path.
#[derive(Clone, Copy)]
enum Declared<'d> {
    /// Nothing: not an argument, or not described.
    Nothing,
    /// The arguments object: its keys are the tool's arguments.
    Args(&'d BTreeMap<String, ArgSpec>),
    /// One argument, or a part of one.
    Arg(&'d ArgSpec),
}

impl<'d> Declared<'d> {
    /// What is declared one step further.
    fn step(self, seg: &Seg) -> Declared<'d> {
        let next = match (self, seg) {
            (Declared::Args(args), Seg::Key(k)) => args.get(&**k),
            (Declared::Arg(a), Seg::Key(k)) => a.properties.as_ref().and_then(|p| p.get(&**k)),
            (Declared::Arg(a), Seg::Index(_)) => a.items.as_deref(),
            _ => None,
        };
        next.map_or(Declared::Nothing, Declared::Arg)
    }

    /// What is declared for the value, unless the catalog's type for it contradicts it;
    /// `at` is how many steps of the path lead to it.
    fn check<D: Doc>(self, v: D, at: usize) -> Result<Option<&'d ArgSpec>, Why> {
        match self {
            Declared::Arg(a) if !v.admitted_by(a.ty) => Err(Why::Contradicts {
                found: v.kind(),
                declared: a.ty,
                at: u16::try_from(at).unwrap_or(u16::MAX),
            }),
            Declared::Arg(a) => Ok(Some(a)),
            _ => Ok(None),
        }
    }
}

/// A value of a call that a path can be read in: a JSON value, or a call read straight
/// from its text ([`crate::eval`]'s fast reader).
pub(crate) trait Doc: Copy {
    /// The value under key `k` of an object.
    fn key(self, k: &str) -> Option<Self>;
    /// Element `i` of a list.
    fn index(self, i: usize) -> Option<Self>;
    /// Its JSON kind.
    fn kind(self) -> super::Kind;
    /// Whether the catalog's type admits it ([`crate::catalog::ArgType::admits`]).
    fn admitted_by(self, ty: crate::catalog::ArgType) -> bool;
}

impl Doc for &Value {
    fn key(self, k: &str) -> Option<Self> {
        match self {
            Value::Object(map) => map.get(k),
            _ => None,
        }
    }
    fn index(self, i: usize) -> Option<Self> {
        match self {
            Value::Array(items) => items.get(i),
            _ => None,
        }
    }
    fn kind(self) -> super::Kind {
        kind(self)
    }
    fn admitted_by(self, ty: crate::catalog::ArgType) -> bool {
        ty.admits(self)
    }
}

/// A value read from the call (`None`: missing), and what the catalog declares for it.
pub(crate) type Typed<'c> = (Option<&'c Value>, Option<&'c ArgSpec>);

/// Follows a path into the call like [`super::lookup`], checking each value it passes
/// against the catalog: the first that contradicts its declared type makes the read fail,
/// with why. A bound variable's element is checked against its list's `items`.
pub(crate) fn read<'c>(
    path: &PathExpr,
    env: &Env<'c, 'c>,
    scope: Option<&Scope<'c, '_>>,
) -> Result<Typed<'c>, Why> {
    let (cur, declared): (&'c Value, Declared<'c>) = match path.root {
        Root::Args => (
            env.args,
            env.declared.map_or(Declared::Nothing, Declared::Args),
        ),
        Root::Context => (env.context, Declared::Nothing),
        Root::Var(depth) => {
            let Some(mut s) = scope else {
                return Ok((None, None));
            };
            for _ in 0..depth {
                match s.up {
                    Some(up) => s = up,
                    None => return Ok((None, None)),
                }
            }
            let declared = s.declared.map_or(Declared::Nothing, Declared::Arg);
            declared.check(s.value, 0)?;
            (s.value, declared)
        }
    };
    walk(cur, declared, &path.segments)
}

/// Reads a path of a call that is not a JSON value (see [`Doc`]) from its arguments or
/// context, as [`read`] does.
pub(crate) fn read_doc<'d, D: Doc>(
    root: D,
    path: &PathExpr,
    declared: Option<&'d BTreeMap<String, ArgSpec>>,
) -> Result<(Option<D>, Option<&'d ArgSpec>), Why> {
    let declared = match path.root {
        Root::Args => declared.map_or(Declared::Nothing, Declared::Args),
        _ => Declared::Nothing,
    };
    walk(root, declared, &path.segments)
}

/// The steps of [`read`] from a root value.
fn walk<'d, D: Doc>(
    mut cur: D,
    mut declared: Declared<'d>,
    segments: &[Seg],
) -> Result<(Option<D>, Option<&'d ArgSpec>), Why> {
    let mut spec = None;
    for (i, seg) in segments.iter().enumerate() {
        let next = match seg {
            Seg::Key(k) => cur.key(k),
            Seg::Index(i) => cur.index(*i),
        };
        let Some(next) = next else {
            return Ok((None, None));
        };
        declared = declared.step(seg);
        spec = declared.check(next, i + 1)?;
        cur = next;
    }
    if segments.is_empty()
        && let Declared::Arg(a) = declared
    {
        spec = Some(a);
    }
    Ok((Some(cur), spec))
}

/// Reads the list a quantifier or a `count` goes over, with what the catalog declares for
/// its elements; why not when it is missing, not a list, or contradicts the catalog.
pub(crate) fn list<'c>(
    path: &PathExpr,
    env: &Env<'c, 'c>,
    scope: Option<&Scope<'c, '_>>,
) -> Result<(&'c [Value], Option<&'c ArgSpec>), Why> {
    match read(path, env, scope)? {
        (Some(Value::Array(items)), spec) => Ok((items, spec.and_then(|s| s.items.as_deref()))),
        (None | Some(Value::Null), _) => Err(Why::Missing),
        (Some(other), _) => Err(Why::WrongType {
            found: kind(other),
            expected: super::Expected::List,
        }),
    }
}

/// A cause's why in words (see [`Cause::why_text`]).
pub(super) struct WhyText<'a, 'p>(pub(super) &'a Cause<'p>);

impl std::fmt::Display for WhyText<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Cause { path, why } = self.0;
        match (why, path) {
            (Why::Contradicts { at, .. }, Some(p)) if usize::from(*at) < p.segments.len() => {
                f.write_str("is under ")?;
                write_prefix(p, usize::from(*at), f)?;
                write!(f, ", which {why}")
            }
            _ => write!(f, "{why}"),
        }
    }
}

/// The first `steps` steps of a path, spelled as [`crate::ast::Path::display`] spells it.
fn write_prefix(p: &PathExpr, steps: usize, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let root = match p.root {
        Root::Args => "args",
        Root::Context => "context",
        // A variable's name is the text up to its first step.
        Root::Var(_) => p.text.split(['.', '[']).next().unwrap_or(""),
    };
    f.write_str(root)?;
    for seg in p.segments.iter().take(steps) {
        match seg {
            Seg::Key(k) if crate::ast::is_plain_key(k) => write!(f, ".{k}")?,
            Seg::Key(k) => write!(f, "[{}]", crate::ast::quote(k))?,
            Seg::Index(i) => write!(f, "[{i}]")?,
        }
    }
    Ok(())
}
