//! Deciding a call straight from its JSON text, reading once only what the policy reads.
//!
//! One pass over the text ([`crate::json::scan`]) validates all of it, refuses a key
//! given twice anywhere, and keeps the values of the paths the policy reads (the tree of
//! [`CallPaths`]); the decision then reads its slots from those. Everything this reader
//! does not judge exactly as [`ToolCall::from_json`] and [`crate::Policy::evaluate`] would
//! (another shape of call, `arguments` as a string, a condition without a flat form, a
//! list compared element by element, a text of 4 GiB or more) sends the call to them
//! instead: the result is always theirs, only slower. A reason's hole this reader did not
//! keep (`count`, a path under a list index, `{args}`) is rendered from the call read in
//! full.

use std::cell::Cell;
use std::collections::BTreeMap;

use crate::call::{CallError, ToolCall};
use crate::catalog::{ArgSpec, ArgType};
use crate::compile::paths::{ARGS, CONTEXT, CallPaths};
use crate::ir::semantics::{Kind, V, Why};
use crate::ir::{PathExpr, Root, Template, TemplatePart, Term};
use crate::json::scan::{Bail, Scanned, Scanner, Scratch, Str, Visit, resolve};

/// Buffers reused from call to call by [`crate::Policy::evaluate_json`]: with one reader
/// per thread, deciding a call from its text does not allocate.
#[derive(Debug, Default)]
pub struct CallReader {
    scratch: Scratch,
    /// The value last seen at each node of the policy's paths, with the scan it is from.
    seen: Vec<(u32, Scanned)>,
    scan: u32,
    id: String,
}

/// A call read by the fast reader: its text, and the values the policy reads.
#[derive(Debug)]
pub(crate) struct ScannedCall<'a> {
    text: &'a str,
    unescaped: &'a str,
    seen: &'a [(u32, Scanned)],
    scan: u32,
    paths: &'a CallPaths,
    pub(crate) tool: &'a str,
    pub(crate) id: Option<&'a str>,
    /// Set when a read needed what this reader does not keep.
    pub(crate) bailed: Cell<bool>,
}

/// Reads a call in holdpoint's own shape (`tool` or `name`, `args` or `arguments` as an
/// object, `context`, `id`) from its text; `None` sends it to the full reader.
pub(crate) fn scan<'a>(
    text: &'a str,
    paths: &'a CallPaths,
    reader: &'a mut CallReader,
) -> Option<ScannedCall<'a>> {
    // Spans are 32-bit.
    u32::try_from(text.len()).ok()?;
    reader.scan = reader.scan.wrapping_add(1);
    if reader.scan == 0 {
        reader.seen.iter_mut().for_each(|s| s.0 = 0);
        reader.scan = 1;
    }
    if reader.seen.len() < paths.len() {
        reader.seen.resize(paths.len(), (0, Scanned::Null));
    }
    let CallReader {
        scratch,
        seen,
        scan: now,
        id: id_text,
    } = reader;
    let top = {
        let mut keep = Keep {
            paths,
            seen,
            scan: *now,
        };
        let mut s = Scanner::new(text, scratch);
        let top = top_level(&mut s, &mut keep).ok()?;
        s.end().ok()?;
        top
    };
    let tool = resolve(text, &scratch.text, top.tool);
    if tool.is_empty() || crate::call::check_tool_name(tool).is_err() {
        return None;
    }
    let id = match top.id {
        None => None,
        Some(Id::Str(s)) => Some(resolve(text, &scratch.text, s)),
        Some(Id::Num(start, end)) => {
            let n: serde_json::Number = serde_json::from_str(text.get(start..end)?).ok()?;
            id_text.clear();
            std::fmt::Write::write_fmt(id_text, format_args!("{n}")).ok()?;
            Some(id_text.as_str())
        }
    };
    Some(ScannedCall {
        text,
        unescaped: &scratch.text,
        seen,
        scan: *now,
        paths,
        tool,
        id,
        bailed: Cell::new(false),
    })
}

enum Id {
    Str(Str),
    Num(usize, usize),
}

struct Top {
    tool: Str,
    id: Option<Id>,
}

enum Field {
    Tool,
    Args,
    Context,
    Id,
}

/// The top-level object: each of its fields once, the arguments and context an object
/// (or null), the tool a string; anything else is for the full reader.
fn top_level(s: &mut Scanner<'_, '_>, keep: &mut Keep<'_>) -> Result<Top, Bail> {
    let mark = s.open_object()?;
    let mut first = true;
    let (mut tool, mut id, mut args, mut context) = (None, None, false, false);
    while let Some(key) = s.next_key(mark, &mut first)? {
        let field = match s.str_of(key) {
            "tool" | "name" => Field::Tool,
            "args" | "arguments" => Field::Args,
            "context" => Field::Context,
            "id" => Field::Id,
            _ => return Err(Bail),
        };
        match field {
            Field::Tool => match (tool, s.value(1, keep, NOWHERE)?) {
                (None, Scanned::Str(t)) => tool = Some(t),
                _ => return Err(Bail),
            },
            Field::Args | Field::Context => {
                let (done, node) = match field {
                    Field::Args => (&mut args, ARGS),
                    _ => (&mut context, CONTEXT),
                };
                if std::mem::replace(done, true) {
                    return Err(Bail);
                }
                match s.peek() {
                    Some(b'{' | b'n') => {}
                    _ => return Err(Bail),
                }
                s.value(1, keep, node)?;
            }
            Field::Id => {
                id = match s.value(1, keep, NOWHERE)? {
                    Scanned::Null => None,
                    Scanned::Str(t) => Some(Id::Str(t)),
                    Scanned::Num { start, end, .. } => Some(Id::Num(start as usize, end as usize)),
                    _ => return Err(Bail),
                }
            }
        }
    }
    Ok(Top {
        tool: tool.ok_or(Bail)?,
        id,
    })
}

const NOWHERE: u32 = u32::MAX;

/// Keeps the values at the policy's paths.
struct Keep<'a> {
    paths: &'a CallPaths,
    seen: &'a mut [(u32, Scanned)],
    scan: u32,
}

impl Visit for Keep<'_> {
    type At = u32;
    const NOWHERE: u32 = NOWHERE;

    #[inline]
    fn child(&mut self, parent: u32, key: &str) -> u32 {
        if parent == NOWHERE || !self.paths.has_children(parent) {
            return NOWHERE;
        }
        self.paths.child(parent, key).unwrap_or(NOWHERE)
    }

    #[inline]
    fn seen(&mut self, at: u32, v: Scanned) {
        if let Some(cell) = self.seen.get_mut(at as usize) {
            *cell = (self.scan, v);
        }
    }
}

/// A value of a scanned call, where a path can be read.
#[derive(Clone, Copy)]
pub(crate) struct Node<'c> {
    call: &'c ScannedCall<'c>,
    node: u32,
    value: Scanned,
}

impl<'c> ScannedCall<'c> {
    fn root(&'c self, root: Root) -> Option<Node<'c>> {
        let node = match root {
            Root::Args => ARGS,
            Root::Context => CONTEXT,
            Root::Var(_) => {
                self.bailed.set(true);
                return None;
            }
        };
        Some(Node {
            call: self,
            node,
            value: Scanned::Obj { start: 0, end: 0 },
        })
    }

    fn text_of(&self, s: Str) -> &'c str {
        resolve(self.text, self.unescaped, s)
    }

    /// The value at a path, checked against the catalog's `declared` (`None`: missing).
    fn read(
        &'c self,
        path: &PathExpr,
        declared: Option<&'c BTreeMap<String, ArgSpec>>,
    ) -> Result<Option<Node<'c>>, Why> {
        match self.root(path.root) {
            Some(root) => crate::ir::semantics::read_doc(root, path, declared).map(|(n, _)| n),
            None => Ok(None),
        }
    }

    /// Reads a path as a comparison sees it.
    pub(crate) fn value(
        &'c self,
        path: &PathExpr,
        declared: Option<&'c BTreeMap<String, ArgSpec>>,
    ) -> V<'c> {
        match self.read(path, declared) {
            Ok(None) => V::Missing,
            Ok(Some(n)) => n.v(),
            Err(why) => V::Bad(why),
        }
    }

    /// `len(PATH)` as a comparison sees it.
    pub(crate) fn len(
        &'c self,
        path: &PathExpr,
        declared: Option<&'c BTreeMap<String, ArgSpec>>,
    ) -> V<'c> {
        match self.read(path, declared) {
            Ok(None) => V::Missing,
            Ok(Some(n)) => match n.value {
                Scanned::Null => V::Missing,
                Scanned::Str(s) => V::Num(self.text_of(s).chars().count() as f64),
                Scanned::List { len, .. } => V::Num(f64::from(len)),
                _ => V::Bad(Why::WrongType {
                    found: n.kind_of(),
                    expected: crate::ir::semantics::Expected::StringOrList,
                }),
            },
            Err(why) => V::Bad(why),
        }
    }

    /// `exists(PATH)`.
    pub(crate) fn present(&'c self, path: &PathExpr) -> bool {
        self.found(path)
            .is_some_and(|n| !matches!(n.value, Scanned::Null))
    }

    /// The value at a path, unchecked (as `lookup` reads it).
    fn found(&'c self, path: &PathExpr) -> Option<Node<'c>> {
        self.read(path, None).ok().flatten()
    }

    /// Writes a reason's template for this call, as `render` writes it for the full call.
    pub(crate) fn render(
        &'c self,
        template: &Template,
        program: &crate::ir::Program,
        f: &mut impl std::fmt::Write,
    ) -> std::fmt::Result {
        let kept = template.parts.iter().all(|part| match part {
            TemplatePart::Text(_) => true,
            TemplatePart::Hole(term) => self.keeps(term),
        });
        if !kept {
            // A hole this reader does not keep: the call read in full renders it (it reads
            // every text this reader reads).
            return match self.to_call() {
                Ok(call) => f.write_str(&crate::eval::decision::render(template, program, &call)),
                Err(_) => f.write_str("<missing>"),
            };
        }
        for part in &template.parts {
            match part {
                TemplatePart::Text(t) => f.write_str(t)?,
                TemplatePart::Hole(term) => self.write_term(term, f)?,
            }
        }
        Ok(())
    }

    /// Whether this reader kept what a reason's hole shows.
    fn keeps(&'c self, term: &Term) -> bool {
        match term {
            Term::Tool | Term::Lit(_) => true,
            // `{args}` itself: the full call writes the object.
            Term::Path(p) | Term::Len(p) if p.segments.is_empty() => false,
            Term::Path(p) | Term::Len(p) => {
                let before = self.bailed.replace(false);
                let _ = self.found(p);
                !self.bailed.replace(before)
            }
            Term::Count(_) => false,
        }
    }

    /// Writes one hole this reader keeps, as `write_term` writes it for the full call.
    fn write_term(&'c self, term: &Term, f: &mut impl std::fmt::Write) -> std::fmt::Result {
        let found = match term {
            Term::Tool => return f.write_str(self.tool),
            Term::Lit(l) => return write!(f, "{l:?}"),
            Term::Path(p) | Term::Len(p) => self.found(p).map(|n| n.value),
            Term::Count(_) => None,
        };
        match (term, found) {
            (Term::Path(_), Some(Scanned::Str(s))) => f.write_str(self.text_of(s)),
            (Term::Path(_), Some(Scanned::Bool(b))) => write!(f, "{b}"),
            (Term::Path(_), Some(Scanned::Num { start, end, .. }))
            | (Term::Path(_), Some(Scanned::List { start, end, .. }))
            | (Term::Path(_), Some(Scanned::Obj { start, end })) => {
                let text = self
                    .text
                    .get(start as usize..end as usize)
                    .unwrap_or("null");
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(v) => write!(f, "{v}"),
                    Err(_) => f.write_str("<missing>"),
                }
            }
            (Term::Len(_), Some(Scanned::Str(s))) => {
                write!(f, "{}", self.text_of(s).chars().count())
            }
            (Term::Len(_), Some(Scanned::List { len, .. })) => write!(f, "{len}"),
            _ => f.write_str("<missing>"),
        }
    }

    /// The whole call, read by the full reader (for the approval runtime).
    pub(crate) fn to_call(&self) -> Result<ToolCall, CallError> {
        ToolCall::from_json(self.text)
    }
}

impl<'c> Node<'c> {
    /// As a comparison sees it; a list (compared by its elements) leaves the fast reader.
    fn v(self) -> V<'c> {
        match self.value {
            Scanned::Null => V::Null,
            Scanned::Bool(b) => V::Bool(b),
            Scanned::Num { value, .. } => V::Num(value),
            Scanned::Str(s) => V::Str(self.call.text_of(s)),
            Scanned::Obj { .. } => V::Obj,
            Scanned::List { .. } => {
                self.call.bailed.set(true);
                V::Missing
            }
        }
    }

    fn kind_of(self) -> Kind {
        match self.value {
            Scanned::Null => Kind::Null,
            Scanned::Bool(_) => Kind::Bool,
            Scanned::Num { .. } => Kind::Number,
            Scanned::Str(_) => Kind::String,
            Scanned::List { .. } => Kind::List,
            Scanned::Obj { .. } => Kind::Object,
        }
    }
}

impl crate::ir::semantics::Doc for Node<'_> {
    fn key(self, k: &str) -> Option<Self> {
        let Scanned::Obj { .. } = self.value else {
            return None;
        };
        let Some(child) = self.call.paths.child(self.node, k) else {
            // A path the tree of paths does not hold: never kept.
            self.call.bailed.set(true);
            return None;
        };
        match self.call.seen.get(child as usize) {
            Some(&(scan, value)) if scan == self.call.scan => Some(Node {
                call: self.call,
                node: child,
                value,
            }),
            _ => None,
        }
    }

    fn index(self, _: usize) -> Option<Self> {
        if let Scanned::List { .. } = self.value {
            // Elements are not kept.
            self.call.bailed.set(true);
        }
        None
    }

    fn kind(self) -> Kind {
        self.kind_of()
    }

    fn admitted_by(self, ty: ArgType) -> bool {
        match (ty, self.value) {
            (ArgType::Any, _) | (_, Scanned::Null) => true,
            (ArgType::String, Scanned::Str(_))
            | (ArgType::Number, Scanned::Num { .. })
            | (ArgType::Boolean, Scanned::Bool(_))
            | (ArgType::List, Scanned::List { .. })
            | (ArgType::Object, Scanned::Obj { .. }) => true,
            (ArgType::Integer, Scanned::Num { value, .. }) => value.fract() == 0.0,
            _ => false,
        }
    }
}

/// A decision on a call read from its text ([`crate::Policy::evaluate_json`]), with what
/// its JSON and the approval runtime need of the call.
#[derive(Debug)]
pub struct JsonDecision<'a> {
    decision: crate::Decision<'a>,
    call: JsonCall<'a>,
}

#[derive(Debug)]
enum JsonCall<'a> {
    Scanned(ScannedCall<'a>),
    Full(ToolCall),
}

impl<'a> JsonDecision<'a> {
    pub(crate) fn scanned(decision: crate::Decision<'a>, call: ScannedCall<'a>) -> Self {
        JsonDecision {
            decision,
            call: JsonCall::Scanned(call),
        }
    }

    pub(crate) fn full(decision: crate::Decision<'a>, call: ToolCall) -> Self {
        JsonDecision {
            decision,
            call: JsonCall::Full(call),
        }
    }

    /// The decision.
    pub fn decision(&self) -> &crate::Decision<'a> {
        &self.decision
    }

    /// The call's tool.
    pub fn tool(&self) -> &str {
        match &self.call {
            JsonCall::Scanned(c) => c.tool,
            JsonCall::Full(c) => &c.tool,
        }
    }

    /// The call's id, if it has one.
    pub fn id(&self) -> Option<&str> {
        match &self.call {
            JsonCall::Scanned(c) => c.id,
            JsonCall::Full(c) => c.id.as_deref(),
        }
    }

    /// The decision's JSON, as [`crate::Decision::json`] writes it.
    pub fn json(&self) -> crate::DecisionJson<'_, 'a> {
        match &self.call {
            JsonCall::Scanned(c) => self
                .decision
                .json_of(crate::eval::decision::CallRef::Scanned(c)),
            JsonCall::Full(c) => self.decision.json(c),
        }
    }

    /// The whole call (what the approval runtime keeps for an `approve`), read in full
    /// when the fast reader decided it.
    pub fn to_call(&self) -> Result<ToolCall, CallError> {
        match &self.call {
            JsonCall::Scanned(c) => c.to_call(),
            JsonCall::Full(c) => Ok(c.clone()),
        }
    }

    /// Whether the fast reader decided the call (else it was read in full). A reason's
    /// hole it did not keep is still rendered from the call read in full.
    pub fn read_fast(&self) -> bool {
        matches!(self.call, JsonCall::Scanned(_))
    }
}
