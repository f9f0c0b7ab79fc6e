//! `GET /profile`: everything an autonomous agent needs to start a session — who it is,
//! what it may do (generated from the route table), what exists, and what to do next.

use actix_web::{HttpResponse, http::Method};
use serde_json::{Value, json};

use super::{
    BASE_PATH,
    core::{envelope, extract::Ctx, route_spec::RouteSpec, routes},
};
use crate::{error::ApiResult, store};

pub async fn profile(ctx: Ctx) -> ApiResult<HttpResponse> {
    let org = store::accounts::find_org(ctx.db(), ctx.org()).await?;
    let feedback = store::feedback::count(ctx.db(), ctx.org()).await?;
    let api_keys = store::api_keys::count_for_org(ctx.db(), ctx.org()).await?;

    let mut actions = serde_json::Map::new();
    for spec in routes::table().iter().filter(|s| s.auth) {
        let allowed = spec.permission.is_none_or(|p| ctx.principal.has_scope(p));
        actions.insert(
            spec.operation.to_string(),
            json!({
                "method": spec.method.as_str(),
                "path": format!("{BASE_PATH}{}", spec.path),
                "permission": spec.permission,
                "allowed": allowed,
                "description": spec.description,
            }),
        );
    }
    let mut quick_start: Vec<Value> = Vec::new();
    if feedback == 0 {
        quick_start.push(json!({
            "step": "Tell us how it is going",
            "method": "POST",
            "path": format!("{BASE_PATH}/feedback"),
            "body": { "type": "general", "message": "First contact from my agent" },
        }));
    }
    quick_start
        .push(json!({ "step": "Read the full API description", "method": "GET", "path": format!("{BASE_PATH}/") }));
    quick_start.push(json!({ "step": "Look up request schemas before writing", "method": "GET", "path": format!("{BASE_PATH}/_debug/schemas") }));
    quick_start.push(json!({ "step": "Check providers, limits and features", "method": "GET", "path": format!("{BASE_PATH}/capabilities") }));
    quick_start.push(json!({ "step": "Read the guides", "method": "GET", "path": format!("{BASE_PATH}/docs") }));
    quick_start.push(json!({ "step": "Or drive the API as MCP tools (same key)", "method": "POST", "path": "/mcp" }));

    Ok(envelope::ok(&json!({
        "identity": {
            "organization": org.map(|o| json!({ "id": o.id, "name": o.name, "slug": o.slug, "plan": o.plan })),
            "apiKey": { "id": ctx.principal.key_id, "prefix": ctx.principal.key_prefix, "expiresAt": ctx.principal.expires_at },
        },
        "permissions": ctx.principal.scopes,
        "actions": actions,
        "resources": { "feedback": feedback, "apiKeys": api_keys },
        "sandbox": { "email": ctx.state.email_is_sandbox() },
        "quickStart": quick_start,
    })))
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
        .key(None),
    ]
}
