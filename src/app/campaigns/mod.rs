//! Outbound campaigns, application side: the `CampaignPorts` the actors dial through
//! (`ports`: the store, fenced by the owner epoch; `dialer`: the calls service and the
//! carrier; `pools`: the intents armed ahead), the supervisor's start-up, and the
//! conversions between stored JSON and the actor's calling window and retry policy.

mod dialer;
mod flows;
mod pools;
mod ports;
mod reads;

pub use self::flows::{dial_statuses, is_execution};

use std::{collections::BTreeMap, sync::Arc};

use sea_orm::{DatabaseConnection, DbErr};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thruai_actors::campaign::ports::PortError;
use thruai_actors::{
    CampaignSupervisor,
    campaign::{
        CampaignConfig,
        state::RetryPolicy,
        window::{self, CallingWindow},
    },
};
use thruai_entities::{
    campaign,
    values::campaign::{WindowSpec, weekdays},
};

use crate::{app::calls::Calls, config::Settings, store::campaigns as cs};

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

impl From<WindowJson> for WindowSpec {
    fn from(w: WindowJson) -> Self {
        Self {
            timezone: w.timezone,
            start_time: w.start_time,
            end_time: w.end_time,
            days: w.days,
        }
    }
}

impl From<WindowSpec> for WindowJson {
    fn from(w: WindowSpec) -> Self {
        Self {
            timezone: w.timezone,
            start_time: w.start_time,
            end_time: w.end_time,
            days: w.days,
        }
    }
}

/// The stored window of a campaign row (`None`: none, or one that no longer parses).
pub fn window_of(row: &campaign::Model) -> Option<CallingWindow> {
    row.calling_window
        .clone()
        .and_then(|w| WindowJson::from(w).parse().ok())
}

pub fn retry_of(row: &campaign::Model) -> RetryPolicy {
    row.retry_policy.clone()
}

pub fn pool_of(row: &campaign::Model) -> Vec<String> {
    row.number_pool.0.clone()
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

pub(super) fn db_err(e: DbErr) -> PortError {
    PortError::Unavailable(format!("database: {e}"))
}

pub(super) fn fence_err(e: cs::FenceError) -> PortError {
    match e {
        cs::FenceError::Fenced => PortError::Fenced,
        cs::FenceError::Db(e) => db_err(e),
    }
}

/// Database work runs as a task of the Tokio runtime (see `webhooks::on_runtime`).
pub(super) async fn on_runtime<T: Send + 'static, E: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
    map: fn(E) -> PortError,
) -> Result<T, PortError> {
    tokio::spawn(fut)
        .await
        .map_err(|e| PortError::Unavailable(e.to_string()))?
        .map_err(map)
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

/// The supervisor of this node's campaign actors, dialling through `calls`.
pub fn supervisor(db: DatabaseConnection, settings: &Settings, calls: Calls) -> CampaignSupervisor {
    let config = config_of(settings);
    CampaignSupervisor::new(
        Arc::new(ports::ServerCampaignPorts {
            read: reads::Reads::new(db.clone(), calls.clone()),
            calls,
            waker: std::sync::OnceLock::new(),
            db,
            settings: settings.campaigns.clone(),
            plan_caps: Arc::new(
                settings
                    .billing
                    .plans
                    .iter()
                    .map(|(id, p)| (id.clone(), p.max_concurrent_calls))
                    .collect(),
            ),
            failpoint: settings.testing.failpoint.clone(),
            single_node: settings.is_sqlite(),
            node: uuid::Uuid::new_v4().simple().to_string(),
            dialing: Arc::default(),
            ahead: pools::Pools::default(),
        }),
        config,
    )
}

/// Resumes the campaigns left running (after a crash, in-doubt intents are reconciled with
/// the carrier on their first tick) and starts the sweep that finds running campaigns
/// without an actor.
///
/// # Errors
/// When the database is unreachable.
pub async fn resume(supervisor: &CampaignSupervisor, db: &DatabaseConnection) -> Result<usize, DbErr> {
    let ids = cs::active_ids(db).await?;
    let n = supervisor.rehydrate(&ids);
    let db = db.clone();
    supervisor.start_sweep(move || {
        let db = db.clone();
        async move {
            tokio::spawn(async move { cs::active_ids(&db).await })
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        }
    });
    supervisor.rehydrate(&[]);
    Ok(n)
}
