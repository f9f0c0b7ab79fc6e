//! `POST /agents/:id/preview` (placeholder substitution with a risk assessment) and
//! `POST /agents/:id/preflight` (launch checks, each with a machine-actionable result).

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AgentOut, load};
use crate::domain::agent::is_variable_name;
use crate::{
    domain::{AgentStatus, PipelineMode},
    error::{ApiError, ApiResult, FieldError},
    http::core::{
        envelope::{self, Sorted},
        extract::{Body, Ctx},
        validation::{Validate, Validator},
    },
    providers::catalog::{self, Kind},
    state::AppState,
    store,
};

/// Placeholders whose absence makes a call non-compliant or misleading.
pub const SAFETY_VARIABLES: &[&str] = &[
    "company_name",
    "agent_name",
    "callback_number",
    "recording_disclosure",
    "opt_out_instructions",
];
/// Phrases showing the prompt tells the agent how to honour an opt-out.
const OPT_OUT_HINTS: &[&str] = &[
    "opt out",
    "opt-out",
    "do not call",
    "stop calling",
    "remove them",
    "unsubscribe",
    "not to be called",
    "called again",
    "call list",
];

/// `{{ name }}` placeholders of `text`, in order, without duplicates.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let name = after[..end].trim();
        if is_variable_name(name) && !found.iter().any(|f| f == name) {
            found.push(name.to_string());
        }
        rest = &after[end + 2..];
    }
    found
}

/// Replaces known placeholders; unknown ones stay as written.
pub fn render(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match vars.get(after[..end].trim()) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The agent's defaults, the built-ins, then the request's values (which win).
pub fn variables_for(agent: &AgentOut, given: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    vars.insert("agent_name".to_string(), agent.name.clone());
    let now = chrono::Utc::now();
    vars.insert("current_date".to_string(), now.format("%Y-%m-%d").to_string());
    vars.insert("current_time".to_string(), now.format("%H:%M UTC").to_string());
    vars.extend(agent.variables.clone());
    if let Some(given) = given {
        vars.extend(given.clone());
    }
    vars
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Assessment {
    pub system_prompt: Option<String>,
    pub first_message: Option<String>,
    pub placeholders: Vec<String>,
    pub resolved_variables: Vec<String>,
    pub unresolved_variables: Vec<String>,
    pub missing_safety_variables: Vec<String>,
    /// 0 (safe) – 100.
    pub risk_score: u8,
    /// `low` (< 30), `medium` (< 60) or `high`.
    pub risk_level: String,
    pub risk_factors: Vec<String>,
}

pub fn assess(agent: &AgentOut, vars: &BTreeMap<String, String>) -> Assessment {
    let prompt = agent.system_prompt.clone().unwrap_or_default();
    let first = agent.first_message.clone().unwrap_or_default();
    let mut names = placeholders(&prompt);
    for n in placeholders(&first) {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let (resolved, unresolved): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| vars.get(n).is_some_and(|v| !v.trim().is_empty()));
    let missing_safety: Vec<String> = unresolved
        .iter()
        .filter(|n| SAFETY_VARIABLES.contains(&n.as_str()))
        .cloned()
        .collect();
    let mut score: u32 = 0;
    let mut factors = Vec::new();
    if prompt.trim().is_empty() {
        score += 30;
        factors.push("no system prompt".to_string());
    }
    if !unresolved.is_empty() {
        score += (15 * unresolved.len() as u32).min(45);
        factors.push(format!("{} unresolved placeholder(s)", unresolved.len()));
    }
    if !missing_safety.is_empty() {
        score += 20 * missing_safety.len() as u32;
        factors.push(format!("missing safety variable(s): {}", missing_safety.join(", ")));
    }
    let lower = prompt.to_lowercase();
    if !OPT_OUT_HINTS.iter().any(|h| lower.contains(h)) {
        score += 15;
        factors.push("the prompt does not say how to honour an opt-out request".to_string());
    }
    let score = score.min(100) as u8;
    let level = match score {
        0..30 => "low",
        30..60 => "medium",
        _ => "high",
    };
    Assessment {
        system_prompt: agent.system_prompt.as_ref().map(|p| render(p, vars)),
        first_message: agent.first_message.as_ref().map(|f| render(f, vars)),
        placeholders: names,
        resolved_variables: resolved,
        unresolved_variables: unresolved,
        missing_safety_variables: missing_safety,
        risk_score: score,
        risk_level: level.to_string(),
        risk_factors: factors,
    }
}

fn check_vars(v: &mut Validator, vars: Option<&BTreeMap<String, String>>) {
    for name in vars.into_iter().flat_map(BTreeMap::keys) {
        v.check(
            is_variable_name(name),
            &format!("variables.{name}"),
            "is not a valid variable name",
        );
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreviewIn {
    /// Values for this preview; they win over the agent's defaults.
    pub variables: Option<BTreeMap<String, String>>,
    /// When true, any unresolved placeholder is a 400 `VALIDATION_ERROR` listing them.
    pub hard_fail: Option<bool>,
}

impl Validate for PreviewIn {
    fn validate(&self, v: &mut Validator) {
        check_vars(v, self.variables.as_ref());
    }
}

/// The prompts as a call would render them, with the risk assessment.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreviewOut {
    pub agent_id: String,
    pub hard_fail: bool,
    #[serde(flatten)]
    pub assessment: Assessment,
}

pub async fn preview(ctx: Ctx, id: web::Path<String>, Body(input): Body<PreviewIn>) -> ApiResult<HttpResponse> {
    let agent = AgentOut::from(load(ctx.db(), ctx.org(), &id).await?);
    let vars = variables_for(&agent, input.variables.as_ref());
    let a = assess(&agent, &vars);
    let hard_fail = input.hard_fail.unwrap_or(false);
    if hard_fail && !a.unresolved_variables.is_empty() {
        return Err(ApiError::validation(
            a.unresolved_variables
                .iter()
                .map(|n| {
                    FieldError::new(
                        format!("variables.{n}"),
                        format!("placeholder {{{{{n}}}}} is unresolved"),
                    )
                })
                .collect(),
        ));
    }
    let out = PreviewOut {
        agent_id: agent.id,
        hard_fail,
        assessment: a,
    };
    Ok(envelope::ok(&Sorted(out)))
}

/// A check's verdict; a `fail` blocks launch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One preflight check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub id: String,
    pub status: CheckStatus,
    pub message: String,
    /// Details a program can act on (values, provider modes, ids).
    pub data: Value,
    /// What to do about it, as an API call when there is one.
    pub fix: Option<Value>,
}

fn check(id: &str, status: CheckStatus, message: impl Into<String>, data: Value, fix: Option<Value>) -> Check {
    Check {
        id: id.into(),
        status,
        message: message.into(),
        data,
        fix,
    }
}

fn patch_fix(agent_id: &str, body: Value) -> Option<Value> {
    Some(json!({ "method": "PATCH", "path": format!("/api/v1/public/agents/{agent_id}"), "body": body }))
}

/// The providers of the agent's pipeline, by kind (its choice or the default).
pub fn pipeline(agent: &AgentOut) -> Vec<(Kind, Option<&str>)> {
    if agent.pipeline_mode == PipelineMode::S2s {
        vec![(Kind::S2s, agent.s2s_provider.as_deref())]
    } else {
        vec![
            (Kind::Llm, agent.llm_config.as_ref().and_then(|c| c.provider.as_deref())),
            (
                Kind::Tts,
                agent.voice_config.as_ref().and_then(|c| c.provider.as_deref()),
            ),
            (Kind::Stt, agent.stt_config.as_ref().and_then(|c| c.provider.as_deref())),
        ]
    }
}

/// True when a call of the agent runs, at least in part, on the sandbox providers: one is
/// the sandbox, or has no key on this server (the sandbox stands in for it).
pub fn runs_on_sandbox(state: &AppState, agent: &AgentOut) -> bool {
    pipeline(agent)
        .into_iter()
        .any(|(kind, id)| readiness(state, id, kind).1 != "configured")
}

/// `configured`, `sandbox` or `missing` for a provider id.
fn readiness(state: &AppState, id: Option<&str>, kind: Kind) -> (String, String) {
    let provider = id
        .and_then(catalog::find)
        .unwrap_or_else(|| catalog::default_for(kind, &state.settings.providers));
    let mode = if provider.is_sandbox() {
        "sandbox"
    } else if provider.available(&state.settings.providers) {
        "configured"
    } else {
        "missing"
    };
    (provider.id.to_string(), mode.to_string())
}

/// Runs every check; `ready` is true when none failed.
pub async fn run_preflight(
    state: &AppState,
    org_id: &str,
    agent: &AgentOut,
    vars: &BTreeMap<String, String>,
) -> ApiResult<(bool, Vec<Check>, u8)> {
    let mut checks = Vec::new();
    let prompt = agent.system_prompt.clone().unwrap_or_default();
    let unbalanced = prompt.matches("{{").count() != prompt.matches("}}").count();
    checks.push(if prompt.trim().chars().count() < 20 {
        check(
            "prompt_integrity",
            CheckStatus::Fail,
            "The system prompt is missing or shorter than 20 characters",
            json!({ "length": prompt.chars().count() }),
            patch_fix(
                &agent.id,
                json!({ "systemPrompt": "You are a helpful assistant for …" }),
            ),
        )
    } else if unbalanced {
        check(
            "prompt_integrity",
            CheckStatus::Fail,
            "The system prompt has unbalanced '{{' / '}}' placeholder braces",
            json!({ "length": prompt.chars().count() }),
            None,
        )
    } else {
        check(
            "prompt_integrity",
            CheckStatus::Pass,
            "System prompt present and well-formed",
            json!({ "length": prompt.chars().count() }),
            None,
        )
    });

    let mut providers = serde_json::Map::new();
    let mut missing = Vec::new();
    for (kind, id) in &pipeline(agent) {
        let (provider, mode) = readiness(state, *id, *kind);
        if mode == "missing" {
            missing.push(provider.clone());
        }
        providers.insert(kind.as_str().into(), json!({ "provider": provider, "status": mode }));
    }
    checks.push(if missing.is_empty() {
        check(
            "provider_readiness",
            CheckStatus::Pass,
            "Every provider of the pipeline is configured or the sandbox",
            Value::Object(providers),
            None,
        )
    } else {
        let keys: Vec<&str> = missing
            .iter()
            .filter_map(|id| catalog::find(id).map(|p| p.config_key))
            .collect();
        check(
            "provider_readiness",
            CheckStatus::Warn,
            format!(
                "Not configured on this server: {} — its calls run on the sandbox stand-in until {} is set",
                missing.join(", "),
                keys.join(", ")
            ),
            Value::Object(providers),
            Some(json!({ "configure": keys, "or": "switch the agent to the sandbox provider", "patch": { "s2sProvider": "sandbox" } })),
        )
    });

    let a = assess(agent, vars);
    checks.push(if a.unresolved_variables.is_empty() {
        check(
            "placeholders",
            CheckStatus::Pass,
            "Every placeholder has a value",
            json!({ "placeholders": a.placeholders }),
            None,
        )
    } else {
        let defaults: BTreeMap<&str, &str> = a.unresolved_variables.iter().map(|n| (n.as_str(), "…")).collect();
        check(
            "placeholders",
            CheckStatus::Warn,
            format!(
                "Unresolved placeholders (pass them per call or set defaults): {}",
                a.unresolved_variables.join(", ")
            ),
            json!({ "unresolved": a.unresolved_variables, "missingSafetyVariables": a.missing_safety_variables }),
            patch_fix(&agent.id, json!({ "variables": defaults })),
        )
    });

    let score = voice_quality(agent);
    checks.push(check(
        "voice_quality",
        if score >= 70 {
            CheckStatus::Pass
        } else {
            CheckStatus::Warn
        },
        format!("Voice quality score {score}/100"),
        json!({ "score": score, "noiseReduction": agent.s2s_config.noise_reduction }),
        (score < 70).then(
            || json!({ "hint": "set s2sConfig.noiseReduction, a voice, and interruptionSettings/s2sTurnDetection" }),
        ),
    ));

    let lower = prompt.to_lowercase();
    let opt_out = OPT_OUT_HINTS.iter().any(|h| lower.contains(h));
    checks.push(check(
        "compliance",
        if opt_out && a.missing_safety_variables.is_empty() { CheckStatus::Pass } else { CheckStatus::Warn },
        if opt_out {
            "Opt-out handling is described in the prompt".to_string()
        } else {
            "The prompt does not tell the agent to honour opt-out requests".to_string()
        },
        json!({ "optOutHandling": opt_out, "missingSafetyVariables": a.missing_safety_variables, "riskScore": a.risk_score, "riskLevel": a.risk_level }),
        (!opt_out).then(|| json!({ "hint": "add: 'If the caller asks not to be called again, confirm and end the call.'" })),
    ));

    let tools = store::tools::find_refs(&state.db, org_id, &agent.enabled_tools).await?;
    let mut broken = Vec::new();
    for id in &agent.enabled_tools {
        match tools.iter().find(|t| &t.id == id) {
            None => broken.push(json!({ "toolId": id, "problem": "deleted" })),
            Some(t) if state.url_guard.check_url(&t.url).is_err() => {
                broken.push(json!({ "toolId": id, "problem": "url refused by the SSRF guard" }));
            }
            Some(_) => {}
        }
    }
    checks.push(if broken.is_empty() {
        check(
            "tools",
            CheckStatus::Pass,
            format!("{} tool(s) enabled and reachable by policy", agent.enabled_tools.len()),
            json!({ "enabledTools": agent.enabled_tools }),
            None,
        )
    } else {
        let keep: Vec<&String> = agent
            .enabled_tools
            .iter()
            .filter(|id| !broken.iter().any(|b| b["toolId"] == json!(id)))
            .collect();
        check(
            "tools",
            CheckStatus::Fail,
            "Some enabled tools are missing or unusable",
            json!({ "broken": broken }),
            patch_fix(&agent.id, json!({ "enabledTools": keep })),
        )
    });

    let numbers = store::phone_numbers::for_agent(&state.db, org_id, &agent.id).await?;
    checks.push(if numbers.is_empty() {
        check(
            "telephony",
            CheckStatus::Warn,
            "No phone number is assigned: the agent can place outbound calls only",
            json!({ "phoneNumbers": [] }),
            Some(json!({ "method": "POST", "path": format!("/api/v1/public/agents/{}/telephony", agent.id), "body": { "phoneNumberId": "TEL-…" } })),
        )
    } else {
        check(
            "telephony",
            CheckStatus::Pass,
            format!("{} phone number(s) assigned", numbers.len()),
            json!({ "phoneNumbers": numbers.iter().map(|n| json!({ "id": n.id, "phoneNumber": n.phone_number, "provider": n.provider })).collect::<Vec<_>>() }),
            None,
        )
    });

    let ready = agent.status != AgentStatus::Inactive && !checks.iter().any(|c| c.status == CheckStatus::Fail);
    Ok((ready, checks, score))
}

/// 0–100 from the voice, noise reduction, turn-taking settings and greeting length.
pub fn voice_quality(agent: &AgentOut) -> u8 {
    let mut score = 40u8;
    let voice_set = if agent.pipeline_mode == PipelineMode::S2s {
        agent.s2s_voice.is_some()
    } else {
        agent.voice_config.as_ref().is_some_and(|v| v.voice_id.is_some())
    };
    if voice_set {
        score += 20;
    }
    if agent.s2s_config.noise_reduction.is_some() {
        score += 15;
    }
    if agent.s2s_turn_detection.is_some() || agent.interruption_settings.is_some() {
        score += 10;
    }
    if agent
        .first_message
        .as_ref()
        .is_some_and(|f| (1..=200).contains(&f.chars().count()))
    {
        score += 15;
    }
    score.min(100)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PreflightIn {
    /// Values to check placeholders against (as a call would pass them).
    pub variables: Option<BTreeMap<String, String>>,
}

impl Validate for PreflightIn {
    fn validate(&self, v: &mut Validator) {
        check_vars(v, self.variables.as_ref());
    }
}

/// How many checks passed, warned and failed.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckSummary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

/// Launch readiness: `ready` unless a check failed (or the agent is inactive).
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreflightOut {
    pub agent_id: String,
    pub ready: bool,
    /// 0–100.
    pub voice_quality_score: u8,
    pub summary: CheckSummary,
    pub checks: Vec<Check>,
}

pub async fn preflight(ctx: Ctx, id: web::Path<String>, Body(input): Body<PreflightIn>) -> ApiResult<HttpResponse> {
    let agent = AgentOut::from(load(ctx.db(), ctx.org(), &id).await?);
    let vars = variables_for(&agent, input.variables.as_ref());
    let (ready, checks, score) = run_preflight(&ctx.state, ctx.org(), &agent, &vars).await?;
    let count = |s: CheckStatus| checks.iter().filter(|c| c.status == s).count();
    let out = PreflightOut {
        agent_id: agent.id,
        ready,
        voice_quality_score: score,
        summary: CheckSummary {
            pass: count(CheckStatus::Pass),
            warn: count(CheckStatus::Warn),
            fail: count(CheckStatus::Fail),
        },
        checks,
    };
    Ok(envelope::ok(&Sorted(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_and_rendered() {
        let vars = BTreeMap::from([("name".to_string(), "Ada".to_string())]);
        assert_eq!(
            placeholders("Hi {{ name }}, {{x}} {{name}} {{bad-name}}"),
            vec!["name", "x"]
        );
        assert_eq!(render("Hi {{ name }}, {{x}}", &vars), "Hi Ada, {{x}}");
        assert_eq!(render("open {{ end", &vars), "open {{ end");
    }
}
