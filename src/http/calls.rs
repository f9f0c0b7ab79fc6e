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
use serde::Deserialize;
use serde_json::{Value, json};
use thruai_actors::call::{
    snapshot::{CallSnapshotV1, TranscriptEntry, Usage},
    state::{ALL_STATUSES, CallStatus},
};
use thruai_entities::call;

use super::core::{
    envelope,
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator},
};
use crate::{
    calls,
    domain::is_e164,
    error::{ApiError, ApiResult, ErrorCode},
    providers::telephony::{self as tel, TelephonyError},
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

pub fn telephony_error(e: TelephonyError) -> ApiError {
    match e {
        TelephonyError::NotConfigured => ApiError::new(
            ErrorCode::TelephonyNotConfigured,
            "The number's carrier is not configured — set PUT /telephony/credentials",
        ),
        other => ApiError::internal(ErrorCode::InternalError, other),
    }
}

/// The API error for a number that cannot place the call.
pub fn from_number_error(e: calls::FromNumberError) -> ApiError {
    match e {
        calls::FromNumberError::NotYours(_) => ApiError::new(ErrorCode::InvalidNumber, e.to_string()),
        calls::FromNumberError::NoneActive => ApiError::new(ErrorCode::NoActiveNumbers, e.to_string()),
        calls::FromNumberError::Db(e) => e.into(),
    }
}

pub async fn outbound(ctx: Ctx, Body(input): Body<OutboundIn>) -> ApiResult<HttpResponse> {
    if !is_e164(&input.to) {
        return Err(super::telephony::invalid_number("to", &input.to));
    }
    let agent = store::agents::find(ctx.db(), ctx.org(), &input.agent_id)
        .await?
        .filter(|a| a.status != "inactive")
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAgent,
                format!("Agent '{}' not found or not active", input.agent_id),
            )
        })?;
    if let Some(from) = &input.from
        && !is_e164(from)
    {
        return Err(super::telephony::invalid_number("from", from));
    }
    let number = calls::from_number(ctx.db(), ctx.org(), &agent.id, input.from.as_deref())
        .await
        .map_err(from_number_error)?;
    let carrier = tel::carrier_of(&ctx.state, &number).await.map_err(telephony_error)?;
    let row = calls::new_call(
        ctx.org(),
        &agent.id,
        "outbound",
        &number.phone_number,
        &input.to,
        Some(&number),
        json!(input.variables.unwrap_or_default()),
        input.metadata.unwrap_or_else(|| json!({})),
    );
    let txn = ctx.begin().await?;
    let row = store::calls::insert(&txn, row).await?;
    let out = json!({
        "callId": row.id, "id": row.id, "sessionId": row.session_id, "status": row.status,
        "agentId": row.agent_id, "direction": row.direction, "from": row.from_number,
        "to": row.to_number, "provider": row.provider, "createdAt": row.created_at,
    });
    let res = ctx.commit(txn, StatusCode::CREATED, &out).await?;
    let state = ctx.state.get_ref().clone();
    actix_web::rt::spawn(calls::dial(state, row, carrier));
    Ok(res)
}

/// Prices (USD) per unit by provider; the sandbox is free.
fn cost_of(provider: &str, usage: &Usage) -> Value {
    let paid = provider != "sandbox";
    let per_min = |ms: u64, price: f64| if paid { ms as f64 / 60_000.0 * price } else { 0.0 };
    let telephony = per_min(usage.telephony_ms, 0.014);
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    json!({
        "currency": "USD",
        "telephony": round(telephony),
        "stt": 0.0, "llm": 0.0, "tts": 0.0,
        "total": round(telephony),
        "note": "speech, LLM and TTS ran on the sandbox providers (free)",
    })
}

/// The freshest snapshot: the live actor's, else the stored one.
async fn snapshot(ctx: &Ctx, row: &call::Model) -> CallSnapshotV1 {
    if let Some(h) = ctx.state.calls.get(&row.id)
        && let Some(s) = h.snapshot().await
    {
        return s;
    }
    store::calls::snapshot_of(row).unwrap_or_else(|| {
        CallSnapshotV1::new(
            &row.id,
            &row.org_id,
            &row.agent_id,
            CallStatus::parse(&row.status).unwrap_or(CallStatus::Failed),
            row.owner_epoch,
        )
    })
}

fn summary(row: &call::Model, snap: Option<&CallSnapshotV1>) -> Value {
    let status = snap.map_or(row.status.as_str(), |s| s.status.as_str());
    let duration = snap.map_or(i64::from(row.duration_secs), |s| s.duration_secs(Utc::now()));
    json!({
        "id": row.id, "callId": row.id, "sessionId": row.session_id, "agentId": row.agent_id,
        "direction": row.direction, "status": status, "from": row.from_number, "to": row.to_number,
        "phoneNumberId": row.phone_number_id, "provider": row.provider,
        "providerCallSid": snap.and_then(|s| s.provider_call_sid.clone()).or_else(|| row.provider_call_sid.clone()),
        "endReason": snap.and_then(|s| s.end_reason.clone()).or_else(|| row.end_reason.clone()),
        "startedAt": snap.and_then(|s| s.answered_at).or(row.answered_at),
        "endedAt": snap.and_then(|s| s.ended_at).or(row.ended_at),
        "duration": duration, "variables": row.variables, "metadata": row.metadata,
        "createdAt": row.created_at, "updatedAt": row.updated_at,
    })
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
    let items: Vec<Value> = rows
        .iter()
        .map(|r| summary(r, store::calls::snapshot_of(r).as_ref()))
        .collect();
    Ok(envelope::list("calls", &items, page.info(total)))
}

async fn load(ctx: &Ctx, id: &str) -> ApiResult<(call::Model, CallSnapshotV1)> {
    let row = store::calls::find(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Call", id))?;
    let snap = snapshot(ctx, &row).await;
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
    let mut out = summary(&row, Some(&snap));
    out["transcript"] = json!(lines);
    out["usage"] = json!(snap.usage);
    out["cost"] = cost_of(&row.provider, &snap.usage);
    Ok(envelope::ok(&out))
}

pub async fn transcript(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (row, snap, lines) = load_with_transcript(&ctx, &id).await?;
    let text: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                "{}: {}",
                serde_json::to_value(l.speaker)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or(""),
                l.text
            )
        })
        .collect();
    Ok(envelope::ok(&json!({
        "callId": row.id, "status": snap.status.as_str(),
        "transcript": lines, "text": text.join("\n"),
    })))
}

pub async fn debug(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    // The snapshot first, then the rows (see `store::calls::timeline`).
    let (row, mut snap) = load(&ctx, &id).await?;
    let timeline = store::calls::timeline(ctx.db(), &row.id, std::mem::take(&mut snap.timeline)).await?;
    let of_kind = |k: &str| -> Vec<&Value> { timeline.iter().filter(|e| e.kind == k).map(|e| &e.detail).collect() };
    let latencies: Vec<u64> = of_kind("turn")
        .iter()
        .filter_map(|d| d["endOfTurnToFirstAudioMs"].as_u64())
        .collect();
    Ok(envelope::ok(&json!({
        "callId": row.id, "status": snap.status.as_str(), "endReason": snap.end_reason,
        "epoch": snap.epoch, "timeline": timeline,
        "turns": of_kind("turn"), "interruptions": of_kind("interruption"),
        "toolCalls": of_kind("tool_call"), "providerErrors": of_kind("provider_error"),
        "latency": { "endOfTurnToFirstAudioMs": latencies },
        "usage": snap.usage, "cost": cost_of(&row.provider, &snap.usage),
    })))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/calls", "calls", "list_calls", "List call records", |r| {
            r.to(list)
        })
        .key(Some("calls:read")),
        RouteSpec::new(M::GET, "/calls/:id", "calls", "get_call", "Get call by ID", |r| {
            r.to(get)
        })
        .key(Some("calls:read")),
        RouteSpec::new(
            M::GET,
            "/calls/:id/transcript",
            "calls",
            "get_call_transcript",
            "Get call transcript",
            |r| r.to(transcript),
        )
        .key(Some("calls:read")),
        RouteSpec::new(
            M::GET,
            "/calls/:id/debug",
            "calls",
            "get_call_debug",
            "Get call debug timeline and troubleshooting",
            |r| r.to(debug),
        )
        .key(Some("calls:read")),
        RouteSpec::new(
            M::POST,
            "/calls/outbound",
            "calls",
            "make_call",
            "Initiate outbound call",
            |r| r.to(outbound),
        )
        .key(Some("calls:write"))
        .body::<OutboundIn>()
        .example(|| json!({ "agentId": "AGT-01JDEXAMPLE", "to": "+14155550100" })),
    ]
}
