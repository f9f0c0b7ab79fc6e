//! Walks the route table: every route is served and enveloped, authenticated routes refuse
//! a missing key, every mutating route honours `Idempotency-Key` (replay, mismatch), every
//! route answers what it declares, and no `:id` route reaches another organisation's resource.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};
use thruai::http::core::{
    route_spec::{Produces, RouteSpec},
    routes,
};

use crate::{
    a2p::{campaign_body, wait_for},
    fake_twilio::FakeTwilio,
    helpers::{Reply, TestApp, spawn_app, spawn_with, unique},
};

/// Fills each `:param` with the id created by the POST to the path before it.
fn concrete(path: &str, ids: &HashMap<String, String>) -> Option<String> {
    let segs: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        if seg.starts_with(':') {
            out.push(ids.get(&segs[..i].join("/"))?.clone());
        } else {
            out.push((*seg).to_string());
        }
    }
    Some(out.join("/"))
}

/// Where the id for a path prefix comes from, when it is not the POST to that prefix.
const ID_SOURCES: &[(&str, &str)] = &[
    ("/telephony/numbers", "/telephony/numbers/provision"),
    ("/calls", "/calls/outbound"),
    ("/_debug/campaigns", "/campaigns"),
    ("/emails", "/emails/send"),
    ("/analytics/agents", "/agents"),
    ("/knowledge/crawls", "/knowledge/crawl"),
    ("/workflows/:id/executions", "/workflows/:id/trigger"),
];

/// The name of the email domain the walk added, published and verified (so mailboxes and
/// sends succeed).
async fn verified_domain(app: &TestApp, ids: &HashMap<String, String>) -> String {
    let name = ids.get("/_debug/sandbox/email-domains").cloned().unwrap_or_default();
    let id = ids.get("/email-domains").cloned().unwrap_or_default();
    app.send(
        app.client
            .post(app.url(&format!("/_debug/sandbox/email-domains/{name}/publish"))),
    )
    .await;
    app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    name
}

/// The body a route is walked with: its example, with fresh unique values or fixture ids
/// where needed.
async fn body_for(app: &TestApp, spec: &RouteSpec, ids: &HashMap<String, String>) -> Value {
    match spec.path {
        "/compliance/a2p/campaigns" => {
            let brand = ids.get("/compliance/a2p/brands").cloned().unwrap_or_default();
            wait_for(app, &format!("/compliance/a2p/brands/{brand}"), "approved").await;
            campaign_body(&brand)
        }
        "/compliance/a2p/campaigns/:id/phone-numbers" => {
            json!({ "phoneNumberId": ids.get("/telephony/numbers") })
        }
        "/sms" | "/sms/messages" | "/sms/send" => {
            // A US long code sends once linked to an approved campaign.
            let campaign = ids.get("/compliance/a2p/campaigns").cloned().unwrap_or_default();
            wait_for(app, &format!("/compliance/a2p/campaigns/{campaign}"), "approved").await;
            let number = ids.get("/telephony/numbers").cloned().unwrap_or_default();
            app.post(
                &format!("/compliance/a2p/campaigns/{campaign}/phone-numbers"),
                &json!({ "phoneNumberId": number }),
            )
            .await;
            let mut body = (spec.example.unwrap())();
            body.as_object_mut().unwrap().remove("from");
            body["phoneNumberId"] = json!(number);
            body
        }
        "/agents/:id/telephony" => json!({ "phoneNumberId": ids.get("/telephony/numbers") }),
        "/calls/outbound" => json!({ "agentId": ids.get("/agents"), "to": "+14155550100" }),
        "/campaigns" => {
            let mut body = (spec.example.unwrap())();
            body["agentId"] = json!(ids.get("/agents"));
            body
        }
        "/tools" => {
            let mut body = (spec.example.unwrap())();
            body["url"] = json!(format!("{}/tool", app.address));
            body
        }
        "/email-domains" => json!({ "domain": format!("{}.example.com", unique("walk")) }),
        "/knowledge/crawl" => json!({ "url": format!("{}/walk/", app.address), "maxPages": 2 }),
        "/emails/send" => {
            let name = verified_domain(app, ids).await;
            json!({ "from": format!("walk@{name}"), "to": "someone@example.org", "subject": "Walk", "text": "Hello" })
        }
        "/agents/:id/email" => {
            let name = verified_domain(app, ids).await;
            json!({ "address": format!("agent@{name}") })
        }
        "/billing/charge" => {
            // A saved card to charge: a setup Checkout completed on the sandbox's page.
            let session = app.post("/billing/checkout", &json!({ "mode": "setup" })).await;
            let url = session.data()["url"].as_str().unwrap_or_default().to_string();
            app.post_form(&url, &[("card", "4242424242424242")]).await;
            (spec.example.unwrap())()
        }
        "/accounts/provision" => {
            json!({ "email": format!("{}@example.com", unique("walk")), "orgName": unique("Walk ") })
        }
        "/accounts/verify" => {
            let email = format!("{}@example.com", unique("walkv"));
            app.provision(&email, &unique("Walk V ")).await;
            json!({ "email": email, "code": app.code_for(&email).await })
        }
        _ => spec.example.map_or_else(|| json!({}), |f| f()),
    }
}

/// The route's method as the HTTP client spells it.
fn m(spec: &RouteSpec) -> Method {
    Method::from_bytes(spec.method.as_str().as_bytes()).unwrap()
}

fn mutating_in_walk_order() -> Vec<&'static RouteSpec> {
    let mut specs: Vec<_> = routes::table().iter().filter(|s| s.idempotent()).collect();
    // Creates first (they provide the ids), deletes last.
    // Nested deletes before the resources they hang off.
    specs.sort_by_key(|s| {
        let params = s.path.matches(':').count() as i64;
        let depth = s.path.matches('/').count() as i64;
        (
            s.method == "DELETE",
            if s.method == "DELETE" { -params } else { params },
            if s.method == "DELETE" { -depth } else { 0 },
        )
    });
    specs
}

/// An app whose every route can succeed: a fake Twilio with an account (for BYOC), an owned
/// number (for import) and instant A2P approval, tool URLs on loopback allowed.
async fn walkable_app() -> (TestApp, FakeTwilio) {
    let twilio = FakeTwilio::start().await;
    twilio.add_account("AC0123456789abcdef0123456789abcdef", "your_auth_token", "active");
    twilio.add_owned_number("AC0123456789abcdef0123456789abcdef", "+14155550123", None);
    // A2P registrations at the fake Twilio are approved at once.
    twilio.a2p_review(0, None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.api_base = base.clone();
        s.providers.twilio.messaging_base = base.clone();
        s.providers.twilio.trusthub_base = base;
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
    })
    .await;
    (app, twilio)
}

/// Records the id a successful answer carries for the paths that take it.
fn remember_ids(spec: &RouteSpec, data: &Value, ids: &mut HashMap<String, String>) {
    // A minted API key answers with the key beside its secret.
    if let Some(id) = data["id"].as_str().or_else(|| data["key"]["id"].as_str()) {
        ids.entry(spec.path.to_string()).or_insert_with(|| id.to_string());
        for (prefix, source) in ID_SOURCES {
            if *source == spec.path {
                ids.entry((*prefix).to_string()).or_insert_with(|| id.to_string());
            }
        }
    }
    if let Some(id) = data["conversationId"].as_str() {
        ids.entry("/sms/conversations".into()).or_insert_with(|| id.to_string());
    }
    if let Some(id) = data["threadId"].as_str() {
        ids.entry("/email-threads".into()).or_insert_with(|| id.to_string());
    }
    if spec.path == "/billing/invoices"
        && let Some(id) = data["invoices"][0]["id"].as_str()
    {
        ids.entry(spec.path.into()).or_insert_with(|| id.to_string());
    }
    if spec.path == "/email-domains"
        && let Some(name) = data["name"].as_str()
    {
        ids.entry("/_debug/sandbox/email-domains".into())
            .or_insert_with(|| name.to_string());
    }
}

#[actix_web::test]
async fn every_mutating_route_replays_with_the_same_key_and_refuses_a_different_body() {
    let (app, _twilio) = walkable_app().await;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut problems = Vec::new();

    for spec in mutating_in_walk_order() {
        let Some(path) = concrete(spec.path, &ids) else {
            problems.push(format!(
                "{} {}: no fixture id for its path parameters",
                spec.method, spec.path
            ));
            continue;
        };
        let body = body_for(&app, spec, &ids).await;
        let key = unique("walk-");
        let send = |body: &Value| {
            let rb = if spec.auth {
                app.req(m(spec), &path)
            } else {
                app.client.request(m(spec), app.url(&path))
            };
            rb.header("Idempotency-Key", &key).json(body)
        };
        let first = app.send(send(&body)).await;
        if !first.status.is_success() {
            problems.push(format!(
                "{} {}: example did not succeed ({}: {})",
                spec.method, spec.path, first.status, first.body["error"]
            ));
            continue;
        }
        remember_ids(spec, first.data(), &mut ids);
        let replay = app.send(send(&body)).await;
        let mut other = body.clone();
        other["__different"] = json!(true);
        let mismatch = app.send(send(&other)).await;

        if replay.status != first.status
            || replay.bytes != first.bytes
            || replay.header("x-idempotent-replayed") != Some("true")
        {
            problems.push(format!("{} {}: not replayed byte for byte", spec.method, spec.path));
        }
        if mismatch.code() != "RESOURCE_CONFLICT" {
            problems.push(format!(
                "{} {}: a different body with the same key was not refused ({})",
                spec.method, spec.path, mismatch.status
            ));
        }
    }

    assert!(
        problems.is_empty(),
        "routes not honouring Idempotency-Key:\n{}",
        problems.join("\n")
    );
}

#[actix_web::test]
async fn every_route_is_served_enveloped_and_guarded() {
    let app = spawn_app().await;
    let mut problems = Vec::new();

    for spec in routes::table() {
        let path = spec
            .path
            .split('/')
            .map(|s| if s.starts_with(':') { "ZZZ-0000doesnotexist" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let body = if spec.method == "GET" { None } else { Some(json!({})) };
        let url = if spec.root {
            format!("{}{path}", app.address)
        } else {
            app.url(&path)
        };
        let anonymous = {
            let rb = app.client.request(m(spec), &url);
            app.send(if let Some(b) = &body { rb.json(b) } else { rb }).await
        };
        let keyed = {
            let rb = app.client.request(m(spec), &url).bearer_auth(&app.api_key);
            app.send(if let Some(b) = &body { rb.json(b) } else { rb }).await
        };
        let enveloped = spec.produces == Produces::Envelope;
        if spec.auth && anonymous.code() != "API_KEY_MISSING" {
            problems.push(format!(
                "{} {}: served without a key ({})",
                spec.method, spec.path, anonymous.status
            ));
        }
        if (enveloped && !keyed.body["success"].is_boolean())
            || keyed.status.is_server_error()
            || keyed.header("x-request-id").is_none()
        {
            problems.push(format!(
                "{} {}: {} {}",
                spec.method,
                spec.path,
                keyed.status,
                String::from_utf8_lossy(&keyed.bytes)
            ));
        }
        if keyed.status == 404
            && !keyed.body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("ZZZ-0000doesnotexist")
        {
            problems.push(format!("{} {}: 404 does not name the id", spec.method, spec.path));
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[actix_web::test]
async fn the_self_description_lists_exactly_the_served_routes() {
    let app = spawn_app().await;

    let r = app.send(app.client.get(app.url("/"))).await;
    let no_slash = app.send(app.client.get(format!("{}/api/v1/public", app.address))).await;

    let mut listed: Vec<(String, String)> = r.data()["domains"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|d| {
            d["endpoints"].as_array().unwrap().iter().map(|e| {
                (
                    e["method"].as_str().unwrap().to_string(),
                    e["path"].as_str().unwrap().to_string(),
                )
            })
        })
        .collect();
    let mut served: Vec<(String, String)> = routes::table()
        .iter()
        .map(|s| (s.method.to_string(), s.path.to_string()))
        .collect();
    listed.sort();
    served.sort();
    assert_eq!(listed, served);
    assert_eq!(r.data()["version"], "1.13.0");
    assert_eq!(r.data()["errorCodes"]["INVALID_API_KEY_FORMAT"]["status"], 401);
    assert_eq!(no_slash.status, 200);
}

#[actix_web::test]
async fn debug_schemas_and_version_describe_the_server() {
    let app = spawn_app().await;

    let schemas = app.get("/_debug/schemas").await;
    let version = app.get("/_debug/version").await;

    let create = &schemas.data()["schemas"]["submit_feedback"];
    assert_eq!(create["path"], "/feedback");
    assert!(create["request"]["properties"]["message"].is_object());
    assert_eq!(version.data()["apiVersion"], "1.13.0");
}

/// Every served route appears in the self-description, in `/openapi.json` and (but the MCP
/// endpoint itself) in the MCP tool list; a route missing from any one fails here.
#[actix_web::test]
async fn every_route_is_in_the_description_the_openapi_document_and_the_mcp_tools() {
    let app = spawn_app().await;
    let described = app.send(app.client.get(app.url("/"))).await;
    let openapi = app.send(app.client.get(format!("{}/openapi.json", app.address))).await;
    let tools = crate::mcp::rpc(&app, "tools/list", json!({})).await;

    let mut listed = std::collections::HashSet::new();
    for d in described.data()["domains"].as_object().unwrap().values() {
        for e in d["endpoints"].as_array().unwrap() {
            listed.insert((
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            ));
        }
    }
    let tool_names: std::collections::HashSet<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut problems = Vec::new();
    for spec in routes::table() {
        let name = format!("{} {}", spec.method, spec.full_path());
        if !listed.contains(&(spec.method.to_string(), spec.path.to_string())) {
            problems.push(format!("{name}: missing from GET /"));
        }
        let path = thruai::http::meta::openapi::openapi_path(spec);
        let op = &openapi.body["paths"][&path][spec.method.as_str().to_ascii_lowercase()];
        if op["operationId"] != spec.operation {
            problems.push(format!("{name}: missing from /openapi.json"));
        }
        // Every action is a tool; documents are resources, aliases are their operation's tool.
        if spec.domain != "mcp" && spec.is_tool() != tool_names.contains(spec.operation) {
            problems.push(format!("{name}: tool listed {} ({})", !spec.is_tool(), spec.operation));
        }
    }
    assert_eq!(
        tool_names.len(),
        routes::table()
            .iter()
            .filter(|s| s.domain != "mcp" && s.is_tool())
            .count()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `schema` with every object that lists its properties closed to others, so an answer
/// carrying a field its type does not declare fails too.
fn strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), json!(false));
            }
            map.values_mut().for_each(strict);
        }
        Value::Array(items) => items.iter_mut().for_each(strict),
        _ => {}
    }
}

/// What a route's declared schema describes: `data` in the envelope, else the body (a
/// string for text and HTML).
fn declared_part(spec: &RouteSpec, reply: &Reply) -> Value {
    match spec.produces {
        Produces::Envelope => reply.data().clone(),
        Produces::Raw(ct) if ct.starts_with("application/json") => reply.body.clone(),
        Produces::Raw(_) => Value::String(String::from_utf8_lossy(&reply.bytes).into_owned()),
    }
}

/// Every route is walked with real ids — creates and updates first, then every read, then
/// deletes — and each success is validated against the route's declared response schema
/// (made strict). A route that could not be walked to a success fails the test too.
/// Routes whose path parameter is not an organisation's resource.
const SHARED_PARAMS: &[&str] = &["/providers/", "/docs/"];

/// Every authenticated `:id` route, called with another organisation's key on the first
/// organisation's ids, answers 404 and changes nothing (the deletes that follow still find
/// every resource). What it returns instead, for each that does not.
async fn cross_organisation_walk(app: &TestApp, ids: &HashMap<String, String>) -> Vec<String> {
    let other = app.other_org().await;
    let mut leaks = Vec::new();
    let mut walked = 0;
    for spec in routes::table() {
        if !spec.auth || !spec.path.contains(':') || SHARED_PARAMS.iter().any(|p| spec.path.starts_with(p)) {
            continue;
        }
        let Some(path) = concrete(spec.path, ids) else { continue };
        let rb = other.req(m(spec), &path);
        let rb = match spec.method.as_str() {
            "GET" | "DELETE" => rb,
            _ => rb.json(&spec.example.map_or_else(|| json!({}), |f| f())),
        };
        let reply = other.send(rb).await;
        walked += 1;
        if reply.status != 404 {
            leaks.push(format!(
                "{} {} with another organisation's key: {} {}",
                spec.method,
                spec.path,
                reply.status,
                String::from_utf8_lossy(&reply.bytes)
            ));
        }
    }
    assert!(walked > 40, "walked {walked} :id routes");
    leaks
}

#[actix_web::test]
async fn every_route_answers_what_it_declares() {
    let (app, _twilio) = walkable_app().await;
    let mut ids: HashMap<String, String> = HashMap::from([
        ("/providers".to_string(), "sandbox".to_string()),
        ("/docs".to_string(), "getting-started".to_string()),
    ]);
    let (deletes, writes): (Vec<_>, Vec<_>) = mutating_in_walk_order().into_iter().partition(|s| s.method == "DELETE");
    let reads = routes::table().iter().filter(|s| !s.idempotent());
    let mut outbox_to = String::new();
    let mut problems = Vec::new();
    let mut validated = 0;
    let mut crossed = false;

    for spec in writes.into_iter().chain(reads).chain(deletes) {
        if spec.method == "DELETE" && !crossed {
            // Every resource exists now: another organisation reaches none of them.
            crossed = true;
            problems.extend(cross_organisation_walk(&app, &ids).await);
        }
        let Some(mut path) = concrete(spec.path, &ids) else {
            problems.push(format!(
                "{} {}: no fixture id for its path parameters",
                spec.method, spec.path
            ));
            continue;
        };
        if spec.path == "/_debug/sandbox/outbox" {
            path = format!("{path}?to={outbox_to}");
        }
        let body = match spec.path {
            "/mcp" => Some(json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" })),
            _ if spec.method == "GET" || spec.method == "DELETE" => None,
            _ => Some(body_for(&app, spec, &ids).await),
        };
        let url = if spec.root {
            format!("{}{path}", app.address)
        } else {
            app.url(&path)
        };
        let rb = app.client.request(m(spec), url).bearer_auth(&app.api_key);
        let reply = app.send(if let Some(b) = &body { rb.json(b) } else { rb }).await;
        if !reply.status.is_success() {
            problems.push(format!(
                "{} {}: no success to validate ({}: {})",
                spec.method,
                spec.path,
                reply.status,
                String::from_utf8_lossy(&reply.bytes)
            ));
            continue;
        }
        remember_ids(spec, reply.data(), &mut ids);
        if spec.path == "/accounts/provision" {
            outbox_to = reply.data()["email"].as_str().unwrap_or_default().to_string();
        }

        let mut schema = spec.response_schema().expect("every route declares its response");
        strict(&mut schema);
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{}: its response schema does not compile: {e}", spec.operation));
        let instance = declared_part(spec, &reply);
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .take(5)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            validated += 1;
        } else {
            problems.push(format!(
                "{} {}: does not match its declared response:\n    {}",
                spec.method,
                spec.path,
                errors.join("\n    ")
            ));
        }
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(validated, routes::table().len());
}
