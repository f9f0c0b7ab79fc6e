//! Outbound campaigns end to end on the sandbox carrier: CRUD and lifecycle, contacts with
//! per-row reasons, dialling through the live-call machinery with retries, suppression,
//! the concurrency cap checked at the carrier's own call log, pause/resume mid-dial,
//! calling windows, stats views and the debug view.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Datelike, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use thruai_entities::{call, campaign, sandbox_call};

use crate::helpers::{TestApp, spawn_with};

async fn app(sandbox_call_ms: u64) -> TestApp {
    spawn_with(move |s| {
        s.campaigns.tick_ms = 40;
        s.campaigns.in_doubt_after_ms = 2000;
        s.campaigns.sandbox_call_ms = sandbox_call_ms;
        s.calls.silence_timeout_ms = 8000;
    })
    .await
}

/// A sandbox number and an agent whose greeting uses `{{firstName}}`.
async fn agent(app: &TestApp) -> String {
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app
        .post(
            "/agents",
            &json!({ "name": "Reminders", "pipelineMode": "traditional",
                     "firstMessage": "Hi {{firstName}}",
                     "systemPrompt": "You remind {{firstName}} of an appointment." }),
        )
        .await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    a.data()["id"].as_str().unwrap().to_string()
}

async fn campaign(app: &TestApp, body: Value) -> String {
    let r = app.post("/campaigns", &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["status"], "draft");
    r.data()["id"].as_str().unwrap().to_string()
}

async fn stats(app: &TestApp, id: &str) -> Value {
    let r = app.get(&format!("/campaigns/{id}/stats")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data().clone()
}

async fn wait_status(app: &TestApp, id: &str, status: &str, secs: u64) -> Value {
    for _ in 0..secs * 10 {
        let r = app.get(&format!("/campaigns/{id}")).await;
        if r.data()["status"] == status {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dbg = app.get(&format!("/_debug/campaigns/{id}")).await;
    panic!("campaign {id} never reached {status}: {:#}", dbg.body);
}

async fn sandbox_calls(app: &TestApp) -> Vec<sandbox_call::Model> {
    sandbox_call::Entity::find().all(&app.state.db).await.unwrap()
}

async fn org_of(app: &TestApp, campaign_id: &str) -> String {
    campaign::Entity::find_by_id(campaign_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .org_id
}

/// The most calls open at once at the carrier: each sandbox call from its creation to the
/// end of its call record.
async fn max_overlap(app: &TestApp) -> usize {
    let placed = sandbox_calls(app).await;
    let calls: HashMap<String, call::Model> = call::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| Some((c.provider_call_sid.clone()?, c)))
        .collect();
    let mut edges: Vec<(DateTime<Utc>, i32)> = Vec::new();
    for p in &placed {
        let end = calls
            .get(&p.sid)
            .and_then(|c| c.ended_at)
            .expect("every placed call ended");
        edges.push((p.created_at, 1));
        edges.push((end, -1));
    }
    // Ends before starts at the same instant.
    edges.sort_by_key(|(t, d)| (*t, *d));
    let (mut open, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        open += d;
        most = most.max(open);
    }
    usize::try_from(most).unwrap()
}

#[actix_web::test]
async fn campaigns_are_created_validated_listed_updated_and_deleted() {
    let app = app(100).await;
    let agent = agent(&app).await;

    // Validation: field errors in the envelope, unknown agent, bad number.
    let bad = app
        .post(
            "/campaigns",
            &json!({ "name": "", "agentId": agent, "maxConcurrentCalls": 0,
                     "callingWindow": { "timezone": "Mars/Base", "startTime": "9:00", "endTime": "08:00" },
                     "retryPolicy": { "maxAttempts": 11, "retryOn": ["completed"] } }),
        )
        .await;
    assert_eq!(bad.code(), "VALIDATION_ERROR", "{:?}", bad.body);
    let fields: Vec<&str> = bad.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    for f in [
        "name",
        "maxConcurrentCalls",
        "callingWindow.timezone",
        "retryPolicy.maxAttempts",
        "retryPolicy.retryOn",
    ] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let typo = app.post("/campaigns", &json!({ "name": "x", "agentID": agent })).await;
    assert_eq!(typo.code(), "VALIDATION_ERROR");
    let no_agent = app
        .post("/campaigns", &json!({ "name": "x", "agentId": "AGT-nope" }))
        .await;
    assert_eq!(no_agent.code(), "INVALID_AGENT");
    let not_mine = app
        .post(
            "/campaigns",
            &json!({ "name": "x", "agentId": agent, "fromNumber": "+19995550123" }),
        )
        .await;
    assert_eq!(not_mine.code(), "INVALID_NUMBER");
    // A window may cross midnight (it ends the next day); an empty one is refused.
    let empty = app
        .post(
            "/campaigns",
            &json!({ "name": "x", "agentId": agent,
                     "callingWindow": { "timezone": "UTC", "startTime": "09:00", "endTime": "09:00" } }),
        )
        .await;
    assert_eq!(empty.code(), "VALIDATION_ERROR");
    assert_eq!(empty.body["error"]["details"][0]["field"], "callingWindow.endTime");
    let night = app
        .post(
            "/campaigns",
            &json!({ "name": "Night", "agentId": agent,
                     "callingWindow": { "timezone": "Europe/Paris", "startTime": "22:00", "endTime": "02:00" } }),
        )
        .await;
    assert_eq!(night.status, 201, "{:?}", night.body);
    assert_eq!(night.data()["callingWindow"]["endTime"], "02:00");
    let night_id = night.data()["id"].as_str().unwrap().to_string();
    assert_eq!(app.delete(&format!("/campaigns/{night_id}")).await.status, 200);

    let id = campaign(
        &app,
        json!({ "name": "Reminders", "agentId": agent, "maxConcurrentCalls": 2,
                "callingWindow": { "timezone": "Europe/Paris", "startTime": "09:00", "endTime": "18:00" },
                "retryPolicy": { "maxAttempts": 3, "delaySecs": 60, "retryOn": ["busy"] },
                "metadata": { "team": "a" } }),
    )
    .await;
    assert!(id.starts_with("CMP-"));
    let got = app.get(&format!("/campaigns/{id}")).await;
    assert_eq!(
        got.data()["callingWindow"]["days"],
        json!(["mon", "tue", "wed", "thu", "fri"])
    );
    assert_eq!(
        got.data()["retryPolicy"],
        json!({ "maxAttempts": 3, "delaySecs": 60, "retryOn": ["busy"] })
    );
    assert_eq!(got.data()["stats"]["total"], 0);
    let list = app.get("/campaigns?status=draft").await;
    assert_eq!(list.data()["pagination"]["total"], 1);
    assert_eq!(list.data()["campaigns"][0]["id"], json!(id));
    assert_eq!(app.get("/campaigns?status=bogus").await.code(), "VALIDATION_ERROR");

    // Lifecycle: a draft cannot be paused, nor set to completed.
    let pause = app.post(&format!("/campaigns/{id}/pause"), &json!({})).await;
    assert_eq!(pause.code(), "RESOURCE_CONFLICT", "{:?}", pause.body);
    let done = app
        .patch(&format!("/campaigns/{id}"), &json!({ "status": "completed" }))
        .await;
    assert_eq!(done.code(), "RESOURCE_CONFLICT");
    let p = app
        .patch(
            &format!("/campaigns/{id}"),
            &json!({ "maxConcurrentCalls": 4, "name": "Renamed" }),
        )
        .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    assert_eq!(p.data()["maxConcurrentCalls"], 4);
    assert_eq!(p.data()["name"], "Renamed");

    // Another organisation sees nothing.
    let other = app.other_org().await;
    assert_eq!(other.get(&format!("/campaigns/{id}")).await.code(), "NOT_FOUND");
    assert_eq!(other.get(&format!("/campaigns/{id}/stats")).await.code(), "NOT_FOUND");
    assert_eq!(other.get(&format!("/_debug/campaigns/{id}")).await.code(), "NOT_FOUND");
    assert_eq!(other.delete(&format!("/campaigns/{id}")).await.code(), "NOT_FOUND");

    // Running via PATCH {status}, then deleted: stopped first.
    let add = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": "+14155552001" }] }),
        )
        .await;
    assert_eq!(add.status, 201);
    let run = app
        .patch(&format!("/campaigns/{id}"), &json!({ "status": "running" }))
        .await;
    assert_eq!(run.status, 200, "{:?}", run.body);
    assert_eq!(run.data()["status"], "running");
    let del = app.delete(&format!("/campaigns/{id}")).await;
    assert_eq!(del.status, 200, "{:?}", del.body);
    assert!(del.data()["warnings"][0].as_str().unwrap().contains("stopped"));
    assert_eq!(app.get(&format!("/campaigns/{id}")).await.code(), "NOT_FOUND");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!app.state.campaigns.is_running(&id));
}

#[actix_web::test]
async fn contacts_are_accepted_or_rejected_row_by_row() {
    let app = app(100).await;
    let agent = agent(&app).await;
    let id = campaign(&app, json!({ "name": "C", "agentId": agent })).await;
    let org = org_of(&app, &id).await;
    thruai::store::sms::opt_out(&app.state.db, &org, "+14155550100", "+14155553000", "STOP")
        .await
        .unwrap();
    let r = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [
                { "phoneNumber": "+14155553001", "name": "A", "customData": { "firstName": "Ann", "timezone": "America/Chicago" } },
                { "phoneNumber": "4155553002" },
                { "phoneNumber": "+14155553001" },
                { "phoneNumber": "+14155553000" },
                { "phoneNumber": "+14155553003", "customData": { "timezone": "Nowhere/City" } },
                { "phoneNumber": "+14155553004", "customData": "not an object" },
                { "phoneNumber": "+14155553005" },
                { "phoneNumber": "+14155553006", "name": "A\u{0}B" },
                { "phoneNumber": "+14155553007", "customData": { "note": "x\u{0}" } }
            ] }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.data()["added"], 2);
    assert_eq!(r.data()["failed"], 7);
    let reasons: Vec<(u64, String)> = r.data()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["reason"].as_str().unwrap().to_string()))
        .collect();
    assert!(
        reasons[0].0 == 1 && reasons[0].1.starts_with("invalid number"),
        "{reasons:?}"
    );
    assert!(reasons[1].0 == 2 && reasons[1].1.starts_with("duplicate"));
    assert!(reasons[2].0 == 3 && reasons[2].1.starts_with("opted out"));
    assert!(reasons[3].0 == 4 && reasons[3].1.starts_with("invalid timezone"));
    assert!(reasons[4].0 == 5 && reasons[4].1.starts_with("invalid customData"));
    assert!(
        reasons[5].0 == 7 && reasons[5].1.starts_with("invalid name"),
        "{reasons:?}"
    );
    assert!(reasons[6].0 == 8 && reasons[6].1.starts_with("invalid customData"));
    // Already in the campaign: duplicate on a later page too.
    let again = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": "+14155553005" }] }),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.data()["added"], 0);
    assert!(
        again.data()["errors"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("duplicate")
    );
    // Empty and oversized pages are refused whole.
    let empty = app
        .post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": [] }))
        .await;
    assert_eq!(empty.code(), "VALIDATION_ERROR");
    let max = app.state.settings.campaigns.max_contacts_per_request;
    let too_many: Vec<Value> = (0..=max)
        .map(|i| json!({ "phoneNumber": format!("+1212{i:07}") }))
        .collect();
    let big = app
        .post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": too_many }))
        .await;
    assert_eq!(big.code(), "VALIDATION_ERROR");
    assert!(
        big.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pages")
    );

    let list = app.get(&format!("/campaigns/{id}/contacts?status=queued")).await;
    assert_eq!(list.data()["pagination"]["total"], 2);
    let first = &list.data()["contacts"][0];
    assert_eq!(first["phoneNumber"], "+14155553001");
    assert_eq!(first["timezone"], "America/Chicago");
    assert_eq!(first["attempts"], 0);
    assert_eq!(first["calls"], json!([]));
    assert_eq!(
        app.get(&format!("/campaigns/{id}/contacts?status=nope")).await.code(),
        "VALIDATION_ERROR"
    );
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["total"], 2);
    assert_eq!(s["stats"]["queued"], 2);
}

#[actix_web::test]
async fn a_campaign_dials_each_contact_retries_by_policy_and_keeps_to_its_cap() {
    let app = app(150).await;
    let agent = agent(&app).await;
    let id = campaign(
        &app,
        json!({ "name": "Wave", "agentId": agent, "maxConcurrentCalls": 3,
                "retryPolicy": { "maxAttempts": 2, "delaySecs": 0, "retryOn": ["no_answer", "busy"] } }),
    )
    .await;
    let mut contacts: Vec<Value> = (0..10)
        .map(|i| json!({ "phoneNumber": format!("+1212555{:04}", 1000 + i), "customData": { "firstName": format!("P{i}") } }))
        .collect();
    // Busy every time; no answer the first time only; failed (not retried: not in retryOn).
    contacts.push(json!({ "phoneNumber": "+12125550200" }));
    contacts.push(json!({ "phoneNumber": "+12125550300" }));
    contacts.push(json!({ "phoneNumber": "+12125550400" }));
    contacts.push(json!({ "phoneNumber": "+12125559999" }));
    let r = app
        .post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": contacts }))
        .await;
    assert_eq!(r.data()["added"], 14, "{:?}", r.body);
    // Opted out after being added: suppressed when its turn comes, never dialled.
    let org = org_of(&app, &id).await;
    thruai::store::sms::opt_out(&app.state.db, &org, "+14155550100", "+12125559999", "STOP")
        .await
        .unwrap();

    let started = app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    assert_eq!(started.data()["status"], "running");
    wait_status(&app, &id, "completed", 60).await;

    let s = stats(&app, &id).await;
    assert_eq!(
        s["stats"],
        json!({ "total": 14, "queued": 0, "inProgress": 0, "completed": 11, "failed": 2, "suppressed": 1 })
    );
    // The stats come from the counts kept with each move; they equal the contacts' own.
    assert_eq!(
        thruai::store::campaigns::counts(&app.state.db, &id).await.unwrap(),
        thruai::store::campaigns::count_contacts(&app.state.db, &id)
            .await
            .unwrap()
    );
    assert_eq!(s["percentComplete"], 100.0);
    assert_eq!(s["successRate"], 84.62);
    let flat = app.get(&format!("/campaigns/{id}/progress")).await;
    assert_eq!(flat.data()["pending"], 0);
    assert_eq!(flat.data()["completed"], 11);
    assert_eq!(flat.data()["successRate"], 84.62);
    assert!(flat.data().get("stats").is_none());

    // At the carrier: one call per answered contact, two for the retried ones, none for
    // the suppressed one.
    let placed = sandbox_calls(&app).await;
    let mut per: HashMap<String, usize> = HashMap::new();
    for p in &placed {
        *per.entry(p.to_number.clone()).or_default() += 1;
        assert!(p.intent_key.is_some());
    }
    for i in 0..10 {
        assert_eq!(per.get(&format!("+1212555{:04}", 1000 + i)), Some(&1));
    }
    assert_eq!(per.get("+12125550200"), Some(&2));
    assert_eq!(per.get("+12125550300"), Some(&2));
    assert_eq!(per.get("+12125550400"), Some(&1));
    assert_eq!(per.get("+12125559999"), None);
    assert_eq!(placed.len(), 15);
    let most = max_overlap(&app).await;
    assert!(most <= 3, "{most} calls were open at once with a cap of 3");
    assert!(most >= 2, "the campaign never dialled in parallel ({most})");

    // Contacts carry their attempts and calls; the agent's variables came from customData.
    let busy = app.get(&format!("/campaigns/{id}/contacts?status=failed")).await;
    let rows = busy.data()["contacts"].as_array().unwrap();
    let b = rows.iter().find(|c| c["phoneNumber"] == "+12125550200").unwrap();
    assert_eq!(b["attempts"], 2);
    assert_eq!(b["lastOutcome"], "busy");
    assert_eq!(b["calls"].as_array().unwrap().len(), 2);
    assert_eq!(b["callIds"].as_array().unwrap().len(), 2);
    let done = app
        .get(&format!("/campaigns/{id}/contacts?status=completed&pageSize=100"))
        .await;
    let p0 = done.data()["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phoneNumber"] == "+12125551000")
        .unwrap()
        .clone();
    let call_id = p0["callIds"][0].as_str().unwrap();
    let c = app.get(&format!("/calls/{call_id}")).await;
    assert_eq!(c.data()["status"], "completed", "{:?}", c.body);
    let row = call::Entity::find_by_id(call_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.variables["firstName"], "P0");
    assert_eq!(row.metadata["campaignId"], json!(id));
    let suppressed = app.get(&format!("/campaigns/{id}/contacts?status=suppressed")).await;
    assert_eq!(suppressed.data()["contacts"][0]["phoneNumber"], "+12125559999");

    // Completed: no more starts, no more contacts.
    assert_eq!(
        app.post(&format!("/campaigns/{id}/start"), &json!({})).await.code(),
        "RESOURCE_CONFLICT"
    );
    let dbg = app.get(&format!("/_debug/campaigns/{id}")).await;
    assert_eq!(dbg.status, 200);
    assert!(dbg.data()["diagnosis"].as_str().unwrap().starts_with("Completed"));
    assert!(dbg.data()["actor"]["dialsStarted"].as_u64().unwrap() >= 14);
}

#[actix_web::test]
async fn pausing_mid_dial_lets_calls_in_flight_finish_and_dials_nothing_new_until_resumed() {
    let app = app(600).await;
    let agent = agent(&app).await;
    let id = campaign(&app, json!({ "name": "P", "agentId": agent, "maxConcurrentCalls": 2 })).await;
    let contacts: Vec<Value> = (0..8)
        .map(|i| json!({ "phoneNumber": format!("+1312555{:04}", 2000 + i) }))
        .collect();
    app.post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": contacts }))
        .await;
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    // Wait for the first dials.
    for _ in 0..100 {
        if !sandbox_calls(&app).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let paused = app.post(&format!("/campaigns/{id}/pause"), &json!({})).await;
    assert_eq!(paused.data()["status"], "paused");
    // Intents started before the pause committed are dialled; none after it (those armed
    // ahead are not calls: they go back to the queue).
    let at_pause = thruai_entities::campaign_dial::Entity::find()
        .filter(thruai_entities::campaign_dial::Column::Status.ne("armed"))
        .all(&app.state.db)
        .await
        .unwrap()
        .len();
    assert!((1..=2).contains(&at_pause), "{at_pause}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // The calls in flight ended; nothing new was dialled, nothing is left armed.
    assert_eq!(sandbox_calls(&app).await.len(), at_pause);
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["inProgress"], 0, "{s}");
    assert_eq!(s["stats"]["queued"], json!(8 - at_pause), "{s}");
    assert_eq!(s["stats"]["completed"], json!(at_pause));
    let dials = thruai_entities::campaign_dial::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(dials.len(), at_pause, "armed intents were put back: {dials:?}");
    assert!(dials.iter().all(|d| d.status == "done"), "{dials:?}");
    let contacts = app.get(&format!("/campaigns/{id}/contacts?status=queued")).await;
    for c in contacts.data()["contacts"].as_array().unwrap() {
        assert_eq!(c["attempts"], 0, "a contact put back gets its attempt back: {c}");
        assert_eq!(c["calls"], json!([]), "{c}");
    }
    let dbg = app.get(&format!("/_debug/campaigns/{id}")).await;
    assert!(
        dbg.data()["diagnosis"].as_str().unwrap().starts_with("Paused"),
        "{:?}",
        dbg.body
    );
    // Pausing again changes nothing; resuming dials the rest.
    assert_eq!(
        app.post(&format!("/campaigns/{id}/pause"), &json!({})).await.status,
        200
    );
    let resumed = app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    assert_eq!(resumed.data()["status"], "running");
    wait_status(&app, &id, "completed", 60).await;
    assert_eq!(sandbox_calls(&app).await.len(), 8);
    assert_eq!(stats(&app, &id).await["stats"]["completed"], 8);
}

/// The debug view's intents armed ahead and calls in flight.
async fn armed_and_in_flight(app: &TestApp, id: &str) -> (usize, usize) {
    let d = app.get(&format!("/_debug/campaigns/{id}")).await;
    let n = |k: &str| d.data()[k].as_array().map_or(0, Vec::len);
    (n("armedDials"), n("inFlightDials"))
}

#[actix_web::test]
async fn intents_armed_ahead_are_no_calls_and_go_back_to_the_queue_when_the_window_changes() {
    let app = app(800).await;
    let agent = agent(&app).await;
    let id = campaign(
        &app,
        json!({ "name": "Ahead", "agentId": agent, "maxConcurrentCalls": 2 }),
    )
    .await;
    let contacts: Vec<Value> = (0..12)
        .map(|i| json!({ "phoneNumber": format!("+1312555{:04}", 3000 + i) }))
        .collect();
    app.post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": contacts }))
        .await;
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    // Two calls in flight (the cap) and two intents armed ahead for the next free slots.
    let mut seen = (0, 0);
    for _ in 0..100 {
        seen = armed_and_in_flight(&app, &id).await;
        if seen == (2, 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(seen, (2, 2), "armed ahead / in flight");
    // Armed contacts are in progress, but their intents are no calls: no call row, and the
    // contact view lists no call for them.
    let armed = thruai_entities::campaign_dial::Entity::find()
        .filter(thruai_entities::campaign_dial::Column::Status.eq("armed"))
        .all(&app.state.db)
        .await
        .unwrap();
    for d in &armed {
        assert!(
            call::Entity::find_by_id(d.call_id.as_str())
                .one(&app.state.db)
                .await
                .unwrap()
                .is_none()
        );
    }
    // A slot freed by a call's end is filled from the intents armed ahead: calls follow
    // each other, never more than the cap at once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(sandbox_calls(&app).await.len() >= 4);
    // The calling window changes to one closed now: what was armed goes back to the queue
    // (deferred to the window's next opening), and nothing new starts.
    let today = Utc::now().weekday();
    let days: Vec<String> = [
        chrono::Weekday::Mon,
        chrono::Weekday::Tue,
        chrono::Weekday::Wed,
        chrono::Weekday::Thu,
        chrono::Weekday::Fri,
        chrono::Weekday::Sat,
        chrono::Weekday::Sun,
    ]
    .into_iter()
    .filter(|d| *d != today)
    .map(|d| d.to_string().to_lowercase())
    .collect();
    let r = app
        .patch(
            &format!("/campaigns/{id}"),
            &json!({ "callingWindow": { "timezone": "UTC", "startTime": "00:00", "endTime": "23:59", "days": days } }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mut armed_left = usize::MAX;
    for _ in 0..100 {
        armed_left = armed_and_in_flight(&app, &id).await.0;
        if armed_left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(armed_left, 0, "intents armed ahead were put back");
    let placed = sandbox_calls(&app).await.len();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        sandbox_calls(&app).await.len(),
        placed,
        "nothing starts outside the window"
    );
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["inProgress"], 0, "{s}");
    assert_eq!(s["stats"]["queued"], json!(12 - placed), "{s}");
    let queued = app
        .get(&format!("/campaigns/{id}/contacts?status=queued&pageSize=100"))
        .await;
    for c in queued.data()["contacts"].as_array().unwrap() {
        assert_eq!(c["attempts"], 0, "a contact put back gets its attempt back: {c}");
        assert_eq!(c["calls"], json!([]), "{c}");
    }
    let dbg = app.get(&format!("/_debug/campaigns/{id}")).await;
    assert!(
        dbg.data()["diagnosis"].as_str().unwrap().contains("calling window"),
        "{:#}",
        dbg.body
    );
    let dials = thruai_entities::campaign_dial::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(dials.len(), placed);
    assert!(max_overlap(&app).await <= 2);
    assert_eq!(
        thruai::store::campaigns::counts(&app.state.db, &id).await.unwrap(),
        thruai::store::campaigns::count_contacts(&app.state.db, &id)
            .await
            .unwrap()
    );
}

#[actix_web::test]
async fn outside_the_calling_window_nothing_is_dialled_and_the_debug_view_says_why() {
    let app = app(100).await;
    let agent = agent(&app).await;
    // Open every day but today (UTC), all day long.
    let today = Utc::now().weekday();
    let days: Vec<String> = [
        chrono::Weekday::Mon,
        chrono::Weekday::Tue,
        chrono::Weekday::Wed,
        chrono::Weekday::Thu,
        chrono::Weekday::Fri,
        chrono::Weekday::Sat,
        chrono::Weekday::Sun,
    ]
    .into_iter()
    .filter(|d| *d != today)
    .map(|d| d.to_string().to_lowercase())
    .collect();
    let id = campaign(
        &app,
        json!({ "name": "W", "agentId": agent,
                "callingWindow": { "timezone": "UTC", "startTime": "00:00", "endTime": "23:59", "days": days } }),
    )
    .await;
    app.post(
        &format!("/campaigns/{id}/contacts"),
        &json!({ "contacts": [{ "phoneNumber": "+14155554001" }, { "phoneNumber": "+14155554002" }] }),
    )
    .await;
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(sandbox_calls(&app).await.is_empty());
    let dbg = app.get(&format!("/_debug/campaigns/{id}")).await;
    let d = dbg.data();
    assert_eq!(d["status"], "running");
    assert!(d["diagnosis"].as_str().unwrap().contains("calling window"), "{d:#}");
    assert_eq!(d["window"]["openNow"], false);
    let next: DateTime<Utc> = d["window"]["nextOpening"].as_str().unwrap().parse().unwrap();
    assert!(next > Utc::now() && next <= Utc::now() + chrono::Duration::days(1));
    assert_eq!(d["lease"]["heldByThisNode"], true);
    assert!(d["actor"]["ticks"].as_u64().unwrap() > 1);
    assert_eq!(stats(&app, &id).await["stats"]["queued"], 2);
    // Paused: the actor passivates and says so.
    app.post(&format!("/campaigns/{id}/pause"), &json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!app.state.campaigns.is_running(&id));
    let calls = sandbox_call::Entity::find()
        .filter(sandbox_call::Column::ToNumber.eq("+14155554001"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(calls.is_empty());
}

#[actix_web::test]
async fn large_lists_are_accepted_in_pages() {
    let app = app(100).await;
    let agent = agent(&app).await;
    let id = campaign(&app, json!({ "name": "Big", "agentId": agent })).await;
    for page in 0..3 {
        let contacts: Vec<Value> = (0..2500)
            .map(|i| json!({ "phoneNumber": format!("+1718{:07}", page * 2500 + i), "name": "Pat", "customData": { "n": i } }))
            .collect();
        let r = app
            .post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": contacts }))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.data()["added"], 2500);
    }
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["total"], 7500);
    let last = app.get(&format!("/campaigns/{id}/contacts?page=75&pageSize=100")).await;
    assert_eq!(last.data()["contacts"][99]["phoneNumber"], "+17180007499");
}

#[actix_web::test]
async fn a_call_the_carrier_never_ends_is_settled_as_failed_after_max_call_secs() {
    let app = spawn_with(|s| {
        s.campaigns.tick_ms = 40;
        s.campaigns.in_doubt_after_ms = 2000;
        s.campaigns.max_call_secs = 1;
        s.calls.silence_timeout_ms = 120_000;
    })
    .await;
    let agent = agent(&app).await;
    // The callee stays on the line in silence for a minute: only the limit can end it.
    let id = campaign(
        &app,
        json!({ "name": "Overdue", "agentId": agent, "maxConcurrentCalls": 2,
                "metadata": { "sandboxScript": [{ "silenceMs": 60000 }, { "hangup": true }] } }),
    )
    .await;
    let r = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": "+14155554001" }, { "phoneNumber": "+14155554002" }] }),
        )
        .await;
    assert_eq!(r.data()["added"], 2);
    let started = std::time::Instant::now();
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    wait_status(&app, &id, "completed", 30).await;
    assert!(started.elapsed() < Duration::from_secs(30));
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["failed"], 2, "{s}");
    assert_eq!(s["stats"]["inProgress"], 0);
    let list = app.get(&format!("/campaigns/{id}/contacts")).await;
    for c in list.data()["contacts"].as_array().unwrap() {
        assert_eq!(c["status"], "failed", "{c}");
        assert_eq!(c["lastOutcome"], "failed");
        assert_eq!(c["calls"][0]["status"], "done");
        assert_eq!(c["calls"][0]["outcome"], "failed");
        // The call itself ended as failed, saying why.
        let call_id = c["callIds"][0].as_str().unwrap();
        let mut call = Value::Null;
        for _ in 0..50 {
            call = app.get(&format!("/calls/{call_id}")).await.data().clone();
            if call["status"] == "failed" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(call["status"], "failed", "{call:#}");
        assert!(
            call["endReason"].as_str().unwrap_or_default().contains("max_call_secs"),
            "{call:#}"
        );
    }
    // Both calls reached the carrier exactly once; the actor hung them up.
    assert_eq!(sandbox_calls(&app).await.len(), 2);
    for _ in 0..50 {
        if app.state.calls.supervisor().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        app.state.calls.supervisor().is_empty(),
        "the overdue calls' actors ended"
    );
}

const TWILIO_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "fake_twilio_auth_token";
const TWILIO_NUMBER: &str = "+14155550123";

/// The state a crash leaves behind: the contact in progress, its call row open and its
/// dial intent recorded but never acknowledged by the carrier.
async fn in_doubt_intent(app: &TestApp, campaign_id: &str, contact_id: &str, to: &str) -> String {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let db = &app.state.db;
    let row = campaign::Entity::find_by_id(campaign_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let number = thruai::store::phone_numbers::find_by_number(db, &row.org_id, TWILIO_NUMBER)
        .await
        .unwrap()
        .unwrap();
    let key = format!("{contact_id}:1");
    let call_row = thruai::app::calls::new_call(
        &row.org_id,
        &row.agent_id,
        thruai::domain::Direction::Outbound,
        TWILIO_NUMBER,
        to,
        Some(&number),
        Default::default(),
        json!({ "campaignId": campaign_id, "contactId": contact_id, "intentKey": key, "attempt": 1 }),
    );
    let call_id = call_row.id.clone();
    thruai::store::calls::insert(db, call_row).await.unwrap();
    let mut contact = thruai_entities::campaign_contact::Entity::find_by_id(contact_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    contact.status = "in_progress".into();
    contact.attempts = 1;
    contact.into_active_model().reset_all().update(db).await.unwrap();
    let now = Utc::now();
    thruai_entities::campaign_dial::Model {
        intent_key: key.clone(),
        campaign_id: campaign_id.into(),
        contact_id: contact_id.into(),
        org_id: row.org_id.clone(),
        attempt: 1,
        call_id,
        epoch: row.owner_epoch,
        status: "pending".into(),
        provider_call_sid: None,
        outcome: None,
        reconciled: false,
        created_at: now,
        updated_at: now,
    }
    .into_active_model()
    .reset_all()
    .insert(db)
    .await
    .unwrap();
    key
}

async fn dial_of(app: &TestApp, key: &str) -> thruai_entities::campaign_dial::Model {
    thruai_entities::campaign_dial::Entity::find_by_id(key)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

#[actix_web::test]
async fn in_doubt_twilio_dials_are_reconciled_with_twilios_call_log() {
    use crate::fake_twilio::FakeTwilio;
    let twilio = FakeTwilio::start().await;
    twilio.add_account(TWILIO_ACCOUNT, TWILIO_TOKEN, "active");
    twilio.add_owned_number(TWILIO_ACCOUNT, TWILIO_NUMBER, None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.campaigns.tick_ms = 40;
        s.campaigns.in_doubt_after_ms = 2000;
        s.providers.twilio.api_base = base;
        s.providers.twilio.account_sid = TWILIO_ACCOUNT.into();
        s.providers.twilio.auth_token = TWILIO_TOKEN.into();
    })
    .await;
    let n = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": TWILIO_NUMBER }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app
        .post(
            "/agents",
            &json!({ "name": "Caller", "pipelineMode": "traditional", "firstMessage": "Hi." }),
        )
        .await;
    let agent = a.data()["id"].as_str().unwrap().to_string();
    let id = campaign(
        &app,
        json!({ "name": "Twilio", "agentId": agent, "fromNumber": TWILIO_NUMBER, "maxConcurrentCalls": 5 }),
    )
    .await;
    let (placed_to, lost_to) = ("+14155550177", "+14155550178");
    let r = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": placed_to }, { "phoneNumber": lost_to }] }),
        )
        .await;
    assert_eq!(r.data()["added"], 2);
    let contacts = app.get(&format!("/campaigns/{id}/contacts")).await;
    let contact_of = |to: &str| {
        contacts.data()["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["phoneNumber"] == to)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (placed_contact, lost_contact) = (contact_of(placed_to), contact_of(lost_to));
    // An older call to the second callee (another attempt, an hour ago) must not count.
    let http = reqwest::Client::new();
    let create = |to: &'static str| {
        http.post(format!(
            "{}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls.json",
            twilio.base_url
        ))
        .basic_auth(TWILIO_ACCOUNT, Some(TWILIO_TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("To", to), ("From", TWILIO_NUMBER), ("Url", "http://127.0.0.1:9/twiml")])
                .finish(),
        )
        .send()
    };
    let old: Value = create(lost_to).await.unwrap().json().await.unwrap();
    twilio
        .state
        .lock()
        .unwrap()
        .calls
        .iter_mut()
        .filter(|c| c.sid == old["sid"].as_str().unwrap())
        .for_each(|c| c.created -= 3600);
    // A crash after the carrier placed the first call, before its acknowledgement was
    // recorded; and one before the carrier was asked for the second.
    let placed_key = in_doubt_intent(&app, &id, &placed_contact, placed_to).await;
    let at_twilio: Value = create(placed_to).await.unwrap().json().await.unwrap();
    let lost_key = in_doubt_intent(&app, &id, &lost_contact, lost_to).await;
    twilio.clear_requests();

    // The resumed actor asks Twilio before dialling anything.
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    let mut found = dial_of(&app, &placed_key).await;
    let mut redialled = dial_of(&app, &lost_key).await;
    for _ in 0..100 {
        if found.status != "pending" && redialled.status != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        found = dial_of(&app, &placed_key).await;
        redialled = dial_of(&app, &lost_key).await;
    }
    // Found in Twilio's log: its sid recorded, nothing dialled again.
    assert!(found.reconciled, "{found:?}");
    assert_eq!(found.provider_call_sid.as_deref(), at_twilio["sid"].as_str());
    // Unknown to Twilio (the older call is another attempt's): dialled again under the
    // same key, once.
    assert!(!redialled.reconciled, "{redialled:?}");
    assert!(matches!(redialled.status.as_str(), "placed" | "done"), "{redialled:?}");
    let lookups = twilio.requests_to("GET", "/Calls.json");
    assert!(
        lookups.iter().any(|r| r.param("To") == Some(lost_to))
            && lookups.iter().any(|r| r.param("To") == Some(placed_to)),
        "{lookups:?}"
    );
    let creates = twilio.requests_to("POST", "/Calls.json");
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(creates[0].param("To"), Some(lost_to));
    let calls_to = |to: &str| twilio.calls().into_iter().filter(|c| c.to == to).count();
    assert_eq!(calls_to(placed_to), 1);
    assert_eq!(calls_to(lost_to), 2);
    let new_sid = twilio
        .calls()
        .into_iter()
        .filter(|c| c.to == lost_to && c.sid != old["sid"].as_str().unwrap())
        .map(|c| c.sid)
        .next();
    assert_eq!(redialled.provider_call_sid, new_sid);
    // The found call's first row was closed by the crash: the contact's outcome is
    // `interrupted` (its phone rang; never redialled).
    let mut contact = Value::Null;
    for _ in 0..50 {
        let list = app.get(&format!("/campaigns/{id}/contacts?status=failed")).await;
        if let Some(c) = list.data()["contacts"].as_array().and_then(|l| l.first()) {
            contact = c.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(contact["id"], placed_contact.as_str(), "{contact:#}");
    assert_eq!(contact["lastOutcome"], "interrupted");
    assert_eq!(contact["attempts"], 1);
}

/// A carrier that accepts the campaign's calls and never calls back: each call ends at the
/// ring timeout (`carrier_timeout`) and the campaign moves on to its end.
#[actix_web::test]
async fn a_campaign_moves_on_when_the_carrier_never_calls_back() {
    use crate::fake_twilio::FakeTwilio;
    let twilio = FakeTwilio::start().await;
    twilio.add_account(TWILIO_ACCOUNT, TWILIO_TOKEN, "active");
    twilio.add_owned_number(TWILIO_ACCOUNT, TWILIO_NUMBER, None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.campaigns.tick_ms = 40;
        s.calls.ring_timeout_secs = 1;
        s.providers.twilio.api_base = base;
        s.providers.twilio.account_sid = TWILIO_ACCOUNT.into();
        s.providers.twilio.auth_token = TWILIO_TOKEN.into();
    })
    .await;
    let n = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": TWILIO_NUMBER }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app.post("/agents", &json!({ "name": "Caller" })).await;
    let agent = a.data()["id"].as_str().unwrap().to_string();
    let id = campaign(
        &app,
        json!({ "name": "Silent carrier", "agentId": agent, "fromNumber": TWILIO_NUMBER, "maxConcurrentCalls": 1 }),
    )
    .await;
    let r = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": "+14155550177" }, { "phoneNumber": "+14155550178" }] }),
        )
        .await;
    assert_eq!(r.data()["added"], 2);
    app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    wait_status(&app, &id, "completed", 30).await;
    let s = stats(&app, &id).await;
    assert_eq!(s["stats"]["failed"], 2, "{s}");
    assert_eq!(twilio.calls().len(), 2, "one call each, dialled one after the other");
    let list = app.get(&format!("/campaigns/{id}/contacts")).await;
    for c in list.data()["contacts"].as_array().unwrap() {
        let call = app.get(&format!("/calls/{}", c["callIds"][0].as_str().unwrap())).await;
        assert_eq!(call.data()["endReason"], "carrier_timeout", "{:#}", call.data());
    }
}
