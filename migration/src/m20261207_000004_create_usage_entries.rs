//! The usage ledger: one entry per billable thing, keyed by its source (a retry, a replay or
//! a restarted actor writes the same key, which is kept once), priced when written.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageEntries {
    Table,
    Id,
    OrgId,
    Source,
    Component,
    Provider,
    Unit,
    Quantity,
    UnitPrice,
    AmountMicros,
    AgentId,
    CallId,
    OccurredAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UsageEntries::Table)
                .col(string(UsageEntries::Id).primary_key())
                .col(string(UsageEntries::OrgId))
                .col(string(UsageEntries::Source))
                .col(string(UsageEntries::Component))
                .col(string(UsageEntries::Provider))
                .col(string(UsageEntries::Unit))
                .col(double(UsageEntries::Quantity))
                .col(double(UsageEntries::UnitPrice))
                .col(big_integer(UsageEntries::AmountMicros))
                .col(string_null(UsageEntries::AgentId))
                .col(string_null(UsageEntries::CallId))
                .col(timestamp_with_time_zone(UsageEntries::OccurredAt))
                .col(timestamp_with_time_zone(UsageEntries::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(UsageEntries::Table, UsageEntries::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        // One entry per source, whatever writes it again.
        m.create_index(
            Index::create()
                .name("idx_usage_entries_source")
                .table(UsageEntries::Table)
                .col(UsageEntries::Source)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_usage_entries_org_time")
                .table(UsageEntries::Table)
                .col(UsageEntries::OrgId)
                .col(UsageEntries::OccurredAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_usage_entries_call")
                .table(UsageEntries::Table)
                .col(UsageEntries::CallId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(UsageEntries::Table).to_owned()).await
    }
}
