//! Calls: one row per call with its lifecycle columns (filters, recovery), its ownership
//! epoch (fencing) and the versioned snapshot (transcript, timeline, usage) as JSON.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Calls {
    Table,
    Id,
    OrgId,
    AgentId,
    Direction,
    Status,
    FromNumber,
    ToNumber,
    PhoneNumberId,
    Provider,
    ProviderCallSid,
    SessionId,
    StreamToken,
    EndReason,
    Variables,
    Metadata,
    OwnerEpoch,
    DurationSecs,
    Snapshot,
    AnsweredAt,
    EndedAt,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Calls::Table)
                .col(string(Calls::Id).primary_key())
                .col(string(Calls::OrgId))
                .col(string(Calls::AgentId))
                .col(string(Calls::Direction))
                .col(string(Calls::Status))
                .col(string(Calls::FromNumber))
                .col(string(Calls::ToNumber))
                .col(string_null(Calls::PhoneNumberId))
                .col(string(Calls::Provider))
                .col(string_null(Calls::ProviderCallSid))
                .col(string(Calls::SessionId))
                .col(string(Calls::StreamToken))
                .col(string_null(Calls::EndReason))
                .col(json_binary(Calls::Variables))
                .col(json_binary(Calls::Metadata))
                .col(big_integer(Calls::OwnerEpoch))
                .col(integer(Calls::DurationSecs))
                .col(json_binary(Calls::Snapshot))
                .col(timestamp_with_time_zone_null(Calls::AnsweredAt))
                .col(timestamp_with_time_zone_null(Calls::EndedAt))
                .col(timestamp_with_time_zone(Calls::CreatedAt))
                .col(timestamp_with_time_zone(Calls::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Calls::Table, Calls::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_calls_org_created")
                .table(Calls::Table)
                .col(Calls::OrgId)
                .col(Calls::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_calls_status")
                .table(Calls::Table)
                .col(Calls::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_calls_provider_sid")
                .table(Calls::Table)
                .col(Calls::ProviderCallSid)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Calls::Table).to_owned()).await
    }
}
