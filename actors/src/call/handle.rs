//! `CallHandle`: the typed handle in front of a `CallActor` (the HTTP and WebSocket code
//! never see the actor's address). The address behind it is swapped when the supervisor
//! restarts a crashed actor, so the media stream keeps talking to the call.

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use actix::{Addr, Recipient};
use serde_json::Value;

use super::{CallActor, messages::*, snapshot::CallSnapshotV1};

struct Inner {
    addr: RwLock<Addr<CallActor>>,
    /// The attached media stream, kept to re-attach it to a restarted actor.
    sink: Mutex<Option<Recipient<MediaOut>>>,
    /// Turns true when the call leaves the supervisor for good (see [`CallHandle::ended`]).
    ended: tokio::sync::watch::Sender<bool>,
}

/// The typed handle the HTTP and WebSocket code uses.
#[derive(Clone)]
pub struct CallHandle {
    inner: Arc<Inner>,
}

impl CallHandle {
    pub fn new(addr: Addr<CallActor>) -> Self {
        Self {
            inner: Arc::new(Inner {
                addr: RwLock::new(addr),
                sink: Mutex::new(None),
                ended: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    fn do_send<M>(&self, msg: M)
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        CallActor: actix::Handler<M>,
    {
        self.inner
            .addr
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .do_send(msg);
    }

    fn addr(&self) -> Addr<CallActor> {
        self.inner.addr.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn replace(&self, addr: Addr<CallActor>) {
        *self.inner.addr.write().unwrap_or_else(PoisonError::into_inner) = addr;
    }

    pub(crate) fn stream_sink(&self) -> Option<Recipient<MediaOut>> {
        self.inner.sink.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn is_alive(&self) -> bool {
        self.addr().connected()
    }

    /// Resolves once the call left the supervisor for good: its actor stopped on purpose
    /// (after writing its final status) or its supervision gave up. Whoever waits for a
    /// call's end (a campaign refilling the slot) learns it at once, without polling.
    pub async fn ended(&self) {
        let mut ended = self.inner.ended.subscribe();
        // The sender lives as long as this handle: the wait ends only with `true`.
        let _ = ended.wait_for(|e| *e).await;
    }

    pub(crate) fn mark_ended(&self) {
        self.inner.ended.send_replace(true);
    }

    /// # Errors
    /// `AttachError`, or `Ended` when the actor is gone.
    pub async fn attach(&self, msg: AttachStream) -> Result<(), AttachError> {
        let sink = msg.sink.clone();
        let again = AttachStream {
            home: None,
            ..msg.clone()
        };
        match self.attach_again(msg).await {
            Err(AttachError::Moved) => self.attach_again(again).await?,
            other => other?,
        }
        *self.inner.sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(sink);
        Ok(())
    }

    pub(crate) async fn attach_again(&self, msg: AttachStream) -> Result<(), AttachError> {
        self.addr().send(msg).await.map_err(|_| AttachError::Ended)?
    }

    /// Forwards a caller frame; dropped if the call is gone.
    pub fn media(&self, msg: MediaIn) {
        self.do_send(msg);
    }

    pub fn mark(&self, name: String) {
        self.do_send(MarkIn { name });
    }

    pub fn stream_stopped(&self, reason: &str) {
        self.do_send(StreamStopped {
            reason: reason.to_string(),
        });
    }

    pub fn stream_note(&self, kind: &str, detail: Value) {
        self.do_send(StreamNote {
            kind: kind.to_string(),
            detail,
        });
    }

    pub fn carrier_status(&self, status: &str, provider_call_sid: Option<String>) {
        self.do_send(CarrierStatus {
            status: status.to_string(),
            provider_call_sid,
        });
    }

    pub fn dialed(&self, provider_call_sid: String) {
        self.do_send(Dialed { provider_call_sid });
    }

    pub fn dial_failed(&self, reason: String) {
        self.do_send(DialFailed { reason });
    }

    /// The call outlived the longest call allowed: hung up at the carrier, ended as failed.
    pub fn overdue(&self, reason: String) {
        self.do_send(Overdue { reason });
    }

    pub fn hangup(&self, reason: &str) {
        self.do_send(Hangup {
            reason: reason.to_string(),
        });
    }

    /// The live snapshot, if the actor still runs.
    pub async fn snapshot(&self) -> Option<CallSnapshotV1> {
        self.addr().send(GetSnapshot).await.ok()
    }
}
