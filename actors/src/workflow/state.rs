//! The execution's pure state machine: where it is, what it knows, and what happens when a
//! step ends. The actor performs what [`ExecState::plan`] asks and feeds the outcome back
//! through [`ExecState::complete`] or [`ExecState::fail`]; it never decides anything itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    expr::{render, render_value},
    graph::{Compiled, Condition, MAX_STEPS, Step, WaitFor},
};

/// Longest pause between two attempts of a failing step.
const MAX_BACKOFF_SECS: f64 = 100.0;

/// What an execution knows, persisted after every step.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ExecState {
    pub execution_id: String,
    /// The node to run next (`None`: finished).
    pub node: Option<String>,
    /// How often each node was entered.
    pub visits: BTreeMap<String, u32>,
    /// Attempts made at the current node.
    pub attempt: u32,
    pub input: Value,
    pub trigger: Value,
    pub vars: Map<String, Value>,
    /// Each node's last output.
    pub steps: Map<String, Value>,
    /// Nodes entered, in order.
    pub path: Vec<String>,
}

/// What the current node asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub node: String,
    pub kind: &'static str,
    pub visit: u32,
    /// `<executionId>:<node>:<visit>`, carried to every external effect of the step.
    pub key: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Decided here, no effect: the output to record.
    Local(Value),
    /// An effect through the ports, with its rendered settings (recorded in the journal
    /// before it happens, and read back from there after a restart).
    Effect(Value),
    /// A timer.
    Wait(DateTime<Utc>),
}

/// Where the execution goes after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Run the (new) current node.
    Run,
    /// Try the current node again at this time.
    RetryAt(DateTime<Utc>),
    Finished {
        failed: bool,
        error: Option<String>,
    },
}

impl ExecState {
    /// A new execution at its trigger, the input's fields as its first variables.
    pub fn start(graph: &Compiled, execution_id: &str, input: Value, trigger: Value) -> Self {
        let vars = input.as_object().cloned().unwrap_or_default();
        let mut s = Self {
            execution_id: execution_id.to_string(),
            input,
            trigger,
            vars,
            ..Self::default()
        };
        s.enter(&graph.trigger_node);
        s
    }

    fn enter(&mut self, node: &str) {
        *self.visits.entry(node.to_string()).or_default() += 1;
        self.node = Some(node.to_string());
        self.attempt = 0;
        self.path.push(node.to_string());
    }

    /// The context templates and conditions read.
    pub fn context(&self) -> Value {
        json!({
            "input": self.input,
            "trigger": self.trigger,
            "vars": self.vars,
            "steps": self.steps,
            "execution": { "id": self.execution_id },
        })
    }

    /// What the current node asks for (`None`: finished, or a node the graph lacks).
    pub fn plan(&self, graph: &Compiled, now: DateTime<Utc>) -> Option<Planned> {
        let node = self.node.clone()?;
        let (step, _) = graph.step(&node)?;
        let visit = self.visits.get(&node).copied().unwrap_or(1);
        let ctx = self.context();
        let action = match step {
            Step::Trigger(_) => Action::Local(json!({ "input": self.input, "trigger": self.trigger })),
            Step::Branch { agent_id } => {
                let questions: Vec<&str> = graph
                    .routes
                    .get(&node)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| match &r.condition {
                        Condition::Prompt(q) => Some(q.as_str()),
                        _ => None,
                    })
                    .collect();
                if questions.is_empty() {
                    Action::Local(json!({}))
                } else {
                    Action::Effect(json!({
                        "agentId": agent_id.as_deref().map(|a| render(a, &ctx)),
                        "questions": questions,
                        "context": { "input": self.input, "vars": self.vars, "steps": self.steps },
                    }))
                }
            }
            Step::Set(values) => Action::Local(render_value(&Value::Object(values.clone()), &ctx)),
            Step::End { failed, reason } => Action::Local(json!({
                "status": if *failed { "failed" } else { "succeeded" },
                "reason": reason.as_deref().map(|r| render(r, &ctx)),
            })),
            Step::Wait(WaitFor::Seconds(s)) => Action::Wait(now + Duration::milliseconds((s * 1000.0) as i64)),
            Step::Wait(WaitFor::Event {
                event,
                matches,
                timeout_secs,
            }) => Action::Effect(json!({
                "event": event,
                "match": render_value(&Value::Object(matches.clone()), &ctx),
                "timeoutSeconds": timeout_secs,
            })),
            Step::Wait(WaitFor::Until(t)) => Action::Wait(
                DateTime::parse_from_rfc3339(render(t, &ctx).trim()).map_or(now, |d| d.with_timezone(&Utc)),
            ),
            Step::Call {
                agent_id,
                to,
                from,
                variables,
                timeout_secs,
            } => Action::Effect(json!({
                "agentId": render(agent_id, &ctx),
                "to": render(to, &ctx),
                "from": from.as_deref().map(|f| render(f, &ctx)),
                "variables": render_value(&Value::Object(variables.clone()), &ctx),
                "timeoutSeconds": timeout_secs,
            })),
            Step::Sms { to, body, from } => Action::Effect(json!({
                "to": render(to, &ctx),
                "body": render(body, &ctx),
                "from": from.as_deref().map(|f| render(f, &ctx)),
            })),
            Step::Email {
                to,
                subject,
                text,
                html,
                agent_id,
                from,
            } => Action::Effect(json!({
                "to": render_value(to, &ctx),
                "subject": render(subject, &ctx),
                "text": text.as_deref().map(|t| render(t, &ctx)),
                "html": html.as_deref().map(|t| render(t, &ctx)),
                "agentId": agent_id.as_deref().map(|a| render(a, &ctx)),
                "from": from.as_deref().map(|f| render(f, &ctx)),
            })),
            Step::Webhook { url, webhook_id, body } => Action::Effect(json!({
                "url": url.as_deref().map(|u| render(u, &ctx)),
                "webhookId": render(webhook_id, &ctx),
                "body": body.as_ref().map_or_else(
                    || json!({ "executionId": self.execution_id, "node": node, "variables": self.vars, "input": self.input }),
                    |b| render_value(b, &ctx),
                ),
            })),
        };
        Some(Planned {
            key: format!("{}:{node}:{visit}", self.execution_id),
            kind: step.kind(),
            node,
            visit,
            action,
        })
    }

    /// The current node ended with `output`: record it and follow the first route whose
    /// condition holds (else the first unconditional one; none: the execution is done).
    pub fn complete(&mut self, graph: &Compiled, output: Value) -> Next {
        let Some(node) = self.node.clone() else {
            return Next::Finished {
                failed: false,
                error: None,
            };
        };
        match graph.step(&node) {
            Some((Step::Set(_), _)) => {
                if let Value::Object(m) = &output {
                    self.vars.extend(m.clone());
                }
            }
            Some((Step::End { failed, reason }, _)) => {
                self.steps.insert(node, output);
                self.node = None;
                return Next::Finished {
                    failed: *failed,
                    error: failed.then(|| reason.clone().unwrap_or_else(|| "ended by an end node".into())),
                };
            }
            _ => {}
        }
        let judged = output.get("judged").cloned();
        self.steps.insert(node.clone(), output);
        let mut ctx = self.context();
        if let Some(j) = judged {
            ctx["judged"] = j;
        }
        let routes = graph.routes.get(&node).map(Vec::as_slice).unwrap_or_default();
        let next = routes
            .iter()
            .find(|r| r.condition.holds(&ctx))
            .or_else(|| routes.iter().find(|r| r.condition == super::graph::Condition::Else));
        match next {
            None => {
                self.node = None;
                Next::Finished {
                    failed: false,
                    error: None,
                }
            }
            Some(_) if self.path.len() as u32 >= MAX_STEPS => {
                self.node = None;
                Next::Finished {
                    failed: true,
                    error: Some(format!("stopped after {MAX_STEPS} steps")),
                }
            }
            Some(r) => {
                let target = r.target.clone();
                self.enter(&target);
                Next::Run
            }
        }
    }

    /// The current node's attempt failed: try again after a backoff while attempts remain
    /// (and the failure is retryable), else go on with `{error}` as its output when the node
    /// continues on error, else the execution fails.
    pub fn fail(&mut self, graph: &Compiled, error: &str, retryable: bool, now: DateTime<Utc>) -> Next {
        let Some(node) = self.node.clone() else {
            return Next::Finished {
                failed: true,
                error: Some(error.to_string()),
            };
        };
        let policy = graph.step(&node).map(|(_, p)| *p);
        self.attempt += 1;
        let Some(policy) = policy else {
            self.node = None;
            return Next::Finished {
                failed: true,
                error: Some(error.to_string()),
            };
        };
        if retryable && self.attempt < policy.max_attempts {
            let secs = (policy.initial_secs * 2f64.powi(self.attempt as i32 - 1))
                .min(MAX_BACKOFF_SECS.max(policy.initial_secs));
            return Next::RetryAt(now + Duration::milliseconds((secs * 1000.0) as i64));
        }
        if policy.continue_on_error {
            return self.complete(graph, json!({ "error": error, "attempts": self.attempt }));
        }
        self.steps
            .insert(node.clone(), json!({ "error": error, "attempts": self.attempt }));
        self.node = None;
        Next::Finished {
            failed: true,
            error: Some(format!("step '{node}' failed: {error}")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::workflow::graph::Graph;

    fn compile(nodes: Value, edges: Value) -> Compiled {
        Graph::from_draft(&nodes, &edges).unwrap().compile().unwrap()
    }

    fn problems(nodes: Value, edges: Value) -> Vec<String> {
        Graph::from_draft(&nodes, &edges)
            .unwrap()
            .compile()
            .unwrap_err()
            .into_iter()
            .map(|p| format!("{}:{}", p.node_id.unwrap_or_default(), p.field))
            .collect()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-07T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Runs locally decided steps, answering effects from `answers` by node id.
    fn run(graph: &Compiled, input: Value, answers: &Value) -> (ExecState, Next) {
        let mut s = ExecState::start(graph, "EXE-1", input, json!({"type": "manual"}));
        loop {
            let p = s.plan(graph, now()).unwrap();
            let next = match p.action {
                Action::Local(out) => s.complete(graph, out),
                Action::Wait(_) => s.complete(graph, json!({})),
                Action::Effect(_) => match answers.get(&p.node) {
                    Some(Value::String(err)) => s.fail(graph, err, false, now()),
                    Some(out) => s.complete(graph, out.clone()),
                    None => s.complete(graph, json!({"ok": true})),
                },
            };
            if next != Next::Run {
                return (s, next);
            }
        }
    }

    #[test]
    fn a_lone_trigger_completes_at_once() {
        let g = compile(json!([{"id": "t", "type": "trigger"}]), json!([]));
        let (s, next) = run(&g, json!({}), &json!({}));
        assert_eq!(
            next,
            Next::Finished {
                failed: false,
                error: None
            }
        );
        assert_eq!(s.path, vec!["t"]);
    }

    #[test]
    fn a_branch_follows_the_call_outcome_and_else() {
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "call", "type": "call", "data": {"agentId": "AGT-1", "to": "{{phone}}"}},
                {"id": "b", "type": "branch"},
                {"id": "thanks", "type": "sms", "data": {"to": "{{phone}}", "body": "Thanks {{name}}"}},
                {"id": "retry", "type": "email", "data": {"to": "{{email}}", "subject": "Missed you", "text": "Hi"}},
            ]),
            json!([
                {"source": "t", "target": "call"},
                {"from": "call", "to": "b"},
                {"source": "b", "target": "thanks", "condition": {"type": "equation", "equations": [{"left": "steps.call.status", "operator": "==", "right": "completed"}]}},
                {"source": "b", "target": "retry"},
            ]),
        );
        let input = json!({"phone": "+14155550100", "name": "Ada", "email": "a@example.com"});
        let (s, _) = run(&g, input.clone(), &json!({"call": {"status": "completed"}}));
        assert_eq!(s.path, vec!["t", "call", "b", "thanks"]);
        let (s, _) = run(&g, input.clone(), &json!({"call": {"status": "no-answer"}}));
        assert_eq!(s.path, vec!["t", "call", "b", "retry"]);

        // The rendered effect carries the variables.
        let mut s = ExecState::start(&g, "EXE-9", input, Value::Null);
        s.complete(&g, json!({}));
        let p = s.plan(&g, now()).unwrap();
        assert_eq!(p.key, "EXE-9:call:1");
        assert_eq!(
            p.action,
            Action::Effect(
                json!({"agentId": "AGT-1", "to": "+14155550100", "from": null, "variables": {}, "timeoutSeconds": 7200})
            )
        );
    }

    #[test]
    fn set_variables_feed_later_conditions_and_numbers_compare_as_numbers() {
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "s", "type": "set", "data": {"variables": {"score": "{{input.score}}", "label": "x{{input.score}}"}}},
                {"id": "hi", "type": "end", "data": {"status": "succeeded"}},
                {"id": "lo", "type": "end", "data": {"status": "failed", "reason": "low score"}},
            ]),
            json!([
                {"source": "t", "target": "s"},
                {"source": "s", "target": "hi", "condition": {"left": "{{score}}", "operator": ">=", "right": "10"}},
                {"source": "s", "target": "lo", "condition": "else"},
            ]),
        );
        let (s, next) = run(&g, json!({"score": 9}), &json!({}));
        assert_eq!(
            next,
            Next::Finished {
                failed: true,
                error: Some("low score".into())
            }
        );
        assert_eq!(s.vars["score"], json!(9));
        assert_eq!(s.vars["label"], json!("x9"));
        let (_, next) = run(&g, json!({"score": 10}), &json!({}));
        assert_eq!(
            next,
            Next::Finished {
                failed: false,
                error: None
            }
        );
    }

    #[test]
    fn failures_retry_with_backoff_then_fail_or_continue() {
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "w", "type": "webhook", "data": {"webhookId": "WHK-1", "retry": {"maxAttempts": 3, "initialIntervalSeconds": 2}}},
            ]),
            json!([{"source": "t", "target": "w"}]),
        );
        let mut s = ExecState::start(&g, "EXE-1", json!({}), Value::Null);
        s.complete(&g, json!({}));
        assert_eq!(
            s.fail(&g, "503", true, now()),
            Next::RetryAt(now() + Duration::seconds(2))
        );
        assert_eq!(
            s.fail(&g, "503", true, now()),
            Next::RetryAt(now() + Duration::seconds(4))
        );
        assert!(matches!(
            s.fail(&g, "503", true, now()),
            Next::Finished { failed: true, .. }
        ));

        // A non-retryable failure ends at once; continueOnError goes on with the error.
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "w", "type": "sms", "data": {"to": "+14155550100", "body": "x", "continueOnError": true}},
                {"id": "after", "type": "end"},
            ]),
            json!([{"source": "t", "target": "w"}, {"source": "w", "target": "after"}]),
        );
        let mut s = ExecState::start(&g, "EXE-1", json!({}), Value::Null);
        s.complete(&g, json!({}));
        assert_eq!(s.fail(&g, "opted out", false, now()), Next::Run);
        assert_eq!(s.node.as_deref(), Some("after"));
        assert_eq!(s.steps["w"]["error"], json!("opted out"));
    }

    #[test]
    fn waits_fix_their_deadline_and_loops_through_them_are_bounded() {
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "w", "type": "wait", "data": {"duration": "5m"}},
                {"id": "poll", "type": "branch"},
            ]),
            json!([{"source": "t", "target": "w"}, {"source": "w", "target": "poll"}, {"source": "poll", "target": "w"}]),
        );
        let mut s = ExecState::start(&g, "EXE-1", json!({}), Value::Null);
        s.complete(&g, json!({}));
        assert_eq!(
            s.plan(&g, now()).unwrap().action,
            Action::Wait(now() + Duration::minutes(5))
        );
        let (s, next) = run(&g, json!({}), &json!({}));
        assert!(matches!(next, Next::Finished { failed: true, .. }), "{next:?}");
        assert_eq!(s.path.len() as u32, MAX_STEPS);
    }

    #[test]
    fn publication_names_the_node_and_field_at_fault() {
        assert_eq!(problems(json!([]), json!([])), vec![":nodes"]);
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "c", "type": "call", "data": {}}]),
                json!([{"source": "t", "target": "c"}])
            ),
            vec!["c:data.agentId", "c:data.to"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "x", "type": "teleport"}]),
                json!([])
            ),
            vec!["x:type"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "lost", "type": "branch"}]),
                json!([])
            ),
            vec!["lost:id"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "a", "type": "branch"}, {"id": "b", "type": "branch"}]),
                json!([{"source": "t", "target": "a"}, {"source": "a", "target": "b"}, {"source": "b", "target": "a"}])
            ),
            vec!["a:edges"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "t2", "type": "trigger"}]),
                json!([])
            ),
            vec!["t2:type"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}]),
                json!([{"source": "t", "target": "nowhere"}])
            ),
            vec![":edges[0].target"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "b", "type": "branch"}]),
                json!([{"source": "t", "target": "b", "condition": {"type": "prompt", "prompt": "did they agree?"}}])
            ),
            vec![":edges[0].condition"]
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger", "data": {"type": "event"}}]),
                json!([])
            ),
            vec!["t:data.event"]
        );
    }

    #[test]
    fn event_triggers_compile_with_their_filter() {
        let g = compile(
            json!([{"id": "t", "type": "trigger", "data": {"event": "call.completed", "filter": {"left": "trigger.payload.agentId", "operator": "==", "right": "AGT-1"}}}]),
            json!([]),
        );
        assert_eq!(g.trigger_event(), Some("call.completed"));
    }

    #[test]
    fn a_wait_for_an_event_is_an_effect_with_its_match_rendered() {
        let g = compile(
            json!([
                {"id": "t", "type": "trigger"},
                {"id": "w", "type": "wait", "data": {"event": "call.completed", "match": {"callId": "{{input.call}}"}, "timeoutSeconds": 90}}
            ]),
            json!([{"source": "t", "target": "w"}]),
        );
        let mut s = ExecState::start(&g, "EXE-1", json!({"call": "CAL-9"}), json!({}));
        let p = s.plan(&g, now()).unwrap();
        s.complete(
            &g,
            match p.action {
                Action::Local(out) => out,
                other => panic!("{other:?}"),
            },
        );
        let p = s.plan(&g, now()).unwrap();
        assert_eq!(p.kind, "wait");
        assert_eq!(
            p.action,
            Action::Effect(json!({"event": "call.completed", "match": {"callId": "CAL-9"}, "timeoutSeconds": 90}))
        );
        assert_eq!(
            problems(
                json!([{"id": "t", "type": "trigger"}, {"id": "w", "type": "wait", "data": {"event": "call.completed", "match": "CAL-9"}}]),
                json!([{"source": "t", "target": "w"}])
            ),
            vec!["w:data.match"]
        );
    }
}
