//! Workflows: definitions (the draft), publish/unpublish (immutable versions), triggers,
//! executions with their step journals, and dry runs. The use cases are
//! `app::workflows`'s.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use thruai_entities::{workflow, workflow_execution, workflow_step};

use super::{
    BASE_PATH,
    core::{
        envelope::{self, DeletedOut, Sorted},
        extract::{Body, Ctx, ListQuery},
        route_spec::{Param, RouteSpec},
        validation::{Validate, Validator},
    },
};
use crate::{
    app::workflows::{DryRun, WorkflowError},
    domain::ids,
    error::{ApiError, ApiResult},
    store::workflows as wf,
};

const READ: Option<&str> = Some("workflows:read");
const WRITE: Option<&str> = Some("workflows:write");
const MAX_NODES: usize = 500;
const MAX_EDGES: usize = 2_000;

// ---- wire types

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkflowIn {
    pub name: String,
    pub description: Option<String>,
    /// `[{id, type, data, position?}]`: trigger, call, sms, email, webhook, branch, wait,
    /// set, end. Drafts may be incomplete; publication checks them.
    pub nodes: Option<Vec<Value>>,
    /// `[{id?, source, target, condition?}]` (`from`/`to` accepted).
    pub edges: Option<Vec<Value>>,
    /// The trigger when the nodes have none: `{type: "manual"|"event"|"schedule", event?}`.
    pub trigger: Option<Value>,
}

fn check_graph(v: &mut Validator, nodes: Option<&Vec<Value>>, edges: Option<&Vec<Value>>, trigger: Option<&Value>) {
    v.check(
        nodes.is_none_or(|n| n.len() <= MAX_NODES),
        "nodes",
        format!("at most {MAX_NODES} nodes"),
    );
    v.check(
        edges.is_none_or(|e| e.len() <= MAX_EDGES),
        "edges",
        format!("at most {MAX_EDGES} edges"),
    );
    for (i, n) in nodes.into_iter().flatten().enumerate() {
        v.check(
            n.is_object(),
            &format!("nodes[{i}]"),
            "must be an object {id, type, data}",
        );
    }
    for (i, e) in edges.into_iter().flatten().enumerate() {
        v.check(
            e.is_object(),
            &format!("edges[{i}]"),
            "must be an object {source, target, condition?}",
        );
    }
    v.check(
        trigger.is_none_or(|t| t.is_object() || t.is_null()),
        "trigger",
        "must be an object {type, event?}",
    );
}

impl Validate for WorkflowIn {
    fn validate(&self, v: &mut Validator) {
        v.length("name", self.name.trim(), 1, 200);
        v.opt_length("description", self.description.as_deref(), 0, 2000);
        check_graph(v, self.nodes.as_ref(), self.edges.as_ref(), self.trigger.as_ref());
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkflowPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub nodes: Option<Vec<Value>>,
    pub edges: Option<Vec<Value>>,
    pub trigger: Option<Value>,
    /// `published` publishes the draft, `draft` unpublishes.
    pub status: Option<String>,
}

impl Validate for WorkflowPatch {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("name", self.name.as_deref().map(str::trim), 1, 200);
        v.opt_length("description", self.description.as_deref(), 0, 2000);
        v.one_of(
            "status",
            self.status.as_deref(),
            &["draft", "published", "active", "inactive"],
        );
        check_graph(v, self.nodes.as_ref(), self.edges.as_ref(), self.trigger.as_ref());
    }
}

/// Publish and unpublish take no settings (an empty body is accepted).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

impl Validate for NoBody {}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub nodes: Value,
    pub edges: Value,
    pub trigger: Option<Value>,
    /// New executions may start.
    pub is_published: bool,
    /// `published` or `draft`.
    pub status: String,
    /// The latest published version (0: never published).
    pub version: i32,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<workflow::Model> for WorkflowOut {
    fn from(w: workflow::Model) -> Self {
        Self {
            status: if w.is_published { "published" } else { "draft" }.into(),
            id: w.id,
            name: w.name,
            description: w.description,
            nodes: w.nodes,
            edges: w.edges,
            trigger: w.trigger,
            is_published: w.is_published,
            version: w.version,
            published_at: w.published_at,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TriggerIn {
    /// The execution's input: its fields are its first variables.
    pub input: Option<Map<String, Value>>,
}

impl Validate for TriggerIn {}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TriggerOut {
    pub execution_id: String,
    pub id: String,
    pub workflow_id: String,
    pub version: i32,
    /// `queued` (it runs at once).
    pub status: String,
    /// Where to follow the execution.
    pub status_url: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DryRunIn {
    pub input: Option<Map<String, Value>>,
    /// Effects' outputs by node id (a call's `{"status": "no_answer"}`; `{"error": "…"}`
    /// fails the step); unnamed effects succeed.
    pub simulate: Option<Map<String, Value>>,
}

impl Validate for DryRunIn {}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepOut {
    pub seq: i32,
    pub node_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub visit: i32,
    pub attempt: i32,
    /// `running`, `waiting`, `succeeded`, `failed`.
    pub status: String,
    pub idempotency_key: String,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<workflow_step::Model> for StepOut {
    fn from(s: workflow_step::Model) -> Self {
        Self {
            seq: s.seq,
            node_id: s.node_id,
            kind: s.node_type,
            visit: s.visit,
            attempt: s.attempt + 1,
            status: s.status,
            idempotency_key: s.idempotency_key,
            input: s.input,
            output: s.output,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionOut {
    pub id: String,
    pub execution_id: String,
    pub workflow_id: String,
    pub version: i32,
    /// `queued`, `running`, `waiting`, `succeeded`, `failed`, `canceled`.
    pub status: String,
    pub trigger: Value,
    pub input: Value,
    pub variables: Value,
    /// The node it is at (none once finished).
    pub current_node: Option<String>,
    /// Nodes entered, in order.
    pub path: Value,
    pub error: Option<String>,
    /// When a waiting execution resumes.
    pub wake_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub steps: Vec<StepOut>,
}

impl ExecutionOut {
    fn of(e: workflow_execution::Model, steps: Vec<StepOut>) -> Self {
        let waiting = e.status == "waiting";
        Self {
            execution_id: e.id.clone(),
            id: e.id,
            workflow_id: e.workflow_id,
            version: e.version,
            status: e.status,
            trigger: e.trigger,
            input: e.input,
            variables: e.state.get("vars").cloned().unwrap_or_else(|| json!({})),
            current_node: e.state.get("node").and_then(Value::as_str).map(String::from),
            path: e.state.get("path").cloned().unwrap_or_else(|| json!([])),
            error: e.error,
            wake_at: e.wake_at.filter(|_| waiting),
            created_at: e.created_at,
            started_at: e.started_at,
            finished_at: e.finished_at,
            steps,
        }
    }
}

// ---- handlers

async fn owned(ctx: &Ctx, id: &str) -> ApiResult<workflow::Model> {
    wf::find(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Workflow", id))
}

pub async fn create(ctx: Ctx, Body(input): Body<WorkflowIn>) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let txn = ctx.begin().await?;
    let row = wf::insert(
        &txn,
        workflow::Model {
            id: ids::new_id(ids::WORKFLOW),
            org_id: ctx.org().to_string(),
            name: input.name.trim().to_string(),
            description: input.description,
            nodes: Value::Array(input.nodes.unwrap_or_default()),
            edges: Value::Array(input.edges.unwrap_or_default()),
            trigger: input.trigger.filter(|t| !t.is_null()),
            is_published: false,
            version: 0,
            published_at: None,
            trigger_event: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    ctx.commit(txn, StatusCode::CREATED, &Sorted(WorkflowOut::from(row)))
        .await
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let (rows, total) = wf::list(ctx.db(), ctx.org(), page.offset(), page.page_size).await?;
    let items: Vec<WorkflowOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("workflows", &items, page.info(total)))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = owned(&ctx, &id).await?;
    Ok(envelope::ok(&Sorted(WorkflowOut::from(row))))
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(patch): Body<WorkflowPatch>) -> ApiResult<HttpResponse> {
    let mut row = owned(&ctx, &id).await?;
    if let Some(n) = patch.name {
        row.name = n.trim().to_string();
    }
    if let Some(d) = patch.description {
        row.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(n) = patch.nodes {
        row.nodes = Value::Array(n);
    }
    if let Some(e) = patch.edges {
        row.edges = Value::Array(e);
    }
    if let Some(t) = patch.trigger {
        row.trigger = Some(t).filter(|t| !t.is_null());
    }
    row.updated_at = Utc::now();
    let txn = ctx.begin().await?;
    let mut row = wf::save(&txn, row).await?;
    match patch.status.as_deref() {
        Some("published" | "active") => {
            txn.commit().await?;
            row = ctx.state.workflows.publish(ctx.org(), &id).await?;
            let txn = ctx.begin().await?;
            return ctx.commit(txn, StatusCode::OK, &Sorted(WorkflowOut::from(row))).await;
        }
        Some("draft" | "inactive") => {
            row.is_published = false;
            row = wf::save(&txn, row).await?;
        }
        _ => {}
    }
    ctx.commit(txn, StatusCode::OK, &Sorted(WorkflowOut::from(row))).await
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = owned(&ctx, &id).await?;
    let txn = ctx.begin().await?;
    wf::delete(&txn, &row.id).await?;
    let out = DeletedOut::new(format!(
        "Workflow '{}' deleted with its versions and executions",
        row.name
    ));
    ctx.commit(txn, StatusCode::OK, &out).await
}

pub async fn publish(ctx: Ctx, id: web::Path<String>, Body(_): Body<NoBody>) -> ApiResult<HttpResponse> {
    let row = ctx.state.workflows.publish(ctx.org(), &id).await?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &Sorted(WorkflowOut::from(row))).await
}

pub async fn unpublish(ctx: Ctx, id: web::Path<String>, Body(_): Body<NoBody>) -> ApiResult<HttpResponse> {
    let mut row = owned(&ctx, &id).await?;
    row.is_published = false;
    row.updated_at = Utc::now();
    let txn = ctx.begin().await?;
    let row = wf::save(&txn, row).await?;
    ctx.commit(txn, StatusCode::OK, &Sorted(WorkflowOut::from(row))).await
}

pub async fn trigger(ctx: Ctx, id: web::Path<String>, Body(input): Body<TriggerIn>) -> ApiResult<HttpResponse> {
    let input = Value::Object(input.input.unwrap_or_default());
    let exec = ctx
        .state
        .workflows
        .trigger(ctx.org(), &id, input, json!({ "type": "manual" }), None)
        .await?
        .ok_or_else(|| ApiError::from(WorkflowError::NotFound(id.to_string())))?;
    let out = TriggerOut {
        status_url: format!("{BASE_PATH}/workflows/{}/executions/{}", exec.workflow_id, exec.id),
        execution_id: exec.id.clone(),
        id: exec.id,
        workflow_id: exec.workflow_id,
        version: exec.version,
        status: exec.status,
    };
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::ACCEPTED, &Sorted(out)).await
}

pub async fn dry_run(ctx: Ctx, id: web::Path<String>, Body(input): Body<DryRunIn>) -> ApiResult<HttpResponse> {
    let out: DryRun = ctx
        .state
        .workflows
        .dry_run(
            ctx.org(),
            &id,
            Value::Object(input.input.unwrap_or_default()),
            Value::Object(input.simulate.unwrap_or_default()),
        )
        .await?;
    Ok(envelope::ok(&out))
}

async fn with_steps(ctx: &Ctx, rows: Vec<workflow_execution::Model>) -> ApiResult<Vec<ExecutionOut>> {
    let mut steps = wf::steps_of(ctx.db(), rows.iter().map(|r| r.id.clone()).collect()).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<StepOut> = steps
                .extract_if(.., |s| s.execution_id == r.id)
                .map(Into::into)
                .collect();
            ExecutionOut::of(r, mine)
        })
        .collect())
}

pub async fn executions(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of(
        "status",
        &["queued", "running", "waiting", "succeeded", "failed", "canceled"],
    )?;
    owned(&ctx, &id).await?;
    let (rows, total) = wf::executions(
        ctx.db(),
        ctx.org(),
        &id,
        status.as_deref(),
        page.offset(),
        page.page_size,
    )
    .await?;
    let items = with_steps(&ctx, rows).await?;
    Ok(envelope::list("executions", &items, page.info(total)))
}

pub async fn execution(ctx: Ctx, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let (id, exec_id) = path.into_inner();
    let row = wf::execution(ctx.db(), &exec_id)
        .await?
        .filter(|e| e.org_id == ctx.org() && e.workflow_id == id)
        .ok_or_else(|| ApiError::not_found("Workflow execution", &exec_id))?;
    let mut items = with_steps(&ctx, vec![row]).await?;
    Ok(envelope::ok(&Sorted(items.remove(0))))
}

const EXECUTION_FILTERS: &[Param] = &[Param {
    name: "status",
    ty: "string",
    description: "queued, running, waiting, succeeded, failed or canceled",
}];

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    let example_graph = || {
        json!({
            "name": "Follow up missed calls",
            "nodes": [
                { "id": "start", "type": "trigger", "data": { "type": "manual" } },
                { "id": "text", "type": "sms", "data": { "to": "{{phone}}", "body": "Sorry we missed you, {{name}}" } }
            ],
            "edges": [{ "source": "start", "target": "text" }]
        })
    };
    vec![
        RouteSpec::new(
            M::GET,
            "/workflows",
            "workflows",
            "list_workflows",
            "List workflows",
            |r| r.to(list),
        )
        .key(READ)
        .returns_list::<WorkflowOut>("workflows"),
        RouteSpec::new(
            M::GET,
            "/workflows/:id",
            "workflows",
            "get_workflow",
            "Get workflow by ID",
            |r| r.to(get),
        )
        .key(READ)
        .returns::<WorkflowOut>(),
        RouteSpec::new(
            M::POST,
            "/workflows",
            "workflows",
            "create_workflow",
            "Create workflow",
            |r| r.to(create),
        )
        .key(WRITE)
        .body::<WorkflowIn>()
        .example(example_graph)
        .returns::<WorkflowOut>(),
        RouteSpec::new(
            M::PATCH,
            "/workflows/:id",
            "workflows",
            "update_workflow",
            "Update workflow",
            |r| r.to(update),
        )
        .key(WRITE)
        .body::<WorkflowPatch>()
        .example(|| json!({ "description": "Texts callers we missed" }))
        .returns::<WorkflowOut>(),
        RouteSpec::new(
            M::DELETE,
            "/workflows/:id",
            "workflows",
            "delete_workflow",
            "Delete workflow",
            |r| r.to(delete),
        )
        .key(WRITE)
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::POST,
            "/workflows/:id/publish",
            "workflows",
            "publish_workflow",
            "Publish workflow",
            |r| r.to(publish),
        )
        .key(WRITE)
        .body::<NoBody>()
        .example(|| json!({}))
        .returns::<WorkflowOut>(),
        RouteSpec::new(
            M::POST,
            "/workflows/:id/trigger",
            "workflows",
            "trigger_workflow",
            "Trigger workflow execution",
            |r| r.to(trigger),
        )
        .key(WRITE)
        .body::<TriggerIn>()
        .example(|| json!({ "input": { "phone": "+14155550100", "name": "Ada" } }))
        .returns::<TriggerOut>(),
        RouteSpec::new(
            M::GET,
            "/workflows/:id/executions",
            "workflows",
            "list_workflow_executions",
            "List workflow executions",
            |r| r.to(executions),
        )
        .key(READ)
        .query(EXECUTION_FILTERS)
        .returns_list::<ExecutionOut>("executions"),
        RouteSpec::new(
            M::GET,
            "/workflows/:id/executions/:executionId",
            "workflows",
            "get_workflow_execution",
            "Get one execution with its step journal",
            |r| r.to(execution),
        )
        .key(READ)
        .extension()
        .returns::<ExecutionOut>(),
        RouteSpec::new(
            M::POST,
            "/workflows/:id/unpublish",
            "workflows",
            "unpublish_workflow",
            "Unpublish workflow",
            |r| r.to(unpublish),
        )
        .key(WRITE)
        .body::<NoBody>()
        .example(|| json!({}))
        .returns::<WorkflowOut>(),
        RouteSpec::new(
            M::POST,
            "/workflows/:id/dry-run",
            "workflows",
            "dry_run_workflow",
            "Walk the draft with simulated effects (no call placed, no message sent) and return the path taken",
            |r| r.to(dry_run),
        )
        .key(READ)
        .extension()
        .body::<DryRunIn>()
        .example(|| json!({ "input": { "phone": "+14155550100" }, "simulate": { "call": { "status": "no_answer" } } }))
        .returns::<DryRunOut>(),
    ]
}

/// The answer of a dry run (see `app::workflows::DryRun`).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DryRunOut {
    /// `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub path: Vec<String>,
    pub steps: Vec<Value>,
    pub variables: Value,
}
