//! Gate statistics from the audit log: how often each gate fires, what approvers decide,
//! how long they take, and which gates look like rubber stamps.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::event::{Event, EventKind};
use super::request::State;
use super::time::format_time;

const DAY_MS: i64 = 86_400_000;

/// The share of unchanged approvals above which a gate is flagged.
pub const RUBBER_STAMP_SHARE: f64 = 0.95;
/// The number of decisions below which no gate is flagged.
pub const RUBBER_STAMP_MIN_DECISIONS: u64 = 20;

/// One gate's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateStats {
    /// The gate (rule name).
    pub gate: String,
    /// Requests it stopped.
    pub fired: u64,
    /// Approved as proposed.
    pub approved: u64,
    /// Approved after an edit.
    pub approved_with_edits: u64,
    /// Rejected.
    pub rejected: u64,
    /// Escalated, by an approver or by an SLA's `on timeout: escalate`.
    pub escalated: u64,
    /// The SLA ran out and the request ended (`on timeout: reject`, or a second timeout).
    pub expired: u64,
    /// Median time from the request to a decision, in seconds.
    pub median_s: Option<f64>,
    /// 90th percentile of the same, in seconds.
    pub p90_s: Option<f64>,
    /// Approved unchanged in more than 95% of at least 20 decisions.
    pub rubber_stamp: bool,
    /// The final decisions per UTC day (the day of the decision), oldest first; days
    /// without a decision are left out.
    pub days: Vec<Day>,
}

/// One UTC day of a gate's final decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// The day, `YYYY-MM-DD`.
    pub day: String,
    /// Approved as proposed.
    pub approved: u64,
    /// Approved after an edit.
    pub edited: u64,
    /// Rejected.
    pub rejected: u64,
}

impl GateStats {
    /// Final decisions: approvals, edits and rejections.
    pub fn decisions(&self) -> u64 {
        self.approved + self.approved_with_edits + self.rejected
    }

    /// The share of decisions that approved unchanged.
    pub fn unchanged_share(&self) -> Option<f64> {
        let n = self.decisions();
        (n > 0).then(|| self.approved as f64 / n as f64)
    }

    /// For a rubber stamp, what it is and what to do about it; `None` otherwise.
    pub fn advice(&self) -> Option<String> {
        self.rubber_stamp.then(|| {
            format!(
                "gate `{}` approved {} of {} decisions unchanged ({:.0}%, over {:.0}% of at least {}): a likely rubber stamp. Move it, raise its threshold, or remove it.",
                self.gate,
                self.approved,
                self.decisions(),
                self.unchanged_share().unwrap_or(0.0) * 100.0,
                RUBBER_STAMP_SHARE * 100.0,
                RUBBER_STAMP_MIN_DECISIONS
            )
        })
    }
}

/// Every gate's numbers, by gate name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// One entry per gate, sorted by name.
    pub gates: Vec<GateStats>,
}

impl Stats {
    /// Computes the numbers from an audit log. A gate that decided a request more than
    /// once (it approved, then approved an edit) counts its last decision.
    pub fn from_events(events: &[Event]) -> Stats {
        let mut created: HashMap<&str, i64> = HashMap::new();
        let mut gates: BTreeMap<String, (GateStats, Vec<i64>)> = BTreeMap::new();
        let mut last: BTreeMap<(&str, &str), (EventKind, i64)> = BTreeMap::new();
        fn entry<'a>(
            gates: &'a mut BTreeMap<String, (GateStats, Vec<i64>)>,
            name: &str,
        ) -> &'a mut (GateStats, Vec<i64>) {
            gates.entry(name.to_string()).or_insert_with(|| {
                (
                    GateStats {
                        gate: name.to_string(),
                        fired: 0,
                        approved: 0,
                        approved_with_edits: 0,
                        rejected: 0,
                        escalated: 0,
                        expired: 0,
                        median_s: None,
                        p90_s: None,
                        rubber_stamp: false,
                        days: Vec::new(),
                    },
                    Vec::new(),
                )
            })
        }
        let names = |e: &Event, key: &str| -> Vec<String> {
            e.data
                .get(key)
                .and_then(|g| g.as_array())
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        };
        for e in events {
            let request = e.request_id.as_deref().unwrap_or("");
            let fired = match e.kind {
                EventKind::Created => {
                    created.insert(request, e.at);
                    names(e, "gates")
                }
                EventKind::Edited => names(e, "added_gates"),
                EventKind::Redecided => names(e, "added"),
                _ => Vec::new(),
            };
            for name in fired {
                entry(&mut gates, &name).0.fired += 1;
            }
            let Some(name) = e.gate.as_deref() else {
                continue;
            };
            let g = &mut entry(&mut gates, name).0;
            match e.kind {
                EventKind::Approved | EventKind::Edited | EventKind::Rejected => {
                    last.insert((request, name), (e.kind, e.at));
                }
                // An SLA that ran out and escalated (its `on timeout`) is an escalation;
                // only the end that rejects is an expiry.
                EventKind::Escalated => g.escalated += 1,
                EventKind::Expired if e.to == Some(State::Escalated) => g.escalated += 1,
                EventKind::Expired => g.expired += 1,
                _ => {}
            }
        }
        let mut days: BTreeMap<(&str, i64), Day> = BTreeMap::new();
        for ((request, name), (kind, at)) in last {
            let (g, times) = entry(&mut gates, name);
            let day_number = at.div_euclid(DAY_MS);
            let day = days.entry((name, day_number)).or_insert_with(|| Day {
                day: format_time(day_number * DAY_MS).chars().take(10).collect(),
                approved: 0,
                edited: 0,
                rejected: 0,
            });
            match kind {
                EventKind::Approved => {
                    g.approved += 1;
                    day.approved += 1;
                }
                EventKind::Edited => {
                    g.approved_with_edits += 1;
                    day.edited += 1;
                }
                _ => {
                    g.rejected += 1;
                    day.rejected += 1;
                }
            }
            if let Some(start) = created.get(request) {
                times.push(at.saturating_sub(*start));
            }
        }
        for ((name, _), day) in days {
            entry(&mut gates, name).0.days.push(day);
        }
        let gates = gates
            .into_values()
            .map(|(mut g, mut times)| {
                times.sort_unstable();
                g.median_s = percentile(&times, 0.5);
                g.p90_s = percentile(&times, 0.9);
                g.rubber_stamp = g.decisions() >= RUBBER_STAMP_MIN_DECISIONS
                    && g.unchanged_share().is_some_and(|s| s > RUBBER_STAMP_SHARE);
                g
            })
            .collect();
        Stats { gates }
    }
}

/// The nearest-rank percentile of sorted milliseconds, in seconds.
fn percentile(sorted_ms: &[i64], p: f64) -> Option<f64> {
    if sorted_ms.is_empty() {
        return None;
    }
    let rank = (p * sorted_ms.len() as f64).ceil().max(1.0) as usize;
    let i = rank.min(sorted_ms.len()).saturating_sub(1);
    sorted_ms.get(i).map(|&ms| ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
        assert_eq!(percentile(&ms, 0.5), Some(5.0));
        assert_eq!(percentile(&ms, 0.9), Some(9.0));
        assert_eq!(percentile(&[7000], 0.9), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
