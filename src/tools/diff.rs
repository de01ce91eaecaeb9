//! Comparing two versions of a policy on recorded calls (`policy diff`): how many
//! decisions move between effects, with examples and the rules responsible.

use std::io::BufRead;

use serde::Serialize;

use crate::ast::Effect;
use crate::call::ToolCall;
use crate::policy::Policy;

/// How many examples each move keeps.
pub const EXAMPLES_PER_MOVE: usize = 3;

/// One call whose decision moved.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    /// 1-based line in the calls file.
    pub line: usize,
    /// The tool called.
    pub tool: String,
    /// What the old policy named.
    pub old_rules: Vec<String>,
    /// What the new policy names.
    pub new_rules: Vec<String>,
}

/// Decisions that went from one effect to another.
#[derive(Debug, Clone, Serialize)]
pub struct Move {
    /// The old effect.
    pub from: Effect,
    /// The new effect.
    pub to: Effect,
    /// How many calls.
    pub count: u64,
    /// Their share of all valid calls, in percent.
    pub share: f64,
    /// A few of them.
    pub examples: Vec<Example>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Valid calls compared.
    pub calls: u64,
    /// Calls whose effect did not change.
    pub unchanged: u64,
    /// Lines that were not valid calls (skipped).
    pub invalid_lines: u64,
    /// The first few invalid lines, with why.
    pub invalid_examples: Vec<(usize, String)>,
    /// Every move that happened, most frequent first.
    pub moves: Vec<Move>,
}

/// Streams the calls (one JSON call per line) through both policies, in constant memory.
pub fn compare(old: &Policy, new: &Policy, calls: impl BufRead) -> std::io::Result<Report> {
    let mut counts = [[0u64; 4]; 4];
    let mut examples: Vec<Vec<Example>> = vec![Vec::new(); 16];
    let mut report = Report {
        calls: 0,
        unchanged: 0,
        invalid_lines: 0,
        invalid_examples: Vec::new(),
        moves: Vec::new(),
    };
    // Lines as bytes: one line that is not UTF-8 is counted as invalid, not the end.
    for (i, bytes) in calls.split(b'\n').enumerate() {
        let bytes = bytes?;
        let parsed = match std::str::from_utf8(&bytes) {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => ToolCall::from_json(line).map_err(|e| e.to_string()),
            Err(e) => Err(format!("not valid UTF-8 (at byte {})", e.valid_up_to())),
        };
        let call = match parsed {
            Ok(c) => c,
            Err(e) => {
                report.invalid_lines += 1;
                if report.invalid_examples.len() < EXAMPLES_PER_MOVE {
                    report.invalid_examples.push((i + 1, e));
                }
                continue;
            }
        };
        report.calls += 1;
        let a = old.evaluate(&call);
        let b = new.evaluate(&call);
        let (f, t) = (a.effect() as usize, b.effect() as usize);
        if let Some(c) = counts.get_mut(f).and_then(|row| row.get_mut(t)) {
            *c += 1;
        }
        if f == t {
            report.unchanged += 1;
        } else if let Some(list) = examples.get_mut(f * 4 + t)
            && list.len() < EXAMPLES_PER_MOVE
        {
            list.push(Example {
                line: i + 1,
                tool: call.tool.clone(),
                old_rules: a.rule_names(),
                new_rules: b.rule_names(),
            });
        }
    }
    const EFFECTS: [Effect; 4] = [Effect::Allow, Effect::Audit, Effect::Approve, Effect::Deny];
    let mut examples = examples.into_iter();
    for (from, row) in EFFECTS.iter().zip(counts) {
        for (to, count) in EFFECTS.iter().zip(row) {
            let examples = examples.next().unwrap_or_default();
            if from == to || count == 0 {
                continue;
            }
            report.moves.push(Move {
                from: *from,
                to: *to,
                count,
                share: 100.0 * count as f64 / report.calls.max(1) as f64,
                examples,
            });
        }
    }
    report.moves.sort_by_key(|m| std::cmp::Reverse(m.count));
    Ok(report)
}

/// Parses `approve->allow,deny->allow` into moves.
pub fn parse_moves(spec: &str) -> Result<Vec<(Effect, Effect)>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let (a, b) = part
                .split_once("->")
                .ok_or_else(|| format!("`{part}` is not a move such as `approve->allow`"))?;
            let effect = |s: &str| {
                Effect::parse(s.trim()).ok_or_else(|| {
                    format!(
                        "`{}` is not an effect (allow, audit, approve, deny)",
                        s.trim()
                    )
                })
            };
            Ok((effect(a)?, effect(b)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_moves_and_keeps_examples() {
        let old = Policy::from_source(
            "default allow\napprove big { when tool == \"pay\" and args.amount > 100 }",
        )
        .unwrap();
        let new = Policy::from_source(
            "default allow\napprove big { when tool == \"pay\" and args.amount > 500 }",
        )
        .unwrap();
        let calls = "{\"tool\":\"pay\",\"args\":{\"amount\":300}}\n\
                     {\"tool\":\"pay\",\"args\":{\"amount\":900}}\n\
                     not json\n\
                     {\"tool\":\"pay\",\"args\":{\"amount\":200}}\n";
        let r = compare(&old, &new, calls.as_bytes()).unwrap();
        assert_eq!(r.calls, 3);
        assert_eq!(r.unchanged, 1);
        assert_eq!(r.invalid_lines, 1);
        assert_eq!(r.moves.len(), 1);
        let m = &r.moves[0];
        assert_eq!((m.from, m.to, m.count), (Effect::Approve, Effect::Allow, 2));
        assert_eq!(m.examples[0].line, 1);
        assert_eq!(m.examples[0].old_rules, vec!["big"]);
    }

    #[test]
    fn move_specs() {
        assert_eq!(
            parse_moves("approve->allow, deny->allow").unwrap(),
            vec![
                (Effect::Approve, Effect::Allow),
                (Effect::Deny, Effect::Allow)
            ]
        );
        assert!(parse_moves("approve-allow").is_err());
        assert!(parse_moves("approve->maybe").is_err());
    }
}
