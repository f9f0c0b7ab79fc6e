//! `CallActor`: one actor per live call. It owns the lifecycle (pure `state.rs`), the
//! snapshot, and the traditional voice pipeline: VAD and turn detection on caller frames,
//! STT → LLM (→ tools) → TTS as async steps tagged with a generation, barge-in, endCall.
//! The `s2s` pipeline (a realtime session instead of STT/LLM/TTS) lives in `s2s.rs`.

mod handle;
pub mod messages;
mod pipeline;
pub mod s2s;
pub mod snapshot;
pub mod speaking;
pub mod state;
pub mod stats;

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use actix::prelude::*;
use serde_json::{Value, json};

pub use self::handle::CallHandle;
use self::{
    messages::*,
    snapshot::{CallSnapshotV1, Speaker},
    speaking::Utterance,
    state::{CallStatus, DomainEvent, Effect, Event},
};
use crate::{
    audio::vad::{self, TurnDetector, TurnEvent, TurnSettings},
    ports::{ChatRole, ChatTurn, LlmRequest, Ports, S2sSettings, StoreError, ToolDef},
    registry::CallRegistry,
};

/// How often the silence timeout is checked.
pub const SILENCE_CHECK: Duration = Duration::from_millis(200);
/// Speech needed before a caller turn counts as started.
pub const ONSET_MS: u32 = 60;
/// Silence kept before speech (three frames) so the utterance's first symbol is not cut.
const PREROLL_BYTES: usize = 3 * crate::audio::FRAME_BYTES;
/// How long an actor that moved keeps passing on messages sent before the move.
const MOVED_GRACE: Duration = Duration::from_secs(10);
/// Out-of-order or malformed frames noted in the timeline before only counting them.
const MAX_NOTES: u32 = 20;

/// Barge-in settings (`interruptionSettings`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BargeIn {
    pub enabled: bool,
    /// Caller speech that stops the agent's audio at once (a `clear`), before it is known
    /// to be a real interruption.
    pub pause_ms: u32,
    /// Caller speech needed, while the agent talks, before the agent yields for good.
    pub sensitivity_ms: u32,
    /// Silence after a pause that was not confirmed: the speech was noise or a backchannel
    /// and the agent resumes what it had not yet played.
    pub resume_after_ms: u32,
    pub during_greeting: bool,
}

/// The agent's audio is held: the caller started talking over it.
#[derive(Debug, Clone, Copy)]
struct Paused {
    /// Caller speech heard when the audio was cleared.
    speech_ms: u32,
    /// Silence since, while not confirmed.
    silence_ms: u32,
}

/// Everything a call needs to run, resolved from the agent by the application.
#[derive(Debug, Clone)]
pub struct CallSetup {
    pub call_id: String,
    pub org_id: String,
    pub agent_id: String,
    /// Required in the stream's `start.customParameters.token`.
    pub stream_token: String,
    pub system_prompt: String,
    pub first_message: Option<String>,
    pub tools: Vec<ToolDef>,
    /// Silence that ends the caller's turn (`interruptionSettings.minSilenceMs`).
    pub end_silence_ms: u32,
    pub barge_in: BargeIn,
    /// With nobody speaking this long, the agent ends the call.
    pub silence_timeout: Duration,
    pub vad_threshold_rms: f32,
    /// The conversation kept as the LLM's context: older turns are dropped first, so a
    /// long call's context — and memory — stays bounded.
    pub context: speaking::ContextBudget,
    /// Set for `s2s` agents: the realtime session replaces STT → LLM → TTS.
    pub s2s: Option<S2sSettings>,
}

#[derive(Debug, Default, Clone)]
struct TurnMetrics {
    caller_text: String,
    stt_ms: u64,
    llm_ms: u64,
    tts_ms: u64,
}

pub struct CallActor {
    setup: CallSetup,
    ports: Ports,
    registry: Option<CallRegistry>,
    snap: CallSnapshotV1,
    sink: Option<Recipient<MediaOut>>,
    detector: TurnDetector,
    utterance_audio: Vec<u8>,
    /// The last `PREROLL_BYTES` of silence, a ring (no allocation per frame).
    preroll: VecDeque<u8>,
    generation: u64,
    next_utterance: u64,
    speaking: Vec<Utterance>,
    barged: bool,
    paused: Option<Paused>,
    /// A snapshot write is in flight; `dirty`: the snapshot changed since it started.
    writing: bool,
    dirty: bool,
    unsaved_events: Vec<DomainEvent>,
    stop_when_saved: bool,
    busy: bool,
    pending_tools: usize,
    greeted: bool,
    /// Set when the caller hung up mid-sentence: the partial utterance is being transcribed.
    ending: Option<String>,
    last_activity: Instant,
    turn_ended_at: Option<Instant>,
    metrics: TurnMetrics,
    last_seq: Option<u64>,
    /// Media frames received from the stream (noted when it stops).
    frames: u64,
    /// Arrival of the first frame of the caller's current speech (barge-in latency).
    speech_onset: Option<Instant>,
    notes: u32,
    s2s: Option<s2s::S2s>,
    /// The call moved to its media stream's arbiter: this actor only passes messages on.
    moved_to: Option<Addr<CallActor>>,
    context: stats::ContextShare,
}

impl CallActor {
    pub fn new(setup: CallSetup, ports: Ports, snap: CallSnapshotV1, registry: Option<CallRegistry>) -> Self {
        let detector = TurnDetector::new(TurnSettings {
            onset_ms: ONSET_MS,
            end_silence_ms: setup.end_silence_ms,
        });
        // A call restarted from its snapshot has been greeted already.
        let greeted = snap.has_spoken();
        Self {
            setup,
            ports,
            registry,
            snap,
            sink: None,
            detector,
            utterance_audio: Vec::new(),
            preroll: VecDeque::with_capacity(PREROLL_BYTES + crate::audio::FRAME_BYTES),
            generation: 0,
            next_utterance: 0,
            speaking: Vec::new(),
            barged: false,
            paused: None,
            writing: false,
            dirty: false,
            unsaved_events: Vec::new(),
            stop_when_saved: false,
            busy: false,
            pending_tools: 0,
            greeted,
            ending: None,
            last_activity: Instant::now(),
            turn_ended_at: None,
            metrics: TurnMetrics::default(),
            last_seq: None,
            frames: 0,
            speech_onset: None,
            notes: 0,
            s2s: None,
            moved_to: None,
            context: stats::ContextShare::new(&stats::CONTEXT_CHARS),
        }
    }

    fn note(&mut self, kind: &str, detail: Value) {
        let at = self.ports.clock.now();
        self.snap.note(at, kind, detail);
    }

    fn since_answer_ms(&self) -> u64 {
        self.snap.answered_at.map_or(0, |a| {
            u64::try_from((self.ports.clock.now() - a).num_milliseconds()).unwrap_or(0)
        })
    }

    /// Applies a lifecycle event and carries out its effects.
    fn apply(&mut self, event: Event, ctx: &mut Context<Self>) {
        let from = self.snap.status;
        let (next, effects) = match from.on(event) {
            Ok(t) => t,
            Err(e) => {
                self.note(
                    "ignored_event",
                    json!({ "event": event, "status": from, "error": e.to_string() }),
                );
                return;
            }
        };
        let now = self.ports.clock.now();
        self.snap.status = next;
        if next == CallStatus::InProgress {
            self.snap.answered_at = Some(now);
            self.last_activity = Instant::now();
        }
        if next.is_terminal() {
            self.snap.ended_at = Some(now);
            if let Some(a) = self.snap.answered_at {
                self.snap.usage.telephony_ms = u64::try_from((now - a).num_milliseconds()).unwrap_or(0);
            }
        }
        self.note(
            "state",
            json!({ "from": from, "to": next, "event": event, "reason": self.snap.end_reason }),
        );
        let (mut persist, mut stop) = (false, false);
        let mut events = Vec::new();
        for effect in effects {
            match effect {
                Effect::Persist => persist = true,
                Effect::Emit(e) => events.push(e),
                Effect::StartPipeline => {
                    if self.sink.is_some() {
                        self.greet(ctx);
                    }
                }
                Effect::StopPipeline => self.stop_pipeline(),
                Effect::Stop => stop = true,
            }
        }
        if persist {
            self.checkpoint(events, stop, ctx);
        } else if stop {
            ctx.stop();
        }
    }

    /// Writes the snapshot (and `events`) behind the media path: one write at a time, each
    /// with the latest snapshot and every event recorded since the last, in order — so a
    /// slow database delays durability, never the caller's frames. `stop` stops the actor
    /// once everything up to now is written.
    fn checkpoint(&mut self, events: Vec<DomainEvent>, stop: bool, ctx: &mut Context<Self>) {
        self.unsaved_events.extend(events);
        self.stop_when_saved |= stop;
        self.dirty = true;
        if !self.writing {
            self.write(ctx);
        }
    }

    fn write(&mut self, ctx: &mut Context<Self>) {
        self.writing = true;
        self.dirty = false;
        self.trim_context();
        let store = self.ports.store.clone();
        let snap = self.snap.clone();
        // What this write makes durable is dropped from memory once it is committed: the
        // timeline entries in it, and the transcript lines that can no longer change.
        let noted = snap.timeline.len();
        let playing = self.lines_playing();
        let settled: Vec<u64> = snap
            .transcript
            .iter()
            .map(|l| l.seq)
            .filter(|seq| !playing.contains(seq))
            .collect();
        let events = std::mem::take(&mut self.unsaved_events);
        let fut = async move { store.checkpoint(snap, events).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.writing = false;
            match res {
                Ok(()) => {
                    act.snap.timeline.drain(..noted);
                    act.snap.transcript.retain(|l| !settled.contains(&l.seq));
                }
                Err(StoreError::Fenced) => {
                    tracing::warn!(call = %act.setup.call_id, "call owned by a newer epoch; stopping");
                    act.stop_pipeline();
                    ctx.stop();
                    return;
                }
                Err(e) => tracing::error!(call = %act.setup.call_id, error = %e, "call checkpoint failed"),
            }
            if act.dirty {
                act.write(ctx);
            } else if act.stop_when_saved {
                ctx.stop();
            }
        }));
    }

    /// Drops the oldest conversation turns beyond the context budget — never a turn of
    /// audio still playing (it may be cut to what was heard), never the last user turn, and
    /// never a tool result without the call it answers — and counts what is kept.
    fn trim_context(&mut self) {
        let playing = self.speaking.iter().map(|u| u.conversation_index).min();
        let cut = speaking::context_cut(&self.snap.conversation, self.setup.context, playing);
        self.snap.conversation.drain(..cut);
        for u in &mut self.speaking {
            u.conversation_index -= cut;
        }
        let chars: usize = self.snap.conversation.iter().map(ChatTurn::chars).sum();
        self.context.set(chars as u64);
        if cut > 0 {
            self.note("context_trimmed", json!({ "turnsDropped": cut, "chars": chars }));
        }
    }

    /// Nothing in flight that a new actor could not take over from the snapshot: no
    /// pipeline step, no audio, no unwritten change beyond the snapshot itself (a write
    /// already on its way is harmless: the new actor's first write repeats it, and the
    /// rows it adds are idempotent).
    fn at_rest(&self) -> bool {
        !self.busy
            && !self.dirty
            && !self.stop_when_saved
            && self.unsaved_events.is_empty()
            && self.speaking.is_empty()
            && self.pending_tools == 0
            && self.s2s.is_none()
            && self.ending.is_none()
    }

    /// The transcript lines of the agent's audio still playing: cut to what the caller
    /// heard if they barge in, so kept in memory until they are done.
    fn lines_playing(&self) -> Vec<u64> {
        let s2s = self.s2s.as_ref().and_then(s2s::S2s::line_playing);
        self.speaking.iter().map(|u| u.transcript_seq).chain(s2s).collect()
    }

    /// Ends a live call with `reason` (the state machine decides the status).
    fn finish(&mut self, event: Event, reason: &str, ctx: &mut Context<Self>) {
        if self.snap.status.is_terminal() {
            return;
        }
        self.snap.end_reason = Some(reason.to_string());
        self.apply(event, ctx);
    }

    /// The agent ends the call: hang up at the carrier too.
    fn end_by_agent(&mut self, reason: &str, ctx: &mut Context<Self>) {
        if let Some(sid) = self.snap.provider_call_sid.clone() {
            let telephony = self.ports.telephony.clone();
            let call_id = self.setup.call_id.clone();
            actix::spawn(async move {
                if let Err(e) = telephony.hangup(&sid).await {
                    tracing::warn!(call = %call_id, error = %e, "carrier hang-up failed");
                }
            });
        }
        self.finish(Event::Completed, reason, ctx);
    }

    fn stop_pipeline(&mut self) {
        self.generation += 1;
        self.s2s_close();
        self.truncate_to_heard();
        if let Some(sink) = self.sink.take() {
            sink.do_send(MediaOut::Close);
        }
    }

    /// Cuts every utterance still playing down to what was heard (transcript and context).
    fn truncate_to_heard(&mut self) -> Vec<(String, String)> {
        let mut cut = Vec::new();
        let mut drop_turns = Vec::new();
        for u in std::mem::take(&mut self.speaking) {
            let heard = u.heard().to_string();
            if let Some(line) = self.snap.line_mut(u.transcript_seq) {
                line.text.clone_from(&heard);
                line.interrupted = true;
            }
            match self.snap.conversation.get_mut(u.conversation_index) {
                // Unheard: the turn goes, unless it carries tool calls (their results
                // answer them); then only its text does.
                Some(turn) if heard.is_empty() && turn.tool_calls.is_empty() => drop_turns.push(u.conversation_index),
                Some(turn) => turn.content.clone_from(&heard),
                None => {}
            }
            cut.push((u.text, heard));
        }
        drop_turns.sort_unstable();
        for i in drop_turns.into_iter().rev() {
            if i < self.snap.conversation.len() {
                self.snap.conversation.remove(i);
            }
        }
        cut
    }

    fn greet(&mut self, ctx: &mut Context<Self>) {
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
        let req = LlmRequest {
            system_prompt: self.setup.system_prompt.clone(),
            first_message: self.setup.first_message.clone(),
            conversation: self.snap.conversation.clone(),
            tools: self.setup.tools.clone(),
        };
        let addr = ctx.address();
        actix::spawn(async move {
            let started = Instant::now();
            let reply = llm.respond(&req).await.map_err(|e| e.to_string());
            addr.do_send(Replied {
                generation,
                reply,
                llm_ms: elapsed_ms(started),
            });
        });
    }

    fn transcribe(&mut self, audio: Vec<u8>, partial: bool, ctx: &mut Context<Self>) {
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
                    "sttMs": m.stt_ms, "llmMs": m.llm_ms, "ttsMs": m.tts_ms,
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

    /// The caller started talking over the agent: its audio stops now (`clear`), whether
    /// or not this turns out to be an interruption.
    fn pause(&mut self, speech_ms: u32) {
        self.clear();
        // The carrier echoes the flushed audio's marks: under new ids they count for nothing.
        for u in &mut self.speaking {
            self.next_utterance += 1;
            u.id = self.next_utterance;
        }
        self.paused = Some(Paused {
            speech_ms,
            silence_ms: 0,
        });
    }

    /// A pause that was not an interruption: play what the caller has not heard yet.
    fn resume(&mut self) {
        let Some(p) = self.paused.take() else {
            return;
        };
        let mut resent = 0;
        if let Some(sink) = &self.sink {
            for u in &self.speaking {
                resent += play(sink, u, u.heard_segments);
            }
        }
        self.note(
            "false_interruption",
            json!({ "speechMs": p.speech_ms, "resumedAudioMs": vad::ms_of(resent) }),
        );
    }

    /// The interruption is confirmed: the agent yields and keeps only what was heard.
    fn barge_in(&mut self) {
        self.generation += 1;
        self.busy = false;
        self.pending_tools = 0;
        let cleared_after = match self.paused.take() {
            Some(p) => p.speech_ms,
            None => {
                self.clear();
                self.detector.speech_ms()
            }
        };
        let cut = self.truncate_to_heard();
        self.barged = true;
        for (said, heard) in cut {
            self.note(
                "interruption",
                json!({ "said": said, "heard": heard, "speechOnsetToClearMs": cleared_after }),
            );
        }
    }

    /// Stops the agent's audio at the carrier (`clear`), timed from the caller's onset.
    fn clear(&mut self) {
        if let Some(sink) = &self.sink {
            sink.do_send(MediaOut::Clear);
            if let Some(onset) = self.speech_onset {
                stats::BARGE_IN.record(onset.elapsed());
            }
        }
    }

    fn barge_in_allowed(&self) -> bool {
        let b = self.setup.barge_in;
        b.enabled && (b.during_greeting || self.speaking.iter().all(|u| !u.greeting))
    }

    fn on_frame(&mut self, payload: &[u8], received_at: Instant, ctx: &mut Context<Self>) {
        let speech = vad::is_speech(payload, self.setup.vad_threshold_rms);
        if speech && self.detector.speech_ms() == 0 {
            self.speech_onset = Some(received_at);
        }
        let frame_ms = u32::try_from(vad::ms_of(payload.len())).unwrap_or(u32::MAX);
        if speech || self.detector.in_turn() || self.detector.speech_ms() > 0 {
            if self.utterance_audio.is_empty() {
                self.utterance_audio.extend(self.preroll.drain(..));
            }
            self.utterance_audio.extend_from_slice(payload);
        } else {
            self.preroll.extend(payload);
            let excess = self.preroll.len().saturating_sub(PREROLL_BYTES);
            self.preroll.drain(..excess);
        }
        if speech {
            self.last_activity = Instant::now();
        }
        match self.detector.feed(speech, frame_ms) {
            Some(TurnEvent::SpeechStarted) => {}
            Some(TurnEvent::TurnEnded { .. }) => self.on_turn_end(ctx),
            None => {
                if !self.detector.in_turn() && self.detector.speech_ms() == 0 {
                    self.utterance_audio.clear();
                }
            }
        }
        let b = self.setup.barge_in;
        if speech && !self.speaking.is_empty() && !self.barged && self.barge_in_allowed() {
            let run = self.detector.speech_ms();
            match &mut self.paused {
                None if run >= b.pause_ms => self.pause(run),
                Some(p) => p.silence_ms = 0,
                None => {}
            }
            if run >= b.sensitivity_ms {
                self.barge_in();
            }
        } else if let Some(p) = &mut self.paused {
            p.silence_ms += frame_ms;
            if p.silence_ms >= b.resume_after_ms {
                self.resume();
            }
        }
    }

    fn on_media(&mut self, msg: &MediaIn, ctx: &mut Context<Self>) {
        if self.snap.status != CallStatus::InProgress || self.ending.is_some() {
            return;
        }
        if let (Some(seq), Some(last)) = (msg.sequence, self.last_seq)
            && seq <= last
        {
            self.notes += 1;
            if self.notes <= MAX_NOTES {
                self.note("out_of_order_frame", json!({ "sequenceNumber": seq, "after": last }));
            }
            return;
        }
        if msg.sequence.is_some() {
            self.last_seq = msg.sequence;
        }
        if self.is_s2s() {
            self.s2s_frame(&msg.payload);
            return;
        }
        self.on_frame(&msg.payload, msg.received_at, ctx);
    }

    fn on_turn_end(&mut self, ctx: &mut Context<Self>) {
        let audio = std::mem::take(&mut self.utterance_audio);
        if !self.speaking.is_empty() && !self.barged {
            self.note("ignored_speech", json!({ "audioMs": vad::ms_of(audio.len()) }));
            return;
        }
        self.generation += 1;
        self.busy = true;
        self.pending_tools = 0;
        self.turn_ended_at = Some(Instant::now());
        self.metrics = TurnMetrics::default();
        self.transcribe(audio, false, ctx);
    }

    fn check_silence(&mut self, ctx: &mut Context<Self>) {
        if self.moved_to.is_none()
            && self.snap.status == CallStatus::InProgress
            && self.greeted
            && self.ending.is_none()
            && self.speaking.is_empty()
            && !self.busy
            && !self.detector.in_turn()
            && self.last_activity.elapsed() >= self.setup.silence_timeout
        {
            self.note(
                "silence_timeout",
                json!({ "afterMs": self.setup.silence_timeout.as_millis() as u64 }),
            );
            self.end_by_agent("silence_timeout", ctx);
        }
    }
}

/// Sends `u`'s segments from `from` on, each followed by its mark; the bytes sent.
fn play(sink: &Recipient<MediaOut>, u: &Utterance, from: usize) -> usize {
    let mut sent = 0;
    for (k, part) in speaking::split_audio(&u.text, &u.segment_ends, &u.audio)
        .into_iter()
        .enumerate()
        .skip(from)
    {
        sent += part.len();
        sink.do_send(MediaOut::Media(part.to_vec()));
        sink.do_send(MediaOut::Mark(speaking::mark_name(u.id, k)));
    }
    sent
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        ctx.run_interval(SILENCE_CHECK, |act, ctx| act.check_silence(ctx));
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        if std::thread::panicking() || self.moved_to.is_some() {
            // Dropped by a panic: the registry restarts the call (stream and entry kept).
            // Moved: the call lives on in its new actor.
            return Running::Stop;
        }
        if let Some(sink) = self.sink.take() {
            sink.do_send(MediaOut::Close);
        }
        if let Some(registry) = &self.registry {
            registry.remove(&self.setup.call_id);
        }
        Running::Stop
    }
}

impl Handler<AttachStream> for CallActor {
    type Result = Result<(), AttachError>;

    fn handle(&mut self, msg: AttachStream, ctx: &mut Self::Context) -> Self::Result {
        if self.snap.status.is_terminal() {
            return Err(AttachError::Ended);
        }
        if msg.token != self.setup.stream_token {
            return Err(AttachError::BadToken);
        }
        if self.sink.is_some() {
            return Err(AttachError::AlreadyAttached);
        }
        if let Some(home) = &msg.home
            && home.thread != std::thread::current().id()
            && self.at_rest()
            && let Some(registry) = &self.registry
            && let Some(addr) =
                registry.relocate(&home.arbiter, self.setup.clone(), self.ports.clone(), self.snap.clone())
        {
            // Messages already on their way here are passed on until this actor stops.
            self.moved_to = Some(addr);
            ctx.run_later(MOVED_GRACE, |_, ctx| ctx.stop());
            return Err(AttachError::Moved);
        }
        self.sink = Some(msg.sink);
        self.snap.stream_sid = Some(msg.stream_sid.clone());
        if self.snap.provider_call_sid.is_none() {
            self.snap.provider_call_sid = msg.provider_call_sid;
        }
        self.note("stream", json!({ "event": "start", "streamSid": msg.stream_sid }));
        if self.snap.status == CallStatus::InProgress {
            self.greet(ctx);
        } else {
            self.apply(Event::Answered, ctx);
        }
        Ok(())
    }
}

impl Handler<MediaIn> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: MediaIn, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        self.frames += 1;
        self.on_media(&msg, ctx);
        stats::MEDIA.record(msg.received_at.elapsed());
    }
}

impl Handler<MarkIn> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: MarkIn, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        if self.is_s2s() {
            self.s2s_mark(&msg.name, ctx);
            return;
        }
        let Some((id, segment)) = speaking::parse_mark(&msg.name) else {
            return;
        };
        let Some(pos) = self.speaking.iter().position(|u| u.id == id) else {
            return;
        };
        let u = &mut self.speaking[pos];
        u.heard_segments = u.heard_segments.max(segment + 1);
        if !u.finished() {
            return;
        }
        let done = self.speaking.remove(pos);
        self.last_activity = Instant::now();
        if done.end_call && self.speaking.is_empty() {
            self.end_by_agent("agent_ended", ctx);
        }
    }
}

impl Handler<StreamStopped> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: StreamStopped, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        self.note(
            "stream",
            json!({ "event": "stop", "reason": msg.reason, "framesReceived": self.frames }),
        );
        self.sink = None;
        match self.snap.status {
            CallStatus::InProgress if self.ending.is_none() => {
                let audio = std::mem::take(&mut self.utterance_audio);
                self.truncate_to_heard();
                if self.detector.in_turn() || !audio.is_empty() {
                    // The caller hung up mid-sentence: keep what they said.
                    self.ending = Some("caller_hangup".into());
                    self.generation += 1;
                    self.transcribe(audio, true, ctx);
                } else {
                    self.finish(Event::Completed, "caller_hangup", ctx);
                }
            }
            CallStatus::InProgress => {}
            _ => self.finish(Event::Canceled, "stream_stopped", ctx),
        }
    }
}

impl Handler<StreamNote> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: StreamNote, _: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        self.notes += 1;
        if self.notes <= MAX_NOTES {
            self.note(&msg.kind, msg.detail);
        }
    }
}

impl Handler<CarrierStatus> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: CarrierStatus, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        if self.snap.provider_call_sid.is_none() {
            self.snap.provider_call_sid = msg.provider_call_sid;
        }
        self.note("carrier_status", json!({ "status": msg.status }));
        let Some(event) = CallStatus::carrier_event(&msg.status) else {
            return;
        };
        match (self.snap.status, event) {
            (CallStatus::InProgress, Event::Answered) => {}
            (CallStatus::InProgress, Event::Completed) if self.ending.is_some() => {}
            (CallStatus::InProgress, Event::Completed) => self.finish(event, "caller_hangup", ctx),
            (_, e) => {
                if self.snap.end_reason.is_none() && !matches!(e, Event::Ringing | Event::Answered) {
                    self.snap.end_reason = Some(msg.status.clone());
                }
                self.apply(e, ctx);
            }
        }
    }
}

impl Handler<Dialed> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Dialed, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        self.snap.provider_call_sid = Some(msg.provider_call_sid.clone());
        self.note("dialed", json!({ "providerCallSid": msg.provider_call_sid }));
        self.checkpoint(Vec::new(), false, ctx);
    }
}

impl Handler<DialFailed> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: DialFailed, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        self.note(
            "provider_error",
            json!({ "component": "telephony", "error": msg.reason }),
        );
        self.finish(Event::Failed, &msg.reason, ctx);
    }
}

impl Handler<Overdue> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Overdue, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        if self.snap.status.is_terminal() {
            return;
        }
        if let Some(sid) = self.snap.provider_call_sid.clone() {
            let telephony = self.ports.telephony.clone();
            let call_id = self.setup.call_id.clone();
            actix::spawn(async move {
                if let Err(e) = telephony.hangup(&sid).await {
                    tracing::warn!(call = %call_id, error = %e, "carrier hang-up of an overdue call failed");
                }
            });
        }
        self.note("overdue", json!({ "reason": msg.reason }));
        self.finish(Event::Failed, &msg.reason, ctx);
    }
}

impl Handler<Hangup> for CallActor {
    type Result = ();

    fn handle(&mut self, msg: Hangup, ctx: &mut Self::Context) {
        if let Some(to) = &self.moved_to {
            to.do_send(msg);
            return;
        }
        match self.snap.status {
            CallStatus::InProgress => self.end_by_agent(&msg.reason, ctx),
            _ => self.finish(Event::Canceled, &msg.reason, ctx),
        }
    }
}

impl Handler<GetSnapshot> for CallActor {
    type Result = MessageResult<GetSnapshot>;

    fn handle(&mut self, _: GetSnapshot, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.snap.clone())
    }
}
