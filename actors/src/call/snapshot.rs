//! The call's persisted snapshot (versioned, serde tag `v`): lifecycle, usage and the LLM
//! context. Written on every transition and every turn. The transcript and the debug
//! timeline are not part of it: their lines are written to their own tables by the same
//! write, and the snapshot holds only the lines not yet written (or, for the transcript,
//! still changing) — so a long call's memory and each write stay the size of what changed,
//! not of everything that was said.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{chat::ChatTurn, state::CallStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum CallSnapshot {
    #[serde(rename = "1")]
    V1(CallSnapshotV1),
}

/// The current snapshot, borrowed, serialised exactly as [`CallSnapshot`] (no copy of the
/// call's transcript and timeline to write it).
#[derive(Debug, Serialize)]
#[serde(tag = "v")]
pub enum CallSnapshotRef<'a> {
    #[serde(rename = "1")]
    V1(&'a CallSnapshotV1),
}

impl CallSnapshot {
    /// The current version (old versions are upgraded here when there are some). A
    /// snapshot written before the transcript and timeline had their own tables keeps
    /// their lines here: they are numbered, and count as not yet written.
    pub fn into_current(self) -> CallSnapshotV1 {
        match self {
            Self::V1(mut s) => {
                if s.transcript_seq == 0 && !s.transcript.is_empty() {
                    for (n, l) in (1..).zip(s.transcript.iter_mut()) {
                        l.seq = n;
                    }
                    s.transcript_seq = s.transcript.len() as u64;
                }
                if s.timeline_seq == 0 && !s.timeline.is_empty() {
                    for (n, e) in (1..).zip(s.timeline.iter_mut()) {
                        e.seq = n;
                    }
                    s.timeline_seq = s.timeline.len() as u64;
                }
                s
            }
        }
    }
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    Agent,
    Caller,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptEntry {
    /// Its number in the call's transcript, from 1 (0 in snapshots written before the
    /// transcript had its own table).
    #[serde(default)]
    pub seq: u64,
    pub speaker: Speaker,
    pub text: String,
    /// Milliseconds since the call was answered.
    pub at_ms: u64,
    /// The agent was cut off: `text` is what the caller heard.
    pub interrupted: bool,
    /// The caller hung up mid-sentence: `text` is the part heard before.
    pub partial: bool,
}

/// One line of the debug timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    /// Its number in the call's timeline, from 1 (0 in snapshots written before the
    /// timeline had its own table).
    #[serde(default)]
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// `state`, `turn`, `interruption`, `tool_call`, `provider_error`, `stream`, ...
    pub kind: String,
    pub detail: Value,
}

/// Usage per component, from which cost is priced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Connected time.
    pub telephony_ms: u64,
    /// Caller audio transcribed.
    pub stt_ms: u64,
    pub llm_requests: u64,
    pub llm_input_tokens: u64,
    pub llm_output_tokens: u64,
    pub tts_characters: u64,
    pub tool_calls: u64,
    /// Agent audio the caller heard (up to the marks echoed back).
    #[serde(default)]
    pub agent_audio_ms: u64,
    /// Caller audio the voice-activity detector found to be speech.
    #[serde(default)]
    pub caller_speech_ms: u64,
    /// The provider of each component (`stt`, `llm`, `tts`, or `s2s`): what usage is priced by.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub providers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallSnapshotV1 {
    pub call_id: String,
    pub org_id: String,
    pub agent_id: String,
    pub status: CallStatus,
    /// Ownership epoch (fencing token) of the node that wrote this snapshot.
    pub epoch: i64,
    pub provider_call_sid: Option<String>,
    pub stream_sid: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub end_reason: Option<String>,
    /// Transcript lines not yet written, or still changing (the agent's line while it is
    /// played: cut to what was heard on a barge-in). The others are rows of their own
    /// table. Never serialised, like `timeline`.
    #[serde(default, skip_serializing)]
    pub transcript: Vec<TranscriptEntry>,
    /// Transcript lines numbered so far (the last `seq`).
    #[serde(default)]
    pub transcript_seq: u64,
    /// Timeline entries not yet written (the written ones are rows of their own table).
    /// Never serialised: a snapshot stored before that change still has its whole
    /// timeline here, and is read as such.
    #[serde(default, skip_serializing)]
    pub timeline: Vec<TimelineEntry>,
    /// Timeline entries numbered so far (the last `seq`).
    #[serde(default)]
    pub timeline_seq: u64,
    pub usage: Usage,
    /// The LLM context (what the caller actually heard of the agent's turns).
    pub conversation: Vec<ChatTurn>,
}

impl CallSnapshotV1 {
    pub fn new(call_id: &str, org_id: &str, agent_id: &str, status: CallStatus, epoch: i64) -> Self {
        Self {
            call_id: call_id.to_string(),
            org_id: org_id.to_string(),
            agent_id: agent_id.to_string(),
            status,
            epoch,
            provider_call_sid: None,
            stream_sid: None,
            answered_at: None,
            ended_at: None,
            end_reason: None,
            transcript: Vec::new(),
            transcript_seq: 0,
            timeline: Vec::new(),
            timeline_seq: 0,
            usage: Usage::default(),
            conversation: Vec::new(),
        }
    }

    /// Adds a transcript line, numbered after the last one; returns its number.
    pub fn say(&mut self, speaker: Speaker, text: String, at_ms: u64, partial: bool) -> u64 {
        self.transcript_seq += 1;
        self.transcript.push(TranscriptEntry {
            seq: self.transcript_seq,
            speaker,
            text,
            at_ms,
            interrupted: false,
            partial,
        });
        self.transcript_seq
    }

    /// The transcript line numbered `seq`, while it is in memory.
    pub fn line_mut(&mut self, seq: u64) -> Option<&mut TranscriptEntry> {
        self.transcript.iter_mut().find(|l| l.seq == seq)
    }

    /// Whether anything was said yet (written or not: every line is numbered).
    pub fn has_spoken(&self) -> bool {
        self.transcript_seq > 0
    }

    /// Adds a line to the timeline, numbered after the last one.
    pub fn note(&mut self, at: DateTime<Utc>, kind: &str, detail: Value) {
        self.timeline_seq += 1;
        self.timeline.push(TimelineEntry {
            seq: self.timeline_seq,
            at,
            kind: kind.to_string(),
            detail,
        });
    }

    /// Seconds between answer and end (or now, for a live call).
    pub fn duration_secs(&self, now: DateTime<Utc>) -> i64 {
        match self.answered_at {
            Some(a) => (self.ended_at.unwrap_or(now) - a).num_seconds().max(0),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_tagged_with_its_version_and_round_trips() {
        let snap = CallSnapshot::V1(CallSnapshotV1::new("CALL-1", "ORG-1", "AGT-1", CallStatus::Queued, 1));
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["v"], "1");
        assert_eq!(json["status"], "queued");
        let back: CallSnapshot = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, snap);
        let CallSnapshot::V1(current) = &snap;
        assert_eq!(serde_json::to_value(CallSnapshotRef::V1(current)).unwrap(), json);
    }

    #[test]
    fn a_timeline_stored_inside_an_older_snapshot_is_numbered_and_left_to_be_written() {
        let mut old = serde_json::to_value(CallSnapshot::V1(CallSnapshotV1::new(
            "CALL-1",
            "ORG-1",
            "AGT-1",
            CallStatus::InProgress,
            1,
        )))
        .unwrap();
        old.as_object_mut().unwrap().remove("timelineSeq");
        old["timeline"] = serde_json::json!([
            { "at": "2026-11-28T10:00:00Z", "kind": "state", "detail": {} },
            { "at": "2026-11-28T10:00:01Z", "kind": "turn", "detail": {} },
        ]);
        let mut snap = serde_json::from_value::<CallSnapshot>(old).unwrap().into_current();
        assert_eq!(snap.timeline.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        snap.note(Utc::now(), "state", Value::Null);
        assert_eq!((snap.timeline_seq, snap.timeline[2].seq), (3, 3));
        let stored = serde_json::to_value(CallSnapshotRef::V1(&snap)).unwrap();
        assert!(stored.get("timeline").is_none(), "written as rows, not in the snapshot");
    }

    #[test]
    fn a_snapshot_missing_a_field_is_refused_not_defaulted() {
        let json = serde_json::json!({ "v": "1", "callId": "CALL-1" });
        assert!(serde_json::from_value::<CallSnapshot>(json).is_err());
    }
}
