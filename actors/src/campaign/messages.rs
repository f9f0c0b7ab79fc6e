//! Messages of the `CampaignActor`, from its supervisor.

use actix::Message;

use super::snapshot::LiveView;

/// `changed`: the campaign changed (re-read it); else one of its calls ended (refill).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Wake {
    pub(super) changed: bool,
}

/// Release the lease and end (the campaign was deleted).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct StopNow;

/// The live view, with the messages not yet handled.
#[derive(Message)]
#[rtype(result = "LiveView")]
pub(super) struct Inspect;
