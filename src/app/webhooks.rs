//! Outgoing webhooks, server side: the ports the webhook actors need (the sea-orm delivery
//! store and the signed, SSRF-guarded HTTP sender) and the supervisor's start-up.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use thruai_actors::{
    WebhookConfig, WebhookSupervisor, WebhookSupervisorActor,
    webhook::ports::{
        AttemptRecord, ClaimedDelivery, DeliveryStore, DispatchReport, OutgoingMessage, PortError, SendReport,
        WebhookSender,
    },
    webhook::{
        snapshot::EndpointSnapshot,
        state::{Outcome, RetryPolicy, parse_retry_after},
    },
};
use thruai_entities::webhook;

use crate::{
    config::WebhookSettings,
    crypto::{Crypto, CryptoError},
    net::{
        signing::{self, WebhookSecret},
        ssrf::{SsrfError, UrlGuard},
    },
    store::{webhook_deliveries, webhooks},
};

/// `User-Agent` of every webhook request.
pub const USER_AGENT: &str = concat!("ThruAI-Webhooks/", env!("CARGO_PKG_VERSION"));

/// The actors' tunables from the `[webhooks]` settings, with the time scale applied.
pub fn config_from(s: &WebhookSettings) -> WebhookConfig {
    let scale = s.time_scale;
    WebhookConfig {
        policy: RetryPolicy {
            delays: s.retry_schedule.iter().map(|d| d.mul_f64(scale)).collect(),
            jitter: s.jitter,
            time_scale: scale,
            max_retry_after: Duration::from_secs(s.max_retry_after_secs).mul_f64(scale),
            disable_after: Duration::from_secs(s.disable_after_secs).mul_f64(scale),
        },
        timeout: Duration::from_millis(s.timeout_ms),
        batch_size: s.batch_size,
        concurrent_batches: s.concurrent_batches,
        lease: Duration::from_millis(s.lease_ms),
        dispatch_interval: Duration::from_millis(s.dispatch_interval_ms),
        dispatch_batch: s.dispatch_batch,
        sweep_interval: Duration::from_millis(s.sweep_interval_ms),
        max_restarts: s.max_restarts,
        restart_window: Duration::from_secs(s.restart_window_secs),
    }
}

/// The webhooks service: the subscriptions' actors, and the sender for test deliveries.
#[derive(Clone)]
pub struct Webhooks {
    supervisor: WebhookSupervisor,
    sender: Arc<HttpSender>,
    crypto: Crypto,
    timeout: Duration,
}

impl Webhooks {
    /// Starts the supervisor (and with it one actor per active subscription) on this arbiter.
    pub fn start(
        settings: &WebhookSettings,
        db: DatabaseConnection,
        crypto: Crypto,
        guard: UrlGuard,
        http: reqwest::Client,
    ) -> Self {
        let store = Arc::new(DbDeliveryStore {
            db,
            crypto: crypto.clone(),
        });
        let sender = Arc::new(HttpSender {
            guard,
            http,
            body_limit: settings.response_body_limit,
        });
        Self {
            supervisor: WebhookSupervisorActor::new(store, sender.clone(), config_from(settings)).launch(),
            sender,
            crypto,
            timeout: Duration::from_millis(settings.timeout_ms),
        }
    }

    /// Starts, reloads or stops the subscription's actor; resolves once it is told.
    pub async fn ensure(&self, webhook_id: &str) {
        self.supervisor.ensure(webhook_id).await;
    }

    /// Events were committed: the dispatcher moves them into deliveries at once instead of
    /// at its next tick (passes coalesce: one runs, one more follows).
    pub fn nudge(&self) {
        self.supervisor.nudge();
    }

    /// Wakes the subscriptions' actors (deliveries were queued for them).
    pub fn wake(&self, webhook_ids: Vec<String>) {
        self.supervisor.wake(webhook_ids);
    }

    /// Stops the actors (attempts in flight are retried by the next process once their
    /// leases expire).
    pub fn shutdown(&self) {
        self.supervisor.shutdown();
    }

    pub async fn actor_count(&self) -> usize {
        self.supervisor.actor_count().await
    }

    /// Sends one signed test message to a subscription's URL, outside its delivery queue.
    ///
    /// # Errors
    /// When the subscription's stored secret cannot be opened.
    pub async fn send_test(
        &self,
        sub: &webhook::Model,
        msg_id: String,
        payload: String,
    ) -> Result<SendReport, CryptoError> {
        let secret = open_secret(&self.crypto, &sub.secret).await?;
        Ok(self
            .send_signed(&sub.url, &secret, &msg_id, payload, self.timeout)
            .await)
    }

    /// Sends one signed message (a workflow's webhook step) through the SSRF guard;
    /// `msg_id` is its `webhook-id`, the same on every attempt.
    pub async fn send_signed(
        &self,
        url: &str,
        secret: &str,
        msg_id: &str,
        payload: String,
        timeout: Duration,
    ) -> SendReport {
        self.sender
            .send(OutgoingMessage {
                url: url.to_string(),
                secret: secret.to_string(),
                msg_id: msg_id.to_string(),
                payload,
                timeout,
            })
            .await
    }
}

/// The signing secret of a stored subscription (sealed with [`Crypto::encrypt`] when
/// saved). Rows written before secrets were sealed
/// hold the `whsec_` text itself and are read as they are.
///
/// # Errors
/// When the sealed text was encrypted with another key or is corrupt.
pub async fn open_secret(crypto: &Crypto, stored: &str) -> Result<String, CryptoError> {
    if stored.starts_with(signing::SECRET_PREFIX) {
        return Ok(stored.to_string());
    }
    crypto.decrypt(stored).await
}

/// The actor's view of a subscription. A secret that cannot be opened is passed on empty:
/// every attempt then fails as "unusable secret" in the delivery log instead of silently.
async fn endpoint_of(crypto: &Crypto, row: webhook::Model) -> EndpointSnapshot {
    let secret = open_secret(crypto, &row.secret).await.unwrap_or_else(|e| {
        tracing::error!(webhook_id = %row.id, error = %e, "webhook secret cannot be decrypted");
        String::new()
    });
    EndpointSnapshot {
        active: row.is_active && row.deleted_at.is_none(),
        webhook_id: row.id,
        org_id: row.org_id,
        url: row.url,
        secret,
        failing_since: row.failing_since,
    }
}

/// The delivery store port over sea-orm.
pub struct DbDeliveryStore {
    pub db: DatabaseConnection,
    pub crypto: Crypto,
}

/// Runs database work as a task of the Tokio runtime rather than of the actor's local set:
/// if the runtime shuts down mid-query, the task and its pooled connection are dropped inside
/// the runtime, as sqlx requires (a connection dropped outside it panics).
async fn on_runtime<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, sea_orm::DbErr>> + Send + 'static,
) -> Result<T, PortError> {
    tokio::spawn(fut).await.map_err(PortError::new)?.map_err(PortError::new)
}

#[async_trait]
impl DeliveryStore for DbDeliveryStore {
    async fn active_endpoints(&self) -> Result<Vec<EndpointSnapshot>, PortError> {
        let db = self.db.clone();
        let rows = on_runtime(async move { webhooks::all_active(&db).await }).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(endpoint_of(&self.crypto, row).await);
        }
        Ok(out)
    }

    async fn endpoint(&self, webhook_id: &str) -> Result<Option<EndpointSnapshot>, PortError> {
        let (db, id) = (self.db.clone(), webhook_id.to_string());
        let row = on_runtime(async move { webhooks::find_any(&db, &id).await }).await?;
        Ok(match row {
            Some(row) => Some(endpoint_of(&self.crypto, row).await),
            None => None,
        })
    }

    async fn dispatch(&self, limit: u64, now: DateTime<Utc>) -> Result<DispatchReport, PortError> {
        let db = self.db.clone();
        on_runtime(async move { webhook_deliveries::dispatch(&db, limit, now).await }).await
    }

    async fn due_webhooks(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<String>, PortError> {
        let db = self.db.clone();
        on_runtime(async move { webhook_deliveries::due_webhooks(&db, now, limit).await }).await
    }

    async fn claim(
        &self,
        webhook_id: &str,
        limit: u64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError> {
        let (db, id) = (self.db.clone(), webhook_id.to_string());
        on_runtime(async move { webhook_deliveries::claim(&db, &id, limit, now, lease_until).await }).await
    }

    async fn record(&self, results: Vec<AttemptRecord>, now: DateTime<Utc>) -> Result<(), PortError> {
        let outcomes: Vec<&'static str> = results.iter().map(|r| r.attempt_status.as_str()).collect();
        let db = self.db.clone();
        on_runtime(async move { webhook_deliveries::record(&db, results, now).await }).await?;
        for outcome in outcomes {
            crate::metrics::counter("thruai_webhook_deliveries_total", &[("outcome", outcome)], 1.0);
        }
        Ok(())
    }

    async fn set_failing_since(&self, webhook_id: &str, since: Option<DateTime<Utc>>) -> Result<(), PortError> {
        let (db, id) = (self.db.clone(), webhook_id.to_string());
        on_runtime(async move { webhooks::set_failing_since(&db, &id, since).await }).await
    }

    async fn disable(&self, webhook_id: &str, reason: &str, now: DateTime<Utc>) -> Result<u64, PortError> {
        let (db, id, reason) = (self.db.clone(), webhook_id.to_string(), reason.to_string());
        on_runtime(async move { webhook_deliveries::disable(&db, &id, &reason, now).await }).await
    }
}

/// Signs each attempt (fresh `webhook-timestamp`, same `webhook-id`) and sends it through the
/// SSRF guard, which re-checks the destination at send time; redirects are never followed.
pub struct HttpSender {
    pub guard: UrlGuard,
    pub http: reqwest::Client,
    pub body_limit: usize,
}

#[async_trait]
impl WebhookSender for HttpSender {
    async fn send(&self, msg: OutgoingMessage) -> SendReport {
        let started = std::time::Instant::now();
        let (outcome, body) = self.attempt(&msg).await;
        SendReport {
            outcome,
            elapsed: started.elapsed(),
            body,
        }
    }
}

impl HttpSender {
    async fn attempt(&self, msg: &OutgoingMessage) -> (Outcome, Option<String>) {
        let secret = match WebhookSecret::parse(&msg.secret) {
            Ok(s) => s,
            Err(e) => return (Outcome::Network(format!("unusable secret: {e}")), None),
        };
        let builder = match self.guard.request(&self.http, reqwest::Method::POST, &msg.url) {
            Ok(b) => b,
            Err(e) => return (refusal(e), None),
        };
        let headers = signing::signed_headers(&secret, &msg.msg_id, Utc::now().timestamp(), msg.payload.as_bytes());
        let mut builder = builder
            .timeout(msg.timeout)
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .body(msg.payload.clone());
        for (name, value) in headers.header_pairs().into_iter().chain(headers.svix_header_pairs()) {
            builder = builder.header(name, value);
        }
        let send = tokio::time::timeout(msg.timeout, self.guard.send(builder));
        let response = match send.await {
            Err(_) => return (Outcome::Timeout, None),
            Ok(Err(e)) => return (refusal(e), None),
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(String::from)
        };
        let retry_after = header("retry-after").and_then(|v| parse_retry_after(&v, Utc::now()));
        let abort = header("webhook-delivery").is_some_and(|v| v.trim().eq_ignore_ascii_case("abort-message"));
        let body = read_prefix(response, self.body_limit, msg.timeout).await;
        (
            Outcome::Response {
                status,
                retry_after,
                abort,
            },
            body,
        )
    }
}

fn refusal(e: SsrfError) -> Outcome {
    match e {
        SsrfError::Request(inner) if inner.is_timeout() => Outcome::Timeout,
        SsrfError::Request(inner) => Outcome::Network(describe(&inner)),
        other => Outcome::Refused(other.to_string()),
    }
}

/// A reqwest error with its causes, for the log (no URL credentials: the guard refuses them).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first `limit` bytes of the body (lossy UTF-8), reading no further.
async fn read_prefix(mut response: reqwest::Response, limit: usize, timeout: Duration) -> Option<String> {
    let mut buf = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            buf.extend_from_slice(&chunk);
            if buf.len() >= limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(timeout, read).await;
    if buf.is_empty() {
        return None;
    }
    buf.truncate(limit);
    Some(String::from_utf8_lossy(&buf).into_owned())
}
