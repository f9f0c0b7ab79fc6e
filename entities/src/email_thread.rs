//! A conversation by email with one counterpart, on one subject.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_threads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub agent_id: Option<String>,
    pub domain_id: Option<String>,
    /// Carried in the Reply-To (`agent+t_<token>@domain`) so a reply finds its thread.
    pub token: String,
    pub subject: String,
    /// Lower case, without `Re:`/`Fwd:` prefixes.
    pub subject_norm: String,
    /// The other party's address, lower case.
    pub counterpart: String,
    /// `open` (last word theirs), `waiting` (last word ours) or `closed`.
    pub status: String,
    pub message_count: i32,
    pub last_message_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
