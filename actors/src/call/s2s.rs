//! The `s2s` pipeline inside the `CallActor`: a realtime speech-to-speech session (the
//! `SpeechToSpeech` port: OpenAI Realtime, or the sandbox) gets the caller's μ-law frames
//! as they come and sends back the agent's audio, transcripts and tool calls.
//!
//! Barge-in works as in the traditional pipeline: each audio chunk is followed by a mark
//! (`speaking::AudioMarks`), so when the session hears the caller start while the agent
//! talks, the actor sends `clear`, cancels the response and truncates the item to the
//! milliseconds the caller actually heard. Tools go through the same `ToolInvoker`; the
//! `end_call` tool hangs up once the goodbye has played.

use std::time::Instant;

use actix::prelude::*;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    CallActor,
    chat::{ChatRole, ChatTurn},
    elapsed_ms,
    messages::MediaOut,
    ports::{PortError, S2sCommand, S2sEvent, S2sSession, ToolOutcome},
    snapshot::Speaker,
    speaking::{self, AudioMarks},
};
use crate::audio::vad;

/// The tool a realtime model calls to hang up.
pub const END_CALL_TOOL: &str = "end_call";
/// The instructions of the greeting's `response.create`.
pub fn greeting_instructions(text: &str) -> String {
    format!("Say exactly this to the caller, word for word, then stop: \"{text}\"")
}

/// The agent's item being played.
#[derive(Debug)]
struct Playing {
    /// Mark namespace (`u{id}s{k}`), shared with the traditional pipeline's counter.
    id: u64,
    item_id: String,
    marks: AudioMarks,
    text: String,
    transcript_seq: u64,
    greeting: bool,
    audio_done: bool,
    transcript_done: bool,
    /// End of the caller's turn → first agent audio.
    first_audio_ms: Option<u64>,
}

impl S2s {
    /// The transcript line of the agent's item being played, if any.
    pub(super) fn line_playing(&self) -> Option<u64> {
        self.playing.as_ref().map(|p| p.transcript_seq)
    }
}

/// The s2s session state of a call.
#[derive(Debug, Default)]
pub(super) struct S2s {
    tx: Option<UnboundedSender<S2sCommand>>,
    playing: Option<Playing>,
    /// Items cut by a barge-in: their late audio is dropped.
    cut: Vec<String>,
    responding: bool,
    greeting_next: bool,
    end_after: bool,
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct S2sConnected(Result<S2sSession, PortError>);

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(super) struct S2sIn(S2sEvent);

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(super) struct S2sToolDone {
    call_id: String,
    name: String,
    arguments: Value,
    outcome: ToolOutcome,
}

impl S2s {
    fn send(&self, cmd: S2sCommand) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(cmd);
        }
    }
}

impl CallActor {
    pub(super) fn is_s2s(&self) -> bool {
        self.setup.s2s.is_some()
    }

    /// Opens the session; the greeting follows once it is up.
    pub(super) fn s2s_start(&mut self, ctx: &mut Context<Self>) {
        let Some(settings) = self.setup.s2s.clone() else {
            return;
        };
        self.busy = true;
        self.s2s = Some(S2s {
            greeting_next: self.setup.first_message.is_some(),
            ..S2s::default()
        });
        let port = self.ports.s2s.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            let result = port.connect(&settings).await;
            addr.do_send(S2sConnected(result));
        });
    }

    /// A caller frame: straight to the session (its VAD decides turns).
    pub(super) fn s2s_frame(&mut self, payload: &[u8]) {
        if vad::is_speech(payload, self.setup.vad_threshold_rms) {
            self.last_activity = Instant::now();
            self.snap.usage.caller_speech_ms += vad::ms_of(payload.len());
        }
        if let Some(s) = &self.s2s {
            s.send(S2sCommand::Audio(payload.to_vec()));
        }
    }

    pub(super) fn s2s_mark(&mut self, name: &str, ctx: &mut Context<Self>) {
        let Some((id, segment)) = speaking::parse_mark(name) else {
            return;
        };
        let Some(p) = self.s2s.as_mut().and_then(|s| s.playing.as_mut()) else {
            return;
        };
        if p.id != id {
            return;
        }
        let before = p.marks.heard_ms();
        p.marks.echoed(segment);
        let heard = p.marks.heard_ms().saturating_sub(before);
        self.snap.usage.agent_audio_ms += heard;
        self.s2s_maybe_finished(ctx);
    }

    pub(super) fn s2s_close(&mut self) {
        if let Some(s) = self.s2s.take() {
            s.send(S2sCommand::Close);
        }
    }

    /// The item is over once its audio and transcript are complete and all of it played.
    fn s2s_maybe_finished(&mut self, ctx: &mut Context<Self>) {
        let Some(s) = self.s2s.as_mut() else {
            return;
        };
        let done = s
            .playing
            .as_ref()
            .is_some_and(|p| p.audio_done && p.transcript_done && p.marks.all_heard());
        if done {
            s.playing = None;
            self.last_activity = Instant::now();
        }
        let idle = s.playing.is_none() && !s.responding;
        let end = idle && s.end_after;
        if idle {
            self.busy = false;
        }
        if end {
            self.end_by_agent("agent_ended", ctx);
        }
    }

    fn s2s_barge_in(&mut self) {
        let b = self.setup.barge_in;
        let Some(s) = self.s2s.as_mut() else {
            return;
        };
        let Some(p) = s.playing.as_ref() else {
            return;
        };
        if !(b.enabled && (b.during_greeting || !p.greeting)) {
            return;
        }
        let Some(p) = s.playing.take() else {
            return;
        };
        let audio_end_ms = p.marks.heard_ms();
        if let Some(sink) = &self.sink {
            sink.do_send(MediaOut::Clear);
        }
        if s.responding {
            s.send(S2sCommand::Cancel);
        }
        s.send(S2sCommand::Truncate {
            item_id: p.item_id.clone(),
            audio_end_ms,
        });
        s.cut.push(p.item_id.clone());
        if s.cut.len() > 8 {
            s.cut.remove(0);
        }
        s.responding = false;
        let heard = speaking::heard_prefix(&p.text, audio_end_ms, p.marks.sent_ms()).to_string();
        if let Some(line) = self.snap.line_mut(p.transcript_seq) {
            line.text.clone_from(&heard);
            line.interrupted = true;
        }
        if !heard.is_empty() {
            self.snap
                .conversation
                .push(ChatTurn::new(ChatRole::Assistant, heard.clone()));
        }
        self.note(
            "interruption",
            json!({
                "said": p.text, "heard": heard, "audioEndMs": audio_end_ms,
                "sentMs": p.marks.sent_ms(),
            }),
        );
    }

    fn s2s_audio(&mut self, item_id: String, audio: Vec<u8>) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        let Some(s) = self.s2s.as_mut() else {
            return;
        };
        if s.cut.contains(&item_id) || audio.is_empty() {
            return;
        }
        // Audio flowing means a response is being generated (the server may have created
        // it on its own at the end of the caller's turn).
        s.responding = true;
        if s.playing.as_ref().is_none_or(|p| p.item_id != item_id) {
            // A new agent item (the previous one, if any, was complete).
            self.next_utterance += 1;
            let greeting = std::mem::take(&mut s.greeting_next);
            let first_audio_ms = self.turn_ended_at.take().map(elapsed_ms);
            let at_ms = self.since_answer_ms();
            let transcript_seq = self.snap.say(Speaker::Agent, String::new(), at_ms, false);
            let Some(s) = self.s2s.as_mut() else {
                return;
            };
            s.playing = Some(Playing {
                id: self.next_utterance,
                item_id,
                marks: AudioMarks::default(),
                text: String::new(),
                transcript_seq,
                greeting,
                audio_done: false,
                transcript_done: false,
                first_audio_ms,
            });
        }
        let Some(p) = self.s2s.as_mut().and_then(|s| s.playing.as_mut()) else {
            return;
        };
        let segment = p.marks.push(audio.len());
        sink.do_send(MediaOut::Media(audio));
        sink.do_send(MediaOut::Mark(speaking::mark_name(p.id, segment)));
        self.busy = true;
    }

    /// The agent's words of the item being played (complete or not).
    fn s2s_transcript(&mut self, item_id: &str, text: &str, done: bool) {
        let Some(p) = self
            .s2s
            .as_mut()
            .and_then(|s| s.playing.as_mut())
            .filter(|p| p.item_id == item_id)
        else {
            return;
        };
        if done {
            p.text = text.to_string();
            p.transcript_done = true;
        } else {
            p.text.push_str(text);
        }
        let (seq, text, greeting, first_audio_ms) = (p.transcript_seq, p.text.clone(), p.greeting, p.first_audio_ms);
        if let Some(line) = self.snap.line_mut(seq) {
            line.text.clone_from(&text);
        }
        if !done {
            return;
        }
        self.snap.usage.tts_characters += text.len() as u64;
        self.snap
            .conversation
            .push(ChatTurn::new(ChatRole::Assistant, text.clone()));
        if let Some(ms) = first_audio_ms {
            let m = std::mem::take(&mut self.metrics);
            self.note(
                "turn",
                json!({ "callerText": m.caller_text, "agentText": text, "endOfTurnToFirstAudioMs": ms }),
            );
        } else if greeting {
            self.note("greeting", json!({ "text": text }));
        }
    }
}

impl Handler<S2sConnected> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: S2sConnected, ctx: &mut Self::Context) {
        let session = match msg.0 {
            Ok(s) => s,
            Err(e) => {
                self.note("provider_error", json!({ "component": "s2s", "error": e.to_string() }));
                self.s2s = None;
                if !self.snap.status.is_terminal() {
                    self.end_by_agent("provider_error", ctx);
                }
                return;
            }
        };
        let S2sSession { commands, mut events } = session;
        let Some(s) = self.s2s.as_mut() else {
            // The call ended while connecting.
            let _ = commands.send(S2sCommand::Close);
            return;
        };
        let provider = self.ports.s2s.provider().to_string();
        match self.setup.first_message.clone() {
            Some(text) => {
                let _ = commands.send(S2sCommand::Say(text));
            }
            None => {
                let _ = commands.send(S2sCommand::Respond);
            }
        }
        s.responding = true;
        s.tx = Some(commands);
        self.note("s2s", json!({ "event": "connected", "provider": provider }));
        let addr = ctx.address();
        actix::spawn(async move {
            while let Some(event) = events.recv().await {
                if addr.send(S2sIn(event)).await.is_err() {
                    break;
                }
            }
        });
    }
}

impl Handler<S2sIn> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: S2sIn, ctx: &mut Self::Context) {
        if self.s2s.is_none() || self.snap.status.is_terminal() {
            return;
        }
        match msg.0 {
            S2sEvent::SpeechStarted => {
                self.last_activity = Instant::now();
                self.s2s_barge_in();
            }
            S2sEvent::SpeechStopped => {
                self.turn_ended_at = Some(Instant::now());
            }
            S2sEvent::Audio { item_id, audio } => self.s2s_audio(item_id, audio),
            S2sEvent::AudioDone { item_id } => {
                if let Some(p) = self
                    .s2s
                    .as_mut()
                    .and_then(|s| s.playing.as_mut())
                    .filter(|p| p.item_id == item_id)
                {
                    p.audio_done = true;
                }
                self.s2s_maybe_finished(ctx);
            }
            S2sEvent::TranscriptDelta { item_id, text } => self.s2s_transcript(&item_id, &text, false),
            S2sEvent::TranscriptDone { item_id, text } => {
                self.s2s_transcript(&item_id, &text, true);
                self.s2s_maybe_finished(ctx);
            }
            S2sEvent::CallerTranscript { text } => {
                let text = text.trim().to_string();
                if text.is_empty() {
                    return;
                }
                let at_ms = self.since_answer_ms();
                self.snap.say(Speaker::Caller, text.clone(), at_ms, false);
                self.snap.conversation.push(ChatTurn::new(ChatRole::User, text.clone()));
                self.metrics.caller_text = text;
                self.checkpoint(Vec::new(), false, ctx);
            }
            S2sEvent::ToolCall {
                call_id,
                name,
                arguments,
            } => {
                if name == END_CALL_TOOL {
                    self.note("end_call", json!({ "by": "model" }));
                    if let Some(s) = self.s2s.as_mut() {
                        s.end_after = true;
                    }
                    return;
                }
                self.snap.usage.tool_calls += 1;
                self.busy = true;
                let tools = self.ports.tools.clone();
                let addr = ctx.address();
                let own_call = self.setup.call_id.clone();
                actix::spawn(async move {
                    let outcome = tools.invoke(&own_call, &name, arguments.clone()).await;
                    addr.do_send(S2sToolDone {
                        call_id,
                        name,
                        arguments,
                        outcome,
                    });
                });
            }
            S2sEvent::ResponseDone {
                status,
                input_tokens,
                output_tokens,
            } => {
                self.snap.usage.llm_requests += 1;
                self.snap.usage.llm_input_tokens += input_tokens;
                self.snap.usage.llm_output_tokens += output_tokens;
                if status == "failed" {
                    self.note(
                        "provider_error",
                        json!({ "component": "s2s", "error": "the response failed" }),
                    );
                }
                if let Some(s) = self.s2s.as_mut() {
                    s.responding = false;
                    if let Some(p) = s.playing.as_mut() {
                        p.transcript_done = true;
                        p.audio_done = true;
                    }
                }
                self.s2s_maybe_finished(ctx);
                self.checkpoint(Vec::new(), false, ctx);
            }
            S2sEvent::Error(e) => {
                self.note("provider_error", json!({ "component": "s2s", "error": e }));
            }
            S2sEvent::Closed(reason) => {
                self.note(
                    "provider_error",
                    json!({ "component": "s2s", "error": format!("session closed: {reason}") }),
                );
                self.s2s_close();
                self.end_by_agent("provider_error", ctx);
            }
        }
    }
}

impl Handler<S2sToolDone> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: S2sToolDone, _: &mut Self::Context) {
        let o = &msg.outcome;
        self.note(
            "tool_call",
            json!({
                "name": msg.name, "arguments": msg.arguments, "success": o.ok,
                "statusCode": o.status_code, "elapsedMs": o.elapsed_ms, "error": o.error,
                "response": o.result, "stale": false,
            }),
        );
        if self.snap.status.is_terminal() {
            return;
        }
        let turn = match &o.error {
            Some(e) => ChatTurn::tool_failure(&msg.call_id, &msg.name, e),
            None => ChatTurn::tool_result(
                &msg.call_id,
                match &o.result {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            ),
        };
        let output = turn.content.clone();
        self.snap.conversation.push(turn);
        if let Some(s) = self.s2s.as_mut() {
            s.responding = true;
            s.send(S2sCommand::ToolResult {
                call_id: msg.call_id,
                output,
            });
        }
    }
}
