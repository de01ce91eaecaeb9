//! A tool's stance: what its calls can come to under the policy, before any call is seen.
//! A gateway shows it beside the tool (an MCP client's `tools/list`), so a model knows a
//! call may wait for a person, and may hide a tool every call of which is denied.

use std::fmt;

use crate::ast::Effect;
use crate::compile::Tree;
use crate::ir::Program;

/// What a tool's calls can come to: the rules that can apply to it, the default, and
/// the `never auto` classes it can belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolStance {
    /// The rules that can apply to the tool, in declaration order.
    pub rules: Vec<StanceRule>,
    /// The effect when none of them matches.
    pub default: Effect,
    /// The `never auto` classes the tool can belong to.
    pub never_auto: Vec<String>,
}

/// One rule that can apply to a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StanceRule {
    /// Its name.
    pub name: String,
    /// Its effect.
    pub effect: Effect,
    /// True when it applies to every call of the tool (its condition only names tools).
    pub always: bool,
}

impl ToolStance {
    pub(crate) fn of(program: &Program, tree: &Tree, tool: &str) -> ToolStance {
        let rules = tree
            .stance_entries(tool)
            .into_iter()
            .filter_map(|(id, always)| {
                let rule = program.rules.get(id as usize)?;
                Some(StanceRule {
                    name: rule.name.clone(),
                    effect: rule.effect,
                    always,
                })
            })
            .collect();
        let never_auto = tree
            .stance_floors(tool)
            .into_iter()
            .filter_map(|c| program.class(c).map(|c| c.name.to_string()))
            .collect();
        ToolStance {
            rules,
            default: program.default,
            never_auto,
        }
    }

    /// True when every call of the tool is denied: a deny rule applies to all of them,
    /// or only deny rules can apply and the default denies too.
    pub fn always_denied(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.always && r.effect == Effect::Deny)
            || (self.default == Effect::Deny && self.rules.iter().all(|r| r.effect == Effect::Deny))
    }

    /// The rules of one effect.
    pub fn with_effect(&self, effect: Effect) -> impl Iterator<Item = &StanceRule> {
        self.rules.iter().filter(move |r| r.effect == effect)
    }
}

/// One line for a person or a model: `every call is denied (rule)`, or what calls may
/// come to (`may wait for approval (refund_over_lane); may be denied (too_big)`).
impl fmt::Display for ToolStance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.always_denied() {
            // The rule that denies every call, or else every rule and the default.
            let why = match self
                .rules
                .iter()
                .find(|r| r.always && r.effect == Effect::Deny)
            {
                Some(r) => r.name.clone(),
                None => self
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .chain(["the policy's default"])
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            return write!(f, "every call is denied ({why})");
        }
        let mut parts = Vec::new();
        for (effect, says) in [
            (Effect::Deny, "may be denied"),
            (Effect::Approve, "may wait for a person's approval"),
            (Effect::Audit, "may be audited"),
        ] {
            let names: Vec<&str> = self.with_effect(effect).map(|r| r.name.as_str()).collect();
            if !names.is_empty() {
                let always = self.with_effect(effect).any(|r| r.always);
                let says = match (effect, always) {
                    (Effect::Approve, true) => "every call waits for a person's approval",
                    (Effect::Audit, true) => "every call is audited",
                    _ => says,
                };
                parts.push(format!("{says} ({})", names.join(", ")));
            }
        }
        if !self.never_auto.is_empty() {
            parts.push(format!(
                "never runs without a person when it is {}",
                self.never_auto.join(" or ")
            ));
        }
        // A rule that applies to every call leaves nothing to the default.
        if !self.rules.iter().any(|r| r.always) {
            let (alone, otherwise) = match self.default {
                Effect::Allow => ("allowed", None),
                Effect::Audit => ("every call is audited", Some("otherwise audited")),
                Effect::Approve => (
                    "every call waits for a person's approval",
                    Some("otherwise waits for a person's approval"),
                ),
                Effect::Deny => ("every call is denied", Some("otherwise denied")),
            };
            if parts.is_empty() {
                return write!(f, "{alone} (the policy's default)");
            }
            if let Some(o) = otherwise {
                parts.push(o.to_string());
            }
        }
        if parts.is_empty() {
            return f.write_str("allowed");
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Effect, Policy};

    fn policy() -> Policy {
        Policy::load(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/support"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_refund_may_wait_for_finance_and_may_be_denied_and_is_never_auto_over_the_lane() {
        let s = policy().stance("stripe.refund");
        let names: Vec<(&str, Effect, bool)> = s
            .rules
            .iter()
            .map(|r| (r.name.as_str(), r.effect, r.always))
            .collect();
        assert_eq!(
            names,
            [
                ("money_in_lane", Effect::Audit, false),
                ("refund_over_lane", Effect::Approve, false),
                ("unsure_mid_refund", Effect::Approve, false),
                ("refund_beyond_support", Effect::Deny, false),
            ]
        );
        assert!(!s.always_denied());
        assert_eq!(s.never_auto, ["money_over_lane"]);
        let line = s.to_string();
        assert!(line.starts_with("may be denied (refund_beyond_support); may wait for a person's approval (refund_over_lane, unsure_mid_refund); may be audited (money_in_lane)"), "{line}");
        assert!(
            line.ends_with("otherwise waits for a person's approval"),
            "{line}"
        );
    }

    #[test]
    fn under_default_deny_a_tool_only_deny_rules_name_is_always_denied() {
        let p = Policy::from_source(
            "default deny\nallow reads { when tool == \"f.read\" }\n\
             deny big { when tool == \"f.send\" and args.n > 5 reason \"too many\" }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let other = p.stance("f.other");
        assert!(other.always_denied());
        assert_eq!(
            other.to_string(),
            "every call is denied (the policy's default)"
        );
        let send = p.stance("f.send");
        assert!(send.always_denied());
        assert_eq!(
            send.to_string(),
            "every call is denied (big, the policy's default)"
        );
        assert!(!p.stance("f.read").always_denied());
    }

    #[test]
    fn a_tool_a_rule_denies_outright_is_always_denied_and_one_no_rule_names_gets_the_default() {
        let p = policy();
        let bulk = p.stance("email.send_bulk");
        assert!(bulk.always_denied());
        assert_eq!(bulk.to_string(), "every call is denied (bulk_campaign)");
        let search = p.stance("kb.search");
        assert!(search.rules.iter().any(|r| r.name == "reads" && r.always));
        assert!(!search.always_denied());
        assert_eq!(search.to_string(), "allowed");
        let unknown = p.stance("nobody.knows");
        assert!(unknown.rules.is_empty());
        assert_eq!(
            unknown.to_string(),
            "every call waits for a person's approval (the policy's default)"
        );
    }
}
