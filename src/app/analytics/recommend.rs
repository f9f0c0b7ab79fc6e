//! Recommendations for an agent, each citing the calls it is based on: rules that need no
//! model (latency, barge-ins, false interruptions, failing tools, unresolved or unhappy
//! callers), and — when an analyst model is configured — what it writes after reading the
//! figures and a sample of those calls.

use std::{collections::BTreeMap, sync::Arc};

use schemars::JsonSchema;
use sea_orm::DbErr;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_actors::call::{
    chat::{ChatRole, ChatTurn},
    ports::{LanguageModel, LlmRequest},
};

use super::{Analytics, Period, PeriodOut, agent::Facts};

/// Calls cited per recommendation at most.
const EVIDENCE: usize = 5;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    pub agent_id: String,
    pub title: String,
    pub rationale: String,
    /// The calls it is based on.
    pub evidence_call_ids: Vec<String>,
    /// A change to make, as the body of `PATCH /agents/:id`, when there is one.
    pub suggested_change: Option<Value>,
    /// `high`, `medium` or `low`.
    pub impact: String,
    /// `rules` or `llm`.
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecommendationsReport {
    pub period: PeriodOut,
    pub calls_considered: u64,
    /// Who wrote the `llm` recommendations, or why there are none.
    pub analyst: String,
    pub recommendations: Vec<Recommendation>,
}

/// Why the model's part could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RecommendError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("the analyst model failed: {0}")]
    Model(String),
}

/// The calls with the most of something, most first.
fn top(by_call: &BTreeMap<String, u64>) -> Vec<String> {
    let mut v: Vec<(&String, &u64)> = by_call.iter().filter(|(_, n)| **n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.into_iter().take(EVIDENCE).map(|(id, _)| id.clone()).collect()
}

fn rule(title: &str, rationale: String, evidence: Vec<String>, change: Option<Value>, impact: &str) -> Recommendation {
    Recommendation {
        agent_id: String::new(),
        title: title.into(),
        rationale,
        evidence_call_ids: evidence,
        suggested_change: change,
        impact: impact.into(),
        source: "rules".into(),
    }
}

/// What the rules find in an agent's calls.
pub(super) fn by_rules(f: &Facts) -> Vec<Recommendation> {
    let calls = f.calls.len() as u64;
    let mut out = Vec::new();
    if calls == 0 {
        return out;
    }
    // Callers waiting: the slowest turns' calls.
    let slowest: BTreeMap<String, u64> = f
        .latency
        .iter()
        .map(|(id, v)| (id.clone(), v.iter().copied().fold(0.0, f64::max) as u64))
        .collect();
    let mut all: Vec<f64> = f.latency.values().flatten().copied().collect();
    all.sort_by(f64::total_cmp);
    if let Some(p95) = all.get(((all.len() as f64 - 1.0) * 0.95).round() as usize)
        && *p95 > 1_500.0
    {
        out.push(rule(
            "Answer faster",
            format!("Callers waited {p95:.0} ms (p95) from the end of their turn to the agent's first audio; above ~1.5 s a pause is noticed. A shorter prompt, a faster model or a speech-to-speech pipeline cut it."),
            top(&slowest),
            Some(json!({ "llmConfig": { "maxTokens": 150 } })),
            "high",
        ));
    }
    let barge_ins: u64 = f.barge_ins.values().sum();
    if barge_ins as f64 / calls as f64 > 1.5 {
        out.push(rule(
            "Keep turns short",
            format!("Callers spoke over the agent {:.1} times a call; long answers invite interruptions. Ask the prompt for one or two sentences per turn.", barge_ins as f64 / calls as f64),
            top(&f.barge_ins),
            None,
            "medium",
        ));
    }
    let interruptions = barge_ins + f.false_interruptions;
    if interruptions >= 3 && f.false_interruptions as f64 / interruptions as f64 > 0.3 {
        out.push(rule(
            "Raise the barge-in threshold",
            format!(
                "{} of {interruptions} interruptions were noise, not speech: the agent paused for nothing. Require longer speech before it yields.",
                f.false_interruptions
            ),
            top(&f.false_by_call),
            Some(json!({ "interruptionSettings": { "sensitivityMs": 350 } })),
            "medium",
        ));
    }
    let tools = f.tool_ok + f.tool_failed;
    if tools >= 3 && f.tool_failed as f64 / tools as f64 > 0.2 {
        out.push(rule(
            "Fix the failing tools",
            format!("{} of {tools} tool calls failed; the agent apologised instead of answering. Check the tools' URLs and timeouts (POST /tools/:id/test).", f.tool_failed),
            top(&f.tool_failed_by_call),
            None,
            "high",
        ));
    }
    let analysed = f.outcomes.len();
    let unresolved: Vec<String> = f
        .outcomes
        .iter()
        .filter(|(_, _, r, _)| *r == Some(false))
        .map(|(id, _, _, _)| id.clone())
        .collect();
    if analysed >= 3 && unresolved.len() as f64 / analysed as f64 > 0.4 {
        out.push(rule(
            "Resolve more calls",
            format!("{} of {analysed} analysed calls ended without the caller's goal met. Read them and give the prompt what was missing (facts, a next step, a handoff).", unresolved.len()),
            unresolved.into_iter().take(EVIDENCE).collect(),
            None,
            "high",
        ));
    }
    let unhappy: Vec<String> = f
        .outcomes
        .iter()
        .filter(|(_, s, _, _)| s.as_deref() == Some("negative"))
        .map(|(id, _, _, _)| id.clone())
        .collect();
    if analysed >= 3 && unhappy.len() as f64 / analysed as f64 > 0.3 {
        out.push(rule(
            "Mind the tone",
            format!("{} of {analysed} analysed callers were unhappy.", unhappy.len()),
            unhappy.into_iter().take(EVIDENCE).collect(),
            None,
            "medium",
        ));
    }
    out
}

/// The model's recommendations, read from its JSON answer; those citing no call of the
/// period are dropped.
pub(super) fn parse_llm(text: &str, calls: &[String]) -> Option<Vec<Recommendation>> {
    let start = text.find('[')?;
    let end = text.rfind(']')?;
    let items: Vec<Value> = serde_json::from_str(text.get(start..=end)?).ok()?;
    Some(
        items
            .into_iter()
            .filter_map(|v| {
                let evidence: Vec<String> = v["evidenceCallIds"]
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|id| calls.iter().any(|c| c == id))
                    .map(str::to_string)
                    .collect();
                (!evidence.is_empty()).then(|| Recommendation {
                    agent_id: String::new(),
                    title: v["title"]
                        .as_str()
                        .unwrap_or("Recommendation")
                        .chars()
                        .take(120)
                        .collect(),
                    rationale: v["rationale"].as_str().unwrap_or_default().chars().take(1000).collect(),
                    evidence_call_ids: evidence,
                    suggested_change: v.get("suggestedChange").filter(|c| c.is_object()).cloned(),
                    impact: match v["impact"].as_str() {
                        Some(i @ ("high" | "medium" | "low")) => i.to_string(),
                        _ => "medium".into(),
                    },
                    source: "llm".into(),
                })
            })
            .collect(),
    )
}

impl Analytics {
    /// Rules, and the analyst's recommendations when `analyst` is given.
    ///
    /// # Errors
    /// The database failing, or the analyst failing or answering nonsense.
    pub async fn recommendations(
        &self,
        org_id: &str,
        agent_id: &str,
        p: &Period,
        analyst: Option<Arc<dyn LanguageModel>>,
    ) -> Result<RecommendationsReport, RecommendError> {
        let f = self.facts(org_id, agent_id, p.from, p.to, p).await?;
        let mut recommendations = by_rules(&f);
        if let Some(model) = analyst
            && !f.calls.is_empty()
        {
            let ids: Vec<String> = f.calls.iter().map(|c| c.id.clone()).collect();
            let sample: Vec<Value> = f
                .calls
                .iter()
                .take(50)
                .map(|c| {
                    json!({
                        "callId": c.id, "status": c.status, "endReason": c.end_reason, "durationSeconds": c.duration_secs,
                        "bargeIns": f.barge_ins.get(&c.id), "failedTools": f.tool_failed_by_call.get(&c.id),
                        "latencyMs": f.latency.get(&c.id),
                        "outcome": f.outcomes.iter().find(|o| o.0 == c.id).map(|o| json!({ "sentiment": o.1, "resolved": o.2 })),
                    })
                })
                .collect();
            let reply = model
                .respond(&LlmRequest {
                    system_prompt: "You improve AI phone agents. Recommend improvements to the agent's prompt and \
                                    settings from its calls. Answer with a JSON array only: [{\"title\", \"rationale\", \
                                    \"evidenceCallIds\": [call ids from the data], \"suggestedChange\": object or null \
                                    (a PATCH /agents body), \"impact\": \"high\"|\"medium\"|\"low\"}]."
                        .into(),
                    first_message: None,
                    conversation: vec![ChatTurn::new(
                        ChatRole::User,
                        format!(
                            "Recommend improvements for agent {agent_id}. Rules already found: {}. Calls: {}",
                            serde_json::to_string(&recommendations).unwrap_or_default(),
                            Value::Array(sample)
                        ),
                    )],
                    tools: Vec::new(),
                    knowledge: Vec::new(),
                })
                .await
                .map_err(|e| RecommendError::Model(e.to_string()))?;
            let written = parse_llm(&reply.text, &ids)
                .ok_or_else(|| RecommendError::Model("its answer was not the JSON asked for".into()))?;
            recommendations.extend(written);
        }
        for r in &mut recommendations {
            r.agent_id = agent_id.to_string();
        }
        Ok(RecommendationsReport {
            period: Self::period_out(p),
            calls_considered: f.calls.len() as u64,
            analyst: String::new(),
            recommendations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_models_recommendations_must_cite_real_calls() {
        let calls = vec!["CALL-1".to_string(), "CALL-2".to_string()];
        let text = r#"Here: [{"title":"Shorter","rationale":"r","evidenceCallIds":["CALL-2","CALL-9"],"impact":"high"},
                       {"title":"Made up","evidenceCallIds":["CALL-9"]}]"#;
        let r = parse_llm(text, &calls).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].evidence_call_ids, vec!["CALL-2"]);
        assert_eq!((r[0].impact.as_str(), r[0].source.as_str()), ("high", "llm"));
        assert!(parse_llm("nothing", &calls).is_none());
    }

    #[test]
    fn the_calls_with_most_come_first() {
        let m: BTreeMap<String, u64> = [("a".into(), 1), ("b".into(), 3), ("c".into(), 0)].into();
        assert_eq!(top(&m), vec!["b", "a"]);
    }
}
