//! The traditional pipeline: the greeting, then STT → LLM (→ tools) → TTS as async steps,
//! each tagged with the generation it was started in, and their results back in the actor;
//! a stale result (after a barge-in or a newer turn) is dropped. The agent's words go out
//! as segments, each followed by its mark.

use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::{Value, json};

use super::{
    CallActor,
    chat::{ChatRole, ChatTurn},
    elapsed_ms,
    messages::{Replied, Retrieval, Synthesized, ToolDone, Transcribed},
    play,
    ports::LlmRequest,
    snapshot::Speaker,
    speaking::{self, Utterance},
    state::Event,
};
use crate::audio::vad;

/// A retrieval slower than this is given up: the reply goes ahead without it.
const RETRIEVAL_TIMEOUT: Duration = Duration::from_millis(400);

impl CallActor {
    pub(super) fn greet(&mut self, ctx: &mut Context<Self>) {
        if self.greeted {
            return;
        }
        self.greeted = true;
        if self.is_s2s() {
            self.s2s_start(ctx);
            return;
        }
        self.busy = true;
        match self.setup.first_message.clone() {
            Some(text) => self.synthesize(text, true, false, None, ctx),
            None => self.request_reply(ctx),
        }
    }

    fn synthesize(
        &mut self,
        text: String,
        greeting: bool,
        end_call: bool,
        with_tools: Option<String>,
        ctx: &mut Context<Self>,
    ) {
        let generation = self.generation;
        let tts = self.ports.tts.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            let started = Instant::now();
            let audio = tts.synthesize(&text).await.map_err(|e| e.to_string());
            addr.do_send(Synthesized {
                generation,
                text,
                audio,
                tts_ms: elapsed_ms(started),
                end_call,
                greeting,
                with_tools,
            });
        });
    }

    fn request_reply(&mut self, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let llm = self.ports.llm.clone();
        let mut req = LlmRequest {
            system_prompt: self.setup.system_prompt.clone(),
            first_message: self.setup.first_message.clone(),
            conversation: self.snap.conversation.clone(),
            tools: self.setup.tools.clone(),
            knowledge: Vec::new(),
        };
        // The caller's words, when a caller turn is what is answered.
        let asked = self
            .snap
            .conversation
            .last()
            .filter(|t| t.role == ChatRole::User && !t.content.trim().is_empty())
            .map(|t| t.content.clone());
        let knowledge = self.ports.knowledge.clone().zip(asked);
        let addr = ctx.address();
        actix::spawn(async move {
            let retrieval = match knowledge {
                Some((kb, asked)) => {
                    let started = Instant::now();
                    let found = tokio::time::timeout(RETRIEVAL_TIMEOUT, kb.retrieve(&asked)).await;
                    let ms = elapsed_ms(started);
                    let (chunk_ids, error) = match found {
                        Ok(Ok(passages)) => {
                            let ids = passages.iter().map(|p| p.chunk_id.clone()).collect();
                            req.knowledge = passages;
                            (ids, None)
                        }
                        Ok(Err(e)) => (Vec::new(), Some(e.to_string())),
                        Err(_) => (
                            Vec::new(),
                            Some(format!("timed out after {} ms", RETRIEVAL_TIMEOUT.as_millis())),
                        ),
                    };
                    Some(Retrieval { chunk_ids, ms, error })
                }
                None => None,
            };
            let started = Instant::now();
            let reply = llm.respond(&req).await.map_err(|e| e.to_string());
            addr.do_send(Replied {
                generation,
                reply,
                llm_ms: elapsed_ms(started),
                retrieval,
            });
        });
    }

    pub(super) fn transcribe(&mut self, audio: Vec<u8>, partial: bool, ctx: &mut Context<Self>) {
        let generation = self.generation;
        let stt = self.ports.stt.clone();
        let addr = ctx.address();
        actix::spawn(async move {
            let started = Instant::now();
            let audio_ms = vad::ms_of(audio.len());
            let text = stt.transcribe(&audio).await.map_err(|e| e.to_string());
            addr.do_send(Transcribed {
                generation,
                text,
                audio_ms,
                stt_ms: elapsed_ms(started),
                partial,
            });
        });
    }

    /// Sends an utterance as segments, each followed by its mark (held while paused).
    fn speak(&mut self, text: String, audio: Vec<u8>, greeting: bool, end_call: bool, with_tools: Option<&str>) {
        let Some(sink) = self.sink.clone() else {
            return;
        };
        self.next_utterance += 1;
        let id = self.next_utterance;
        let ends = speaking::segment_ends(&text);
        if let Some(t) = self.turn_ended_at.take() {
            let m = std::mem::take(&mut self.metrics);
            self.note(
                "turn",
                json!({
                    "callerText": m.caller_text, "agentText": text,
                    "sttMs": m.stt_ms, "llmMs": m.llm_ms, "ttsMs": m.tts_ms, "retrievalMs": m.retrieval_ms,
                    "endOfTurnToFirstAudioMs": elapsed_ms(t),
                }),
            );
        } else if greeting {
            self.note("greeting", json!({ "text": text }));
        }
        self.snap.usage.tts_characters += text.len() as u64;
        let at_ms = self.since_answer_ms();
        let transcript_seq = self.snap.say(Speaker::Agent, text.clone(), at_ms, false);
        // Text that came with tool calls is already in their turn (before the results).
        let in_turn = with_tools.and_then(|id| {
            self.snap
                .conversation
                .iter()
                .rposition(|t| t.tool_calls.first().is_some_and(|c| c.id == id))
        });
        let conversation_index = in_turn.unwrap_or_else(|| {
            self.snap
                .conversation
                .push(ChatTurn::new(ChatRole::Assistant, text.clone()));
            self.snap.conversation.len() - 1
        });
        self.barged = false;
        let utterance = Utterance {
            id,
            segment_ends: ends,
            text,
            audio,
            heard_segments: 0,
            greeting,
            end_call,
            transcript_seq,
            conversation_index,
        };
        if self.paused.is_none() {
            play(&sink, &utterance, 0);
        }
        self.speaking.push(utterance);
    }
}

impl Handler<Transcribed> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Transcribed, ctx: &mut Self::Context) {
        if msg.generation != self.generation || self.snap.status.is_terminal() {
            return;
        }
        self.snap.usage.stt_ms += msg.audio_ms;
        self.metrics.stt_ms = msg.stt_ms;
        match msg.text {
            Err(e) => {
                self.busy = false;
                self.note("provider_error", json!({ "component": "stt", "error": e }));
            }
            Ok(text) if text.is_empty() => {
                self.busy = false;
                self.note("unintelligible", json!({ "audioMs": msg.audio_ms }));
            }
            Ok(text) => {
                let at_ms = self.since_answer_ms().saturating_sub(msg.audio_ms);
                self.snap.say(Speaker::Caller, text.clone(), at_ms, msg.partial);
                self.snap.conversation.push(ChatTurn::new(ChatRole::User, text.clone()));
                self.metrics.caller_text = text;
                if !msg.partial {
                    self.request_reply(ctx);
                }
            }
        }
        if let Some(reason) = self.ending.take() {
            self.finish(Event::Completed, &reason, ctx);
        } else {
            self.checkpoint(Vec::new(), false, ctx);
        }
    }
}

impl Handler<Replied> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Replied, ctx: &mut Self::Context) {
        if msg.generation != self.generation || self.snap.status.is_terminal() {
            return;
        }
        self.metrics.llm_ms += msg.llm_ms;
        if let Some(r) = msg.retrieval {
            self.metrics.retrieval_ms += r.ms;
            // Recorded when it found something or failed (an organisation without
            // knowledge leaves no trace).
            if !r.chunk_ids.is_empty() || r.error.is_some() {
                self.note(
                    "knowledge",
                    json!({ "chunkIds": r.chunk_ids, "retrievalMs": r.ms, "error": r.error }),
                );
            }
        }
        let reply = match msg.reply {
            Ok(r) => r,
            Err(e) => {
                self.busy = false;
                self.note("provider_error", json!({ "component": "llm", "error": e }));
                return;
            }
        };
        self.snap.usage.llm_requests += 1;
        self.snap.usage.llm_input_tokens += reply.input_tokens;
        self.snap.usage.llm_output_tokens += reply.output_tokens;
        let greeting = !self.snap.conversation.iter().any(|t| t.role == ChatRole::User);
        self.pending_tools = reply.tool_calls.len();
        let calls: Vec<_> = reply
            .tool_calls
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                if c.id.is_empty() {
                    c.id = format!("call_{}_{i}", self.snap.usage.tool_calls + 1);
                }
                c
            })
            .collect();
        if !calls.is_empty() {
            // Recorded before the results, with the text said alongside ("Let me look."):
            // provider APIs pair each result with its call, and the text must not land
            // after the results when its audio comes back later than they do.
            let mut turn = ChatTurn::tool_calls(calls.clone());
            turn.content.clone_from(&reply.text);
            self.snap.conversation.push(turn);
        }
        if !reply.text.is_empty() {
            let end_call = reply.end_call && calls.is_empty();
            let with_tools = calls.first().map(|c| c.id.clone());
            self.synthesize(reply.text, greeting, end_call, with_tools, ctx);
        } else if calls.is_empty() {
            self.busy = false;
            if reply.end_call {
                self.end_by_agent("agent_ended", ctx);
            }
        }
        for call in calls {
            self.snap.usage.tool_calls += 1;
            let tools = self.ports.tools.clone();
            let addr = ctx.address();
            let generation = self.generation;
            let call_id = self.setup.call_id.clone();
            actix::spawn(async move {
                let outcome = tools.invoke(&call_id, &call.name, call.arguments.clone()).await;
                addr.do_send(ToolDone {
                    generation,
                    call_id: call.id,
                    name: call.name,
                    arguments: call.arguments,
                    outcome,
                });
            });
        }
    }
}

impl Handler<ToolDone> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: ToolDone, ctx: &mut Self::Context) {
        let o = &msg.outcome;
        self.note(
            "tool_call",
            json!({
                "name": msg.name, "arguments": msg.arguments, "success": o.ok,
                "statusCode": o.status_code, "elapsedMs": o.elapsed_ms, "error": o.error,
                "response": o.result, "stale": msg.generation != self.generation,
            }),
        );
        if msg.generation != self.generation || self.snap.status.is_terminal() {
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
        self.snap.conversation.push(turn);
        self.pending_tools = self.pending_tools.saturating_sub(1);
        if self.pending_tools == 0 {
            self.request_reply(ctx);
        }
    }
}

impl Handler<Synthesized> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Synthesized, ctx: &mut Self::Context) {
        if msg.generation != self.generation || self.snap.status.is_terminal() {
            return;
        }
        self.metrics.tts_ms += msg.tts_ms;
        if self.pending_tools == 0 {
            self.busy = false;
        }
        match msg.audio {
            Err(e) => {
                self.note("provider_error", json!({ "component": "tts", "error": e }));
                if msg.end_call {
                    self.end_by_agent("agent_ended", ctx);
                }
            }
            Ok(audio) => {
                self.speak(msg.text, audio, msg.greeting, msg.end_call, msg.with_tools.as_deref());
                self.checkpoint(Vec::new(), false, ctx);
            }
        }
    }
}
