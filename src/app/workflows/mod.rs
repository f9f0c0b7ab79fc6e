//! Workflows: publishing (the draft checked and frozen as an immutable version), triggering
//! (an execution pinned to that version, run by a supervised `WorkflowActor`), event
//! triggers (the outbox read as a feed, each event starting a workflow once) and dry runs
//! (the draft walked with simulated effects).

mod dry_run;
mod effects;
mod events;
mod ports;
mod schedules;

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};
use thruai_actors::{
    WorkflowSupervisor,
    workflow::{
        graph::{Compiled, Graph, Problem, Trigger},
        state::ExecState,
        supervisor::WorkflowConfig,
    },
};
use thruai_entities::{workflow, workflow_execution, workflow_version};

pub use self::dry_run::{DryRun, DryStep};
use self::{effects::Effects, ports::DbPorts};
use crate::{
    app::{calls::Calls, email::Email, webhooks::Webhooks},
    config::WorkflowSettings,
    crypto::Crypto,
    domain::{ids, pricing::Prices},
    error::{CodedError, ErrorCode, db_code},
    store::{self, workflows as wf},
};

/// What a schedule-triggered workflow holds where an event-triggered one holds its event.
const SCHEDULE: &str = "@schedule";

/// Why a workflow request cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("Workflow '{0}' not found")]
    NotFound(String),
    #[error("Workflow '{0}' is not published: publish it with POST /workflows/{0}/publish first")]
    NotPublished(String),
    #[error("The workflow cannot be published: {}", .0.first().map_or_else(String::new, describe))]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn describe(p: &Problem) -> String {
    match &p.node_id {
        Some(n) => format!("node '{n}' {}: {}", p.field, p.message),
        None => format!("{}: {}", p.field, p.message),
    }
}

impl CodedError for WorkflowError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::NotPublished(_) => ErrorCode::WorkflowNotPublished,
            Self::Invalid(_) => ErrorCode::InvalidWorkflow,
            Self::Db(e) => db_code(e),
        }
    }

    fn details(&self) -> Option<Value> {
        match self {
            Self::Invalid(problems) => Some(json!(problems
                .iter()
                .map(|p| json!({
                    "field": p.node_id.as_ref().map_or_else(|| p.field.clone(), |n| format!("nodes[{n}].{}", p.field)),
                    "nodeId": p.node_id,
                    "message": p.message,
                }))
                .collect::<Vec<_>>())),
            _ => None,
        }
    }
}

/// What the effects need from the rest of the server.
pub struct Parts {
    pub db: DatabaseConnection,
    pub settings: WorkflowSettings,
    pub calls: Calls,
    pub email: Email,
    pub webhooks: Webhooks,
    pub crypto: Crypto,
    pub prices: Arc<Prices>,
    /// The language models a branch's prompt conditions are asked of.
    pub models: crate::app::AgentModels,
    pub public_base_url: String,
    pub failpoint: String,
}

#[derive(Clone)]
pub struct Workflows {
    db: DatabaseConnection,
    settings: Arc<WorkflowSettings>,
    supervisor: WorkflowSupervisor,
}

/// The draft as a graph; a `trigger` given beside the nodes (and no trigger node) becomes
/// the trigger node, leading to the nodes nothing leads to.
pub fn draft_graph(row: &workflow::Model) -> Result<Graph, Vec<Problem>> {
    let mut graph = Graph::from_draft(&row.nodes, &row.edges)?;
    let has_trigger = graph
        .nodes
        .iter()
        .any(|n| matches!(n.kind.to_ascii_lowercase().as_str(), "trigger" | "start"));
    if let (false, Some(trigger)) = (has_trigger, row.trigger.as_ref().filter(|t| !t.is_null())) {
        let id = "trigger".to_string();
        let roots: Vec<String> = graph
            .nodes
            .iter()
            .filter(|n| !graph.edges.iter().any(|e| e.target == n.id))
            .map(|n| n.id.clone())
            .collect();
        for r in roots {
            graph.edges.push(thruai_actors::workflow::graph::Edge {
                id: None,
                source: id.clone(),
                target: r,
                condition: None,
            });
        }
        graph.nodes.insert(
            0,
            thruai_actors::workflow::graph::Node {
                id,
                kind: "trigger".into(),
                data: trigger.clone(),
                position: None,
            },
        );
    }
    Ok(graph)
}

/// A new execution of `row`'s published version, at its trigger, due now.
pub(crate) fn new_execution(
    row: &workflow::Model,
    graph: &Compiled,
    input: Value,
    trigger: Value,
    trigger_key: Option<String>,
) -> workflow_execution::Model {
    let now = Utc::now();
    let id = ids::new_id(ids::EXECUTION);
    let state = ExecState::start(graph, &id, input.clone(), trigger.clone());
    workflow_execution::Model {
        id,
        org_id: row.org_id.clone(),
        workflow_id: row.id.clone(),
        version: row.version,
        status: "queued".into(),
        trigger,
        trigger_key,
        input,
        state: serde_json::to_value(&state).unwrap_or_default(),
        dry_run: false,
        error: None,
        wake_at: Some(now),
        awaiting_event: None,
        lease_until: None,
        created_at: now,
        started_at: None,
        finished_at: None,
        updated_at: now,
    }
}

/// Records an execution with its `workflow.triggered` event; false when its trigger key
/// started one already (nothing is written then).
pub(crate) async fn record_start(
    txn: &impl sea_orm::ConnectionTrait,
    exec: &workflow_execution::Model,
) -> Result<bool, DbErr> {
    if !wf::insert_execution(txn, exec.clone()).await? {
        return Ok(false);
    }
    store::outbox::record(txn, &exec.org_id, "workflow.triggered", triggered(exec)).await?;
    Ok(true)
}

/// The `workflow.triggered` event of an execution.
fn triggered(exec: &workflow_execution::Model) -> Value {
    json!({
        "executionId": exec.id,
        "workflowId": exec.workflow_id,
        "version": exec.version,
        "trigger": exec.trigger,
        "input": exec.input,
    })
}

/// Records a batch of executions and their `workflow.triggered` events in a few statements;
/// those whose trigger key started one already are skipped. Returns the ids recorded.
async fn record_starts(
    txn: &impl sea_orm::ConnectionTrait,
    execs: Vec<workflow_execution::Model>,
) -> Result<Vec<String>, DbErr> {
    let keys: Vec<String> = execs.iter().filter_map(|e| e.trigger_key.clone()).collect();
    let taken: std::collections::HashSet<(String, String)> =
        wf::taken_trigger_keys(txn, keys).await?.into_iter().collect();
    let fresh: Vec<workflow_execution::Model> = execs
        .into_iter()
        .filter(|e| {
            e.trigger_key
                .as_ref()
                .is_none_or(|k| !taken.contains(&(e.workflow_id.clone(), k.clone())))
        })
        .collect();
    let inserted = wf::insert_executions(txn, fresh.clone()).await?;
    if inserted != fresh.len() as u64 {
        // Another process started some of them meanwhile: this batch is written one by one.
        return Err(DbErr::Custom("a trigger key was taken concurrently".into()));
    }
    store::outbox::record_many(
        txn,
        fresh
            .iter()
            .map(|e| (e.org_id.clone(), "workflow.triggered", triggered(e)))
            .collect(),
    )
    .await?;
    Ok(fresh.into_iter().map(|e| e.id).collect())
}

/// The published version's graph of `row`, compiled.
///
/// # Errors
/// [`WorkflowError::NotPublished`] when the workflow has no version in force.
pub(crate) async fn published(
    db: &impl sea_orm::ConnectionTrait,
    row: &workflow::Model,
) -> Result<Compiled, WorkflowError> {
    if !row.is_published || row.version == 0 {
        return Err(WorkflowError::NotPublished(row.id.clone()));
    }
    wf::version_graph(db, &row.id, row.version)
        .await?
        .and_then(|g| serde_json::from_value::<Graph>(g).ok())
        .and_then(|g| g.compile().ok())
        .ok_or_else(|| WorkflowError::NotPublished(row.id.clone()))
}

impl Workflows {
    /// Starts the supervisor (which resumes every unfinished execution as it comes due) and
    /// the event feed.
    pub fn start(parts: Parts) -> Self {
        let settings = Arc::new(parts.settings.clone());
        let ports = Arc::new(DbPorts::new(
            parts.db.clone(),
            Effects::new(&parts),
            parts.failpoint.clone(),
        ));
        let supervisor = WorkflowSupervisor::start(
            ports,
            WorkflowConfig {
                tick: std::time::Duration::from_millis(settings.tick_ms),
                lease: std::time::Duration::from_millis(settings.lease_ms),
                max_running: settings.max_running,
            },
        );
        let me = Self {
            db: parts.db,
            settings,
            supervisor,
        };
        events::start(me.clone());
        schedules::start(me.clone());
        me
    }

    pub fn shutdown(&self) {
        self.supervisor.shutdown();
    }

    pub async fn running(&self) -> usize {
        self.supervisor.running().await
    }

    /// Checks the draft — its graph, and that every agent, number and webhook it names is
    /// the organisation's — and freezes it as the next version.
    ///
    /// # Errors
    /// [`WorkflowError::Invalid`] naming the node and field at fault.
    pub async fn publish(&self, org_id: &str, id: &str) -> Result<workflow::Model, WorkflowError> {
        let mut row = wf::find(&self.db, org_id, id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(id.to_string()))?;
        let graph = draft_graph(&row).map_err(WorkflowError::Invalid)?;
        let compiled = graph.compile().map_err(WorkflowError::Invalid)?;
        self.check_references(org_id, &compiled).await?;
        let now = Utc::now();
        let txn = store::begin(&self.db).await?;
        row.version += 1;
        row.is_published = true;
        row.published_at = Some(now);
        row.trigger_event = match compiled.trigger {
            Trigger::Schedule { .. } => Some(SCHEDULE.to_string()),
            _ => compiled.trigger_event().map(str::to_string),
        };
        row.updated_at = now;
        wf::insert_version(
            &txn,
            workflow_version::Model {
                workflow_id: row.id.clone(),
                version: row.version,
                org_id: org_id.to_string(),
                graph: serde_json::to_value(&graph).unwrap_or_default(),
                published_at: now,
            },
        )
        .await?;
        let row = wf::save(&txn, row).await?;
        txn.commit().await?;
        Ok(row)
    }

    async fn check_references(&self, org_id: &str, graph: &Compiled) -> Result<(), WorkflowError> {
        let mut problems = Vec::new();
        for (kind, node, id) in graph.references() {
            let owned = match kind {
                "agent" => store::agents::find(&self.db, org_id, &id).await?.is_some(),
                "number" => store::phone_numbers::find_by_number(&self.db, org_id, &id)
                    .await?
                    .is_some(),
                "event" => store::outbox::EVENT_TYPES.contains(&id.as_str()),
                "domain" => match crate::domain::email::domain_of(crate::domain::email::bare_address(&id)) {
                    Some(name) => store::email::domain_named(&self.db, &name)
                        .await?
                        .is_some_and(|d| d.org_id == org_id),
                    None => false,
                },
                _ => store::webhooks::find(&self.db, org_id, &id).await?.is_some(),
            };
            if !owned {
                let field = match kind {
                    "agent" => "data.agentId",
                    "number" => "data.from",
                    "event" => "data.event",
                    "domain" => "data.from",
                    _ => "data.webhookId",
                };
                let message = match kind {
                    "event" => format!(
                        "'{id}' is not an event the platform emits ({})",
                        store::outbox::EVENT_TYPES.join(", ")
                    ),
                    "domain" => format!("'{id}' is not an address on one of this organization's e-mail domains"),
                    _ => format!("{kind} '{id}' is not one of this organization's"),
                };
                problems.push(Problem {
                    node_id: Some(node),
                    field: field.into(),
                    message,
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(WorkflowError::Invalid(problems))
        }
    }

    /// The published version's graph, compiled.
    ///
    /// # Errors
    /// [`WorkflowError::NotPublished`] when the workflow has no version in force.
    pub async fn published(&self, row: &workflow::Model) -> Result<Compiled, WorkflowError> {
        published(&self.db, row).await
    }

    /// Starts an execution of the published version. `trigger_key` (an event's id) makes
    /// the start happen once: `None` is returned when that key started one already.
    ///
    /// # Errors
    /// Not found, not published, database failures.
    pub async fn trigger(
        &self,
        org_id: &str,
        id: &str,
        input: Value,
        trigger: Value,
        trigger_key: Option<String>,
    ) -> Result<Option<workflow_execution::Model>, WorkflowError> {
        let row = wf::find(&self.db, org_id, id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(id.to_string()))?;
        let graph = self.published(&row).await?;
        let exec = new_execution(&row, &graph, input, trigger, trigger_key);
        let txn = store::begin(&self.db).await?;
        if !record_start(&txn, &exec).await? {
            return Ok(None);
        }
        txn.commit().await?;
        self.supervisor.run(&exec.id);
        Ok(Some(exec))
    }

    /// Walks the draft with simulated effects: the path taken, each step's settings and
    /// output. `simulate` gives effects' outputs by node id (a call's `{status}`, …).
    ///
    /// # Errors
    /// Not found, or a draft that cannot be compiled.
    pub async fn dry_run(
        &self,
        org_id: &str,
        id: &str,
        input: Value,
        simulate: Value,
    ) -> Result<DryRun, WorkflowError> {
        let row = wf::find(&self.db, org_id, id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(id.to_string()))?;
        let graph = draft_graph(&row)
            .and_then(|g| g.compile())
            .map_err(WorkflowError::Invalid)?;
        Ok(dry_run::walk(&graph, input, &simulate))
    }
}
