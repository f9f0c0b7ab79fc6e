//! Messages of the webhook actor and its supervisor.

use actix::prelude::*;

use super::snapshot::{EndpointSnapshot, WebhookSnapshot};

/// Deliveries may be due: claim and send them.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Wake;

/// The subscription changed (URL, secret, active flag).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Reload(pub EndpointSnapshot);

/// Stop delivering (disabled, deleted, or shutting down). In-flight attempts are dropped
/// unrecorded; their leases expire and they are retried, exactly as after a crash.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Stop;

/// Operator inspection.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "WebhookSnapshot")]
pub struct Inspect;

/// Supervisor: start, reload or stop the actor of `webhook_id` after a change.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct EnsureWebhook(pub String);

/// Supervisor: wake these subscriptions' actors (starting them when needed).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct WakeWebhooks(pub Vec<String>);

/// Supervisor: an actor stopped; `crashed` when it did not stop on request.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ActorStopped {
    pub webhook_id: String,
    pub crashed: bool,
    /// Which start of that subscription's actor stopped (a newer one may be running).
    pub generation: u64,
}

/// Supervisor: stop every actor and the dispatcher.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Supervisor: inspect one subscription's actor.
#[derive(Message, Debug, Clone)]
#[rtype(result = "Option<WebhookSnapshot>")]
pub struct InspectWebhook(pub String);

/// Supervisor: how many actors are running.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "usize")]
pub struct CountActors;
