//! The workflow actors' ports over sea-orm: the lease, the journal (a row per step, begun
//! before its effect and ended after it, in the same transaction as the new state), timers,
//! and the outbox's `workflow.completed`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr};
use serde_json::{Value, json};
use thruai_actors::workflow::{
    graph::{Compiled, Graph},
    ports::{EffectCall, EffectOutcome, Loaded, OpenStep, PortError, WorkflowPorts},
    state::{ExecState, Next, Planned},
};
use thruai_entities::{workflow_execution as execution, workflow_step};

use super::effects::Effects;
use crate::{
    domain::ids,
    store::{self, workflows as wf},
};

/// Compiled versions kept in memory (a version never changes).
const CACHED_VERSIONS: usize = 1_000;

pub struct DbPorts {
    db: DatabaseConnection,
    effects: Effects,
    failpoint: String,
    versions: Mutex<HashMap<(String, i32), Arc<Compiled>>>,
}

impl DbPorts {
    pub fn new(db: DatabaseConnection, effects: Effects, failpoint: String) -> Self {
        Self {
            db,
            effects,
            failpoint,
            versions: Mutex::new(HashMap::new()),
        }
    }

    async fn graph(&self, workflow_id: &str, version: i32) -> Result<Option<Arc<Compiled>>, DbErr> {
        let key = (workflow_id.to_string(), version);
        if let Some(g) = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Ok(Some(g.clone()));
        }
        let Some(compiled) = wf::version_graph(&self.db, workflow_id, version)
            .await?
            .and_then(|g| serde_json::from_value::<Graph>(g).ok())
            .and_then(|g| g.compile().ok())
        else {
            return Ok(None);
        };
        let compiled = Arc::new(compiled);
        let mut cache = self.versions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHED_VERSIONS {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(Some(compiled))
    }
}

/// Database work as a task of the Tokio runtime, not of the actor's local set (a pooled
/// connection must be dropped inside the runtime).
async fn on_runtime<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, DbErr>> + Send + 'static,
) -> Result<T, PortError> {
    tokio::spawn(fut).await.map_err(PortError::new)?.map_err(PortError::new)
}

/// A lease's end, to the microsecond (as PostgreSQL keeps it: it is compared as a token).
fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    use chrono::SubsecRound;
    (now + chrono::Duration::from_std(lease).unwrap_or_default()).trunc_subsecs(6)
}

fn state_json(state: &ExecState) -> Value {
    serde_json::to_value(state).unwrap_or_default()
}

#[async_trait]
impl WorkflowPorts for DbPorts {
    async fn claim(&self, id: &str, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError> {
        let (db, id) = (self.db.clone(), id.to_string());
        let now = Utc::now();
        let until = lease_end(now, lease);
        let taken = on_runtime(async move { wf::claim(&db, &id, now, until).await }).await?;
        Ok(taken.then_some(until))
    }

    async fn renew(&self, id: &str, held: DateTime<Utc>, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError> {
        let (db, id) = (self.db.clone(), id.to_string());
        let until = lease_end(Utc::now(), lease);
        let kept = on_runtime(async move { wf::renew(&db, &id, held, until).await }).await?;
        Ok(kept.then_some(until))
    }

    async fn due(&self, limit: u64) -> Result<Vec<String>, PortError> {
        let db = self.db.clone();
        on_runtime(async move { wf::due(&db, Utc::now(), limit).await }).await
    }

    async fn load(&self, id: &str) -> Result<Option<Loaded>, PortError> {
        let (db, key) = (self.db.clone(), id.to_string());
        let found = on_runtime(async move {
            let Some(exec) = wf::execution(&db, &key).await? else {
                return Ok(None);
            };
            let last = wf::last_step(&db, &key).await?;
            Ok(Some((exec, last)))
        })
        .await?;
        let Some((exec, last)) = found else {
            return Ok(None);
        };
        let Some(graph) = self
            .graph(&exec.workflow_id, exec.version)
            .await
            .map_err(PortError::new)?
        else {
            return Ok(None);
        };
        let state: ExecState = serde_json::from_value(exec.state).map_err(PortError::new)?;
        let open = last
            .filter(|s| matches!(s.status.as_str(), "running" | "waiting"))
            .map(|s| OpenStep {
                id: s.id,
                seq: s.seq,
                node: s.node_id,
                attempt: u32::try_from(s.attempt).unwrap_or(0),
                input: s.input,
                started_at: s.started_at,
            });
        Ok(Some(Loaded {
            org_id: exec.org_id,
            status: exec.status,
            dry_run: exec.dry_run,
            state,
            graph,
            open,
        }))
    }

    async fn begin(
        &self,
        id: &str,
        planned: &Planned,
        input: &Value,
        state: &ExecState,
    ) -> Result<OpenStep, PortError> {
        let (db, id) = (self.db.clone(), id.to_string());
        let now = Utc::now();
        let row = workflow_step::Model {
            id: ids::new_id(ids::WORKFLOW_STEP),
            execution_id: id.clone(),
            seq: 0,
            node_id: planned.node.clone(),
            node_type: planned.kind.to_string(),
            visit: i32::try_from(planned.visit).unwrap_or(i32::MAX),
            attempt: i32::try_from(state.attempt).unwrap_or(i32::MAX),
            status: "running".into(),
            idempotency_key: planned.key.clone(),
            input: input.clone(),
            output: None,
            error: None,
            started_at: now,
            finished_at: None,
        };
        let state = state_json(state);
        let row = on_runtime(async move {
            let txn = store::begin(&db).await?;
            let seq = wf::last_step(&txn, &id).await?.map_or(0, |s| s.seq + 1);
            let row = wf::insert_step(&txn, workflow_step::Model { seq, ..row }).await?;
            wf::update_execution(
                &txn,
                execution::ActiveModel {
                    id: Set(id),
                    state: Set(state),
                    updated_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
            txn.commit().await?;
            Ok(row)
        })
        .await?;
        Ok(OpenStep {
            id: row.id,
            seq: row.seq,
            node: row.node_id,
            attempt: u32::try_from(row.attempt).unwrap_or(0),
            input: row.input,
            started_at: row.started_at,
        })
    }

    async fn end(
        &self,
        id: &str,
        step: &OpenStep,
        result: Result<&Value, &str>,
        state: &ExecState,
        next: &Next,
    ) -> Result<(), PortError> {
        let (db, id, step_id) = (self.db.clone(), id.to_string(), step.id.clone());
        let (output, error) = match result {
            Ok(v) => (Some(v.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let state_value = state_json(state);
        let path = state.path.clone();
        let variables = state.vars.clone();
        let next = next.clone();
        on_runtime(async move {
            let now = Utc::now();
            let txn = store::begin(&db).await?;
            if !step_id.is_empty() {
                let status = if error.is_some() { "failed" } else { "succeeded" };
                wf::update_step(&txn, &step_id, status, output, error, Some(now)).await?;
            }
            let mut update = execution::ActiveModel {
                id: Set(id.clone()),
                state: Set(state_value),
                awaiting_event: Set(None),
                updated_at: Set(now),
                ..Default::default()
            };
            match &next {
                Next::Run => {}
                Next::RetryAt(at) => {
                    update.status = Set("waiting".into());
                    update.wake_at = Set(Some(*at));
                    update.lease_until = Set(None);
                }
                Next::Finished { failed, error } => {
                    let exec = wf::execution(&txn, &id)
                        .await?
                        .ok_or_else(|| DbErr::RecordNotFound(id.clone()))?;
                    let status = if *failed { "failed" } else { "succeeded" };
                    update.status = Set(status.into());
                    update.error = Set(error.clone());
                    update.finished_at = Set(Some(now));
                    update.wake_at = Set(None);
                    update.lease_until = Set(None);
                    store::outbox::record(
                        &txn,
                        &exec.org_id,
                        "workflow.completed",
                        json!({
                            "executionId": exec.id,
                            "workflowId": exec.workflow_id,
                            "version": exec.version,
                            "status": status,
                            "error": error,
                            "path": path,
                            "variables": variables,
                        }),
                    )
                    .await?;
                }
            }
            wf::update_execution(&txn, update).await?;
            txn.commit().await
        })
        .await
    }

    async fn park(&self, id: &str, step: &OpenStep, at: DateTime<Utc>) -> Result<(), PortError> {
        let (db, id, step_id) = (self.db.clone(), id.to_string(), step.id.clone());
        // A wait for an event names it: the event feed wakes the execution when one comes.
        let awaiting = step.input.get("event").and_then(Value::as_str).map(str::to_string);
        on_runtime(async move {
            let txn = store::begin(&db).await?;
            if !step_id.is_empty() {
                wf::update_step(&txn, &step_id, "waiting", None, None, None).await?;
            }
            wf::update_execution(
                &txn,
                execution::ActiveModel {
                    id: Set(id),
                    status: Set("waiting".into()),
                    wake_at: Set(Some(at)),
                    awaiting_event: Set(awaiting),
                    lease_until: Set(None),
                    updated_at: Set(Utc::now()),
                    ..Default::default()
                },
            )
            .await?;
            txn.commit().await
        })
        .await
    }

    async fn perform(&self, call: EffectCall<'_>) -> EffectOutcome {
        self.effects.perform(call).await
    }

    fn failpoint(&self, name: &str, kind: &str) {
        let at = |fp: &str| {
            fp.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest == format!(":{kind}"))
        };
        if at(&self.failpoint) {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }
}
