//! A sending (and receiving) domain of an organisation, with the DNS records it needs.
use sea_orm::entity::prelude::*;

use crate::values::email::DnsRecords;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// ASCII (IDNA) lower case; unique on the platform.
    pub name: String,
    pub region: String,
    /// `resend` or `sandbox`.
    pub provider: String,
    pub provider_domain_id: Option<String>,
    /// `not_started`, `pending`, `verified`, `partially_verified`, `failed`.
    pub status: String,
    pub records: DnsRecords,
    pub receiving: bool,
    pub failure_reason: Option<String>,
    /// When verification was first asked for (its deadline runs from here).
    pub verify_started_at: Option<DateTimeUtc>,
    pub verified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
