//! Placing a campaign's calls: the dial tasks (the call's actor, the carrier request under
//! the intent key, its acknowledgement; when the call ends, the next armed intent in its
//! slot at once), and what a campaign's dials need, read once per `renew`.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use chrono::Utc;
use sea_orm::{DatabaseConnection, EntityTrait};
use thruai_actors::campaign::{ports::PortError, ports::Waker};
use thruai_entities::{call, campaign, phone_number};

use super::{
    pools::{Armed, Pools},
    ports::{ServerCampaignPorts, db_err, on_runtime},
};
use crate::{
    app::calls::{self, AgentSetup, Calls},
    providers::telephony::Telephony,
    store::campaigns as cs,
};

/// How often a dial task checks whether its call's actor is gone, besides being woken by
/// the call's end (in-memory, no I/O): only for an actor that stopped without leaving the
/// registry.
const CALL_END_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// One call of a campaign to place: its row (committed with its started intent), carrier,
/// intent key and, when armed ahead, its agent as read then.
pub(super) struct Dial {
    pub row: call::Model,
    pub carrier: Arc<dyn Telephony>,
    pub key: String,
    pub setup: Option<Arc<AgentSetup>>,
}

/// What trying to start an armed intent found.
pub(super) enum Fired {
    Started(Dial),
    /// Not now (at the cap, paused, or the database failed): back in line.
    NotNow(Armed),
    /// No longer armed under this epoch (put back in the queue, or another owner): dropped.
    Gone,
}

/// The part of the ports a dial task needs (cloned into it).
#[derive(Clone)]
pub(super) struct Dialer {
    pub calls: Calls,
    /// Wakes the campaign's actor when a call ends (none before the supervisor attached it).
    pub waker: Option<Waker>,
    pub db: DatabaseConnection,
    pub dialing: Arc<Mutex<HashSet<String>>>,
    pub ahead: Pools,
    pub failpoint: String,
}

/// What a campaign's dials need besides its contacts: its row as of the actor's last
/// `renew` (on every timed tick, and at once after any change through the API), and the
/// number and carrier of each origin it dialled from since. A refill after a call ended
/// uses these instead of reading the campaign and its numbers again (three queries per
/// dialling tick); the intents' transaction still checks the status and the cap under the
/// campaign row's lock.
#[derive(Clone)]
pub struct Dialling {
    pub row: campaign::Model,
    pub origins: HashMap<Option<String>, (phone_number::Model, Arc<dyn Telephony>)>,
    /// The campaign's agent and its tools, read once per `renew` for the calls armed.
    pub setup: Option<Arc<AgentSetup>>,
}

impl Dialer {
    fn dialing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.dialing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn call_ended(&self, campaign_id: &str) {
        if let Some(waker) = &self.waker {
            waker.call_ended(campaign_id);
        }
    }

    fn failpoint(&self, name: &str) {
        if self.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }

    /// Starts an armed intent: its fire (fenced, under the campaign's cap, with its call
    /// row), taken in turn with the campaign's other fires.
    pub(super) async fn fire(
        &self,
        campaign_id: &str,
        epoch: i64,
        lock: &tokio::sync::Mutex<()>,
        mut a: Armed,
    ) -> Fired {
        let now = Utc::now();
        a.call_row.created_at = now;
        a.call_row.updated_at = now;
        // Never reconciled while it is being dialled here.
        self.dialing().insert(a.key.clone());
        let res = {
            let _turn = lock.lock().await;
            let (db, id, key, row) = (
                self.db.clone(),
                campaign_id.to_string(),
                a.key.clone(),
                a.call_row.clone(),
            );
            on_runtime(async move { cs::fire(&db, &id, epoch, &key, row).await }, db_err).await
        };
        if let Ok(true) = res {
            self.failpoint("campaign_abort_after_intent");
            self.ahead.started(campaign_id, epoch);
            return Fired::Started(Dial {
                row: a.call_row,
                carrier: a.carrier,
                key: a.key,
                setup: Some(a.setup),
            });
        }
        self.dialing().remove(&a.key);
        if let Err(e) = &res {
            tracing::warn!(intent = %a.key, error = ?e, "starting an armed intent failed");
        }
        // Why not: still armed (the cap, a pause) → back in line; else it is gone. (After
        // a failure that committed after all, it is `pending` and not dialled here: the
        // actor finds it in doubt and asks the carrier.)
        let (db, key) = (self.db.clone(), a.key.clone());
        match on_runtime(async move { cs::dial_status(&db, &key).await }, db_err).await {
            Ok(Some(s)) if s == cs::DIAL_ARMED => Fired::NotNow(a),
            Ok(_) => Fired::Gone,
            Err(_) => Fired::NotNow(a),
        }
    }

    /// Fills a slot freed by a call's end: the oldest armed intent whose window is open,
    /// started at once. `None` when there is none or it cannot start now.
    async fn refill(&self, campaign_id: &str) -> Option<Dial> {
        loop {
            let (epoch, lock, a) = self.ahead.take(campaign_id, Utc::now())?;
            match self.fire(campaign_id, epoch, &lock, a).await {
                Fired::Started(d) => return Some(d),
                Fired::NotNow(a) => {
                    self.ahead.put_back(campaign_id, epoch, a);
                    return None;
                }
                Fired::Gone => {}
            }
        }
    }

    /// Runs the carrier part of dials in the background: the call's actor, the carrier
    /// request under the intent key, the acknowledgement; and when the call ends, the next
    /// armed intent is started in its slot at once (the actor is woken to settle the call
    /// and arm the next one, off that path).
    pub(super) fn spawn(self, campaign_id: String, first: Dial) {
        actix_web::rt::spawn(async move {
            let mut next = Some(first);
            while let Some(dial) = next.take() {
                next = self.place(&campaign_id, dial).await;
            }
        });
    }

    async fn place(&self, campaign_id: &str, dial: Dial) -> Option<Dial> {
        let Dial {
            row,
            carrier,
            key,
            setup,
        } = dial;
        let db = self.db.clone();
        let call_id = row.id.clone();
        let res = match setup {
            Some(setup) => self.calls.dial(row, carrier, Some(&key), &setup).await,
            None => self.calls.dial_reading_agent(row, carrier, Some(&key)).await,
        };
        let (sid, handle) = match res {
            Ok(placed) => placed,
            Err(e) => {
                tracing::warn!(intent = %key, error = %e, "a campaign call was not placed");
                let (db, key2) = (db.clone(), key.clone());
                let _ = tokio::spawn(async move {
                    cs::dial_refused(&db, &key2).await?;
                    cs::fail_open_call(&db, &call_id, "the call could not be placed").await
                })
                .await;
                self.dialing().remove(&key);
                self.call_ended(campaign_id);
                return None;
            }
        };
        self.failpoint("campaign_abort_after_place");
        let key2 = key.clone();
        if let Err(e) = tokio::spawn(async move { cs::dial_placed(&db, &key2, &sid, false).await }).await {
            tracing::warn!(intent = %key, error = %e, "recording a dial acknowledgement failed");
        }
        self.dialing().remove(&key);
        // The call's actor persists its final status before it stops and leaves the
        // registry: the slot is refilled then, and the campaign woken.
        let ended = handle.ended();
        tokio::pin!(ended);
        while handle.is_alive() {
            if tokio::time::timeout(CALL_END_POLL, &mut ended).await.is_ok() {
                break;
            }
        }
        let next = self.refill(campaign_id).await;
        self.call_ended(campaign_id);
        next
    }
}

impl ServerCampaignPorts {
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
        if let Some(d) = self.read().get(id) {
            return Ok(d.row.clone());
        }
        let (db, id2) = (self.db.clone(), id.to_string());
        let row = on_runtime(async move { campaign::Entity::find_by_id(id2).one(&db).await }, db_err)
            .await?
            .ok_or(PortError::Fenced)?;
        self.remember(row.clone());
        Ok(row)
    }

    pub(super) fn read(&self) -> std::sync::MutexGuard<'_, HashMap<String, Dialling>> {
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps the campaign's row (its origins are looked up again: the numbers may have
    /// changed with it).
    pub(super) fn remember(&self, row: campaign::Model) {
        self.read().insert(
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
        if let Some(s) = self.read().get(&row.id).and_then(|d| d.setup.clone()) {
            return Ok(s);
        }
        let setup = Arc::new(
            self.calls
                .agent_setup(&row.org_id, &row.agent_id)
                .await
                .map_err(|e| PortError::Unavailable(format!("agent: {e}")))?,
        );
        if let Some(d) = self.read().get_mut(&row.id) {
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
        if let Some(o) = self.read().get(&row.id).and_then(|d| d.origins.get(&from)) {
            return Ok(o.clone());
        }
        let origin = self.origin(row, from.clone()).await?;
        if let Some(d) = self.read().get_mut(&row.id) {
            d.origins.insert(from, origin.clone());
        }
        Ok(origin)
    }
}
