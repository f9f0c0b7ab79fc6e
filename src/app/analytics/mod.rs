//! Usage and costs over time, from the organisation's own records — calls, messages and the
//! usage ledger — bucketed by local day, ISO week or month in Rust, so both databases agree
//! and empty periods show as zeros.

mod agent;
mod recommend;

use std::{collections::BTreeMap, sync::Arc};

use chrono::NaiveDate;
use chrono_tz::Tz;
use schemars::JsonSchema;
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use thruai_actors::call::ports::LanguageModel;

pub use self::{
    agent::AgentReport,
    recommend::{RecommendError, RecommendationsReport},
};
use crate::{
    domain::{
        periods::{Granularity, buckets, local_date, utc_bounds},
        pricing::usd,
    },
    store::analytics as rows,
};

/// What is asked: a range of local dates (both included), a bucket size, a time zone, and
/// optionally one agent.
#[derive(Debug, Clone)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub granularity: Granularity,
    pub tz: Tz,
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageBucket {
    /// The bucket's first day (local).
    pub date: String,
    pub calls: u64,
    pub minutes: f64,
    pub inbound: u64,
    pub outbound: u64,
    /// Messages sent and received (not attributed to agents).
    pub sms: u64,
    /// Emails sent.
    pub emails: u64,
    pub emails_received: u64,
    pub transcription_minutes: f64,
    pub llm_tokens: u64,
    pub tts_characters: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeriodOut {
    pub start_date: String,
    pub end_date: String,
    pub granularity: String,
    pub timezone: String,
    pub agent_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub usage: Vec<UsageBucket>,
    /// The whole range.
    pub totals: UsageBucket,
    pub period: PeriodOut,
}

/// USD per component; `llm`, `tts`, `stt` and `telephony` always present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Breakdown {
    pub llm: f64,
    pub tts: f64,
    pub stt: f64,
    pub telephony: f64,
    pub s2s: f64,
    pub sms: f64,
    pub email: f64,
    pub tools: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostBucket {
    pub date: String,
    pub total: f64,
    pub breakdown: Breakdown,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostTotals {
    pub total: f64,
    pub breakdown: Breakdown,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub costs: Vec<CostBucket>,
    pub totals: CostTotals,
    pub period: PeriodOut,
}

/// Exact sums in millionths per component, turned into USD once.
#[derive(Default, Clone)]
struct Micros(BTreeMap<&'static str, i64>);

impl Micros {
    fn add(&mut self, component: &str, amount: i64) {
        let key = match component {
            "llm_input" | "llm_output" => "llm",
            "tts" => "tts",
            "stt" => "stt",
            "telephony" => "telephony",
            "s2s" => "s2s",
            "sms" => "sms",
            "email" => "email",
            _ => "tools",
        };
        *self.0.entry(key).or_default() += amount;
    }

    fn breakdown(&self) -> (f64, Breakdown) {
        let of = |k: &str| usd(self.0.get(k).copied().unwrap_or(0));
        (
            usd(self.0.values().sum()),
            Breakdown {
                llm: of("llm"),
                tts: of("tts"),
                stt: of("stt"),
                telephony: of("telephony"),
                s2s: of("s2s"),
                sms: of("sms"),
                email: of("email"),
                tools: of("tools"),
            },
        )
    }
}

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The analytics service.
#[derive(Clone)]
pub struct Analytics {
    db: DatabaseConnection,
    /// The model that writes recommendations, when one is configured.
    analyst: Option<Arc<dyn LanguageModel>>,
}

impl Analytics {
    pub fn new(db: DatabaseConnection, analyst: Option<Arc<dyn LanguageModel>>) -> Self {
        Self { db, analyst }
    }

    pub fn analyst(&self) -> Option<Arc<dyn LanguageModel>> {
        self.analyst.clone()
    }

    /// The period as answers show it.
    pub fn period_out(p: &Period) -> PeriodOut {
        PeriodOut {
            start_date: p.from.to_string(),
            end_date: p.to.to_string(),
            granularity: p.granularity.as_str().into(),
            timezone: p.tz.name().into(),
            agent_id: p.agent_id.clone(),
        }
    }

    /// # Errors
    /// When the database fails.
    pub async fn usage(&self, org_id: &str, p: &Period) -> Result<UsageReport, DbErr> {
        let range = utc_bounds(p.from, p.to, p.tz);
        let agent = p.agent_id.as_deref();
        let starts = buckets(p.from, p.to, p.granularity);
        let mut by: BTreeMap<NaiveDate, UsageBucket> = starts.iter().map(|d| (*d, UsageBucket::default())).collect();
        let slot = |t| p.granularity.start_of(local_date(t, p.tz));
        for (at, direction, secs) in rows::calls(&self.db, org_id, range, agent).await? {
            if let Some(b) = by.get_mut(&slot(at)) {
                b.calls += 1;
                b.minutes += f64::from(secs.max(0)) / 60.0;
                if direction == "inbound" {
                    b.inbound += 1;
                } else {
                    b.outbound += 1;
                }
            }
        }
        for (at, component, quantity, _) in rows::ledger(&self.db, org_id, range, agent).await? {
            if let Some(b) = by.get_mut(&slot(at)) {
                match component.as_str() {
                    "stt" => b.transcription_minutes += quantity,
                    "llm_input" | "llm_output" => b.llm_tokens += quantity as u64,
                    "tts" => b.tts_characters += quantity as u64,
                    _ => {}
                }
            }
        }
        if agent.is_none() {
            for at in rows::sms(&self.db, org_id, range).await? {
                if let Some(b) = by.get_mut(&slot(at)) {
                    b.sms += 1;
                }
            }
        }
        for (at, direction) in rows::emails(&self.db, org_id, range, agent).await? {
            if let Some(b) = by.get_mut(&slot(at)) {
                if direction == "inbound" {
                    b.emails_received += 1;
                } else {
                    b.emails += 1;
                }
            }
        }
        let mut totals = UsageBucket {
            date: p.from.to_string(),
            ..UsageBucket::default()
        };
        let usage: Vec<UsageBucket> = by
            .into_iter()
            .map(|(date, mut b)| {
                totals.calls += b.calls;
                totals.minutes += b.minutes;
                totals.inbound += b.inbound;
                totals.outbound += b.outbound;
                totals.sms += b.sms;
                totals.emails += b.emails;
                totals.emails_received += b.emails_received;
                totals.transcription_minutes += b.transcription_minutes;
                totals.llm_tokens += b.llm_tokens;
                totals.tts_characters += b.tts_characters;
                b.date = date.to_string();
                b.minutes = round2(b.minutes);
                b.transcription_minutes = round2(b.transcription_minutes);
                b
            })
            .collect();
        totals.minutes = round2(totals.minutes);
        totals.transcription_minutes = round2(totals.transcription_minutes);
        Ok(UsageReport {
            usage,
            totals,
            period: Self::period_out(p),
        })
    }

    /// # Errors
    /// When the database fails.
    pub async fn costs(&self, org_id: &str, p: &Period) -> Result<CostReport, DbErr> {
        let range = utc_bounds(p.from, p.to, p.tz);
        let mut by: BTreeMap<NaiveDate, Micros> = buckets(p.from, p.to, p.granularity)
            .into_iter()
            .map(|d| (d, Micros::default()))
            .collect();
        let mut all = Micros::default();
        for (at, component, _, amount) in rows::ledger(&self.db, org_id, range, p.agent_id.as_deref()).await? {
            let slot = p.granularity.start_of(local_date(at, p.tz));
            if let Some(m) = by.get_mut(&slot) {
                m.add(&component, amount);
                all.add(&component, amount);
            }
        }
        let costs = by
            .into_iter()
            .map(|(date, m)| {
                let (total, breakdown) = m.breakdown();
                CostBucket {
                    date: date.to_string(),
                    total,
                    breakdown,
                }
            })
            .collect();
        let (total, breakdown) = all.breakdown();
        Ok(CostReport {
            costs,
            totals: CostTotals {
                total,
                breakdown,
                currency: "USD".into(),
            },
            period: Self::period_out(p),
        })
    }
}
