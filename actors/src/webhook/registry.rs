//! `WebhookRegistry`: starts one `WebhookActor` per active subscription, restarts a crashed
//! one (a bounded number of times per window), runs the outbox dispatcher and the sweep
//! that resumes every queue after a restart.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::Utc;

use super::{
    WebhookActor, WebhookConfig,
    messages::{
        ActorStopped, CountActors, EnsureWebhook, Inspect, InspectWebhook, Reload, Shutdown, Stop, Wake, WakeWebhooks,
    },
    snapshot::{EndpointSnapshot, WebhookSnapshot},
};
use crate::ports::{DeliveryStore, WebhookSender};

/// First pause before restarting a crashed actor; doubles with each recent crash.
const RESTART_BACKOFF: Duration = Duration::from_millis(100);
/// Subscriptions the sweep wakes per pass.
const SWEEP_LIMIT: u64 = 10_000;

struct Running {
    addr: Addr<WebhookActor>,
    generation: u64,
}

pub struct WebhookRegistry {
    store: Arc<dyn DeliveryStore>,
    sender: Arc<dyn WebhookSender>,
    config: Arc<WebhookConfig>,
    actors: HashMap<String, Running>,
    /// Recent crash times per subscription (the restart bound).
    crashes: HashMap<String, Vec<Instant>>,
    generation: u64,
    dispatching: bool,
    sweeping: bool,
    loaded: bool,
}

impl WebhookRegistry {
    pub fn new(store: Arc<dyn DeliveryStore>, sender: Arc<dyn WebhookSender>, config: WebhookConfig) -> Self {
        Self {
            store,
            sender,
            config: Arc::new(config),
            actors: HashMap::new(),
            crashes: HashMap::new(),
            generation: 0,
            dispatching: false,
            sweeping: false,
            loaded: false,
        }
    }

    /// Starts the registry on the current arbiter.
    pub fn launch(self) -> WebhookRegistryHandle {
        WebhookRegistryHandle(self.start())
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

    /// Loads `id` from the store, then starts, reloads or stops its actor.
    fn ensure(&mut self, id: String, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let fut = async move { store.endpoint(&id).await.map(|e| (id, e)) };
        ctx.spawn(fut.into_actor(self).map(|res, act, ctx| match res {
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
        }));
    }

    fn wake(&mut self, ids: Vec<String>, ctx: &mut Context<Self>) {
        for id in ids {
            if let Some(running) = self.actors.get(&id) {
                running.addr.do_send(Wake);
            } else if !self.gave_up(&id) {
                self.ensure(id, ctx);
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
                    if report.events >= limit {
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

impl Actor for WebhookRegistry {
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

impl Handler<EnsureWebhook> for WebhookRegistry {
    type Result = ();

    fn handle(&mut self, EnsureWebhook(id): EnsureWebhook, ctx: &mut Self::Context) {
        self.crashes.remove(&id);
        self.ensure(id, ctx);
    }
}

impl Handler<WakeWebhooks> for WebhookRegistry {
    type Result = ();

    fn handle(&mut self, WakeWebhooks(ids): WakeWebhooks, ctx: &mut Self::Context) {
        self.wake(ids, ctx);
    }
}

impl Handler<ActorStopped> for WebhookRegistry {
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
        ctx.run_later(pause, move |act, ctx| act.ensure(msg.webhook_id, ctx));
    }
}

impl Handler<Shutdown> for WebhookRegistry {
    type Result = ();

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) {
        for (_, running) in self.actors.drain() {
            running.addr.do_send(Stop);
        }
        ctx.stop();
    }
}

impl Handler<InspectWebhook> for WebhookRegistry {
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

impl Handler<CountActors> for WebhookRegistry {
    type Result = usize;

    fn handle(&mut self, _: CountActors, _: &mut Self::Context) -> usize {
        self.actors.len()
    }
}

/// What the HTTP layer holds: messages to the registry, never its address type.
#[derive(Clone)]
pub struct WebhookRegistryHandle(Addr<WebhookRegistry>);

impl WebhookRegistryHandle {
    /// The subscription was created or changed: (re)load it.
    pub fn ensure(&self, webhook_id: &str) {
        self.0.do_send(EnsureWebhook(webhook_id.to_string()));
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
