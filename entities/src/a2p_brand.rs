//! An A2P 10DLC brand registration (`BRN-`), with its actor's latest snapshot.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "a2p_brands")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub brand_type: String,
    /// The submitted registration (wire form).
    pub data: Json,
    pub status: crate::values::status::RegistrationStatus,
    pub substatus: Option<String>,
    pub carrier_sid: Option<String>,
    pub rejection_reason: Option<String>,
    pub snapshot: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub approved_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
