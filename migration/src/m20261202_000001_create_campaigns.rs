//! Outbound campaigns: the campaign (config, status, owner lease with its epoch, the actor's
//! snapshot), its contacts (queue order, per-contact state, retry schedule), the dial
//! intents (one per attempt, written before the carrier is asked) and the sandbox carrier's
//! own record of the calls it placed (what "the carrier" knows, for reconciliation).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    AgentId,
    WorkflowId,
    FromNumber,
    NumberPool,
    MaxConcurrentCalls,
    CallingWindow,
    RetryPolicy,
    Metadata,
    Status,
    OwnerEpoch,
    OwnerNode,
    LeaseUntil,
    Snapshot,
    StartedAt,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignContacts {
    Table,
    Id,
    CampaignId,
    OrgId,
    Position,
    PhoneNumber,
    Name,
    CustomData,
    Timezone,
    Status,
    Attempts,
    NextAttemptAt,
    LastOutcome,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CampaignDials {
    Table,
    IntentKey,
    CampaignId,
    ContactId,
    OrgId,
    Attempt,
    CallId,
    Epoch,
    Status,
    ProviderCallSid,
    Outcome,
    Reconciled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SandboxCalls {
    Table,
    Sid,
    OrgId,
    IntentKey,
    FromNumber,
    ToNumber,
    Outcome,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Campaigns::Table)
                .col(string(Campaigns::Id).primary_key())
                .col(string(Campaigns::OrgId))
                .col(string(Campaigns::Name))
                .col(string_null(Campaigns::Description))
                .col(string(Campaigns::AgentId))
                .col(string_null(Campaigns::WorkflowId))
                .col(string_null(Campaigns::FromNumber))
                .col(json_binary(Campaigns::NumberPool))
                .col(integer(Campaigns::MaxConcurrentCalls))
                .col(json_binary_null(Campaigns::CallingWindow))
                .col(json_binary(Campaigns::RetryPolicy))
                .col(json_binary(Campaigns::Metadata))
                .col(string(Campaigns::Status))
                .col(big_integer(Campaigns::OwnerEpoch))
                .col(string_null(Campaigns::OwnerNode))
                .col(timestamp_with_time_zone_null(Campaigns::LeaseUntil))
                .col(json_binary(Campaigns::Snapshot))
                .col(timestamp_with_time_zone_null(Campaigns::StartedAt))
                .col(timestamp_with_time_zone_null(Campaigns::CompletedAt))
                .col(timestamp_with_time_zone(Campaigns::CreatedAt))
                .col(timestamp_with_time_zone(Campaigns::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Campaigns::Table, Campaigns::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaigns_org_created")
                .table(Campaigns::Table)
                .col(Campaigns::OrgId)
                .col(Campaigns::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaigns_status")
                .table(Campaigns::Table)
                .col(Campaigns::Status)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CampaignContacts::Table)
                .col(string(CampaignContacts::Id).primary_key())
                .col(string(CampaignContacts::CampaignId))
                .col(string(CampaignContacts::OrgId))
                .col(big_integer(CampaignContacts::Position))
                .col(string(CampaignContacts::PhoneNumber))
                .col(string_null(CampaignContacts::Name))
                .col(json_binary(CampaignContacts::CustomData))
                .col(string_null(CampaignContacts::Timezone))
                .col(string(CampaignContacts::Status))
                .col(integer(CampaignContacts::Attempts))
                .col(timestamp_with_time_zone_null(CampaignContacts::NextAttemptAt))
                .col(string_null(CampaignContacts::LastOutcome))
                .col(timestamp_with_time_zone(CampaignContacts::CreatedAt))
                .col(timestamp_with_time_zone(CampaignContacts::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_contacts_number")
                .table(CampaignContacts::Table)
                .col(CampaignContacts::CampaignId)
                .col(CampaignContacts::PhoneNumber)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_contacts_queue")
                .table(CampaignContacts::Table)
                .col(CampaignContacts::CampaignId)
                .col(CampaignContacts::Status)
                .col(CampaignContacts::Position)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CampaignDials::Table)
                .col(string(CampaignDials::IntentKey).primary_key())
                .col(string(CampaignDials::CampaignId))
                .col(string(CampaignDials::ContactId))
                .col(string(CampaignDials::OrgId))
                .col(integer(CampaignDials::Attempt))
                .col(string(CampaignDials::CallId))
                .col(big_integer(CampaignDials::Epoch))
                .col(string(CampaignDials::Status))
                .col(string_null(CampaignDials::ProviderCallSid))
                .col(string_null(CampaignDials::Outcome))
                .col(boolean(CampaignDials::Reconciled))
                .col(timestamp_with_time_zone(CampaignDials::CreatedAt))
                .col(timestamp_with_time_zone(CampaignDials::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_dials_open")
                .table(CampaignDials::Table)
                .col(CampaignDials::CampaignId)
                .col(CampaignDials::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_campaign_dials_contact")
                .table(CampaignDials::Table)
                .col(CampaignDials::ContactId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SandboxCalls::Table)
                .col(string(SandboxCalls::Sid).primary_key())
                .col(string(SandboxCalls::OrgId))
                .col(string_null(SandboxCalls::IntentKey))
                .col(string(SandboxCalls::FromNumber))
                .col(string(SandboxCalls::ToNumber))
                .col(string(SandboxCalls::Outcome))
                .col(timestamp_with_time_zone(SandboxCalls::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sandbox_calls_intent")
                .table(SandboxCalls::Table)
                .col(SandboxCalls::IntentKey)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sandbox_calls_to")
                .table(SandboxCalls::Table)
                .col(SandboxCalls::OrgId)
                .col(SandboxCalls::ToNumber)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            SandboxCalls::Table.into_iden(),
            CampaignDials::Table.into_iden(),
            CampaignContacts::Table.into_iden(),
            Campaigns::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
