//! Guides (`GET /docs`, `GET /docs/:slug`: JSON, or raw markdown with
//! `Accept: text/markdown`) kept in `docs/guides/*.md`, and `GET /quickstart`.

use actix_web::{HttpRequest, HttpResponse, http::Method, web};
use serde_json::{Value, json};

use crate::{
    error::{ApiError, ApiResult},
    http::{
        BASE_PATH,
        core::{envelope, route_spec::RouteSpec},
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
        description: "Event-driven workflows: their status on this server (not yet available) and what to use meanwhile",
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

fn summary(g: &Guide) -> Value {
    json!({
        "slug": g.slug,
        "title": g.title,
        "description": g.description,
        "url": format!("{BASE_PATH}/docs/{}", g.slug),
    })
}

fn wants_markdown(req: &HttpRequest) -> bool {
    req.headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/markdown"))
}

pub async fn list() -> HttpResponse {
    let guides: Vec<Value> = GUIDES.iter().map(summary).collect();
    envelope::ok(&json!({ "guides": guides }))
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
    let mut data = summary(guide);
    data["content"] = json!(guide.markdown);
    data["format"] = json!("markdown");
    Ok(envelope::ok(&data))
}

/// The ordered calls from nothing to a working phone agent.
pub fn quickstart_value() -> Value {
    json!({
        "title": "From nothing to a working phone agent",
        "steps": [
            { "step": 1, "title": "Request a verification code", "method": "POST", "path": format!("{BASE_PATH}/accounts/provision"), "auth": false,
              "body": { "email": "you@example.com", "orgName": "Your Org" },
              "notes": "A 6-digit code is e-mailed. With the sandbox e-mail provider, loopback clients read it at GET /api/v1/public/_debug/sandbox/outbox?to=EMAIL." },
            { "step": 2, "title": "Verify and receive the API key", "method": "POST", "path": format!("{BASE_PATH}/accounts/verify"), "auth": false,
              "body": { "email": "you@example.com", "code": "123456" },
              "notes": "data.apiKey (sk_live_...) is shown once: keep it. Send it as Authorization: Bearer <key>." },
            { "step": 3, "title": "Bootstrap the session", "method": "GET", "path": format!("{BASE_PATH}/profile"), "auth": true,
              "notes": "Permissions, allowed actions, resource counts and next steps." },
            { "step": 4, "title": "Create an agent with a phone number", "method": "POST", "path": format!("{BASE_PATH}/agents/quickstart"), "auth": true,
              "body": { "name": "Front desk", "systemPrompt": "You book appointments for Acme Dental.", "areaCode": "415" },
              "notes": "Creates the agent, searches, provisions and assigns a number. data.phoneNumber is null (with data.error) when no number could be bought." },
            { "step": 5, "title": "Check readiness", "method": "POST", "path": format!("{BASE_PATH}/agents/:id/preflight"), "auth": true,
              "body": { "variables": {} },
              "notes": "Then POST /agents/:id/simulate with the scenarios you care about." },
        ],
        "conventions": {
            "idempotency": "Send Idempotency-Key on every mutating request; a retry with the same key replays the first answer for 24h.",
            "errors": "error.code and the HTTP status come from errorCodes in GET /api/v1/public/.",
            "mcp": "The same operations are MCP tools at POST /mcp (Bearer key) or via `thruai mcp` over stdio.",
        },
        "next": {
            "guides": format!("{BASE_PATH}/docs"),
            "openapi": "/openapi.json",
            "capabilities": format!("{BASE_PATH}/capabilities"),
            "llms": "/llms.txt",
        },
    })
}

pub async fn quickstart() -> HttpResponse {
    envelope::ok(&quickstart_value())
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
        .public(),
        RouteSpec::new(
            M::GET,
            "/docs/:slug",
            "docs",
            "get_doc",
            "Get full guide content by slug. Supports Accept: text/markdown for raw markdown.",
            |r| r.to(get),
        )
        .public(),
        RouteSpec::new(
            M::GET,
            "/quickstart",
            "docs",
            "get_quickstart_guide",
            "From nothing to a working phone agent: the ordered API calls, with bodies",
            |r| r.to(quickstart),
        )
        .public()
        .extension(),
    ]
}
