//! SMS (messages, conversations, opt-outs) and A2P 10DLC (brands, campaigns with their actor
//! snapshots, linked numbers, and the sandbox registry's submissions).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum SmsConversations {
    Table,
    Id,
    OrgId,
    OrgNumber,
    ContactNumber,
    LastMessageAt,
    LastMessagePreview,
    MessageCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SmsMessages {
    Table,
    Id,
    OrgId,
    ConversationId,
    Direction,
    FromNumber,
    ToNumber,
    Body,
    Status,
    Provider,
    ProviderSid,
    ErrorCode,
    ErrorMessage,
    NumSegments,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SmsOptOuts {
    Table,
    Id,
    OrgId,
    OrgNumber,
    ContactNumber,
    Keyword,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum A2pBrands {
    Table,
    Id,
    OrgId,
    BrandType,
    Data,
    Status,
    Substatus,
    CarrierSid,
    RejectionReason,
    Snapshot,
    CreatedAt,
    UpdatedAt,
    ApprovedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum A2pCampaigns {
    Table,
    Id,
    OrgId,
    BrandId,
    UseCase,
    Data,
    Status,
    Substatus,
    CarrierSid,
    RejectionReason,
    Snapshot,
    CreatedAt,
    UpdatedAt,
    ApprovedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum A2pCampaignNumbers {
    Table,
    PhoneNumberId,
    OrgId,
    CampaignId,
    PhoneNumber,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum A2pSandboxRegistrations {
    Table,
    Sid,
    OrgId,
    Kind,
    IdempotencyKey,
    Name,
    RejectReason,
    ReviewMs,
    Submissions,
    CreatedAt,
}

fn org_fk(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
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
                .table(SmsConversations::Table)
                .col(string(SmsConversations::Id).primary_key())
                .col(string(SmsConversations::OrgId))
                .col(string(SmsConversations::OrgNumber))
                .col(string(SmsConversations::ContactNumber))
                .col(timestamp_with_time_zone(SmsConversations::LastMessageAt))
                .col(text_null(SmsConversations::LastMessagePreview))
                .col(integer(SmsConversations::MessageCount))
                .col(timestamp_with_time_zone(SmsConversations::CreatedAt))
                .col(timestamp_with_time_zone(SmsConversations::UpdatedAt))
                .foreign_key(&mut org_fk(SmsConversations::Table, SmsConversations::OrgId))
                .to_owned(),
        )
        .await?;
        // One conversation per pair of numbers in an organisation.
        m.create_index(
            Index::create()
                .name("idx_sms_conversations_pair")
                .table(SmsConversations::Table)
                .col(SmsConversations::OrgId)
                .col(SmsConversations::OrgNumber)
                .col(SmsConversations::ContactNumber)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SmsMessages::Table)
                .col(string(SmsMessages::Id).primary_key())
                .col(string(SmsMessages::OrgId))
                .col(string(SmsMessages::ConversationId))
                .col(string(SmsMessages::Direction))
                .col(string(SmsMessages::FromNumber))
                .col(string(SmsMessages::ToNumber))
                .col(text(SmsMessages::Body))
                .col(string(SmsMessages::Status))
                .col(string(SmsMessages::Provider))
                .col(string_null(SmsMessages::ProviderSid))
                .col(integer_null(SmsMessages::ErrorCode))
                .col(text_null(SmsMessages::ErrorMessage))
                .col(integer(SmsMessages::NumSegments))
                .col(timestamp_with_time_zone(SmsMessages::CreatedAt))
                .col(timestamp_with_time_zone(SmsMessages::UpdatedAt))
                .foreign_key(&mut org_fk(SmsMessages::Table, SmsMessages::OrgId))
                .foreign_key(
                    ForeignKey::create()
                        .from(SmsMessages::Table, SmsMessages::ConversationId)
                        .to(SmsConversations::Table, SmsConversations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sms_messages_org_created")
                .table(SmsMessages::Table)
                .col(SmsMessages::OrgId)
                .col(SmsMessages::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sms_messages_provider_sid")
                .table(SmsMessages::Table)
                .col(SmsMessages::ProviderSid)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SmsOptOuts::Table)
                .col(string(SmsOptOuts::Id).primary_key())
                .col(string(SmsOptOuts::OrgId))
                .col(string(SmsOptOuts::OrgNumber))
                .col(string(SmsOptOuts::ContactNumber))
                .col(string(SmsOptOuts::Keyword))
                .col(timestamp_with_time_zone(SmsOptOuts::CreatedAt))
                .foreign_key(&mut org_fk(SmsOptOuts::Table, SmsOptOuts::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sms_opt_outs_pair")
                .table(SmsOptOuts::Table)
                .col(SmsOptOuts::OrgId)
                .col(SmsOptOuts::ContactNumber)
                .col(SmsOptOuts::OrgNumber)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(A2pBrands::Table)
                .col(string(A2pBrands::Id).primary_key())
                .col(string(A2pBrands::OrgId))
                .col(string(A2pBrands::BrandType))
                .col(json_binary(A2pBrands::Data))
                .col(string(A2pBrands::Status))
                .col(string_null(A2pBrands::Substatus))
                .col(string_null(A2pBrands::CarrierSid))
                .col(text_null(A2pBrands::RejectionReason))
                .col(json_binary(A2pBrands::Snapshot))
                .col(timestamp_with_time_zone(A2pBrands::CreatedAt))
                .col(timestamp_with_time_zone(A2pBrands::UpdatedAt))
                .col(timestamp_with_time_zone_null(A2pBrands::ApprovedAt))
                .foreign_key(&mut org_fk(A2pBrands::Table, A2pBrands::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_a2p_brands_org")
                .table(A2pBrands::Table)
                .col(A2pBrands::OrgId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(A2pCampaigns::Table)
                .col(string(A2pCampaigns::Id).primary_key())
                .col(string(A2pCampaigns::OrgId))
                .col(string(A2pCampaigns::BrandId))
                .col(string(A2pCampaigns::UseCase))
                .col(json_binary(A2pCampaigns::Data))
                .col(string(A2pCampaigns::Status))
                .col(string_null(A2pCampaigns::Substatus))
                .col(string_null(A2pCampaigns::CarrierSid))
                .col(text_null(A2pCampaigns::RejectionReason))
                .col(json_binary(A2pCampaigns::Snapshot))
                .col(timestamp_with_time_zone(A2pCampaigns::CreatedAt))
                .col(timestamp_with_time_zone(A2pCampaigns::UpdatedAt))
                .col(timestamp_with_time_zone_null(A2pCampaigns::ApprovedAt))
                .foreign_key(&mut org_fk(A2pCampaigns::Table, A2pCampaigns::OrgId))
                .foreign_key(
                    ForeignKey::create()
                        .from(A2pCampaigns::Table, A2pCampaigns::BrandId)
                        .to(A2pBrands::Table, A2pBrands::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(A2pCampaignNumbers::Table)
                // A number sends under one campaign at a time.
                .col(string(A2pCampaignNumbers::PhoneNumberId).primary_key())
                .col(string(A2pCampaignNumbers::OrgId))
                .col(string(A2pCampaignNumbers::CampaignId))
                .col(string(A2pCampaignNumbers::PhoneNumber))
                .col(timestamp_with_time_zone(A2pCampaignNumbers::CreatedAt))
                .foreign_key(&mut org_fk(A2pCampaignNumbers::Table, A2pCampaignNumbers::OrgId))
                .foreign_key(
                    ForeignKey::create()
                        .from(A2pCampaignNumbers::Table, A2pCampaignNumbers::CampaignId)
                        .to(A2pCampaigns::Table, A2pCampaigns::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(A2pSandboxRegistrations::Table)
                .col(string(A2pSandboxRegistrations::Sid).primary_key())
                .col(string(A2pSandboxRegistrations::OrgId))
                .col(string(A2pSandboxRegistrations::Kind))
                .col(string_uniq(A2pSandboxRegistrations::IdempotencyKey))
                .col(text(A2pSandboxRegistrations::Name))
                .col(text_null(A2pSandboxRegistrations::RejectReason))
                .col(big_integer(A2pSandboxRegistrations::ReviewMs))
                .col(integer(A2pSandboxRegistrations::Submissions))
                .col(timestamp_with_time_zone(A2pSandboxRegistrations::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            A2pSandboxRegistrations::Table.into_iden(),
            A2pCampaignNumbers::Table.into_iden(),
            A2pCampaigns::Table.into_iden(),
            A2pBrands::Table.into_iden(),
            SmsOptOuts::Table.into_iden(),
            SmsMessages::Table.into_iden(),
            SmsConversations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
