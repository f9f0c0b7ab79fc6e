//! `POST /webhooks/resend`: the email provider's events (delivered, bounced, complained,
//! received, domain updated), signed Standard Webhooks style (`svix-*` headers), verified on
//! the raw body, refused when stale or unsigned, applied once per event id.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::{
    error::{ApiError, ApiResult, ErrorCode},
    http::core::envelope,
    net::signing::{self, WebhookSecret},
    providers::resend,
    state::AppState,
    store::email as mail,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/resend", web::post().to(resend_events));
}

fn header<'a>(req: &'a HttpRequest, names: &[&str]) -> &'a str {
    names
        .iter()
        .find_map(|n| req.headers().get(*n).and_then(|v| v.to_str().ok()))
        .unwrap_or_default()
}

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

pub async fn resend_events(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> ApiResult<HttpResponse> {
    let settings = &state.settings.email;
    let secret = WebhookSecret::parse(&settings.resend_webhook_secret)
        .map_err(|_| refused("email.resend_webhook_secret is not set: provider events are refused"))?;
    let id = header(&req, &["svix-id", "webhook-id"]);
    signing::verify(
        &[secret],
        id,
        header(&req, &["svix-timestamp", "webhook-timestamp"]),
        header(&req, &["svix-signature", "webhook-signature"]),
        &body,
        Utc::now().timestamp(),
        settings.webhook_tolerance_secs,
    )
    .map_err(|e| refused(format!("Webhook signature refused: {e}")))?;
    let event = resend::parse_event(&body).map_err(|e| ApiError::field("body", e))?;
    if mail::seen(&state.db, "resend", id).await? {
        return Ok(envelope::ok(&json!({ "received": true, "duplicate": true })));
    }
    let kind = format!("{event:?}");
    let kind = kind.split([' ', '{']).next().unwrap_or_default().to_string();
    state.email.apply_event(event).await?;
    mail::first_time(&state.db, "resend", id, &kind).await?;
    Ok(envelope::ok(&json!({ "received": true, "duplicate": false })))
}
