//! Language models behind the actors' `LanguageModel` port (the next assistant turn from
//! prompt, conversation and tools): the errors the real clients (`chat`) sort their failures
//! into, and the sandbox — a deterministic, rule-based responder used by simulations and
//! sandbox calls.

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use thruai_actors::call::{
    chat::{ChatRole, LlmToolCall},
    ports::{LanguageModel, LlmReply, LlmRequest, PortError},
};

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

/// Token counts where the provider reported none: four characters a token.
pub fn estimated_usage(req: &LlmRequest, text: &str) -> (u64, u64) {
    let input: usize = req.instructions().len() + req.conversation.iter().map(|t| t.content.len()).sum::<usize>();
    ((input as u64).div_ceil(4), (text.len() as u64).div_ceil(4))
}

/// Deterministic responder: the same prompt and conversation always give the same turn.
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxLlm;

const DEFAULT_GREETING: &str = "Hello! How can I help you today?";
/// What the sandbox agent says when a tool failed (never the error itself).
pub const TOOL_FAILED: &str =
    "I'm sorry, I wasn't able to look that up just now. Is there anything else I can help you with?";
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
    /// The rules, in priority order (token counts estimated). Pure, so the live-call actors
    /// can use it directly.
    pub fn reply(&self, prompt: &LlmRequest) -> LlmReply {
        let mut reply = self.rule(prompt);
        (reply.input_tokens, reply.output_tokens) = estimated_usage(prompt, &reply.text);
        reply
    }

    fn rule(&self, prompt: &LlmRequest) -> LlmReply {
        let say = |text: &str, end_call: bool| LlmReply {
            text: text.to_string(),
            tool_calls: Vec::new(),
            end_call,
            input_tokens: 0,
            output_tokens: 0,
        };
        let Some(last) = prompt.conversation.iter().rev().find(|t| t.role != ChatRole::Assistant) else {
            return say(prompt.first_message.as_deref().unwrap_or(DEFAULT_GREETING), false);
        };
        if last.role == ChatRole::Tool {
            if last.is_tool_failure() {
                return say(TOOL_FAILED, false);
            }
            return say(
                &format!("Thanks for waiting. Here is what I found: {}", spoken(&last.content)),
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
                .filter(|t| t.role == ChatRole::User)
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
            return LlmReply {
                text: "Let me check that for you.".into(),
                tool_calls: vec![LlmToolCall {
                    id: String::new(),
                    name: tool.name.clone(),
                    arguments: sample_arguments(&tool.parameters),
                }],
                end_call: false,
                input_tokens: 0,
                output_tokens: 0,
            };
        }
        if mentions(text, INTERRUPT) {
            return say("Of course — go ahead, I'm listening.", false);
        }
        if mentions(text, GOODBYE) {
            return say("Thank you for your time. Goodbye!", true);
        }
        // Retrieved knowledge: the answer quotes the best passage.
        if let Some(p) = prompt.knowledge.first() {
            return say(&format!("Here is what I can tell you: {}", excerpt(&p.text)), false);
        }
        say("I understand. How else can I help you today?", false)
    }
}

#[async_trait]
impl LanguageModel for SandboxLlm {
    fn provider(&self) -> &str {
        "sandbox"
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        Ok(self.reply(req))
    }
}

/// The first two sentences of a passage, as said aloud (Markdown marks dropped).
fn excerpt(text: &str) -> String {
    let plain: String = text
        .lines()
        .map(|l| l.trim_start_matches(['#', '>', '*', '-', ' ']).trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .replace("**", "");
    let mut out = String::new();
    for (n, sentence) in plain.split_inclusive(['.', '!', '?']).enumerate() {
        if n == 2 || out.len() + sentence.len() > 300 {
            break;
        }
        out.push_str(sentence);
    }
    if out.is_empty() {
        out = plain.chars().take(300).collect();
    }
    out.trim().to_string()
}

/// The sandbox analyst: a deterministic stand-in for the model that writes recommendations
/// (`providers.sandbox.analyst`), for development and tests without a key. It reads the
/// calls it is given and answers, in the JSON asked for, one recommendation citing the
/// unresolved calls (else those that did not end normally, else the longest).
#[derive(Debug, Clone, Copy, Default)]
pub struct SandboxAnalyst;

impl SandboxAnalyst {
    fn write(req: &LlmRequest) -> String {
        let asked = req.conversation.last().map_or("", |t| t.content.as_str());
        let calls: Vec<Value> = asked
            .rsplit_once("Calls: ")
            .and_then(|(_, json)| serde_json::from_str(json).ok())
            .unwrap_or_default();
        let ids = |keep: &dyn Fn(&Value) -> bool| -> Vec<String> {
            calls
                .iter()
                .filter(|c| keep(c))
                .filter_map(|c| c["callId"].as_str().map(str::to_string))
                .take(5)
                .collect()
        };
        let unresolved = ids(&|c| c["outcome"]["resolved"] == false);
        let abnormal = ids(&|c| {
            !matches!(
                c["endReason"].as_str(),
                Some("completed" | "caller_hangup" | "agent_hangup" | "hangup")
            )
        });
        let mut by_length = calls.clone();
        by_length.sort_by_key(|c| std::cmp::Reverse(c["durationSeconds"].as_i64().unwrap_or(0)));
        let longest: Vec<String> = by_length
            .iter()
            .filter_map(|c| c["callId"].as_str().map(str::to_string))
            .take(3)
            .collect();
        let (title, rationale, evidence, change) = if !unresolved.is_empty() {
            (
                "Confirm the caller's goal before ending",
                "These calls ended without the caller's goal met: have the agent restate what it did and ask whether anything is left before saying goodbye.",
                unresolved,
                json!({ "systemPrompt": "Before ending a call, restate what you did for the caller and ask whether anything else is needed." }),
            )
        } else if !abnormal.is_empty() {
            (
                "Look at calls that did not end normally",
                "These calls ended for a reason other than a goodbye (silence, an error, a limit): check their transcripts for where the conversation stalled.",
                abnormal,
                Value::Null,
            )
        } else {
            (
                "Shorten the longest calls",
                "The longest calls are where callers wait most: look for repeated questions the prompt could answer up front.",
                longest,
                Value::Null,
            )
        };
        if evidence.is_empty() {
            return "[]".into();
        }
        json!([{ "title": title, "rationale": rationale, "evidenceCallIds": evidence,
                 "suggestedChange": change, "impact": "medium" }])
        .to_string()
    }
}

#[async_trait]
impl LanguageModel for SandboxAnalyst {
    fn provider(&self) -> &str {
        "sandbox"
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        let text = Self::write(req);
        let (input_tokens, output_tokens) = estimated_usage(req, &text);
        Ok(LlmReply {
            text,
            tool_calls: Vec::new(),
            end_call: false,
            input_tokens,
            output_tokens,
        })
    }
}

/// A tool's answer as a sentence: text as it is, a JSON object as its values.
fn spoken(content: &str) -> String {
    match serde_json::from_str::<Value>(content) {
        Ok(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => content.to_string(),
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

    use thruai_actors::call::{chat::ChatTurn, ports::ToolDef};

    fn run(conversation: &[ChatTurn], tools: &[ToolDef]) -> LlmReply {
        SandboxLlm.reply(&LlmRequest {
            system_prompt: "You are helpful.".into(),
            first_message: Some("Hi, this is Ada.".into()),
            conversation: conversation.to_vec(),
            tools: tools.to_vec(),
            knowledge: Vec::new(),
        })
    }

    fn user(text: &str) -> ChatTurn {
        ChatTurn::new(ChatRole::User, text)
    }

    fn assistant(text: &str) -> ChatTurn {
        ChatTurn::new(ChatRole::Assistant, text)
    }

    #[test]
    fn the_first_turn_is_the_first_message() {
        assert_eq!(run(&[], &[]).text, "Hi, this is Ada.");
    }

    #[test]
    fn opt_out_is_acknowledged_and_ends_the_call() {
        let reply = run(&[assistant("Hi"), user("Please stop calling me")], &[]);
        assert!(reply.end_call && reply.text.contains("won't be called"));
    }

    #[test]
    fn two_silent_turns_end_the_call_and_one_does_not() {
        assert!(!run(&[assistant("Hi"), user("")], &[]).end_call);
        assert!(run(&[user(""), assistant("Still there?"), user("")], &[]).end_call);
    }

    #[test]
    fn a_failed_tool_is_apologised_for_never_read_aloud() {
        let failed = ChatTurn::tool_failure("c1", "check_order", "destination refused: 10.0.0.1");
        let reply = run(&[user("check order 42"), failed], &[]);
        assert_eq!(reply.text, TOOL_FAILED);
        let ok = ChatTurn::tool_result("c1", r#"{"status":"shipped"}"#);
        assert!(run(&[user("check order 42"), ok], &[]).text.ends_with("status shipped"));
    }

    #[test]
    fn a_named_tool_is_called_with_its_required_arguments() {
        let tool = ToolDef {
            name: "check_order".into(),
            description: String::new(),
            parameters: json!({"type":"object","properties":{"orderId":{"type":"string"},"n":{"type":"integer"}},"required":["orderId"]}),
        };
        let reply = run(&[user("Can you check order 42?")], &[tool]);
        assert_eq!(reply.tool_calls[0].name, "check_order");
        assert_eq!(reply.tool_calls[0].arguments, json!({"orderId": "sample"}));
    }
}
