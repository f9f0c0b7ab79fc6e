//! A message the sandbox e-mail provider "sent" (readable from loopback).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub to_address: String,
    pub from_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// The id the sandbox answered the send with (one per message, shared by its recipients).
    pub provider_id: Option<String>,
    pub headers: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
