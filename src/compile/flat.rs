//! Each slice's conditions as one contiguous program over numbered slots.
//!
//! Every path a slice's flat conditions read of the call gets a slot number;
//! a condition becomes a run of [`Instr`]s in prefix order (`and`/`or` say where their
//! operands end, so a short circuit jumps over the rest), with its literal strings in one
//! text buffer. A decision reads each slot at most once and walks a few contiguous
//! instructions instead of boxed trees. What has no flat form (quantifiers, `count`,
//! comparisons of two paths, classes left unfolded) stays a [`Cond`] the program calls,
//! judged by the same semantics as everything else.

use std::collections::HashMap;
use std::sync::Arc;

use crate::compile::{Entry, Index, Slice};
use crate::ir::{Cond, Lit, Op, PathExpr, Root, Term};

/// The slots of one family of slices (a listed tool's slice, or the fallback's slices):
/// slot `i` is `reads[i]`.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    pub(crate) reads: Box<[Read]>,
}

/// What one slot holds: a read of a path of the call.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    pub(crate) kind: ReadKind,
    pub(crate) path: Arc<PathExpr>,
}

/// How a slot reads its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ReadKind {
    /// The value, checked against the catalog (a comparison's operand).
    Value,
    /// `len(PATH)`.
    Len,
    /// `exists(PATH)`: whether it is there and not null.
    Present,
}

/// A slice's conditions, flattened.
#[derive(Debug, Default)]
pub(crate) struct Code {
    pub(crate) instrs: Box<[Instr]>,
    /// Literal strings, one after another.
    pub(crate) text: Box<str>,
    /// List literals (`in [...]`).
    pub(crate) lists: Box<[Box<[Lit]>]>,
    /// Compiled patterns (`matches`, `=~`).
    pub(crate) patterns: Box<[Op]>,
    /// Conditions without a flat form, judged by `ir::semantics::eval`.
    pub(crate) slow: Box<[Cond]>,
    /// The paths as the conditions wrote them, for the causes of unknowns.
    pub(crate) paths: Box<[Arc<PathExpr>]>,
}

impl Code {
    /// Path `i` as its condition wrote it.
    pub(crate) fn path(&self, i: u32) -> Option<&PathExpr> {
        self.paths.get(i as usize).map(|p| &**p)
    }
}

/// One instruction. A condition starts at an instruction and ends where its operands do.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Instr {
    /// A constant.
    Const(bool),
    /// The conditions from the next instruction up to `end` must all hold.
    And { end: u32 },
    /// One of the conditions from the next instruction up to `end` must hold.
    Or { end: u32 },
    /// The next condition must not hold.
    Not,
    /// `slot op literal` (`literal op slot` when `lit_left`).
    Test {
        slot: u32,
        /// `Code::paths[path]`: the path as this condition wrote it.
        path: u32,
        op: TestOp,
        lit: FlatLit,
        lit_left: bool,
    },
    /// The slot's value is `true` (a boolean used as a condition); for a presence slot,
    /// whether the path is there.
    Truthy { slot: u32, path: u32 },
    /// The call's tool matched glob `id` of the tree's matcher.
    Glob { id: u32 },
    /// `Code::slow[id]`.
    Slow { id: u32 },
}

/// A comparison operator; patterns are in `Code::patterns`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TestOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Pattern(u32),
}

/// A literal operand.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FlatLit {
    Num(f64),
    Bool(bool),
    /// `Code::text[start..start + len]`.
    Str {
        start: u32,
        len: u32,
    },
    /// `Code::lists[i]`.
    List(u32),
}

/// Flattens every entry of a family of slices, numbering the paths they read in one table.
pub(crate) fn flatten_family<'a>(slices: impl Iterator<Item = &'a mut Slice>) -> Slots {
    let mut slots = SlotTable::default();
    for slice in slices {
        flatten_slice(slice, &mut slots);
    }
    Slots {
        reads: slots.reads.into(),
    }
}

/// Numbers slots in order of first use.
#[derive(Default)]
struct SlotTable {
    reads: Vec<Read>,
    ids: HashMap<(ReadKind, Root, Box<str>), u32>,
}

impl SlotTable {
    fn slot(&mut self, kind: ReadKind, path: &Arc<PathExpr>) -> u32 {
        let key = (kind, path.root, path.text.clone());
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.reads.len() as u32;
        self.reads.push(Read {
            kind,
            path: path.clone(),
        });
        self.ids.insert(key, id);
        id
    }
}

/// Compiles each entry of the slice once per rule (an entry filed in several lists shares
/// its program), and gives each index the slot of its path.
fn flatten_slice(slice: &mut Slice, slots: &mut SlotTable) {
    let mut b = Builder::default();
    let mut done: HashMap<u32, (u32, u32)> = HashMap::new();
    let mut flatten = |e: &mut Entry, slots: &mut SlotTable| {
        let (start, end) = *done.entry(e.rule).or_insert_with(|| {
            let start = b.instrs.len() as u32;
            b.cond(&e.cond, slots);
            (start, b.instrs.len() as u32)
        });
        e.start = start;
        e.end = end;
    };
    for idx in slice.indexes.iter_mut() {
        match idx {
            Index::Threshold {
                path, tiers, slot, ..
            } => {
                *slot = slots.slot(ReadKind::Value, path);
                for t in tiers.iter_mut() {
                    t.entries.iter_mut().for_each(|e| flatten(e, slots));
                }
            }
            Index::Equal {
                path,
                entries,
                all,
                slot,
                ..
            } => {
                *slot = slots.slot(ReadKind::Value, path);
                entries.iter_mut().for_each(|e| flatten(e, slots));
                all.iter_mut().for_each(|e| flatten(e, slots));
            }
            Index::Present {
                path,
                entries,
                slot,
                ..
            } => {
                *slot = slots.slot(ReadKind::Present, path);
                entries.iter_mut().for_each(|e| flatten(e, slots));
            }
        }
    }
    slice.plain.iter_mut().for_each(|e| flatten(e, slots));
    for floor in slice.floors.iter_mut() {
        floor.start = b.instrs.len() as u32;
        b.cond(&floor.cond, slots);
    }
    slice.code = b.finish();
}

#[derive(Default)]
struct Builder {
    instrs: Vec<Instr>,
    text: String,
    lists: Vec<Box<[Lit]>>,
    patterns: Vec<Op>,
    slow: Vec<Cond>,
    paths: Vec<Arc<PathExpr>>,
}

impl Builder {
    fn finish(self) -> Code {
        Code {
            instrs: self.instrs.into(),
            text: self.text.into(),
            lists: self.lists.into(),
            patterns: self.patterns.into(),
            slow: self.slow.into(),
            paths: self.paths.into(),
        }
    }

    fn path(&mut self, p: &Arc<PathExpr>) -> u32 {
        self.paths.push(p.clone());
        self.paths.len() as u32 - 1
    }

    fn cond(&mut self, cond: &Cond, slots: &mut SlotTable) {
        match cond {
            Cond::Const(b) => self.instrs.push(Instr::Const(*b)),
            Cond::And(items) | Cond::Or(items) => {
                let at = self.instrs.len();
                self.instrs.push(Instr::Const(true));
                for c in items.iter() {
                    self.cond(c, slots);
                }
                let end = self.instrs.len() as u32;
                let op = match cond {
                    Cond::And(_) => Instr::And { end },
                    _ => Instr::Or { end },
                };
                if let Some(slot) = self.instrs.get_mut(at) {
                    *slot = op;
                }
            }
            Cond::Not(c) => {
                self.instrs.push(Instr::Not);
                self.cond(c, slots);
            }
            Cond::Exists(p) if !matches!(p.root, Root::Var(_)) => {
                let slot = slots.slot(ReadKind::Present, p);
                let path = self.path(p);
                self.instrs.push(Instr::Truthy { slot, path });
            }
            Cond::Truthy(Term::Path(p)) if !matches!(p.root, Root::Var(_)) => {
                let slot = slots.slot(ReadKind::Value, p);
                let path = self.path(p);
                self.instrs.push(Instr::Truthy { slot, path });
            }
            Cond::GlobHit { id, .. } => self.instrs.push(Instr::Glob { id: *id }),
            Cond::Compare {
                left, op, right, ..
            } => match self.test(left, op, right, slots) {
                Some(test) => self.instrs.push(test),
                None => self.slow(cond),
            },
            _ => self.slow(cond),
        }
    }

    fn slow(&mut self, cond: &Cond) {
        let id = self.slow.len() as u32;
        self.slow.push(cond.clone());
        self.instrs.push(Instr::Slow { id });
    }

    /// `PATH op LITERAL`, `len(PATH) op LITERAL`, or the literal first.
    fn test(&mut self, left: &Term, op: &Op, right: &Term, slots: &mut SlotTable) -> Option<Instr> {
        let (read, lit, lit_left) = match (left, right) {
            (Term::Path(_) | Term::Len(_), Term::Lit(l)) => (left, l, false),
            (Term::Lit(l), Term::Path(_) | Term::Len(_)) => (right, l, true),
            _ => return None,
        };
        let (slot, path) = match read {
            Term::Path(p) if !matches!(p.root, Root::Var(_)) => {
                (slots.slot(ReadKind::Value, p), self.path(p))
            }
            Term::Len(p) if !matches!(p.root, Root::Var(_)) => {
                (slots.slot(ReadKind::Len, p), self.path(p))
            }
            _ => return None,
        };
        let op = match op {
            Op::Eq => TestOp::Eq,
            Op::Ne => TestOp::Ne,
            Op::Lt => TestOp::Lt,
            Op::Le => TestOp::Le,
            Op::Gt => TestOp::Gt,
            Op::Ge => TestOp::Ge,
            Op::In => TestOp::In,
            Op::NotIn => TestOp::NotIn,
            Op::Contains => TestOp::Contains,
            Op::StartsWith => TestOp::StartsWith,
            Op::EndsWith => TestOp::EndsWith,
            Op::Glob(_) | Op::Regex(_) => {
                self.patterns.push(op.clone());
                TestOp::Pattern(self.patterns.len() as u32 - 1)
            }
        };
        let lit = match lit {
            Lit::Num(n) => FlatLit::Num(*n),
            Lit::Bool(b) => FlatLit::Bool(*b),
            Lit::Str(s) => {
                let start = self.text.len() as u32;
                self.text.push_str(s);
                FlatLit::Str {
                    start,
                    len: s.len() as u32,
                }
            }
            Lit::List(items) => {
                self.lists.push(items.clone());
                FlatLit::List(self.lists.len() as u32 - 1)
            }
        };
        Some(Instr::Test {
            slot,
            path,
            op,
            lit,
            lit_left,
        })
    }
}
