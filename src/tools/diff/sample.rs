//! Example calls spread over the tools: a move that a thousand `crm.get` calls and one
//! `db.execute` call make shows both tools, not the first three `crm.get` calls.

use super::{EXAMPLES_PER_MOVE, Example};

/// Keeps the first calls of each of the first tools seen (at most [`EXAMPLES_PER_MOVE`]
/// of each, so memory stays constant), and gives them back one tool at a time in turn.
/// The same input gives the same examples.
#[derive(Debug, Clone, Default)]
pub(super) struct Sampler {
    /// Per tool, in the order the tools were first seen: its first examples.
    by_tool: Vec<Vec<Example>>,
}

impl Sampler {
    /// Offers a call of `tool`; `example` builds it only if it is kept.
    pub(super) fn offer(&mut self, tool: &str, example: impl FnOnce() -> Example) {
        let tools = self.by_tool.len();
        let known = self
            .by_tool
            .iter_mut()
            .find(|list| list.first().is_some_and(|e| e.tool == tool));
        match known {
            Some(list) if list.len() < EXAMPLES_PER_MOVE => list.push(example()),
            Some(_) => {}
            None if tools < EXAMPLES_PER_MOVE => self.by_tool.push(vec![example()]),
            None => {}
        }
    }

    /// The examples, round-robin over the tools (the first call of each tool, then the
    /// second of each ...), at most [`EXAMPLES_PER_MOVE`], in line order.
    pub(super) fn take(self) -> Vec<Example> {
        let mut lists: Vec<std::vec::IntoIter<Example>> =
            self.by_tool.into_iter().map(Vec::into_iter).collect();
        let mut out = Vec::new();
        while out.len() < EXAMPLES_PER_MOVE {
            let before = out.len();
            for list in &mut lists {
                if out.len() < EXAMPLES_PER_MOVE
                    && let Some(e) = list.next()
                {
                    out.push(e);
                }
            }
            if out.len() == before {
                break;
            }
        }
        out.sort_by_key(|e| e.line);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(tools: &[&str]) -> Vec<(usize, String)> {
        let mut s = Sampler::default();
        for (i, t) in tools.iter().enumerate() {
            s.offer(t, || Example {
                line: i + 1,
                tool: t.to_string(),
                old_rules: Vec::new(),
                new_rules: Vec::new(),
            });
        }
        s.take().into_iter().map(|e| (e.line, e.tool)).collect()
    }

    #[test]
    fn examples_take_one_tool_at_a_time() {
        let got = sample(&["a", "a", "a", "a", "b", "c", "d"]);
        assert_eq!(got, [(1, "a".into()), (5, "b".into()), (6, "c".into())]);
        let got = sample(&["a", "a", "a", "b", "b"]);
        assert_eq!(got, [(1, "a".into()), (2, "a".into()), (4, "b".into())]);
        let got = sample(&["a", "a", "a", "a"]);
        assert_eq!(got, [(1, "a".into()), (2, "a".into()), (3, "a".into())]);
        assert!(sample(&[]).is_empty());
    }
}
