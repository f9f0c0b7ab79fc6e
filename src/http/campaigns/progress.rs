//! A campaign's progress: stats (changelog 1.4.0), the flat 1.2.0 progress view, and
//! `/_debug/campaigns/:id` (the actor's live state and why it is not dialling).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::campaign::state::{self as cstate, Counts};

use super::{CountsOut, load};
use crate::{
    app::campaigns::{self, window_of},
    error::ApiResult,
    http::core::{
        envelope::{self, Sorted},
        extract::Ctx,
    },
    store::campaigns as cs,
};

/// Changelog 1.4.0: nested counts, with `percentComplete` and `successRate` computed here.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignStatsOut {
    pub campaign_id: String,
    pub stats: CountsOut,
    /// Contacts in a final status, in % of all (2 decimals).
    pub percent_complete: f64,
    /// Completed contacts in % of those completed or failed (2 decimals).
    pub success_rate: f64,
}

pub fn stats_view(campaign_id: &str, c: &Counts) -> CampaignStatsOut {
    CampaignStatsOut {
        campaign_id: campaign_id.into(),
        stats: c.into(),
        percent_complete: c.percent_complete(),
        success_rate: c.success_rate(),
    }
}

/// Changelog 1.2.0 (`GET /campaigns/:id/progress`, for older clients): the same figures,
/// flat, with `pending` for queued.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignProgressOut {
    pub campaign_id: String,
    pub status: String,
    pub total: u64,
    /// Queued contacts.
    pub pending: u64,
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub suppressed: u64,
    pub percent_complete: f64,
    pub success_rate: f64,
}

pub fn progress_view(campaign_id: &str, status: &str, c: &Counts) -> CampaignProgressOut {
    CampaignProgressOut {
        campaign_id: campaign_id.into(),
        status: status.into(),
        total: c.total,
        pending: c.queued,
        in_progress: c.in_progress,
        completed: c.completed,
        failed: c.failed,
        suppressed: c.suppressed,
        percent_complete: c.percent_complete(),
        success_rate: c.success_rate(),
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LeaseOut {
    /// The owner epoch: bumped by every takeover, fencing the previous owner out.
    pub epoch: i64,
    pub until: Option<DateTime<Utc>>,
    pub held_by_this_node: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WindowStateOut {
    /// The calling window as configured (null: any time).
    pub configured: Option<Value>,
    pub open_now: bool,
    pub next_opening: Option<DateTime<Utc>>,
}

/// A dial whose call is in flight.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InFlightDialOut {
    pub intent_key: String,
    pub contact_id: String,
    pub call_id: String,
    pub status: String,
    pub provider_call_sid: Option<String>,
    pub age_ms: i64,
}

/// A dial whose call ended and whose outcome is still to be applied.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EndedDialOut {
    pub intent_key: String,
    pub contact_id: String,
    pub call_id: String,
}

/// A dial intent recorded ahead of its call.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ArmedDialOut {
    pub intent_key: String,
    pub contact_id: String,
    pub age_ms: i64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SupervisorOut {
    pub running_actors_on_this_node: usize,
    /// Why the supervisor stopped restarting the campaign's actor, when it did.
    pub gave_up: Option<String>,
}

/// `GET /_debug/campaigns/:id`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDebugOut {
    pub campaign_id: String,
    pub status: String,
    /// Why the campaign is (not) dialling, in plain words.
    pub diagnosis: String,
    pub lease: LeaseOut,
    pub window: WindowStateOut,
    pub in_flight_dials: Vec<InFlightDialOut>,
    pub ended_dials_to_settle: Vec<EndedDialOut>,
    pub armed_dials: Vec<ArmedDialOut>,
    pub stats: CampaignStatsOut,
    /// The campaign actor's live view (diagnostics, free-form); null when no actor ran
    /// for it in this process.
    pub actor: Value,
    pub stored_snapshot: Value,
    pub supervisor: SupervisorOut,
}

pub async fn stats(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&Sorted(stats_view(&row.id, &counts))))
}

pub async fn progress(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&Sorted(progress_view(
        &row.id,
        row.status.as_str(),
        &counts,
    ))))
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
    let call_status = campaigns::dial_statuses(ctx.db(), &call_ids).await?;
    let (in_flight, ended): (Vec<_>, Vec<_>) = open.iter().partition(|d| {
        d.status == cs::DIAL_PENDING
            || call_status
                .get(&d.call_id)
                .is_none_or(|s| cstate::Outcome::of_call_status(s).is_none())
    });
    let in_flight = in_flight
        .into_iter()
        .map(|d| InFlightDialOut {
            intent_key: d.intent_key.clone(),
            contact_id: d.contact_id.clone(),
            call_id: d.call_id.clone(),
            status: d.status.clone(),
            provider_call_sid: d.provider_call_sid.clone(),
            age_ms: (now - d.created_at).num_milliseconds(),
        })
        .collect();
    let ended = ended
        .into_iter()
        .map(|d| EndedDialOut {
            intent_key: d.intent_key.clone(),
            contact_id: d.contact_id.clone(),
            call_id: d.call_id.clone(),
        })
        .collect();
    let armed = armed
        .into_iter()
        .map(|d| ArmedDialOut {
            age_ms: (now - d.created_at).num_milliseconds(),
            intent_key: d.intent_key,
            contact_id: d.contact_id,
        })
        .collect();
    let out = CampaignDebugOut {
        campaign_id: row.id.clone(),
        status: row.status.as_str().into(),
        diagnosis,
        lease: LeaseOut {
            epoch: row.owner_epoch,
            until: row.lease_until,
            held_by_this_node: running_here,
        },
        window: WindowStateOut {
            configured: row.calling_window.as_ref().map(|w| json!(w)),
            open_now: window.as_ref().is_none_or(|w| w.is_open(now)),
            next_opening,
        },
        in_flight_dials: in_flight,
        ended_dials_to_settle: ended,
        armed_dials: armed,
        stats: stats_view(&row.id, &counts),
        actor: serde_json::to_value(&live).unwrap_or(Value::Null),
        stored_snapshot: row.snapshot,
        supervisor: SupervisorOut {
            running_actors_on_this_node: ctx.state.campaigns.running(),
            gave_up: given_up,
        },
    };
    Ok(envelope::ok(&Sorted(out)))
}
