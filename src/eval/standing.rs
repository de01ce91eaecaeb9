//! How a call's tool stands against the policy's catalog: listed, not listed, or a
//! confusable of a listed tool (equal to it once Unicode compatibility and case are
//! folded, as in `DB.EXECUTE` beside `db.execute`).
//!
//! A confusable is refused: the policy judged one name, while an executor that folds names
//! (a case-insensitive registry, an MCP server that normalizes) may run the other.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::catalog::Catalog;

/// How a call's tool stands against the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolStanding<'p> {
    /// The policy has no catalog.
    NoCatalog,
    /// The catalog lists the tool.
    Listed,
    /// The catalog does not list it (reported as `unknown_tool`).
    Unlisted,
    /// Not listed, but it folds to this listed tool: refused.
    Confusable(&'p str),
}

/// The catalog's tool names, for a lookup per call, and their folded forms.
#[derive(Debug)]
pub(crate) struct ToolIndex {
    listed: FxHashSet<Box<str>>,
    folded: FxHashMap<String, Box<str>>,
}

impl ToolIndex {
    pub(crate) fn new(catalog: &Catalog) -> ToolIndex {
        ToolIndex {
            listed: catalog.tools.keys().map(|k| k.as_str().into()).collect(),
            folded: catalog
                .tools
                .keys()
                .map(|k| (crate::text::fold(k), k.as_str().into()))
                .collect(),
        }
    }

    /// The standing of `tool`: one hash lookup for a listed tool, two for an unlisted one.
    /// Nothing allocates for an ASCII name of up to [`STACK_NAME`] bytes (folding it is
    /// lowering its case, on the stack); a longer or non-ASCII name is folded on the heap.
    pub(crate) fn standing(&self, tool: &str) -> ToolStanding<'_> {
        if self.listed.contains(tool) {
            return ToolStanding::Listed;
        }
        let found = match ascii_lower(tool, &mut [0u8; STACK_NAME]) {
            Some(lower) => self.folded.get(lower),
            None => self.folded.get(&crate::text::fold(tool)),
        };
        match found {
            Some(name) => ToolStanding::Confusable(name),
            None => ToolStanding::Unlisted,
        }
    }
}

/// The longest tool name folded without allocating.
const STACK_NAME: usize = 128;

/// An ASCII name in lower case, written into `buf`; `None` for a name that is not ASCII
/// or does not fit (NFKC leaves ASCII as it is, so this is its fold).
fn ascii_lower<'b>(name: &str, buf: &'b mut [u8; STACK_NAME]) -> Option<&'b str> {
    if !name.is_ascii() {
        return None;
    }
    let out = buf.get_mut(..name.len())?;
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = b.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}
