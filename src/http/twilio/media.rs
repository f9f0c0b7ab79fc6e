//! The Media Streams WebSocket session (one per call): parses Twilio's JSON frames,
//! forwards them to the call's actor through its handle, and writes the actor's `media`,
//! `mark` and `clear` back. Malformed or early frames are noted, never fatal.

use actix::{Actor, ActorContext, AsyncContext, Handler, StreamHandler, WrapFuture, fut::ActorFutureExt};
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_actors::ws;
use base64::Engine as _;
use serde_json::{Value, json};
use thruai_actors::{
    CallHandle,
    call::messages::{AttachStream, Home, MediaIn, MediaOut},
};

use crate::state::AppState;

pub async fn start(
    req: HttpRequest,
    stream: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, actix_web::Error> {
    ws::start(
        MediaSession {
            state: state.get_ref().clone(),
            call: None,
            attaching: false,
            early: Vec::new(),
            stream_sid: None,
            stopped: false,
        },
        &req,
        stream,
    )
}

/// Frames kept while the stream attaches to its call (about 5 s of audio).
const MAX_EARLY_FRAMES: usize = 250;

pub struct MediaSession {
    state: AppState,
    call: Option<CallHandle>,
    /// `start` was received and the call is being attached: frames wait in `early`
    /// (the socket keeps delivering while the attach is answered).
    attaching: bool,
    early: Vec<MediaIn>,
    stream_sid: Option<String>,
    stopped: bool,
}

/// A `media` message as Twilio sends it (`sequenceNumber` is a string of digits).
#[derive(serde::Deserialize)]
struct MediaFrame<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    media: MediaPayload<'a>,
}

#[derive(serde::Deserialize)]
struct MediaPayload<'a> {
    #[serde(borrow)]
    payload: std::borrow::Cow<'a, str>,
}

/// `sequenceNumber` and friends are strings holding integers; accept numbers too.
fn int_of(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

impl MediaSession {
    fn on_start(&mut self, v: &Value, ctx: &mut ws::WebsocketContext<Self>) {
        let start = &v["start"];
        let params = &start["customParameters"];
        let (Some(call_id), Some(token)) = (params["callId"].as_str(), params["token"].as_str()) else {
            tracing::warn!("media stream without callId/token");
            ctx.close(Some(ws::CloseCode::Policy.into()));
            ctx.stop();
            return;
        };
        let Some(handle) = self.state.calls.get(call_id) else {
            tracing::warn!(call = call_id, "media stream for a call that is not live");
            ctx.close(Some(ws::CloseCode::Policy.into()));
            ctx.stop();
            return;
        };
        let stream_sid = start["streamSid"]
            .as_str()
            .or_else(|| v["streamSid"].as_str())
            .unwrap_or_default()
            .to_string();
        self.stream_sid = Some(stream_sid.clone());
        let msg = AttachStream {
            stream_sid,
            provider_call_sid: start["callSid"].as_str().map(str::to_string),
            token: token.to_string(),
            sink: ctx.address().recipient(),
            // The call's actor moves to this session's arbiter: frames stay on one thread.
            home: Some(Home::current()),
        };
        let h = handle.clone();
        self.attaching = true;
        ctx.wait(
            async move { h.attach(msg).await }
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(()) => {
                        act.attaching = false;
                        for frame in act.early.drain(..) {
                            handle.media(frame);
                        }
                        act.call = Some(handle);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "media stream refused");
                        ctx.close(Some(ws::CloseCode::Policy.into()));
                        ctx.stop();
                    }
                }),
        );
    }

    /// The hot path, 50 times a second per call: a `media` frame parsed into borrowed
    /// fields (no `Value` tree). `None` when `text` is anything else.
    fn on_media(&mut self, text: &str, received_at: std::time::Instant) -> Option<()> {
        // Cheap pre-check so marks, start and stop are parsed once, by the general path.
        if (self.call.is_none() && !self.attaching) || !text.contains(r#""event":"media""#) {
            return None;
        }
        let frame: MediaFrame<'_> = serde_json::from_str(text).ok()?;
        if frame.event != "media" {
            return None;
        }
        let sequence = frame.sequence.as_deref().and_then(|s| s.parse().ok());
        match base64::engine::general_purpose::STANDARD.decode(frame.media.payload.as_bytes()) {
            Ok(bytes) if !bytes.is_empty() => {
                let msg = MediaIn {
                    sequence,
                    payload: bytes,
                    received_at,
                };
                match &self.call {
                    Some(call) => call.media(msg),
                    None if self.early.len() < MAX_EARLY_FRAMES => self.early.push(msg),
                    None => {}
                }
            }
            _ => match &self.call {
                Some(call) => call.stream_note("malformed_media", json!({ "sequenceNumber": sequence })),
                None => tracing::debug!("malformed media frame while attaching"),
            },
        }
        Some(())
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        let received_at = std::time::Instant::now();
        if self.on_media(text, received_at).is_some() {
            return;
        }
        let v: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                if let Some(call) = &self.call {
                    call.stream_note("malformed_message", json!({ "error": e.to_string() }));
                }
                return;
            }
        };
        match (v["event"].as_str(), &self.call) {
            (Some("connected"), _) => {}
            (Some("start"), None) => self.on_start(&v, ctx),
            (Some("start"), Some(call)) => call.stream_note("duplicate_start", Value::Null),
            (Some("media"), Some(call)) => {
                let payload = v["media"]["payload"].as_str().unwrap_or_default();
                match base64::engine::general_purpose::STANDARD.decode(payload) {
                    Ok(bytes) if !bytes.is_empty() => call.media(MediaIn {
                        sequence: int_of(&v["sequenceNumber"]),
                        payload: bytes,
                        received_at,
                    }),
                    _ => call.stream_note("malformed_media", json!({ "sequenceNumber": v["sequenceNumber"] })),
                }
            }
            (Some("mark"), Some(call)) => {
                if let Some(name) = v["mark"]["name"].as_str() {
                    call.mark(name.to_string());
                }
            }
            (Some("stop"), Some(call)) => {
                self.stopped = true;
                call.stream_stopped("stop");
                ctx.stop();
            }
            (Some("dtmf"), Some(call)) => call.stream_note("dtmf", v["dtmf"].clone()),
            (Some(event), Some(call)) => call.stream_note("unknown_event", json!({ "event": event })),
            (_, None) => tracing::debug!("media stream frame before start; ignored"),
            (None, Some(call)) => call.stream_note("malformed_message", json!({ "error": "no event" })),
        }
    }
}

impl Actor for MediaSession {
    type Context = ws::WebsocketContext<Self>;

    fn stopped(&mut self, _: &mut Self::Context) {
        if let (Some(call), false) = (&self.call, self.stopped) {
            call.stream_stopped("socket_closed");
        }
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for MediaSession {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) => self.on_text(&text, ctx),
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "media stream protocol error");
                ctx.stop();
            }
        }
    }
}

impl Handler<MediaOut> for MediaSession {
    type Result = ();

    fn handle(&mut self, msg: MediaOut, ctx: &mut Self::Context) {
        // The stream sid is ours ("MZ…"), the mark names the call actor's: written as JSON
        // strings either way. Audio is formatted straight into the frame (no JSON tree).
        let sid = Value::from(self.stream_sid.as_deref().unwrap_or_default());
        let frame = match msg {
            MediaOut::Media(bytes) => format!(
                r#"{{"event":"media","streamSid":{sid},"media":{{"payload":"{}"}}}}"#,
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ),
            MediaOut::Mark(name) => json!({ "event": "mark", "streamSid": sid, "mark": { "name": name } }).to_string(),
            MediaOut::Clear => json!({ "event": "clear", "streamSid": sid }).to_string(),
            MediaOut::Close => {
                self.stopped = true;
                ctx.close(Some(ws::CloseCode::Normal.into()));
                ctx.stop();
                return;
            }
        };
        ctx.text(frame);
    }
}
