//! Post-call analysis: every ended call gets a summary, the caller's sentiment and whether
//! their goal was met — through the agent's language model when it has a real one, else by
//! deterministic rules (`sandbox`). The intent is written with the call's end; this worker
//! fills it, at most once per call, retried with a pause when the model fails, and never in
//! the way of the call itself.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use thruai_actors::call::{
    chat::{ChatRole, ChatTurn},
    ports::LlmRequest,
    snapshot::{Speaker, TranscriptEntry},
};
use thruai_entities::call_analysis;

use super::AgentModels;
use crate::{config::CallSettings, providers::live, store};

/// Calls analysed per pass at most.
const BATCH: u64 = 20;

const POSITIVE: &[&str] = &[
    "thank",
    "great",
    "perfect",
    "awesome",
    "appreciate",
    "wonderful",
    "excellent",
    "helpful",
    "that works",
];
const NEGATIVE: &[&str] = &[
    "angry",
    "terrible",
    "awful",
    "frustrat",
    "useless",
    "complain",
    "not happy",
    "unacceptable",
    "ridiculous",
    "cancel",
    "stop calling",
    "wrong number",
];

/// What an analysis found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub method: &'static str,
    pub summary: String,
    pub sentiment: String,
    pub resolved: bool,
}

/// The rules the sandbox analyses with: sentiment from the caller's words, resolved when the
/// call completed without a negative caller.
pub fn by_rules(lines: &[TranscriptEntry], completed: bool) -> Finding {
    let caller: Vec<&str> = lines
        .iter()
        .filter(|l| l.speaker == Speaker::Caller)
        .map(|l| l.text.as_str())
        .collect();
    let text = caller.join(" ").to_lowercase();
    let score = |words: &[&str]| words.iter().filter(|w| text.contains(*w)).count();
    let (pos, neg) = (score(POSITIVE), score(NEGATIVE));
    let sentiment = if caller.is_empty() {
        "unknown"
    } else if neg > pos {
        "negative"
    } else if pos > neg {
        "positive"
    } else {
        "neutral"
    };
    let summary = match (caller.first(), lines.iter().rev().find(|l| l.speaker == Speaker::Agent)) {
        (Some(first), Some(last)) => format!("The caller said \"{first}\"; the agent ended with \"{}\".", last.text),
        (Some(first), None) => format!("The caller said \"{first}\"; the agent did not answer."),
        (None, _) => "The caller said nothing.".to_string(),
    };
    Finding {
        method: "sandbox",
        summary: summary.chars().take(500).collect(),
        sentiment: sentiment.into(),
        resolved: completed && sentiment != "negative" && !caller.is_empty(),
    }
}

/// A model's answer `{"summary", "sentiment", "resolved"}`, wherever it is in its text.
pub fn parse_finding(text: &str) -> Option<Finding> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let v: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let sentiment = v["sentiment"].as_str()?.to_lowercase();
    if !["positive", "neutral", "negative", "unknown"].contains(&sentiment.as_str()) {
        return None;
    }
    Some(Finding {
        method: "llm",
        summary: v["summary"].as_str()?.chars().take(2000).collect(),
        sentiment,
        resolved: v["resolved"].as_bool()?,
    })
}

/// The post-call analysis worker.
#[derive(Clone)]
pub struct CallAnalysis {
    db: DatabaseConnection,
    settings: Arc<CallSettings>,
    models: AgentModels,
}

impl CallAnalysis {
    pub fn new(db: DatabaseConnection, settings: CallSettings, models: AgentModels) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            models,
        }
    }

    /// Runs a pass every `calls.analysis_interval_ms`, for as long as the runtime lives.
    pub fn start(&self) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick =
                actix_web::rt::time::interval(Duration::from_millis(this.settings.analysis_interval_ms.max(10)));
            loop {
                tick.tick().await;
                this.run_due().await;
            }
        });
    }

    /// Analyses the calls due now; returns how many were finished (done or failed).
    pub async fn run_due(&self) -> usize {
        let rows = match store::analyses::due_now(&self.db, Utc::now(), BATCH).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "reading due call analyses failed");
                return 0;
            }
        };
        let mut finished = 0;
        for row in rows {
            match self.run_one(row).await {
                Ok(true) => finished += 1,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "call analysis could not be written"),
            }
        }
        finished
    }

    async fn run_one(&self, row: call_analysis::Model) -> Result<bool, sea_orm::DbErr> {
        let retry_at = Utc::now()
            + chrono::Duration::milliseconds(i64::try_from(self.settings.analysis_retry_ms).unwrap_or(30_000));
        if !store::analyses::claim(&self.db, &row, retry_at).await? {
            return Ok(false);
        }
        let attempts = row.attempts + 1;
        let timeout = Duration::from_millis(self.settings.analysis_timeout_ms);
        let outcome = match tokio::time::timeout(timeout, self.analyse(&row)).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "the model did not answer within {} ms",
                self.settings.analysis_timeout_ms
            )),
        };
        let mut row = row;
        row.attempts = attempts;
        row.updated_at = Utc::now();
        match outcome {
            Ok(f) => {
                row.status = "done".into();
                row.method = Some(f.method.into());
                row.summary = Some(f.summary);
                row.sentiment = Some(f.sentiment);
                row.resolved = Some(f.resolved);
                row.error = None;
            }
            Err(e) if attempts < i32::try_from(self.settings.analysis_max_attempts).unwrap_or(3) => {
                // Pending still: the claim already set the next attempt.
                row.next_attempt_at = retry_at;
                row.error = Some(e);
                store::analyses::save(&self.db, row).await?;
                return Ok(false);
            }
            Err(e) => {
                row.status = "failed".into();
                row.error = Some(format!("{e} (after {attempts} attempts)"));
            }
        }
        store::analyses::save(&self.db, row).await?;
        Ok(true)
    }

    async fn analyse(&self, row: &call_analysis::Model) -> Result<Finding, String> {
        let db_err = |e: sea_orm::DbErr| e.to_string();
        let call = store::calls::find(&self.db, &row.org_id, &row.call_id)
            .await
            .map_err(db_err)?
            .ok_or("the call is gone")?;
        let lines = store::calls::transcript(&self.db, &row.call_id, Vec::new())
            .await
            .map_err(db_err)?;
        let completed = call.status.as_str() == "completed";
        let agent = store::agents::find(&self.db, &row.org_id, &row.agent_id)
            .await
            .map_err(db_err)?;
        let Some(llm) = agent.and_then(|a| live::clients_for(&a, &self.models.providers, &self.models.http).llm) else {
            return Ok(by_rules(&lines, completed));
        };
        let transcript: Vec<String> = lines
            .iter()
            .map(|l| {
                format!(
                    "{}: {}",
                    if l.speaker == Speaker::Agent { "Agent" } else { "Caller" },
                    l.text
                )
            })
            .collect();
        let reply = llm
            .respond(&LlmRequest {
                system_prompt: "You analyse phone calls between an AI agent and a caller. Answer with one JSON \
                                object only: {\"summary\": string (two sentences at most), \"sentiment\": \
                                \"positive\"|\"neutral\"|\"negative\"|\"unknown\" (the caller's), \"resolved\": \
                                boolean (was the caller's goal met)}."
                    .into(),
                first_message: None,
                conversation: vec![ChatTurn::new(
                    ChatRole::User,
                    format!("Call {} ended: {}.\n\n{}", call.id, call.status, transcript.join("\n")),
                )],
                tools: Vec::new(),
                knowledge: Vec::new(),
            })
            .await
            .map_err(|e| e.to_string())?;
        parse_finding(&reply.text).ok_or_else(|| "the model's answer was not the JSON asked for".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(speaker: Speaker, text: &str) -> TranscriptEntry {
        TranscriptEntry {
            seq: 0,
            speaker,
            text: text.into(),
            at_ms: 0,
            interrupted: false,
            partial: false,
        }
    }

    #[test]
    fn rules_read_the_callers_words() {
        let happy = [
            line(Speaker::Agent, "Hi!"),
            line(Speaker::Caller, "Great, thanks a lot"),
            line(Speaker::Agent, "Bye"),
        ];
        let f = by_rules(&happy, true);
        assert_eq!(
            (f.sentiment.as_str(), f.resolved, f.method),
            ("positive", true, "sandbox")
        );
        assert!(f.summary.contains("Great, thanks a lot") && f.summary.contains("Bye"));
        let angry = [line(Speaker::Caller, "This is terrible, I want to cancel")];
        assert_eq!(by_rules(&angry, true).sentiment, "negative");
        assert!(!by_rules(&angry, true).resolved);
        assert_eq!(by_rules(&[], false).sentiment, "unknown");
    }

    #[test]
    fn a_models_answer_is_parsed_or_refused() {
        let f = parse_finding("Sure: {\"summary\":\"Booked.\",\"sentiment\":\"Positive\",\"resolved\":true}").unwrap();
        assert_eq!(
            (f.summary.as_str(), f.sentiment.as_str(), f.resolved),
            ("Booked.", "positive", true)
        );
        assert!(parse_finding("no json").is_none());
        assert!(parse_finding("{\"summary\":\"x\",\"sentiment\":\"angry\",\"resolved\":true}").is_none());
    }
}
