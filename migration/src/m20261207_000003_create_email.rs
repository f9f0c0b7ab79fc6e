//! Email: the organisation's sending domains, threads, messages (both directions), the
//! suppression list, provider events already applied (replays are ignored), the sandbox
//! provider's domains and each agent's mailbox.

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
    EmailConfig,
}

#[derive(DeriveIden, Clone, Copy)]
enum SandboxEmails {
    Table,
    ProviderId,
    Headers,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailDomains {
    Table,
    Id,
    OrgId,
    Name,
    Region,
    Provider,
    ProviderDomainId,
    Status,
    Records,
    Receiving,
    FailureReason,
    VerifyStartedAt,
    VerifiedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailThreads {
    Table,
    Id,
    OrgId,
    AgentId,
    DomainId,
    Token,
    Subject,
    SubjectNorm,
    Counterpart,
    Status,
    MessageCount,
    LastMessageAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailMessages {
    Table,
    Id,
    OrgId,
    ThreadId,
    AgentId,
    Direction,
    Provider,
    ProviderEmailId,
    MessageId,
    ProviderMessageId,
    InReplyTo,
    References,
    FromAddress,
    ToAddresses,
    CcAddresses,
    BccAddresses,
    ReplyTo,
    Subject,
    TextBody,
    HtmlBody,
    Headers,
    Tags,
    Status,
    Error,
    AutoReply,
    AutoSubmitted,
    ReplyStatus,
    ReplyNote,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EmailSuppressions {
    Table,
    Id,
    OrgId,
    Address,
    Reason,
    MessageId,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ProviderEvents {
    Table,
    Provider,
    EventId,
    EventType,
    ReceivedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SandboxEmailDomains {
    Table,
    Id,
    Name,
    Region,
    Published,
    CreatedAt,
}

fn org_fk(table: impl IntoIden, col: impl IntoIden) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Organizations::Table, Organizations::Id)
        .to_owned()
}

async fn index(m: &SchemaManager<'_>, name: &str, table: impl IntoIden, cols: &[EmailMessages]) -> Result<(), DbErr> {
    let mut idx = Index::create().name(name).table(table).to_owned();
    for c in cols {
        idx.col(*c);
    }
    m.create_index(idx).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .add_column(json_binary_null(Agents::EmailConfig))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SandboxEmails::Table)
                .add_column(string_null(SandboxEmails::ProviderId))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(SandboxEmails::Table)
                .add_column(json_binary_null(SandboxEmails::Headers))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EmailDomains::Table)
                .col(string(EmailDomains::Id).primary_key())
                .col(string(EmailDomains::OrgId))
                .col(string(EmailDomains::Name))
                .col(string(EmailDomains::Region))
                .col(string(EmailDomains::Provider))
                .col(string_null(EmailDomains::ProviderDomainId))
                .col(string(EmailDomains::Status))
                .col(json_binary(EmailDomains::Records))
                .col(boolean(EmailDomains::Receiving))
                .col(text_null(EmailDomains::FailureReason))
                .col(timestamp_with_time_zone_null(EmailDomains::VerifyStartedAt))
                .col(timestamp_with_time_zone_null(EmailDomains::VerifiedAt))
                .col(timestamp_with_time_zone(EmailDomains::CreatedAt))
                .col(timestamp_with_time_zone(EmailDomains::UpdatedAt))
                .foreign_key(&mut org_fk(EmailDomains::Table, EmailDomains::OrgId))
                .to_owned(),
        )
        .await?;
        // A domain belongs to one organisation on the whole platform.
        m.create_index(
            Index::create()
                .name("idx_email_domains_name")
                .table(EmailDomains::Table)
                .col(EmailDomains::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EmailThreads::Table)
                .col(string(EmailThreads::Id).primary_key())
                .col(string(EmailThreads::OrgId))
                .col(string_null(EmailThreads::AgentId))
                .col(string_null(EmailThreads::DomainId))
                .col(string(EmailThreads::Token))
                .col(text(EmailThreads::Subject))
                .col(text(EmailThreads::SubjectNorm))
                .col(string(EmailThreads::Counterpart))
                .col(string(EmailThreads::Status))
                .col(integer(EmailThreads::MessageCount))
                .col(timestamp_with_time_zone(EmailThreads::LastMessageAt))
                .col(timestamp_with_time_zone(EmailThreads::CreatedAt))
                .col(timestamp_with_time_zone(EmailThreads::UpdatedAt))
                .foreign_key(&mut org_fk(EmailThreads::Table, EmailThreads::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_threads_token")
                .table(EmailThreads::Table)
                .col(EmailThreads::Token)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_threads_subject")
                .table(EmailThreads::Table)
                .col(EmailThreads::OrgId)
                .col(EmailThreads::Counterpart)
                .col(EmailThreads::SubjectNorm)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EmailMessages::Table)
                .col(string(EmailMessages::Id).primary_key())
                .col(string(EmailMessages::OrgId))
                .col(string(EmailMessages::ThreadId))
                .col(string_null(EmailMessages::AgentId))
                .col(string(EmailMessages::Direction))
                .col(string(EmailMessages::Provider))
                .col(string_null(EmailMessages::ProviderEmailId))
                .col(string(EmailMessages::MessageId))
                .col(string_null(EmailMessages::ProviderMessageId))
                .col(string_null(EmailMessages::InReplyTo))
                .col(json_binary(EmailMessages::References))
                .col(string(EmailMessages::FromAddress))
                .col(json_binary(EmailMessages::ToAddresses))
                .col(json_binary(EmailMessages::CcAddresses))
                .col(json_binary(EmailMessages::BccAddresses))
                .col(string_null(EmailMessages::ReplyTo))
                .col(text(EmailMessages::Subject))
                .col(text_null(EmailMessages::TextBody))
                .col(text_null(EmailMessages::HtmlBody))
                .col(json_binary(EmailMessages::Headers))
                .col(json_binary(EmailMessages::Tags))
                .col(string(EmailMessages::Status))
                .col(text_null(EmailMessages::Error))
                .col(boolean(EmailMessages::AutoReply))
                .col(boolean(EmailMessages::AutoSubmitted))
                .col(string_null(EmailMessages::ReplyStatus))
                .col(text_null(EmailMessages::ReplyNote))
                .col(timestamp_with_time_zone(EmailMessages::CreatedAt))
                .col(timestamp_with_time_zone(EmailMessages::UpdatedAt))
                .foreign_key(&mut org_fk(EmailMessages::Table, EmailMessages::OrgId))
                .to_owned(),
        )
        .await?;
        use EmailMessages as E;
        index(m, "idx_email_messages_thread", E::Table, &[E::ThreadId, E::CreatedAt]).await?;
        index(m, "idx_email_messages_org", E::Table, &[E::OrgId, E::CreatedAt]).await?;
        index(m, "idx_email_messages_message_id", E::Table, &[E::MessageId]).await?;
        index(
            m,
            "idx_email_messages_provider_message_id",
            E::Table,
            &[E::ProviderMessageId],
        )
        .await?;
        index(
            m,
            "idx_email_messages_provider_email_id",
            E::Table,
            &[E::ProviderEmailId],
        )
        .await?;
        index(m, "idx_email_messages_reply_status", E::Table, &[E::ReplyStatus]).await?;
        m.create_table(
            Table::create()
                .table(EmailSuppressions::Table)
                .col(string(EmailSuppressions::Id).primary_key())
                .col(string(EmailSuppressions::OrgId))
                .col(string(EmailSuppressions::Address))
                .col(string(EmailSuppressions::Reason))
                .col(string_null(EmailSuppressions::MessageId))
                .col(timestamp_with_time_zone(EmailSuppressions::CreatedAt))
                .foreign_key(&mut org_fk(EmailSuppressions::Table, EmailSuppressions::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_email_suppressions_address")
                .table(EmailSuppressions::Table)
                .col(EmailSuppressions::OrgId)
                .col(EmailSuppressions::Address)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(ProviderEvents::Table)
                .col(string(ProviderEvents::Provider))
                .col(string(ProviderEvents::EventId))
                .col(string(ProviderEvents::EventType))
                .col(timestamp_with_time_zone(ProviderEvents::ReceivedAt))
                .primary_key(
                    Index::create()
                        .col(ProviderEvents::Provider)
                        .col(ProviderEvents::EventId),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SandboxEmailDomains::Table)
                .col(string(SandboxEmailDomains::Id).primary_key())
                .col(string(SandboxEmailDomains::Name))
                .col(string(SandboxEmailDomains::Region))
                .col(boolean(SandboxEmailDomains::Published))
                .col(timestamp_with_time_zone(SandboxEmailDomains::CreatedAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SandboxEmailDomains::Table.into_iden(),
            ProviderEvents::Table.into_iden(),
            EmailSuppressions::Table.into_iden(),
            EmailMessages::Table.into_iden(),
            EmailThreads::Table.into_iden(),
            EmailDomains::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        for col in [
            SandboxEmails::Headers.into_iden(),
            SandboxEmails::ProviderId.into_iden(),
        ] {
            m.alter_table(Table::alter().table(SandboxEmails::Table).drop_column(col).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Agents::Table)
                .drop_column(Agents::EmailConfig)
                .to_owned(),
        )
        .await
    }
}
