//! Speech-to-speech sessions (the `SpeechToSpeech` port of the call actor):
//!
//! - `OpenAiRealtime`: the OpenAI Realtime API over a WebSocket, g711 μ-law both ways (so
//!   Twilio frames pass through untouched), in either event-name generation: `beta`
//!   (`OpenAI-Beta: realtime=v1`, flat `session.update` with `input_audio_format:
//!   "g711_ulaw"`, `response.audio.delta`) or `ga` (`session.type: "realtime"`,
//!   `audio.input.format: {type: "audio/pcmu"}`, `response.output_audio.delta`). Both
//!   generations' server event names are understood whichever was asked for.
//! - `SandboxRealtime`: the same session contract built from the sandbox pieces (energy VAD
//!   and turn detection, the tone-codec STT/TTS and the deterministic LLM), so `s2s`
//!   agents work with no provider configured.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thruai_actors::{
    audio::vad::{self, TurnDetector, TurnEvent, TurnSettings},
    call::{
        chat::{ChatRole, ChatTurn, LlmToolCall},
        ports::{
            LanguageModel, LlmRequest, PortError, S2sCommand, S2sEvent, S2sSession, S2sSettings, SpeechToSpeech,
            SpeechToText, TextToSpeech, ToolDef,
        },
        s2s::{END_CALL_TOOL, greeting_instructions},
    },
};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

use super::speech::{ws_error, ws_url};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const END_CALL_DESCRIPTION: &str =
    "Hang up the call. Use it only after you have said goodbye or the caller asked to end the call.";

/// Which event-name generation of the Realtime API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Beta,
    Ga,
}

impl Dialect {
    /// `beta` or `ga` (anything else is GA).
    pub fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("beta") {
            Self::Beta
        } else {
            Self::Ga
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiRealtime {
    pub base_url: String,
    pub api_key: String,
    pub default_model: String,
    pub dialect: Dialect,
    pub connect_timeout: Duration,
}

fn tools_json(tools: &[ToolDef]) -> Vec<Value> {
    let mut out: Vec<Value> = tools
        .iter()
        .map(
            |t| json!({ "type": "function", "name": t.name, "description": t.description, "parameters": t.parameters }),
        )
        .collect();
    out.push(
        json!({ "type": "function", "name": END_CALL_TOOL, "description": END_CALL_DESCRIPTION,
                     "parameters": { "type": "object", "properties": {} } }),
    );
    out
}

impl OpenAiRealtime {
    /// The `session.update` of the dialect.
    pub fn session_update(&self, s: &S2sSettings) -> Value {
        let noise = s.noise_reduction.as_ref().map_or(Value::Null, |n| json!({ "type": n }));
        let voice = s.voice.clone().unwrap_or_else(|| "alloy".into());
        match self.dialect {
            Dialect::Beta => {
                let mut session = json!({
                    "modalities": ["audio", "text"],
                    "instructions": s.instructions,
                    "voice": voice,
                    "input_audio_format": "g711_ulaw",
                    "output_audio_format": "g711_ulaw",
                    "turn_detection": s.turn_detection,
                    "input_audio_noise_reduction": noise,
                    "tools": tools_json(&s.tools),
                    "tool_choice": "auto",
                });
                if s.transcribe_input {
                    session["input_audio_transcription"] = json!({ "model": "whisper-1" });
                }
                if let Some(t) = s.temperature {
                    session["temperature"] = json!(t);
                }
                if let Some(m) = s.max_output_tokens {
                    session["max_response_output_tokens"] = json!(m);
                }
                json!({ "type": "session.update", "session": session })
            }
            Dialect::Ga => {
                let mut input = json!({
                    "format": { "type": "audio/pcmu" },
                    "noise_reduction": noise,
                    "turn_detection": s.turn_detection,
                });
                if s.transcribe_input {
                    input["transcription"] = json!({ "model": "gpt-4o-mini-transcribe" });
                }
                let mut session = json!({
                    "type": "realtime",
                    "model": s.model.clone().unwrap_or_else(|| self.default_model.clone()),
                    "instructions": s.instructions,
                    "output_modalities": ["audio"],
                    "audio": { "input": input, "output": { "format": { "type": "audio/pcmu" }, "voice": voice } },
                    "tools": tools_json(&s.tools),
                    "tool_choice": "auto",
                });
                if let Some(m) = s.max_output_tokens {
                    session["max_output_tokens"] = json!(m);
                }
                json!({ "type": "session.update", "session": session })
            }
        }
    }

    /// A command as the client events to send.
    pub fn client_events(&self, cmd: &S2sCommand) -> Vec<Value> {
        match cmd {
            S2sCommand::Audio(a) => vec![json!({ "type": "input_audio_buffer.append", "audio": B64.encode(a) })],
            S2sCommand::Say(text) => {
                let response = match self.dialect {
                    Dialect::Beta => {
                        json!({ "modalities": ["audio", "text"], "instructions": greeting_instructions(text) })
                    }
                    Dialect::Ga => {
                        json!({ "output_modalities": ["audio"], "instructions": greeting_instructions(text) })
                    }
                };
                vec![json!({ "type": "response.create", "response": response })]
            }
            S2sCommand::Respond => vec![json!({ "type": "response.create" })],
            S2sCommand::Cancel => vec![json!({ "type": "response.cancel" })],
            S2sCommand::Truncate { item_id, audio_end_ms } => vec![json!({
                "type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms,
            })],
            S2sCommand::ToolResult { call_id, output } => vec![
                json!({ "type": "conversation.item.create",
                        "item": { "type": "function_call_output", "call_id": call_id, "output": output } }),
                json!({ "type": "response.create" }),
            ],
            S2sCommand::Close => Vec::new(),
        }
    }
}

/// A server event as a session event (either generation's names); `None` for events the
/// call does not need.
pub fn server_event(text: &str) -> Option<S2sEvent> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Some(S2sEvent::Error(format!("malformed server event: {e}"))),
    };
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    Some(match v["type"].as_str()? {
        "input_audio_buffer.speech_started" => S2sEvent::SpeechStarted,
        "input_audio_buffer.speech_stopped" => S2sEvent::SpeechStopped,
        "response.audio.delta" | "response.output_audio.delta" => match B64.decode(s("delta")) {
            Ok(audio) => S2sEvent::Audio {
                item_id: s("item_id"),
                audio,
            },
            Err(_) => S2sEvent::Error("an audio delta is not base64".into()),
        },
        "response.audio.done" | "response.output_audio.done" => S2sEvent::AudioDone { item_id: s("item_id") },
        "response.audio_transcript.delta" | "response.output_audio_transcript.delta" => S2sEvent::TranscriptDelta {
            item_id: s("item_id"),
            text: s("delta"),
        },
        "response.audio_transcript.done" | "response.output_audio_transcript.done" => S2sEvent::TranscriptDone {
            item_id: s("item_id"),
            text: s("transcript"),
        },
        "conversation.item.input_audio_transcription.completed" => S2sEvent::CallerTranscript { text: s("transcript") },
        "response.function_call_arguments.done" => S2sEvent::ToolCall {
            call_id: s("call_id"),
            name: s("name"),
            arguments: serde_json::from_str::<Value>(&s("arguments"))
                .ok()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({})),
        },
        "response.done" => {
            let r = &v["response"];
            S2sEvent::ResponseDone {
                status: r["status"].as_str().unwrap_or("completed").to_string(),
                input_tokens: r["usage"]["input_tokens"].as_u64().unwrap_or(0),
                output_tokens: r["usage"]["output_tokens"].as_u64().unwrap_or(0),
            }
        }
        "error" => {
            // Cancelling a response that just finished is a race, not a failure.
            if v["error"]["code"] == "response_cancel_not_active" {
                return None;
            }
            S2sEvent::Error(v["error"]["message"].as_str().unwrap_or("realtime error").to_string())
        }
        _ => return None,
    })
}

#[async_trait]
impl SpeechToSpeech for OpenAiRealtime {
    fn provider(&self) -> &str {
        "openai-realtime"
    }

    async fn connect(&self, settings: &S2sSettings) -> Result<S2sSession, PortError> {
        const P: &str = "openai-realtime";
        let model = settings.model.clone().unwrap_or_else(|| self.default_model.clone());
        let url = format!("{}/realtime?model={model}", ws_url(&self.base_url));
        let mut request = url
            .into_client_request()
            .map_err(|e| PortError::new(P, format!("bad URL: {e}")))?;
        let auth = HeaderValue::from_str(&format!("Bearer {}", self.api_key))
            .map_err(|_| PortError::new(P, "the API key is not a valid header value"))?;
        request.headers_mut().insert("Authorization", auth);
        if self.dialect == Dialect::Beta {
            request
                .headers_mut()
                .insert("OpenAI-Beta", HeaderValue::from_static("realtime=v1"));
        }
        let (ws, _) = tokio::time::timeout(self.connect_timeout, super::ws::connect(request))
            .await
            .map_err(|_| PortError::new(P, "timed out connecting"))?
            .map_err(|e| ws_error(P, &e))?;
        let (mut sink, mut stream) = ws.split();
        sink.send(Message::Text(self.session_update(settings).to_string().into()))
            .await
            .map_err(|e| ws_error(P, &e))?;
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<S2sCommand>();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let this = self.clone();
        tokio::spawn(async move {
            let reason = loop {
                tokio::select! {
                    cmd = cmd_rx.recv() => {
                        let Some(cmd) = cmd else { break "the call ended".to_string() };
                        if cmd == S2sCommand::Close {
                            let _ = sink.send(Message::Close(None)).await;
                            break "closed".to_string();
                        }
                        for event in this.client_events(&cmd) {
                            if let Err(e) = sink.send(Message::Text(event.to_string().into())).await {
                                let _ = ev_tx.send(S2sEvent::Closed(e.to_string()));
                                return;
                            }
                        }
                    }
                    msg = stream.next() => match msg {
                        Some(Ok(Message::Text(t))) => {
                            if let Some(ev) = server_event(&t) {
                                let _ = ev_tx.send(ev);
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            break frame.map_or_else(|| "the server closed the session".into(), |f| format!("the server closed the session: {}", f.reason));
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => break e.to_string(),
                        None => break "the connection dropped".to_string(),
                    },
                }
            };
            let _ = ev_tx.send(S2sEvent::Closed(reason));
        });
        Ok(S2sSession {
            commands: cmd_tx,
            events: ev_rx,
        })
    }
}

// ------------------------------------------------------------------------------------------
// The sandbox session
// ------------------------------------------------------------------------------------------

/// Audio per delta of the sandbox session (200 ms).
const SANDBOX_CHUNK: usize = 1600;
const ONSET_MS: u32 = 60;
const PREROLL_FRAMES: usize = 3;

/// A realtime session made of the sandbox pieces.
#[derive(Clone)]
pub struct SandboxRealtime {
    pub llm: Arc<dyn LanguageModel>,
    pub stt: Arc<dyn SpeechToText>,
    pub tts: Arc<dyn TextToSpeech>,
    pub vad_threshold_rms: f32,
}

#[async_trait]
impl SpeechToSpeech for SandboxRealtime {
    fn provider(&self) -> &str {
        "sandbox"
    }

    async fn connect(&self, settings: &S2sSettings) -> Result<S2sSession, PortError> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let end_silence_ms = settings.turn_detection["silence_duration_ms"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(500);
        let engine = Sandbox {
            me: self.clone(),
            settings: settings.clone(),
            events: ev_tx,
            conversation: Vec::new(),
            detector: TurnDetector::new(TurnSettings {
                onset_ms: ONSET_MS,
                end_silence_ms,
            }),
            utterance: Vec::new(),
            preroll: Vec::new(),
            response: None,
            next_item: 0,
        };
        tokio::spawn(engine.run(cmd_rx));
        Ok(S2sSession {
            commands: cmd_tx,
            events: ev_rx,
        })
    }
}

/// What a sandbox response produced, for the conversation.
enum Produced {
    Said(String),
    Called(Vec<LlmToolCall>),
}

struct Sandbox {
    me: SandboxRealtime,
    settings: S2sSettings,
    events: UnboundedSender<S2sEvent>,
    conversation: Vec<ChatTurn>,
    detector: TurnDetector,
    utterance: Vec<u8>,
    preroll: Vec<Vec<u8>>,
    response: Option<(tokio::task::JoinHandle<()>, UnboundedReceiver<Produced>)>,
    next_item: u64,
}

impl Sandbox {
    async fn run(mut self, mut commands: UnboundedReceiver<S2sCommand>) {
        loop {
            let produced = async {
                match self.response.as_mut() {
                    Some((_, rx)) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None | Some(S2sCommand::Close) => break,
                    Some(cmd) => self.command(cmd).await,
                },
                p = produced => match p {
                    Some(Produced::Said(text)) => self.conversation.push(ChatTurn::new(ChatRole::Assistant, text)),
                    Some(Produced::Called(calls)) => self.conversation.push(ChatTurn::tool_calls(calls)),
                    None => self.response = None,
                },
            }
        }
        if let Some((task, _)) = self.response.take() {
            task.abort();
        }
    }

    async fn command(&mut self, cmd: S2sCommand) {
        match cmd {
            S2sCommand::Audio(frame) => self.audio(&frame).await,
            S2sCommand::Say(text) => self.respond(Some(text)),
            S2sCommand::Respond => self.respond(None),
            S2sCommand::Cancel => {
                if let Some((task, _)) = self.response.take() {
                    task.abort();
                    let _ = self.events.send(S2sEvent::ResponseDone {
                        status: "cancelled".into(),
                        input_tokens: 0,
                        output_tokens: 0,
                    });
                }
            }
            S2sCommand::Truncate { audio_end_ms, .. } => {
                // The last assistant turn becomes what was heard.
                if let Some(t) = self
                    .conversation
                    .iter_mut()
                    .rev()
                    .find(|t| t.role == ChatRole::Assistant && t.tool_calls.is_empty())
                {
                    let total = thruai_actors::audio::tone::duration_ms(&t.content);
                    t.content =
                        thruai_actors::call::speaking::heard_prefix(&t.content, audio_end_ms, total).to_string();
                }
            }
            S2sCommand::ToolResult { call_id, output } => {
                self.conversation.push(ChatTurn::tool_result(&call_id, output));
                self.respond(None);
            }
            S2sCommand::Close => {}
        }
    }

    async fn audio(&mut self, frame: &[u8]) {
        let speech = vad::is_speech(frame, self.me.vad_threshold_rms);
        if speech || self.detector.in_turn() || self.detector.speech_ms() > 0 {
            if self.utterance.is_empty() {
                for f in self.preroll.drain(..) {
                    self.utterance.extend_from_slice(&f);
                }
            }
            self.utterance.extend_from_slice(frame);
        } else {
            self.preroll.push(frame.to_vec());
            if self.preroll.len() > PREROLL_FRAMES {
                self.preroll.remove(0);
            }
        }
        let frame_ms = u32::try_from(vad::ms_of(frame.len())).unwrap_or(u32::MAX);
        match self.detector.feed(speech, frame_ms) {
            Some(TurnEvent::SpeechStarted) => {
                let _ = self.events.send(S2sEvent::SpeechStarted);
            }
            Some(TurnEvent::TurnEnded { .. }) => {
                let _ = self.events.send(S2sEvent::SpeechStopped);
                let audio = std::mem::take(&mut self.utterance);
                match self.me.stt.transcribe(&audio).await {
                    Ok(text) if !text.trim().is_empty() => {
                        let _ = self.events.send(S2sEvent::CallerTranscript { text: text.clone() });
                        self.conversation.push(ChatTurn::new(ChatRole::User, text));
                        // `create_response`: answer the turn.
                        self.respond(None);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = self.events.send(S2sEvent::Error(e.to_string()));
                    }
                }
            }
            None => {
                if !self.detector.in_turn() && self.detector.speech_ms() == 0 {
                    self.utterance.clear();
                }
            }
        }
    }

    /// Starts a response (replacing one in progress): `say` verbatim, or the model's turn.
    fn respond(&mut self, say: Option<String>) {
        if let Some((task, _)) = self.response.take() {
            task.abort();
        }
        self.next_item += 1;
        let item_id = format!("item_sandbox_{}", self.next_item);
        let (tx, rx) = mpsc::unbounded_channel();
        let me = self.me.clone();
        let events = self.events.clone();
        let req = LlmRequest {
            system_prompt: self.settings.instructions.clone(),
            first_message: None,
            conversation: self.conversation.clone(),
            tools: self.settings.tools.clone(),
            knowledge: Vec::new(),
        };
        let task = tokio::spawn(async move {
            let reply = match say {
                Some(text) => Ok((text, Vec::new(), false, 0, 0)),
                None => me
                    .llm
                    .respond(&req)
                    .await
                    .map(|r| (r.text, r.tool_calls, r.end_call, r.input_tokens, r.output_tokens)),
            };
            let (text, calls, end_call, input_tokens, output_tokens) = match reply {
                Ok(r) => r,
                Err(e) => {
                    let _ = events.send(S2sEvent::Error(e.to_string()));
                    let _ = events.send(S2sEvent::ResponseDone {
                        status: "failed".into(),
                        input_tokens: 0,
                        output_tokens: 0,
                    });
                    return;
                }
            };
            if !text.is_empty() {
                match me.tts.synthesize(&text).await {
                    Ok(audio) => {
                        for chunk in audio.chunks(SANDBOX_CHUNK) {
                            let _ = events.send(S2sEvent::Audio {
                                item_id: item_id.clone(),
                                audio: chunk.to_vec(),
                            });
                        }
                        let _ = events.send(S2sEvent::AudioDone {
                            item_id: item_id.clone(),
                        });
                        let _ = events.send(S2sEvent::TranscriptDone {
                            item_id: item_id.clone(),
                            text: text.clone(),
                        });
                        let _ = tx.send(Produced::Said(text));
                    }
                    Err(e) => {
                        let _ = events.send(S2sEvent::Error(e.to_string()));
                    }
                }
            }
            let calls: Vec<LlmToolCall> = calls
                .into_iter()
                .enumerate()
                .map(|(i, mut c)| {
                    if c.id.is_empty() {
                        c.id = format!("call_{item_id}_{i}");
                    }
                    c
                })
                .collect();
            if !calls.is_empty() {
                let _ = tx.send(Produced::Called(calls.clone()));
            }
            for c in calls {
                let _ = events.send(S2sEvent::ToolCall {
                    call_id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                });
            }
            if end_call {
                let _ = events.send(S2sEvent::ToolCall {
                    call_id: format!("call_{item_id}_end"),
                    name: END_CALL_TOOL.into(),
                    arguments: json!({}),
                });
            }
            let _ = events.send(S2sEvent::ResponseDone {
                status: "completed".into(),
                input_tokens,
                output_tokens,
            });
        });
        self.response = Some((task, rx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> S2sSettings {
        S2sSettings {
            model: Some("gpt-realtime".into()),
            voice: Some("marin".into()),
            instructions: "Be brief.".into(),
            tools: Vec::new(),
            turn_detection: json!({ "type": "semantic_vad", "eagerness": "low" }),
            temperature: Some(0.7),
            max_output_tokens: None,
            noise_reduction: Some("near_field".into()),
            transcribe_input: true,
        }
    }

    fn client(dialect: Dialect) -> OpenAiRealtime {
        OpenAiRealtime {
            base_url: "https://api.openai.com/v1".into(),
            api_key: "k".into(),
            default_model: "gpt-realtime".into(),
            dialect,
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn session_update_follows_the_dialect() {
        let beta = client(Dialect::Beta).session_update(&settings());
        assert_eq!(beta["session"]["input_audio_format"], "g711_ulaw");
        assert_eq!(beta["session"]["turn_detection"]["type"], "semantic_vad");
        assert_eq!(beta["session"]["tools"][0]["name"], END_CALL_TOOL);
        let ga = client(Dialect::Ga).session_update(&settings());
        assert_eq!(ga["session"]["type"], "realtime");
        assert_eq!(ga["session"]["audio"]["input"]["format"]["type"], "audio/pcmu");
        assert_eq!(ga["session"]["audio"]["output"]["voice"], "marin");
        assert_eq!(ga["session"]["audio"]["input"]["turn_detection"]["eagerness"], "low");
    }

    #[test]
    fn both_generations_of_server_events_are_understood() {
        for name in ["response.audio.delta", "response.output_audio.delta"] {
            let ev = server_event(&json!({ "type": name, "item_id": "i1", "delta": B64.encode([1u8, 2]) }).to_string());
            assert_eq!(
                ev,
                Some(S2sEvent::Audio {
                    item_id: "i1".into(),
                    audio: vec![1, 2]
                })
            );
        }
        for name in [
            "response.audio_transcript.done",
            "response.output_audio_transcript.done",
        ] {
            let ev = server_event(&json!({ "type": name, "item_id": "i1", "transcript": "hi" }).to_string());
            assert!(matches!(ev, Some(S2sEvent::TranscriptDone { text, .. }) if text == "hi"));
        }
        assert!(matches!(server_event("{not json"), Some(S2sEvent::Error(_))));
        assert_eq!(
            server_event(&json!({ "type": "rate_limits.updated" }).to_string()),
            None
        );
        let call = server_event(
            &json!({ "type": "response.function_call_arguments.done", "call_id": "c1", "name": "x", "arguments": "{\"a\":1}" })
                .to_string(),
        );
        assert!(matches!(call, Some(S2sEvent::ToolCall { arguments, .. }) if arguments["a"] == 1));
    }
}
