//! The same rule sets in the Rego a Rego author would write for them: rules as data,
//! looked up by tool, judged by a few generic rules, instead of a helper rule per
//! condition. A rule of the common shape (one tool test, then comparisons of a path with
//! a literal) becomes a record of `data.hp`; the candidates for a call are the records
//! filed under its tool (or a tool prefix or suffix), plus those without a tool test.
//! Whatever does not fit that shape (classes, `or`, `not`, other operators) keeps the
//! helper-rule form of [`crate::rego_source`], in the same package.

use std::collections::BTreeMap;

use holdpoint::unstable::ir::{Cond, Lit, Op, PathExpr, Program, Root, Seg, Term};
use serde_json::{Value, json};

use crate::{Outcome, decide_with, prepared, rego_package, split_package};

/// How the call's tool is tested by a data-driven rule.
enum ToolTest {
    Any,
    Names(Vec<String>),
    Prefix(String),
    Suffix(String),
}

/// A rule as data, if it has the common shape.
fn as_data(cond: &Cond) -> Option<(ToolTest, Vec<Value>)> {
    let atoms: Vec<&Cond> = match cond {
        Cond::And(items) => items.iter().collect(),
        c => vec![c],
    };
    let mut tool = ToolTest::Any;
    let mut conds = Vec::new();
    for a in atoms {
        let Cond::Compare {
            left, op, right, ..
        } = a
        else {
            return None;
        };
        match (left, op, right) {
            (Term::Tool, _, _) => {
                if !matches!(tool, ToolTest::Any) {
                    return None;
                }
                tool = tool_test(op, right)?;
            }
            (Term::Path(p), _, Term::Lit(l)) => conds.push(atom(p, op, l)?),
            _ => return None,
        }
    }
    Some((tool, conds))
}

fn tool_test(op: &Op, right: &Term) -> Option<ToolTest> {
    Some(match (op, right) {
        (Op::Eq, Term::Lit(Lit::Str(s))) => ToolTest::Names(vec![s.to_string()]),
        (Op::In, Term::Lit(Lit::List(items))) => ToolTest::Names(
            items
                .iter()
                .map(|i| match i {
                    Lit::Str(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect::<Option<_>>()?,
        ),
        (Op::Glob(g), _) => {
            let p = g.as_str();
            if let Some(prefix) = p.strip_suffix('*').filter(|r| !r.contains(['*', '?'])) {
                ToolTest::Prefix(prefix.to_string())
            } else {
                let suffix = p.strip_prefix('*').filter(|r| !r.contains(['*', '?']))?;
                ToolTest::Suffix(suffix.to_string())
            }
        }
        _ => return None,
    })
}

/// `PATH op LITERAL` as a record: the path as keys under `input`, the operator, the
/// literal and the type the value must have to be compared at all.
fn atom(p: &PathExpr, op: &Op, l: &Lit) -> Option<Value> {
    let mut path = vec![json!(match p.root {
        Root::Args => "args",
        Root::Context => "ctx",
        Root::Var(_) => return None,
    })];
    for seg in p.segments.iter() {
        match seg {
            Seg::Key(k) => path.push(json!(&**k)),
            Seg::Index(_) => return None,
        }
    }
    let (op, ty, value) = match (op, l) {
        (Op::Eq | Op::Ne, Lit::Str(s)) => (op.as_str(), "string", json!(&**s)),
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, Lit::Num(n)) => (op.as_str(), "number", json!(n)),
        (Op::In | Op::NotIn, Lit::List(items)) => {
            let texts: Option<Vec<&str>> = items
                .iter()
                .map(|i| match i {
                    Lit::Str(s) => Some(&**s),
                    _ => None,
                })
                .collect();
            (
                if matches!(op, Op::In) { "in" } else { "not in" },
                "string",
                json!(texts?),
            )
        }
        _ => return None,
    };
    Some(json!({"path": path, "op": op, "type": ty, "value": value}))
}

/// The generic rules that judge the records, in the gate language's three values: a
/// comparison holds, fails (the value is there and of the literal's type, and it does
/// not hold), or neither (missing, or of another type: unknown).
const JUDGE: &str = r#"
cand contains id if some id in data.hp.by_tool[input.tool]
cand contains id if { some e in data.hp.prefix; startswith(input.tool, e.p); some id in e.rules }
cand contains id if { some e in data.hp.suffix; endswith(input.tool, e.s); some id in e.rules }
cand contains id if some id in data.hp.any

typed(x, "string") if is_string(x)
typed(x, "number") if is_number(x)

holds(c) if { x := object.get(input, c.path, null); typed(x, c.type); cmp(c.op, x, c.value) }
fails(c) if { x := object.get(input, c.path, null); typed(x, c.type); not cmp(c.op, x, c.value) }

cmp("==", x, v) if x == v
cmp("!=", x, v) if x != v
cmp("<", x, v) if x < v
cmp("<=", x, v) if x <= v
cmp(">", x, v) if x > v
cmp(">=", x, v) if x >= v
cmp("in", x, v) if x in v
cmp("not in", x, v) if not x in v

rule_true(r) if every c in r.conds { holds(c) }
rule_false(r) if { some c in r.conds; fails(c) }

contrib contains [r.name, r.effect] if {
  some id in cand; r := data.hp.rules[id]; r.effect != "approve"; rule_true(r)
}
contrib contains [r.name, "approve"] if {
  some id in cand; r := data.hp.rules[id]; r.effect == "approve"; not rule_false(r)
}
contrib contains [r.name, "approve"] if {
  some id in cand; r := data.hp.rules[id]; r.effect == "deny"; not rule_true(r); not rule_false(r)
}
"#;

/// regorus with the rules as data (see the module's comment), the engine reused.
pub struct RegoDataEngine {
    engine: regorus::Engine,
    /// How many rules are records (the rest keep helper rules).
    pub as_data: usize,
}

impl RegoDataEngine {
    /// Builds the data and the package.
    pub fn new(program: &Program) -> Result<RegoDataEngine, String> {
        let mut rules = Vec::new();
        let mut by_tool: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut prefix: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut suffix: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut any = Vec::new();
        let mut data_rules = vec![false; program.rules.len()];
        for (i, rule) in program.rules.iter().enumerate() {
            let Some((tool, conds)) = as_data(&rule.cond) else {
                continue;
            };
            let id = rules.len();
            if let Some(slot) = data_rules.get_mut(i) {
                *slot = true;
            }
            rules.push(
                json!({"name": rule.name, "effect": rule.effect.to_string(), "conds": conds}),
            );
            match tool {
                ToolTest::Any => any.push(id),
                ToolTest::Names(names) => {
                    for n in names {
                        by_tool.entry(n).or_default().push(id);
                    }
                }
                ToolTest::Prefix(p) => prefix.entry(p).or_default().push(id),
                ToolTest::Suffix(s) => suffix.entry(s).or_default().push(id),
            }
        }
        let data = json!({"hp": {
            "rules": rules,
            "by_tool": by_tool,
            "prefix": prefix.into_iter().map(|(p, r)| json!({"p": p, "rules": r})).collect::<Vec<_>>(),
            "suffix": suffix.into_iter().map(|(s, r)| json!({"s": s, "rules": r})).collect::<Vec<_>>(),
            "any": any,
        }});
        let package = rego_package(
            program,
            |i| data_rules.get(i).copied().unwrap_or(false),
            JUDGE,
        )?;
        let engine = prepared(split_package(&package), Some(&data.to_string()))?;
        Ok(RegoDataEngine {
            engine,
            as_data: data_rules.iter().filter(|d| **d).count(),
        })
    }

    /// Decides (the input as [`crate::RegoEngine::prepare`] builds it).
    pub fn decide(&mut self, input: &regorus::Value) -> Result<Outcome, String> {
        decide_with(&mut self.engine, input)
    }
}
