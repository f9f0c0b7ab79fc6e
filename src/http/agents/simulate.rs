//! `POST /agents/:id/simulate`: scripted caller scenarios played against the agent's
//! language model (the sandbox unless a live client exists), each judged pass or fail.

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_actors::call::{
    chat::{ChatRole, ChatTurn},
    ports::{LlmReply, LlmRequest, ToolDef},
};

use super::{AgentOut, checks, load};
use crate::{
    domain::PipelineMode,
    error::{ApiError, ApiResult, ErrorCode},
    http::core::{
        envelope::{self, Sorted},
        extract::{Body, Ctx},
        validation::{Validate, Validator},
    },
    store,
};

pub const SCENARIOS: &[&str] = &[
    "wrong_party",
    "failed_verification",
    "interruption",
    "opt_out",
    "silence",
    "background_noise",
    "tool_use",
];

/// What the simulated caller says, turn by turn (`""` is silence).
fn script(name: &str, tools: &[ToolDef]) -> (&'static str, Vec<String>) {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_string()).collect();
    match name {
        "wrong_party" => (
            "The person who answers is not the intended contact",
            s(&["Hello?", "Sorry, you have the wrong number."]),
        ),
        "failed_verification" => (
            "The caller cannot or will not verify their identity",
            s(&["Hi, what is this about?", "I'd rather not give you my date of birth."]),
        ),
        "interruption" => (
            "The caller interrupts the agent mid-sentence",
            s(&["Hello", "Wait, hold on a second."]),
        ),
        "opt_out" => (
            "The caller asks never to be called again",
            s(&["Hello", "Please stop calling me. Remove me from your list."]),
        ),
        "silence" => ("The line stays silent", s(&["", ""])),
        "background_noise" => (
            "The caller is somewhere loud",
            s(&[
                "[background noise] Hello? Can you hear me?",
                "[background noise] Yes, go on.",
            ]),
        ),
        _ => (
            "The caller asks for something a tool provides",
            vec![
                "Hi".to_string(),
                tools.first().map_or_else(
                    || "Can you look something up for me?".to_string(),
                    |t| format!("Can you {} for me?", t.name.replace(['_', '-'], " ")),
                ),
            ],
        ),
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SimulateIn {
    /// Scenario names; all of them when omitted.
    pub scenarios: Option<Vec<String>>,
    pub variables: Option<std::collections::BTreeMap<String, String>>,
}

impl Validate for SimulateIn {
    fn validate(&self, v: &mut Validator) {
        if let Some(names) = &self.scenarios {
            v.check(!names.is_empty(), "scenarios", "must name at least one scenario");
            for (i, name) in names.iter().enumerate() {
                v.one_of(&format!("scenarios[{i}]"), Some(name), SCENARIOS);
            }
        }
    }
}

/// One turn of a simulated conversation.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimulatedTurn {
    /// `user` (the scripted caller; `""` is silence), `assistant` or `tool`.
    pub role: String,
    pub content: String,
}

impl From<ChatTurn> for SimulatedTurn {
    fn from(t: ChatTurn) -> Self {
        let role = match t.role {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        };
        Self {
            role: role.into(),
            content: t.content,
        }
    }
}

/// One judged behaviour of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioCheck {
    pub name: String,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScenarioResult {
    pub scenario: String,
    pub description: String,
    pub passed: bool,
    /// What the agent did: `ended_call`, `called_tool:<name>`, `kept_talking`.
    pub actions: Vec<String>,
    pub transcript: Vec<SimulatedTurn>,
    pub checks: Vec<ScenarioCheck>,
    pub recommendation: Option<String>,
}

/// The language model the scenarios ran against.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimulationLlm {
    pub provider: String,
    pub model: String,
    pub sandbox: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimulationSummary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
}

/// Every scenario's result; `ready` when all passed.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SimulateOut {
    pub agent_id: String,
    pub llm: SimulationLlm,
    pub summary: SimulationSummary,
    pub ready: bool,
    pub results: Vec<ScenarioResult>,
}

fn verdict(
    name: &str,
    agent: &AgentOut,
    replies: &[LlmReply],
    tools: &[ToolDef],
) -> (Vec<ScenarioCheck>, Option<String>) {
    let last = replies.last();
    let ended = replies.iter().any(|r| r.end_call);
    let said = |needle: &str| replies.iter().any(|r| r.text.to_lowercase().contains(needle));
    let c = |name: &str, ok: bool| ScenarioCheck {
        name: name.into(),
        passed: ok,
    };
    match name {
        "opt_out" => (
            vec![
                c("acknowledged", said("won't be called") || said("removed")),
                c("ended_call", ended),
            ],
            Some("Tell the agent to confirm opt-outs and end the call; record them.".into()),
        ),
        "wrong_party" => (
            vec![c("apologised", said("sorry")), c("ended_call", ended)],
            Some("Tell the agent to apologise and end the call when it reaches the wrong person.".into()),
        ),
        "failed_verification" => (
            vec![
                c("refused_to_disclose", said("can't discuss") || said("cannot discuss")),
                c("stayed_polite", !ended),
            ],
            Some("Tell the agent never to disclose account details before verification.".into()),
        ),
        "interruption" => {
            let enabled = agent.pipeline_mode == PipelineMode::S2s
                || agent
                    .interruption_settings
                    .as_ref()
                    .is_none_or(|s| s.enabled != Some(false));
            (
                vec![c("yielded_turn", said("go ahead")), c("barge_in_enabled", enabled)],
                Some("Enable interruptionSettings (traditional) so the agent stops when the caller speaks.".into()),
            )
        }
        "silence" => (
            vec![c("checked_in", said("still there")), c("ended_call", ended)],
            Some("Tell the agent to check in once and then end silent calls politely.".into()),
        ),
        "background_noise" => (
            vec![
                c("noise_reduction_enabled", agent.s2s_config.noise_reduction.is_some()),
                c("kept_conversation", last.is_some_and(|r| !r.end_call)),
            ],
            Some("Set s2sConfig.noiseReduction to near_field (handsets) or far_field (speakerphones).".into()),
        ),
        _ => (
            vec![c(
                "called_tool",
                !tools.is_empty() && replies.iter().any(|r| !r.tool_calls.is_empty()),
            )],
            Some("Attach a tool with PATCH /agents/:id {\"enabledTools\": [...]} and describe when to use it.".into()),
        ),
    }
}

pub async fn simulate(ctx: Ctx, id: web::Path<String>, Body(input): Body<SimulateIn>) -> ApiResult<HttpResponse> {
    let agent = AgentOut::from(load(ctx.db(), ctx.org(), &id).await?);
    let vars = checks::variables_for(&agent, input.variables.as_ref());
    let system_prompt = checks::render(agent.system_prompt.as_deref().unwrap_or_default(), &vars);
    let first_message = agent.first_message.as_deref().map(|f| checks::render(f, &vars));
    let tools: Vec<ToolDef> = store::tools::find_refs(ctx.db(), ctx.org(), &agent.enabled_tools)
        .await?
        .into_iter()
        .map(|t| ToolDef {
            name: t.name,
            description: t.description.unwrap_or_default(),
            parameters: t
                .parameters
                .unwrap_or_else(|| json!({ "type": "object", "properties": {} })),
        })
        .collect();
    let names: Vec<String> = input
        .scenarios
        .unwrap_or_else(|| SCENARIOS.iter().map(|s| (*s).to_string()).collect());
    let llm = ctx.state.llm.clone();
    let model = agent.s2s_model.clone().unwrap_or_else(|| "sandbox-llm".into());
    let mut results = Vec::new();
    for name in &names {
        let (description, lines) = script(name, &tools);
        let mut req = LlmRequest {
            system_prompt: system_prompt.clone(),
            first_message: first_message.clone(),
            conversation: Vec::new(),
            tools: tools.clone(),
            knowledge: Vec::new(),
        };
        let mut replies = Vec::new();
        let mut actions = Vec::new();
        let opening = llm
            .respond(&req)
            .await
            .map_err(|e| ApiError::internal(ErrorCode::UpstreamUnavailable, e))?;
        req.conversation.push(ChatTurn::new(ChatRole::Assistant, opening.text));
        for line in lines {
            req.conversation.push(ChatTurn::new(ChatRole::User, line));
            let reply = llm
                .respond(&req)
                .await
                .map_err(|e| ApiError::internal(ErrorCode::UpstreamUnavailable, e))?;
            req.conversation
                .push(ChatTurn::new(ChatRole::Assistant, reply.text.clone()));
            for call in &reply.tool_calls {
                actions.push(format!("called_tool:{}", call.name));
                req.conversation.push(ChatTurn::new(
                    ChatRole::Tool,
                    format!("{{\"tool\":\"{}\",\"result\":\"simulated\"}}", call.name),
                ));
            }
            let ended = reply.end_call;
            replies.push(reply);
            if ended {
                actions.push("ended_call".into());
                break;
            }
        }
        if !actions.iter().any(|a| a == "ended_call") {
            actions.push("kept_talking".into());
        }
        let (checks, recommendation) = verdict(name, &agent, &replies, &tools);
        let passed = checks.iter().all(|c| c.passed);
        results.push(ScenarioResult {
            scenario: name.clone(),
            description: description.into(),
            passed,
            actions,
            transcript: req.conversation.into_iter().map(Into::into).collect(),
            checks,
            recommendation: if passed { None } else { recommendation },
        });
    }
    let passed = results.iter().filter(|r| r.passed).count();
    let out = SimulateOut {
        agent_id: agent.id,
        llm: SimulationLlm {
            provider: llm.provider().to_string(),
            sandbox: llm.provider() == "sandbox",
            model,
        },
        summary: SimulationSummary {
            total: results.len(),
            passed,
            failed: results.len() - passed,
        },
        ready: passed == results.len(),
        results,
    };
    Ok(envelope::ok(&Sorted(out)))
}
