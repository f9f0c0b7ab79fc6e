//! `POST /webhooks/stripe`: the payment provider's events, verified on the raw body
//! (`Stripe-Signature`: tolerance, several `v1` during rotation), applied once per event id.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::json;

use crate::{
    error::{ApiError, ApiResult, ErrorCode},
    http::core::envelope,
    net::signing,
    providers::payments::PaymentEvent,
    state::AppState,
    store::email as events,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks/stripe", web::post().to(stripe_events));
}

pub async fn stripe_events(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> ApiResult<HttpResponse> {
    let settings = &state.settings.billing;
    if settings.stripe_webhook_secret.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "billing.stripe_webhook_secret is not set: provider events are refused",
        ));
    }
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    signing::verify_stripe(
        &settings.stripe_webhook_secret,
        header,
        &body,
        Utc::now().timestamp(),
        settings.webhook_tolerance_secs,
    )
    .map_err(|e| ApiError::new(ErrorCode::Unauthorized, format!("Webhook signature refused: {e}")))?;
    let event = PaymentEvent::parse(&body).map_err(|e| ApiError::field("body", e))?;
    if events::seen(&state.db, "stripe", &event.id).await? {
        return Ok(envelope::ok(&json!({ "received": true, "duplicate": true })));
    }
    let applied = state.billing.apply_event(&event).await?;
    tracing::info!(event = %event.id, kind = %event.kind, ?applied, "payment event applied");
    events::first_time(&state.db, "stripe", &event.id, &event.kind).await?;
    Ok(envelope::ok(&json!({ "received": true, "duplicate": false })))
}
