//! What the workflow actors need from the server: the execution store (lease, journal,
//! timers) and the effects (calls, SMS, email, webhooks), each idempotent by its key.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    graph::Compiled,
    state::{ExecState, Next, Planned},
};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PortError(pub String);

impl PortError {
    pub fn new(e: impl std::fmt::Display) -> Self {
        Self(e.to_string())
    }
}

/// An execution as the store holds it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub org_id: String,
    pub status: String,
    pub dry_run: bool,
    pub state: ExecState,
    /// Its version's graph.
    pub graph: Arc<Compiled>,
    /// The journal's last step when it was begun and not ended.
    pub open: Option<OpenStep>,
}

/// A journal row begun and not ended: what a restart replays.
#[derive(Debug, Clone)]
pub struct OpenStep {
    /// The journal row's id (empty: none).
    pub id: String,
    pub seq: i32,
    pub node: String,
    pub attempt: u32,
    /// The step's settings as recorded before its effect.
    pub input: Value,
    pub started_at: DateTime<Utc>,
}

/// What an effect did.
#[derive(Debug, Clone, PartialEq)]
pub enum EffectOutcome {
    Done(Value),
    /// Under way (a call in progress): look again at this time.
    Pending(DateTime<Utc>),
    Failed {
        error: String,
        retryable: bool,
    },
}

/// One effect to perform (or to find already performed, by `key` and `attempt`).
#[derive(Debug, Clone, Copy)]
pub struct EffectCall<'a> {
    pub org_id: &'a str,
    pub execution_id: &'a str,
    pub kind: &'a str,
    /// `<executionId>:<node>:<visit>`.
    pub key: &'a str,
    pub attempt: u32,
    pub input: &'a Value,
    pub started_at: DateTime<Utc>,
    /// Simulate: nothing leaves the server.
    pub dry_run: bool,
}

#[async_trait]
pub trait WorkflowPorts: Send + Sync + 'static {
    /// Takes the execution for `lease`: the lease's end, which is also its holder's token
    /// (`None`: it is finished, or another process holds it).
    async fn claim(&self, id: &str, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError>;
    /// Extends a lease still `held` (the token `claim` or the last renewal gave) by `lease`:
    /// the new token, or `None` when it was lost (it expired and another process took it).
    async fn renew(&self, id: &str, held: DateTime<Utc>, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError>;
    /// Executions due now (queued, timer passed, lease expired), oldest first.
    async fn due(&self, limit: u64) -> Result<Vec<String>, PortError>;
    async fn load(&self, id: &str) -> Result<Option<Loaded>, PortError>;
    /// Journal: the step begins, its settings recorded, before any effect.
    async fn begin(&self, id: &str, planned: &Planned, input: &Value, state: &ExecState)
    -> Result<OpenStep, PortError>;
    /// Journal: the step ended (`Ok(output)` or `Err(error)`); the new state and what comes
    /// next are written in the same transaction.
    async fn end(
        &self,
        id: &str,
        step: &OpenStep,
        result: Result<&Value, &str>,
        state: &ExecState,
        next: &Next,
    ) -> Result<(), PortError>;
    /// The step waits (a timer, an effect under way): the execution sleeps until `at`.
    async fn park(&self, id: &str, step: &OpenStep, at: DateTime<Utc>) -> Result<(), PortError>;
    async fn perform(&self, call: EffectCall<'_>) -> EffectOutcome;
    /// Tests' crash points (`abort()` when named by the configuration), at a step of `kind`.
    fn failpoint(&self, _name: &str, _kind: &str) {}
}
