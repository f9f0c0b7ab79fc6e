//! A dial intent: one per contact attempt, recorded (with its derived idempotency key)
//! before the carrier is asked to place the call. `pending` until the carrier acknowledged
//! it (`placed`), `done` once the call's outcome was applied to the contact.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_dials")]
pub struct Model {
    /// `{contactId}:{attempt}`: the same key on every try of the same attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub intent_key: String,
    pub campaign_id: String,
    pub contact_id: String,
    pub org_id: String,
    pub attempt: i32,
    pub call_id: String,
    /// The campaign owner epoch that recorded the intent.
    pub epoch: i64,
    pub status: String,
    pub provider_call_sid: Option<String>,
    pub outcome: Option<String>,
    /// True when the carrier acknowledgement was recovered by a lookup after a crash.
    pub reconciled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
