//! Running a slice's flat program ([`crate::compile::flat`]) for one call.
//!
//! Each slot is read from the call the first time an instruction or an index asks for it,
//! and kept for the rest of the decision. Truth is three-valued, an unknown with its first
//! cause, exactly as `ir::semantics::eval` gives it: both judge every comparison with the
//! same [`judge`].

use smallvec::SmallVec;

use std::collections::BTreeMap;

use crate::catalog::ArgSpec;
use crate::compile::flat::{Code, FlatLit, Instr, ReadKind, Slots, TestOp};
use crate::eval::fast::ScannedCall;
use crate::ir::Op;
use crate::ir::semantics::{
    Env, Expected, Side, Tri, V, absent, cause_at, eval, judge, len_value, path_value, present,
};

/// Slots a decision can read before it allocates (one decision reads a few: the paths of
/// the entries its indexes leave, whatever the size of the family's table).
const INLINE_SLOTS: usize = 16;

/// Where slots are read from: a call's JSON values, or a call scanned from its text.
#[derive(Clone, Copy)]
pub(crate) enum Source<'c, 'p> {
    Value(Env<'c, 'p>),
    Scanned {
        call: &'c ScannedCall<'c>,
        declared: Option<&'p BTreeMap<String, ArgSpec>>,
    },
}

/// The values of a family's slots for one call, read when first asked for: the slots read
/// so far, with their values.
pub(crate) struct Reader<'c, 'p: 'c> {
    pub(crate) source: Source<'c, 'p>,
    pub(crate) glob_hits: &'c [u64],
    slots: &'p Slots,
    values: SmallVec<[(u32, V<'c>); INLINE_SLOTS]>,
}

impl<'c, 'p: 'c> Reader<'c, 'p> {
    pub(crate) fn new(
        source: Source<'c, 'p>,
        glob_hits: &'c [u64],
        slots: &'p Slots,
    ) -> Reader<'c, 'p> {
        Reader {
            source,
            glob_hits,
            slots,
            values: SmallVec::new(),
        }
    }

    /// The call's values, for what only the semantics' `eval` judges; `None` for a scanned
    /// call, which then goes to the full reader.
    pub(crate) fn env(&self) -> Option<&Env<'c, 'p>> {
        match &self.source {
            Source::Value(env) => Some(env),
            Source::Scanned { call, .. } => {
                call.bailed.set(true);
                None
            }
        }
    }

    /// Whether a read needed what the scanned call does not keep.
    pub(crate) fn bailed(&self) -> bool {
        match self.source {
            Source::Value(_) => false,
            Source::Scanned { call, .. } => call.bailed.get(),
        }
    }

    /// The value of slot `i`.
    #[inline]
    pub(crate) fn slot(&mut self, i: u32) -> V<'c> {
        if let Some((_, v)) = self.values.iter().find(|(s, _)| *s == i) {
            return *v;
        }
        let v = self.read(i as usize);
        self.values.push((i, v));
        v
    }

    fn read(&self, i: usize) -> V<'c> {
        let Some(read) = self.slots.reads.get(i) else {
            return V::Missing;
        };
        match self.source {
            Source::Value(env) => {
                let env: Env<'c, 'c> = env;
                match read.kind {
                    ReadKind::Value => path_value(&read.path, &env, None),
                    ReadKind::Len => len_value(&read.path, &env, None),
                    ReadKind::Present => V::Bool(present(&read.path, &env)),
                }
            }
            Source::Scanned { call, declared } => match read.kind {
                ReadKind::Value => call.value(&read.path, declared),
                ReadKind::Len => call.len(&read.path, declared),
                ReadKind::Present => V::Bool(call.present(&read.path)),
            },
        }
    }
}

static EQ: Op = Op::Eq;
static NE: Op = Op::Ne;
static LT: Op = Op::Lt;
static LE: Op = Op::Le;
static GT: Op = Op::Gt;
static GE: Op = Op::Ge;
static IN: Op = Op::In;
static NOT_IN: Op = Op::NotIn;
static CONTAINS: Op = Op::Contains;
static STARTS_WITH: Op = Op::StartsWith;
static ENDS_WITH: Op = Op::EndsWith;

fn op_of(op: TestOp, code: &Code) -> Option<&Op> {
    Some(match op {
        TestOp::Eq => &EQ,
        TestOp::Ne => &NE,
        TestOp::Lt => &LT,
        TestOp::Le => &LE,
        TestOp::Gt => &GT,
        TestOp::Ge => &GE,
        TestOp::In => &IN,
        TestOp::NotIn => &NOT_IN,
        TestOp::Contains => &CONTAINS,
        TestOp::StartsWith => &STARTS_WITH,
        TestOp::EndsWith => &ENDS_WITH,
        TestOp::Pattern(i) => return code.patterns.get(i as usize),
    })
}

fn lit_value(l: FlatLit, code: &Code) -> V<'_> {
    match l {
        FlatLit::Num(n) => V::Num(n),
        FlatLit::Bool(b) => V::Bool(b),
        FlatLit::Str { start, len } => code
            .text
            .get(start as usize..start as usize + len as usize)
            .map_or(V::Missing, V::Str),
        FlatLit::List(i) => code
            .lists
            .get(i as usize)
            .map_or(V::Missing, |items| V::LList(items)),
    }
}

/// The truth of the condition whose program starts at `code.instrs[start]`, with the
/// first cause when unknown, as `ir::semantics::eval` gives it.
pub(crate) fn run<'p>(code: &'p Code, start: u32, r: &mut Reader<'_, 'p>) -> Tri<'p> {
    cond(code, start as usize, r).0
}

/// The truth of the condition starting at `pc`, and where the next one starts.
fn cond<'p>(code: &'p Code, pc: usize, r: &mut Reader<'_, 'p>) -> (Tri<'p>, usize) {
    let next = pc + 1;
    let Some(instr) = code.instrs.get(pc) else {
        return (Tri::False, next);
    };
    match *instr {
        Instr::Const(b) => (Tri::from_bool(b), next),
        Instr::And { end } => junction(code, next, end as usize, true, r),
        Instr::Or { end } => junction(code, next, end as usize, false, r),
        Instr::Not => {
            let (t, after) = cond(code, next, r);
            (t.negate(), after)
        }
        Instr::Test {
            slot,
            path,
            op,
            lit,
            lit_left,
        } => (test(code, slot, path, op, lit, lit_left, r), next),
        Instr::Truthy { slot, path } => match r.slot(slot) {
            V::Bool(b) => (Tri::from_bool(b), next),
            v => (
                Tri::Unknown(cause_at(code.path(path), v, Expected::Boolean)),
                next,
            ),
        },
        Instr::Glob { id } => {
            let word = r.glob_hits.get((id / 64) as usize).copied().unwrap_or(0);
            (Tri::from_bool(word & (1u64 << (id % 64)) != 0), next)
        }
        Instr::Slow { id } => match (code.slow.get(id as usize), r.env()) {
            (Some(c), Some(env)) => (eval(c, env, None), next),
            // The scanned call bailed: the walk's result is dropped.
            _ => (Tri::False, next),
        },
    }
}

/// `and` (`all` true) or `or` of the conditions in `pc..end`: the first that settles it
/// ends the walk; else the first unknown, as `eval` keeps it.
fn junction<'p>(
    code: &'p Code,
    mut pc: usize,
    end: usize,
    all: bool,
    r: &mut Reader<'_, 'p>,
) -> (Tri<'p>, usize) {
    let mut unknown = None;
    while pc < end {
        let (t, after) = cond(code, pc, r);
        match t {
            Tri::False if all => return (Tri::False, end),
            Tri::True if !all => return (Tri::True, end),
            Tri::Unknown(u) if unknown.is_none() => unknown = Some(u),
            _ => {}
        }
        pc = after;
    }
    (unknown.map_or(Tri::from_bool(all), Tri::Unknown), end)
}

#[inline]
fn test<'p>(
    code: &'p Code,
    slot: u32,
    path: u32,
    op: TestOp,
    lit: FlatLit,
    lit_left: bool,
    r: &mut Reader<'_, 'p>,
) -> Tri<'p> {
    let read = r.slot(slot);
    let path = code.path(path);
    if absent(read) {
        return Tri::Unknown(cause_at(path, read, Expected::SameType));
    }
    let Some(op) = op_of(op, code) else {
        return Tri::False;
    };
    let lit = lit_value(lit, code);
    let (l, rv, l_reads, r_reads) = if lit_left {
        (lit, read, false, true)
    } else {
        (read, lit, true, false)
    };
    let blame = |side: Side, v: V<'_>, expected: Expected| {
        let on_path = matches!(side, Side::Left) != lit_left;
        cause_at(if on_path { path } else { None }, v, expected)
    };
    match judge(op, l, rv, l_reads, r_reads, blame) {
        Ok(b) => Tri::from_bool(b),
        Err(c) => Tri::Unknown(c),
    }
}
