//! Agents, custom tools, phone numbers, per-organisation Twilio credentials, the sandbox
//! carrier's inventory of sold numbers and platform secrets (the generated encryption key).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Agents {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    SystemPrompt,
    FirstMessage,
    Status,
    PipelineMode,
    S2sProvider,
    S2sModel,
    S2sVoice,
    S2sConfig,
    S2sTurnDetection,
    InterruptionSettings,
    VoiceConfig,
    LlmConfig,
    SttConfig,
    EnabledTools,
    MemoryPolicy,
    Variables,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tools {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    Url,
    Parameters,
    SecretCiphertext,
    SecretHint,
    Headers,
    TimeoutSecs,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PhoneNumbers {
    Table,
    Id,
    OrgId,
    PhoneNumber,
    FriendlyName,
    Provider,
    ProviderSid,
    TwilioAccountSid,
    VoiceWebhookUrl,
    SmsWebhookUrl,
    AgentId,
    Status,
    Country,
    Capabilities,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum TelephonyCredentials {
    Table,
    OrgId,
    AccountSid,
    AuthTokenCiphertext,
    FriendlyName,
    AccountType,
    AccountStatus,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SandboxNumbers {
    Table,
    Sid,
    PhoneNumber,
    OrgId,
    VoiceUrl,
    SmsUrl,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum PlatformSecrets {
    Table,
    Name,
    Value,
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
                .table(Agents::Table)
                .col(string(Agents::Id).primary_key())
                .col(string(Agents::OrgId))
                .col(string(Agents::Name))
                .col(text_null(Agents::Description))
                .col(text_null(Agents::SystemPrompt))
                .col(text_null(Agents::FirstMessage))
                .col(string(Agents::Status))
                .col(string(Agents::PipelineMode))
                .col(string_null(Agents::S2sProvider))
                .col(string_null(Agents::S2sModel))
                .col(string_null(Agents::S2sVoice))
                .col(json_binary(Agents::S2sConfig))
                .col(json_binary_null(Agents::S2sTurnDetection))
                .col(json_binary_null(Agents::InterruptionSettings))
                .col(json_binary_null(Agents::VoiceConfig))
                .col(json_binary_null(Agents::LlmConfig))
                .col(json_binary_null(Agents::SttConfig))
                .col(json_binary(Agents::EnabledTools))
                .col(json_binary_null(Agents::MemoryPolicy))
                .col(json_binary(Agents::Variables))
                .col(timestamp_with_time_zone(Agents::CreatedAt))
                .col(timestamp_with_time_zone(Agents::UpdatedAt))
                .foreign_key(&mut org_fk(Agents::Table, Agents::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_agents_org_created")
                .table(Agents::Table)
                .col(Agents::OrgId)
                .col(Agents::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Tools::Table)
                .col(string(Tools::Id).primary_key())
                .col(string(Tools::OrgId))
                .col(string(Tools::Name))
                .col(text_null(Tools::Description))
                .col(text(Tools::Url))
                .col(json_binary_null(Tools::Parameters))
                .col(text_null(Tools::SecretCiphertext))
                .col(string_null(Tools::SecretHint))
                .col(json_binary(Tools::Headers))
                .col(integer(Tools::TimeoutSecs))
                .col(timestamp_with_time_zone(Tools::CreatedAt))
                .col(timestamp_with_time_zone(Tools::UpdatedAt))
                .foreign_key(&mut org_fk(Tools::Table, Tools::OrgId))
                .to_owned(),
        )
        .await?;
        // Tool names are unique per organisation (agents refer to tools by name too).
        m.create_index(
            Index::create()
                .name("idx_tools_org_name")
                .table(Tools::Table)
                .col(Tools::OrgId)
                .col(Tools::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PhoneNumbers::Table)
                .col(string(PhoneNumbers::Id).primary_key())
                .col(string(PhoneNumbers::OrgId))
                // One row per number across every organisation: a number has one owner.
                .col(string_uniq(PhoneNumbers::PhoneNumber))
                .col(string_null(PhoneNumbers::FriendlyName))
                .col(string(PhoneNumbers::Provider))
                .col(string_null(PhoneNumbers::ProviderSid))
                .col(string_null(PhoneNumbers::TwilioAccountSid))
                .col(text_null(PhoneNumbers::VoiceWebhookUrl))
                .col(text_null(PhoneNumbers::SmsWebhookUrl))
                .col(string_null(PhoneNumbers::AgentId))
                .col(string(PhoneNumbers::Status))
                .col(string(PhoneNumbers::Country))
                .col(json_binary(PhoneNumbers::Capabilities))
                .col(timestamp_with_time_zone(PhoneNumbers::CreatedAt))
                .col(timestamp_with_time_zone(PhoneNumbers::UpdatedAt))
                .foreign_key(&mut org_fk(PhoneNumbers::Table, PhoneNumbers::OrgId))
                .foreign_key(
                    ForeignKey::create()
                        .from(PhoneNumbers::Table, PhoneNumbers::AgentId)
                        .to(Agents::Table, Agents::Id)
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_phone_numbers_org_agent")
                .table(PhoneNumbers::Table)
                .col(PhoneNumbers::OrgId)
                .col(PhoneNumbers::AgentId)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(TelephonyCredentials::Table)
                .col(string(TelephonyCredentials::OrgId).primary_key())
                .col(string(TelephonyCredentials::AccountSid))
                .col(text(TelephonyCredentials::AuthTokenCiphertext))
                .col(string_null(TelephonyCredentials::FriendlyName))
                .col(string_null(TelephonyCredentials::AccountType))
                .col(string(TelephonyCredentials::AccountStatus))
                .col(timestamp_with_time_zone(TelephonyCredentials::CreatedAt))
                .col(timestamp_with_time_zone(TelephonyCredentials::UpdatedAt))
                .foreign_key(&mut org_fk(TelephonyCredentials::Table, TelephonyCredentials::OrgId))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SandboxNumbers::Table)
                .col(string(SandboxNumbers::Sid).primary_key())
                .col(string_uniq(SandboxNumbers::PhoneNumber))
                .col(string(SandboxNumbers::OrgId))
                .col(text_null(SandboxNumbers::VoiceUrl))
                .col(text_null(SandboxNumbers::SmsUrl))
                .col(timestamp_with_time_zone(SandboxNumbers::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PlatformSecrets::Table)
                .col(string(PlatformSecrets::Name).primary_key())
                .col(text(PlatformSecrets::Value))
                .col(timestamp_with_time_zone(PlatformSecrets::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PlatformSecrets::Table.into_iden(),
            SandboxNumbers::Table.into_iden(),
            TelephonyCredentials::Table.into_iden(),
            PhoneNumbers::Table.into_iden(),
            Tools::Table.into_iden(),
            Agents::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
