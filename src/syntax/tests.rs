//! Parser tests: every construct parses to the right tree; errors say what was expected.

use super::*;
use crate::ast::*;

fn parse_ok(text: &str) -> File {
    match parse(FileId(0), text) {
        Ok(f) => f,
        Err(e) => panic!("{text:?} does not parse: {e:?}"),
    }
}

fn parse_err(text: &str) -> Diagnostic {
    match parse(FileId(0), text) {
        Ok(f) => panic!("{text:?} parses: {f:?}"),
        Err(mut e) => e.remove(0),
    }
}

fn when_of(text: &str) -> Expr {
    let f = parse_ok(&format!("allow r {{ when {text} }}"));
    match f.statements.into_iter().next() {
        Some(Statement::Rule(r)) => r.when.into_iter().next().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn statements() {
    let f = parse_ok(
        "policy \"p\"\ndefault audit\nclass c = tool == \"a\"\nnever auto c, d\ndeny r { when c }\n",
    );
    assert_eq!(f.statements.len(), 5);
    assert!(matches!(&f.statements[0], Statement::Policy(s, _) if s.value == "p"));
    assert!(matches!(
        f.statements[1],
        Statement::Default(Effect::Audit, _)
    ));
    assert!(matches!(&f.statements[3], Statement::NeverAuto(n, _) if n.len() == 2));
}

#[test]
fn precedence_comparison_then_not_then_and_then_or() {
    let e = when_of("not r ends_with \"@acme.com\" and a or b");
    let ExprKind::Or(items) = e.kind else {
        panic!()
    };
    let ExprKind::And(conj) = &items[0].kind else {
        panic!()
    };
    let ExprKind::Not(inner) = &conj[0].kind else {
        panic!()
    };
    assert!(matches!(
        inner.kind,
        ExprKind::Compare {
            op: CompareOp::EndsWith,
            ..
        }
    ));
}

#[test]
fn operators_and_operands() {
    for (src, op) in [
        ("args.a == 1", CompareOp::Eq),
        ("args.a != 1", CompareOp::Ne),
        ("args.a <= 1", CompareOp::Le),
        ("args.a < 1", CompareOp::Lt),
        ("args.a >= 1", CompareOp::Ge),
        ("args.a > 1", CompareOp::Gt),
        ("args.a in [1, 2]", CompareOp::In),
        ("args.a not in [\"x\",]", CompareOp::NotIn),
        ("args.a contains \"x\"", CompareOp::Contains),
        ("args.a starts_with \"x\"", CompareOp::StartsWith),
        ("args.a ends_with \"x\"", CompareOp::EndsWith),
        ("tool matches \"a.*\"", CompareOp::Matches),
        ("args.a =~ \"^x\"", CompareOp::Regex),
        ("len(args.a) > 3", CompareOp::Gt),
    ] {
        match when_of(src).kind {
            ExprKind::Compare { op: got, .. } => assert_eq!(got, op, "{src}"),
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
fn literals() {
    let ExprKind::Compare { right, .. } = when_of("args.n >= 10_000").kind else {
        panic!()
    };
    assert_eq!(right.kind, OperandKind::Literal(Literal::Number(10000.0)));
    let ExprKind::Compare { right, .. } = when_of("args.n > -3.5").kind else {
        panic!()
    };
    assert_eq!(right.kind, OperandKind::Literal(Literal::Number(-3.5)));
    let ExprKind::Compare { right, .. } = when_of(r#"args.s == "a\"b\\c\n""#).kind else {
        panic!()
    };
    assert_eq!(
        right.kind,
        OperandKind::Literal(Literal::String("a\"b\\c\n".into()))
    );
}

#[test]
fn paths_with_indexes_and_quoted_keys() {
    let ExprKind::Compare { left, .. } = when_of(r#"args.items[0]["odd-key"].qty > 1"#).kind else {
        panic!()
    };
    let OperandKind::Path(p) = left.kind else {
        panic!()
    };
    assert_eq!(p.root, PathRoot::Args);
    assert_eq!(
        p.segments,
        vec![
            Segment::Key("items".into()),
            Segment::Index(0),
            Segment::Key("odd-key".into()),
            Segment::Key("qty".into())
        ]
    );
    assert_eq!(p.display(), r#"args.items[0]["odd-key"].qty"#);
}

#[test]
fn quantifiers_and_exists() {
    assert!(matches!(
        when_of("any(r in args.to: r ends_with \"@x\")").kind,
        ExprKind::Quantified {
            quantifier: Quantifier::Any,
            ..
        }
    ));
    assert!(matches!(
        when_of("exists(context.workflow.final_step)").kind,
        ExprKind::Exists(_)
    ));
}

#[test]
fn count_is_a_number_operand_with_a_bound_variable() {
    let ExprKind::Compare { left, op, .. } =
        when_of("count(r in args.to: not r ends_with \"@acme.com\") > 25").kind
    else {
        panic!()
    };
    assert_eq!(op, CompareOp::Gt);
    let OperandKind::Count(c) = left.kind else {
        panic!("{left:?}")
    };
    assert_eq!(
        (c.var.text.as_str(), c.list.display()),
        ("r", "args.to".into())
    );
    assert!(matches!(c.body.kind, ExprKind::Not(_)));
    // On either side, and `count` is reserved: it cannot name a rule or a class.
    assert!(matches!(
        when_of("2 <= count(x in args.l: x > 1)").kind,
        ExprKind::Compare {
            right: Operand {
                kind: OperandKind::Count(_),
                ..
            },
            ..
        }
    ));
    assert_eq!(parse_err("class count = tool == \"a\"").code, Code::Syntax);
    let d = parse_err("allow r { when count(x args.l: x) > 1 }");
    assert!(d.message.starts_with("expected `in`"), "{}", d.message);
}

#[test]
fn rule_options_in_any_order_and_on_one_line() {
    let f = parse_ok(
        "approve g { mode async when tool == \"a\" by \"finance\", \"legal\" within 1h30m \
         on timeout escalate \"leads\" decisions approve, reject show diff args.changes \
         reason \"r\" }",
    );
    let Some(Statement::Rule(r)) = f.statements.first() else {
        panic!()
    };
    assert_eq!(r.when.len(), 1);
    assert_eq!(r.options.len(), 7);
    assert!(
        r.options
            .contains(&RuleOption::Within(Some(5400), r.options[2].span()))
    );
}

#[test]
fn by_takes_a_quorum_before_its_groups() {
    let by = |text: &str| {
        let f = parse_ok(&format!("approve g {{ when tool == \"a\" {text} }}"));
        match f.statements.into_iter().next() {
            Some(Statement::Rule(r)) => match r.options.into_iter().next() {
                Some(RuleOption::By(groups, quorum, _)) => (
                    groups.into_iter().map(|g| g.value).collect::<Vec<_>>(),
                    quorum.map(|q| q.value),
                ),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(by("by \"a\", \"b\""), (vec!["a".into(), "b".into()], None));
    assert_eq!(by("by 2 of \"a\""), (vec!["a".into()], Some(Some(2))));
    assert_eq!(
        by("by 2 of \"a\", \"b\""),
        (vec!["a".into(), "b".into()], Some(Some(2)))
    );
    assert_eq!(by("by 0 of \"a\"").1, Some(Some(0)));
    assert_eq!(by("by 99999999999 of \"a\"").1, Some(None));
    for bad in ["by 2 \"a\"", "by 2 of", "by -1 of \"a\"", "by 1.5 of \"a\""] {
        let d = parse_err(&format!("approve g {{ when tool == \"a\" {bad} }}"));
        assert_eq!(d.code, Code::Syntax, "{bad}");
    }
}

#[test]
fn words_that_start_with_keywords_are_names() {
    parse_ok("allow android { when tool == \"a\" and notes_ok }");
    parse_ok("allow r { when orders > 1 }");
}

#[test]
fn syntax_errors_say_what_was_expected_in_words() {
    let d = parse_err("default foo");
    assert_eq!(d.code, Code::Syntax);
    assert_eq!(
        d.message,
        "expected an effect: allow, audit, approve or deny, found `foo`"
    );
    assert_eq!(d.span.map(|s| s.start), Some(8));
    let d = parse_err("allow x { when }");
    assert!(
        d.message.starts_with("expected a condition"),
        "{}",
        d.message
    );
    let d = parse_err("approve x { when tool == \"a\" mode later }");
    assert!(
        d.message.starts_with("expected a mode: sync or async"),
        "{}",
        d.message
    );
    let d = parse_err("bogus");
    assert!(
        d.message.starts_with("expected a statement"),
        "{}",
        d.message
    );
    assert!(!d.message.contains("kw_"), "{}", d.message);
}

#[test]
fn timeout_approve_is_refused() {
    let d = parse_err("approve x { when tool == \"a\" on timeout approve }");
    assert_eq!(d.code, Code::TimeoutApprove);
    assert!(
        d.message.contains("must never let a call through"),
        "{}",
        d.message
    );
    let d = parse_err("approve x { when tool == \"a\" on timeout allow }");
    assert_eq!(d.code, Code::TimeoutApprove);
}

#[test]
fn bad_escape_is_located() {
    let d = parse_err(r#"allow x { when args.s == "a\qb" }"#);
    assert_eq!(d.code, Code::BadEscape);
    assert!(d.message.contains("\\q"), "{}", d.message);
}

#[test]
fn every_label_is_words() {
    // No label may leak a grammar rule name.
    for d in [
        parse_err("allow x {"),
        parse_err("class = 1"),
        parse_err("never auto"),
    ] {
        for leak in ["kw_", "op_", "root_", "_decl", "_option", "_clause", "EOI"] {
            assert!(!d.message.contains(leak), "{}", d.message);
        }
    }
}

#[test]
fn confirm_by_requester_is_a_rule_option_of_three_words() {
    let f = parse_ok("approve g { when tool == \"a\" confirm by requester }");
    let Some(Statement::Rule(r)) = f.statements.first() else {
        panic!()
    };
    assert!(matches!(
        r.options.as_slice(),
        [RuleOption::ConfirmByRequester(_)]
    ));
    let d = parse_err("approve g { when tool == \"a\" confirm by \"alice\" }");
    assert!(d.message.contains("`requester`"), "{}", d.message);
    // `confirm` and `requester` are not reserved: they still name rules and classes.
    parse_ok("class confirm = tool == \"a\"\napprove requester { when confirm }");
}
