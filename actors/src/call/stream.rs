//! The media stream's side of the call: attaching the stream (and moving the actor to its
//! arbiter), caller frames through VAD and turn detection, barge-in (pause, resume or
//! yield), echoed marks, and the stream's end.

use std::time::{Duration, Instant};

use actix::prelude::*;
use serde_json::json;

use super::{
    CallActor, PREROLL_BYTES, Paused, TurnMetrics,
    messages::{AttachError, AttachStream, MarkIn, MediaIn, MediaOut, StreamNote, StreamStopped},
    play, speaking,
    state::{CallStatus, Event},
    stats,
};
use crate::audio::vad::{self, TurnEvent};

/// How long an actor that moved keeps passing on messages sent before the move.
const MOVED_GRACE: Duration = Duration::from_secs(10);
/// Out-of-order or malformed frames noted in the timeline before only counting them.
const MAX_NOTES: u32 = 20;

impl CallActor {
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
            self.snap.usage.caller_speech_ms += u64::from(frame_ms);
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
            && let Some(supervision) = &self.supervision
            && let Some(addr) =
                supervision.relocate(&home.arbiter, self.setup.clone(), self.ports.clone(), self.snap.clone())
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
        let before = u.heard_ms();
        u.heard_segments = u.heard_segments.max(segment + 1);
        self.snap.usage.agent_audio_ms += u.heard_ms().saturating_sub(before);
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
