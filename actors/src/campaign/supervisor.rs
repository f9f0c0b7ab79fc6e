//! `CampaignSupervisor`: starts, finds, wakes, restarts and rehydrates the campaign actors
//! of this node. A crashed actor is restarted (with a backoff) a bounded number of times
//! per window, then given up on until the campaign is started again; a sweep starts the
//! campaigns that should run here and have no actor (leases of a dead owner expire). The
//! actors report back only through the `Supervision` interface they are handed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use actix::prelude::*;

use super::{
    CampaignActor, CampaignConfig, Exit, Supervision,
    messages::{Inspect, StopNow, Wake},
    ports::{CampaignPorts, Waker},
    snapshot::LiveView,
};

struct Entry {
    addr: Addr<CampaignActor>,
    generation: u64,
}

#[derive(Default)]
struct Book {
    actors: HashMap<String, Entry>,
    crashes: HashMap<String, Vec<Instant>>,
    /// Campaigns the supervisor gave up on (restart bound exceeded), with the last error.
    given_up: HashMap<String, String>,
    last: HashMap<String, LiveView>,
    generation: u64,
}

/// Starts, finds, wakes, restarts and rehydrates the campaign actors of this node.
#[derive(Clone)]
pub struct CampaignSupervisor {
    ports: Arc<dyn CampaignPorts>,
    cfg: CampaignConfig,
    book: Arc<Mutex<Book>>,
    arbiter: ArbiterHandle,
}

impl CampaignSupervisor {
    /// Actors run on the current arbiter.
    pub fn new(ports: Arc<dyn CampaignPorts>, cfg: CampaignConfig) -> Self {
        let supervisor = Self {
            ports,
            cfg,
            book: Arc::default(),
            arbiter: Arbiter::current(),
        };
        let book = Arc::downgrade(&supervisor.book);
        supervisor.ports.attach(Waker::new(move |campaign_id| {
            let Some(book) = book.upgrade() else {
                return;
            };
            let book = book.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(e) = book.actors.get(campaign_id) {
                e.addr.do_send(Wake { changed: false });
            }
        }));
        supervisor
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the campaign's actor unless it runs (an explicit start also lifts a
    /// previous give-up).
    pub fn ensure(&self, campaign_id: &str) {
        self.book().given_up.remove(campaign_id);
        self.spawn(campaign_id, 0);
    }

    fn spawn(&self, campaign_id: &str, restarts: u32) {
        let mut book = self.book();
        if let Some(e) = book.actors.get(campaign_id)
            && e.addr.connected()
        {
            e.addr.do_send(Wake { changed: true });
            return;
        }
        if book.given_up.contains_key(campaign_id) {
            return;
        }
        book.generation += 1;
        let generation = book.generation;
        let (id, ports, cfg, me) = (
            campaign_id.to_string(),
            self.ports.clone(),
            self.cfg.clone(),
            self.clone(),
        );
        let addr = CampaignActor::start_in_arbiter(&self.arbiter, move |_| {
            CampaignActor::new(id, ports, cfg, restarts, generation, Arc::new(me))
        });
        book.actors.insert(campaign_id.to_string(), Entry { addr, generation });
    }

    /// Wakes the actor (contacts added, settings changed) if it runs here.
    pub fn wake(&self, campaign_id: &str) {
        if let Some(e) = self.book().actors.get(campaign_id) {
            e.addr.do_send(Wake { changed: true });
        }
    }

    /// Stops the actor (delete): it releases its lease and ends.
    pub fn stop(&self, campaign_id: &str) {
        if let Some(e) = self.book().actors.remove(campaign_id) {
            e.addr.do_send(StopNow);
        }
    }

    pub fn is_running(&self, campaign_id: &str) -> bool {
        self.book().actors.get(campaign_id).is_some_and(|e| e.addr.connected())
    }

    pub fn running(&self) -> usize {
        self.book().actors.len()
    }

    /// The live view of a running actor, or the last one of an ended actor of this process.
    pub async fn inspect(&self, campaign_id: &str) -> Option<LiveView> {
        let addr = self.book().actors.get(campaign_id).map(|e| e.addr.clone());
        if let Some(addr) = addr
            && let Ok(view) = addr.send(Inspect).await
        {
            return Some(view);
        }
        let book = self.book();
        book.last.get(campaign_id).cloned().map(|mut v| {
            if let Some(e) = book.given_up.get(campaign_id) {
                v.exit = Some(format!("supervisor gave up after repeated failures: {e}"));
            }
            v
        })
    }

    /// Why the supervisor stopped restarting a campaign, if it did.
    pub fn given_up(&self, campaign_id: &str) -> Option<String> {
        self.book().given_up.get(campaign_id).cloned()
    }

    /// Starts an actor for each id (campaigns running, or paused with calls in flight).
    pub fn rehydrate(&self, campaign_ids: &[String]) -> usize {
        let mut started = 0;
        for id in campaign_ids {
            if !self.is_running(id) && !self.book().given_up.contains_key(id) {
                self.spawn(id, 0);
                started += 1;
            }
        }
        started
    }

    /// Every `sweep`: asks `list` for campaigns that should have an actor and starts the
    /// missing ones (leases of a dead owner expire and are taken over here).
    pub fn start_sweep<F, Fut>(&self, list: F)
    where
        F: Fn() -> Fut + 'static,
        Fut: std::future::Future<Output = Vec<String>> + 'static,
    {
        let me = self.clone();
        let every = self.cfg.sweep;
        actix::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let ids = list().await;
                me.rehydrate(&ids);
            }
        });
    }

    pub fn config(&self) -> &CampaignConfig {
        &self.cfg
    }

    pub fn ports(&self) -> Arc<dyn CampaignPorts> {
        self.ports.clone()
    }
}

impl Supervision for CampaignSupervisor {
    fn exited(&self, campaign_id: &str, generation: u64, exit: &Exit) {
        let restarts = {
            let mut book = self.book();
            if book.actors.get(campaign_id).is_some_and(|e| e.generation == generation) {
                book.actors.remove(campaign_id);
            }
            let Exit::Failed(err) = exit else {
                return;
            };
            let now = Instant::now();
            let window = self.cfg.restart_window;
            let crashes = book.crashes.entry(campaign_id.to_string()).or_default();
            crashes.retain(|t| now.duration_since(*t) < window);
            crashes.push(now);
            let n = u32::try_from(crashes.len()).unwrap_or(u32::MAX);
            if n > self.cfg.max_restarts {
                tracing::error!(campaign = campaign_id, error = %err, restarts = n - 1, "campaign actor keeps failing: supervisor gives up");
                book.given_up.insert(campaign_id.to_string(), err.clone());
                return;
            }
            n
        };
        tracing::warn!(campaign = campaign_id, error = ?exit, restarts, "campaign actor failed: restarting");
        let me = self.clone();
        let id = campaign_id.to_string();
        let backoff = Duration::from_millis(100).saturating_mul(1 << restarts.min(6));
        actix::spawn(async move {
            tokio::time::sleep(backoff).await;
            me.spawn(&id, restarts);
        });
    }

    /// Records the last live view of an actor that ended (for `inspect`).
    fn remember(&self, view: LiveView) {
        self.book().last.insert(view.campaign_id.clone(), view);
    }
}
