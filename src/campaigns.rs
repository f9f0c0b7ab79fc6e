//! Outbound campaigns, application side: the `CampaignPorts` the actors dial through (the
//! store, fenced by the owner epoch; the live-call machinery of `calls::dial_with`; the
//! carrier's lookup of in-doubt intents), and the conversions between stored JSON and the
//! actor's calling window and retry policy.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::campaign::{
    CampaignConfig,
    ports::{
        Ahead, ArmedIntent, CampaignPorts, CampaignView, DueContact, Finished, InDoubt, PortError, Reconciled,
        Remaining, Settle,
    },
    state::{CampaignStatus, ContactStatus, Decision, Outcome, RetryPolicy},
    window::{self, CallingWindow},
};
use thruai_entities::{call, campaign, campaign_dial};

use crate::{
    calls,
    config::Settings,
    providers::telephony::{self as tel, CallLookup},
    state::AppState,
    store::{self, campaigns as cs},
};

/// How often a dial task checks whether its call's actor is gone, besides being woken by
/// the call's end (in-memory, no I/O): only for an actor that stopped without leaving the
/// registry.
const CALL_END_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// A calling window as stored and served: `{timezone, startTime, endTime, days}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WindowJson {
    /// IANA time zone, e.g. `America/New_York` (a contact's `customData.timezone` overrides it).
    pub timezone: String,
    /// Local `HH:MM` (24 h) from which calls may start.
    pub start_time: String,
    /// Local `HH:MM` from which no call starts; earlier than `startTime` when the window
    /// crosses midnight (`22:00`–`02:00` closes at 02:00 the next day).
    pub end_time: String,
    /// Days calls may start: `mon` … `sun`; default Monday to Friday.
    #[serde(default = "weekdays")]
    pub days: Vec<String>,
}

fn weekdays() -> Vec<String> {
    ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec()
}

impl WindowJson {
    /// The window, or which field is wrong.
    ///
    /// # Errors
    /// `(field, message)` for a bad zone, time or day.
    pub fn parse(&self) -> Result<CallingWindow, (&'static str, String)> {
        let tz = window::parse_tz(&self.timezone).ok_or_else(|| {
            (
                "callingWindow.timezone",
                format!("'{}' is not an IANA time zone (e.g. America/New_York)", self.timezone),
            )
        })?;
        let start = window::parse_hhmm(&self.start_time)
            .ok_or_else(|| ("callingWindow.startTime", "must be HH:MM (24 h)".to_string()))?;
        let end = window::parse_hhmm(&self.end_time)
            .ok_or_else(|| ("callingWindow.endTime", "must be HH:MM (24 h)".to_string()))?;
        if end == start {
            return Err((
                "callingWindow.endTime",
                "must differ from startTime (an earlier endTime ends the window the next day)".into(),
            ));
        }
        if self.days.is_empty() || self.days.len() > 7 {
            return Err(("callingWindow.days", "must list 1 to 7 days (mon … sun)".into()));
        }
        let mut days = Vec::new();
        for d in &self.days {
            let day = window::parse_day(d)
                .ok_or_else(|| ("callingWindow.days", format!("'{d}' is not a day (mon … sun)")))?;
            if !days.contains(&day) {
                days.push(day);
            }
        }
        Ok(CallingWindow { tz, start, end, days })
    }
}

/// The stored window of a campaign row.
pub fn window_of(row: &campaign::Model) -> Option<CallingWindow> {
    row.calling_window
        .clone()
        .and_then(|v| serde_json::from_value::<WindowJson>(v).ok())
        .and_then(|w| w.parse().ok())
}

pub fn retry_of(row: &campaign::Model) -> RetryPolicy {
    serde_json::from_value(row.retry_policy.clone()).unwrap_or_default()
}

pub fn pool_of(row: &campaign::Model) -> Vec<String> {
    serde_json::from_value(row.number_pool.clone()).unwrap_or_default()
}

/// Prompt variables of a contact's call: its `customData` (strings as they are, other
/// values as JSON) and `name`.
pub fn variables_of(name: Option<&str>, custom: &Value) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    if let Some(obj) = custom.as_object() {
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vars.insert(k.clone(), text);
        }
    }
    if let Some(n) = name {
        vars.entry("name".into()).or_insert_with(|| n.to_string());
    }
    vars
}

pub fn config_of(s: &Settings) -> CampaignConfig {
    let c = &s.campaigns;
    CampaignConfig {
        tick: std::time::Duration::from_millis(c.tick_ms),
        in_doubt_after: std::time::Duration::from_millis(c.in_doubt_after_ms),
        max_restarts: c.max_restarts,
        restart_window: std::time::Duration::from_secs(c.restart_window_secs),
        sweep: std::time::Duration::from_millis(c.lease_ms / 2),
        dial_ahead: c.dial_ahead,
    }
}

/// The application, as the campaign ports reach it: set once the state is built, cleared
/// by [`AppState::release`].
#[derive(Clone, Default)]
pub struct AppCell(Arc<Mutex<Option<AppState>>>);

impl AppCell {
    pub fn set(&self, state: Option<AppState>) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }

    fn get(&self) -> Option<AppState> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

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
}

/// The decisions on finished dials: each contact moves on (completed, queued again for a
/// retry, failed) and its dial is done (in the caller's fenced transaction); the moves are
/// counted once per status they went to.
async fn apply_settles(
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

/// The ports of this node's campaign actors.
pub struct ServerCampaignPorts {
    pub state: AppCell,
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    /// This process, as recorded in the leases it holds.
    pub node: String,
    /// Intent keys this process is dialling right now (never reconciled meanwhile).
    pub dialing: Arc<Mutex<HashSet<String>>>,
    /// Each campaign as its actor last read it, with the numbers and carriers it dials
    /// from (see [`Dialling`]).
    pub read: Arc<Mutex<HashMap<String, Dialling>>>,
    /// The intents each campaign's actor armed ahead in this process (see [`Pools`]).
    pub ahead: Pools,
}

/// An intent armed ahead in this process, with everything its call needs: starting it is
/// the fire statement (its call row goes in with it) and the carrier request, nothing else.
struct Armed {
    key: String,
    contact_id: String,
    /// The calling window its call must start in.
    window: Option<CallingWindow>,
    call_row: call::Model,
    carrier: Arc<dyn tel::Telephony>,
    setup: Arc<calls::AgentSetup>,
}

/// A campaign's intents armed ahead by one owner epoch, oldest first, and the lock its
/// fires take in turn (so that two fires never both take the last free slot).
struct Pool {
    epoch: i64,
    armed: VecDeque<Armed>,
    fire: Arc<tokio::sync::Mutex<()>>,
    /// Intents started from this pool.
    started: u64,
}

/// The intents armed ahead, per campaign: the actor arms them (and puts them back in the
/// queue when the campaign pauses or a window closes); whoever fills a free slot takes the
/// oldest one whose window is open — the actor on its tick, or the dial task of a call
/// that just ended, before the actor hears of the end.
#[derive(Clone, Default)]
pub struct Pools(Arc<Mutex<HashMap<String, Pool>>>);

impl Pools {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pool>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An empty pool for the campaign's new owner epoch (what an earlier one armed is gone).
    fn reset(&self, campaign_id: &str, epoch: i64) {
        self.lock().insert(
            campaign_id.to_string(),
            Pool {
                epoch,
                armed: VecDeque::new(),
                fire: Arc::default(),
                started: 0,
            },
        );
    }

    fn forget(&self, campaign_id: &str) {
        self.lock().remove(campaign_id);
    }

    fn push(&self, campaign_id: &str, epoch: i64, armed: Vec<Armed>) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.armed.extend(armed);
        }
    }

    /// Puts back an intent that could not start (at the cap, or paused): first in line.
    fn put_back(&self, campaign_id: &str, epoch: i64, armed: Armed) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.armed.push_front(armed);
        }
    }

    /// The oldest armed intent whose window is open at `now`, with the epoch that armed it
    /// and the campaign's fire lock.
    fn take(&self, campaign_id: &str, now: DateTime<Utc>) -> Option<(i64, Arc<tokio::sync::Mutex<()>>, Armed)> {
        let mut pools = self.lock();
        let p = pools.get_mut(campaign_id)?;
        let at = p
            .armed
            .iter()
            .position(|a| a.window.as_ref().is_none_or(|w| w.is_open(now)))?;
        let a = p.armed.remove(at)?;
        Some((p.epoch, p.fire.clone(), a))
    }

    /// Takes the listed intents out (those still here).
    fn remove(&self, campaign_id: &str, keys: &HashSet<&str>) -> Vec<Armed> {
        let mut pools = self.lock();
        let Some(p) = pools.get_mut(campaign_id) else {
            return Vec::new();
        };
        let (out, keep): (Vec<Armed>, Vec<Armed>) = p.armed.drain(..).partition(|a| keys.contains(a.key.as_str()));
        p.armed = keep.into();
        out
    }

    fn started(&self, campaign_id: &str, epoch: i64) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.started += 1;
        }
    }

    fn list(&self, campaign_id: &str) -> Vec<ArmedIntent> {
        self.lock().get(campaign_id).map_or_else(Vec::new, |p| {
            p.armed
                .iter()
                .map(|a| ArmedIntent {
                    intent_key: a.key.clone(),
                    contact_id: a.contact_id.clone(),
                    window: a.window.clone(),
                })
                .collect()
        })
    }
}

/// One call of a campaign to place: its row (committed with its started intent), carrier,
/// intent key and, when armed ahead, its agent as read then.
struct Dial {
    row: call::Model,
    carrier: Arc<dyn tel::Telephony>,
    key: String,
    setup: Option<Arc<calls::AgentSetup>>,
}

/// What trying to start an armed intent found.
enum Fired {
    Started(Dial),
    /// Not now (at the cap, paused, or the database failed): back in line.
    NotNow(Armed),
    /// No longer armed under this epoch (put back in the queue, or another owner): dropped.
    Gone,
}

/// The part of the ports a dial task needs (cloned into it).
#[derive(Clone)]
struct Dialer {
    db: DatabaseConnection,
    dialing: Arc<Mutex<HashSet<String>>>,
    ahead: Pools,
    failpoint: String,
}

/// What a campaign's dials need besides its contacts: its row as of the actor's last
/// `renew` (on every timed tick, and at once after any change through the API), and the
/// number and carrier of each origin it dialled from since. A refill after a call ended
/// uses these instead of reading the campaign and its numbers again (three queries per
/// dialling tick); the intents' transaction still checks the status and the cap under the
/// campaign row's lock.
#[derive(Clone)]
pub struct Dialling {
    row: campaign::Model,
    origins: HashMap<Option<String>, (thruai_entities::phone_number::Model, Arc<dyn tel::Telephony>)>,
    /// The campaign's agent and its tools, read once per `renew` for the calls armed.
    setup: Option<Arc<calls::AgentSetup>>,
}

fn db_err(e: DbErr) -> PortError {
    PortError::Unavailable(format!("database: {e}"))
}

fn fence_err(e: cs::FenceError) -> PortError {
    match e {
        cs::FenceError::Fenced => PortError::Fenced,
        cs::FenceError::Db(e) => db_err(e),
    }
}

/// Database work runs as a task of the Tokio runtime (see `webhooks::on_runtime`).
async fn on_runtime<T: Send + 'static, E: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
    map: fn(E) -> PortError,
) -> Result<T, PortError> {
    tokio::spawn(fut)
        .await
        .map_err(|e| PortError::Unavailable(e.to_string()))?
        .map_err(map)
}

impl Dialer {
    fn dialing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.dialing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn failpoint(&self, name: &str) {
        if self.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }

    /// Starts an armed intent: its fire (fenced, under the campaign's cap, with its call
    /// row), taken in turn with the campaign's other fires.
    async fn fire(&self, campaign_id: &str, epoch: i64, lock: &tokio::sync::Mutex<()>, mut a: Armed) -> Fired {
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
    fn spawn(self, state: AppState, campaign_id: String, first: Dial) {
        actix_web::rt::spawn(async move {
            let mut next = Some(first);
            while let Some(dial) = next.take() {
                next = self.place(&state, &campaign_id, dial).await;
            }
        });
    }

    async fn place(&self, state: &AppState, campaign_id: &str, dial: Dial) -> Option<Dial> {
        let Dial {
            row,
            carrier,
            key,
            setup,
        } = dial;
        let db = state.db.clone();
        let call_id = row.id.clone();
        let res = match setup {
            Some(setup) => calls::dial_with_setup(state, row, carrier, Some(&key), &setup).await,
            None => calls::dial_with(state, row, carrier, Some(&key)).await,
        };
        let Ok((sid, handle)) = res else {
            let (db, key2) = (db.clone(), key.clone());
            let _ = tokio::spawn(async move {
                cs::dial_refused(&db, &key2).await?;
                cs::fail_open_call(&db, &call_id, "the call could not be placed").await
            })
            .await;
            self.dialing().remove(&key);
            state.campaigns.call_ended(campaign_id);
            return None;
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
        state.campaigns.call_ended(campaign_id);
        next
    }
}

impl ServerCampaignPorts {
    fn lease(&self) -> Duration {
        Duration::milliseconds(i64::try_from(self.settings.campaigns.lease_ms).unwrap_or(10_000))
    }

    fn app(&self) -> Result<AppState, PortError> {
        self.state
            .get()
            .ok_or_else(|| PortError::Unavailable("the application is not running".into()))
    }

    fn dialing(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.dialing.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn dialer(&self) -> Dialer {
        Dialer {
            db: self.db.clone(),
            dialing: self.dialing.clone(),
            ahead: self.ahead.clone(),
            failpoint: self.settings.testing.failpoint.clone(),
        }
    }

    /// The number and carrier a campaign dials from: `from` (see [`origin_number`]), else
    /// the agent's number.
    async fn origin(
        &self,
        state: &AppState,
        row: &campaign::Model,
        from: Option<String>,
    ) -> Result<(thruai_entities::phone_number::Model, Arc<dyn tel::Telephony>), PortError> {
        let (db, org, agent) = (self.db.clone(), row.org_id.clone(), row.agent_id.clone());
        let number = on_runtime(
            async move { calls::from_number(&db, &org, &agent, from.as_deref()).await },
            |e| PortError::Unavailable(e.to_string()),
        )
        .await?;
        let carrier = tel::carrier_of(state, &number)
            .await
            .map_err(|e| PortError::Unavailable(format!("carrier: {e}")))?;
        Ok((number, carrier))
    }

    /// The campaign as last read by `renew`, else read now.
    async fn campaign(&self, id: &str) -> Result<campaign::Model, PortError> {
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

    fn read(&self) -> std::sync::MutexGuard<'_, HashMap<String, Dialling>> {
        self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Keeps the campaign's row (its origins are looked up again: the numbers may have
    /// changed with it).
    fn remember(&self, row: campaign::Model) {
        self.read().insert(
            row.id.clone(),
            Dialling {
                row,
                origins: HashMap::new(),
                setup: None,
            },
        );
    }

    /// The number and carrier of `from` for the campaign, looked up once per `renew`.
    /// The agent (and tools) of the campaign's calls, read once per `renew`.
    async fn setup_of(&self, state: &AppState, row: &campaign::Model) -> Result<Arc<calls::AgentSetup>, PortError> {
        if let Some(s) = self.read().get(&row.id).and_then(|d| d.setup.clone()) {
            return Ok(s);
        }
        let setup = Arc::new(
            calls::agent_setup(state, &row.org_id, &row.agent_id)
                .await
                .map_err(|e| PortError::Unavailable(format!("agent: {e}")))?,
        );
        if let Some(d) = self.read().get_mut(&row.id) {
            d.setup = Some(setup.clone());
        }
        Ok(setup)
    }

    async fn origin_of(
        &self,
        state: &AppState,
        row: &campaign::Model,
        from: Option<String>,
    ) -> Result<(thruai_entities::phone_number::Model, Arc<dyn tel::Telephony>), PortError> {
        if let Some(o) = self.read().get(&row.id).and_then(|d| d.origins.get(&from)) {
            return Ok(o.clone());
        }
        let origin = self.origin(state, row, from.clone()).await?;
        if let Some(d) = self.read().get_mut(&row.id) {
            d.origins.insert(from, origin.clone());
        }
        Ok(origin)
    }
}

use sea_orm::EntityTrait;

#[async_trait]
impl CampaignPorts for ServerCampaignPorts {
    async fn claim(&self, campaign_id: &str) -> Result<Option<i64>, PortError> {
        self.read().remove(campaign_id);
        refresh_queue_statistics(self.db.clone());
        let (db, id, node, lease) = (
            self.db.clone(),
            campaign_id.to_string(),
            self.node.clone(),
            self.lease(),
        );
        let single = self.settings.is_sqlite();
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
        let before = self.read().get(campaign_id).map(|d| d.row.clone());
        let (db, id, lease) = (self.db.clone(), campaign_id.to_string(), self.lease());
        let row = match on_runtime(async move { cs::renew(&db, &id, epoch, lease).await }, fence_err).await {
            Ok(row) => row,
            Err(e) => {
                self.read().remove(campaign_id);
                return Err(e);
            }
        };
        match &row {
            Some(r) => {
                self.remember(r.clone());
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
                self.read().remove(campaign_id);
            }
        }
        Ok(row.map(|r| CampaignView {
            org_id: r.org_id.clone(),
            status: CampaignStatus::parse(&r.status).unwrap_or(CampaignStatus::Paused),
            max_concurrent: u32::try_from(r.max_concurrent_calls).unwrap_or(1),
            window: window_of(&r),
            retry: retry_of(&r),
        }))
    }

    async fn release(&self, campaign_id: &str, epoch: i64) -> Result<(), PortError> {
        self.read().remove(campaign_id);
        self.ahead.forget(campaign_id);
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        on_runtime(async move { cs::release(&db, &id, epoch).await }, db_err).await
    }

    async fn finished(&self, campaign_id: &str, limit: u64) -> Result<(Vec<Finished>, u64), PortError> {
        let (db, id) = (self.db.clone(), campaign_id.to_string());
        let max_call = Duration::seconds(i64::try_from(self.settings.campaigns.max_call_secs).unwrap_or(i64::MAX / 2));
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
                let statuses = cs::call_statuses(&db, &ids).await?;
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
                        None if d.status == cs::DIAL_PLACED && now - d.updated_at > max_call => overdue.push(d),
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
                self.settings.campaigns.max_call_secs
            );
            let handle = self.state.get().and_then(|s| s.calls.get(&d.call_id));
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
        let (db, id, lease, settles) = (self.db.clone(), campaign_id.to_string(), self.lease(), settles.to_vec());
        on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move { apply_settles(txn, &id, &settles).await })
                })
                .await
            },
            fence_err,
        )
        .await
    }

    async fn org_headroom(&self, org_id: &str) -> Result<u64, PortError> {
        let (db, org) = (self.db.clone(), org_id.to_string());
        let open = on_runtime(async move { cs::org_open_calls(&db, &org).await }, db_err).await?;
        Ok(u64::from(self.settings.campaigns.org_max_concurrent_calls).saturating_sub(open))
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
        let state = self.app()?;
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
        let carrier = tel::carrier_of(&state, &number)
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
        if state.calls.get(&old.id).is_none() && Outcome::of_call_status(&old.status).is_none() {
            let (db, row) = (self.db.clone(), old.clone());
            on_runtime(async move { store::calls::close_interrupted(&db, &row).await }, db_err).await?;
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
            return Ok(Reconciled::Found(sid));
        }
        // Unknown to the carrier: dial again, under the same key, with a fresh call row.
        let row = calls::new_call(
            &old.org_id,
            &old.agent_id,
            "outbound",
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
            state,
            campaign_id.to_string(),
            Dial {
                row,
                carrier,
                key: intent.intent_key.clone(),
                setup: None,
            },
        );
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
        let state = self.app()?;
        let row = self.campaign(campaign_id).await?;
        let setup = self.setup_of(&state, &row).await?;
        // The number (and carrier) of each call: the pool in turn, looked up once per number.
        let mut origins: HashMap<Option<String>, (thruai_entities::phone_number::Model, Arc<dyn tel::Telephony>)> =
            HashMap::new();
        let mut planned = Vec::with_capacity(contacts.len());
        let now = Utc::now();
        for Ahead { contact, window } in contacts {
            let turn = u64::try_from(contact.position).unwrap_or(0) + u64::from(contact.attempts);
            let from = origin_number(&row, turn);
            if !origins.contains_key(&from) {
                let origin = self.origin_of(&state, &row, from.clone()).await?;
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
            } else if self.settings.campaigns.sandbox_call_ms > 0 {
                metadata["sandboxScript"] =
                    json!([{ "silenceMs": self.settings.campaigns.sandbox_call_ms }, { "hangup": true }]);
            }
            // The call row is written when the intent starts (an armed intent is no call:
            // not open, not counted towards the organisation's limit, nothing to close
            // after a crash); its id is the intent's from now on.
            let call_row = calls::new_call(
                &row.org_id,
                &row.agent_id,
                "outbound",
                &number.phone_number,
                &contact.phone_number,
                Some(number),
                json!(variables_of(contact.name.as_deref(), &contact.custom_data)),
                metadata,
            );
            let intent = campaign_dial::Model {
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
            planned.push((
                intent,
                Armed {
                    key,
                    contact_id: contact.id.clone(),
                    window: window.clone(),
                    call_row,
                    carrier: carrier.clone(),
                    setup: setup.clone(),
                },
            ));
        }
        let (db, id, lease, settles) = (self.db.clone(), campaign_id.to_string(), self.lease(), settles.to_vec());
        let rows: Vec<campaign_dial::Model> = planned.iter().map(|(d, _)| d.clone()).collect();
        // The settles and the intents armed (contacts in progress, the intents) in one
        // fenced transaction.
        let recorded: Vec<String> = on_runtime(
            async move {
                cs::fenced(&db, &id.clone(), epoch, lease, move |txn| {
                    Box::pin(async move {
                        apply_settles(txn, &id, &settles).await?;
                        cs::arm_intents(txn, &id, rows).await
                    })
                })
                .await
            },
            fence_err,
        )
        .await?;
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
        let state = self.app()?;
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
            let contact_id = a.contact_id.clone();
            match dialer.fire(campaign_id, epoch, &lock, a).await {
                Fired::Started(d) => {
                    out.push((contact_id, d.key.clone()));
                    dialer.clone().spawn(state.clone(), campaign_id.to_string(), d);
                }
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
        self.ahead.lock().get(campaign_id).map_or(0, |p| p.started)
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
        if self.settings.testing.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }
}

/// Refreshes the planner's statistics of the contacts queue in the background when a bulk
/// load left them stale (PostgreSQL; see [`cs::refresh_queue_statistics`]): when a
/// campaign's actor starts, and when contacts are added to a running campaign.
pub fn refresh_queue_statistics(db: DatabaseConnection) {
    tokio::spawn(async move {
        if let Err(e) = cs::refresh_queue_statistics(&db).await {
            tracing::warn!(error = %e, "refreshing the contacts' statistics failed");
        }
    });
}

/// Starts the supervisor's sweep and the actors of campaigns left running (after a crash:
/// in-doubt intents are reconciled with the carrier on their first tick).
pub fn rehydrate(state: &AppState) -> usize {
    let db = state.db.clone();
    state.campaigns.start_sweep(move || {
        let db = db.clone();
        async move {
            tokio::spawn(async move { cs::active_ids(&db).await })
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        }
    });
    state.campaigns.rehydrate(&[])
}

/// The campaigns to resume at start-up.
///
/// # Errors
/// When the database is unreachable.
pub async fn resume(state: &AppState) -> anyhow::Result<usize> {
    let ids = cs::active_ids(&state.db).await?;
    let n = state.campaigns.rehydrate(&ids);
    rehydrate(state);
    Ok(n)
}
