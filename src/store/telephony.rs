//! BYOC telephony credentials (one row per organisation) and the sandbox carrier's
//! inventory of sold numbers.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, prelude::*,
    sea_query::OnConflict,
};
use thruai_entities::{sandbox_call, sandbox_number, telephony_credential};

pub async fn credentials(
    db: &impl ConnectionTrait,
    org_id: &str,
) -> Result<Option<telephony_credential::Model>, DbErr> {
    telephony_credential::Entity::find_by_id(org_id).one(db).await
}

/// Inserts or replaces the organisation's credentials.
pub async fn upsert_credentials(db: &impl ConnectionTrait, row: telephony_credential::Model) -> Result<(), DbErr> {
    let active = row.into_active_model().reset_all();
    telephony_credential::Entity::insert(active)
        .on_conflict(
            OnConflict::column(telephony_credential::Column::OrgId)
                .update_columns([
                    telephony_credential::Column::AccountSid,
                    telephony_credential::Column::AuthTokenCiphertext,
                    telephony_credential::Column::FriendlyName,
                    telephony_credential::Column::AccountType,
                    telephony_credential::Column::AccountStatus,
                    telephony_credential::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Numbers the sandbox carrier has sold, among `numbers`.
pub async fn sandbox_sold_among(db: &impl ConnectionTrait, numbers: &[String]) -> Result<Vec<String>, DbErr> {
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sandbox_number::Entity::find()
        .filter(sandbox_number::Column::PhoneNumber.is_in(numbers.iter().cloned()))
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.phone_number)
        .collect())
}

pub async fn sandbox_insert(
    db: &impl ConnectionTrait,
    sid: &str,
    org_id: &str,
    e164: &str,
    voice_url: Option<String>,
    sms_url: Option<String>,
) -> Result<sandbox_number::Model, DbErr> {
    sandbox_number::ActiveModel {
        sid: Set(sid.to_string()),
        phone_number: Set(e164.to_string()),
        org_id: Set(org_id.to_string()),
        voice_url: Set(voice_url),
        sms_url: Set(sms_url),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

pub async fn sandbox_owned(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<sandbox_number::Model>, DbErr> {
    sandbox_number::Entity::find()
        .filter(sandbox_number::Column::OrgId.eq(org_id))
        .order_by_asc(sandbox_number::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn sandbox_find(
    db: &impl ConnectionTrait,
    org_id: &str,
    sid: &str,
) -> Result<Option<sandbox_number::Model>, DbErr> {
    sandbox_number::Entity::find_by_id(sid)
        .filter(sandbox_number::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

pub async fn sandbox_update_urls(
    db: &impl ConnectionTrait,
    row: sandbox_number::Model,
    voice_url: Option<String>,
    sms_url: Option<String>,
) -> Result<sandbox_number::Model, DbErr> {
    let mut active = row.into_active_model();
    if voice_url.is_some() {
        active.voice_url = Set(voice_url);
    }
    if sms_url.is_some() {
        active.sms_url = Set(sms_url);
    }
    active.update(db).await
}

pub async fn sandbox_release(db: &impl ConnectionTrait, org_id: &str, sid: &str) -> Result<u64, DbErr> {
    let res = sandbox_number::Entity::delete_many()
        .filter(sandbox_number::Column::OrgId.eq(org_id))
        .filter(sandbox_number::Column::Sid.eq(sid))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Records a call the sandbox carrier placed (its call log).
pub async fn sandbox_record_call(db: &impl ConnectionTrait, row: sandbox_call::Model) -> Result<(), DbErr> {
    sandbox_call::Entity::insert(row.into_active_model().reset_all())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn sandbox_call_by_intent(
    db: &impl ConnectionTrait,
    org_id: &str,
    intent_key: &str,
) -> Result<Option<sandbox_call::Model>, DbErr> {
    sandbox_call::Entity::find()
        .filter(sandbox_call::Column::OrgId.eq(org_id))
        .filter(sandbox_call::Column::IntentKey.eq(intent_key))
        .one(db)
        .await
}

/// Calls the sandbox carrier already placed to `to` for the organisation.
pub async fn sandbox_calls_to(db: &impl ConnectionTrait, org_id: &str, to: &str) -> Result<u64, DbErr> {
    sandbox_call::Entity::find()
        .filter(sandbox_call::Column::OrgId.eq(org_id))
        .filter(sandbox_call::Column::ToNumber.eq(to))
        .count(db)
        .await
}
