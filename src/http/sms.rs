//! SMS: send (three paths, one handler), messages, conversations (one per pair of numbers)
//! and opt-outs. Carrier webhooks (inbound, delivery status) live in `twilio/sms.rs`.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_entities::{
    phone_number, sms_conversation, sms_message, sms_opt_out, values::status::RegistrationStatus as Phase,
};

use super::core::{
    envelope::{self, PageInfo, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::{PAGED, RouteSpec},
    validation::{Validate, Validator},
};
use crate::{
    domain::{E164, ids, is_us_long_code},
    error::{ApiError, ApiResult, ErrorCode},
    providers::{
        telephony::{OutboundSms, TelephonyError},
        twilio::TwilioError,
    },
    state::AppState,
    store,
};

/// US toll-free area codes: they need toll-free verification, not A2P 10DLC.

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SmsIn {
    /// Recipient, E.164.
    pub to: String,
    /// 1–1600 characters (split into 160-character segments by the carrier).
    pub body: String,
    /// Sender: one of your SMS-capable numbers, E.164. Defaults to your first one.
    pub from: Option<String>,
    /// Sender by id (`TEL-…`), instead of `from`.
    pub phone_number_id: Option<String>,
}

impl Validate for SmsIn {
    fn validate(&self, v: &mut Validator) {
        v.length("body", &self.body, 1, 1600);
        v.check(
            !(self.from.is_some() && self.phone_number_id.is_some()),
            "from",
            "give from or phoneNumberId, not both",
        );
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SmsOut {
    pub id: String,
    pub conversation_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub body: String,
    /// `queued`, `sent`, `delivered`, `undelivered`, `failed` (outbound); `received` (inbound).
    pub status: String,
    pub provider: String,
    pub provider_sid: Option<String>,
    pub error_code: Option<i32>,
    pub error_message: Option<String>,
    pub num_segments: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<sms_message::Model> for SmsOut {
    fn from(m: sms_message::Model) -> Self {
        Self {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            from: m.from_number,
            to: m.to_number,
            body: m.body,
            status: m.status,
            provider: m.provider,
            provider_sid: m.provider_sid,
            error_code: m.error_code,
            error_message: m.error_message,
            num_segments: m.num_segments,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConversationOut {
    pub id: String,
    /// Your number.
    pub phone_number: String,
    pub contact_number: String,
    pub last_message_at: DateTime<Utc>,
    pub last_message_preview: Option<String>,
    pub message_count: i32,
    pub opted_out: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn conversation_out(c: sms_conversation::Model, opted_out: bool) -> ConversationOut {
    ConversationOut {
        id: c.id,
        phone_number: c.org_number,
        contact_number: c.contact_number,
        last_message_at: c.last_message_at,
        last_message_preview: c.last_message_preview,
        message_count: c.message_count,
        opted_out,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OptOutOut {
    pub id: String,
    /// The contact who opted out.
    pub phone_number: String,
    /// Your number they opted out of.
    pub from_number: String,
    pub keyword: String,
    pub created_at: DateTime<Utc>,
}

impl From<sms_opt_out::Model> for OptOutOut {
    fn from(o: sms_opt_out::Model) -> Self {
        Self {
            id: o.id,
            phone_number: o.contact_number,
            from_number: o.org_number,
            keyword: o.keyword,
            created_at: o.created_at,
        }
    }
}

/// A conversation with one page of its messages.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConversationMessagesOut {
    pub conversation: ConversationOut,
    pub messages: Vec<SmsOut>,
    pub pagination: PageInfo,
}

fn invalid_number(field: &str, raw: &str, why: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidNumber, format!("'{raw}' {why}"))
        .with_details(json!([{ "field": field, "message": why }]))
}

/// The sending number: by id, by E.164, or the organisation's first SMS-capable one.
async fn sender(ctx: &Ctx, input: &SmsIn) -> ApiResult<phone_number::Model> {
    let row = if let Some(id) = &input.phone_number_id {
        store::phone_numbers::find(ctx.db(), ctx.org(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("Phone number", id))?
    } else if let Some(from) = &input.from {
        let number = E164::parse(from)
            .map_err(|_| invalid_number("from", from, "is not an E.164 phone number (e.g. +14155550123)"))?;
        store::phone_numbers::find_by_number(ctx.db(), ctx.org(), number.as_str())
            .await?
            .ok_or_else(|| {
                invalid_number(
                    "from",
                    number.as_str(),
                    "is not one of this organization's phone numbers",
                )
            })?
    } else {
        let (rows, _) =
            store::phone_numbers::list(ctx.db(), ctx.org(), &store::phone_numbers::Filter::default(), 0, 100).await?;
        rows.into_iter().find(crate::app::sms::can_send).ok_or_else(|| {
            ApiError::new(
                ErrorCode::TelephonyNotConfigured,
                "No SMS-capable phone numbers configured — provision one with POST /telephony/numbers/provision",
            )
        })?
    };
    if !crate::app::sms::can_send(&row) {
        return Err(invalid_number(
            "from",
            &row.phone_number,
            "is not an active, SMS-capable number",
        ));
    }
    Ok(row)
}

fn opted_out_error(from: &str, to: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationError,
        format!("Recipient '{to}' has opted out of messages from '{from}' (replied STOP); nothing was sent. They can opt back in by texting START."),
    )
    .with_details(json!([{ "field": "to", "message": "recipient has opted out (STOP)" }]))
}

/// `CAMPAIGN_NOT_APPROVED` unless a US long code is linked to an approved A2P campaign.
async fn ensure_registered(state: &AppState, org_id: &str, from: &phone_number::Model) -> ApiResult<()> {
    if !is_us_long_code(&from.phone_number) {
        return Ok(());
    }
    let campaign = store::a2p::campaign_for_number(&state.db, org_id, &from.phone_number).await?;
    if campaign.as_ref().is_some_and(|c| c.status == Phase::Approved) {
        return Ok(());
    }
    let next = super::compliance::status::next_steps(state, org_id).await?;
    let message = match &campaign {
        Some(c) => format!(
            "US carriers require A2P 10DLC registration: {} is linked to campaign '{}', which is {}",
            from.phone_number, c.id, c.status
        ),
        None => format!(
            "US carriers require A2P 10DLC registration: {} is not linked to an approved A2P campaign",
            from.phone_number
        ),
    };
    Err(
        ApiError::new(ErrorCode::CampaignNotApproved, message).with_details(json!({
            "phoneNumber": from.phone_number,
            "campaignId": campaign.map(|c| c.id),
            "nextAction": next.next_action,
            "nextActions": next.next_actions,
        })),
    )
}

pub async fn send(ctx: Ctx, Body(input): Body<SmsIn>) -> ApiResult<HttpResponse> {
    let to = input.to.trim();
    let to = E164::parse(to)
        .map_err(|_| invalid_number("to", to, "is not an E.164 phone number (e.g. +14155550123)"))?
        .into_string();
    let from = sender(&ctx, &input).await?;
    ctx.state.billing.admit(ctx.org()).await?;
    if store::sms::is_opted_out(ctx.db(), ctx.org(), Some(&from.phone_number), &to).await? {
        return Err(opted_out_error(&from.phone_number, &to));
    }
    ensure_registered(&ctx.state, ctx.org(), &from).await?;
    let carrier = ctx.state.carriers.of_number(&from).await?;

    let row = crate::app::sms::record(
        ctx.db(),
        crate::app::sms::Outgoing {
            id: ids::new_id(ids::SMS),
            org_id: ctx.org(),
            from: &from.phone_number,
            to: &to,
            body: &input.body,
            provider: carrier.provider().to_string(),
        },
    )
    .await?;
    let sent = carrier
        .send_sms(&OutboundSms {
            from: from.phone_number.clone(),
            to: to.clone(),
            body: input.body.clone(),
            status_callback: format!(
                "{}/twilio/sms-status",
                ctx.state.settings.server.public_base_url.trim_end_matches('/')
            ),
        })
        .await;
    let txn = ctx.begin().await?;
    let row = crate::app::sms::settle(&txn, &ctx.state.prices, row, sent.as_ref().cloned()).await?;
    match sent {
        Ok(_) => ctx.commit(txn, StatusCode::CREATED, &SmsOut::from(row)).await,
        Err(e) => {
            txn.commit().await?;
            Err(match e {
                TelephonyError::Twilio(TwilioError::OptedOut { .. }) => opted_out_error(&from.phone_number, &to),
                TelephonyError::Unavailable(n) => invalid_number("from", &n, "is not a number of this carrier account"),
                other => ApiError::from(other),
            })
        }
    }
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let owned = |k: &str| q.get(k).filter(|s| !s.is_empty()).map(str::to_string);
    let filter = store::sms::MessageFilter {
        direction: q.one_of("direction", &["inbound", "outbound"])?,
        status: owned("status"),
        conversation_id: owned("conversationId"),
        from: owned("from"),
        to: owned("to"),
        phone_number: owned("phoneNumber"),
    };
    let (rows, total) = store::sms::list_messages(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<SmsOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("messages", &items, page.info(total)))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = store::sms::find_message(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("SMS message", &id))?;
    Ok(envelope::ok(&SmsOut::from(row)))
}

pub async fn conversations(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = store::sms::list_conversations(ctx.db(), ctx.org(), page.offset(), page.page_size).await?;
    let mut items = Vec::with_capacity(rows.len());
    for c in rows {
        let out = store::sms::is_opted_out(ctx.db(), ctx.org(), Some(&c.org_number), &c.contact_number).await?;
        items.push(conversation_out(c, out));
    }
    Ok(envelope::list("conversations", &items, page.info(total)))
}

pub async fn conversation_messages(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let conv = store::sms::find_conversation(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("SMS conversation", &id))?;
    let filter = store::sms::MessageFilter {
        conversation_id: Some(conv.id.clone()),
        ..Default::default()
    };
    let (rows, total) = store::sms::list_messages(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<SmsOut> = rows.into_iter().map(Into::into).collect();
    let opted_out = store::sms::is_opted_out(ctx.db(), ctx.org(), Some(&conv.org_number), &conv.contact_number).await?;
    let info = page.info(total);
    let out = ConversationMessagesOut {
        conversation: conversation_out(conv, opted_out),
        messages: items,
        pagination: info,
    };
    let body = envelope::to_bytes(Some(&Sorted(out)), None, Some(info));
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

pub async fn opt_outs(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = store::sms::list_opt_outs(ctx.db(), ctx.org(), page.offset(), page.page_size).await?;
    let items: Vec<OptOutOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("optOuts", &items, page.info(total)))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::POST, "/sms", "sms", "send_sms_alias", "Send an SMS message (RESTful alias)", |r| {
            r.to(send)
        })
        .billed()
        .key(Some("telephony:write"))
        .body::<SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" }))
        .alias_of("send_sms")
        .returns::<SmsOut>(),
        RouteSpec::new(M::POST, "/sms/messages", "sms", "send_sms", "Send an SMS message", |r| {
            r.to(send)
        })
        .billed()
        .key(Some("telephony:write"))
        .body::<SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" }))
        .returns::<SmsOut>(),
        RouteSpec::new(
            M::POST,
            "/sms/send",
            "sms",
            "send_sms_legacy",
            "Send an SMS message (alias for POST /sms/messages)",
            |r| r.to(send),
        )
        .billed()
        .key(Some("telephony:write"))
        .body::<SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" }))
        .alias_of("send_sms")
        .returns::<SmsOut>(),
        RouteSpec::new(M::GET, "/sms/messages", "sms", "list_sms_messages", "List SMS messages", |r| {
            r.to(list)
        })
        .key(Some("telephony:read"))
        .returns_list::<SmsOut>("messages"),
        RouteSpec::new(M::GET, "/sms/messages/:id", "sms", "get_sms_message", "Get SMS message by ID", |r| {
            r.to(get)
        })
        .key(Some("telephony:read"))
        .returns::<SmsOut>(),
        RouteSpec::new(
            M::GET,
            "/sms/conversations",
            "sms",
            "list_sms_conversations",
            "List SMS conversations",
            |r| r.to(conversations),
        )
        .key(Some("telephony:read"))
        .returns_list::<ConversationOut>("conversations"),
        RouteSpec::new(
            M::GET,
            "/sms/conversations/:id/messages",
            "sms",
            "get_sms_conversation_messages",
            "Get SMS conversation messages",
            |r| r.to(conversation_messages),
        )
        .key(Some("telephony:read"))
        .query(PAGED)
        .returns::<ConversationMessagesOut>(),
        RouteSpec::new(M::GET, "/sms/opt-outs", "sms", "list_sms_opt_outs", "List SMS opt-outs", |r| {
            r.to(opt_outs)
        })
        .key(Some("telephony:read"))
        .returns_list::<OptOutOut>("optOuts"),
    ]
}
