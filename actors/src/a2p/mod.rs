//! `A2pActor`: one per A2P brand or campaign registration. It submits (after recording an
//! intent), polls the carrier with backoff while review lasts, and persists every change
//! with its event. `A2pSupervisor` (`supervisor.rs`) starts, finds and rehydrates them.

pub mod messages;
pub mod ports;
pub mod snapshot;
pub mod state;
pub mod supervisor;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::prelude::*;
pub use messages::Apply;
use ports::{A2pPorts, CarrierRegistry, PortError};
use state::{Effect, Event, Registration};

/// After a failed snapshot write the actor tries to resume this much later.
const PERSIST_RETRY: Duration = Duration::from_secs(5);
/// Events one `Apply` may chain (submit → acknowledged → …) before yielding.
const MAX_CHAIN: usize = 16;

/// The running actors by registration id: the supervisor's book, which an actor leaves
/// when it stops.
type Actors = Arc<Mutex<HashMap<String, Addr<A2pActor>>>>;

pub struct A2pActor {
    reg: Option<Registration>,
    ports: Arc<dyn A2pPorts>,
    actors: Actors,
    timer: Option<SpawnHandle>,
}

impl A2pActor {
    /// The actor of `reg`, which leaves `actors` when it stops.
    fn new(reg: Registration, ports: Arc<dyn A2pPorts>, actors: Actors) -> Self {
        Self {
            reg: Some(reg),
            ports,
            actors,
            timer: None,
        }
    }
}

impl Actor for A2pActor {
    type Context = Context<Self>;

    fn stopping(&mut self, _: &mut Self::Context) -> Running {
        // Every transition was persisted when it happened; only the supervisor's entry remains.
        if let Some(reg) = &self.reg
            && let Ok(mut map) = self.actors.lock()
        {
            map.remove(&reg.id);
        }
        Running::Stop
    }
}

/// Runs `first` and the events its effects produce, in order, against the ports. Returns
/// the resulting registration and the timer to set, if any.
async fn drive(ports: Arc<dyn A2pPorts>, mut reg: Registration, first: Event) -> (Registration, Option<Duration>) {
    let backoff = ports.backoff();
    let mut queue = vec![first];
    let mut timer = None;
    let mut registry: Option<Arc<dyn CarrierRegistry>> = None;
    let mut chained = 0;
    while let Some(event) = queue.pop() {
        chained += 1;
        if chained > MAX_CHAIN {
            timer = Some(backoff.initial);
            break;
        }
        let (next, effects) = match reg.clone().on(event, &backoff) {
            Ok(step) => step,
            Err(e) => {
                tracing::warn!(id = %reg.id, error = %e, "ignored an A2P event");
                continue;
            }
        };
        reg = next;
        for effect in effects {
            let follow = match effect {
                Effect::Persist(change) => {
                    if let Err(e) = ports.persist(&reg, change.as_ref()).await {
                        // Never send what was not recorded: stop here and resume later.
                        tracing::error!(id = %reg.id, error = %e, "persisting an A2P snapshot failed");
                        return (reg, Some(PERSIST_RETRY));
                    }
                    None
                }
                Effect::Schedule(after) => {
                    timer = Some(after);
                    None
                }
                Effect::Submit { key } => Some(match carrier(&ports, &reg, &mut registry).await {
                    Ok(r) => match r.submit(reg.kind, &key, &reg.payload).await {
                        Ok(carrier_ref) => {
                            ports.failpoint("a2p_abort_after_submit");
                            Event::Submitted { carrier_ref }
                        }
                        Err(e) => Event::SubmitFailed {
                            reason: e.message,
                            transient: e.transient,
                        },
                    },
                    Err(e) => Event::SubmitFailed {
                        reason: e.message,
                        transient: true,
                    },
                }),
                Effect::Lookup { key } => Some(
                    match carrier(&ports, &reg, &mut registry)
                        .await
                        .map(|r| async move { r.lookup(reg.kind, &key).await })
                    {
                        Ok(fut) => match fut.await {
                            Ok(carrier_ref) => Event::Reconciled { carrier_ref },
                            Err(e) => Event::LookupFailed { reason: e.message },
                        },
                        Err(e) => Event::LookupFailed { reason: e.message },
                    },
                ),
                Effect::Poll { carrier_ref } => Some(match carrier(&ports, &reg, &mut registry).await {
                    Ok(r) => match r.poll(reg.kind, &carrier_ref).await {
                        Ok(status) => Event::Polled(status),
                        Err(e) => Event::PollFailed { reason: e.message },
                    },
                    Err(e) => Event::PollFailed { reason: e.message },
                }),
            };
            if let Some(event) = follow {
                queue.push(event);
            }
        }
    }
    if reg.phase.is_terminal() {
        timer = None;
    }
    (reg, timer)
}

async fn carrier(
    ports: &Arc<dyn A2pPorts>,
    reg: &Registration,
    cached: &mut Option<Arc<dyn CarrierRegistry>>,
) -> Result<Arc<dyn CarrierRegistry>, PortError> {
    if let Some(r) = cached {
        return Ok(r.clone());
    }
    let r = ports.registry(&reg.org_id).await?;
    *cached = Some(r.clone());
    Ok(r)
}

impl Handler<Apply> for A2pActor {
    type Result = AtomicResponse<Self, Registration>;

    /// `AtomicResponse`: no other event may interleave with a submission or a poll, so the
    /// snapshot always follows the order of events.
    fn handle(&mut self, Apply(event): Apply, _: &mut Context<Self>) -> Self::Result {
        let ports = self.ports.clone();
        let Some(reg) = self.reg.clone() else {
            return AtomicResponse::new(Box::pin(actix::fut::ready(Registration::new(
                "",
                "",
                state::Kind::Brand,
                serde_json::Value::Null,
            ))));
        };
        AtomicResponse::new(Box::pin(drive(ports, reg, event).into_actor(self).map(
            |(reg, timer), act, ctx| {
                if let Some(handle) = act.timer.take() {
                    ctx.cancel_future(handle);
                }
                if let Some(after) = timer {
                    act.timer = Some(ctx.run_later(after, |_, ctx| {
                        ctx.address().do_send(Apply(Event::PollDue));
                    }));
                }
                act.reg = Some(reg.clone());
                if reg.phase.is_terminal() {
                    ctx.stop();
                }
                reg
            },
        )))
    }
}
