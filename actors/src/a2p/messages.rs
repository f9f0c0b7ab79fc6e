//! Messages an `A2pActor` handles.

use actix::Message;

use super::state::{Event, Registration};

/// Feed one event through the state machine and carry out its effects; answers the
/// registration as it stands afterwards.
#[derive(Message)]
#[rtype(result = "Registration")]
pub struct Apply(pub Event);
