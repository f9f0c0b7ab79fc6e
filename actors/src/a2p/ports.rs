//! What the A2P actors need from the outside world, implemented by the server crate: the
//! carrier registry (Twilio or the sandbox), persistence of snapshots with their events,
//! timing, and a crash-test hook.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::state::{Backoff, CarrierStatus, Kind, Registration, StatusChange};

/// A failure of a port; `transient` when trying again later may succeed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PortError {
    pub message: String,
    pub transient: bool,
}

impl PortError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            transient: false,
        }
    }
}

/// The carrier's registration API for one organisation.
#[async_trait]
pub trait CarrierRegistry: Send + Sync {
    /// Submits a registration under `key`; returns the carrier's reference.
    async fn submit(&self, kind: Kind, key: &str, payload: &Value) -> Result<String, PortError>;
    /// Finds the submission made under `key`, if the carrier ever received it.
    async fn lookup(&self, kind: Kind, key: &str) -> Result<Option<String>, PortError>;
    async fn poll(&self, kind: Kind, carrier_ref: &str) -> Result<CarrierStatus, PortError>;
}

#[async_trait]
pub trait A2pPorts: Send + Sync {
    async fn registry(&self, org_id: &str) -> Result<Arc<dyn CarrierRegistry>, PortError>;
    /// Writes the snapshot and, when given, the status-change event, in one transaction.
    async fn persist(&self, reg: &Registration, change: Option<&StatusChange>) -> Result<(), PortError>;
    /// Every registration that is not terminal (rehydrated at start-up).
    async fn load_active(&self) -> Result<Vec<Registration>, PortError>;
    fn backoff(&self) -> Backoff;
    /// Crash-test hook: may abort the process at a named point.
    fn failpoint(&self, _name: &str) {}
}
