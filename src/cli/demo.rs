//! `thruai demo`: on embedded defaults (in-memory SQLite, sandbox providers), starts the
//! server, provisions an organisation, quickstarts an agent and places a sandbox call end
//! to end through the public API, printing the transcript and turn latencies as it goes.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::{config::Settings, startup::Application};

const BASE: &str = "/api/v1/public";

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let mut rb = self.http.request(method, format!("{}{BASE}{path}", self.base));
        if !self.key.is_empty() {
            rb = rb.bearer_auth(&self.key);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let res = rb.send().await.with_context(|| format!("calling {path}"))?;
        let status = res.status();
        let v: Value = res.json().await.with_context(|| format!("reading {path}"))?;
        if !status.is_success() {
            bail!("{path}: HTTP {status}: {}", v["error"]);
        }
        Ok(v["data"].clone())
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

/// The sandbox providers' latency in the demo (speech-to-text, language model,
/// text-to-speech), unless configured: typical figures of hosted providers.
const DEMO_LATENCY_MS: (u64, u64, u64) = (180, 350, 150);

/// A measured duration for the table: `12 ms`, or `<1 ms` for what took less.
fn ms(v: &Value) -> String {
    match v.as_u64() {
        Some(0) => "<1 ms".into(),
        Some(n) => format!("{n} ms"),
        None => "-".into(),
    }
}

/// The caller's side of the demo call.
fn script() -> Value {
    json!([
        { "waitForAgent": true },
        { "say": "Hi, I would like to book an appointment." },
        { "interrupt": "Sorry, one moment", "afterMs": 1200 },
        { "waitForAgent": true },
        { "say": "Thanks, goodbye." },
        { "waitForAgent": true },
        { "silenceMs": 1500 }
    ])
}

/// Runs the demo; `settings` are the loaded defaults (database and bind are overridden).
///
/// # Errors
/// When the server cannot start or a step of the call fails.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    settings.database.url = "sqlite::memory:".into();
    settings.database.schema = String::new();
    settings.redis.url = String::new();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.email.provider = "sandbox".into();
    settings.email.sandbox_outbox = true;
    let lag = &mut settings.providers.sandbox;
    if lag.stt_latency_ms + lag.llm_latency_ms + lag.tts_latency_ms == 0 {
        (lag.stt_latency_ms, lag.llm_latency_ms, lag.tts_latency_ms) = DEMO_LATENCY_MS;
    }
    let lag = settings.providers.sandbox.clone();
    let app = Application::build(settings).await?;
    let port = app.port();
    actix_web::rt::spawn(app.run_until_stopped());
    let mut api = Api {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
        key: String::new(),
    };
    println!(
        "ThruAI demo — server on {} (in-memory database, sandbox providers answering like real\n\
         ones: speech-to-text {} ms, language model {} ms, text-to-speech {} ms; log: warnings only)\n",
        api.base, lag.stt_latency_ms, lag.llm_latency_ms, lag.tts_latency_ms
    );

    let email = "demo@example.com";
    api.post(
        "/accounts/provision",
        json!({ "email": email, "orgName": "Demo Clinic" }),
    )
    .await?;
    let outbox = api.get(&format!("/_debug/sandbox/outbox?to={email}")).await?;
    let code = outbox["messages"][0]["subject"]
        .as_str()
        .and_then(|s| s.rsplit(' ').next())
        .context("no verification code in the sandbox outbox")?
        .to_string();
    let verified = api
        .post("/accounts/verify", json!({ "email": email, "code": code }))
        .await?;
    api.key = verified["apiKey"].as_str().context("no API key")?.to_string();
    println!(
        "1. organisation {} provisioned",
        verified["organization"]["id"].as_str().unwrap_or_default()
    );

    let quick = api
        .post(
            "/agents/quickstart",
            json!({ "name": "Receptionist", "systemPrompt": "You are the receptionist of a dental clinic." }),
        )
        .await?;
    let agent_id = quick["agent"]["id"].as_str().context("no agent")?.to_string();
    api.call(
        reqwest::Method::PATCH,
        &format!("/agents/{agent_id}"),
        Some(json!({
            "firstMessage": "Good morning, Bright Smile Dental, how can I help you today?",
            "pipelineMode": "traditional",
        })),
    )
    .await?;
    println!(
        "2. agent {agent_id} on {} (sandbox number)",
        quick["phoneNumber"]["phoneNumber"].as_str().unwrap_or_default()
    );

    let call = api
        .post(
            "/calls/outbound",
            json!({ "agentId": agent_id, "to": "+14155550142", "metadata": { "sandboxScript": script() } }),
        )
        .await?;
    let call_id = call["callId"].as_str().context("no call id")?.to_string();
    println!("3. calling +14155550142: {call_id}\n");
    println!("   {:>7}  {:<7} text", "at (ms)", "speaker");

    let mut printed = 0;
    let detail = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let c = api.get(&format!("/calls/{call_id}")).await?;
        let lines = c["transcript"].as_array().cloned().unwrap_or_default();
        // Print finished lines (an agent line may still be cut by a barge-in).
        let done = !matches!(c["status"].as_str(), Some("queued" | "ringing" | "in_progress"));
        let ready = if done {
            lines.len()
        } else {
            lines.len().saturating_sub(1)
        };
        for line in lines.iter().take(ready).skip(printed) {
            let cut = if line["interrupted"] == true {
                "  [interrupted]"
            } else {
                ""
            };
            println!(
                "   {:>7}  {:<7} {}{cut}",
                line["atMs"].to_string(),
                line["speaker"].as_str().unwrap_or(""),
                line["text"].as_str().unwrap_or("")
            );
        }
        printed = printed.max(ready);
        if done {
            break c;
        }
    };
    let debug = api.get(&format!("/calls/{call_id}/debug")).await?;
    println!(
        "\n4. call {} ({}), {} s",
        detail["status"].as_str().unwrap_or(""),
        detail["endReason"].as_str().unwrap_or(""),
        detail["duration"]
    );
    println!(
        "\n   {:>4}  {:>20}  {:>7}  {:>7}  {:>7}",
        "turn", "end of turn → audio", "STT", "LLM", "TTS"
    );
    for (i, t) in debug["turns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        println!(
            "   {:>4}  {:>20}  {:>7}  {:>7}  {:>7}",
            i + 1,
            ms(&t["endOfTurnToFirstAudioMs"]),
            ms(&t["sttMs"]),
            ms(&t["llmMs"]),
            ms(&t["ttsMs"])
        );
    }
    for i in debug["interruptions"].as_array().cloned().unwrap_or_default() {
        println!(
            "   barge-in: speech onset → clear {}; the caller heard \"{}\"",
            ms(&i["speechOnsetToClearMs"]),
            i["heard"].as_str().unwrap_or("")
        );
    }
    println!("   usage: {}", detail["usage"]);
    if detail["status"] != "completed" {
        bail!("the demo call ended {}", detail["status"]);
    }
    Ok(())
}
