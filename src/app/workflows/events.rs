//! Event triggers: the outbox read as a feed, from a durable cursor, each event starting
//! every published workflow it triggers once (the execution's trigger key is the event's id,
//! unique per workflow — a duplicate read, or a second process, starts nothing more).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};
use thruai_actors::workflow::graph::{Compiled, Trigger};
use thruai_entities::{outbox_event, workflow_cursor};

use super::{Workflows, new_execution, record_start, record_starts};
use crate::store::{self, workflows as wf};

const CURSOR: &str = "workflow_triggers";
/// Events committed out of order by this much are still seen (the trigger key de-duplicates).
const LOOKBACK: chrono::Duration = chrono::Duration::seconds(5);
const BATCH: u64 = 500;

pub(super) fn start(workflows: Workflows) {
    let every = Duration::from_millis(workflows.settings.events_tick_ms);
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = HashMap::new();
        let mut full = false;
        loop {
            if !full {
                ticker.tick().await;
            }
            match pass(&workflows, &mut seen, full).await {
                Ok(was_full) => full = was_full,
                Err(e) => {
                    full = false;
                    tracing::warn!(error = %e, "reading the event feed for workflow triggers failed");
                }
            }
        }
    });
}

/// One read of the feed; true when the batch was full (read on at once, without looking
/// back). `seen` holds the events of the look-back window this process handled already.
async fn pass(w: &Workflows, seen: &mut HashMap<String, DateTime<Utc>>, catching_up: bool) -> Result<bool, DbErr> {
    let db = &w.db;
    let from = match wf::cursor(db, CURSOR).await? {
        Some(c) if catching_up => c.created_at,
        Some(c) => c.created_at - LOOKBACK,
        None => {
            // The feed starts now: events from before the first start trigger nothing.
            wf::set_cursor(
                db,
                workflow_cursor::Model {
                    name: CURSOR.into(),
                    created_at: Utc::now(),
                    event_id: String::new(),
                },
            )
            .await?;
            return Ok(false);
        }
    };
    let events = outbox_event::Entity::find()
        .filter(outbox_event::Column::CreatedAt.gt(from))
        .order_by_asc(outbox_event::Column::CreatedAt)
        .order_by_asc(outbox_event::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    let full = events.len() == BATCH as usize;
    let Some(last) = events.last() else {
        return Ok(false);
    };
    let last: (DateTime<Utc>, String) = (last.created_at, last.id.clone());
    seen.retain(|_, at| *at > from);
    let events: Vec<_> = events.into_iter().filter(|e| !seen.contains_key(&e.id)).collect();
    let mut types: Vec<String> = events.iter().map(|e| e.event_type.clone()).collect();
    types.sort();
    types.dedup();
    wf::wake_awaiting(db, &types, Utc::now()).await?;
    let workflows = wf::started_by(db, &types).await?;
    // Each workflow's published version, compiled once per pass.
    let mut graphs: HashMap<String, Option<Compiled>> = HashMap::new();
    let mut starts = Vec::new();
    for e in &events {
        seen.insert(e.id.clone(), e.created_at);
        for row in workflows
            .iter()
            .filter(|r| r.org_id == e.org_id && r.trigger_event.as_deref() == Some(e.event_type.as_str()))
        {
            // Only events after the version in force was published; a workflow's own events
            // never start it again.
            if row.published_at.is_none_or(|p| e.created_at < p)
                || e.payload.get("workflowId").and_then(Value::as_str) == Some(row.id.as_str())
            {
                continue;
            }
            if !graphs.contains_key(&row.id) {
                graphs.insert(row.id.clone(), w.published(row).await.ok());
            }
            let Some(graph) = graphs.get(&row.id).and_then(Option::as_ref) else {
                continue;
            };
            let trigger = json!({ "type": "event", "event": e.event_type, "eventId": e.id, "payload": e.payload });
            if let Trigger::Event { filter: Some(f), .. } = &graph.trigger
                && !f.holds(&json!({ "trigger": trigger, "input": e.payload }))
            {
                continue;
            }
            starts.push(new_execution(
                row,
                graph,
                e.payload.clone(),
                trigger,
                Some(format!("event:{}", e.id)),
            ));
        }
    }
    // One transaction for the batch; an execution whose event started it already is
    // skipped. Should another process start some of them meanwhile, the batch is written
    // again one execution at a time.
    let txn = store::begin(db).await?;
    let started = match record_starts(&txn, starts.clone()).await {
        Ok(ids) => {
            txn.commit().await?;
            ids
        }
        Err(_) => {
            drop(txn);
            let txn = store::begin(db).await?;
            let mut ids = Vec::new();
            for exec in &starts {
                if record_start(&txn, exec).await? {
                    ids.push(exec.id.clone());
                }
            }
            txn.commit().await?;
            ids
        }
    };
    for id in &started {
        w.supervisor.run(id);
    }
    wf::set_cursor(
        db,
        workflow_cursor::Model {
            name: CURSOR.into(),
            created_at: last.0,
            event_id: last.1,
        },
    )
    .await?;
    Ok(full)
}
