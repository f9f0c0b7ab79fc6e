//! A custom webhook tool agents call during conversations; the secret is stored encrypted.
use sea_orm::entity::prelude::*;

use crate::values::StringMap;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tools")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub url: String,
    pub parameters: Option<Json>,
    pub secret_ciphertext: Option<String>,
    /// The last four characters of the secret, shown instead of it.
    pub secret_hint: Option<String>,
    pub headers: StringMap,
    pub timeout_secs: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
