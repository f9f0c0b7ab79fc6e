//! A bounded, deterministic property run over the whole route table, in the spirit of
//! schemathesis: each route is sent its example and a set of mutations of it (wrong types,
//! nulls, missing and unknown fields, huge and control-character strings, bodies that are
//! not objects, malformed JSON, garbage query values, ids that do not exist). Every answer
//! must be below 500, in the envelope, and a status its OpenAPI operation lists.

use std::collections::{BTreeSet, HashMap};

use reqwest::Method;
use serde_json::{Map, Value, json};
use thruai::http::{
    core::{route_spec::RouteSpec, routes},
    meta::openapi::openapi_path,
};

use crate::helpers::{TestApp, spawn_with};

/// Routes outside the JSON API: carrier webhooks (form bodies, signed), the MCP endpoint
/// (JSON-RPC), and sign-up (five an hour per address, walked by its own tests).
fn fuzzed(spec: &RouteSpec) -> bool {
    !spec.root && !spec.path.starts_with("/twilio") && spec.path != "/mcp" && !spec.path.starts_with("/accounts/")
}

/// The mutations of one example body.
fn bodies(example: &Value) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = vec![
        ("example".into(), example.to_string().into_bytes()),
        ("empty object".into(), b"{}".to_vec()),
        ("array".into(), b"[]".to_vec()),
        ("string".into(), b"\"x\"".to_vec()),
        ("malformed".into(), b"{\"a\":".to_vec()),
        ("unknown field".into(), {
            let mut v = example.clone();
            if let Some(o) = v.as_object_mut() {
                o.insert("zzUnknown".into(), json!(1));
            }
            v.to_string().into_bytes()
        }),
    ];
    let Some(fields) = example.as_object() else { return out };
    for (key, value) in fields {
        let replacements: Vec<(&str, Value)> = vec![
            ("null", Value::Null),
            ("number", json!(-1.5e300)),
            ("string", json!("\u{1F4A9}not-a-valid-value")),
            ("array", json!([1, "two", null])),
            ("object", json!({ "nested": { "deeper": [] } })),
            ("huge string", json!("x".repeat(70_000))),
            (
                "control character",
                json!(format!("{}\u{0}", value.as_str().unwrap_or("a"))),
            ),
        ];
        for (what, replacement) in replacements {
            if &replacement == value {
                continue;
            }
            let mut v: Map<String, Value> = fields.clone();
            v.insert(key.clone(), replacement);
            out.push((format!("{key} as {what}"), Value::Object(v).to_string().into_bytes()));
        }
        let mut without = fields.clone();
        without.remove(key);
        out.push((
            format!("without {key}"),
            Value::Object(without).to_string().into_bytes(),
        ));
    }
    out
}

fn queries(spec: &RouteSpec) -> Vec<String> {
    let mut out = vec![String::new()];
    for param in spec.query {
        for value in ["-1", "0", "abc", "", "99999999999999999999", "%F0%9F%92%A9", "x%00"] {
            out.push(format!("?{}={value}", param.name));
        }
    }
    out
}

/// The statuses each operation documents, from the served OpenAPI document.
async fn documented(app: &TestApp) -> HashMap<(String, String), BTreeSet<String>> {
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut out = HashMap::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let codes = op["responses"]
                .as_object()
                .map(|r| r.keys().cloned().collect())
                .unwrap_or_default();
            out.insert((method.to_uppercase(), path.clone()), codes);
        }
    }
    out
}

/// Listed by its code or class; a provider's failure (502) by the `default` response.
fn is_documented(codes: &BTreeSet<String>, status: u16) -> bool {
    let class = format!("{}XX", status / 100);
    codes.contains(&status.to_string()) || codes.contains(&class) || (status == 502 && codes.contains("default"))
}

#[actix_web::test]
async fn every_route_survives_mutated_requests_with_documented_answers() {
    let app = spawn_with(|s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.server.max_body_bytes = 64 * 1024;
    })
    .await;
    let documented = documented(&app).await;
    let mut problems = Vec::new();
    let mut sent = 0;
    for spec in routes::table().iter().filter(|s| fuzzed(s)) {
        let method = Method::from_bytes(spec.method.as_str().as_bytes()).unwrap();
        let codes = &documented[&(spec.method.to_string(), openapi_path(spec))];
        let path = spec
            .path
            .split('/')
            .map(|seg| if seg.starts_with(':') { "NOPE-0000" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let mut cases: Vec<(String, String, Option<Vec<u8>>)> = Vec::new();
        for query in queries(spec) {
            cases.push((format!("query {query}"), format!("{path}{query}"), None));
        }
        if spec.request.is_some() {
            let example = spec.example.map_or_else(|| json!({}), |f| f());
            for (what, body) in bodies(&example) {
                cases.push((what, path.clone(), Some(body)));
            }
        }
        for (what, url, body) in cases {
            let mut rb = app.req(method.clone(), &url);
            if let Some(body) = body {
                rb = rb.header("content-type", "application/json").body(body);
            }
            let reply = app.send(rb).await;
            sent += 1;
            let status = reply.status.as_u16();
            let enveloped = reply.body["success"].is_boolean()
                && (reply.status.is_success() || reply.body["error"]["code"].as_str().is_some_and(|c| !c.is_empty()));
            if (status >= 500 && status != 502) || !enveloped || !is_documented(codes, status) {
                problems.push(format!(
                    "{} {} ({what}): {status} {}",
                    spec.method,
                    spec.path,
                    String::from_utf8_lossy(&reply.bytes)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ));
            }
        }
    }
    assert!(sent > 1_000, "sent {sent}");
    assert!(
        problems.is_empty(),
        "{} of {sent}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
