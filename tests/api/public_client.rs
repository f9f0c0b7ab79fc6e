//! What the public ThruAI MCP client (`@thruai/mcp-server`) and other real clients send,
//! accepted as they send it: dated model snapshots, a provider without a key on this
//! server (the sandbox stands in, and says so), `description`/`priority` on feedback,
//! `testPayload` on a tool test, a secret the user chose for a webhook.

use std::time::Duration;

use serde_json::{Value, json};
use thruai::http::{
    agents::checks::{CheckStatus, PreflightOut},
    calls::CallOut,
};

use crate::helpers::{TestApp, spawn_app, spawn_with};

fn meta_sandbox(r: &crate::helpers::Reply) -> bool {
    r.body["meta"]["sandbox"] == true
}

/// Polls until the call is terminal.
async fn finished(app: &TestApp, id: &str) -> CallOut {
    for _ in 0..300 {
        let r = app.get(&format!("/calls/{id}")).await;
        let call: CallOut = serde_json::from_value(r.data().clone()).unwrap();
        if !["queued", "ringing", "in_progress"].contains(&call.summary.status.as_str()) {
            return call;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("call {id} did not finish");
}

#[actix_web::test]
async fn an_s2s_agent_on_a_dated_realtime_snapshot_is_accepted() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/agents",
            &json!({ "name": "Realtime", "systemPrompt": "You answer the phone for a clinic.",
                     "pipelineMode": "s2s", "s2sProvider": "openai-realtime",
                     "s2sModel": "gpt-4o-realtime-preview-2024-12-17", "s2sVoice": "alloy" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["s2sModel"], "gpt-4o-realtime-preview-2024-12-17");
    assert_eq!(r.data()["s2sProvider"], "openai-realtime");
    // No OpenAI key on this server: its calls run on the sandbox stand-in, and it says so.
    assert!(meta_sandbox(&r), "{:?}", r.body);
    // The catalogue lists the snapshot as an alias of its family, deprecated.
    let models = app.get("/providers/openai-realtime/models").await;
    let family = models.data()["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "gpt-4o-realtime-preview")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        family["aliases"].as_array().is_some_and(|a| a
            .iter()
            .any(|a| a["id"] == "gpt-4o-realtime-preview-2024-12-17" && a["deprecated"] == true)),
        "{family}"
    );
    // Still strict about what is wrong.
    let bad = app
        .post(
            "/agents",
            &json!({ "name": "Bad", "s2sProvider": "openai-realtime", "s2sModel": "gpt-4o-realtime-preview-2024" }),
        )
        .await;
    assert_eq!(bad.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn quickstart_keeps_the_provider_model_and_voice_asked_for_and_its_call_runs_on_the_sandbox() {
    let app = spawn_with(|s| s.security.url_allowlist = vec!["127.0.0.1/32".into()]).await;
    let r = app
        .post(
            "/agents/quickstart",
            &json!({ "name": "Front desk", "systemPrompt": "You answer the phone for a dental clinic. If the caller asks not to be called again, confirm and end the call.",
                     "areaCode": "415", "voice": "alloy", "model": "gpt-realtime" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let agent = &r.data()["agent"];
    assert_eq!(agent["s2sProvider"], "openai-realtime");
    assert_eq!(agent["s2sModel"], "gpt-realtime");
    assert_eq!(agent["s2sVoice"], "alloy");
    assert!(meta_sandbox(&r), "{:?}", r.body);
    let id = agent["id"].as_str().unwrap().to_string();

    let pre = app.post(&format!("/agents/{id}/preflight"), &json!({})).await;
    let pre: PreflightOut = serde_json::from_value(pre.data().clone()).unwrap();
    let readiness = pre.checks.iter().find(|c| c.id == "provider_readiness").unwrap();
    assert_eq!(readiness.status, CheckStatus::Warn, "{readiness:?}");
    assert!(readiness.message.contains("sandbox stand-in"), "{readiness:?}");

    let call = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": id, "to": "+14155550199",
                     "metadata": { "sandboxScript": [{ "waitForAgent": true }, { "say": "goodbye" },
                                                     { "waitForAgent": true }, { "hangup": true }] } }),
        )
        .await;
    assert_eq!(call.status, 201, "{:?}", call.body);
    let call_id = call.data()["callId"].as_str().unwrap().to_string();
    let c = finished(&app, &call_id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
    assert!(c.transcript.iter().any(|l| l.speaker == "agent"));
    let debug = app.get(&format!("/calls/{call_id}/debug")).await;
    let fallbacks: Vec<&Value> = debug.data()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "provider_fallback")
        .collect();
    assert!(
        fallbacks
            .iter()
            .any(|e| e["detail"]["requested"] == "openai-realtime" && e["detail"]["using"] == "sandbox"),
        "{:#}",
        debug.data()["timeline"]
    );
}

#[actix_web::test]
async fn the_quickstart_default_prompt_passes_the_platforms_own_compliance_check() {
    let app = spawn_app().await;
    let r = app.post("/agents/quickstart", &json!({ "name": "Defaults" })).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["agent"]["id"].as_str().unwrap().to_string();
    let pre = app.post(&format!("/agents/{id}/preflight"), &json!({})).await;
    let pre: PreflightOut = serde_json::from_value(pre.data().clone()).unwrap();
    let compliance = pre.checks.iter().find(|c| c.id == "compliance").unwrap();
    assert_eq!(compliance.data["optOutHandling"], true, "{compliance:?}");
}

#[actix_web::test]
async fn feedback_takes_description_and_priority_and_returns_them() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/feedback",
            &json!({ "type": "bug", "subject": "Echo on calls", "description": "The agent hears itself.", "priority": "high" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["description"], "The agent hears itself.");
    assert_eq!(r.data()["message"], "The agent hears itself.");
    assert_eq!(r.data()["priority"], "high");
    let id = r.data()["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/feedback/{id}")).await.data()["priority"], "high");
    let bad = app
        .post("/feedback", &json!({ "description": "x", "priority": "urgent" }))
        .await;
    assert_eq!(bad.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn a_tool_test_takes_test_payload_as_its_arguments() {
    let app = spawn_with(|s| s.security.url_allowlist = vec!["127.0.0.1/32".into()]).await;
    let sink = crate::sink::Sink::start().await;
    let t = app
        .post(
            "/tools",
            &json!({ "name": "check_order", "url": format!("{}/ok", sink.base_url),
                     "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] } }),
        )
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    let id = t.data()["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/tools/{id}/test"),
            &json!({ "testPayload": { "orderId": "A-42" } }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["request"]["body"]["arguments"]["orderId"], "A-42");
}

#[actix_web::test]
async fn a_webhook_takes_a_secret_the_user_chose_and_signs_with_its_bytes() {
    use thruai::net::signing::{WebhookSecret, verify};
    let app = spawn_with(|s| s.security.url_allowlist = vec!["127.0.0.1/32".into()]).await;
    let sink = crate::sink::Sink::start().await;
    let secret = "my-webhook-secret-123";
    let r = app
        .post(
            "/webhooks",
            &json!({ "url": format!("{}/ok", sink.base_url), "events": ["call.completed"], "secret": secret }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["id"].as_str().unwrap();
    let test = app.post(&format!("/webhooks/{id}/test"), &json!({})).await;
    assert_eq!(test.data()["success"], true, "{:?}", test.body);
    let got = sink.requests().pop().expect("the test delivery arrived");
    let key = WebhookSecret::parse(secret).unwrap();
    verify(
        &[key],
        got.header("webhook-id").unwrap(),
        got.header("webhook-timestamp").unwrap(),
        got.header("webhook-signature").unwrap(),
        &got.body,
        chrono::Utc::now().timestamp(),
        300,
    )
    .expect("signed with the secret's UTF-8 bytes as the key");
    let short = app
        .post(
            "/webhooks",
            &json!({ "url": format!("{}/ok", sink.base_url), "events": ["call.completed"], "secret": "too-short" }),
        )
        .await;
    assert_eq!(short.code(), "VALIDATION_ERROR");
}
