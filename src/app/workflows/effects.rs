//! Workflow steps' effects, each idempotent by its step's key: the SMS, e-mail or call
//! takes an id derived from `<key>#<attempt>`, so after a crash the step finds what it did
//! (and how it went) instead of doing it again; a webhook step carries the key as its
//! `webhook-id`, which receivers de-duplicate on.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::{Value, json};
use thruai_actors::call::{
    chat::{ChatRole, ChatTurn},
    ports::LlmRequest,
};
use thruai_actors::workflow::ports::{EffectCall, EffectOutcome};
use thruai_entities::values::status::CallStatus;

use super::Parts;
use crate::{
    app::{
        calls::{CallError, Calls, OutboundRequest},
        email::{Email, MailError, SendRequest},
        webhooks::{Webhooks, open_secret},
    },
    config::WorkflowSettings,
    crypto::Crypto,
    domain::{E164, ids, is_us_long_code, pricing::Prices},
    providers::telephony::{OutboundSms, TelephonyError},
    store,
};

pub struct Effects {
    db: DatabaseConnection,
    settings: WorkflowSettings,
    calls: Calls,
    email: Email,
    webhooks: Webhooks,
    crypto: Crypto,
    prices: Arc<Prices>,
    models: crate::app::AgentModels,
    public_base_url: String,
}

fn fail(error: impl Into<String>) -> EffectOutcome {
    EffectOutcome::Failed {
        error: error.into(),
        retryable: false,
    }
}

fn transient(error: impl std::fmt::Display) -> EffectOutcome {
    EffectOutcome::Failed {
        error: error.to_string(),
        retryable: true,
    }
}

/// The first JSON object in a model's answer (models wrap it in prose or code fences).
fn json_object_in(text: &str) -> Option<serde_json::Map<String, Value>> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    serde_json::from_str(text.get(start..=end)?).ok()
}

/// The seed of a step attempt's ids (URL-safe: a call's intent rides in its status
/// callback URL).
fn seed_of(key: &str, attempt: u32) -> String {
    format!("{}-{attempt}", key.replace(':', "-"))
}

/// The ids an earlier attempt of the step gave its effect, latest first: an attempt that
/// failed ambiguously (the database, after the provider took it) may have done it after
/// all, and then that is the step's effect — it is not done again.
fn earlier_ids(prefix: &str, call: &EffectCall<'_>) -> Vec<String> {
    (0..call.attempt)
        .rev()
        .map(|a| ids::derived_id(prefix, &seed_of(call.key, a)))
        .collect()
}

/// A waiting step looks at the outbox this often besides being woken by the event feed (a
/// wake that raced with its parking is caught up then).
const AWAIT_FALLBACK: chrono::Duration = chrono::Duration::seconds(10);

/// Whether the payload's field at a dotted `path` equals `want` (a string equals the text of
/// a number or boolean too: templates render to text).
fn field_equals(payload: &Value, path: &str, want: &Value) -> bool {
    let Some(got) = path.split('.').try_fold(payload, |v, k| v.get(k)) else {
        return false;
    };
    match (got, want) {
        (Value::String(a), Value::String(b)) => a == b,
        (got, Value::String(b)) => serde_json::from_str::<Value>(b).is_ok_and(|w| &w == got),
        (got, want) => got == want,
    }
}

fn text<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl Effects {
    pub fn new(parts: &Parts) -> Self {
        Self {
            db: parts.db.clone(),
            settings: parts.settings.clone(),
            calls: parts.calls.clone(),
            email: parts.email.clone(),
            webhooks: parts.webhooks.clone(),
            crypto: parts.crypto.clone(),
            prices: parts.prices.clone(),
            models: parts.models.clone(),
            public_base_url: parts.public_base_url.trim_end_matches('/').to_string(),
        }
    }

    pub async fn perform(&self, call: EffectCall<'_>) -> EffectOutcome {
        if call.dry_run {
            return EffectOutcome::Done(json!({ "simulated": true }));
        }
        let seed = seed_of(call.key, call.attempt);
        let result = match call.kind {
            "sms" => self.sms(&call, &seed).await,
            "email" => self.email(&call, &seed).await,
            "call" => self.call(&call, &seed).await,
            "webhook" => Ok(self.webhook(&call).await),
            "wait" => self.await_event(&call).await,
            "branch" => self.judge(&call).await,
            other => Ok(fail(format!("no effect for a '{other}' node"))),
        };
        result.unwrap_or_else(transient)
    }

    /// A wait for an event: the organisation's first event of the type since the step
    /// began whose payload has the step's `match` fields; none by the timeout is an output
    /// too (`timedOut: true`), for a branch to follow. The event feed wakes the execution
    /// when an event of the type arrives; until then it looks again now and then.
    async fn await_event(&self, call: &EffectCall<'_>) -> Result<EffectOutcome, DbErr> {
        let input = call.input;
        let event = text(input, "event").unwrap_or_default();
        let matches = input
            .get("match")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let found = store::outbox::of_type_since(&self.db, call.org_id, event, call.started_at, 1_000)
            .await?
            .into_iter()
            .find(|e| matches.iter().all(|(path, want)| field_equals(&e.payload, path, want)));
        if let Some(e) = found {
            return Ok(EffectOutcome::Done(
                json!({ "event": e.event_type, "eventId": e.id, "payload": e.payload, "timedOut": false }),
            ));
        }
        let timeout = input.get("timeoutSeconds").and_then(Value::as_i64).unwrap_or(86_400);
        let deadline = call.started_at + chrono::Duration::seconds(timeout);
        if Utc::now() >= deadline {
            return Ok(EffectOutcome::Done(json!({ "event": event, "timedOut": true })));
        }
        Ok(EffectOutcome::Pending(deadline.min(Utc::now() + AWAIT_FALLBACK)))
    }

    /// A branch's prompt conditions, asked of the language model of the branch's agent
    /// (`data.agentId`): each question answered yes or no about the execution so far. The
    /// answers are the step's output (`judged`), which its edges' conditions read.
    async fn judge(&self, call: &EffectCall<'_>) -> Result<EffectOutcome, DbErr> {
        let input = call.input;
        let Some(agent_id) = text(input, "agentId") else {
            return Ok(fail(
                "a branch with prompt conditions names the agent whose model judges them (data.agentId)",
            ));
        };
        let Some(agent) = store::agents::find(&self.db, call.org_id, agent_id).await? else {
            return Ok(fail(format!("agent '{agent_id}' is not one of this organization's")));
        };
        let questions: Vec<&str> = input
            .get("questions")
            .and_then(Value::as_array)
            .map(|q| q.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(llm) = crate::providers::live::clients_for(&agent, &self.models.providers, &self.models.http).llm
        else {
            return Ok(fail(format!(
                "agent '{agent_id}' talks through the sandbox model, which cannot judge prompt conditions: give it a \
                 provider's model (llmConfig, with the provider's key configured) or use an equation; a dry run \
                 simulates them"
            )));
        };
        let numbered: Vec<String> = questions
            .iter()
            .enumerate()
            .map(|(i, q)| format!("{}. {q}", i + 1))
            .collect();
        let reply = llm
            .respond(&LlmRequest {
                system_prompt: "You judge the conditions of an automated workflow. Answer with one JSON object \
                                only, mapping each question's number to true (yes) or false (no or unknown), \
                                e.g. {\"1\": true, \"2\": false}."
                    .into(),
                first_message: None,
                conversation: vec![ChatTurn::new(
                    ChatRole::User,
                    format!(
                        "Judge the workflow's conditions.\n\nWhat happened so far (JSON):\n{}\n\nQuestions:\n{}",
                        input.get("context").cloned().unwrap_or(Value::Null),
                        numbered.join("\n")
                    ),
                )],
                tools: Vec::new(),
                knowledge: Vec::new(),
            })
            .await;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return Ok(transient(format!("the model did not answer: {e}"))),
        };
        let Some(answers) = json_object_in(&reply.text) else {
            return Ok(transient(format!(
                "the model's answer was not the JSON object asked for: {}",
                reply.text.chars().take(200).collect::<String>()
            )));
        };
        let judged: serde_json::Map<String, Value> = questions
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let yes = answers
                    .get(&(i + 1).to_string())
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                ((*q).to_string(), Value::Bool(yes))
            })
            .collect();
        Ok(EffectOutcome::Done(json!({ "judged": judged })))
    }

    /// A message recorded and never acknowledged: wait for the process that may be sending
    /// it, then call it in doubt rather than send it twice.
    fn in_doubt(&self, created: chrono::DateTime<Utc>, what: &str) -> EffectOutcome {
        let limit = chrono::Duration::seconds(i64::try_from(self.settings.in_doubt_secs).unwrap_or(60));
        if Utc::now() - created < limit {
            EffectOutcome::Pending(Utc::now() + chrono::Duration::seconds(1))
        } else {
            fail(format!(
                "the {what} was recorded but its sending was interrupted; it is not sent twice (outcome unknown)"
            ))
        }
    }

    async fn sms(&self, call: &EffectCall<'_>, seed: &str) -> Result<EffectOutcome, DbErr> {
        let id = ids::derived_id(ids::SMS, seed);
        let done = |m: &thruai_entities::sms_message::Model| json!({ "smsId": m.id, "status": m.status, "to": m.to_number, "from": m.from_number, "segments": m.num_segments });
        for (n, id) in std::iter::once(id.clone())
            .chain(earlier_ids(ids::SMS, call))
            .enumerate()
        {
            let Some(m) = store::sms::find_message(&self.db, call.org_id, &id).await? else {
                continue;
            };
            return Ok(match (m.status.as_str(), &m.provider_sid) {
                // This attempt's failure is retried; an earlier attempt's is what it was.
                ("failed", _) if n == 0 => transient(
                    m.error_message
                        .unwrap_or_else(|| "the carrier refused the message".into()),
                ),
                ("failed", _) => continue,
                (_, Some(_)) => EffectOutcome::Done(done(&m)),
                _ => self.in_doubt(m.created_at, "SMS"),
            });
        }
        let input = call.input;
        let Some(to) = text(input, "to").and_then(|t| E164::parse(t).ok()) else {
            return Ok(fail(format!(
                "'{}' is not an E.164 phone number",
                text(input, "to").unwrap_or_default()
            )));
        };
        let from = match text(input, "from") {
            Some(f) => store::phone_numbers::find_by_number(&self.db, call.org_id, f).await?,
            None => {
                let filter = store::phone_numbers::Filter::default();
                let (rows, _) = store::phone_numbers::list(&self.db, call.org_id, &filter, 0, 100).await?;
                rows.into_iter().find(crate::app::sms::can_send)
            }
        };
        let from = from.filter(crate::app::sms::can_send);
        let Some(from) = from else {
            return Ok(fail("no SMS-capable number of this organization to send from"));
        };
        if store::sms::is_opted_out(&self.db, call.org_id, Some(&from.phone_number), to.as_str()).await? {
            return Ok(fail(format!("{} has opted out (STOP); nothing was sent", to.as_str())));
        }
        if is_us_long_code(&from.phone_number) {
            let campaign = store::a2p::campaign_for_number(&self.db, call.org_id, &from.phone_number).await?;
            if !campaign.is_some_and(|c| c.status == thruai_entities::values::status::RegistrationStatus::Approved) {
                return Ok(fail(format!(
                    "US carriers require A2P 10DLC registration: {} is not linked to an approved A2P campaign",
                    from.phone_number
                )));
            }
        }
        let carrier = match self.calls.carriers().of_number(&from).await {
            Ok(c) => c,
            Err(e) => return Ok(fail(e.to_string())),
        };
        let body = text(input, "body").unwrap_or_default().to_string();
        let row = crate::app::sms::record(
            &self.db,
            crate::app::sms::Outgoing {
                id,
                org_id: call.org_id,
                from: &from.phone_number,
                to: to.as_str(),
                body: &body,
                provider: carrier.provider().to_string(),
            },
        )
        .await?;
        let sent = carrier
            .send_sms(&OutboundSms {
                from: from.phone_number.clone(),
                to: to.as_str().to_string(),
                body,
                status_callback: format!("{}/twilio/sms-status", self.public_base_url),
            })
            .await;
        let txn = store::begin(&self.db).await?;
        let row = crate::app::sms::settle(&txn, &self.prices, row, sent.as_ref().cloned()).await?;
        txn.commit().await?;
        Ok(match sent {
            Ok(_) => EffectOutcome::Done(done(&row)),
            Err(e @ (TelephonyError::Unavailable(_) | TelephonyError::NotConfigured)) => fail(e.to_string()),
            Err(e) => transient(e),
        })
    }

    async fn email(&self, call: &EffectCall<'_>, seed: &str) -> Result<EffectOutcome, DbErr> {
        let id = ids::derived_id(ids::EMAIL, seed);
        let done = |m: &thruai_entities::email_message::Model| json!({ "emailId": m.id, "threadId": m.thread_id, "status": m.status, "to": m.to_addresses.0 });
        for (n, id) in std::iter::once(id.clone())
            .chain(earlier_ids(ids::EMAIL, call))
            .enumerate()
        {
            let Some(m) = store::email::find_message(&self.db, &id)
                .await?
                .filter(|m| m.org_id == call.org_id)
            else {
                continue;
            };
            return Ok(match m.status.as_str() {
                // This attempt's failure is retried; an earlier attempt's is what it was.
                "failed" if n == 0 => transient(m.error.unwrap_or_else(|| "the provider refused the message".into())),
                "failed" => continue,
                "queued" => self.in_doubt(m.created_at, "e-mail"),
                _ => EffectOutcome::Done(done(&m)),
            });
        }
        let input = call.input;
        let to = match input.get("to") {
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).map(String::from).collect(),
            Some(Value::String(s)) => s
                .split(',')
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        let req = SendRequest {
            agent_id: text(input, "agentId").map(String::from),
            from: text(input, "from").map(String::from),
            to,
            subject: text(input, "subject").map(String::from),
            text: text(input, "text").map(String::from),
            html: text(input, "html").map(String::from),
            idempotency_key: Some(seed.to_string()),
            id: Some(id),
            ..SendRequest::default()
        };
        Ok(match self.email.send(call.org_id, req).await {
            Ok(m) => EffectOutcome::Done(done(&m)),
            Err(e @ (MailError::Provider(_) | MailError::Db(_) | MailError::Model(_))) => transient(e),
            Err(e) => fail(e.to_string()),
        })
    }

    async fn call(&self, call: &EffectCall<'_>, seed: &str) -> Result<EffectOutcome, DbErr> {
        let id = ids::derived_id(ids::CALL, seed);
        let poll =
            Utc::now() + chrono::Duration::milliseconds(i64::try_from(self.settings.call_poll_ms).unwrap_or(1000));
        // This attempt's call, else an earlier attempt's that did not fail.
        let mut placed = None;
        for (n, cid) in std::iter::once(id.clone())
            .chain(earlier_ids(ids::CALL, call))
            .enumerate()
        {
            if let Some(c) = store::calls::find(&self.db, call.org_id, &cid).await?
                && (n == 0 || c.status != CallStatus::Failed)
            {
                placed = Some(c);
                break;
            }
        }
        if let Some(c) = placed {
            if c.status.is_terminal() {
                let summary = store::analyses::find(&self.db, &c.id)
                    .await
                    .ok()
                    .flatten()
                    .map(|a| a.summary);
                return Ok(EffectOutcome::Done(json!({
                    "callId": c.id,
                    "status": c.status.to_string(),
                    "outcome": c.status.to_string(),
                    "endReason": c.end_reason,
                    "durationSeconds": c.duration_secs,
                    "summary": summary,
                })));
            }
            let timeout = call
                .input
                .get("timeoutSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(7_200);
            if Utc::now() - call.started_at > chrono::Duration::seconds(timeout) {
                return Ok(fail(format!("call {} did not end within {timeout} s", c.id)));
            }
            return Ok(EffectOutcome::Pending(poll));
        }
        let input = call.input;
        let Some(to) = text(input, "to").and_then(|t| E164::parse(t).ok()) else {
            return Ok(fail(format!(
                "'{}' is not an E.164 phone number",
                text(input, "to").unwrap_or_default()
            )));
        };
        let from = match text(input, "from").map(E164::parse) {
            Some(Ok(f)) => Some(f),
            Some(Err(_)) => return Ok(fail("data.from is not an E.164 phone number")),
            None => None,
        };
        let variables: BTreeMap<String, String> = input
            .get("variables")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from)))
                    .collect()
            })
            .unwrap_or_default();
        let outbound = self
            .calls
            .prepare_outbound(
                call.org_id,
                OutboundRequest {
                    agent_id: text(input, "agentId").unwrap_or_default().to_string().into(),
                    to,
                    from,
                    variables,
                    metadata: json!({ "workflow": { "executionId": call.execution_id, "step": call.key } }),
                },
            )
            .await;
        let outbound = match outbound {
            Ok(o) => o.with_id(id),
            Err(CallError::Db(e)) => return Err(e),
            Err(e) => return Ok(fail(e.to_string())),
        };
        store::calls::insert(&self.db, outbound.row().clone()).await?;
        Ok(match self.calls.dial_outbound(outbound, seed).await {
            Ok(_) => EffectOutcome::Pending(poll),
            Err(e) => transient(format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )),
        })
    }

    async fn webhook(&self, call: &EffectCall<'_>) -> EffectOutcome {
        let input = call.input;
        let hook_id = text(input, "webhookId").unwrap_or_default();
        let hook = match store::webhooks::find(&self.db, call.org_id, hook_id).await {
            Ok(Some(h)) => h,
            Ok(None) => return fail(format!("webhook subscription '{hook_id}' not found")),
            Err(e) => return transient(e),
        };
        let secret = match open_secret(&self.crypto, &hook.secret).await {
            Ok(s) => s,
            Err(e) => return fail(format!("webhook {hook_id}'s secret cannot be opened: {e}")),
        };
        let url = text(input, "url").map_or_else(|| hook.url.clone(), String::from);
        let payload = json!({
            "type": "workflow.step",
            "timestamp": Utc::now().to_rfc3339(),
            "data": input.get("body").cloned().unwrap_or(Value::Null),
        })
        .to_string();
        let timeout = Duration::from_millis(self.settings.webhook_timeout_ms);
        let report = self
            .webhooks
            .send_signed(&url, &secret, call.key, payload, timeout)
            .await;
        use thruai_actors::webhook::state::Outcome;
        match report.outcome {
            Outcome::Response { status, .. } if (200..300).contains(&status) => {
                EffectOutcome::Done(json!({ "status": status, "body": report.body }))
            }
            Outcome::Response { status, .. } if status == 408 || status == 429 || status >= 500 => {
                transient(format!("the endpoint answered {status}"))
            }
            Outcome::Response { status, .. } => fail(format!("the endpoint answered {status}")),
            Outcome::Timeout => transient("the endpoint did not answer in time"),
            Outcome::Network(e) => transient(e),
            Outcome::Refused(e) => fail(e),
        }
    }
}
