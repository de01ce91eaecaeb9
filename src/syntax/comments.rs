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
