//! What a quantifier or `count` that reads no variable bound around it gave, kept while an
//! enclosing list is gone through: it has one value for the whole call, so it is judged
//! once, not once per element of every list around it. Lives on the stack.

use std::cell::Cell;

use super::count::Counted;
use super::{Cause, Tri};
use crate::ir::{Cond, Count};

/// The most values one list's walk keeps; past that, a value is judged each time.
const SLOTS: usize = 8;

/// Which node a value belongs to (compared by address).
#[derive(Clone, Copy)]
enum Node<'p> {
    Quantifier(&'p Cond),
    Count(&'p Count),
}

impl Node<'_> {
    fn same(self, other: Node<'_>) -> bool {
        match (self, other) {
            (Node::Quantifier(a), Node::Quantifier(b)) => std::ptr::eq(a, b),
            (Node::Count(a), Node::Count(b)) => std::ptr::eq(a, b),
            _ => false,
        }
    }
}

/// A value kept.
#[derive(Clone, Copy)]
enum Kept<'p> {
    Truth(Tri<'p>),
    Count(Result<Counted<'p>, Cause<'p>>),
}

/// The values kept during one walk of a list.
pub struct Memo<'p> {
    slots: [Cell<Option<(Node<'p>, Kept<'p>)>>; SLOTS],
}

impl Default for Memo<'_> {
    fn default() -> Self {
        Memo {
            slots: std::array::from_fn(|_| Cell::new(None)),
        }
    }
}

impl<'p> Memo<'p> {
    fn kept(&self, node: Node<'p>) -> Option<Kept<'p>> {
        self.slots.iter().find_map(|s| match s.get() {
            Some((n, k)) if n.same(node) => Some(k),
            _ => None,
        })
    }

    fn keep(&self, node: Node<'p>, value: Kept<'p>) {
        if let Some(free) = self.slots.iter().find(|s| s.get().is_none()) {
            free.set(Some((node, value)));
        }
    }

    /// The value of a quantifier that reads no variable bound around it: judged the
    /// first time, kept after.
    pub(super) fn truth(&self, node: &'p Cond, judge: impl FnOnce() -> Tri<'p>) -> Tri<'p> {
        if let Some(Kept::Truth(t)) = self.kept(Node::Quantifier(node)) {
            return t;
        }
        let t = judge();
        self.keep(Node::Quantifier(node), Kept::Truth(t));
        t
    }

    /// The count of a `count` that reads no variable bound around it: counted the first
    /// time, kept after.
    pub(super) fn count(
        &self,
        node: &'p Count,
        judge: impl FnOnce() -> Result<Counted<'p>, Cause<'p>>,
    ) -> Result<Counted<'p>, Cause<'p>> {
        if let Some(Kept::Count(c)) = self.kept(Node::Count(node)) {
            return c;
        }
        let c = judge();
        self.keep(Node::Count(node), Kept::Count(c));
        c
    }
}
