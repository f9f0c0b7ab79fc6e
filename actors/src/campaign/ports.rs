//! What the campaign actor needs from the server: the owner lease, the contact queue, the
//! dial intents and their reconciliation with the carrier, and the suppression lists. Every
//! method that writes takes the owner epoch and fails with [`PortError::Fenced`] when the
//! lease moved to a newer owner.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    state::{CampaignStatus, Decision, Outcome, RetryPolicy},
    window::CallingWindow,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum PortError {
    /// Another owner holds a newer epoch: stop writing.
    #[error("fenced: the campaign is owned by a newer epoch")]
    Fenced,
    #[error("{0}")]
    Unavailable(String),
}

/// The campaign as the actor sees it on each tick.
#[derive(Debug, Clone)]
pub struct CampaignView {
    pub org_id: String,
    pub status: CampaignStatus,
    pub max_concurrent: u32,
    pub window: Option<CallingWindow>,
    pub retry: RetryPolicy,
}

/// A contact whose turn it is (with what its call needs: no second read to dial it).
#[derive(Debug, Clone)]
pub struct DueContact {
    pub id: String,
    pub phone_number: String,
    pub timezone: Option<String>,
    pub attempts: u32,
    /// Its place in the queue (numbers of a pool are used in turn by position).
    pub position: i64,
    pub name: Option<String>,
    pub custom_data: serde_json::Value,
    /// On the organisation's do-not-call list (opted out) when it was read: suppressed,
    /// never dialled.
    pub opted_out: bool,
}

/// A dial whose call has ended.
#[derive(Debug, Clone)]
pub struct Finished {
    pub intent_key: String,
    pub contact_id: String,
    pub attempt: u32,
    pub outcome: Outcome,
}

/// The decision for a finished dial.
#[derive(Debug, Clone)]
pub struct Settle {
    pub intent_key: String,
    pub contact_id: String,
    pub outcome: Outcome,
    pub decision: Decision,
    pub retry_at: Option<DateTime<Utc>>,
}

/// A dial intent recorded but never acknowledged by the carrier.
#[derive(Debug, Clone)]
pub struct InDoubt {
    pub intent_key: String,
    pub contact_id: String,
    pub call_id: String,
    pub created_at: DateTime<Utc>,
}

/// What reconciling an in-doubt intent found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// The carrier has the call: its id was recorded, nothing was redialled.
    Found(String),
    /// The carrier never got it: dialled again under the same key.
    Redialled,
    /// Being dialled by this process right now: left alone.
    InFlightHere,
}

/// A contact to arm ahead, with the calling window its call must start in (`None`: any
/// time).
#[derive(Debug, Clone)]
pub struct Ahead {
    pub contact: DueContact,
    pub window: Option<CallingWindow>,
}

/// An intent armed ahead and not started yet.
#[derive(Debug, Clone)]
pub struct ArmedIntent {
    pub intent_key: String,
    pub contact_id: String,
    pub window: Option<CallingWindow>,
}

/// Counts that decide whether the campaign is done.
#[derive(Debug, Clone, Copy, Default)]
pub struct Remaining {
    /// Queued contacts (due or not).
    pub queued: u64,
    /// Queued contacts due now.
    pub due: u64,
    pub in_progress: u64,
    /// Dial intents not yet settled.
    pub open_dials: u64,
    /// The earliest `next_attempt_at` of a waiting contact.
    pub next_due: Option<DateTime<Utc>>,
}

/// Wakes a campaign's actor from outside it — the server's dial tasks, when one of its
/// calls ends — without keeping the supervisor alive: given to [`CampaignPorts::attach`].
#[derive(Clone)]
pub struct Waker(Arc<dyn Fn(&str) + Send + Sync>);

impl Waker {
    pub fn new(wake: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Arc::new(wake))
    }

    /// One of the campaign's calls ended: its actor settles it and refills the slot at once
    /// (without reading the campaign again when it did so within the last tick).
    pub fn call_ended(&self, campaign_id: &str) {
        (self.0)(campaign_id);
    }
}

#[async_trait]
pub trait CampaignPorts: Send + Sync {
    /// Takes the owner lease (epoch + 1) when it is free or expired; `None` when another
    /// owner holds a live lease or the campaign is gone.
    /// Receives the supervisor's [`Waker`] once, when the supervisor is built: the dial
    /// tasks the server starts use it to wake a campaign's actor when one of its calls ends.
    fn attach(&self, _waker: Waker) {}
    async fn claim(&self, campaign_id: &str) -> Result<Option<i64>, PortError>;
    /// Extends the lease and reads the campaign; `None` when it was deleted.
    async fn renew(&self, campaign_id: &str, epoch: i64) -> Result<Option<CampaignView>, PortError>;
    /// Gives the lease up (a paused or completed campaign's actor passivates).
    async fn release(&self, campaign_id: &str, epoch: i64) -> Result<(), PortError>;
    /// Dials not settled yet whose call reached a final status, or stayed open longer than
    /// the longest call allowed (those are hung up and end as `failed`); and how many dials
    /// started are not settled in all (those finished included; armed intents are not
    /// started), read with them.
    async fn finished(&self, campaign_id: &str, limit: u64) -> Result<(Vec<Finished>, u64), PortError>;
    /// Applies the decisions (contact status, retry schedule, intent done), in one transaction.
    async fn settle(&self, campaign_id: &str, epoch: i64, settles: &[Settle]) -> Result<(), PortError>;
    /// How many more calls the organisation may have open now.
    async fn org_headroom(&self, org_id: &str) -> Result<u64, PortError>;
    /// Intents recorded at least `older_than` ago that the carrier never acknowledged.
    async fn in_doubt(&self, campaign_id: &str, older_than: DateTime<Utc>) -> Result<Vec<InDoubt>, PortError>;
    /// Asks the carrier about an in-doubt intent; records the call it had, or dials again
    /// with the same key.
    async fn reconcile(&self, campaign_id: &str, epoch: i64, intent: &InDoubt) -> Result<Reconciled, PortError>;
    /// Up to `limit` queued contacts due at `now`, in queue order (only those with their
    /// own time zone when `with_timezone_only`), each with whether it opted out.
    async fn due_contacts(
        &self,
        campaign_id: &str,
        now: DateTime<Utc>,
        limit: u64,
        with_timezone_only: bool,
    ) -> Result<Vec<DueContact>, PortError>;
    async fn suppress(&self, campaign_id: &str, epoch: i64, contact_id: &str) -> Result<(), PortError>;
    /// Leaves a contact queued until `until` (its calling window opens).
    async fn defer(
        &self,
        campaign_id: &str,
        epoch: i64,
        contact_id: &str,
        until: DateTime<Utc>,
    ) -> Result<(), PortError>;
    /// Applies `settles` and records intents *ahead* for `contacts`, in one fenced
    /// transaction: each contact still queued moves to `in_progress` and gets its dial
    /// intent (with its derived key) in the `armed` state, which is not a call: it does not
    /// count towards `maxConcurrentCalls` and nothing is sent to the carrier for it (a
    /// contact no longer queued is left out; no intent at all once the campaign is not
    /// running). An armed intent is started by [`CampaignPorts::fire`], or by the server at
    /// once when one of the campaign's calls ends, and only inside the window it is armed
    /// with. Returns `(contact id, intent key)` of each contact armed, in order.
    async fn arm(
        &self,
        campaign_id: &str,
        epoch: i64,
        settles: &[Settle],
        contacts: &[Ahead],
    ) -> Result<Vec<(String, String)>, PortError>;
    /// Starts up to `n` armed intents whose window is open (oldest first): each one, fenced,
    /// only while the campaign is running and has fewer calls in flight than
    /// `maxConcurrentCalls` as it stands at that moment, becomes `pending` with its call
    /// row, then the carrier is asked in the background. Returns `(contact id, intent key)`
    /// of each intent started.
    async fn fire(&self, campaign_id: &str, epoch: i64, n: u64) -> Result<Vec<(String, String)>, PortError>;
    /// The intents armed ahead in this process and not started yet.
    fn armed(&self, campaign_id: &str) -> Vec<ArmedIntent>;
    /// How many armed intents this owner started in this process (by [`CampaignPorts::fire`]
    /// or in the slot of a call that ended).
    fn started(&self, campaign_id: &str) -> u64;
    /// Puts armed intents back in the queue (fenced): every armed intent of the campaign
    /// (`None`), or those listed, each with the time its contact is due again (`None`: at
    /// once). An intent started meanwhile is left alone. Returns how many went back.
    async fn release_armed(
        &self,
        campaign_id: &str,
        epoch: i64,
        which: Option<&[(String, Option<DateTime<Utc>>)]>,
    ) -> Result<u64, PortError>;
    async fn remaining(&self, campaign_id: &str, now: DateTime<Utc>) -> Result<Remaining, PortError>;
    /// `running → completed` (fenced); false when it was not running any more.
    async fn complete(&self, campaign_id: &str, epoch: i64) -> Result<bool, PortError>;
    /// Writes the actor's live view as the campaign's snapshot (fenced).
    async fn snapshot(&self, campaign_id: &str, epoch: i64, view: &serde_json::Value) -> Result<(), PortError>;
    /// Crash-test hook: may abort the process at a named point.
    fn failpoint(&self, _name: &str) {}
}
