//! Messages of the workflow actors and their supervisor.

use actix::prelude::*;

/// Supervisor: run this execution now (unless this process already runs it).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Run(pub String);

/// Supervisor: an execution's actor stopped (finished, parked or lost its lease).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Stopped(pub String);

/// Supervisor: how many executions this process runs now.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "usize")]
pub struct CountRunning;

/// Supervisor: stop looking for due executions (running steps end where they are; their
/// leases expire and another process resumes them).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown;
