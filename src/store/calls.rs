//! Call queries, scoped to the organisation — except the ones the live-call machinery needs
//! by call id (`checkpoint`, `find_any`) and start-up recovery (`open_calls`, `close_as`).

use crate::domain::pricing::Prices;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
    prelude::*,
    sea_query::{Expr, OnConflict},
};
use serde_json::{Value, json};
use thruai_actors::call::{
    snapshot::{CallSnapshot, CallSnapshotRef, CallSnapshotV1, Speaker, TimelineEntry, TranscriptEntry},
    state::{CallStatus, DomainEvent},
};
use thruai_entities::{call, call_timeline, call_transcript};

use crate::store::outbox;

fn scoped(org_id: &str) -> Select<call::Entity> {
    call::Entity::find().filter(call::Column::OrgId.eq(org_id))
}

pub async fn insert(db: &impl ConnectionTrait, row: call::Model) -> Result<call::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn find(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<call::Model>, DbErr> {
    scoped(org_id).filter(call::Column::Id.eq(id)).one(db).await
}

/// By id alone: for carrier webhooks, which prove who they are by signature.
pub async fn find_any(db: &impl ConnectionTrait, id: &str) -> Result<Option<call::Model>, DbErr> {
    call::Entity::find_by_id(id).one(db).await
}

#[derive(Debug, Default)]
pub struct Filter {
    pub agent_id: Option<String>,
    pub status: Option<String>,
    pub direction: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn list(
    db: &impl ConnectionTrait,
    org_id: &str,
    f: &Filter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<call::Model>, u64), DbErr> {
    let mut q = scoped(org_id);
    if let Some(v) = &f.agent_id {
        q = q.filter(call::Column::AgentId.eq(v.as_str()));
    }
    if let Some(v) = &f.status {
        q = q.filter(call::Column::Status.eq(v.as_str()));
    }
    if let Some(v) = &f.direction {
        q = q.filter(call::Column::Direction.eq(v.as_str()));
    }
    if let Some(v) = f.from {
        q = q.filter(call::Column::CreatedAt.gte(v));
    }
    if let Some(v) = f.to {
        q = q.filter(call::Column::CreatedAt.lte(v));
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(call::Column::CreatedAt)
        .order_by_desc(call::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The snapshot stored with a call.
pub fn snapshot_of(row: &call::Model) -> Option<CallSnapshotV1> {
    serde_json::from_value::<CallSnapshot>(row.snapshot.clone())
        .ok()
        .map(CallSnapshot::into_current)
}

fn event_payload(
    row: &call::Model,
    snap: &CallSnapshotV1,
    transcript: &[TranscriptEntry],
    event: DomainEvent,
) -> Value {
    let mut p = json!({
        "callId": row.id,
        "agentId": row.agent_id,
        "direction": row.direction,
        "from": row.from_number,
        "to": row.to_number,
        "status": snap.status.as_str(),
        // What the call was placed with: a campaign's call names its campaign and contact
        // (`campaignId`, `contactId`), a workflow's its execution.
        "metadata": row.metadata,
    });
    match event {
        DomainEvent::CallStarted => p["startedAt"] = json!(snap.answered_at),
        DomainEvent::CallCompleted | DomainEvent::CallFailed => {
            p["endReason"] = json!(snap.end_reason);
            p["endedAt"] = json!(snap.ended_at);
            p["durationSeconds"] = json!(snap.duration_secs(Utc::now()));
        }
        DomainEvent::TranscriptReady => p["transcript"] = json!(transcript),
    }
    p
}

/// Writes each snapshot and its lifecycle columns, fenced by the owner epoch, with its
/// `events` recorded in the outbox — all in one transaction (a group commit: one lock and
/// one commit for every call that changed meanwhile). Per snapshot: `false` when a newer
/// epoch owns the call (nothing of it is written).
pub async fn checkpoint_many(
    db: &DatabaseConnection,
    batch: &[(CallSnapshotV1, Vec<DomainEvent>)],
    prices: &Prices,
) -> Result<Vec<bool>, DbErr> {
    let txn = super::begin(db).await?;
    let mut written = Vec::with_capacity(batch.len());
    for (snap, events) in batch {
        written.push(checkpoint_in(&txn, snap, events, prices).await?);
    }
    txn.commit().await?;
    Ok(written)
}

async fn checkpoint_in(
    txn: &impl ConnectionTrait,
    snap: &CallSnapshotV1,
    events: &[DomainEvent],
    prices: &Prices,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let snapshot = serde_json::to_value(CallSnapshotRef::V1(snap)).map_err(|e| DbErr::Custom(e.to_string()))?;
    let res = call::Entity::update_many()
        .col_expr(call::Column::Status, Expr::value(snap.status.as_str()))
        .col_expr(
            call::Column::ProviderCallSid,
            Expr::value(snap.provider_call_sid.clone()),
        )
        .col_expr(call::Column::EndReason, Expr::value(snap.end_reason.clone()))
        .col_expr(call::Column::AnsweredAt, Expr::value(snap.answered_at))
        .col_expr(call::Column::EndedAt, Expr::value(snap.ended_at))
        .col_expr(
            call::Column::DurationSecs,
            Expr::value(i32::try_from(snap.duration_secs(now)).unwrap_or(i32::MAX)),
        )
        .col_expr(call::Column::Snapshot, Expr::value(snapshot))
        .col_expr(call::Column::UpdatedAt, Expr::value(now))
        .filter(call::Column::Id.eq(snap.call_id.as_str()))
        .filter(call::Column::OwnerEpoch.eq(snap.epoch))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    write_transcript(txn, snap).await?;
    append_timeline(txn, snap).await?;
    let ended = snap.status.is_terminal();
    if !events.is_empty() || ended {
        let row = call::Entity::find_by_id(snap.call_id.as_str())
            .one(txn)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(snap.call_id.clone()))?;
        if ended {
            // What the call used goes on the ledger with its end, once; its analysis is due.
            let used = super::ledger::call_usage(snap, row.provider.as_str());
            super::ledger::record(txn, &row.org_id, prices, used).await?;
            super::analyses::due(txn, &row).await?;
        }
        let whole = if events.contains(&DomainEvent::TranscriptReady) {
            transcript(txn, &snap.call_id, Vec::new()).await?
        } else {
            Vec::new()
        };
        for &event in events {
            let payload = event_payload(&row, snap, &whole, event);
            outbox::record(txn, &row.org_id, event.name(), payload).await?;
        }
    }
    Ok(true)
}

/// The snapshot's transcript lines, as rows: new ones inserted, those still changing (an
/// agent line cut to what was heard) updated.
async fn write_transcript(txn: &impl ConnectionTrait, snap: &CallSnapshotV1) -> Result<(), DbErr> {
    if snap.transcript.is_empty() {
        return Ok(());
    }
    let rows = snap.transcript.iter().map(|l| call_transcript::ActiveModel {
        call_id: Set(snap.call_id.clone()),
        seq: Set(i64::try_from(l.seq).unwrap_or(i64::MAX)),
        speaker: Set(speaker_name(l.speaker).to_string()),
        text: Set(l.text.clone()),
        at_ms: Set(i64::try_from(l.at_ms).unwrap_or(i64::MAX)),
        interrupted: Set(l.interrupted),
        partial: Set(l.partial),
    });
    call_transcript::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([call_transcript::Column::CallId, call_transcript::Column::Seq])
                .update_columns([
                    call_transcript::Column::Text,
                    call_transcript::Column::Interrupted,
                    call_transcript::Column::Partial,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

fn speaker_name(s: Speaker) -> &'static str {
    match s {
        Speaker::Agent => "agent",
        Speaker::Caller => "caller",
    }
}

/// A call's whole transcript as the caller heard it: the written rows, overlaid with
/// `live` (the live actor's lines not yet written or still changing, or an older
/// snapshot's). Agent lines cut before a word was heard are left out. Read the live
/// snapshot *before* calling this, as for [`timeline`].
pub async fn transcript(
    db: &impl ConnectionTrait,
    call_id: &str,
    live: Vec<TranscriptEntry>,
) -> Result<Vec<TranscriptEntry>, DbErr> {
    let mut lines: std::collections::BTreeMap<u64, TranscriptEntry> = call_transcript::Entity::find()
        .filter(call_transcript::Column::CallId.eq(call_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| {
            let seq = u64::try_from(r.seq).unwrap_or(0);
            let line = TranscriptEntry {
                seq,
                speaker: if r.speaker == "agent" {
                    Speaker::Agent
                } else {
                    Speaker::Caller
                },
                text: r.text,
                at_ms: u64::try_from(r.at_ms).unwrap_or(0),
                interrupted: r.interrupted,
                partial: r.partial,
            };
            (seq, line)
        })
        .collect();
    lines.extend(live.into_iter().map(|l| (l.seq, l)));
    Ok(lines
        .into_values()
        .filter(|l| !(l.interrupted && l.text.is_empty()))
        .collect())
}

/// The snapshot's unwritten timeline entries, as rows. An entry already there (a write
/// that committed but whose answer was lost, then retried) is left as it is.
async fn append_timeline(txn: &impl ConnectionTrait, snap: &CallSnapshotV1) -> Result<(), DbErr> {
    if snap.timeline.is_empty() {
        return Ok(());
    }
    let rows = snap.timeline.iter().map(|e| call_timeline::ActiveModel {
        call_id: Set(snap.call_id.clone()),
        seq: Set(i64::try_from(e.seq).unwrap_or(i64::MAX)),
        at: Set(e.at),
        kind: Set(e.kind.clone()),
        detail: Set(e.detail.clone()),
    });
    call_timeline::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([call_timeline::Column::CallId, call_timeline::Column::Seq])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// A call's whole timeline: the written rows, then `unwritten` (the live actor's entries
/// not yet written, or a snapshot's from before the timeline had its own table). Read
/// the live snapshot *before* calling this: an entry written meanwhile is then in both,
/// and kept once.
pub async fn timeline(
    db: &impl ConnectionTrait,
    call_id: &str,
    unwritten: Vec<TimelineEntry>,
) -> Result<Vec<TimelineEntry>, DbErr> {
    let mut all: Vec<TimelineEntry> = call_timeline::Entity::find()
        .filter(call_timeline::Column::CallId.eq(call_id))
        .order_by_asc(call_timeline::Column::Seq)
        .all(db)
        .await?
        .into_iter()
        .map(|r| TimelineEntry {
            seq: u64::try_from(r.seq).unwrap_or(0),
            at: r.at,
            kind: r.kind,
            detail: r.detail,
        })
        .collect();
    let last = all.last().map_or(0, |e| e.seq);
    all.extend(unwritten.into_iter().filter(|e| e.seq > last));
    Ok(all)
}

/// Calls left in a non-terminal state (by a crash): the registry closes them at start-up.
pub async fn open_calls(db: &impl ConnectionTrait) -> Result<Vec<call::Model>, DbErr> {
    call::Entity::find()
        .filter(call::Column::Status.is_in(CallStatus::OPEN))
        .all(db)
        .await
}

/// Takes ownership of an open call (epoch + 1) and closes it through the state machine
/// (`Crashed` → `interrupted`), with its events, in one transaction. Returns false when
/// another node got there first (the epoch moved), so each call is closed exactly once.
pub async fn close_interrupted(db: &DatabaseConnection, row: &call::Model, prices: &Prices) -> Result<bool, DbErr> {
    let Some(mut snap) = snapshot_of(row) else {
        return Ok(false);
    };
    let Ok((status, effects)) =
        thruai_actors::call::state::Transitions::on(snap.status, thruai_actors::call::state::Event::Crashed)
    else {
        return Ok(false);
    };
    let txn = super::begin(db).await?;
    let claimed = call::Entity::update_many()
        .col_expr(call::Column::OwnerEpoch, Expr::value(row.owner_epoch + 1))
        .filter(call::Column::Id.eq(row.id.as_str()))
        .filter(call::Column::OwnerEpoch.eq(row.owner_epoch))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let now = Utc::now();
    snap.epoch = row.owner_epoch + 1;
    snap.status = status;
    snap.end_reason = Some("interrupted: the server stopped during the call".into());
    snap.ended_at = Some(now);
    if let Some(a) = snap.answered_at {
        // Connected time up to the last checkpoint.
        snap.usage.telephony_ms = u64::try_from((row.updated_at - a).num_milliseconds()).unwrap_or(0);
    }
    let detail = json!({ "to": status, "event": "crashed", "reason": snap.end_reason });
    snap.note(now, "state", detail);
    let events: Vec<DomainEvent> = effects
        .iter()
        .filter_map(|e| match e {
            thruai_actors::call::state::Effect::Emit(ev) => Some(*ev),
            _ => None,
        })
        .collect();
    let written = checkpoint_in(&txn, &snap, &events, prices).await?;
    txn.commit().await?;
    Ok(written)
}

/// The provider call id once known (outbound dial answered by the carrier).
pub async fn set_provider_sid(db: &impl ConnectionTrait, id: &str, sid: &str) -> Result<(), DbErr> {
    call::Entity::update_many()
        .col_expr(call::Column::ProviderCallSid, Expr::value(sid))
        .filter(call::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
