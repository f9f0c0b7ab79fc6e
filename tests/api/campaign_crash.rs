//! Exactly once through crashes: a 1,000-contact campaign on the real binary, killed
//! (`abort` at the two in-doubt failpoints and right after intents were armed ahead, then
//! SIGKILL at random moments) and restarted
//! several times, ends with exactly one call per contact at the sandbox carrier's own
//! call log, none skipped.

use std::{collections::HashMap, time::Duration};

use rand::Rng;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use thruai_entities::{campaign_dial, sandbox_call};

use crate::processes::{Server, send, shared_env, signup, start, url};

const CONTACTS: usize = 1000;

fn extra(failpoint: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("THRUAI__CAMPAIGNS__TICK_MS", "20"),
        ("THRUAI__CAMPAIGNS__LEASE_MS", "800"),
        ("THRUAI__CAMPAIGNS__IN_DOUBT_AFTER_MS", "3000"),
        ("THRUAI__CAMPAIGNS__SANDBOX_CALL_MS", "100"),
        ("THRUAI__DATABASE__MAX_CONNECTIONS", "10"),
        ("THRUAI__TESTING__FAILPOINT", failpoint),
    ]
}

async fn get(client: &reqwest::Client, server: &Server, key: &str, path: &str) -> Value {
    send(client.get(url(server, path)).bearer_auth(key)).await.body["data"].clone()
}

async fn post(client: &reqwest::Client, server: &Server, key: &str, path: &str, body: &Value) -> Value {
    let r = send(client.post(url(server, path)).bearer_auth(key).json(body)).await;
    assert!(r.status.is_success(), "{path}: {:?}", r.body);
    r.body["data"].clone()
}

/// Waits for the process to die by itself (a failpoint aborted it).
pub(crate) fn wait_for_abort(server: &mut Server) {
    for _ in 0..300 {
        if server.child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the failpoint never fired");
}

#[actix_web::test]
async fn a_campaign_killed_at_random_points_calls_every_contact_exactly_once() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let mut server = start(&shared, &extra("campaign_abort_after_place"));
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
        &json!({ "name": "Crash", "pipelineMode": "traditional", "firstMessage": "Hi {{name}}" }),
    )
    .await;
    let campaign = post(
        &client,
        &server,
        &key,
        "/campaigns",
        &json!({ "name": "Crash", "agentId": agent["id"], "maxConcurrentCalls": 40 }),
    )
    .await;
    let id = campaign["id"].as_str().unwrap().to_string();
    let numbers: Vec<String> = (0..CONTACTS).map(|i| format!("+1646{:07}", 2_000_000 + i)).collect();
    for page in numbers.chunks(400) {
        let contacts: Vec<Value> = page
            .iter()
            .map(|n| json!({ "phoneNumber": n, "name": "Pat" }))
            .collect();
        let added = post(
            &client,
            &server,
            &key,
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": contacts }),
        )
        .await;
        assert_eq!(added["added"], json!(page.len()));
    }
    // 1. Abort right after the carrier placed a call, before its acknowledgement was recorded.
    post(&client, &server, &key, &format!("/campaigns/{id}/start"), &json!({})).await;
    wait_for_abort(&mut server);
    // 2. Resumed: the in-doubt intent is found at the carrier; then abort right after the
    //    next intent was recorded, before the carrier was asked.
    server = start(&shared, &extra("campaign_abort_after_intent"));
    wait_for_abort(&mut server);
    // 3. Abort right after intents were armed ahead (never sent to the carrier): the next
    //    owner puts them back in the queue and dials each contact once.
    server = start(&shared, &extra("campaign_abort_after_arm"));
    wait_for_abort(&mut server);
    // 4. SIGKILL at random moments.
    let mut rng = rand::rng();
    for _ in 0..3 {
        server = start(&shared, &extra(""));
        let ms = rng.random_range(700..2500);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
    }
    // 5. The last process finishes the campaign.
    server = start(&shared, &extra(""));
    let mut status = String::new();
    for _ in 0..1800 {
        status = get(&client, &server, &key, &format!("/campaigns/{id}")).await["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if status == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let debug = get(&client, &server, &key, &format!("/_debug/campaigns/{id}")).await;
    assert_eq!(status, "completed", "{debug:#}");
    let stats = get(&client, &server, &key, &format!("/campaigns/{id}/stats")).await;
    assert_eq!(stats["stats"]["total"], json!(CONTACTS));
    assert_eq!(stats["stats"]["queued"], 0);
    assert_eq!(stats["stats"]["inProgress"], 0);
    assert_eq!(stats["percentComplete"], 100.0);

    // The carrier's truth: exactly one call per contact, each under its own intent key.
    let db = thruai::store::connect(&thruai::config::DatabaseSettings {
        url: shared
            .iter()
            .find(|(k, _)| k == "THRUAI__DATABASE__URL")
            .unwrap()
            .1
            .clone(),
        schema: shared
            .iter()
            .find(|(k, _)| k == "THRUAI__DATABASE__SCHEMA")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
        max_connections: 2,
        migrate_on_start: false,
    })
    .await
    .unwrap();
    let placed = sandbox_call::Entity::find().all(&db).await.unwrap();
    let mut per: HashMap<&str, usize> = HashMap::new();
    for p in &placed {
        *per.entry(p.to_number.as_str()).or_default() += 1;
    }
    let skipped: Vec<&String> = numbers.iter().filter(|n| !per.contains_key(n.as_str())).collect();
    let twice: Vec<(&&str, &usize)> = per.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        skipped.is_empty(),
        "{} contacts never called: {:?}",
        skipped.len(),
        &skipped[..skipped.len().min(5)]
    );
    assert!(twice.is_empty(), "contacts called more than once: {twice:?}");
    assert_eq!(placed.len(), CONTACTS);
    let mut keys: Vec<&str> = placed.iter().filter_map(|p| p.intent_key.as_deref()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), CONTACTS, "every carrier call carries its own intent key");
    // The acknowledgement lost by the first abort was recovered by asking the carrier.
    let dials = campaign_dial::Entity::find().all(&db).await.unwrap();
    assert!(dials.iter().any(|d| d.reconciled), "no in-doubt intent was reconciled");
    assert!(dials.iter().all(|d| d.status == "done"));
    assert_eq!(dials.len(), CONTACTS);
    // The per-status counts kept through every abort equal the contacts' own statuses.
    let campaign_id = id.as_str();
    assert_eq!(
        thruai::store::campaigns::counts(&db, campaign_id).await.unwrap(),
        thruai::store::campaigns::count_contacts(&db, campaign_id)
            .await
            .unwrap()
    );
    drop(server);
}
