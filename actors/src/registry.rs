//! `CallRegistry`: call id → the live call's handle, shared by every HTTP worker. A map
//! behind a mutex (lookups are a hash probe; no actor hop on the media path). Start-up
//! recovery of calls left open by a crash is the application's (it owns the store).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use actix::Actor;

use crate::{
    call::{CallActor, CallHandle, CallSetup, snapshot::CallSnapshotV1},
    ports::Ports,
};

#[derive(Clone, Default)]
pub struct CallRegistry {
    calls: Arc<Mutex<HashMap<String, CallHandle>>>,
}

impl CallRegistry {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, CallHandle>> {
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts the call's actor on the current arbiter and registers it.
    pub fn start(&self, setup: CallSetup, ports: Ports, snapshot: CallSnapshotV1) -> CallHandle {
        let id = setup.call_id.clone();
        let addr = CallActor::new(setup, ports, snapshot, Some(self.clone())).start();
        let handle = CallHandle::new(addr);
        self.lock().insert(id, handle.clone());
        handle
    }

    /// The live call, if any (a handle whose actor died is reaped).
    pub fn get(&self, call_id: &str) -> Option<CallHandle> {
        let mut calls = self.lock();
        match calls.get(call_id) {
            Some(h) if h.is_alive() => Some(h.clone()),
            Some(_) => {
                calls.remove(call_id);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// Live calls.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids of the live calls.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }
}
