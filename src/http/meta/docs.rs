//! Guides (`GET /docs`, `GET /docs/:slug`: JSON, or raw markdown with
//! `Accept: text/markdown`) kept in `docs/guides/*.md`, and `GET /quickstart`.

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    http::{
        BASE_PATH,
        core::{
            envelope::{self, Sorted},
            route_spec::RouteSpec,
        },
    },
};

pub struct Guide {
    pub slug: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub markdown: &'static str,
}

pub static GUIDES: &[Guide] = &[
    Guide {
        slug: "getting-started",
        title: "Getting started",
        description: "Run the server, get an API key in two calls, create a phone agent, and the conventions every call follows",
        markdown: include_str!("../../../docs/guides/getting-started.md"),
    },
    Guide {
        slug: "agent-design",
        title: "Agent design",
        description: "Prompts and variables, pipeline modes and providers, interruptions, memory, tools, phone numbers, preflight",
        markdown: include_str!("../../../docs/guides/agent-design.md"),
    },
    Guide {
        slug: "workflows",
        title: "Workflows",
        description: "Workflows: versioned graphs of calls, messages, webhooks, branches and waits, their executions and step journals, dry runs",
        markdown: include_str!("../../../docs/guides/workflows.md"),
    },
    Guide {
        slug: "ai-agent-integration",
        title: "AI agent integration",
        description: "Discovery documents, the MCP server (HTTP and stdio), and the autonomous-mode rules",
        markdown: include_str!("../../../docs/guides/ai-agent-integration.md"),
    },
    Guide {
        slug: "migration",
        title: "Migration",
        description: "Moving from the hosted API, field-name compatibility, version history, moving an installation",
        markdown: include_str!("../../../docs/guides/migration.md"),
    },
];

/// A guide as listed.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuideSummary {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub url: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuidesOut {
    pub guides: Vec<GuideSummary>,
}

/// A guide with its content (or, with `Accept: text/markdown`, the markdown alone).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuideOut {
    #[serde(flatten)]
    pub summary: GuideSummary,
    pub content: String,
    /// `markdown`.
    pub format: String,
}

fn summary(g: &Guide) -> GuideSummary {
    GuideSummary {
        slug: g.slug.into(),
        title: g.title.into(),
        description: g.description.into(),
        url: format!("{BASE_PATH}/docs/{}", g.slug),
    }
}

fn wants_markdown(req: &HttpRequest) -> bool {
    req.headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/markdown"))
}

pub async fn list() -> HttpResponse {
    let guides = GUIDES.iter().map(summary).collect();
    envelope::ok(&Sorted(GuidesOut { guides }))
}

pub async fn get(req: HttpRequest, slug: web::Path<String>) -> ApiResult<HttpResponse> {
    let guide = GUIDES
        .iter()
        .find(|g| g.slug == slug.as_str())
        .ok_or_else(|| ApiError::not_found("Guide", &slug))?;
    if wants_markdown(&req) {
        return Ok(HttpResponse::Ok()
            .content_type("text/markdown; charset=utf-8")
            .body(guide.markdown));
    }
    let out = GuideOut {
        summary: summary(guide),
        content: guide.markdown.into(),
        format: "markdown".into(),
    };
    Ok(envelope::ok(&Sorted(out)))
}

/// One call of the quickstart.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartStep {
    pub step: u32,
    pub title: String,
    pub method: String,
    pub path: String,
    pub auth: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    pub notes: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartConventions {
    pub idempotency: String,
    pub errors: String,
    pub mcp: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartNext {
    pub guides: String,
    pub openapi: String,
    pub capabilities: String,
    pub llms: String,
}

/// `GET /quickstart`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuickstartGuideOut {
    pub title: String,
    pub steps: Vec<QuickstartStep>,
    pub conventions: QuickstartConventions,
    pub next: QuickstartNext,
}

/// The ordered calls from nothing to a working phone agent.
pub fn quickstart_value() -> QuickstartGuideOut {
    let step = |step: u32, title: &str, method: &str, path: &str, auth: bool, body: Option<Value>, notes: &str| {
        QuickstartStep {
            step,
            title: title.into(),
            method: method.into(),
            path: format!("{BASE_PATH}{path}"),
            auth,
            body,
            notes: notes.into(),
        }
    };
    QuickstartGuideOut {
        title: "From nothing to a working phone agent".into(),
        steps: vec![
            step(
                1,
                "Request a verification code",
                "POST",
                "/accounts/provision",
                false,
                Some(json!({ "email": "you@example.com", "orgName": "Your Org" })),
                "A 6-digit code is e-mailed. With the sandbox e-mail provider and email.sandbox_outbox on (development), clients on the server's machine read it at GET /api/v1/public/_debug/sandbox/outbox?to=EMAIL.",
            ),
            step(
                2,
                "Verify and receive the API key",
                "POST",
                "/accounts/verify",
                false,
                Some(json!({ "email": "you@example.com", "code": "123456" })),
                "data.apiKey (sk_live_...) is shown once: keep it. Send it as Authorization: Bearer <key>.",
            ),
            step(
                3,
                "Bootstrap the session",
                "GET",
                "/profile",
                true,
                None,
                "Permissions, allowed actions, resource counts and next steps.",
            ),
            step(
                4,
                "Create an agent with a phone number",
                "POST",
                "/agents/quickstart",
                true,
                Some(
                    json!({ "name": "Front desk", "systemPrompt": "You book appointments for Acme Dental.", "areaCode": "415" }),
                ),
                "Creates the agent, searches, provisions and assigns a number. data.phoneNumber is null (with data.error) when no number could be bought.",
            ),
            step(
                5,
                "Check readiness",
                "POST",
                "/agents/:id/preflight",
                true,
                Some(json!({ "variables": {} })),
                "provider_readiness warns when a provider has no key on this server: calls then run on the sandbox stand-in. POST /agents/:id/simulate tries scenarios without a call.",
            ),
            step(
                6,
                "Place a call",
                "POST",
                "/calls/outbound",
                true,
                Some(json!({ "agentId": "AGT-...", "to": "+14155550142",
                             "metadata": { "sandboxScript": [{ "waitForAgent": true }, { "say": "Hi, I would like to book an appointment." },
                                                             { "waitForAgent": true }, { "say": "Thanks, goodbye." },
                                                             { "waitForAgent": true }, { "hangup": true }] } })),
                "On a sandbox number the sandbox carrier plays the callee: metadata.sandboxScript is what it says. data.callId names the call.",
            ),
            step(
                7,
                "Wait for the call to end",
                "GET",
                "/calls/:id",
                true,
                None,
                "Poll until status is completed (or failed, busy, no_answer): a sandbox call like this lasts about 15 s. Or subscribe to call.completed with POST /webhooks.",
            ),
            step(
                8,
                "Read the transcript",
                "GET",
                "/calls/:id/transcript",
                true,
                None,
                "Every line with its speaker and time; GET /calls/:id/debug has the timeline and each turn's latency.",
            ),
        ],
        conventions: QuickstartConventions {
            idempotency: "Send Idempotency-Key on every mutating request; a retry with the same key replays the first answer for 24h.".into(),
            errors: "error.code and the HTTP status come from errorCodes in GET /api/v1/public/.".into(),
            mcp: "The same operations are MCP tools at POST /mcp (Bearer key) or via `thruai mcp` over stdio.".into(),
        },
        next: QuickstartNext {
            guides: format!("{BASE_PATH}/docs"),
            openapi: "/openapi.json".into(),
            capabilities: format!("{BASE_PATH}/capabilities"),
            llms: "/llms.txt".into(),
        },
    }
}

pub async fn quickstart() -> HttpResponse {
    envelope::ok(&Sorted(quickstart_value()))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/docs",
            "docs",
            "list_docs",
            "List all available API guides with slugs and descriptions",
            |r| r.to(list),
        )
        .public()
        .document()
        .returns::<GuidesOut>(),
        RouteSpec::new(
            M::GET,
            "/docs/:slug",
            "docs",
            "get_doc",
            "Get full guide content by slug. Supports Accept: text/markdown for raw markdown.",
            |r| r.to(get),
        )
        .public()
        .document()
        .returns::<GuideOut>(),
        RouteSpec::new(
            M::GET,
            "/quickstart",
            "docs",
            "get_quickstart_guide",
            "From nothing to a working phone agent: the ordered API calls, with bodies",
            |r| r.to(quickstart),
        )
        .public()
        .extension()
        .document()
        .returns::<QuickstartGuideOut>(),
    ]
}
