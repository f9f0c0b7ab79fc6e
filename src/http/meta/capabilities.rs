//! `GET /capabilities` (no auth): what this server can do right now — endpoints and their
//! scopes (from the route table), the provider matrix (from the catalogue and the
//! configured credentials), pipeline modes, features, limits, compatibility and roadmap.

use std::collections::BTreeSet;

use actix_web::{HttpResponse, http::Method, web};
use serde_json::{Value, json};

use super::discovery::CONTRACT_META;
use crate::{
    http::core::{envelope, route_spec::RouteSpec, routes},
    providers::catalog::{self, Kind},
    state::AppState,
};

/// Default page size and maximum, as applied by every list.
const PAGE_SIZE_DEFAULT: u64 = 50;
const PAGE_SIZE_MAX: u64 = 100;

fn endpoints() -> Vec<Value> {
    routes::table()
        .iter()
        .map(|s| {
            json!({
                "operation": s.operation,
                "method": s.method.as_str(),
                "path": s.full_path(),
                "domain": s.domain,
                "auth": s.auth,
                "requiredScope": s.permission,
                "safe": s.safe(),
                "idempotencyKey": s.idempotent(),
                "status": "available",
            })
        })
        .collect()
}

/// Every scope, with the operations it unlocks.
fn scopes() -> Value {
    let mut map = serde_json::Map::new();
    for scope in crate::auth::ALL_SCOPES {
        let ops: Vec<&str> = routes::table()
            .iter()
            .filter(|s| s.permission == Some(*scope))
            .map(|s| s.operation)
            .collect();
        map.insert((*scope).to_string(), json!(ops));
    }
    Value::Object(map)
}

/// A contract domain is available once any of its routes is served; the rest are planned.
fn features() -> Value {
    let served: BTreeSet<&str> = routes::table().iter().map(|s| s.domain).collect();
    let mut map = serde_json::Map::new();
    if let Some(domains) = CONTRACT_META["domains"].as_object() {
        for (name, d) in domains {
            let status = if served.contains(name.as_str()) {
                "available"
            } else {
                "planned"
            };
            map.insert(
                name.clone(),
                json!({ "status": status, "description": d["description"] }),
            );
        }
    }
    for (name, status, description) in [
        (
            "mcp",
            "available",
            "Model Context Protocol server: POST /mcp (Streamable HTTP) and `thruai mcp` (stdio)",
        ),
        (
            "openapi",
            "available",
            "OpenAPI 3.1 document at /openapi.json, interactive reference at /reference",
        ),
        ("metrics", "available", "Prometheus metrics at /metrics"),
        ("idempotency", "available", "Idempotency-Key on every mutating endpoint"),
        (
            "sandbox",
            "available",
            "Deterministic sandbox providers when no credentials are configured",
        ),
    ] {
        map.insert(name.into(), json!({ "status": status, "description": description }));
    }
    Value::Object(map)
}

fn providers(state: &AppState) -> Value {
    let settings = &state.settings.providers;
    let mut matrix = serde_json::Map::new();
    for kind in Kind::ALL {
        let list: Vec<Value> = catalog::CATALOG
            .iter()
            .filter(|p| p.has(kind))
            .map(|p| {
                let configured = p.available(settings) && !p.is_sandbox();
                json!({
                    "id": p.id,
                    "name": p.name,
                    "status": if p.is_sandbox() { "sandbox" } else if configured { "configured" } else { "not_configured" },
                    "configKey": if p.is_sandbox() { Value::Null } else { json!(p.config_key) },
                })
            })
            .collect();
        let default = catalog::default_for(kind, settings);
        matrix.insert(
            kind.as_str().into(),
            json!({
                "mode": if default.is_sandbox() { "sandbox" } else { "configured" },
                "default": default.id,
                "providers": list,
            }),
        );
    }
    let twilio = settings.twilio.configured();
    matrix.insert(
        "telephony".into(),
        json!({
            "mode": if twilio { "configured" } else { "sandbox" },
            "default": if twilio { "twilio" } else { "sandbox" },
            "providers": [
                { "id": "twilio", "status": if twilio { "configured" } else { "not_configured" }, "configKey": "providers.twilio.account_sid",
                  "byoc": "Organisations may bring their own Twilio account: PUT /telephony/credentials" },
                { "id": "sandbox", "status": "sandbox" },
            ],
        }),
    );
    let email_sandbox = state.email_is_sandbox();
    matrix.insert(
        "email".into(),
        json!({
            "mode": if email_sandbox { "sandbox" } else { "configured" },
            "default": if email_sandbox { "sandbox" } else { "resend" },
            "providers": [
                { "id": "resend", "status": if email_sandbox { "not_configured" } else { "configured" }, "configKey": "email.resend_api_key" },
                { "id": "sandbox", "status": "sandbox", "inspect": "GET /api/v1/public/_debug/sandbox/outbox?to=EMAIL (loopback only)" },
            ],
        }),
    );
    matrix.insert(
        "payment".into(),
        json!({
            "mode": "sandbox",
            "default": "sandbox",
            "providers": [
                { "id": "stripe", "status": "not_configured" },
                { "id": "sandbox", "status": "sandbox" },
            ],
            "note": "Billing endpoints are not served yet (features.billing)",
        }),
    );
    Value::Object(matrix)
}

fn pipeline_modes(state: &AppState) -> Value {
    let settings = &state.settings.providers;
    let s2s = catalog::default_for(Kind::S2s, settings);
    let llm = catalog::default_for(Kind::Llm, settings);
    let stt = catalog::default_for(Kind::Stt, settings);
    let tts = catalog::default_for(Kind::Tts, settings);
    json!({
        "default": "s2s",
        "modes": {
            "s2s": {
                "description": "One speech-to-speech model hears and speaks (g711 μ-law over the media stream)",
                "defaults": {
                    "s2sProvider": s2s.id,
                    "s2sModel": s2s.default_model(Kind::S2s),
                    "s2sConfig": { "noiseReduction": "near_field" },
                },
                "noiseReduction": { "default": "near_field", "values": ["near_field", "far_field", null] },
                "fields": ["s2sProvider", "s2sModel", "s2sVoice", "s2sConfig", "s2sTurnDetection", "interruptionSettings"],
            },
            "traditional": {
                "description": "Speech-to-text, then an LLM, then text-to-speech, each chosen separately",
                "defaults": {
                    "sttProvider": stt.id,
                    "llmProvider": llm.id,
                    "llmModel": llm.default_model(Kind::Llm),
                    "ttsProvider": tts.id,
                },
                "fields": ["sttConfig", "llmConfig", "voiceConfig", "interruptionSettings"],
            },
        },
    })
}

fn limits(state: &AppState) -> Value {
    let s = &state.settings;
    let (max, window) = state.limiter.provisioning();
    let plans: serde_json::Map<String, Value> = state
        .limiter
        .plans()
        .iter()
        .map(|(name, p)| {
            (
                name.clone(),
                json!({ "requestsPerSecond": p.requests_per_second, "burst": p.burst }),
            )
        })
        .collect();
    json!({
        "rateLimits": {
            "backend": state.limiter.backend(),
            "provisioning": { "maxRequests": max, "windowSeconds": window, "scope": "client IP, strict sliding window" },
            "plans": plans,
            "headers": ["RateLimit", "RateLimit-Policy", "Retry-After (on 429)"],
        },
        "bodies": { "maxRequestBytes": s.server.max_body_bytes },
        "timeouts": {
            "providerRequestMs": s.providers.timeout_ms,
            "emailRequestMs": s.email.timeout_ms,
            "toolWebhookSeconds": { "min": 1, "max": 30 },
        },
        "idempotency": {
            "header": "Idempotency-Key",
            "ttlSeconds": s.idempotency.ttl_secs,
            "inFlightLockSeconds": s.idempotency.lock_ttl_secs,
            "scope": "organisation (or client IP when unauthenticated) + method + route",
        },
        "pagination": { "defaultPageSize": PAGE_SIZE_DEFAULT, "maxPageSize": PAGE_SIZE_MAX },
        "retries": {
            "telephonyProvider": { "maxRetries": s.providers.twilio.max_retries, "appliesTo": "GET and DELETE to Twilio" },
            "clientRecommended": {
                "retryOn": [429, 500, 502, 503, 504, "network error"],
                "backoffSeconds": [1, 2, 4, 8],
                "maxAttempts": 5,
                "honourRetryAfter": true,
                "reuseIdempotencyKey": true,
            },
        },
    })
}

fn metadata_compatibility() -> Value {
    json!({
        "description": "Field names each resource accepts for the same value; writes may use any alias, reads carry the canonical name (and the aliases listed under alsoReturned)",
        "resources": {
            "webhooks": [
                { "field": "isActive", "aliases": ["enabled"], "alsoReturned": ["enabled"] },
            ],
            "calls": [
                { "field": "id", "aliases": ["callId"], "alsoReturned": ["callId"] },
            ],
            "agentTelephony": [
                { "field": "phoneNumberId", "aliases": ["phoneNumber"], "note": "give the id (TEL-...) or the E.164 number" },
            ],
            "agentQuickstart": [
                { "field": "voice", "mapsTo": "s2sVoice" },
                { "field": "model", "mapsTo": "s2sModel" },
            ],
            "agents": [
                { "field": "s2sConfig.noiseReduction", "values": ["near_field", "far_field", null], "default": "near_field" },
            ],
            "pagination": [
                { "field": "pageSize", "aliases": ["limit"], "note": "limit/offset only on webhook deliveries" },
            ],
        },
    })
}

fn autonomous_mode() -> Value {
    json!({
        "strictContracts": {
            "enabled": true,
            "unknownFields": "rejected with VALIDATION_ERROR and a suggestion for near misses",
            "schemas": ["/api/v1/public/_debug/schemas", "/openapi.json", "MCP tools/list inputSchema"],
        },
        "mandatoryPreflight": {
            "enabled": true,
            "before": ["assigning a phone number", "placing a call"],
            "operations": ["preflight_agent", "simulate_agent", "preview_agent"],
        },
        "deterministicRetries": {
            "enabled": true,
            "idempotencyKey": "required on every mutating request made by an autonomous agent; reuse it on retry",
            "replayHeader": "X-Idempotent-Replayed",
            "retryOn": [429, 500, 502, 503, 504],
            "backoffSeconds": [1, 2, 4, 8],
        },
        "bootstrap": "/api/v1/public/profile",
        "tracing": ["X-Request-Id", "X-Trace-Id", "X-Parent-Id"],
    })
}

fn roadmap() -> Value {
    let served: BTreeSet<&str> = routes::table().iter().map(|s| s.domain).collect();
    let planned: Vec<Value> = CONTRACT_META["domains"]
        .as_object()
        .map(|d| {
            d.iter()
                .filter(|(name, _)| !served.contains(name.as_str()))
                .map(|(name, d)| json!({ "feature": name, "description": d["description"], "status": "planned" }))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "apiVersion": envelope::API_VERSION,
        "planned": planned,
        "deprecations": [],
        "policy": "Deprecations are announced here and in the changelog at least 90 days before removal; removed fields keep answering VALIDATION_ERROR naming the replacement",
    })
}

pub fn capabilities_value(state: &AppState) -> Value {
    json!({
        "version": envelope::API_VERSION,
        "sandbox": state.email_is_sandbox() || !state.settings.providers.twilio.configured(),
        "endpoints": endpoints(),
        "scopes": scopes(),
        "providers": providers(state),
        "pipelineModes": pipeline_modes(state),
        "features": features(),
        "limits": limits(state),
        "metadataCompatibility": metadata_compatibility(),
        "autonomousMode": autonomous_mode(),
        "roadmap": roadmap(),
    })
}

pub async fn capabilities(state: web::Data<AppState>) -> HttpResponse {
    envelope::ok(&capabilities_value(&state))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/capabilities",
            "discovery",
            "get_capabilities",
            "Machine-readable capability discovery: endpoint availability, provider matrix, pipeline modes, feature status, required scopes, and operational limits",
            |r| r.to(capabilities),
        )
        .public(),
    ]
}
