//! Organisations, users, API keys, pending sign-ups, feedback, idempotency records, the
//! sandbox e-mail outbox and the event outbox.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Slug,
    Plan,
    OwnerEmail,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    OrgId,
    Email,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    OrgId,
    Name,
    KeyHash,
    DisplayPrefix,
    Scopes,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum PendingAccounts {
    Table,
    Email,
    OrgName,
    Slug,
    CodeHash,
    Attempts,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Feedback {
    Table,
    Id,
    OrgId,
    Kind,
    Subject,
    Message,
    Rating,
    Status,
    Response,
    RespondedAt,
    Metadata,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    ScopeHash,
    OrgId,
    IdemKey,
    Method,
    Route,
    Fingerprint,
    Status,
    ResponseStatus,
    ResponseBody,
    LockToken,
    LockedUntil,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SandboxEmails {
    Table,
    Id,
    ToAddress,
    FromAddress,
    Subject,
    TextBody,
    HtmlBody,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    OrgId,
    EventType,
    Payload,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organizations::Table)
                .col(string(Organizations::Id).primary_key())
                .col(string(Organizations::Name))
                .col(string_uniq(Organizations::Slug))
                .col(string(Organizations::Plan))
                .col(string(Organizations::OwnerEmail))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(string(Users::Id).primary_key())
                .col(string(Users::OrgId))
                .col(string_uniq(Users::Email))
                .col(string(Users::Role))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Users::Table, Users::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ApiKeys::Table)
                .col(string(ApiKeys::Id).primary_key())
                .col(string(ApiKeys::OrgId))
                .col(string(ApiKeys::Name))
                .col(string_uniq(ApiKeys::KeyHash))
                .col(string(ApiKeys::DisplayPrefix))
                .col(json_binary(ApiKeys::Scopes))
                .col(timestamp_with_time_zone(ApiKeys::CreatedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::LastUsedAt))
                .col(timestamp_with_time_zone_null(ApiKeys::ExpiresAt))
                .col(timestamp_with_time_zone_null(ApiKeys::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ApiKeys::Table, ApiKeys::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(PendingAccounts::Table)
                .col(string(PendingAccounts::Email).primary_key())
                .col(string(PendingAccounts::OrgName))
                .col(string(PendingAccounts::Slug))
                .col(string(PendingAccounts::CodeHash))
                .col(integer(PendingAccounts::Attempts))
                .col(timestamp_with_time_zone(PendingAccounts::ExpiresAt))
                .col(timestamp_with_time_zone(PendingAccounts::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Feedback::Table)
                .col(string(Feedback::Id).primary_key())
                .col(string(Feedback::OrgId))
                .col(string(Feedback::Kind))
                .col(string_null(Feedback::Subject))
                .col(text(Feedback::Message))
                .col(integer_null(Feedback::Rating))
                .col(string(Feedback::Status))
                .col(text_null(Feedback::Response))
                .col(timestamp_with_time_zone_null(Feedback::RespondedAt))
                .col(json_binary(Feedback::Metadata))
                .col(string(Feedback::CreatedBy))
                .col(timestamp_with_time_zone(Feedback::CreatedAt))
                .col(timestamp_with_time_zone(Feedback::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Feedback::Table, Feedback::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_feedback_org_created")
                .table(Feedback::Table)
                .col(Feedback::OrgId)
                .col(Feedback::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(string(IdempotencyKeys::ScopeHash).primary_key())
                .col(string(IdempotencyKeys::OrgId))
                .col(string(IdempotencyKeys::IdemKey))
                .col(string(IdempotencyKeys::Method))
                .col(string(IdempotencyKeys::Route))
                .col(string(IdempotencyKeys::Fingerprint))
                .col(string(IdempotencyKeys::Status))
                .col(integer_null(IdempotencyKeys::ResponseStatus))
                .col(text_null(IdempotencyKeys::ResponseBody))
                .col(string_null(IdempotencyKeys::LockToken))
                .col(timestamp_with_time_zone_null(IdempotencyKeys::LockedUntil))
                .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                .col(timestamp_with_time_zone(IdempotencyKeys::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_idempotency_expires")
                .table(IdempotencyKeys::Table)
                .col(IdempotencyKeys::ExpiresAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(SandboxEmails::Table)
                .col(string(SandboxEmails::Id).primary_key())
                .col(string(SandboxEmails::ToAddress))
                .col(string(SandboxEmails::FromAddress))
                .col(string(SandboxEmails::Subject))
                .col(text(SandboxEmails::TextBody))
                .col(text_null(SandboxEmails::HtmlBody))
                .col(timestamp_with_time_zone(SandboxEmails::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sandbox_emails_to")
                .table(SandboxEmails::Table)
                .col(SandboxEmails::ToAddress)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OutboxEvents::Table)
                .col(string(OutboxEvents::Id).primary_key())
                .col(string(OutboxEvents::OrgId))
                .col(string(OutboxEvents::EventType))
                .col(json_binary(OutboxEvents::Payload))
                .col(timestamp_with_time_zone(OutboxEvents::CreatedAt))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OutboxEvents::Table.into_iden(),
            SandboxEmails::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            Feedback::Table.into_iden(),
            PendingAccounts::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
