//! Ports: what the actors need from the outside world (database, HTTP), declared here and
//! implemented in the `thruai` server crate, so this crate never depends on it.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    snapshot::EndpointSnapshot,
    state::{AttemptStatus, DeliveryStatus, Outcome},
};

/// A storage or transport failure, described for logs.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

impl PortError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// One delivery leased to a webhook actor, with its pending attempt row already logged.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery_id: String,
    /// The `webhook-id` header (stable across retries and replays).
    pub msg_id: String,
    pub event_type: String,
    pub payload: String,
    /// This attempt's number within the current round (1-based; drives the schedule).
    pub round_attempt: u32,
    /// This attempt's number across every round (the log's `attempt`).
    pub attempt_number: u32,
    pub claimed_at: DateTime<Utc>,
    /// The attempt row (`pending`) written for this attempt.
    pub attempt_id: String,
    /// Fencing token: results are only recorded while the lease is still ours.
    pub lease_token: String,
}

/// The result of one attempt, to record with the delivery's new state.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub webhook_id: String,
    pub org_id: String,
    pub event_id: String,
    pub event_type: String,
    pub attempt_number: u32,
    pub started_at: DateTime<Utc>,
    pub delivery_id: String,
    pub attempt_id: String,
    pub lease_token: String,
    pub attempt_status: AttemptStatus,
    pub delivery_status: DeliveryStatus,
    pub http_status: Option<u16>,
    pub response_time_ms: i64,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What one dispatcher pass did.
#[derive(Debug, Clone, Default)]
pub struct DispatchReport {
    /// Outbox events stamped as dispatched.
    pub events: u64,
    /// Subscriptions that received at least one new delivery.
    pub webhook_ids: Vec<String>,
}

/// The delivery store (outbox, deliveries, attempt log, subscriptions).
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// Every active subscription (started at boot).
    async fn active_endpoints(&self) -> Result<Vec<EndpointSnapshot>, PortError>;
    /// One subscription, if it exists (active or not).
    async fn endpoint(&self, webhook_id: &str) -> Result<Option<EndpointSnapshot>, PortError>;
    /// Moves up to `limit` undispatched outbox events into deliveries, exactly once per
    /// (event, subscription).
    async fn dispatch(&self, limit: u64, now: DateTime<Utc>) -> Result<DispatchReport, PortError>;
    /// Subscriptions with deliveries due and not leased (the sweep that resumes queues).
    async fn due_webhooks(&self, now: DateTime<Utc>, limit: u64) -> Result<Vec<String>, PortError>;
    /// Leases up to `limit` due deliveries of `webhook_id` until `lease_until`, marks attempts
    /// left in flight by an expired lease as interrupted, and logs a pending attempt for each.
    async fn claim(
        &self,
        webhook_id: &str,
        limit: u64,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<ClaimedDelivery>, PortError>;
    /// Records attempt results and the deliveries' new states in one transaction.
    async fn record(&self, results: Vec<AttemptRecord>, now: DateTime<Utc>) -> Result<(), PortError>;
    /// Persists the endpoint's failure clock.
    async fn set_failing_since(&self, webhook_id: &str, since: Option<DateTime<Utc>>) -> Result<(), PortError>;
    /// Disables the endpoint and cancels its pending deliveries; returns how many.
    async fn disable(&self, webhook_id: &str, reason: &str, now: DateTime<Utc>) -> Result<u64, PortError>;
}

/// One signed HTTP attempt to make.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub url: String,
    /// `whsec_…`; the sender signs with a fresh timestamp per attempt.
    pub secret: String,
    pub msg_id: String,
    pub payload: String,
    pub timeout: Duration,
}

/// What the sender observed.
#[derive(Debug, Clone)]
pub struct SendReport {
    pub outcome: Outcome,
    pub elapsed: Duration,
    /// The start of the response body, truncated.
    pub body: Option<String>,
}

/// Signs and sends one webhook request (through the SSRF guard, redirects not followed).
#[async_trait]
pub trait WebhookSender: Send + Sync + 'static {
    async fn send(&self, msg: OutgoingMessage) -> SendReport;
}
