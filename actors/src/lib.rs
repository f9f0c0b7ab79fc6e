//! The actors: long-lived, stateful things with a pure state machine each, persisted as
//! versioned snapshots. They depend on ports (traits) the server crate implements.
#![forbid(unsafe_code)]

pub mod a2p;

pub use a2p::{A2pActor, A2pSupervisor};
