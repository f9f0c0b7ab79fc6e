//! `CallSupervisor`: the calls' supervisor, and their registry — call id → the live call's
//! handle, shared by every HTTP worker. A map behind a mutex (lookups are a hash probe; no
//! actor hop on the media path). Each actor runs as its own task, watched: when it panics,
//! the supervisor restarts it from its last written snapshot and re-attaches its media
//! stream behind the same handle; an actor that crashes more than `max_restarts` times
//! within `window` is not restarted again — the call is closed as `failed` (`crash_loop`),
//! its stream closed and the carrier leg hung up. The actors reach back only through the
//! `Supervision` interface they are handed. Start-up recovery of calls left open by a dead process is
//! the application's (it owns the store).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use actix::{Addr, ArbiterHandle, Context};
use serde_json::json;

use super::{
    CallActor, CallSetup, Supervision,
    handle::CallHandle,
    messages::{AttachStream, MediaOut},
    ports::Ports,
    snapshot::CallSnapshotV1,
    state::{Effect, Event, Transitions},
};

/// The restart bound of crashed call actors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub max_restarts: u32,
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window: Duration::from_secs(60),
        }
    }
}

/// What the supervisor keeps per call. The call's setup and ports live in its watcher task,
/// not here: ports may reach back to the application state that owns this supervisor.
struct Entry {
    handle: CallHandle,
    crashes: Vec<Instant>,
}

#[derive(Clone, Default)]
pub struct CallSupervisor {
    calls: Arc<Mutex<HashMap<String, Entry>>>,
    policy: RestartPolicy,
}

impl CallSupervisor {
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            calls: Arc::default(),
            policy,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the call's actor on the current arbiter and registers it.
    pub fn start(&self, setup: CallSetup, ports: Ports, snapshot: CallSnapshotV1) -> CallHandle {
        let call_id = setup.call_id.clone();
        let handle = CallHandle::new(self.launch(None, setup, ports, snapshot));
        self.lock().insert(
            call_id,
            Entry {
                handle: handle.clone(),
                crashes: Vec::new(),
            },
        );
        handle
    }

    /// Runs the actor as its own task — on `home`, else on the current arbiter — and
    /// watches it: a panic ends the task with an error instead of taking the arbiter down,
    /// and is reported to [`CallSupervisor::crashed`].
    fn launch(
        &self,
        home: Option<&ArbiterHandle>,
        setup: CallSetup,
        ports: Ports,
        snapshot: CallSnapshotV1,
    ) -> Addr<CallActor> {
        let (tx, rx) = actix::dev::channel::channel(16);
        let supervisor = self.clone();
        let run = move || {
            let ctx = Context::with_receiver(rx);
            let actor = CallActor::new(
                setup.clone(),
                ports.clone(),
                snapshot,
                Some(Arc::new(supervisor.clone())),
            );
            let task = actix::spawn(ctx.into_future(actor));
            actix::spawn(async move {
                if let Err(e) = task.await
                    && e.is_panic()
                {
                    supervisor.crashed(setup, ports).await;
                }
            });
        };
        match home {
            Some(arbiter) => {
                arbiter.spawn_fn(run);
            }
            None => run(),
        }
        Addr::new(tx)
    }

    async fn crashed(&self, setup: CallSetup, ports: Ports) {
        let call_id = &setup.call_id.clone();
        let (handle, crashes) = {
            let mut calls = self.lock();
            let Some(entry) = calls.get_mut(call_id) else {
                return;
            };
            let now = Instant::now();
            entry.crashes.retain(|t| now.duration_since(*t) < self.policy.window);
            entry.crashes.push(now);
            (entry.handle.clone(), entry.crashes.len())
        };
        let last = ports.store.load(call_id).await.ok().flatten();
        let restarts_left = crashes <= self.policy.max_restarts as usize;
        match last {
            Some(snap) if snap.status.is_terminal() => {
                self.remove(call_id);
                handle.close_stream();
            }
            Some(mut snap) if restarts_left => {
                tracing::warn!(call = %call_id, crashes, "call actor crashed; restarting it from its last snapshot");
                snap.note(
                    ports.clock.now(),
                    "actor_restarted",
                    json!({ "crashes": crashes, "windowSecs": self.policy.window.as_secs() }),
                );
                let stream_sid = snap.stream_sid.clone().unwrap_or_default();
                let token = setup.stream_token.clone();
                handle.replace(self.launch(None, setup, ports, snap));
                if let Some(sink) = handle.stream_sink() {
                    let attach = AttachStream {
                        stream_sid,
                        provider_call_sid: None,
                        token,
                        sink,
                        home: None,
                    };
                    if let Err(e) = handle.attach_again(attach).await {
                        tracing::warn!(call = %call_id, error = %e, "re-attaching the media stream failed");
                    }
                }
            }
            last => {
                tracing::error!(call = %call_id, crashes, "call actor keeps crashing; closing the call as failed");
                self.remove(call_id);
                handle.close_stream();
                if let Some(snap) = last {
                    fail(&ports, snap, crashes, self.policy.window).await;
                }
            }
        }
    }

    /// The live call, if any. A call stays registered until its actor stops on purpose or
    /// its supervision gives up; frames sent while it restarts are dropped.
    pub fn get(&self, call_id: &str) -> Option<CallHandle> {
        self.lock().get(call_id).map(|e| e.handle.clone())
    }

    /// Unregisters the call; whoever waits on its [`CallHandle::ended`] is woken.
    pub fn remove(&self, call_id: &str) {
        let entry = self.lock().remove(call_id);
        if let Some(e) = entry {
            e.handle.mark_ended();
        }
    }

    /// Live calls.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of the live calls.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}

impl Supervision for CallSupervisor {
    fn ended(&self, call_id: &str) {
        self.remove(call_id);
    }

    /// Moves a live call's actor to `home` (the arbiter of its media stream, so that the
    /// 50 frames a second never cross threads): a new actor there takes over from
    /// `snapshot` behind the same handle. Only for an actor with nothing in flight.
    fn relocate(
        &self,
        home: &ArbiterHandle,
        setup: CallSetup,
        ports: Ports,
        snapshot: CallSnapshotV1,
    ) -> Option<Addr<CallActor>> {
        let handle = self.get(&setup.call_id)?;
        let addr = self.launch(Some(home), setup, ports, snapshot);
        handle.replace(addr.clone());
        Some(addr)
    }
}

/// Closes a crash-looping call as `failed` with its transcript so far, and hangs up.
async fn fail(ports: &Ports, mut snap: CallSnapshotV1, crashes: usize, window: Duration) {
    let Ok((next, effects)) = snap.status.on(Event::Failed) else {
        return;
    };
    let now = ports.clock.now();
    snap.status = next;
    snap.ended_at = Some(now);
    snap.end_reason = Some("crash_loop".into());
    if let Some(a) = snap.answered_at {
        snap.usage.telephony_ms = u64::try_from((now - a).num_milliseconds()).unwrap_or(0);
    }
    snap.note(
        now,
        "crash_loop",
        json!({ "crashes": crashes, "windowSecs": window.as_secs() }),
    );
    let events: Vec<_> = effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Emit(d) => Some(d),
            _ => None,
        })
        .collect();
    if let Err(e) = ports.store.checkpoint(snap.clone(), events).await {
        tracing::error!(call = %snap.call_id, error = %e, "closing a crash-looping call failed");
    }
    if let Some(sid) = &snap.provider_call_sid
        && let Err(e) = ports.telephony.hangup(sid).await
    {
        tracing::warn!(call = %snap.call_id, error = %e, "carrier hang-up failed");
    }
}

impl CallHandle {
    fn close_stream(&self) {
        if let Some(sink) = self.stream_sink() {
            sink.do_send(MediaOut::Close);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use actix::{Actor, Handler};
    use async_trait::async_trait;
    use chrono::Utc;

    use super::*;
    use crate::call::{
        BargeIn,
        messages::Home,
        ports::{
            self, CallStore, LanguageModel, LlmReply, LlmRequest, PortError, StoreError, SystemClock, Telephony,
            ToolInvoker, ToolOutcome,
        },
        snapshot::{Speaker, TranscriptEntry},
        state::{CallStatus, DomainEvent},
    };

    /// Keeps the last snapshot and, like the real store, the timeline beside it; panics on
    /// the next `panics` checkpoints of a live call.
    #[derive(Default)]
    struct FlakyStore {
        panics: AtomicU32,
        last: Mutex<Option<CallSnapshotV1>>,
        timeline: Mutex<Vec<crate::call::snapshot::TimelineEntry>>,
        transcript: Mutex<Vec<TranscriptEntry>>,
        /// The thread of each write (the actor's: its futures run on its arbiter).
        threads: Mutex<Vec<std::thread::ThreadId>>,
        events: Mutex<Vec<DomainEvent>>,
    }

    #[async_trait]
    impl CallStore for FlakyStore {
        async fn checkpoint(&self, snapshot: CallSnapshotV1, events: Vec<DomainEvent>) -> Result<(), StoreError> {
            if !snapshot.status.is_terminal()
                && self
                    .panics
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                panic!("injected crash while writing the snapshot");
            }
            let mut snapshot = snapshot;
            self.threads.lock().unwrap().push(std::thread::current().id());
            self.timeline.lock().unwrap().append(&mut snapshot.timeline);
            let mut lines = self.transcript.lock().unwrap();
            for line in std::mem::take(&mut snapshot.transcript) {
                match lines.iter_mut().find(|l| l.seq == line.seq) {
                    Some(old) => *old = line,
                    None => lines.push(line),
                }
            }
            *self.last.lock().unwrap() = Some(snapshot);
            self.events.lock().unwrap().extend(events);
            Ok(())
        }

        async fn load(&self, _: &str) -> Result<Option<CallSnapshotV1>, StoreError> {
            Ok(self.last.lock().unwrap().clone())
        }
    }

    struct Silent;

    #[async_trait]
    impl LanguageModel for Silent {
        fn provider(&self) -> &str {
            "test"
        }
        async fn respond(&self, _: &LlmRequest) -> Result<LlmReply, PortError> {
            Err(PortError::new("test", "not used"))
        }
    }

    #[async_trait]
    impl ports::SpeechToSpeech for Silent {
        fn provider(&self) -> &str {
            "test"
        }
        async fn connect(&self, _: &ports::S2sSettings) -> Result<ports::S2sSession, PortError> {
            Err(PortError::new("test", "these calls use the traditional pipeline"))
        }
    }

    #[async_trait]
    impl ToolInvoker for Silent {
        async fn invoke(&self, _: &str, _: &str, _: serde_json::Value) -> ToolOutcome {
            unreachable!("no tools in these tests")
        }
    }

    #[derive(Default)]
    struct Hangups(Mutex<Vec<String>>);

    #[async_trait]
    impl Telephony for Hangups {
        async fn hangup(&self, sid: &str) -> Result<(), PortError> {
            self.0.lock().unwrap().push(sid.to_string());
            Ok(())
        }
    }

    /// The media stream's side: what the call sent.
    struct Sink(Arc<Mutex<Vec<MediaOut>>>);

    impl Actor for Sink {
        type Context = Context<Self>;
    }

    impl Handler<MediaOut> for Sink {
        type Result = ();
        fn handle(&mut self, msg: MediaOut, _: &mut Self::Context) {
            self.0.lock().unwrap().push(msg);
        }
    }

    struct Fixture {
        supervisor: CallSupervisor,
        store: Arc<FlakyStore>,
        hangups: Arc<Hangups>,
        sent: Arc<Mutex<Vec<MediaOut>>>,
        handle: CallHandle,
    }

    async fn live_call(policy: RestartPolicy, panics: u32) -> Fixture {
        live_call_at(policy, panics, None).await
    }

    /// A live, greeted call whose stream attaches from `home` (`None`: where it runs).
    async fn live_call_at(policy: RestartPolicy, panics: u32, home: Option<Home>) -> Fixture {
        let mut snap = CallSnapshotV1::new("CALL-1", "ORG-1", "AGT-1", CallStatus::InProgress, 1);
        snap.answered_at = Some(Utc::now());
        snap.provider_call_sid = Some("CA1".into());
        // Greeted already: its line is written (a row), the snapshot only counts it.
        snap.say(Speaker::Agent, "Hello".into(), 0, false);
        let store = Arc::new(FlakyStore::default());
        store.transcript.lock().unwrap().append(&mut snap.transcript);
        *store.last.lock().unwrap() = Some(snap.clone());
        let hangups = Arc::new(Hangups::default());
        let ports = Ports {
            llm: Arc::new(Silent),
            s2s: Arc::new(Silent),
            stt: Arc::new(ports::ToneStt),
            tts: Arc::new(ports::ToneTts),
            tools: Arc::new(Silent),
            telephony: hangups.clone(),
            store: store.clone(),
            clock: Arc::new(SystemClock),
            knowledge: None,
        };
        let setup = CallSetup {
            call_id: "CALL-1".into(),
            org_id: "ORG-1".into(),
            agent_id: "AGT-1".into(),
            stream_token: "tok".into(),
            system_prompt: String::new(),
            first_message: None,
            tools: Vec::new(),
            end_silence_ms: 500,
            barge_in: BargeIn {
                enabled: true,
                pause_ms: 40,
                sensitivity_ms: 200,
                resume_after_ms: 300,
                during_greeting: true,
            },
            silence_timeout: Duration::from_secs(60),
            placed_at: chrono::Utc::now(),
            ring_timeout: Duration::from_secs(60),
            max_duration: Duration::from_secs(3600),
            vad_threshold_rms: 500.0,
            context: crate::call::speaking::ContextBudget::default(),
            s2s: None,
        };
        let supervisor = CallSupervisor::new(policy);
        let handle = supervisor.start(setup, ports, snap);
        let sent = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink(sent.clone()).start();
        let attach = AttachStream {
            stream_sid: "MZ1".into(),
            provider_call_sid: None,
            token: "tok".into(),
            sink: sink.recipient(),
            home,
        };
        handle.attach(attach).await.unwrap();
        store.panics.store(panics, Ordering::SeqCst);
        Fixture {
            supervisor,
            store,
            hangups,
            sent,
            handle,
        }
    }

    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        for _ in 0..200 {
            if cond() {
                return;
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }

    #[actix_rt::test]
    async fn a_crashed_call_actor_restarts_from_its_snapshot_with_its_stream() {
        let f = live_call(RestartPolicy::default(), 1).await;

        f.handle.dialed("CA1".into()); // its checkpoint panics
        let mut restarted = None;
        for _ in 0..200 {
            match f.handle.snapshot().await {
                Some(s) if s.timeline.iter().any(|t| t.kind == "actor_restarted") => {
                    restarted = Some(s);
                    break;
                }
                _ => actix_rt::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let live = restarted.expect("the actor restarts from its snapshot");
        f.handle.hangup("done");
        until("the hang-up", || f.sent.lock().unwrap().contains(&MediaOut::Close)).await;
        until("the final snapshot", || {
            f.store
                .last
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|s| s.status == CallStatus::Completed)
        })
        .await;

        let timeline = f.store.timeline.lock().unwrap().clone();
        assert!(timeline.iter().any(|t| t.kind == "actor_restarted"), "{timeline:?}");
        let seqs: Vec<u64> = timeline.iter().map(|t| t.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] > w[0]), "numbered in order: {seqs:?}");
        assert_eq!(live.status, CallStatus::InProgress);
        assert_eq!(live.transcript_seq, 1, "restarted as greeted, its line numbering kept");
        assert_eq!(
            f.store.transcript.lock().unwrap().len(),
            1,
            "the transcript so far is kept"
        );
        assert!(f.supervisor.get("CALL-1").is_none(), "gone once it ended");
        assert_eq!(*f.hangups.0.lock().unwrap(), vec!["CA1".to_string()]);
    }

    #[actix_rt::test]
    async fn a_stream_attaching_from_another_arbiter_takes_the_call_there() {
        let arbiter = actix::Arbiter::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        arbiter.spawn_fn(move || {
            let _ = tx.send(std::thread::current().id());
        });
        let home = Home {
            arbiter: arbiter.handle(),
            thread: rx.await.unwrap(),
        };
        assert_ne!(home.thread, std::thread::current().id());
        let f = live_call_at(RestartPolicy::default(), 0, Some(home.clone())).await;

        assert!(f.handle.is_alive());
        assert!(f.supervisor.get("CALL-1").is_some());
        f.handle.mark("u0s0".into());
        f.handle.hangup("done");
        until("the hang-up", || f.sent.lock().unwrap().contains(&MediaOut::Close)).await;
        until("the final snapshot", || {
            f.store
                .last
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|s| s.status == CallStatus::Completed)
        })
        .await;
        let threads = f.store.threads.lock().unwrap().clone();
        assert_eq!(threads.last(), Some(&home.thread), "written from the stream's arbiter");
        assert!(f.supervisor.get("CALL-1").is_none(), "the moved call ends once");
        let timeline = f.store.timeline.lock().unwrap().clone();
        let states = timeline.iter().filter(|t| t.kind == "state").count();
        assert_eq!(states, 1, "one transition, by the new actor: {timeline:?}");
        assert_eq!(
            timeline.iter().filter(|t| t.kind == "stream").count(),
            1,
            "attached once"
        );
        arbiter.stop();
    }

    #[actix_rt::test]
    async fn a_crash_looping_call_is_failed_after_the_restart_bound() {
        let policy = RestartPolicy {
            max_restarts: 2,
            window: Duration::from_secs(60),
        };
        let f = live_call(policy, u32::MAX).await;

        for _ in 0..3 {
            until("a live actor", || f.handle.is_alive()).await;
            f.handle.dialed("CA1".into());
            actix_rt::time::sleep(Duration::from_millis(50)).await;
        }
        until("the call to be failed", || {
            f.store
                .last
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|s| s.status.is_terminal())
        })
        .await;
        let last = f.store.last.lock().unwrap().clone().unwrap();

        assert_eq!(last.status, CallStatus::Failed);
        assert_eq!(last.end_reason.as_deref(), Some("crash_loop"));
        assert_eq!(f.store.transcript.lock().unwrap().len(), 1);
        assert!(f.store.timeline.lock().unwrap().iter().any(|t| t.kind == "crash_loop"));
        assert_eq!(
            *f.store.events.lock().unwrap(),
            vec![DomainEvent::CallFailed, DomainEvent::TranscriptReady]
        );
        assert!(f.sent.lock().unwrap().contains(&MediaOut::Close), "stream closed");
        assert_eq!(*f.hangups.0.lock().unwrap(), vec!["CA1".to_string()]);
        assert!(f.supervisor.get("CALL-1").is_none());
        assert!(!f.handle.is_alive());
    }
}
