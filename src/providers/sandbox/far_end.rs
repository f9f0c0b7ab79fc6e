//! The far end of a call, played exactly as Twilio plays it: status callbacks and the TwiML
//! fetch (both signed), then the Media Streams WebSocket (`connected`, `start`, `media` every
//! 20 ms, `mark` echoes paced by playback, `clear`, `stop`) and a scripted caller speaking
//! with the tone codec. The sandbox carrier, the demo, the tests and the benchmark use it.

use std::{collections::VecDeque, time::Duration};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::audio::{FRAME_BYTES, mulaw, tone, vad};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

use crate::providers::{telephony::PlaceCall, twilio};

/// The sandbox carrier's account id.
pub const SANDBOX_ACCOUNT_SID: &str = "ACsandbox0000000000000000000000000";
/// Quiet after agent audio before an agent turn counts as over.
const AGENT_DONE_QUIET: Duration = Duration::from_millis(700);
/// The longest a `waitForAgent` step waits.
const WAIT_FOR_AGENT_MAX: Duration = Duration::from_secs(20);

/// What a far end needs from the platform.
#[derive(Debug, Clone)]
pub struct FarEndEnv {
    pub http: reqwest::Client,
    pub auth_token: String,
    pub account_sid: String,
    pub max_call: Duration,
}

/// One step of the caller's script (`metadata.sandboxScript` of `POST /calls/outbound`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// Say this (tone codec), then carry on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Stay silent this long (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence_ms: Option<u64>,
    /// Wait until the agent has spoken and gone quiet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wait_for_agent: bool,
    /// With `waitForAgent`: how long the agent must be quiet for its turn to count as over
    /// (ms; 700 by default). Longer where the agent pauses mid-turn, e.g. for a tool call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_ms: Option<u64>,
    /// Wait until the agent is speaking, then `afterMs` later say this over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_ms: Option<u64>,
    /// Hang up. With `say`, hang up halfway through saying it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hangup: bool,
    /// Send this text frame as is (malformed or out-of-order messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
}

impl Step {
    pub fn say(text: &str) -> Self {
        Self {
            say: Some(text.into()),
            ..Self::default()
        }
    }
    pub fn wait() -> Self {
        Self {
            wait_for_agent: true,
            ..Self::default()
        }
    }
    pub fn hangup() -> Self {
        Self {
            hangup: true,
            ..Self::default()
        }
    }
}

/// The script when none is given: listen, ask, listen, thank, listen, hang up.
pub fn default_script() -> Vec<Step> {
    vec![
        Step::wait(),
        Step::say("Hi, what are your opening hours?"),
        Step::wait(),
        Step::say("Thanks, goodbye."),
        Step::wait(),
        Step::hangup(),
    ]
}

/// What the far end saw.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub call_sid: String,
    /// The agent's utterances, decoded from the audio actually played.
    pub heard: Vec<String>,
    pub said: Vec<String>,
    pub marks_echoed: u64,
    pub clears: u64,
    pub frames_sent: u64,
    /// The platform closed the stream (the agent hung up).
    pub closed_by_platform: bool,
    pub error: Option<String>,
}

pub struct FarEnd {
    env: FarEndEnv,
    call_sid: String,
    from: String,
    to: String,
    direction: &'static str,
    voice_url: String,
    status_url: Option<String>,
    script: Vec<Step>,
    status_seq: u32,
}

enum Playback {
    Audio(Vec<u8>),
    Mark(String),
}

impl FarEnd {
    /// The callee of an outbound call.
    pub fn outbound(env: FarEndEnv, call_sid: &str, req: &PlaceCall) -> Self {
        let script = req
            .sandbox_script
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_else(default_script);
        Self {
            env,
            call_sid: call_sid.into(),
            from: req.from.clone(),
            to: req.to.clone(),
            direction: "outbound-api",
            voice_url: req.url.clone(),
            status_url: Some(req.status_callback.clone()),
            script,
            status_seq: 0,
        }
    }

    /// A caller dialling `to` (an inbound call to one of the platform's numbers).
    pub fn inbound(env: FarEndEnv, voice_url: &str, from: &str, to: &str, script: Vec<Step>) -> Self {
        Self {
            env,
            call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
            from: from.into(),
            to: to.into(),
            direction: "inbound",
            voice_url: voice_url.into(),
            status_url: None,
            script,
            status_seq: 0,
        }
    }

    fn params(&self, status: &str) -> Vec<(String, String)> {
        [
            ("CallSid", self.call_sid.as_str()),
            ("AccountSid", self.env.account_sid.as_str()),
            ("From", self.from.as_str()),
            ("To", self.to.as_str()),
            ("CallStatus", status),
            ("Direction", self.direction),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    async fn signed_post(&self, url: &str, params: &[(String, String)]) -> Result<String, String> {
        let signature = twilio::compute_signature(&self.env.auth_token, url, params);
        let res = self
            .env
            .http
            .post(url)
            .header("X-Twilio-Signature", signature)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter())
                    .finish(),
            )
            .send()
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(format!("POST {url}: HTTP {status}: {body}"));
        }
        Ok(body)
    }

    async fn status(&mut self, status: &str) {
        let Some(url) = self.status_url.clone() else {
            return;
        };
        let mut params = self.params(status);
        params.push(("SequenceNumber".into(), self.status_seq.to_string()));
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        self.status_seq += 1;
        if let Err(e) = self.signed_post(&url, &params).await {
            tracing::debug!(error = %e, "far end status callback refused");
        }
    }

    /// A callee who does not pick up: `ringing`, then `busy`, `no-answer` or `failed`.
    pub async fn unanswered(mut self, outcome: &str) {
        self.status("ringing").await;
        self.status(outcome).await;
    }

    /// Runs the call to its end.
    pub async fn run(mut self) -> Report {
        let mut report = Report {
            call_sid: self.call_sid.clone(),
            ..Report::default()
        };
        self.status("ringing").await;
        let twiml = match self.signed_post(&self.voice_url.clone(), &self.params("ringing")).await {
            Ok(t) => t,
            Err(e) => {
                report.error = Some(e);
                self.status("failed").await;
                return report;
            }
        };
        let Some((stream_url, parameters)) = parse_stream(&twiml) else {
            report.error = Some(format!("no <Stream> in TwiML: {twiml}"));
            self.status("completed").await;
            return report;
        };
        self.status("in-progress").await;
        if let Err(e) = self.stream(&stream_url, parameters, &mut report).await {
            report.error = Some(e);
        }
        self.status("completed").await;
        report
    }

    async fn stream(&mut self, url: &str, parameters: Value, report: &mut Report) -> Result<(), String> {
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        let signature = twilio::compute_signature(&self.env.auth_token, url, &[]);
        if let Ok(v) = signature.parse() {
            request.headers_mut().insert("X-Twilio-Signature", v);
        }
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| format!("stream {url}: {e}"))?;
        let (mut tx, mut rx) = ws.split();
        let stream_sid = format!("MZ{}", uuid::Uuid::new_v4().simple());
        let mut seq: u64 = 0;
        let next = |seq: &mut u64| {
            *seq += 1;
            seq.to_string()
        };
        let send = |v: Value| Message::text(v.to_string());
        tx.send(send(
            json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        ))
        .await
        .map_err(|e| e.to_string())?;
        tx.send(send(json!({
            "event": "start", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
            "start": {
                "accountSid": self.env.account_sid, "streamSid": stream_sid, "callSid": self.call_sid,
                "tracks": ["inbound"], "customParameters": parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            }
        })))
        .await
        .map_err(|e| e.to_string())?;

        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let started = tokio::time::Instant::now();
        let mut chunk: u64 = 0;
        let mut outgoing: VecDeque<Vec<u8>> = VecDeque::new();
        let mut playback: VecDeque<Playback> = VecDeque::new();
        let mut heard = tone::ToneDecoder::default();
        let mut heard_any = false;
        let mut agent_quiet_since: Option<tokio::time::Instant> = None;
        let mut agent_spoke_since_step = false;
        let mut step = 0usize;
        let mut step_started = tokio::time::Instant::now();
        let mut step_begun = false;
        let mut hangup_after_outgoing = false;
        let mut agent_audio_started: Option<tokio::time::Instant> = None;

        loop {
            tokio::select! {
                _ = tick.tick() => {}
                msg = rx.next() => {
                    match msg {
                        Some(Ok(Message::Text(text))) => {
                            let Ok(v) = serde_json::from_str::<Value>(&text) else { continue };
                            match v["event"].as_str() {
                                Some("media") => {
                                    if let Some(p) = v["media"]["payload"].as_str()
                                        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(p)
                                    {
                                        playback.push_back(Playback::Audio(bytes));
                                    }
                                }
                                Some("mark") => {
                                    let name = v["mark"]["name"].as_str().unwrap_or_default().to_string();
                                    playback.push_back(Playback::Mark(name));
                                }
                                Some("clear") => {
                                    report.clears += 1;
                                    // Pending marks are echoed back; the audio is dropped.
                                    for item in playback.drain(..) {
                                        if let Playback::Mark(name) = item {
                                            report.marks_echoed += 1;
                                            let m = json!({"event": "mark", "sequenceNumber": next(&mut seq), "streamSid": stream_sid, "mark": {"name": name}});
                                            let _ = tx.send(send(m)).await;
                                        }
                                    }
                                }
                                _ => {}
                            }
                            continue;
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                            report.closed_by_platform = true;
                            break;
                        }
                        Some(Ok(_)) => continue,
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now.duration_since(started) > self.env.max_call {
                break;
            }
            // Play 20 ms of agent audio, echoing the marks it reaches.
            let mut budget = FRAME_BYTES;
            let mut played = false;
            while budget > 0 {
                match playback.front_mut() {
                    Some(Playback::Audio(bytes)) => {
                        let n = budget.min(bytes.len());
                        heard.push_mulaw(&bytes[..n]);
                        heard_any = true;
                        played = true;
                        bytes.drain(..n);
                        budget -= n;
                        if bytes.is_empty() {
                            playback.pop_front();
                        }
                    }
                    Some(Playback::Mark(name)) => {
                        report.marks_echoed += 1;
                        let m = json!({"event": "mark", "sequenceNumber": next(&mut seq), "streamSid": stream_sid, "mark": {"name": name}});
                        tx.send(send(m)).await.map_err(|e| e.to_string())?;
                        playback.pop_front();
                    }
                    None => break,
                }
            }
            if played {
                agent_quiet_since = None;
                agent_spoke_since_step = true;
                agent_audio_started.get_or_insert(now);
            } else {
                agent_audio_started = None;
                let quiet = *agent_quiet_since.get_or_insert(now);
                if heard_any && now.duration_since(quiet) >= Duration::from_millis(300) {
                    let text = std::mem::take(&mut heard).finish();
                    heard_any = false;
                    if !text.trim().is_empty() {
                        report.heard.push(text.trim().to_string());
                    }
                }
            }
            // Send 20 ms of caller audio.
            chunk += 1;
            let frame = outgoing
                .pop_front()
                .unwrap_or_else(|| vec![mulaw::SILENCE; FRAME_BYTES]);
            let media = json!({
                "event": "media", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
                "media": {"track": "inbound", "chunk": chunk.to_string(),
                          "timestamp": (chunk * 20).to_string(),
                          "payload": base64::engine::general_purpose::STANDARD.encode(&frame)}
            });
            tx.send(send(media)).await.map_err(|e| e.to_string())?;
            report.frames_sent += 1;
            if hangup_after_outgoing && outgoing.is_empty() {
                break;
            }
            // Advance the script.
            let Some(current) = self.script.get(step).cloned() else {
                break;
            };
            if !step_begun {
                step_begun = true;
                step_started = now;
                agent_spoke_since_step = false;
                if let Some(raw) = &current.raw {
                    tx.send(Message::text(raw.clone())).await.map_err(|e| e.to_string())?;
                }
            }
            let done = if let Some(text) = &current.interrupt {
                let after = Duration::from_millis(current.after_ms.unwrap_or(500));
                match agent_audio_started {
                    Some(t) if now.duration_since(t) >= after && outgoing.is_empty() && !report.said.contains(text) => {
                        enqueue(&mut outgoing, text);
                        report.said.push(text.clone());
                        false
                    }
                    _ => report.said.contains(text) && outgoing.is_empty(),
                }
            } else if let Some(text) = &current.say {
                if current.hangup && step_started == now {
                    let frames = frames_of(text);
                    let half = frames.len() / 2;
                    outgoing.extend(frames.into_iter().take(half));
                    report.said.push(text.clone());
                    hangup_after_outgoing = true;
                    false
                } else if current.hangup {
                    false
                } else if step_started == now {
                    enqueue(&mut outgoing, text);
                    report.said.push(text.clone());
                    false
                } else {
                    outgoing.is_empty()
                }
            } else if let Some(ms) = current.silence_ms {
                now.duration_since(step_started) >= Duration::from_millis(ms)
            } else if current.wait_for_agent {
                let done_quiet = current.quiet_ms.map_or(AGENT_DONE_QUIET, Duration::from_millis);
                let quiet_long = agent_quiet_since.is_some_and(|q| now.duration_since(q) >= done_quiet);
                (agent_spoke_since_step && quiet_long && playback.is_empty())
                    || now.duration_since(step_started) >= WAIT_FOR_AGENT_MAX
            } else if current.hangup {
                break;
            } else {
                true
            };
            if done {
                step += 1;
                step_begun = false;
            }
        }
        if heard_any {
            let text = heard.finish();
            if !text.trim().is_empty() {
                report.heard.push(text.trim().to_string());
            }
        }
        if !report.closed_by_platform {
            let stop = json!({"event": "stop", "sequenceNumber": next(&mut seq), "streamSid": stream_sid,
                              "stop": {"accountSid": self.env.account_sid, "callSid": self.call_sid}});
            let _ = tx.send(send(stop)).await;
            let _ = tx.close().await;
        }
        Ok(())
    }
}

fn frames_of(text: &str) -> Vec<Vec<u8>> {
    let audio = tone::encode(text);
    audio
        .chunks(FRAME_BYTES)
        .map(|c| {
            let mut f = c.to_vec();
            f.resize(FRAME_BYTES, mulaw::SILENCE);
            f
        })
        .collect()
}

fn enqueue(out: &mut VecDeque<Vec<u8>>, text: &str) {
    out.extend(frames_of(text));
}

/// The `<Stream url>` and its `<Parameter>`s from TwiML.
pub fn parse_stream(twiml: &str) -> Option<(String, Value)> {
    let start = twiml.find("<Stream")?;
    let rest = &twiml[start..];
    let url = attr(rest, "url")?;
    let end = rest.find("</Stream>").unwrap_or(rest.len());
    let mut params = serde_json::Map::new();
    let mut body = &rest[..end];
    while let Some(i) = body.find("<Parameter") {
        body = &body[i + 10..];
        if let (Some(n), Some(v)) = (attr(body, "name"), attr(body, "value")) {
            params.insert(n, Value::String(v));
        }
    }
    Some((unescape(&url), Value::Object(params)))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + j]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Milliseconds `text` takes to say.
pub fn speaking_ms(text: &str) -> u64 {
    vad::ms_of(tone::encode(text).len())
}
