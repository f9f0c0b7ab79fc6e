//! `A2pSupervisor`: starts, finds and rehydrates the A2P actors of this node. Each actor is
//! handed the supervisor's book of running actors and leaves it when it stops.

use std::sync::Arc;

use actix::prelude::*;

use super::{
    A2pActor, Actors,
    messages::Apply,
    ports::{A2pPorts, PortError},
    state::{Event, Registration},
};

/// Starts, finds and rehydrates the A2P actors of this node. Cheap to clone.
#[derive(Clone)]
pub struct A2pSupervisor {
    ports: Arc<dyn A2pPorts>,
    actors: Actors,
    arbiter: ArbiterHandle,
}

impl A2pSupervisor {
    /// Actors run on the current arbiter (call from the server's main arbiter).
    pub fn new(ports: Arc<dyn A2pPorts>) -> Self {
        Self {
            ports,
            actors: Arc::default(),
            arbiter: Arbiter::current(),
        }
    }

    fn spawn(&self, reg: Registration) -> Addr<A2pActor> {
        let id = reg.id.clone();
        let ports = self.ports.clone();
        let actors = self.actors.clone();
        let addr = A2pActor::start_in_arbiter(&self.arbiter, move |_| A2pActor::new(reg, ports, actors));
        if let Ok(mut map) = self.actors.lock() {
            map.insert(id, addr.clone());
        }
        addr
    }

    fn find(&self, id: &str) -> Option<Addr<A2pActor>> {
        self.actors
            .lock()
            .ok()
            .and_then(|map| map.get(id).cloned())
            .filter(Addr::connected)
    }

    /// Starts the actor of a new (draft, already stored) registration and submits it.
    pub fn submit(&self, reg: Registration) {
        self.spawn(reg).do_send(Apply(Event::Submit));
    }

    /// Starts the actor of a registration stored with its submission intent, and sends it.
    pub fn send_recorded(&self, reg: Registration) {
        self.spawn(reg).do_send(Apply(Event::SendIntent));
    }

    /// Starts an actor for every registration still under way; returns how many.
    ///
    /// # Errors
    /// When the snapshots cannot be read.
    pub async fn rehydrate(&self) -> Result<usize, PortError> {
        let active = self.ports.load_active().await?;
        let n = active.len();
        for reg in active {
            if self.find(&reg.id).is_none() {
                self.spawn(reg).do_send(Apply(Event::Resume));
            }
        }
        Ok(n)
    }

    /// Polls the carrier now; `None` when no actor runs for `id` (a terminal registration).
    pub async fn refresh(&self, id: &str) -> Option<Registration> {
        let addr = self.find(id)?;
        addr.send(Apply(Event::PollDue)).await.ok()
    }

    /// Ids of the registrations with a running actor.
    pub fn running(&self) -> Vec<String> {
        self.actors
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}
