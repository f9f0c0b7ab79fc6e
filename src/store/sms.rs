//! SMS queries: messages, conversations (one per pair of numbers) and opt-outs, scoped to
//! the organisation — except the carrier-callback lookups by provider SID and by number.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, prelude::*, sea_query::OnConflict,
};
use thruai_entities::{sms_conversation, sms_message, sms_opt_out};

use crate::domain::ids;

/// Characters of the last message kept on its conversation.
const PREVIEW_CHARS: usize = 120;

/// The conversation between `org_number` and `contact`, created on first use, updated with
/// its latest message. Returns its id.
pub async fn touch_conversation(
    db: &impl ConnectionTrait,
    org_id: &str,
    org_number: &str,
    contact: &str,
    preview: &str,
    at: DateTime<Utc>,
) -> Result<String, DbErr> {
    let preview: String = preview.chars().take(PREVIEW_CHARS).collect();
    let row = sms_conversation::ActiveModel {
        id: Set(ids::new_id(ids::CONVERSATION)),
        org_id: Set(org_id.to_string()),
        org_number: Set(org_number.to_string()),
        contact_number: Set(contact.to_string()),
        last_message_at: Set(at),
        last_message_preview: Set(Some(preview.clone())),
        message_count: Set(0),
        created_at: Set(at),
        updated_at: Set(at),
    };
    sms_conversation::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                sms_conversation::Column::OrgId,
                sms_conversation::Column::OrgNumber,
                sms_conversation::Column::ContactNumber,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let conv = sms_conversation::Entity::find()
        .filter(sms_conversation::Column::OrgId.eq(org_id))
        .filter(sms_conversation::Column::OrgNumber.eq(org_number))
        .filter(sms_conversation::Column::ContactNumber.eq(contact))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("SMS conversation".into()))?;
    let id = conv.id.clone();
    let count = conv.message_count + 1;
    let mut active = conv.into_active_model();
    active.last_message_at = Set(at);
    active.last_message_preview = Set(Some(preview));
    active.message_count = Set(count);
    active.updated_at = Set(at);
    active.update(db).await?;
    Ok(id)
}

pub async fn insert_message(db: &impl ConnectionTrait, row: sms_message::Model) -> Result<sms_message::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn save_message(db: &impl ConnectionTrait, row: sms_message::Model) -> Result<sms_message::Model, DbErr> {
    row.into_active_model().reset_all().update(db).await
}

pub async fn find_message(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<sms_message::Model>, DbErr> {
    sms_message::Entity::find()
        .filter(sms_message::Column::OrgId.eq(org_id))
        .filter(sms_message::Column::Id.eq(id))
        .one(db)
        .await
}

/// The message the carrier knows as `sid`, whoever owns it (status callbacks).
pub async fn find_by_provider_sid(db: &impl ConnectionTrait, sid: &str) -> Result<Option<sms_message::Model>, DbErr> {
    sms_message::Entity::find()
        .filter(sms_message::Column::ProviderSid.eq(sid))
        .one(db)
        .await
}

#[derive(Debug, Default)]
pub struct MessageFilter {
    pub direction: Option<String>,
    pub status: Option<String>,
    pub conversation_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Either end of the message.
    pub phone_number: Option<String>,
}

pub async fn list_messages(
    db: &impl ConnectionTrait,
    org_id: &str,
    f: &MessageFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<sms_message::Model>, u64), DbErr> {
    use sms_message::Column as C;
    let mut q = sms_message::Entity::find().filter(C::OrgId.eq(org_id));
    for (col, value) in [
        (C::Direction, &f.direction),
        (C::Status, &f.status),
        (C::ConversationId, &f.conversation_id),
        (C::FromNumber, &f.from),
        (C::ToNumber, &f.to),
    ] {
        if let Some(v) = value {
            q = q.filter(col.eq(v.as_str()));
        }
    }
    if let Some(n) = &f.phone_number {
        q = q.filter(
            sea_orm::Condition::any()
                .add(C::FromNumber.eq(n.as_str()))
                .add(C::ToNumber.eq(n.as_str())),
        );
    }
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(C::CreatedAt)
        .order_by_desc(C::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Newest conversation first.
pub async fn list_conversations(
    db: &impl ConnectionTrait,
    org_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<sms_conversation::Model>, u64), DbErr> {
    let q = sms_conversation::Entity::find().filter(sms_conversation::Column::OrgId.eq(org_id));
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(sms_conversation::Column::LastMessageAt)
        .order_by_desc(sms_conversation::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

pub async fn find_conversation(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<sms_conversation::Model>, DbErr> {
    sms_conversation::Entity::find()
        .filter(sms_conversation::Column::OrgId.eq(org_id))
        .filter(sms_conversation::Column::Id.eq(id))
        .one(db)
        .await
}

/// Records that `contact` opted out of messages from `org_number` (idempotent).
pub async fn opt_out(
    db: &impl ConnectionTrait,
    org_id: &str,
    org_number: &str,
    contact: &str,
    keyword: &str,
) -> Result<(), DbErr> {
    let row = sms_opt_out::ActiveModel {
        id: Set(ids::new_id(ids::OPT_OUT)),
        org_id: Set(org_id.to_string()),
        org_number: Set(org_number.to_string()),
        contact_number: Set(contact.to_string()),
        keyword: Set(keyword.to_string()),
        created_at: Set(Utc::now()),
    };
    sms_opt_out::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                sms_opt_out::Column::OrgId,
                sms_opt_out::Column::ContactNumber,
                sms_opt_out::Column::OrgNumber,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Removes the opt-out of `contact` from `org_number`; returns whether there was one.
pub async fn opt_in(db: &impl ConnectionTrait, org_id: &str, org_number: &str, contact: &str) -> Result<bool, DbErr> {
    let res = sms_opt_out::Entity::delete_many()
        .filter(sms_opt_out::Column::OrgId.eq(org_id))
        .filter(sms_opt_out::Column::OrgNumber.eq(org_number))
        .filter(sms_opt_out::Column::ContactNumber.eq(contact))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Whether `to` opted out of the organisation's messages: from `from` when given, else from
/// any of its numbers. Other modules (outbound campaigns) suppress contacts with it.
pub async fn is_opted_out(
    db: &impl ConnectionTrait,
    org_id: &str,
    from: Option<&str>,
    to: &str,
) -> Result<bool, DbErr> {
    let mut q = sms_opt_out::Entity::find()
        .filter(sms_opt_out::Column::OrgId.eq(org_id))
        .filter(sms_opt_out::Column::ContactNumber.eq(to));
    if let Some(from) = from {
        q = q.filter(sms_opt_out::Column::OrgNumber.eq(from));
    }
    Ok(q.count(db).await? > 0)
}

pub async fn list_opt_outs(
    db: &impl ConnectionTrait,
    org_id: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<sms_opt_out::Model>, u64), DbErr> {
    let q = sms_opt_out::Entity::find().filter(sms_opt_out::Column::OrgId.eq(org_id));
    let total = q.clone().count(db).await?;
    let rows = q
        .order_by_desc(sms_opt_out::Column::CreatedAt)
        .order_by_desc(sms_opt_out::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// Order of outbound delivery statuses: a late callback never moves a message backwards.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "accepted" | "scheduled" => 0,
        "queued" => 1,
        "sending" => 2,
        "sent" => 3,
        "delivered" | "undelivered" | "failed" | "canceled" | "read" => 4,
        _ => 0,
    }
}

/// Applies a carrier status to the message it knows as `sid`; returns the message when it
/// exists (changed or not).
pub async fn apply_status(
    db: &impl ConnectionTrait,
    sid: &str,
    status: &str,
    error_code: Option<i32>,
    error_message: Option<String>,
) -> Result<Option<sms_message::Model>, DbErr> {
    let Some(mut row) = find_by_provider_sid(db, sid).await? else {
        return Ok(None);
    };
    if row.direction != "outbound" || status_rank(status) < status_rank(&row.status) || row.status == status {
        return Ok(Some(row));
    }
    row.status = status.to_string();
    if error_code.is_some() {
        row.error_code = error_code;
        row.error_message = error_message;
    }
    row.updated_at = Utc::now();
    save_message(db, row).await.map(Some)
}
