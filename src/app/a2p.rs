//! A2P 10DLC registrations, application side: the ports the `A2pActor`s persist and reach
//! the carrier through — the organisation's Twilio registry by the carriers' rule, else the
//! sandbox registry — and the `a2p.*.status_changed` events.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::json;
use thruai_actors::{
    A2pSupervisor,
    a2p::{
        ports::{A2pPorts, CarrierRegistry, PortError},
        snapshot::A2pSnapshot,
        state::{Backoff, Kind, Registration, StatusChange},
    },
};

use super::carriers::Carriers;
use crate::{
    config::A2pSettings,
    providers::{a2p::TwilioRegistry, sandbox::a2p::SandboxRegistry, telephony::TelephonyError},
    store,
};

fn db_error(e: sea_orm::DbErr) -> PortError {
    PortError::transient(format!("database: {e}"))
}

/// What the A2P actors get from the server: the database, their settings and the carriers.
pub struct ServerA2pPorts {
    db: DatabaseConnection,
    settings: A2pSettings,
    carriers: Carriers,
    public_base_url: String,
    failpoint: String,
}

/// The A2P service: the registrations' supervisor and the ports it was built with.
#[derive(Clone)]
pub struct A2p {
    supervisor: A2pSupervisor,
    ports: Arc<ServerA2pPorts>,
}

impl A2p {
    pub fn new(
        db: DatabaseConnection,
        settings: A2pSettings,
        carriers: Carriers,
        public_base_url: String,
        failpoint: String,
    ) -> Self {
        let ports = Arc::new(ServerA2pPorts {
            db,
            settings,
            carriers,
            public_base_url,
            failpoint,
        });
        Self {
            supervisor: A2pSupervisor::new(ports.clone()),
            ports,
        }
    }

    /// Hands a registration whose submission is recorded to its actor.
    pub fn send_recorded(&self, reg: Registration) {
        self.supervisor.send_recorded(reg);
    }

    /// Asks the registration's actor to poll the carrier now.
    pub async fn refresh(&self, id: &str) -> Option<Registration> {
        self.supervisor.refresh(id).await
    }

    /// Starts the actors of registrations still under way (in-doubt submissions are
    /// reconciled with the carrier first).
    ///
    /// # Errors
    /// When the registrations cannot be read.
    pub async fn rehydrate(&self) -> Result<usize, PortError> {
        self.supervisor.rehydrate().await
    }

    /// Registrations whose actor runs on this node.
    pub fn running(&self) -> usize {
        self.supervisor.running().len()
    }

    /// The polling backoff of new registrations.
    pub fn backoff(&self) -> Backoff {
        self.ports.backoff()
    }

    /// The organisation's Twilio registry, when it has a Twilio account.
    ///
    /// # Errors
    /// When the stored credentials cannot be read.
    pub async fn twilio(&self, org_id: &str) -> Result<Option<TwilioRegistry>, PortError> {
        self.ports.twilio(org_id).await
    }
}

impl ServerA2pPorts {
    /// The organisation's Twilio registry (BYOC, then the platform account), if any.
    async fn twilio(&self, org_id: &str) -> Result<Option<TwilioRegistry>, PortError> {
        let account = self.carriers.twilio_for(org_id).await.map_err(|e| match e {
            TelephonyError::Db(e) => db_error(e),
            other => PortError::permanent(other.to_string()),
        })?;
        Ok(account.map(|(_, client)| TwilioRegistry {
            client,
            public_base_url: self.public_base_url.clone(),
        }))
    }
}

/// Writes the `a2p.*.status_changed` event of `change`; pass the transaction of the change.
///
/// # Errors
/// Database failures.
pub async fn record_change(
    db: &impl sea_orm::ConnectionTrait,
    reg: &Registration,
    c: &StatusChange,
) -> Result<(), sea_orm::DbErr> {
    let id_field = if reg.kind == Kind::Brand {
        "brandId"
    } else {
        "campaignId"
    };
    store::outbox::record(
        db,
        &reg.org_id,
        event_type(reg.kind),
        json!({
            id_field: reg.id,
            "previousStatus": c.from.as_str(),
            "status": c.to.as_str(),
            "substatus": c.substatus,
            "rejectionReason": c.reason,
            "carrierSid": reg.carrier_ref,
            "changedAt": Utc::now(),
        }),
    )
    .await
    .map(|_| ())
}

pub fn event_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Brand => "a2p.brand.status_changed",
        Kind::Campaign => "a2p.campaign.status_changed",
    }
}

#[async_trait]
impl A2pPorts for ServerA2pPorts {
    /// The registration's row and its status change, in one transaction.
    async fn persist(&self, reg: &Registration, change: Option<&StatusChange>) -> Result<(), PortError> {
        let write = async {
            let txn = store::begin(&self.db).await?;
            store::a2p::save_registration(&txn, reg).await?;
            if let Some(c) = change {
                record_change(&txn, reg, c).await?;
            }
            txn.commit().await
        };
        write.await.map_err(db_error)?;
        if let Some(c) = change {
            crate::metrics::counter(
                "thruai_a2p_status_changes_total",
                &[("kind", reg.kind.as_str()), ("status", c.to.as_str())],
                1.0,
            );
        }
        Ok(())
    }

    async fn registry(&self, org_id: &str) -> Result<Arc<dyn CarrierRegistry>, PortError> {
        if let Some(twilio) = self.twilio(org_id).await? {
            return Ok(Arc::new(twilio));
        }
        Ok(Arc::new(SandboxRegistry {
            db: self.db.clone(),
            org_id: org_id.to_string(),
            brand_review: Duration::from_millis(self.settings.sandbox_brand_review_ms),
            campaign_review: Duration::from_millis(self.settings.sandbox_campaign_review_ms),
        }))
    }

    async fn load_active(&self) -> Result<Vec<Registration>, PortError> {
        let snapshots = store::a2p::active_snapshots(&self.db).await.map_err(db_error)?;
        Ok(snapshots
            .iter()
            .filter_map(|s| match A2pSnapshot::restore(s) {
                Ok(r) => Some(r),
                Err(e) => {
                    // Quarantined: one unreadable snapshot must not block the others.
                    tracing::error!(error = %e, "unreadable A2P snapshot skipped");
                    None
                }
            })
            .collect())
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.settings.poll_initial_ms),
            max: Duration::from_millis(self.settings.poll_max_ms),
        }
    }

    fn failpoint(&self, name: &str) {
        if self.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }
}
