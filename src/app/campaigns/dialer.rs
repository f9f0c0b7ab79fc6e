//! Placing a campaign's calls: the dial tasks (the call's actor, the carrier request under
//! the intent key, its acknowledgement; when the call ends, the next armed intent in its
//! slot at once).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use thruai_actors::campaign::ports::Waker;
use thruai_entities::{call, workflow_execution};

use super::{
    db_err, on_runtime,
    pools::{Armed, Pools},
};
use crate::{
    app::{
        calls::{AgentSetup, Calls},
        workflows,
    },
    providers::telephony::Telephony,
    store::campaigns as cs,
};

/// How often a dial task checks whether its call's actor is gone, besides being woken by
/// the call's end (in-memory, no I/O): only for an actor that stopped without leaving the
/// supervisor.
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
    /// Started as a workflow execution (which places its calls itself).
    Launched,
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
        if let Some(exec) = a.execution.clone() {
            return match self.launch(campaign_id, epoch, lock, a.key.clone(), &exec).await {
                Some(fired) => fired,
                None => Fired::NotNow(a),
            };
        }
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

    /// Starts an armed intent of a campaign that runs a workflow: its execution recorded
    /// in the transaction that starts the intent (the workflow's supervisor runs it as it
    /// comes due). `None`: the database failed, back in line.
    async fn launch(
        &self,
        campaign_id: &str,
        epoch: i64,
        lock: &tokio::sync::Mutex<()>,
        key: String,
        exec: &workflow_execution::Model,
    ) -> Option<Fired> {
        let _turn = lock.lock().await;
        let (db, id, key2, exec) = (self.db.clone(), campaign_id.to_string(), key.clone(), exec.clone());
        let res = on_runtime(
            async move {
                let mut exec = exec;
                exec.created_at = Utc::now();
                exec.updated_at = exec.created_at;
                exec.wake_at = Some(exec.created_at);
                cs::fire_execution(&db, &id, epoch, &key2, move |txn| {
                    Box::pin(async move { workflows::record_start(txn, &exec).await })
                })
                .await
            },
            db_err,
        )
        .await;
        match res {
            Ok(true) => {
                self.ahead.started(campaign_id, epoch);
                crate::metrics::counter("thruai_campaign_dials_total", &[("result", "workflow")], 1.0);
                Some(Fired::Launched)
            }
            Ok(false) => {
                let (db, key) = (self.db.clone(), key);
                match on_runtime(async move { cs::dial_status(&db, &key).await }, db_err).await {
                    Ok(Some(s)) if s == cs::DIAL_ARMED => None,
                    Ok(_) => Some(Fired::Gone),
                    Err(_) => None,
                }
            }
            Err(e) => {
                tracing::warn!(intent = %key, error = ?e, "starting a campaign contact's workflow failed");
                None
            }
        }
    }

    /// Fills a slot freed by a call's end: the oldest armed intent whose window is open,
    /// started at once. `None` when there is none or it cannot start now.
    async fn refill(&self, campaign_id: &str) -> Option<Dial> {
        loop {
            let (epoch, lock, a) = self.ahead.take(campaign_id, Utc::now())?;
            match self.fire(campaign_id, epoch, &lock, a).await {
                Fired::Started(d) => return Some(d),
                Fired::Launched => return None,
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
                crate::metrics::counter("thruai_campaign_dials_total", &[("result", "refused")], 1.0);
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
        crate::metrics::counter("thruai_campaign_dials_total", &[("result", "placed")], 1.0);
        let key2 = key.clone();
        if let Err(e) = tokio::spawn(async move { cs::dial_placed(&db, &key2, &sid, false).await }).await {
            tracing::warn!(intent = %key, error = %e, "recording a dial acknowledgement failed");
        }
        self.dialing().remove(&key);
        // The call's actor persists its final status before it stops and leaves the
        // supervisor: the slot is refilled then, and the campaign woken.
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
