//! Webhooks through a real `kill -9`: the server process is killed mid-run against a sink
//! failing 30 % of attempts, restarted, and nothing is lost — every event ends delivered or
//! exhausted, the log accounts for every request, and a replay delivers the rest.

use std::{
    collections::{BTreeMap, HashSet},
    time::{Duration, Instant},
};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use thruai::store::{outbox, webhook_deliveries};
use thruai_entities::webhook_attempt;

use crate::{
    chaos_sink::{ChaosSink, Reply},
    processes::{Server, connect, send, shared_env, signup, start, url},
};

const EXTRA: [(&str, &str); 6] = [
    ("THRUAI__SECURITY__URL_ALLOWLIST", "127.0.0.1/32"),
    ("THRUAI__WEBHOOKS__RETRY_SCHEDULE", "2ms,2ms,2ms"),
    ("THRUAI__WEBHOOKS__TIMEOUT_MS", "1000"),
    ("THRUAI__WEBHOOKS__LEASE_MS", "1500"),
    ("THRUAI__WEBHOOKS__DISPATCH_INTERVAL_MS", "10"),
    ("THRUAI__WEBHOOKS__SWEEP_INTERVAL_MS", "100"),
];

/// Records `n` events in transactions of 500, as domain changes would.
async fn emit(db: &DatabaseConnection, org: &str, from: usize, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(500) {
        let txn = db.begin().await.unwrap();
        for i in chunk {
            let row = outbox::record(&txn, org, "call.completed", json!({ "seq": i }))
                .await
                .unwrap();
            ids.push(row.id);
        }
        txn.commit().await.unwrap();
    }
    ids
}

async fn settled(db: &DatabaseConnection, hook: &str, total: u64) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let s = webhook_deliveries::count_by_status(db, hook).await.unwrap();
        let pending = s.get("pending").copied().unwrap_or(0);
        if pending == 0 && s.values().sum::<u64>() == total {
            return s;
        }
        assert!(Instant::now() < deadline, "not settled: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn attempts(db: &DatabaseConnection, hook: &str) -> (u64, u64) {
    let all = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::WebhookId.eq(hook))
        .count(db)
        .await
        .unwrap();
    let interrupted = webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::WebhookId.eq(hook))
        .filter(webhook_attempt::Column::Error.like("interrupted%"))
        .count(db)
        .await
        .unwrap();
    (all, interrupted)
}

#[actix_web::test]
async fn a_kill_9_mid_run_loses_no_event_and_a_replay_delivers_the_rest() {
    const BEFORE: usize = 3000;
    const DURING_DOWNTIME: usize = 500;
    let shared = shared_env();
    let client = reqwest::Client::new();
    let sink = ChaosSink::start().await;
    sink.random_failures(0.3);
    let server = start(&shared, &EXTRA);
    let key = signup(&client, &server).await;
    let post = |server: &Server, path: &str, body: serde_json::Value| {
        client.post(url(server, path)).bearer_auth(&key).json(&body)
    };
    let r = send(post(
        &server,
        "/webhooks",
        json!({ "url": sink.url("/hook"), "events": ["call.completed"] }),
    ))
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let hook = r.data()["id"].as_str().unwrap().to_string();
    sink.set_secret(r.data()["secret"].as_str().unwrap());
    let me = send(client.get(url(&server, "/accounts/me")).bearer_auth(&key)).await;
    let org = me.data()["id"].as_str().unwrap().to_string();
    let db = connect(&shared).await;
    let t0 = chrono::Utc::now() - chrono::Duration::seconds(1);

    let mut ids = emit(&db, &org, 0, BEFORE).await;
    sink.wait_for(Duration::from_secs(60), |s| s.len() >= BEFORE / 3).await;
    drop(server); // SIGKILL mid-run
    let seen_at_kill = sink.count();
    ids.extend(emit(&db, &org, BEFORE, DURING_DOWNTIME).await);
    let server = start(&shared, &EXTRA);
    let total = (BEFORE + DURING_DOWNTIME) as u64;
    let counts = settled(&db, &hook, total).await;
    let requests = sink.count() as u64;
    let (logged, interrupted) = attempts(&db, &hook).await;
    let exhausted = counts.get("failed").copied().unwrap_or(0);

    sink.script(|_| Reply::Status(200));
    let replay = send(post(
        &server,
        &format!("/webhooks/{hook}/replay"),
        json!({ "since": t0 }),
    ))
    .await;
    let after = settled(&db, &hook, total).await;
    drop(server);

    assert!(seen_at_kill < BEFORE, "killed mid-run ({seen_at_kill} requests seen)");
    assert_eq!(
        counts.get("delivered").copied().unwrap_or(0) + exhausted,
        total,
        "{counts:?}"
    );
    // Every logged attempt was either seen by the sink or cut off by the kill (logged as
    // interrupted before it was sent or answered); no request went unlogged.
    assert!(requests <= logged, "{requests} requests, {logged} attempts logged");
    assert!(
        logged - requests <= interrupted,
        "{logged} logged, {requests} seen, {interrupted} interrupted"
    );
    assert_eq!(replay.status, 200, "{:?}", replay.body);
    assert_eq!(replay.data()["queued"].as_u64(), Some(exhausted));
    assert_eq!(after.get("delivered").copied(), Some(total), "{after:?}");
    let seen = sink.seen();
    let processed: HashSet<&str> = seen
        .iter()
        .filter(|s| s.reply.processed())
        .map(|s| s.webhook_id.as_str())
        .collect();
    assert!(
        ids.iter().all(|id| processed.contains(id.as_str())),
        "every event reached the receiver"
    );
    assert!(seen.iter().all(|s| s.signature_valid));
}
