//! Webhook subscriptions: wire types, their conversion and the CRUD handlers, scoped to the
//! caller's organisation. Deliveries, tests and replays live in `webhook_deliveries.rs`.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use sea_orm::ActiveValue::Set;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_entities::{values::StringList, webhook};

use super::{
    core::{
        envelope::{self, DeletedOut},
        extract::{Body, Ctx, ListQuery},
        route_spec::RouteSpec,
        validation::{Validate, Validator, suggest},
    },
    webhook_deliveries,
};
use crate::{
    domain::ids::WebhookId,
    error::{ApiError, ApiResult, ErrorCode, FieldError},
    net::signing::WebhookSecret,
    store::{self, outbox::EVENT_TYPES},
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookIn {
    /// HTTPS (or HTTP) endpoint receiving the events; internal addresses are refused.
    pub url: String,
    /// Event names to receive (the contract's names, at least one).
    pub events: Vec<String>,
    /// Your own secret of 16–256 printable characters (its UTF-8 bytes are the HMAC key), or
    /// `whsec_<base64 of 24–64 bytes>` (the decoded bytes are the key); a `whsec_` secret is
    /// generated when absent and shown once, on create.
    pub secret: Option<String>,
    /// Up to 500 characters.
    pub description: Option<String>,
    /// Same flag as `enabled` (default true).
    pub is_active: Option<bool>,
    /// Same flag as `isActive` (default true).
    pub enabled: Option<bool>,
}

impl Validate for WebhookIn {
    fn validate(&self, v: &mut Validator) {
        v.length("url", &self.url, 1, 2048);
        check_events(v, &self.events);
        check_secret(v, self.secret.as_deref());
        v.opt_length("description", self.description.as_deref(), 0, 500);
        check_flags(v, self.is_active, self.enabled);
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// A new secret (rotation); signatures use it from the next attempt on.
    pub secret: Option<String>,
    /// An empty string clears it.
    pub description: Option<String>,
    /// Re-enabling clears the failure clock; disabling cancels pending deliveries.
    pub is_active: Option<bool>,
    pub enabled: Option<bool>,
}

impl Validate for WebhookPatch {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("url", self.url.as_deref(), 1, 2048);
        if let Some(events) = &self.events {
            check_events(v, events);
        }
        check_secret(v, self.secret.as_deref());
        v.opt_length("description", self.description.as_deref(), 0, 500);
        check_flags(v, self.is_active, self.enabled);
        v.check(
            self.url.is_some()
                || self.events.is_some()
                || self.secret.is_some()
                || self.description.is_some()
                || self.is_active.is_some()
                || self.enabled.is_some(),
            "body",
            "at least one of url, events, secret, description, isActive, enabled is required",
        );
    }
}

fn check_events(v: &mut Validator, events: &[String]) {
    v.check(!events.is_empty(), "events", "must list at least one event");
    v.check(events.len() <= 50, "events", "must list at most 50 events");
    for (i, name) in events.iter().enumerate() {
        if !EVENT_TYPES.contains(&name.as_str()) {
            let mut err = FieldError::new(
                format!("events[{i}]"),
                format!("unknown event '{name}'; must be one of: {}", EVENT_TYPES.join(", ")),
            );
            err.suggestion = suggest(name, EVENT_TYPES.iter().copied());
            v.push(err);
        }
    }
}

/// A signing secret: `whsec_` and the base64 of 24–64 bytes (the decoded bytes are the HMAC
/// key, as Standard Webhooks), or any secret the user chose of 16–256 printable characters
/// (its UTF-8 bytes are the key, as Svix does for secrets without the prefix).
fn check_secret(v: &mut Validator, secret: Option<&str>) {
    use base64::Engine;
    let Some(secret) = secret else {
        return;
    };
    if let Some(b64) = secret.strip_prefix("whsec_") {
        let len = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
            .decode(b64)
            .map_or(0, |key| key.len());
        v.check(
            (24..=64).contains(&len),
            "secret",
            "whsec_ secrets are the base64 of 24 to 64 random bytes",
        );
        return;
    }
    let chars = secret.chars().count();
    v.check(
        (16..=256).contains(&chars) && !secret.chars().any(char::is_control) && secret.trim() == secret,
        "secret",
        format!(
            "must be 16 to 256 printable characters without surrounding spaces (got {chars}), \
             or whsec_ and base64; omit it to have one generated"
        ),
    );
}

fn check_flags(v: &mut Validator, is_active: Option<bool>, enabled: Option<bool>) {
    if let (Some(a), Some(e)) = (is_active, enabled) {
        v.check(
            a == e,
            "enabled",
            "isActive and enabled are the same flag; they must agree",
        );
    }
}

/// A subscription as returned. `secret` only appears in the answer to its creation.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub is_active: bool,
    pub enabled: bool,
    /// Why the platform disabled it (410 Gone, failing too long), when it did.
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhook::Model> for WebhookOut {
    fn from(m: webhook::Model) -> Self {
        Self {
            events: store::webhooks::events_of(&m),
            id: m.id,
            url: m.url,
            description: m.description,
            is_active: m.is_active,
            enabled: m.is_active,
            disabled_reason: m.disabled_reason,
            failing_since: m.failing_since,
            secret: None,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The URL through the SSRF guard (no DNS at save time; the sender checks again).
fn check_url(ctx: &Ctx, url: &str) -> ApiResult<String> {
    ctx.state
        .url_guard
        .check_url(url)
        .map(|u| u.to_string())
        .map_err(|e| ApiError::field("url", e.to_string()))
}

fn dedup(events: Vec<String>) -> StringList {
    let mut out: Vec<String> = Vec::with_capacity(events.len());
    for e in events {
        if !out.contains(&e) {
            out.push(e);
        }
    }
    out.into()
}

/// Secrets are kept AES-256-GCM sealed; the plain text is shown once, in the create answer.
async fn seal(ctx: &Ctx, secret: &str) -> ApiResult<String> {
    ctx.state
        .crypto
        .encrypt(secret)
        .await
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))
}

pub async fn create(ctx: Ctx, Body(input): Body<WebhookIn>) -> ApiResult<HttpResponse> {
    let url = check_url(&ctx, &input.url)?;
    let secret = match input.secret {
        Some(s) => s,
        None => WebhookSecret::generate().1,
    };
    let sealed = seal(&ctx, &secret).await?;
    let now = Utc::now();
    let txn = ctx.begin().await?;
    let row = store::webhooks::insert(
        &txn,
        webhook::Model {
            id: WebhookId::new().into(),
            org_id: ctx.org().to_string(),
            url,
            events: dedup(input.events),
            secret: sealed,
            description: input.description.filter(|d| !d.is_empty()),
            is_active: input.is_active.or(input.enabled).unwrap_or(true),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        },
    )
    .await?;
    let id = row.id.clone();
    let mut out = WebhookOut::from(row);
    out.secret = Some(secret);
    let response = ctx.commit(txn, StatusCode::CREATED, &out).await?;
    ctx.state.webhooks.ensure(&id).await;
    Ok(response)
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let active = match q.get("isActive").or_else(|| q.get("enabled")) {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::field(
                "isActive",
                format!("must be true or false (got '{other}')"),
            ));
        }
    };
    let (rows, total) = store::webhooks::list(ctx.db(), ctx.org(), active, page.offset(), page.page_size).await?;
    let items: Vec<WebhookOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("webhooks", &items, page.info(total)))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = store::webhooks::find(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook", &id))?;
    Ok(envelope::ok(&WebhookOut::from(row)))
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(patch): Body<WebhookPatch>) -> ApiResult<HttpResponse> {
    let url = patch.url.as_deref().map(|u| check_url(&ctx, u)).transpose()?;
    let sealed = match &patch.secret {
        Some(secret) => Some(seal(&ctx, secret).await?),
        None => None,
    };
    let txn = ctx.begin().await?;
    let row = store::webhooks::find(&txn, ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("Webhook", &id))?;
    let now = Utc::now();
    let was_active = row.is_active;
    let mut active: webhook::ActiveModel = row.into();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(events) = patch.events {
        active.events = Set(dedup(events));
    }
    if let Some(secret) = sealed {
        active.secret = Set(secret);
    }
    if let Some(description) = patch.description {
        active.description = Set(Some(description).filter(|d| !d.is_empty()));
    }
    if let Some(flag) = patch.is_active.or(patch.enabled) {
        active.is_active = Set(flag);
        if flag && !was_active {
            active.disabled_reason = Set(None);
            active.failing_since = Set(None);
        }
        if !flag && was_active {
            store::webhook_deliveries::cancel_pending(&txn, &id, "endpoint disabled", now).await?;
        }
    }
    active.updated_at = Set(now);
    let row = store::webhooks::update(&txn, active).await?;
    let response = ctx.commit(txn, StatusCode::OK, &WebhookOut::from(row)).await?;
    ctx.state.webhooks.ensure(&id).await;
    Ok(response)
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let txn = ctx.begin().await?;
    if !store::webhooks::soft_delete(&txn, ctx.org(), &id, now).await? {
        return Err(ApiError::not_found("Webhook", &id));
    }
    let cancelled = store::webhook_deliveries::cancel_pending(&txn, &id, "endpoint deleted", now).await?;
    let mut out = DeletedOut::new(format!("Webhook '{id}' deleted"));
    if cancelled > 0 {
        out.warnings
            .push(format!("{cancelled} pending deliveries were cancelled"));
    }
    let response = ctx.commit(txn, StatusCode::OK, &out).await?;
    ctx.state.webhooks.ensure(&id).await;
    Ok(response)
}

/// The subscription routes, with `webhook_deliveries`' log, test and replay routes in
/// their places.
pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    let [deliveries, test, replay] = webhook_deliveries::routes();
    vec![
        RouteSpec::new(
            M::POST,
            "/webhooks",
            "webhooks",
            "create_webhook",
            "Create webhook subscription for real-time events (call.started, call.completed, call.failed, transcript.ready, workflow.triggered, workflow.completed, agent.updated, a2p.brand.status_changed, a2p.campaign.status_changed)",
            |r| r.to(create),
        )
        .key(Some("webhooks:write"))
        .body::<WebhookIn>()
        .example(|| json!({ "url": "https://hooks.example.invalid/thruai", "events": ["call.completed", "call.failed"], "description": "CRM sync" }))
        .returns::<WebhookOut>(),
        RouteSpec::new(
            M::GET,
            "/webhooks",
            "webhooks",
            "list_webhooks",
            "List all webhook subscriptions",
            |r| r.to(list),
        )
        .key(Some("webhooks:read"))
        .returns_list::<WebhookOut>("webhooks"),
        RouteSpec::new(
            M::GET,
            "/webhooks/:id",
            "webhooks",
            "get_webhook",
            "Get webhook subscription details",
            |r| r.to(get),
        )
        .key(Some("webhooks:read"))
        .returns::<WebhookOut>(),
        deliveries,
        // The contract lists PATCH /webhooks/:id twice; this is its later, fuller description.
        RouteSpec::new(
            M::PATCH,
            "/webhooks/:id",
            "webhooks",
            "update_webhook",
            "Update webhook subscription (url, events, secret, description, enabled)",
            |r| r.to(update),
        )
        .key(Some("webhooks:write"))
        .body::<WebhookPatch>()
        .example(|| json!({ "events": ["call.completed", "transcript.ready"], "enabled": true }))
        .returns::<WebhookOut>(),
        RouteSpec::new(
            M::DELETE,
            "/webhooks/:id",
            "webhooks",
            "delete_webhook",
            "Delete webhook subscription",
            |r| r.to(delete),
        )
        .key(Some("webhooks:write"))
        .returns::<DeletedOut>(),
        test,
        replay,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::core::validation::parse_body;

    #[test]
    fn unknown_events_are_refused_with_a_suggestion() {
        let err = parse_body::<WebhookIn>(br#"{"url":"https://x.test","events":["call.complete"]}"#).unwrap_err();
        let d = err.details.unwrap();
        assert_eq!(d[0]["field"], "events[0]");
        assert_eq!(d[0]["suggestion"], "call.completed");
    }

    #[test]
    fn secrets_and_flags_are_checked() {
        let (_, good) = WebhookSecret::generate();
        let body = format!(r#"{{"url":"https://x.test","events":["call.started"],"secret":"{good}"}}"#);
        assert!(parse_body::<WebhookIn>(body.as_bytes()).is_ok());
        let mine = r#"{"url":"https://x.test","events":["call.started"],"secret":"my-webhook-secret-123"}"#;
        assert!(parse_body::<WebhookIn>(mine.as_bytes()).is_ok());
        for bad in [
            r#""secret":"whsec_YWJj""#,
            r#""secret":"plain""#,
            r#""secret":" padded-secret-value ""#,
            r#""isActive":true,"enabled":false"#,
        ] {
            let body = format!(r#"{{"url":"https://x.test","events":["call.started"],{bad}}}"#);
            assert!(parse_body::<WebhookIn>(body.as_bytes()).is_err(), "{bad}");
        }
        assert!(parse_body::<WebhookPatch>(b"{}").is_err());
    }
}
