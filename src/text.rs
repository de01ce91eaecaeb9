//! Text that came from a call, a proposal or a file, made safe to show a person: hidden
//! characters found, control characters escaped.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether a character does not show as itself: a control character, a format character
/// (zero-width spaces and joiners, the byte-order mark, soft hyphen, bidirectional
/// controls), a line or paragraph separator, or any other default-ignorable code point
/// (variation selectors, the combining grapheme joiner, Hangul fillers, tags), which a
/// renderer draws as nothing.
pub fn is_hidden(c: char) -> bool {
    if c.is_ascii() {
        // The only hidden ASCII characters are the controls (no ASCII format character).
        return c.is_ascii_control();
    }
    hidden_by_properties(c)
}

/// [`is_hidden`] from the Unicode properties alone, for any character.
fn hidden_by_properties(c: char) -> bool {
    c.is_control()
        || matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        )
        || is_default_ignorable(c)
}

/// Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt).
fn is_default_ignorable(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// The text in backticks, with every hidden character written as `\u{XXXX}` (so a
/// reader sees it, and no terminal acts on it).
pub fn quoted(text: &str) -> String {
    format!("`{}`", escape(text))
}

/// The text with every hidden character written as `\u{XXXX}` and a backslash as `\\`
/// only where it starts such an escape; what shows as itself is left as it is.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The form two names or identities are compared in, as people read them: Unicode
/// compatibility folding (NFKC: fullwidth `ｆ` is `f`) and lower case. Hidden characters
/// are not removed: a name that holds one is refused before it is compared.
pub fn fold(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let lower: String = text.nfkc().flat_map(char::to_lowercase).collect();
    lower.nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_found_and_escaped() {
        for c in [
            '\u{1b}',
            '\u{7}',
            '\n',
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{2066}',
            '\u{FEFF}',
            '\u{AD}',
            '\u{2028}',
            '\u{FE0F}',
            '\u{34F}',
            '\u{3164}',
            '\u{115F}',
            '\u{E0041}',
        ] {
            assert!(is_hidden(c), "U+{:04X}", c as u32);
        }
        for c in ['a', ' ', 'é', '日', '.', '_', '-', '/'] {
            assert!(!is_hidden(c), "{c}");
        }
        assert_eq!(escape("db.execute"), "db.execute");
        assert_eq!(escape("a\u{1b}[2Jb"), "a\\u{001B}[2Jb");
        assert_eq!(quoted("x\u{200B}"), "`x\\u{200B}`");
    }

    #[test]
    fn the_ascii_shortcut_agrees_with_the_unicode_properties() {
        for c in (0u8..=0x7f).map(char::from) {
            assert_eq!(is_hidden(c), hidden_by_properties(c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn names_fold_as_people_read_them() {
        assert_eq!(fold("DB.EXECUTE"), "db.execute");
        assert_eq!(fold("ｆｉｏｎａ"), "fiona");
        assert_eq!(fold("FIONA"), fold("fiona"));
        assert_eq!(fold("ﬁona"), "fiona");
        assert_ne!(fold("fiona\u{200B}"), fold("fiona"));
    }
}
