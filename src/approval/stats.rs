//! Gate statistics from the audit log: how often each gate fires, what approvers decide,
//! how long they take, and which gates look like rubber stamps.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::event::{Event, EventKind};

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
    /// Escalated by an approver.
    pub escalated: u64,
    /// SLA ran out (rejected or escalated by `on timeout`).
    pub expired: u64,
    /// Median time from the request to a decision, in seconds.
    pub median_s: Option<f64>,
    /// 90th percentile of the same, in seconds.
    pub p90_s: Option<f64>,
    /// Approved unchanged in more than 95% of at least 20 decisions.
    pub rubber_stamp: bool,
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
}

/// Every gate's numbers, by gate name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// One entry per gate, sorted by name.
    pub gates: Vec<GateStats>,
}

impl Stats {
    /// Computes the numbers from an audit log.
    pub fn from_events(events: &[Event]) -> Stats {
        let mut created: HashMap<&str, i64> = HashMap::new();
        let mut gates: BTreeMap<String, (GateStats, Vec<i64>)> = BTreeMap::new();
        let entry = |gates: &mut BTreeMap<String, (GateStats, Vec<i64>)>, name: &str| {
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
                    },
                    Vec::new(),
                )
            });
        };
        for e in events {
            let request = e.request_id.as_deref().unwrap_or("");
            if e.kind == EventKind::Created {
                created.insert(request, e.at);
                let names = e.data.get("gates").and_then(|g| g.as_array());
                for name in names.into_iter().flatten().filter_map(|n| n.as_str()) {
                    entry(&mut gates, name);
                    if let Some((g, _)) = gates.get_mut(name) {
                        g.fired += 1;
                    }
                }
                continue;
            }
            let Some(name) = e.gate.as_deref() else {
                continue;
            };
            entry(&mut gates, name);
            let Some((g, times)) = gates.get_mut(name) else {
                continue;
            };
            let counter = match e.kind {
                EventKind::Approved => &mut g.approved,
                EventKind::Edited => &mut g.approved_with_edits,
                EventKind::Rejected => &mut g.rejected,
                EventKind::Escalated => &mut g.escalated,
                EventKind::Expired => &mut g.expired,
                _ => continue,
            };
            *counter += 1;
            if e.kind != EventKind::Expired
                && let Some(start) = created.get(request)
            {
                times.push(e.at - start);
            }
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
    let i = rank.min(sorted_ms.len()) - 1;
    Some(sorted_ms[i] as f64 / 1000.0)
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
