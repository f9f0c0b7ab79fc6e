//! The sandbox email provider's debug routes (local clients only, with
//! `email.sandbox_outbox` on): publish a domain's DNS records, and deliver an inbound
//! message as if someone had written or replied.

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::wire::{EmailOut, OneOrMany};
use crate::{
    domain::email::parse_domain,
    error::{ApiError, ApiResult},
    http::core::{
        envelope::{self, Sorted},
        guard::sandbox_only,
        route_spec::RouteSpec,
        validation::{Validate, Validator, parse_body},
    },
    providers::email::InboundEmail,
    state::AppState,
    store,
};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PublishIn {
    /// `false` takes the records down again. Default `true`.
    pub published: Option<bool>,
}

impl Validate for PublishIn {}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PublishOut {
    pub domain: String,
    pub published: bool,
}

/// `POST /_debug/sandbox/email-domains/:name/publish`: the records "exist" at the registrar.
pub async fn publish(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    sandbox_only(&req, &state)?;
    let input: PublishIn = if body.is_empty() {
        PublishIn::default()
    } else {
        parse_body(&body)?
    };
    let domain = parse_domain(&name).map_err(|why| ApiError::field("name", format!("'{name}' {why}")))?;
    let published = input.published.unwrap_or(true);
    if store::sandbox_emails::publish_domain(&state.db, &domain, published).await? == 0 {
        return Err(ApiError::not_found("Sandbox email domain", &domain));
    }
    Ok(envelope::ok(&Sorted(PublishOut { domain, published })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InboundIn {
    pub from: String,
    pub to: OneOrMany,
    pub cc: Option<OneOrMany>,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// With or without brackets; one is made up when absent.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    /// Any other header (`Auto-Submitted`, `Precedence`…).
    pub headers: Option<std::collections::BTreeMap<String, String>>,
}

impl Validate for InboundIn {
    fn validate(&self, v: &mut Validator) {
        v.length("from", &self.from, 3, 320);
        v.length("subject", &self.subject, 0, 998);
        v.check(
            self.text.is_some() || self.html.is_some(),
            "text",
            "give text, html or both",
        );
    }
}

/// What became of a simulated inbound message.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InboundOut {
    /// `false` when no recipient is on a domain of this platform.
    pub accepted: bool,
    pub email: Option<EmailOut>,
}

/// `POST /_debug/sandbox/email/inbound`: someone writes to (or replies to) a mailbox.
pub async fn inbound(req: HttpRequest, state: web::Data<AppState>, body: web::Bytes) -> ApiResult<HttpResponse> {
    sandbox_only(&req, &state)?;
    let input: InboundIn = parse_body(&body)?;
    let mut headers = input.headers.unwrap_or_default();
    if let Some(v) = input.in_reply_to {
        headers.insert("In-Reply-To".into(), v);
    }
    if let Some(v) = input.references {
        headers.insert("References".into(), v);
    }
    let message = state
        .email
        .receive(InboundEmail {
            provider_email_id: Some(uuid::Uuid::new_v4().to_string()),
            from: input.from,
            to: input.to.into_vec(),
            cc: input.cc.map(OneOrMany::into_vec).unwrap_or_default(),
            reply_to: Vec::new(),
            subject: input.subject,
            text: input.text,
            html: input.html,
            message_id: input.message_id,
            headers,
        })
        .await?;
    Ok(envelope::ok(&Sorted(InboundOut {
        accepted: message.is_some(),
        email: message.map(Into::into),
    })))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/_debug/sandbox/email-domains/:name/publish",
            "debug",
            "publish_sandbox_email_domain",
            "Sandbox email provider: the domain's DNS records now exist (or not), so verification succeeds (local clients only, email.sandbox_outbox on)",
            |r| r.to(publish),
        )
        .public()
        .local_only()
        .body::<PublishIn>()
        .example(|| json!({ "published": true }))
        .extension()
        .returns::<PublishOut>(),
        RouteSpec::new(
            M::POST,
            "/_debug/sandbox/email/inbound",
            "debug",
            "simulate_inbound_email",
            "Sandbox email provider: deliver an inbound message (a reply lands in its thread and may be answered) (local clients only, email.sandbox_outbox on)",
            |r| r.to(inbound),
        )
        .public()
        .local_only()
        .body::<InboundIn>()
        .example(|| json!({ "from": "customer@example.org", "to": "sam@mail.example.com", "subject": "Re: Your appointment", "text": "Can we make it 4pm?" }))
        .extension()
        .returns::<InboundOut>(),
    ]
}
