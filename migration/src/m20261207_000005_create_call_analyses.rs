//! Post-call analysis: one row per ended call, written with its end (the intent), then
//! filled by the analysis worker — summary, sentiment, whether the caller's goal was met.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CallAnalyses {
    Table,
    CallId,
    OrgId,
    AgentId,
    Status,
    Attempts,
    NextAttemptAt,
    Method,
    Summary,
    Sentiment,
    Resolved,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CallAnalyses::Table)
                .col(string(CallAnalyses::CallId).primary_key())
                .col(string(CallAnalyses::OrgId))
                .col(string(CallAnalyses::AgentId))
                .col(string(CallAnalyses::Status))
                .col(integer(CallAnalyses::Attempts))
                .col(timestamp_with_time_zone(CallAnalyses::NextAttemptAt))
                .col(string_null(CallAnalyses::Method))
                .col(text_null(CallAnalyses::Summary))
                .col(string_null(CallAnalyses::Sentiment))
                .col(boolean_null(CallAnalyses::Resolved))
                .col(text_null(CallAnalyses::Error))
                .col(timestamp_with_time_zone(CallAnalyses::CreatedAt))
                .col(timestamp_with_time_zone(CallAnalyses::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_call_analyses_due")
                .table(CallAnalyses::Table)
                .col(CallAnalyses::Status)
                .col(CallAnalyses::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_call_analyses_agent")
                .table(CallAnalyses::Table)
                .col(CallAnalyses::OrgId)
                .col(CallAnalyses::AgentId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CallAnalyses::Table).to_owned()).await
    }
}
