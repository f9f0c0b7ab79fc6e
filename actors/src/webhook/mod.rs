//! `WebhookActor`: one per active subscription. It leases its due deliveries in batches,
//! sends each batch concurrently through the sender port, decides every outcome with the
//! pure state machine (`state.rs`) and records the results; `supervisor.rs` supervises it.

pub mod messages;
pub mod ports;
pub mod snapshot;
pub mod state;
pub mod supervisor;

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use rand::Rng;

use self::{
    messages::{ActorStopped, Inspect, Reload, Stop, Wake},
    snapshot::{EndpointSnapshot, WebhookSnapshot, WebhookSnapshotV1},
    state::{Health, HealthChange, RetryPolicy, decide},
};
use ports::{AttemptRecord, DeliveryStore, OutgoingMessage, PortError, WebhookSender};

/// Pause before retrying after the store failed (the database is down or busy).
const STORE_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Tunables of the webhook machinery, built from the server's `[webhooks]` settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub policy: RetryPolicy,
    /// Per-attempt timeout (whole request, response included).
    pub timeout: Duration,
    /// Deliveries leased and sent concurrently per batch, per subscription.
    pub batch_size: u64,
    /// Batches in flight at once per subscription (claims never overlap: leases).
    pub concurrent_batches: usize,
    /// How long a lease protects an attempt; longer than `timeout`. A crashed node's
    /// attempts are retried once it expires.
    pub lease: Duration,
    /// How often the dispatcher polls the outbox.
    pub dispatch_interval: Duration,
    /// Events moved per dispatcher pass.
    pub dispatch_batch: u64,
    /// How often the supervisor looks for due, unleased deliveries (resumes queues after a
    /// restart, picks up scheduled retries and expired leases).
    pub sweep_interval: Duration,
    /// Crash restarts allowed per subscription within `restart_window`.
    pub max_restarts: u32,
    pub restart_window: Duration,
}

/// Delivers one subscription's events.
pub struct WebhookActor {
    endpoint: EndpointSnapshot,
    health: Health,
    store: Arc<dyn DeliveryStore>,
    sender: Arc<dyn WebhookSender>,
    config: Arc<WebhookConfig>,
    supervisor: Option<(Recipient<ActorStopped>, u64)>,
    pump_on_start: bool,
    /// Batches in flight.
    pumping: usize,
    /// Serialises claims, so parallel batches lease disjoint deliveries instead of racing
    /// for the same rows.
    claim_lock: Arc<tokio::sync::Mutex<()>>,
    wake_again: bool,
    /// Set when the actor stops on purpose; a stop without it is a crash.
    stop_requested: bool,
    timer: Option<(DateTime<Utc>, SpawnHandle)>,
    in_flight: usize,
    sent: u64,
    failed: u64,
}

impl WebhookActor {
    pub fn new(
        endpoint: EndpointSnapshot,
        store: Arc<dyn DeliveryStore>,
        sender: Arc<dyn WebhookSender>,
        config: Arc<WebhookConfig>,
    ) -> Self {
        Self {
            health: Health {
                failing_since: endpoint.failing_since,
            },
            endpoint,
            store,
            sender,
            config,
            supervisor: None,
            pump_on_start: true,
            pumping: 0,
            claim_lock: Arc::default(),
            wake_again: false,
            stop_requested: false,
            timer: None,
            in_flight: 0,
            sent: 0,
            failed: 0,
        }
    }

    /// Reports its stop to `supervisor` with this generation number.
    pub fn supervised_by(mut self, supervisor: Recipient<ActorStopped>, generation: u64) -> Self {
        self.supervisor = Some((supervisor, generation));
        self
    }

    /// Starts idle (the supervisor's sweep wakes it when work is due).
    pub fn idle_at_start(mut self) -> Self {
        self.pump_on_start = false;
        self
    }

    /// Claims and sends a batch. A second batch runs in parallel only when `backlog` says
    /// the last one was full; a wake-up while a batch is in flight just asks for another.
    fn pump(&mut self, ctx: &mut Context<Self>, backlog: bool) {
        let limit = if backlog {
            self.config.concurrent_batches.max(1)
        } else {
            1
        };
        if self.pumping >= limit {
            self.wake_again = true;
            return;
        }
        if !self.endpoint.active || self.stop_requested {
            return;
        }
        self.pumping += 1;
        self.wake_again = false;
        let job = PumpJob {
            claim_lock: self.claim_lock.clone(),
            endpoint: self.endpoint.clone(),
            health: self.health,
            store: self.store.clone(),
            sender: self.sender.clone(),
            config: self.config.clone(),
        };
        self.in_flight = self.pumping * usize::try_from(self.config.batch_size).unwrap_or(usize::MAX);
        // A panic while delivering is a crash: the actor stops and the supervisor restarts it.
        let fut = AssertUnwindSafe(job.run()).catch_unwind();
        ctx.spawn(fut.into_actor(self).map(|result, act, ctx| {
            act.pumping -= 1;
            act.in_flight = act.pumping * usize::try_from(act.config.batch_size).unwrap_or(usize::MAX);
            match result {
                Err(_) => {
                    tracing::error!(webhook = %act.endpoint.webhook_id, "webhook actor panicked; stopping for restart");
                    ctx.stop();
                }
                Ok(Err(e)) => {
                    tracing::warn!(webhook = %act.endpoint.webhook_id, error = %e, "webhook store failed; retrying");
                    let at = Utc::now() + chrono::Duration::from_std(STORE_RETRY_PAUSE).unwrap_or_default();
                    act.schedule(ctx, at);
                }
                Ok(Ok(report)) => act.after_pump(report, ctx),
            }
        }));
    }

    fn after_pump(&mut self, report: PumpReport, ctx: &mut Context<Self>) {
        self.health = report.health;
        self.sent += report.sent;
        self.failed += report.failed;
        if let Some(reason) = report.disabled {
            tracing::warn!(webhook = %self.endpoint.webhook_id, %reason, "webhook endpoint disabled");
            self.endpoint.active = false;
            self.stop_requested = true;
            ctx.stop();
            return;
        }
        let full = report.claimed >= self.config.batch_size;
        if full || self.wake_again {
            self.pump(ctx, full);
            if full {
                // Fill the pipeline: the next batch is claimed while this one is sent.
                self.pump(ctx, true);
            }
        } else if let Some(at) = report.next_due {
            self.schedule(ctx, at);
        }
    }

    /// Wakes the actor at `at`, unless an earlier wake-up is already set.
    fn schedule(&mut self, ctx: &mut Context<Self>, at: DateTime<Utc>) {
        if let Some((current, handle)) = self.timer {
            if current <= at && current > Utc::now() {
                return;
            }
            ctx.cancel_future(handle);
        }
        let delay = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let handle = ctx.run_later(delay, |act, ctx| {
            act.timer = None;
            act.pump(ctx, false);
        });
        self.timer = Some((at, handle));
    }

    fn snapshot(&self) -> WebhookSnapshot {
        WebhookSnapshot::V1(WebhookSnapshotV1 {
            webhook_id: self.endpoint.webhook_id.clone(),
            url: self.endpoint.url.clone(),
            active: self.endpoint.active,
            failing_since: self.health.failing_since,
            in_flight: self.in_flight,
            sent: self.sent,
            failed: self.failed,
        })
    }
}

impl Actor for WebhookActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.pump_on_start {
            self.pump(ctx, false);
        }
    }

    /// Nothing to persist here: every state change was recorded by the store as it happened,
    /// and attempts dropped mid-flight are retried when their lease expires.
    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        if let Some((supervisor, generation)) = &self.supervisor {
            supervisor.do_send(ActorStopped {
                webhook_id: self.endpoint.webhook_id.clone(),
                crashed: !self.stop_requested,
                generation: *generation,
            });
        }
        Running::Stop
    }
}

impl Handler<Wake> for WebhookActor {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.pump(ctx, false);
    }
}

impl Handler<Reload> for WebhookActor {
    type Result = ();

    fn handle(&mut self, Reload(endpoint): Reload, ctx: &mut Self::Context) {
        self.health.failing_since = endpoint.failing_since;
        self.endpoint = endpoint;
        if self.endpoint.active {
            self.pump(ctx, false);
        } else {
            self.stop_requested = true;
            ctx.stop();
        }
    }
}

impl Handler<Stop> for WebhookActor {
    type Result = ();

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) {
        self.stop_requested = true;
        ctx.stop();
    }
}

impl Handler<Inspect> for WebhookActor {
    type Result = MessageResult<Inspect>;

    fn handle(&mut self, _: Inspect, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

/// One claim → send → decide → record cycle, run outside the actor's state.
struct PumpJob {
    claim_lock: Arc<tokio::sync::Mutex<()>>,
    endpoint: EndpointSnapshot,
    health: Health,
    store: Arc<dyn DeliveryStore>,
    sender: Arc<dyn WebhookSender>,
    config: Arc<WebhookConfig>,
}

struct PumpReport {
    claimed: u64,
    sent: u64,
    failed: u64,
    health: Health,
    next_due: Option<DateTime<Utc>>,
    disabled: Option<String>,
}

impl PumpJob {
    async fn run(mut self) -> Result<PumpReport, PortError> {
        let id = self.endpoint.webhook_id.clone();
        let claimed = {
            let _claiming = self.claim_lock.lock().await;
            let now = Utc::now();
            let lease_until = now + chrono::Duration::from_std(self.config.lease).unwrap_or_default();
            self.store.claim(&id, self.config.batch_size, now, lease_until).await?
        };
        let mut report = PumpReport {
            claimed: claimed.len() as u64,
            sent: 0,
            failed: 0,
            health: self.health,
            next_due: None,
            disabled: None,
        };
        if claimed.is_empty() {
            return Ok(report);
        }
        let sends = claimed.iter().map(|d| {
            self.sender.send(OutgoingMessage {
                url: self.endpoint.url.clone(),
                secret: self.endpoint.secret.clone(),
                msg_id: d.msg_id.clone(),
                payload: d.payload.clone(),
                timeout: self.config.timeout,
            })
        });
        let replies = futures_util::future::join_all(sends).await;

        let now = Utc::now();
        let policy = &self.config.policy;
        let mut health_changed = false;
        let mut records = Vec::with_capacity(claimed.len());
        {
            let mut rng = rand::rng();
            for (d, reply) in claimed.into_iter().zip(replies) {
                let decision = decide(
                    policy,
                    d.round_attempt,
                    &reply.outcome,
                    now,
                    rng.random_range(-1.0..=1.0),
                );
                let change = if decision.failure {
                    report.failed += 1;
                    self.health.on_failure(now, policy.disable_after)
                } else {
                    report.sent += 1;
                    self.health.on_success()
                };
                match change {
                    HealthChange::Changed => health_changed = true,
                    HealthChange::Disable => {
                        report
                            .disabled
                            .get_or_insert_with(|| format!("failing continuously for {:?}", policy.disable_after));
                    }
                    HealthChange::Unchanged => {}
                }
                if let Some(reason) = decision.disable {
                    report.disabled = Some(reason);
                }
                if let Some(at) = decision.next_attempt_at {
                    report.next_due = Some(report.next_due.map_or(at, |n| n.min(at)));
                }
                let http_status = match reply.outcome {
                    state::Outcome::Response { status, .. } => Some(status),
                    _ => None,
                };
                records.push(AttemptRecord {
                    webhook_id: id.clone(),
                    org_id: self.endpoint.org_id.clone(),
                    event_id: d.msg_id,
                    event_type: d.event_type,
                    attempt_number: d.attempt_number,
                    started_at: d.claimed_at,
                    delivery_id: d.delivery_id,
                    attempt_id: d.attempt_id,
                    lease_token: d.lease_token,
                    attempt_status: decision.attempt,
                    delivery_status: decision.delivery,
                    http_status,
                    response_time_ms: i64::try_from(reply.elapsed.as_millis()).unwrap_or(i64::MAX),
                    response_body: reply.body,
                    error: decision.error,
                    next_attempt_at: decision.next_attempt_at,
                });
            }
        }
        self.store.record(records, now).await?;
        if let Some(reason) = &report.disabled {
            self.store.disable(&id, reason, now).await?;
        } else if health_changed {
            self.store.set_failing_since(&id, self.health.failing_since).await?;
        }
        report.health = self.health;
        Ok(report)
    }
}
