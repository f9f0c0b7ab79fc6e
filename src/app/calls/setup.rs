//! A call's actor, set up from its agent: the prompt and first message with their
//! variables filled, the turn-taking and barge-in settings, the s2s session, and the ports
//! (the provider clients the agent asks for, or the sandbox where one has no key; its tools;
//! its carrier; the checkpoint store).

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::{Value, json};
use thruai_actors::{
    CallHandle, CallSetup,
    call::{
        BargeIn,
        ports::{self, PortError, Ports, S2sSettings, StoreError, ToolDef, ToolOutcome},
        snapshot::CallSnapshotV1,
        speaking::ContextBudget,
        state::{CallStatus, DomainEvent},
    },
};
use thruai_entities::{agent, call, tool};

use super::{Calls, CheckpointWriter};
use crate::{
    app::tools::ToolDelivery,
    domain::{
        PipelineMode,
        agent::stored::{Eagerness, NoiseReduction, S2sTurnDetection, TurnDetectionType},
    },
    providers::{live, realtime::SandboxRealtime, sandbox::latency, telephony::Telephony},
    store,
};

/// What starting a call's actor reads from the database: its agent and the agent's tools
/// (read once per call; a campaign reads them once ahead for many calls).
#[derive(Clone)]
pub struct AgentSetup {
    pub agent: agent::Model,
    pub tools: Vec<tool::Model>,
}

/// Why a call's agent could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("agent {0} is gone")]
    AgentGone(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl AgentSetup {
    /// Reads an agent and its enabled tools.
    ///
    /// # Errors
    /// When the agent is gone or cannot be read.
    pub async fn read(db: &impl sea_orm::ConnectionTrait, org_id: &str, agent_id: &str) -> Result<Self, SetupError> {
        let agent = store::agents::find(db, org_id, agent_id)
            .await?
            .ok_or_else(|| SetupError::AgentGone(agent_id.to_string()))?;
        let refs = &agent.enabled_tools;
        let tools = if refs.is_empty() {
            Vec::new()
        } else {
            store::tools::find_refs(db, &agent.org_id, refs).await?
        };
        Ok(Self { agent, tools })
    }
}

/// Custom tools over signed HTTP ([`ToolDelivery`]), each with its own timeout.
struct HttpTools {
    delivery: ToolDelivery,
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
        match self.delivery.deliver(row, &payload).await {
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
struct CarrierHangup(Arc<dyn Telephony>);

#[async_trait]
impl ports::Telephony for CarrierHangup {
    async fn hangup(&self, provider_call_sid: &str) -> Result<(), PortError> {
        self.0
            .hangup(provider_call_sid)
            .await
            .map_err(|e| PortError::new(self.0.provider().as_str(), e.to_string()))
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
    let mut vars = agent.variables.0.clone();
    vars.extend(call.variables.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

/// Starts the call's actor from its row (status from the stored snapshot), with its agent
/// and tools already read: no I/O.
pub(super) fn start_actor(
    calls: &Calls,
    row: &call::Model,
    carrier: Arc<dyn Telephony>,
    loaded: &AgentSetup,
) -> CallHandle {
    let AgentSetup { agent, tools } = loaded;
    let vars = variables_of(agent, row);
    let cfg = &calls.settings;
    let interruption = agent.interruption_settings.clone().unwrap_or_default();
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
        placed_at: row.created_at,
        ring_timeout: Duration::from_secs(cfg.ring_timeout_secs),
        max_duration: Duration::from_secs(
            agent
                .max_duration_secs
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(cfg.max_call_duration_secs),
        ),
        vad_threshold_rms: cfg.vad_threshold_rms,
        context: ContextBudget {
            max_chars: cfg.llm_context_max_chars,
            max_turns: cfg.llm_context_max_turns,
        },
        s2s: None,
    };
    let mut setup = setup;
    if agent.pipeline_mode == PipelineMode::S2s {
        setup.s2s = Some(s2s_settings(agent, &setup));
    }
    let live = live::clients_for(agent, &calls.providers, &calls.http);
    let lag = &calls.providers.sandbox;
    let sandbox_llm = latency::llm(calls.sandbox_llm.clone(), lag.llm_latency_ms);
    let sandbox_stt = || latency::stt(Arc::new(ports::ToneStt), lag.stt_latency_ms);
    let sandbox_tts = || latency::tts(Arc::new(ports::ToneTts), lag.tts_latency_ms);
    let llm = live.llm.unwrap_or_else(|| sandbox_llm.clone());
    let stt = live.stt.unwrap_or_else(sandbox_stt);
    let tts = live.tts.unwrap_or_else(sandbox_tts);
    let s2s = live.s2s.unwrap_or_else(|| {
        Arc::new(SandboxRealtime {
            llm: sandbox_llm,
            stt: sandbox_stt(),
            tts: sandbox_tts(),
            vad_threshold_rms: cfg.vad_threshold_rms,
        })
    });
    let ports = Ports {
        llm,
        s2s,
        stt,
        tts,
        tools: Arc::new(HttpTools {
            delivery: calls.tools.clone(),
            agent_id: agent.id.clone(),
            tools: tools.clone(),
        }),
        telephony: Arc::new(CarrierHangup(carrier)),
        store: Arc::new(DbStore {
            db: calls.db.clone(),
            writer: calls.checkpoints.clone(),
        }),
        clock: Arc::new(ports::SystemClock),
        knowledge: Some(calls.knowledge.for_agent(&row.org_id, &agent.id)),
    };
    let snap = store::calls::snapshot_of(row).unwrap_or_else(|| {
        CallSnapshotV1::new(&row.id, &row.org_id, &row.agent_id, CallStatus::Queued, row.owner_epoch)
    });
    let handle = calls.supervisor.start(setup, ports, snap);
    for note in live.notes {
        handle.stream_note("provider_fallback", note);
    }
    handle
}

/// The realtime session's settings from the agent (`s2sConfig`, `s2sTurnDetection`, voice
/// and model) and the call's prompt and tools.
fn s2s_settings(agent: &agent::Model, setup: &CallSetup) -> S2sSettings {
    let config = &agent.s2s_config;
    let td = agent.s2s_turn_detection.as_ref();
    S2sSettings {
        model: agent.s2s_model.clone(),
        voice: agent.s2s_voice.clone(),
        instructions: setup.system_prompt.clone(),
        tools: setup.tools.clone(),
        turn_detection: turn_detection(td, setup.end_silence_ms),
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
