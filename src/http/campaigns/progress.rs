//! A campaign's progress: stats (changelog 1.4.0), the flat 1.2.0 progress view, and
//! `/_debug/campaigns/:id` (the actor's live state and why it is not dialling).

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};
use thruai_actors::campaign::state::{self as cstate, Counts};

use super::load;
use crate::{
    campaigns::window_of,
    error::ApiResult,
    http::core::{envelope, extract::Ctx},
    store::campaigns as cs,
};

/// Changelog 1.4.0: nested counts, with `percentComplete` and `successRate` computed here.
pub fn stats_view(campaign_id: &str, c: &Counts) -> Value {
    json!({
        "campaignId": campaign_id,
        "stats": {
            "total": c.total, "queued": c.queued, "inProgress": c.in_progress,
            "completed": c.completed, "failed": c.failed, "suppressed": c.suppressed,
        },
        "percentComplete": c.percent_complete(),
        "successRate": c.success_rate(),
    })
}

/// Changelog 1.2.0 (`GET /campaigns/:id/progress`, for older clients): the same figures,
/// flat, with `pending` for queued.
pub fn progress_view(campaign_id: &str, status: &str, c: &Counts) -> Value {
    json!({
        "campaignId": campaign_id, "status": status,
        "total": c.total, "pending": c.queued, "inProgress": c.in_progress,
        "completed": c.completed, "failed": c.failed, "suppressed": c.suppressed,
        "percentComplete": c.percent_complete(), "successRate": c.success_rate(),
    })
}

pub async fn stats(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&stats_view(&row.id, &counts)))
}

pub async fn progress(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&progress_view(&row.id, &row.status, &counts)))
}

/// `GET /_debug/campaigns/:id`: the actor's live state, and a plain-words diagnosis of why
/// a started campaign is not dialling.
pub async fn debug(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    let open = cs::open_dials(ctx.db(), &row.id).await?;
    let armed = cs::armed_dials(ctx.db(), &row.id).await?;
    let live = ctx.state.campaigns.inspect(&row.id).await;
    let running_here = ctx.state.campaigns.is_running(&row.id);
    let now = Utc::now();
    let window = window_of(&row);
    let next_opening = window.as_ref().and_then(|w| w.next_open(now));
    let given_up = ctx.state.campaigns.given_up(&row.id);
    let diagnosis = match row.status.as_str() {
        "draft" => "Not started: POST /campaigns/:id/start to begin dialling".to_string(),
        "paused" => "Paused: POST /campaigns/:id/start resumes it".to_string(),
        "completed" => "Completed: every contact reached a final status".to_string(),
        _ if counts.total == 0 => "Running with no contacts: add some with POST /campaigns/:id/contacts".to_string(),
        _ if given_up.is_some() => format!(
            "The actor failed repeatedly and the supervisor stopped restarting it: {}; POST /campaigns/:id/start retries",
            given_up.clone().unwrap_or_default()
        ),
        _ if !running_here => format!(
            "No actor runs for it on this node: the lease is held until {} (another node, or a previous process; it is taken over when the lease expires)",
            row.lease_until.map_or_else(|| "-".into(), |t| t.to_rfc3339())
        ),
        _ => live
            .as_ref()
            .and_then(|l| l.not_dialing_because.clone())
            .unwrap_or_else(|| "Dialling".into()),
    };
    // Calls in flight: started dials whose call is still open (a `pending` one whatever its
    // call says: the carrier may have it). A dial whose call ended waits to be settled; its
    // slot may already hold the next call.
    let call_ids: Vec<String> = open.iter().map(|d| d.call_id.clone()).collect();
    let call_status = cs::call_statuses(ctx.db(), &call_ids).await?;
    let (in_flight, ended): (Vec<_>, Vec<_>) = open.iter().partition(|d| {
        d.status == cs::DIAL_PENDING
            || call_status
                .get(&d.call_id)
                .is_none_or(|s| cstate::Outcome::of_call_status(s).is_none())
    });
    let in_flight: Vec<Value> = in_flight
        .into_iter()
        .map(|d| {
            json!({
                "intentKey": d.intent_key, "contactId": d.contact_id, "callId": d.call_id,
                "status": d.status, "providerCallSid": d.provider_call_sid,
                "ageMs": (now - d.created_at).num_milliseconds(),
            })
        })
        .collect();
    let ended: Vec<Value> = ended
        .into_iter()
        .map(|d| json!({ "intentKey": d.intent_key, "contactId": d.contact_id, "callId": d.call_id }))
        .collect();
    Ok(envelope::ok(&json!({
        "campaignId": row.id,
        "status": row.status,
        "diagnosis": diagnosis,
        "lease": { "epoch": row.owner_epoch, "until": row.lease_until, "heldByThisNode": running_here },
        "window": {
            "configured": row.calling_window,
            "openNow": window.as_ref().is_none_or(|w| w.is_open(now)),
            "nextOpening": next_opening,
        },
        "inFlightDials": in_flight,
        "endedDialsToSettle": ended,
        "armedDials": armed
            .iter()
            .map(|d| json!({ "intentKey": d.intent_key, "contactId": d.contact_id, "ageMs": (now - d.created_at).num_milliseconds() }))
            .collect::<Vec<_>>(),
        "stats": stats_view(&row.id, &counts),
        "actor": live,
        "storedSnapshot": row.snapshot,
        "supervisor": { "runningActorsOnThisNode": ctx.state.campaigns.running(), "gaveUp": given_up },
    })))
}
