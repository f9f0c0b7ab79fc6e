//! A subscription's delivery log (`GET /webhooks/:id/deliveries`), its test delivery
//! (`POST …/test`) and replays (`POST …/replay`), scoped to the caller's organisation.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_actors::webhook::state::Outcome;
use thruai_entities::{webhook, webhook_attempt};

use super::core::{
    envelope::{self, PageInfo},
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator},
};
use crate::{
    domain::ids,
    error::{ApiError, ApiResult, ErrorCode},
    store::{self, outbox::EVENT_TYPES, webhook_deliveries::ReplaySelection},
};

/// Statuses of a delivery-log row.
pub const ATTEMPT_STATUSES: &[&str] = &["pending", "sent", "failed", "retrying"];

/// One HTTP attempt, as logged.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryOut {
    /// This attempt's id (`ATT-…`).
    pub id: String,
    /// The delivery (`DLV-…`) it belongs to: use it with `/replay`.
    pub delivery_id: String,
    pub webhook_id: String,
    /// The event id, sent as the `webhook-id` header on every attempt and replay.
    pub event_id: String,
    pub event: String,
    /// `pending` (in flight), `sent`, `failed` (no retry follows) or `retrying`.
    pub status: String,
    /// 1-based, across replays.
    pub attempt: i32,
    pub http_status: Option<i32>,
    pub response_time_ms: Option<i64>,
    /// The start of the response body, truncated.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub next_retry_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<webhook_attempt::Model> for DeliveryOut {
    fn from(m: webhook_attempt::Model) -> Self {
        Self {
            id: m.id,
            delivery_id: m.delivery_id,
            webhook_id: m.webhook_id,
            event_id: m.event_id,
            event: m.event_type,
            status: m.status,
            attempt: m.attempt,
            http_status: m.http_status,
            response_time_ms: m.response_time_ms,
            response_body: m.response_body,
            error: m.error,
            next_retry_at: m.next_retry_at,
            created_at: m.created_at,
            completed_at: m.completed_at,
        }
    }
}

async fn subscription(ctx: &Ctx, id: &str) -> ApiResult<webhook::Model> {
    store::webhooks::find(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook", id))
}

/// `page` + `pageSize`, or `limit` + `offset` (both at most 100 rows).
fn window(q: &ListQuery) -> ApiResult<(u64, u64, PageInfo)> {
    let number = |name: &str, max: u64| -> ApiResult<Option<u64>> {
        match q.get(name) {
            None | Some("") => Ok(None),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max && (name == "offset" || *n >= 1))
                .map(Some)
                .ok_or_else(|| ApiError::field(name, format!("must be an integer up to {max} (got '{raw}')"))),
        }
    };
    let limit = number("limit", 100)?;
    let offset = number("offset", u64::MAX / 2)?;
    if limit.is_none() && offset.is_none() {
        let page = q.page()?;
        return Ok((page.offset(), page.page_size, page.info(0)));
    }
    let limit = limit.unwrap_or(50);
    let offset = offset.unwrap_or(0);
    let info = PageInfo {
        page: offset / limit + 1,
        page_size: limit,
        total: 0,
        has_more: false,
    };
    Ok((offset, limit, info))
}

pub async fn list(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let (offset, limit, mut info) = window(&q)?;
    let filter = store::webhook_deliveries::LogFilter {
        status: q.one_of("status", ATTEMPT_STATUSES)?,
        event: q.one_of("event", EVENT_TYPES)?,
    };
    let sub = subscription(&ctx, &id).await?;
    let (rows, total) =
        store::webhook_deliveries::list_attempts(ctx.db(), ctx.org(), &sub.id, &filter, offset, limit).await?;
    info.total = total;
    info.has_more = offset + limit < total;
    let items: Vec<DeliveryOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("deliveries", &items, info))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookTestIn {
    /// Event name of the sample (default `call.completed`).
    pub event: Option<String>,
}

impl Validate for WebhookTestIn {
    fn validate(&self, v: &mut Validator) {
        v.one_of("event", self.event.as_deref(), EVENT_TYPES);
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookTestOut {
    pub success: bool,
    pub status_code: Option<u16>,
    pub message: String,
    pub response_time_ms: u64,
    /// The sample event's id (`EVT-…`), sent as its `webhook-id` header.
    pub event_id: String,
}

/// Sends a signed sample event now (also to a disabled endpoint, to check it before
/// re-enabling). The sample is not queued and not retried.
pub async fn test(ctx: Ctx, id: web::Path<String>, Body(input): Body<WebhookTestIn>) -> ApiResult<HttpResponse> {
    let sub = subscription(&ctx, &id).await?;
    let event = input.event.unwrap_or_else(|| "call.completed".into());
    let msg_id = ids::new_id(ids::EVENT);
    let payload = json!({
        "id": msg_id,
        "type": event,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "test": true,
        "data": { "message": "This is a test delivery from ThruAI.", "webhookId": sub.id },
    })
    .to_string();
    let report = ctx
        .state
        .webhooks
        .send_test(&sub, msg_id.clone(), payload)
        .await
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    let (success, status_code, message) = match &report.outcome {
        Outcome::Response { status, .. } if (200..300).contains(status) => {
            (true, Some(*status), format!("Endpoint answered HTTP {status}"))
        }
        Outcome::Response { status, .. } if (300..400).contains(status) => (
            false,
            Some(*status),
            format!("Endpoint answered HTTP {status}; redirects are not followed"),
        ),
        Outcome::Response { status, .. } => (false, Some(*status), format!("Endpoint answered HTTP {status}")),
        Outcome::Timeout => (false, None, "No response before the timeout".into()),
        Outcome::Network(e) => (false, None, format!("Network error: {e}")),
        Outcome::Refused(e) => (false, None, e.clone()),
    };
    let out = WebhookTestOut {
        success,
        status_code,
        message,
        response_time_ms: u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX),
        event_id: msg_id,
    };
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &out).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplayIn {
    /// Delivery ids (`DLV-…`, from the log's `deliveryId`) or event ids (`EVT-…`), up to 1000.
    pub delivery_ids: Option<Vec<String>>,
    /// Start of the time window (deliveries created at or after it).
    #[serde(alias = "from", alias = "startTime")]
    pub since: Option<DateTime<Utc>>,
    /// End of the time window (default: now).
    #[serde(alias = "to", alias = "endTime")]
    pub until: Option<DateTime<Utc>>,
    /// Also replay delivered and cancelled deliveries (default: failed ones only).
    #[serde(alias = "includeDelivered")]
    pub include_all: Option<bool>,
}

impl Validate for ReplayIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            self.delivery_ids.is_some() || self.since.is_some(),
            "deliveryIds",
            "give deliveryIds, or a time window starting at since",
        );
        if let Some(ids) = &self.delivery_ids {
            v.check(
                (1..=1000).contains(&ids.len()),
                "deliveryIds",
                format!("must list between 1 and 1000 ids (got {})", ids.len()),
            );
        }
        if let (Some(since), Some(until)) = (self.since, self.until) {
            v.check(since <= until, "until", "must not be before since");
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayOut {
    pub webhook_id: String,
    /// Deliveries put back in the queue (same `webhook-id` and payload as before).
    pub queued: u64,
    pub message: String,
}

pub async fn replay(ctx: Ctx, id: web::Path<String>, Body(input): Body<ReplayIn>) -> ApiResult<HttpResponse> {
    let sub = subscription(&ctx, &id).await?;
    let sel = ReplaySelection {
        ids: input.delivery_ids,
        since: input.since,
        until: input.until,
        include_all: input.include_all.unwrap_or(false),
    };
    let txn = ctx.begin().await?;
    let queued = store::webhook_deliveries::replay(&txn, ctx.org(), &sub.id, &sel, Utc::now()).await?;
    let message = if sub.is_active {
        format!("{queued} deliveries queued for replay")
    } else {
        format!("{queued} deliveries queued; they are sent once the webhook is enabled again")
    };
    let out = ReplayOut {
        webhook_id: sub.id.clone(),
        queued,
        message,
    };
    let response = ctx.commit(txn, StatusCode::OK, &out).await?;
    ctx.state.webhooks.wake(vec![sub.id]);
    Ok(response)
}

/// The delivery log, test and replay routes, in that order; `webhooks::routes` places them
/// among the subscription routes.
pub fn routes() -> [RouteSpec; 3] {
    use Method as M;
    [
        RouteSpec::new(
            M::GET,
            "/webhooks/:id/deliveries",
            "webhooks",
            "list_webhook_deliveries",
            "List webhook delivery attempts with status, timing, and error details",
            |r| r.to(list),
        )
        .key(Some("webhooks:read"))
        .returns_list::<DeliveryOut>("deliveries"),
        RouteSpec::new(
            M::POST,
            "/webhooks/:id/test",
            "webhooks",
            "test_webhook",
            "Send test webhook delivery with sample payload",
            |r| r.to(test),
        )
        .key(Some("webhooks:write"))
        .body::<WebhookTestIn>()
        .example(|| json!({ "event": "call.completed" }))
        .returns::<WebhookTestOut>(),
        RouteSpec::new(
            M::POST,
            "/webhooks/:id/replay",
            "webhooks",
            "replay_webhook",
            "Replay failed deliveries by ID or time window for exactly-once recovery",
            |r| r.to(replay),
        )
        .key(Some("webhooks:write"))
        .body::<ReplayIn>()
        .example(|| json!({ "since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z" }))
        .returns::<ReplayOut>(),
    ]
}
