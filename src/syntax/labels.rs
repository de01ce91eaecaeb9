//! Human words for every grammar rule, so errors never show pest's rule names.
//!
//! The match in [`label`] is exhaustive: a new grammar rule cannot ship without a label.

use super::Rule;

/// What a rule is, in words, as in "expected {label}".
pub(super) fn label(rule: Rule) -> &'static str {
    match rule {
        Rule::WHITESPACE | Rule::COMMENT => "whitespace",
        Rule::EOI => "end of file",
        Rule::ident_char => "a letter or digit",
        Rule::kw_policy => "`policy`",
        Rule::kw_default => "`default`",
        Rule::kw_class => "`class`",
        Rule::kw_never => "`never`",
        Rule::kw_auto => "`auto` (as in `never auto CLASS`)",
        Rule::kw_when => "`when`",
        Rule::kw_reason => "`reason`",
        Rule::kw_mode => "`mode`",
        Rule::kw_by => "`by`",
        Rule::kw_within => "`within`",
        Rule::kw_on => "`on`",
        Rule::kw_timeout => "`timeout` (as in `on timeout reject`)",
        Rule::kw_decisions => "`decisions`",
        Rule::kw_show => "`show`",
        Rule::kw_diff => "`diff` (as in `show diff args.changes`)",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in => "`in`",
        Rule::kw_exists => "`exists`",
        Rule::kw_len => "`len`",
        Rule::kw_any => "`any`",
        Rule::kw_all => "`all`",
        Rule::kw_count => "`count`",
        Rule::kw_escalate => "`escalate`",
        Rule::reserved => "a reserved word",
        Rule::name => "a name (letters, digits and `_`, not a reserved word)",
        Rule::effect => "an effect: allow, audit, approve or deny",
        Rule::string | Rule::string_inner => "a string in double quotes",
        Rule::number => "a number",
        Rule::boolean => "`true` or `false`",
        Rule::list => "a list such as `[\"a\", \"b\"]`",
        Rule::scalar => "a string, number or boolean",
        Rule::duration => "a duration such as `30s`, `10m`, `48h` or `2d`",
        Rule::path | Rule::path_root => "a path such as `args.amount` or `context.user`",
        Rule::root_args => "`args`",
        Rule::root_context => "`context`",
        Rule::key => "a key after `.`",
        Rule::index => "a list index",
        Rule::tool => "`tool`",
        Rule::expr
        | Rule::disjunction
        | Rule::conjunction
        | Rule::negation
        | Rule::atom
        | Rule::comparison => "a condition",
        Rule::group => "`(`",
        Rule::exists_call => "`exists(PATH)`",
        Rule::quantifier => "`any(x in PATH: ...)` or `all(...)`",
        Rule::operand => {
            "a value: a path, `tool`, `len(...)`, `count(...)`, a string, number, boolean or list"
        }
        Rule::len_call => "`len(PATH)`",
        Rule::count_call => "`count(x in PATH: ...)`",
        Rule::operator => "an operator",
        Rule::op_eq => "`==`",
        Rule::op_ne => "`!=`",
        Rule::op_le => "`<=`",
        Rule::op_ge => "`>=`",
        Rule::op_lt => "`<`",
        Rule::op_gt => "`>`",
        Rule::op_regex => "`=~`",
        Rule::op_in => "`in`",
        Rule::op_not_in => "`not in`",
        Rule::op_contains => "`contains`",
        Rule::op_starts_with => "`starts_with`",
        Rule::op_ends_with => "`ends_with`",
        Rule::op_matches => "`matches`",
        Rule::when_clause => "`when`",
        Rule::reason_option => "`reason`",
        Rule::mode_option => "`mode`",
        Rule::mode => "a mode: sync or async",
        Rule::by_option => "`by`",
        Rule::quorum => "a number of approvers, as in `by 2 of \"finance\"`",
        Rule::kw_of => "`of` (as in `by 2 of \"finance\"`)",
        Rule::within_option => "`within`",
        Rule::timeout_option => "`on timeout`",
        Rule::timeout_reject | Rule::timeout_escalate | Rule::timeout_approve => {
            "what happens on timeout: `reject` or `escalate \"group\"`"
        }
        Rule::decisions_option => "`decisions`",
        Rule::decision_kind => "a decision: approve, reject, edit or escalate",
        Rule::show_option => "`show diff`",
        Rule::confirm_option => "`confirm by requester`",
        Rule::kw_confirm => "`confirm`",
        Rule::kw_requester => "`requester` (as in `confirm by requester`)",
        Rule::clause => "a rule option",
        Rule::policy_decl => "`policy`",
        Rule::default_decl => "`default`",
        Rule::class_decl => "`class`",
        Rule::never_decl => "`never auto`",
        Rule::rule_decl => "a rule",
        Rule::statement | Rule::file => STATEMENT,
    }
}

const STATEMENT: &str = "a statement: `policy`, `default`, `class`, `never auto`, or a rule \
                         starting with allow, audit, approve or deny";

const OPERATORS: &[Rule] = &[
    Rule::op_eq,
    Rule::op_ne,
    Rule::op_le,
    Rule::op_ge,
    Rule::op_lt,
    Rule::op_gt,
    Rule::op_regex,
    Rule::op_in,
    Rule::op_not_in,
    Rule::op_contains,
    Rule::op_starts_with,
    Rule::op_ends_with,
    Rule::op_matches,
];

const OPTIONS: &[Rule] = &[
    Rule::kw_when,
    Rule::kw_reason,
    Rule::kw_mode,
    Rule::kw_by,
    Rule::kw_within,
    Rule::kw_on,
    Rule::kw_decisions,
    Rule::kw_show,
];

const OPERANDS: &[Rule] = &[
    Rule::len_call,
    Rule::count_call,
    Rule::list,
    Rule::string,
    Rule::number,
    Rule::boolean,
    Rule::tool,
    Rule::path,
    Rule::path_root,
    Rule::root_args,
    Rule::root_context,
    Rule::kw_len,
    Rule::kw_count,
];

const STATEMENTS: &[Rule] = &[
    Rule::kw_policy,
    Rule::kw_default,
    Rule::kw_class,
    Rule::kw_never,
];

/// "expected ..." text for the rules pest tried at the error position.
pub(super) fn expected(positives: &[Rule]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let has = |set: &[Rule]| positives.iter().any(|r| set.contains(r));
    let mut rest: Vec<Rule> = positives.to_vec();
    if has(STATEMENTS) {
        rest.retain(|r| !STATEMENTS.contains(r) && *r != Rule::effect && *r != Rule::EOI);
        parts.push(STATEMENT.into());
    }
    if has(OPTIONS) {
        rest.retain(|r| !OPTIONS.contains(r));
        parts.push(
            "a rule option (`when`, `reason`, `mode`, `by`, `within`, `on timeout`, \
             `decisions`, `show diff`) or `}`"
                .into(),
        );
    }
    if positives.iter().filter(|r| OPERANDS.contains(r)).count() > 1 {
        rest.retain(|r| !OPERANDS.contains(r));
        parts.push(label(Rule::operand).to_string());
    }
    if has(OPERATORS) {
        rest.retain(|r| !OPERATORS.contains(r));
        parts.push("an operator (`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `contains`, `starts_with`, `ends_with`, `matches`, `=~`)".into());
    }
    for r in rest {
        let l = label(r).to_string();
        if !parts.contains(&l) {
            parts.push(l);
        }
    }
    match parts.len() {
        0 => "something else".to_string(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} or {last}", parts.join(", "))
        }
    }
}
