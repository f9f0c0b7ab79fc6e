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
    let Some(mut held) = ports.claim(id, lease).await? else {
        return Ok(RunEnd::NotOurs);
    };
    let mut renewed = std::time::Instant::now();
    loop {
        // A run of many steps keeps its lease: renewed when a third of it has gone (each step
        // is bounded well under a lease), so no other process takes the execution meanwhile.
        if renewed.elapsed() >= lease / 3 {
            match ports.renew(id, held, lease).await? {
                Some(until) => held = until,
                None => return Ok(RunEnd::NotOurs),
            }
            renewed = std::time::Instant::now();
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::{graph::Graph, ports::*, state::ExecState, *};

    /// One execution in memory, its effects taking `effect` each.
    struct Fake {
        graph: Arc<graph::Compiled>,
        state: Mutex<ExecState>,
        effect: Duration,
        /// `(claims, renewals)`; renewals are refused once `lose_after` were granted.
        calls: Mutex<(u32, u32)>,
        lose_after: u32,
        effects: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl WorkflowPorts for Fake {
        async fn claim(&self, _: &str, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError> {
            self.calls.lock().unwrap().0 += 1;
            Ok(Some(Utc::now() + chrono::Duration::from_std(lease).unwrap()))
        }
        async fn renew(&self, _: &str, _: DateTime<Utc>, lease: Duration) -> Result<Option<DateTime<Utc>>, PortError> {
            let mut c = self.calls.lock().unwrap();
            if c.1 >= self.lose_after {
                return Ok(None);
            }
            c.1 += 1;
            Ok(Some(Utc::now() + chrono::Duration::from_std(lease).unwrap()))
        }
        async fn due(&self, _: u64) -> Result<Vec<String>, PortError> {
            Ok(Vec::new())
        }
        async fn load(&self, _: &str) -> Result<Option<Loaded>, PortError> {
            Ok(Some(Loaded {
                org_id: "ORG-1".into(),
                status: "running".into(),
                dry_run: false,
                state: self.state.lock().unwrap().clone(),
                graph: self.graph.clone(),
                open: None,
            }))
        }
        async fn begin(
            &self,
            _: &str,
            p: &state::Planned,
            input: &Value,
            _: &ExecState,
        ) -> Result<OpenStep, PortError> {
            Ok(OpenStep {
                id: p.key.clone(),
                seq: 0,
                node: p.node.clone(),
                attempt: 0,
                input: input.clone(),
                started_at: Utc::now(),
            })
        }
        async fn end(
            &self,
            _: &str,
            _: &OpenStep,
            _: Result<&Value, &str>,
            s: &ExecState,
            _: &Next,
        ) -> Result<(), PortError> {
            *self.state.lock().unwrap() = s.clone();
            Ok(())
        }
        async fn park(&self, _: &str, _: &OpenStep, _: DateTime<Utc>) -> Result<(), PortError> {
            Ok(())
        }
        async fn perform(&self, call: EffectCall<'_>) -> EffectOutcome {
            tokio::time::sleep(self.effect).await;
            self.effects.lock().unwrap().push(call.key.to_string());
            EffectOutcome::Done(json!({ "status": "sent" }))
        }
    }

    fn fake(lose_after: u32) -> Fake {
        let nodes = json!([
            {"id": "t", "type": "trigger"},
            {"id": "a", "type": "sms", "data": {"to": "+14155550100", "body": "1"}},
            {"id": "b", "type": "sms", "data": {"to": "+14155550100", "body": "2"}},
            {"id": "c", "type": "sms", "data": {"to": "+14155550100", "body": "3"}}
        ]);
        let edges =
            json!([{"source": "t", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "c"}]);
        let graph = Arc::new(Graph::from_draft(&nodes, &edges).unwrap().compile().unwrap());
        let state = ExecState::start(&graph, "EXE-1", json!({}), json!({}));
        Fake {
            graph,
            state: Mutex::new(state),
            effect: Duration::from_millis(60),
            calls: Mutex::new((0, 0)),
            lose_after,
            effects: Mutex::new(Vec::new()),
        }
    }

    #[actix_rt::test]
    async fn a_long_run_renews_its_lease_and_stops_when_it_is_lost() {
        // Three effects of 60 ms under a 150 ms lease: renewed every 50 ms.
        let f = fake(u32::MAX);
        assert_eq!(
            run("EXE-1", &f, Duration::from_millis(150)).await.unwrap(),
            RunEnd::Finished
        );
        assert_eq!(f.effects.lock().unwrap().len(), 3);
        let (claims, renewals) = *f.calls.lock().unwrap();
        assert_eq!(claims, 1);
        assert!(renewals >= 2, "{renewals} renewals");

        // The lease lost after one renewal: the run stops before its next step.
        let f = fake(1);
        assert_eq!(
            run("EXE-1", &f, Duration::from_millis(150)).await.unwrap(),
            RunEnd::NotOurs
        );
        assert!(f.effects.lock().unwrap().len() < 3);
    }
}
