//! A seeded generator of realistic gate policies and tool calls, for benchmarks, tests and
//! `policy gen`. The same seed always gives the same policy, catalog and calls.
//!
//! The catalog has a few hundred tools in namespaces (`crm.*`, `bank.*`, `email.*` ...);
//! the policy has classes, globs, `never auto` floors, thresholds on amounts and record
//! counts, confidence conditions, string tests and all four effects; the calls are drawn
//! from the same catalog (hits and misses, values near thresholds, missing values, tools
//! no rule names). [`Dialect::Portable`] keeps to what Cedar and Rego can also express, so
//! the peer benchmarks compare like with like.

use std::fmt::Write as _;

/// Which constructs the generated rules may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Everything: regexes, quantifiers and `len()` too.
    Full,
    /// Tool tests, `*` globs, numeric thresholds, `in`, `starts_with`, `ends_with`,
    /// `contains`, equality, classes: what Cedar and Rego express as well.
    Portable,
}

/// A generated policy with its catalog and calls.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The policy source (one `.gate` file).
    pub policy: String,
    /// The tool catalog (YAML).
    pub catalog: String,
    /// One JSON tool call per entry.
    pub calls: Vec<String>,
}

impl Generated {
    /// The generated policy, checked and compiled against its catalog.
    pub fn build(&self) -> Result<crate::Policy, crate::LoadError> {
        let catalog = crate::Catalog::from_yaml("gen.yaml", &self.catalog)?;
        crate::PolicyBuilder::new()
            .source("gen.gate", &self.policy)
            .catalog(catalog)
            .build()
    }
}

/// SplitMix64: small, fast, and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of a slice, chosen evenly; `None` when it is empty.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }

    /// One of `items`, chosen evenly (the default value when there is none).
    pub fn one_of<T: Copy + Default>(&mut self, items: &[T]) -> T {
        self.pick(items).copied().unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    Bulk,
    Money,
    Send,
    SendBulk,
    Access,
    Deploy,
    Execute,
    Delete,
    Paid,
}

const NAMESPACES: &[(&str, &[&str])] = &[
    ("crm", &["read", "write", "bulk", "delete"]),
    ("hubspot", &["read", "write", "bulk", "send_bulk"]),
    ("salesforce", &["read", "write", "bulk", "delete"]),
    ("bank", &["read", "money"]),
    ("stripe", &["read", "money", "write"]),
    ("billing", &["read", "money", "write"]),
    ("email", &["read", "send", "send_bulk"]),
    ("slack", &["read", "send", "access"]),
    ("teams", &["read", "send"]),
    ("sms", &["send", "send_bulk"]),
    ("db", &["read", "execute", "delete", "bulk"]),
    ("warehouse", &["read", "execute", "bulk"]),
    ("iam", &["read", "access"]),
    ("okta", &["read", "access"]),
    ("github", &["read", "write", "deploy", "delete"]),
    ("k8s", &["read", "deploy", "delete", "execute"]),
    ("terraform", &["read", "deploy"]),
    ("docs", &["read", "write", "delete", "access"]),
    ("drive", &["read", "write", "delete", "access"]),
    ("hr", &["read", "write"]),
    ("zendesk", &["read", "write", "bulk", "send"]),
    ("jira", &["read", "write", "bulk"]),
    ("s3", &["read", "write", "delete"]),
    ("calendar", &["read", "write", "send"]),
    ("openai", &["paid"]),
    ("serpapi", &["paid"]),
    ("vendor", &["read", "money", "write"]),
    ("analytics", &["read", "execute"]),
];

fn verbs(group: &str) -> &'static [(&'static str, Kind)] {
    match group {
        "read" => &[
            ("get", Kind::Read),
            ("list", Kind::Read),
            ("search", Kind::Read),
            ("get_history", Kind::Read),
        ],
        "write" => &[
            ("create", Kind::Write),
            ("update", Kind::Write),
            ("comment", Kind::Write),
        ],
        "bulk" => &[("bulk_update", Kind::Bulk), ("export", Kind::Bulk)],
        "money" => &[
            ("refund", Kind::Money),
            ("transfer", Kind::Money),
            ("payout", Kind::Money),
        ],
        "send" => &[("send", Kind::Send), ("reply", Kind::Send)],
        "send_bulk" => &[("send_bulk", Kind::SendBulk), ("campaign", Kind::SendBulk)],
        "access" => &[
            ("grant_role", Kind::Access),
            ("revoke_role", Kind::Access),
            ("invite_user", Kind::Access),
        ],
        "deploy" => &[
            ("deploy", Kind::Deploy),
            ("apply", Kind::Deploy),
            ("merge", Kind::Deploy),
        ],
        "execute" => &[("execute", Kind::Execute), ("scale", Kind::Execute)],
        "delete" => &[("delete", Kind::Delete), ("purge", Kind::Delete)],
        _ => &[
            ("complete", Kind::Paid),
            ("query", Kind::Paid),
            ("embed", Kind::Paid),
        ],
    }
}

struct Tool {
    name: String,
    kind: Kind,
}

fn tools() -> Vec<Tool> {
    let mut out = Vec::new();
    for (ns, groups) in NAMESPACES {
        for g in groups.iter() {
            for (verb, kind) in verbs(g) {
                out.push(Tool {
                    name: format!("{ns}.{verb}"),
                    kind: *kind,
                });
            }
        }
    }
    out
}

fn args_of(kind: Kind) -> &'static [(&'static str, &'static str)] {
    match kind {
        Kind::Read => &[("query", "string?"), ("customer", "object?")],
        Kind::Write => &[
            ("subject", "string"),
            ("record_count", "integer?"),
            ("customer", "object?"),
        ],
        Kind::Bulk => &[("record_count", "integer"), ("subject", "string?")],
        Kind::Money => &[
            ("amount", "number"),
            ("currency", "string"),
            ("customer", "object?"),
        ],
        Kind::Send => &[
            ("to", "list"),
            ("subject", "string"),
            ("record_count", "integer?"),
        ],
        Kind::SendBulk => &[("record_count", "integer"), ("subject", "string")],
        Kind::Access => &[("role", "string"), ("user", "string")],
        Kind::Deploy => &[("env", "string"), ("subject", "string?")],
        Kind::Execute => &[
            ("env", "string"),
            ("sql", "string?"),
            ("record_count", "integer?"),
        ],
        Kind::Delete => &[("env", "string?"), ("record_count", "integer")],
        Kind::Paid => &[("amount", "number"), ("subject", "string?")],
    }
}

const AMOUNTS: &[i64] = &[10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000];
const COUNTS: &[i64] = &[10, 50, 100, 500, 1_000, 5_000, 10_000];
const CONFIDENCE: &[&str] = &["0.5", "0.6", "0.7", "0.8", "0.9"];
const TIERS: &[&str] = &["free", "pro", "gold", "platinum", "enterprise"];
const PREFIXES: &[&str] = &["Re:", "Fwd:", "URGENT", "[ext]", "Invoice"];
const DOMAINS: &[&str] = &["@acme.com", "@partner.io", "@gmail.com", "@evil.io"];

/// Generates a policy of `rules` rules, its catalog, and `calls` calls.
pub fn generate(rules: usize, calls: usize, seed: u64, dialect: Dialect) -> Generated {
    let mut rng = Rng::new(seed);
    let tools = tools();
    let catalog = catalog_yaml(&tools);
    let mut policy = String::new();
    let _ = writeln!(
        policy,
        "# Generated by `policy gen --rules {rules} --seed {seed}`: {} rules over {} tools.",
        rules,
        tools.len()
    );
    let _ = writeln!(policy, "policy \"generated-{rules}\"");
    let default = rng.one_of(&["approve", "audit", "allow"]);
    let _ = writeln!(policy, "default {default}\n");
    policy.push_str(CLASSES);
    policy.push('\n');

    // Large policies are mostly per-tenant rules: one tenant per 25 rules.
    let tenants = (rules / 25).max(3);
    let mut amounts: Vec<i64> = AMOUNTS.to_vec();
    // Rules naming one tool, with their tenant: calls aim at them, so the mix has hits.
    let mut targets: Vec<(usize, Option<usize>)> = Vec::new();
    let mut rule_tools: Vec<usize> = Vec::with_capacity(rules);
    let mut counts: Vec<i64> = COUNTS.to_vec();
    for i in 0..rules {
        let tool_index = rng.below(tools.len());
        let Some(tool) = tools.get(tool_index) else {
            break;
        };
        rule_tools.push(tool_index);
        // Argument tests only where every tool the target can name has the argument.
        let mut kind = None;
        let target = match rng.below(100) {
            0..=79 => {
                kind = Some(tool.kind);
                format!("tool == \"{}\"", tool.name)
            }
            80..=87 => {
                let ns = tool.name.split('.').next().unwrap_or("crm");
                format!("tool matches \"{ns}.*\"")
            }
            88..=92 => {
                let verb = tool.name.split('.').nth(1).unwrap_or("get");
                format!("tool matches \"*.{verb}\"")
            }
            93..=96 => {
                let other = rng
                    .pick(&tools)
                    .map(|t| t.name.as_str())
                    .unwrap_or("crm.get");
                format!("tool in [\"{}\", \"{other}\"]", tool.name)
            }
            _ => rng
                .one_of(&[
                    "money_out",
                    "outbound",
                    "destructive",
                    "access_change",
                    "prod_change",
                ])
                .to_string(),
        };
        let effect = match rng.below(100) {
            0..=34 => "allow",
            35..=59 => "audit",
            60..=89 => "approve",
            _ => "deny",
        };
        let mut conds = vec![target];
        // Small policies are mostly global rules; large ones mostly per tenant.
        let scoped = if rules > 200 { 95 } else { 40 };
        let mut tenant = None;
        if rng.chance(scoped) {
            let t = rng.below(tenants);
            tenant = Some(t);
            conds.push(format!("context.tenant == \"t{t}\""));
        }
        if kind.is_some() {
            targets.push((i, tenant));
        }
        // Deny rules are narrow: they carry at least two conditions.
        let extra = if effect == "deny" { 2 } else { rng.below(3) };
        for _ in 0..extra {
            if let Some(c) = condition(&mut rng, kind, dialect, &mut amounts, &mut counts) {
                if !conds.contains(&c) {
                    conds.push(c);
                }
            }
        }
        let short = tool.name.replace('.', "_");
        let _ = writeln!(policy, "{effect} r{i}_{short} {{");
        let _ = writeln!(policy, "  when {}", conds.join(" and "));
        if effect == "approve" {
            let (mode, by, within) = match rng.below(3) {
                0 => ("sync", "ops", "10m"),
                1 => ("async", "finance", "48h"),
                _ => ("async", "security", "1d"),
            };
            let _ = writeln!(policy, "  mode {mode}\n  by \"{by}\"\n  within {within}");
            if rng.chance(50) {
                let _ = writeln!(policy, "  on timeout reject");
            } else {
                let _ = writeln!(policy, "  on timeout escalate \"{by}-leads\"");
            }
        }
        if rng.chance(30) {
            // A hole the catalog knows for every tool (E031 checks reason holes too).
            let _ = writeln!(
                policy,
                "  reason \"{} {{tool}} for {{context.tenant}}\"",
                effect
            );
        }
        let _ = writeln!(policy, "}}");
    }

    let mut out_calls = Vec::with_capacity(calls);
    for i in 0..calls {
        let aim = if rng.chance(60) {
            rng.pick(&targets)
                .and_then(|(r, t)| rule_tools.get(*r).map(|tool| (*tool, *t)))
        } else {
            None
        };
        out_calls.push(call(&mut rng, &tools, &amounts, &counts, tenants, aim, i));
    }
    Generated {
        policy,
        catalog,
        calls: out_calls,
    }
}

const CLASSES: &str = r#"class money_out     = tool matches "*.refund" or tool matches "*.transfer" or tool matches "*.payout"
class large_money   = money_out and args.amount > 10000
class outbound      = tool matches "*.send" or tool matches "*.reply" or tool matches "*.send_bulk" or tool matches "*.campaign"
class bulk_outbound = tool matches "*.send_bulk" or tool matches "*.campaign"
class destructive   = tool matches "*.delete" or tool matches "*.purge"
class access_change = tool matches "*.grant_role" or tool matches "*.revoke_role" or tool matches "*.invite_user"
class prod_change   = args.env == "prod" and (tool matches "*.deploy" or tool matches "*.apply" or tool matches "*.merge")
never auto large_money, bulk_outbound, access_change, prod_change
"#;

fn condition(
    rng: &mut Rng,
    kind: Option<Kind>,
    dialect: Dialect,
    amounts: &mut Vec<i64>,
    counts: &mut Vec<i64>,
) -> Option<String> {
    let has = |arg: &str| kind.is_some_and(|k| args_of(k).iter().any(|(a, _)| *a == arg));
    let op = rng.one_of(&[">", ">=", "<", "<=", ">"]);
    let mut options: Vec<String> = Vec::new();
    if has("amount") {
        // Mostly shared thresholds, sometimes a new one: many rules bound one path.
        let t = if rng.chance(80) {
            *rng.pick(amounts)?
        } else {
            let t = (rng.below(200) as i64 + 1) * 50;
            amounts.push(t);
            t
        };
        options.push(format!("args.amount {op} {t}"));
    }
    if has("record_count") {
        let t = if rng.chance(80) {
            *rng.pick(counts)?
        } else {
            let t = (rng.below(100) as i64 + 1) * 25;
            counts.push(t);
            t
        };
        options.push(format!("args.record_count {op} {t}"));
    }
    options.push(format!("context.confidence < {}", rng.pick(CONFIDENCE)?));
    if has("customer") {
        let a = rng.pick(TIERS)?;
        let b = rng.pick(TIERS)?;
        options.push(format!("args.customer.tier in [\"{a}\", \"{b}\"]"));
    }
    if has("subject") {
        let p = rng.pick(PREFIXES)?;
        options.push(match rng.below(3) {
            0 => format!("args.subject starts_with \"{p}\""),
            1 => format!("args.subject contains \"{p}\""),
            _ => format!("not args.subject starts_with \"{p}\""),
        });
    }
    if has("env") {
        options.push(format!(
            "args.env == \"{}\"",
            rng.one_of(&["prod", "staging", "dev"])
        ));
    }
    if has("to") {
        let d = rng.pick(DOMAINS)?;
        options.push(format!("args.to contains \"ops{d}\""));
    }
    options.push(format!(
        "context.user in [\"u_{}\", \"u_{}\"]",
        rng.below(500),
        rng.below(500)
    ));
    if dialect == Dialect::Full {
        if has("subject") {
            options.push("args.subject =~ \"(?i)\\\\b(urgent|asap)\\\\b\"".to_string());
        }
        if has("to") {
            options.push(format!("len(args.to) > {}", rng.below(20) + 1));
            options.push("any(r in args.to: not r ends_with \"@acme.com\")".to_string());
        }
        if has("sql") {
            options.push("args.sql =~ \"(?i)drop\\\\s+table\"".to_string());
        }
        options.push("exists(context.workflow) and context.workflow.final_step == true".into());
    }
    rng.pick(&options).cloned()
}

fn catalog_yaml(tools: &[Tool]) -> String {
    let mut y = String::from("# Generated tool catalog.\ntools:\n");
    for t in tools {
        let _ = writeln!(y, "  {}:\n    args:", t.name);
        for (a, ty) in args_of(t.kind) {
            if a.starts_with("customer") {
                let opt = ty.ends_with('?');
                let _ = writeln!(
                    y,
                    "      {a}: {{type: object, optional: {opt}, properties: {{tier: string}}}}"
                );
            } else {
                let _ = writeln!(y, "      {a}: \"{ty}\"");
            }
        }
    }
    y
}

fn near(rng: &mut Rng, values: &[i64]) -> i64 {
    let base = rng.pick(values).copied().unwrap_or(100);
    match rng.below(4) {
        0 => base - 1,
        1 => base,
        2 => base + 1,
        _ => base * 2,
    }
}

fn call(
    rng: &mut Rng,
    tools: &[Tool],
    amounts: &[i64],
    counts: &[i64],
    tenants: usize,
    aim: Option<(usize, Option<usize>)>,
    i: usize,
) -> String {
    let aimed = aim.and_then(|(t, _)| tools.get(t));
    let (name, kind) = match (aimed, rng.below(100)) {
        (Some(t), _) => (t.name.clone(), t.kind),
        // Tools no rule or catalog names: some fall under globs, some under nothing.
        (None, 0..=4) => (
            format!(
                "{}.{}_{}",
                rng.one_of(&["bank", "crm", "misc", "k8s"]),
                "new_action",
                i % 7
            ),
            Kind::Write,
        ),
        (None, _) => match rng.pick(tools) {
            Some(t) => (t.name.clone(), t.kind),
            None => ("crm.get".into(), Kind::Read),
        },
    };
    let mut args = serde_json::Map::new();
    for (a, ty) in args_of(kind) {
        // Optional arguments are often left out; required ones sometimes (a bug in the agent).
        let missing = if ty.ends_with('?') {
            rng.chance(50)
        } else {
            rng.chance(5)
        };
        if missing {
            continue;
        }
        let v = match *a {
            "amount" => serde_json::json!(near(rng, amounts)),
            "record_count" => serde_json::json!(near(rng, counts)),
            "customer" => serde_json::json!({"tier": rng.pick(TIERS).copied().unwrap_or("pro")}),
            "subject" => serde_json::json!(format!(
                "{} order {}",
                rng.pick(PREFIXES).copied().unwrap_or("Re:"),
                rng.below(10_000)
            )),
            "to" => {
                let n = rng.below(4);
                let list: Vec<String> = (0..n)
                    .map(|k| {
                        let at = (k + rng.below(4)) % DOMAINS.len();
                        format!("ops{}", DOMAINS.get(at).copied().unwrap_or_default())
                    })
                    .collect();
                serde_json::json!(list)
            }
            "env" => serde_json::json!(rng.one_of(&["prod", "staging", "dev"])),
            "currency" => serde_json::json!("EUR"),
            "sql" => serde_json::json!(if rng.chance(10) {
                "DROP TABLE customers"
            } else {
                "select * from orders where id = 7"
            }),
            "role" => serde_json::json!("admin"),
            "user" => serde_json::json!("u_42"),
            _ => serde_json::json!("q"),
        };
        args.insert((*a).to_string(), v);
    }
    let mut ctx = serde_json::Map::new();
    if rng.chance(90) {
        let c = (rng.below(100) as f64) / 100.0;
        ctx.insert("confidence".into(), serde_json::json!(c));
    }
    let tenant = aim
        .and_then(|(_, t)| t)
        .unwrap_or_else(|| rng.below(tenants));
    ctx.insert("tenant".into(), serde_json::json!(format!("t{tenant}")));
    ctx.insert(
        "user".into(),
        serde_json::json!(format!("u_{}", rng.below(500))),
    );
    serde_json::json!({"tool": name, "args": args, "context": ctx}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalog, PolicyBuilder, ToolCall};

    #[test]
    fn generated_policies_load_cleanly_and_are_deterministic() {
        for dialect in [Dialect::Full, Dialect::Portable] {
            let g = generate(300, 200, 7, dialect);
            let again = generate(300, 200, 7, dialect);
            assert_eq!(g.policy, again.policy);
            assert_eq!(g.calls, again.calls);
            let catalog = Catalog::from_yaml("gen.yaml", &g.catalog).unwrap();
            assert!(catalog.tools.len() >= 200, "{} tools", catalog.tools.len());
            let report = PolicyBuilder::new()
                .source("gen.gate", &g.policy)
                .catalog(catalog.clone())
                .check();
            let errors: Vec<_> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
            assert!(errors.is_empty(), "{errors:?}");
            let policy = g.build().unwrap();
            let mut seen = std::collections::BTreeSet::new();
            for c in &g.calls {
                let call = ToolCall::from_json(c).unwrap();
                seen.insert(policy.evaluate(&call).effect());
            }
            assert_eq!(seen.len(), 4, "the mix must reach every effect: {seen:?}");
        }
    }
}
