//! Workflows through crashes, on the real binary: a step aborted between its intent and its
//! effect, or between its effect and its record, resumes from the journal with its call
//! placed exactly once at the sandbox carrier, its SMS sent once, its e-mail in the sandbox
//! outbox once; an execution killed while it waits finishes its wait after the restart, on
//! time.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
use serde_json::{Value, json};
use thruai_entities::{sandbox_call, sandbox_email, sandbox_email_domain, sms_message};

use crate::{
    campaign_crash::wait_for_abort,
    processes::{Server, connect, send, shared_env, signup, start, url},
};

fn env(failpoint: &str) -> Vec<(&'static str, &str)> {
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

/// A verified sandbox e-mail domain of the organisation (its DNS records "published" at the
/// sandbox provider): returns its name.
async fn verified_domain(client: &reqwest::Client, server: &Server, key: &str, shared: &[(String, String)]) -> String {
    let name = format!("{}.example.com", crate::helpers::unique("wf").to_lowercase());
    let d = post(client, server, key, "/email-domains", &json!({ "domain": name })).await;
    let db = connect(shared).await;
    for row in sandbox_email_domain::Entity::find()
        .filter(sandbox_email_domain::Column::Name.eq(name.as_str()))
        .all(&db)
        .await
        .unwrap()
    {
        let mut am = row.into_active_model();
        am.published = Set(true);
        am.update(&db).await.unwrap();
    }
    let v = post(
        client,
        server,
        key,
        &format!("/email-domains/{}/verify", d["id"].as_str().unwrap()),
        &json!({}),
    )
    .await;
    assert_eq!(v["domain"]["status"], json!("verified"), "{v:#}");
    name
}

#[actix_web::test]
async fn an_sms_or_email_step_aborted_around_its_effect_is_sent_exactly_once() {
    for (failpoint, kind) in [
        ("workflow_abort_after_intent", "sms"),
        ("workflow_abort_after_effect", "sms"),
        ("workflow_abort_after_intent", "email"),
        ("workflow_abort_after_effect", "email"),
    ] {
        let shared = shared_env();
        let client = reqwest::Client::new();
        let at = format!("{failpoint}:{kind}");
        let mut server = start(&shared, &env(&at));
        let key = signup(&client, &server).await;
        // A toll-free sender needs no A2P 10DLC registration.
        let number = post(
            &client,
            &server,
            &key,
            "/telephony/numbers/provision",
            &json!({ "areaCode": "888" }),
        )
        .await;
        let domain = verified_domain(&client, &server, &key, &shared).await;
        let (wf, exec) = run(
            &client,
            &server,
            &key,
            json!([
                { "id": "start", "type": "trigger" },
                { "id": "text", "type": "sms", "data": { "to": "+14155550123", "body": "Your table is ready", "from": number["phoneNumber"] } },
                { "id": "mail", "type": "email", "data": { "from": format!("host@{domain}"), "to": "guest@example.org", "subject": "Table", "text": "Ready" } }
            ]),
            json!([{ "source": "start", "target": "text" }, { "source": "text", "target": "mail" }]),
        )
        .await;
        wait_for_abort(&mut server);
        drop(server);

        let server = start(&shared, &env(""));
        let e = finished(&client, &server, &key, &wf, &exec).await;
        assert_eq!(e["status"], json!("succeeded"), "{at}: {e:#}");
        let db = connect(&shared).await;
        let texts = sms_message::Entity::find()
            .filter(sms_message::Column::ToNumber.eq("+14155550123"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts.len(), 1, "{at}: one SMS: {texts:?}");
        assert!(texts[0].provider_sid.is_some(), "{at}: {texts:?}");
        let mails = sandbox_email::Entity::find()
            .filter(sandbox_email::Column::ToAddress.eq("guest@example.org"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            mails.len(),
            1,
            "{at}: one e-mail in the sandbox outbox: {mails:?} {e:#}"
        );
        let steps = e["steps"].as_array().unwrap();
        assert_eq!(steps[1]["output"]["smsId"], json!(texts[0].id), "{at}: {e:#}");
        assert!(steps[2]["output"]["emailId"].is_string(), "{at}: {e:#}");
        drop(server);
    }
}
