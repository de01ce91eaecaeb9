//! Text to syntax tree: the pest grammar in `grammar/gate.pest`, lowered to [`crate::ast`].
//!
//! A syntax error names the file, line and column and says in words what was expected;
//! pest's rule names never reach the user (see `labels`).

pub(crate) mod comments;
pub(crate) mod format;
mod labels;
mod lower;

use pest::Parser as _;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

mod grammar {
    //! The pest parser generated from `grammar/gate.pest`; never leaves this module tree.
    #![allow(missing_docs)]

    #[derive(pest_derive::Parser)]
    #[grammar = "../grammar/gate.pest"]
    pub(crate) struct GateParser;
}

use grammar::{GateParser, Rule};

/// Parses one file. On failure returns at least one diagnostic.
pub fn parse(file: FileId, text: &str) -> Result<ast::File, Vec<Diagnostic>> {
    // Every later stage recurses along a condition's nesting: bound it before any does.
    if let Some((start, end)) = comments::too_deep(text) {
        return Err(vec![
            Diagnostic::new(
                Code::TooDeep,
                Span::new(file, start, end),
                format!(
                    "this condition nests deeper than {} levels (brackets and stacked `not`s)",
                    comments::MAX_NESTING
                ),
            )
            .with_help("split it: name a part as a class, or write it as several rules"),
        ]);
    }
    let pairs = match GateParser::parse(Rule::file, text) {
        Ok(pairs) => pairs,
        Err(err) => return Err(vec![syntax_error(file, text, &err)]),
    };
    lower::file(file, pairs)
}

fn syntax_error(file: FileId, text: &str, err: &pest::error::Error<Rule>) -> Diagnostic {
    let pos = match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let found = found_at(text, pos);
    let expected = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => labels::expected(positives),
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    let end = pos
        + text
            .get(pos..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8);
    let d = Diagnostic::new(
        Code::Syntax,
        Span::new(file, pos, end),
        format!("expected {expected}, found {found}"),
    );
    match likely_fix(text, pos) {
        Some(help) => d.with_help(help),
        None => d,
    }
}

/// The fix for a mistake people make often, from what stands where parsing stopped.
fn likely_fix(text: &str, pos: usize) -> Option<&'static str> {
    let rest = text.get(pos..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if rest.starts_with('=') && !rest.starts_with("==") && !rest.starts_with("=~") {
        return Some("did you mean `==`? (`=` alone is not a comparison)");
    }
    match word.as_str() {
        "timeout" => Some(
            "did you mean `within 2d`? (the SLA is `within`; `on timeout` says what happens after it)",
        ),
        "elif" | "else" | "if" => Some("a rule has no branches: write one rule per case"),
        _ => None,
    }
}

/// A short description of what stands at `pos`: the next word or character.
fn found_at(text: &str, pos: usize) -> String {
    let rest = text.get(pos..).unwrap_or("");
    let Some(c) = rest.chars().next() else {
        return "end of file".to_string();
    };
    if c == '\n' || c == '\r' {
        return "end of line".to_string();
    }
    if c.is_alphanumeric() || c == '_' {
        let word: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .take(40)
            .collect();
        return format!("`{word}`");
    }
    format!("`{c}`")
}

#[cfg(test)]
mod tests;

/// Parses a path written on its own (a `{hole}` of a reason template).
/// `offset` is where the text starts in the file, so spans point at the hole.
pub fn parse_path(file: FileId, text: &str, offset: usize) -> Result<ast::Path, Diagnostic> {
    let mut pairs = GateParser::parse(Rule::path, text).map_err(|e| {
        let mut d = syntax_error(file, text, &e);
        if let Some(span) = d.span.as_mut() {
            span.start += offset as u32;
            span.end += offset as u32;
        }
        d
    })?;
    let whole = pairs.peek().map(|p| p.as_str().len()).unwrap_or(0);
    if whole != text.len() {
        let at = offset + whole;
        return Err(Diagnostic::new(
            Code::BadTemplate,
            Span::new(file, at, offset + text.len()),
            format!("`{text}` is not a path"),
        ));
    }
    let pair = pairs.next().ok_or_else(|| {
        Diagnostic::new(
            Code::BadTemplate,
            Span::new(file, offset, offset),
            "empty hole",
        )
    })?;
    let mut path = lower::path_at(file, pair)?;
    path.span.start += offset as u32;
    path.span.end += offset as u32;
    Ok(path)
}
