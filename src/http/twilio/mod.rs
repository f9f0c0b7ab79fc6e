//! Carrier webhooks, outside the public API: `/twilio/voice` (answer an inbound or outbound
//! call with `<Connect><Stream>`), `/twilio/status` (status callbacks drive the call's
//! state machine), both verified with `X-Twilio-Signature`, the `/twilio/media-stream`
//! WebSocket (`media.rs`), and the SMS webhooks (`sms.rs`).

pub mod media;
pub mod sms;

use actix_web::{HttpRequest, HttpResponse, web};

use thruai_entities::call;

use crate::{
    app::{calls::Answer, carriers::Hook},
    http::core::escape_markup as escape,
    providers::twilio,
    state::AppState,
    store,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/twilio/voice", web::post().to(voice))
        .route("/twilio/status", web::post().to(status))
        .route("/twilio/media-stream", web::get().to(media::start));
    sms::configure(cfg);
}

fn xml(body: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml").body(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>{body}</Response>"
    ))
}

fn refuse(why: &str) -> HttpResponse {
    tracing::warn!(reason = why, "carrier webhook refused");
    HttpResponse::Forbidden().body(why.to_string())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The URL the carrier requested, rebuilt from configuration (never from `Host`).
fn public_url(state: &AppState, req: &HttpRequest) -> String {
    let base = state.settings.server.public_base_url.trim_end_matches('/');
    let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    format!("{base}{pq}")
}

fn verified(state: &AppState, req: &HttpRequest, params: &[(String, String)], token: &str) -> bool {
    let header = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !header.is_empty() && twilio::validate_signature(token, &public_url(state, req), params, header)
}

fn stream_twiml(state: &AppState, row: &thruai_entities::call::Model) -> HttpResponse {
    let base = state.settings.server.public_base_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base.trim_start_matches("http://"))
    };
    xml(&format!(
        "<Connect><Stream url=\"{}/twilio/media-stream\"><Parameter name=\"callId\" value=\"{}\"/><Parameter name=\"token\" value=\"{}\"/><Parameter name=\"agentId\" value=\"{}\"/></Stream></Connect>",
        escape(&ws),
        escape(&row.id),
        escape(&row.stream_token),
        escape(&row.agent_id)
    ))
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn call_id_of(req: &HttpRequest) -> Option<String> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "callId")
        .map(|(_, v)| v.into_owned())
}

/// Whether a call's webhook is signed by its carrier (by the carriers' rule for its number).
async fn call_verified(state: &AppState, req: &HttpRequest, params: &[(String, String)], row: &call::Model) -> bool {
    match state.carriers.call_signing_token(row).await {
        Ok(token) => verified(state, req, params, &token),
        Err(e) => {
            tracing::warn!(call = %row.id, error = %e, "no carrier credentials for the call");
            false
        }
    }
}

/// Answers a call: outbound (`?callId=`) or inbound (to one of our numbers).
pub async fn voice(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let params = parse_form(&body);
    if let Some(call_id) = call_id_of(&req) {
        let Ok(Some(row)) = store::calls::find_any(&state.db, &call_id).await else {
            return refuse("unknown call");
        };
        if !call_verified(&state, &req, &params, &row).await {
            return refuse("invalid X-Twilio-Signature");
        }
        let live = state.calls.get(&row.id).is_some();
        if !live || row.status.is_terminal() {
            return xml("<Hangup/>");
        }
        return stream_twiml(&state, &row);
    }
    inbound(&req, &params, &state).await
}

async fn inbound(req: &HttpRequest, params: &[(String, String)], state: &AppState) -> HttpResponse {
    let (Some(to), Some(from)) = (param(params, "To"), param(params, "From")) else {
        return refuse("To and From are required");
    };
    let Ok(Some(number)) = state.calls.inbound_number(to).await else {
        return refuse("not one of our numbers");
    };
    let token = match state.carriers.signing_token((&number).into(), Hook::Voice).await {
        Ok(token) => token,
        Err(e) => {
            tracing::warn!(number = %number.id, error = %e, "no carrier credentials for the number");
            return refuse("no carrier credentials for the number");
        }
    };
    if !verified(state, req, params, &token) {
        return refuse("invalid X-Twilio-Signature");
    }
    match state
        .calls
        .answer_inbound(&number, from, param(params, "CallSid"))
        .await
    {
        Ok(Answer::Stream(row)) => stream_twiml(state, &row),
        Ok(Answer::NoAgent) => xml("<Say>This number is not connected to an agent yet. Goodbye.</Say><Hangup/>"),
        Err(e) => {
            tracing::error!(number = %number.id, error = %e, "answering an inbound call failed");
            xml("<Hangup/>")
        }
    }
}

/// Status callbacks: `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, ...
pub async fn status(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let params = parse_form(&body);
    let row = match call_id_of(&req) {
        Some(id) => store::calls::find_any(&state.db, &id).await.ok().flatten(),
        None => None,
    };
    let Some(row) = row else {
        return refuse("unknown call");
    };
    if !call_verified(&state, &req, &params, &row).await {
        return refuse("invalid X-Twilio-Signature");
    }
    if let (Some(handle), Some(status)) = (state.calls.get(&row.id), param(&params, "CallStatus")) {
        handle.carrier_status(status, param(&params, "CallSid").map(str::to_string));
    }
    HttpResponse::NoContent().finish()
}
