//! Workflows through crashes, on the real binary: a step aborted between its intent and its
//! effect, or between its effect and its record, resumes from the journal with its call
//! placed exactly once at the sandbox carrier; an execution killed while it waits finishes
//! its wait after the restart, on time.

use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::{Value, json};
use thruai_entities::sandbox_call;

use crate::{
    campaign_crash::wait_for_abort,
    processes::{Server, connect, send, shared_env, signup, start, url},
};

fn env(failpoint: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("THRUAI__WORKFLOWS__TICK_MS", "50"),
        ("THRUAI__WORKFLOWS__LEASE_MS", "1000"),
        ("THRUAI__WORKFLOWS__CALL_POLL_MS", "100"),
        ("THRUAI__TESTING__FAILPOINT", failpoint),
    ]
}

async fn post(client: &reqwest::Client, server: &Server, key: &str, path: &str, body: &Value) -> Value {
    let r = send(client.post(url(server, path)).bearer_auth(key).json(body)).await;
    assert!(r.status.is_success(), "{path}: {:?}", r.body);
    r.data().clone()
}

/// Creates and publishes `nodes`/`edges`, triggers it, and returns (workflow, execution).
async fn run(client: &reqwest::Client, server: &Server, key: &str, nodes: Value, edges: Value) -> (String, String) {
    let wf = post(
        client,
        server,
        key,
        "/workflows",
        &json!({ "name": "Crash", "nodes": nodes, "edges": edges }),
    )
    .await;
    let id = wf["id"].as_str().unwrap().to_string();
    post(client, server, key, &format!("/workflows/{id}/publish"), &json!({})).await;
    let t = post(client, server, key, &format!("/workflows/{id}/trigger"), &json!({})).await;
    (id, t["executionId"].as_str().unwrap().to_string())
}

async fn finished(client: &reqwest::Client, server: &Server, key: &str, workflow: &str, exec: &str) -> Value {
    for _ in 0..300 {
        let r = send(
            client
                .get(url(server, &format!("/workflows/{workflow}/executions/{exec}")))
                .bearer_auth(key),
        )
        .await;
        if matches!(r.data()["status"].as_str(), Some("succeeded" | "failed")) {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("execution {exec} never finished");
}

#[actix_web::test]
async fn a_step_aborted_around_its_effect_places_its_call_exactly_once() {
    for failpoint in ["workflow_abort_after_intent", "workflow_abort_after_effect"] {
        let shared = shared_env();
        let client = reqwest::Client::new();
        let mut server = start(&shared, &env(failpoint));
        let key = signup(&client, &server).await;
        post(
            &client,
            &server,
            &key,
            "/telephony/numbers/provision",
            &json!({ "areaCode": "415" }),
        )
        .await;
        let agent = post(
            &client,
            &server,
            &key,
            "/agents",
            &json!({ "name": "Crash", "pipelineMode": "traditional" }),
        )
        .await;
        let (wf, exec) = run(
            &client,
            &server,
            &key,
            json!([
                { "id": "start", "type": "trigger" },
                { "id": "dial", "type": "call", "data": { "agentId": agent["id"], "to": "+14155550299" } }
            ]),
            json!([{ "source": "start", "target": "dial" }]),
        )
        .await;
        wait_for_abort(&mut server);
        drop(server);

        let server = start(&shared, &env(""));
        let e = finished(&client, &server, &key, &wf, &exec).await;
        assert_eq!(e["status"], json!("succeeded"), "{failpoint}: {e:#}");
        let dial = &e["steps"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(dial["nodeId"], json!("dial"));
        let calls: Vec<_> = sandbox_call::Entity::find().all(&connect(&shared).await).await.unwrap();
        assert_eq!(calls.len(), 1, "{failpoint}: one call at the carrier: {calls:?}");
        assert_eq!(
            calls[0].intent_key.as_deref(),
            Some(format!("{exec}-dial-1-0").as_str())
        );
        assert!(
            dial["output"]["callId"].as_str().unwrap().starts_with("CALL-"),
            "{dial:#}"
        );
        drop(server);
    }
}

#[actix_web::test]
async fn a_wait_outlives_a_restart() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let server = start(&shared, &env(""));
    let key = signup(&client, &server).await;
    let (wf, exec) = run(
        &client,
        &server,
        &key,
        json!([
            { "id": "start", "type": "trigger" },
            { "id": "pause", "type": "wait", "data": { "seconds": 3 } },
            { "id": "after", "type": "set", "data": { "variables": { "done": true } } }
        ]),
        json!([{ "source": "start", "target": "pause" }, { "source": "pause", "target": "after" }]),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server); // SIGKILL while the execution waits

    let server = start(&shared, &env(""));
    let e = finished(&client, &server, &key, &wf, &exec).await;
    assert_eq!(e["status"], json!("succeeded"), "{e:#}");
    assert_eq!(e["variables"]["done"], json!(true));
    let pause = &e["steps"][1];
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(pause[k].as_str().unwrap()).unwrap();
    let waited = at("finishedAt") - at("startedAt");
    assert!(
        waited >= chrono::Duration::seconds(3) && waited < chrono::Duration::seconds(5),
        "{waited}"
    );
    drop(server);
}
