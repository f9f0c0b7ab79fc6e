//! The webhook actors' supervisor: `WebhookSupervisorActor` starts one `WebhookActor` per
//! active subscription, restarts a crashed one (a bounded number of times per window), runs
//! the outbox dispatcher and the sweep that resumes every queue after a restart. The rest
//! of the program holds its handle, `WebhookSupervisor`.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::Utc;

use super::ports::{DeliveryStore, WebhookSender};
use super::{
    WebhookActor, WebhookConfig,
    messages::{
        ActorStopped, CountActors, EnsureWebhook, Inspect, InspectWebhook, Reload, Shutdown, Stop, Wake, WakeWebhooks,
    },
    snapshot::{EndpointSnapshot, WebhookSnapshot},
};

/// First pause before restarting a crashed actor; doubles with each recent crash.
const RESTART_BACKOFF: Duration = Duration::from_millis(100);
/// Subscriptions the sweep wakes per pass.
const SWEEP_LIMIT: u64 = 10_000;

struct Running {
    addr: Addr<WebhookActor>,
    generation: u64,
}

pub struct WebhookSupervisorActor {
    store: Arc<dyn DeliveryStore>,
    sender: Arc<dyn WebhookSender>,
    config: Arc<WebhookConfig>,
    actors: HashMap<String, Running>,
    /// Recent crash times per subscription (the restart bound).
    crashes: HashMap<String, Vec<Instant>>,
    /// Subscriptions waiting out their restart backoff (the sweep must not start them early).
    restarting: std::collections::HashSet<String>,
    generation: u64,
    dispatching: bool,
    /// A nudge came while a dispatch pass ran: run another when it ends.
    again: bool,
    sweeping: bool,
    loaded: bool,
}

impl WebhookSupervisorActor {
    pub fn new(store: Arc<dyn DeliveryStore>, sender: Arc<dyn WebhookSender>, config: WebhookConfig) -> Self {
        Self {
            store,
            sender,
            config: Arc::new(config),
            actors: HashMap::new(),
            crashes: HashMap::new(),
            restarting: std::collections::HashSet::new(),
            generation: 0,
            dispatching: false,
            again: false,
            sweeping: false,
            loaded: false,
        }
    }

    /// Starts the supervisor on the current arbiter; its handle.
    pub fn launch(self) -> WebhookSupervisor {
        WebhookSupervisor(self.start())
    }

    fn spawn_actor(&mut self, endpoint: EndpointSnapshot, pump: bool, ctx: &mut Context<Self>) {
        if !endpoint.active || self.actors.contains_key(&endpoint.webhook_id) {
            return;
        }
        self.generation += 1;
        let id = endpoint.webhook_id.clone();
        let mut actor = WebhookActor::new(endpoint, self.store.clone(), self.sender.clone(), self.config.clone())
            .supervised_by(ctx.address().recipient(), self.generation);
        if !pump {
            actor = actor.idle_at_start();
        }
        self.actors.insert(
            id,
            Running {
                addr: actor.start(),
                generation: self.generation,
            },
        );
    }

    /// Loads `id` from the store, then starts, reloads or stops its actor. The future ends
    /// once the actor has been told, so what is sent to it afterwards sees the new view.
    fn ensure(&mut self, id: String) -> impl ActorFuture<Self, Output = ()> + 'static {
        let store = self.store.clone();
        let fut = async move { store.endpoint(&id).await.map(|e| (id, e)) };
        fut.into_actor(self).map(|res, act, ctx| match res {
            Ok((id, Some(endpoint))) if endpoint.active => match act.actors.get(&id) {
                Some(running) => running.addr.do_send(Reload(endpoint)),
                None => act.spawn_actor(endpoint, true, ctx),
            },
            Ok((id, _)) => {
                if let Some(running) = act.actors.remove(&id) {
                    running.addr.do_send(Stop);
                }
            }
            Err(e) => tracing::warn!(error = %e, "loading a webhook subscription failed"),
        })
    }

    fn wake(&mut self, ids: Vec<String>, ctx: &mut Context<Self>) {
        for id in ids {
            if let Some(running) = self.actors.get(&id) {
                running.addr.do_send(Wake);
            } else if !self.restarting.contains(&id) && !self.gave_up(&id) {
                ctx.spawn(self.ensure(id));
            }
        }
    }

    /// True while a subscription has used up its restarts for the current window.
    fn gave_up(&mut self, id: &str) -> bool {
        let window = self.config.restart_window;
        match self.crashes.get_mut(id) {
            Some(times) => {
                times.retain(|t| t.elapsed() < window);
                times.len() >= self.config.max_restarts as usize
            }
            None => false,
        }
    }

    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        if self.dispatching || !self.loaded {
            // Asked while a pass runs: one more pass follows it (nudges coalesce).
            self.again |= self.dispatching;
            return;
        }
        self.dispatching = true;
        let store = self.store.clone();
        let limit = self.config.dispatch_batch;
        let fut = async move { store.dispatch(limit, Utc::now()).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            act.dispatching = false;
            match res {
                Ok(report) => {
                    act.wake(report.webhook_ids, ctx);
                    if report.events >= limit || std::mem::take(&mut act.again) {
                        act.dispatch(ctx);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "webhook dispatcher failed"),
            }
        }));
    }

    fn sweep(&mut self, ctx: &mut Context<Self>) {
        if self.sweeping || !self.loaded {
            return;
        }
        self.sweeping = true;
        let store = self.store.clone();
        let fut = async move { store.due_webhooks(Utc::now(), SWEEP_LIMIT).await };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| {
            act.sweeping = false;
            match res {
                Ok(ids) => act.wake(ids, ctx),
                Err(e) => tracing::warn!(error = %e, "webhook sweep failed"),
            }
        }));
    }
}

impl Actor for WebhookSupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let store = self.store.clone();
        let fut = async move { store.active_endpoints().await };
        ctx.wait(fut.into_actor(self).map(|res, act, ctx| {
            match res {
                Ok(endpoints) => {
                    tracing::info!(subscriptions = endpoints.len(), "webhook actors starting");
                    for endpoint in endpoints {
                        act.spawn_actor(endpoint, false, ctx);
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "loading webhook subscriptions failed; the sweep will start them")
                }
            }
            act.loaded = true;
            act.sweep(ctx);
            act.dispatch(ctx);
        }));
        ctx.run_interval(self.config.dispatch_interval, |act, ctx| act.dispatch(ctx));
        ctx.run_interval(self.config.sweep_interval, |act, ctx| act.sweep(ctx));
    }
}

/// Run a dispatch pass now (events were just committed).
#[derive(Message)]
#[rtype(result = "()")]
struct DispatchNow;

impl Handler<DispatchNow> for WebhookSupervisorActor {
    type Result = ();

    fn handle(&mut self, _: DispatchNow, ctx: &mut Self::Context) {
        self.dispatch(ctx);
    }
}

impl Handler<EnsureWebhook> for WebhookSupervisorActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, EnsureWebhook(id): EnsureWebhook, _: &mut Self::Context) -> Self::Result {
        self.crashes.remove(&id);
        Box::pin(self.ensure(id))
    }
}

impl Handler<WakeWebhooks> for WebhookSupervisorActor {
    type Result = ();

    fn handle(&mut self, WakeWebhooks(ids): WakeWebhooks, ctx: &mut Self::Context) {
        self.wake(ids, ctx);
    }
}

impl Handler<ActorStopped> for WebhookSupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ActorStopped, ctx: &mut Self::Context) {
        if self
            .actors
            .get(&msg.webhook_id)
            .is_some_and(|r| r.generation == msg.generation)
        {
            self.actors.remove(&msg.webhook_id);
        }
        if !msg.crashed {
            return;
        }
        if self.gave_up(&msg.webhook_id) {
            tracing::error!(webhook = %msg.webhook_id, "webhook actor keeps crashing; not restarting it for now");
            return;
        }
        let times = self.crashes.entry(msg.webhook_id.clone()).or_default();
        times.push(Instant::now());
        let pause = RESTART_BACKOFF * 2u32.saturating_pow(u32::try_from(times.len()).unwrap_or(16).min(16) - 1);
        tracing::warn!(webhook = %msg.webhook_id, ?pause, "restarting crashed webhook actor");
        self.restarting.insert(msg.webhook_id.clone());
        ctx.run_later(pause, move |act, ctx| {
            act.restarting.remove(&msg.webhook_id);
            ctx.spawn(act.ensure(msg.webhook_id));
        });
    }
}

impl Handler<Shutdown> for WebhookSupervisorActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        for (_, running) in self.actors.drain() {
            running.addr.do_send(Stop);
        }
        ctx.stop();
    }
}

impl Handler<InspectWebhook> for WebhookSupervisorActor {
    type Result = ResponseFuture<Option<WebhookSnapshot>>;

    fn handle(&mut self, InspectWebhook(id): InspectWebhook, _: &mut Self::Context) -> Self::Result {
        let addr = self.actors.get(&id).map(|r| r.addr.clone());
        Box::pin(async move {
            match addr {
                Some(addr) => addr.send(Inspect).await.ok(),
                None => None,
            }
        })
    }
}

impl Handler<CountActors> for WebhookSupervisorActor {
    type Result = usize;

    fn handle(&mut self, _: CountActors, _: &mut Self::Context) -> usize {
        self.actors.len()
    }
}

/// What the HTTP layer holds: messages to the supervisor, never its address type.
#[derive(Clone)]
pub struct WebhookSupervisor(Addr<WebhookSupervisorActor>);

impl WebhookSupervisor {
    /// The subscription was created or changed: (re)load it. Resolves once its actor has
    /// the new view (a rotated secret signs every delivery woken after this returns).
    pub async fn ensure(&self, webhook_id: &str) {
        let _ = self.0.send(EnsureWebhook(webhook_id.to_string())).await;
    }

    /// Events were committed: move them into deliveries now rather than at the next tick.
    pub fn nudge(&self) {
        self.0.do_send(DispatchNow);
    }

    /// Deliveries of these subscriptions are due now (replay, new events).
    pub fn wake(&self, webhook_ids: Vec<String>) {
        self.0.do_send(WakeWebhooks(webhook_ids));
    }

    /// Stops every actor; attempts in flight are retried by the next process.
    pub fn shutdown(&self) {
        self.0.do_send(Shutdown);
    }

    pub async fn inspect(&self, webhook_id: &str) -> Option<WebhookSnapshot> {
        self.0.send(InspectWebhook(webhook_id.to_string())).await.ok().flatten()
    }

    /// Running actors (0 once shut down).
    pub async fn actor_count(&self) -> usize {
        self.0.send(CountActors).await.unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use async_trait::async_trait;
    use chrono::DateTime;

    use super::*;
    use crate::{
        webhook::ports::{AttemptRecord, ClaimedDelivery, DispatchReport, OutgoingMessage, PortError, SendReport},
        webhook::state::{DeliveryStatus, Outcome, RetryPolicy},
    };

    fn endpoint() -> EndpointSnapshot {
        EndpointSnapshot {
            webhook_id: "WHK-1".into(),
            org_id: "ORG-1".into(),
            url: "http://127.0.0.1:9/".into(),
            secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
            active: true,
            failing_since: None,
        }
    }

    /// One delivery, handed out on every claim until it is recorded as delivered.
    #[derive(Default)]
    struct OneDelivery {
        delivered: Mutex<bool>,
    }

    #[async_trait]
    impl DeliveryStore for OneDelivery {
        async fn active_endpoints(&self) -> Result<Vec<EndpointSnapshot>, PortError> {
            Ok(vec![endpoint()])
        }
        async fn endpoint(&self, _: &str) -> Result<Option<EndpointSnapshot>, PortError> {
            Ok(Some(endpoint()))
        }
        async fn dispatch(&self, _: u64, _: DateTime<Utc>) -> Result<DispatchReport, PortError> {
            Ok(DispatchReport::default())
        }
        async fn due_webhooks(&self, _: DateTime<Utc>, _: u64) -> Result<Vec<String>, PortError> {
            Ok(if *self.delivered.lock().unwrap() {
                vec![]
            } else {
                vec!["WHK-1".into()]
            })
        }
        async fn claim(
            &self,
            _: &str,
            _: u64,
            now: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Vec<ClaimedDelivery>, PortError> {
            if *self.delivered.lock().unwrap() {
                return Ok(vec![]);
            }
            Ok(vec![ClaimedDelivery {
                delivery_id: "DLV-1".into(),
                msg_id: "EVT-1".into(),
                event_type: "call.completed".into(),
                payload: "{}".into(),
                round_attempt: 1,
                attempt_number: 1,
                claimed_at: now,
                attempt_id: "ATT-1".into(),
                lease_token: "t".into(),
            }])
        }
        async fn record(&self, results: Vec<AttemptRecord>, _: DateTime<Utc>) -> Result<(), PortError> {
            if results.iter().any(|r| r.delivery_status == DeliveryStatus::Delivered) {
                *self.delivered.lock().unwrap() = true;
            }
            Ok(())
        }
        async fn set_failing_since(&self, _: &str, _: Option<DateTime<Utc>>) -> Result<(), PortError> {
            Ok(())
        }
        async fn disable(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<u64, PortError> {
            Ok(0)
        }
    }

    /// Panics on its first `panics` calls, then answers 200.
    struct Crashing {
        panics: usize,
        calls: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl WebhookSender for Crashing {
        async fn send(&self, _: OutgoingMessage) -> SendReport {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            assert!(n >= self.panics, "sender crash #{n} (injected)");
            SendReport {
                outcome: Outcome::Response {
                    status: 200,
                    retry_after: None,
                    abort: false,
                },
                elapsed: Duration::ZERO,
                body: None,
            }
        }
    }

    fn config(max_restarts: u32) -> WebhookConfig {
        WebhookConfig {
            policy: RetryPolicy::svix(),
            timeout: Duration::from_secs(1),
            batch_size: 8,
            concurrent_batches: 1,
            lease: Duration::from_secs(2),
            dispatch_interval: Duration::from_millis(10),
            dispatch_batch: 10,
            sweep_interval: Duration::from_millis(10),
            max_restarts,
            restart_window: Duration::from_secs(60),
        }
    }

    async fn run(panics: usize, max_restarts: u32, wait: Duration) -> (usize, bool, usize) {
        let store = Arc::new(OneDelivery::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let sender = Arc::new(Crashing {
            panics,
            calls: calls.clone(),
        });
        let handle = WebhookSupervisorActor::new(store.clone(), sender, config(max_restarts)).launch();
        tokio::time::sleep(wait).await;
        let delivered = *store.delivered.lock().unwrap();
        let actors = handle.actor_count().await;
        handle.shutdown();
        (calls.load(Ordering::SeqCst), delivered, actors)
    }

    #[actix_rt::test]
    async fn a_crashed_actor_is_restarted_and_resumes_its_queue() {
        let (calls, delivered, actors) = run(2, 5, Duration::from_millis(1500)).await;

        assert_eq!(calls, 3, "two crashes, then the delivery");
        assert!(delivered);
        assert_eq!(actors, 1);
    }

    #[actix_rt::test]
    async fn restarts_are_bounded() {
        let (calls, delivered, actors) = run(usize::MAX, 2, Duration::from_millis(1500)).await;

        assert_eq!(calls, 3, "the first run and two restarts");
        assert!(!delivered);
        assert_eq!(actors, 0);
    }
}
