//! Durability: stop the server mid-run (attempts in flight, leases held, events not yet
//! dispatched), start a new one on the same database, and check nothing is lost.

use std::{collections::HashSet, time::Duration};

use crate::{
    chaos_sink::{ChaosSink, Reply},
    helpers::{backends, boot, test_settings, unique},
    webhooks::{emit, fast, log, org_id, settled, subscribe},
};

#[actix_web::test]
async fn a_restart_mid_run_loses_no_delivery_and_leaves_none_unfinished() {
    const EVENTS: usize = 300;
    let mut settings = test_settings();
    fast(&mut settings);
    settings.webhooks.timeout_ms = 500;
    settings.webhooks.lease_ms = 1000;
    settings.webhooks.batch_size = 16;
    if backends().0.is_none() {
        let path = std::env::temp_dir().join(format!("{}.db", unique("thruai-webhooks-")));
        settings.database.url = format!("sqlite://{}?mode=rwc", path.display());
    }
    let sink = ChaosSink::start().await;
    sink.script(|_| Reply::Slow(Duration::from_millis(30), 200));
    let (mut first, handle) = boot(settings.clone(), String::new()).await;
    let (key, _) = first.signup().await;
    first.api_key.clone_from(&key);
    let hook = subscribe(&first, &sink, &["call.completed"]).await;
    let org = org_id(&first).await;

    let ids = emit(&first, &org, "call.completed", EVENTS).await;
    sink.wait_for(Duration::from_secs(30), |s| s.len() >= 40).await;
    handle.stop(false).await;
    first.state.webhooks.shutdown();
    // Attempts in flight finish first (up to 10 s: a loaded machine is slow to answer).
    for _ in 0..1_000 {
        if first.state.webhooks.actor_count().await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before_restart = sink.count();
    sink.script(|_| Reply::Status(200));
    let (second, _handle) = boot(settings, key).await;
    let counts = settled(&second, &hook.id, EVENTS as u64, Duration::from_secs(60)).await;
    let rows = log(&second, &hook.id).await;

    assert!(before_restart < EVENTS, "the stop happened mid-run");
    assert_eq!(counts.get("delivered").copied(), Some(EVENTS as u64));
    let seen = sink.seen();
    let processed: HashSet<&str> = seen
        .iter()
        .filter(|s| s.reply.processed())
        .map(|s| s.webhook_id.as_str())
        .collect();
    assert!(ids.iter().all(|id| processed.contains(id.as_str())), "at least once");
    assert!(rows.iter().all(|r| r.status != "pending"), "no attempt left in flight");
    assert_eq!(rows.len(), seen.len(), "every request the sink saw is logged");
}
