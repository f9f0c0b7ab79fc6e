//! Live calls, application side: placing an outbound call and answering an inbound one —
//! symmetric: each reads its agent once, records the call, starts its actor — plus the
//! dialling path campaigns share, the group-commit checkpoints, and the start-up recovery
//! that closes calls a crash left open.

mod checkpoints;
mod setup;

pub use checkpoints::CheckpointWriter;
pub use setup::{AgentSetup, SetupError, fill, turn_detection};

use std::{collections::BTreeMap, sync::Arc};

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::{Value, json};
use thruai_actors::{
    CallHandle, CallSupervisor,
    call::{
        ports::LanguageModel,
        snapshot::{CallSnapshot, CallSnapshotV1},
        state::CallStatus,
    },
};
use thruai_entities::{
    call, phone_number,
    values::{
        StringMap,
        status::{AgentStatus, Direction, NumberStatus, TelephonyProvider},
    },
};

use super::{carriers::Carriers, tools::ToolDelivery};
use crate::{
    config::{CallSettings, ProviderSettings},
    domain::{
        E164,
        ids::{AgentId, CallId},
        pricing::Prices,
    },
    error::{CodedError, ErrorCode},
    providers::telephony::{PlaceCall, Telephony, TelephonyError},
    store,
};

/// The calls service: what a live call needs from the platform.
#[derive(Clone)]
pub struct Calls {
    db: DatabaseConnection,
    settings: Arc<CallSettings>,
    providers: Arc<ProviderSettings>,
    /// The client for provider APIs (the agents' LLM, speech and s2s providers).
    http: reqwest::Client,
    public_base_url: Arc<str>,
    supervisor: CallSupervisor,
    checkpoints: CheckpointWriter,
    carriers: Carriers,
    tools: ToolDelivery,
    /// The language model used when an agent's provider has no live client.
    sandbox_llm: Arc<dyn LanguageModel>,
    prices: Arc<Prices>,
    knowledge: crate::app::knowledge::Knowledge,
}

/// The parts [`Calls`] is built from.
pub struct CallParts {
    pub db: DatabaseConnection,
    pub settings: CallSettings,
    pub providers: ProviderSettings,
    pub http: reqwest::Client,
    pub public_base_url: String,
    pub carriers: Carriers,
    pub tools: ToolDelivery,
    pub sandbox_llm: Arc<dyn LanguageModel>,
    /// The ledger's price table.
    pub prices: Prices,
    /// Retrieval for each caller turn.
    pub knowledge: crate::app::knowledge::Knowledge,
}

/// What `POST /calls/outbound` asks for.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub agent_id: AgentId,
    pub to: E164,
    pub from: Option<E164>,
    pub variables: BTreeMap<String, String>,
    pub metadata: Value,
}

/// An outbound call ready to be recorded and dialled: its row, its carrier, its agent.
pub struct Outbound {
    row: call::Model,
    carrier: Arc<dyn Telephony>,
    setup: AgentSetup,
}

impl Outbound {
    /// The call's row, to insert in the request's transaction (the intent before the effect).
    pub fn row(&self) -> &call::Model {
        &self.row
    }

    /// The call under an id chosen by its caller (a workflow step derives it from its key).
    #[must_use]
    pub fn with_id(mut self, id: String) -> Self {
        let snap = CallSnapshotV1::new(&id, &self.row.org_id, &self.row.agent_id, CallStatus::Queued, 1);
        self.row.snapshot = serde_json::to_value(CallSnapshot::V1(snap)).unwrap_or(Value::Null);
        self.row.id = id;
        self
    }
}

/// How an inbound call is answered.
pub enum Answer {
    /// Stream the call to its agent.
    Stream(Box<call::Model>),
    /// The number has no agent yet.
    NoAgent,
}

/// Why a call cannot be placed or answered.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("Agent '{0}' not found or not active")]
    InvalidAgent(String),
    #[error(transparent)]
    From(#[from] FromNumberError),
    #[error("The number's carrier is not configured — set PUT /telephony/credentials")]
    CarrierNotConfigured,
    #[error("the number's carrier cannot be used")]
    Carrier(#[source] TelephonyError),
    #[error(transparent)]
    Setup(SetupError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<TelephonyError> for CallError {
    fn from(e: TelephonyError) -> Self {
        match e {
            TelephonyError::NotConfigured => Self::CarrierNotConfigured,
            other => Self::Carrier(other),
        }
    }
}

impl From<SetupError> for CallError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Db(e) => Self::Db(e),
            gone @ SetupError::AgentGone(_) => Self::Setup(gone),
        }
    }
}

impl CodedError for CallError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidAgent(_) => ErrorCode::InvalidAgent,
            Self::From(e) => e.code(),
            Self::CarrierNotConfigured => ErrorCode::TelephonyNotConfigured,
            Self::Carrier(_) | Self::Setup(_) => ErrorCode::InternalError,
            Self::Db(e) => crate::error::db_code(e),
        }
    }
}

/// Why a dial did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Nothing was sent: the call's agent could not be read.
    #[error("the call could not start")]
    NotStarted(#[source] SetupError),
    /// The carrier refused the call: no call exists there.
    #[error("the carrier refused the call")]
    Refused(#[source] TelephonyError),
}

impl Calls {
    pub fn new(parts: CallParts) -> Self {
        let settings = parts.settings;
        let prices = Arc::new(parts.prices);
        let supervisor = CallSupervisor::new(thruai_actors::call::supervisor::RestartPolicy {
            max_restarts: settings.max_restarts,
            window: std::time::Duration::from_secs(settings.restart_window_secs),
        });
        Self {
            checkpoints: CheckpointWriter::start(parts.db.clone(), prices.clone()),
            prices,
            db: parts.db,
            settings: Arc::new(settings),
            providers: Arc::new(parts.providers),
            http: parts.http,
            public_base_url: parts.public_base_url.trim_end_matches('/').into(),
            supervisor,
            carriers: parts.carriers,
            tools: parts.tools,
            sandbox_llm: parts.sandbox_llm,
            knowledge: parts.knowledge,
        }
    }

    /// Closes a call a crash left open (`interrupted`), its usage on the ledger.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn close_interrupted(&self, row: &call::Model) -> Result<bool, DbErr> {
        store::calls::close_interrupted(&self.db, row, &self.prices).await
    }

    /// The ledger's price table.
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// The live call, if this process runs it.
    pub fn get(&self, call_id: &str) -> Option<CallHandle> {
        self.supervisor.get(call_id)
    }

    /// The live calls of this process.
    pub fn supervisor(&self) -> &CallSupervisor {
        &self.supervisor
    }

    /// Reads what an outbound call needs — its agent (active) with its tools, the number it
    /// is placed from, that number's carrier — and builds its row.
    ///
    /// # Errors
    /// [`CallError`]: an inactive or unknown agent, no usable number, an unconfigured carrier.
    pub async fn prepare_outbound(&self, org_id: &str, req: OutboundRequest) -> Result<Outbound, CallError> {
        let setup = match AgentSetup::read(&self.db, org_id, &req.agent_id).await {
            Ok(s) if s.agent.status != AgentStatus::Inactive => s,
            Ok(_) | Err(SetupError::AgentGone(_)) => return Err(CallError::InvalidAgent(req.agent_id.into_string())),
            Err(e) => return Err(e.into()),
        };
        let number = from_number(&self.db, org_id, &setup.agent.id, req.from.as_ref().map(E164::as_str)).await?;
        let carrier = self.carriers.of_number(&number).await?;
        let row = new_call(
            org_id,
            &setup.agent.id,
            Direction::Outbound,
            &number.phone_number,
            req.to.as_str(),
            Some(&number),
            req.variables.into(),
            req.metadata,
        );
        Ok(Outbound { row, carrier, setup })
    }

    /// Dials a recorded outbound call in the background (its row is committed: the intent
    /// is recorded before the effect), with the agent read by [`Calls::prepare_outbound`].
    pub fn dial_recorded(&self, call: Outbound) {
        let calls = self.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = calls.dial(call.row, call.carrier, None, &call.setup).await {
                tracing::warn!(error = %e, "an outbound call was not placed");
            }
        });
    }

    /// Dials a recorded outbound call and waits for the carrier's answer.
    ///
    /// # Errors
    /// [`DialError::Refused`] when the carrier refused the call.
    pub async fn dial_outbound(&self, call: Outbound, intent_key: &str) -> Result<String, DialError> {
        self.dial(call.row, call.carrier, Some(intent_key), &call.setup)
            .await
            .map(|(sid, _)| sid)
    }

    /// The number an inbound call to `to` reached, when it is one of ours.
    ///
    /// # Errors
    /// Database failures.
    pub async fn inbound_number(&self, to: &str) -> Result<Option<phone_number::Model>, DbErr> {
        store::phone_numbers::find_global(&self.db, to).await
    }

    /// Answers a call to one of our numbers: reads its agent with its tools, records the
    /// call and starts its actor, which the carrier's media stream then reaches.
    ///
    /// # Errors
    /// [`CallError`]: the number's carrier or agent cannot be used, the database failed.
    pub async fn answer_inbound(
        &self,
        number: &phone_number::Model,
        from: &str,
        carrier_call_sid: Option<&str>,
    ) -> Result<Answer, CallError> {
        let Some(agent_id) = number.agent_id.as_deref() else {
            return Ok(Answer::NoAgent);
        };
        let setup = AgentSetup::read(&self.db, &number.org_id, agent_id).await?;
        let carrier = self.carriers.of_number(number).await?;
        let mut row = new_call(
            &number.org_id,
            agent_id,
            Direction::Inbound,
            from,
            &number.phone_number,
            Some(number),
            StringMap::default(),
            json!({}),
        );
        row.provider_call_sid = carrier_call_sid.map(str::to_string);
        let row = store::calls::insert(&self.db, row).await?;
        setup::start_actor(self, &row, carrier, &setup);
        Ok(Answer::Stream(Box::new(row)))
    }

    /// The one dialling path (outbound calls and campaigns): starts the call's actor with
    /// its agent already read (no I/O), asks the carrier to place the call — under
    /// `intent_key`, which also rides in the status callback URL — and records the
    /// carrier's call id. Returns that id with the call's handle.
    ///
    /// # Errors
    /// [`DialError::Refused`] when the carrier refused the call.
    pub async fn dial(
        &self,
        row: call::Model,
        carrier: Arc<dyn Telephony>,
        intent_key: Option<&str>,
        setup: &AgentSetup,
    ) -> Result<(String, CallHandle), DialError> {
        let handle = setup::start_actor(self, &row, carrier.clone(), setup);
        let mut status_callback = self.callback_url("/twilio/status", &row.id);
        if let Some(key) = intent_key {
            status_callback.push_str("&intent=");
            status_callback.extend(url::form_urlencoded::byte_serialize(key.as_bytes()));
        }
        let req = PlaceCall {
            to: row.to_number.clone(),
            from: row.from_number.clone(),
            url: self.callback_url("/twilio/voice", &row.id),
            status_callback,
            sandbox_script: row.metadata.get("sandboxScript").cloned(),
            intent_key: intent_key.map(str::to_string),
        };
        match carrier.place_call(&req).await {
            Ok(sid) => {
                if let Err(e) = store::calls::set_provider_sid(&self.db, &row.id, &sid).await {
                    tracing::warn!(call = %row.id, error = %e, "recording the carrier's call id failed");
                }
                handle.dialed(sid.clone());
                Ok((sid, handle))
            }
            Err(e) => {
                handle.dial_failed(format!("the carrier refused the call: {e}"));
                Err(DialError::Refused(e))
            }
        }
    }

    /// [`Calls::dial`] reading the call's agent first.
    ///
    /// # Errors
    /// [`DialError::NotStarted`] when the agent cannot be read (nothing was sent).
    pub async fn dial_reading_agent(
        &self,
        row: call::Model,
        carrier: Arc<dyn Telephony>,
        intent_key: Option<&str>,
    ) -> Result<(String, CallHandle), DialError> {
        let setup = AgentSetup::read(&self.db, &row.org_id, &row.agent_id)
            .await
            .map_err(DialError::NotStarted)?;
        self.dial(row, carrier, intent_key, &setup).await
    }

    /// Reads a call's agent and its tools.
    ///
    /// # Errors
    /// When the agent is gone or cannot be read.
    pub async fn agent_setup(&self, org_id: &str, agent_id: &str) -> Result<AgentSetup, SetupError> {
        AgentSetup::read(&self.db, org_id, agent_id).await
    }

    /// The group-commit writer of the live calls' snapshots.
    pub fn checkpoints(&self) -> &CheckpointWriter {
        &self.checkpoints
    }

    /// The carriers the calls are placed through.
    pub fn carriers(&self) -> &Carriers {
        &self.carriers
    }

    /// `{public_base_url}{path}?callId=…`.
    fn callback_url(&self, path: &str, call_id: &str) -> String {
        format!("{}{path}?callId={call_id}", self.public_base_url)
    }

    /// Closes every call a previous process left open as `interrupted` (exactly once each:
    /// the close is fenced by the owner epoch). A live call cannot survive the process that
    /// held its media stream.
    ///
    /// # Errors
    /// When the database is unreachable.
    pub async fn recover(&self) -> Result<usize, DbErr> {
        let mut closed = 0;
        for row in store::calls::open_calls(&self.db).await? {
            if self.supervisor.get(&row.id).is_some() {
                continue;
            }
            if self.close_interrupted(&row).await? {
                closed += 1;
            }
        }
        Ok(closed)
    }
}

/// A new call row (queued, epoch 1) with its initial snapshot.
#[allow(clippy::too_many_arguments)]
pub fn new_call(
    org_id: &str,
    agent_id: &str,
    direction: Direction,
    from: &str,
    to: &str,
    number: Option<&thruai_entities::phone_number::Model>,
    variables: StringMap,
    metadata: Value,
) -> call::Model {
    let id = CallId::new().into_string();
    let now = Utc::now();
    let snap = CallSnapshotV1::new(&id, org_id, agent_id, CallStatus::Queued, 1);
    call::Model {
        session_id: format!("SES-{}", uuid::Uuid::new_v4().simple()),
        stream_token: uuid::Uuid::new_v4().simple().to_string(),
        org_id: org_id.into(),
        agent_id: agent_id.into(),
        direction,
        status: CallStatus::Queued,
        from_number: from.into(),
        to_number: to.into(),
        phone_number_id: number.map(|n| n.id.clone()),
        provider: number.map_or(TelephonyProvider::Sandbox, |n| n.provider),
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

impl CodedError for FromNumberError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotYours(_) => ErrorCode::InvalidNumber,
            Self::NoneActive => ErrorCode::NoActiveNumbers,
            Self::Db(e) => crate::error::db_code(e),
        }
    }
}

/// The number an outbound call of `agent_id` is placed from: `from` when given (an active
/// number of the organisation), else the agent's first active number, else any active one.
///
/// # Errors
/// [`FromNumberError`].
pub async fn from_number(
    db: &impl ConnectionTrait,
    org_id: &str,
    agent_id: &str,
    from: Option<&str>,
) -> Result<phone_number::Model, FromNumberError> {
    if let Some(from) = from {
        return store::phone_numbers::find_by_number(db, org_id, from)
            .await?
            .filter(|n| n.status == NumberStatus::Active)
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
        .find(|n| n.status == NumberStatus::Active)
        .ok_or(FromNumberError::NoneActive)
}
