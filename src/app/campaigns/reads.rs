//! What a campaign's dials need besides its contacts, read once per `renew`: the
//! campaign's row, its agent with the agent's tools, and the number and carrier of each
//! origin it dials from.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use sea_orm::{DatabaseConnection, EntityTrait};
use thruai_actors::campaign::ports::PortError;
use thruai_entities::{campaign, phone_number};

use super::{db_err, on_runtime};
use crate::{
    app::calls::{self, AgentSetup, Calls},
    providers::telephony::Telephony,
};

/// What a campaign's dials need besides its contacts: its row as of the actor's last
/// `renew` (on every timed tick, and at once after any change through the API), and the
/// number and carrier of each origin it dialled from since. A refill after a call ended
/// uses these instead of reading the campaign and its numbers again (three queries per
/// dialling tick); the intents' transaction still checks the status and the cap under the
/// campaign row's lock.
#[derive(Clone)]
struct Dialling {
    row: campaign::Model,
    origins: HashMap<Option<String>, (phone_number::Model, Arc<dyn Telephony>)>,
    /// The campaign's agent and its tools, read once per `renew` for the calls armed.
    setup: Option<Arc<AgentSetup>>,
}

/// The campaigns' reads of this process (see `Dialling`).
#[derive(Clone)]
pub(super) struct Reads {
    map: Arc<Mutex<HashMap<String, Dialling>>>,
    db: DatabaseConnection,
    calls: Calls,
}

impl Reads {
    pub(super) fn new(db: DatabaseConnection, calls: Calls) -> Self {
        Self {
            map: Arc::default(),
            db,
            calls,
        }
    }

    /// The number and carrier a campaign dials from: `from` (see `origin_number`), else
    /// the agent's number.
    async fn origin(
        &self,
        row: &campaign::Model,
        from: Option<String>,
    ) -> Result<(phone_number::Model, Arc<dyn Telephony>), PortError> {
        let (db, org, agent) = (self.db.clone(), row.org_id.clone(), row.agent_id.clone());
        let number = on_runtime(
            async move { calls::from_number(&db, &org, &agent, from.as_deref()).await },
            |e| PortError::Unavailable(e.to_string()),
        )
        .await?;
        let carrier = self
            .calls
            .carriers()
            .of_number(&number)
            .await
            .map_err(|e| PortError::Unavailable(format!("carrier: {e}")))?;
        Ok((number, carrier))
    }

    /// The campaign as last read by `renew`, else read now.
    pub(super) async fn campaign(&self, id: &str) -> Result<campaign::Model, PortError> {
        if let Some(d) = self.lock().get(id) {
            return Ok(d.row.clone());
        }
        let (db, id2) = (self.db.clone(), id.to_string());
        let row = on_runtime(async move { campaign::Entity::find_by_id(id2).one(&db).await }, db_err)
            .await?
            .ok_or(PortError::Fenced)?;
        self.remember(row.clone());
        Ok(row)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Dialling>> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets what was read of the campaign (it changed, or its actor starts over).
    pub(super) fn forget(&self, campaign_id: &str) {
        self.lock().remove(campaign_id);
    }

    /// The campaign's row as last read, if any.
    pub(super) fn row(&self, campaign_id: &str) -> Option<campaign::Model> {
        self.lock().get(campaign_id).map(|d| d.row.clone())
    }

    /// Keeps the campaign's row (its origins are looked up again: the numbers may have
    /// changed with it).
    pub(super) fn remember(&self, row: campaign::Model) {
        self.lock().insert(
            row.id.clone(),
            Dialling {
                row,
                origins: HashMap::new(),
                setup: None,
            },
        );
    }

    /// The agent (and tools) of the campaign's calls, read once per `renew`.
    pub(super) async fn setup_of(&self, row: &campaign::Model) -> Result<Arc<AgentSetup>, PortError> {
        if let Some(s) = self.lock().get(&row.id).and_then(|d| d.setup.clone()) {
            return Ok(s);
        }
        let setup = Arc::new(
            self.calls
                .agent_setup(&row.org_id, &row.agent_id)
                .await
                .map_err(|e| PortError::Unavailable(format!("agent: {e}")))?,
        );
        if let Some(d) = self.lock().get_mut(&row.id) {
            d.setup = Some(setup.clone());
        }
        Ok(setup)
    }

    /// The number and carrier of `from` for the campaign, looked up once per `renew`.
    pub(super) async fn origin_of(
        &self,
        row: &campaign::Model,
        from: Option<String>,
    ) -> Result<(phone_number::Model, Arc<dyn Telephony>), PortError> {
        if let Some(o) = self.lock().get(&row.id).and_then(|d| d.origins.get(&from)) {
            return Ok(o.clone());
        }
        let origin = self.origin(row, from.clone()).await?;
        if let Some(d) = self.lock().get_mut(&row.id) {
            d.origins.insert(from, origin.clone());
        }
        Ok(origin)
    }
}
