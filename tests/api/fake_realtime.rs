//! A local fake of the OpenAI Realtime WebSocket API, in either event-name generation:
//! `beta` (requires `OpenAI-Beta: realtime=v1`; `response.audio.delta`,
//! `response.audio_transcript.*`) or `ga` (no beta header; `response.output_audio.delta`,
//! `response.output_audio_transcript.*`). It runs its own server VAD on the appended g711
//! μ-law, "hears" with the tone decoder, answers with tone-coded audio streamed at twice
//! real time (so a response can be cancelled mid-way), calls tools, and records every
//! client event for assertions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thruai_actors::audio::{
    tone,
    vad::{self, TurnDetector, TurnEvent, TurnSettings},
};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Request, Response},
};

use crate::fake_ai::{KEY, Move, brain};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Audio per delta: 200 ms.
const CHUNK: usize = 1600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    Beta,
    Ga,
}

impl Generation {
    fn audio_delta(self) -> &'static str {
        match self {
            Self::Beta => "response.audio.delta",
            Self::Ga => "response.output_audio.delta",
        }
    }
    fn audio_done(self) -> &'static str {
        match self {
            Self::Beta => "response.audio.done",
            Self::Ga => "response.output_audio.done",
        }
    }
    fn transcript_delta(self) -> &'static str {
        match self {
            Self::Beta => "response.audio_transcript.delta",
            Self::Ga => "response.output_audio_transcript.delta",
        }
    }
    fn transcript_done(self) -> &'static str {
        match self {
            Self::Beta => "response.audio_transcript.done",
            Self::Ga => "response.output_audio_transcript.done",
        }
    }
}

#[derive(Default)]
pub struct Recorded {
    /// Client events other than `input_audio_buffer.append`.
    pub events: Vec<Value>,
    pub appended_bytes: usize,
    /// The handshake's problems (wrong key, wrong dialect header).
    pub rejected: Vec<String>,
    /// Assistant audio items: (item_id, total ms generated when complete).
    pub items: Vec<(String, u64)>,
    pub query: String,
}

pub struct FakeRealtime {
    /// `http://127.0.0.1:port/v1` (the client opens `ws://…/v1/realtime?model=…`).
    pub base_url: String,
    pub recorded: Arc<Mutex<Recorded>>,
}

impl FakeRealtime {
    pub async fn start(generation: Generation) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let r = recorded.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(session(stream, generation, r.clone()));
            }
        });
        Self {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            recorded,
        }
    }

    pub fn events_of(&self, kind: &str) -> Vec<Value> {
        self.recorded
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect()
    }
}

struct State {
    generation: Generation,
    out: mpsc::UnboundedSender<Value>,
    recorded: Arc<Mutex<Recorded>>,
    tools: Vec<String>,
    detector: TurnDetector,
    utterance: Vec<u8>,
    received_ms: u64,
    next: u64,
    active: Option<Arc<AtomicBool>>,
}

#[allow(clippy::result_large_err)]
async fn session(stream: tokio::net::TcpStream, generation: Generation, recorded: Arc<Mutex<Recorded>>) {
    let problems = Arc::new(Mutex::new(Vec::new()));
    let p2 = problems.clone();
    let r2 = recorded.clone();
    let callback = move |req: &Request, resp: Response| {
        let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        if h("authorization") != Some(format!("Bearer {KEY}")) {
            p2.lock().unwrap().push("bad authorization".to_string());
        }
        let beta = h("openai-beta").as_deref() == Some("realtime=v1");
        if beta != (generation == Generation::Beta) {
            p2.lock().unwrap().push(format!("OpenAI-Beta header present: {beta}"));
        }
        r2.lock().unwrap().query = req.uri().query().unwrap_or_default().to_string();
        Ok(resp)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let problems = problems.lock().unwrap().clone();
    if !problems.is_empty() {
        recorded.lock().unwrap().rejected.extend(problems);
        let _ = sink.close().await;
        return;
    }
    let (out, mut out_rx) = mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        while let Some(v) = out_rx.recv().await {
            if sink.send(Message::Text(v.to_string().into())).await.is_err() {
                break;
            }
        }
    });
    let _ = out.send(json!({ "type": "session.created", "event_id": "ev_0", "session": { "id": "sess_fake" } }));
    let mut st = State {
        generation,
        out,
        recorded,
        tools: Vec::new(),
        detector: TurnDetector::new(TurnSettings {
            onset_ms: 60,
            end_silence_ms: 500,
        }),
        utterance: Vec::new(),
        received_ms: 0,
        next: 0,
        active: None,
    };
    let mut last_tool_output: Option<String> = None;
    while let Some(Ok(msg)) = source.next().await {
        let Message::Text(text) = msg else { continue };
        let Ok(ev) = serde_json::from_str::<Value>(&text) else {
            let _ = st
                .out
                .send(json!({ "type": "error", "error": { "type": "invalid_request_error", "message": "not JSON" } }));
            continue;
        };
        let kind = ev["type"].as_str().unwrap_or_default().to_string();
        if kind == "input_audio_buffer.append" {
            let audio = B64.decode(ev["audio"].as_str().unwrap_or_default()).unwrap_or_default();
            st.recorded.lock().unwrap().appended_bytes += audio.len();
            st.audio(&audio);
            continue;
        }
        st.recorded.lock().unwrap().events.push(ev.clone());
        match kind.as_str() {
            "session.update" => {
                let s = &ev["session"];
                st.tools = s["tools"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect();
                let td = match generation {
                    Generation::Beta => &s["turn_detection"],
                    Generation::Ga => &s["audio"]["input"]["turn_detection"],
                };
                if let Some(ms) = td["silence_duration_ms"].as_u64() {
                    st.detector = TurnDetector::new(TurnSettings {
                        onset_ms: 60,
                        end_silence_ms: u32::try_from(ms).unwrap(),
                    });
                }
                let _ = st.out.send(json!({ "type": "session.updated", "session": s }));
            }
            "response.create" => {
                let instructions = ev["response"]["instructions"].as_str().unwrap_or_default();
                if let (Some(a), Some(b)) = (instructions.find('"'), instructions.rfind('"'))
                    && b > a
                {
                    st.respond(Move::Say(instructions[a + 1..b].to_string()));
                } else if let Some(output) = last_tool_output.take() {
                    st.respond(brain("tool", &output, &st.tools));
                } else {
                    st.respond(Move::Say("Hello from the realtime model.".into()));
                }
            }
            "conversation.item.create" if ev["item"]["type"] == "function_call_output" => {
                last_tool_output = ev["item"]["output"].as_str().map(str::to_string);
            }
            "response.cancel" => match st.active.take() {
                Some(flag) => flag.store(true, Ordering::SeqCst),
                None => {
                    let _ = st
                        .out
                        .send(json!({ "type": "error", "error": { "type": "invalid_request_error",
                        "code": "response_cancel_not_active", "message": "no active response" } }));
                }
            },
            _ => {}
        }
    }
}

impl State {
    fn audio(&mut self, frame: &[u8]) {
        let speech = vad::is_speech(frame, 500.0);
        self.received_ms += vad::ms_of(frame.len());
        if speech || self.detector.in_turn() || self.detector.speech_ms() > 0 {
            self.utterance.extend_from_slice(frame);
        }
        match self.detector.feed(speech, 20) {
            Some(TurnEvent::SpeechStarted) => {
                let _ = self.out.send(json!({ "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": self.received_ms, "item_id": format!("item_user_{}", self.next) }));
            }
            Some(TurnEvent::TurnEnded { .. }) => {
                let item = format!("item_user_{}", self.next);
                let _ = self.out.send(json!({ "type": "input_audio_buffer.speech_stopped", "audio_end_ms": self.received_ms, "item_id": item }));
                let _ = self
                    .out
                    .send(json!({ "type": "input_audio_buffer.committed", "previous_item_id": null, "item_id": item }));
                let heard = tone::decode(&std::mem::take(&mut self.utterance)).trim().to_string();
                let _ = self
                    .out
                    .send(json!({ "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": item, "content_index": 0, "transcript": heard }));
                let reply = brain("user", &heard, &self.tools);
                self.respond(reply);
            }
            None => {
                if !self.detector.in_turn() && self.detector.speech_ms() == 0 {
                    self.utterance.clear();
                }
            }
        }
    }

    /// Streams a response at twice real time; a `response.cancel` stops it.
    fn respond(&mut self, reply: Move) {
        if let Some(flag) = self.active.take() {
            flag.store(true, Ordering::SeqCst);
        }
        self.next += 1;
        let n = self.next;
        let cancelled = Arc::new(AtomicBool::new(false));
        self.active = Some(cancelled.clone());
        let (out, g, recorded) = (self.out.clone(), self.generation, self.recorded.clone());
        tokio::spawn(async move {
            let resp_id = format!("resp_{n}");
            let _ =
                out.send(json!({ "type": "response.created", "response": { "id": resp_id, "status": "in_progress" } }));
            let (text, call, end) = match reply {
                Move::Say(t) => (Some(t), None, false),
                Move::SayAndEnd(t) => (Some(t), None, true),
                Move::Call { name, arguments } => (None, Some((name, arguments)), false),
            };
            let mut status = "completed";
            if let Some(text) = text {
                let item = format!("item_agent_{n}");
                let _ = out.send(json!({ "type": "response.output_item.added", "response_id": resp_id, "output_index": 0,
                    "item": { "id": item, "object": "realtime.item", "type": "message", "role": "assistant", "status": "in_progress" } }));
                let audio = tone::encode(&text);
                let words: Vec<&str> = text.split_inclusive(' ').collect();
                let chunks: Vec<&[u8]> = audio.chunks(CHUNK).collect();
                for (i, chunk) in chunks.iter().enumerate() {
                    if cancelled.load(Ordering::SeqCst) {
                        status = "cancelled";
                        break;
                    }
                    let _ = out.send(
                        json!({ "type": g.audio_delta(), "response_id": resp_id, "item_id": item,
                        "output_index": 0, "content_index": 0, "delta": B64.encode(chunk) }),
                    );
                    if let Some(w) = words.get(i) {
                        let _ = out.send(json!({ "type": g.transcript_delta(), "response_id": resp_id, "item_id": item, "delta": w }));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if status == "completed" {
                    recorded
                        .lock()
                        .unwrap()
                        .items
                        .push((item.clone(), vad::ms_of(audio.len())));
                    let _ = out.send(json!({ "type": g.audio_done(), "response_id": resp_id, "item_id": item }));
                    let _ = out.send(json!({ "type": g.transcript_done(), "response_id": resp_id, "item_id": item, "transcript": text }));
                } else {
                    recorded
                        .lock()
                        .unwrap()
                        .items
                        .push((item.clone(), vad::ms_of(audio.len())));
                }
            }
            if status == "completed" {
                let mut calls = Vec::new();
                if let Some((name, args)) = call {
                    calls.push((format!("call_fake_{n}"), name, args));
                }
                if end {
                    calls.push((format!("call_end_{n}"), "end_call".to_string(), "{}".to_string()));
                }
                for (call_id, name, args) in calls {
                    let item = format!("item_fc_{call_id}");
                    let _ = out.send(
                        json!({ "type": "response.output_item.added", "response_id": resp_id, "output_index": 1,
                        "item": { "id": item, "type": "function_call", "call_id": call_id, "name": name } }),
                    );
                    let (a, b) = args.split_at(args.len() / 2);
                    for part in [a, b] {
                        let _ = out.send(
                            json!({ "type": "response.function_call_arguments.delta", "response_id": resp_id,
                            "item_id": item, "call_id": call_id, "delta": part }),
                        );
                    }
                    let _ = out.send(
                        json!({ "type": "response.function_call_arguments.done", "response_id": resp_id,
                        "item_id": item, "output_index": 1, "call_id": call_id, "name": name, "arguments": args }),
                    );
                }
            }
            let _ = out.send(
                json!({ "type": "response.done", "response": { "id": resp_id, "object": "realtime.response",
                "status": status, "usage": { "total_tokens": 70, "input_tokens": 50, "output_tokens": 20 } } }),
            );
        });
    }
}
