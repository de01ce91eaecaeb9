//! Findings about a policy (errors and warnings), each with a code, a span and a message.

use serde::Serialize;

use crate::source::{SourceMap, Span};

/// How serious a finding is: errors stop a policy from loading, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy is still usable.
    Warning,
    /// The policy cannot be loaded.
    Error,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $sev:ident, $name:literal, $title:literal; )*) => {
        /// The stable code of every finding. `docs/language.md` lists them all.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, such as `E012`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// Whether findings with this code are errors or warnings.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* }
            }

            /// A short title for documentation and listings.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }

            /// The stable kebab-case name, such as `async-gate-without-owner`.
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// The code with this code (`W107`) or name (`async-gate-without-owner`).
            pub fn find(text: &str) -> Option<Code> {
                let t = text.trim();
                Code::ALL
                    .iter()
                    .copied()
                    .find(|c| c.as_str().eq_ignore_ascii_case(t) || c.name() == t)
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    Syntax = "E001", Error, "syntax-error", "syntax error";
    /// `on timeout approve` (or `allow`): a gate may never approve itself.
    TimeoutApprove = "E002", Error, "timeout-approve", "a timeout can never approve";
    /// A string literal has an escape the language does not know.
    BadEscape = "E003", Error, "bad-escape", "invalid escape in a string";
    /// A number literal is out of range.
    BadNumber = "E004", Error, "bad-number", "invalid number";
    /// The policy has no `default`.
    MissingDefault = "E010", Error, "missing-default", "missing default";
    /// More than one `default` across the policy's files.
    RepeatedDefault = "E011", Error, "repeated-default", "repeated default";
    /// Two rules or classes share a name.
    DuplicateName = "E012", Error, "duplicate-name", "duplicate name";
    /// A name that is not a class, nor a variable in scope.
    UnknownClass = "E013", Error, "unknown-name", "unknown class or name";
    /// Classes that refer to each other in a loop.
    ClassCycle = "E014", Error, "class-cycle", "class cycle";
    /// An option that does not belong to the rule's effect.
    OptionNotAllowed = "E015", Error, "option-not-allowed", "option not allowed for this effect";
    /// The same option twice in one rule.
    RepeatedOption = "E016", Error, "repeated-option", "repeated option";
    /// A rule without `when`.
    MissingWhen = "E017", Error, "missing-when", "rule without a condition";
    /// A `=~` pattern that is not a valid regular expression.
    InvalidRegex = "E018", Error, "invalid-regex", "invalid regex";
    /// A `matches` pattern that is not a valid glob.
    InvalidGlob = "E019", Error, "invalid-glob", "invalid glob";
    /// A `within` duration of zero or too long.
    BadDuration = "E020", Error, "bad-duration", "bad duration";
    /// More than one `policy "name"` header.
    RepeatedHeader = "E021", Error, "repeated-header", "repeated policy header";
    /// A comparison whose operand types can never agree (`args.n > "5"`).
    TypeMismatch = "E022", Error, "type-mismatch", "comparison of the wrong type";
    /// A value used where a condition is expected, or a path that cannot be a list.
    NotACondition = "E023", Error, "not-a-condition", "not a condition";
    /// A `{hole}` in a reason that is not a path.
    BadTemplate = "E024", Error, "bad-template", "invalid reason template";
    /// An empty approver group or an empty list of decisions.
    BadOptionValue = "E025", Error, "bad-option-value", "invalid option value";
    /// A tool name that the catalog does not list.
    UnknownTool = "E030", Error, "unknown-tool", "unknown tool";
    /// An argument path that the catalog does not list for the rule's tools.
    UnknownArgument = "E031", Error, "unknown-argument", "unknown argument";
    /// A comparison whose type contradicts the catalog.
    CatalogType = "E032", Error, "catalog-type", "comparison against the wrong catalog type";
    /// The tool catalog could not be read.
    BadCatalog = "E033", Error, "bad-catalog", "invalid tool catalog";
    /// A glob that matches no tool of the catalog.
    GlobMatchesNoTool = "W101", Warning, "glob-matches-no-tool", "glob matches no catalog tool";
    /// An allow or audit rule that can match calls of a `never auto` class.
    NeverAutoOverlap = "W102", Warning, "never-auto-overlap", "allow/audit rule overlaps a never-auto class";
    /// `on timeout` without `within`: the timeout can never happen.
    TimeoutWithoutWithin = "W103", Warning, "timeout-without-within", "`on timeout` without `within`";
    /// A condition no call can satisfy.
    NeverMatches = "W104", Warning, "impossible-condition", "rule can never match";
    /// A rule whose condition every call satisfies (an error on allow and audit rules).
    AlwaysTrue = "W105", Warning, "always-true", "condition always holds";
    /// An optional argument used without `exists()`: calls that omit it fail closed.
    UnguardedOptional = "W106", Warning, "unguarded-optional", "optional argument used without exists()";
    /// An async gate with no `by` or no `within`: it can wait unseen forever.
    AsyncGateWithoutOwner = "W107", Warning, "async-gate-without-owner", "async gate without owner or deadline";
    /// A class nothing uses.
    UnusedClass = "W108", Warning, "unused-class", "class never used";
    /// A name with letters that look like other letters (Cyrillic `а` for Latin `a`).
    ConfusableIdentifier = "W109", Warning, "confusable-identifier", "name with look-alike letters";
    /// Another rule of the same effect matches every call this one matches.
    RedundantRule = "W111", Warning, "redundant-rule", "rule adds nothing";
    /// An allow or audit rule whose every call is gated or denied anyway.
    DeadPermissiveRule = "W112", Warning, "dead-permissive-rule", "allow/audit rule never changes a decision";
    /// A gate that waits for a group the approvers file beside the policy does not list.
    UnknownApproverGroup = "W113", Warning, "unknown-approver-group", "gate waits for a group with no approvers";
    /// A gate whose quorum (`by N of ...`) is more people than its groups have.
    UnreachableQuorum = "W114", Warning, "unreachable-quorum", "gate needs more approvers than its groups have";
    /// A file not in the layout `policy fmt` gives (off unless a `.policy.yaml` sets it).
    NotFormatted = "W110", Warning, "not-formatted", "file not formatted";
    /// Bidirectional control characters, which can make text read differently than it runs.
    BidiCharacters = "E034", Error, "bidi-characters", "bidirectional control characters";
    /// A `.policy.yaml` that cannot be read.
    BadConfig = "E035", Error, "bad-config", "invalid .policy.yaml";
    /// An `approvers.yaml` that cannot be read.
    BadApprovers = "E036", Error, "bad-approvers", "invalid approvers file";
    /// Conditions nested, or classes chained, deeper than every stage handles.
    TooDeep = "E037", Error, "too-deep", "nesting too deep";
}

/// One finding: code, severity, message, where, and an optional hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// The stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// One line, lowercase, user text in backticks.
    pub message: String,
    /// Where it is, if it is anywhere in the sources.
    pub span: Option<Span>,
    /// A label printed under the caret.
    pub label: Option<String>,
    /// A hint on how to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A finding with the code's own severity.
    pub fn new(code: Code, span: impl Into<Option<Span>>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span: span.into(),
            label: None,
            help: None,
        }
    }

    /// Adds a hint.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a label under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the finding as a compiler would (file, line, column, the source line, a
    /// caret under the span, a `help:` line), without colour.
    pub fn render(&self, sources: &SourceMap) -> String {
        self.render_styled(sources, false)
    }

    /// Renders the finding, in colour when `styled` (for a terminal).
    pub fn render_styled(&self, sources: &SourceMap, styled: bool) -> String {
        use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let title = level
            .primary_title(self.message.as_str())
            .id(self.code.as_str());
        let mut group = Group::with_title(title);
        if let Some(span) = self.span
            && let Some(file) = sources.get(span.file)
        {
            // Only the lines the span covers go to the renderer: a file may be large.
            let text = &*file.text;
            let len = text.len();
            let start = (span.start as usize).min(len);
            let end = (span.end as usize).clamp(start, len);
            let from = text
                .get(..start)
                .and_then(|t| t.rfind('\n'))
                .map_or(0, |i| i + 1);
            let to = text
                .get(end..)
                .and_then(|t| t.find('\n'))
                .map_or(len, |i| end + i);
            let (line, _) = file.line_col(span.start);
            let mut annotation = AnnotationKind::Primary.span(start - from..end - from);
            if let Some(label) = &self.label {
                annotation = annotation.label(label.as_str());
            }
            group = group.element(
                Snippet::source(text.get(from..to).unwrap_or(""))
                    .line_start(line)
                    .path(&*file.name)
                    .annotation(annotation),
            );
        }
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = renderer.render(&[group]).to_string();
        out.push('\n');
        out
    }

    /// The finding as plain data, for JSON output.
    pub fn to_record(&self, sources: &SourceMap) -> DiagnosticRecord {
        let (file, line, column, end_line, end_column) = match self.span {
            Some(span) => match sources.get(span.file) {
                Some(f) => {
                    let (l, c) = f.line_col(span.start);
                    let (el, ec) = f.line_col(span.end);
                    (
                        Some(f.name.to_string()),
                        Some(l),
                        Some(c),
                        Some(el),
                        Some(ec),
                    )
                }
                None => (None, None, None, None, None),
            },
            None => (None, None, None, None, None),
        };
        DiagnosticRecord {
            code: self.code.as_str(),
            severity: self.severity,
            message: self.message.clone(),
            file,
            line,
            column,
            end_line,
            end_column,
            help: self.help.clone(),
        }
    }
}

/// A finding as plain data (the JSON shape of `policy check --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticRecord {
    /// The stable code.
    pub code: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The message.
    pub message: String,
    /// File name, when the finding has a place.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// 1-based line where the span ends.
    pub end_line: Option<usize>,
    /// 1-based column where the span ends.
    pub end_column: Option<usize>,
    /// A hint, when one is known.
    pub help: Option<String>,
}

/// The closest candidate to `word` by edit distance, if close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            did_you_mean("amonut", ["amount", "customer"]),
            Some("amount")
        );
        assert_eq!(did_you_mean("zzz", ["amount", "customer"]), None);
    }

    #[test]
    fn renders_caret_under_span() {
        let mut map = SourceMap::new();
        let f = map.add("p.gate", "default allow\ndefault deny\n");
        let d = Diagnostic::new(
            Code::RepeatedDefault,
            Span::new(f, 14, 21),
            "repeated `default`",
        );
        let text = d.render(&map);
        assert!(text.contains("error[E011]: repeated `default`"), "{text}");
        assert!(text.contains("--> p.gate:2:1"), "{text}");
        assert!(text.contains("2 | default deny"), "{text}");
        assert!(text.contains("  | ^^^^^^^"), "{text}");
    }
}
