//! A workflow's graph: nodes `{id, type, data, position?}` and edges `{id?, source, target,
//! condition?}` as graph editors export them (`from`/`to` accepted), compiled at publication
//! into typed steps and routes. Drafts may be anything; [`Graph::compile`] says, node by node
//! and field by field, what keeps one from being published.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Steps one execution may take before it is stopped (a loop through a wait still ends).
pub const MAX_STEPS: u32 = 1_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Node {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Edge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(alias = "from")]
    pub source: String,
    #[serde(alias = "to")]
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

/// The frozen graph of a published version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Why a graph cannot be published: the node and field at fault.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    pub field: String,
    pub message: String,
}

impl Problem {
    fn at(node: &str, field: &str, message: impl Into<String>) -> Self {
        Self {
            node_id: Some(node.to_string()),
            field: field.to_string(),
            message: message.into(),
        }
    }

    fn graph(field: &str, message: impl Into<String>) -> Self {
        Self {
            node_id: None,
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// What starts executions of a published version.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// `POST /workflows/:id/trigger` only.
    Manual,
    /// Each matching event of the organisation (`call.completed`, …), once.
    Event { event: String, filter: Option<Condition> },
    /// Every `every_secs` seconds.
    Schedule { every_secs: u64 },
}

/// One node's work.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Trigger(Trigger),
    Call {
        agent_id: String,
        to: String,
        from: Option<String>,
        variables: Map<String, Value>,
        timeout_secs: u64,
    },
    Sms {
        to: String,
        body: String,
        from: Option<String>,
    },
    Email {
        to: Value,
        subject: String,
        text: Option<String>,
        html: Option<String>,
        agent_id: Option<String>,
        from: Option<String>,
    },
    /// Signed with the secret of one of the organisation's webhook subscriptions (sealed at
    /// rest), sent to its URL unless `url` says otherwise.
    Webhook {
        url: Option<String>,
        webhook_id: String,
        body: Option<Value>,
    },
    /// Follows the first outgoing edge whose condition holds; LLM-judged conditions are
    /// asked of the model of `agent_id` (the branch's effect).
    Branch {
        agent_id: Option<String>,
    },
    Wait(WaitFor),
    Set(Map<String, Value>),
    End {
        failed: bool,
        reason: Option<String>,
    },
}

impl Step {
    /// The node type's canonical name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Trigger(_) => "trigger",
            Self::Call { .. } => "call",
            Self::Sms { .. } => "sms",
            Self::Email { .. } => "email",
            Self::Webhook { .. } => "webhook",
            Self::Branch { .. } => "branch",
            Self::Wait(_) => "wait",
            Self::Set(_) => "set",
            Self::End { .. } => "end",
        }
    }
}

/// How long a `wait` node waits.
#[derive(Debug, Clone, PartialEq)]
pub enum WaitFor {
    Seconds(f64),
    /// An RFC 3339 instant, or a `{{template}}` giving one.
    Until(String),
    /// The organisation's next event of this type (`call.completed`, …) whose payload has
    /// every field of `matches` (dotted paths; values may be templates), or `timeout_secs`
    /// (its output then says `timedOut: true`).
    Event {
        event: String,
        matches: Map<String, Value>,
        timeout_secs: u64,
    },
}

/// Retries of a failing step (Temporal's defaults: 1 s, doubling, capped at 100×).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub max_attempts: u32,
    pub initial_secs: f64,
    pub continue_on_error: bool,
}

/// When an edge is taken.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// No condition: taken when no conditional edge of the node holds.
    Else,
    All(Vec<Equation>),
    Any(Vec<Equation>),
    /// Judged by a language model (a question answered yes or no): on a branch node's
    /// edges, asked when the branch runs.
    Prompt(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    pub left: String,
    pub op: Op,
    pub right: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Contains,
    NotContains,
    Exists,
    NotExists,
}

impl Op {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "==" | "=" | "eq" | "equals" => Self::Eq,
            "!=" | "ne" | "not_equals" => Self::Ne,
            ">" | "gt" => Self::Gt,
            ">=" | "gte" => Self::Ge,
            "<" | "lt" => Self::Lt,
            "<=" | "lte" => Self::Le,
            "contains" => Self::Contains,
            "not_contains" => Self::NotContains,
            "exists" => Self::Exists,
            "not_exist" | "not_exists" => Self::NotExists,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub target: String,
    pub condition: Condition,
}

/// A graph ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub trigger_node: String,
    pub trigger: Trigger,
    pub steps: BTreeMap<String, (Step, Policy)>,
    pub routes: BTreeMap<String, Vec<Route>>,
}

impl Compiled {
    pub fn step(&self, node: &str) -> Option<&(Step, Policy)> {
        self.steps.get(node)
    }

    /// The event that starts executions, if the trigger is one.
    pub fn trigger_event(&self) -> Option<&str> {
        match &self.trigger {
            Trigger::Event { event, .. } => Some(event),
            _ => None,
        }
    }

    /// What this graph names that must exist for it to run: `(kind, node, id)` with kind
    /// `agent`, `number`, `webhook` or `domain` (an e-mail sender, whose domain must be the
    /// organisation's; literal values only, templates are checked when run) or `event` (an
    /// event the platform emits).
    pub fn references(&self) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        let literal = |s: &str| !s.contains("{{");
        for (node, (step, _)) in &self.steps {
            match step {
                Step::Call { agent_id, from, .. } => {
                    if literal(agent_id) {
                        out.push(("agent", node.clone(), agent_id.clone()));
                    }
                    if let Some(f) = from.as_deref().filter(|f| literal(f)) {
                        out.push(("number", node.clone(), f.to_string()));
                    }
                }
                Step::Sms { from: Some(f), .. } if literal(f) => out.push(("number", node.clone(), f.clone())),
                Step::Email { agent_id, from, .. } => {
                    if let Some(a) = agent_id.as_deref().filter(|a| literal(a)) {
                        out.push(("agent", node.clone(), a.to_string()));
                    }
                    if let Some(f) = from.as_deref().filter(|f| literal(f)) {
                        out.push(("domain", node.clone(), f.to_string()));
                    }
                }
                Step::Branch { agent_id: Some(a) } if literal(a) => out.push(("agent", node.clone(), a.clone())),
                Step::Webhook { webhook_id, .. } if literal(webhook_id) => {
                    out.push(("webhook", node.clone(), webhook_id.clone()));
                }
                Step::Trigger(Trigger::Event { event, .. }) | Step::Wait(WaitFor::Event { event, .. }) => {
                    out.push(("event", node.clone(), event.clone()));
                }
                _ => {}
            }
        }
        out
    }
}

fn text(data: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| data.get(*k))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn number(data: &Value, key: &str) -> Option<f64> {
    match data.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `"30s"`, `"5m"`, `"2h"`, `"1d"` or a number of seconds.
fn duration_secs(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
            let n: f64 = num.trim().parse().ok()?;
            let scale = match unit.trim() {
                "" | "s" | "sec" | "secs" | "seconds" => 1.0,
                "m" | "min" | "mins" | "minutes" => 60.0,
                "h" | "hour" | "hours" => 3600.0,
                "d" | "day" | "days" => 86_400.0,
                _ => return None,
            };
            Some(n * scale)
        }
        _ => None,
    }
}

/// Parses an edge's condition (`null` → [`Condition::Else`]).
///
/// Accepted: `"else"`/`"always"`; `{type: "equation", equations: [{left, operator, right}],
/// operator: "&&"|"||"}` (Retell's shape); a single `{left, operator, right}`.
///
/// # Errors
/// The message says what is wrong.
pub fn parse_condition(v: Option<&Value>) -> Result<Condition, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Condition::Else);
    };
    if let Some(s) = v.as_str() {
        return match s.trim().to_ascii_lowercase().as_str() {
            "" | "else" | "always" => Ok(Condition::Else),
            other => Err(format!(
                "'{other}' is not a condition: use \"else\" or {{\"type\": \"equation\", \"equations\": [...]}}"
            )),
        };
    }
    let Some(obj) = v.as_object() else {
        return Err("must be an object, \"else\" or null".into());
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("prompt" | "ai") => {
            return obj
                .get("prompt")
                .or_else(|| obj.get("question"))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|p| !p.is_empty() && p.len() <= 2_000)
                .map(|p| Condition::Prompt(p.to_string()))
                .ok_or_else(|| "a prompt condition asks a yes/no question: {\"type\": \"prompt\", \"prompt\": \"Did the caller agree?\"} (at most 2000 characters)".into());
        }
        Some("else" | "always") => return Ok(Condition::Else),
        Some("equation") | None => {}
        Some(other) => return Err(format!("unknown condition type '{other}' (equation, prompt, else)")),
    }
    let items: Vec<&Value> = match obj.get("equations") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return Err("equations must be an array".into()),
        None => vec![v],
    };
    if items.is_empty() {
        return Err("equations must not be empty".into());
    }
    let mut equations = Vec::with_capacity(items.len());
    for (i, e) in items.into_iter().enumerate() {
        let left = e
            .get("left")
            .and_then(Value::as_str)
            .map(|l| {
                l.trim()
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim()
                    .to_string()
            })
            .filter(|l| !l.is_empty())
            .ok_or_else(|| format!("equations[{i}].left is required (a variable path such as steps.call.outcome)"))?;
        let op_text = e.get("operator").and_then(Value::as_str).unwrap_or("==");
        let op = Op::parse(op_text).ok_or_else(|| {
            format!("equations[{i}].operator '{op_text}' is not one of == != > >= < <= contains not_contains exists not_exist")
        })?;
        equations.push(Equation {
            left,
            op,
            right: e.get("right").cloned().unwrap_or(Value::Null),
        });
    }
    Ok(match obj.get("operator").and_then(Value::as_str).map(str::trim) {
        Some("||" | "or") => Condition::Any(equations),
        _ => Condition::All(equations),
    })
}

fn policy(data: &Value, default_attempts: u32) -> Policy {
    let retry = data.get("retry");
    Policy {
        max_attempts: retry
            .and_then(|r| number(r, "maxAttempts"))
            .map_or(default_attempts, |n| n.clamp(1.0, 20.0) as u32),
        initial_secs: retry
            .and_then(|r| number(r, "initialIntervalSeconds"))
            .map_or(1.0, |n| n.clamp(0.0, 3600.0)),
        continue_on_error: data.get("continueOnError").and_then(Value::as_bool).unwrap_or(false),
    }
}

fn compile_trigger(id: &str, data: &Value, problems: &mut Vec<Problem>) -> Trigger {
    let kind = text(data, &["type", "kind", "on"]).unwrap_or_else(|| {
        if data.get("event").is_some() {
            "event".into()
        } else {
            "manual".into()
        }
    });
    match kind.as_str() {
        "manual" | "api" => Trigger::Manual,
        "event" => match text(data, &["event"]) {
            Some(event) => {
                let filter = match parse_condition(data.get("filter")) {
                    Ok(Condition::Else) => None,
                    Ok(c) => Some(c),
                    Err(e) => {
                        problems.push(Problem::at(id, "data.filter", e));
                        None
                    }
                };
                Trigger::Event { event, filter }
            }
            None => {
                problems.push(Problem::at(
                    id,
                    "data.event",
                    "an event trigger names its event (e.g. call.completed)",
                ));
                Trigger::Manual
            }
        },
        "schedule" => match data
            .get("everySeconds")
            .or_else(|| data.get("every"))
            .and_then(duration_secs)
        {
            Some(s) if s >= 60.0 => Trigger::Schedule { every_secs: s as u64 },
            _ => {
                problems.push(Problem::at(
                    id,
                    "data.everySeconds",
                    "a schedule runs at most once a minute: give everySeconds ≥ 60 (or every: \"1h\")",
                ));
                Trigger::Manual
            }
        },
        other => {
            problems.push(Problem::at(
                id,
                "data.type",
                format!("unknown trigger '{other}' (manual, event, schedule)"),
            ));
            Trigger::Manual
        }
    }
}

fn compile_step(node: &Node, problems: &mut Vec<Problem>) -> Option<(Step, Policy)> {
    let (id, d) = (node.id.as_str(), &node.data);
    let need = |problems: &mut Vec<Problem>, field: &str, keys: &[&str], what: &str| {
        let v = text(d, keys);
        if v.is_none() {
            problems.push(Problem::at(
                id,
                &format!("data.{field}"),
                format!("is required: {what}"),
            ));
        }
        v.unwrap_or_default()
    };
    let step = match node.kind.trim().to_ascii_lowercase().as_str() {
        "trigger" | "start" => return None,
        "call" => Step::Call {
            agent_id: need(
                problems,
                "agentId",
                &["agentId", "agent_id"],
                "the agent that places the call",
            ),
            to: need(
                problems,
                "to",
                &["to", "phoneNumber"],
                "the number to call (E.164 or {{variable}})",
            ),
            from: text(d, &["from"]),
            variables: d
                .get("variables")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            timeout_secs: number(d, "timeoutSeconds").map_or(7_200, |n| n.clamp(30.0, 86_400.0) as u64),
        },
        "sms" => Step::Sms {
            to: need(problems, "to", &["to"], "the recipient (E.164 or {{variable}})"),
            body: need(problems, "body", &["body", "message", "text"], "the message"),
            from: text(d, &["from"]),
        },
        "email" => {
            let to = d.get("to").cloned().unwrap_or(Value::Null);
            if to.is_null() || to.as_array().is_some_and(Vec::is_empty) {
                problems.push(Problem::at(id, "data.to", "is required: the recipient address(es)"));
            }
            let text_body = text(d, &["text", "body"]);
            let html = text(d, &["html"]);
            if text_body.is_none() && html.is_none() {
                problems.push(Problem::at(id, "data.text", "give text, html or both"));
            }
            Step::Email {
                to,
                subject: need(problems, "subject", &["subject"], "the subject"),
                text: text_body,
                html,
                agent_id: text(d, &["agentId"]),
                from: text(d, &["from"]),
            }
        }
        "webhook" | "http" => {
            let url = text(d, &["url"]);
            if d.get("secret").is_some() {
                problems.push(Problem::at(
                    id,
                    "data.secret",
                    "secrets are not kept in a graph: name a webhook subscription (webhookId), whose secret is sealed at rest, to sign the request",
                ));
            }
            if let Some(u) = url.as_deref().filter(|u| !u.contains("{{"))
                && !(u.starts_with("https://") || u.starts_with("http://"))
            {
                problems.push(Problem::at(id, "data.url", "must be an http(s) URL"));
            }
            Step::Webhook {
                url,
                webhook_id: need(
                    problems,
                    "webhookId",
                    &["webhookId"],
                    "the webhook subscription (WHK-…) whose secret signs the request (and whose URL receives it unless url is given)",
                ),
                body: d.get("body").cloned(),
            }
        }
        "branch" | "condition" => Step::Branch {
            agent_id: text(d, &["agentId", "agent_id"]),
        },
        "wait" | "delay" => {
            let secs = ["seconds", "duration", "minutes", "hours"].iter().find_map(|k| {
                let v = d.get(*k)?;
                let base = duration_secs(v)?;
                Some(match *k {
                    "minutes" => base * 60.0,
                    "hours" => base * 3600.0,
                    _ => base,
                })
            });
            let matches = match d.get("match").or_else(|| d.get("where")) {
                None | Some(Value::Null) => Some(Map::new()),
                Some(Value::Object(m)) => Some(m.clone()),
                Some(_) => None,
            };
            match (secs, text(d, &["until"]), text(d, &["event"])) {
                (_, _, Some(event)) => {
                    if matches.is_none() {
                        problems.push(Problem::at(
                            id,
                            "data.match",
                            "match is an object of payload fields to equal (e.g. {\"callId\": \"{{steps.dial.callId}}\"})",
                        ));
                    }
                    Step::Wait(WaitFor::Event {
                        event,
                        matches: matches.unwrap_or_default(),
                        timeout_secs: number(d, "timeoutSeconds").map_or(86_400, |n| n.clamp(1.0, 2_592_000.0) as u64),
                    })
                }
                (Some(s), _, _) if s >= 0.0 => Step::Wait(WaitFor::Seconds(s)),
                (_, Some(u), _) => Step::Wait(WaitFor::Until(u)),
                _ => {
                    problems.push(Problem::at(
                        id,
                        "data.seconds",
                        "a wait needs seconds (or duration \"5m\", minutes, hours), until (RFC 3339) or an event",
                    ));
                    Step::Wait(WaitFor::Seconds(0.0))
                }
            }
        }
        "set" | "set_variables" | "variables" => match d.get("variables").or_else(|| d.get("values")) {
            Some(Value::Object(m)) => Step::Set(m.clone()),
            _ => {
                problems.push(Problem::at(
                    id,
                    "data.variables",
                    "is required: an object of name → value (templates allowed)",
                ));
                Step::Set(Map::new())
            }
        },
        "end" => {
            let status = text(d, &["status"]).unwrap_or_else(|| "succeeded".into());
            if !matches!(status.as_str(), "succeeded" | "failed") {
                problems.push(Problem::at(id, "data.status", "is succeeded or failed"));
            }
            Step::End {
                failed: status == "failed",
                reason: text(d, &["reason"]),
            }
        }
        other => {
            problems.push(Problem::at(
                id,
                "type",
                format!("unknown node type '{other}' (trigger, call, sms, email, webhook, branch, wait, set, end)"),
            ));
            return None;
        }
    };
    let attempts = match step {
        Step::Call { .. } | Step::Sms { .. } | Step::Email { .. } | Step::Webhook { .. } => 3,
        _ => 1,
    };
    Some((step, policy(d, attempts)))
}

impl Graph {
    /// Reads a draft's `nodes` and `edges` (each entry checked on its own).
    ///
    /// # Errors
    /// The entries that are not nodes or edges.
    pub fn from_draft(nodes: &Value, edges: &Value) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut read = |field: &str, v: &Value| -> Vec<Value> {
            match v {
                Value::Null => Vec::new(),
                Value::Array(items) => items.clone(),
                _ => {
                    problems.push(Problem::graph(field, "must be an array"));
                    Vec::new()
                }
            }
        };
        let (raw_nodes, raw_edges) = (read("nodes", nodes), read("edges", edges));
        let mut graph = Self::default();
        for (i, n) in raw_nodes.into_iter().enumerate() {
            match serde_json::from_value::<Node>(n) {
                Ok(n) => graph.nodes.push(n),
                Err(e) => problems.push(Problem::graph(
                    &format!("nodes[{i}]"),
                    format!("is not a node {{id, type, data}}: {e}"),
                )),
            }
        }
        for (i, e) in raw_edges.into_iter().enumerate() {
            match serde_json::from_value::<Edge>(e) {
                Ok(e) => graph.edges.push(e),
                Err(err) => problems.push(Problem::graph(
                    &format!("edges[{i}]"),
                    format!("is not an edge {{source, target, condition?}}: {err}"),
                )),
            }
        }
        if problems.is_empty() { Ok(graph) } else { Err(problems) }
    }

    /// Checks the graph and compiles it: one trigger, known node types with their required
    /// settings, edges between known nodes, every node reachable, no cycle without a wait.
    ///
    /// # Errors
    /// Every problem found.
    pub fn compile(&self) -> Result<Compiled, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut steps = BTreeMap::new();
        let mut triggers = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if node.id.trim().is_empty() {
                problems.push(Problem::graph(&format!("nodes[{i}].id"), "is required"));
                continue;
            }
            if steps.contains_key(&node.id) || triggers.iter().any(|(t, _)| t == &node.id) {
                problems.push(Problem::at(&node.id, "id", "is used by two nodes"));
                continue;
            }
            if matches!(node.kind.trim().to_ascii_lowercase().as_str(), "trigger" | "start") {
                let trigger = compile_trigger(&node.id, &node.data, &mut problems);
                triggers.push((node.id.clone(), trigger));
            } else if let Some(step) = compile_step(node, &mut problems) {
                steps.insert(node.id.clone(), step);
            }
        }
        let (trigger_node, trigger) = match triggers.len() {
            1 => triggers.remove(0),
            0 => {
                problems.push(Problem::graph(
                    "nodes",
                    "a workflow needs one trigger node ({\"type\": \"trigger\"})",
                ));
                return Err(problems);
            }
            _ => {
                problems.push(Problem::at(&triggers[1].0, "type", "a workflow has one trigger node"));
                return Err(problems);
            }
        };
        steps.insert(
            trigger_node.clone(),
            (Step::Trigger(trigger.clone()), policy(&Value::Null, 1)),
        );
        let known: BTreeSet<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
        let mut routes: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for (i, e) in self.edges.iter().enumerate() {
            let name = e.id.clone().unwrap_or_else(|| format!("edges[{i}]"));
            for (field, end) in [("source", &e.source), ("target", &e.target)] {
                if !known.contains(end.as_str()) {
                    problems.push(Problem::graph(
                        &format!("{name}.{field}"),
                        format!("'{end}' is not a node of this workflow"),
                    ));
                }
            }
            if e.target == trigger_node {
                problems.push(Problem::graph(
                    &format!("{name}.target"),
                    "no edge leads into the trigger",
                ));
            }
            match parse_condition(e.condition.as_ref()) {
                Ok(Condition::Prompt(_)) if !matches!(steps.get(&e.source), Some((Step::Branch { .. }, _))) => {
                    problems.push(Problem::graph(
                        &format!("{name}.condition"),
                        "a prompt condition goes on an edge leaving a branch node (the branch asks the model)",
                    ));
                }
                Ok(condition) => routes.entry(e.source.clone()).or_default().push(Route {
                    target: e.target.clone(),
                    condition,
                }),
                Err(m) => problems.push(Problem::graph(&format!("{name}.condition"), m)),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // Reachability from the trigger.
        let mut seen = BTreeSet::from([trigger_node.as_str()]);
        let mut stack = vec![trigger_node.as_str()];
        while let Some(n) = stack.pop() {
            for r in routes.get(n).into_iter().flatten() {
                if seen.insert(r.target.as_str()) {
                    stack.push(&r.target);
                }
            }
        }
        for node in &self.nodes {
            if !seen.contains(node.id.as_str()) {
                problems.push(Problem::at(&node.id, "id", "is not reachable from the trigger"));
            }
        }
        // A cycle must pass through a wait (else it would spin).
        let is_wait = |n: &str| matches!(steps.get(n), Some((Step::Wait(_), _)));
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        fn visit<'a>(
            n: &'a str,
            routes: &'a BTreeMap<String, Vec<Route>>,
            is_wait: &dyn Fn(&str) -> bool,
            state: &mut BTreeMap<&'a str, u8>,
        ) -> Option<&'a str> {
            state.insert(n, 1);
            for r in routes.get(n).into_iter().flatten() {
                let t = r.target.as_str();
                if is_wait(t) {
                    continue;
                }
                match state.get(t) {
                    Some(1) => return Some(t),
                    Some(_) => {}
                    None => {
                        if let Some(c) = visit(t, routes, is_wait, state) {
                            return Some(c);
                        }
                    }
                }
            }
            state.insert(n, 2);
            None
        }
        let ids: Vec<&str> = self
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .filter(|n| !is_wait(n))
            .collect();
        for n in ids {
            if !state.contains_key(n)
                && let Some(c) = visit(n, &routes, &is_wait, &mut state)
            {
                problems.push(Problem::at(c, "edges", "is on a cycle without a wait node"));
                break;
            }
        }
        if problems.is_empty() {
            Ok(Compiled {
                trigger_node,
                trigger,
                steps,
                routes,
            })
        } else {
            Err(problems)
        }
    }
}
