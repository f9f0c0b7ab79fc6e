//! `GET /profile`: everything an autonomous agent needs to start a session — who it is,
//! what it may do (generated from the route table), what exists, and what to do next.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::Method};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    BASE_PATH,
    core::{
        envelope::{self, Sorted},
        extract::Ctx,
        route_spec::RouteSpec,
        routes,
    },
};
use crate::{error::ApiResult, store};

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationSummary {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileKey {
    pub id: String,
    pub prefix: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub organization: Option<OrganizationSummary>,
    pub api_key: ProfileKey,
}

/// One operation of the API and whether this key may call it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub method: String,
    pub path: String,
    pub permission: Option<String>,
    pub allowed: bool,
    pub description: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCounts {
    pub agents: u64,
    pub phone_numbers: u64,
    pub calls: u64,
    pub campaigns: u64,
    pub tools: u64,
    pub webhooks: u64,
    pub feedback: u64,
    pub api_keys: u64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxStatus {
    /// E-mail is the sandbox: codes are read from the sandbox outbox.
    pub email: bool,
}

/// A suggested call, in order.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickStartStep {
    pub step: String,
    pub method: String,
    pub path: String,
    /// The body to send, when the call takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProfileOut {
    pub identity: Identity,
    pub permissions: Vec<String>,
    /// Every authenticated operation, keyed by name.
    pub actions: BTreeMap<String, Action>,
    pub resources: ResourceCounts,
    pub sandbox: SandboxStatus,
    pub quick_start: Vec<QuickStartStep>,
}

pub async fn profile(ctx: Ctx) -> ApiResult<HttpResponse> {
    let org = store::accounts::find_org(ctx.db(), ctx.org()).await?;
    let (db, org_id) = (ctx.db(), ctx.org());
    let (agents, agent_count) = store::agents::list(db, org_id, None, 0, 1).await?;
    let (calls, call_count) = store::calls::list(db, org_id, &store::calls::Filter::default(), 0, 1).await?;
    let counts = ResourceCounts {
        agents: agent_count,
        phone_numbers: store::phone_numbers::count(db, org_id).await?,
        calls: call_count,
        campaigns: store::campaigns::list(db, org_id, None, 0, 1).await?.1,
        tools: store::tools::count(db, org_id).await?,
        webhooks: store::webhooks::count(db, org_id).await?,
        feedback: store::feedback::count(db, org_id).await?,
        api_keys: store::api_keys::count_for_org(db, org_id).await?,
    };

    let actions = routes::table()
        .iter()
        .filter(|s| s.auth)
        .map(|spec| {
            let action = Action {
                method: spec.method.to_string(),
                path: format!("{BASE_PATH}{}", spec.path),
                permission: spec.permission.map(str::to_string),
                allowed: spec.permission.is_none_or(|p| ctx.principal.has_scope(p)),
                description: spec.description.to_string(),
            };
            (spec.operation.to_string(), action)
        })
        .collect();
    let step = |step: &str, method: &str, path: String| QuickStartStep {
        step: step.into(),
        method: method.into(),
        path,
        body: None,
    };
    // Where the caller stands on the way to a completed call and its transcript.
    let mut quick_start = match (agents.first(), calls.first()) {
        (None, _) => vec![QuickStartStep {
            body: Some(
                json!({ "name": "Front desk", "systemPrompt": "You book appointments for Acme Dental. If the caller asks not to be called again, confirm and end the call.", "areaCode": "415" }),
            ),
            ..step(
                "Create an agent with a phone number",
                "POST",
                format!("{BASE_PATH}/agents/quickstart"),
            )
        }],
        (Some(agent), None) => vec![QuickStartStep {
            body: Some(json!({ "agentId": agent.id, "to": "+14155550142",
                               "metadata": { "sandboxScript": [{ "waitForAgent": true }, { "say": "Hi, I would like to book an appointment." },
                                                               { "waitForAgent": true }, { "hangup": true }] } })),
            ..step(
                "Place a sandbox call with your agent",
                "POST",
                format!("{BASE_PATH}/calls/outbound"),
            )
        }],
        (_, Some(call)) => vec![step(
            "Read your latest call's transcript",
            "GET",
            format!("{BASE_PATH}/calls/{}/transcript", call.id),
        )],
    };
    if counts.feedback == 0 {
        quick_start.push(QuickStartStep {
            body: Some(json!({ "type": "general", "message": "First contact from my agent" })),
            ..step("Tell us how it is going", "POST", format!("{BASE_PATH}/feedback"))
        });
    }
    quick_start.push(step("Read the full API description", "GET", format!("{BASE_PATH}/")));
    quick_start.push(step(
        "Look up request schemas before writing",
        "GET",
        format!("{BASE_PATH}/_debug/schemas"),
    ));
    quick_start.push(step(
        "Check providers, limits and features",
        "GET",
        format!("{BASE_PATH}/capabilities"),
    ));
    quick_start.push(step("Read the guides", "GET", format!("{BASE_PATH}/docs")));
    quick_start.push(step("Or drive the API as MCP tools (same key)", "POST", "/mcp".into()));

    let out = ProfileOut {
        identity: Identity {
            organization: org.map(|o| OrganizationSummary {
                id: o.id,
                name: o.name,
                slug: o.slug,
                plan: o.plan,
            }),
            api_key: ProfileKey {
                id: ctx.principal.key_id.clone(),
                prefix: ctx.principal.key_prefix.clone(),
                expires_at: ctx.principal.expires_at,
            },
        },
        permissions: ctx.principal.scopes.clone(),
        actions,
        resources: counts,
        sandbox: SandboxStatus {
            email: ctx.state.email_is_sandbox(),
        },
        quick_start,
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/profile",
            "profile",
            "get_profile",
            "Get caller identity, granted permissions, action map, resource counts, and contextual quickStart guidance",
            |r| r.to(profile),
        )
        .key(None)
        .returns::<ProfileOut>(),
    ]
}
