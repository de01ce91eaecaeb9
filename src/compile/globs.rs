//! Every `tool matches` glob of a policy, tested at once by one automaton.
//!
//! The globs become one multi-pattern DFA (`regex-automata`, all matches reported). A
//! search walks the name's bytes once and reads, at the end, which patterns matched. The
//! DFA is immutable and needs no cache, so the hot path takes no lock and mutates nothing.
//! If the DFA would be too large, the globs are tested one after another instead.

use regex_automata::dfa::{Automaton, dense};
use regex_automata::{Anchored, Input, MatchKind};

use crate::glob::Glob;

/// A combined matcher over a list of globs.
#[derive(Debug)]
pub struct GlobMatcher {
    kind: Kind,
    count: usize,
}

#[derive(Debug)]
enum Kind {
    None,
    Dfa(Box<dense::DFA<Vec<u32>>>),
    Sequential(Vec<Glob>),
}

/// Bits of matched globs: inline for up to 256 globs.
pub type Hits = smallvec::SmallVec<[u64; 4]>;

impl GlobMatcher {
    /// Builds the matcher.
    pub fn new(patterns: &[String]) -> GlobMatcher {
        let globs: Vec<Glob> = patterns.iter().filter_map(|p| Glob::new(p).ok()).collect();
        let count = globs.len();
        if globs.is_empty() {
            return GlobMatcher {
                kind: Kind::None,
                count,
            };
        }
        let regexes: Vec<String> = globs.iter().map(Glob::to_regex).collect();
        let built = dense::Builder::new()
            .configure(
                dense::DFA::config()
                    .match_kind(MatchKind::All)
                    .starts_for_each_pattern(false)
                    .dfa_size_limit(Some(32 << 20))
                    .determinize_size_limit(Some(64 << 20)),
            )
            .build_many(&regexes);
        let kind = match built {
            Ok(dfa) => Kind::Dfa(Box::new(dfa)),
            Err(_) => Kind::Sequential(globs),
        };
        GlobMatcher { kind, count }
    }

    /// How the globs are matched, for `policy tree`.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::None => "no globs".to_string(),
            Kind::Dfa(d) => format!(
                "{} glob(s) in one DFA ({} bytes)",
                self.count,
                d.memory_usage()
            ),
            Kind::Sequential(g) => format!(
                "{} glob(s) tested one by one (the combined DFA would be too large)",
                g.len()
            ),
        }
    }

    /// Sets in `hits` the bit of every glob that matches `name`.
    pub fn matches(&self, name: &str, hits: &mut Hits) {
        let words = self.count.div_ceil(64);
        hits.clear();
        hits.resize(words, 0);
        match &self.kind {
            Kind::None => {}
            Kind::Sequential(globs) => {
                for (i, g) in globs.iter().enumerate() {
                    if g.matches(name) {
                        set(hits, i);
                    }
                }
            }
            Kind::Dfa(dfa) => {
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
                        set(hits, dfa.match_pattern(sid, i).as_usize());
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
        let pats: Vec<String> = ["bank.*", "*.get", "v?.run", "bank.get", "*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = GlobMatcher::new(&pats);
        assert!(m.describe().contains("DFA"), "{}", m.describe());
        let mut hits = Hits::new();
        for name in [
            "bank.get", "crm.get", "v2.run", "v10.run", "bankget", "", "é.get",
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
