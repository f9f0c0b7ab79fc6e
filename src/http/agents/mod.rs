//! Agents: wire types, validation against the provider catalogue and the organisation's
//! tools, and CRUD. Every change records `agent.updated` in the outbox in the same
//! transaction. Preview/preflight, simulation and telephony live in the sub-modules.

pub mod checks;
mod known;
pub mod numbers;
pub mod simulate;

use std::collections::BTreeMap;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::agent;

use super::{
    core::{
        envelope::{self, DeletedOut},
        extract::{Body, Ctx, ListQuery},
        route_spec::RouteSpec,
        validation::{Validate, Validator, double_option},
    },
    email::wire::{MailboxBody, MailboxConfig},
    telephony::wire::PhoneNumberOut,
};
use crate::domain::agent::{
    InterruptionSettings, LlmConfig, MemoryPolicy, S2sConfig, S2sTurnDetection, SttConfig, VoiceConfig,
    is_variable_name,
};
use crate::{
    domain::{AgentStatus, PipelineMode, ids::AgentId},
    error::{ApiError, ApiResult, FieldError},
    providers::catalog::{self, Kind},
    state::AppState,
    store,
};

pub const STATUSES: &[&str] = &["active", "inactive", "draft"];
pub const PIPELINES: &[&str] = &["s2s", "traditional"];
const MAX_VARIABLES: usize = 100;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentIn {
    /// 1–100 characters.
    pub name: String,
    /// Up to 500 characters.
    pub description: Option<String>,
    /// Up to 20000 characters; `{{name}}` placeholders are filled from `variables`.
    pub system_prompt: Option<String>,
    /// What the agent says first, up to 1000 characters.
    pub first_message: Option<String>,
    /// `active` (default), `inactive` or `draft`.
    pub status: Option<String>,
    /// `s2s` (default) or `traditional`.
    pub pipeline_mode: Option<String>,
    /// An S2S provider id (`openai-realtime`, `sandbox`).
    pub s2s_provider: Option<String>,
    pub s2s_model: Option<String>,
    pub s2s_voice: Option<String>,
    pub s2s_config: Option<S2sConfig>,
    pub s2s_turn_detection: Option<S2sTurnDetection>,
    pub interruption_settings: Option<InterruptionSettings>,
    pub voice_config: Option<VoiceConfig>,
    pub llm_config: Option<LlmConfig>,
    pub stt_config: Option<SttConfig>,
    /// Tool ids or names of this organisation.
    pub enabled_tools: Option<Vec<String>>,
    pub memory_policy: Option<MemoryPolicy>,
    /// Default values of prompt placeholders.
    pub variables: Option<BTreeMap<String, String>>,
    /// The longest a call may last once answered, in seconds (1–86400); then the agent
    /// ends it (`endReason` `max_duration`). Default: the platform's `calls.max_call_duration_secs`.
    pub max_duration_seconds: Option<u32>,
}

/// Checks shared by create and update on the optional parts.
#[allow(clippy::too_many_arguments)]
fn check_parts(
    v: &mut Validator,
    description: Option<&str>,
    system_prompt: Option<&str>,
    first_message: Option<&str>,
    status: Option<&str>,
    pipeline_mode: Option<&str>,
    enabled_tools: Option<&Vec<String>>,
    variables: Option<&BTreeMap<String, String>>,
) {
    v.opt_length("description", description, 0, 500);
    v.opt_length("systemPrompt", system_prompt, 0, 20_000);
    v.opt_length("firstMessage", first_message, 0, 1000);
    v.one_of("status", status, STATUSES);
    v.one_of("pipelineMode", pipeline_mode, PIPELINES);
    if let Some(tools) = enabled_tools {
        v.check(tools.len() <= 50, "enabledTools", "at most 50 tools");
    }
    if let Some(vars) = variables {
        v.check(
            vars.len() <= MAX_VARIABLES,
            "variables",
            format!("at most {MAX_VARIABLES} variables"),
        );
        for (name, value) in vars {
            v.check(
                is_variable_name(name),
                &format!("variables.{name}"),
                "names are 1–64 characters of letters, digits and '_', not starting with a digit",
            );
            v.length(&format!("variables.{name}"), value, 0, 1000);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_configs(
    v: &mut Validator,
    s2s: Option<&S2sConfig>,
    turn: Option<&S2sTurnDetection>,
    interruption: Option<&InterruptionSettings>,
    voice: Option<&VoiceConfig>,
    llm: Option<&LlmConfig>,
    stt: Option<&SttConfig>,
    memory: Option<&MemoryPolicy>,
) {
    s2s.inspect(|c| c.check(v));
    turn.inspect(|c| c.check(v));
    interruption.inspect(|c| c.check(v));
    voice.inspect(|c| c.check(v));
    llm.inspect(|c| c.check(v));
    stt.inspect(|c| c.check(v));
    memory.inspect(|c| c.check(v));
}

impl Validate for AgentIn {
    fn validate(&self, v: &mut Validator) {
        v.length("name", self.name.trim(), 1, 100);
        v.range("maxDurationSeconds", self.max_duration_seconds, 1, 86_400);
        check_parts(
            v,
            self.description.as_deref(),
            self.system_prompt.as_deref(),
            self.first_message.as_deref(),
            self.status.as_deref(),
            self.pipeline_mode.as_deref(),
            self.enabled_tools.as_ref(),
            self.variables.as_ref(),
        );
        check_configs(
            v,
            self.s2s_config.as_ref(),
            self.s2s_turn_detection.as_ref(),
            self.interruption_settings.as_ref(),
            self.voice_config.as_ref(),
            self.llm_config.as_ref(),
            self.stt_config.as_ref(),
            self.memory_policy.as_ref(),
        );
    }
}

/// Every field optional; `null` clears the nullable ones.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AgentPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub system_prompt: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub first_message: Option<Option<String>>,
    pub status: Option<String>,
    pub pipeline_mode: Option<String>,
    pub s2s_provider: Option<String>,
    pub s2s_model: Option<String>,
    pub s2s_voice: Option<String>,
    pub s2s_config: Option<S2sConfig>,
    #[serde(default, deserialize_with = "double_option")]
    pub s2s_turn_detection: Option<Option<S2sTurnDetection>>,
    #[serde(default, deserialize_with = "double_option")]
    pub interruption_settings: Option<Option<InterruptionSettings>>,
    #[serde(default, deserialize_with = "double_option")]
    pub voice_config: Option<Option<VoiceConfig>>,
    #[serde(default, deserialize_with = "double_option")]
    pub llm_config: Option<Option<LlmConfig>>,
    #[serde(default, deserialize_with = "double_option")]
    pub stt_config: Option<Option<SttConfig>>,
    /// Replaces the list (ids or names).
    pub enabled_tools: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub memory_policy: Option<Option<MemoryPolicy>>,
    /// Replaces every variable.
    pub variables: Option<BTreeMap<String, String>>,
    /// The longest a call may last once answered, in seconds (1–86400); then the agent
    /// ends it (`endReason` `max_duration`). `null`: the platform's `calls.max_call_duration_secs`.
    #[serde(default, deserialize_with = "double_option")]
    pub max_duration_seconds: Option<Option<u32>>,
    /// The agent's mailbox, as `PUT /agents/:id/email` takes it; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub email_config: Option<Option<MailboxBody>>,
}

impl Validate for AgentPatch {
    fn validate(&self, v: &mut Validator) {
        if let Some(name) = &self.name {
            v.length("name", name.trim(), 1, 100);
        }
        if let Some(Some(mailbox)) = &self.email_config {
            mailbox.validate(v);
        }
        v.range("maxDurationSeconds", self.max_duration_seconds.flatten(), 1, 86_400);
        check_parts(
            v,
            self.description.as_ref().and_then(Option::as_deref),
            self.system_prompt.as_ref().and_then(Option::as_deref),
            self.first_message.as_ref().and_then(Option::as_deref),
            self.status.as_deref(),
            self.pipeline_mode.as_deref(),
            self.enabled_tools.as_ref(),
            self.variables.as_ref(),
        );
        check_configs(
            v,
            self.s2s_config.as_ref(),
            self.s2s_turn_detection.as_ref().and_then(Option::as_ref),
            self.interruption_settings.as_ref().and_then(Option::as_ref),
            self.voice_config.as_ref().and_then(Option::as_ref),
            self.llm_config.as_ref().and_then(Option::as_ref),
            self.stt_config.as_ref().and_then(Option::as_ref),
            self.memory_policy.as_ref().and_then(Option::as_ref),
        );
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AgentOut {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    // Served as the plain strings they always were (same schema).
    #[schemars(with = "String")]
    pub status: AgentStatus,
    #[schemars(with = "String")]
    pub pipeline_mode: PipelineMode,
    pub s2s_provider: Option<String>,
    pub s2s_model: Option<String>,
    pub s2s_voice: Option<String>,
    pub s2s_config: S2sConfig,
    pub s2s_turn_detection: Option<S2sTurnDetection>,
    pub interruption_settings: Option<InterruptionSettings>,
    pub voice_config: Option<VoiceConfig>,
    pub llm_config: Option<LlmConfig>,
    pub stt_config: Option<SttConfig>,
    /// Tool ids.
    pub enabled_tools: Vec<String>,
    pub memory_policy: Option<MemoryPolicy>,
    pub variables: BTreeMap<String, String>,
    /// The longest a call may last once answered (seconds); `null`: the platform default.
    pub max_duration_seconds: Option<u32>,
    /// The agent's mailbox (`PUT /agents/:id/email`), when it has one.
    #[serde(default)]
    pub email_config: Option<MailboxConfig>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<agent::Model> for AgentOut {
    fn from(m: agent::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            description: m.description,
            system_prompt: m.system_prompt,
            first_message: m.first_message,
            status: m.status,
            pipeline_mode: m.pipeline_mode,
            s2s_provider: m.s2s_provider,
            s2s_model: m.s2s_model,
            s2s_voice: m.s2s_voice,
            s2s_config: m.s2s_config.into(),
            s2s_turn_detection: m.s2s_turn_detection.map(Into::into),
            interruption_settings: m.interruption_settings.map(Into::into),
            voice_config: m.voice_config.map(Into::into),
            llm_config: m.llm_config.map(Into::into),
            stt_config: m.stt_config.map(Into::into),
            enabled_tools: m.enabled_tools.into(),
            memory_policy: m.memory_policy.map(Into::into),
            variables: m.variables.into(),
            max_duration_seconds: m.max_duration_secs.and_then(|s| u32::try_from(s).ok()),
            email_config: m.email_config.map(Into::into),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Writes the typed configuration back into the row.
fn apply(out: &AgentOut, row: &mut agent::Model) {
    row.name = out.name.trim().to_string();
    row.description = out.description.clone();
    row.system_prompt = out.system_prompt.clone();
    row.first_message = out.first_message.clone();
    row.status = out.status;
    row.pipeline_mode = out.pipeline_mode;
    row.s2s_provider = out.s2s_provider.clone();
    row.s2s_model = out.s2s_model.clone();
    row.s2s_voice = out.s2s_voice.clone();
    row.s2s_config = out.s2s_config.clone().into();
    row.s2s_turn_detection = out.s2s_turn_detection.clone().map(Into::into);
    row.interruption_settings = out.interruption_settings.clone().map(Into::into);
    row.voice_config = out.voice_config.clone().map(Into::into);
    row.llm_config = out.llm_config.clone().map(Into::into);
    row.stt_config = out.stt_config.clone().map(Into::into);
    row.enabled_tools = out.enabled_tools.clone().into();
    row.memory_policy = out.memory_policy.clone().map(Into::into);
    row.variables = out.variables.clone().into();
    row.max_duration_secs = out.max_duration_seconds.and_then(|s| i32::try_from(s).ok());
}

/// Resolves `enabledTools` (ids or names) to ids; unknown entries are field errors.
async fn resolve_tools(db: &impl sea_orm::ConnectionTrait, org_id: &str, refs: &[String]) -> ApiResult<Vec<String>> {
    let tools = store::tools::find_refs(db, org_id, refs).await?;
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        match tools.iter().find(|t| &t.id == r || &t.name == r) {
            Some(t) if !ids.contains(&t.id) => ids.push(t.id.clone()),
            Some(_) => {}
            None => errors.push(FieldError::new(
                format!("enabledTools[{i}]"),
                format!("no tool '{r}' in this organization; create it with POST /tools"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Policy-hook URLs pass the SSRF guard like tool URLs.
fn guard_hooks(state: &AppState, a: &AgentOut) -> ApiResult<()> {
    if let Some(policy) = &a.memory_policy {
        for (i, url) in policy.hook_urls() {
            super::tools::guard_url(state, &format!("memoryPolicy.policyHooks[{i}].url"), url)?;
        }
    }
    Ok(())
}

/// The checks of a whole agent before it is stored. An agent keeps the providers, model and
/// voice it asked for even where a provider has no key on this server: its calls run on
/// the sandbox stand-in, and the answer says so (`meta.sandbox`, preflight's warning).
fn finish_checks(state: &AppState, a: &AgentOut) -> ApiResult<()> {
    let mut v = Validator::default();
    known::check_catalog(&mut v, a);
    v.finish()?;
    guard_hooks(state, a)?;
    if checks::runs_on_sandbox(state, a) {
        envelope::mark_sandbox();
    }
    Ok(())
}

/// Records `agent.updated` for `change` (`created`, `updated`, `deleted`, `telephony`).
pub async fn record_change(
    db: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    change: &str,
    agent: &Value,
) -> ApiResult<()> {
    store::outbox::record(
        db,
        org_id,
        "agent.updated",
        json!({ "change": change, "agentId": agent["id"], "agent": agent }),
    )
    .await?;
    Ok(())
}

/// A new agent from `input` with catalogue defaults filled in (not yet stored).
pub fn new_agent(state: &AppState, org_id: &str, input: AgentIn, enabled_tools: Vec<String>) -> AgentOut {
    let now = Utc::now();
    let providers = &state.settings.providers;
    let s2s = input
        .s2s_provider
        .as_deref()
        .and_then(catalog::find)
        .unwrap_or_else(|| catalog::default_for(Kind::S2s, providers));
    let _ = org_id;
    AgentOut {
        id: AgentId::new().into(),
        name: input.name.trim().to_string(),
        description: input.description,
        system_prompt: input.system_prompt,
        first_message: input.first_message,
        // Both were checked against STATUSES and PIPELINES on the way in.
        status: input
            .status
            .as_deref()
            .and_then(AgentStatus::parse)
            .unwrap_or(AgentStatus::Active),
        pipeline_mode: input
            .pipeline_mode
            .as_deref()
            .and_then(PipelineMode::parse)
            .unwrap_or(PipelineMode::S2s),
        s2s_model: input
            .s2s_model
            .or_else(|| s2s.default_model(Kind::S2s).map(str::to_string)),
        s2s_voice: input.s2s_voice.or_else(|| s2s.voices.first().map(|v| v.id.to_string())),
        s2s_provider: Some(input.s2s_provider.unwrap_or_else(|| s2s.id.to_string())),
        s2s_config: input.s2s_config.unwrap_or_default(),
        s2s_turn_detection: input.s2s_turn_detection,
        interruption_settings: input.interruption_settings,
        voice_config: input.voice_config,
        llm_config: input.llm_config,
        stt_config: input.stt_config,
        enabled_tools,
        memory_policy: input.memory_policy,
        variables: input.variables.unwrap_or_default(),
        max_duration_seconds: input.max_duration_seconds,
        email_config: None,
        created_at: now,
        updated_at: now,
    }
}

/// Validates and inserts `out` with its `agent.updated` event, inside `txn`.
pub async fn insert_agent(
    state: &AppState,
    txn: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    out: &AgentOut,
) -> ApiResult<agent::Model> {
    finish_checks(state, out)?;
    let mut row = agent::Model {
        id: out.id.clone(),
        org_id: org_id.to_string(),
        name: String::new(),
        description: None,
        system_prompt: None,
        first_message: None,
        status: AgentStatus::Active,
        pipeline_mode: PipelineMode::S2s,
        s2s_provider: None,
        s2s_model: None,
        s2s_voice: None,
        s2s_config: Default::default(),
        s2s_turn_detection: None,
        interruption_settings: None,
        voice_config: None,
        llm_config: None,
        stt_config: None,
        enabled_tools: Default::default(),
        memory_policy: None,
        variables: Default::default(),
        max_duration_secs: None,
        email_config: None,
        created_at: out.created_at,
        updated_at: out.updated_at,
    };
    apply(out, &mut row);
    let row = store::agents::insert(txn, row).await?;
    record_change(txn, org_id, "created", &to_json(&AgentOut::from(row.clone()))).await?;
    Ok(row)
}

pub async fn create(ctx: Ctx, Body(mut input): Body<AgentIn>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let tools = resolve_tools(&txn, ctx.org(), &input.enabled_tools.take().unwrap_or_default()).await?;
    let out = new_agent(&ctx.state, ctx.org(), input, tools);
    let row = insert_agent(&ctx.state, &txn, ctx.org(), &out).await?;
    ctx.commit(txn, StatusCode::CREATED, &AgentOut::from(row)).await
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of("status", STATUSES)?;
    let (rows, total) =
        store::agents::list(ctx.db(), ctx.org(), status.as_deref(), page.offset(), page.page_size).await?;
    let items: Vec<AgentOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("agents", &items, page.info(total)))
}

pub async fn load(db: &impl sea_orm::ConnectionTrait, org_id: &str, id: &str) -> ApiResult<agent::Model> {
    store::agents::find(db, org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Agent", id))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(ctx.db(), ctx.org(), &id).await?;
    Ok(envelope::ok(&AgentOut::from(row)))
}

pub async fn update(ctx: Ctx, id: web::Path<String>, Body(p): Body<AgentPatch>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let mut row = load(&txn, ctx.org(), &id).await?;
    let mut a = AgentOut::from(row.clone());
    let provider_changed = p
        .s2s_provider
        .as_ref()
        .is_some_and(|np| a.s2s_provider.as_ref() != Some(np));
    if let Some(v) = p.name {
        a.name = v;
    }
    if let Some(v) = p.description {
        a.description = v;
    }
    if let Some(v) = p.system_prompt {
        a.system_prompt = v;
    }
    if let Some(v) = p.first_message {
        a.first_message = v;
    }
    if let Some(v) = p.status.as_deref().and_then(AgentStatus::parse) {
        a.status = v;
    }
    if let Some(v) = p.pipeline_mode.as_deref().and_then(PipelineMode::parse) {
        a.pipeline_mode = v;
    }
    if let Some(v) = p.s2s_provider {
        // A new provider brings its own defaults unless the patch names them.
        if provider_changed {
            let provider = catalog::find(&v);
            a.s2s_model = provider.and_then(|pr| pr.default_model(Kind::S2s)).map(str::to_string);
            a.s2s_voice = provider.and_then(|pr| pr.voices.first()).map(|x| x.id.to_string());
        }
        a.s2s_provider = Some(v);
    }
    if let Some(v) = p.s2s_model {
        a.s2s_model = Some(v);
    }
    if let Some(v) = p.s2s_voice {
        a.s2s_voice = Some(v);
    }
    if let Some(v) = p.s2s_config {
        a.s2s_config = v;
    }
    if let Some(v) = p.s2s_turn_detection {
        a.s2s_turn_detection = v;
    }
    if let Some(v) = p.interruption_settings {
        a.interruption_settings = v;
    }
    if let Some(v) = p.voice_config {
        a.voice_config = v;
    }
    if let Some(v) = p.llm_config {
        a.llm_config = v;
    }
    if let Some(v) = p.stt_config {
        a.stt_config = v;
    }
    if let Some(refs) = p.enabled_tools {
        a.enabled_tools = resolve_tools(&txn, ctx.org(), &refs).await?;
    }
    if let Some(v) = p.memory_policy {
        a.memory_policy = v;
    }
    if let Some(v) = p.variables {
        a.variables = v;
    }
    if let Some(v) = p.max_duration_seconds {
        a.max_duration_seconds = v;
    }
    finish_checks(&ctx.state, &a)?;
    if let Some(mailbox) = p.email_config {
        row.email_config = match mailbox {
            Some(body) => Some(ctx.state.email.mailbox_for(&txn, ctx.org(), &row, body.into()).await?),
            None => None,
        };
    }
    a.updated_at = Utc::now();
    apply(&a, &mut row);
    row.updated_at = a.updated_at;
    let row = store::agents::save(&txn, row).await?;
    let out = AgentOut::from(row);
    record_change(&txn, ctx.org(), "updated", &to_json(&out)).await?;
    ctx.commit(txn, StatusCode::OK, &out).await
}

pub async fn delete(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let row = load(&txn, ctx.org(), &id).await?;
    let numbers = store::phone_numbers::for_agent(&txn, ctx.org(), &row.id).await?;
    store::phone_numbers::unassign_agent(&txn, ctx.org(), &row.id).await?;
    store::agents::delete(&txn, ctx.org(), &row.id).await?;
    record_change(&txn, ctx.org(), "deleted", &json!({ "id": row.id, "name": row.name })).await?;
    let warnings: Vec<String> = numbers
        .iter()
        .map(|n| {
            format!(
                "Phone number {} ({}) is no longer assigned to an agent",
                n.phone_number, n.id
            )
        })
        .collect();
    let out = DeletedOut::new(format!("Agent '{}' deleted", row.id)).with_warnings(warnings);
    ctx.commit(txn, StatusCode::OK, &out).await
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(M::GET, "/agents", "agents", "list_agents", "List all agents", |r| {
            r.to(list)
        })
        .key(Some("agents:read"))
        .returns_list::<AgentOut>("agents"),
        RouteSpec::new(M::GET, "/agents/:id", "agents", "get_agent", "Get agent by ID", |r| {
            r.to(get)
        })
        .key(Some("agents:read"))
        .returns::<AgentOut>(),
        RouteSpec::new(M::POST, "/agents", "agents", "create_agent", "Create a new agent", |r| {
            r.to(create)
        })
        .key(Some("agents:write"))
        .body::<AgentIn>()
        .example(|| json!({ "name": "Front desk", "systemPrompt": "You answer calls for {{business}}. Be brief and friendly.", "firstMessage": "Hi, thanks for calling {{business}}!", "pipelineMode": "traditional", "variables": { "business": "Acme Dental" }, "interruptionSettings": { "enabled": true, "sensitivityMs": 300 } }))
        .returns::<AgentOut>(),
        RouteSpec::new(M::PATCH, "/agents/:id", "agents", "update_agent", "Update an agent", |r| {
            r.to(update)
        })
        .key(Some("agents:write"))
        .body::<AgentPatch>()
        .example(|| json!({ "firstMessage": "Hello, how can I help you today?" }))
        .returns::<AgentOut>(),
        RouteSpec::new(M::DELETE, "/agents/:id", "agents", "delete_agent", "Delete an agent", |r| {
            r.to(delete)
        })
        .key(Some("agents:write"))
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::GET,
            "/agents/:id/telephony",
            "agents",
            "list_agent_numbers",
            "List phone numbers assigned to agent",
            |r| r.to(numbers::list_numbers),
        )
        .key(Some("agents:read"))
        .returns_list::<PhoneNumberOut>("phoneNumbers"),
        RouteSpec::new(
            M::POST,
            "/agents/:id/telephony",
            "agents",
            "assign_number",
            "Assign phone number to agent",
            |r| r.to(numbers::assign),
        )
        .key(Some("agents:write"))
        .body::<numbers::AssignIn>()
        .example(|| json!({ "phoneNumberId": "TEL-01JD0000000000000000000000" }))
        .returns::<PhoneNumberOut>(),
        RouteSpec::new(
            M::DELETE,
            "/agents/:id/telephony/:phoneNumberId",
            "agents",
            "unassign_number",
            "Remove phone number from agent",
            |r| r.to(numbers::unassign),
        )
        .key(Some("agents:write"))
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::POST,
            "/agents/:id/preview",
            "agents",
            "preview_agent",
            "Preview variable substitution for agent prompts",
            |r| r.to(checks::preview),
        )
        .key(Some("agents:read"))
        .body::<checks::PreviewIn>()
        .example(|| json!({ "variables": { "business": "Acme Dental" }, "hardFail": false }))
        .returns::<checks::PreviewOut>(),
        RouteSpec::new(
            M::POST,
            "/agents/:id/preflight",
            "agents",
            "preflight_agent",
            "Validate agent configuration before launch: prompt integrity, provider readiness, template placeholders, voice quality score, and compliance status",
            |r| r.to(checks::preflight),
        )
        .key(Some("agents:read"))
        .body::<checks::PreflightIn>()
        .example(|| json!({ "variables": { "business": "Acme Dental" } }))
        .returns::<checks::PreflightOut>(),
        RouteSpec::new(
            M::POST,
            "/agents/:id/simulate",
            "agents",
            "simulate_agent",
            "Run scenario simulation (wrong_party, failed_verification, interruption, opt_out, silence, etc.) to test agent readiness without making real calls",
            |r| r.to(simulate::simulate),
        )
        .key(Some("agents:read"))
        .body::<simulate::SimulateIn>()
        .example(|| json!({ "scenarios": ["wrong_party", "opt_out", "interruption"] }))
        .returns::<simulate::SimulateOut>(),
        RouteSpec::new(
            M::POST,
            "/agents/quickstart",
            "agents",
            "quickstart",
            "One-shot agent creation with sensible defaults — creates agent, searches for a phone number, provisions it, and assigns it in a single call",
            |r| r.to(numbers::quickstart),
        )
        .key(Some("agents:write"))
        .body::<numbers::QuickstartIn>()
        .example(|| json!({ "name": "Quick agent", "systemPrompt": "You book appointments for {{business}}.", "areaCode": "415" }))
        .returns::<numbers::QuickstartOut>(),
    ]
}
