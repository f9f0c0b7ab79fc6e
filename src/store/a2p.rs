//! A2P queries: brands, campaigns (each row carrying its actor's snapshot), linked numbers,
//! and the sandbox registry's submissions.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
    prelude::*, sea_query::OnConflict,
};
use thruai_actors::a2p::{
    snapshot::A2pSnapshot,
    state::{Kind, Phase, Registration},
};
use thruai_entities::{a2p_brand, a2p_campaign, a2p_campaign_number, a2p_sandbox_registration, phone_number};

pub async fn insert_brand(db: &impl ConnectionTrait, row: a2p_brand::Model) -> Result<a2p_brand::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn insert_campaign(
    db: &impl ConnectionTrait,
    row: a2p_campaign::Model,
) -> Result<a2p_campaign::Model, DbErr> {
    row.into_active_model().reset_all().insert(db).await
}

pub async fn find_brand(db: &impl ConnectionTrait, org_id: &str, id: &str) -> Result<Option<a2p_brand::Model>, DbErr> {
    a2p_brand::Entity::find()
        .filter(a2p_brand::Column::OrgId.eq(org_id))
        .filter(a2p_brand::Column::Id.eq(id))
        .one(db)
        .await
}

/// The organisation's brands, newest first.
pub async fn brands(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<a2p_brand::Model>, DbErr> {
    a2p_brand::Entity::find()
        .filter(a2p_brand::Column::OrgId.eq(org_id))
        .order_by_desc(a2p_brand::Column::CreatedAt)
        .order_by_desc(a2p_brand::Column::Id)
        .all(db)
        .await
}

pub async fn find_campaign(
    db: &impl ConnectionTrait,
    org_id: &str,
    id: &str,
) -> Result<Option<a2p_campaign::Model>, DbErr> {
    a2p_campaign::Entity::find()
        .filter(a2p_campaign::Column::OrgId.eq(org_id))
        .filter(a2p_campaign::Column::Id.eq(id))
        .one(db)
        .await
}

/// The organisation's campaigns, newest first.
pub async fn campaigns(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<a2p_campaign::Model>, DbErr> {
    a2p_campaign::Entity::find()
        .filter(a2p_campaign::Column::OrgId.eq(org_id))
        .order_by_desc(a2p_campaign::Column::CreatedAt)
        .order_by_desc(a2p_campaign::Column::Id)
        .all(db)
        .await
}

/// Writes a registration's state and snapshot onto its row.
pub async fn save_registration(db: &impl ConnectionTrait, reg: &Registration) -> Result<(), DbErr> {
    let now = Utc::now();
    let snapshot = A2pSnapshot::to_json(reg);
    let approved = (reg.phase == Phase::Approved).then_some(now);
    match reg.kind {
        Kind::Brand => {
            let Some(row) = a2p_brand::Entity::find_by_id(&reg.id).one(db).await? else {
                return Err(DbErr::RecordNotFound(format!("A2P brand {}", reg.id)));
            };
            let first_approval = row.approved_at.is_none();
            let mut a = row.into_active_model();
            a.status = Set(reg.phase);
            a.substatus = Set(reg.substatus.clone());
            a.carrier_sid = Set(reg.carrier_ref.clone());
            a.rejection_reason = Set(reg.rejection_reason.clone());
            a.snapshot = Set(snapshot);
            a.updated_at = Set(now);
            if first_approval && approved.is_some() {
                a.approved_at = Set(approved);
            }
            a.update(db).await?;
        }
        Kind::Campaign => {
            let Some(row) = a2p_campaign::Entity::find_by_id(&reg.id).one(db).await? else {
                return Err(DbErr::RecordNotFound(format!("A2P campaign {}", reg.id)));
            };
            let first_approval = row.approved_at.is_none();
            let mut a = row.into_active_model();
            a.status = Set(reg.phase);
            a.substatus = Set(reg.substatus.clone());
            a.carrier_sid = Set(reg.carrier_ref.clone());
            a.rejection_reason = Set(reg.rejection_reason.clone());
            a.snapshot = Set(snapshot);
            a.updated_at = Set(now);
            if first_approval && approved.is_some() {
                a.approved_at = Set(approved);
            }
            a.update(db).await?;
        }
    }
    Ok(())
}

/// Snapshots of every registration not yet approved, rejected or failed.
pub async fn active_snapshots(db: &impl ConnectionTrait) -> Result<Vec<serde_json::Value>, DbErr> {
    let brands = a2p_brand::Entity::find()
        .filter(a2p_brand::Column::Status.is_not_in(Phase::TERMINAL))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.snapshot);
    let campaigns = a2p_campaign::Entity::find()
        .filter(a2p_campaign::Column::Status.is_not_in(Phase::TERMINAL))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.snapshot);
    Ok(brands.chain(campaigns).collect())
}

/// Links `number` to `campaign_id` (moving it from any other campaign).
pub async fn link_number(
    db: &impl ConnectionTrait,
    org_id: &str,
    campaign_id: &str,
    number: &phone_number::Model,
) -> Result<(), DbErr> {
    let row = a2p_campaign_number::ActiveModel {
        phone_number_id: Set(number.id.clone()),
        org_id: Set(org_id.to_string()),
        campaign_id: Set(campaign_id.to_string()),
        phone_number: Set(number.phone_number.clone()),
        created_at: Set(Utc::now()),
    };
    a2p_campaign_number::Entity::insert(row)
        .on_conflict(
            OnConflict::column(a2p_campaign_number::Column::PhoneNumberId)
                .update_columns([a2p_campaign_number::Column::CampaignId])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn campaign_numbers(
    db: &impl ConnectionTrait,
    org_id: &str,
    campaign_id: &str,
) -> Result<Vec<a2p_campaign_number::Model>, DbErr> {
    a2p_campaign_number::Entity::find()
        .filter(a2p_campaign_number::Column::OrgId.eq(org_id))
        .filter(a2p_campaign_number::Column::CampaignId.eq(campaign_id))
        .order_by_asc(a2p_campaign_number::Column::CreatedAt)
        .all(db)
        .await
}

pub async fn linked_numbers(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<a2p_campaign_number::Model>, DbErr> {
    a2p_campaign_number::Entity::find()
        .filter(a2p_campaign_number::Column::OrgId.eq(org_id))
        .all(db)
        .await
}

/// The campaign `e164` sends under, if it is linked to one.
pub async fn campaign_for_number(
    db: &impl ConnectionTrait,
    org_id: &str,
    e164: &str,
) -> Result<Option<a2p_campaign::Model>, DbErr> {
    let Some(link) = a2p_campaign_number::Entity::find()
        .filter(a2p_campaign_number::Column::OrgId.eq(org_id))
        .filter(a2p_campaign_number::Column::PhoneNumber.eq(e164))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    find_campaign(db, org_id, &link.campaign_id).await
}

// -- sandbox registry -------------------------------------------------------------------------

pub struct SandboxSubmission<'a> {
    pub org_id: &'a str,
    pub kind: &'a str,
    pub key: &'a str,
    pub name: &'a str,
    pub reject_reason: Option<String>,
    pub review_ms: i64,
}

/// Records a submission under its key; a repeated key counts one more submission of the
/// same registration instead of creating another.
pub async fn sandbox_submit(
    db: &impl ConnectionTrait,
    s: SandboxSubmission<'_>,
) -> Result<a2p_sandbox_registration::Model, DbErr> {
    let prefix = if s.kind == "brand" { "BN" } else { "QE" };
    let row = a2p_sandbox_registration::ActiveModel {
        sid: Set(format!("{prefix}{}", uuid::Uuid::new_v4().simple())),
        org_id: Set(s.org_id.to_string()),
        kind: Set(s.kind.to_string()),
        idempotency_key: Set(s.key.to_string()),
        name: Set(s.name.to_string()),
        reject_reason: Set(s.reject_reason),
        review_ms: Set(s.review_ms),
        submissions: Set(1),
        created_at: Set(Utc::now()),
    };
    let inserted = a2p_sandbox_registration::Entity::insert(row)
        .on_conflict(
            OnConflict::column(a2p_sandbox_registration::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let existing = sandbox_by_key(db, s.key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("sandbox registration {}", s.key)))?;
    if inserted == 0 {
        let n = existing.submissions + 1;
        let mut a = existing.into_active_model();
        a.submissions = Set(n);
        return a.update(db).await;
    }
    Ok(existing)
}

pub async fn sandbox_by_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<a2p_sandbox_registration::Model>, DbErr> {
    a2p_sandbox_registration::Entity::find()
        .filter(a2p_sandbox_registration::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

pub async fn sandbox_find(
    db: &impl ConnectionTrait,
    org_id: &str,
    sid: &str,
) -> Result<Option<a2p_sandbox_registration::Model>, DbErr> {
    a2p_sandbox_registration::Entity::find_by_id(sid)
        .filter(a2p_sandbox_registration::Column::OrgId.eq(org_id))
        .one(db)
        .await
}

/// Submissions the sandbox registry received for an organisation (tests count them).
pub async fn sandbox_submissions(
    db: &impl ConnectionTrait,
    org_id: &str,
) -> Result<Vec<a2p_sandbox_registration::Model>, DbErr> {
    a2p_sandbox_registration::Entity::find()
        .filter(a2p_sandbox_registration::Column::OrgId.eq(org_id))
        .all(db)
        .await
}

pub async fn count_brands(db: &impl ConnectionTrait, org_id: &str) -> Result<u64, DbErr> {
    a2p_brand::Entity::find()
        .filter(a2p_brand::Column::OrgId.eq(org_id))
        .count(db)
        .await
}
