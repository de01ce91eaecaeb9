//! Tool-name globs: `*` matches any run of characters, `?` one character, `\` escapes.

use std::fmt;

/// A checked glob pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Glob {
    pattern: Box<str>,
    tokens: Box<[Tok]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Tok {
    Char(char),
    Any,
    Star,
}

/// Why a glob is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// `""`.
    #[error("an empty glob matches no tool name")]
    Empty,
    /// A `\` with nothing after it.
    #[error("the glob ends with a lone `\\`")]
    TrailingEscape,
}

impl Glob {
    /// Parses a glob.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let mut tokens = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if tokens.last() != Some(&Tok::Star) {
                        tokens.push(Tok::Star);
                    }
                }
                '?' => tokens.push(Tok::Any),
                '\\' => match chars.next() {
                    Some(e) => tokens.push(Tok::Char(e)),
                    None => return Err(GlobError::TrailingEscape),
                },
                c => tokens.push(Tok::Char(c)),
            }
        }
        Ok(Glob {
            pattern: pattern.into(),
            tokens: tokens.into(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The pattern's shape, when it is a plain prefix (`crm.*`), suffix (`*.get`) or
    /// literal; `None` for anything else (`?`, or `*` inside).
    pub fn shape(&self) -> Option<Shape> {
        let lit = |toks: &[Tok]| -> Option<String> {
            toks.iter()
                .map(|t| match t {
                    Tok::Char(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        match &self.tokens[..] {
            [body @ .., Tok::Star] => lit(body).map(Shape::Prefix),
            [Tok::Star, body @ ..] => lit(body).map(Shape::Suffix),
            all => lit(all).map(Shape::Literal),
        }
    }

    /// Whether the pattern has no wildcard (it then matches one name only).
    pub fn literal(&self) -> Option<String> {
        self.tokens
            .iter()
            .map(|t| match t {
                Tok::Char(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    /// Whether `text` matches the whole pattern. Does not allocate.
    pub fn matches(&self, text: &str) -> bool {
        // Iterative matcher with single-star backtracking (byte offsets on char boundaries).
        let toks = &self.tokens;
        let next_char = |at: usize| text.get(at..).and_then(|s| s.chars().next());
        let (mut t, mut c) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while let Some(ch) = next_char(c) {
            match toks.get(t) {
                Some(Tok::Star) => {
                    star = Some((t, c));
                    t += 1;
                }
                Some(Tok::Any) => {
                    t += 1;
                    c += ch.len_utf8();
                }
                Some(Tok::Char(x)) if *x == ch => {
                    t += 1;
                    c += ch.len_utf8();
                }
                _ => match star {
                    Some((st, sc)) => {
                        let step = next_char(sc).map_or(1, char::len_utf8);
                        t = st + 1;
                        c = sc + step;
                        star = Some((st, sc + step));
                    }
                    None => return false,
                },
            }
        }
        toks.get(t..)
            .is_some_and(|rest| rest.iter().all(|tok| *tok == Tok::Star))
    }

    /// The same pattern as an anchored regular expression. `*` is written as any run of
    /// bytes (`(?s-u:.)*`): on valid UTF-8 that is any run of characters, and its automaton
    /// is far smaller than that of Unicode `.`; such a regex needs UTF-8 mode off.
    pub fn to_regex(&self) -> String {
        let mut out = String::from("^");
        for t in self.tokens.iter() {
            match t {
                Tok::Star => out.push_str("(?s-u:.)*"),
                Tok::Any => out.push_str("(?s:.)"),
                Tok::Char(c) => out.push_str(&regex::escape(&c.to_string())),
            }
        }
        out.push('$');
        out
    }
}

/// A glob that is only a literal with at most one `*` at one end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// `P*`: names starting with `P` (`*` alone is the empty prefix).
    Prefix(String),
    /// `*S`: names ending with `S`.
    Suffix(String),
    /// No wildcard: this name only.
    Literal(String),
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).map(|g| g.matches(t)).unwrap_or(false)
    }

    #[test]
    fn star_and_question_mark() {
        assert!(m("bank.*", "bank.wire"));
        assert!(m("bank.*", "bank."));
        assert!(!m("bank.*", "banking"));
        assert!(m("v?.run", "v2.run"));
        assert!(!m("v?.run", "v10.run"));
        assert!(m("*.get", "crm.contacts.get"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("é?", "éü"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
    }

    #[test]
    fn invalid_globs() {
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(Glob::new("a\\"), Err(GlobError::TrailingEscape));
    }

    #[test]
    fn regex_form_agrees() {
        for p in ["bank.*", "v?.run", "*.get", "a+b(*)", "x\\?y"] {
            let g = Glob::new(p).unwrap();
            let r = regex::bytes::RegexBuilder::new(&g.to_regex())
                .unicode(true)
                .build()
                .unwrap();
            for t in [
                "bank.wire",
                "v2.run",
                "crm.get",
                "a+b(zz)",
                "x?y",
                "xzy",
                "",
            ] {
                assert_eq!(g.matches(t), r.is_match(t.as_bytes()), "{p} on {t}");
            }
        }
    }
}
