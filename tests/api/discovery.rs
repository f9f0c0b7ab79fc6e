//! The self-describing surface: the self-description against the contract, OpenAPI 3.1
//! (validated against the official schema), capabilities, guides, llms.txt, manifests,
//! debug schemas and metrics.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Value, json};
use thruai::http::{
    core::routes,
    meta::{
        capabilities::{CapabilitiesOut, policies::RetryOn},
        docs::{GuideOut, GuidesOut, QuickstartGuideOut},
        llms::{AgentsManifest, AiPluginManifest},
    },
};

use crate::helpers::{Reply, TestApp, spawn_app};

async fn root(app: &TestApp, path: &str) -> Reply {
    app.send(app.client.get(format!("{}{path}", app.address))).await
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bytes).to_string()
}

/// The contract, vendored in the repository (`docs/contract/`): a fresh clone needs nothing
/// beside it.
fn contract() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/contract/thruai-public-api-v1.13.0.json");
    let raw = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the contract {} must be readable: {e}", path.display()));
    serde_json::from_str::<Value>(&raw).unwrap()["data"].clone()
}

fn endpoints(doc: &Value) -> BTreeSet<(String, String)> {
    doc["domains"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|d| d["endpoints"].as_array().unwrap().iter())
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_self_description_matches_the_contract_shape_and_lists_only_contract_routes_or_extensions() {
    let app = spawn_app().await;
    let contract = contract();

    let r = app.send(app.client.get(app.url("/"))).await;
    let ours = r.data();

    for key in contract.as_object().unwrap().keys() {
        assert!(ours.get(key).is_some(), "self-description lacks '{key}'");
    }
    assert_eq!(ours["documentation"], contract["documentation"]);
    assert_eq!(ours["basePath"], contract["basePath"]);
    assert_eq!(ours["changelog"], contract["changelog"]);
    let wanted = endpoints(&contract);
    let served = endpoints(ours);
    let missing: Vec<_> = wanted.difference(&served).map(|(m, p)| format!("{m} {p}")).collect();
    println!(
        "contract endpoints not served yet ({}):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
    let mut problems = Vec::new();
    for d in ours["domains"].as_object().unwrap().values() {
        for e in d["endpoints"].as_array().unwrap() {
            let key = (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            );
            let in_contract = wanted.contains(&key) && e["root"].is_null();
            let extension = e["extension"] == true;
            if in_contract == extension {
                problems.push(format!(
                    "{} {}: in contract {in_contract}, marked extension {extension}",
                    key.0, key.1
                ));
            }
            assert!(e["description"].as_str().is_some_and(|s| !s.is_empty()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    for code in contract["errorCodes"].as_object().unwrap().keys() {
        assert_eq!(
            ours["errorCodes"][code]["status"], contract["errorCodes"][code]["status"],
            "{code}"
        );
    }
}

#[actix_web::test]
async fn the_openapi_document_is_valid_openapi_3_1_and_covers_every_route() {
    let app = spawn_app().await;
    let r = root(&app, "/openapi.json").await;
    let doc = &r.body;

    let meta: Value = serde_json::from_str(include_str!("../fixtures/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::validator_for(&meta).unwrap();
    // The validator does reject what is not OpenAPI 3.1.
    assert!(!validator.is_valid(&json!({ "openapi": "3.1.0", "paths": {} })));
    assert!(!validator.is_valid(&json!({ "openapi": "3.1.0", "info": { "title": "x", "version": "1" }, "paths": { "/a": { "get": { "responses": { "200": {} } } } } })));
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "OpenAPI document invalid:\n{}", errors.join("\n"));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer");

    // Every $ref resolves, no schemars `$defs` is left behind, operation ids are unique.
    assert!(!doc.to_string().contains("#/$defs/"), "a $defs ref was not rewritten");
    let mut refs = Vec::new();
    collect_refs(doc, &mut refs);
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected ref {r}"));
        assert!(doc["components"]["schemas"][name].is_object(), "dangling {r}");
    }
    let mut ids = HashSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
            assert!(op["responses"]["500"].is_object());
        }
    }
    assert_eq!(ids.len(), routes::table().len());

    // Examples satisfy their request schemas; responses carry the envelope.
    for spec in routes::table() {
        if let (Some(schema), Some(example)) = (spec.request, spec.example) {
            let v = jsonschema::validator_for(&schema()).unwrap();
            assert!(
                v.is_valid(&example()),
                "{}: example does not match its schema",
                spec.operation
            );
        }
    }
    let get = &doc["paths"]["/api/v1/public/agents/{id}"]["get"];
    let ok = &get["responses"]["200"]["content"]["application/json"]["schema"];
    assert_eq!(
        ok["properties"]["data"]["$ref"],
        "#/components/schemas/GetAgentResponse"
    );
    assert!(ok["properties"]["meta"].is_object());
    assert_eq!(
        get["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorEnvelope"
    );
    let create = &doc["paths"]["/api/v1/public/agents"]["post"];
    assert!(create["requestBody"]["content"]["application/json"]["example"]["name"].is_string());
    assert_eq!(create["security"], json!([{ "bearerAuth": [] }]));

    let page = root(&app, "/reference").await;
    assert_eq!(page.status, 200);
    let html = text(&page);
    assert!(html.contains("/openapi.json") && !html.contains("https://") && !html.contains("<script src"));
}

/// Every operation in `/openapi.json` says what a success answers: a 2xx response whose
/// schema (for the envelope: of `data`) is not empty once its `$ref` is followed.
#[actix_web::test]
async fn every_operation_in_the_openapi_document_declares_a_success_schema() {
    let app = spawn_app().await;
    let doc = root(&app, "/openapi.json").await.body;

    let resolve = |schema: &Value| -> Value {
        match schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            Some(name) => doc["components"]["schemas"][name].clone(),
            None => schema.clone(),
        }
    };
    let says_something = |schema: &Value| {
        [
            "type",
            "properties",
            "$ref",
            "anyOf",
            "oneOf",
            "allOf",
            "items",
            "const",
            "enum",
        ]
        .iter()
        .any(|k| schema.get(k).is_some())
    };
    let mut problems = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let name = format!("{} {path} ({})", method.to_uppercase(), op["operationId"]);
            let success: Vec<(&String, &Value)> = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(status, _)| status.starts_with('2'))
                .collect();
            let [(_, response)] = success.as_slice() else {
                problems.push(format!("{name}: {} success responses", success.len()));
                continue;
            };
            let Some((media, content)) = response["content"].as_object().and_then(|c| c.iter().next()) else {
                problems.push(format!("{name}: success without content"));
                continue;
            };
            let body = resolve(&content["schema"]);
            let schema = if media == "application/json" && body["properties"]["data"].is_object() {
                resolve(&body["properties"]["data"])
            } else {
                body
            };
            if !schema.is_object() || !says_something(&schema) {
                problems.push(format!("{name}: empty success schema ({media}): {schema}"));
            }
        }
    }

    assert_eq!(operations, routes::table().len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[actix_web::test]
async fn debug_schemas_are_the_openapi_schemas_keyed_by_operation() {
    let app = spawn_app().await;
    let schemas = app.get("/_debug/schemas").await;
    let doc = root(&app, "/openapi.json").await.body;

    for spec in routes::table() {
        let ours = &schemas.data()["schemas"][spec.operation];
        assert_eq!(ours["method"], spec.method.as_str(), "{}", spec.operation);
        let op =
            &doc["paths"][thruai::http::meta::openapi::openapi_path(spec)][spec.method.as_str().to_ascii_lowercase()];
        if spec.request.is_some() {
            let r = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap();
            let component = &doc["components"]["schemas"][r.rsplit('/').next().unwrap()];
            assert_eq!(
                component["properties"]
                    .as_object()
                    .map(|o| o.keys().collect::<Vec<_>>()),
                ours["request"]["properties"]
                    .as_object()
                    .map(|o| o.keys().collect::<Vec<_>>()),
                "{}",
                spec.operation
            );
            assert_eq!(component["required"], ours["request"]["required"], "{}", spec.operation);
        }
        if spec.response.is_some() {
            assert!(ours["response"].is_object(), "{}", spec.operation);
        }
    }
}

#[actix_web::test]
async fn capabilities_describe_providers_modes_limits_scopes_and_roadmap_without_a_key() {
    let app = spawn_app().await;
    let r = app.send(app.client.get(app.url("/capabilities"))).await;
    r.assert_envelope();
    let c: CapabilitiesOut = serde_json::from_value(r.data().clone()).unwrap();

    assert_eq!(r.status, 200);
    assert_eq!(
        c.pipeline_modes.modes.s2s.defaults.s2s_config.noise_reduction,
        "near_field"
    );
    assert_eq!(c.pipeline_modes.modes.s2s.noise_reduction.values.last(), Some(&None));
    for kind in ["llm", "stt", "tts", "s2s", "telephony", "payment", "email"] {
        assert!(c.providers.contains_key(kind), "{kind}");
    }
    assert_eq!(c.providers["email"].mode, "sandbox");
    assert_eq!(c.providers["telephony"].mode, "sandbox");
    let sandbox_llm = c.providers["llm"].providers.iter().find(|p| p.id == "sandbox").unwrap();
    assert_eq!(
        sandbox_llm.config_key,
        Some(None),
        "the sandbox needs nothing configured"
    );
    assert_eq!(c.endpoints.len(), routes::table().len());
    let get_agent = c.endpoints.iter().find(|e| e.operation == "get_agent").unwrap();
    assert_eq!(get_agent.required_scope.as_deref(), Some("agents:read"));
    assert!(c.scopes["agents:write"].iter().any(|op| op == "create_agent"));
    assert_eq!(c.limits.idempotency.ttl_seconds, 86400);
    assert!(c.limits.bodies.max_request_bytes > 0);
    assert!(c.limits.rate_limits.plans.contains_key("free"));
    assert_eq!(
        c.limits.retries.client_recommended.retry_on.last(),
        Some(&RetryOn::Condition("network error".into()))
    );
    let webhooks = &c.metadata_compatibility.resources["webhooks"][0];
    assert_eq!(webhooks.field, "isActive");
    assert_eq!(webhooks.aliases.as_deref(), Some(&["enabled".to_string()][..]));
    assert!(c.autonomous_mode.mandatory_preflight.enabled);
    assert!(c.autonomous_mode.deterministic_retries.enabled);
    assert_eq!(c.features["agents"].status, "available");
    assert_eq!(c.features["workflows"].status, "available");
    assert!(!c.roadmap.planned.iter().any(|p| p.feature == "workflows"));
    assert!(c.roadmap.deprecations.is_empty());
}

#[actix_web::test]
async fn guides_are_served_as_json_and_markdown() {
    let app = spawn_app().await;

    let list = app.send(app.client.get(app.url("/docs"))).await;
    let json_guide = app.send(app.client.get(app.url("/docs/getting-started"))).await;
    let markdown = app
        .send(
            app.client
                .get(app.url("/docs/agent-design"))
                .header("accept", "text/markdown"),
        )
        .await;
    let missing = app.send(app.client.get(app.url("/docs/ZZZ-0000doesnotexist"))).await;
    let quickstart = app.send(app.client.get(app.url("/quickstart"))).await;

    let list: GuidesOut = serde_json::from_value(list.data().clone()).unwrap();
    let slugs: Vec<&str> = list.guides.iter().map(|g| g.slug.as_str()).collect();
    assert_eq!(
        slugs,
        [
            "getting-started",
            "agent-design",
            "workflows",
            "ai-agent-integration",
            "migration"
        ]
    );
    json_guide.assert_envelope();
    let guide: GuideOut = serde_json::from_value(json_guide.data().clone()).unwrap();
    assert!(guide.content.starts_with("# Getting started"));
    assert_eq!(guide.summary, list.guides[0]);
    assert_eq!(guide.format, "markdown");
    assert_eq!(markdown.header("content-type"), Some("text/markdown; charset=utf-8"));
    assert!(text(&markdown).starts_with("# Agent design"));
    assert_eq!(missing.status, 404);
    assert!(
        missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ZZZ-0000doesnotexist")
    );
    let quickstart: QuickstartGuideOut = serde_json::from_value(quickstart.data().clone()).unwrap();
    assert_eq!(quickstart.steps[0].path, "/api/v1/public/accounts/provision");
    assert!(quickstart.steps[2].body.is_none(), "a GET sends no body");
}

#[actix_web::test]
async fn llms_txt_manifests_and_full_reference_come_from_the_route_table() {
    let app = spawn_app().await;

    let index = root(&app, "/llms.txt").await;
    let full = root(&app, "/llms-full.txt").await;
    let plugin = root(&app, "/.well-known/ai-plugin.json").await;
    let agents = root(&app, "/agents.json").await;

    let index = text(&index);
    let full = text(&full);
    assert!(index.starts_with("# ThruAI\n\n> "));
    assert!(index.contains("## Docs") && index.contains("/openapi.json"));
    for spec in routes::table() {
        assert!(index.contains(&format!("({})", spec.operation)), "{}", spec.operation);
        assert!(
            full.contains(&format!("## {} {}", spec.method, spec.full_path())),
            "{}",
            spec.operation
        );
    }
    assert!(full.contains("# Agent design") && full.contains("VALIDATION_ERROR"));
    let plugin: AiPluginManifest = serde_json::from_value(plugin.body).unwrap();
    let agents: AgentsManifest = serde_json::from_value(agents.body).unwrap();
    assert_eq!(plugin.api.kind, "openapi");
    assert!(plugin.api.url.ends_with("/openapi.json"));
    assert!(agents.mcp.streamable_http.url.ends_with("/mcp"));
    assert_eq!(agents.mcp.stdio.args, ["mcp"]);
    assert_eq!(agents.operations.len(), routes::table().len());
}

#[actix_web::test]
async fn metrics_count_requests_by_route_pattern_and_limit_decisions() {
    let app = spawn_app().await;
    app.get("/agents/AGT-metrics-1").await;
    app.get("/agents/AGT-metrics-2").await;

    let r = root(&app, "/metrics").await;
    let body = text(&r);

    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        body.contains("route=\"/api/v1/public/agents/{id}\",status=\"4xx\""),
        "{body}"
    );
    assert!(!body.contains("AGT-metrics-1"));
    assert!(body.contains(
        "thruai_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/public/agents/{id}\",le=\"+Inf\"}"
    ));
    assert!(body.contains("thruai_rate_limit_decisions_total{policy=\"plan:free\",decision=\"allowed\"}"));
    assert!(body.contains("# TYPE thruai_live_calls gauge"));
    assert!(body.contains("thruai_webhook_queue_depth 0"));
    assert!(body.contains("thruai_http_requests_in_flight"));
}

/// Files under `dir` (recursively), skipping build output and VCS folders.
fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if !matches!(name.to_str(), Some("target" | ".git" | "data")) {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

#[test]
fn no_file_of_the_repository_refers_to_a_sibling_checkout() {
    // A fresh clone has nothing beside it: code, tests, scripts, config and docs must not
    // reach outside the repository. The needles are built here so this file does not match.
    let needles = [format!("{}/shared", ".."), format!("/work/{}", "shared")];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for top in [
        "README.md",
        "BENCHMARKS.md",
        "Cargo.toml",
        "docs",
        "src",
        "tests",
        "config",
        ".ci",
        "actors",
        "entities",
        "migration",
    ] {
        let path = root.join(top);
        if path.is_dir() {
            files_under(&path, &mut files);
        } else if path.is_file() {
            files.push(path);
        }
    }
    assert!(files.len() > 50, "the walk found only {} files", files.len());
    let offenders: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let text = std::fs::read(path).ok()?;
            let text = String::from_utf8_lossy(&text);
            needles
                .iter()
                .any(|needle| text.contains(needle.as_str()))
                .then(|| path.strip_prefix(root).unwrap_or(path).display().to_string())
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "files referring outside the repository: {offenders:?}"
    );
}

/// What a newcomer and a probe reach first: the manifest's logo is an image, `/health`
/// answers at the root too, and `/profile` counts every resource and points at the next
/// step on the way to a completed call and its transcript.
#[actix_web::test]
async fn the_first_ten_minutes_lead_to_a_call_and_its_transcript() {
    let app = crate::helpers::spawn_app().await;
    let plugin: Value = app
        .client
        .get(format!("{}/.well-known/ai-plugin.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logo = app
        .client
        .get(plugin["logo_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(logo.text().await.unwrap().starts_with("<svg"));
    let health = app.client.get(format!("{}/health", app.address)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let step = |p: &Value| p["quickStart"][0]["path"].as_str().unwrap_or_default().to_string();
    let fresh = app.get("/profile").await;
    assert_eq!(fresh.data()["resources"]["agents"], 0);
    assert!(step(fresh.data()).ends_with("/agents/quickstart"), "{}", fresh.data());
    let q = app.post("/agents/quickstart", &json!({ "name": "Front desk" })).await;
    assert_eq!(q.status, 201, "{:?}", q.body);
    let with_agent = app.get("/profile").await;
    assert_eq!(with_agent.data()["resources"]["agents"], 1);
    assert_eq!(with_agent.data()["resources"]["phoneNumbers"], 1);
    assert!(
        step(with_agent.data()).ends_with("/calls/outbound"),
        "{}",
        with_agent.data()
    );
    let body = with_agent.data()["quickStart"][0]["body"].clone();
    let call = app.post("/calls/outbound", &body).await;
    assert_eq!(call.status, 201, "{:?}", call.body);
    let after = app.get("/profile").await;
    assert_eq!(after.data()["resources"]["calls"], 1);
    assert!(step(after.data()).ends_with("/transcript"), "{}", after.data());

    let guide = app.send(app.client.get(app.url("/quickstart"))).await;
    let paths: Vec<&str> = guide.data()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["path"].as_str())
        .collect();
    assert!(
        paths.ends_with(&[
            "/api/v1/public/calls/outbound",
            "/api/v1/public/calls/:id",
            "/api/v1/public/calls/:id/transcript"
        ]),
        "{paths:?}"
    );
    let agents_json: Value = app
        .client
        .get(format!("{}/agents.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first_flow = agents_json["flows"][0]["steps"].as_array().unwrap();
    assert_eq!(first_flow.last().unwrap(), "get_call_transcript");
    let getting_started = app.send(app.client.get(app.url("/docs/getting-started"))).await;
    assert!(
        getting_started.data()["content"]
            .as_str()
            .unwrap()
            .contains("/transcript")
    );
}
