//! One agent's calls over a period: volumes by status and direction, durations, the
//! end-of-turn → first-audio latency its callers waited, turn-taking (turns, barge-ins,
//! false interruptions), tool calls, cost, trends by bucket and against the period before.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use schemars::JsonSchema;
use sea_orm::DbErr;
use serde::{Deserialize, Serialize};

use super::{Analytics, Period, PeriodOut, round2};
use crate::{
    domain::{
        periods::{buckets, local_date, utc_bounds},
        pricing::usd,
    },
    store::{self, analyses::Outcome, analytics as rows},
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub samples: u64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

impl Percentiles {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |p: f64| (!values.is_empty()).then(|| values[((values.len() as f64 - 1.0) * p).round() as usize]);
        Self {
            samples: values.len() as u64,
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallCounts {
    pub total: u64,
    pub inbound: u64,
    pub outbound: u64,
    /// Answered and ended normally.
    pub completed: u64,
    pub by_status: BTreeMap<String, u64>,
    pub by_end_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DurationStats {
    pub total_minutes: f64,
    pub average_seconds: f64,
    pub seconds: Percentiles,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TurnTaking {
    pub turns: u64,
    pub turns_per_call: f64,
    /// The caller spoke over the agent and the agent stopped.
    pub barge_ins: u64,
    pub barge_ins_per_call: f64,
    /// The agent paused for a noise that was not speech, then resumed.
    pub false_interruptions: u64,
    /// Of all interruptions, the share that were not speech.
    pub false_interruption_rate: Option<f64>,
    /// Agent audio the callers heard, in seconds.
    pub agent_talk_seconds: f64,
    /// Caller speech, in seconds.
    pub caller_talk_seconds: f64,
    /// The agent's share of the talk: agent ÷ (agent + caller).
    pub agent_talk_ratio: Option<f64>,
    /// The share of connected time in which neither spoke.
    pub silence_ratio: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ToolStats {
    pub calls: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub success_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostStats {
    pub total: f64,
    pub per_call: Option<f64>,
    pub per_minute: Option<f64>,
    pub currency: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrendBucket {
    pub date: String,
    pub calls: u64,
    pub average_duration_seconds: f64,
    pub latency_p50_ms: Option<f64>,
    pub barge_ins_per_call: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// The same length of time just before the period.
    pub previous_start_date: String,
    pub previous_calls: u64,
    pub previous_average_duration_seconds: f64,
    pub previous_latency_p50_ms: Option<f64>,
    /// Relative change of calls (0.25 = +25 %); `null` without calls before.
    pub calls_change: Option<f64>,
}

/// What post-call analysis says of the calls: the caller's sentiment and whether their goal
/// was met.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    /// `llm`, `sandbox` (rules), `mixed`, or `none` when no call was analysed.
    pub method: String,
    pub analysed_calls: u64,
    pub sentiment: BTreeMap<String, u64>,
    pub resolution_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentReport {
    pub agent_id: String,
    pub period: PeriodOut,
    pub calls: CallCounts,
    pub duration: DurationStats,
    /// From the end of the caller's turn to the agent's first audio, in ms.
    pub latency: Percentiles,
    pub turn_taking: TurnTaking,
    pub tools: ToolStats,
    pub cost: CostStats,
    pub outcomes: Outcomes,
    pub trends: Vec<TrendBucket>,
    pub comparison: Comparison,
}

/// The per-call facts the figures are made of.
pub(super) struct Facts {
    pub(super) calls: Vec<rows::CallFacts>,
    /// call id → end-of-turn → first-audio samples (ms).
    pub(super) latency: BTreeMap<String, Vec<f64>>,
    pub(super) barge_ins: BTreeMap<String, u64>,
    pub(super) false_interruptions: u64,
    /// call id → false interruptions.
    pub(super) false_by_call: BTreeMap<String, u64>,
    pub(super) tool_ok: u64,
    pub(super) tool_failed: u64,
    /// call id → failed tool calls.
    pub(super) tool_failed_by_call: BTreeMap<String, u64>,
    pub(super) cost_micros: i64,
    /// Summed over the calls, in ms: agent audio heard, caller speech, connected time.
    pub(super) talk: (u64, u64, u64),
    /// `(call id, sentiment, resolved, method)` of the analysed calls.
    pub(super) outcomes: Vec<Outcome>,
}

impl Facts {
    fn latencies(&self) -> Vec<f64> {
        self.latency.values().flatten().copied().collect()
    }

    fn seconds(&self) -> f64 {
        self.calls.iter().map(|c| f64::from(c.duration_secs.max(0))).sum()
    }
}

/// Sentiment counts and resolution rate of the analysed calls; the method that produced them
/// (`none` when no call was analysed, `mixed` when both did).
fn outcomes_of(rows: &[Outcome]) -> Outcomes {
    let mut out = Outcomes {
        method: "none".into(),
        analysed_calls: rows.len() as u64,
        ..Outcomes::default()
    };
    let mut methods: Vec<&str> = rows.iter().filter_map(|(_, _, _, m)| m.as_deref()).collect();
    methods.sort_unstable();
    methods.dedup();
    if let [one] = methods.as_slice() {
        out.method = (*one).to_string();
    } else if methods.len() > 1 {
        out.method = "mixed".into();
    }
    for (_, sentiment, _, _) in rows {
        *out.sentiment
            .entry(sentiment.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
    }
    let resolved = rows.iter().filter(|(_, _, r, _)| *r == Some(true)).count() as u64;
    out.resolution_rate = (!rows.is_empty()).then(|| ratio(resolved, rows.len() as u64));
    out
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { round2(n as f64 / d as f64) }
}

fn average(total: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { round2(total / n as f64) }
}

impl Analytics {
    pub(super) async fn facts(
        &self,
        org_id: &str,
        agent_id: &str,
        from: NaiveDate,
        to: NaiveDate,
        p: &Period,
    ) -> Result<Facts, DbErr> {
        let range = utc_bounds(from, to, p.tz);
        let calls = rows::agent_calls(&self.db, org_id, agent_id, range).await?;
        let ids: Vec<String> = calls.iter().map(|c| c.id.clone()).collect();
        let mut facts = Facts {
            calls,
            latency: BTreeMap::new(),
            barge_ins: BTreeMap::new(),
            false_interruptions: 0,
            false_by_call: BTreeMap::new(),
            tool_ok: 0,
            tool_failed: 0,
            tool_failed_by_call: BTreeMap::new(),
            cost_micros: 0,
            talk: rows::talk_of(&self.db, &ids)
                .await?
                .into_iter()
                .fold((0, 0, 0), |t, c| (t.0 + c.0, t.1 + c.1, t.2 + c.2)),
            outcomes: store::analyses::outcomes(&self.db, &ids).await?,
        };
        let kinds = ["turn", "interruption", "false_interruption", "tool_call"];
        for (call_id, kind, detail) in rows::timeline_of(&self.db, &ids, &kinds).await? {
            match kind.as_str() {
                "turn" => {
                    if let Some(ms) = detail["endOfTurnToFirstAudioMs"].as_f64() {
                        facts.latency.entry(call_id).or_default().push(ms);
                    }
                }
                "interruption" => *facts.barge_ins.entry(call_id).or_default() += 1,
                "false_interruption" => {
                    facts.false_interruptions += 1;
                    *facts.false_by_call.entry(call_id).or_default() += 1;
                }
                // A tool result that arrived after the caller moved on is not counted.
                _ if detail["stale"] == true => {}
                _ if detail["success"] == true => facts.tool_ok += 1,
                _ => {
                    facts.tool_failed += 1;
                    *facts.tool_failed_by_call.entry(call_id).or_default() += 1;
                }
            }
        }
        facts.cost_micros = rows::ledger(&self.db, org_id, range, Some(agent_id))
            .await?
            .iter()
            .map(|(_, _, _, amount)| amount)
            .sum();
        Ok(facts)
    }

    /// # Errors
    /// When the database fails.
    pub async fn agent(&self, org_id: &str, agent_id: &str, p: &Period) -> Result<AgentReport, DbErr> {
        let f = self.facts(org_id, agent_id, p.from, p.to, p).await?;
        let length = (p.to - p.from).num_days() + 1;
        let prev_from = p.from - Duration::days(length);
        let before = self
            .facts(org_id, agent_id, prev_from, p.from - Duration::days(1), p)
            .await?;

        let mut calls = CallCounts::default();
        for c in &f.calls {
            calls.total += 1;
            if c.direction == "inbound" {
                calls.inbound += 1;
            } else {
                calls.outbound += 1;
            }
            if c.status == "completed" {
                calls.completed += 1;
            }
            *calls.by_status.entry(c.status.clone()).or_default() += 1;
            if let Some(r) = &c.end_reason {
                *calls.by_end_reason.entry(r.clone()).or_default() += 1;
            }
        }
        let total_secs = f.seconds();
        let turns = f.latencies().len() as u64;
        let barge_ins: u64 = f.barge_ins.values().sum();
        let interruptions = barge_ins + f.false_interruptions;
        let tools = f.tool_ok + f.tool_failed;
        let total = usd(f.cost_micros);

        let mut trends: BTreeMap<NaiveDate, (u64, f64, Vec<f64>, u64)> = buckets(p.from, p.to, p.granularity)
            .into_iter()
            .map(|d| (d, (0, 0.0, Vec::new(), 0)))
            .collect();
        for c in &f.calls {
            let slot = p.granularity.start_of(local_date(c.created_at, p.tz));
            if let Some(t) = trends.get_mut(&slot) {
                t.0 += 1;
                t.1 += f64::from(c.duration_secs.max(0));
                t.2.extend(f.latency.get(&c.id).into_iter().flatten());
                t.3 += f.barge_ins.get(&c.id).copied().unwrap_or(0);
            }
        }
        Ok(AgentReport {
            agent_id: agent_id.to_string(),
            period: Self::period_out(p),
            duration: DurationStats {
                total_minutes: round2(total_secs / 60.0),
                average_seconds: average(total_secs, f.calls.len()),
                seconds: Percentiles::of(f.calls.iter().map(|c| f64::from(c.duration_secs.max(0))).collect()),
            },
            latency: Percentiles::of(f.latencies()),
            turn_taking: TurnTaking {
                turns,
                turns_per_call: ratio(turns, calls.total),
                barge_ins,
                barge_ins_per_call: ratio(barge_ins, calls.total),
                false_interruptions: f.false_interruptions,
                false_interruption_rate: (interruptions > 0).then(|| ratio(f.false_interruptions, interruptions)),
                agent_talk_seconds: round2(f.talk.0 as f64 / 1000.0),
                caller_talk_seconds: round2(f.talk.1 as f64 / 1000.0),
                agent_talk_ratio: (f.talk.0 + f.talk.1 > 0).then(|| ratio(f.talk.0, f.talk.0 + f.talk.1)),
                silence_ratio: (f.talk.2 > 0).then(|| ratio(f.talk.2.saturating_sub(f.talk.0 + f.talk.1), f.talk.2)),
            },
            tools: ToolStats {
                calls: tools,
                succeeded: f.tool_ok,
                failed: f.tool_failed,
                success_rate: (tools > 0).then(|| ratio(f.tool_ok, tools)),
            },
            cost: CostStats {
                total,
                per_call: (calls.total > 0).then(|| round4(total / calls.total as f64)),
                per_minute: (total_secs > 0.0).then(|| round4(total / (total_secs / 60.0))),
                currency: "USD".into(),
            },
            outcomes: outcomes_of(&f.outcomes),
            trends: trends
                .into_iter()
                .map(|(date, (n, secs, lat, barges))| TrendBucket {
                    date: date.to_string(),
                    calls: n,
                    average_duration_seconds: average(secs, n as usize),
                    latency_p50_ms: Percentiles::of(lat).p50,
                    barge_ins_per_call: ratio(barges, n),
                })
                .collect(),
            comparison: Comparison {
                previous_start_date: prev_from.to_string(),
                previous_calls: before.calls.len() as u64,
                previous_average_duration_seconds: average(before.seconds(), before.calls.len()),
                previous_latency_p50_ms: Percentiles::of(before.latencies()).p50,
                calls_change: (!before.calls.is_empty())
                    .then(|| round2((calls.total as f64 - before.calls.len() as f64) / before.calls.len() as f64)),
            },
            calls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_ratios_and_averages_of_nothing_and_of_a_few() {
        assert_eq!(Percentiles::of(Vec::new()).p50, None);
        let p = Percentiles::of(vec![30.0, 10.0, 20.0, 40.0, 50.0]);
        assert_eq!((p.samples, p.p50, p.p99), (5, Some(30.0), Some(50.0)));
        assert_eq!(ratio(1, 3), 0.33);
        assert_eq!(ratio(1, 0), 0.0);
        assert_eq!(average(10.0, 0), 0.0);
    }
}
