//! Live calls on real provider clients, against local fakes speaking each provider's wire
//! format: an `s2s` call over the OpenAI Realtime fake (both event-name generations) and
//! traditional calls over the OpenAI / Anthropic chat, Deepgram and ElevenLabs fakes, all
//! driven by the sandbox far end; then the clients' error cases (status, malformed body,
//! timeout) one by one.

use std::time::Duration;

use serde_json::{Value, json};
use thruai::providers::{
    chat::{AnthropicChat, ChatSettings, OpenAiChat},
    speech::{DeepgramStt, ElevenLabsTts, OpenAiTts},
};
use thruai_actors::{
    audio::tone,
    call::{
        chat::{ChatRole, ChatTurn},
        ports::{LanguageModel, LlmRequest, SpeechToText, TextToSpeech},
    },
};

use crate::{
    fake_ai::{FakeAi, Fault, KEY},
    fake_realtime::{FakeRealtime, Generation},
    helpers::{TestApp, spawn_with},
    sink::Sink,
};

const GREETING: &str =
    "Welcome to the clinic. We are open every day from eight until six, and on weekends we open a little later.";

async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..300 {
        let r = app.get(&format!("/calls/{id}")).await;
        let status = r.data()["status"].as_str().unwrap_or("").to_string();
        if !["queued", "ringing", "in_progress"].contains(&status.as_str()) {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("call {id} did not finish");
}

fn texts(call: &Value, speaker: &str) -> Vec<String> {
    call["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["speaker"] == speaker)
        .map(|l| l["text"].as_str().unwrap().to_string())
        .collect()
}

async fn tool(app: &TestApp, sink: &Sink) -> String {
    tool_at(app, &format!("{}/ok", sink.base_url)).await
}

async fn tool_at(app: &TestApp, url: &str) -> String {
    let t = app
        .post(
            "/tools",
            &json!({ "name": "check_order", "url": url, "timeout": 5,
                     "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
        )
        .await;
    assert_eq!(t.status, 201, "{:?}", t.body);
    t.data()["id"].as_str().unwrap().to_string()
}

async fn place(app: &TestApp, agent: Value, script: Value) -> String {
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = app.post("/agents", &agent).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": agent_id, "to": "+14155550199", "metadata": { "sandboxScript": script } }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.data()["callId"].as_str().unwrap().to_string()
}

async fn s2s_call_over_realtime(generation: Generation) {
    let fake = FakeRealtime::start(generation).await;
    let base = fake.base_url.clone();
    let app = spawn_with(move |s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.calls.silence_timeout_ms = 8000;
        s.providers.openai.api_key = KEY.into();
        s.providers.openai.base_url = base;
        s.providers.openai.realtime_dialect = if generation == Generation::Beta { "beta" } else { "ga" }.into();
    })
    .await;
    let sink = Sink::start().await;
    let tool_id = tool(&app, &sink).await;
    let id = place(
        &app,
        json!({ "name": "Realtime desk", "pipelineMode": "s2s", "s2sProvider": "openai-realtime",
                "s2sModel": "gpt-realtime", "s2sVoice": "marin", "firstMessage": GREETING,
                "systemPrompt": "You answer the phone for a clinic.", "enabledTools": [tool_id],
                "s2sTurnDetection": { "type": "server_vad", "threshold": 0.6, "silenceDurationMs": 400 } }),
        json!([{ "interrupt": "Sorry, wait", "afterMs": 1500 }, { "waitForAgent": true },
               { "say": "please check order 42" }, { "waitForAgent": true, "quietMs": 3000 },
               { "say": "goodbye" }, { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    {
        let rec = fake.recorded.lock().unwrap();
        assert!(rec.rejected.is_empty(), "{:?}", rec.rejected);
        assert_eq!(rec.query, "model=gpt-realtime");
        assert!(rec.appended_bytes > 8000, "caller audio is forwarded");
    }
    assert_eq!(c["status"], "completed", "{c}");
    assert_eq!(c["endReason"], "agent_ended", "{c}");

    // The session, in the generation's shape, with the agent's turn detection.
    let update = &fake.events_of("session.update")[0]["session"];
    let td = match generation {
        Generation::Beta => {
            assert_eq!(update["input_audio_format"], "g711_ulaw");
            assert_eq!(update["output_audio_format"], "g711_ulaw");
            assert_eq!(update["voice"], "marin");
            &update["turn_detection"]
        }
        Generation::Ga => {
            assert_eq!(update["type"], "realtime");
            assert_eq!(update["audio"]["input"]["format"]["type"], "audio/pcmu");
            assert_eq!(update["audio"]["output"]["format"]["type"], "audio/pcmu");
            assert_eq!(update["audio"]["output"]["voice"], "marin");
            &update["audio"]["input"]["turn_detection"]
        }
    };
    assert_eq!(td["type"], "server_vad");
    assert_eq!(td["silence_duration_ms"], 400);
    assert_eq!(td["threshold"], 0.6);
    let creates = fake.events_of("response.create");
    assert!(
        creates[0]["response"]["instructions"]
            .as_str()
            .unwrap()
            .contains(GREETING)
    );

    // Barge-in: clear, cancel, and truncate to what the caller heard (whole 200 ms marks).
    assert_eq!(fake.events_of("response.cancel").len(), 1);
    let truncates = fake.events_of("conversation.item.truncate");
    assert_eq!(truncates.len(), 1, "{truncates:?}");
    let t = &truncates[0];
    assert_eq!(t["item_id"], "item_agent_1");
    assert_eq!(t["content_index"], 0);
    let end_ms = t["audio_end_ms"].as_u64().unwrap();
    assert!((1000..=2600).contains(&end_ms), "audio_end_ms {end_ms}");
    assert_eq!(end_ms % 200, 0);
    assert!(end_ms < tone::duration_ms(GREETING));
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let interruption = &debug.data()["interruptions"][0];
    assert_eq!(interruption["audioEndMs"], end_ms, "{}", debug.data());
    let agent = texts(&c, "agent");
    let heard = agent[0].as_str();
    assert!(
        !heard.is_empty() && heard.len() < GREETING.len() && GREETING.starts_with(heard),
        "{heard}"
    );
    assert_eq!(c["transcript"][0]["interrupted"], true);

    // The caller's turns, a tool call answered through function_call_output, the goodbye.
    let caller = texts(&c, "caller");
    assert_eq!(caller, vec!["Sorry, wait", "please check order 42", "goodbye"], "{c}");
    let outputs = fake.events_of("conversation.item.create");
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert_eq!(outputs[0]["item"]["type"], "function_call_output");
    assert!(
        outputs[0]["item"]["call_id"]
            .as_str()
            .unwrap()
            .starts_with("call_fake_")
    );
    assert!(outputs[0]["item"]["output"].as_str().unwrap().contains("shipped"));
    let tools = debug.data()["toolCalls"].as_array().unwrap().clone();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["arguments"], json!({ "orderId": "42" }));
    assert_eq!(tools[0]["success"], true);
    assert!(
        agent
            .iter()
            .any(|t| t.contains("Here is what I found") && t.contains("shipped")),
        "{agent:?}"
    );
    assert_eq!(agent.last().unwrap(), "Goodbye!");
    assert!(c["usage"]["llmInputTokens"].as_u64().unwrap() >= 150, "{c}");
    assert!(
        debug.data()["providerErrors"].as_array().unwrap().is_empty(),
        "{}",
        debug.data()
    );
}

#[actix_web::test]
async fn an_s2s_call_runs_over_the_realtime_api_ga() {
    s2s_call_over_realtime(Generation::Ga).await;
}

#[actix_web::test]
async fn an_s2s_call_runs_over_the_realtime_api_beta() {
    s2s_call_over_realtime(Generation::Beta).await;
}

#[actix_web::test]
async fn an_s2s_call_without_a_key_runs_on_the_sandbox_session() {
    let app = spawn_with(|s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.calls.silence_timeout_ms = 8000;
    })
    .await;
    let id = place(
        &app,
        json!({ "name": "Sandbox realtime", "pipelineMode": "s2s", "s2sProvider": "openai-realtime",
                "firstMessage": GREETING, "systemPrompt": "You answer the phone." }),
        json!([{ "interrupt": "hold on", "afterMs": 1200 }, { "waitForAgent": true },
               { "say": "goodbye" }, { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c["status"], "completed", "{c}");
    assert_eq!(c["endReason"], "agent_ended", "{c}");
    assert_eq!(texts(&c, "caller"), vec!["hold on", "goodbye"], "{c}");
    let agent = texts(&c, "agent");
    assert!(GREETING.starts_with(agent[0].as_str()) && agent[0].len() < GREETING.len());
    assert!(agent.last().unwrap().contains("Goodbye"), "{agent:?}");
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let fallback: Vec<Value> = debug.data()["timeline"]
        .as_array()
        .map(|t| t.iter().filter(|e| e["kind"] == "provider_fallback").cloned().collect())
        .unwrap_or_default();
    assert!(debug.data()["interruptions"][0]["audioEndMs"].as_u64().unwrap() > 0);
    assert!(fallback.is_empty() || fallback[0]["detail"]["using"] == "sandbox");
}

async fn traditional_app(fake: &FakeAi) -> TestApp {
    let (base, dg) = (fake.base.clone(), fake.deepgram_base.clone());
    spawn_with(move |s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.calls.silence_timeout_ms = 8000;
        s.providers.openai.api_key = KEY.into();
        s.providers.openai.base_url = format!("{base}/openai/v1");
        s.providers.anthropic.api_key = KEY.into();
        s.providers.anthropic.base_url = format!("{base}/anthropic/v1");
        s.providers.elevenlabs.api_key = KEY.into();
        s.providers.elevenlabs.base_url = format!("{base}/elevenlabs/v1");
        s.providers.deepgram.api_key = KEY.into();
        s.providers.deepgram.base_url = dg;
    })
    .await
}

async fn traditional_call(llm: &str, tts: &str) {
    let fake = FakeAi::start().await;
    let app = traditional_app(&fake).await;
    let sink = Sink::start().await;
    let tool_id = tool(&app, &sink).await;
    let voice = if tts == "elevenlabs" {
        "21m00Tcm4TlvDq8ikWAM"
    } else {
        "coral"
    };
    let id = place(
        &app,
        json!({ "name": "Live desk", "pipelineMode": "traditional", "firstMessage": "Thanks for calling!",
                "systemPrompt": "You answer the phone for a clinic.", "enabledTools": [tool_id],
                "llmConfig": { "provider": llm },
                "sttConfig": { "provider": "deepgram", "model": "nova-3", "language": "en" },
                "voiceConfig": { "provider": tts, "voiceId": voice } }),
        json!([{ "waitForAgent": true }, { "say": "please check order 42" }, { "waitForAgent": true, "quietMs": 3000 },
               { "say": "goodbye" }, { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c["status"], "completed", "{c}");
    assert_eq!(c["endReason"], "agent_ended", "{c}");
    assert_eq!(texts(&c, "caller"), vec!["please check order 42", "goodbye"], "{c}");
    let agent = texts(&c, "agent");
    assert_eq!(agent[0], "Thanks for calling!");
    assert!(
        agent
            .iter()
            .any(|t| t.contains("Here is what I found") && t.contains("shipped")),
        "{agent:?}"
    );
    assert_eq!(agent.last().unwrap(), "Goodbye!");

    // Wire facts the fakes saw.
    let dg = fake.seen("/listen");
    assert_eq!(dg.len(), 2);
    assert!(
        dg[0].query.contains("encoding=mulaw&sample_rate=8000"),
        "{}",
        dg[0].query
    );
    assert!(dg[0].query.contains("model=nova-3") && dg[0].query.contains("language=en"));
    let chat_path = if llm == "openai" {
        "/chat/completions"
    } else {
        "/messages"
    };
    let chats = fake.seen(chat_path);
    assert_eq!(chats.len(), 3, "tool call, tool answer, goodbye");
    let tool_answer = &chats[1].body;
    if llm == "openai" {
        let msgs = tool_answer["messages"].as_array().unwrap();
        let asked = msgs.iter().find(|m| m["tool_calls"].is_array()).unwrap();
        let id = asked["tool_calls"][0]["id"].as_str().unwrap();
        assert!(id.starts_with("call_fake_"));
        assert_eq!(asked["tool_calls"][0]["function"]["arguments"], "{\"orderId\":\"42\"}");
        let result = msgs.iter().find(|m| m["role"] == "tool").unwrap();
        assert_eq!(result["tool_call_id"], id);
        assert!(chats[0].body["stream"] == true);
        assert!(
            chats[0].body["tools"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["function"]["name"] == "end_call")
        );
    } else {
        let msgs = tool_answer["messages"].as_array().unwrap();
        assert_eq!(msgs[0]["role"], "user");
        let asked = msgs
            .iter()
            .flat_map(|m| m["content"].as_array().unwrap().clone())
            .find(|b| b["type"] == "tool_use")
            .unwrap();
        assert_eq!(asked["input"], json!({ "orderId": "42" }));
        let last = msgs.last().unwrap();
        assert_eq!(last["role"], "user");
        assert_eq!(last["content"][0]["type"], "tool_result");
        assert_eq!(last["content"][0]["tool_use_id"], asked["id"]);
        assert!(tool_answer["max_tokens"].as_u64().is_some());
    }
    let tts_path = if tts == "elevenlabs" {
        "/text-to-speech/"
    } else {
        "/audio/speech"
    };
    assert!(fake.seen(tts_path).len() >= 3);
    let usage = &c["usage"];
    let expected_in = if llm == "openai" { 300 } else { 360 };
    assert_eq!(usage["llmInputTokens"], expected_in, "{usage}");
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    assert!(
        debug.data()["providerErrors"].as_array().unwrap().is_empty(),
        "{}",
        debug.data()
    );
}

#[actix_web::test]
async fn a_traditional_call_runs_on_openai_deepgram_and_elevenlabs() {
    traditional_call("openai", "elevenlabs").await;
}

#[actix_web::test]
async fn a_traditional_call_runs_on_anthropic_deepgram_and_openai_tts() {
    traditional_call("anthropic", "openai").await;
}

/// A tool slower than the speech said with its call ("Let me look."): that text stays in
/// the tool call's turn, so the next request still ends on the tool's result (it used to
/// land after it, and the model was asked to go on from the agent's own words).
#[actix_web::test]
async fn a_tool_slower_than_the_speech_beside_it_still_gets_its_answer() {
    let fake = FakeAi::start().await;
    let app = traditional_app(&fake).await;
    let sink = Sink::start().await;
    let tool_id = tool_at(&app, &format!("{}/slow", sink.base_url)).await;
    let id = place(
        &app,
        json!({ "name": "Live desk", "pipelineMode": "traditional", "firstMessage": "Thanks for calling!",
                "systemPrompt": "You answer the phone for a clinic.", "enabledTools": [tool_id],
                "llmConfig": { "provider": "anthropic" },
                "sttConfig": { "provider": "deepgram", "model": "nova-3", "language": "en" },
                "voiceConfig": { "provider": "openai", "voiceId": "coral" } }),
        json!([{ "waitForAgent": true }, { "say": "please check order 42" }, { "waitForAgent": true, "quietMs": 6000 },
               { "say": "goodbye" }, { "waitForAgent": true }, { "silenceMs": 2000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let agent = texts(&c, "agent");
    assert!(agent.iter().any(|t| t.contains("Here is what I found")), "{agent:?}");
    let chats = fake.seen("/messages");
    let msgs = chats[1].body["messages"].as_array().unwrap();
    let last = msgs.last().unwrap();
    assert_eq!(last["content"][0]["type"], "tool_result", "{msgs:?}");
    let asked = &msgs[msgs.len() - 2];
    assert_eq!(asked["role"], "assistant");
    let blocks: Vec<&str> = asked["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(blocks, ["text", "tool_use"], "the words said, then the call: {asked}");
}

#[actix_web::test]
async fn a_failing_language_model_is_a_provider_error_not_a_crash() {
    let fake = FakeAi::start().await;
    fake.fail("openai", Fault::Status(500));
    let app = traditional_app(&fake).await;
    let id = place(
        &app,
        json!({ "name": "Live desk", "pipelineMode": "traditional", "firstMessage": "Thanks for calling!",
                "llmConfig": { "provider": "openai", "model": "gpt-4o-mini" },
                "sttConfig": { "provider": "deepgram" }, "voiceConfig": { "provider": "elevenlabs" } }),
        json!([{ "waitForAgent": true }, { "say": "hello there" }, { "silenceMs": 1500 }, { "hangup": true }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c["status"], "completed", "{c}");
    assert_eq!(texts(&c, "caller"), vec!["hello there"]);
    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let errors = debug.data()["providerErrors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "{}", debug.data());
    assert_eq!(errors[0]["component"], "llm");
    assert!(errors[0]["error"].as_str().unwrap().contains("500"), "{}", errors[0]);
}

// --- the clients' error cases ----------------------------------------------------------------

fn chat(base: String, timeout_ms: u64) -> ChatSettings {
    ChatSettings {
        base_url: base,
        api_key: KEY.into(),
        model: "m".into(),
        timeout: Duration::from_millis(timeout_ms),
        temperature: None,
        max_tokens: None,
    }
}

async fn llm_result(fake: &FakeAi, provider: &str) -> Result<String, String> {
    let http = reqwest::Client::new();
    let prompt = LlmRequest {
        system_prompt: "Be brief.".into(),
        first_message: None,
        conversation: vec![ChatTurn::new(ChatRole::User, "hello")],
        tools: Vec::new(),
        knowledge: Vec::new(),
    };
    let r = if provider == "openai" {
        OpenAiChat {
            provider: "openai",
            http,
            settings: chat(format!("{}/openai/v1", fake.base), 400),
        }
        .respond(&prompt)
        .await
    } else {
        AnthropicChat {
            http,
            settings: chat(format!("{}/anthropic/v1", fake.base), 400),
        }
        .respond(&prompt)
        .await
    };
    r.map(|r| r.text).map_err(|e| e.to_string())
}

#[actix_web::test]
async fn chat_clients_report_status_malformed_cut_and_slow_answers() {
    for provider in ["openai", "anthropic"] {
        let ok = FakeAi::start().await;
        assert_eq!(llm_result(&ok, provider).await, Ok("You said hello".into()));
        for (fault, expect) in [
            (Fault::Status(500), "500"),
            (Fault::Status(429), "429"),
            (Fault::Garbage, "malformed"),
            (Fault::Cut, "malformed"),
            (Fault::Slow(1500), "timed out"),
        ] {
            let fake = FakeAi::start().await;
            fake.fail(provider, fault);
            let err = llm_result(&fake, provider).await.unwrap_err();
            assert!(err.contains(expect), "{provider} {fault:?}: {err}");
        }
    }
}

fn deepgram(fake: &FakeAi, key: &str) -> DeepgramStt {
    DeepgramStt {
        base_url: fake.deepgram_base.clone(),
        api_key: key.into(),
        model: "nova-3".into(),
        language: None,
        endpointing_ms: None,
        keywords: vec!["clinic".into()],
        timeout: Duration::from_millis(500),
    }
}

#[actix_web::test]
async fn deepgram_transcribes_and_reports_refusals_garbage_and_timeouts() {
    let audio = tone::encode("what are your hours");
    let fake = FakeAi::start().await;
    assert_eq!(
        deepgram(&fake, KEY).transcribe(&audio).await.unwrap(),
        "what are your hours"
    );
    assert!(fake.seen("/listen")[0].query.contains("keyterm=clinic"));
    assert!(deepgram(&fake, "wrong").transcribe(&audio).await.is_err());
    for (fault, expect) in [(Fault::Garbage, "not JSON"), (Fault::Slow(1500), "timed out")] {
        let fake = FakeAi::start().await;
        fake.fail("deepgram", fault);
        let err = deepgram(&fake, KEY).transcribe(&audio).await.unwrap_err().to_string();
        assert!(err.contains(expect), "{fault:?}: {err}");
    }
    let nobody = DeepgramStt {
        base_url: "http://127.0.0.1:9/v1".into(),
        ..deepgram(&fake, KEY)
    };
    assert!(nobody.transcribe(&audio).await.is_err());
}

fn eleven(fake: &FakeAi) -> ElevenLabsTts {
    ElevenLabsTts {
        http: reqwest::Client::new(),
        base_url: format!("{}/elevenlabs/v1", fake.base),
        api_key: KEY.into(),
        voice_id: "21m00Tcm4TlvDq8ikWAM".into(),
        model: "eleven_flash_v2_5".into(),
        stability: None,
        similarity_boost: None,
        speed: Some(1.1),
        language: None,
        timeout: Duration::from_millis(500),
    }
}

#[actix_web::test]
async fn tts_clients_synthesize_and_report_status_garbage_and_timeouts() {
    let fake = FakeAi::start().await;
    let audio = eleven(&fake).synthesize("hello there").await.unwrap();
    assert_eq!(tone::decode(&audio).trim(), "hello there");
    let seen = &fake.seen("/text-to-speech/21m00Tcm4TlvDq8ikWAM/stream")[0];
    assert_eq!(seen.query, "output_format=ulaw_8000");
    assert_eq!(seen.body["model_id"], "eleven_flash_v2_5");
    assert_eq!(seen.body["voice_settings"]["speed"], 1.1);
    let openai = OpenAiTts {
        http: reqwest::Client::new(),
        base_url: format!("{}/openai/v1", fake.base),
        api_key: KEY.into(),
        voice: "coral".into(),
        model: "gpt-4o-mini-tts".into(),
        speed: None,
        timeout: Duration::from_millis(500),
    };
    assert_eq!(
        tone::decode(&openai.synthesize("good day").await.unwrap()).trim(),
        "good day"
    );
    for (fault, expect) in [
        (Fault::Status(503), "503"),
        (Fault::Garbage, "expected audio"),
        (Fault::Slow(1500), "timed out"),
    ] {
        let fake = FakeAi::start().await;
        fake.fail("elevenlabs", fault);
        let err = eleven(&fake).synthesize("hello").await.unwrap_err().to_string();
        assert!(err.contains(expect), "{fault:?}: {err}");
    }
}

#[actix_web::test]
async fn a_realtime_session_that_fails_ends_the_call_with_a_provider_error() {
    // A beta-only server spoken to in GA (it closes the socket), then nothing listening.
    let beta = FakeRealtime::start(Generation::Beta).await;
    for base in [beta.base_url.clone(), "http://127.0.0.1:9/v1".to_string()] {
        let app = spawn_with(move |s| {
            s.security.url_allowlist = vec!["127.0.0.1/32".into()];
            s.providers.openai.api_key = KEY.into();
            s.providers.openai.base_url = base;
            s.providers.openai.realtime_dialect = "ga".into();
        })
        .await;
        let id = place(
            &app,
            json!({ "name": "Realtime desk", "pipelineMode": "s2s", "s2sProvider": "openai-realtime",
                    "firstMessage": "Hello!" }),
            json!([{ "silenceMs": 3000 }, { "hangup": true }]),
        )
        .await;
        let c = finished(&app, &id).await;
        assert_eq!(c["status"], "completed", "{c}");
        assert_eq!(c["endReason"], "provider_error", "{c}");
        let debug = app.get(&format!("/calls/{id}/debug")).await;
        let errors = debug.data()["providerErrors"].as_array().unwrap().clone();
        assert!(
            !errors.is_empty() && errors[0]["component"] == "s2s",
            "{}",
            debug.data()
        );
    }
    assert!(!beta.recorded.lock().unwrap().rejected.is_empty());
}
