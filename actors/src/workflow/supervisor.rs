//! The workflow actors' supervisor: `WorkflowSupervisorActor` starts a `WorkflowActor` for
//! each execution that is due (new, its timer passed, its lease expired after a crash),
//! at most `max_running` at once, and forgets it when it stops. The rest of the program holds
//! its handle, `WorkflowSupervisor`.

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix::prelude::*;

use super::{
    WorkflowActor,
    messages::{CountRunning, Run, Shutdown, Stopped},
    ports::WorkflowPorts,
};

/// The supervisor's tunables.
#[derive(Debug, Clone, Copy)]
pub struct WorkflowConfig {
    /// How often the store is asked for due executions.
    pub tick: Duration,
    pub lease: Duration,
    pub max_running: usize,
}

pub struct WorkflowSupervisorActor {
    ports: Arc<dyn WorkflowPorts>,
    config: WorkflowConfig,
    running: HashMap<String, Addr<WorkflowActor>>,
    polling: bool,
    stopped: bool,
}

impl WorkflowSupervisorActor {
    pub fn new(ports: Arc<dyn WorkflowPorts>, config: WorkflowConfig) -> Self {
        Self {
            ports,
            config,
            running: HashMap::new(),
            polling: false,
            stopped: false,
        }
    }

    fn start_one(&mut self, id: String, ctx: &mut Context<Self>) {
        if self.stopped || self.running.contains_key(&id) || self.running.len() >= self.config.max_running {
            return;
        }
        let actor = WorkflowActor::new(
            id.clone(),
            self.ports.clone(),
            self.config.lease,
            ctx.address().recipient(),
        );
        self.running.insert(id, actor.start());
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        let room = self.config.max_running.saturating_sub(self.running.len());
        if self.polling || self.stopped || room == 0 {
            return;
        }
        self.polling = true;
        let ports = self.ports.clone();
        let limit = room.min(1_000) as u64;
        ctx.spawn(
            async move { ports.due(limit).await }
                .into_actor(self)
                .map(|due, act, ctx| {
                    act.polling = false;
                    match due {
                        Ok(ids) => {
                            for id in ids {
                                act.start_one(id, ctx);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "looking for due workflow executions failed"),
                    }
                }),
        );
    }
}

impl Actor for WorkflowSupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.config.tick, Self::poll);
    }
}

impl Handler<Run> for WorkflowSupervisorActor {
    type Result = ();

    fn handle(&mut self, Run(id): Run, ctx: &mut Self::Context) {
        self.start_one(id, ctx);
    }
}

impl Handler<Stopped> for WorkflowSupervisorActor {
    type Result = ();

    fn handle(&mut self, Stopped(id): Stopped, _: &mut Self::Context) {
        self.running.remove(&id);
    }
}

impl Handler<CountRunning> for WorkflowSupervisorActor {
    type Result = usize;

    fn handle(&mut self, _: CountRunning, _: &mut Self::Context) -> usize {
        self.running.len()
    }
}

impl Handler<Shutdown> for WorkflowSupervisorActor {
    type Result = ();

    fn handle(&mut self, _: Shutdown, _: &mut Self::Context) {
        self.stopped = true;
    }
}

/// What the rest of the program holds.
#[derive(Clone)]
pub struct WorkflowSupervisor(Addr<WorkflowSupervisorActor>);

impl WorkflowSupervisor {
    /// Starts the supervisor on the current arbiter.
    pub fn start(ports: Arc<dyn WorkflowPorts>, config: WorkflowConfig) -> Self {
        Self(WorkflowSupervisorActor::new(ports, config).start())
    }

    /// Runs an execution now (it was just created, or its awaited event came).
    pub fn run(&self, execution_id: &str) {
        self.0.do_send(Run(execution_id.to_string()));
    }

    pub async fn running(&self) -> usize {
        self.0.send(CountRunning).await.unwrap_or(0)
    }

    pub fn shutdown(&self) {
        self.0.do_send(Shutdown);
    }
}
