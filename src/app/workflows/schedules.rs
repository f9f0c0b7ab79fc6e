//! Schedule triggers: a published workflow whose trigger is `{type: "schedule",
//! everySeconds}` starts an execution at each interval after its publication. Each slot's
//! trigger key (`schedule:<version>:<n>`) is unique per workflow, so a slot starts once
//! however many processes look at it; slots missed while no process ran are not caught up
//! one by one — the latest starts when a process looks again (a cron's "fire once on
//! misfire").

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use serde_json::json;
use thruai_actors::workflow::graph::Trigger;

use super::{SCHEDULE, Workflows, new_execution, record_start};
use crate::store::{self, workflows as wf};

pub(super) fn start(workflows: Workflows) {
    let every = Duration::from_millis(workflows.settings.schedule_tick_ms);
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Each workflow version's interval (read once) and the last slot this process
        // started it at.
        let mut fired: HashMap<(String, i32), (u64, i64)> = HashMap::new();
        loop {
            ticker.tick().await;
            if let Err(e) = pass(&workflows, &mut fired, Utc::now()).await {
                tracing::warn!(error = %e, "starting scheduled workflows failed");
            }
        }
    });
}

/// The slot due at `now` of a schedule published at `from`, every `every_secs` (slot 1 is
/// one interval after publication; `None` before it).
pub(super) fn slot(from: DateTime<Utc>, every_secs: u64, now: DateTime<Utc>) -> Option<(i64, DateTime<Utc>)> {
    let every = i64::try_from(every_secs).ok().filter(|e| *e > 0)?;
    let n = (now - from).num_seconds().div_euclid(every);
    (n >= 1).then(|| (n, from + chrono::Duration::seconds(n * every)))
}

async fn pass(w: &Workflows, fired: &mut HashMap<(String, i32), (u64, i64)>, now: DateTime<Utc>) -> Result<(), DbErr> {
    let rows = wf::started_by(&w.db, &[SCHEDULE.to_string()]).await?;
    fired.retain(|(id, v), _| rows.iter().any(|r| &r.id == id && r.version == *v));
    for row in rows {
        let Some(published_at) = row.published_at else {
            continue;
        };
        let key = (row.id.clone(), row.version);
        // The version's graph is read when a slot may be due, not on every pass.
        let known = fired.get(&key).copied();
        if let Some((every, last)) = known
            && slot(published_at, every, now).is_none_or(|(n, _)| n == last)
        {
            continue;
        }
        let Ok(graph) = w.published(&row).await else {
            continue;
        };
        let Trigger::Schedule { every_secs } = graph.trigger else {
            continue;
        };
        let Some((n, at)) = slot(published_at, every_secs, now) else {
            fired.insert(key, (every_secs, 0));
            continue;
        };
        let trigger = json!({ "type": "schedule", "everySeconds": every_secs, "scheduledAt": at, "slot": n });
        let exec = new_execution(
            &row,
            &graph,
            json!({ "scheduledAt": at }),
            trigger,
            Some(format!("schedule:{}:{n}", row.version)),
        );
        let txn = store::begin(&w.db).await?;
        let started = record_start(&txn, &exec).await?;
        txn.commit().await?;
        if started {
            w.supervisor.run(&exec.id);
        }
        fired.insert(key, (every_secs, n));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_publication() {
        let from = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().to_utc();
        let at = |s: i64| from + chrono::Duration::seconds(s);
        assert_eq!(slot(from, 60, at(59)), None);
        assert_eq!(slot(from, 60, at(60)), Some((1, at(60))));
        assert_eq!(slot(from, 60, at(179)), Some((2, at(120))));
        // A process down for an hour starts the latest slot only.
        assert_eq!(slot(from, 60, at(3_630)), Some((60, at(3_600))));
        assert_eq!(slot(from, 0, at(3_630)), None);
    }
}
