//! `count(x in PATH: COND)`: counting a list's elements, and comparing a count that some
//! elements left unknown (a range of counts) as far as the range decides.

use super::{Cause, Env, Memo, Scope, Tri, V, eval, json, lit};
use crate::ir::{Count, Op};

/// What `count(x in PATH: COND)` found in a list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted<'p> {
    /// The elements the condition held for.
    pub held: usize,
    /// The elements it could not judge: each may or may not count.
    pub unknown: usize,
    /// Why the first of those could not be judged.
    pub first_unknown: Option<Cause<'p>>,
}

/// Counts the elements of a `count`'s list that its condition holds for; the cause when
/// the list is missing or not a list. Inside a list's walk, a closed count is counted once
/// and kept.
pub fn count<'p>(
    c: &'p Count,
    env: &Env<'_, 'p>,
    scope: Option<&Scope<'_, 'p>>,
) -> Result<Counted<'p>, Cause<'p>> {
    match scope {
        Some(s) if c.closed => s.memo.count(c, || counted(c, env, scope)),
        _ => counted(c, env, scope),
    }
}

fn counted<'p>(
    c: &'p Count,
    env: &Env<'_, 'p>,
    scope: Option<&Scope<'_, 'p>>,
) -> Result<Counted<'p>, Cause<'p>> {
    let (items, declared) = super::read::list(&c.list, env, scope).map_err(|why| Cause {
        path: Some(&c.list),
        why,
    })?;
    let mut counted = Counted {
        held: 0,
        unknown: 0,
        first_unknown: None,
    };
    let memo = Memo::default();
    let at = |item| Scope {
        value: item,
        declared,
        up: scope,
        memo: &memo,
    };
    // A condition that does not read the element counts all of them or none: judged once.
    if let ([first, ..], false) = (items, c.reads_element) {
        match eval(&c.body, env, Some(&at(first))) {
            Tri::True => counted.held = items.len(),
            Tri::False => {}
            Tri::Unknown(u) => {
                counted.unknown = items.len();
                counted.first_unknown = Some(u);
            }
        }
        return Ok(counted);
    }
    for item in items {
        match eval(&c.body, env, Some(&at(item))) {
            Tri::True => counted.held += 1,
            Tri::False => {}
            Tri::Unknown(u) => {
                counted.unknown += 1;
                counted.first_unknown.get_or_insert(u);
            }
        }
    }
    Ok(counted)
}

impl Counted<'_> {
    /// The count as a comparison sees it: a number, or the range of counts the unknown
    /// elements leave open.
    pub(super) fn value(&self) -> V<'static> {
        if self.unknown == 0 {
            V::Num(self.held as f64)
        } else {
            V::Range(self.held as f64, (self.held + self.unknown) as f64)
        }
    }
}

/// A range at its lowest count; any other value as it is.
pub(super) fn lowest(v: V<'_>) -> V<'_> {
    match v {
        V::Range(lo, _) => V::Num(lo),
        other => other,
    }
}

/// The bounds of a number or a range.
fn bounds(v: V<'_>) -> Option<(f64, f64)> {
    match v {
        V::Num(n) => Some((n, n)),
        V::Range(lo, hi) => Some((lo, hi)),
        _ => None,
    }
}

/// A comparison where a side is a range (a `count` some elements left unknown), when its
/// answer depends on where in the range the count is: `Some(Some(b))` when every count of
/// the range gives `b`, `Some(None)` when they differ; `None` when the answer does not
/// depend on the count at all (a type that does not fit), for the ordinary rules to give.
pub(super) fn ranged(op: &Op, l: V<'_>, r: V<'_>) -> Option<Option<bool>> {
    let decided = |surely: bool, surely_not: bool| match (surely, surely_not) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    match op {
        Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ((a, b), (c, d)) = (bounds(l)?, bounds(r)?);
            let apart = b < c || d < a;
            Some(match op {
                Op::Lt => decided(b < c, a >= d),
                Op::Le => decided(b <= c, a > d),
                Op::Gt => decided(a > d, b <= c),
                Op::Ge => decided(a >= d, b < c),
                // One side is a range, so the two are never surely equal.
                Op::Eq => decided(false, apart),
                _ => decided(apart, false),
            })
        }
        Op::In | Op::NotIn => match l {
            V::Range(lo, hi) => {
                let found = member_of_range(lo, hi, r)?;
                Some(found.map(|f| f == matches!(op, Op::In)))
            }
            _ => None,
        },
        Op::Contains => match r {
            V::Range(lo, hi) => member_of_range(lo, hi, l),
            _ => None,
        },
        _ => None,
    }
}

/// The most counts of a range that membership is worked out for, one by one.
const RANGE_SCAN: f64 = 16.0;

/// Whether a count in `lo..=hi` is in a list: `Some(Some(false))` when no number of the
/// list is in the range (and the list holds a number, or nothing), `Some(Some(true))` when
/// every count of a short range is in it, `Some(None)` when it depends; `None` when `list`
/// is not a list or holds no number (the ordinary rules give unknown).
fn member_of_range(lo: f64, hi: f64, list: V<'_>) -> Option<Option<bool>> {
    let mut any_number = false;
    let mut inside = false;
    let empty = for_each_number(list, &mut |n| {
        any_number = true;
        inside |= lo <= n && n <= hi;
    })?;
    if !inside {
        return (any_number || empty).then_some(Some(false));
    }
    if hi - lo < RANGE_SCAN {
        let mut every = true;
        let mut k = lo;
        while k <= hi {
            let mut found = false;
            for_each_number(list, &mut |n| found |= n == k);
            every &= found;
            k += 1.0;
        }
        if every {
            return Some(Some(true));
        }
    }
    Some(None)
}

/// Calls `f` on each number of a list; whether the list is empty, `None` if it is not a list.
fn for_each_number(list: V<'_>, f: &mut dyn FnMut(f64)) -> Option<bool> {
    let mut each = |v: V<'_>| {
        if let V::Num(n) = v {
            f(n);
        }
    };
    match list {
        V::JList(items) => {
            items.iter().for_each(|i| each(json(i)));
            Some(items.is_empty())
        }
        V::LList(items) => {
            items.iter().for_each(|i| each(lit(i)));
            Some(items.is_empty())
        }
        _ => None,
    }
}
