//! Knowledge: crawl jobs, the documents they (or direct ingestion) produced, their chunks with
//! one embedding each (the model's identity beside it), and a version per organisation that
//! every write bumps, so that each node's in-memory search index knows when it is stale.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeCrawls {
    Table,
    Id,
    OrgId,
    AgentId,
    Url,
    Status,
    MaxPages,
    MaxDepth,
    IncludePaths,
    ExcludePaths,
    PagesFetched,
    PagesUnchanged,
    PagesSkipped,
    PagesFailed,
    PagesRemoved,
    Chunks,
    Error,
    Log,
    CreatedAt,
    StartedAt,
    FinishedAt,
    HeartbeatAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeDocuments {
    Table,
    Id,
    OrgId,
    AgentId,
    CrawlId,
    SourceKey,
    Url,
    Title,
    Kind,
    ContentHash,
    Etag,
    LastModified,
    Links,
    Chunks,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeChunks {
    Table,
    Id,
    OrgId,
    DocumentId,
    AgentId,
    CrawlId,
    Position,
    Title,
    Url,
    HeadingPath,
    Text,
    Embedding,
    Model,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum KnowledgeVersions {
    Table,
    OrgId,
    Version,
    UpdatedAt,
}

fn org_fk<T: IntoIden + Copy + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(KnowledgeCrawls::Table)
                .col(string(KnowledgeCrawls::Id).primary_key())
                .col(string(KnowledgeCrawls::OrgId))
                .col(string_null(KnowledgeCrawls::AgentId))
                .col(text(KnowledgeCrawls::Url))
                .col(string(KnowledgeCrawls::Status))
                .col(integer(KnowledgeCrawls::MaxPages))
                .col(integer(KnowledgeCrawls::MaxDepth))
                .col(json(KnowledgeCrawls::IncludePaths))
                .col(json(KnowledgeCrawls::ExcludePaths))
                .col(integer(KnowledgeCrawls::PagesFetched))
                .col(integer(KnowledgeCrawls::PagesUnchanged))
                .col(integer(KnowledgeCrawls::PagesSkipped))
                .col(integer(KnowledgeCrawls::PagesFailed))
                .col(integer(KnowledgeCrawls::PagesRemoved))
                .col(integer(KnowledgeCrawls::Chunks))
                .col(text_null(KnowledgeCrawls::Error))
                .col(json(KnowledgeCrawls::Log))
                .col(timestamp_with_time_zone(KnowledgeCrawls::CreatedAt))
                .col(timestamp_with_time_zone_null(KnowledgeCrawls::StartedAt))
                .col(timestamp_with_time_zone_null(KnowledgeCrawls::FinishedAt))
                .col(timestamp_with_time_zone_null(KnowledgeCrawls::HeartbeatAt))
                .foreign_key(&mut org_fk(KnowledgeCrawls::Table, KnowledgeCrawls::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_knowledge_crawls_org")
                .table(KnowledgeCrawls::Table)
                .col(KnowledgeCrawls::OrgId)
                .col(KnowledgeCrawls::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_knowledge_crawls_status")
                .table(KnowledgeCrawls::Table)
                .col(KnowledgeCrawls::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KnowledgeDocuments::Table)
                .col(string(KnowledgeDocuments::Id).primary_key())
                .col(string(KnowledgeDocuments::OrgId))
                .col(string_null(KnowledgeDocuments::AgentId))
                .col(string_null(KnowledgeDocuments::CrawlId))
                .col(text(KnowledgeDocuments::SourceKey))
                .col(text_null(KnowledgeDocuments::Url))
                .col(text(KnowledgeDocuments::Title))
                .col(string(KnowledgeDocuments::Kind))
                .col(string(KnowledgeDocuments::ContentHash))
                .col(text_null(KnowledgeDocuments::Etag))
                .col(text_null(KnowledgeDocuments::LastModified))
                .col(json(KnowledgeDocuments::Links))
                .col(integer(KnowledgeDocuments::Chunks))
                .col(timestamp_with_time_zone(KnowledgeDocuments::CreatedAt))
                .col(timestamp_with_time_zone(KnowledgeDocuments::UpdatedAt))
                .foreign_key(&mut org_fk(KnowledgeDocuments::Table, KnowledgeDocuments::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_knowledge_documents_source")
                .table(KnowledgeDocuments::Table)
                .col(KnowledgeDocuments::OrgId)
                .col(KnowledgeDocuments::SourceKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(KnowledgeChunks::Table)
                .col(string(KnowledgeChunks::Id).primary_key())
                .col(string(KnowledgeChunks::OrgId))
                .col(string(KnowledgeChunks::DocumentId))
                .col(string_null(KnowledgeChunks::AgentId))
                .col(string_null(KnowledgeChunks::CrawlId))
                .col(integer(KnowledgeChunks::Position))
                .col(text(KnowledgeChunks::Title))
                .col(text_null(KnowledgeChunks::Url))
                .col(text(KnowledgeChunks::HeadingPath))
                .col(text(KnowledgeChunks::Text))
                .col(blob(KnowledgeChunks::Embedding))
                .col(string(KnowledgeChunks::Model))
                .col(timestamp_with_time_zone(KnowledgeChunks::CreatedAt))
                .foreign_key(&mut org_fk(KnowledgeChunks::Table, KnowledgeChunks::OrgId))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_knowledge_chunks_org", KnowledgeChunks::OrgId),
            ("idx_knowledge_chunks_document", KnowledgeChunks::DocumentId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(KnowledgeChunks::Table)
                    .col(col)
                    .col(KnowledgeChunks::Position)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(KnowledgeVersions::Table)
                .col(string(KnowledgeVersions::OrgId).primary_key())
                .col(big_integer(KnowledgeVersions::Version))
                .col(timestamp_with_time_zone(KnowledgeVersions::UpdatedAt))
                .foreign_key(&mut org_fk(KnowledgeVersions::Table, KnowledgeVersions::OrgId))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "knowledge_versions",
            "knowledge_chunks",
            "knowledge_documents",
            "knowledge_crawls",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
