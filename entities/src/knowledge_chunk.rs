//! A chunk of a knowledge document (`KCH-…`) with its embedding and the identity of the model
//! that made it: vectors of different models are never compared.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "knowledge_chunks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub document_id: String,
    pub agent_id: Option<String>,
    pub crawl_id: Option<String>,
    pub position: i32,
    pub title: String,
    pub url: Option<String>,
    /// The headings above the chunk, joined with " > ".
    pub heading_path: String,
    pub text: String,
    /// Little-endian f32 values, L2-normalised.
    pub embedding: Vec<u8>,
    /// `name@revision/dimensions` of the model that made `embedding`.
    pub model: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
