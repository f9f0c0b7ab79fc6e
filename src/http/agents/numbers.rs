//! An agent's phone numbers (list, assign, unassign) and `POST /agents/quickstart`:
//! agent, number search, purchase and assignment in one call.

use actix_web::{HttpResponse, http::StatusCode, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AgentIn, AgentOut, insert_agent, load, new_agent, record_change};
use crate::{
    domain::E164,
    error::{ApiError, ApiResult, ErrorCode},
    http::{
        core::{
            envelope::{self, DeletedOut, Sorted},
            extract::{Body, Ctx},
            validation::{Validate, Validator},
        },
        telephony::{
            buy, compensate, number_row,
            wire::{PhoneNumberOut, SearchIn},
        },
    },
    providers::catalog::{self, Kind},
    store,
};

pub async fn list_numbers(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let agent = load(ctx.db(), ctx.org(), &id).await?;
    let rows = store::phone_numbers::for_agent(ctx.db(), ctx.org(), &agent.id).await?;
    let items: Vec<PhoneNumberOut> = rows.into_iter().map(Into::into).collect();
    let total = items.len() as u64;
    Ok(envelope::list(
        "phoneNumbers",
        &items,
        envelope::PageInfo {
            page: 1,
            page_size: total.max(1),
            total,
            has_more: false,
        },
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AssignIn {
    /// The number's id (`TEL-…`); or give `phoneNumber`.
    pub phone_number_id: Option<String>,
    /// The number in E.164.
    pub phone_number: Option<String>,
}

impl Validate for AssignIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            self.phone_number_id.is_some() != self.phone_number.is_some(),
            "phoneNumberId",
            "give exactly one of phoneNumberId or phoneNumber",
        );
    }
}

pub async fn assign(ctx: Ctx, id: web::Path<String>, Body(input): Body<AssignIn>) -> ApiResult<HttpResponse> {
    if let Some(n) = &input.phone_number
        && E164::parse(n).is_err()
    {
        return Err(ApiError::new(
            ErrorCode::InvalidNumber,
            format!("'{n}' is not an E.164 phone number"),
        ));
    }
    let txn = ctx.begin().await?;
    let agent = load(&txn, ctx.org(), &id).await?;
    let number = match (&input.phone_number_id, &input.phone_number) {
        (Some(pid), _) => store::phone_numbers::find(&txn, ctx.org(), pid)
            .await?
            .ok_or_else(|| ApiError::not_found("Phone number", pid))?,
        (None, Some(n)) => store::phone_numbers::find_by_number(&txn, ctx.org(), n)
            .await?
            .ok_or_else(|| ApiError::not_found("Phone number", n))?,
        (None, None) => return Err(ApiError::field("phoneNumberId", "is required")),
    };
    if let Some(current) = number.agent_id.as_deref().filter(|a| *a != agent.id) {
        return Err(ApiError::new(
            ErrorCode::ResourceConflict,
            format!(
                "Phone number '{}' is assigned to agent '{current}'; remove it there first (DELETE /agents/{current}/telephony/{})",
                number.id, number.id
            ),
        ));
    }
    let mut number = number;
    number.agent_id = Some(agent.id.clone());
    number.updated_at = chrono::Utc::now();
    let number = store::phone_numbers::save(&txn, number).await?;
    record_change(
        &txn,
        ctx.org(),
        "telephony",
        &json!({ "id": agent.id, "phoneNumberId": number.id, "assigned": true }),
    )
    .await?;
    ctx.commit(txn, StatusCode::OK, &PhoneNumberOut::from(number)).await
}

pub async fn unassign(ctx: Ctx, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let (agent_id, number_id) = path.into_inner();
    let txn = ctx.begin().await?;
    let agent = load(&txn, ctx.org(), &agent_id).await?;
    let mut number = store::phone_numbers::find(&txn, ctx.org(), &number_id)
        .await?
        .filter(|n| n.agent_id.as_deref() == Some(agent.id.as_str()))
        .ok_or_else(|| ApiError::not_found("Phone number assigned to this agent", &number_id))?;
    number.agent_id = None;
    number.updated_at = chrono::Utc::now();
    let number = store::phone_numbers::save(&txn, number).await?;
    record_change(
        &txn,
        ctx.org(),
        "telephony",
        &json!({ "id": agent.id, "phoneNumberId": number.id, "assigned": false }),
    )
    .await?;
    let out = DeletedOut::new(format!(
        "Phone number '{}' removed from agent '{}'",
        number.id, agent.id
    ));
    ctx.commit(txn, StatusCode::OK, &out).await
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuickstartIn {
    /// 1–100 characters.
    pub name: String,
    pub system_prompt: Option<String>,
    /// Where to look for a number (three digits); any area when omitted.
    pub area_code: Option<String>,
    /// A voice of the S2S provider.
    pub voice: Option<String>,
    /// An S2S model of the provider.
    pub model: Option<String>,
}

impl Validate for QuickstartIn {
    fn validate(&self, v: &mut Validator) {
        v.length("name", self.name.trim(), 1, 100);
        v.opt_length("systemPrompt", self.system_prompt.as_deref(), 0, 20_000);
        SearchIn {
            area_code: self.area_code.clone(),
            ..SearchIn::default()
        }
        .validate(v);
    }
}

/// What `POST /agents/quickstart` answers: the agent, and its number unless none could be
/// bought (then `phoneNumber` is null and `error` says why and how to retry).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartOut {
    pub agent: AgentOut,
    pub phone_number: Option<PhoneNumberOut>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<QuickstartError>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartError {
    /// The error code provisioning failed with.
    pub code: String,
    pub message: String,
    pub details: QuickstartErrorDetails,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartErrorDetails {
    pub reason: String,
    /// The call that provisions a number for the agent later.
    pub retry: RetryCall,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryCall {
    pub method: String,
    pub path: String,
    pub body: Value,
}

const DEFAULT_PROMPT: &str = "You are a friendly, concise phone assistant. Greet the caller, find out what they need and help them. If the caller asks not to be called again, confirm that they will be removed from the call list and end the call politely.";

pub async fn quickstart(ctx: Ctx, Body(input): Body<QuickstartIn>) -> ApiResult<HttpResponse> {
    // The provider offering the model and voice asked for (configured or not: without a
    // key its calls run on the sandbox stand-in), else the preferred one.
    let provider = catalog::offering(
        Kind::S2s,
        input.model.as_deref(),
        input.voice.as_deref(),
        catalog::default_for(Kind::S2s, &ctx.state.settings.providers),
    );
    let agent_in = AgentIn {
        name: input.name.clone(),
        description: Some("Created by quickstart".into()),
        system_prompt: Some(input.system_prompt.clone().unwrap_or_else(|| DEFAULT_PROMPT.into())),
        first_message: Some(format!("Hi, this is {}. How can I help you today?", input.name.trim())),
        status: None,
        pipeline_mode: Some("s2s".into()),
        s2s_provider: Some(provider.id.into()),
        s2s_model: input.model.clone(),
        s2s_voice: input.voice.clone(),
        s2s_config: None,
        s2s_turn_detection: None,
        interruption_settings: None,
        voice_config: None,
        llm_config: None,
        stt_config: None,
        enabled_tools: None,
        memory_policy: None,
        variables: None,
        max_duration_seconds: None,
    };
    let agent = new_agent(&ctx.state, ctx.org(), agent_in, Vec::new());
    // Checked before anything is bought, so a bad voice or model costs nothing.
    {
        let mut v = Validator::default();
        super::known::check_catalog(&mut v, &agent);
        v.finish()?;
    }
    let search = SearchIn {
        area_code: input.area_code.clone(),
        ..SearchIn::default()
    };
    // The carrier is called before the transaction opens: no connection is held while
    // waiting on the network.
    let bought = buy(&ctx.state, ctx.org(), None, &search).await;
    let txn = ctx.begin().await?;
    let row = insert_agent(&ctx.state, &txn, ctx.org(), &agent).await;
    let row = match row {
        Ok(row) => row,
        Err(e) => {
            if let Ok((carrier, number, _)) = &bought {
                compensate(carrier.as_ref(), &number.sid).await;
            }
            return Err(e);
        }
    };
    let agent_out = AgentOut::from(row);
    let data = match bought {
        Ok((carrier, number, country)) => {
            let sid = number.sid.clone();
            let number_row = number_row(
                ctx.org(),
                carrier.as_ref(),
                number,
                &country,
                None,
                Some(agent_out.id.clone()),
            );
            match store::phone_numbers::insert(&txn, number_row).await {
                Ok(saved) => QuickstartOut {
                    agent: agent_out,
                    phone_number: Some(PhoneNumberOut::from(saved)),
                    error: None,
                },
                Err(e) => {
                    compensate(carrier.as_ref(), &sid).await;
                    return Err(e.into());
                }
            }
        }
        Err(e) => QuickstartOut {
            error: Some(QuickstartError {
                code: e.code.as_str().to_string(),
                message: "The agent was created but no phone number could be provisioned".into(),
                details: QuickstartErrorDetails {
                    reason: e.message,
                    retry: RetryCall {
                        method: "POST".into(),
                        path: "/api/v1/public/telephony/numbers/provision".into(),
                        body: json!({ "areaCode": input.area_code, "agentId": agent_out.id }),
                    },
                },
            }),
            agent: agent_out,
            phone_number: None,
        },
    };
    ctx.commit(txn, StatusCode::CREATED, &Sorted(data)).await
}
