//! `/metrics` after real work: every family the server declares has samples — nothing is
//! declared and never written.

use std::time::Duration;

use serde_json::json;

use crate::{
    a2p::registered_number,
    helpers::{TestApp, spawn_with},
    sink::Sink,
};

async fn scrape(app: &TestApp) -> String {
    let r = app.client.get(format!("{}/metrics", app.address)).send().await.unwrap();
    r.text().await.unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{what} did not happen");
}

#[actix_web::test]
async fn every_declared_metric_has_samples_after_real_work() {
    let app = spawn_with(|s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.campaigns.tick_ms = 40;
        s.campaigns.sandbox_call_ms = 100;
    })
    .await;
    let sink = Sink::start().await;
    // A webhook subscription, fed by the agent's events below.
    let w = app
        .post(
            "/webhooks",
            &json!({ "url": format!("{}/ok", sink.base_url), "events": ["agent.updated", "call.completed"] }),
        )
        .await;
    assert_eq!(w.status, 201, "{:?}", w.body);
    // An agent, a number, an idempotent write, a live call.
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "212" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app
        .send(
            app.req(reqwest::Method::POST, "/agents")
                .header("Idempotency-Key", "metrics-agent")
                .json(&json!({ "name": "Metered", "firstMessage": "Hello.", "pipelineMode": "traditional" })),
        )
        .await;
    let agent = a.data()["id"].as_str().unwrap().to_string();
    let c = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": agent, "to": "+14155550188",
                     "metadata": { "sandboxScript": [{ "waitForAgent": true }, { "hangup": true }] } }),
        )
        .await;
    let call = c.data()["callId"].as_str().unwrap().to_string();
    until("the call's end", async || {
        app.get(&format!("/calls/{call}")).await.data()["status"] == "completed"
    })
    .await;
    // A campaign of one contact, dialled and settled.
    let k = app
        .post(
            "/campaigns",
            &json!({ "name": "Metered", "agentId": agent, "maxConcurrentCalls": 1 }),
        )
        .await;
    let campaign = k.data()["id"].as_str().unwrap().to_string();
    app.post(
        &format!("/campaigns/{campaign}/contacts"),
        &json!({ "contacts": [{ "phoneNumber": "+14155550189" }] }),
    )
    .await;
    app.post(&format!("/campaigns/{campaign}/start"), &json!({})).await;
    until("the campaign's end", async || {
        app.get(&format!("/campaigns/{campaign}")).await.data()["status"] == "completed"
    })
    .await;
    // A2P registrations through review, then an SMS from the registered number.
    let (from, _, _) = registered_number(&app).await;
    let sms = app
        .post(
            "/sms/messages",
            &json!({ "from": from, "to": "+14155550190", "body": "Your appointment is confirmed." }),
        )
        .await;
    assert_eq!(sms.status, 201, "{:?}", sms.body);
    // An MCP tool call.
    let mcp = app
        .send(
            app.client
                .post(format!("{}/mcp", app.address))
                .bearer_auth(&app.api_key)
                .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": { "name": "list_agents", "arguments": {} } })),
        )
        .await;
    assert_eq!(mcp.status, 200);
    until("a webhook delivery", async || !sink.requests().is_empty()).await;

    let text = scrape(&app).await;
    let families: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(families.len() >= 19, "{text}");
    let mut empty = Vec::new();
    for family in &families {
        let has = text
            .lines()
            .any(|l| !l.starts_with('#') && l.starts_with(family) && l[family.len()..].starts_with(['{', ' ', '_']));
        if !has {
            empty.push(*family);
        }
    }
    assert!(empty.is_empty(), "families without samples: {empty:?}\n{text}");
    for expected in [
        "thruai_actors{kind=\"call\"}",
        "thruai_actors{kind=\"webhook\"}",
        "thruai_webhook_deliveries_total{outcome=\"sent\"}",
        "thruai_campaign_dials_total{result=\"placed\"}",
        "thruai_sms_messages_total{direction=\"outbound\",result=\"accepted\"}",
        "thruai_a2p_status_changes_total{kind=\"brand\",status=\"approved\"}",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}
