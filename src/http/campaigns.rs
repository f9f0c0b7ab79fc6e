//! Outbound campaigns: CRUD, `start` / `pause` (and `PATCH {status}` where the lifecycle
//! allows it), contacts in pages of up to `campaigns.max_contacts_per_request` (multi-row
//! inserts; rejected rows listed with a reason), stats (changelog 1.4.0), the flat 1.2.0
//! progress view, and `/_debug/campaigns/:id` (the actor's live state and why it is not
//! dialling).

use std::collections::HashSet;

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::campaign::state::{self as cstate, CampaignStatus, Command, Counts, Outcome, RetryPolicy};
use thruai_entities::campaign;

use super::core::{
    envelope,
    extract::{Body, Ctx, ListQuery},
    validation::{Validate, Validator},
};
use crate::{
    calls,
    campaigns::{WindowJson, pool_of, window_of},
    domain::{ids, is_e164},
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
            calling_window: r.calling_window,
            retry_policy: r.retry_policy,
            metadata: r.metadata,
            status: r.status,
            started_at: r.started_at,
            completed_at: r.completed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn check_agent(ctx: &Ctx, db: &impl sea_orm::ConnectionTrait, agent_id: &str) -> ApiResult<()> {
    store::agents::find(db, ctx.org(), agent_id)
        .await?
        .filter(|a| a.status != "inactive")
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAgent,
                format!("Agent '{agent_id}' not found or not active"),
            )
        })?;
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
        calls::from_number(db, ctx.org(), agent_id, Some(n))
            .await
            .map_err(super::calls::from_number_error)?;
    }
    Ok(())
}

pub async fn create(ctx: Ctx, Body(input): Body<CampaignIn>) -> ApiResult<HttpResponse> {
    check_agent(&ctx, ctx.db(), &input.agent_id).await?;
    let pool = input.number_pool.clone().unwrap_or_default();
    check_numbers(&ctx, ctx.db(), &input.agent_id, input.from_number.as_deref(), &pool).await?;
    let now = Utc::now();
    let row = campaign::Model {
        id: ids::new_id(ids::CAMPAIGN),
        org_id: ctx.org().to_string(),
        name: input.name.trim().to_string(),
        description: input.description.filter(|d| !d.is_empty()),
        agent_id: input.agent_id,
        workflow_id: input.workflow_id,
        from_number: input.from_number,
        number_pool: json!(pool),
        max_concurrent_calls: i32::try_from(input.max_concurrent_calls.unwrap_or(5)).unwrap_or(5),
        calling_window: input.calling_window.map(|w| json!(w)),
        retry_policy: json!(input.retry_policy.map(|r| r.policy()).unwrap_or_default()),
        metadata: input.metadata.unwrap_or_else(|| json!({})),
        status: CampaignStatus::Draft.as_str().into(),
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
async fn load_locked(ctx: &Ctx, txn: &impl sea_orm::ConnectionTrait, id: &str) -> ApiResult<campaign::Model> {
    if !cs::lock(txn, ctx.org(), id).await? {
        return Err(ApiError::not_found("Campaign", id));
    }
    load(ctx, txn, id).await
}

async fn load(ctx: &Ctx, db: &impl sea_orm::ConnectionTrait, id: &str) -> ApiResult<campaign::Model> {
    cs::find(db, ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Campaign", id))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    let mut out =
        serde_json::to_value(CampaignOut::from(row)).map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    out["stats"] = json!(counts);
    Ok(envelope::ok(&out))
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
    let from = CampaignStatus::parse(&row.status).unwrap_or(CampaignStatus::Draft);
    let to = cstate::transition(from, cmd).map_err(|e| conflict(&e, &row.id))?;
    if cmd == Command::Start {
        check_agent(ctx, db, &row.agent_id).await?;
        let pool = pool_of(row);
        let first = pool.first().map(String::as_str).or(row.from_number.as_deref());
        calls::from_number(db, ctx.org(), &row.agent_id, first)
            .await
            .map_err(super::calls::from_number_error)?;
        if row.started_at.is_none() {
            row.started_at = Some(Utc::now());
        }
    }
    row.status = to.as_str().into();
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
        row.number_pool = json!(pool);
    }
    if let Some(n) = patch.name {
        row.name = n.trim().to_string();
    }
    if let Some(d) = patch.description {
        row.description = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(w) = patch.workflow_id {
        row.workflow_id = Some(w).filter(|w| !w.is_empty());
    }
    if let Some(m) = patch.max_concurrent_calls {
        row.max_concurrent_calls = i32::try_from(m).unwrap_or(1);
    }
    if let Some(w) = patch.calling_window {
        row.calling_window = Some(json!(w));
    }
    if let Some(r) = patch.retry_policy {
        row.retry_policy = json!(r.policy());
    }
    if let Some(m) = patch.metadata {
        row.metadata = m;
    }
    let mut wake = false;
    if let Some(target) = patch.status.as_deref().and_then(CampaignStatus::parse)
        && target.as_str() != row.status
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
    if wake && row.status == "running" {
        ctx.state.campaigns.ensure(&row.id);
    } else {
        ctx.state.campaigns.wake(&row.id);
    }
    Ok(res)
}

pub async fn start(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
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
    let mut data = json!({ "message": format!("Campaign '{}' deleted", row.id) });
    let mut warnings = Vec::new();
    if row.status == "running" {
        warnings.push("The campaign was running: it was stopped before deletion".to_string());
    }
    if open > 0 {
        warnings.push(format!(
            "{open} call(s) already placed continue to their end; see GET /calls"
        ));
    }
    if !warnings.is_empty() {
        data["warnings"] = json!(warnings);
    }
    ctx.commit(txn, StatusCode::OK, &data).await
}

// ---------------------------------------------------------------------------------------------
// Contacts
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactIn {
    /// E.164; a row with anything else is rejected (`invalid number`).
    pub phone_number: String,
    pub name: Option<String>,
    /// Fills the agent's `{{variables}}`; `timezone` (IANA) sets the contact's calling window zone.
    pub custom_data: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactsIn {
    /// 1 to `campaigns.max_contacts_per_request` (default 5,000) contacts; send larger
    /// lists in several requests.
    pub contacts: Vec<ContactIn>,
}

impl Validate for ContactsIn {
    fn validate(&self, v: &mut Validator) {
        v.check(!self.contacts.is_empty(), "contacts", "must list at least one contact");
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedContact {
    pub index: usize,
    pub phone_number: String,
    pub reason: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactsAdded {
    pub added: usize,
    pub failed: usize,
    pub errors: Vec<RejectedContact>,
}

fn row_problem(c: &ContactIn) -> Option<String> {
    if !is_e164(&c.phone_number) {
        return Some("invalid number: must be E.164 (e.g. +14155550123)".into());
    }
    if c.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Some("invalid name: at most 200 characters".into());
    }
    // PostgreSQL text cannot hold NUL: refused here on every database alike.
    if c.name.as_ref().is_some_and(|n| n.contains('\0')) {
        return Some("invalid name: must not contain NUL characters".into());
    }
    if let Some(d) = &c.custom_data {
        if !d.is_object() {
            return Some("invalid customData: must be an object".into());
        }
        let text = d.to_string();
        if text.len() > 4096 {
            return Some("invalid customData: at most 4096 bytes serialized".into());
        }
        if text.contains("\\u0000") {
            return Some("invalid customData: must not contain NUL characters".into());
        }
        if let Some(tz) = d.get("timezone")
            && tz
                .as_str()
                .and_then(thruai_actors::campaign::window::parse_tz)
                .is_none()
        {
            return Some(format!("invalid timezone: {tz} is not an IANA time zone"));
        }
    }
    None
}

pub async fn add_contacts(ctx: Ctx, id: web::Path<String>, Body(input): Body<ContactsIn>) -> ApiResult<HttpResponse> {
    let max = ctx.state.settings.campaigns.max_contacts_per_request;
    if input.contacts.len() > max {
        return Err(ApiError::field(
            "contacts",
            format!(
                "at most {max} contacts per request (got {}); send the list in pages",
                input.contacts.len()
            ),
        ));
    }
    let txn = ctx.begin().await?;
    let row = load_locked(&ctx, &txn, &id).await?;
    if row.status == "completed" {
        return Err(ApiError::new(
            ErrorCode::ResourceConflict,
            format!(
                "Campaign '{}' is completed: create a new campaign for more contacts",
                row.id
            ),
        ));
    }
    let numbers: Vec<String> = input
        .contacts
        .iter()
        .filter(|c| is_e164(&c.phone_number))
        .map(|c| c.phone_number.clone())
        .collect();
    let existing = cs::existing_numbers(&txn, &row.id, &numbers).await?;
    let opted_out = cs::opted_out(&txn, ctx.org(), &numbers).await?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(input.contacts.len());
    let mut errors = Vec::new();
    let mut added = 0;
    // Rows go to the database a batch at a time (1,000 on SQLite, up to 5,000 in one
    // statement on PostgreSQL): a large request is never held twice over.
    let batch = cs::insert_batch(&txn).min(input.contacts.len());
    let mut rows = Vec::with_capacity(batch);
    let mut position = cs::next_position(&txn, &row.id).await?;
    let now = Utc::now();
    for (index, c) in input.contacts.iter().enumerate() {
        let reason = row_problem(c).or_else(|| {
            if existing.contains(&c.phone_number) || !seen.insert(c.phone_number.as_str()) {
                Some("duplicate: the campaign already has this number".into())
            } else if opted_out.contains(&c.phone_number) {
                Some("opted out: the number opted out of your messages (do not call)".into())
            } else {
                None
            }
        });
        if let Some(reason) = reason {
            errors.push(RejectedContact {
                index,
                phone_number: c.phone_number.clone(),
                reason,
            });
            continue;
        }
        let custom = c.custom_data.clone().unwrap_or_else(|| json!({}));
        rows.push(cs::NewContact {
            id: ids::new_id(ids::CONTACT),
            position,
            phone_number: c.phone_number.clone(),
            name: c.name.clone(),
            timezone: custom.get("timezone").and_then(Value::as_str).map(str::to_string),
            custom_data: custom,
        });
        position += 1;
        if rows.len() == batch {
            added += rows.len();
            cs::insert_contacts(&txn, &row.id, &row.org_id, now, &rows).await?;
            rows.clear();
        }
    }
    added += rows.len();
    cs::insert_contacts(&txn, &row.id, &row.org_id, now, &rows).await?;
    let out = ContactsAdded {
        added,
        failed: errors.len(),
        errors,
    };
    let status = if out.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let res = ctx.commit(txn, status, &out).await?;
    if row.status == "running" {
        // A campaign not running yet gets them when its actor starts.
        if out.added > 0 {
            crate::campaigns::refresh_queue_statistics(ctx.state.db.clone());
        }
        ctx.state.campaigns.ensure(&row.id);
    }
    Ok(res)
}

pub async fn list_contacts(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of(
        "status",
        &["queued", "in_progress", "completed", "failed", "suppressed"],
    )?;
    let row = load(&ctx, ctx.db(), &id).await?;
    let (rows, total) = cs::list_contacts(
        ctx.db(),
        ctx.org(),
        &row.id,
        status.as_deref(),
        page.offset(),
        page.page_size,
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let mut dials = cs::dials_of(ctx.db(), &ids).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|c| {
            let attempts: Vec<Value> = dials
                .remove(&c.id)
                .unwrap_or_default()
                .into_iter()
                // An intent armed ahead is no call (yet).
                .filter(|d| d.status != cs::DIAL_ARMED)
                .map(|d| {
                    json!({
                        "attempt": d.attempt, "callId": d.call_id, "intentKey": d.intent_key,
                        "status": d.status, "outcome": d.outcome, "providerCallSid": d.provider_call_sid,
                        "reconciled": d.reconciled, "createdAt": d.created_at,
                    })
                })
                .collect();
            let call_ids: Vec<Value> = attempts.iter().map(|a| a["callId"].clone()).collect();
            json!({
                "id": c.id, "campaignId": c.campaign_id, "phoneNumber": c.phone_number, "name": c.name,
                "customData": c.custom_data, "timezone": c.timezone, "status": c.status,
                "attempts": c.attempts, "lastOutcome": c.last_outcome, "nextAttemptAt": c.next_attempt_at,
                "callIds": call_ids, "calls": attempts, "createdAt": c.created_at, "updatedAt": c.updated_at,
            })
        })
        .collect();
    Ok(envelope::list("contacts", &items, page.info(total)))
}

// ---------------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------------

/// Changelog 1.4.0: nested counts, with `percentComplete` and `successRate` computed here.
pub fn stats_view(campaign_id: &str, c: &Counts) -> Value {
    json!({
        "campaignId": campaign_id,
        "stats": {
            "total": c.total, "queued": c.queued, "inProgress": c.in_progress,
            "completed": c.completed, "failed": c.failed, "suppressed": c.suppressed,
        },
        "percentComplete": c.percent_complete(),
        "successRate": c.success_rate(),
    })
}

/// Changelog 1.2.0 (`GET /campaigns/:id/progress`, for older clients): the same figures,
/// flat, with `pending` for queued.
pub fn progress_view(campaign_id: &str, status: &str, c: &Counts) -> Value {
    json!({
        "campaignId": campaign_id, "status": status,
        "total": c.total, "pending": c.queued, "inProgress": c.in_progress,
        "completed": c.completed, "failed": c.failed, "suppressed": c.suppressed,
        "percentComplete": c.percent_complete(), "successRate": c.success_rate(),
    })
}

pub async fn stats(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&stats_view(&row.id, &counts)))
}

pub async fn progress(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    Ok(envelope::ok(&progress_view(&row.id, &row.status, &counts)))
}

/// `GET /_debug/campaigns/:id`: the actor's live state, and a plain-words diagnosis of why
/// a started campaign is not dialling.
pub async fn debug(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, ctx.db(), &id).await?;
    let counts = cs::counts(ctx.db(), &row.id).await?;
    let open = cs::open_dials(ctx.db(), &row.id).await?;
    let armed = cs::armed_dials(ctx.db(), &row.id).await?;
    let live = ctx.state.campaigns.inspect(&row.id).await;
    let running_here = ctx.state.campaigns.is_running(&row.id);
    let now = Utc::now();
    let window = window_of(&row);
    let next_opening = window.as_ref().and_then(|w| w.next_open(now));
    let given_up = ctx.state.campaigns.given_up(&row.id);
    let diagnosis = match row.status.as_str() {
        "draft" => "Not started: POST /campaigns/:id/start to begin dialling".to_string(),
        "paused" => "Paused: POST /campaigns/:id/start resumes it".to_string(),
        "completed" => "Completed: every contact reached a final status".to_string(),
        _ if counts.total == 0 => "Running with no contacts: add some with POST /campaigns/:id/contacts".to_string(),
        _ if given_up.is_some() => format!(
            "The actor failed repeatedly and the supervisor stopped restarting it: {}; POST /campaigns/:id/start retries",
            given_up.clone().unwrap_or_default()
        ),
        _ if !running_here => format!(
            "No actor runs for it on this node: the lease is held until {} (another node, or a previous process; it is taken over when the lease expires)",
            row.lease_until.map_or_else(|| "-".into(), |t| t.to_rfc3339())
        ),
        _ => live
            .as_ref()
            .and_then(|l| l.not_dialing_because.clone())
            .unwrap_or_else(|| "Dialling".into()),
    };
    // Calls in flight: started dials whose call is still open (a `pending` one whatever its
    // call says: the carrier may have it). A dial whose call ended waits to be settled; its
    // slot may already hold the next call.
    let call_ids: Vec<String> = open.iter().map(|d| d.call_id.clone()).collect();
    let call_status = cs::call_statuses(ctx.db(), &call_ids).await?;
    let (in_flight, ended): (Vec<_>, Vec<_>) = open.iter().partition(|d| {
        d.status == cs::DIAL_PENDING
            || call_status
                .get(&d.call_id)
                .is_none_or(|s| cstate::Outcome::of_call_status(s).is_none())
    });
    let in_flight: Vec<Value> = in_flight
        .into_iter()
        .map(|d| {
            json!({
                "intentKey": d.intent_key, "contactId": d.contact_id, "callId": d.call_id,
                "status": d.status, "providerCallSid": d.provider_call_sid,
                "ageMs": (now - d.created_at).num_milliseconds(),
            })
        })
        .collect();
    let ended: Vec<Value> = ended
        .into_iter()
        .map(|d| json!({ "intentKey": d.intent_key, "contactId": d.contact_id, "callId": d.call_id }))
        .collect();
    Ok(envelope::ok(&json!({
        "campaignId": row.id,
        "status": row.status,
        "diagnosis": diagnosis,
        "lease": { "epoch": row.owner_epoch, "until": row.lease_until, "heldByThisNode": running_here },
        "window": {
            "configured": row.calling_window,
            "openNow": window.as_ref().is_none_or(|w| w.is_open(now)),
            "nextOpening": next_opening,
        },
        "inFlightDials": in_flight,
        "endedDialsToSettle": ended,
        "armedDials": armed
            .iter()
            .map(|d| json!({ "intentKey": d.intent_key, "contactId": d.contact_id, "ageMs": (now - d.created_at).num_milliseconds() }))
            .collect::<Vec<_>>(),
        "stats": stats_view(&row.id, &counts),
        "actor": live,
        "storedSnapshot": row.snapshot,
        "supervisor": { "runningActorsOnThisNode": ctx.state.campaigns.running(), "gaveUp": given_up },
    })))
}
