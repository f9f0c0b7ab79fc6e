//! `CallActor`: one actor per live call. It owns the lifecycle (pure `state.rs`) and the
//! snapshot (`snapshot.rs`) and its writes, and runs one of two pipelines: the traditional
//! one (`pipeline.rs`: STT → LLM (→ tools) → TTS as async steps tagged with a generation,
//! endCall) or `s2s` (`s2s.rs`: a realtime session instead of STT/LLM/TTS). The media
//! stream's side — attaching, VAD and turn detection on caller frames, barge-in, marks —
//! is `stream.rs`. Its ports are `ports.rs` (the conversation they carry, `chat.rs`);
//! `CallSupervisor` (`supervisor.rs`) runs, finds and restarts the actors, each behind a
//! `CallHandle` (`handle.rs`).

pub mod chat;
pub mod handle;
pub mod messages;
mod pipeline;
pub mod ports;
pub mod s2s;
pub mod snapshot;
pub mod speaking;
pub mod state;
pub mod stats;
mod stream;
pub mod supervisor;

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use self::{
    chat::ChatTurn,
    messages::*,
    ports::{Ports, S2sSettings, StoreError, ToolDef},
    snapshot::CallSnapshotV1,
    speaking::Utterance,
    state::{CallStatus, DomainEvent, Effect, Event, Transitions},
};
use crate::audio::vad::{TurnDetector, TurnSettings};

/// How often the call's clocks (silence, ring timeout, maximum duration) are checked.
pub const SILENCE_CHECK: Duration = Duration::from_millis(200);
/// Speech needed before a caller turn counts as started.
pub const ONSET_MS: u32 = 60;
/// Silence kept before speech (three frames) so the utterance's first symbol is not cut.
const PREROLL_BYTES: usize = 3 * crate::audio::FRAME_BYTES;

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
    /// The call was placed (outbound) or reached us (inbound) at this time: unanswered
    /// `ring_timeout` later — the carrier never fetched its TwiML, never opened the stream
    /// or never answered — it ends (`failed` while still queued, else `no_answer`).
    pub placed_at: DateTime<Utc>,
    pub ring_timeout: Duration,
    /// The longest an answered call may last: then the agent ends it (`max_duration`).
    pub max_duration: Duration,
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
    retrieval_ms: u64,
}

/// What a `CallActor` asks of its supervisor, handed to it at start (the actor never names
/// the supervisor: `supervisor::CallSupervisor` implements this).
pub trait Supervision: Send + Sync {
    /// The actor stopped on purpose (after writing its final status): the call is over.
    fn ended(&self, call_id: &str);

    /// Starts a new actor for the call on `home` (its media stream's arbiter), taking over
    /// from `snapshot` behind the same handle; its address, or `None` when the call is no
    /// longer supervised.
    fn relocate(
        &self,
        home: &actix::ArbiterHandle,
        setup: CallSetup,
        ports: Ports,
        snapshot: CallSnapshotV1,
    ) -> Option<Addr<CallActor>>;
}

pub struct CallActor {
    setup: CallSetup,
    ports: Ports,
    supervision: Option<Arc<dyn Supervision>>,
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
    pub fn new(
        setup: CallSetup,
        ports: Ports,
        snap: CallSnapshotV1,
        supervision: Option<Arc<dyn Supervision>>,
    ) -> Self {
        let detector = TurnDetector::new(TurnSettings {
            onset_ms: ONSET_MS,
            end_silence_ms: setup.end_silence_ms,
        });
        // A call restarted from its snapshot has been greeted already.
        let greeted = snap.has_spoken();
        let mut snap = snap;
        if snap.usage.providers.is_empty() {
            let named = |component: &str, provider: &str| (component.to_string(), provider.to_string());
            snap.usage.providers = if setup.s2s.is_some() {
                [named("s2s", ports.s2s.provider())].into()
            } else {
                [
                    named("stt", ports.stt.provider()),
                    named("llm", ports.llm.provider()),
                    named("tts", ports.tts.provider()),
                ]
                .into()
            };
        }
        Self {
            setup,
            ports,
            supervision,
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
        self.hang_up_at_carrier();
        self.finish(Event::Completed, reason, ctx);
    }

    fn hang_up_at_carrier(&self) {
        if let Some(sid) = self.snap.provider_call_sid.clone() {
            let telephony = self.ports.telephony.clone();
            let call_id = self.setup.call_id.clone();
            actix::spawn(async move {
                if let Err(e) = telephony.hangup(&sid).await {
                    tracing::warn!(call = %call_id, error = %e, "carrier hang-up failed");
                }
            });
        }
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

    /// The call's clocks: silence, ring timeout, maximum duration.
    fn check_timers(&mut self, ctx: &mut Context<Self>) {
        if self.moved_to.is_some() {
            return;
        }
        let now = self.ports.clock.now();
        let over = |since: DateTime<Utc>, limit: Duration| (now - since).to_std().is_ok_and(|elapsed| elapsed >= limit);
        match self.snap.status {
            status @ (CallStatus::Queued | CallStatus::Ringing)
                if over(self.setup.placed_at, self.setup.ring_timeout) =>
            {
                let (event, reason) = if status == CallStatus::Queued {
                    (Event::Failed, "carrier_timeout")
                } else {
                    (Event::NoAnswer, "ring_timeout")
                };
                self.note(
                    reason,
                    json!({ "afterMs": self.setup.ring_timeout.as_millis() as u64, "status": status,
                            "detail": if status == CallStatus::Queued {
                                "the carrier never fetched the call's TwiML or never opened its media stream"
                            } else {
                                "the call rang and was never answered"
                            } }),
                );
                self.hang_up_at_carrier();
                self.finish(event, reason, ctx);
            }
            CallStatus::InProgress
                if self.ending.is_none() && self.snap.answered_at.is_some_and(|a| over(a, self.setup.max_duration)) =>
            {
                self.note(
                    "max_duration",
                    json!({ "afterMs": self.setup.max_duration.as_millis() as u64 }),
                );
                self.end_by_agent("max_duration", ctx);
            }
            _ => self.check_silence(ctx),
        }
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
        ctx.run_interval(SILENCE_CHECK, |act, ctx| act.check_timers(ctx));
    }

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        if std::thread::panicking() || self.moved_to.is_some() {
            // Dropped by a panic: the supervisor restarts the call (stream and entry kept).
            // Moved: the call lives on in its new actor.
            return Running::Stop;
        }
        if let Some(sink) = self.sink.take() {
            sink.do_send(MediaOut::Close);
        }
        if let Some(supervision) = &self.supervision {
            supervision.ended(&self.setup.call_id);
        }
        Running::Stop
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
        let Some(event) = state::carrier_event(&msg.status) else {
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
