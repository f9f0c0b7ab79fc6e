//! `CallHandle`: the typed handle in front of a `CallActor` (the HTTP and WebSocket code
//! never see the actor's address).

use actix::Addr;
use serde_json::Value;

use super::{CallActor, messages::*, snapshot::CallSnapshotV1};

/// The typed handle the HTTP and WebSocket code uses.
#[derive(Clone)]
pub struct CallHandle {
    addr: Addr<CallActor>,
}

impl CallHandle {
    pub fn new(addr: Addr<CallActor>) -> Self {
        Self { addr }
    }

    pub fn is_alive(&self) -> bool {
        self.addr.connected()
    }

    /// # Errors
    /// `AttachError`, or `Ended` when the actor is gone.
    pub async fn attach(&self, msg: AttachStream) -> Result<(), AttachError> {
        self.addr.send(msg).await.map_err(|_| AttachError::Ended)?
    }

    /// Forwards a caller frame; dropped if the call is gone.
    pub fn media(&self, msg: MediaIn) {
        self.addr.do_send(msg);
    }

    pub fn mark(&self, name: String) {
        self.addr.do_send(MarkIn { name });
    }

    pub fn stream_stopped(&self, reason: &str) {
        self.addr.do_send(StreamStopped {
            reason: reason.to_string(),
        });
    }

    pub fn stream_note(&self, kind: &str, detail: Value) {
        self.addr.do_send(StreamNote {
            kind: kind.to_string(),
            detail,
        });
    }

    pub fn carrier_status(&self, status: &str, provider_call_sid: Option<String>) {
        self.addr.do_send(CarrierStatus {
            status: status.to_string(),
            provider_call_sid,
        });
    }

    pub fn dialed(&self, provider_call_sid: String) {
        self.addr.do_send(Dialed { provider_call_sid });
    }

    pub fn dial_failed(&self, reason: String) {
        self.addr.do_send(DialFailed { reason });
    }

    pub fn hangup(&self, reason: &str) {
        self.addr.do_send(Hangup {
            reason: reason.to_string(),
        });
    }

    /// The live snapshot, if the actor still runs.
    pub async fn snapshot(&self) -> Option<CallSnapshotV1> {
        self.addr.send(GetSnapshot).await.ok()
    }
}
