//! Messages of the `CallActor`: from the media stream session, the carrier's status
//! callbacks and the API in; `MediaOut` to the stream session; pipeline results (internal).

use actix::{Message, Recipient};
use serde_json::Value;

use super::{
    ports::{LlmReply, ToolOutcome},
    snapshot::CallSnapshotV1,
};

/// To the media stream session: what to send to the carrier.
#[derive(Debug, Clone, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum MediaOut {
    /// μ-law audio to play.
    Media(Vec<u8>),
    /// A mark the carrier echoes once the audio before it has played.
    Mark(String),
    /// Drop all buffered audio (barge-in).
    Clear,
    /// The call is over: close the socket.
    Close,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error("the stream token does not match the call")]
    BadToken,
    #[error("the call already has a media stream")]
    AlreadyAttached,
    #[error("the call has ended")]
    Ended,
    /// The call's actor moved to the stream's thread: attach again (the handle does).
    #[error("the call moved to its stream's thread")]
    Moved,
}

/// Where a media stream's session runs. The call's actor moves there when the stream
/// attaches, so that its frames never cross threads.
#[derive(Debug, Clone)]
pub struct Home {
    pub arbiter: actix::ArbiterHandle,
    pub thread: std::thread::ThreadId,
}

impl Home {
    /// The current arbiter and thread.
    pub fn current() -> Self {
        Self {
            arbiter: actix::Arbiter::current(),
            thread: std::thread::current().id(),
        }
    }
}

/// The carrier opened the media stream (`start` received).
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<(), AttachError>")]
pub struct AttachStream {
    pub stream_sid: String,
    pub provider_call_sid: Option<String>,
    pub token: String,
    pub sink: Recipient<MediaOut>,
    /// The session's arbiter, where the call's actor should run (`None`: stay).
    pub home: Option<Home>,
}

/// One inbound `media` frame: μ-law bytes and its sequence number, when given.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MediaIn {
    pub sequence: Option<u64>,
    pub payload: Vec<u8>,
    /// When the frame arrived on the socket (the frame-handling delay starts here).
    pub received_at: std::time::Instant,
}

/// An echoed `mark`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MarkIn {
    pub name: String,
}

/// The stream ended (`stop`, or the socket closed).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StreamStopped {
    pub reason: String,
}

/// Something on the stream worth a line in the debug timeline (malformed frame, ...).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct StreamNote {
    pub kind: String,
    pub detail: Value,
}

/// A carrier status callback (`ringing`, `in-progress`, `completed`, `busy`, ...).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct CarrierStatus {
    pub status: String,
    pub provider_call_sid: Option<String>,
}

/// The carrier accepted the call (outbound).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Dialed {
    pub provider_call_sid: String,
}

/// The carrier refused the call.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct DialFailed {
    pub reason: String,
}

/// The call outlived the longest call allowed (its carrier never reported an end): hang
/// up at the carrier and end it as failed.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Overdue {
    pub reason: String,
}

/// End the call now (API, shutdown).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Hangup {
    pub reason: String,
}

/// The current snapshot.
#[derive(Debug, Message)]
#[rtype(result = "CallSnapshotV1")]
pub struct GetSnapshot;

// --- internal: results of the pipeline's async steps, tagged with their generation -------

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Transcribed {
    pub generation: u64,
    pub text: Result<String, String>,
    pub audio_ms: u64,
    pub stt_ms: u64,
    pub partial: bool,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Replied {
    pub generation: u64,
    pub reply: Result<LlmReply, String>,
    pub llm_ms: u64,
    /// The retrieval made before the request, when there was one.
    pub retrieval: Option<Retrieval>,
}

/// What a turn's retrieval found (or why it found nothing), for the timeline.
#[derive(Debug)]
pub(crate) struct Retrieval {
    pub chunk_ids: Vec<String>,
    pub ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct ToolDone {
    pub generation: u64,
    pub call_id: String,
    pub name: String,
    pub arguments: Value,
    pub outcome: ToolOutcome,
}

#[derive(Debug, Message)]
#[rtype(result = "()")]
pub(crate) struct Synthesized {
    pub generation: u64,
    pub text: String,
    pub audio: Result<Vec<u8>, String>,
    pub tts_ms: u64,
    pub end_call: bool,
    pub greeting: bool,
    /// The first tool call of the reply this text came with: its assistant turn already
    /// holds the text (the text stays before the tool results, however late the audio).
    pub with_tools: Option<String>,
}
