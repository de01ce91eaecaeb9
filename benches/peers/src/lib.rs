//! holdpoint, Cedar and Rego side by side on the same generated rule sets.
//!
//! A generated policy (holdpoint's [`holdpoint::tools::generate`], portable dialect) is
//! translated mechanically, from its checked form, into a Cedar policy set and a Rego
//! package. The gate language's three-valued semantics (a missing value makes a
//! comparison unknown, and an unknown approve/deny rule asks a human) is spelled out in
//! each target: every condition `e` becomes the pair "`e` is true" / "`e` is false",
//! guarded by `has` (Cedar) or by definedness and type tests (Rego). The combination
//! (most restrictive wins, the default, never-auto floors) is done by a decision rule
//! in Rego, and in a few lines of Rust over the satisfied policies for Cedar (whose own
//! combination is only permit/forbid).
//!
//! [`Engines::agree`] checks that all engines give the same decision before any timing
//! counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Entities, EntityId, EntityTypeName, EntityUid, Policy as CedarPolicy,
    PolicyId, PolicySet, Request,
};
use holdpoint::ArgType;

mod rego_data;
use holdpoint::unstable::ir::{Cond, Lit, Op, PathExpr, Program, Root, Seg, Term};
use holdpoint::{Effect, Policy, ToolCall};
pub use rego_data::RegoDataEngine;

/// What every engine must agree on: the effect and the names that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// allow, audit, approve or deny.
    pub effect: Effect,
    /// Rule names, `never_auto:CLASS` and `default`, sorted.
    pub rules: Vec<String>,
}

/// A rule's contribution, as the targets report it.
#[derive(Debug, Clone)]
struct Meta {
    /// Rule name, or `never_auto:CLASS` for a floor.
    name: String,
    /// What it contributes; `None` for a floor.
    effect: Option<Effect>,
}

/// Most restrictive wins; the default; floors: the gate language's combination.
fn combine(program: &Program, contributions: &[(String, Effect)], floors: &[String]) -> Outcome {
    let top = contributions.iter().map(|(_, e)| *e).max();
    let (effect, mut rules) = match top {
        Some(t) => (
            t,
            contributions
                .iter()
                .filter(|(_, e)| *e == t)
                .map(|(n, _)| n.clone())
                .collect::<Vec<_>>(),
        ),
        None => (
            program.default,
            if program.default == Effect::Approve {
                vec!["default".to_string()]
            } else {
                Vec::new()
            },
        ),
    };
    let (effect, mut rules) = if effect < Effect::Approve && !floors.is_empty() {
        (Effect::Approve, floors.to_vec())
    } else {
        (effect, std::mem::take(&mut rules))
    };
    rules.sort();
    rules.dedup();
    Outcome { effect, rules }
}

/// holdpoint's own decision as an [`Outcome`].
pub fn holdpoint_outcome(policy: &Policy, call: &ToolCall) -> Outcome {
    let d = policy.evaluate(call);
    let mut rules = d.rule_names();
    rules.sort();
    Outcome {
        effect: d.effect(),
        rules,
    }
}

// ------------------------------------------------------------------------------ Cedar

/// Translation to Cedar of one condition: (true-when, false-when) expressions.
struct CedarTr<'a> {
    program: &'a Program,
}

fn cedar_path(p: &PathExpr) -> Option<(String, String)> {
    // Returns (guard, value expression).
    let mut base = match p.root {
        Root::Args => "context.args".to_string(),
        Root::Context => "context.ctx".to_string(),
        Root::Var(_) => return None,
    };
    let mut guards = Vec::new();
    for s in p.segments.iter() {
        match s {
            Seg::Key(k) => {
                guards.push(format!("{base} has {k}"));
                base = format!("{base}.{k}");
            }
            Seg::Index(_) => return None,
        }
    }
    Some((guards.join(" && "), base))
}

fn cedar_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Names quoted and comma-separated, as Cedar lists and Rego sets both write them.
fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(cedar_str).collect::<Vec<_>>().join(", ")
}

/// The names of a `tool in [...]` list (a non-string item, which the checker refuses,
/// as an empty name).
fn quoted_names(items: &[Lit]) -> String {
    quoted(items.iter().map(|i| match i {
        Lit::Str(s) => &**s,
        _ => "",
    }))
}

/// A Cedar `like` pattern: the text with its own `*` escaped, wildcards at the ends.
fn like(lead: bool, s: &str, trail: bool) -> String {
    let q = cedar_str(s);
    let body = q
        .get(1..q.len().saturating_sub(1))
        .unwrap_or("")
        .replace('*', "\\*");
    format!(
        "\"{}{body}{}\"",
        if lead { "*" } else { "" },
        if trail { "*" } else { "" }
    )
}

fn is_list_arg(program: &Program, p: &PathExpr) -> bool {
    let Some(Seg::Key(k)) = p.segments.first() else {
        return false;
    };
    program.catalog.as_ref().is_some_and(|c| {
        c.tools.values().any(|t| {
            t.args
                .as_ref()
                .and_then(|a| a.get(&**k))
                .is_some_and(|a| a.ty == ArgType::List)
        })
    })
}

impl CedarTr<'_> {
    /// The true-when and false-when expressions of a conjunction or disjunction.
    fn junction(
        &self,
        items: &[Cond],
        t_join: &str,
        f_join: &str,
    ) -> Result<(String, String), String> {
        let parts: Vec<(String, String)> =
            items.iter().map(|i| self.tf(i)).collect::<Result<_, _>>()?;
        let join = |pick: fn(&(String, String)) -> &String, sep: &str| {
            parts
                .iter()
                .map(|p| format!("({})", pick(p)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        Ok((join(|p| &p.0, t_join), join(|p| &p.1, f_join)))
    }

    fn tf(&self, c: &Cond) -> Result<(String, String), String> {
        Ok(match c {
            Cond::Const(true) => ("true".into(), "false".into()),
            Cond::Const(false) => ("false".into(), "true".into()),
            // Kleene: `a and b` is true when both are, false when either is; `or` the dual.
            Cond::And(items) => self.junction(items, " && ", " || ")?,
            Cond::Or(items) => self.junction(items, " || ", " && ")?,
            Cond::Not(inner) => {
                let (t, f) = self.tf(inner)?;
                (f, t)
            }
            Cond::Class(id) => {
                let class = self.program.class(*id).ok_or("unknown class")?;
                let (mut t, mut f) = match &class.cond {
                    Some(c) => self.tf(c)?,
                    None => ("false".into(), "true".into()),
                };
                if !class.catalog_tools.is_empty() {
                    let set = quoted(class.catalog_tools.iter().map(String::as_str));
                    t = format!("([{set}].contains(context.tool)) || ({t})");
                    f = format!("!([{set}].contains(context.tool)) && ({f})");
                }
                (t, f)
            }
            Cond::Compare {
                left, op, right, ..
            } => self.compare(left, op, right)?,
            other => return Err(format!("not portable to Cedar: {other:?}")),
        })
    }

    fn compare(&self, left: &Term, op: &Op, right: &Term) -> Result<(String, String), String> {
        if let Term::Tool = left {
            let t = match (op, right) {
                (Op::Eq, Term::Lit(Lit::Str(s))) => format!("context.tool == {}", cedar_str(s)),
                (Op::Ne, Term::Lit(Lit::Str(s))) => format!("context.tool != {}", cedar_str(s)),
                (Op::In, Term::Lit(Lit::List(items))) => {
                    format!("[{}].contains(context.tool)", quoted_names(items))
                }
                (Op::Glob(g), _) => format!("context.tool like {}", cedar_str(g.as_str())),
                _ => return Err(format!("tool test not portable: {op:?}")),
            };
            return Ok((t.clone(), format!("!({t})")));
        }
        let Term::Path(p) = left else {
            return Err("left side must be a path".into());
        };
        let (guard, v) = cedar_path(p).ok_or("path not portable")?;
        let g = |e: String| {
            if guard.is_empty() {
                e
            } else {
                format!("{guard} && {e}")
            }
        };
        let (t, f) = match (op, right) {
            (Op::Gt | Op::Ge | Op::Lt | Op::Le, Term::Lit(Lit::Num(n))) => {
                let (tt, ff) = match op {
                    Op::Gt => ("greaterThan", "lessThanOrEqual"),
                    Op::Ge => ("greaterThanOrEqual", "lessThan"),
                    Op::Lt => ("lessThan", "greaterThanOrEqual"),
                    _ => ("lessThanOrEqual", "greaterThan"),
                };
                if n.fract() != 0.0 {
                    let d = format!("decimal(\"{n:.4}\")");
                    (format!("{v}.{tt}({d})"), format!("{v}.{ff}({d})"))
                } else {
                    let i = *n as i64;
                    let (a, b) = match op {
                        Op::Gt => (">", "<="),
                        Op::Ge => (">=", "<"),
                        Op::Lt => ("<", ">="),
                        _ => ("<=", ">"),
                    };
                    (format!("{v} {a} {i}"), format!("{v} {b} {i}"))
                }
            }
            (Op::Eq | Op::Ne, Term::Lit(Lit::Str(s))) => {
                let eq = format!("{v} == {}", cedar_str(s));
                let ne = format!("{v} != {}", cedar_str(s));
                if matches!(op, Op::Eq) {
                    (eq, ne)
                } else {
                    (ne, eq)
                }
            }
            (Op::In | Op::NotIn, Term::Lit(Lit::List(items))) => {
                let set = items
                    .iter()
                    .map(|i| match i {
                        Lit::Str(s) => cedar_str(s),
                        Lit::Num(n) => format!("{}", *n as i64),
                        Lit::Bool(b) => b.to_string(),
                        Lit::List(_) => "[]".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let inn = format!("[{set}].contains({v})");
                let out = format!("!([{set}].contains({v}))");
                if matches!(op, Op::In) {
                    (inn, out)
                } else {
                    (out, inn)
                }
            }
            (Op::StartsWith, Term::Lit(Lit::Str(s))) => {
                let e = format!("{v} like {}", like(false, s, true));
                (e.clone(), format!("!({e})"))
            }
            (Op::EndsWith, Term::Lit(Lit::Str(s))) => {
                let e = format!("{v} like {}", like(true, s, false));
                (e.clone(), format!("!({e})"))
            }
            (Op::Contains, Term::Lit(Lit::Str(s))) if is_list_arg(self.program, p) => {
                let e = format!("{v}.contains({})", cedar_str(s));
                (e.clone(), format!("!({e})"))
            }
            (Op::Contains, Term::Lit(Lit::Str(s))) => {
                let e = format!("{v} like {}", like(true, s, true));
                (e.clone(), format!("!({e})"))
            }
            _ => return Err(format!("comparison not portable: {op:?} {right:?}")),
        };
        Ok((g(t), g(f)))
    }
}

/// One Cedar policy text per contribution, and what each means.
fn cedar_policies(
    program: &Program,
    scoped: bool,
) -> Result<Vec<(String, Meta, Option<String>)>, String> {
    let tr = CedarTr { program };
    let mut out = Vec::new();
    for rule in &program.rules {
        // A rule aimed at one tool is scoped to that action, as a Cedar author would.
        let (action, cond) = match (scoped, single_tool(&rule.cond)) {
            (true, Some((tool, rest))) => (Some(tool), rest),
            _ => (None, rule.cond.clone()),
        };
        let scope = match &action {
            Some(t) => format!("action == Action::{}", cedar_str(t)),
            None => "action".to_string(),
        };
        let (t, f) = tr.tf(&cond)?;
        let name = rule.name.clone();
        let mut push = |when: String, effect: Effect| {
            out.push((
                format!("permit(principal, {scope}, resource) when {{ {when} }};"),
                Meta {
                    name: name.clone(),
                    effect: Some(effect),
                },
                action.clone(),
            ));
        };
        match rule.effect {
            Effect::Allow | Effect::Audit => push(t, rule.effect),
            // True or unknown: a human looks.
            Effect::Approve => push(format!("!({f})"), Effect::Approve),
            Effect::Deny => {
                push(t.clone(), Effect::Deny);
                push(format!("!({t}) && !({f})"), Effect::Approve);
            }
        }
    }
    for &c in &program.never_auto {
        let class = program.class(c).ok_or("unknown class")?;
        let (_, f) = tr.tf(&Cond::Class(c))?;
        out.push((
            format!("permit(principal, action, resource) when {{ !({f}) }};"),
            Meta {
                name: format!("never_auto:{}", class.name),
                effect: None,
            },
            None,
        ));
    }
    Ok(out)
}

/// `tool == "x" and REST`: the tool and the rest.
fn single_tool(c: &Cond) -> Option<(String, Cond)> {
    let is_tool = |c: &Cond| match c {
        Cond::Compare {
            left: Term::Tool,
            op: Op::Eq,
            right: Term::Lit(Lit::Str(s)),
            ..
        } => Some(s.to_string()),
        _ => None,
    };
    if let Some(t) = is_tool(c) {
        return Some((t, Cond::Const(true)));
    }
    let Cond::And(items) = c else { return None };
    let (i, tool) = items
        .iter()
        .enumerate()
        .find_map(|(i, c)| is_tool(c).map(|t| (i, t)))?;
    let rest: Vec<Cond> = items
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, c)| c.clone())
        .collect();
    Some((tool, Cond::And(rest.into())))
}

fn build_set(parsed: &[CedarPolicy], pick: impl Fn(usize) -> bool) -> Result<PolicySet, String> {
    let mut set = PolicySet::new();
    for (i, p) in parsed.iter().enumerate() {
        if pick(i) {
            set.add(p.clone()).map_err(|e| e.to_string())?;
        }
    }
    Ok(set)
}

/// Cedar, as it is: one policy set, every policy checked on every request.
pub struct CedarEngine {
    set: PolicySet,
    /// With a pre-index by action: the policies scoped to each tool, plus the unscoped.
    by_action: HashMap<String, PolicySet>,
    unscoped: PolicySet,
    metas: Vec<Meta>,
    authorizer: Authorizer,
    entities: Entities,
}

/// A call turned into a Cedar request once, before timing.
pub struct CedarCall {
    request: Request,
    tool: String,
}

fn to_cedar_json(v: &serde_json::Value) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    match v {
        J::Null => None,
        J::Number(n) if n.is_i64() => Some(J::Number(n.clone())),
        J::Number(n) => Some(
            serde_json::json!({"__extn": {"fn": "decimal", "arg": format!("{:.4}", n.as_f64()?)}}),
        ),
        J::Array(a) => Some(J::Array(a.iter().filter_map(to_cedar_json).collect())),
        J::Object(o) => Some(J::Object(
            o.iter()
                .filter_map(|(k, v)| to_cedar_json(v).map(|v| (k.clone(), v)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A call's Cedar context, as JSON: the tool, its arguments and its context (nulls
/// dropped, non-integer numbers as `decimal`).
pub fn cedar_context(call: &ToolCall) -> serde_json::Value {
    serde_json::json!({
        "tool": call.tool,
        "args": to_cedar_json(&call.args).unwrap_or(serde_json::json!({})),
        "ctx": to_cedar_json(&call.context).unwrap_or(serde_json::json!({})),
    })
}

/// The Cedar translation as text, one policy per item, with the tool each is scoped to
/// (`None`: every tool). Parsed as one policy set, item `i` is Cedar's `policy{i}`.
pub fn cedar_texts(program: &Program) -> Result<Vec<(String, Option<String>)>, String> {
    Ok(cedar_policies(program, true)?
        .into_iter()
        .map(|(text, _, action)| (text, action))
        .collect())
}

impl CedarEngine {
    /// Translates a program.
    pub fn new(program: &Program) -> Result<CedarEngine, String> {
        let items = cedar_policies(program, true)?;
        let parsed: Vec<CedarPolicy> = items
            .iter()
            .enumerate()
            .map(|(i, (text, _, _))| {
                CedarPolicy::parse(Some(PolicyId::new(i.to_string())), text)
                    .map_err(|e| format!("{e}: {text}"))
            })
            .collect::<Result<_, _>>()?;
        let set = build_set(&parsed, |_| true)?;
        let mut by_action: HashMap<String, PolicySet> = HashMap::new();
        let tools: BTreeSet<String> = items.iter().filter_map(|(_, _, a)| a.clone()).collect();
        for tool in tools {
            let s = build_set(&parsed, |i| {
                items
                    .get(i)
                    .is_some_and(|(_, _, a)| a.is_none() || a.as_deref() == Some(&tool))
            })?;
            by_action.insert(tool, s);
        }
        let unscoped = build_set(&parsed, |i| {
            items.get(i).is_some_and(|(_, _, a)| a.is_none())
        })?;
        Ok(CedarEngine {
            set,
            by_action,
            unscoped,
            metas: items.into_iter().map(|(_, m, _)| m).collect(),
            authorizer: Authorizer::new(),
            entities: Entities::empty(),
        })
    }

    /// The request for a call.
    pub fn prepare(&self, call: &ToolCall) -> Result<CedarCall, String> {
        let context =
            Context::from_json_value(cedar_context(call), None).map_err(|e| e.to_string())?;
        let ty = |t: &str| EntityTypeName::from_str(t).map_err(|e| e.to_string());
        let uid = |t: &str, id: &str| -> Result<EntityUid, String> {
            Ok(EntityUid::from_type_name_and_id(ty(t)?, EntityId::new(id)))
        };
        let request = Request::new(
            uid("Agent", "agent")?,
            uid("Action", &call.tool)?,
            uid("Tool", &call.tool)?,
            context,
            None,
        )
        .map_err(|e| e.to_string())?;
        Ok(CedarCall {
            request,
            tool: call.tool.clone(),
        })
    }

    /// The ids of the policies that decided a call (Cedar's reasons), sorted.
    pub fn reasons(&self, call: &CedarCall) -> Vec<String> {
        let response = self
            .authorizer
            .is_authorized(&call.request, &self.set, &self.entities);
        let mut ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        ids.sort();
        ids
    }

    fn outcome(&self, program: &Program, set: &PolicySet, call: &CedarCall) -> Outcome {
        let response = self
            .authorizer
            .is_authorized(&call.request, set, &self.entities);
        let mut contributions = Vec::new();
        let mut floors = Vec::new();
        for id in response.diagnostics().reason() {
            let Some(meta) = id
                .to_string()
                .parse::<usize>()
                .ok()
                .and_then(|i| self.metas.get(i))
            else {
                continue;
            };
            match meta.effect {
                Some(e) => contributions.push((meta.name.clone(), e)),
                None => floors.push(meta.name.clone()),
            }
        }
        floors.sort();
        combine(program, &contributions, &floors)
    }

    /// Decides with every policy.
    pub fn decide(&self, program: &Program, call: &CedarCall) -> Outcome {
        self.outcome(program, &self.set, call)
    }

    /// Decides with only the policies of the call's action (and the unscoped ones).
    pub fn decide_indexed(&self, program: &Program, call: &CedarCall) -> Outcome {
        let set = self.by_action.get(&call.tool).unwrap_or(&self.unscoped);
        self.outcome(program, set, call)
    }
}

// ------------------------------------------------------------------------------- Rego

struct RegoTr<'a> {
    program: &'a Program,
    out: String,
    next: usize,
    classes: HashMap<u32, usize>,
}

fn rego_path(p: &PathExpr) -> Option<String> {
    let mut s = match p.root {
        Root::Args => "input.args".to_string(),
        Root::Context => "input.ctx".to_string(),
        Root::Var(_) => return None,
    };
    for seg in p.segments.iter() {
        match seg {
            Seg::Key(k) => {
                let _ = write!(s, "[{}]", cedar_str(k));
            }
            Seg::Index(i) => {
                let _ = write!(s, "[{i}]");
            }
        }
    }
    Some(s)
}

impl RegoTr<'_> {
    /// Emits `t_K` / `f_K` for a condition and returns K.
    fn node(&mut self, c: &Cond) -> Result<usize, String> {
        let k = self.next;
        self.next += 1;
        match c {
            Cond::Const(true) => {
                let _ = writeln!(self.out, "t_{k} := true");
            }
            Cond::Const(false) => {
                let _ = writeln!(self.out, "f_{k} := true");
            }
            Cond::And(items) => {
                let kids: Vec<usize> = items
                    .iter()
                    .map(|i| self.node(i))
                    .collect::<Result<_, _>>()?;
                let body = kids
                    .iter()
                    .map(|j| format!("t_{j}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(self.out, "t_{k} if {{ {body} }}");
                for j in &kids {
                    let _ = writeln!(self.out, "f_{k} if f_{j}");
                }
            }
            Cond::Or(items) => {
                let kids: Vec<usize> = items
                    .iter()
                    .map(|i| self.node(i))
                    .collect::<Result<_, _>>()?;
                for j in &kids {
                    let _ = writeln!(self.out, "t_{k} if t_{j}");
                }
                let body = kids
                    .iter()
                    .map(|j| format!("f_{j}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                let _ = writeln!(self.out, "f_{k} if {{ {body} }}");
            }
            Cond::Not(inner) => {
                let j = self.node(inner)?;
                let _ = writeln!(self.out, "t_{k} if f_{j}\nf_{k} if t_{j}");
            }
            Cond::Class(id) => {
                let j = match self.classes.get(id) {
                    Some(j) => *j,
                    None => {
                        let class = self.program.class(*id).ok_or("unknown class")?;
                        let cond = class.cond.clone().unwrap_or(Cond::Const(false));
                        let j = self.node(&cond)?;
                        self.classes.insert(*id, j);
                        j
                    }
                };
                let class = self.program.class(*id).ok_or("unknown class")?;
                if class.catalog_tools.is_empty() {
                    let _ = writeln!(self.out, "t_{k} if t_{j}\nf_{k} if f_{j}");
                } else {
                    let set = quoted(class.catalog_tools.iter().map(String::as_str));
                    let _ = writeln!(
                        self.out,
                        "t_{k} if input.tool in {{{set}}}\nt_{k} if t_{j}\nf_{k} if {{ not input.tool in {{{set}}}; f_{j} }}"
                    );
                }
            }
            Cond::Compare {
                left, op, right, ..
            } => {
                let (t, f) = self.compare(left, op, right)?;
                let _ = writeln!(self.out, "t_{k} if {{ {t} }}\nf_{k} if {{ {f} }}");
            }
            other => return Err(format!("not portable to Rego: {other:?}")),
        }
        Ok(k)
    }

    fn compare(&self, left: &Term, op: &Op, right: &Term) -> Result<(String, String), String> {
        if let Term::Tool = left {
            let t = match (op, right) {
                (Op::Eq, Term::Lit(Lit::Str(s))) => format!("input.tool == {}", cedar_str(s)),
                (Op::Ne, Term::Lit(Lit::Str(s))) => format!("input.tool != {}", cedar_str(s)),
                (Op::In, Term::Lit(Lit::List(items))) => {
                    format!("input.tool in {{{}}}", quoted_names(items))
                }
                (Op::Glob(g), _) => {
                    let p = g.as_str();
                    if let Some(prefix) = p.strip_suffix('*').filter(|r| !r.contains(['*', '?'])) {
                        format!("startswith(input.tool, {})", cedar_str(prefix))
                    } else if let Some(suffix) =
                        p.strip_prefix('*').filter(|r| !r.contains(['*', '?']))
                    {
                        format!("endswith(input.tool, {})", cedar_str(suffix))
                    } else {
                        return Err(format!("glob not portable: {p}"));
                    }
                }
                _ => return Err(format!("tool test not portable: {op:?}")),
            };
            return Ok((t.clone(), format!("not {t}")));
        }
        let Term::Path(p) = left else {
            return Err("left side must be a path".into());
        };
        let v = rego_path(p).ok_or("path not portable")?;
        let bind = |ty: &str| format!("x := {v}; {ty}(x)");
        Ok(match (op, right) {
            (Op::Gt | Op::Ge | Op::Lt | Op::Le, Term::Lit(Lit::Num(n))) => {
                let (a, b) = match op {
                    Op::Gt => (">", "<="),
                    Op::Ge => (">=", "<"),
                    Op::Lt => ("<", ">="),
                    _ => ("<=", ">"),
                };
                (
                    format!("{}; x {a} {n}", bind("is_number")),
                    format!("{}; x {b} {n}", bind("is_number")),
                )
            }
            (Op::Eq | Op::Ne, Term::Lit(Lit::Str(s))) => {
                let eq = format!("{}; x == {}", bind("is_string"), cedar_str(s));
                let ne = format!("{}; x != {}", bind("is_string"), cedar_str(s));
                if matches!(op, Op::Eq) {
                    (eq, ne)
                } else {
                    (ne, eq)
                }
            }
            (Op::In | Op::NotIn, Term::Lit(Lit::List(items))) => {
                let set = items
                    .iter()
                    .map(|i| match i {
                        Lit::Str(s) => cedar_str(s),
                        Lit::Num(n) => n.to_string(),
                        Lit::Bool(b) => b.to_string(),
                        Lit::List(_) => "[]".into(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let inn = format!("{}; x in {{{set}}}", bind("is_string"));
                let out = format!("{}; not x in {{{set}}}", bind("is_string"));
                if matches!(op, Op::In) {
                    (inn, out)
                } else {
                    (out, inn)
                }
            }
            (Op::StartsWith, Term::Lit(Lit::Str(s))) => (
                format!("{}; startswith(x, {})", bind("is_string"), cedar_str(s)),
                format!("{}; not startswith(x, {})", bind("is_string"), cedar_str(s)),
            ),
            (Op::EndsWith, Term::Lit(Lit::Str(s))) => (
                format!("{}; endswith(x, {})", bind("is_string"), cedar_str(s)),
                format!("{}; not endswith(x, {})", bind("is_string"), cedar_str(s)),
            ),
            (Op::Contains, Term::Lit(Lit::Str(s))) if is_list_arg(self.program, p) => (
                format!("{}; {} in x", bind("is_array"), cedar_str(s)),
                format!("{}; not {} in x", bind("is_array"), cedar_str(s)),
            ),
            (Op::Contains, Term::Lit(Lit::Str(s))) => (
                format!("{}; contains(x, {})", bind("is_string"), cedar_str(s)),
                format!("{}; not contains(x, {})", bind("is_string"), cedar_str(s)),
            ),
            _ => return Err(format!("comparison not portable: {op:?} {right:?}")),
        })
    }
}

/// The program as one Rego package with a `decision` rule, in files of under 1 MB
/// (regorus's limit per file; a package may span files).
pub fn rego_files(program: &Program) -> Result<Vec<String>, String> {
    Ok(split_package(&rego_source(program)?))
}

/// A package's text in files of under 1 MB.
pub(crate) fn split_package(whole: &str) -> Vec<String> {
    let mut files = Vec::new();
    let mut current = String::new();
    for line in whole.lines() {
        if line.starts_with("package ") {
            continue;
        }
        if current.len() + line.len() > 900_000 {
            files.push(format!("package holdpoint\n{current}"));
            current.clear();
        }
        current.push_str(line);
        current.push('\n');
    }
    files.push(format!("package holdpoint\n{current}"));
    files
}

/// The program as one Rego package with a `decision` rule.
pub fn rego_source(program: &Program) -> Result<String, String> {
    rego_package(program, |_| false, "")
}

/// The package with the rules `elsewhere` picks left to `more` (further `contrib` rules).
pub(crate) fn rego_package(
    program: &Program,
    elsewhere: impl Fn(usize) -> bool,
    more: &str,
) -> Result<String, String> {
    let mut tr = RegoTr {
        program,
        out: String::new(),
        next: 0,
        classes: HashMap::new(),
    };
    let mut contrib = String::from(more);
    for (i, rule) in program.rules.iter().enumerate() {
        if elsewhere(i) {
            continue;
        }
        let k = tr.node(&rule.cond)?;
        let n = cedar_str(&rule.name);
        match rule.effect {
            Effect::Allow | Effect::Audit => {
                let _ = writeln!(
                    contrib,
                    "contrib contains [{n}, \"{}\"] if t_{k}",
                    rule.effect
                );
            }
            Effect::Approve => {
                let _ = writeln!(contrib, "contrib contains [{n}, \"approve\"] if not f_{k}");
            }
            Effect::Deny => {
                let _ = writeln!(
                    contrib,
                    "contrib contains [{n}, \"deny\"] if t_{k}\ncontrib contains [{n}, \"approve\"] if {{ not t_{k}; not f_{k} }}"
                );
            }
        }
    }
    for &c in &program.never_auto {
        let class = program.class(c).ok_or("unknown class")?;
        let k = tr.node(&Cond::Class(c))?;
        let _ = writeln!(
            contrib,
            "floors contains {} if not f_{k}",
            cedar_str(&format!("never_auto:{}", class.name))
        );
    }
    let default = program.default;
    let default_rules = if default == Effect::Approve {
        "{\"default\"}"
    } else {
        "set()"
    };
    Ok(format!(
        r#"package holdpoint

rank := {{"allow": 0, "audit": 1, "approve": 2, "deny": 3}}
names := ["allow", "audit", "approve", "deny"]

{contrib}
{rules}
top := max({{rank[e] | some [_, e] in contrib}})
base := names[top]
base := "{default}" if count(contrib) == 0
named := {{n | some [n, e] in contrib; e == base}}
named := {default_rules} if count(contrib) == 0
floored if {{ rank[base] < 2; count(floors) > 0 }}
decision := {{"effect": "approve", "rules": floors}} if floored
decision := {{"effect": base, "rules": named}} if not floored
"#,
        rules = tr.out
    ))
}

/// regorus: one package, the engine prepared once and reused.
pub struct RegoEngine {
    engine: regorus::Engine,
}

impl RegoEngine {
    /// Compiles the package.
    pub fn new(program: &Program) -> Result<RegoEngine, String> {
        Ok(RegoEngine {
            engine: prepared(rego_files(program)?, None)?,
        })
    }

    /// The input for a call.
    pub fn prepare(call: &ToolCall) -> regorus::Value {
        let v = serde_json::json!({"tool": call.tool, "args": call.args, "ctx": call.context});
        regorus::Value::from_json_str(&v.to_string()).unwrap_or(regorus::Value::Undefined)
    }

    /// Decides.
    pub fn decide(&mut self, input: &regorus::Value) -> Result<Outcome, String> {
        decide_with(&mut self.engine, input)
    }
}

/// An engine with the package's files (and data), its decision evaluated once so the
/// engine is prepared before any timing.
pub(crate) fn prepared(files: Vec<String>, data: Option<&str>) -> Result<regorus::Engine, String> {
    let mut engine = regorus::Engine::new();
    if let Some(data) = data {
        engine.add_data_json(data).map_err(|e| e.to_string())?;
    }
    for (i, src) in files.into_iter().enumerate() {
        engine
            .add_policy(format!("holdpoint{i}.rego"), src)
            .map_err(|e| e.to_string())?;
    }
    engine.set_input(regorus::Value::new_object());
    engine
        .eval_rule("data.holdpoint.decision".into())
        .map_err(|e| e.to_string())?;
    Ok(engine)
}

/// Evaluates `data.holdpoint.decision` for an input.
pub(crate) fn decide_with(
    engine: &mut regorus::Engine,
    input: &regorus::Value,
) -> Result<Outcome, String> {
    {
        engine.set_input(input.clone());
        let v = engine
            .eval_rule("data.holdpoint.decision".into())
            .map_err(|e| e.to_string())?;
        let effect = match v["effect"].as_string().map(|s| s.to_string()) {
            Ok(s) => match s.as_str() {
                "allow" => Effect::Allow,
                "audit" => Effect::Audit,
                "approve" => Effect::Approve,
                _ => Effect::Deny,
            },
            Err(e) => return Err(format!("no decision: {e}: {v}")),
        };
        let mut rules: Vec<String> = match &v["rules"] {
            regorus::Value::Set(s) => s
                .iter()
                .filter_map(|x| x.as_string().ok().map(|s| s.to_string()))
                .collect(),
            regorus::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_string().ok().map(|s| s.to_string()))
                .collect(),
            _ => Vec::new(),
        };
        rules.sort();
        Ok(Outcome { effect, rules })
    }
}

/// Every engine for one generated policy, with its calls prepared for each.
pub struct Engines {
    /// holdpoint.
    pub holdpoint: Policy,
    /// Cedar.
    pub cedar: CedarEngine,
    /// regorus.
    pub rego: RegoEngine,
    /// regorus, the rules as data.
    pub rego_data: RegoDataEngine,
    /// The calls.
    pub calls: Vec<ToolCall>,
    /// The calls as Cedar requests.
    pub cedar_calls: Vec<CedarCall>,
    /// The calls as Rego input.
    pub rego_calls: Vec<regorus::Value>,
}

impl Engines {
    /// Generates a portable policy of `rules` rules with `calls` calls, and builds all.
    pub fn build(rules: usize, calls: usize, seed: u64) -> Result<Engines, String> {
        let g = holdpoint::tools::generate::generate(
            rules,
            calls,
            seed,
            holdpoint::tools::generate::Dialect::Portable,
        );
        let holdpoint = g.build().map_err(|e| e.to_string())?;
        let program = holdpoint::unstable::program(&holdpoint);
        let cedar = CedarEngine::new(program)?;
        let rego = RegoEngine::new(program)?;
        let rego_data = RegoDataEngine::new(program)?;
        let calls: Vec<ToolCall> = g
            .calls
            .iter()
            .map(|c| ToolCall::from_json(c).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let cedar_calls = calls
            .iter()
            .map(|c| cedar.prepare(c))
            .collect::<Result<_, _>>()?;
        let rego_calls = calls.iter().map(RegoEngine::prepare).collect();
        Ok(Engines {
            holdpoint,
            cedar,
            rego,
            rego_data,
            calls,
            cedar_calls,
            rego_calls,
        })
    }

    /// Every disagreement: (call index, engine, holdpoint's outcome, the engine's).
    pub fn disagreements(&mut self) -> Vec<(usize, &'static str, Outcome, String)> {
        let mut out = Vec::new();
        let program = holdpoint::unstable::program(&self.holdpoint);
        for (i, call) in self.calls.iter().enumerate() {
            let want = holdpoint_outcome(&self.holdpoint, call);
            let reference = self.holdpoint.evaluate_reference(call);
            let mut ref_rules = reference.rule_names();
            ref_rules.sort();
            let got_ref = Outcome {
                effect: reference.effect(),
                rules: ref_rules,
            };
            if got_ref != want {
                out.push((i, "reference", want.clone(), format!("{got_ref:?}")));
            }
            if let Some(cc) = self.cedar_calls.get(i) {
                let c = self.cedar.decide(program, cc);
                if c != want {
                    out.push((i, "cedar", want.clone(), format!("{c:?}")));
                }
                let c = self.cedar.decide_indexed(program, cc);
                if c != want {
                    out.push((i, "cedar-indexed", want.clone(), format!("{c:?}")));
                }
            }
            if let Some(input) = self.rego_calls.get(i) {
                match self.rego.decide(input) {
                    Ok(r) if r == want => {}
                    Ok(r) => out.push((i, "regorus", want.clone(), format!("{r:?}"))),
                    Err(e) => out.push((i, "regorus", want.clone(), e)),
                }
                match self.rego_data.decide(input) {
                    Ok(r) if r == want => {}
                    Ok(r) => out.push((i, "regorus-data", want.clone(), format!("{r:?}"))),
                    Err(e) => out.push((i, "regorus-data", want.clone(), e)),
                }
            }
        }
        out
    }
}

/// Rule counts of each effect in a program, for reports.
pub fn effect_counts(program: &Program) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in &program.rules {
        *m.entry(r.effect.to_string()).or_insert(0) += 1;
    }
    m
}
