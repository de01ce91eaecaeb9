//! Where `#` comments and string literals are in policy text: the one scanner that the
//! formatter, the inline lint allowances (`# policy: allow(CODE)`) and the raw-text lints
//! share. A `#` inside a string literal is not a comment; a string literal ends at its
//! closing `"` (a `\` escapes the next character) or at the end of the line.

/// What a character of policy text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Code outside strings and comments.
    Code,
    /// A string literal, its quotes included.
    String,
    /// A `#` comment, its `#` included.
    Comment,
}

/// Every character of `text` with its byte offset and the region it belongs to. Newlines
/// are `Code`.
pub fn regions(text: &str) -> impl Iterator<Item = (usize, char, Region)> + '_ {
    let mut region = Region::Code;
    let mut escaped = false;
    text.char_indices().map(move |(i, c)| {
        if c == '\n' {
            region = Region::Code;
            escaped = false;
            return (i, c, Region::Code);
        }
        match region {
            Region::Comment => (i, c, Region::Comment),
            Region::String => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    region = Region::Code;
                }
                (i, c, Region::String)
            }
            Region::Code => match c {
                '#' => {
                    region = Region::Comment;
                    (i, c, Region::Comment)
                }
                '"' => {
                    region = Region::String;
                    (i, c, Region::String)
                }
                _ => (i, c, Region::Code),
            },
        }
    })
}

/// The characters of `text` outside string literals and comments, with their offsets.
pub fn code_chars(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    regions(text)
        .filter(|&(_, _, r)| r == Region::Code)
        .map(|(i, c, _)| (i, c))
}

/// Where a line's `#` comment starts, if it has one.
pub fn comment_start(line: &str) -> Option<usize> {
    regions(line)
        .find(|&(_, _, r)| r == Region::Comment)
        .map(|(i, _, _)| i)
}

/// The deepest a condition may nest: brackets, plus the `not`s that stack inside them.
/// Every stage (parser, checker, compiler, evaluators) recurses along this nesting, so it
/// is bounded once, before parsing, with an error at the place it is passed.
pub const MAX_NESTING: usize = 16;

/// The byte range of the first bracket or `not` that nests deeper than [`MAX_NESTING`].
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    // One count of stacked `not`s per open bracket (and one outside any).
    let mut nots: Vec<usize> = vec![0];
    let mut word_start: Option<usize> = None;
    let depth = |nots: &Vec<usize>| nots.len() - 1 + nots.iter().sum::<usize>();
    let mut chars = regions(text).peekable();
    while let Some((i, c, region)) = chars.next() {
        if region != Region::Code {
            word_start = None;
            continue;
        }
        if c.is_alphanumeric() || c == '_' {
            let start = *word_start.get_or_insert(i);
            let ends = chars
                .peek()
                .is_none_or(|&(_, n, r)| r != Region::Code || !(n.is_alphanumeric() || n == '_'));
            if ends {
                word_start = None;
                match text.get(start..i + c.len_utf8()) {
                    Some("not") => {
                        if let Some(top) = nots.last_mut() {
                            *top += 1;
                        }
                        if depth(&nots) > MAX_NESTING {
                            return Some((start, i + 1));
                        }
                    }
                    Some("and" | "or") => {
                        if let Some(top) = nots.last_mut() {
                            *top = 0;
                        }
                    }
                    _ => {}
                }
            }
            continue;
        }
        word_start = None;
        match c {
            '(' | '[' => {
                nots.push(0);
                if depth(&nots) > MAX_NESTING {
                    return Some((i, i + 1));
                }
            }
            ')' | ']' if nots.len() > 1 => {
                nots.pop();
            }
            _ => {}
        }
    }
    None
}

/// A text without what ends it that is not code: trailing blanks, newlines and the
/// comments on the lines it ends with.
pub fn strip_comment_lines(text: &str) -> &str {
    let mut end = 0;
    for (i, c, region) in regions(text) {
        if region != Region::Comment && !c.is_whitespace() {
            end = i + c.len_utf8();
        }
    }
    text.get(..end).unwrap_or(text)
}

/// A line without its `#` comment.
pub fn strip_comment(line: &str) -> &str {
    match comment_start(line) {
        Some(at) => line.get(..at).unwrap_or(line),
        None => line,
    }
}

/// The comment of a line, from its `#` to the end of the line, if it has one.
pub fn comment_of(line: &str) -> Option<&str> {
    comment_start(line).and_then(|at| line.get(at..))
}

/// A `#` comment in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment<'t> {
    /// 1-based line.
    pub line: usize,
    /// The comment from its `#` to the end of the line, without trailing blanks.
    pub text: &'t str,
    /// Whether only blanks come before it on its line.
    pub own_line: bool,
}

/// Every comment of a text, in order.
pub fn comments(text: &str) -> impl Iterator<Item = Comment<'_>> + '_ {
    text.lines().enumerate().filter_map(|(i, line)| {
        let at = comment_start(line)?;
        Some(Comment {
            line: i + 1,
            text: line.get(at..).unwrap_or("").trim_end(),
            own_line: line.get(..at).unwrap_or("").trim().is_empty(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_inside_a_string_is_not_a_comment() {
        assert_eq!(comment_start(r#"when x == "a#b" # real"#), Some(16));
        assert_eq!(
            strip_comment(r##"reason "say \"#1\"" # c"##),
            r##"reason "say \"#1\"" "##
        );
        assert_eq!(comment_start(r##"reason "# policy: allow(W106)""##), None);
        assert_eq!(comment_start(r#"x == "a\\" # c"#), Some(11));
    }

    #[test]
    fn a_string_ends_at_the_end_of_its_line() {
        let text = "reason \"open\n# a comment\n";
        let got: Vec<_> = comments(text).collect();
        assert_eq!(
            got,
            vec![Comment {
                line: 2,
                text: "# a comment",
                own_line: true
            }]
        );
    }

    #[test]
    fn nesting_is_bounded_by_brackets_and_stacked_nots() {
        let deep = |n: usize| format!("{}x{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(too_deep(&deep(MAX_NESTING)), None);
        assert_eq!(
            too_deep(&deep(MAX_NESTING + 1)),
            Some((MAX_NESTING, MAX_NESTING + 1))
        );
        assert!(too_deep(&"not ".repeat(MAX_NESTING + 1)).is_some());
        // `and` and `or` end a negation; strings and comments do not count.
        assert_eq!(too_deep(&"not a and ".repeat(500)), None);
        assert_eq!(
            too_deep(&format!("\"{}\" # {}", "(".repeat(100), "(".repeat(100))),
            None
        );
        assert!(too_deep(&format!("{}x", "not (".repeat(40))).is_some());
    }

    #[test]
    fn regions_cover_every_character() {
        let text = "a \"b#\" # c\nd";
        let kinds: String = regions(text)
            .map(|(_, _, r)| match r {
                Region::Code => 'c',
                Region::String => 's',
                Region::Comment => '#',
            })
            .collect();
        assert_eq!(kinds, "ccssssc###cc");
    }
}
