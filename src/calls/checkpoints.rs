//! Group commit for the calls' snapshots. Every live call writes its snapshot on each
//! transition and turn; one transaction per write makes a thousand calls queue on the
//! database (SQLite has one writer, a pool has few connections). Instead one task writes
//! everything that arrived while the previous batch was being committed, in one
//! transaction: no added latency when idle, one commit per batch under load. On
//! PostgreSQL a few such writers take batches in turn, so a write that arrives while one
//! batch commits starts at once instead of waiting for it (SQLite has one writer: one
//! task). A call has one write in flight at a time (its actor waits for each), so its
//! writes stay in order across writers.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend};
use thruai_actors::{
    call::{snapshot::CallSnapshotV1, state::DomainEvent},
    ports::StoreError,
};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::store;

/// Snapshots written in one transaction at most.
const MAX_BATCH: usize = 256;
/// Writer tasks on PostgreSQL (each holds one pooled connection while it commits).
const PG_WRITERS: usize = 3;

struct Job {
    snapshot: CallSnapshotV1,
    events: Vec<DomainEvent>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The writer's handle; the task ends when the last handle is dropped.
#[derive(Clone)]
pub struct CheckpointWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl CheckpointWriter {
    /// Starts the writer tasks on the current Tokio runtime.
    pub fn start(db: DatabaseConnection) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let writers = match db.get_database_backend() {
            DbBackend::Postgres => PG_WRITERS,
            _ => 1,
        };
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..writers {
            tokio::spawn(run(db.clone(), rx.clone()));
        }
        Self { jobs }
    }

    /// Writes the snapshot and records `events` in the outbox, fenced by the snapshot's
    /// epoch; returns once committed.
    ///
    /// # Errors
    /// `Fenced` when a newer epoch owns the call, `Unavailable` when the database failed.
    pub async fn checkpoint(&self, snapshot: CallSnapshotV1, events: Vec<DomainEvent>) -> Result<(), StoreError> {
        let (done, result) = oneshot::channel();
        self.jobs
            .send(Job { snapshot, events, done })
            .map_err(|_| StoreError::Unavailable)?;
        result.await.map_err(|_| StoreError::Unavailable)?
    }
}

async fn run(db: DatabaseConnection, rx: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    // The receiver is held only while taking a batch: the next writer takes the next one
    // while this one commits.
    while rx.lock().await.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (batch, replies): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| ((j.snapshot, j.events), j.done)).unzip();
        let results = match store::calls::checkpoint_many(&db, &batch).await {
            Ok(written) => written.into_iter().map(result_of).collect(),
            // One bad snapshot must not fail the others: write them one by one.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, calls = batch.len(), "batched call checkpoint failed; writing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for one in batch.chunks(1) {
                    results.push(match store::calls::checkpoint_many(&db, one).await {
                        Ok(written) => result_of(written.first().copied().unwrap_or(false)),
                        Err(e) => unavailable(&e, one),
                    });
                }
                results
            }
            Err(e) => vec![unavailable(&e, &batch)],
        };
        for (done, result) in replies.into_iter().zip(results) {
            // The call may have gone meanwhile: nobody waits for its answer.
            let _ = done.send(result);
        }
    }
}

fn result_of(written: bool) -> Result<(), StoreError> {
    if written { Ok(()) } else { Err(StoreError::Fenced) }
}

fn unavailable(e: &sea_orm::DbErr, batch: &[(CallSnapshotV1, Vec<DomainEvent>)]) -> Result<(), StoreError> {
    let call = batch.first().map(|(s, _)| s.call_id.as_str()).unwrap_or_default();
    tracing::error!(error = %e, call, "call checkpoint failed");
    Err(StoreError::Unavailable)
}
