//! Webhook subscriptions, their deliveries (one per event and subscription) and the
//! attempt log, plus the outbox's dispatch marker.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    OrgId,
    Url,
    Events,
    Secret,
    Description,
    IsActive,
    DisabledReason,
    FailingSince,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    OrgId,
    WebhookId,
    EventId,
    EventType,
    Payload,
    Status,
    Attempts,
    AttemptsTotal,
    NextAttemptAt,
    LeaseUntil,
    LeaseToken,
    LastHttpStatus,
    LastError,
    CreatedAt,
    UpdatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    OrgId,
    WebhookId,
    DeliveryId,
    EventId,
    EventType,
    Attempt,
    Status,
    HttpStatus,
    ResponseTimeMs,
    ResponseBody,
    Error,
    NextRetryAt,
    CreatedAt,
    CompletedAt,
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    DispatchedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Webhooks::Table)
                .col(string(Webhooks::Id).primary_key())
                .col(string(Webhooks::OrgId))
                .col(text(Webhooks::Url))
                .col(json_binary(Webhooks::Events))
                .col(string(Webhooks::Secret))
                .col(text_null(Webhooks::Description))
                .col(boolean(Webhooks::IsActive))
                .col(string_null(Webhooks::DisabledReason))
                .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                .col(timestamp_with_time_zone(Webhooks::UpdatedAt))
                .col(timestamp_with_time_zone_null(Webhooks::DeletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhooks_org")
                .table(Webhooks::Table)
                .col(Webhooks::OrgId)
                .col(Webhooks::CreatedAt)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .col(string(WebhookDeliveries::Id).primary_key())
                .col(string(WebhookDeliveries::OrgId))
                .col(string(WebhookDeliveries::WebhookId))
                .col(string(WebhookDeliveries::EventId))
                .col(string(WebhookDeliveries::EventType))
                .col(text(WebhookDeliveries::Payload))
                .col(string(WebhookDeliveries::Status))
                .col(integer(WebhookDeliveries::Attempts))
                .col(integer(WebhookDeliveries::AttemptsTotal))
                .col(timestamp_with_time_zone(WebhookDeliveries::NextAttemptAt))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                .col(string_null(WebhookDeliveries::LeaseToken))
                .col(integer_null(WebhookDeliveries::LastHttpStatus))
                .col(text_null(WebhookDeliveries::LastError))
                .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                .col(timestamp_with_time_zone(WebhookDeliveries::UpdatedAt))
                .col(timestamp_with_time_zone_null(WebhookDeliveries::CompletedAt))
                .to_owned(),
        )
        .await?;
        // Exactly one delivery per (event, subscription), whatever the number of dispatchers.
        m.create_index(
            Index::create()
                .name("uq_webhook_deliveries_event_webhook")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::EventId)
                .col(WebhookDeliveries::WebhookId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_due")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_webhook")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::WebhookId)
                .col(WebhookDeliveries::Status)
                .col(WebhookDeliveries::NextAttemptAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_deliveries_lease")
                .table(WebhookDeliveries::Table)
                .col(WebhookDeliveries::LeaseToken)
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WebhookAttempts::Table)
                .col(string(WebhookAttempts::Id).primary_key())
                .col(string(WebhookAttempts::OrgId))
                .col(string(WebhookAttempts::WebhookId))
                .col(string(WebhookAttempts::DeliveryId))
                .col(string(WebhookAttempts::EventId))
                .col(string(WebhookAttempts::EventType))
                .col(integer(WebhookAttempts::Attempt))
                .col(string(WebhookAttempts::Status))
                .col(integer_null(WebhookAttempts::HttpStatus))
                .col(big_integer_null(WebhookAttempts::ResponseTimeMs))
                .col(text_null(WebhookAttempts::ResponseBody))
                .col(text_null(WebhookAttempts::Error))
                .col(timestamp_with_time_zone_null(WebhookAttempts::NextRetryAt))
                .col(timestamp_with_time_zone(WebhookAttempts::CreatedAt))
                .col(timestamp_with_time_zone_null(WebhookAttempts::CompletedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_attempts_webhook")
                .table(WebhookAttempts::Table)
                .col(WebhookAttempts::WebhookId)
                .col(WebhookAttempts::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhook_attempts_delivery")
                .table(WebhookAttempts::Table)
                .col(WebhookAttempts::DeliveryId)
                .col(WebhookAttempts::Status)
                .to_owned(),
        )
        .await?;

        // The dispatcher picks undispatched events (NULL) and stamps them in the same
        // transaction that creates their deliveries.
        m.alter_table(
            Table::alter()
                .table(OutboxEvents::Table)
                .add_column(timestamp_with_time_zone_null(OutboxEvents::DispatchedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_outbox_events_undispatched")
                .table(OutboxEvents::Table)
                .col(OutboxEvents::DispatchedAt)
                .col(OutboxEvents::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_outbox_events_undispatched")
                .table(OutboxEvents::Table)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(OutboxEvents::Table)
                .drop_column(OutboxEvents::DispatchedAt)
                .to_owned(),
        )
        .await?;
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
