//! Every `tool matches` glob of a policy, tested at once by one combined matcher.
//!
//! Most globs are a prefix (`crm.*`), a suffix (`*.get`) or a literal. Those go into two
//! byte tries: one walk forward over the name finds every prefix and literal glob that
//! matches, one walk backward every suffix glob. The few others (`?`, or `*` inside) go
//! into one multi-pattern DFA (`regex-automata`, all matches reported), walked once. The
//! tries and the DFA are immutable and need no cache, so the hot path takes no lock and
//! mutates nothing. If that DFA would be too large, those globs are tested in turn.

use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input, MatchKind};

use crate::ir::glob::{Glob, Shape};

/// A combined matcher over a list of globs.
#[derive(Debug)]
pub struct GlobMatcher {
    forward: Trie,
    backward: Trie,
    rest: Rest,
    /// Glob index of each pattern of `rest`.
    rest_ids: Vec<u32>,
    count: usize,
}

#[derive(Debug)]
enum Rest {
    None,
    Dfa(Box<dense::DFA<Vec<u32>>>),
    Sequential(Vec<Glob>),
}

#[derive(Debug, Default)]
struct Node {
    edges: Vec<(u8, u32)>,
    /// Globs whose prefix (or reversed suffix) ends here.
    open: Vec<u32>,
    /// Literal globs that end here (forward trie only).
    exact: Vec<u32>,
}

#[derive(Debug)]
struct Trie {
    nodes: Vec<Node>,
}

impl Trie {
    fn new() -> Trie {
        Trie {
            nodes: vec![Node::default()],
        }
    }

    fn insert(&mut self, bytes: impl Iterator<Item = u8>, id: u32, exact: bool) {
        let mut at = 0usize;
        for b in bytes {
            let next = self.nodes.get(at).and_then(|n| {
                n.edges
                    .iter()
                    .find(|(e, _)| *e == b)
                    .map(|(_, t)| *t as usize)
            });
            at = match next {
                Some(t) => t,
                None => {
                    let t = self.nodes.len();
                    self.nodes.push(Node::default());
                    if let Some(n) = self.nodes.get_mut(at) {
                        n.edges.push((b, t as u32));
                    }
                    t
                }
            };
        }
        if let Some(n) = self.nodes.get_mut(at) {
            if exact {
                n.exact.push(id);
            } else {
                n.open.push(id);
            }
        }
    }

    fn walk(&self, bytes: impl Iterator<Item = u8>, hits: &mut Hits) {
        let Some(mut node) = self.nodes.first() else {
            return;
        };
        node.open.iter().for_each(|&i| set(hits, i as usize));
        for b in bytes {
            let Some(next) = node
                .edges
                .iter()
                .find(|(e, _)| *e == b)
                .and_then(|(_, t)| self.nodes.get(*t as usize))
            else {
                return;
            };
            node = next;
            node.open.iter().for_each(|&i| set(hits, i as usize));
        }
        node.exact.iter().for_each(|&i| set(hits, i as usize));
    }
}

/// Bits of matched globs: inline for up to 256 globs.
pub type Hits = smallvec::SmallVec<[u64; 4]>;

impl GlobMatcher {
    /// Builds the matcher; bit `i` of a result is `patterns[i]`.
    pub fn new(patterns: &[String]) -> GlobMatcher {
        let mut forward = Trie::new();
        let mut backward = Trie::new();
        let mut others: Vec<Glob> = Vec::new();
        let mut rest_ids = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let Ok(g) = Glob::new(p) else { continue };
            let id = i as u32;
            match g.shape() {
                Some(Shape::Prefix(s)) => forward.insert(s.bytes(), id, false),
                Some(Shape::Literal(s)) => forward.insert(s.bytes(), id, true),
                Some(Shape::Suffix(s)) => backward.insert(s.bytes().rev(), id, false),
                None => {
                    others.push(g);
                    rest_ids.push(id);
                }
            }
        }
        let rest = if others.is_empty() {
            Rest::None
        } else {
            let regexes: Vec<String> = others.iter().map(Glob::to_regex).collect();
            let built = dense::Builder::new()
                .syntax(regex_automata::util::syntax::Config::new().utf8(false))
                .thompson(regex_automata::nfa::thompson::Config::new().utf8(false))
                .configure(
                    dense::DFA::config()
                        .match_kind(MatchKind::All)
                        .starts_for_each_pattern(false)
                        .dfa_size_limit(Some(8 << 20))
                        .determinize_size_limit(Some(16 << 20)),
                )
                .build_many(&regexes);
            match built {
                Ok(dfa) => Rest::Dfa(Box::new(dfa)),
                Err(_) => Rest::Sequential(others),
            }
        };
        GlobMatcher {
            forward,
            backward,
            rest,
            rest_ids,
            count: patterns.len(),
        }
    }

    /// How the globs are matched, for `policy tree`.
    pub fn describe(&self) -> String {
        if self.count == 0 {
            return "no globs".to_string();
        }
        let others = self.rest_ids.len();
        let rest = match &self.rest {
            Rest::None => String::new(),
            Rest::Dfa(d) => format!(
                ", {others} other(s) in one DFA ({} bytes)",
                d.memory_usage()
            ),
            Rest::Sequential(_) => {
                format!(", {others} other(s) tested in turn (one DFA would be too large)")
            }
        };
        format!(
            "{} glob(s): prefixes, literals and suffixes in two tries{rest}",
            self.count
        )
    }

    /// Sets in `hits` the bit of every glob that matches `name`.
    pub fn matches(&self, name: &str, hits: &mut Hits) {
        let words = self.count.div_ceil(64);
        hits.clear();
        hits.resize(words, 0);
        if self.count == 0 {
            return;
        }
        self.forward.walk(name.bytes(), hits);
        self.backward.walk(name.bytes().rev(), hits);
        match &self.rest {
            Rest::None => {}
            Rest::Sequential(globs) => {
                for (g, id) in globs.iter().zip(&self.rest_ids) {
                    if g.matches(name) {
                        set(hits, *id as usize);
                    }
                }
            }
            Rest::Dfa(dfa) => {
                let input = Input::new(name).anchored(Anchored::Yes);
                let Ok(mut sid) = dfa.start_state_forward(&input) else {
                    return;
                };
                for &b in name.as_bytes() {
                    sid = dfa.next_state(sid, b);
                    if dfa.is_dead_state(sid) {
                        return;
                    }
                }
                sid = dfa.next_eoi_state(sid);
                if dfa.is_match_state(sid) {
                    for i in 0..dfa.match_len(sid) {
                        if let Some(id) = self.rest_ids.get(dfa.match_pattern(sid, i).as_usize()) {
                            set(hits, *id as usize);
                        }
                    }
                }
            }
        }
    }
}

fn set(hits: &mut Hits, i: usize) {
    if let Some(w) = hits.get_mut(i / 64) {
        *w |= 1u64 << (i % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_matching_glob() {
        let pats: Vec<String> = [
            "bank.*", "*.get", "v?.run", "bank.get", "*", "a*b*c", "bank.", "*.", "é*", "*é",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let m = GlobMatcher::new(&pats);
        assert!(
            m.describe().contains("2 other(s) in one DFA"),
            "{}",
            m.describe()
        );
        let mut hits = Hits::new();
        for name in [
            "bank.get", "crm.get", "v2.run", "v10.run", "bankget", "", "é.get", "axbxc", "bank.",
            "ébé", "abc",
        ] {
            m.matches(name, &mut hits);
            for (i, p) in pats.iter().enumerate() {
                let want = Glob::new(p).unwrap().matches(name);
                let got = hits[i / 64] & (1 << (i % 64)) != 0;
                assert_eq!(got, want, "{p} on {name:?}");
            }
        }
    }
}
