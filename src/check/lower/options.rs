//! A rule's options, from syntax to its gate: each given once, all but `reason` on approve
//! rules only, every value checked.

use super::Lowerer;
use crate::ast::{self, Effect, PathRoot, RuleOption};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{GateOptions, Template};
use crate::source::Span;

/// What a rule's options set: its reason, its gate, and where `on timeout` is.
pub(super) struct RuleOptions {
    pub(super) reason: Option<Template>,
    pub(super) gate: GateOptions,
    timeout_span: Option<Span>,
    /// Whether a `within` was written (even one that was refused).
    within_written: bool,
}

impl Lowerer<'_> {
    /// The rule's options, applied in order; those not admitted are skipped.
    pub(super) fn options(&mut self, r: &ast::RuleDecl) -> RuleOptions {
        let mut seen: Vec<&'static str> = Vec::new();
        let mut out = RuleOptions {
            reason: None,
            gate: GateOptions {
                mode: ast::Mode::Sync,
                by: Vec::new(),
                quorum: 1,
                within_s: None,
                on_timeout: None,
                decisions: ast::DecisionKind::ALL.to_vec(),
                show_diff: None,
                confirm_by_requester: false,
            },
            timeout_span: None,
            within_written: false,
        };
        for opt in &r.options {
            if self.option_admitted(r, opt, &mut seen) {
                self.apply_option(opt, &mut out);
            }
        }
        out
    }

    /// Whether an option may apply; one given twice, or (but `reason`) on a rule other
    /// than approve, is reported.
    fn option_admitted(
        &mut self,
        r: &ast::RuleDecl,
        opt: &RuleOption,
        seen: &mut Vec<&'static str>,
    ) -> bool {
        let kw = opt.keyword();
        if seen.contains(&kw) {
            self.err(Diagnostic::new(
                Code::RepeatedOption,
                opt.span(),
                format!("`{kw}` is given twice in rule `{}`", r.name.text),
            ));
            return false;
        }
        seen.push(kw);
        if !matches!(opt, RuleOption::Reason(_)) && r.effect != Effect::Approve {
            self.err(
                Diagnostic::new(
                    Code::OptionNotAllowed,
                    opt.span(),
                    format!(
                        "`{kw}` is an option of approve rules, and `{}` is {} {} rule",
                        r.name.text,
                        article(r.effect),
                        r.effect
                    ),
                )
                .with_help(format!(
                    "{} {} rule does not wait for anyone; make it `approve` or remove `{kw}`",
                    article(r.effect),
                    r.effect
                )),
            );
            return false;
        }
        true
    }

    /// Applies one admitted option; a bad value is reported.
    fn apply_option(&mut self, opt: &RuleOption, out: &mut RuleOptions) {
        match opt {
            RuleOption::Reason(s) => out.reason = self.template(s),
            RuleOption::Mode(m, _) => out.gate.mode = *m,
            RuleOption::By(groups, quorum, _) => {
                out.gate.by = self.approver_groups(groups);
                if let Some(q) = quorum
                    && let Some(n) = self.quorum(q)
                {
                    out.gate.quorum = n;
                }
            }
            RuleOption::Within(secs, span) => {
                out.within_written = true;
                if let Some(s) = self.within(*secs, *span) {
                    out.gate.within_s = Some(s);
                }
            }
            RuleOption::OnTimeout(t, span) => {
                if let ast::OnTimeout::Escalate(g) = t
                    && g.trim().is_empty()
                {
                    self.err(Diagnostic::new(
                        Code::BadOptionValue,
                        *span,
                        "`on timeout escalate` needs a group name",
                    ));
                }
                out.timeout_span = Some(*span);
                out.gate.on_timeout = Some(t.clone());
            }
            RuleOption::Decisions(kinds, _) => out.gate.decisions = self.decision_kinds(kinds),
            RuleOption::ConfirmByRequester(_) => out.gate.confirm_by_requester = true,
            RuleOption::ShowDiff(p, _) => {
                if matches!(p.root, PathRoot::Name(_)) {
                    self.err(Diagnostic::new(
                        Code::NotACondition,
                        p.span,
                        "`show diff` takes a path into the call, starting with `args` or `context`",
                    ));
                } else {
                    out.gate.show_diff = self.path(p);
                }
            }
        }
    }

    /// The groups of `by`; one without a name is reported.
    fn approver_groups(&mut self, groups: &[ast::Str]) -> Vec<String> {
        for g in groups {
            if g.value.trim().is_empty() {
                self.err(Diagnostic::new(
                    Code::BadOptionValue,
                    g.span,
                    "an approver group needs a name",
                ));
            }
        }
        groups.iter().map(|g| g.value.clone()).collect()
    }

    /// The number of `by N of ...`; `None` after reporting zero or an overflow.
    fn quorum(&mut self, q: &ast::Quorum) -> Option<u32> {
        match q.value {
            Some(0) => self.err(
                Diagnostic::new(
                    Code::BadOptionValue,
                    q.span,
                    "a quorum of 0 approvers: nobody would have to decide",
                )
                .with_help("write `by 1 of \"group\"`, or `by \"group\"` for one approver"),
            ),
            Some(n) => return Some(n),
            None => self.err(Diagnostic::new(
                Code::BadOptionValue,
                q.span,
                "the quorum is too large to represent",
            )),
        }
        None
    }

    /// The seconds of `within`; `None` after reporting zero, more than a year, or an
    /// overflow.
    fn within(&mut self, secs: Option<u64>, span: Span) -> Option<u64> {
        match secs {
            Some(0) => self.err(Diagnostic::new(
                Code::BadDuration,
                span,
                "`within` of zero: the request would expire before anyone could look",
            )),
            Some(s) if s > 366 * 86_400 => self.err(Diagnostic::new(
                Code::BadDuration,
                span,
                "`within` is longer than a year: a request should not wait that long",
            )),
            Some(s) => return Some(s),
            None => self.err(Diagnostic::new(
                Code::BadDuration,
                span,
                "the duration is too large to represent",
            )),
        }
        None
    }

    /// The kinds of `decisions`, sorted, each once; one listed twice is reported.
    fn decision_kinds(&mut self, kinds: &[(ast::DecisionKind, Span)]) -> Vec<ast::DecisionKind> {
        let mut list: Vec<ast::DecisionKind> = Vec::new();
        for (k, span) in kinds {
            if list.contains(k) {
                self.err(Diagnostic::new(
                    Code::BadOptionValue,
                    *span,
                    format!("decision `{}` is listed twice", k.as_str()),
                ));
            }
            list.push(*k);
        }
        list.sort();
        list.dedup();
        list
    }

    /// Reports an `on timeout` without `within` on an approve rule: it could never apply.
    pub(super) fn timeout_without_within(&mut self, r: &ast::RuleDecl, options: &RuleOptions) {
        // A `within` that was refused is reported as what it is, not as missing.
        if let Some(span) = options.timeout_span
            && !options.within_written
            && r.effect == Effect::Approve
        {
            self.err(
                Diagnostic::new(
                    Code::TimeoutWithoutWithin,
                    span,
                    "`on timeout` without `within`: there is no deadline, so it never applies",
                )
                .with_help("add `within 48h` (units s, m, h, d)"),
            );
        }
    }
}

fn article(e: Effect) -> &'static str {
    match e {
        Effect::Allow | Effect::Audit | Effect::Approve => "an",
        Effect::Deny => "a",
    }
}
