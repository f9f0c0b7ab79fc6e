//! Webhooks end to end against the chaos sink: CRUD and validation, signed delivery,
//! retries, 410, redirects, Retry-After, replay, the delivery log, and a scaled chaos run.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use thruai::{
    config::Settings,
    http::{
        core::envelope::DeletedOut,
        webhook_deliveries::{DeliveryOut, ReplayOut, WebhookTestOut},
        webhooks::WebhookOut,
    },
    store::{outbox, webhook_deliveries},
};

use crate::{
    chaos_sink::{ChaosSink, Reply},
    helpers::{TestApp, spawn_app, spawn_with},
};

/// Loopback allowed, a schedule in milliseconds.
pub fn fast(s: &mut Settings) {
    s.security.url_allowlist = vec!["127.0.0.1/32".into()];
    s.webhooks.retry_schedule = ["5ms", "10ms", "20ms"].iter().map(|d| humantime(d)).collect();
    s.webhooks.timeout_ms = 2000;
    s.webhooks.lease_ms = 3000;
    s.webhooks.dispatch_interval_ms = 10;
    s.webhooks.sweep_interval_ms = 50;
}

fn humantime(s: &str) -> Duration {
    Duration::from_millis(s.trim_end_matches("ms").parse().unwrap())
}

pub async fn org_id(app: &TestApp) -> String {
    app.get("/accounts/me").await.data()["id"].as_str().unwrap().to_string()
}

/// Creates a subscription to `sink` and tells the sink its secret.
pub async fn subscribe(app: &TestApp, sink: &ChaosSink, events: &[&str]) -> WebhookOut {
    let r = app
        .post("/webhooks", &json!({ "url": sink.url("/hook"), "events": events }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let hook: WebhookOut = serde_json::from_value(r.data().clone()).unwrap();
    sink.set_secret(hook.secret.as_deref().unwrap());
    hook
}

/// Records `n` events in one transaction, as a domain change would.
pub async fn emit(app: &TestApp, org: &str, event: &str, n: usize) -> Vec<String> {
    use sea_orm::TransactionTrait;
    let txn = app.state.db.begin().await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let row = outbox::record(&txn, org, event, json!({ "seq": i })).await.unwrap();
        ids.push(row.id);
    }
    txn.commit().await.unwrap();
    ids
}

pub async fn statuses(app: &TestApp, hook: &str) -> BTreeMap<String, u64> {
    webhook_deliveries::count_by_status(&app.state.db, hook).await.unwrap()
}

/// Polls the delivery counts until every one of `total` deliveries is terminal.
pub async fn settled(app: &TestApp, hook: &str, total: u64, timeout: Duration) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let s = statuses(app, hook).await;
        let terminal: u64 = s.iter().filter(|(k, _)| k.as_str() != "pending").map(|(_, v)| v).sum();
        if terminal == total && s.values().sum::<u64>() == total {
            return s;
        }
        assert!(Instant::now() < deadline, "not settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn log(app: &TestApp, hook: &str) -> Vec<DeliveryOut> {
    let mut all = Vec::new();
    for page in 1.. {
        let r = app
            .get(&format!("/webhooks/{hook}/deliveries?page={page}&pageSize=100"))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let rows: Vec<DeliveryOut> = serde_json::from_value(r.data()["deliveries"].clone()).unwrap();
        let more = r.data()["pagination"]["hasMore"].as_bool().unwrap();
        all.extend(rows);
        if !more {
            break;
        }
    }
    all
}

#[actix_web::test]
async fn webhooks_are_created_listed_updated_and_deleted() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;

    let created = app
        .post(
            "/webhooks",
            &json!({ "url": sink.url("/a"), "events": ["call.completed", "call.started"], "description": "calls" }),
        )
        .await;
    let hook: WebhookOut = serde_json::from_value(created.data().clone()).unwrap();
    let listed = app.get("/webhooks").await;
    let fetched = app.get(&format!("/webhooks/{}", hook.id)).await;
    let disabled = app
        .patch(
            &format!("/webhooks/{}", hook.id),
            &json!({ "enabled": false, "events": ["agent.updated"] }),
        )
        .await;
    let enabled = app
        .patch(&format!("/webhooks/{}", hook.id), &json!({ "isActive": true }))
        .await;
    let deleted = app.delete(&format!("/webhooks/{}", hook.id)).await;
    let gone = app.get(&format!("/webhooks/{}", hook.id)).await;

    assert_eq!(created.status, 201);
    created.assert_envelope();
    assert!(hook.id.starts_with("WHK-"));
    assert!(hook.secret.as_deref().unwrap().starts_with("whsec_"));
    assert!(hook.is_active && hook.enabled);
    let webhook = |r: &crate::helpers::Reply| -> WebhookOut { serde_json::from_value(r.data().clone()).unwrap() };
    let listed_hooks: Vec<WebhookOut> = serde_json::from_value(listed.data()["webhooks"].clone()).unwrap();
    assert_eq!(listed_hooks.len(), 1);
    assert_eq!(listed_hooks[0].id, hook.id);
    assert_eq!(listed.data()["pagination"]["total"], 1);
    assert!(listed_hooks[0].secret.is_none(), "secret shown on create only");
    let fetched = webhook(&fetched);
    assert!(fetched.secret.is_none());
    assert_eq!(fetched.events, ["call.completed", "call.started"]);
    let disabled = webhook(&disabled);
    assert_eq!((disabled.is_active, disabled.enabled), (false, false));
    assert_eq!(disabled.events, ["agent.updated"]);
    assert!(webhook(&enabled).enabled);
    assert_eq!(deleted.status, 200);
    let deleted: DeletedOut = serde_json::from_value(deleted.data().clone()).unwrap();
    assert_eq!(deleted.message, format!("Webhook '{}' deleted", hook.id));
    assert!(deleted.warnings.is_empty(), "nothing was pending");
    assert_eq!(gone.status, 404);
}

#[actix_web::test]
async fn invalid_subscriptions_are_refused_field_by_field() {
    let app = spawn_app().await;

    let unknown_event = app
        .post(
            "/webhooks",
            &json!({ "url": "https://example.com/h", "events": ["call.complete"] }),
        )
        .await;
    let private_url = app
        .post(
            "/webhooks",
            &json!({ "url": "http://127.0.0.1:9/h", "events": ["call.started"] }),
        )
        .await;
    let metadata_url = app
        .post(
            "/webhooks",
            &json!({ "url": "http://169.254.169.254/", "events": ["call.started"] }),
        )
        .await;
    let bad_secret = app
        .post(
            "/webhooks",
            &json!({ "url": "https://example.com/h", "events": ["call.started"], "secret": "short" }),
        )
        .await;
    let unknown_field = app
        .post(
            "/webhooks",
            &json!({ "url": "https://example.com/h", "events": ["call.started"], "evnts": [] }),
        )
        .await;
    let no_events = app
        .post("/webhooks", &json!({ "url": "https://example.com/h", "events": [] }))
        .await;

    assert_eq!(
        (unknown_event.status.as_u16(), unknown_event.code()),
        (400, "VALIDATION_ERROR")
    );
    assert_eq!(unknown_event.body["error"]["details"][0]["field"], "events[0]");
    assert_eq!(
        unknown_event.body["error"]["details"][0]["suggestion"],
        "call.completed"
    );
    for r in [&private_url, &metadata_url] {
        assert_eq!((r.status.as_u16(), r.code()), (400, "VALIDATION_ERROR"));
        assert_eq!(r.body["error"]["details"][0]["field"], "url");
    }
    assert_eq!(bad_secret.body["error"]["details"][0]["field"], "secret");
    assert_eq!(unknown_field.body["error"]["details"][0]["suggestion"], "events");
    assert_eq!(no_events.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn another_organisations_webhooks_are_not_found() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    let hook = subscribe(&app, &sink, &["call.started"]).await;
    let other = app.other_org().await;

    let path = format!("/webhooks/{}", hook.id);
    let replies = [
        other.get(&path).await,
        other.patch(&path, &json!({ "enabled": false })).await,
        other.delete(&path).await,
        other.get(&format!("{path}/deliveries")).await,
        other.post(&format!("{path}/test"), &json!({})).await,
        other
            .post(&format!("{path}/replay"), &json!({ "since": "2020-01-01T00:00:00Z" }))
            .await,
    ];
    let listed = other.get("/webhooks").await;

    for r in &replies {
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
    }
    assert_eq!(listed.data()["pagination"]["total"], 0);
    assert_eq!(sink.count(), 0);
}

#[actix_web::test]
async fn an_event_is_delivered_signed_and_logged() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    let hook = subscribe(&app, &sink, &["call.completed"]).await;
    let org = org_id(&app).await;

    let ids = emit(&app, &org, "call.completed", 1).await;
    emit(&app, &org, "call.started", 1).await;
    let seen = sink.wait_for(Duration::from_secs(10), |s| !s.is_empty()).await;
    let counts = settled(&app, &hook.id, 1, Duration::from_secs(10)).await;
    let rows = log(&app, &hook.id).await;

    assert_eq!(seen.len(), 1, "only the subscribed event");
    assert!(seen[0].signature_valid);
    assert_eq!(seen[0].webhook_id, ids[0]);
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["seq"].as_i64()),
        (Some("call.completed"), Some(0))
    );
    assert_eq!(counts.get("delivered"), Some(&1));
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].status.as_str(), rows[0].http_status, rows[0].attempt),
        ("sent", Some(200), 1)
    );
    assert!(rows[0].delivery_id.starts_with("DLV-") && rows[0].response_time_ms.is_some());
    assert_eq!(rows[0].event_id, ids[0]);
}

/// Secrets are sealed at rest; a rotated secret signs the next delivery.
#[actix_web::test]
async fn secrets_are_encrypted_at_rest_and_rotation_takes_effect() {
    use sea_orm::EntityTrait;
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    let hook = subscribe(&app, &sink, &["call.completed"]).await;
    let org = org_id(&app).await;
    let stored = |id: String| {
        let db = app.state.db.clone();
        async move {
            thruai_entities::webhook::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .secret
        }
    };

    let first = hook.secret.clone().unwrap();
    let at_rest = stored(hook.id.clone()).await;
    let (_, rotated) = thruai::net::signing::WebhookSecret::generate();
    let r = app
        .patch(&format!("/webhooks/{}", hook.id), &json!({ "secret": rotated }))
        .await;
    let rotated_at_rest = stored(hook.id.clone()).await;
    sink.set_secret(&rotated);
    emit(&app, &org, "call.completed", 1).await;
    let seen = sink.wait_for(Duration::from_secs(10), |s| !s.is_empty()).await;

    assert!(
        at_rest.starts_with("v1:") && !at_rest.contains(&first[6..]),
        "{at_rest}"
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.data().get("secret").is_none_or(Value::is_null), "never shown again");
    assert!(rotated_at_rest.starts_with("v1:") && rotated_at_rest != at_rest);
    assert!(seen[0].signature_valid, "signed with the rotated secret");
}

#[actix_web::test]
async fn failures_are_retried_with_the_same_webhook_id_until_success() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    sink.sequence(vec![Reply::Status(500), Reply::Reset, Reply::Status(503)]);
    let hook = subscribe(&app, &sink, &["call.failed"]).await;
    let org = org_id(&app).await;

    emit(&app, &org, "call.failed", 1).await;
    let seen = sink.wait_for(Duration::from_secs(10), |s| s.len() >= 4).await;
    settled(&app, &hook.id, 1, Duration::from_secs(10)).await;
    let rows = log(&app, &hook.id).await;

    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|s| s.webhook_id == seen[0].webhook_id && s.signature_valid)
    );
    assert!(
        seen.iter().all(|s| s.body == seen[0].body),
        "same payload bytes on every attempt"
    );
    let mut statuses: Vec<(i32, String)> = rows.iter().map(|r| (r.attempt, r.status.clone())).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![
            (1, "retrying".into()),
            (2, "retrying".into()),
            (3, "retrying".into()),
            (4, "sent".into())
        ]
    );
    assert!(
        rows.iter()
            .filter(|r| r.status == "retrying")
            .all(|r| r.next_retry_at.is_some() && r.error.is_some())
    );
    let failed = app
        .get(&format!("/webhooks/{}/deliveries?status=retrying", hook.id))
        .await;
    assert_eq!(failed.data()["pagination"]["total"], 3);
    let limited = app
        .get(&format!("/webhooks/{}/deliveries?limit=2&offset=1", hook.id))
        .await;
    assert_eq!(limited.data()["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get(&format!("/webhooks/{}/deliveries?limit=101", hook.id))
            .await
            .code(),
        "VALIDATION_ERROR"
    );
}

#[actix_web::test]
async fn gone_disables_the_endpoint_after_one_attempt_and_cancels_the_rest() {
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.batch_size = 1;
        s.webhooks.concurrent_batches = 1;
    })
    .await;
    let sink = ChaosSink::start().await;
    sink.script(|_| Reply::Status(410));
    let hook = subscribe(&app, &sink, &["agent.updated"]).await;
    let org = org_id(&app).await;

    emit(&app, &org, "agent.updated", 3).await;
    let counts = settled(&app, &hook.id, 3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fetched = app.get(&format!("/webhooks/{}", hook.id)).await;

    assert_eq!(sink.count(), 1);
    assert_eq!(counts.get("failed"), Some(&1));
    assert_eq!(counts.get("cancelled"), Some(&2));
    assert_eq!(fetched.data()["isActive"], false);
    assert!(fetched.data()["disabledReason"].as_str().unwrap().contains("410"));
    assert_eq!(log(&app, &hook.id).await.len(), 1);
}

#[actix_web::test]
async fn redirects_are_failures_and_never_followed() {
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.retry_schedule = vec![];
    })
    .await;
    let sink = ChaosSink::start().await;
    let target = ChaosSink::start().await;
    let location = target.url("/elsewhere");
    sink.script(move |_| Reply::With(302, vec![("location".into(), location.clone())]));
    let hook = subscribe(&app, &sink, &["call.started"]).await;
    let org = org_id(&app).await;

    emit(&app, &org, "call.started", 1).await;
    let counts = settled(&app, &hook.id, 1, Duration::from_secs(10)).await;
    let rows = log(&app, &hook.id).await;
    let tested = app.post(&format!("/webhooks/{}/test", hook.id), &json!({})).await;
    let tested: WebhookTestOut = serde_json::from_value(tested.data().clone()).unwrap();

    assert_eq!(counts.get("failed"), Some(&1));
    assert_eq!((rows[0].status.as_str(), rows[0].http_status), ("failed", Some(302)));
    assert!(!tested.success);
    assert_eq!(tested.status_code, Some(302));
    assert_eq!(sink.count(), 2);
    assert_eq!(target.count(), 0, "redirect not followed");
}

#[actix_web::test]
async fn retry_after_is_honoured_on_429() {
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.time_scale = 0.25;
    })
    .await;
    let sink = ChaosSink::start().await;
    sink.sequence(vec![Reply::With(429, vec![("retry-after".into(), "2".into())])]);
    let hook = subscribe(&app, &sink, &["transcript.ready"]).await;
    let org = org_id(&app).await;

    emit(&app, &org, "transcript.ready", 1).await;
    let seen = sink.wait_for(Duration::from_secs(10), |s| s.len() >= 2).await;
    settled(&app, &hook.id, 1, Duration::from_secs(10)).await;

    let gap = seen[1].at - seen[0].at;
    assert!(
        gap >= Duration::from_millis(480),
        "retried after {gap:?}, Retry-After 2 s × 0.25"
    );
}

#[actix_web::test]
async fn the_test_endpoint_sends_a_signed_sample() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    let hook = subscribe(&app, &sink, &["call.started"]).await;

    let r = app.post(&format!("/webhooks/{}/test", hook.id), &json!({})).await;
    let out: WebhookTestOut = serde_json::from_value(r.data().clone()).unwrap();

    assert_eq!(r.status, 200);
    assert!(out.success);
    assert_eq!(out.status_code, Some(200));
    let seen = sink.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_valid);
    assert_eq!(seen[0].webhook_id, out.event_id);
    assert_eq!(seen[0].path, "/hook");
}

#[actix_web::test]
async fn replay_resends_failed_deliveries_with_the_same_webhook_id_and_payload() {
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.retry_schedule = vec![];
    })
    .await;
    let sink = ChaosSink::start().await;
    sink.sequence(vec![Reply::Status(500)]);
    let hook = subscribe(&app, &sink, &["workflow.completed"]).await;
    let org = org_id(&app).await;
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(1);
    emit(&app, &org, "workflow.completed", 2).await;
    let counts = settled(&app, &hook.id, 2, Duration::from_secs(10)).await;
    assert_eq!((counts.get("failed"), counts.get("delivered")), (Some(&1), Some(&1)));
    let failed = log(&app, &hook.id)
        .await
        .into_iter()
        .find(|r| r.status == "failed")
        .unwrap();

    let by_id = app
        .post(
            &format!("/webhooks/{}/replay", hook.id),
            &json!({ "deliveryIds": [failed.delivery_id] }),
        )
        .await;
    let by_id: ReplayOut = serde_json::from_value(by_id.data().clone()).unwrap();
    settled(&app, &hook.id, 2, Duration::from_secs(10)).await;
    let window = app
        .post(&format!("/webhooks/{}/replay", hook.id), &json!({ "since": t0 }))
        .await;
    let everything = app
        .post(
            &format!("/webhooks/{}/replay", hook.id),
            &json!({ "since": t0, "includeAll": true }),
        )
        .await;
    let seen = sink.wait_for(Duration::from_secs(10), |s| s.len() >= 5).await;
    let empty = app.post(&format!("/webhooks/{}/replay", hook.id), &json!({})).await;

    assert_eq!(by_id.queued, 1);
    assert_eq!(window.data()["queued"], 0, "nothing failed any more");
    assert_eq!(everything.data()["queued"], 2);
    let replayed: Vec<_> = seen.iter().filter(|s| s.webhook_id == failed.event_id).collect();
    assert_eq!(replayed.len(), 3);
    assert!(replayed.iter().all(|s| s.body == replayed[0].body && s.signature_valid));
    assert_eq!(empty.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn deleting_a_webhook_cancels_its_pending_deliveries() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    sink.script(|_| Reply::Hang(Duration::from_secs(5)));
    let hook = subscribe(&app, &sink, &["call.started"]).await;
    let org = org_id(&app).await;

    emit(&app, &org, "call.started", 3).await;
    sink.wait_for(Duration::from_secs(10), |s| !s.is_empty()).await;
    let deleted = app.delete(&format!("/webhooks/{}", hook.id)).await;
    let counts = statuses(&app, &hook.id).await;

    assert_eq!(deleted.status, 200);
    assert_eq!(counts.get("cancelled"), Some(&3));
    let deleted: DeletedOut = serde_json::from_value(deleted.data().clone()).unwrap();
    assert_eq!(deleted.warnings, ["3 pending deliveries were cancelled"]);
}

/// W1: 10,000 events to a sink failing 30 % of attempts (500, reset, lost ack), four
/// attempts each; then a replay of the exhausted ones.
#[actix_web::test]
async fn a_chaos_run_loses_nothing_and_replay_delivers_the_rest() {
    const EVENTS: usize = 10_000;
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.retry_schedule = vec![Duration::from_millis(2); 3];
    })
    .await;
    let sink = ChaosSink::start().await;
    sink.random_failures(0.3);
    let hook = subscribe(&app, &sink, &["call.completed"]).await;
    let org = org_id(&app).await;
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(1);

    let ids = emit(&app, &org, "call.completed", EVENTS).await;
    let counts = settled(&app, &hook.id, EVENTS as u64, Duration::from_secs(120)).await;
    let delivered = counts.get("delivered").copied().unwrap_or(0);
    let exhausted = counts.get("failed").copied().unwrap_or(0);
    let rows = log(&app, &hook.id).await;
    let requests = sink.count();
    sink.script(|_| Reply::Status(200));
    let replay = app
        .post(&format!("/webhooks/{}/replay", hook.id), &json!({ "since": t0 }))
        .await;
    let after = settled(&app, &hook.id, EVENTS as u64, Duration::from_secs(60)).await;

    assert_eq!(delivered + exhausted, EVENTS as u64);
    assert_eq!(rows.len(), requests, "one log row per request the sink saw");
    assert!(rows.iter().all(|r| r.status != "pending"));
    assert_eq!(replay.data()["queued"].as_u64(), Some(exhausted));
    assert_eq!(after.get("delivered").copied(), Some(EVENTS as u64));
    let seen = sink.seen();
    let processed: HashSet<&str> = seen
        .iter()
        .filter(|s| s.reply.processed())
        .map(|s| s.webhook_id.as_str())
        .collect();
    assert_eq!(processed.len(), EVENTS);
    assert!(ids.iter().all(|id| processed.contains(id.as_str())));
    assert!(seen.iter().all(|s| s.signature_valid));
}

#[actix_web::test]
async fn an_endpoint_failing_for_the_whole_window_is_disabled() {
    let app = spawn_with(|s| {
        fast(s);
        s.webhooks.retry_schedule = vec![Duration::from_millis(50); 40];
        s.webhooks.disable_after_secs = 1;
    })
    .await;
    let sink = ChaosSink::start().await;
    sink.script(|_| Reply::Status(500));
    let hook = subscribe(&app, &sink, &["call.completed"]).await;
    let org = org_id(&app).await;

    let started = Instant::now();
    emit(&app, &org, "call.completed", 2).await;
    let counts = settled(&app, &hook.id, 2, Duration::from_secs(20)).await;
    let elapsed = started.elapsed();
    let requests = sink.count();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fetched = app.get(&format!("/webhooks/{}", hook.id)).await;

    assert!(
        elapsed >= Duration::from_secs(1),
        "disabled only after the window ({elapsed:?})"
    );
    assert_eq!(counts.get("delivered"), None);
    assert_eq!(fetched.data()["enabled"], false);
    assert!(fetched.data()["disabledReason"].as_str().unwrap().contains("failing"));
    assert_eq!(sink.count(), requests, "no attempt after disabling");
}
