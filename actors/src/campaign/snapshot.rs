//! What a campaign's actor shows and keeps: its live view (`LiveView`: what it does and
//! why it does not dial, with the last transitions of its contacts), served by
//! `/_debug/campaigns/:id` and written as the campaign's snapshot when the actor passivates.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::state::CampaignStatus;

/// One step of a contact, as shown by `/_debug/campaigns/:id`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionNote {
    pub at: DateTime<Utc>,
    pub contact_id: String,
    pub to: &'static str,
    pub detail: String,
}

/// The actor's live state (what it does and why it does not dial).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveView {
    pub campaign_id: String,
    pub alive: bool,
    pub epoch: i64,
    pub status: Option<CampaignStatus>,
    pub ticks: u64,
    pub last_tick_at: Option<DateTime<Utc>>,
    pub in_flight: u64,
    pub max_concurrent: u32,
    pub org_headroom: Option<u64>,
    pub dials_started: u64,
    /// Intents armed ahead in this process, not started yet.
    pub armed: u64,
    /// Intents armed ahead put back in the queue (paused, window closed).
    pub released: u64,
    pub settled: u64,
    pub suppressed: u64,
    pub deferred: u64,
    pub reconciled_found: u64,
    pub reconciled_redialled: u64,
    pub window_open: Option<bool>,
    pub next_window_opening: Option<DateTime<Utc>>,
    pub next_due_at: Option<DateTime<Utc>>,
    /// Why no call is being started right now (`None` while dialling).
    pub not_dialing_because: Option<String>,
    pub last_transitions: VecDeque<TransitionNote>,
    pub last_error: Option<String>,
    pub restarts: u32,
    pub exit: Option<String>,
    /// Messages received by the actor and not yet handled by its loop.
    pub mailbox_pending: u64,
    pub messages_received: u64,
}

const KEEP_TRANSITIONS: usize = 20;

impl LiveView {
    pub(super) fn note(&mut self, contact_id: &str, to: &'static str, detail: String) {
        if self.last_transitions.len() == KEEP_TRANSITIONS {
            self.last_transitions.pop_front();
        }
        self.last_transitions.push_back(TransitionNote {
            at: Utc::now(),
            contact_id: contact_id.to_string(),
            to,
            detail,
        });
    }
}

/// The live view as JSON (for the snapshot column).
pub fn view_json(v: &LiveView) -> Value {
    serde_json::to_value(v).unwrap_or_else(|_| json!({}))
}
