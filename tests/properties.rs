//! Properties with an oracle, over generated policies and calls:
//! (a) the decision tree agrees with the reference interpreter, and so does deciding the
//!     call straight from its text (plain, and with every string escaped);
//! (b) the parser and checker never panic, on any text or on mutated valid policies;
//! (c) the never-auto floor holds for every call of such a class;
//! (d) adding an allow or audit rule never lowers a decision a rule or floor made;
//! (e) a missing or mistyped value never turns an approve/deny rule's call into allow;
//! (f) a `count` that some elements leave unknown decides a comparison exactly when every
//!     way of judging those elements agrees;
//! (g) the evaluator's shortcuts (a condition that does not read its element judged once,
//!     a closed quantifier judged once per walk) give what judging every element gives.

use holdpoint::unstable::ir::{Cond, Count, Term};
use holdpoint::unstable::semantics::{Env, Tri, class_member, eval};
use holdpoint::{CallReader, Catalog, Effect, Policy, PolicyBuilder, ToolCall};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const TOOLS: &[&str] = &[
    "pay",
    "refund",
    "bank.wire",
    "bank.get",
    "crm.get",
    "crm.put",
    "mail",
    "v2.run",
    "db",
];
const UNLISTED: &[&str] = &["zzz", "bank.other", "x.get", "v9.run", "crm.bulk"];
const GLOBS: &[&str] = &["bank.*", "*.get", "crm.*", "v?.run", "*", "*a*"];
const THRESHOLDS: &[f64] = &[-1.0, 0.0, 10.0, 50.0, 100.0, 500.0, 1000.0];

fn num(n: f64) -> String {
    serde_json::Number::from_f64(n).unwrap().to_string()
}

/// One atomic condition. `classes` is how many classes may be referenced.
fn atom(classes: usize, with_exists: bool) -> BoxedStrategy<String> {
    let tool = prop::sample::select(TOOLS);
    let glob = prop::sample::select(GLOBS);
    let th = prop::sample::select(THRESHOLDS);
    let cmp = prop::sample::select(&["<", "<=", ">", ">=", "==", "!="][..]);
    let num_path = prop::sample::select(&["args.amount", "args.n", "args.items[0].qty"][..]);
    let mut options: Vec<BoxedStrategy<String>> = vec![
        tool.clone()
            .prop_map(|t| format!("tool == \"{t}\""))
            .boxed(),
        tool.clone()
            .prop_map(|t| format!("tool != \"{t}\""))
            .boxed(),
        (tool.clone(), tool)
            .prop_map(|(a, b)| format!("tool in [\"{a}\", \"{b}\"]"))
            .boxed(),
        glob.prop_map(|g| format!("tool matches \"{g}\"")).boxed(),
        (num_path.clone(), cmp.clone(), th.clone())
            .prop_map(|(p, c, t)| format!("{p} {c} {}", num(t)))
            .boxed(),
        (num_path, cmp, th.clone())
            .prop_map(|(p, c, t)| format!("{} {c} {p}", num(t)))
            .boxed(),
        prop::sample::select(&[0.3, 0.5, 0.7][..])
            .prop_map(|t| format!("context.confidence < {t}"))
            .boxed(),
        prop::sample::select(
            &[
                "args.s starts_with \"a\"",
                "args.s ends_with \"c\"",
                "args.s contains \"b\"",
                "args.s =~ \"^a.c$\"",
                "args.s matches \"a*\"",
                "args.s in [\"abc\", \"a\"]",
                "args.s not in [\"abc\"]",
                "args.to contains \"a@x\"",
                "len(args.to) > 1",
                "len(args.s) >= 3",
                "any(r in args.to: r ends_with \"@x\")",
                "all(r in args.to: r ends_with \"@x\")",
                "count(r in args.to: r ends_with \"@x\") > 1",
                "count(r in args.to: r ends_with \"@x\") == len(args.to)",
                "count(r in args.to: r ends_with \"@x\") in [0, 2]",
                "1 <= count(i in args.items: i.qty > 10)",
                "count(r in args.to: any(q in args.to: q == r and r contains \"@\")) != 1",
                "any(r in args.to: args.flag)",
                "all(r in args.to: any(q in args.to: q ends_with \"@x\"))",
                "any(r in args.to: r ends_with \"@x\" and count(q in args.to: q == \"a@x\") >= 1)",
                "count(i in args.items: context.env == \"prod\") > 0",
                "any(r in args.to: all(q in args.to: q != r))",
                "args.flag",
                "not args.flag",
                "args.customer.tier == \"gold\"",
                "context.env == \"prod\"",
                "true",
                "false",
            ][..],
        )
        .prop_map(str::to_string)
        .boxed(),
    ];
    if with_exists {
        options.push(
            prop::sample::select(
                &[
                    "exists(args.amount)",
                    "exists(context.workflow.final_step) and context.workflow.final_step == true",
                ][..],
            )
            .prop_map(str::to_string)
            .boxed(),
        );
    }
    if classes > 0 {
        options.push((0..classes).prop_map(|i| format!("c{i}")).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn expr(classes: usize, with_exists: bool) -> BoxedStrategy<String> {
    atom(classes, with_exists)
        .prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        })
        .boxed()
}

/// A rule shaped like real gates: a tool test and a threshold, sometimes more, so the
/// tree's threshold indexes (several rules bounding one path) are exercised.
fn gate_like(classes: usize, with_exists: bool) -> BoxedStrategy<String> {
    (
        prop_oneof![
            prop::sample::select(TOOLS).prop_map(|t| format!("tool == \"{t}\"")),
            prop::sample::select(GLOBS).prop_map(|g| format!("tool matches \"{g}\"")),
            Just("true".to_string()),
        ],
        prop::sample::select(&["args.amount", "args.n"][..]),
        prop::sample::select(&[">", ">=", "<", "<=", "=="][..]),
        prop::sample::select(THRESHOLDS),
        prop::option::of(atom(classes, with_exists)),
    )
        .prop_map(|(t, p, op, th, more)| match more {
            Some(m) => format!("{t} and {p} {op} {} and {m}", num(th)),
            None => format!("{t} and {p} {op} {}", num(th)),
        })
        .boxed()
}

fn rule_cond(classes: usize, with_exists: bool) -> BoxedStrategy<String> {
    prop_oneof![
        2 => expr(classes, with_exists),
        3 => gate_like(classes, with_exists),
    ]
    .boxed()
}

fn effect() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&["allow", "audit", "approve", "deny"][..])
}

/// A generated policy: source text and an optional catalog.
#[derive(Debug, Clone)]
struct Gen {
    source: String,
    catalog: Option<String>,
}

impl Gen {
    fn load(&self) -> Option<Policy> {
        // Generated rules may be `when true`: a lint error on allow rules, beside the point here.
        let lints = holdpoint::LintConfig::parse("props", "lints:\n  always-true: off\n").unwrap();
        let mut b = PolicyBuilder::new()
            .source("gen.gate", &self.source)
            .lints(lints);
        if let Some(c) = &self.catalog {
            b = b.catalog(Catalog::from_yaml("gen.yaml", c).unwrap());
        }
        match b.build() {
            Ok(p) => Some(p),
            Err(e) => panic!("generated policy does not load:\n{}\n{e}", self.source),
        }
    }
}

fn policy_with(with_exists: bool) -> impl Strategy<Value = Gen> {
    (0usize..4)
        .prop_flat_map(move |nclasses| {
            let classes: Vec<BoxedStrategy<String>> =
                (0..nclasses).map(|i| expr(i, with_exists)).collect();
            let rules = prop::collection::vec((effect(), rule_cond(nclasses, with_exists)), 1..10);
            let never = prop::collection::vec(any::<bool>(), nclasses);
            // Per tool: its classes, and whether the catalog declares its arguments' types.
            let catalog = prop::option::of(prop::collection::vec(
                (
                    prop::collection::vec(any::<bool>(), nclasses),
                    any::<bool>(),
                ),
                TOOLS.len(),
            ));
            (Just(nclasses), classes, rules, never, effect(), catalog)
        })
        .prop_map(|(nclasses, classes, rules, never, default, catalog)| {
            let mut s = format!("default {default}\n");
            for (i, c) in classes.iter().enumerate() {
                s.push_str(&format!("class c{i} = {c}\n"));
            }
            let never: Vec<String> = never
                .iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(i, _)| format!("c{i}"))
                .collect();
            if !never.is_empty() {
                s.push_str(&format!("never auto {}\n", never.join(", ")));
            }
            for (i, (e, cond)) in rules.iter().enumerate() {
                let extra = match (*e == "approve", i % 4) {
                    (true, 0) => "\n  mode async\n  by \"finance\"\n  reason \"r {args.amount}\"",
                    (true, 2) => "\n  by 2 of \"finance\", \"ops\"",
                    (true, 3) => "\n  confirm by requester\n  within 1h",
                    _ => "",
                };
                s.push_str(&format!("{e} r{i} {{\n  when {cond}{extra}\n}}\n"));
            }
            let catalog = catalog.map(|members| {
                let mut y = String::from("tools:\n");
                for (t, (m, typed)) in TOOLS.iter().zip(members) {
                    let cls: Vec<String> = (0..nclasses)
                        .filter(|i| m.get(*i).copied().unwrap_or(false))
                        .map(|i| format!("c{i}"))
                        .collect();
                    y.push_str(&format!("  {t}:\n    classes: [{}]\n", cls.join(", ")));
                    if typed {
                        y.push_str(TYPED_ARGS);
                    }
                }
                y
            });
            Gen { source: s, catalog }
        })
}

/// The arguments' types a generated catalog may declare for a tool: what the generated
/// conditions read, so a call's value of another type is one the catalog contradicts.
const TYPED_ARGS: &str = "    args:
      amount: number
      n: integer
      s: string
      to: {type: list, items: string}
      flag: boolean
      items: {type: list, items: {type: object, properties: {qty: number}}}
      customer: {type: object, properties: {tier: string}}
";

fn value_near(th: f64) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(&[-0.5, 0.0, 0.5, 1.0][..]).prop_map(move |d| json!(th + d)),
        1 => Just(json!("900")),
        1 => Just(json!([900])),
        1 => Just(Value::Null),
        // Very large and odd numbers: beyond u64, u64's largest, beyond f64's 53 bits, -0.
        1 => prop::sample::select(&[1e300, -1e300, 9007199254740993.0, -0.0][..]).prop_map(|v| json!(v)),
        1 => Just(json!(u64::MAX)),
        1 => Just(json!(i64::MIN)),
    ]
}

/// A value written as JSON text with every character of every string and key escaped
/// (`\u0061` for `a`, surrogate pairs beyond the first plane).
fn escaped_text(v: &Value) -> String {
    fn text(s: &str, out: &mut String) {
        out.push('"');
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04x}"));
        }
        out.push('"');
    }
    fn value(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => text(s, out),
            Value::Array(items) => {
                out.push_str("[ ");
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" ,\n");
                    }
                    value(x, out);
                }
                out.push(']');
            }
            Value::Object(m) => {
                out.push_str("{\t");
                for (i, (k, x)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    text(k, out);
                    out.push_str(" : ");
                    value(x, out);
                }
                out.push_str("\r\n}");
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    value(v, &mut out);
    out
}

fn call() -> impl Strategy<Value = ToolCall> {
    let tool = prop_oneof![prop::sample::select(TOOLS), prop::sample::select(UNLISTED)];
    let maybe = |s: BoxedStrategy<Value>| prop::option::of(s);
    (
        tool,
        maybe(
            prop::sample::select(THRESHOLDS)
                .prop_flat_map(value_near)
                .boxed(),
        ),
        maybe(
            prop::sample::select(THRESHOLDS)
                .prop_flat_map(value_near)
                .boxed(),
        ),
        maybe(
            prop::sample::select(&["abc", "a", "bcd", "ab", ""][..])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        maybe(
            prop_oneof![
                Just(json!([])),
                Just(json!(["a@x"])),
                Just(json!(["b@y", "c@x"])),
                Just(json!(["a@x", 5])),
                Just(json!("a@x")),
            ]
            .boxed(),
        ),
        maybe(prop_oneof![Just(json!(true)), Just(json!(false)), Just(json!("yes"))].boxed()),
        maybe(
            prop::sample::select(&[0.2, 0.5, 0.9][..])
                .prop_map(|c| json!(c))
                .boxed(),
        ),
        maybe(prop_oneof![Just(json!("prod")), Just(json!("dev")), Just(json!(1))].boxed()),
        maybe(
            prop::sample::select(THRESHOLDS)
                .prop_flat_map(value_near)
                .boxed(),
        ),
    )
        .prop_map(|(tool, amount, n, s, to, flag, conf, env, qty)| {
            let mut args = Map::new();
            let mut put = |k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    args.insert(k.to_string(), v);
                }
            };
            put("amount", amount);
            put("n", n);
            put("s", s);
            put("to", to);
            put("flag", flag);
            if let Some(q) = qty {
                args.insert("items".into(), json!([{"qty": q}]));
            }
            args.insert("customer".into(), json!({"tier": "gold"}));
            let mut ctx = Map::new();
            if let Some(c) = conf {
                ctx.insert("confidence".into(), c);
            }
            if let Some(e) = env {
                ctx.insert("env".into(), e);
            }
            ToolCall::new(tool, Value::Object(args)).with_context(Value::Object(ctx))
        })
}

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(3000))]

    /// (a) The tree and the reference interpreter give the same decision, JSON and all.
    #[test]
    fn tree_agrees_with_reference(g in policy_with(true), calls in prop::collection::vec(call(), 4)) {
        let policy = g.load().unwrap();
        let mut reader = CallReader::default();
        for c in &calls {
            let (tree, reference) = (policy.evaluate(c), policy.evaluate_reference(c));
            // Each unknown's cause is the very path its condition wrote (span and all).
            prop_assert_eq!(tree.unknowns(), reference.unknowns(), "policy:\n{}\ncall: {:?}", g.source, c);
            let fast = tree.report(c);
            let slow = reference.report(c);
            prop_assert_eq!(&fast, &slow, "policy:\n{}\ncall: {:?}", g.source, c);
            // Straight from the call's text, plain and with every string escaped.
            let doc = json!({"tool": c.tool, "args": c.args, "context": c.context});
            let slow = serde_json::to_value(&slow).unwrap();
            for text in [doc.to_string(), escaped_text(&doc)] {
                let d = policy.evaluate_json(&text, &mut reader).unwrap();
                let got = serde_json::to_value(d.json()).unwrap();
                prop_assert_eq!(&got, &slow, "policy:\n{}\ncall: {}", g.source, text);
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    /// (b) Arbitrary text never panics the parser or checker.
    #[test]
    fn parser_never_panics_on_text(text in "\\PC{0,200}") {
        let _ = Policy::from_source(&text);
    }

    /// (b) Nor does a valid policy with bytes cut, repeated or replaced.
    #[test]
    fn parser_never_panics_on_mutations(
        g in policy_with(true),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(&["{", "}", "\"", "(", ")", "and", "not", ".", "[", "9", "=~", "\\", "é", "\n", "#", "within 0s", "on timeout approve"][..])), 1..4),
        c in call(),
    ) {
        let mut s: Vec<char> = g.source.chars().collect();
        for (at, kind, piece) in edits {
            if s.is_empty() { break; }
            let i = at.index(s.len());
            match kind {
                0 => { s.remove(i); }
                1 => { for (k, ch) in piece.chars().enumerate() { s.insert(i + k, ch); } }
                _ => { s.truncate(i); }
            }
        }
        let text: String = s.into_iter().collect();
        if let Ok(p) = Policy::from_source(&text) {
            let _ = p.evaluate(&c).report(&c);
            let _ = p.evaluate_reference(&c).report(&c);
        }
    }

    /// (c) Every call in (or possibly in) a never-auto class waits at least for approval.
    #[test]
    fn never_auto_floor_holds(g in policy_with(true), calls in prop::collection::vec(call(), 4)) {
        let policy = g.load().unwrap();
        let program = holdpoint::unstable::program(&policy);
        for c in &calls {
            let env = Env::for_call(c, program);
            let member = program.never_auto.iter().any(|&cl| !matches!(class_member(cl, &env), Tri::False));
            if member {
                prop_assert!(policy.evaluate(c).effect() >= Effect::Approve, "policy:\n{}\ncall: {:?}", g.source, c);
            }
        }
    }

    /// (d) An extra allow or audit rule never lowers what a rule or a floor decided.
    #[test]
    fn permissive_rule_never_lowers_a_gate(g in policy_with(true), extra in expr(0, true), audit in any::<bool>(), calls in prop::collection::vec(call(), 4)) {
        let before = g.load().unwrap();
        let mut g2 = g.clone();
        g2.source.push_str(&format!("{} extra_rule {{ when {extra} }}\n", if audit { "audit" } else { "allow" }));
        let after = g2.load().unwrap();
        for c in &calls {
            let d = before.evaluate(c);
            if d.effect() >= Effect::Approve && !d.default_applied() {
                prop_assert_eq!(after.evaluate(c).effect(), d.effect(), "policy:\n{}\ncall: {:?}", g2.source, c);
            }
        }
    }

    /// (e) Removing or mistyping a value never turns a gated call into an auto-execute
    /// (policies without `exists`, which is how an author asks for presence explicitly).
    #[test]
    fn missing_or_mistyped_value_fails_closed(g in policy_with(false), calls in prop::collection::vec(call(), 8)) {
        let policy = g.load().unwrap();
        for c in &calls {
            let d = policy.evaluate(c);
            // A rule whose condition held outright (not one that was already unknown).
            let by_rule = d.named().iter().any(|n| {
                matches!(n, holdpoint::Named::Rule(_)) && !d.unknowns().iter().any(|u| u.source == *n)
            });
            if d.effect() < Effect::Approve || !by_rule {
                continue;
            }
            for which in 0..8 {
                for drop in [true, false] {
                    let mut c2 = c.clone();
                    let (obj, key) = match which {
                        0 => (&mut c2.args, "amount"),
                        1 => (&mut c2.args, "n"),
                        2 => (&mut c2.args, "s"),
                        3 => (&mut c2.args, "to"),
                        4 => (&mut c2.args, "flag"),
                        5 => (&mut c2.args, "items"),
                        6 => (&mut c2.context, "confidence"),
                        _ => (&mut c2.context, "env"),
                    };
                    let map = obj.as_object_mut().unwrap();
                    match (drop, map.get(key).cloned()) {
                        (true, _) | (false, None) => { map.remove(key); }
                        (false, Some(Value::Number(_))) => { map.insert(key.into(), json!("900")); }
                        (false, Some(Value::String(_))) => { map.insert(key.into(), json!(7)); }
                        (false, Some(Value::Array(_))) => { map.insert(key.into(), json!(3)); }
                        (false, Some(Value::Bool(_))) => { map.insert(key.into(), json!("true")); }
                        (false, Some(_)) => { map.insert(key.into(), json!(false)); }
                    }
                    let after = policy.evaluate(&c2);
                    prop_assert!(after.effect() >= Effect::Approve, "policy:\n{}\nbefore: {:?}\nafter: {:?} -> {}", g.source, c, c2, after.effect());
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(2000))]

    /// (f) With some elements unknown, a comparison of a `count` is decided exactly when
    /// every way of judging those elements gives one answer, and then it gives that one.
    #[test]
    fn count_with_unknown_elements_is_decided_exactly_when_every_judgement_agrees(
        elements in prop::collection::vec(0u8..3, 0..7),
        op in prop::sample::select(&["<", "<=", ">", ">=", "==", "!="][..]),
        n in 0u8..8,
        ok in prop::collection::vec(0u8..8, 0..4),
        form in 0u8..3,
    ) {
        let list = ok.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
        let cond = match form {
            0 => format!("count(x in args.l: x > 10) {op} {n}"),
            1 => format!("count(x in args.l: x > 10) in [{list}]"),
            _ => "args.ok contains count(x in args.l: x > 10)".to_string(),
        };
        let policy = Policy::from_source(&format!("default allow\napprove r {{ when {cond} }}\n")).unwrap();
        // 0: the condition fails, 1: it holds, 2: it cannot be judged.
        let judge = |l: Vec<Value>| {
            let call = ToolCall::new("t", json!({"l": l, "ok": ok}));
            let (fast, slow) = (policy.evaluate(&call), policy.evaluate_reference(&call));
            assert_eq!(fast.report(&call), slow.report(&call));
            match (fast.effect(), fast.unknowns().is_empty()) {
                (Effect::Allow, _) => Some(false),
                (_, true) => Some(true),
                _ => None,
            }
        };
        let element = |e: u8, fill: bool| match e {
            0 => json!(1),
            1 => json!(11),
            _ if fill => json!(11),
            _ => json!("?"),
        };
        let open = judge(elements.iter().map(|&e| element(e, false)).collect());
        let unknown: Vec<usize> = (0..elements.len()).filter(|&i| elements[i] == 2).collect();
        let mut answers = std::collections::BTreeSet::new();
        for bits in 0..(1u32 << unknown.len()) {
            let l = elements.iter().enumerate().map(|(i, &e)| {
                let k = unknown.iter().position(|&u| u == i);
                match k {
                    Some(k) if bits & (1 << k) == 0 => json!(1),
                    _ => element(e, true),
                }
            }).collect();
            answers.insert(judge(l).expect("every element judged"));
        }
        match open {
            Some(b) => prop_assert_eq!(answers.into_iter().collect::<Vec<_>>(), vec![b], "{} on {:?}", cond, elements),
            None => prop_assert_eq!(answers.len(), 2, "{} on {:?} is undecided, but every judgement agrees", cond, elements),
        }
    }
}

/// A condition with the evaluator's shortcuts turned off: every quantifier and `count`
/// judges its condition for every element, every time.
fn without_shortcuts(c: &Cond) -> Cond {
    let term = |t: &Term| match t {
        Term::Count(k) => Term::Count(Box::new(Count {
            list: k.list.clone(),
            var: k.var.clone(),
            body: without_shortcuts(&k.body),
            reads_element: true,
            closed: false,
        })),
        other => other.clone(),
    };
    match c {
        Cond::And(items) => Cond::And(items.iter().map(without_shortcuts).collect()),
        Cond::Or(items) => Cond::Or(items.iter().map(without_shortcuts).collect()),
        Cond::Not(inner) => Cond::Not(Box::new(without_shortcuts(inner))),
        Cond::Quantified {
            all,
            list,
            var,
            body,
            ..
        } => Cond::Quantified {
            all: *all,
            list: list.clone(),
            var: var.clone(),
            body: Box::new(without_shortcuts(body)),
            reads_element: true,
            closed: false,
        },
        Cond::Compare {
            left,
            op,
            right,
            span,
        } => Cond::Compare {
            left: term(left),
            op: op.clone(),
            right: term(right),
            span: *span,
        },
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(cases(1000))]

    /// (g) The shortcuts change nothing: the same value, and the same cause when unknown.
    #[test]
    fn shortcuts_give_what_judging_every_element_gives(g in policy_with(true), calls in prop::collection::vec(call(), 4)) {
        let policy = g.load().unwrap();
        let program = holdpoint::unstable::program(&policy);
        let conds: Vec<&Cond> = program.rules.iter().map(|r| &r.cond)
            .chain(program.classes.iter().filter_map(|c| c.cond.as_ref()))
            .collect();
        let slow: Vec<Cond> = conds.iter().map(|c| without_shortcuts(c)).collect();
        for c in &calls {
            let env = Env::for_call(c, program);
            for (fast, slow) in conds.iter().zip(&slow) {
                prop_assert_eq!(eval(fast, &env, None), eval(slow, &env, None), "policy:\n{}\ncall: {:?}", g.source, c);
            }
        }
    }
}

/// The generated source with comments on their own lines and at line ends.
fn with_comments(source: &str) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    for (i, line) in source.lines().enumerate() {
        if i % 3 == 0 {
            out.push_str(&format!("# k{i}\n"));
            n += 1;
        }
        out.push_str(line);
        if i % 4 == 1 {
            out.push_str(&format!("  # t{i}"));
            n += 1;
        }
        out.push('\n');
    }
    (out, n)
}

proptest! {
    #![proptest_config(cases(500))]

    /// `policy fmt` is idempotent, keeps every comment, and the formatted policy decides
    /// every call as the original does.
    #[test]
    fn formatting_round_trips(g in policy_with(true), calls in prop::collection::vec(call(), 4)) {
        let (source, comments) = with_comments(&g.source);
        let once = holdpoint::format_source(&source).unwrap();
        let twice = holdpoint::format_source(&once).unwrap();
        prop_assert_eq!(&once, &twice, "not idempotent:\n{}", source);
        prop_assert_eq!(once.matches("# ").count(), comments, "comments lost:\n{}\n---\n{}", source, once);
        let original = g.load().unwrap();
        let formatted = Gen { source: once.clone(), catalog: g.catalog.clone() }.load().unwrap();
        for c in &calls {
            prop_assert_eq!(original.evaluate(c).report(c), formatted.evaluate(c).report(c), "formatted:\n{}", once);
        }
    }
}
