//! Live calls, application side: the ports the `CallActor` needs (LLM, tools, carrier,
//! store), the call's setup from its agent, starting outbound and inbound calls, and the
//! start-up recovery that closes calls a crash left open.

mod checkpoints;
pub mod demo;
pub mod far_end;

pub use checkpoints::CheckpointWriter;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use thruai_actors::{
    CallHandle, CallSetup,
    audio::tone,
    call::{
        BargeIn,
        chat::{ChatRole, LlmToolCall},
        ports::{self, LlmReply, LlmRequest, PortError, Ports, S2sSettings, StoreError, ToolDef, ToolOutcome},
        snapshot::{CallSnapshot, CallSnapshotV1},
        speaking::ContextBudget,
        state::{CallStatus, DomainEvent},
    },
};
use thruai_entities::{agent, call, tool};

use crate::{
    http::agents::config::{
        Eagerness, InterruptionSettings, NoiseReduction, S2sConfig, S2sTurnDetection, TurnDetectionType,
    },
    providers::{
        live,
        llm::{self, Prompt, Role, ToolSpec, Turn},
        realtime::SandboxRealtime,
        telephony::{self as tel, PlaceCall},
    },
    state::AppState,
    store,
};

/// The live-call model adapter over the platform's `LanguageModel` (and its model id).
pub struct LlmAdapter(pub Arc<dyn llm::LanguageModel>, pub String);

#[async_trait]
impl ports::LanguageModel for LlmAdapter {
    fn provider(&self) -> &str {
        self.0.provider()
    }

    async fn respond(&self, req: &LlmRequest) -> Result<LlmReply, PortError> {
        let conversation: Vec<Turn> = req
            .conversation
            .iter()
            .map(|t| Turn {
                role: match t.role {
                    ChatRole::User => Role::User,
                    ChatRole::Assistant => Role::Assistant,
                    ChatRole::Tool => Role::Tool,
                },
                content: t.content.clone(),
                tool_calls: t
                    .tool_calls
                    .iter()
                    .map(|c| llm::ToolCall {
                        id: c.id.clone(),
                        name: c.name.clone(),
                        arguments: c.arguments.clone(),
                    })
                    .collect(),
                tool_call_id: t.tool_call_id.clone(),
            })
            .collect();
        let tools: Vec<ToolSpec> = req
            .tools
            .iter()
            .map(|t| ToolSpec {
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.parameters.clone(),
            })
            .collect();
        let prompt = Prompt {
            model: &self.1,
            system_prompt: &req.system_prompt,
            first_message: req.first_message.as_deref(),
            conversation: &conversation,
            tools: &tools,
        };
        let reply = self
            .0
            .respond(&prompt)
            .await
            .map_err(|e| PortError::new(self.0.provider(), e.to_string()))?;
        // Token counts are estimated (4 characters a token) where the provider gives none.
        let input_chars: usize =
            req.system_prompt.len() + req.conversation.iter().map(|t| t.content.len()).sum::<usize>();
        let usage = reply.usage.unwrap_or(llm::Usage {
            input_tokens: (input_chars as u64).div_ceil(4),
            output_tokens: (reply.text.len() as u64).div_ceil(4),
        });
        Ok(LlmReply {
            output_tokens: usage.output_tokens,
            input_tokens: usage.input_tokens,
            text: reply.text,
            tool_calls: reply
                .tool_calls
                .into_iter()
                .map(|c| LlmToolCall {
                    id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect(),
            end_call: reply.end_call,
        })
    }
}

/// Custom tools over signed HTTP (`http::tools::deliver`), each with its own timeout.
struct HttpTools {
    state: AppState,
    agent_id: String,
    tools: Vec<tool::Model>,
}

#[async_trait]
impl ports::ToolInvoker for HttpTools {
    async fn invoke(&self, call_id: &str, name: &str, arguments: Value) -> ToolOutcome {
        let Some(row) = self.tools.iter().find(|t| t.name == name) else {
            return ToolOutcome {
                ok: false,
                result: Value::Null,
                error: Some(format!("no tool named {name}")),
                status_code: None,
                elapsed_ms: 0,
            };
        };
        let payload = json!({
            "type": "tool.call", "test": false, "toolId": row.id, "tool": row.name,
            "arguments": arguments, "callId": call_id, "agentId": self.agent_id,
            "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        match crate::http::tools::deliver(&self.state, row, &payload).await {
            Ok(d) => ToolOutcome {
                ok: d.error.is_none(),
                result: d.response,
                error: d.error,
                status_code: d.status_code,
                elapsed_ms: d.elapsed_ms,
            },
            Err(e) => ToolOutcome {
                ok: false,
                result: Value::Null,
                error: Some(e.to_string()),
                status_code: None,
                elapsed_ms: 0,
            },
        }
    }
}

/// Hang-ups through the call's carrier.
struct CarrierHangup(Arc<dyn tel::Telephony>);

#[async_trait]
impl ports::Telephony for CarrierHangup {
    async fn hangup(&self, provider_call_sid: &str) -> Result<(), PortError> {
        self.0
            .hangup(provider_call_sid)
            .await
            .map_err(|e| PortError::new(self.0.provider(), e.to_string()))
    }
}

/// Snapshots and outbox events in the database (through the group-commit writer), fenced
/// by the owner epoch.
struct DbStore {
    db: sea_orm::DatabaseConnection,
    writer: CheckpointWriter,
}

#[async_trait]
impl ports::CallStore for DbStore {
    async fn checkpoint(&self, snapshot: CallSnapshotV1, events: Vec<DomainEvent>) -> Result<(), StoreError> {
        self.writer.checkpoint(snapshot, events).await
    }

    async fn load(&self, call_id: &str) -> Result<Option<CallSnapshotV1>, StoreError> {
        let row = store::calls::find_any(&self.db, call_id)
            .await
            .map_err(|_| StoreError::Unavailable)?;
        Ok(row.as_ref().and_then(store::calls::snapshot_of))
    }
}

/// `{{name}}` placeholders filled from the agent's and the call's variables.
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

fn variables_of(agent: &agent::Model, call: &call::Model) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = serde_json::from_value(agent.variables.clone()).unwrap_or_default();
    let call_vars: BTreeMap<String, String> = serde_json::from_value(call.variables.clone()).unwrap_or_default();
    vars.extend(call_vars);
    vars
}

/// The agent's enabled tools.
async fn tools_of(state: &AppState, agent: &agent::Model) -> Result<Vec<tool::Model>, sea_orm::DbErr> {
    let refs: Vec<String> = serde_json::from_value(agent.enabled_tools.clone()).unwrap_or_default();
    if refs.is_empty() {
        return Ok(Vec::new());
    }
    store::tools::find_refs(&state.db, &agent.org_id, &refs).await
}

/// What starting a call's actor reads from the database: its agent and the agent's tools
/// (a campaign reads them once ahead for many calls).
#[derive(Clone)]
pub struct AgentSetup {
    pub agent: agent::Model,
    pub tools: Vec<tool::Model>,
}

/// Reads the agent of a call and its tools.
///
/// # Errors
/// When the agent is gone or cannot be read.
pub async fn agent_setup(state: &AppState, org_id: &str, agent_id: &str) -> anyhow::Result<AgentSetup> {
    let agent = store::agents::find(&state.db, org_id, agent_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("agent {agent_id} is gone"))?;
    let tools = tools_of(state, &agent).await?;
    Ok(AgentSetup { agent, tools })
}

/// Starts the call's actor from its row (status taken from the stored snapshot).
///
/// # Errors
/// When the agent or its tools cannot be read.
pub async fn start_actor(
    state: &AppState,
    row: &call::Model,
    carrier: Arc<dyn tel::Telephony>,
) -> anyhow::Result<CallHandle> {
    let setup = agent_setup(state, &row.org_id, &row.agent_id).await?;
    Ok(start_actor_with(state, row, carrier, &setup))
}

/// [`start_actor`] with the agent and its tools already read (no I/O).
pub fn start_actor_with(
    state: &AppState,
    row: &call::Model,
    carrier: Arc<dyn tel::Telephony>,
    loaded: &AgentSetup,
) -> CallHandle {
    let AgentSetup { agent, tools } = loaded;
    let vars = variables_of(agent, row);
    let cfg = &state.settings.calls;
    let interruption: InterruptionSettings = agent
        .interruption_settings
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or(InterruptionSettings {
            enabled: None,
            sensitivity_ms: None,
            min_silence_ms: None,
            barge_in_during_greeting: None,
            barge_in_confidence: None,
            echo_confidence: None,
            false_interruption_timeout_ms: None,
        });
    let setup = CallSetup {
        call_id: row.id.clone(),
        org_id: row.org_id.clone(),
        agent_id: row.agent_id.clone(),
        stream_token: row.stream_token.clone(),
        system_prompt: fill(agent.system_prompt.as_deref().unwrap_or_default(), &vars),
        first_message: agent.first_message.as_deref().map(|m| fill(m, &vars)),
        tools: tools
            .iter()
            .map(|t| ToolDef {
                name: t.name.clone(),
                description: t.description.clone().unwrap_or_default(),
                parameters: t.parameters.clone().unwrap_or_else(|| json!({"type": "object"})),
            })
            .collect(),
        end_silence_ms: interruption.min_silence_ms.unwrap_or(cfg.end_of_turn_silence_ms),
        barge_in: BargeIn {
            enabled: interruption.enabled.unwrap_or(true),
            pause_ms: cfg.barge_in_pause_ms,
            sensitivity_ms: interruption.sensitivity_ms.unwrap_or(cfg.barge_in_ms),
            resume_after_ms: interruption
                .false_interruption_timeout_ms
                .unwrap_or(cfg.false_interruption_ms),
            during_greeting: interruption.barge_in_during_greeting.unwrap_or(true),
        },
        silence_timeout: Duration::from_millis(cfg.silence_timeout_ms),
        vad_threshold_rms: cfg.vad_threshold_rms,
        context: ContextBudget {
            max_chars: cfg.llm_context_max_chars,
            max_turns: cfg.llm_context_max_turns,
        },
        s2s: None,
    };
    let mut setup = setup;
    if agent.pipeline_mode == "s2s" {
        setup.s2s = Some(s2s_settings(agent, &setup));
    }
    let live = live::clients_for(agent, &state.settings, &state.http);
    let sandbox_llm: Arc<dyn ports::LanguageModel> = Arc::new(LlmAdapter(state.llm.clone(), "sandbox-llm".into()));
    let llm: Arc<dyn ports::LanguageModel> = match live.llm {
        Some((client, model)) => Arc::new(LlmAdapter(client, model)),
        None => sandbox_llm.clone(),
    };
    let stt = live.stt.unwrap_or_else(|| Arc::new(ports::ToneStt));
    let tts = live.tts.unwrap_or_else(|| Arc::new(ports::ToneTts));
    let s2s = live.s2s.unwrap_or_else(|| {
        Arc::new(SandboxRealtime {
            llm: sandbox_llm,
            stt: Arc::new(ports::ToneStt),
            tts: Arc::new(ports::ToneTts),
            vad_threshold_rms: cfg.vad_threshold_rms,
        })
    });
    let ports = Ports {
        llm,
        s2s,
        stt,
        tts,
        tools: Arc::new(HttpTools {
            state: state.clone(),
            agent_id: agent.id.clone(),
            tools: tools.clone(),
        }),
        telephony: Arc::new(CarrierHangup(carrier)),
        store: Arc::new(DbStore {
            db: state.db.clone(),
            writer: state.checkpoints.clone(),
        }),
        clock: Arc::new(ports::SystemClock),
    };
    let snap = store::calls::snapshot_of(row).unwrap_or_else(|| {
        CallSnapshotV1::new(&row.id, &row.org_id, &row.agent_id, CallStatus::Queued, row.owner_epoch)
    });
    let handle = state.calls.start(setup, ports, snap);
    for note in live.notes {
        handle.stream_note("provider_fallback", note);
    }
    handle
}

/// The realtime session's settings from the agent (`s2sConfig`, `s2sTurnDetection`, voice
/// and model) and the call's prompt and tools.
fn s2s_settings(agent: &agent::Model, setup: &CallSetup) -> S2sSettings {
    let config: S2sConfig = serde_json::from_value(agent.s2s_config.clone()).unwrap_or_default();
    let td: Option<S2sTurnDetection> = agent
        .s2s_turn_detection
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    S2sSettings {
        model: agent.s2s_model.clone(),
        voice: agent.s2s_voice.clone(),
        instructions: setup.system_prompt.clone(),
        tools: setup.tools.clone(),
        turn_detection: turn_detection(td.as_ref(), setup.end_silence_ms),
        temperature: config.temperature,
        max_output_tokens: config.max_response_output_tokens,
        noise_reduction: config.noise_reduction.map(|n| match n {
            NoiseReduction::NearField => "near_field".to_string(),
            NoiseReduction::FarField => "far_field".to_string(),
        }),
        transcribe_input: config.input_audio_transcription.unwrap_or(true),
    }
}

/// The session's `turn_detection` from `s2sTurnDetection`. Responses are created by the
/// server at the end of a turn; interrupting them is left to the call (it needs the marks
/// to truncate to what was heard, and honours `bargeInDuringGreeting`).
pub fn turn_detection(td: Option<&S2sTurnDetection>, default_silence_ms: u32) -> Value {
    let semantic = td.and_then(|t| t.kind) == Some(TurnDetectionType::SemanticVad);
    if semantic {
        let eagerness = match td.and_then(|t| t.eagerness) {
            Some(Eagerness::Low) => "low",
            Some(Eagerness::Medium) => "medium",
            Some(Eagerness::High) => "high",
            None => "auto",
        };
        return json!({ "type": "semantic_vad", "eagerness": eagerness,
                       "create_response": true, "interrupt_response": false });
    }
    json!({
        "type": "server_vad",
        "threshold": td.and_then(|t| t.threshold).unwrap_or(0.5),
        "prefix_padding_ms": td.and_then(|t| t.prefix_padding_ms).unwrap_or(300),
        "silence_duration_ms": td.and_then(|t| t.silence_duration_ms).unwrap_or(default_silence_ms),
        "create_response": true,
        "interrupt_response": false,
    })
}

/// A new call row (queued, epoch 1) with its initial snapshot.
#[allow(clippy::too_many_arguments)]
pub fn new_call(
    org_id: &str,
    agent_id: &str,
    direction: &str,
    from: &str,
    to: &str,
    number: Option<&thruai_entities::phone_number::Model>,
    variables: Value,
    metadata: Value,
) -> call::Model {
    let id = crate::domain::ids::new_id(crate::domain::ids::CALL);
    let now = Utc::now();
    let snap = CallSnapshotV1::new(&id, org_id, agent_id, CallStatus::Queued, 1);
    call::Model {
        session_id: format!("SES-{}", uuid::Uuid::new_v4().simple()),
        stream_token: uuid::Uuid::new_v4().simple().to_string(),
        org_id: org_id.into(),
        agent_id: agent_id.into(),
        direction: direction.into(),
        status: CallStatus::Queued.as_str().into(),
        from_number: from.into(),
        to_number: to.into(),
        phone_number_id: number.map(|n| n.id.clone()),
        provider: number.map_or_else(|| "sandbox".into(), |n| n.provider.clone()),
        provider_call_sid: None,
        end_reason: None,
        variables,
        metadata,
        owner_epoch: 1,
        duration_secs: 0,
        snapshot: serde_json::to_value(CallSnapshot::V1(snap)).unwrap_or(Value::Null),
        answered_at: None,
        ended_at: None,
        created_at: now,
        updated_at: now,
        id,
    }
}

/// `{public_base_url}{path}?callId=…`.
pub fn callback_url(state: &AppState, path: &str, call_id: &str) -> String {
    format!(
        "{}{path}?callId={call_id}",
        state.settings.server.public_base_url.trim_end_matches('/')
    )
}

/// Starts the actor and asks the carrier to dial (the row is already committed: the
/// intent is recorded before the effect).
pub async fn dial(state: AppState, row: call::Model, carrier: Arc<dyn tel::Telephony>) {
    let _ = dial_with(&state, row, carrier, None).await;
}

/// The one dialling path (`POST /calls/outbound` and campaigns): starts the call's actor,
/// asks the carrier to place the call — under `intent_key`, which also rides in the status
/// callback URL — and records the carrier's call id. Returns that id with the call's
/// handle, or why there is none (`Err(true)` when the carrier refused, so no call exists
/// there).
///
/// # Errors
/// `Err(false)` when the actor could not start (nothing was sent), `Err(true)` when the
/// carrier refused the call.
pub async fn dial_with(
    state: &AppState,
    row: call::Model,
    carrier: Arc<dyn tel::Telephony>,
    intent_key: Option<&str>,
) -> Result<(String, CallHandle), bool> {
    let setup = match agent_setup(state, &row.org_id, &row.agent_id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(call = %row.id, error = %e, "starting the call failed");
            return Err(false);
        }
    };
    dial_with_setup(state, row, carrier, intent_key, &setup).await
}

/// [`dial_with`] with the agent and its tools already read: the call's actor starts
/// without I/O, and the carrier request is the first thing sent.
///
/// # Errors
/// `Err(true)` when the carrier refused the call.
pub async fn dial_with_setup(
    state: &AppState,
    row: call::Model,
    carrier: Arc<dyn tel::Telephony>,
    intent_key: Option<&str>,
    setup: &AgentSetup,
) -> Result<(String, CallHandle), bool> {
    let handle = start_actor_with(state, &row, carrier.clone(), setup);
    let mut status_callback = callback_url(state, "/twilio/status", &row.id);
    if let Some(key) = intent_key {
        status_callback.push_str("&intent=");
        status_callback.extend(url::form_urlencoded::byte_serialize(key.as_bytes()));
    }
    let req = PlaceCall {
        to: row.to_number.clone(),
        from: row.from_number.clone(),
        url: callback_url(state, "/twilio/voice", &row.id),
        status_callback,
        sandbox_script: row.metadata.get("sandboxScript").cloned(),
        intent_key: intent_key.map(str::to_string),
    };
    match carrier.place_call(&req).await {
        Ok(sid) => {
            if let Err(e) = store::calls::set_provider_sid(&state.db, &row.id, &sid).await {
                tracing::warn!(call = %row.id, error = %e, "recording the carrier's call id failed");
            }
            handle.dialed(sid.clone());
            Ok((sid, handle))
        }
        Err(e) => {
            handle.dial_failed(format!("the carrier refused the call: {e}"));
            Err(true)
        }
    }
}

/// Why an outbound call cannot be placed from the caller's numbers.
#[derive(Debug, thiserror::Error)]
pub enum FromNumberError {
    #[error("'{0}' is not an active number of yours")]
    NotYours(String),
    #[error("No active phone number to call from — provision one with POST /telephony/numbers/provision")]
    NoneActive,
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// The number an outbound call of `agent_id` is placed from: `from` when given (an active
/// number of the organisation), else the agent's first active number, else any active one.
///
/// # Errors
/// [`FromNumberError`].
pub async fn from_number(
    db: &impl sea_orm::ConnectionTrait,
    org_id: &str,
    agent_id: &str,
    from: Option<&str>,
) -> Result<thruai_entities::phone_number::Model, FromNumberError> {
    if let Some(from) = from {
        return store::phone_numbers::find_by_number(db, org_id, from)
            .await?
            .filter(|n| n.status == "active")
            .ok_or_else(|| FromNumberError::NotYours(from.to_string()));
    }
    let mine = store::phone_numbers::for_agent(db, org_id, agent_id).await?;
    let any = store::phone_numbers::list(
        db,
        org_id,
        &store::phone_numbers::Filter {
            agent_id: None,
            provider: None,
        },
        0,
        100,
    )
    .await?
    .0;
    mine.into_iter()
        .chain(any)
        .find(|n| n.status == "active")
        .ok_or(FromNumberError::NoneActive)
}

/// Closes every call a previous process left open as `interrupted` (exactly once each:
/// the close is fenced by the owner epoch). A live call cannot survive the process that
/// held its media stream.
///
/// # Errors
/// When the database is unreachable.
pub async fn recover(state: &AppState) -> anyhow::Result<usize> {
    let mut closed = 0;
    for row in store::calls::open_calls(&state.db).await? {
        if state.calls.get(&row.id).is_some() {
            continue;
        }
        if store::calls::close_interrupted(&state.db, &row).await? {
            closed += 1;
        }
    }
    Ok(closed)
}

/// Audio length of a sentence in the sandbox voice, in ms (for the demo's pacing notes).
pub fn sandbox_speech_ms(text: &str) -> u64 {
    tone::duration_ms(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_detection_follows_the_agents_s2s_settings() {
        let semantic: S2sTurnDetection = serde_json::from_value(json!({ "type": "semantic_vad", "eagerness": "high" }))
            .unwrap_or_else(|e| panic!("{e}"));
        let td = turn_detection(Some(&semantic), 500);
        assert_eq!(td["type"], "semantic_vad");
        assert_eq!(td["eagerness"], "high");
        assert_eq!(td["interrupt_response"], false);
        let server: S2sTurnDetection =
            serde_json::from_value(json!({ "type": "server_vad", "threshold": 0.3, "prefixPaddingMs": 200 }))
                .unwrap_or_else(|e| panic!("{e}"));
        let td = turn_detection(Some(&server), 650);
        assert_eq!(td["type"], "server_vad");
        assert_eq!(td["threshold"], 0.3);
        assert_eq!(td["prefix_padding_ms"], 200);
        assert_eq!(td["silence_duration_ms"], 650);
        assert_eq!(turn_detection(None, 500)["type"], "server_vad");
    }
}
