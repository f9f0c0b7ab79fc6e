//! Group commit for the calls' snapshots. Every live call writes its snapshot on each
//! transition and turn; one transaction per write makes a thousand calls queue on the
//! database (SQLite has one writer, a pool has few connections). Instead one task writes,
//! in one transaction, everything that arrived while the previous batch was being
//! committed or — while snapshots arrive together — within `GATHER` of the batch's first
//! (a lone call's writes go at once). The writes are behind the media path (a call never
//! waits for them), so the window costs no caller anything; at 1,000 calls it makes
//! batches of ~10 snapshots instead of ~2 and takes the database's share of the server's
//! CPU from ~27 % to ~16 % of a core (BENCHMARKS.md).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;
use thruai_actors::call::{ports::StoreError, snapshot::CallSnapshotV1, state::DomainEvent};
use tokio::sync::{mpsc, oneshot};

use crate::{domain::pricing::Prices, metrics, store};

/// Snapshots written in one transaction at most.
const MAX_BATCH: usize = 256;
/// How long the first snapshot of a batch waits for others to join it.
const GATHER: Duration = Duration::from_millis(10);

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
    /// Starts the writer task on the current Tokio runtime; ended calls are priced with
    /// `prices` on the ledger.
    pub fn start(db: DatabaseConnection, prices: Arc<Prices>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(db, prices, rx));
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

async fn run(db: DatabaseConnection, prices: Arc<Prices>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    let mut gather = false;
    while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        if gather {
            // Snapshots arriving within the window join this commit.
            tokio::time::sleep(GATHER).await;
            while jobs.len() < MAX_BATCH
                && let Ok(job) = rx.try_recv()
            {
                jobs.push(job);
            }
        }
        let (batch, replies): (Vec<_>, Vec<_>) = jobs.drain(..).map(|j| ((j.snapshot, j.events), j.done)).unzip();
        let started = Instant::now();
        let results = match store::calls::checkpoint_many(&db, &batch, &prices).await {
            Ok(written) => written.into_iter().map(result_of).collect(),
            // One bad snapshot must not fail the others: write them one by one.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, calls = batch.len(), "batched call checkpoint failed; writing one by one");
                let mut results = Vec::with_capacity(batch.len());
                for one in batch.chunks(1) {
                    results.push(match store::calls::checkpoint_many(&db, one, &prices).await {
                        Ok(written) => result_of(written.first().copied().unwrap_or(false)),
                        Err(e) => unavailable(&e, one),
                    });
                }
                results
            }
            Err(e) => vec![unavailable(&e, &batch)],
        };
        metrics::counter("thruai_call_checkpoints_total", &[], batch.len() as f64);
        metrics::observe(
            "thruai_call_checkpoint_batch_seconds",
            &[],
            started.elapsed().as_secs_f64(),
        );
        // Gather only while snapshots arrive together: a lone call's writes go at once.
        gather = batch.len() > 1;
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
