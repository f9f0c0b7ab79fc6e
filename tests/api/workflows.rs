//! Workflows end to end: a published graph run by its actor (set, wait, a call through the
//! sandbox carrier, a branch on its outcome, a signed webhook) with its journal; the
//! contract's refusals; an event starting a workflow once; a dry run that places nothing.

use std::time::Duration;

use sea_orm::EntityTrait;
use serde_json::{Value, json};
use thruai::config::Settings;
use thruai_entities::sandbox_call;

use crate::{
    chaos_sink::ChaosSink,
    helpers::{TestApp, spawn_with},
};

fn fast(s: &mut Settings) {
    s.security.url_allowlist = vec!["127.0.0.1/32".into()];
    s.workflows.tick_ms = 50;
    s.workflows.events_tick_ms = 50;
    s.workflows.call_poll_ms = 100;
    s.workflows.schedule_tick_ms = 100;
}

async fn created(app: &TestApp, path: &str, body: &Value) -> Value {
    let r = app.post(path, body).await;
    assert!(
        r.status == 201 || r.status == 200 || r.status == 202,
        "{path}: {} {:?}",
        r.status,
        r.body
    );
    r.data().clone()
}

/// Publishes with an empty body, as the public client does.
async fn publish(app: &TestApp, id: &str) -> crate::helpers::Reply {
    app.send(app.req(reqwest::Method::POST, &format!("/workflows/{id}/publish")))
        .await
}

/// Waits for the workflow's newest execution to finish.
async fn finished(app: &TestApp, workflow: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let r = app.get(&format!("/workflows/{workflow}/executions")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        last = r.data().clone();
        if let Some(e) = r.data()["executions"].as_array().and_then(|a| a.first())
            && matches!(e["status"].as_str(), Some("succeeded" | "failed"))
        {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the execution of {workflow} never finished: {last:#}");
}

#[actix_web::test]
async fn a_published_workflow_runs_its_steps_once_and_journals_them() {
    let app = spawn_with(fast).await;
    let sink = ChaosSink::start().await;
    // The webhook step signs with a subscription's secret (to an event that never fires here).
    let hook = created(
        &app,
        "/webhooks",
        &json!({ "url": sink.url("/hook"), "events": ["a2p.brand.status_changed"] }),
    )
    .await;
    sink.set_secret(hook["secret"].as_str().unwrap());
    created(&app, "/telephony/numbers/provision", &json!({ "areaCode": "415" })).await;
    let agent = created(
        &app,
        "/agents",
        &json!({ "name": "Caller", "pipelineMode": "traditional" }),
    )
    .await;
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "Call, then report",
            "nodes": [
                { "id": "start", "type": "trigger", "data": { "type": "manual" } },
                { "id": "greet", "type": "set", "data": { "variables": { "greeting": "Hi {{name}}" } } },
                { "id": "pause", "type": "wait", "data": { "seconds": 1 } },
                { "id": "dial", "type": "call", "data": { "agentId": agent["id"], "to": "{{phone}}" } },
                { "id": "check", "type": "branch" },
                { "id": "report", "type": "webhook", "data": { "webhookId": hook["id"], "body": { "greeting": "{{greeting}}", "outcome": "{{steps.dial.status}}" } } },
                { "id": "done", "type": "end" }
            ],
            "edges": [
                { "source": "start", "target": "greet" },
                { "source": "greet", "target": "pause" },
                { "from": "pause", "to": "dial" },
                { "source": "dial", "target": "check" },
                { "source": "check", "target": "report", "condition": { "type": "equation", "equations": [{ "left": "steps.dial.status", "operator": "==", "right": "busy" }] } },
                { "source": "check", "target": "done" }
            ]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap();
    assert!(id.starts_with("WFL-") && wf["isPublished"] == json!(false), "{wf}");

    let r = publish(&app, id).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (r.data()["isPublished"].clone(), r.data()["version"].clone()),
        (json!(true), json!(1))
    );
    assert!(r.data()["publishedAt"].is_string());

    // +1 415 555 02XX: the sandbox far end is busy.
    let t = app
        .post(
            &format!("/workflows/{id}/trigger"),
            &json!({ "input": { "name": "Ada", "phone": "+14155550299" } }),
        )
        .await;
    assert_eq!(t.status, 202, "{:?}", t.body);
    let exec_id = t.data()["executionId"].as_str().unwrap().to_string();
    assert!(exec_id.starts_with("EXE-") && t.data()["status"] == json!("queued"));

    // The call step waited for its call to end; the branch followed its outcome.
    let e = finished(&app, id).await;
    assert_eq!(e["status"], json!("succeeded"), "{e:#}");
    assert_eq!(e["path"], json!(["start", "greet", "pause", "dial", "check", "report"]));
    let steps = e["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 6, "{e:#}");
    assert!(steps.iter().all(|s| s["status"] == json!("succeeded")), "{e:#}");
    let pause = &steps[2];
    let waited = chrono::DateTime::parse_from_rfc3339(pause["finishedAt"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(pause["startedAt"].as_str().unwrap()).unwrap();
    assert!(waited >= chrono::Duration::milliseconds(990), "{waited}");
    assert_eq!(steps[3]["output"]["status"], json!("busy"), "{e:#}");
    assert_eq!(steps[3]["idempotencyKey"], json!(format!("{exec_id}:dial:1")));

    // One call at the carrier under the step's key (polling it never dials again); one
    // signed webhook whose webhook-id is the step's key.
    let calls: Vec<_> = sandbox_call::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].intent_key.as_deref(),
        Some(format!("{exec_id}-dial-1-0").as_str())
    );
    let call_id = steps[3]["output"]["callId"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/calls/{call_id}")).await.data()["status"],
        json!("busy")
    );
    let seen = sink.wait_for(Duration::from_secs(5), |s| !s.is_empty()).await;
    assert_eq!(seen.len(), 1);
    assert!(seen[0].signature_valid);
    assert_eq!(seen[0].webhook_id, format!("{exec_id}:report:1"));
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["data"], json!({ "greeting": "Hi Ada", "outcome": "busy" }));

    // The outbox carried both events.
    let events: Vec<String> = thruai_entities::outbox_event::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .filter(|t| t.starts_with("workflow."))
        .collect();
    assert_eq!(events, vec!["workflow.triggered", "workflow.completed"]);

    // One execution, readable on its own.
    let one = app.get(&format!("/workflows/{id}/executions/{exec_id}")).await;
    assert_eq!(
        (one.status.as_u16(), one.data()["variables"]["greeting"].clone()),
        (200, json!("Hi Ada"))
    );
}

#[actix_web::test]
async fn refusals_carry_the_contract_codes_and_other_organisations_see_nothing() {
    let app = spawn_with(fast).await;
    let other = app.other_org().await;
    let foreign_agent = created(&other, "/agents", &json!({ "name": "Theirs" })).await;

    // Drafts may be incomplete; publication names the node and the field.
    let wf = created(
        &app,
        "/workflows",
        &json!({ "name": "Half done", "nodes": [{ "id": "t", "type": "trigger" }, { "id": "c", "type": "call", "data": {} }], "edges": [{ "source": "t", "target": "c" }] }),
    )
    .await;
    let id = wf["id"].as_str().unwrap().to_string();
    let r = publish(&app, &id).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);
    let details = r.body["error"]["details"].as_array().unwrap();
    assert_eq!(details[0]["nodeId"], json!("c"));
    assert_eq!(details[0]["field"], json!("nodes[c].data.agentId"));

    let t = app.post(&format!("/workflows/{id}/trigger"), &json!({})).await;
    assert_eq!(
        (t.status.as_u16(), t.code()),
        (400, "WORKFLOW_NOT_PUBLISHED"),
        "{:?}",
        t.body
    );

    // Another organisation's agent is not ours to call with.
    let r = app
        .patch(
            &format!("/workflows/{id}"),
            &json!({ "nodes": [{ "id": "t", "type": "trigger" }, { "id": "c", "type": "call", "data": { "agentId": foreign_agent["id"], "to": "+14155550100" } }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = publish(&app, &id).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);

    // Nor is a sender on a domain that is not the organisation's.
    let r = app
        .patch(
            &format!("/workflows/{id}"),
            &json!({ "nodes": [{ "id": "t", "type": "trigger" }, { "id": "m", "type": "email", "data": { "from": "ops@not-ours.example", "to": "a@example.org", "subject": "Hi", "text": "x" } }], "edges": [{ "source": "t", "target": "m" }] }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = publish(&app, &id).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], json!("nodes[m].data.from"));

    // Wrong types and unknown fields are validation errors.
    for bad in [
        json!({ "name": "x", "nodes": "all of them" }),
        json!({ "name": "x", "colour": "red" }),
        json!({ "name": "" }),
    ] {
        let r = app.post("/workflows", &bad).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "VALIDATION_ERROR"),
            "{bad}: {:?}",
            r.body
        );
    }

    // A lone trigger is a valid graph: its execution completes at once.
    let lone = created(
        &app,
        "/workflows",
        &json!({ "name": "Lone", "trigger": { "type": "manual" } }),
    )
    .await;
    let lone_id = lone["id"].as_str().unwrap();
    assert_eq!(publish(&app, lone_id).await.status, 200);
    assert_eq!(
        app.post(
            &format!("/workflows/{lone_id}/trigger"),
            &json!({ "input": { "a": 1 } })
        )
        .await
        .status,
        202
    );
    let e = finished(&app, lone_id).await;
    assert_eq!(
        (e["status"].clone(), e["input"].clone()),
        (json!("succeeded"), json!({ "a": 1 }))
    );

    // Editing a published workflow edits the next draft; unpublishing stops new executions.
    app.patch(&format!("/workflows/{lone_id}"), &json!({ "description": "v2" }))
        .await;
    assert_eq!(
        app.get(&format!("/workflows/{lone_id}")).await.data()["version"],
        json!(1)
    );
    assert_eq!(publish(&app, lone_id).await.data()["version"], json!(2));
    let r = app
        .send(app.req(reqwest::Method::POST, &format!("/workflows/{lone_id}/unpublish")))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.data()["isPublished"].clone()),
        (200, json!(false))
    );
    let t = app.post(&format!("/workflows/{lone_id}/trigger"), &json!({})).await;
    assert_eq!(t.code(), "WORKFLOW_NOT_PUBLISHED");

    // Another organisation's ids are not found.
    for (method, path) in [
        (reqwest::Method::GET, format!("/workflows/{lone_id}")),
        (reqwest::Method::DELETE, format!("/workflows/{lone_id}")),
        (reqwest::Method::POST, format!("/workflows/{lone_id}/publish")),
        (reqwest::Method::POST, format!("/workflows/{lone_id}/trigger")),
        (reqwest::Method::GET, format!("/workflows/{lone_id}/executions")),
    ] {
        let r = other.send(other.req(method.clone(), &path)).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (404, "NOT_FOUND"),
            "{method} {path}: {:?}",
            r.body
        );
    }
    let list = other.get("/workflows").await;
    assert_eq!(list.data()["workflows"], json!([]));
    assert_eq!(list.data()["pagination"]["total"], json!(0));

    let r = app.delete(&format!("/workflows/{lone_id}")).await;
    assert!(r.status == 200 && r.data()["message"].is_string(), "{:?}", r.body);
    assert_eq!(app.get(&format!("/workflows/{lone_id}")).await.status, 404);
}

#[actix_web::test]
async fn an_event_starts_its_workflow_once() {
    let app = spawn_with(fast).await;
    // The feed starts reading at its first pass.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let agent = created(&app, "/agents", &json!({ "name": "Watched" })).await;
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "On agent change",
            "nodes": [
                { "id": "on", "type": "trigger", "data": { "type": "event", "event": "agent.updated" } },
                { "id": "note", "type": "set", "data": { "variables": { "seen": "{{trigger.eventId}}" } } }
            ],
            "edges": [{ "source": "on", "target": "note" }]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap();
    assert_eq!(publish(&app, id).await.status, 200);
    let r = app
        .patch(
            &format!("/agents/{}", agent["id"].as_str().unwrap()),
            &json!({ "name": "Renamed" }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let e = finished(&app, id).await;
    assert_eq!(e["status"], json!("succeeded"), "{e:#}");
    assert_eq!(e["trigger"]["event"], json!("agent.updated"));
    assert!(e["variables"]["seen"].as_str().unwrap().starts_with("EVT-"));
    // Read again and again (the look-back window), the event started one execution.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let all = app.get(&format!("/workflows/{id}/executions")).await;
    assert_eq!(all.data()["pagination"]["total"], json!(1), "{:?}", all.body);
}

#[actix_web::test]
async fn a_dry_run_walks_the_draft_and_places_nothing() {
    let app = spawn_with(fast).await;
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "Draft",
            "nodes": [
                { "id": "t", "type": "trigger" },
                { "id": "dial", "type": "call", "data": { "agentId": "AGT-ANY", "to": "{{phone}}" } },
                { "id": "sorry", "type": "sms", "data": { "to": "{{phone}}", "body": "Sorry we missed you" } }
            ],
            "edges": [
                { "source": "t", "target": "dial" },
                { "source": "dial", "target": "sorry", "condition": { "left": "steps.dial.status", "operator": "!=", "right": "completed" } }
            ]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/workflows/{id}/dry-run"),
            &json!({ "input": { "phone": "+14155550100" }, "simulate": { "dial": { "status": "no_answer" } } }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["path"], json!(["t", "dial", "sorry"]));
    assert_eq!(r.data()["steps"][2]["input"]["to"], json!("+14155550100"));
    let r = app
        .post(
            &format!("/workflows/{id}/dry-run"),
            &json!({ "input": { "phone": "+14155550100" } }),
        )
        .await;
    assert_eq!(r.data()["path"], json!(["t", "dial"]));
    assert!(
        sandbox_call::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A sandbox number and an agent to call from it.
async fn dialler(app: &TestApp) -> Value {
    created(app, "/telephony/numbers/provision", &json!({ "areaCode": "415" })).await;
    created(
        app,
        "/agents",
        &json!({ "name": "Dialler", "pipelineMode": "traditional" }),
    )
    .await
}

#[actix_web::test]
async fn a_campaign_runs_its_workflow_for_each_contact_under_its_cap_and_retries() {
    let app = spawn_with(|s| {
        fast(s);
        s.campaigns.tick_ms = 40;
    })
    .await;
    let agent = dialler(&app).await;
    // The contact, the campaign's agent and number come in the execution's input.
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "Per contact",
            "nodes": [
                { "id": "start", "type": "trigger", "data": { "type": "manual" } },
                { "id": "dial", "type": "call", "data": { "agentId": "{{input.agentId}}", "to": "{{input.contact.phoneNumber}}", "from": "{{input.from}}" } }
            ],
            "edges": [{ "source": "start", "target": "dial" }]
        }),
    )
    .await;
    let wf_id = wf["id"].as_str().unwrap();

    let r = app
        .post(
            "/campaigns",
            &json!({ "name": "Unknown flow", "agentId": agent["id"], "workflowId": "WFL-NOPE" }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
    let campaign = created(
        &app,
        "/campaigns",
        &json!({ "name": "Flow wave", "agentId": agent["id"], "workflowId": wf_id, "maxConcurrentCalls": 2,
                 "retryPolicy": { "maxAttempts": 2, "delaySecs": 0, "retryOn": ["no_answer", "busy"] } }),
    )
    .await;
    let id = campaign["id"].as_str().unwrap();
    // Answered; busy every time; no answer the first time only.
    let numbers = ["+12125551000", "+12125550200", "+12125550300"];
    let contacts: Vec<Value> = numbers.iter().map(|n| json!({ "phoneNumber": n })).collect();
    let r = app
        .post(&format!("/campaigns/{id}/contacts"), &json!({ "contacts": contacts }))
        .await;
    assert_eq!(r.data()["added"], 3, "{:?}", r.body);
    let r = app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "WORKFLOW_NOT_PUBLISHED"),
        "{:?}",
        r.body
    );

    assert_eq!(publish(&app, wf_id).await.status, 200);
    let r = app.post(&format!("/campaigns/{id}/start"), &json!({})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    for _ in 0..600 {
        if app.get(&format!("/campaigns/{id}")).await.data()["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = app.get(&format!("/campaigns/{id}/stats")).await.data().clone();
    assert_eq!(
        (done["stats"]["completed"].clone(), done["stats"]["failed"].clone()),
        (json!(2), json!(1)),
        "{done:#}"
    );

    // One execution per attempt, started by the campaign; each placed one call, to its
    // contact, from the campaign's number.
    let list = app.get(&format!("/workflows/{wf_id}/executions?pageSize=100")).await;
    let execs = list.data()["executions"].as_array().unwrap().clone();
    assert_eq!(execs.len(), 5, "{:#}", list.body);
    for e in &execs {
        assert_eq!(e["status"], json!("succeeded"), "{e:#}");
        assert_eq!(e["trigger"]["type"], json!("campaign"));
        assert_eq!(e["trigger"]["campaignId"], json!(id));
    }
    let placed: Vec<_> = sandbox_call::Entity::find().all(&app.state.db).await.unwrap();
    let per = |n: &str| placed.iter().filter(|c| c.to_number == n).count();
    assert_eq!((per(numbers[0]), per(numbers[1]), per(numbers[2])), (1, 2, 2));
    assert!(placed.iter().all(|c| c.from_number.starts_with("+1415")), "{placed:?}");

    // A contact's dials name their executions.
    let failed = app.get(&format!("/campaigns/{id}/contacts?status=failed")).await;
    let busy = &failed.data()["contacts"][0];
    assert_eq!(
        (busy["phoneNumber"].clone(), busy["lastOutcome"].clone()),
        (json!(numbers[1]), json!("busy"))
    );
    let dials = busy["calls"].as_array().unwrap();
    assert_eq!(dials.len(), 2);
    assert!(
        dials
            .iter()
            .all(|d| d["executionId"].as_str().unwrap().starts_with("EXE-") && d["callId"].is_null())
    );
}

#[actix_web::test]
async fn a_schedule_starts_one_execution_per_interval() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let app = spawn_with(fast).await;
    let r = app
        .post(
            "/workflows",
            &json!({ "name": "Hourly", "trigger": { "type": "schedule", "everySeconds": 30 } }),
        )
        .await;
    let id = r.data()["id"].as_str().unwrap().to_string();
    let r = publish(&app, &id).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);
    app.patch(
        &format!("/workflows/{id}"),
        &json!({ "trigger": { "type": "schedule", "every": "1h" } }),
    )
    .await;
    assert_eq!(publish(&app, &id).await.status, 200);
    // Nothing before the first interval has passed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let list = app.get(&format!("/workflows/{id}/executions")).await;
    assert_eq!(list.data()["executions"], json!([]));

    // Published (as if) two hours and a half ago: the latest slot starts, once.
    let row = thruai_entities::workflow::Entity::find_by_id(id.as_str())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let published = chrono::Utc::now() - chrono::Duration::minutes(150);
    let mut am = row.into_active_model();
    am.published_at = Set(Some(published));
    am.update(&app.state.db).await.unwrap();
    let e = finished(&app, &id).await;
    assert_eq!(
        (
            e["status"].clone(),
            e["trigger"]["type"].clone(),
            e["trigger"]["slot"].clone()
        ),
        (json!("succeeded"), json!("schedule"), json!(2))
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let list = app.get(&format!("/workflows/{id}/executions")).await;
    assert_eq!(list.data()["executions"].as_array().unwrap().len(), 1);
}

async fn execution(app: &TestApp, workflow: &str, exec: &str) -> Value {
    app.get(&format!("/workflows/{workflow}/executions/{exec}"))
        .await
        .data()
        .clone()
}

/// A workflow that waits for `agent.updated` of the agent in its input, then records it.
async fn until_renamed(app: &TestApp, timeout: u64) -> String {
    let wf = created(
        app,
        "/workflows",
        &json!({
            "name": "Until renamed",
            "nodes": [
                { "id": "t", "type": "trigger" },
                { "id": "w", "type": "wait", "data": { "event": "agent.updated", "match": { "agentId": "{{input.agentId}}", "change": "updated" }, "timeoutSeconds": timeout } },
                { "id": "named", "type": "set", "data": { "variables": { "newName": "{{steps.w.payload.agent.name}}", "timedOut": "{{steps.w.timedOut}}" } } }
            ],
            "edges": [{ "source": "t", "target": "w" }, { "source": "w", "target": "named" }]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap().to_string();
    assert_eq!(publish(app, &id).await.status, 200);
    id
}

#[actix_web::test]
async fn a_wait_for_an_event_resumes_on_the_matching_one_or_times_out() {
    let app = spawn_with(fast).await;
    let watched = created(&app, "/agents", &json!({ "name": "Watched" })).await;
    let other = created(&app, "/agents", &json!({ "name": "Other" })).await;
    // An event the platform never emits is refused at publication.
    let bad = created(
        &app,
        "/workflows",
        &json!({ "name": "Never", "nodes": [{ "id": "t", "type": "trigger" }, { "id": "w", "type": "wait", "data": { "event": "agent.exploded" } }], "edges": [{ "source": "t", "target": "w" }] }),
    )
    .await;
    let r = publish(&app, bad["id"].as_str().unwrap()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);
    assert_eq!(r.body["error"]["details"][0]["field"], json!("nodes[w].data.event"));

    let id = until_renamed(&app, 60).await;
    let t = app
        .post(
            &format!("/workflows/{id}/trigger"),
            &json!({ "input": { "agentId": watched["id"] } }),
        )
        .await;
    let exec = t.data()["executionId"].as_str().unwrap().to_string();
    for _ in 0..100 {
        if execution(&app, &id, &exec).await["status"] == "waiting" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Another agent's change does not resume it.
    app.patch(
        &format!("/agents/{}", other["id"].as_str().unwrap()),
        &json!({ "name": "Renamed too" }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(execution(&app, &id, &exec).await["status"], json!("waiting"));
    let changed = std::time::Instant::now();
    app.patch(
        &format!("/agents/{}", watched["id"].as_str().unwrap()),
        &json!({ "name": "Renamed" }),
    )
    .await;
    let e = finished(&app, &id).await;
    // Woken by the event feed, not by the look it takes now and then (10 s).
    assert!(changed.elapsed() < Duration::from_secs(5), "{:?}", changed.elapsed());
    assert_eq!(e["status"], json!("succeeded"), "{e:#}");
    assert_eq!(
        (e["variables"]["newName"].clone(), e["variables"]["timedOut"].clone()),
        (json!("Renamed"), json!(false))
    );

    // Nothing comes: the wait ends at its timeout, and says so.
    let id = until_renamed(&app, 1).await;
    app.post(
        &format!("/workflows/{id}/trigger"),
        &json!({ "input": { "agentId": "AGT-NONE" } }),
    )
    .await;
    let e = finished(&app, &id).await;
    assert_eq!(
        (e["status"].clone(), e["variables"]["timedOut"].clone()),
        (json!("succeeded"), json!(true)),
        "{e:#}"
    );
}

#[actix_web::test]
async fn a_lease_is_renewed_by_its_holder_only() {
    use chrono::SubsecRound;
    use thruai::store::workflows as wf;
    let app = spawn_with(fast).await;
    let db = &app.state.db;
    let w = created(&app, "/workflows", &json!({ "name": "Leased" })).await;
    let row = thruai_entities::workflow::Entity::find_by_id(w["id"].as_str().unwrap())
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let now = chrono::Utc::now();
    // A waiting execution whose timer is far off: nothing else takes it meanwhile.
    let id = thruai::domain::ids::new_id("EXE");
    wf::insert_execution(
        db,
        thruai_entities::workflow_execution::Model {
            id: id.clone(),
            org_id: row.org_id.clone(),
            workflow_id: row.id.clone(),
            version: 1,
            status: "waiting".into(),
            trigger: json!({ "type": "manual" }),
            trigger_key: None,
            input: json!({}),
            state: json!({}),
            dry_run: false,
            error: None,
            wake_at: Some(now + chrono::Duration::hours(1)),
            awaiting_event: None,
            lease_until: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        },
    )
    .await
    .unwrap();
    // Tokens to the microsecond, as the workflow ports make them.
    let held = (now + chrono::Duration::seconds(30)).trunc_subsecs(6);
    let later = (now + chrono::Duration::seconds(60)).trunc_subsecs(6);
    assert!(wf::claim(db, &id, now, held).await.unwrap());
    assert!(
        !wf::claim(db, &id, now, held).await.unwrap(),
        "a live lease is not taken again"
    );
    assert!(wf::renew(db, &id, held, later).await.unwrap());
    assert!(
        !wf::renew(db, &id, held, later).await.unwrap(),
        "an old token renews nothing"
    );
    assert!(
        wf::renew(db, &id, later, later + chrono::Duration::seconds(30))
            .await
            .unwrap()
    );
}

#[actix_web::test]
async fn a_campaign_contacts_finished_call_triggers_a_workflow() {
    let app = spawn_with(|s| {
        fast(s);
        s.campaigns.tick_ms = 40;
        s.campaigns.sandbox_call_ms = 200;
    })
    .await;
    let agent = dialler(&app).await;
    let campaign = created(
        &app,
        "/campaigns",
        &json!({ "name": "Follow-ups", "agentId": agent["id"] }),
    )
    .await;
    let id = campaign["id"].as_str().unwrap();
    // Each campaign call that completes starts the follow-up, with its contact.
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "After a campaign call",
            "nodes": [
                { "id": "on", "type": "trigger", "data": { "type": "event", "event": "call.completed",
                  "filter": { "left": "trigger.payload.metadata.campaignId", "operator": "==", "right": id } } },
                { "id": "note", "type": "set", "data": { "variables": { "contact": "{{trigger.payload.metadata.contactId}}", "to": "{{trigger.payload.to}}" } } }
            ],
            "edges": [{ "source": "on", "target": "note" }]
        }),
    )
    .await;
    let wf_id = wf["id"].as_str().unwrap();
    assert_eq!(publish(&app, wf_id).await.status, 200);
    // The feed starts reading at its first pass.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .post(
            &format!("/campaigns/{id}/contacts"),
            &json!({ "contacts": [{ "phoneNumber": "+12125551000" }] }),
        )
        .await;
    assert_eq!(r.data()["added"], 1, "{:?}", r.body);
    assert_eq!(
        app.post(&format!("/campaigns/{id}/start"), &json!({})).await.status,
        200
    );
    let e = finished(&app, wf_id).await;
    assert_eq!(e["status"], json!("succeeded"), "{e:#}");
    assert!(e["variables"]["contact"].as_str().unwrap().starts_with("CON"), "{e:#}");
    assert_eq!(e["variables"]["to"], json!("+12125551000"));
}

#[actix_web::test]
async fn a_branch_asks_the_agents_model_its_prompt_conditions() {
    use crate::fake_ai::{FakeAi, KEY};
    let fake = FakeAi::start().await;
    let base = fake.base.clone();
    let app = spawn_with(move |s| {
        fast(s);
        s.providers.openai.api_key = KEY.into();
        s.providers.openai.base_url = format!("{base}/openai/v1");
    })
    .await;
    let agent = created(
        &app,
        "/agents",
        &json!({ "name": "Judge", "pipelineMode": "traditional", "llmConfig": { "provider": "openai" } }),
    )
    .await;
    let prompt = |q: &str| json!({ "type": "prompt", "prompt": q });
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "Judged",
            "nodes": [
                { "id": "t", "type": "trigger" },
                { "id": "b", "type": "branch", "data": { "agentId": agent["id"] } },
                { "id": "yes", "type": "set", "data": { "variables": { "route": "agreed" } } },
                { "id": "other", "type": "set", "data": { "variables": { "route": "other" } } },
                { "id": "no", "type": "set", "data": { "variables": { "route": "no" } } }
            ],
            "edges": [
                { "source": "t", "target": "b" },
                { "source": "b", "target": "yes", "condition": prompt("Did the customer agree to the offer?") },
                { "source": "b", "target": "other", "condition": prompt("Did the customer ask for a human?") },
                { "source": "b", "target": "no" }
            ]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap();
    assert_eq!(publish(&app, id).await.status, 200);
    for (note, route) in [
        ("the customer agreed on the phone", "agreed"),
        ("the customer hung up", "no"),
    ] {
        app.post(
            &format!("/workflows/{id}/trigger"),
            &json!({ "input": { "note": note } }),
        )
        .await;
        let e = finished(&app, id).await;
        assert_eq!(
            (e["status"].clone(), e["variables"]["route"].clone()),
            (json!("succeeded"), json!(route)),
            "{e:#}"
        );
        assert_eq!(
            e["steps"][1]["output"]["judged"]["Did the customer ask for a human?"],
            json!(false)
        );
    }
    let asked = fake.seen("/openai/v1/chat/completions");
    assert_eq!(asked.len(), 2);
    assert!(
        asked[0]
            .body
            .to_string()
            .contains("Did the customer agree to the offer?")
    );

    // A prompt condition belongs on a branch's edges.
    let r = app
        .post(
            "/workflows",
            &json!({ "name": "Misplaced", "nodes": [{ "id": "t", "type": "trigger" }, { "id": "s", "type": "set", "data": { "variables": { "a": 1 } } }],
                     "edges": [{ "source": "t", "target": "s", "condition": prompt("Is it raining?") }] }),
        )
        .await;
    let r = publish(&app, r.data()["id"].as_str().unwrap()).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_WORKFLOW"), "{:?}", r.body);
}

#[actix_web::test]
async fn a_branch_without_a_real_model_says_why_it_cannot_judge() {
    let app = spawn_with(fast).await;
    let agent = created(&app, "/agents", &json!({ "name": "Sandboxed" })).await;
    let wf = created(
        &app,
        "/workflows",
        &json!({
            "name": "Unjudged",
            "nodes": [
                { "id": "t", "type": "trigger" },
                { "id": "b", "type": "branch", "data": { "agentId": agent["id"] } },
                { "id": "yes", "type": "end" }
            ],
            "edges": [
                { "source": "t", "target": "b" },
                { "source": "b", "target": "yes", "condition": { "type": "prompt", "prompt": "Is it done?" } }
            ]
        }),
    )
    .await;
    let id = wf["id"].as_str().unwrap();
    assert_eq!(publish(&app, id).await.status, 200);
    app.post(&format!("/workflows/{id}/trigger"), &json!({})).await;
    let e = finished(&app, id).await;
    assert_eq!(e["status"], json!("failed"), "{e:#}");
    assert!(
        e["error"].as_str().unwrap().contains("cannot judge prompt conditions"),
        "{e:#}"
    );
}
