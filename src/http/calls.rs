//! The Calls API: `POST /calls/outbound` (agent and number checks, then the dial runs
//! after the call row is committed), `GET /calls` (filters), `/calls/:id` (with transcript,
//! duration and cost), `/calls/:id/transcript` and `/calls/:id/debug` (the timeline).

use std::collections::BTreeMap;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::call::{
    snapshot::{CallSnapshotV1, Speaker, TimelineEntry, TranscriptEntry, Usage},
    state::ALL_STATUSES,
};
use thruai_entities::call;

use super::core::{
    envelope::{self, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator},
};
use crate::{
    app::calls::OutboundRequest,
    domain::pricing::usd,
    error::{ApiError, ApiResult},
    http::telephony::e164,
    store,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutboundIn {
    pub agent_id: String,
    /// The number to call, E.164.
    pub to: String,
    /// One of your numbers, E.164; default: the agent's first active number.
    pub from: Option<String>,
    /// Fill `{{name}}` placeholders of the agent's prompt and first message.
    pub variables: Option<BTreeMap<String, String>>,
    /// Free-form object, up to 8 KB. On sandbox numbers `sandboxScript` scripts the callee.
    pub metadata: Option<Value>,
}

impl Validate for OutboundIn {
    fn validate(&self, v: &mut Validator) {
        v.length("agentId", &self.agent_id, 1, 64);
        if let Some(m) = &self.metadata {
            v.check(m.is_object(), "metadata", "must be an object");
            v.check(
                m.to_string().len() <= 8192,
                "metadata",
                "must be at most 8192 bytes serialized",
            );
        }
    }
}

/// The call just created by `POST /calls/outbound` (the dial runs after it is stored).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OutboundCallOut {
    /// Same as `id`.
    pub call_id: String,
    pub id: String,
    pub session_id: String,
    pub status: String,
    pub agent_id: String,
    pub direction: String,
    pub from: String,
    pub to: String,
    pub provider: String,
    pub created_at: DateTime<Utc>,
}

/// A call as listed: its row, with the live state where the call is still running.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallSummaryOut {
    pub id: String,
    /// Same as `id`.
    pub call_id: String,
    pub session_id: String,
    pub agent_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub phone_number_id: Option<String>,
    pub provider: String,
    pub provider_call_sid: Option<String>,
    pub end_reason: Option<String>,
    /// When the call was answered.
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Seconds connected so far.
    pub duration: i64,
    pub variables: Value,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line of a transcript.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptLineOut {
    /// Its number in the call's transcript, from 1.
    pub seq: u64,
    /// `agent` or `caller`.
    pub speaker: String,
    pub text: String,
    /// Milliseconds since the call was answered.
    pub at_ms: u64,
    /// The agent was cut off: `text` is what the caller heard.
    pub interrupted: bool,
    /// The caller hung up mid-sentence: `text` is the part heard before.
    pub partial: bool,
}

fn speaker_name(speaker: Speaker) -> &'static str {
    match speaker {
        Speaker::Agent => "agent",
        Speaker::Caller => "caller",
    }
}

impl From<TranscriptEntry> for TranscriptLineOut {
    fn from(e: TranscriptEntry) -> Self {
        Self {
            seq: e.seq,
            speaker: speaker_name(e.speaker).into(),
            text: e.text,
            at_ms: e.at_ms,
            interrupted: e.interrupted,
            partial: e.partial,
        }
    }
}

/// Usage per component, from which cost is priced.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UsageOut {
    pub telephony_ms: u64,
    pub stt_ms: u64,
    pub llm_requests: u64,
    pub llm_input_tokens: u64,
    pub llm_output_tokens: u64,
    pub tts_characters: u64,
    pub tool_calls: u64,
}

impl From<&Usage> for UsageOut {
    fn from(u: &Usage) -> Self {
        Self {
            telephony_ms: u.telephony_ms,
            stt_ms: u.stt_ms,
            llm_requests: u.llm_requests,
            llm_input_tokens: u.llm_input_tokens,
            llm_output_tokens: u.llm_output_tokens,
            tts_characters: u.tts_characters,
            tool_calls: u.tool_calls,
        }
    }
}

/// The price of a call in USD, per component, from the usage ledger.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CostOut {
    pub currency: String,
    pub telephony: f64,
    pub stt: f64,
    /// Input and output tokens.
    pub llm: f64,
    pub tts: f64,
    /// Speech-to-speech minutes (s2s agents).
    pub s2s: f64,
    pub total: f64,
    pub note: String,
}

impl CostOut {
    /// From `(component, provider, USD millionths)` entries; `ended`: they are the ledger's.
    fn of(priced: &[(String, String, i64)], ended: bool) -> Self {
        let sum = |components: &[&str]| -> i64 {
            priced
                .iter()
                .filter(|(c, _, _)| components.contains(&c.as_str()))
                .map(|(_, _, a)| a)
                .sum()
        };
        let sandbox: Vec<&str> = priced
            .iter()
            .filter(|(_, p, _)| p == "sandbox")
            .map(|(c, _, _)| c.as_str())
            .collect();
        let mut note = if ended {
            "from the usage ledger".to_string()
        } else {
            "priced from its usage (the ledger is written when the call ends)".to_string()
        };
        if !sandbox.is_empty() {
            note.push_str(&format!("; on the sandbox (free): {}", sandbox.join(", ")));
        }
        Self {
            currency: "USD".into(),
            telephony: usd(sum(&["telephony"])),
            stt: usd(sum(&["stt"])),
            llm: usd(sum(&["llm_input", "llm_output"])),
            tts: usd(sum(&["tts"])),
            s2s: usd(sum(&["s2s"])),
            total: usd(priced.iter().map(|(_, _, a)| a).sum()),
            note,
        }
    }
}

/// `GET /calls/:id`: the call, its whole transcript, usage and cost.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallOut {
    #[serde(flatten)]
    pub summary: CallSummaryOut,
    pub transcript: Vec<TranscriptLineOut>,
    pub usage: UsageOut,
    pub cost: CostOut,
    /// The post-call analysis, once the call has ended.
    #[serde(default)]
    pub analysis: Option<AnalysisOut>,
}

/// A call's post-call analysis.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisOut {
    /// `pending`, `done` or `failed`.
    pub status: String,
    /// `llm` (the agent's language model) or `sandbox` (rules on the caller's words).
    pub method: Option<String>,
    pub summary: Option<String>,
    /// The caller's: `positive`, `neutral`, `negative` or `unknown`.
    pub sentiment: Option<String>,
    /// Whether the caller's goal was met.
    pub resolved: Option<bool>,
    pub error: Option<String>,
}

impl From<thruai_entities::call_analysis::Model> for AnalysisOut {
    fn from(a: thruai_entities::call_analysis::Model) -> Self {
        Self {
            status: a.status,
            method: a.method,
            summary: a.summary,
            sentiment: a.sentiment,
            resolved: a.resolved,
            error: a.error,
        }
    }
}

/// `GET /calls/:id/transcript`: the lines, and the same as text (`speaker: text` per line).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptOut {
    pub call_id: String,
    pub status: String,
    pub transcript: Vec<TranscriptLineOut>,
    pub text: String,
}

/// One event of a call's timeline.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEventOut {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `state`, `turn`, `interruption`, `tool_call`, `provider_error`, `stream`, ...
    pub kind: String,
    /// What happened; its fields depend on the kind.
    pub detail: Value,
}

impl From<TimelineEntry> for TimelineEventOut {
    fn from(e: TimelineEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            kind: e.kind,
            detail: e.detail,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LatencyOut {
    /// Per turn: from the end of the caller's turn to the agent's first audio.
    pub end_of_turn_to_first_audio_ms: Vec<u64>,
    /// Per turn that retrieved knowledge: the retrieval's time (before the model was asked).
    pub knowledge_retrieval_ms: Vec<u64>,
}

/// `GET /calls/:id/debug`: the timeline, and its events by kind.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CallDebugOut {
    pub call_id: String,
    pub status: String,
    pub end_reason: Option<String>,
    /// The owner epoch of the call's actor.
    pub epoch: i64,
    pub timeline: Vec<TimelineEventOut>,
    /// The `detail` of each event of that kind.
    pub turns: Vec<Value>,
    pub interruptions: Vec<Value>,
    pub tool_calls: Vec<Value>,
    pub provider_errors: Vec<Value>,
    pub latency: LatencyOut,
    pub usage: UsageOut,
    pub cost: CostOut,
}

pub async fn outbound(ctx: Ctx, Body(input): Body<OutboundIn>) -> ApiResult<HttpResponse> {
    let to = e164("to", &input.to)?;
    let from = input.from.as_deref().map(|f| e164("from", f)).transpose()?;
    ctx.state.billing.admit(ctx.org()).await?;
    let call = ctx
        .state
        .calls
        .prepare_outbound(
            ctx.org(),
            OutboundRequest {
                agent_id: input.agent_id.into(),
                to,
                from,
                variables: input.variables.unwrap_or_default(),
                metadata: input.metadata.unwrap_or_else(|| json!({})),
            },
        )
        .await?;
    let txn = ctx.begin().await?;
    let row = store::calls::insert(&txn, call.row().clone()).await?;
    let out = OutboundCallOut {
        call_id: row.id.clone(),
        id: row.id.clone(),
        session_id: row.session_id.clone(),
        status: row.status.to_string(),
        agent_id: row.agent_id.clone(),
        direction: row.direction.to_string(),
        from: row.from_number.clone(),
        to: row.to_number.clone(),
        provider: row.provider.to_string(),
        created_at: row.created_at,
    };
    let res = ctx.commit(txn, StatusCode::CREATED, &Sorted(out)).await?;
    ctx.state.calls.dial_recorded(call);
    Ok(res)
}

/// The call's cost: its ledger entries once it has ended; while it is live, what it used so
/// far priced the same way (the ledger is written with its end).
async fn cost_of(ctx: &Ctx, row: &call::Model, snap: &CallSnapshotV1) -> ApiResult<CostOut> {
    let written: Vec<(String, String, i64)> = if snap.status.is_terminal() {
        store::ledger::for_call(ctx.db(), &row.id)
            .await?
            .into_iter()
            .map(|e| (e.component, e.provider, e.amount_micros))
            .collect()
    } else {
        Vec::new()
    };
    // Live, or ended before the ledger existed: what it used, priced the same way.
    let from_ledger = !written.is_empty();
    let priced = if from_ledger {
        written
    } else {
        store::ledger::call_usage(snap, row.provider.as_str())
            .into_iter()
            .map(|u| {
                let amount = ctx
                    .state
                    .prices
                    .price(Some(ctx.plan()), u.component, &u.provider, u.quantity)
                    .1;
                (u.component.to_string(), u.provider, amount)
            })
            .collect()
    };
    Ok(CostOut::of(&priced, from_ledger))
}

/// The call's stored snapshot. The API shows only what is durable: a line or a status a
/// client has seen survives a crash of the process running the call (the live actor writes
/// every change within milliseconds, behind the media path).
fn snapshot(row: &call::Model) -> CallSnapshotV1 {
    store::calls::snapshot_of(row)
        .unwrap_or_else(|| CallSnapshotV1::new(&row.id, &row.org_id, &row.agent_id, row.status, row.owner_epoch))
}

fn summary(row: &call::Model, snap: Option<&CallSnapshotV1>) -> CallSummaryOut {
    let status = snap.map_or(row.status.as_str(), |s| s.status.as_str());
    let duration = snap.map_or(i64::from(row.duration_secs), |s| s.duration_secs(Utc::now()));
    CallSummaryOut {
        id: row.id.clone(),
        call_id: row.id.clone(),
        session_id: row.session_id.clone(),
        agent_id: row.agent_id.clone(),
        direction: row.direction.to_string(),
        status: status.to_string(),
        from: row.from_number.clone(),
        to: row.to_number.clone(),
        phone_number_id: row.phone_number_id.clone(),
        provider: row.provider.to_string(),
        provider_call_sid: snap
            .and_then(|s| s.provider_call_sid.clone())
            .or_else(|| row.provider_call_sid.clone()),
        end_reason: snap
            .and_then(|s| s.end_reason.clone())
            .or_else(|| row.end_reason.clone()),
        started_at: snap.and_then(|s| s.answered_at).or(row.answered_at),
        ended_at: snap.and_then(|s| s.ended_at).or(row.ended_at),
        duration,
        variables: json!(row.variables),
        metadata: row.metadata.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

fn parse_date(q: &ListQuery, name: &str) -> ApiResult<Option<DateTime<Utc>>> {
    match q.get(name) {
        None => Ok(None),
        Some(raw) => DateTime::parse_from_rfc3339(raw)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| {
                ApiError::validation(vec![crate::error::FieldError::new(
                    name,
                    "must be an ISO 8601 date-time",
                )])
            }),
    }
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let statuses: Vec<&str> = ALL_STATUSES.iter().map(|s| s.as_str()).collect();
    let filter = store::calls::Filter {
        agent_id: q.get("agentId").map(str::to_string),
        status: q.one_of("status", &statuses)?,
        direction: q.one_of("direction", &["inbound", "outbound"])?,
        from: parse_date(&q, "startDate")?.or(parse_date(&q, "from")?),
        to: parse_date(&q, "endDate")?.or(parse_date(&q, "to")?),
    };
    let (rows, total) = store::calls::list(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<CallSummaryOut> = rows
        .iter()
        .map(|r| summary(r, store::calls::snapshot_of(r).as_ref()))
        .collect();
    Ok(envelope::list("calls", &items, page.info(total)))
}

async fn load(ctx: &Ctx, id: &str) -> ApiResult<(call::Model, CallSnapshotV1)> {
    let row = store::calls::find(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Call", id))?;
    let snap = snapshot(&row);
    Ok((row, snap))
}

/// The call with its whole transcript (the live snapshot read first, then the rows).
async fn load_with_transcript(ctx: &Ctx, id: &str) -> ApiResult<(call::Model, CallSnapshotV1, Vec<TranscriptEntry>)> {
    let (row, mut snap) = load(ctx, id).await?;
    let lines = store::calls::transcript(ctx.db(), &row.id, std::mem::take(&mut snap.transcript)).await?;
    Ok((row, snap, lines))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (row, snap, lines) = load_with_transcript(&ctx, &id).await?;
    let out = CallOut {
        summary: summary(&row, Some(&snap)),
        transcript: lines.into_iter().map(Into::into).collect(),
        usage: (&snap.usage).into(),
        cost: cost_of(&ctx, &row, &snap).await?,
        analysis: store::analyses::find(ctx.db(), &row.id).await?.map(Into::into),
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn transcript(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (row, snap, lines) = load_with_transcript(&ctx, &id).await?;
    let transcript: Vec<TranscriptLineOut> = lines.into_iter().map(Into::into).collect();
    let text: Vec<String> = transcript
        .iter()
        .map(|l| format!("{}: {}", l.speaker, l.text))
        .collect();
    let out = TranscriptOut {
        call_id: row.id,
        status: snap.status.as_str().to_string(),
        transcript,
        text: text.join("\n"),
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn debug(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    // The snapshot first, then the rows (see `store::calls::timeline`).
    let (row, mut snap) = load(&ctx, &id).await?;
    let timeline = store::calls::timeline(ctx.db(), &row.id, std::mem::take(&mut snap.timeline)).await?;
    let of_kind = |k: &str| -> Vec<Value> {
        timeline
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| e.detail.clone())
            .collect()
    };
    let turns = of_kind("turn");
    let latencies: Vec<u64> = turns
        .iter()
        .filter_map(|d| d["endOfTurnToFirstAudioMs"].as_u64())
        .collect();
    let out = CallDebugOut {
        call_id: row.id.clone(),
        status: snap.status.as_str().to_string(),
        end_reason: snap.end_reason.clone(),
        epoch: snap.epoch,
        interruptions: of_kind("interruption"),
        tool_calls: of_kind("tool_call"),
        provider_errors: of_kind("provider_error"),
        turns,
        latency: LatencyOut {
            end_of_turn_to_first_audio_ms: latencies,
            knowledge_retrieval_ms: of_kind("knowledge")
                .iter()
                .filter_map(|d| d["retrievalMs"].as_u64())
                .collect(),
        },
        usage: (&snap.usage).into(),
        cost: cost_of(&ctx, &row, &snap).await?,
        timeline: timeline.into_iter().map(Into::into).collect(),
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/calls", "calls", "list_calls", "List call records", |r| {
            r.to(list)
        })
        .key(Some("calls:read"))
        .returns_list::<CallSummaryOut>("calls"),
        RouteSpec::new(M::GET, "/calls/:id", "calls", "get_call", "Get call by ID", |r| {
            r.to(get)
        })
        .key(Some("calls:read"))
        .returns::<CallOut>(),
        RouteSpec::new(
            M::GET,
            "/calls/:id/transcript",
            "calls",
            "get_call_transcript",
            "Get call transcript",
            |r| r.to(transcript),
        )
        .key(Some("calls:read"))
        .returns::<TranscriptOut>(),
        RouteSpec::new(
            M::GET,
            "/calls/:id/debug",
            "calls",
            "get_call_debug",
            "Get call debug timeline and troubleshooting",
            |r| r.to(debug),
        )
        .key(Some("calls:read"))
        .returns::<CallDebugOut>(),
        RouteSpec::new(
            M::POST,
            "/calls/outbound",
            "calls",
            "make_call",
            "Initiate outbound call",
            |r| r.to(outbound),
        )
        .billed()
        .key(Some("calls:write"))
        .body::<OutboundIn>()
        .example(|| json!({ "agentId": "AGT-01JDEXAMPLE", "to": "+14155550100" }))
        .returns::<OutboundCallOut>(),
    ]
}
