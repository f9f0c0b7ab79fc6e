//! The intents armed ahead, per campaign, in this process.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use thruai_actors::campaign::{ports::ArmedIntent, window::CallingWindow};
use thruai_entities::{call, workflow_execution};

use crate::{app::calls::AgentSetup, providers::telephony::Telephony};

/// An intent armed ahead in this process, with everything its call needs: starting it is
/// the fire statement (its call row goes in with it) and the carrier request, nothing else.
pub(super) struct Armed {
    pub(super) key: String,
    pub(super) contact_id: String,
    /// The calling window its call must start in.
    pub(super) window: Option<CallingWindow>,
    pub(super) call_row: call::Model,
    pub(super) carrier: Arc<dyn Telephony>,
    pub(super) setup: Arc<AgentSetup>,
    /// For a campaign that runs a workflow: the execution started instead of the call
    /// (its id is the intent's call id).
    pub(super) execution: Option<Box<workflow_execution::Model>>,
}

/// A campaign's intents armed ahead by one owner epoch, oldest first, and the lock its
/// fires take in turn (so that two fires never both take the last free slot).
struct Pool {
    epoch: i64,
    armed: VecDeque<Armed>,
    fire: Arc<tokio::sync::Mutex<()>>,
    /// Intents started from this pool.
    started: u64,
}

/// The intents armed ahead, per campaign: the actor arms them (and puts them back in the
/// queue when the campaign pauses or a window closes); whoever fills a free slot takes the
/// oldest one whose window is open — the actor on its tick, or the dial task of a call
/// that just ended, before the actor hears of the end.
#[derive(Clone, Default)]
pub struct Pools(Arc<Mutex<HashMap<String, Pool>>>);

impl Pools {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pool>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An empty pool for the campaign's new owner epoch (what an earlier one armed is gone).
    pub(super) fn reset(&self, campaign_id: &str, epoch: i64) {
        self.lock().insert(
            campaign_id.to_string(),
            Pool {
                epoch,
                armed: VecDeque::new(),
                fire: Arc::default(),
                started: 0,
            },
        );
    }

    pub(super) fn forget(&self, campaign_id: &str) {
        self.lock().remove(campaign_id);
    }

    pub(super) fn push(&self, campaign_id: &str, epoch: i64, armed: Vec<Armed>) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.armed.extend(armed);
        }
    }

    /// Puts back an intent that could not start (at the cap, or paused): first in line.
    pub(super) fn put_back(&self, campaign_id: &str, epoch: i64, armed: Armed) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.armed.push_front(armed);
        }
    }

    /// The oldest armed intent whose window is open at `now`, with the epoch that armed it
    /// and the campaign's fire lock.
    pub(super) fn take(
        &self,
        campaign_id: &str,
        now: DateTime<Utc>,
    ) -> Option<(i64, Arc<tokio::sync::Mutex<()>>, Armed)> {
        let mut pools = self.lock();
        let p = pools.get_mut(campaign_id)?;
        let at = p
            .armed
            .iter()
            .position(|a| a.window.as_ref().is_none_or(|w| w.is_open(now)))?;
        let a = p.armed.remove(at)?;
        Some((p.epoch, p.fire.clone(), a))
    }

    /// Takes the listed intents out (those still here).
    pub(super) fn remove(&self, campaign_id: &str, keys: &HashSet<&str>) -> Vec<Armed> {
        let mut pools = self.lock();
        let Some(p) = pools.get_mut(campaign_id) else {
            return Vec::new();
        };
        let (out, keep): (Vec<Armed>, Vec<Armed>) = p.armed.drain(..).partition(|a| keys.contains(a.key.as_str()));
        p.armed = keep.into();
        out
    }

    pub(super) fn started(&self, campaign_id: &str, epoch: i64) {
        if let Some(p) = self.lock().get_mut(campaign_id)
            && p.epoch == epoch
        {
            p.started += 1;
        }
    }

    /// Intents started from the campaign's pool.
    pub(super) fn started_count(&self, campaign_id: &str) -> u64 {
        self.lock().get(campaign_id).map_or(0, |p| p.started)
    }

    pub(super) fn list(&self, campaign_id: &str) -> Vec<ArmedIntent> {
        self.lock().get(campaign_id).map_or_else(Vec::new, |p| {
            p.armed
                .iter()
                .map(|a| ArmedIntent {
                    intent_key: a.key.clone(),
                    contact_id: a.contact_id.clone(),
                    window: a.window.clone(),
                })
                .collect()
        })
    }
}
