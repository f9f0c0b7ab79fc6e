//! A dry run: the graph walked by the same state machine with simulated effects — no call
//! placed, no message sent, no timer waited — so a graph can be tried before publication.

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use thruai_actors::workflow::{
    graph::Compiled,
    state::{Action, ExecState, Next},
};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DryStep {
    pub node_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The step's settings as they would be sent (templates filled).
    pub input: Value,
    pub output: Value,
    pub simulated: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DryRun {
    /// `succeeded` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub path: Vec<String>,
    pub steps: Vec<DryStep>,
    pub variables: serde_json::Map<String, Value>,
}

/// What a simulated effect answers unless `simulate` says otherwise.
fn simulated(kind: &str) -> Value {
    match kind {
        "call" => json!({ "status": "completed", "outcome": "completed", "simulated": true }),
        "webhook" => json!({ "status": 200, "simulated": true }),
        // A branch's prompt conditions: all answered no unless `simulate` says otherwise.
        "branch" => json!({ "judged": {}, "simulated": true }),
        // A wait for an event: as if it came.
        "wait" => json!({ "timedOut": false, "payload": {}, "simulated": true }),
        _ => json!({ "status": "sent", "simulated": true }),
    }
}

pub fn walk(graph: &Compiled, input: Value, simulate: &Value) -> DryRun {
    let mut state = ExecState::start(graph, "EXE-DRYRUN", input, json!({ "type": "dry_run" }));
    let mut steps = Vec::new();
    let (failed, error) = loop {
        let Some(p) = state.plan(graph, Utc::now()) else {
            break (true, Some("the execution's node is not in the graph".into()));
        };
        let (input, output, is_sim) = match p.action {
            Action::Local(out) => (json!({}), out, false),
            Action::Wait(until) => (
                json!({ "until": until.to_rfc3339() }),
                json!({ "until": until.to_rfc3339() }),
                true,
            ),
            Action::Effect(settings) => (
                settings,
                simulate.get(&p.node).cloned().unwrap_or_else(|| simulated(p.kind)),
                true,
            ),
        };
        steps.push(DryStep {
            node_id: p.node.clone(),
            kind: p.kind.to_string(),
            input,
            output: output.clone(),
            simulated: is_sim,
        });
        let next = match output.get("error").and_then(Value::as_str) {
            Some(e) if is_sim => state.fail(graph, e, false, Utc::now()),
            _ => state.complete(graph, output),
        };
        match next {
            Next::Run => {}
            Next::RetryAt(_) => break (true, Some("a simulated failure was retried".into())),
            Next::Finished { failed, error } => break (failed, error),
        }
    };
    DryRun {
        status: if failed { "failed" } else { "succeeded" }.into(),
        error,
        path: state.path,
        steps,
        variables: state.vars,
    }
}
