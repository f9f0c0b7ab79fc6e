//! The `LanguageModel` port (next assistant turn from prompt, conversation and tools) and
//! its sandbox: a deterministic, rule-based responder used by simulations and sandbox calls.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Tool,
}

/// One turn of the conversation so far. A user turn of `""` means the caller said nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
    /// Assistant turns: the tools the model called.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// Tool turns: the call answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Turn {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }
}

/// A tool the model may call (name, description, JSON Schema of its arguments).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    pub model: &'a str,
    pub system_prompt: &'a str,
    pub first_message: Option<&'a str>,
    pub conversation: &'a [Turn],
    pub tools: &'a [ToolSpec],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    /// The provider's call id (empty from the sandbox).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// The next assistant turn: what to say, tools to call, and whether to hang up after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub end_call: bool,
    /// Tokens the provider reported (none from the sandbox).
    #[serde(skip)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("language model unavailable: {0}")]
    Unavailable(String),
    /// The provider answered with an error status.
    #[error("{provider} answered {status}: {message}")]
    Status {
        provider: &'static str,
        status: u16,
        message: String,
    },
    /// The provider's answer could not be understood.
    #[error("{provider} sent a malformed response: {message}")]
    Malformed { provider: &'static str, message: String },
    #[error("{provider} timed out")]
    Timeout { provider: &'static str },
}

#[async_trait]
pub trait LanguageModel: Send + Sync {
    /// Provider id of the catalogue (`sandbox`, `openai`, ...).
    fn provider(&self) -> &'static str;

    /// # Errors
    /// When the provider cannot answer.
    async fn respond(&self, prompt: &Prompt<'_>) -> Result<Reply, LlmError>;
}

/// Deterministic responder: the same prompt and conversation always give the same turn.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxLlm;

const DEFAULT_GREETING: &str = "Hello! How can I help you today?";
const OPT_OUT: &[&str] = &[
    "stop calling",
    "do not call",
    "don't call",
    "remove me",
    "take me off",
    "unsubscribe",
    "opt out",
    "opt-out",
];
const WRONG_PARTY: &[&str] = &[
    "wrong number",
    "wrong person",
    "no one by that name",
    "nobody by that name",
    "doesn't live here",
    "does not live here",
    "you have the wrong",
];
const REFUSE_VERIFY: &[&str] = &[
    "rather not",
    "won't tell",
    "not going to tell",
    "don't remember",
    "i don't know my",
    "can't verify",
    "not giving you",
];
const INTERRUPT: &[&str] = &["hold on", "wait", "sorry to interrupt", "let me stop you", "excuse me"];
const GOODBYE: &[&str] = &["goodbye", "bye", "that's all", "hang up"];
/// Consecutive silent caller turns after which the agent ends the call.
const SILENT_TURNS_BEFORE_HANGUP: usize = 2;

fn mentions(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(p))
}

impl SandboxLlm {
    /// The rules, in priority order. Pure, so the live-call actors can use it directly.
    pub fn reply(&self, prompt: &Prompt<'_>) -> Reply {
        let say = |text: &str, end_call: bool| Reply {
            text: text.to_string(),
            tool_calls: Vec::new(),
            end_call,
            usage: None,
        };
        let Some(last) = prompt.conversation.iter().rev().find(|t| t.role != Role::Assistant) else {
            return say(prompt.first_message.unwrap_or(DEFAULT_GREETING), false);
        };
        if last.role == Role::Tool {
            return say(
                &format!("Thanks for waiting. Here is what I found: {}", last.content),
                false,
            );
        }
        let text = last.content.trim().to_lowercase();
        let text = text
            .trim_start_matches("[background noise]")
            .trim_start_matches("[noise]")
            .trim();
        if text.is_empty() || text == "[silence]" {
            let silent = prompt
                .conversation
                .iter()
                .rev()
                .filter(|t| t.role == Role::User)
                .take_while(|t| matches!(t.content.trim(), "" | "[silence]"))
                .count();
            return if silent >= SILENT_TURNS_BEFORE_HANGUP {
                say("I haven't heard anything, so I'll let you go. Goodbye!", true)
            } else {
                say("Are you still there?", false)
            };
        }
        if mentions(text, OPT_OUT) {
            return say(
                "Understood. I've removed you from our call list and you won't be called again. Goodbye.",
                true,
            );
        }
        if mentions(text, WRONG_PARTY) {
            return say(
                "I'm sorry for the confusion — I must have the wrong number. Sorry to bother you. Goodbye.",
                true,
            );
        }
        if mentions(text, REFUSE_VERIFY) {
            return say(
                "I understand. I'm sorry, but without verifying your identity I can't discuss any account details. You're welcome to call us back when convenient.",
                false,
            );
        }
        if let Some(tool) = prompt.tools.iter().find(|t| asks_for(text, &t.name)) {
            return Reply {
                text: "Let me check that for you.".into(),
                tool_calls: vec![ToolCall {
                    id: String::new(),
                    name: tool.name.clone(),
                    arguments: sample_arguments(&tool.parameters),
                }],
                end_call: false,
                usage: None,
            };
        }
        if mentions(text, INTERRUPT) {
            return say("Of course — go ahead, I'm listening.", false);
        }
        if mentions(text, GOODBYE) {
            return say("Thank you for your time. Goodbye!", true);
        }
        say("I understand. How else can I help you today?", false)
    }
}

#[async_trait]
impl LanguageModel for SandboxLlm {
    fn provider(&self) -> &'static str {
        "sandbox"
    }

    async fn respond(&self, prompt: &Prompt<'_>) -> Result<Reply, LlmError> {
        Ok(self.reply(prompt))
    }
}

/// True when the caller's words name the tool (`check_order` matches "check order").
fn asks_for(text: &str, tool_name: &str) -> bool {
    let lower = tool_name.to_lowercase();
    text.contains(&lower) || text.contains(&lower.replace(['_', '-'], " "))
}

/// Arguments satisfying a JSON Schema's required properties, with placeholder values.
pub fn sample_arguments(schema: &Value) -> Value {
    let mut args = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = properties {
        for (name, prop) in properties {
            if !required.contains(&name.as_str()) {
                continue;
            }
            args.insert(name.clone(), sample_value(prop));
        }
    }
    Value::Object(args)
}

fn sample_value(prop: &Value) -> Value {
    if let Some(first) = prop.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(example) = prop.get("examples").and_then(Value::as_array).and_then(|e| e.first()) {
        return example.clone();
    }
    match prop.get("type").and_then(Value::as_str) {
        Some("integer") => json!(prop.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        Some("number") => json!(prop.get("minimum").and_then(Value::as_f64).unwrap_or(1.0)),
        Some("boolean") => json!(true),
        Some("array") => json!([]),
        Some("object") => sample_arguments(prop),
        _ => json!("sample"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(conversation: &[Turn], tools: &[ToolSpec]) -> Reply {
        SandboxLlm.reply(&Prompt {
            model: "sandbox-llm",
            system_prompt: "You are helpful.",
            first_message: Some("Hi, this is Ada."),
            conversation,
            tools,
        })
    }

    #[test]
    fn the_first_turn_is_the_first_message() {
        assert_eq!(run(&[], &[]).text, "Hi, this is Ada.");
    }

    #[test]
    fn opt_out_is_acknowledged_and_ends_the_call() {
        let reply = run(&[Turn::assistant("Hi"), Turn::user("Please stop calling me")], &[]);
        assert!(reply.end_call && reply.text.contains("won't be called"));
    }

    #[test]
    fn two_silent_turns_end_the_call_and_one_does_not() {
        assert!(!run(&[Turn::assistant("Hi"), Turn::user("")], &[]).end_call);
        assert!(run(&[Turn::user(""), Turn::assistant("Still there?"), Turn::user("")], &[]).end_call);
    }

    #[test]
    fn a_named_tool_is_called_with_its_required_arguments() {
        let tool = ToolSpec {
            name: "check_order".into(),
            description: String::new(),
            parameters: json!({"type":"object","properties":{"orderId":{"type":"string"},"n":{"type":"integer"}},"required":["orderId"]}),
        };
        let reply = run(&[Turn::user("Can you check order 42?")], &[tool]);
        assert_eq!(reply.tool_calls[0].name, "check_order");
        assert_eq!(reply.tool_calls[0].arguments, json!({"orderId": "sample"}));
    }
}
