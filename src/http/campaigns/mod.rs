//! Outbound campaigns: wire types, CRUD, `start` / `pause` (and `PATCH {status}` where the
//! lifecycle allows it). Contacts live in `contacts.rs`; stats, the progress view and
//! `/_debug/campaigns/:id` in `progress.rs`.

pub mod contacts;
pub mod progress;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::campaign::state::{self as cstate, CampaignStatus, Command, Counts, Outcome, RetryPolicy};
use thruai_entities::campaign;

use super::core::{
    envelope::{self, DeletedOut, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::{Param, RouteSpec},
    validation::{Validate, Validator},
};
use crate::{
    app::{
        calls,
        campaigns::{WindowJson, pool_of},
    },
    domain::{AgentStatus, ids::CampaignId, is_e164},
    error::{ApiError, ApiResult, ErrorCode},
    store::{self, campaigns as cs},
};

const MAX_POOL: usize = 50;
const MAX_CONCURRENT: u32 = 500;

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryIn {
    /// Attempts per contact in total, 1–10 (1: never retried). Default 1.
    pub max_attempts: Option<u32>,
    /// Seconds between attempts, 0–604800. Default 300.
    pub delay_secs: Option<u64>,
    /// Outcomes retried: `no_answer`, `busy`, `failed`. Default all three.
    pub retry_on: Option<Vec<String>>,
}

impl RetryIn {
    fn validate(&self, v: &mut Validator) {
        v.range("retryPolicy.maxAttempts", self.max_attempts, 1, 10);
        v.range("retryPolicy.delaySecs", self.delay_secs, 0, 604_800);
        for o in self.retry_on.iter().flatten() {
            v.one_of("retryPolicy.retryOn", Some(o), &["no_answer", "busy", "failed"]);
        }
    }

    fn policy(&self) -> RetryPolicy {
        let d = RetryPolicy::default();
        RetryPolicy {
            max_attempts: self.max_attempts.unwrap_or(d.max_attempts),
            delay_secs: self.delay_secs.unwrap_or(d.delay_secs),
            retry_on: self.retry_on.as_ref().map_or(d.retry_on, |l| {
                l.iter()
                    .filter_map(|o| serde_json::from_value::<Outcome>(json!(o)).ok())
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignIn {
    /// 1–200 characters.
    pub name: String,
    pub description: Option<String>,
    /// The agent that handles every call (its prompt variables are filled from each
    /// contact's `customData`).
    pub agent_id: String,
    /// Workflow reference kept with the campaign.
    pub workflow_id: Option<String>,
    /// One of your active numbers, E.164; default: the agent's number.
    pub from_number: Option<String>,
    /// Your active numbers to dial from in turn (instead of `fromNumber`), up to 50.
    pub number_pool: Option<Vec<String>>,
    /// Calls in flight at most, 1–500 (default 5); the organisation's limit applies too.
    pub max_concurrent_calls: Option<u32>,
    pub calling_window: Option<WindowJson>,
    pub retry_policy: Option<RetryIn>,
    /// Free-form object, up to 8 KB. On sandbox numbers `sandboxScript` scripts every callee.
    pub metadata: Option<Value>,
}

fn validate_common(
    v: &mut Validator,
    description: Option<&str>,
    pool: Option<&Vec<String>>,
    max: Option<u32>,
    window: Option<&WindowJson>,
    retry: Option<&RetryIn>,
    metadata: Option<&Value>,
) {
    v.opt_length("description", description, 0, 2000);
    if let Some(p) = pool {
        v.check(p.len() <= MAX_POOL, "numberPool", format!("at most {MAX_POOL} numbers"));
        for n in p {
            v.check(is_e164(n), "numberPool", format!("'{n}' is not E.164"));
        }
    }
    v.range("maxConcurrentCalls", max, 1, MAX_CONCURRENT);
    if let Some(w) = window
        && let Err((field, msg)) = w.parse()
    {
        v.check(false, field, msg);
    }
    if let Some(r) = retry {
        r.validate(v);
    }
    if let Some(m) = metadata {
        v.check(m.is_object(), "metadata", "must be an object");
        v.check(
            m.to_string().len() <= 8192,
            "metadata",
            "must be at most 8192 bytes serialized",
        );
    }
}

impl Validate for CampaignIn {
    fn validate(&self, v: &mut Validator) {
        v.length("name", &self.name, 1, 200);
        v.length("agentId", &self.agent_id, 1, 64);
        v.opt_length("workflowId", self.workflow_id.as_deref(), 1, 64);
        if let Some(f) = &self.from_number {
            v.check(is_e164(f), "fromNumber", "must be E.164 (e.g. +14155550123)");
        }
        validate_common(
            v,
            self.description.as_deref(),
            self.number_pool.as_ref(),
            self.max_concurrent_calls,
            self.calling_window.as_ref(),
            self.retry_policy.as_ref(),
            self.metadata.as_ref(),
        );
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub agent_id: Option<String>,
    pub workflow_id: Option<String>,
    pub from_number: Option<String>,
    pub number_pool: Option<Vec<String>>,
    pub max_concurrent_calls: Option<u32>,
    pub calling_window: Option<WindowJson>,
    pub retry_policy: Option<RetryIn>,
    pub metadata: Option<Value>,
    /// `running` (start or resume) or `paused`, where the lifecycle allows it.
    pub status: Option<String>,
}

impl Validate for CampaignPatch {
    fn validate(&self, v: &mut Validator) {
        v.opt_length("name", self.name.as_deref(), 1, 200);
        v.opt_length("agentId", self.agent_id.as_deref(), 1, 64);
        v.opt_length("workflowId", self.workflow_id.as_deref(), 0, 64);
        if let Some(f) = &self.from_number {
            v.check(is_e164(f), "fromNumber", "must be E.164 (e.g. +14155550123)");
        }
        v.one_of(
            "status",
            self.status.as_deref(),
            &["draft", "running", "paused", "completed"],
        );
        validate_common(
            v,
            self.description.as_deref(),
            self.number_pool.as_ref(),
            self.max_concurrent_calls,
            self.calling_window.as_ref(),
            self.retry_policy.as_ref(),
            self.metadata.as_ref(),
        );
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub agent_id: String,
    pub workflow_id: Option<String>,
    pub from_number: Option<String>,
    pub number_pool: Vec<String>,
    pub max_concurrent_calls: i32,
    pub calling_window: Option<Value>,
    pub retry_policy: Value,
    pub metadata: Value,
    /// `draft`, `running`, `paused` or `completed`.
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<campaign::Model> for CampaignOut {
    fn from(r: campaign::Model) -> Self {
        Self {
            number_pool: pool_of(&r),
            id: r.id,
            name: r.name,
            description: r.description,
            agent_id: r.agent_id,
            workflow_id: r.workflow_id,
            from_number: r.from_number,
            max_concurrent_calls: r.max_concurrent_calls,
            calling_window: r.calling_window.map(|w| json!(w)),
            retry_policy: json!(r.retry_policy),
            metadata: r.metadata,
            status: r.status.as_str().into(),
            started_at: r.started_at,
            completed_at: r.completed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Contacts per status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CountsOut {
    pub total: u64,
    pub queued: u64,
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub suppressed: u64,
}

impl From<&Counts> for CountsOut {
    fn from(c: &Counts) -> Self {
        Self {
            total: c.total,
            queued: c.queued,
            in_progress: c.in_progress,
            completed: c.completed,
            failed: c.failed,
            suppressed: c.suppressed,
        }
    }
}

/// `GET /campaigns/:id`: the campaign with its contacts per status.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignDetailOut {
    #[serde(flatten)]
    pub campaign: CampaignOut,
    pub stats: CountsOut,
}

async fn check_agent(ctx: &Ctx, db: &impl sea_orm::ConnectionTrait, agent_id: &str) -> ApiResult<()> {
    store::agents::find(db, ctx.org(), agent_id)
        .await?
        .filter(|a| a.status != AgentStatus::Inactive)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAgent,
                format!("Agent '{agent_id}' not found or not active"),
            )
        })?;
    Ok(())
}

/// A workflow the campaign runs must be the organisation's; to start, published.
async fn check_workflow(
    ctx: &Ctx,
    db: &impl sea_orm::ConnectionTrait,
    id: Option<&str>,
    to_start: bool,
) -> ApiResult<()> {
    let Some(id) = id else {
        return Ok(());
    };
    let row = store::workflows::find(db, ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::from(crate::app::workflows::WorkflowError::NotFound(id.to_string())))?;
    if to_start {
        crate::app::workflows::published(db, &row).await?;
    }
    Ok(())
}

/// Every number must be an active number of the organisation.
async fn check_numbers(
    ctx: &Ctx,
    db: &impl sea_orm::ConnectionTrait,
    agent_id: &str,
    from: Option<&str>,
    pool: &[String],
) -> ApiResult<()> {
    for n in from.into_iter().chain(pool.iter().map(String::as_str)) {
        calls::from_number(db, ctx.org(), agent_id, Some(n)).await?;
    }
    Ok(())
}

pub async fn create(ctx: Ctx, Body(input): Body<CampaignIn>) -> ApiResult<HttpResponse> {
    check_agent(&ctx, ctx.db(), &input.agent_id).await?;
    check_workflow(&ctx, ctx.db(), input.workflow_id.as_deref(), false).await?;
    let pool = input.number_pool.clone().unwrap_or_default();
    check_numbers(&ctx, ctx.db(), &input.agent_id, input.from_number.as_deref(), &pool).await?;
    let now = Utc::now();
    let row = campaign::Model {
        id: CampaignId::new().into(),
        org_id: ctx.org().to_string(),
        name: input.name.trim().to_string(),
        description: input.description.filter(|d| !d.is_empty()),
        agent_id: input.agent_id,
        workflow_id: input.workflow_id,
        from_number: input.from_number,
        number_pool: pool.into(),
        max_concurrent_calls: i32::try_from(input.max_concurrent_calls.unwrap_or(5)).unwrap_or(5),
        calling_window: input.calling_window.map(Into::into),
        retry_policy: input.retry_policy.map(|r| r.policy()).unwrap_or_default(),
        metadata: input.metadata.unwrap_or_else(|| json!({})),
        status: CampaignStatus::Draft,
        owner_epoch: 0,
        owner_node: None,
        lease_until: None,
        snapshot: json!({}),
        started_at: None,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    let txn = ctx.begin().await?;
    let row = cs::insert(&txn, row).await?;
    cs::insert_counts(&txn, &row.id).await?;
    ctx.commit(txn, StatusCode::CREATED, &CampaignOut::from(row)).await
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of("status", &["draft", "running", "paused", "completed"])?;
    let (rows, total) = cs::list(ctx.db(), ctx.org(), status.as_deref(), page.offset(), page.page_size).await?;
    let items: Vec<CampaignOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("campaigns", &items, page.info(total)))
}

/// Locks the campaign row (first statement of `txn`) and reads it.
pub(super) async fn load_locked(
    ctx: &Ctx,
    txn: &impl sea_orm::ConnectionTrait,
    id: &str,
) -> ApiResult<campaign::Model> {
    if !cs::lock(txn, ctx.org(), id).await? {
        return Err(ApiError::not_found("Campaign", id));
    }
    load(ctx, txn, id).await
}

pub(super) async fn load(ctx: &Ctx, db: &impl sea_orm::ConnectionTrait, id: &str) -> ApiResult<campaign::Model> {
    cs::find(db, ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Campaign", id))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    let out = CampaignDetailOut {
        campaign: CampaignOut::from(row),
        stats: (&counts).into(),
    };
    Ok(envelope::ok(&Sorted(out)))
}

fn conflict(e: &cstate::IllegalTransition, id: &str) -> ApiError {
    ApiError::new(ErrorCode::ResourceConflict, format!("Campaign '{id}': {e}"))
}

/// Applies a lifecycle command to the row (in the caller's transaction); starting checks
/// that the campaign can dial (an active agent and a number).
async fn command(
    ctx: &Ctx,
    db: &impl sea_orm::ConnectionTrait,
    row: &mut campaign::Model,
    cmd: Command,
) -> ApiResult<()> {
    let from = row.status;
    let to = cstate::transition(from, cmd).map_err(|e| conflict(&e, &row.id))?;
    if cmd == Command::Start {
        check_agent(ctx, db, &row.agent_id).await?;
        check_workflow(ctx, db, row.workflow_id.as_deref(), true).await?;
        let pool = pool_of(row);
        let first = pool.first().map(String::as_str).or(row.from_number.as_deref());
        calls::from_number(db, ctx.org(), &row.agent_id, first).await?;
        if row.started_at.is_none() {
            row.started_at = Some(Utc::now());
        }
    }
    row.status = to;
    Ok(())
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(patch): Body<CampaignPatch>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let mut row = load_locked(&ctx, &txn, &id).await?;
    if let Some(agent) = &patch.agent_id {
        check_agent(&ctx, &txn, agent).await?;
        row.agent_id.clone_from(agent);
    }
    if patch.from_number.is_some() || patch.number_pool.is_some() {
        let pool = patch.number_pool.clone().unwrap_or_else(|| pool_of(&row));
        let from = patch.from_number.clone().or_else(|| row.from_number.clone());
        check_numbers(&ctx, &txn, &row.agent_id, from.as_deref(), &pool).await?;
        row.from_number = from;
        row.number_pool = pool.into();
    }
    if let Some(n) = patch.name {
        row.name = n.trim().to_string();
    }
    if let Some(d) = patch.description {
        row.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(w) = patch.workflow_id {
        row.workflow_id = Some(w).filter(|w| !w.is_empty());
        check_workflow(
            &ctx,
            &txn,
            row.workflow_id.as_deref(),
            row.status == CampaignStatus::Running,
        )
        .await?;
    }
    if let Some(m) = patch.max_concurrent_calls {
        row.max_concurrent_calls = i32::try_from(m).unwrap_or(1);
    }
    if let Some(w) = patch.calling_window {
        row.calling_window = Some(w.into());
    }
    if let Some(r) = patch.retry_policy {
        row.retry_policy = r.policy();
    }
    if let Some(m) = patch.metadata {
        row.metadata = m;
    }
    let mut wake = false;
    if let Some(target) = patch.status.as_deref().and_then(CampaignStatus::parse)
        && target != row.status
    {
        let cmd = cstate::command_for(target).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ResourceConflict,
                format!(
                    "Campaign '{}': status cannot be set to {} (use running or paused; a campaign completes by itself)",
                    row.id,
                    target.as_str()
                ),
            )
        })?;
        command(&ctx, &txn, &mut row, cmd).await?;
        wake = true;
    }
    row.updated_at = Utc::now();
    let row = cs::save(&txn, row).await?;
    let res = ctx.commit(txn, StatusCode::OK, &CampaignOut::from(row.clone())).await?;
    if wake && row.status == CampaignStatus::Running {
        ctx.state.campaigns.ensure(&row.id);
    } else {
        ctx.state.campaigns.wake(&row.id);
    }
    Ok(res)
}

pub async fn start(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    ctx.state.billing.admit(ctx.org()).await?;
    let txn = ctx.begin().await?;
    let mut row = load_locked(&ctx, &txn, &id).await?;
    command(&ctx, &txn, &mut row, Command::Start).await?;
    row.updated_at = Utc::now();
    let row = cs::save(&txn, row).await?;
    let res = ctx.commit(txn, StatusCode::OK, &CampaignOut::from(row.clone())).await?;
    ctx.state.campaigns.ensure(&row.id);
    Ok(res)
}

pub async fn pause(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let mut row = load_locked(&ctx, &txn, &id).await?;
    command(&ctx, &txn, &mut row, Command::Pause).await?;
    row.updated_at = Utc::now();
    let row = cs::save(&txn, row).await?;
    let res = ctx.commit(txn, StatusCode::OK, &CampaignOut::from(row.clone())).await?;
    ctx.state.campaigns.wake(&row.id);
    Ok(res)
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let row = load_locked(&ctx, &txn, &id).await?;
    let open = cs::count_open_dials(&txn, &row.id).await?;
    // Stop first: the epoch bump fences the actor out, then the rows go.
    ctx.state.campaigns.stop(&row.id);
    cs::delete(&txn, ctx.org(), &row.id).await?;
    let mut warnings = Vec::new();
    if row.status == CampaignStatus::Running {
        warnings.push("The campaign was running: it was stopped before deletion".to_string());
    }
    if open > 0 {
        warnings.push(format!(
            "{open} call(s) already placed continue to their end; see GET /calls"
        ));
    }
    let out = DeletedOut::new(format!("Campaign '{}' deleted", row.id)).with_warnings(warnings);
    ctx.commit(txn, StatusCode::OK, &out).await
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/campaigns", "campaigns", "list_campaigns", "List campaigns", |r| {
            r.to(list)
        })
        .key(Some("campaigns:read"))
        .query(&[Param { name: "status", ty: "string", description: "draft, running, paused or completed" }])
        .returns_list::<CampaignOut>("campaigns"),
        RouteSpec::new(M::GET, "/campaigns/:id", "campaigns", "get_campaign", "Get campaign by ID", |r| {
            r.to(get)
        })
        .key(Some("campaigns:read"))
        .returns::<CampaignDetailOut>(),
        RouteSpec::new(M::POST, "/campaigns", "campaigns", "create_campaign", "Create campaign", |r| {
            r.to(create)
        })
        .key(Some("campaigns:write"))
        .body::<CampaignIn>()
        .example(|| json!({
            "name": "Spring check-up reminders",
            "description": "Remind patients to book their spring check-up",
            "agentId": "AGT-01JDEXAMPLE",
            "maxConcurrentCalls": 5,
            "callingWindow": { "timezone": "America/New_York", "startTime": "09:00", "endTime": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"] },
            "retryPolicy": { "maxAttempts": 3, "delaySecs": 3600, "retryOn": ["no_answer", "busy"] },
            "metadata": { "team": "front-desk" }
        }))
        .returns::<CampaignOut>(),
        RouteSpec::new(M::PATCH, "/campaigns/:id", "campaigns", "update_campaign", "Update campaign", |r| {
            r.to(update)
        })
        .key(Some("campaigns:write"))
        .body::<CampaignPatch>()
        .example(|| json!({ "maxConcurrentCalls": 10, "description": "Spring check-up reminders (wave 2)" }))
        .returns::<CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/contacts",
            "campaigns",
            "add_campaign_contacts",
            "Add contacts to campaign",
            |r| r.to(contacts::add_contacts),
        )
        .key(Some("campaigns:write"))
        .body::<contacts::ContactsIn>()
        .example(|| json!({ "contacts": [
            { "phoneNumber": "+14155552671", "name": "Sam Lee", "customData": { "firstName": "Sam", "appointment": "Tuesday 3pm" } },
            { "phoneNumber": "+14155552672", "name": "Ada Byron", "customData": { "firstName": "Ada", "timezone": "America/Los_Angeles" } }
        ] }))
        .returns::<contacts::ContactsAdded>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/start",
            "campaigns",
            "start_campaign",
            "Start campaign",
            |r| r.to(start),
        )
        .billed()
        .key(Some("campaigns:write"))
        .example(|| json!({}))
        .returns::<CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/pause",
            "campaigns",
            "pause_campaign",
            "Pause campaign",
            |r| r.to(pause),
        )
        .key(Some("campaigns:write"))
        .example(|| json!({}))
        .returns::<CampaignOut>(),
        RouteSpec::new(M::DELETE, "/campaigns/:id", "campaigns", "delete_campaign", "Delete campaign", |r| {
            r.to(delete)
        })
        .key(Some("campaigns:write"))
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/contacts",
            "campaigns",
            "list_campaign_contacts",
            "List campaign contacts",
            |r| r.to(contacts::list_contacts),
        )
        .key(Some("campaigns:read"))
        .query(&[Param { name: "status", ty: "string", description: "queued, in_progress, completed, failed or suppressed" }])
        .returns_list::<contacts::ContactOut>("contacts"),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/stats",
            "campaigns",
            "get_campaign_stats",
            "Get campaign statistics with real-time progress, success rate, and contact status breakdown",
            |r| r.to(progress::stats),
        )
        .key(Some("campaigns:read"))
        .returns::<progress::CampaignStatsOut>(),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/progress",
            "campaigns",
            "get_campaign_progress",
            "Campaign progress in the flat 1.2.0 shape for older clients: { total, pending, inProgress, completed, failed, suppressed, percentComplete, successRate }",
            |r| r.to(progress::progress),
        )
        .key(Some("campaigns:read"))
        .extension()
        .returns::<progress::CampaignProgressOut>(),
        RouteSpec::new(
            M::GET,
            "/_debug/campaigns/:id",
            "debug",
            "get_campaign_debug",
            "The campaign actor's live state: mailbox, in-flight dials, lease, next window opening, last transitions, and why it is not dialling",
            |r| r.to(progress::debug),
        )
        .key(Some("campaigns:read"))
        .extension()
        .returns::<progress::CampaignDebugOut>(),
    ]
}
