//! `[workflows]`: how executions are found, leased and resumed.

use serde::Deserialize;

/// Workflow executions: the supervisor's tick, leases, and how effects are watched.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    /// How often due executions (timers passed, leases expired) are looked for.
    pub tick_ms: u64,
    /// A process holds a running execution this long (renewed by each step); a crash's
    /// execution is resumed by the next process once it expires.
    pub lease_ms: u64,
    /// Executions one process runs at once (waiting ones hold no actor).
    pub max_running: usize,
    /// How often the event feed is read for event-triggered workflows.
    pub events_tick_ms: u64,
    /// How often schedule-triggered workflows are looked at.
    pub schedule_tick_ms: u64,
    /// How often a call step looks at its call.
    pub call_poll_ms: u64,
    /// A message recorded but never acknowledged (a crash in between) this long is in
    /// doubt: its step fails rather than send it twice.
    pub in_doubt_secs: u64,
    /// Timeout of a webhook step's request.
    pub webhook_timeout_ms: u64,
}

impl WorkflowSettings {
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.tick_ms == 0 || self.events_tick_ms == 0 || self.schedule_tick_ms == 0 || self.call_poll_ms == 0 {
            return Err(
                "workflows: tick_ms, events_tick_ms, schedule_tick_ms and call_poll_ms must be positive".into(),
            );
        }
        if self.lease_ms < 1_000 || self.max_running == 0 {
            return Err("workflows: lease_ms is at least 1000 and max_running at least 1".into());
        }
        Ok(())
    }
}
