//! Live calls end to end: the sandbox carrier plays the far end over the real
//! `/twilio/voice` → `/twilio/media-stream` path, with the tone codec for speech.

use std::time::Duration;

use serde_json::{Value, json};
use thruai::{
    http::calls::{CallDebugOut, CallOut, CallSummaryOut, OutboundCallOut, TranscriptLineOut, TranscriptOut},
    providers::sandbox::far_end::{FarEnd, FarEndEnv, Step},
};

use crate::{
    fake_twilio::FakeTwilio,
    helpers::{TestApp, spawn_with},
    sink::Sink,
};

pub async fn app() -> TestApp {
    spawn_with(|s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.calls.silence_timeout_ms = 8000;
    })
    .await
}

/// A sandbox number and a traditional agent (greeting `first`, `extra` merged in).
pub async fn agent(app: &TestApp, first: &str, extra: Value) -> String {
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let mut body = json!({ "name": "Front desk", "firstMessage": first, "pipelineMode": "traditional",
                           "systemPrompt": "You answer the phone for a clinic." });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let a = app.post("/agents", &body).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    a.data()["id"].as_str().unwrap().to_string()
}

pub async fn call(app: &TestApp, agent_id: &str, script: Value) -> String {
    let r = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": agent_id, "to": "+14155550199", "metadata": { "sandboxScript": script } }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let placed: OutboundCallOut = serde_json::from_value(r.data().clone()).unwrap();
    assert_eq!(placed.status, "queued");
    assert_eq!(placed.call_id, placed.id);
    assert!(placed.session_id.starts_with("SES-"), "{placed:?}");
    placed.call_id
}

/// Polls until the call is terminal; returns `GET /calls/:id`.
pub async fn finished(app: &TestApp, id: &str) -> CallOut {
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

async fn debug_of(app: &TestApp, id: &str) -> CallDebugOut {
    let r = app.get(&format!("/calls/{id}/debug")).await;
    serde_json::from_value(r.data().clone()).unwrap()
}

fn lines(call: &CallOut, speaker: &str) -> Vec<TranscriptLineOut> {
    call.transcript
        .iter()
        .filter(|l| l.speaker == speaker)
        .cloned()
        .collect()
}

async fn outbox(app: &TestApp, call_id: &str) -> Vec<String> {
    use sea_orm::{EntityTrait, QueryOrder};
    use thruai_entities::outbox_event;
    outbox_event::Entity::find()
        .order_by_asc(outbox_event::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.payload["callId"] == call_id)
        .map(|e| e.event_type)
        .collect()
}

/// `thruai serve --bind 127.0.0.1:PORT` with nothing else configured: the carrier's
/// callbacks and media stream reach the port the server is bound to (not 8080).
#[actix_web::test]
async fn on_default_settings_callbacks_reach_the_bound_port() {
    let app = app().await;
    let shipped = thruai::config::Settings::load(None).unwrap().server.public_base_url;
    assert!(shipped.is_empty(), "the shipped default follows the bound address");
    assert_eq!(app.state.settings.server.public_base_url, app.address);
    let agent = agent(&app, "Hello!", json!({})).await;
    let id = call(&app, &agent, json!([{ "waitForAgent": true }, { "hangup": true }])).await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
}

#[actix_web::test]
async fn a_sandbox_call_runs_end_to_end_greeting_turns_and_agent_hangup() {
    let app = app().await;
    let agent = agent(&app, "Thanks for calling!", json!({})).await;
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "say": "What are your hours?" }, { "waitForAgent": true },
               { "say": "Thanks, goodbye." }, { "waitForAgent": true }, { "silenceMs": 3000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
    assert_eq!(c.summary.end_reason.as_deref(), Some("agent_ended"));
    let agent_lines = lines(&c, "agent");
    let caller_lines = lines(&c, "caller");
    assert_eq!(agent_lines[0].text, "Thanks for calling!");
    assert_eq!(caller_lines[0].text, "What are your hours?");
    assert_eq!(caller_lines[1].text, "Thanks, goodbye.");
    assert!(agent_lines.last().unwrap().text.contains("Goodbye"));
    assert!(c.usage.stt_ms > 1000);
    assert!(c.usage.tts_characters > 20);
    assert!(c.usage.llm_requests >= 2);
    assert!(c.summary.duration >= 3);
    assert_eq!(c.cost.currency, "USD");

    let debug = debug_of(&app, &id).await;
    assert_eq!(debug.turns.len(), 2, "{debug:?}");
    assert!(debug.turns[0]["endOfTurnToFirstAudioMs"].as_u64().unwrap() < 500);
    assert_eq!(debug.latency.end_of_turn_to_first_audio_ms.len(), 2);
    let transcript = app.get(&format!("/calls/{id}/transcript")).await;
    let transcript: TranscriptOut = serde_json::from_value(transcript.data().clone()).unwrap();
    assert!(transcript.text.contains("caller: What are your hours?"));
    assert_eq!(transcript.transcript, c.transcript);
    assert_eq!(
        outbox(&app, &id).await,
        vec!["call.started", "call.completed", "transcript.ready"]
    );
    let list = app
        .get(&format!("/calls?agentId={agent}&status=completed&direction=outbound"))
        .await;
    let listed: Vec<CallSummaryOut> = serde_json::from_value(list.data()["calls"].clone()).unwrap();
    assert_eq!(listed[0].id, id);
}

#[actix_web::test]
async fn a_long_calls_context_keeps_to_its_turn_budget_and_the_transcript_keeps_everything() {
    let app = spawn_with(|s| {
        s.calls.silence_timeout_ms = 8000;
        s.calls.llm_context_max_turns = 3;
    })
    .await;
    let agent = agent(&app, "Thanks for calling!", json!({})).await;
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "say": "What are your hours?" }, { "waitForAgent": true },
               { "say": "Do you open on Sunday?" }, { "waitForAgent": true },
               { "say": "Thanks, goodbye." }, { "waitForAgent": true }, { "silenceMs": 3000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
    assert_eq!(lines(&c, "caller").len(), 3, "{c:?}");
    assert_eq!(lines(&c, "agent").len(), 4, "{c:?}");
    let debug = debug_of(&app, &id).await;
    let trims: Vec<&Value> = debug
        .timeline
        .iter()
        .filter(|t| t.kind == "context_trimmed")
        .map(|t| &t.detail)
        .collect();
    assert!(!trims.is_empty(), "{debug:?}");
    let dropped: u64 = trims.iter().map(|d| d["turnsDropped"].as_u64().unwrap()).sum();
    // Seven turns said, at most three kept.
    assert!(dropped >= 4, "{trims:?}");
}

#[actix_web::test]
async fn barge_in_clears_the_agent_and_keeps_only_what_was_heard() {
    let app = app().await;
    let greeting = "Welcome to the clinic. We are open every day from eight until six, and on weekends we open later.";
    let agent = agent(
        &app,
        greeting,
        json!({ "interruptionSettings": { "sensitivityMs": 200 } }),
    )
    .await;
    let id = call(
        &app,
        &agent,
        json!([{ "interrupt": "Sorry, wait", "afterMs": 1500 }, { "waitForAgent": true }, { "say": "goodbye" },
               { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let first = &lines(&c, "agent")[0];
    assert!(first.interrupted, "{c:?}");
    let heard = first.text.as_str();
    assert!(
        !heard.is_empty() && heard.len() < greeting.len() && greeting.starts_with(heard),
        "{heard}"
    );
    assert_eq!(lines(&c, "caller")[0].text, "Sorry, wait");
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let interruption = &debug.data()["interruptions"][0];
    assert_eq!(interruption["heard"], heard);
    assert!(
        interruption["speechOnsetToClearMs"].as_u64().unwrap() < 400,
        "{interruption}"
    );
    // Timed from the first speech frame's arrival, for /metrics (process-wide).
    let clears = thruai_actors::call::stats::BARGE_IN.snapshot();
    assert!(clears.frames >= 1 && clears.max_us < 5_000_000, "{clears:?}");
}

/// Two-stage barge-in: a short sound over the agent stops its audio at once, and — not
/// being an interruption — the agent resumes what the caller had not heard.
#[actix_web::test]
async fn a_false_interruption_pauses_the_agent_then_resumes_it() {
    let app = app().await;
    let greeting = "Welcome to the clinic. We are open every day from eight until six, and on weekends we open later.";
    let agent = agent(
        &app,
        greeting,
        json!({ "interruptionSettings": { "sensitivityMs": 300 } }),
    )
    .await;
    let id = call(
        &app,
        &agent,
        json!([{ "interrupt": "hm", "afterMs": 800 }, { "waitForAgent": true }, { "say": "goodbye" },
               { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let first = &lines(&c, "agent")[0];
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let timeline = debug.data()["timeline"].as_array().unwrap().clone();
    let resumed: Vec<&Value> = timeline.iter().filter(|t| t["kind"] == "false_interruption").collect();

    assert_eq!(first.text, greeting, "{c:?}");
    assert!(!first.interrupted);
    assert_eq!(resumed.len(), 1, "{timeline:?}");
    assert!(resumed[0]["detail"]["speechMs"].as_u64().unwrap() < 300);
    assert!(resumed[0]["detail"]["resumedAudioMs"].as_u64().unwrap() > 0);
    assert_eq!(debug.data()["interruptions"].as_array().map(Vec::len), Some(0));
}

#[actix_web::test]
async fn greeting_barge_in_can_be_disabled() {
    let app = app().await;
    let greeting = "Welcome to the clinic, all our lines are open today.";
    let agent = agent(
        &app,
        greeting,
        json!({ "interruptionSettings": { "bargeInDuringGreeting": false } }),
    )
    .await;
    let id = call(
        &app,
        &agent,
        json!([{ "interrupt": "hello?", "afterMs": 500 }, { "waitForAgent": true }, { "say": "goodbye" },
               { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let first = &lines(&c, "agent")[0];
    assert_eq!(first.text, greeting, "{c:?}");
    assert!(!first.interrupted);
}

#[actix_web::test]
async fn tools_are_called_mid_call_and_a_slow_tool_times_out() {
    let app = app().await;
    let sink = Sink::start().await;
    let mut tool_ids = Vec::new();
    for (name, path, timeout) in [("check_order", "/ok", 5), ("slow_lookup", "/slow", 1)] {
        let t = app
            .post(
                "/tools",
                &json!({ "name": name, "url": format!("{}{path}", sink.base_url), "timeout": timeout,
                         "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
            )
            .await;
        assert_eq!(t.status, 201, "{:?}", t.body);
        tool_ids.push(t.data()["id"].as_str().unwrap().to_string());
    }
    let agent = agent(&app, "Hello!", json!({ "enabledTools": tool_ids })).await;
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "say": "please check order 42" }, { "waitForAgent": true, "quietMs": 3000 },
               { "say": "and the slow lookup" }, { "waitForAgent": true }, { "silenceMs": 1000 },
               { "hangup": true }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let tools = debug.data()["toolCalls"].as_array().unwrap().clone();
    assert_eq!(tools.len(), 2, "{}", debug.data());
    assert_eq!(tools[0]["name"], "check_order");
    assert_eq!(tools[0]["success"], true);
    assert_eq!(tools[1]["name"], "slow_lookup");
    assert_eq!(tools[1]["success"], false);
    assert!(
        tools[1]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        tools[1]
    );
    let agent_text: Vec<String> = lines(&c, "agent").iter().map(|l| l.text.clone()).collect();
    assert!(agent_text.iter().any(|t| t.contains("shipped")), "{agent_text:?}");
    // The failure reached the model as a tool result; the caller hears the agent's own
    // sentence, never the error.
    assert!(
        agent_text
            .iter()
            .all(|t| !t.contains("timed out") && !t.contains("failed")),
        "{agent_text:?}"
    );
    assert!(
        agent_text.iter().any(|t| t == thruai::providers::llm::TOOL_FAILED),
        "{agent_text:?}"
    );
    let signed = sink
        .requests()
        .iter()
        .filter(|r| r.header("webhook-signature").is_some())
        .count();
    assert!(signed >= 2);
    assert_eq!(c.usage.tool_calls, 2);
}

#[actix_web::test]
async fn a_caller_hanging_up_mid_sentence_keeps_the_part_said() {
    let app = app().await;
    let agent = agent(&app, "Hello!", json!({})).await;
    let said = "I would like to cancel my appointment for tomorrow";
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "say": said, "hangup": true }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed");
    assert_eq!(c.summary.end_reason.as_deref(), Some("caller_hangup"));
    let last = lines(&c, "caller").pop().expect("a caller line");
    assert!(last.partial);
    let text = last.text.as_str();
    assert!(
        text.len() > 5 && said.starts_with(text.trim_end_matches('\u{FFFD}')),
        "{text}"
    );
    assert_eq!(
        outbox(&app, &id).await,
        vec!["call.started", "call.completed", "transcript.ready"]
    );
}

#[actix_web::test]
async fn malformed_and_out_of_order_frames_are_noted_and_survived() {
    let app = app().await;
    let agent = agent(&app, "Hi.", json!({})).await;
    let stale = json!({"event": "media", "sequenceNumber": "1", "streamSid": "MZx",
                       "media": {"payload": "//////////8="}})
    .to_string();
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "raw": "{not json" }, { "raw": stale },
               { "raw": "{\"event\":\"media\",\"media\":{\"payload\":\"***\"}}" },
               { "say": "goodbye" }, { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
    assert_eq!(lines(&c, "caller")[0].text, "goodbye");
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let kinds: Vec<&str> = debug.data()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in ["malformed_message", "out_of_order_frame", "malformed_media"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
}

#[actix_web::test]
async fn silence_ends_the_call() {
    let app = spawn_with(|s| s.calls.silence_timeout_ms = 1500).await;
    let agent = agent(&app, "Hello?", json!({})).await;
    let id = call(&app, &agent, json!([{ "waitForAgent": true }, { "silenceMs": 20000 }])).await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.end_reason.as_deref(), Some("silence_timeout"), "{c:?}");
    assert_eq!(c.summary.status, "completed");
}

#[actix_web::test]
async fn outbound_calls_check_agent_number_and_destination() {
    let app = app().await;
    let r = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": "AGT-nope", "to": "+14155550100" }),
        )
        .await;
    assert_eq!(r.code(), "INVALID_AGENT");
    let a = app.post("/agents", &json!({ "name": "No number" })).await;
    let agent_id = a.data()["id"].as_str().unwrap();
    let r = app
        .post("/calls/outbound", &json!({ "agentId": agent_id, "to": "+14155550100" }))
        .await;
    assert_eq!(r.code(), "NO_ACTIVE_NUMBERS", "{:?}", r.body);
    let r = app
        .post("/calls/outbound", &json!({ "agentId": agent_id, "to": "0800 123" }))
        .await;
    assert_eq!(r.code(), "INVALID_NUMBER");
    let other = app.other_org().await;
    assert_eq!(other.get("/calls/CALL-unknown").await.status, 404);
}

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "fake_twilio_auth_token";

async fn twilio_app() -> (FakeTwilio, TestApp) {
    let twilio = FakeTwilio::start().await;
    twilio.add_account(ACCOUNT, TOKEN, "active");
    twilio.add_owned_number(ACCOUNT, "+14155550123", None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.api_base = base;
        s.providers.twilio.account_sid = ACCOUNT.into();
        s.providers.twilio.auth_token = TOKEN.into();
    })
    .await;
    (twilio, app)
}

fn env(app: &TestApp, token: &str) -> FarEndEnv {
    FarEndEnv {
        http: app.client.clone(),
        auth_token: token.into(),
        account_sid: ACCOUNT.into(),
        max_call: Duration::from_secs(60),
    }
}

#[actix_web::test]
async fn an_outbound_twilio_call_is_placed_and_answered_with_signed_webhooks() {
    let (twilio, app) = twilio_app().await;
    let n = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "+14155550123" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app
        .post("/agents", &json!({ "name": "Caller", "firstMessage": "Hi there." }))
        .await;
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    let r = app
        .post("/calls/outbound", &json!({ "agentId": agent_id, "to": "+14155550177" }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["callId"].as_str().unwrap().to_string();
    let mut placed = None;
    for _ in 0..50 {
        if let Some(c) = twilio.calls().into_iter().next() {
            placed = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let placed = placed.expect("Twilio was asked to place the call");
    assert_eq!(placed.from, "+14155550123");
    let url = placed.url.clone().unwrap();
    assert!(url.ends_with(&format!("/twilio/voice?callId={id}")), "{url}");
    let status_url = placed.status_callback.clone().unwrap();

    // A request not signed with the account's token is refused.
    let forged = app
        .client
        .post(&url)
        .header("X-Twilio-Signature", "bm9wZQ==")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("CallSid={}", placed.sid))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    // Twilio's part, signed with the account's token.
    let req = thruai::providers::telephony::PlaceCall {
        to: placed.to.clone(),
        from: placed.from.clone(),
        url,
        status_callback: status_url,
        sandbox_script: Some(
            json!([{ "waitForAgent": true }, { "say": "goodbye" }, { "waitForAgent": true },
                                    { "silenceMs": 2000 }]),
        ),
        intent_key: None,
    };
    let report = FarEnd::outbound(env(&app, TOKEN), &placed.sid, &req).run().await;
    assert!(report.error.is_none(), "{report:?}");
    assert_eq!(
        report.heard.first().map(String::as_str),
        Some("Hi there."),
        "{report:?}"
    );
    assert!(report.closed_by_platform);
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed");
    assert_eq!(c.summary.provider_call_sid.as_deref(), Some(placed.sid.as_str()));
    // The agent's hang-up reached Twilio.
    let hangups = twilio.requests_to("POST", &format!("/Calls/{}.json", placed.sid));
    assert!(
        hangups.iter().any(|r| r.param("Status") == Some("completed")),
        "{hangups:?}"
    );
}

#[actix_web::test]
async fn an_inbound_twilio_call_reaches_the_numbers_agent() {
    let (_twilio, app) = twilio_app().await;
    let n = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "+14155550123" }))
        .await;
    let number_id = n.data()["id"].as_str().unwrap().to_string();
    let a = app
        .post(
            "/agents",
            &json!({ "name": "Reception", "firstMessage": "Reception, hello." }),
        )
        .await;
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/agents/{agent_id}/telephony"),
            &json!({ "phoneNumberId": number_id }),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    let voice = format!("{}/twilio/voice", app.address);

    let wrong = FarEnd::inbound(
        env(&app, "not_the_token"),
        &voice,
        "+12125550100",
        "+14155550123",
        vec![],
    )
    .run()
    .await;
    assert!(wrong.error.as_deref().unwrap_or("").contains("403"), "{wrong:?}");

    let script = vec![Step::wait(), Step::say("goodbye"), Step::wait(), Step::hangup()];
    let report = FarEnd::inbound(env(&app, TOKEN), &voice, "+12125550100", "+14155550123", script)
        .run()
        .await;
    assert!(report.error.is_none(), "{report:?}");
    assert_eq!(report.heard.first().map(String::as_str), Some("Reception, hello."));
    let list = app.get("/calls?direction=inbound").await;
    let listed: Vec<CallSummaryOut> = serde_json::from_value(list.data()["calls"].clone()).unwrap();
    let c = &listed[0];
    assert_eq!(c.agent_id, agent_id);
    assert_eq!((c.direction.as_str(), c.from.as_str()), ("inbound", "+12125550100"));
    let id = c.id.clone();
    let c = finished(&app, &id).await;
    assert_eq!(lines(&c, "caller")[0].text, "goodbye");
}

/// Two short calls of one agent, ended: snapshots and lines to write over.
async fn two_finished_calls(app: &TestApp) -> (String, String) {
    let agent = agent(app, "Hello.", json!({})).await;
    let (a, b) = (
        call(app, &agent, json!([{ "waitForAgent": true }])).await,
        call(app, &agent, json!([{ "waitForAgent": true }])).await,
    );
    finished(app, &a).await;
    finished(app, &b).await;
    (a, b)
}

#[actix_web::test]
async fn snapshots_are_group_committed_each_fenced_by_its_own_epoch() {
    use thruai::store;
    use thruai_actors::call::{ports::StoreError, snapshot::Speaker};
    let app = app().await;
    let (a, b) = two_finished_calls(&app).await;
    let snap = |id: String| {
        let db = app.state.db.clone();
        async move {
            let row = store::calls::find_any(&db, &id).await.unwrap().unwrap();
            store::calls::snapshot_of(&row).unwrap()
        }
    };
    let (snap_a, mut stale_b) = (snap(a.clone()).await, snap(b.clone()).await);
    stale_b.epoch -= 1;
    stale_b.end_reason = Some("written by a stale owner".into());
    // Sixty writes of call A at once (they share transactions) and one fenced write of B.
    let writes = (0..60).map(|i| {
        let mut s = snap_a.clone();
        s.say(Speaker::Caller, format!("line {i}"), i, false);
        app.state.calls.checkpoints().checkpoint(s, Vec::new())
    });
    let (results, fenced) = futures_util::join!(
        futures_util::future::join_all(writes),
        app.state.calls.checkpoints().checkpoint(stale_b, Vec::new())
    );
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(fenced, Err(StoreError::Fenced));
    let lines = |id: String| {
        let db = app.state.db.clone();
        async move { store::calls::transcript(&db, &id, Vec::new()).await.unwrap() }
    };
    let after = lines(a.clone()).await;
    // Every write numbered its line alike (the same snapshot): one line, the last write's.
    assert_eq!(after.len() as u64, snap_a.transcript_seq + 1, "{after:?}");
    assert!(after.last().unwrap().text.starts_with("line "));
    assert_eq!(snap(a).await.transcript_seq, snap_a.transcript_seq + 1);
    assert_ne!(snap(b).await.end_reason.as_deref(), Some("written by a stale owner"));
}

#[actix_web::test]
async fn the_timeline_is_appended_beside_the_snapshot_once_and_never_by_a_stale_owner() {
    use thruai::store;
    use thruai_actors::call::ports::StoreError;
    let app = app().await;
    let (a, b) = two_finished_calls(&app).await;
    let timeline = |id: String| {
        let app = &app;
        async move {
            let debug = app.get(&format!("/calls/{id}/debug")).await;
            debug.data()["timeline"].as_array().unwrap().clone()
        }
    };
    let row = |id: String| {
        let db = app.state.db.clone();
        async move { store::calls::find_any(&db, &id).await.unwrap().unwrap() }
    };
    let before = timeline(a.clone()).await;
    let seqs: Vec<u64> = before.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=before.len() as u64).collect::<Vec<_>>(), "{before:?}");
    assert!(before.iter().any(|e| e["kind"] == "state"));
    let stored = row(a.clone()).await;
    assert!(
        stored.snapshot.get("timeline").is_none(),
        "not in the snapshot: {}",
        stored.snapshot
    );
    assert_eq!(stored.snapshot["timelineSeq"], before.len());

    // Two new entries, written twice (a retry after a lost answer): stored once.
    let mut snap_a = store::calls::snapshot_of(&stored).unwrap();
    snap_a.note(chrono::Utc::now(), "probe", json!({ "n": 1 }));
    snap_a.note(chrono::Utc::now(), "probe", json!({ "n": 2 }));
    app.state
        .calls
        .checkpoints()
        .checkpoint(snap_a.clone(), Vec::new())
        .await
        .unwrap();
    app.state
        .calls
        .checkpoints()
        .checkpoint(snap_a, Vec::new())
        .await
        .unwrap();
    let after = timeline(a).await;
    assert_eq!(after.len(), before.len() + 2);
    assert_eq!(after[before.len() + 1]["detail"]["n"], 2);

    // A stale owner's entries are not written.
    let b_before = timeline(b.clone()).await;
    let mut stale_b = store::calls::snapshot_of(&row(b.clone()).await).unwrap();
    stale_b.epoch -= 1;
    stale_b.note(chrono::Utc::now(), "stale", json!({}));
    assert_eq!(
        app.state.calls.checkpoints().checkpoint(stale_b, Vec::new()).await,
        Err(StoreError::Fenced)
    );
    assert_eq!(timeline(b).await, b_before);
}

/// A Twilio app whose calls ring for at most a second.
async fn ringing_app() -> (FakeTwilio, TestApp, String) {
    let twilio = FakeTwilio::start().await;
    twilio.add_account(ACCOUNT, TOKEN, "active");
    twilio.add_owned_number(ACCOUNT, "+14155550123", None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.api_base = base;
        s.providers.twilio.account_sid = ACCOUNT.into();
        s.providers.twilio.auth_token = TOKEN.into();
        s.calls.ring_timeout_secs = 1;
    })
    .await;
    let n = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "+14155550123" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app.post("/agents", &json!({ "name": "Caller" })).await;
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    (twilio, app, agent_id)
}

async fn timeline_kinds(app: &TestApp, id: &str) -> Vec<String> {
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    debug.data()["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}

#[actix_web::test]
async fn a_call_whose_carrier_never_fetches_its_twiml_fails_after_the_ring_timeout() {
    let (twilio, app, agent_id) = ringing_app().await;
    let r = app
        .post("/calls/outbound", &json!({ "agentId": agent_id, "to": "+14155550177" }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.data()["callId"].as_str().unwrap().to_string();
    // The fake Twilio accepts the call and never fetches the TwiML nor calls back.
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "failed", "{c:?}");
    assert_eq!(c.summary.end_reason.as_deref(), Some("carrier_timeout"));
    assert!(timeline_kinds(&app, &id).await.contains(&"carrier_timeout".to_string()));
    // The carrier is told to drop it.
    let sid = twilio.calls()[0].sid.clone();
    let mut asked = false;
    for _ in 0..50 {
        asked = twilio
            .requests_to("POST", &format!("/Calls/{sid}.json"))
            .iter()
            .any(|r| r.param("Status") == Some("completed"));
        if asked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(asked, "the carrier was asked to hang up");
}

#[actix_web::test]
async fn a_call_that_rings_and_is_never_answered_ends_no_answer() {
    let (twilio, app, agent_id) = ringing_app().await;
    let r = app
        .post("/calls/outbound", &json!({ "agentId": agent_id, "to": "+14155550177" }))
        .await;
    let id = r.data()["callId"].as_str().unwrap().to_string();
    let mut placed = None;
    for _ in 0..50 {
        placed = twilio.calls().into_iter().next();
        if placed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let placed = placed.expect("Twilio was asked to place the call");
    let status_url = placed.status_callback.clone().unwrap();
    let params = vec![
        ("CallSid".to_string(), placed.sid.clone()),
        ("CallStatus".to_string(), "ringing".to_string()),
    ];
    let signature = thruai::providers::twilio::compute_signature(TOKEN, &status_url, &params);
    let res = app
        .client
        .post(&status_url)
        .header("X-Twilio-Signature", signature)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "no_answer", "{c:?}");
    assert_eq!(c.summary.end_reason.as_deref(), Some("ring_timeout"));
    assert!(timeline_kinds(&app, &id).await.contains(&"ring_timeout".to_string()));
}

#[actix_web::test]
async fn an_answered_call_ends_at_its_agents_maximum_duration() {
    let app = spawn_with(|s| s.calls.silence_timeout_ms = 60_000).await;
    let agent = agent(&app, "Hello!", json!({ "maxDurationSeconds": 2 })).await;
    let got = app.get(&format!("/agents/{agent}")).await;
    assert_eq!(got.data()["maxDurationSeconds"], 2);
    // The callee stays on the line in silence: only the limit can end the call.
    let id = call(&app, &agent, json!([{ "waitForAgent": true }, { "silenceMs": 30000 }])).await;
    let started = std::time::Instant::now();
    let c = finished(&app, &id).await;
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(c.summary.status, "completed", "{c:?}");
    assert_eq!(c.summary.end_reason.as_deref(), Some("max_duration"));
    assert!(timeline_kinds(&app, &id).await.contains(&"max_duration".to_string()));
    let bad = app
        .patch(&format!("/agents/{agent}"), &json!({ "maxDurationSeconds": 0 }))
        .await;
    assert_eq!(bad.code(), "VALIDATION_ERROR");
}
