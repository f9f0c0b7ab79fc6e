//! `WorkflowActor` runs one execution of a published workflow version: it takes the
//! execution's lease, replays the journal's open step (its recorded settings, its effect's
//! key), then runs step after step — the journal written before and after each effect —
//! until the execution ends or waits (a timer, a retry, a call under way). A waiting
//! execution holds no actor: its row's `wake_at` brings it back through the supervisor.

pub mod expr;
pub mod graph;
pub mod messages;
pub mod ports;
pub mod state;
pub mod supervisor;

use std::{sync::Arc, time::Duration};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use self::{
    messages::Stopped,
    ports::{EffectCall, EffectOutcome, Loaded, OpenStep, PortError, WorkflowPorts},
    state::{Action, Next},
};

/// How a run of the actor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Finished,
    Waiting,
    /// Finished already, or another process holds it.
    NotOurs,
}

pub struct WorkflowActor {
    id: String,
    ports: Arc<dyn WorkflowPorts>,
    lease: Duration,
    report: Recipient<Stopped>,
}

impl WorkflowActor {
    pub fn new(id: String, ports: Arc<dyn WorkflowPorts>, lease: Duration, report: Recipient<Stopped>) -> Self {
        Self {
            id,
            ports,
            lease,
            report,
        }
    }
}

impl Actor for WorkflowActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let (id, ports, lease) = (self.id.clone(), self.ports.clone(), self.lease);
        ctx.spawn(
            async move {
                match run(&id, ports.as_ref(), lease).await {
                    Ok(end) => tracing::debug!(execution = %id, ?end, "workflow run ended"),
                    // The lease expires and the execution is taken up again.
                    Err(e) => tracing::warn!(execution = %id, error = %e, "workflow run interrupted"),
                }
            }
            .into_actor(self)
            .map(|(), _, ctx| ctx.stop()),
        );
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.report.do_send(Stopped(self.id.clone()));
    }
}

/// The deadline of a wait step, as recorded in its journal row.
fn until_of(input: &Value, fallback: DateTime<Utc>) -> DateTime<Utc> {
    input
        .get("until")
        .and_then(Value::as_str)
        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .map_or(fallback, |d| d.with_timezone(&Utc))
}

/// Runs the execution until it ends or waits.
///
/// # Errors
/// When the store fails: nothing more is done, and the lease's expiry resumes it.
pub async fn run(id: &str, ports: &dyn WorkflowPorts, lease: Duration) -> Result<RunEnd, PortError> {
    if !ports.claim(id, lease).await? {
        return Ok(RunEnd::NotOurs);
    }
    loop {
        let Some(Loaded {
            org_id,
            status,
            dry_run,
            mut state,
            graph,
            open,
        }) = ports.load(id).await?
        else {
            return Ok(RunEnd::NotOurs);
        };
        if matches!(status.as_str(), "succeeded" | "failed" | "canceled") {
            return Ok(RunEnd::NotOurs);
        }
        let now = Utc::now();
        let Some(planned) = state.plan(&graph, now) else {
            let next = Next::Finished {
                failed: true,
                error: Some("the execution's node is not in its version".into()),
            };
            let step = open.unwrap_or(OpenStep {
                id: String::new(),
                seq: -1,
                node: String::new(),
                attempt: 0,
                input: Value::Null,
                started_at: now,
            });
            ports.end(id, &step, Err("unknown node"), &state, &next).await?;
            return Ok(RunEnd::Finished);
        };
        // The open step replays with the settings it recorded; a new one records its own.
        let step = match open.filter(|o| o.node == planned.node && o.attempt == state.attempt) {
            Some(open) => open,
            None => {
                let input = match &planned.action {
                    Action::Local(_) => json!({}),
                    Action::Effect(input) => input.clone(),
                    Action::Wait(until) => json!({ "until": until.to_rfc3339() }),
                };
                ports.begin(id, &planned, &input, &state).await?
            }
        };
        let (result, next) = match &planned.action {
            Action::Local(output) => {
                let next = state.complete(&graph, output.clone());
                (Ok(output.clone()), next)
            }
            Action::Wait(planned_until) => {
                let until = until_of(&step.input, *planned_until);
                if Utc::now() < until {
                    ports.park(id, &step, until).await?;
                    return Ok(RunEnd::Waiting);
                }
                let output = json!({ "until": until.to_rfc3339() });
                let next = state.complete(&graph, output.clone());
                (Ok(output), next)
            }
            Action::Effect(_) => {
                ports.failpoint("workflow_abort_after_intent", planned.kind);
                let outcome = ports
                    .perform(EffectCall {
                        org_id: &org_id,
                        execution_id: id,
                        kind: planned.kind,
                        key: &planned.key,
                        attempt: step.attempt,
                        input: &step.input,
                        started_at: step.started_at,
                        dry_run,
                    })
                    .await;
                ports.failpoint("workflow_abort_after_effect", planned.kind);
                match outcome {
                    EffectOutcome::Pending(at) => {
                        ports.park(id, &step, at).await?;
                        return Ok(RunEnd::Waiting);
                    }
                    EffectOutcome::Done(output) => {
                        let next = state.complete(&graph, output.clone());
                        (Ok(output), next)
                    }
                    EffectOutcome::Failed { error, retryable } => {
                        let next = state.fail(&graph, &error, retryable, Utc::now());
                        (Err(error), next)
                    }
                }
            }
        };
        ports
            .end(id, &step, result.as_ref().map_err(String::as_str), &state, &next)
            .await?;
        match next {
            Next::Run => {}
            Next::RetryAt(_) => return Ok(RunEnd::Waiting),
            Next::Finished { .. } => return Ok(RunEnd::Finished),
        }
    }
}
