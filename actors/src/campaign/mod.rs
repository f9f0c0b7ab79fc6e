//! `CampaignActor`: one per running campaign on the node that holds its lease. It ticks
//! (or wakes on a message), renews its lease, settles finished calls through the retry
//! policy, reconciles in-doubt dial intents with the carrier, and dials the next due
//! contacts up to the concurrency cap, inside each contact's calling window. The loop runs
//! as a task the actor watches.
//!
//! Beside it: the pure campaign and contact lifecycle (`state.rs`), calling windows
//! (`window.rs`), its live view and snapshot (`snapshot.rs`), its messages
//! (`messages.rs`), the ports the server implements (`ports.rs`), and `CampaignSupervisor`
//! (`supervisor.rs`), which restarts a crashed actor a bounded number of times per window
//! and rehydrates campaigns after a restart.

mod messages;
pub mod ports;
pub mod snapshot;
pub mod state;
pub mod supervisor;
pub mod window;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;

use self::{
    messages::{Inspect, StopNow, Wake},
    ports::{Ahead, CampaignPorts, CampaignView, Finished, PortError, Reconciled, Settle},
    snapshot::LiveView,
    state::{CampaignStatus, Decision, RetryPolicy, after_call},
};

/// Timing and bounds of the campaign actors.
#[derive(Debug, Clone)]
pub struct CampaignConfig {
    /// Pause between ticks when nothing wakes the actor.
    pub tick: Duration,
    /// An intent unacknowledged this long (and not being dialled here) is in doubt.
    pub in_doubt_after: Duration,
    /// Restarts allowed per `restart_window` before the supervisor gives up.
    pub max_restarts: u32,
    pub restart_window: Duration,
    /// How often the supervisor looks for running campaigns without an actor.
    pub sweep: Duration,
    /// Intents armed ahead for the next free slots (at most the campaign's cap), so that a
    /// call's end is followed by the next carrier request alone.
    pub dial_ahead: u32,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        Self {
            tick: Duration::from_millis(200),
            in_doubt_after: Duration::from_secs(5),
            max_restarts: 5,
            restart_window: Duration::from_secs(60),
            sweep: Duration::from_secs(5),
            dial_ahead: 10,
        }
    }
}

/// Why a loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Exit {
    Completed,
    /// Paused (or draft) with nothing in flight: passivated.
    Idle,
    Fenced,
    Deleted,
    NotOwner,
    Stopped,
    Failed(String),
}

impl Exit {
    fn describe(&self) -> String {
        match self {
            Self::Completed => "completed".into(),
            Self::Idle => "paused with no call in flight: passivated".into(),
            Self::Fenced => "fenced: another owner took the lease".into(),
            Self::Deleted => "the campaign was deleted".into(),
            Self::NotOwner => "another owner holds a live lease".into(),
            Self::Stopped => "stopped".into(),
            Self::Failed(e) => format!("failed: {e}"),
        }
    }
}

struct Shared {
    live: Mutex<LiveView>,
    wake: Notify,
    stop: AtomicBool,
    pending: AtomicU64,
    /// Woken by a change of the campaign (not just a call's end): read it again.
    changed: AtomicBool,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, LiveView> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn fail(e: PortError) -> Exit {
    match e {
        PortError::Fenced => Exit::Fenced,
        PortError::Unavailable(m) => Exit::Failed(m),
    }
}

/// Events settled per tick.
const SETTLE_BATCH: u64 = 500;

async fn run(id: String, ports: Arc<dyn CampaignPorts>, cfg: CampaignConfig, shared: Arc<Shared>) -> Exit {
    let epoch = match ports.claim(&id).await {
        Ok(Some(e)) => e,
        Ok(None) => return Exit::NotOwner,
        Err(e) => return fail(e),
    };
    shared.live().epoch = epoch;
    let mut first = true;
    let mut last_reconcile = Instant::now();
    let mut cached: Option<(Instant, CampaignView)> = None;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            let _ = ports.release(&id, epoch).await;
            return Exit::Stopped;
        }
        shared.pending.store(0, Ordering::SeqCst);
        let reconcile = first || last_reconcile.elapsed() >= cfg.in_doubt_after / 2;
        if reconcile {
            last_reconcile = Instant::now();
        }
        // Anything but a call's end (contacts added, settings changed, started, paused)
        // makes the tick read the campaign again.
        let renew = shared.changed.swap(false, Ordering::SeqCst);
        let pass = Pass {
            first,
            reconcile,
            renew,
        };
        match tick(&id, epoch, &ports, &cfg, &shared, pass, &mut cached).await {
            Ok(None) => {}
            Ok(Some(exit)) => {
                if matches!(exit, Exit::Idle | Exit::Completed) {
                    let view = serde_json::to_value(&*shared.live()).unwrap_or(Value::Null);
                    let _ = ports.snapshot(&id, epoch, &view).await;
                    let _ = ports.release(&id, epoch).await;
                }
                return exit;
            }
            Err(e) => return fail(e),
        }
        first = false;
        let _ = tokio::time::timeout(cfg.tick, shared.wake.notified()).await;
    }
}

/// The retry policy's decision for each finished dial.
fn decide(finished: &[Finished], retry: &RetryPolicy, now: DateTime<Utc>) -> Vec<Settle> {
    finished
        .iter()
        .map(|f| {
            let decision = after_call(f.outcome, f.attempt, retry);
            let retry_at = match decision {
                Decision::Retry { delay_secs } => {
                    Some(now + chrono::Duration::seconds(i64::try_from(delay_secs).unwrap_or(i64::MAX / 2)))
                }
                _ => None,
            };
            Settle {
                intent_key: f.intent_key.clone(),
                contact_id: f.contact_id.clone(),
                outcome: f.outcome,
                decision,
                retry_at,
            }
        })
        .collect()
}

fn note_settled(shared: &Shared, settles: &[Settle]) {
    let mut live = shared.live();
    live.settled += settles.len() as u64;
    for s in settles {
        let to = match s.decision {
            Decision::Complete => "completed",
            Decision::Retry { .. } => "queued",
            Decision::Fail => "failed",
        };
        live.note(&s.contact_id, to, format!("call ended: {}", s.outcome.as_str()));
    }
}

/// Applies settles on their own (when no intent is recorded with them).
async fn apply_settles(
    id: &str,
    epoch: i64,
    ports: &Arc<dyn CampaignPorts>,
    shared: &Shared,
    settles: &[Settle],
) -> Result<(), PortError> {
    if settles.is_empty() {
        return Ok(());
    }
    ports.settle(id, epoch, settles).await?;
    note_settled(shared, settles);
    Ok(())
}

/// What one pass of the loop must do besides settling and dialling.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// The first tick after the lease was claimed: every unacknowledged intent is in doubt.
    first: bool,
    /// Look for in-doubt intents.
    reconcile: bool,
    /// Read the campaign again (it changed).
    renew: bool,
}

async fn tick(
    id: &str,
    epoch: i64,
    ports: &Arc<dyn CampaignPorts>,
    cfg: &CampaignConfig,
    shared: &Arc<Shared>,
    pass: Pass,
    cached: &mut Option<(Instant, CampaignView)>,
) -> Result<Option<Exit>, PortError> {
    let Pass {
        first,
        reconcile,
        renew,
    } = pass;
    let now = Utc::now();
    // The campaign is read (and the lease renewed) on every timed tick and after any change
    // through the API; a refill after a call ended reuses the last read. Nothing is lost by
    // that: each write is fenced, and the intents' transaction checks the status and the
    // cap again under the campaign row's lock.
    let view = match cached.as_ref() {
        Some((at, v)) if !renew && at.elapsed() < cfg.tick => v.clone(),
        _ => {
            let Some(v) = ports.renew(id, epoch).await? else {
                return Ok(Some(Exit::Deleted));
            };
            *cached = Some((Instant::now(), v.clone()));
            v
        }
    };
    {
        let mut live = shared.live();
        live.ticks += 1;
        live.last_tick_at = Some(now);
        live.status = Some(view.status);
        live.max_concurrent = view.max_concurrent;
    }
    // 1. Outcomes of finished calls. The last batch is applied in the same transaction as
    //    the intents that refill their slots (below), or on its own when nothing is dialled.
    let mut settles: Vec<Settle> = Vec::new();
    let mut unsettled;
    loop {
        let (finished, open_dials) = ports.finished(id, SETTLE_BATCH).await?;
        unsettled = open_dials;
        if finished.is_empty() {
            break;
        }
        let batch = decide(&finished, &view.retry, now);
        if (finished.len() as u64) < SETTLE_BATCH {
            settles = batch;
            break;
        }
        ports.settle(id, epoch, &batch).await?;
        note_settled(shared, &batch);
    }
    // 2. In-doubt intents (after a crash: the carrier is asked, never redialled blind).
    let older_than = if first {
        now
    } else {
        now - chrono::Duration::from_std(cfg.in_doubt_after).unwrap_or_default()
    };
    let in_doubt = if reconcile {
        ports.in_doubt(id, older_than).await?
    } else {
        Vec::new()
    };
    for intent in in_doubt {
        let r = ports.reconcile(id, epoch, &intent).await?;
        let mut live = shared.live();
        match r {
            Reconciled::Found(sid) => {
                live.reconciled_found += 1;
                live.note(
                    &intent.contact_id,
                    "in_progress",
                    format!("in-doubt dial found at the carrier ({sid})"),
                );
            }
            Reconciled::Redialled => {
                live.reconciled_redialled += 1;
                live.note(
                    &intent.contact_id,
                    "in_progress",
                    "in-doubt dial unknown to the carrier: dialled under the same key".into(),
                );
            }
            Reconciled::InFlightHere => {}
        }
    }
    // 3. Dialling. The dials being settled free their slots (reconciling changed no count).
    let open = unsettled.saturating_sub(settles.len() as u64);
    shared.live().in_flight = open;
    if view.status != CampaignStatus::Running {
        apply_settles(id, epoch, ports, shared, &settles).await?;
        // Intents armed ahead are not dialled while paused: back to the queue.
        let released = ports.release_armed(id, epoch, None).await?;
        note_released(shared, released, "the campaign is not running");
    }
    match view.status {
        CampaignStatus::Running => {}
        CampaignStatus::Completed => return Ok(Some(Exit::Completed)),
        CampaignStatus::Draft | CampaignStatus::Paused => {
            shared.live().not_dialing_because = Some(format!(
                "the campaign is {}{}",
                view.status.as_str(),
                if open > 0 {
                    format!("; waiting for {open} call(s) in flight to end")
                } else {
                    String::new()
                }
            ));
            return Ok(if open == 0 { Some(Exit::Idle) } else { None });
        }
    }
    let campaign_open = view.window.as_ref().is_none_or(|w| w.is_open(now));
    let cap_room = u64::from(view.max_concurrent).saturating_sub(open);
    let org_room = if cap_room > 0 {
        ports.org_headroom(&view.org_id).await?
    } else {
        0
    };
    // Free slots filled now; the server fills a slot itself when a call ends, from the
    // intents armed ahead.
    let fill = cap_room.min(org_room);
    {
        let mut live = shared.live();
        live.window_open = Some(campaign_open);
        live.next_window_opening = view.window.as_ref().and_then(|w| w.next_open(now)).filter(|t| *t > now);
        if cap_room > 0 {
            live.org_headroom = Some(org_room);
        }
    }
    // Intents armed ahead whose window closed since: back to the queue until it opens.
    let mut armed = ports.armed(id);
    let closed: Vec<(String, Option<DateTime<Utc>>)> = armed
        .iter()
        .filter_map(|a| {
            let w = a.window.as_ref()?;
            (!w.is_open(now)).then(|| {
                (
                    a.intent_key.clone(),
                    Some(w.next_open(now).unwrap_or(now + chrono::Duration::days(1))),
                )
            })
        })
        .collect();
    if !closed.is_empty() {
        let released = ports.release_armed(id, epoch, Some(&closed)).await?;
        note_released(shared, released, "outside its calling window");
        armed = ports.armed(id);
    }
    // Armed ahead: the next free slots' contacts, up to `dial_ahead` (at most the cap) more
    // than the slots filled now, pulled in one batch.
    let ahead = u64::from(cfg.dial_ahead.min(view.max_concurrent));
    let want = (ahead + fill).saturating_sub(armed.len() as u64);
    let due = if want > 0 {
        ports.due_contacts(id, now, want, !campaign_open).await?
    } else {
        Vec::new()
    };
    let mut dialable = Vec::with_capacity(due.len());
    for contact in due {
        if contact.opted_out {
            ports.suppress(id, epoch, &contact.id).await?;
            let mut live = shared.live();
            live.suppressed += 1;
            live.note(&contact.id, "suppressed", "opted out / do not call".into());
            continue;
        }
        let own_window = match (&view.window, contact.timezone.as_deref().and_then(window::parse_tz)) {
            (Some(w), Some(tz)) => Some(w.in_zone(tz)),
            (Some(w), None) => Some(w.clone()),
            (None, _) => None,
        };
        if let Some(w) = &own_window
            && !w.is_open(now)
        {
            let until = w.next_open(now).unwrap_or(now + chrono::Duration::days(1));
            ports.defer(id, epoch, &contact.id, until).await?;
            let mut live = shared.live();
            live.deferred += 1;
            live.note(
                &contact.id,
                "queued",
                format!("outside its calling window: deferred to {}", until.to_rfc3339()),
            );
            continue;
        }
        dialable.push(Ahead {
            contact,
            window: own_window,
        });
    }
    // The settles and the intents armed ahead in one transaction (none when the campaign
    // was paused since the tick began).
    if dialable.is_empty() {
        apply_settles(id, epoch, ports, shared, &settles).await?;
    } else {
        let keys = ports.arm(id, epoch, &settles, &dialable).await?;
        note_settled(shared, &settles);
        let attempts: HashMap<&str, u32> = dialable
            .iter()
            .map(|a| (a.contact.id.as_str(), a.contact.attempts))
            .collect();
        let mut live = shared.live();
        for (contact_id, key) in &keys {
            let attempt = attempts.get(contact_id.as_str()).copied().unwrap_or(0) + 1;
            live.note(
                contact_id,
                "in_progress",
                format!("dial intent {key} armed ahead (attempt {attempt})"),
            );
        }
    }
    let fired = if fill > 0 {
        ports.fire(id, epoch, fill).await?
    } else {
        Vec::new()
    };
    let armed_now = ports.armed(id).len() as u64;
    {
        let mut live = shared.live();
        live.dials_started = ports.started(id);
        live.armed = armed_now;
        for (contact_id, key) in &fired {
            live.note(contact_id, "in_progress", format!("dial intent {key} started"));
        }
        live.in_flight = open + fired.len() as u64;
    }
    if !fired.is_empty() {
        shared.live().not_dialing_because = None;
        return Ok(None);
    }
    // Nothing started: is anything left, and why is it not dialled?
    if open > 0 && (cap_room == 0 || org_room == 0) {
        // At a limit with calls of its own in flight: the campaign cannot be complete, and
        // the limit is the reason. Nothing is counted (the queue can be 100,000 contacts
        // long, and a campaign at its cap passes here on every tick and call end).
        shared.live().not_dialing_because = Some(if cap_room == 0 {
            format!("at maxConcurrentCalls ({open} in flight)")
        } else {
            "at the organisation's concurrent call limit".into()
        });
        return Ok(None);
    }
    let remaining = ports.remaining(id, now).await?;
    if remaining.queued == 0 && remaining.in_progress == 0 && remaining.open_dials == 0 {
        if ports.complete(id, epoch).await? {
            shared
                .live()
                .note("", "completed", "no contact left: campaign completed".into());
        }
        return Ok(Some(Exit::Completed));
    }
    let reason = if remaining.due == 0 && armed_now == 0 {
        match remaining.next_due {
            Some(t) if remaining.queued > 0 => format!(
                "{} queued contact(s) wait for a retry delay or their calling window; the next is due at {}",
                remaining.queued,
                t.to_rfc3339()
            ),
            _ => format!("waiting for {} call(s) in flight to end", remaining.open_dials),
        }
    } else if cap_room == 0 {
        format!("at maxConcurrentCalls ({open} in flight)")
    } else if org_room == 0 {
        "at the organisation's concurrent call limit".into()
    } else if !campaign_open {
        format!(
            "outside the calling window (opens at {})",
            view.window
                .as_ref()
                .and_then(|w| w.next_open(now))
                .map_or_else(|| "never: no calling days".into(), |t| t.to_rfc3339())
        )
    } else {
        "no contact could be dialled this tick".into()
    };
    let mut live = shared.live();
    live.next_due_at = remaining.next_due.filter(|t| *t > now);
    live.not_dialing_because = Some(reason);
    Ok(None)
}

fn note_released(shared: &Shared, released: u64, why: &str) {
    if released > 0 {
        let mut live = shared.live();
        live.released += released;
        live.note(
            "",
            "queued",
            format!("{released} intent(s) armed ahead put back in the queue: {why}"),
        );
    }
}

/// What a `CampaignActor` reports to its supervisor, handed to it at start (the actor never
/// names the supervisor: `supervisor::CampaignSupervisor` implements this).
trait Supervision: Send + Sync {
    /// The actor's loop ended with `exit` (a failure is restarted within the bound).
    fn exited(&self, campaign_id: &str, generation: u64, exit: &Exit);

    /// Records the last live view of an actor that ended (for `inspect`).
    fn remember(&self, view: LiveView);
}

pub struct CampaignActor {
    id: String,
    ports: Arc<dyn CampaignPorts>,
    cfg: CampaignConfig,
    shared: Arc<Shared>,
    supervision: Arc<dyn Supervision>,
    generation: u64,
}

impl Actor for CampaignActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let task = actix::spawn(run(
            self.id.clone(),
            self.ports.clone(),
            self.cfg.clone(),
            self.shared.clone(),
        ));
        ctx.spawn(task.into_actor(self).map(|res, act, ctx| {
            let exit = match res {
                Ok(exit) => exit,
                Err(e) => Exit::Failed(format!("the campaign loop panicked: {e}")),
            };
            {
                let mut live = act.shared.live();
                live.alive = false;
                live.exit = Some(exit.describe());
                if let Exit::Failed(e) = &exit {
                    live.last_error = Some(e.clone());
                }
            }
            act.supervision.exited(&act.id, act.generation, &exit);
            ctx.stop();
        }));
    }
}

impl Handler<Wake> for CampaignActor {
    type Result = ();
    fn handle(&mut self, msg: Wake, _: &mut Context<Self>) {
        if msg.changed {
            self.shared.changed.store(true, Ordering::SeqCst);
        }
        self.shared.pending.fetch_add(1, Ordering::SeqCst);
        self.shared.live().messages_received += 1;
        self.shared.wake.notify_one();
    }
}

impl Handler<StopNow> for CampaignActor {
    type Result = ();
    fn handle(&mut self, _: StopNow, _: &mut Context<Self>) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

impl Handler<Inspect> for CampaignActor {
    type Result = MessageResult<Inspect>;
    fn handle(&mut self, _: Inspect, _: &mut Context<Self>) -> Self::Result {
        let mut live = self.shared.live().clone();
        live.mailbox_pending = self.shared.pending.load(Ordering::SeqCst);
        MessageResult(live)
    }
}

impl CampaignActor {
    /// The actor of campaign `id`, restarted `restarts` times; `generation` numbers this
    /// start among the supervisor's (its exit is matched against it).
    fn new(
        id: String,
        ports: Arc<dyn CampaignPorts>,
        cfg: CampaignConfig,
        restarts: u32,
        generation: u64,
        supervision: Arc<dyn Supervision>,
    ) -> Self {
        let shared = Arc::new(Shared {
            live: Mutex::new(LiveView {
                campaign_id: id.clone(),
                alive: true,
                restarts,
                ..LiveView::default()
            }),
            wake: Notify::new(),
            stop: AtomicBool::new(false),
            pending: AtomicU64::new(0),
            changed: AtomicBool::new(false),
        });
        Self {
            id,
            ports,
            cfg,
            shared,
            supervision,
            generation,
        }
    }

    fn final_view(&self) -> LiveView {
        self.shared.live().clone()
    }
}

impl Drop for CampaignActor {
    fn drop(&mut self) {
        self.supervision.remember(self.final_view());
    }
}
