//! The conversation as the language model sees it: turns of the caller, the agent and the
//! tools, and the tool calls the model makes. Kept in the call's snapshot and sent through
//! the `LanguageModel` port, so both use it from here.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub role: ChatRole,
    pub content: String,
    /// On an assistant turn: the tools the model called (provider APIs need them before the
    /// results).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<LlmToolCall>,
    /// On a tool turn: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl ChatTurn {
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// Its size as context: the text and the tool calls' arguments.
    pub fn chars(&self) -> usize {
        self.content.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.name.len() + c.arguments.to_string().len())
                .sum::<usize>()
    }

    /// The assistant asked for `calls` (recorded before their results).
    pub fn tool_calls(calls: Vec<LlmToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(ChatRole::Assistant, "")
        }
    }

    /// The result of tool call `id`.
    pub fn tool_result(id: &str, content: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(id.to_string()),
            ..Self::new(ChatRole::Tool, content)
        }
    }

    /// The result of tool call `id` that failed: what went wrong is for the model, which
    /// tells the caller in its own words — never the error itself.
    pub fn tool_failure(id: &str, tool: &str, error: &str) -> Self {
        let content = serde_json::json!({
            "error": format!("the tool {tool} failed: {error}"),
            "instructions": "Tell the caller in your own words that this could not be done right now. Do not read this error aloud.",
        });
        Self::tool_result(id, content.to_string())
    }

    /// True for a tool turn made by [`ChatTurn::tool_failure`].
    pub fn is_tool_failure(&self) -> bool {
        self.role == ChatRole::Tool
            && serde_json::from_str::<Value>(&self.content).is_ok_and(|v| v.get("error").is_some_and(Value::is_string))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmToolCall {
    /// The provider's call id (`call_…`, `toolu_…`), or one made up for the sandbox.
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub arguments: Value,
}
