//! `policy fmt`: one canonical layout for `.gate` files, comments kept where they were.
//!
//! Statements keep their order; a blank line separates blocks (and stays where the author
//! had one); rule options come in one order (`when`, `mode`, `by`, `within`,
//! `on timeout`, `decisions`, `show diff`, `reason`), one per line, indented by two
//! spaces; a rule with only a short `when` and no comments stays on one line. Literals
//! keep their spelling (`10_000`, escapes); parentheses the author wrote are kept. A
//! comment on its own line stays before what followed it; a comment at the end of a line
//! stays at the end of that line's item. Comments inside a multi-line condition move
//! above its clause.

use super::comments::{code_chars, comments, strip_comment};
use crate::ast::{
    self, CompareOp, Expr, ExprKind, File, OnTimeout, Operand, OperandKind, RuleOption, Statement,
};
use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile, Span};

const WIDTH: usize = 100;

#[derive(Debug, Clone)]
struct Comment {
    line: usize,
    text: String,
    own_line: bool,
}

/// Formats one file; a file that does not parse is returned as its syntax errors.
pub fn format_source(text: &str) -> Result<String, Vec<Diagnostic>> {
    let file = SourceFile::new("<fmt>", text);
    let ast = crate::syntax::parse(FileId(0), text)?;
    Ok(Formatter::new(&file).file(&ast))
}

struct Formatter<'a> {
    src: &'a SourceFile,
    comments: Vec<Comment>,
    next: usize,
    out: String,
}

fn comments_of(text: &str) -> Vec<Comment> {
    comments(text)
        .map(|c| Comment {
            line: c.line,
            text: c.text.to_string(),
            own_line: c.own_line,
        })
        .collect()
}

impl<'a> Formatter<'a> {
    fn new(src: &'a SourceFile) -> Self {
        Formatter {
            src,
            comments: comments_of(&src.text),
            next: 0,
            out: String::new(),
        }
    }

    fn line_of(&self, offset: u32) -> usize {
        self.src.line_col(offset).0
    }

    /// The last line of a span that holds code: pest's spans run on over the whitespace
    /// and comments after a construct.
    fn last_line(&self, span: Span) -> usize {
        // The span's own text, line by line: the last line with code (comments cut off).
        let text = self.text(span);
        let first = self.line_of(span.start);
        let mut last = first;
        for (i, line) in text.split('\n').enumerate() {
            if !strip_comment(line).trim().is_empty() {
                last = first + i;
            }
        }
        last
    }

    fn text(&self, span: Span) -> &str {
        self.src.slice(span)
    }

    /// Comments before `line` not yet printed, as lines with `indent`.
    /// A blank line between comment groups, and between the last comment and `line`, is
    /// kept where the source had one.
    fn leading(&mut self, line: usize, indent: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut prev: Option<usize> = None;
        while let Some(c) = self.comments.get(self.next) {
            if c.line >= line {
                break;
            }
            let (at, text) = (c.line, format!("{indent}{}", c.text));
            if prev.is_some_and(|p| self.blank_between(p, at)) {
                out.push(String::new());
            }
            out.push(text);
            prev = Some(at);
            self.next += 1;
        }
        if let Some(p) = prev
            && line != usize::MAX
            && self.blank_between(p, line)
        {
            out.push(String::new());
        }
        out
    }

    /// A comment at the end of `line`, if there is one and it was not printed yet.
    fn trailing(&mut self, line: usize) -> String {
        match self.comments.get(self.next) {
            Some(c) if c.line == line && !c.own_line => {
                self.next += 1;
                format!("  {}", c.text)
            }
            _ => String::new(),
        }
    }

    fn file(mut self, f: &File) -> String {
        let mut prev_end: Option<usize> = None;
        let mut prev_block = false;
        for stmt in &f.statements {
            let span = stmt_span(stmt);
            let start = self.line_of(span.start);
            let first_comment = self
                .comments
                .get(self.next)
                .filter(|c| c.line < start)
                .map(|c| c.line);
            let top = first_comment.unwrap_or(start);
            let block = matches!(stmt, Statement::Rule(r) if !self.one_line(r));
            if let Some(end) = prev_end {
                let gap = self.blank_between(end, top);
                if gap || block || prev_block {
                    self.out.push('\n');
                }
            }
            for l in self.leading(start, "") {
                self.out.push_str(&l);
                self.out.push('\n');
            }
            self.statement(stmt);
            prev_end = Some(self.last_line(span));
            prev_block = block;
        }
        let rest: Vec<String> = self.leading(usize::MAX, "");
        if !rest.is_empty() {
            if prev_end.is_some() {
                self.out.push('\n');
            }
            for l in rest {
                self.out.push_str(&l);
                self.out.push('\n');
            }
        }
        self.out
    }

    /// Whether the source has an empty line strictly between two lines.
    fn blank_between(&self, a: usize, b: usize) -> bool {
        (a + 1..b).any(|l| self.src.line_text(l).trim().is_empty())
    }

    fn statement(&mut self, stmt: &Statement) {
        let span = stmt_span(stmt);
        let end_line = self.last_line(span);
        match stmt {
            Statement::Policy(name, _) => {
                let t = format!("policy {}", self.text(name.span));
                let tail = self.trailing(end_line);
                self.out.push_str(&format!("{t}{tail}\n"));
            }
            Statement::Default(effect, _) => {
                let tail = self.trailing(end_line);
                self.out.push_str(&format!("default {effect}{tail}\n"));
            }
            Statement::Class(c) => {
                let body = self.expr(&c.expr);
                let head = format!("class {} = ", c.name.text);
                let text = self.wrap(&head, &c.expr, body, "    ");
                let tail = self.trailing(end_line);
                // Comments inside a multi-line class move above it.
                let inner = self.leading(end_line, "");
                for l in inner {
                    self.out.push_str(&l);
                    self.out.push('\n');
                }
                self.out.push_str(&format!("{text}{tail}\n"));
            }
            Statement::NeverAuto(names, _) => {
                let list: Vec<&str> = names.iter().map(|n| n.text.as_str()).collect();
                let tail = self.trailing(end_line);
                self.out
                    .push_str(&format!("never auto {}{tail}\n", list.join(", ")));
            }
            Statement::Rule(r) => self.rule(r),
        }
    }

    fn one_line(&self, r: &ast::RuleDecl) -> bool {
        if !r.options.is_empty() || r.when.len() != 1 {
            return false;
        }
        let (a, b) = (self.line_of(r.span.start), self.last_line(r.span));
        if self.comments.iter().any(|c| c.line > a && c.line <= b) {
            return false;
        }
        let Some(w) = r.when.first() else {
            return false;
        };
        let line = format!("{} {} {{ when {} }}", r.effect, r.name.text, self.expr(w));
        line.len() <= WIDTH && !line.contains('\n')
    }

    fn rule(&mut self, r: &ast::RuleDecl) {
        let head_line = self.line_of(r.span.start);
        let end_line = self.last_line(r.span);
        if self.one_line(r) {
            let Some(w) = r.when.first() else { return };
            let text = format!("{} {} {{ when {} }}", r.effect, r.name.text, self.expr(w));
            let tail = self.trailing(end_line);
            self.out.push_str(&format!("{text}{tail}\n"));
            return;
        }
        let tail = self.trailing(head_line);
        self.out
            .push_str(&format!("{} {} {{{tail}\n", r.effect, r.name.text));
        // Clauses in canonical order, each with the comments that were before it.
        let mut clauses: Vec<(u8, Span, String)> = Vec::new();
        for w in &r.when {
            let body = self.expr(w);
            let text = self.wrap("  when ", w, body, "    ");
            clauses.push((0, w.span, text));
        }
        for o in &r.options {
            let (rank, text) = self.option(o);
            clauses.push((rank, o.span(), format!("  {text}")));
        }
        clauses.sort_by_key(|(rank, span, _)| (*rank, span.start));
        // Comments are attached by source position: collect per clause first.
        let mut by_pos: Vec<(Span, String)> =
            clauses.iter().map(|(_, s, t)| (*s, t.clone())).collect();
        by_pos.sort_by_key(|(s, _)| s.start);
        let mut rendered: Vec<(Span, Vec<String>, String)> = Vec::new();
        for (span, text) in by_pos {
            let start = self.line_of(span.start);
            let last = self.last_line(span);
            let mut lead = self.leading(start, "  ");
            // Comments inside a multi-line clause move above it.
            let mut inner = Vec::new();
            while let Some(c) = self.comments.get(self.next) {
                if c.line >= last {
                    break;
                }
                inner.push(format!("  {}", c.text));
                self.next += 1;
            }
            lead.extend(inner);
            let tail = self.trailing(last);
            rendered.push((span, lead, format!("{text}{tail}")));
        }
        let order: Vec<Span> = clauses.iter().map(|(_, s, _)| *s).collect();
        for span in order {
            if let Some((_, lead, text)) = rendered.iter().find(|(s, _, _)| *s == span) {
                for l in lead {
                    self.out.push_str(l);
                    self.out.push('\n');
                }
                self.out.push_str(text);
                self.out.push('\n');
            }
        }
        for l in self.leading(end_line, "  ") {
            self.out.push_str(&l);
            self.out.push('\n');
        }
        let tail = self.trailing(end_line);
        self.out.push_str(&format!("}}{tail}\n"));
    }

    fn option(&self, o: &RuleOption) -> (u8, String) {
        match o {
            RuleOption::Mode(m, _) => (
                1,
                format!(
                    "mode {}",
                    match m {
                        ast::Mode::Sync => "sync",
                        ast::Mode::Async => "async",
                    }
                ),
            ),
            RuleOption::By(groups, quorum, _) => {
                let g: Vec<&str> = groups.iter().map(|g| self.text(g.span)).collect();
                let n = quorum.map(|q| format!("{} of ", self.text(q.span)));
                (2, format!("by {}{}", n.unwrap_or_default(), g.join(", ")))
            }
            RuleOption::Within(_, span) => {
                let t = self.text(*span);
                let d = t.trim_start_matches("within").trim();
                (3, format!("within {d}"))
            }
            RuleOption::OnTimeout(t, _) => (
                4,
                match t {
                    OnTimeout::Reject => "on timeout reject".to_string(),
                    OnTimeout::Escalate(g) => format!("on timeout escalate {}", ast::quote(g)),
                },
            ),
            RuleOption::Decisions(kinds, _) => {
                let k: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
                (5, format!("decisions {}", k.join(", ")))
            }
            RuleOption::ShowDiff(p, _) => (6, format!("show diff {}", p.display())),
            RuleOption::ConfirmByRequester(_) => (7, "confirm by requester".to_string()),
            RuleOption::Reason(s) => (8, format!("reason {}", self.text(s.span))),
        }
    }

    /// `head` + condition, broken before each top-level `and`/`or` when too long.
    fn wrap(&self, head: &str, e: &Expr, flat: String, indent: &str) -> String {
        if head.len() + flat.len() <= WIDTH {
            return format!("{head}{flat}");
        }
        let (items, word) = match &e.kind {
            ExprKind::And(items) => (items, "and"),
            ExprKind::Or(items) => (items, "or"),
            _ => return format!("{head}{flat}"),
        };
        let parts: Vec<String> = items.iter().map(|i| self.child(i, e)).collect();
        let mut out = format!("{head}{}", parts.first().cloned().unwrap_or_default());
        for p in parts.iter().skip(1) {
            out.push_str(&format!("\n{indent}{word} {p}"));
        }
        out
    }

    fn expr(&self, e: &Expr) -> String {
        match &e.kind {
            ExprKind::Or(items) => items
                .iter()
                .map(|i| self.child(i, e))
                .collect::<Vec<_>>()
                .join(" or "),
            ExprKind::And(items) => items
                .iter()
                .map(|i| self.child(i, e))
                .collect::<Vec<_>>()
                .join(" and "),
            ExprKind::Not(inner) => format!("not {}", self.child(inner, e)),
            ExprKind::Group(inner) => format!("({})", self.expr(inner)),
            ExprKind::Exists(p) => format!("exists({})", p.display()),
            ExprKind::Quantified {
                quantifier,
                var,
                list,
                body,
            } => format!(
                "{}({} in {}: {})",
                match quantifier {
                    ast::Quantifier::Any => "any",
                    ast::Quantifier::All => "all",
                },
                var.text,
                list.display(),
                self.expr(body)
            ),
            ExprKind::Compare {
                left, op, right, ..
            } => format!(
                "{} {} {}",
                self.operand(left),
                op_text(*op),
                self.operand(right)
            ),
            ExprKind::Bare(o) => self.operand(o),
        }
    }

    /// A child printed with parentheses where the grammar needs them.
    fn child(&self, child: &Expr, parent: &Expr) -> String {
        let rank = |e: &Expr| match e.kind {
            ExprKind::Or(_) => 1,
            ExprKind::And(_) => 2,
            ExprKind::Not(_) => 3,
            _ => 4,
        };
        let text = self.expr(child);
        let needs = match parent.kind {
            ExprKind::Not(_) => rank(child) < 3,
            _ => rank(child) <= rank(parent) && rank(child) < 3,
        };
        if needs { format!("({text})") } else { text }
    }

    fn operand(&self, o: &Operand) -> String {
        match &o.kind {
            OperandKind::Tool => "tool".to_string(),
            OperandKind::Path(p) => p.display(),
            OperandKind::Len(p) => format!("len({})", p.display()),
            OperandKind::Count(c) => format!(
                "count({} in {}: {})",
                c.var.text,
                c.list.display(),
                self.expr(&c.body)
            ),
            // Literals keep their spelling: `10_000`, escapes.
            OperandKind::Literal(_) => self.text(o.span).to_string(),
            OperandKind::List(_) => {
                let inner = self.text(o.span).trim();
                let inner = inner.trim_start_matches('[').trim_end_matches(']');
                let items: Vec<&str> = split_list(inner)
                    .into_iter()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }
}

/// Splits a list's source text at top-level commas (not inside strings).
fn split_list(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in code_chars(s) {
        if c == ',' {
            out.push(s.get(start..i).unwrap_or(""));
            start = i + 1;
        }
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

fn op_text(op: CompareOp) -> &'static str {
    op.as_str()
}

fn stmt_span(s: &Statement) -> Span {
    match s {
        Statement::Policy(_, span)
        | Statement::Default(_, span)
        | Statement::NeverAuto(_, span) => *span,
        Statement::Class(c) => c.span,
        Statement::Rule(r) => r.span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_hide_commas_and_hashes() {
        assert_eq!(
            split_list(r#""a,b", "c#d", 3"#),
            vec![r#""a,b""#, r#" "c#d""#, " 3"]
        );
    }

    #[test]
    fn count_is_written_in_its_canonical_form() {
        let src =
            "default allow\napprove r { when count( r in args.to :  not r ends_with \"@a\" )>2 }\n";
        let once = format_source(src).unwrap();
        assert!(
            once.contains("when count(r in args.to: not r ends_with \"@a\") > 2 }"),
            "{once}"
        );
        assert_eq!(format_source(&once).unwrap(), once);
    }

    #[test]
    fn a_quorum_is_kept() {
        let src = "default allow\napprove r {\n  when tool == \"a\"\n  by   2  of \"f\",\"t\"\n}\n";
        let once = format_source(src).unwrap();
        assert!(once.contains("\n  by 2 of \"f\", \"t\"\n"), "{once}");
        assert_eq!(format_source(&once).unwrap(), once);
    }

    #[test]
    fn formats_and_keeps_comments() {
        let src = "# top\ndefault   allow\nallow r { when tool == \"a\" }   # why\n";
        assert_eq!(
            format_source(src).unwrap(),
            "# top\ndefault allow\nallow r { when tool == \"a\" }  # why\n"
        );
    }
}
