//! Real language-model clients for live calls: OpenAI Chat Completions (also Groq, which
//! speaks the same wire format on its own base URL) and Anthropic Messages, both streamed
//! over SSE with tools. Each implements the actors' `LanguageModel` port; every failure
//! (timeout, error status, malformed stream) is an `LlmError`, reported as the port's
//! error, never a panic.

use std::{collections::HashSet, time::Duration};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use thruai_actors::call::{
    chat::{ChatRole, ChatTurn, LlmToolCall},
    ports::{LanguageModel, LlmReply, LlmRequest, PortError, ToolDef},
};

use super::llm::{LlmError, estimated_usage};

/// The tool every live-call model is offered to hang up.
pub const END_CALL_TOOL: &str = "end_call";
const END_CALL_DESCRIPTION: &str =
    "Hang up the call. Use it only after you have said goodbye or the caller asked to end the call.";
/// Default `max_tokens` (Anthropic requires one).
const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Where and how to reach a chat provider.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub base_url: String,
    pub api_key: String,
    pub model: String,
    pub timeout: Duration,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
}

/// A server-sent event: its name (`event:`) and its data lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental SSE parser: feed bytes, take complete events.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: String,
}

impl SseParser {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.push_str(&String::from_utf8_lossy(bytes));
        if self.buf.contains('\r') {
            self.buf = self.buf.replace("\r\n", "\n");
        }
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let mut event = None;
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if event.is_some() || !data.is_empty() {
                out.push(SseEvent {
                    event,
                    data: data.join("\n"),
                });
            }
        }
        out
    }
}

/// One message of a provider conversation, with tool calls paired with their results.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    User(String),
    Assistant { text: String, calls: Vec<LlmToolCall> },
    ToolResult { id: String, content: String },
}

/// Orders the conversation the way the APIs require: every result right after the
/// assistant message that asked for it (a result never received is reported as such).
fn normalize(conversation: &[ChatTurn]) -> Vec<Msg> {
    let mut used = HashSet::new();
    let mut out = Vec::new();
    for (i, t) in conversation.iter().enumerate() {
        if used.contains(&i) {
            continue;
        }
        match t.role {
            ChatRole::User => out.push(Msg::User(if t.content.trim().is_empty() {
                "(silence)".into()
            } else {
                t.content.clone()
            })),
            ChatRole::Assistant if t.tool_calls.is_empty() => {
                if !t.content.is_empty() {
                    out.push(Msg::Assistant {
                        text: t.content.clone(),
                        calls: Vec::new(),
                    });
                }
            }
            ChatRole::Assistant => {
                out.push(Msg::Assistant {
                    text: t.content.clone(),
                    calls: t.tool_calls.clone(),
                });
                for call in &t.tool_calls {
                    let found = conversation.iter().enumerate().skip(i + 1).find(|(j, r)| {
                        r.role == ChatRole::Tool
                            && !used.contains(j)
                            && r.tool_call_id.as_deref() == Some(call.id.as_str())
                    });
                    let content = match found {
                        Some((j, r)) => {
                            used.insert(j);
                            r.content.clone()
                        }
                        None => "(no result: the conversation moved on)".into(),
                    };
                    out.push(Msg::ToolResult {
                        id: call.id.clone(),
                        content,
                    });
                }
            }
            ChatRole::Tool => out.push(Msg::User(format!("Tool result: {}", t.content))),
        }
    }
    out
}

fn tool_list(tools: &[ToolDef]) -> Vec<(String, String, Value)> {
    let mut tools: Vec<(String, String, Value)> = tools
        .iter()
        .map(|t| (t.name.clone(), t.description.clone(), t.parameters.clone()))
        .collect();
    tools.push((
        END_CALL_TOOL.into(),
        END_CALL_DESCRIPTION.into(),
        json!({ "type": "object", "properties": {} }),
    ));
    tools
}

/// Splits the model's calls into tool calls and the hang-up; token counts are estimated
/// where the provider reported none.
fn finish(req: &LlmRequest, text: String, calls: Vec<LlmToolCall>, usage: Option<(u64, u64)>) -> LlmReply {
    let end_call = calls.iter().any(|c| c.name == END_CALL_TOOL);
    let text = text.trim().to_string();
    let (input_tokens, output_tokens) = usage.unwrap_or_else(|| estimated_usage(req, &text));
    LlmReply {
        text,
        tool_calls: calls.into_iter().filter(|c| c.name != END_CALL_TOOL).collect(),
        end_call,
        input_tokens,
        output_tokens,
    }
}

fn send_error(provider: &'static str, e: &reqwest::Error) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout { provider }
    } else {
        LlmError::Unavailable(format!("{provider}: {e}"))
    }
}

/// Reads an error answer: the provider's `error.message` when there is one.
async fn status_error(provider: &'static str, resp: reqwest::Response) -> LlmError {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    LlmError::Status {
        provider,
        status,
        message,
    }
}

/// Streams the SSE body through `on_event` until it says it is done.
async fn read_sse(
    provider: &'static str,
    mut resp: reqwest::Response,
    mut on_event: impl FnMut(SseEvent) -> Result<bool, LlmError>,
) -> Result<(), LlmError> {
    let mut parser = SseParser::default();
    loop {
        let chunk = resp.chunk().await.map_err(|e| send_error(provider, &e))?;
        let Some(chunk) = chunk else {
            return Err(LlmError::Malformed {
                provider,
                message: "the stream ended before it was complete".into(),
            });
        };
        for event in parser.feed(&chunk) {
            if on_event(event)? {
                return Ok(());
            }
        }
    }
}

fn malformed(provider: &'static str, message: impl Into<String>) -> LlmError {
    LlmError::Malformed {
        provider,
        message: message.into(),
    }
}

fn parse_arguments(provider: &'static str, name: &str, raw: &str) -> Result<Value, LlmError> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(malformed(
            provider,
            format!("the arguments of {name} are not a JSON object"),
        )),
    }
}

// ------------------------------------------------------------------------------------------
// OpenAI Chat Completions (and Groq)
// ------------------------------------------------------------------------------------------

/// OpenAI Chat Completions, streamed. `provider` is `openai` or `groq`.
#[derive(Debug, Clone)]
pub struct OpenAiChat {
    pub provider: &'static str,
    pub http: reqwest::Client,
    pub settings: ChatSettings,
}

impl OpenAiChat {
    fn body(&self, prompt: &LlmRequest) -> Value {
        let mut messages = vec![json!({ "role": "system", "content": prompt.instructions() })];
        for m in normalize(&prompt.conversation) {
            messages.push(match m {
                Msg::User(text) => json!({ "role": "user", "content": text }),
                Msg::Assistant { text, calls } if calls.is_empty() => json!({ "role": "assistant", "content": text }),
                Msg::Assistant { text, calls } => json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) },
                    "tool_calls": calls.iter().map(|c| json!({
                        "id": c.id, "type": "function",
                        "function": { "name": c.name, "arguments": c.arguments.to_string() },
                    })).collect::<Vec<_>>(),
                }),
                Msg::ToolResult { id, content } => json!({ "role": "tool", "tool_call_id": id, "content": content }),
            });
        }
        let tools: Vec<Value> = tool_list(&prompt.tools)
            .into_iter()
            .map(|(name, description, parameters)| {
                json!({ "type": "function", "function": { "name": name, "description": description, "parameters": parameters } })
            })
            .collect();
        let mut body = json!({
            "model": self.settings.model, "messages": messages, "tools": tools, "tool_choice": "auto",
            "stream": true, "stream_options": { "include_usage": true },
        });
        if let Some(t) = self.settings.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(m) = self.settings.max_tokens {
            body["max_completion_tokens"] = json!(m);
        }
        body
    }
}

/// A tool call being streamed: id and name first, then argument fragments.
#[derive(Debug, Default, Clone)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

#[async_trait]
impl LanguageModel for OpenAiChat {
    fn provider(&self) -> &str {
        self.provider
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        self.complete(req)
            .await
            .map_err(|e| PortError::new(self.provider, e.to_string()))
    }
}

impl OpenAiChat {
    async fn complete(&self, prompt: &LlmRequest) -> Result<LlmReply, LlmError> {
        let provider = self.provider;
        let url = format!("{}/chat/completions", self.settings.base_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.settings.api_key)
            .timeout(self.settings.timeout)
            .json(&self.body(prompt))
            .send()
            .await
            .map_err(|e| send_error(provider, &e))?;
        if !resp.status().is_success() {
            return Err(status_error(provider, resp).await);
        }
        let mut text = String::new();
        let mut calls: Vec<PartialCall> = Vec::new();
        let mut usage = None;
        let mut finished = false;
        read_sse(provider, resp, |event| {
            if event.data.trim() == "[DONE]" {
                return Ok(true);
            }
            let chunk: Value = serde_json::from_str(&event.data)
                .map_err(|e| malformed(provider, format!("a chunk is not JSON: {e}")))?;
            if let Some(err) = chunk.get("error") {
                return Err(LlmError::Unavailable(format!(
                    "{provider}: {}",
                    err["message"].as_str().unwrap_or("stream error")
                )));
            }
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                usage = Some((
                    u["prompt_tokens"].as_u64().unwrap_or(0),
                    u["completion_tokens"].as_u64().unwrap_or(0),
                ));
            }
            let choices = chunk
                .get("choices")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed(provider, "a chunk has no choices"))?;
            for choice in choices {
                let delta = &choice["delta"];
                if let Some(t) = delta["content"].as_str() {
                    text.push_str(t);
                }
                for tc in delta["tool_calls"].as_array().into_iter().flatten() {
                    let index = usize::try_from(tc["index"].as_u64().unwrap_or(0)).unwrap_or(0);
                    if index > 64 {
                        return Err(malformed(provider, "tool call index out of range"));
                    }
                    if calls.len() <= index {
                        calls.resize(index + 1, PartialCall::default());
                    }
                    let call = &mut calls[index];
                    if let Some(id) = tc["id"].as_str() {
                        call.id = id.to_string();
                    }
                    if let Some(name) = tc["function"]["name"].as_str() {
                        call.name.push_str(name);
                    }
                    if let Some(args) = tc["function"]["arguments"].as_str() {
                        call.arguments.push_str(args);
                    }
                }
                if choice["finish_reason"].is_string() {
                    finished = true;
                }
            }
            Ok(false)
        })
        .await?;
        if !finished {
            return Err(malformed(provider, "the stream ended without a finish_reason"));
        }
        let mut out = Vec::new();
        for (i, c) in calls.into_iter().enumerate() {
            if c.name.is_empty() {
                return Err(malformed(provider, "a tool call has no name"));
            }
            out.push(LlmToolCall {
                arguments: parse_arguments(provider, &c.name, &c.arguments)?,
                id: if c.id.is_empty() { format!("call_{i}") } else { c.id },
                name: c.name,
            });
        }
        Ok(finish(prompt, text, out, usage))
    }
}

// ------------------------------------------------------------------------------------------
// Anthropic Messages
// ------------------------------------------------------------------------------------------

/// Anthropic Messages, streamed.
#[derive(Debug, Clone)]
pub struct AnthropicChat {
    pub http: reqwest::Client,
    pub settings: ChatSettings,
}

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

impl AnthropicChat {
    fn body(&self, prompt: &LlmRequest) -> Value {
        // Consecutive messages of one role are merged into one of content blocks.
        let mut messages: Vec<(String, Vec<Value>)> = Vec::new();
        for m in normalize(&prompt.conversation) {
            let (role, blocks) = match m {
                Msg::User(text) => ("user", vec![json!({ "type": "text", "text": text })]),
                Msg::Assistant { text, calls } => {
                    let mut blocks = Vec::new();
                    if !text.is_empty() {
                        blocks.push(json!({ "type": "text", "text": text }));
                    }
                    for c in calls {
                        let input = if c.arguments.is_object() {
                            c.arguments
                        } else {
                            json!({})
                        };
                        blocks.push(json!({ "type": "tool_use", "id": c.id, "name": c.name, "input": input }));
                    }
                    ("assistant", blocks)
                }
                Msg::ToolResult { id, content } => (
                    "user",
                    vec![json!({ "type": "tool_result", "tool_use_id": id, "content": content })],
                ),
            };
            match messages.last_mut() {
                Some((r, b)) if r == role => {
                    // Tool results must come first in a user message.
                    if role == "user" && blocks.iter().any(|x| x["type"] == "tool_result") {
                        let mut merged = blocks;
                        merged.append(b);
                        *b = merged;
                    } else {
                        b.extend(blocks);
                    }
                }
                _ => messages.push((role.to_string(), blocks)),
            }
        }
        if messages.first().is_none_or(|(r, _)| r != "user") {
            messages.insert(
                0,
                (
                    "user".into(),
                    vec![json!({ "type": "text", "text": "(the call is connected)" })],
                ),
            );
        }
        let tools: Vec<Value> = tool_list(&prompt.tools)
            .into_iter()
            .map(|(name, description, input_schema)| json!({ "name": name, "description": description, "input_schema": input_schema }))
            .collect();
        let mut body = json!({
            "model": self.settings.model,
            "max_tokens": self.settings.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            "system": prompt.instructions(),
            "messages": messages.into_iter().map(|(role, content)| json!({ "role": role, "content": content })).collect::<Vec<_>>(),
            "tools": tools,
            "stream": true,
        });
        if let Some(t) = self.settings.temperature {
            body["temperature"] = json!(t.min(1.0));
        }
        body
    }
}

#[derive(Debug)]
enum Block {
    Text(String),
    Tool { id: String, name: String, json: String },
}

#[async_trait]
impl LanguageModel for AnthropicChat {
    fn provider(&self) -> &str {
        "anthropic"
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        self.complete(req)
            .await
            .map_err(|e| PortError::new("anthropic", e.to_string()))
    }
}

impl AnthropicChat {
    async fn complete(&self, prompt: &LlmRequest) -> Result<LlmReply, LlmError> {
        const P: &str = "anthropic";
        let url = format!("{}/messages", self.settings.base_url.trim_end_matches('/'));
        let resp = self
            .http
            .post(url)
            .header("x-api-key", &self.settings.api_key)
            .header("anthropic-version", ANTHROPIC_VERSION)
            .timeout(self.settings.timeout)
            .json(&self.body(prompt))
            .send()
            .await
            .map_err(|e| send_error(P, &e))?;
        if !resp.status().is_success() {
            return Err(status_error(P, resp).await);
        }
        let mut blocks: Map<String, Value> = Map::new();
        let mut parts: Vec<(u64, Block)> = Vec::new();
        let mut usage = (0, 0);
        read_sse(P, resp, |event| {
            let name = event.event.clone().unwrap_or_default();
            if name == "ping" {
                return Ok(false);
            }
            let data: Value =
                serde_json::from_str(&event.data).map_err(|e| malformed(P, format!("an event is not JSON: {e}")))?;
            let kind = data["type"].as_str().unwrap_or(name.as_str()).to_string();
            match kind.as_str() {
                "message_start" => {
                    usage.0 = data["message"]["usage"]["input_tokens"].as_u64().unwrap_or(0);
                }
                "content_block_start" => {
                    let index = data["index"]
                        .as_u64()
                        .ok_or_else(|| malformed(P, "a block has no index"))?;
                    let block = &data["content_block"];
                    let part = match block["type"].as_str() {
                        Some("text") => Block::Text(block["text"].as_str().unwrap_or_default().to_string()),
                        Some("tool_use") => Block::Tool {
                            id: block["id"].as_str().unwrap_or_default().to_string(),
                            name: block["name"].as_str().unwrap_or_default().to_string(),
                            json: String::new(),
                        },
                        _ => return Ok(false),
                    };
                    blocks.insert(index.to_string(), Value::Null);
                    parts.push((index, part));
                }
                "content_block_delta" => {
                    let index = data["index"]
                        .as_u64()
                        .ok_or_else(|| malformed(P, "a delta has no index"))?;
                    let Some((_, part)) = parts.iter_mut().find(|(i, _)| *i == index) else {
                        return Err(malformed(P, "a delta for a block never started"));
                    };
                    match (part, data["delta"]["type"].as_str()) {
                        (Block::Text(t), Some("text_delta")) => {
                            t.push_str(data["delta"]["text"].as_str().unwrap_or_default())
                        }
                        (Block::Tool { json, .. }, Some("input_json_delta")) => {
                            json.push_str(data["delta"]["partial_json"].as_str().unwrap_or_default());
                        }
                        _ => {}
                    }
                }
                "message_delta" => {
                    if let Some(n) = data["usage"]["output_tokens"].as_u64() {
                        usage.1 = n;
                    }
                }
                "message_stop" => return Ok(true),
                "error" => {
                    return Err(LlmError::Unavailable(format!(
                        "anthropic: {}",
                        data["error"]["message"].as_str().unwrap_or("stream error")
                    )));
                }
                _ => {}
            }
            Ok(false)
        })
        .await?;
        let mut text = String::new();
        let mut calls = Vec::new();
        for (_, part) in parts {
            match part {
                Block::Text(t) => text.push_str(&t),
                Block::Tool { id, name, json } => {
                    if name.is_empty() {
                        return Err(malformed(P, "a tool_use block has no name"));
                    }
                    calls.push(LlmToolCall {
                        arguments: parse_arguments(P, &name, &json)?,
                        id,
                        name,
                    });
                }
            }
        }
        Ok(finish(prompt, text, calls, Some(usage)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_are_reassembled() {
        let mut p = SseParser::default();
        assert!(p.feed(b"event: ping\r\ndata: {\"a\"").is_empty());
        let events = p.feed(b":1}\r\n\r\ndata: [DONE]\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event.as_deref(), Some("ping"));
        assert_eq!(events[0].data, "{\"a\":1}");
        assert_eq!(events[1].data, "[DONE]");
    }

    #[test]
    fn tool_results_follow_their_call_and_orphans_become_user_text() {
        let call = LlmToolCall {
            id: "call_1".into(),
            name: "check_order".into(),
            arguments: json!({}),
        };
        let conv = vec![
            ChatTurn::new(ChatRole::User, "check order"),
            ChatTurn::tool_calls(vec![call]),
            ChatTurn::new(ChatRole::Assistant, "Let me check."),
            ChatTurn::tool_result("call_1", "shipped"),
            ChatTurn::new(ChatRole::Tool, "stray"),
        ];
        let msgs = normalize(&conv);
        assert!(matches!(&msgs[1], Msg::Assistant { calls, .. } if calls.len() == 1));
        assert_eq!(
            msgs[2],
            Msg::ToolResult {
                id: "call_1".into(),
                content: "shipped".into()
            }
        );
        assert_eq!(msgs[4], Msg::User("Tool result: stray".into()));
    }
}
