//! The paths of the call a policy reads, as a tree of keys: what the fast call reader
//! keeps while it scans a call's text (everything else it validates and skips).

use rustc_hash::FxHashMap;

use crate::compile::{Fallback, Slice};
use crate::ir::{PathExpr, Program, Root, Seg, TemplatePart};

/// Node of `args`.
pub(crate) const ARGS: u32 = 0;
/// Node of `context`.
pub(crate) const CONTEXT: u32 = 1;

/// Children kept in a list up to this many; a hash map beyond.
const FEW: usize = 8;

/// Every path a policy reads of `args` and `context` (by object keys), as a tree: node 0
/// is `args`, node 1 `context`, and each key under them a node of its own.
#[derive(Debug)]
pub(crate) struct CallPaths {
    nodes: Vec<Node>,
}

#[derive(Debug, Default)]
struct Node {
    few: Vec<(Box<str>, u32)>,
    many: Option<FxHashMap<Box<str>, u32>>,
}

impl Default for CallPaths {
    fn default() -> Self {
        CallPaths {
            nodes: vec![Node::default(), Node::default()],
        }
    }
}

impl CallPaths {
    /// The paths every slot of the tree's programs and every reason's hole reads.
    pub(crate) fn of(program: &Program, slices: &[Slice], fallback: &Fallback) -> CallPaths {
        let mut out = CallPaths::default();
        for read in slices
            .iter()
            .flat_map(|s| s.slots.reads.iter())
            .chain(fallback.slots.reads.iter())
        {
            out.add(&read.path);
        }
        for rule in &program.rules {
            for part in rule.reason.iter().flat_map(|t| t.parts.iter()) {
                if let TemplatePart::Hole(term) = part
                    && let Some(p) = term.path()
                {
                    out.add(p);
                }
            }
        }
        out
    }

    /// How many nodes there are.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The node of key `key` under `node`, if a path the policy reads goes there.
    #[inline]
    pub(crate) fn child(&self, node: u32, key: &str) -> Option<u32> {
        let n = self.nodes.get(node as usize)?;
        match &n.many {
            Some(map) => map.get(key).copied(),
            None => n.few.iter().find(|(k, _)| &**k == key).map(|&(_, id)| id),
        }
    }

    /// Whether any path goes under `node`.
    #[inline]
    pub(crate) fn has_children(&self, node: u32) -> bool {
        self.nodes
            .get(node as usize)
            .is_some_and(|n| !n.few.is_empty() || n.many.is_some())
    }

    /// Adds a path of `args` or `context` made of keys (a list index ends it: what is under
    /// an index is not kept, and a read of it leaves the fast reader).
    pub(crate) fn add(&mut self, path: &PathExpr) {
        let mut node = match path.root {
            Root::Args => ARGS,
            Root::Context => CONTEXT,
            Root::Var(_) => return,
        };
        for seg in path.segments.iter() {
            let Seg::Key(k) = seg else { return };
            node = match self.child(node, k) {
                Some(c) => c,
                None => self.insert(node, k),
            };
        }
    }

    fn insert(&mut self, parent: u32, key: &str) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node::default());
        if let Some(n) = self.nodes.get_mut(parent as usize) {
            match &mut n.many {
                Some(map) => {
                    map.insert(key.into(), id);
                }
                None => {
                    n.few.push((key.into(), id));
                    if n.few.len() > FEW {
                        n.many = Some(n.few.drain(..).collect());
                    }
                }
            }
        }
        id
    }
}
