//! Twilio's SMS webhooks: inbound messages (`POST /twilio/sms`: stored in their
//! conversation; STOP / START / HELP handled) and delivery status (`POST /twilio/sms-status`).
//! Both are verified with `X-Twilio-Signature` and the auth token of the number's account.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use thruai_entities::{phone_number, sms_message};

use super::{escape, param, verified, xml};
use crate::{
    app::carriers::Hook,
    domain::{
        ids,
        validation::{control_message, forbidden_control},
    },
    error::{ApiError, ErrorCode},
    state::AppState,
    store,
};

const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
];
const OPT_IN: &[&str] = &["START", "YES", "UNSTOP"];
const HELP: &[&str] = &["HELP", "INFO"];

/// What an inbound message asks for, when its whole body is a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut(&'static str),
    OptIn(&'static str),
    Help,
}

/// Case-insensitive, whole message (surrounding whitespace and punctuation ignored).
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_ascii_uppercase();
    if let Some(k) = OPT_OUT.iter().find(|k| **k == word) {
        return Some(Keyword::OptOut(k));
    }
    if let Some(k) = OPT_IN.iter().find(|k| **k == word) {
        return Some(Keyword::OptIn(k));
    }
    HELP.contains(&word.as_str()).then_some(Keyword::Help)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/twilio/sms").route(web::post().to(inbound)))
        .service(web::resource("/twilio/sms-status").route(web::post().to(status)));
}

/// The auth token Twilio (or the sandbox carrier) signs this number's webhooks with.
/// Checks the signature against the public URL of this request (rebuilt from configuration,
/// never from the `Host` header).
async fn verify(
    state: &AppState,
    req: &HttpRequest,
    number: &phone_number::Model,
    form: &[(String, String)],
) -> Result<(), ApiError> {
    let ok = match state.carriers.signing_token(number.into(), Hook::Sms).await {
        Ok(token) => verified(state, req, form, &token),
        Err(e) => {
            tracing::warn!(number = %number.id, error = %e, "no carrier credentials for the number");
            false
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "Invalid X-Twilio-Signature"))
    }
}

async fn inbound(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    match handle_inbound(&req, &body, &state).await {
        Ok(r) => r,
        Err(e) => e.error_response(),
    }
}

async fn handle_inbound(req: &HttpRequest, body: &[u8], state: &AppState) -> Result<HttpResponse, ApiError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let (Some(from), Some(to)) = (param(&form, "From"), param(&form, "To")) else {
        return Err(ApiError::field("To", "From and To are required"));
    };
    if let Some(c) = forbidden_control(from).or_else(|| forbidden_control(to)) {
        return Err(ApiError::field("To", control_message(c)));
    }
    let number = store::phone_numbers::find_global(&state.db, to)
        .await?
        .ok_or_else(|| ApiError::not_found("Phone number", to))?;
    verify(state, req, &number, &form).await?;
    let org = number.org_id.clone();
    // What the sender wrote is kept; only NUL, which no database text holds, is replaced.
    let text = param(&form, "Body").unwrap_or_default().replace('\0', "\u{FFFD}");
    let sid = param(&form, "MessageSid")
        .or_else(|| param(&form, "SmsSid"))
        .map(str::to_owned);
    if let Some(sid) = &sid
        && store::sms::find_by_provider_sid(&state.db, sid).await?.is_some()
    {
        // Twilio retried a webhook we already took.
        return Ok(xml(""));
    }
    let now = Utc::now();
    let kw = keyword(&text);
    let help = match kw {
        Some(Keyword::Help) => Some(help_text(state, &org, to).await?),
        _ => None,
    };
    let txn = store::begin(&state.db).await?;
    let conversation_id = store::sms::touch_conversation(&txn, &org, to, from, &text, now).await?;
    let received = store::sms::insert_message(
        &txn,
        message(
            &org,
            &conversation_id,
            "inbound",
            from,
            to,
            &text,
            "received",
            number.provider.as_str(),
            sid,
        ),
    )
    .await?;
    match kw {
        Some(Keyword::OptOut(word)) => store::sms::opt_out(&txn, &org, to, from, word).await?,
        Some(Keyword::OptIn(_)) => {
            store::sms::opt_in(&txn, &org, to, from).await?;
        }
        Some(Keyword::Help) | None => {}
    }
    let mut billed = vec![&received];
    let reply;
    if let Some(help) = &help {
        let conversation_id = store::sms::touch_conversation(&txn, &org, to, from, help, Utc::now()).await?;
        reply = store::sms::insert_message(
            &txn,
            message(
                &org,
                &conversation_id,
                "outbound",
                to,
                from,
                help,
                "sent",
                number.provider.as_str(),
                None,
            ),
        )
        .await?;
        billed.push(&reply);
    }
    // Carriers bill received segments too: each message is a ledger entry, once.
    let used = billed
        .into_iter()
        .map(|m| store::ledger::Used {
            source: format!("sms:{}", m.id),
            component: "sms",
            provider: m.provider.clone(),
            quantity: f64::from(m.num_segments.max(1)),
            agent_id: None,
            call_id: None,
            occurred_at: m.created_at,
        })
        .collect();
    store::ledger::record(&txn, &org, &state.prices, used).await?;
    txn.commit().await?;
    let result = match kw {
        Some(Keyword::OptOut(_)) => "opt_out",
        Some(Keyword::OptIn(_)) => "opt_in",
        Some(Keyword::Help) => "help",
        None => "received",
    };
    crate::metrics::counter(
        "thruai_sms_messages_total",
        &[("direction", "inbound"), ("result", result)],
        1.0,
    );
    // STOP and START are confirmed by the carrier itself; HELP is answered with our text.
    Ok(xml(&help
        .map(|h| format!("<Message>{}</Message>", escape(&h)))
        .unwrap_or_default()))
}

#[allow(clippy::too_many_arguments)]
fn message(
    org: &str,
    conversation_id: &str,
    direction: &str,
    from: &str,
    to: &str,
    body: &str,
    status: &str,
    provider: &str,
    sid: Option<String>,
) -> sms_message::Model {
    let now = Utc::now();
    sms_message::Model {
        id: ids::new_id(ids::SMS),
        org_id: org.to_string(),
        conversation_id: conversation_id.to_string(),
        direction: direction.into(),
        from_number: from.to_string(),
        to_number: to.to_string(),
        body: body.to_string(),
        status: status.into(),
        provider: provider.to_string(),
        provider_sid: sid,
        error_code: None,
        error_message: None,
        num_segments: crate::providers::telephony::segments(body),
        created_at: now,
        updated_at: now,
    }
}

/// The campaign's `helpMessage` for this number, else the configured text with the
/// organisation's name.
async fn help_text(state: &AppState, org_id: &str, number: &str) -> Result<String, ApiError> {
    if let Some(c) = store::a2p::campaign_for_number(&state.db, org_id, number).await?
        && let Some(h) = c.data["helpMessage"].as_str()
    {
        return Ok(h.to_string());
    }
    let name = store::accounts::find_org(&state.db, org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(state.settings.sms.help_text.replace("{org}", &name))
}

async fn status(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    match handle_status(&req, &body, &state).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => e.error_response(),
    }
}

async fn handle_status(req: &HttpRequest, body: &[u8], state: &AppState) -> Result<(), ApiError> {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let sid = param(&form, "MessageSid")
        .or_else(|| param(&form, "SmsSid"))
        .ok_or_else(|| ApiError::field("MessageSid", "required"))?;
    let status = param(&form, "MessageStatus")
        .or_else(|| param(&form, "SmsStatus"))
        .ok_or_else(|| ApiError::field("MessageStatus", "required"))?;
    let message = store::sms::find_by_provider_sid(&state.db, sid)
        .await?
        .ok_or_else(|| ApiError::not_found("SMS message", sid))?;
    let number = store::phone_numbers::find_by_number(&state.db, &message.org_id, &message.from_number)
        .await?
        .ok_or_else(|| ApiError::not_found("Phone number", &message.from_number))?;
    verify(state, req, &number, &form).await?;
    let code = param(&form, "ErrorCode").and_then(|c| c.parse::<i32>().ok());
    let text = param(&form, "ErrorMessage").map(str::to_owned).or_else(|| {
        code.map(|c| match c {
            30003 => "Unreachable destination handset".to_string(),
            30005 => "Unknown destination handset".to_string(),
            30006 => "Landline or unreachable carrier".to_string(),
            30007 => "Message filtered by the carrier".to_string(),
            30034 => "Message from an unregistered 10DLC number".to_string(),
            other => format!("Carrier error {other}"),
        })
    });
    store::sms::apply_status(&state.db, sid, status, code, text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_the_whole_message_case_insensitively() {
        assert_eq!(keyword(" stop "), Some(Keyword::OptOut("STOP")));
        assert_eq!(keyword("Unsubscribe."), Some(Keyword::OptOut("UNSUBSCRIBE")));
        assert_eq!(keyword("start"), Some(Keyword::OptIn("START")));
        assert_eq!(keyword("Help!"), Some(Keyword::Help));
        assert_eq!(keyword("please stop texting me"), None);
        assert_eq!(keyword("stopping"), None);
    }
}
