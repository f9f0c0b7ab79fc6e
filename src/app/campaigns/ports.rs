//! The `CampaignPorts` of this node's campaign actors: the store, fenced by the owner epoch;
//! dialling through the calls service; the carrier's lookup of in-doubt intents.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex, OnceLock},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};
use thruai_actors::campaign::{
    ports::Waker,
    ports::{
        Ahead, ArmedIntent, CampaignPorts, CampaignView, DueContact, Finished, InDoubt, PortError, Reconciled,
        Remaining, Settle,
    },
    state::{ContactStatus, Decision, Outcome},
};
use thruai_entities::{campaign, campaign_dial};

use super::{
    db_err,
    dialer::{Dial, Dialer, Fired},
    fence_err, flows, on_runtime, pool_of,
    pools::{Armed, Pools},
    reads::Reads,
    refresh_queue_statistics, retry_of, variables_of, window_of,
};
use crate::{
    app::calls::{self, Calls},
    config::CampaignSettings,
    domain::Direction,
    providers::telephony::{self as tel, CallLookup},
    store::{self, campaigns as cs},
};

/// The number a campaign's `turn`-th call is placed from: its pool in turn, else its
/// number (`None`: the agent's).
fn origin_number(row: &campaign::Model, turn: u64) -> Option<String> {
    let pool = pool_of(row);
    if pool.is_empty() {
        row.from_number.clone()
    } else {
        pool.get(usize::try_from(turn).unwrap_or(0) % pool.len()).cloned()
    }
}

/// Whether calls armed from `a` are placed as they would be from `b` (agent, numbers,
/// script, calling window).
fn same_dialling(a: &campaign::Model, b: &campaign::Model) -> bool {
    a.agent_id == b.agent_id
        && a.from_number == b.from_number
        && a.number_pool == b.number_pool
        && a.metadata == b.metadata
        && a.calling_window == b.calling_window
        && a.workflow_id == b.workflow_id
}

/// The decisions on finished dials: each contact moves on (completed, queued again for a
/// retry, failed) and its dial is done (in the caller's fenced transaction); the moves are
/// counted once per status they went to.
pub(super) async fn apply_settles(
    txn: &impl sea_orm::ConnectionTrait,
    campaign_id: &str,
    settles: &[Settle],
) -> Result<(), DbErr> {
    let mut moved: HashMap<ContactStatus, i64> = HashMap::new();
    for s in settles {
        let to = match s.decision {
            Decision::Complete => ContactStatus::Completed,
            Decision::Retry { .. } => ContactStatus::Queued,
            Decision::Fail => ContactStatus::Failed,
        };
        if cs::move_uncounted(
            txn,
            campaign_id,
            &s.contact_id,
            ContactStatus::InProgress,
            to,
            s.retry_at,
            Some(s.outcome.as_str()),
        )
        .await?
        {
            *moved.entry(to).or_default() += 1;
        }
        cs::dial_done(txn, &s.intent_key, s.outcome.as_str()).await?;
    }
    for (to, n) in moved {
        cs::count_moved(txn, campaign_id, Some(ContactStatus::InProgress), to, n).await?;
    }
    Ok(())
}

/// Counts the calls settled (after their transaction committed), by outcome.
pub(super) fn count_settled(settles: &[Settle]) {
    for s in settles {
        crate::metrics::counter(
            "thruai_campaign_calls_settled_total",
            &[("outcome", s.outcome.as_str())],
            1.0,
        );
    }
}

/// The ports of this node's campaign actors.
pub struct ServerCampaignPorts {
    /// Places the campaigns' calls.
    pub calls: Calls,
    /// Wakes a campaign's actor when one of its calls ends (attached by the supervisor).
    pub waker: OnceLock<Waker>,
    pub db: DatabaseConnection,
    pub settings: CampaignSettings,
    /// Each plan's concurrent calls (`billing.plans.<id>.max_concurrent_calls`): an
    /// organisation's campaigns together stay under its plan's and the server's cap.
    pub plan_caps: Arc<BTreeMap<String, u32>>,
    /// The process aborts at this failpoint (tests).
    pub failpoint: String,
    /// SQLite: one node, so a lease left by a dead process can be taken at once.
    pub single_node: bool,
    /// This process, as recorded in the leases it holds.
    pub node: String,
    /// Intent keys this process is dialling right now (never reconciled meanwhile).
    pub dialing: Arc<Mutex<HashSet<String>>>,
    /// Each campaign as its actor last read it, with the numbers and carriers it dials
    /// from (see `Dialling`).
    pub read: Reads,
    /// The intents each campaign's actor armed ahead in this process (see [`Pools`]).
    pub ahead: Pools,
}

impl ServerCampaignPorts {
    pub(super) fn lease(&self) -> Duration {
        Duration::milliseconds(i64::try_from(self.settings.lease_ms).unwrap_or(10_000))
    }

    fn dialing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.dialing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dialer(&self) -> Dialer {
        Dialer {
            calls: self.calls.clone(),
            waker: self.waker.get().cloned(),
            db: self.db.clone(),
            dialing: self.dialing.clone(),
            ahead: self.ahead.clone(),
            failpoint: self.failpoint.clone(),
        }
    }
}

#[async_trait]
#[async_trait]
impl CampaignPorts for ServerCampaignPorts {
    fn attach(&self, waker: Waker) {
        // Attached once, by the one supervisor these ports serve.
        let _ = self.waker.set(waker);
    }

    async fn claim(&self, campaign_id: &str) -> Result<Option<i64>, PortError> {
        self.read.forget(campaign_id);
        refresh_queue_statistics(self.db.clone());
        let (db, id, node, lease) = (
            self.db.clone(),
            campaign_id.to_string(),
            self.node.clone(),
            self.lease(),
        );
        let single = self.single_node;
        let Some(epoch) = on_runtime(async move { cs::claim(&db, &id, &node, lease, single).await }, db_err).await?
        else {
            return Ok(None);
        };
        // What an earlier owner armed ahead was never sent to the carrier (an intent is
        // started, `pending`, before the carrier is asked): back to the queue, to be armed
        // and dialled again under this epoch.
        self.ahead.reset(campaign_id, epoch);
        self.release_armed(campaign_id, epoch, None).await?;
        Ok(Some(epoch))
    }

    async fn renew(&self, campaign_id: &str, epoch: i64) -> Result<Option<CampaignView>, PortError> {
        let before = self.read.row(campaign_id);
        let (db, id, lease) = (self.db.clone(), campaign_id.to_string(), self.lease());
        let row = match on_runtime(async move { cs::renew(&db, &id, epoch, lease).await }, fence_err).await {
            Ok(row) => row,
            Err(e) => {
                self.read.forget(campaign_id);
                return Err(e);
            }
        };
        match &row {
            Some(r) => {
                self.read.remember(r.clone());
                // The calls armed ahead were prepared from the campaign as it was: when
                // what they are placed with changed, they go back to the queue and are
                // armed again from the new settings.
                if before.is_some_and(|b| !same_dialling(&b, r)) {
                    let n = self.release_armed(campaign_id, epoch, None).await?;
                    if n > 0 {
                        tracing::info!(
                            campaign = campaign_id,
                            released = n,
                            "campaign settings changed: intents armed ahead put back in the queue"
                        );
                    }
                }
            }
            None => {
                self.read.forget(campaign_id);
            }
        }
        Ok(row.map(|r| CampaignView {
            org_id: r.org_id.clone(),
            status: r.status,
            max_concurrent: u32::try_from(r.max_concurrent_calls).unwrap_or(1),
            window: window_of(&r),
            retry: retry_of(&r),
        }))
    }

    async fn release(&self, campaign_id: &str, epoch: i64) -> Result<(), PortError> {
        self.read.forget(campaign_id);
        self.ahead.forget(campaign_id);
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        on_runtime(async move { cs::release(&db, &id, epoch).await }, db_err).await
    }

    async fn finished(&self, campaign_id: &str, limit: u64) -> Result<(Vec<Finished>, u64), PortError> {
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        let max_call = Duration::seconds(i64::try_from(self.settings.max_call_secs).unwrap_or(i64::MAX / 2));
        let now = Utc::now();
        let (mut done, overdue, unsettled) = on_runtime(
            async move {
                let open = cs::open_dials(&db, &id).await?;
                let unsettled = open.len() as u64;
                let open: Vec<campaign_dial::Model> = open
                    .into_iter()
                    .filter(|d| d.status == cs::DIAL_PLACED || d.status == cs::DIAL_REFUSED)
                    .collect();
                let ids: Vec<String> = open.iter().map(|d| d.call_id.clone()).collect();
                let statuses = flows::dial_statuses(&db, &ids).await?;
                let mut done = Vec::new();
                let mut overdue = Vec::new();
                for d in open {
                    match statuses.get(&d.call_id).and_then(|s| Outcome::of_call_status(s)) {
                        Some(outcome) => done.push(Finished {
                            intent_key: d.intent_key,
                            contact_id: d.contact_id,
                            attempt: u32::try_from(d.attempt).unwrap_or(1),
                            outcome,
                        }),
                        // Placed (acknowledged by the carrier: `updated_at`), still open,
                        // and older than any call may last.
                        // (A workflow's execution ends by its own timeouts.)
                        None if d.status == cs::DIAL_PLACED
                            && now - d.updated_at > max_call
                            && !flows::is_execution(&d.call_id) =>
                        {
                            overdue.push(d);
                        }
                        None => {}
                    }
                }
                Ok::<_, DbErr>((done, overdue, unsettled))
            },
            db_err,
        )
        .await?;
        // A call the carrier never ended: hung up and ended as failed, so its contact moves
        // on and the campaign can complete.
        for d in overdue {
            let reason = format!(
                "overdue: still open {} s after the carrier placed it (campaigns.max_call_secs)",
                self.settings.max_call_secs
            );
            let handle = self.calls.get(&d.call_id);
            if let Some(handle) = handle {
                handle.overdue(reason.clone());
            }
            // The call's actor records the same; without one (or if it is stuck) the row is
            // closed here.
            let (db, call_id) = (self.db.clone(), d.call_id.clone());
            on_runtime(async move { cs::fail_open_call(&db, &call_id, &reason).await }, db_err).await?;
            tracing::warn!(campaign = campaign_id, intent = %d.intent_key, call = %d.call_id, "campaign call overdue: ended as failed");
            done.push(Finished {
                intent_key: d.intent_key,
                contact_id: d.contact_id,
                attempt: u32::try_from(d.attempt).unwrap_or(1),
                outcome: Outcome::Failed,
            });
        }
        done.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok((done, unsettled))
    }

    async fn settle(&self, campaign_id: &str, epoch: i64, settles: &[Settle]) -> Result<(), PortError> {
        let (db, id, lease, owned) = (self.db.clone(), campaign_id.to_string(), self.lease(), settles.to_vec());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move { apply_settles(txn, &id, &owned).await })
                })
                .await
            },
            fence_err,
        )
        .await?;
        count_settled(settles);
        Ok(())
    }

    async fn org_headroom(&self, org_id: &str) -> Result<u64, PortError> {
        let (db, org) = (self.db.clone(), org_id.to_string());
        let (open, plan) = on_runtime(
            async move {
                let open = cs::org_open_calls(&db, &org).await?;
                let plan = crate::store::accounts::find_org(&db, &org).await?.map(|o| o.plan);
                Ok::<_, DbErr>((open, plan))
            },
            db_err,
        )
        .await?;
        let plan_cap = plan.and_then(|p| self.plan_caps.get(&p).copied()).unwrap_or(u32::MAX);
        let cap = self.settings.org_max_concurrent_calls.min(plan_cap);
        Ok(u64::from(cap).saturating_sub(open))
    }

    async fn in_doubt(&self, campaign_id: &str, older_than: DateTime<Utc>) -> Result<Vec<InDoubt>, PortError> {
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        let rows = on_runtime(async move { cs::in_doubt(&db, &id, older_than).await }, db_err).await?;
        let here = self.dialing().clone();
        Ok(rows
            .into_iter()
            .filter(|d| !here.contains(&d.intent_key))
            .map(|d| InDoubt {
                intent_key: d.intent_key,
                contact_id: d.contact_id,
                call_id: d.call_id,
                created_at: d.created_at,
            })
            .collect())
    }

    async fn reconcile(&self, campaign_id: &str, epoch: i64, intent: &InDoubt) -> Result<Reconciled, PortError> {
        if self.dialing().contains(&intent.intent_key) {
            return Ok(Reconciled::InFlightHere);
        }
        let (db, call_id) = (self.db.clone(), intent.call_id.clone());
        let old = on_runtime(async move { store::calls::find_any(&db, &call_id).await }, db_err)
            .await?
            .ok_or_else(|| {
                PortError::Unavailable(format!(
                    "call {} of intent {} is gone",
                    intent.call_id, intent.intent_key
                ))
            })?;
        let (db, org, from) = (self.db.clone(), old.org_id.clone(), old.from_number.clone());
        let number = on_runtime(
            async move { store::phone_numbers::find_by_number(&db, &org, &from).await },
            db_err,
        )
        .await?
        .ok_or_else(|| PortError::Unavailable(format!("number {} is gone", old.from_number)))?;
        let carrier = self
            .calls
            .carriers()
            .of_number(&number)
            .await
            .map_err(|e| PortError::Unavailable(format!("carrier: {e}")))?;
        let lookup = CallLookup {
            intent_key: intent.intent_key.clone(),
            to: old.to_number.clone(),
            from: old.from_number.clone(),
            since: intent.created_at,
        };
        let found = carrier
            .find_call(&lookup)
            .await
            .map_err(|e| PortError::Unavailable(format!("carrier lookup: {e}")))?;
        // The call row a crash left open is closed (interrupted) either way.
        if self.calls.get(&old.id).is_none() && Outcome::of_call_status(old.status.as_str()).is_none() {
            let (calls, row) = (self.calls.clone(), old.clone());
            on_runtime(async move { calls.close_interrupted(&row).await }, db_err).await?;
        }
        if let Some(sid) = found {
            let (db, id, key, lease, call_id, sid2) = (
                self.db.clone(),
                campaign_id.to_string(),
                intent.intent_key.clone(),
                self.lease(),
                old.id.clone(),
                sid.clone(),
            );
            on_runtime(
                async move {
                    cs::fenced(&db, &id, epoch, lease, move |txn| {
                        Box::pin(async move {
                            cs::dial_placed(txn, &key, &sid2, true).await?;
                            store::calls::set_provider_sid(txn, &call_id, &sid2).await
                        })
                    })
                    .await
                },
                fence_err,
            )
            .await?;
            crate::metrics::counter("thruai_campaign_dials_total", &[("result", "reconciled")], 1.0);
            return Ok(Reconciled::Found(sid));
        }
        // Unknown to the carrier: dial again, under the same key, with a fresh call row.
        let row = calls::new_call(
            &old.org_id,
            &old.agent_id,
            Direction::Outbound,
            &old.from_number,
            &old.to_number,
            Some(&number),
            old.variables.clone(),
            old.metadata.clone(),
        );
        let (db, id, key, lease, row2) = (
            self.db.clone(),
            campaign_id.to_string(),
            intent.intent_key.clone(),
            self.lease(),
            row.clone(),
        );
        self.dialing().insert(intent.intent_key.clone());
        let res = on_runtime(
            async move {
                cs::fenced(&db, &id, epoch, lease, move |txn| {
                    Box::pin(async move {
                        let call_id = row2.id.clone();
                        store::calls::insert(txn, row2).await?;
                        cs::redial_with(txn, &key, &call_id).await
                    })
                })
                .await
            },
            fence_err,
        )
        .await;
        if let Err(e) = res {
            self.dialing().remove(&intent.intent_key);
            return Err(e);
        }
        self.dialer().spawn(
            campaign_id.to_string(),
            Dial {
                row,
                carrier,
                key: intent.intent_key.clone(),
                setup: None,
            },
        );
        crate::metrics::counter("thruai_campaign_dials_total", &[("result", "redialled")], 1.0);
        Ok(Reconciled::Redialled)
    }

    async fn due_contacts(
        &self,
        campaign_id: &str,
        now: DateTime<Utc>,
        limit: u64,
        with_timezone_only: bool,
    ) -> Result<Vec<DueContact>, PortError> {
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        let rows = on_runtime(
            async move { cs::due_contacts(&db, &id, now, limit, with_timezone_only).await },
            db_err,
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|c| DueContact {
                id: c.id,
                phone_number: c.phone_number,
                timezone: c.timezone,
                attempts: u32::try_from(c.attempts).unwrap_or(0),
                position: c.position,
                name: c.name,
                custom_data: c.custom_data,
                opted_out: c.opted_out != 0,
            })
            .collect())
    }

    async fn suppress(&self, campaign_id: &str, epoch: i64, contact_id: &str) -> Result<(), PortError> {
        let (db, id, lease, cid) = (
            self.db.clone(),
            campaign_id.to_string(),
            self.lease(),
            contact_id.to_string(),
        );
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move {
                        cs::move_contact(
                            txn,
                            &id,
                            &cid,
                            ContactStatus::Queued,
                            ContactStatus::Suppressed,
                            None,
                            Some("opted_out"),
                        )
                        .await
                        .map(|_| ())
                    })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    async fn defer(
        &self,
        campaign_id: &str,
        epoch: i64,
        contact_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), PortError> {
        let (db, id, lease, cid) = (
            self.db.clone(),
            campaign_id.to_string(),
            self.lease(),
            contact_id.to_string(),
        );
        on_runtime(
            async move {
                cs::fenced(&db, &id, epoch, lease, move |txn| {
                    Box::pin(async move { cs::defer(txn, &cid, until).await })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    async fn arm(
        &self,
        campaign_id: &str,
        epoch: i64,
        settles: &[Settle],
        contacts: &[Ahead],
    ) -> Result<Vec<(String, String)>, PortError> {
        if contacts.is_empty() {
            self.settle(campaign_id, epoch, settles).await?;
            return Ok(Vec::new());
        }
        let row = self.read.campaign(campaign_id).await?;
        let flow = match self.published_flow(&row).await? {
            Ok(flow) => flow,
            Err(why) => {
                // No contact can start: the campaign is paused (with the settles applied),
                // and resumes when it is started again once its workflow is published.
                self.pause(campaign_id, epoch, settles, &why).await?;
                return Ok(Vec::new());
            }
        };
        let setup = self.read.setup_of(&row).await?;
        // The number (and carrier) of each call: the pool in turn, looked up once per number.
        let mut origins: HashMap<Option<String>, (thruai_entities::phone_number::Model, Arc<dyn tel::Telephony>)> =
            HashMap::new();
        let mut planned = Vec::with_capacity(contacts.len());
        let now = Utc::now();
        for Ahead { contact, window } in contacts {
            let turn = u64::try_from(contact.position).unwrap_or(0) + u64::from(contact.attempts);
            let from = origin_number(&row, turn);
            if !origins.contains_key(&from) {
                let origin = self.read.origin_of(&row, from.clone()).await?;
                origins.insert(from.clone(), origin);
            }
            let Some((number, carrier)) = origins.get(&from) else {
                continue;
            };
            let attempt = contact.attempts + 1;
            let key = format!("{}:{attempt}", contact.id);
            let mut metadata = json!({
                "campaignId": row.id, "contactId": contact.id, "intentKey": key, "attempt": attempt,
            });
            if let Some(script) = row.metadata.get("sandboxScript") {
                metadata["sandboxScript"] = script.clone();
            } else if self.settings.sandbox_call_ms > 0 {
                metadata["sandboxScript"] = json!([{ "silenceMs": self.settings.sandbox_call_ms }, { "hangup": true }]);
            }
            // The call row is written when the intent starts (an armed intent is no call:
            // not open, not counted towards the organisation's limit, nothing to close
            // after a crash); its id is the intent's from now on.
            let call_row = calls::new_call(
                &row.org_id,
                &row.agent_id,
                Direction::Outbound,
                &number.phone_number,
                &contact.phone_number,
                Some(number),
                variables_of(contact.name.as_deref(), &contact.custom_data).into(),
                metadata,
            );
            let mut intent = campaign_dial::Model {
                intent_key: key.clone(),
                campaign_id: row.id.clone(),
                contact_id: contact.id.clone(),
                org_id: row.org_id.clone(),
                attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
                call_id: call_row.id.clone(),
                epoch,
                status: cs::DIAL_ARMED.into(),
                provider_call_sid: None,
                outcome: None,
                reconciled: false,
                created_at: now,
                updated_at: now,
            };
            let execution = flow
                .as_ref()
                .map(|f| Box::new(f.execution(&row, contact, &key, attempt, &number.phone_number)));
            if let Some(exec) = &execution {
                intent.call_id.clone_from(&exec.id);
            }
            planned.push((
                intent,
                Armed {
                    execution,
                    key,
                    contact_id: contact.id.clone(),
                    window: window.clone(),
                    call_row,
                    carrier: carrier.clone(),
                    setup: setup.clone(),
                },
            ));
        }
        let (db, id, lease, owned) = (self.db.clone(), campaign_id.to_string(), self.lease(), settles.to_vec());
        let rows: Vec<campaign_dial::Model> = planned.iter().map(|(d, _)| d.clone()).collect();
        // The settles and the intents armed (contacts in progress, the intents) in one
        // fenced transaction.
        let recorded: Vec<String> = on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move {
                        apply_settles(txn, &id, &owned).await?;
                        cs::arm_intents(txn, &id, rows).await
                    })
                })
                .await
            },
            fence_err,
        )
        .await?;
        count_settled(settles);
        if recorded.is_empty() {
            return Ok(Vec::new());
        }
        self.failpoint("campaign_abort_after_arm");
        let recorded: HashSet<String> = recorded.into_iter().collect();
        let mut out = Vec::with_capacity(recorded.len());
        let mut armed = Vec::with_capacity(recorded.len());
        for (intent, a) in planned {
            if recorded.contains(&intent.intent_key) {
                out.push((intent.contact_id, intent.intent_key));
                armed.push(a);
            }
        }
        self.ahead.push(campaign_id, epoch, armed);
        Ok(out)
    }

    async fn fire(&self, campaign_id: &str, epoch: i64, n: u64) -> Result<Vec<(String, String)>, PortError> {
        let dialer = self.dialer();
        let mut out = Vec::new();
        while (out.len() as u64) < n {
            let Some((armed_by, lock, a)) = self.ahead.take(campaign_id, Utc::now()) else {
                break;
            };
            if armed_by != epoch {
                // A newer owner of this process armed it: not this actor's to start.
                self.ahead.put_back(campaign_id, armed_by, a);
                return Err(PortError::Fenced);
            }
            let (contact_id, key) = (a.contact_id.clone(), a.key.clone());
            match dialer.fire(campaign_id, epoch, &lock, a).await {
                Fired::Started(d) => {
                    out.push((contact_id, d.key.clone()));
                    dialer.clone().spawn(campaign_id.to_string(), d);
                }
                Fired::Launched => out.push((contact_id, key)),
                Fired::NotNow(a) => {
                    self.ahead.put_back(campaign_id, epoch, a);
                    break;
                }
                Fired::Gone => {}
            }
        }
        Ok(out)
    }

    fn armed(&self, campaign_id: &str) -> Vec<ArmedIntent> {
        self.ahead.list(campaign_id)
    }

    fn started(&self, campaign_id: &str) -> u64 {
        self.ahead.started_count(campaign_id)
    }

    async fn release_armed(
        &self,
        campaign_id: &str,
        epoch: i64,
        which: Option<&[(String, Option<DateTime<Utc>>)]>,
    ) -> Result<u64, PortError> {
        let intents: Vec<(String, String, Option<DateTime<Utc>>)> = match which {
            Some(list) => {
                let keys: HashSet<&str> = list.iter().map(|(k, _)| k.as_str()).collect();
                let until: HashMap<&str, Option<DateTime<Utc>>> = list.iter().map(|(k, u)| (k.as_str(), *u)).collect();
                self.ahead
                    .remove(campaign_id, &keys)
                    .into_iter()
                    .map(|a| {
                        let at = until.get(a.key.as_str()).copied().flatten();
                        (a.key, a.contact_id, at)
                    })
                    .collect()
            }
            None => {
                // Every armed intent of the campaign, whether armed by this owner or not.
                let all: HashSet<String> = self.ahead.list(campaign_id).into_iter().map(|a| a.intent_key).collect();
                self.ahead
                    .remove(campaign_id, &all.iter().map(String::as_str).collect());
                let (db, id) = (self.db.clone(), campaign_id.to_string());
                on_runtime(async move { cs::armed_dials(&db, &id).await }, db_err)
                    .await?
                    .into_iter()
                    .map(|d| (d.intent_key, d.contact_id, None))
                    .collect()
            }
        };
        if intents.is_empty() {
            return Ok(0);
        }
        let (db, id, lease) = (self.db.clone(), campaign_id.to_string(), self.lease());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move { cs::release_armed(txn, &id, &intents).await })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    async fn remaining(&self, campaign_id: &str, now: DateTime<Utc>) -> Result<Remaining, PortError> {
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        on_runtime(
            async move {
                let (queued, due, in_progress, next_due) = cs::remaining(&db, &id, now).await?;
                let open_dials = cs::count_open_dials(&db, &id).await?;
                Ok::<_, DbErr>(Remaining {
                    queued,
                    due,
                    in_progress,
                    open_dials,
                    next_due,
                })
            },
            db_err,
        )
        .await
    }

    async fn complete(&self, campaign_id: &str, epoch: i64) -> Result<bool, PortError> {
        let (db, id, lease) = (self.db.clone(), campaign_id.to_string(), self.lease());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move { cs::complete(txn, &id).await })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    async fn snapshot(&self, campaign_id: &str, epoch: i64, view: &Value) -> Result<(), PortError> {
        let (db, id, lease, view) = (self.db.clone(), campaign_id.to_string(), self.lease(), view.clone());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move { cs::write_snapshot(txn, &id, view).await })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    fn failpoint(&self, name: &str) {
        if self.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }
}
