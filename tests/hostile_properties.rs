//! Property: a hostile message built around a gated tool is refused, or decided on the one
//! reading an executor would run, and then a gated tool is never `allow` or `audit`.
//!
//! A message is a gated call (`db.execute`, `stripe.refund`, `admin.delete_user`) in one of
//! the shapes holdpoint reads, mixed with: a key given twice at any depth (the tool's key,
//! `args`, nested arguments, `context`, inside an `arguments` string, the proposal
//! envelope), a second description of the call carrying a harmless tool (any two of a
//! top-level call, OpenAI's `function`, MCP's `params`, Anthropic's `tool_use`, or beside a
//! proposal envelope's `call`), and a tool name that only looks like the gated one (case,
//! fullwidth forms, zero-width or bidirectional characters, blanks around it). It is read
//! as the command reads it: `ToolCall::from_json` (`policy eval`, `test`, `diff`) and
//! `Proposal::from_json` (`policy guard`).

use std::collections::BTreeMap;

use holdpoint::{Catalog, Effect, Policy, PolicyBuilder, ToolCall, fold};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

const CATALOG: &str = "tools:
  db.execute: {args: {sql: string, options: {type: object}}}
  stripe.refund: {args: {amount: number, charge: string, options: {type: object}}}
  admin.delete_user: {args: {user: string, options: {type: object}}}
  crm.get: {}
  jira.create_issue: {}
";

/// Everything not named runs: a reading that loses the gated tool is `allow`.
const POLICY: &str = r#"
default allow
deny drops { when tool == "db.execute" and args.sql matches "DROP*" }
approve db_writes { when tool == "db.execute" }
approve refunds { when tool == "stripe.refund" by "finance" }
deny user_deletion { when tool == "admin.delete_user" }
"#;

const GATED: &[&str] = &["db.execute", "stripe.refund", "admin.delete_user"];
const HARMLESS: &str = "crm.get";

fn policy() -> Policy {
    PolicyBuilder::new()
        .source("p.gate", POLICY)
        .catalog(Catalog::from_yaml("tools.yaml", CATALOG).unwrap())
        .build()
        .unwrap()
}

/// JSON as text is written: an object may give a key twice.
#[derive(Debug, Clone, PartialEq)]
enum J {
    Num(i64),
    Bool(bool),
    Str(String),
    Obj(Vec<(String, J)>),
}

impl J {
    fn obj(pairs: &[(&str, J)]) -> J {
        J::Obj(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn str(s: &str) -> J {
        J::Str(s.to_string())
    }

    fn text(&self) -> String {
        match self {
            J::Num(n) => n.to_string(),
            J::Bool(b) => b.to_string(),
            J::Str(s) => serde_json::to_string(s).unwrap(),
            J::Obj(pairs) => {
                let inner: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v.text()))
                    .collect();
                format!("{{{}}}", inner.join(","))
            }
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut J> {
        match self {
            J::Obj(pairs) => pairs.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn push(&mut self, key: &str, value: J) {
        if let J::Obj(pairs) = self {
            pairs.push((key.to_string(), value));
        }
    }

    /// Gives `key` (which must be there) a second time with `other`: after the first when
    /// `after`, else before it.
    fn twice(&mut self, key: &str, other: J, after: bool) {
        if let J::Obj(pairs) = self {
            let at = pairs.iter().position(|(k, _)| k == key).unwrap();
            pairs.insert(if after { at + 1 } else { at }, (key.to_string(), other));
        }
    }
}

/// The shapes holdpoint reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `{"tool", "args"}`.
    Plain,
    /// `{"name", "arguments"}`.
    NameArguments,
    /// OpenAI Responses: `{"type": "function_call", "call_id", "name", "arguments"}`.
    Responses,
    /// OpenAI chat: `{"id", "type": "function", "function": {"name", "arguments"}}`.
    OpenAiChat,
    /// MCP: `{"jsonrpc", "id", "method": "tools/call", "params": {"name", "arguments"}}`.
    Mcp,
    /// Anthropic: `{"type": "tool_use", "id", "name", "input"}`.
    Anthropic,
}

/// The four ways a message describes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Description {
    TopLevel,
    Function,
    Params,
    ToolUse,
}

impl Shape {
    fn description(self) -> Description {
        match self {
            Shape::Plain | Shape::NameArguments | Shape::Responses => Description::TopLevel,
            Shape::OpenAiChat => Description::Function,
            Shape::Mcp => Description::Params,
            Shape::Anthropic => Description::ToolUse,
        }
    }

    /// Whether its arguments may be a JSON string.
    fn text_arguments(self) -> bool {
        !matches!(self, Shape::Plain | Shape::Anthropic)
    }
}

/// What is done to the gated tool's name.
#[derive(Debug, Clone, PartialEq)]
enum Name {
    Clean,
    /// Upper case where the mask has a bit.
    Case(u32),
    /// Fullwidth forms where the mask has a bit.
    Fullwidth(u32),
    /// A zero-width or bidirectional character at a position.
    Hidden(char, usize),
    /// A blank before or after it.
    Blank(char, bool),
}

const ZERO_WIDTH: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];
const BIDI: &[char] = &[
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
];
const BLANKS: &[char] = &[
    ' ', '\t', '\n', '\u{00A0}', '\u{2007}', '\u{202F}', '\u{3000}',
];

impl Name {
    fn apply(&self, tool: &str) -> String {
        let masked = |mask: u32, f: &dyn Fn(char) -> char| {
            tool.chars()
                .enumerate()
                .map(|(i, c)| if mask >> (i % 32) & 1 == 1 { f(c) } else { c })
                .collect::<String>()
        };
        match self {
            Name::Clean => tool.to_string(),
            Name::Case(mask) => masked(*mask, &|c| c.to_ascii_uppercase()),
            Name::Fullwidth(mask) => masked(*mask, &|c| match c {
                '!'..='~' => char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap(),
                _ => c,
            }),
            Name::Hidden(h, at) => {
                let mut chars: Vec<char> = tool.chars().collect();
                chars.insert(at % (chars.len() + 1), *h);
                chars.into_iter().collect()
            }
            Name::Blank(b, true) => format!("{b}{tool}"),
            Name::Blank(b, false) => format!("{tool}{b}"),
        }
    }

    /// The label of what it does, and whether the name must be refused.
    fn label(&self) -> (&'static str, bool) {
        match self {
            Name::Clean => ("name:clean", false),
            Name::Case(_) => ("name:case", false),
            Name::Fullwidth(_) => ("name:fullwidth", false),
            Name::Hidden(c, _) if ZERO_WIDTH.contains(c) => ("name:zero-width", true),
            Name::Hidden(..) => ("name:bidi", true),
            Name::Blank(..) => ("name:blank", true),
        }
    }
}

/// Where a key is given twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dup {
    /// The key that names the tool (the other value: the harmless tool).
    ToolKey,
    /// An argument (inside the `arguments` string when the arguments are one).
    Args,
    /// An argument inside an argument.
    NestedArgs,
    Context,
    /// An argument, with the arguments sent as a JSON string where the shape allows.
    ArgumentsText,
    /// The proposal envelope's `call`.
    EnvelopeCall,
    /// The proposal envelope's `identity.user`.
    EnvelopeIdentity,
}

const DUPS: &[Dup] = &[
    Dup::ToolKey,
    Dup::Args,
    Dup::NestedArgs,
    Dup::Context,
    Dup::ArgumentsText,
    Dup::EnvelopeCall,
    Dup::EnvelopeIdentity,
];

/// What sits beside a proposal envelope's `call`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beside {
    Nothing,
    /// A top-level call of the harmless tool (the gated one is in `call`).
    Harmless,
    /// The gated call at the top level (the harmless one is in `call`).
    Gated,
}

/// One generated message, before it is written.
#[derive(Debug, Clone)]
struct Case {
    tool: &'static str,
    shape: Shape,
    args_as_text: bool,
    name: Name,
    /// A key given twice, and whether the other value comes after the first.
    dup: Option<(Dup, bool)>,
    /// A second description of the call; `true` puts the gated tool in it and the
    /// harmless one in the first.
    mix: Option<(Description, bool)>,
    envelope: Option<Beside>,
}

/// A message as text, with labels of what was done to it.
#[derive(Debug)]
struct Message {
    text: String,
    labels: Vec<&'static str>,
    must_refuse: bool,
}

fn args_of(tool: &str, harmless: bool) -> J {
    let options = J::obj(&[("dry_run", J::Bool(harmless))]);
    match tool {
        "db.execute" => J::obj(&[
            (
                "sql",
                J::str(if harmless {
                    "SELECT 1"
                } else {
                    "DROP TABLE users"
                }),
            ),
            ("options", options),
        ]),
        "stripe.refund" => J::obj(&[
            ("amount", J::Num(if harmless { 1 } else { 90_000 })),
            ("charge", J::str("ch_1")),
            ("options", options),
        ]),
        _ => J::obj(&[
            ("user", J::str(if harmless { "nobody" } else { "ceo" })),
            ("options", options),
        ]),
    }
}

/// The call `name(args)` in `shape` (`args` already a JSON string when sent as text).
fn call_in(shape: Shape, name: &str, args: J) -> J {
    let named = |wrapper_args: J| J::obj(&[("name", J::str(name)), ("arguments", wrapper_args)]);
    match shape {
        Shape::Plain => J::obj(&[("tool", J::str(name)), ("args", args)]),
        Shape::NameArguments => named(args),
        Shape::Responses => J::obj(&[
            ("type", J::str("function_call")),
            ("call_id", J::str("call_1")),
            ("name", J::str(name)),
            ("arguments", args),
        ]),
        Shape::OpenAiChat => J::obj(&[
            ("id", J::str("call_1")),
            ("type", J::str("function")),
            ("function", named(args)),
        ]),
        Shape::Mcp => J::obj(&[
            ("jsonrpc", J::str("2.0")),
            ("id", J::Num(7)),
            ("method", J::str("tools/call")),
            ("params", named(args)),
        ]),
        Shape::Anthropic => J::obj(&[
            ("type", J::str("tool_use")),
            ("id", J::str("toolu_1")),
            ("name", J::str(name)),
            ("input", args),
        ]),
    }
}

/// The object holding the tool's name in `shape`, and its key.
fn name_holder(message: &mut J, shape: Shape) -> (&mut J, &'static str) {
    match shape {
        Shape::Plain => (message, "tool"),
        Shape::OpenAiChat => (message.get_mut("function").unwrap(), "name"),
        Shape::Mcp => (message.get_mut("params").unwrap(), "name"),
        _ => (message, "name"),
    }
}

/// Adds a second description of the call, naming `tool`.
fn add_description(message: &mut J, d: Description, tool: &str) {
    match d {
        Description::TopLevel => {
            message.push("tool", J::str(tool));
            message.push("args", J::obj(&[]));
        }
        Description::Function => message.push(
            "function",
            J::obj(&[("name", J::str(tool)), ("arguments", J::str("{}"))]),
        ),
        Description::Params => message.push(
            "params",
            J::obj(&[("name", J::str(tool)), ("arguments", J::obj(&[]))]),
        ),
        Description::ToolUse => {
            message.push("type", J::str("tool_use"));
            message.push("name", J::str(tool));
            message.push("input", J::obj(&[]));
        }
    }
}

fn mix_label(a: Description, b: Description) -> &'static str {
    use Description::*;
    match (a.min(b), a.max(b)) {
        (TopLevel, Function) => "mix:top-level+function",
        (TopLevel, Params) => "mix:top-level+params",
        (TopLevel, ToolUse) => "mix:top-level+tool-use",
        (Function, Params) => "mix:function+params",
        (Function, ToolUse) => "mix:function+tool-use",
        _ => "mix:params+tool-use",
    }
}

const DESCRIPTIONS: [Description; 4] = [
    Description::TopLevel,
    Description::Function,
    Description::Params,
    Description::ToolUse,
];

impl Case {
    fn message(&self) -> Message {
        let mut labels = Vec::new();
        let (name_label, mut must_refuse) = self.name.label();
        labels.push(name_label);
        let gated = self.name.apply(self.tool);
        let swapped = matches!(self.mix, Some((_, true)));
        let (first, first_args) = if swapped {
            (HARMLESS.to_string(), J::obj(&[]))
        } else {
            (gated.clone(), args_of(self.tool, false))
        };
        let dup = self.dup;
        let mut args = first_args;
        let mut as_text = self.args_as_text && self.shape.text_arguments();
        match dup {
            Some((d @ (Dup::Args | Dup::ArgumentsText), after)) if !swapped => {
                if d == Dup::ArgumentsText {
                    as_text = self.shape.text_arguments();
                }
                let J::Obj(harmless) = args_of(self.tool, true) else {
                    unreachable!()
                };
                let (key, other) = harmless[0].clone();
                args.twice(&key, other, after);
                labels.push(if as_text {
                    "dup:arguments-text"
                } else {
                    "dup:args"
                });
            }
            Some((Dup::NestedArgs, after)) if !swapped => {
                let options = args.get_mut("options").unwrap();
                options.twice("dry_run", J::Bool(true), after);
                labels.push(if as_text {
                    "dup:arguments-text"
                } else {
                    "dup:nested-args"
                });
            }
            _ => {}
        }
        let args = if as_text { J::Str(args.text()) } else { args };
        let mut message = call_in(self.shape, &first, args);
        labels.push(match self.shape {
            Shape::Plain => "shape:plain",
            Shape::NameArguments => "shape:name-arguments",
            Shape::Responses => "shape:responses",
            Shape::OpenAiChat => "shape:openai-chat",
            Shape::Mcp => "shape:mcp",
            Shape::Anthropic => "shape:anthropic",
        });
        let mut context = J::obj(&[("tenant", J::str("acme")), ("confidence", J::Num(1))]);
        match dup {
            Some((Dup::Context, after)) => {
                context.twice("tenant", J::str("other"), after);
                labels.push("dup:context");
            }
            Some((Dup::ToolKey, after)) => {
                let other = if swapped {
                    gated.clone()
                } else {
                    HARMLESS.to_string()
                };
                let (holder, key) = name_holder(&mut message, self.shape);
                holder.twice(key, J::Str(other), after);
                labels.push("dup:tool-key");
            }
            // With the gated tool in the second description, the arguments that are
            // given twice are the harmless call's: give the context's key twice instead.
            Some((Dup::Args | Dup::ArgumentsText | Dup::NestedArgs, after)) if swapped => {
                context.twice("tenant", J::str("other"), after);
                labels.push("dup:context");
            }
            _ => {}
        }
        message.push("context", context);
        if let Some((second, _)) = self.mix {
            let primary = self.shape.description();
            let second = if second == primary {
                DESCRIPTIONS[(DESCRIPTIONS.iter().position(|d| *d == second).unwrap() + 1) % 4]
            } else {
                second
            };
            let other = if swapped {
                gated.clone()
            } else {
                HARMLESS.to_string()
            };
            add_description(&mut message, second, &other);
            labels.push(mix_label(primary, second));
        }
        let envelope = match dup {
            Some((Dup::EnvelopeCall | Dup::EnvelopeIdentity, _)) => {
                Some(self.envelope.unwrap_or(Beside::Nothing))
            }
            _ => self.envelope,
        };
        let text = match envelope {
            None => message.text(),
            Some(beside) => {
                let harmless_call = call_in(Shape::Plain, HARMLESS, J::obj(&[]));
                let mut identity = J::obj(&[("user", J::str("uma"))]);
                if let Some((Dup::EnvelopeIdentity, after)) = dup {
                    identity.twice("user", J::str("mallory"), after);
                    labels.push("dup:envelope-identity");
                }
                let mut env = match beside {
                    Beside::Gated => {
                        // The message's own keys at the top level, a harmless `call`.
                        let mut env = J::obj(&[("call", harmless_call.clone())]);
                        if let J::Obj(pairs) = message {
                            for (k, v) in pairs {
                                env.push(&k, v);
                            }
                        }
                        labels.push("envelope:gated-beside");
                        env
                    }
                    Beside::Harmless => {
                        let mut env = J::obj(&[("call", message)]);
                        env.push("tool", J::str(HARMLESS));
                        labels.push("envelope:harmless-beside");
                        env
                    }
                    Beside::Nothing => {
                        labels.push("envelope");
                        J::obj(&[("call", message)])
                    }
                };
                must_refuse |= beside != Beside::Nothing;
                if let Some((Dup::EnvelopeCall, after)) = dup {
                    env.twice("call", harmless_call, after);
                    labels.push("dup:envelope-call");
                }
                env.push("identity", identity);
                env.push("run_id", J::str("run-1"));
                env.text()
            }
        };
        must_refuse |= self.dup.is_some() || self.mix.is_some();
        Message {
            text,
            labels,
            must_refuse,
        }
    }
}

fn case() -> impl Strategy<Value = Case> {
    use prop::sample::select;
    let name = prop_oneof![
        Just(Name::Clean),
        any::<u32>().prop_map(Name::Case),
        any::<u32>().prop_map(Name::Fullwidth),
        (select(ZERO_WIDTH), 0..20usize).prop_map(|(c, at)| Name::Hidden(c, at)),
        (select(BIDI), 0..20usize).prop_map(|(c, at)| Name::Hidden(c, at)),
        (select(BLANKS), any::<bool>()).prop_map(|(c, before)| Name::Blank(c, before)),
    ];
    let shape = select(
        &[
            Shape::Plain,
            Shape::NameArguments,
            Shape::Responses,
            Shape::OpenAiChat,
            Shape::Mcp,
            Shape::Anthropic,
        ][..],
    );
    let dup = prop::option::weighted(0.5, (select(DUPS), any::<bool>()));
    let mix = prop::option::weighted(0.4, (select(&DESCRIPTIONS[..]), any::<bool>()));
    let envelope = prop::option::weighted(
        0.4,
        select(&[Beside::Nothing, Beside::Harmless, Beside::Gated][..]),
    );
    (
        select(GATED),
        shape,
        any::<bool>(),
        name,
        dup,
        mix,
        envelope,
    )
        .prop_map(
            |(tool, shape, args_as_text, name, dup, mix, envelope)| Case {
                tool,
                shape,
                args_as_text,
                name,
                dup,
                mix,
                envelope,
            },
        )
}

/// The policy, built once for every case.
static DECIDER: std::sync::LazyLock<Policy> = std::sync::LazyLock::new(policy);

/// The call each reader makes of the text (`Err` when it refuses it).
fn readings(text: &str) -> Vec<(&'static str, Result<ToolCall, String>)> {
    let mut out = vec![(
        "ToolCall::from_json",
        ToolCall::from_json(text).map_err(|e| e.to_string()),
    )];
    #[cfg(feature = "approvals")]
    {
        use holdpoint::approval::Proposal;
        use holdpoint::approval::envelope::{Fallbacks, Stated};
        let read =
            Proposal::from_json(text, &Stated::default(), &Fallbacks::default(), "sha256:00");
        out.push((
            "Proposal::from_json",
            read.map(|p| p.call).map_err(|e| e.to_string()),
        ));
    }
    out
}

/// The property, for one message: each reader refuses it, or reads the gated tool (and
/// only when nothing hostile was done but its case or width), and then neither evaluator
/// lets it run.
fn holds(m: &Message) -> Result<(), TestCaseError> {
    let policy = &*DECIDER;
    for (reader, read) in readings(&m.text) {
        let Ok(call) = read else { continue };
        let folded = fold(&call.tool);
        prop_assert!(
            !m.must_refuse,
            "{reader} read {:?} {:?} from {}\n{}",
            call.tool,
            call.args,
            m.labels.join(" "),
            m.text
        );
        prop_assert!(
            GATED.contains(&folded.as_str()),
            "{reader} judged {:?}, not the gated tool, from {}\n{}",
            call.tool,
            m.labels.join(" "),
            m.text
        );
        for d in [policy.evaluate(&call), policy.evaluate_reference(&call)] {
            prop_assert!(
                !matches!(d.effect(), Effect::Allow | Effect::Audit),
                "{reader}: {:?} is {} ({:?}) from {}\n{}",
                call.tool,
                d.effect(),
                d.rule_names(),
                m.labels.join(" "),
                m.text
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_hostile_message_around_a_gated_tool_is_refused_or_kept_from_running(c in case()) {
        holds(&c.message())?;
    }
}

fn hostile(label: &str) -> bool {
    label.starts_with("dup:")
        || label.starts_with("mix:")
        || label.starts_with("envelope:")
        || ["name:zero-width", "name:bidi", "name:blank"].contains(&label)
}

/// Every class the generator is meant to produce shows up in a sample, and a message whose
/// only hostile part is that class is refused by each reader (so the property above does
/// not pass on messages refused for another reason than the one it tests).
#[test]
fn the_generator_produces_every_class_and_each_hostile_class_alone_is_refused() {
    let mut runner = TestRunner::deterministic();
    let strategy = case();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut alone: BTreeMap<&str, usize> = BTreeMap::new();
    let mut confusables: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..4000 {
        let m = strategy.new_tree(&mut runner).unwrap().current().message();
        for l in &m.labels {
            *seen.entry(l).or_default() += 1;
        }
        let twists: Vec<&str> = m.labels.iter().copied().filter(|l| hostile(l)).collect();
        if let [only] = twists.as_slice() {
            *alone.entry(only).or_default() += 1;
            for (reader, read) in readings(&m.text) {
                assert!(
                    read.is_err(),
                    "{reader} read a message whose only hostile part is {only}: {}",
                    m.text
                );
            }
        }
        if twists.is_empty() {
            for (reader, read) in readings(&m.text) {
                // A bare call reader does not read an envelope.
                let Ok(call) = read else {
                    assert!(m.labels.contains(&"envelope") && reader == "ToolCall::from_json");
                    continue;
                };
                let d = DECIDER.evaluate(&call);
                if d.confusable_with().is_some() {
                    assert_eq!(d.effect(), Effect::Deny);
                    for l in &m.labels {
                        *confusables.entry(l).or_default() += 1;
                    }
                }
            }
        }
    }
    let classes = [
        "name:clean",
        "name:case",
        "name:fullwidth",
        "name:zero-width",
        "name:bidi",
        "name:blank",
        "dup:tool-key",
        "dup:args",
        "dup:nested-args",
        "dup:context",
        "dup:arguments-text",
        "dup:envelope-call",
        "dup:envelope-identity",
        "mix:top-level+function",
        "mix:top-level+params",
        "mix:top-level+tool-use",
        "mix:function+params",
        "mix:function+tool-use",
        "mix:params+tool-use",
        "envelope",
        "envelope:harmless-beside",
        "envelope:gated-beside",
        "shape:plain",
        "shape:name-arguments",
        "shape:responses",
        "shape:openai-chat",
        "shape:mcp",
        "shape:anthropic",
    ];
    for class in classes {
        let n = seen.get(class).copied().unwrap_or(0);
        assert!(n >= 20, "{class} was generated {n} times: {seen:?}");
        if hostile(class) {
            let n = alone.get(class).copied().unwrap_or(0);
            assert!(
                n >= 5,
                "{class} was the only hostile part {n} times: {alone:?}"
            );
        }
    }
    for class in ["name:case", "name:fullwidth"] {
        let n = confusables.get(class).copied().unwrap_or(0);
        assert!(n > 0, "no message with {class} was denied as a confusable");
    }
}
