//! The sandbox payment provider's pages, standing in for Stripe's hosted Checkout and
//! customer portal (served only while the sandbox is the provider; the session id in the
//! URL is the capability, as on Stripe): pay with a test card, see saved cards, cancel a
//! subscription. What a page completes is applied like the provider's webhook events.

use actix_web::{HttpResponse, http::header, web};
use serde::Deserialize;

use crate::{
    app::billing::Billing,
    error::{ApiError, ApiResult, ErrorCode},
    http::core::escape_markup as esc,
    providers::{
        payments::PaymentEvent,
        sandbox::stripe::{SandboxStripe, when},
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sandbox/stripe/checkout/{id}", web::get().to(checkout_page))
        .route("/_sandbox/stripe/checkout/{id}", web::post().to(checkout_submit))
        .route("/_sandbox/stripe/portal/{id}", web::get().to(portal_page))
        .route("/_sandbox/stripe/portal/{id}/cancel", web::post().to(portal_cancel))
        .route("/_sandbox/stripe/done", web::get().to(done));
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}\
         .note{{color:#555;font-size:.9rem}}.error{{color:#b00020}}input{{font-size:1rem;padding:.4rem;width:100%}}\
         button{{font-size:1rem;padding:.5rem 1rem;margin-top:1rem}}</style></head>\
         <body><p class=\"note\">ThruAI sandbox payments — Stripe's test mode on this server; no money moves.</p>\
         <h1>{t}</h1>{body}</body></html>",
            t = esc(title)
        ))
}

fn sandbox(state: &AppState) -> ApiResult<(&Billing, &SandboxStripe)> {
    match state.billing.sandbox() {
        Some(sandbox) => Ok((&state.billing, sandbox)),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            "The sandbox payment provider is not in use on this server",
        )),
    }
}

async fn apply(billing: &Billing, events: Vec<PaymentEvent>) -> ApiResult<()> {
    for e in events {
        billing.apply_event(&e).await?;
    }
    Ok(())
}

fn checkout_form(id: &str, session: &serde_json::Value, error: Option<&str>) -> HttpResponse {
    let what = match (session["mode"].as_str(), session["metadata"]["plan"].as_str()) {
        (Some("subscription"), Some(plan)) => format!("Subscribe to the <b>{}</b> plan", esc(plan)),
        _ => "Save a card for later charges".into(),
    };
    let error = error.map_or(String::new(), |e| format!("<p class=\"error\">{}</p>", esc(e)));
    let cancel = esc(session["cancel_url"].as_str().unwrap_or("/"));
    page(
        "Checkout",
        &format!(
            "<p>{what}.</p>{error}<form method=\"post\" action=\"/_sandbox/stripe/checkout/{id}\">\
             <label>Card number <input name=\"card\" value=\"4242 4242 4242 4242\" autocomplete=\"off\"></label>\
             <button type=\"submit\">Pay</button></form>\
             <p class=\"note\">Test cards: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0002 is declined; \
             4000 0000 0000 9995 has insufficient funds; 4000 0027 6000 3184 needs authentication off-session.</p>\
             <p><a href=\"{cancel}\">Cancel</a></p>",
            id = esc(id)
        ),
    )
}

pub async fn checkout_page(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (_, sandbox) = sandbox(&state)?;
    let session = sandbox
        .session(&id)
        .await
        .map_err(|_| ApiError::not_found("Checkout session", &id))?;
    if session["status"] != "open" {
        return Ok(page("Checkout", "<p>This session is already complete.</p>"));
    }
    Ok(checkout_form(&id, &session, None))
}

#[derive(Debug, Deserialize)]
pub struct CardForm {
    card: String,
}

pub async fn checkout_submit(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CardForm>,
) -> ApiResult<HttpResponse> {
    let (billing, sandbox) = sandbox(&state)?;
    let session = sandbox
        .session(&id)
        .await
        .map_err(|_| ApiError::not_found("Checkout session", &id))?;
    match sandbox.complete_checkout(&id, &form.card).await {
        Ok((redirect, events)) => {
            apply(billing, events).await?;
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, redirect))
                .finish())
        }
        Err(e) => Ok(checkout_form(&id, &session, Some(&e.to_string()))),
    }
}

pub async fn portal_page(state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let (_, sandbox) = sandbox(&state)?;
    let (session, subs, cards) = sandbox
        .portal_view(&id)
        .await
        .map_err(|_| ApiError::not_found("Portal session", &id))?;
    let mut body = String::from("<h2>Subscriptions</h2>");
    for s in subs.iter().filter(|s| s["status"] != "canceled") {
        let item = &s["items"]["data"][0];
        body.push_str(&format!(
            "<p><b>{plan}</b> — {status}, period ends {end}</p>\
             <form method=\"post\" action=\"/_sandbox/stripe/portal/{id}/cancel\">\
             <input type=\"hidden\" name=\"subscription\" value=\"{sub}\"><button>Cancel subscription</button></form>",
            plan = esc(s["metadata"]["plan"].as_str().unwrap_or("plan")),
            status = esc(s["status"].as_str().unwrap_or_default()),
            end = when(item["current_period_end"].as_i64().unwrap_or_default()),
            id = esc(&id),
            sub = esc(s["id"].as_str().unwrap_or_default()),
        ));
    }
    body.push_str("<h2>Cards</h2>");
    for c in &cards {
        body.push_str(&format!(
            "<p>{} •••• {}{}</p>",
            esc(c.brand.as_deref().unwrap_or("card")),
            esc(c.last4.as_deref().unwrap_or("")),
            if c.is_default { " (default)" } else { "" }
        ));
    }
    body.push_str(&format!(
        "<p><a href=\"{}\">Return</a></p>",
        esc(session["return_url"].as_str().unwrap_or("/"))
    ));
    Ok(page("Billing portal", &body))
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    subscription: String,
}

pub async fn portal_cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<CancelForm>,
) -> ApiResult<HttpResponse> {
    let (billing, sandbox) = sandbox(&state)?;
    let (session, ..) = sandbox
        .portal_view(&id)
        .await
        .map_err(|_| ApiError::not_found("Portal session", &id))?;
    let customer = session["customer"].as_str().unwrap_or_default();
    let event = sandbox
        .cancel_subscription(customer, &form.subscription)
        .await
        .map_err(|_| ApiError::not_found("Subscription", &form.subscription))?;
    apply(billing, vec![event]).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/_sandbox/stripe/portal/{id}")))
        .finish())
}

pub async fn done(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    sandbox(&state)?;
    Ok(page(
        "Done",
        "<p>You can close this page: GET /billing/subscription shows the result.</p>",
    ))
}
