//! Local fakes of the AI providers a traditional call uses, each speaking its provider's
//! wire format: OpenAI Chat Completions (SSE chunks, tool calls with streamed arguments,
//! `[DONE]`) and TTS (`/audio/speech`, 24 kHz PCM), Anthropic Messages (named SSE events,
//! `tool_use` with `input_json_delta`), ElevenLabs (`/text-to-speech/{voice}/stream`,
//! `ulaw_8000`) over one actix-web server, and Deepgram's streaming `/listen` WebSocket.
//! Speech is the tone codec, so the fakes "hear" and "speak" like the sandbox. Faults
//! (status, garbage, slowness, a cut stream) can be switched on per fake.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thruai_actors::audio::tone;
use tokio_tungstenite::tungstenite::{
    Message,
    handshake::server::{Request, Response},
};

pub const KEY: &str = "test-provider-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this HTTP status with an error body.
    Status(u16),
    /// Answer 200 with a body that is not the provider's format.
    Garbage,
    /// Wait this long before answering.
    Slow(u64),
    /// Stop the stream halfway.
    Cut,
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct Shared {
    pub seen: Mutex<Vec<Seen>>,
    /// Faults by provider (`openai`, `anthropic`, `elevenlabs`, `deepgram`).
    pub faults: Mutex<Vec<(String, Fault)>>,
}

impl Shared {
    fn fault(&self, provider: &str) -> Option<Fault> {
        self.faults
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| p == provider)
            .map(|(_, f)| *f)
    }
}

pub struct FakeAi {
    /// `http://127.0.0.1:port`: OpenAI at `/openai/v1`, Anthropic at `/anthropic/v1`,
    /// ElevenLabs at `/elevenlabs/v1`.
    pub base: String,
    /// Deepgram: `http://127.0.0.1:port/v1` (the client turns it into `ws://`).
    pub deepgram_base: String,
    pub shared: Arc<Shared>,
    handle: ServerHandle,
}

impl FakeAi {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .route("/openai/v1/chat/completions", web::post().to(openai_chat))
                .route("/openai/v1/audio/speech", web::post().to(openai_tts))
                .route("/openai/v1/embeddings", web::post().to(openai_embeddings))
                .route("/anthropic/v1/messages", web::post().to(anthropic))
                .route(
                    "/elevenlabs/v1/text-to-speech/{voice}/stream",
                    web::post().to(elevenlabs),
                )
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let dg = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dg_port = dg.local_addr().unwrap().port();
        let s = shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = dg.accept().await {
                tokio::spawn(deepgram(stream, s.clone()));
            }
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            deepgram_base: format!("http://127.0.0.1:{dg_port}/v1"),
            shared,
            handle,
        }
    }

    pub fn fail(&self, provider: &str, fault: Fault) {
        self.shared.faults.lock().unwrap().push((provider.into(), fault));
    }

    /// The requests to paths containing `path_part`, the post-call analyses left out (they
    /// come after the call, when the worker gets to them).
    pub fn seen(&self, path_part: &str) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.contains(path_part) && !s.body.to_string().contains("You analyse phone calls"))
            .cloned()
            .collect()
    }
}

impl Drop for FakeAi {
    fn drop(&mut self) {
        let h = self.handle.clone();
        actix_web::rt::spawn(async move { h.stop(false).await });
    }
}

fn record(shared: &Shared, req: &HttpRequest, body: &Value) {
    shared.seen.lock().unwrap().push(Seen {
        path: req.path().to_string(),
        query: req.query_string().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.clone(),
    });
}

/// What the fake model does next, from the conversation (`(role, text)`, tool results as
/// `("tool", text)`) and the offered tool names.
pub enum Move {
    Say(String),
    Call { name: String, arguments: String },
    SayAndEnd(String),
}

pub fn brain(last_role: &str, last_text: &str, tools: &[String]) -> Move {
    if last_role == "tool" {
        return Move::Say(format!("Here is what I found: {last_text}"));
    }
    let lower = last_text.to_lowercase();
    if lower.starts_with("recommend improvements") {
        // An analyst's answer: one recommendation citing the first call it was shown, and
        // one citing a call that does not exist (which must be dropped).
        let call = last_text
            .split(|c: char| c == '"' || c.is_whitespace())
            .find(|w| w.starts_with("CALL-"))
            .unwrap_or("CALL-none");
        return Move::Say(format!(
            "[{{\"title\":\"Confirm the time back\",\"rationale\":\"Callers repeat the time.\",\"evidenceCallIds\":[\"{call}\"],\"impact\":\"high\"}},{{\"title\":\"Invented\",\"evidenceCallIds\":[\"CALL-made-up\"]}}]"
        ));
    }
    if lower.starts_with("judge the workflow's conditions") {
        // A workflow branch's judge: question 1 holds when what happened mentions "agreed".
        return Move::Say(format!(
            "Here is my verdict: {{\"1\": {}, \"2\": false}}",
            lower.contains("agreed")
        ));
    }
    if let Some(t) = tools
        .iter()
        .find(|t| *t != "end_call" && lower.contains(&t.replace('_', " ")))
    {
        return Move::Call {
            name: t.clone(),
            arguments: "{\"orderId\": \"42\"}".into(),
        };
    }
    if lower.contains("goodbye") {
        return Move::SayAndEnd("Goodbye!".into());
    }
    if last_role == "user" {
        return Move::Say(format!("You said {}", last_text.trim_end_matches(['.', '?', '!'])));
    }
    Move::Say("Hello from the model.".into())
}

fn sse(events: Vec<String>, cut: bool) -> HttpResponse {
    let mut body = events.concat();
    if cut {
        body.truncate(body.len() / 2);
    }
    HttpResponse::Ok().content_type("text/event-stream").body(body)
}

async fn fault_response(shared: &Shared, provider: &str) -> Option<HttpResponse> {
    match shared.fault(provider)? {
        Fault::Status(code) => Some(
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .json(json!({ "error": { "message": "the fake is down", "type": "server_error" } })),
        ),
        Fault::Garbage => Some(
            HttpResponse::Ok()
                .content_type("text/event-stream")
                .body("data: {not json\n\n"),
        ),
        Fault::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Fault::Cut => None,
    }
}

async fn openai_chat(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    record(&shared, &req, &body);
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        return HttpResponse::Unauthorized()
            .json(json!({ "error": { "message": "bad key", "type": "invalid_request_error" } }));
    }
    if let Some(r) = fault_response(&shared, "openai").await {
        return r;
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let tools: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
        .collect();
    let role = last["role"].as_str().unwrap_or("system");
    let text = last["content"].as_str().unwrap_or_default();
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    let mut events = vec![chunk(json!({ "role": "assistant", "content": "" }), Value::Null)];
    let text_chunks = |s: &str, events: &mut Vec<String>| {
        for w in s.split_inclusive(' ') {
            events.push(chunk(json!({ "content": w }), Value::Null));
        }
    };
    let finish = match brain(role, text, &tools) {
        Move::Say(s) => {
            text_chunks(&s, &mut events);
            "stop"
        }
        Move::SayAndEnd(s) => {
            text_chunks(&s, &mut events);
            events.push(chunk(
                json!({ "tool_calls": [{ "index": 0, "id": "call_end", "type": "function",
                                          "function": { "name": "end_call", "arguments": "{}" } }] }),
                Value::Null,
            ));
            "tool_calls"
        }
        Move::Call { name, arguments } => {
            let id = format!("call_fake_{}", messages.len());
            events.push(chunk(
                json!({ "tool_calls": [{ "index": 0, "id": id, "type": "function",
                                          "function": { "name": name, "arguments": "" } }] }),
                Value::Null,
            ));
            let (a, b) = arguments.split_at(arguments.len() / 2);
            for part in [a, b] {
                events.push(chunk(
                    json!({ "tool_calls": [{ "index": 0, "function": { "arguments": part } }] }),
                    Value::Null,
                ));
            }
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    events.push(format!(
        "data: {}\n\n",
        json!({ "id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [],
                "usage": { "prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107 } })
    ));
    events.push("data: [DONE]\n\n".into());
    sse(events, shared.fault("openai") == Some(Fault::Cut))
}

async fn anthropic(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    record(&shared, &req, &body);
    if req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY)
        || req.headers().get("anthropic-version").and_then(|v| v.to_str().ok()) != Some("2023-06-01")
    {
        return HttpResponse::Unauthorized()
            .json(json!({ "type": "error", "error": { "type": "authentication_error", "message": "bad key" } }));
    }
    if let Some(r) = fault_response(&shared, "anthropic").await {
        return r;
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    let blocks = last["content"].as_array().cloned().unwrap_or_default();
    let (role, text) = match blocks.iter().find(|b| b["type"] == "tool_result") {
        Some(b) => ("tool", b["content"].as_str().unwrap_or_default().to_string()),
        None => (
            "user",
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    let tools: Vec<String> = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect();
    let ev = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let mut events = vec![
        ev(
            "message_start",
            json!({ "type": "message_start", "message": { "id": "msg_fake", "type": "message", "role": "assistant",
                    "content": [], "model": body["model"], "usage": { "input_tokens": 120, "output_tokens": 1 } } }),
        ),
        ev("ping", json!({ "type": "ping" })),
    ];
    let text_block = |index: u64, s: &str, events: &mut Vec<String>| {
        events.push(ev(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": { "type": "text", "text": "" } }),
        ));
        for w in s.split_inclusive(' ') {
            events.push(ev(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": { "type": "text_delta", "text": w } }),
            ));
        }
        events.push(ev(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    };
    let tool_block = |index: u64, id: &str, name: &str, args: &str, events: &mut Vec<String>| {
        events.push(ev(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index,
                    "content_block": { "type": "tool_use", "id": id, "name": name, "input": {} } }),
        ));
        let (a, b) = args.split_at(args.len() / 2);
        for part in [a, b] {
            events.push(ev(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index,
                        "delta": { "type": "input_json_delta", "partial_json": part } }),
            ));
        }
        events.push(ev(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    };
    let stop = match brain(role, &text, &tools) {
        Move::Say(s) => {
            text_block(0, &s, &mut events);
            "end_turn"
        }
        Move::SayAndEnd(s) => {
            text_block(0, &s, &mut events);
            tool_block(1, "toolu_end", "end_call", "{}", &mut events);
            "tool_use"
        }
        Move::Call { name, arguments } => {
            text_block(0, "Let me look.", &mut events);
            tool_block(
                1,
                &format!("toolu_fake_{}", messages.len()),
                &name,
                &arguments,
                &mut events,
            );
            "tool_use"
        }
    };
    events.push(ev(
        "message_delta",
        json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null }, "usage": { "output_tokens": 9 } }),
    ));
    events.push(ev("message_stop", json!({ "type": "message_stop" })));
    sse(events, shared.fault("anthropic") == Some(Fault::Cut))
}

async fn elevenlabs(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    record(&shared, &req, &body);
    if req.headers().get("xi-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return HttpResponse::Unauthorized()
            .json(json!({ "detail": { "status": "invalid_api_key", "message": "bad key" } }));
    }
    if !req.query_string().contains("output_format=ulaw_8000") {
        return HttpResponse::BadRequest().json(json!({ "detail": { "message": "unsupported output_format" } }));
    }
    match shared.fault("elevenlabs") {
        Some(Fault::Status(code)) => {
            return HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .json(json!({ "detail": { "message": "the fake is down" } }));
        }
        Some(Fault::Garbage) => return HttpResponse::Ok().content_type("text/html").body("<html>oops</html>"),
        Some(Fault::Slow(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        _ => {}
    }
    let audio = tone::encode(body["text"].as_str().unwrap_or_default());
    let chunks: Vec<Result<web::Bytes, actix_web::Error>> =
        audio.chunks(1600).map(|c| Ok(web::Bytes::copy_from_slice(c))).collect();
    HttpResponse::Ok()
        .content_type("audio/basic")
        .streaming(futures_util::stream::iter(chunks))
}

/// OpenAI embeddings: one vector per input, in a shuffled order (the client sorts by
/// `index`); a word's first letter picks the dimension it adds to.
async fn openai_embeddings(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    record(&shared, &req, &body);
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        return HttpResponse::Unauthorized()
            .json(json!({ "error": { "message": "Incorrect API key provided", "type": "invalid_request_error" } }));
    }
    if let Some(r) = fault_response(&shared, "openai").await {
        return r;
    }
    let dims = body["dimensions"].as_u64().unwrap_or(16) as usize;
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect(),
        _ => return HttpResponse::BadRequest().json(json!({ "error": { "message": "input is required" } })),
    };
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut v = vec![0.0f32; dims];
            for w in text.split_whitespace() {
                v[usize::from(w.as_bytes()[0]) % dims] += 1.0;
            }
            json!({ "object": "embedding", "index": i, "embedding": v })
        })
        .collect();
    data.reverse();
    HttpResponse::Ok().json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": { "prompt_tokens": 1, "total_tokens": 1 },
    }))
}

async fn openai_tts(req: HttpRequest, body: web::Json<Value>, shared: web::Data<Arc<Shared>>) -> HttpResponse {
    record(&shared, &req, &body);
    if req.headers().get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        return HttpResponse::Unauthorized().json(json!({ "error": { "message": "bad key" } }));
    }
    // 24 kHz PCM: each 8 kHz tone sample three times.
    let pcm: Vec<u8> = tone::encode_pcm(body["input"].as_str().unwrap_or_default())
        .into_iter()
        .flat_map(|s| std::iter::repeat_n(s.to_le_bytes(), 3).flatten())
        .collect();
    HttpResponse::Ok().content_type("application/octet-stream").body(pcm)
}

#[allow(clippy::result_large_err)]
/// Deepgram's `/v1/listen`: binary audio in, `Results` out, `Metadata` and close after
/// `CloseStream`.
async fn deepgram(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let callback = move |req: &Request, resp: Response| {
        let headers = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect::<Vec<_>>();
        *s2.lock().unwrap() = Some(Seen {
            path: req.uri().path().to_string(),
            query: req.uri().query().unwrap_or_default().to_string(),
            headers,
            body: Value::Null,
        });
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let Some(req) = seen.lock().unwrap().take() else {
        return;
    };
    shared.seen.lock().unwrap().push(req.clone());
    let fault = shared.fault("deepgram");
    if req.header("authorization") != Some(&format!("Token {KEY}")) || matches!(fault, Some(Fault::Status(_))) {
        let _ = ws.close(None).await;
        return;
    }
    let mut audio = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Binary(b) => audio.extend_from_slice(&b),
            Message::Text(t) if t.contains("CloseStream") => break,
            _ => {}
        }
    }
    match fault {
        Some(Fault::Slow(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Fault::Garbage) => {
            let _ = ws.send(Message::Text("{not json".into())).await;
            return;
        }
        _ => {}
    }
    let text = tone::decode(&audio).trim().to_string();
    let duration = audio.len() as f64 / 8000.0;
    // Two finals: the words split in halves, as Deepgram splits spans.
    let words: Vec<&str> = text.split(' ').collect();
    let half = words.len() / 2;
    for (i, part) in [words[..half].join(" "), words[half..].join(" ")]
        .into_iter()
        .enumerate()
    {
        let result = json!({ "type": "Results", "channel_index": [0, 1], "duration": duration / 2.0,
            "start": if i == 0 { 0.0 } else { duration / 2.0 }, "is_final": true, "speech_final": i == 1,
            "from_finalize": false,
            "channel": { "alternatives": [{ "transcript": part, "confidence": 0.99, "words": [] }] },
            "metadata": { "request_id": "fake", "model_info": { "name": "nova-3", "version": "x", "arch": "y" }, "model_uuid": "u" } });
        let interim = json!({ "type": "Results", "is_final": false, "speech_final": false,
            "channel": { "alternatives": [{ "transcript": "interim noise", "confidence": 0.5 }] } });
        let _ = ws.send(Message::Text(interim.to_string().into())).await;
        let _ = ws.send(Message::Text(result.to_string().into())).await;
    }
    let _ = ws
        .send(Message::Text(
            json!({ "type": "Metadata", "request_id": "fake", "duration": duration, "channels": 1 })
                .to_string()
                .into(),
        ))
        .await;
    let _ = ws.close(None).await;
}
