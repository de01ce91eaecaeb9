//! `--explain`: a human-readable trace of a decision.
//!
//! For every rule the tree considered for this tool it shows the verdict and the value of
//! each comparison; it lists the rules the tree never tried (sliced away by tool name)
//! and what was unknown.

use std::fmt::Write as _;

use crate::call::ToolCall;
use crate::compile::print::{cond_text, term};
use crate::eval::decision::Decision;
use crate::ir::semantics::{Env, Tri, class_member, count, eval, lookup};
use crate::ir::{Cond, Program, Term};
use crate::policy::Policy;

fn verdict(t: Tri<'_>) -> String {
    match t {
        Tri::True => "true".into(),
        Tri::False => "false".into(),
        Tri::Unknown(c) => match c.path {
            Some(p) => format!("unknown ({} {})", p.text, c.why_text()),
            None => format!("unknown ({})", c.why_text()),
        },
    }
}

/// The trace of a decision, as text.
pub fn explain(policy: &Policy, call: &ToolCall, decision: &Decision<'_>) -> String {
    let program = policy.program();
    let env = Env::for_call(call, program);
    let mut out = String::new();
    let report = decision.report(call);
    let _ = writeln!(out, "call      {} {}", call.tool, call.args);
    let mode = decision
        .mode()
        .map(|m| {
            format!(
                " ({})",
                if m == crate::Mode::Async {
                    "async"
                } else {
                    "sync"
                }
            )
        })
        .unwrap_or_default();
    let named = if report.rules.is_empty() {
        String::new()
    } else {
        format!(" by {}", report.rules.join(", "))
    };
    let _ = writeln!(out, "decision  {}{mode}{named}", decision.effect());
    if decision.default_applied() {
        let _ = writeln!(
            out,
            "          no rule matched: the default ({}) applied",
            program.default
        );
    }
    for r in &report.reasons {
        let _ = writeln!(out, "reason    {}: {}", r.rule, r.reason);
    }

    let tried = policy.tree().candidate_rules(&call.tool);
    let listed = program
        .catalog
        .as_deref()
        .map(|c| c.tool(&call.tool).is_some());
    let _ = writeln!(
        out,
        "\nthe tree tried {} of {} rules for tool `{}`{}",
        tried.len(),
        program.rules.len(),
        call.tool,
        match listed {
            Some(false) => " (not in the catalog)",
            _ => "",
        }
    );
    for &id in &tried {
        let Some(rule) = program.rule(id) else {
            continue;
        };
        let v = eval(&rule.cond, &env, None);
        let _ = writeln!(out, "\n  {} {}: {}", rule.effect, rule.name, verdict(v));
        trace(&rule.cond, &env, program, 2, &mut out);
    }
    let skipped: Vec<&str> = program
        .rules
        .iter()
        .enumerate()
        .filter(|(i, _)| !tried.contains(&(*i as u32)))
        .map(|(_, r)| r.name.as_str())
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "\nnever tried (sliced away by tool name): {}",
            skipped.join(", ")
        );
    }
    if !program.never_auto.is_empty() {
        let _ = writeln!(out, "\nnever-auto floors:");
        for &c in &program.never_auto {
            let Some(class) = program.class(c) else {
                continue;
            };
            let _ = writeln!(out, "  {}: {}", class.name, verdict(class_member(c, &env)));
        }
    }
    if !report.unknown.is_empty() {
        let _ = writeln!(out, "\nunknown (fail closed: each asks a human):");
        for u in &report.unknown {
            let _ = writeln!(out, "  {}: {} {}", u.rule, u.path, u.why);
        }
    }
    out
}

fn trace(cond: &Cond, env: &Env<'_, '_>, program: &Program, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match cond {
        Cond::And(items) | Cond::Or(items) => {
            for c in items.iter() {
                match c {
                    Cond::And(_) | Cond::Or(_) => {
                        let word = if matches!(c, Cond::And(_)) {
                            "all of"
                        } else {
                            "any of"
                        };
                        let _ = writeln!(out, "{pad}{word}: {}", verdict(eval(c, env, None)));
                        trace(c, env, program, depth + 1, out);
                    }
                    _ => trace(c, env, program, depth, out),
                }
            }
        }
        Cond::Class(id) => {
            let name = program.class(*id).map(|c| c.name.as_str()).unwrap_or("");
            let via_catalog = program
                .class(*id)
                .is_some_and(|c| c.has_catalog_tool(env.tool));
            let _ = writeln!(
                out,
                "{pad}class {name}: {}{}",
                verdict(class_member(*id, env)),
                if via_catalog {
                    " (the catalog puts this tool in it)"
                } else {
                    ""
                }
            );
            if let (false, Some(Some(c))) =
                (via_catalog, program.class(*id).map(|c| c.cond.as_ref()))
            {
                trace(c, env, program, depth + 1, out);
            }
        }
        Cond::Compare { left, right, .. } => {
            let mut values = Vec::new();
            for t in [left, right] {
                // What the comparison read: the value, or for `len(...)` its length.
                let v = match t {
                    Term::Path(p) => lookup(p, env, None).map(|v| v.to_string()),
                    Term::Len(p) => lookup(p, env, None).map(|v| match v {
                        serde_json::Value::String(s) => s.chars().count().to_string(),
                        serde_json::Value::Array(a) => a.len().to_string(),
                        other => format!("{other} (not a string or a list)"),
                    }),
                    Term::Count(c) => counted(c, env),
                    _ => continue,
                };
                let v = v.unwrap_or_else(|| "missing".into());
                values.push(format!("{} = {v}", term(t, program)));
            }
            let vals = if values.is_empty() {
                if matches!(left, Term::Tool) || matches!(right, Term::Tool) {
                    format!("   [tool = {}]", env.tool)
                } else {
                    String::new()
                }
            } else {
                format!("   [{}]", values.join(", "))
            };
            let _ = writeln!(
                out,
                "{pad}{}: {}{vals}",
                cond_text(cond, program),
                verdict(eval(cond, env, None))
            );
        }
        other => {
            let _ = writeln!(
                out,
                "{pad}{}: {}",
                cond_text(other, program),
                verdict(eval(other, env, None))
            );
        }
    }
}

/// What a `count` counted, for the trace: the number, or the range its unknown elements
/// leave open; `None` when its list is missing.
fn counted(c: &crate::ir::Count, env: &Env<'_, '_>) -> Option<String> {
    match count(c, env, None) {
        Ok(k) if k.unknown == 0 => Some(k.held.to_string()),
        Ok(k) => Some(format!(
            "{} to {} ({} element(s) unknown)",
            k.held,
            k.held + k.unknown,
            k.unknown
        )),
        Err(cause) => match cause.why {
            crate::ir::semantics::Why::Missing => None,
            why => Some(format!("({} {why})", c.list.text)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_shows_what_it_counted_or_the_range_unknown_elements_leave() {
        let policy = Policy::from_source(
            "default allow\napprove m { when tool == \"mail\" and count(r in args.to: r ends_with \"@x\") > 1 }\n",
        )
        .unwrap();
        let trace = |args: &str| {
            let call = ToolCall::from_json(&format!(r#"{{"tool":"mail","args":{args}}}"#)).unwrap();
            explain(&policy, &call, &policy.evaluate(&call))
        };
        let shown = r#"count(r in args.to: r ends_with "@x") > 1"#;
        let t = trace(r#"{"to":["a@x","b@x"]}"#);
        assert!(
            t.contains(&format!(
                "{shown}: true   [count(r in args.to: r ends_with \"@x\") = 2]"
            )),
            "{t}"
        );
        let t = trace(r#"{"to":["a@x",5]}"#);
        assert!(t.contains("= 1 to 2 (1 element(s) unknown)]"), "{t}");
        assert!(t.contains("m: r is a number, expected a string"), "{t}");
        let t = trace(r#"{"to":"a@x"}"#);
        assert!(
            t.contains("= (args.to is a string, expected a list)]"),
            "{t}"
        );
        let t = trace("{}");
        assert!(t.contains("= missing]"), "{t}");
        let tree = policy.tree().render(policy.program());
        assert!(tree.contains(&format!("approve m when {shown}")), "{tree}");
    }
}
