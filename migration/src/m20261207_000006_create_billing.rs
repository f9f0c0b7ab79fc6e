//! Billing: each organisation's account with the payment provider (customer, subscription,
//! prepaid credit), the charges made against it, the sandbox provider's objects, and which
//! ledger entries have been reported to the provider's meter.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum BillingAccounts {
    Table,
    OrgId,
    CustomerId,
    SubscriptionId,
    SubscriptionPlan,
    SubscriptionStatus,
    PeriodStart,
    PeriodEnd,
    CancelAtPeriodEnd,
    SubscribedAt,
    PaidThrough,
    CreditMicros,
    DebitMicros,
    SettledThrough,
    SubscriptionSeenAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum BillingCharges {
    Table,
    Id,
    OrgId,
    AmountCents,
    Currency,
    Description,
    Status,
    PaymentIntentId,
    PaymentMethodId,
    FailureCode,
    FailureMessage,
    IdempotencyKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SandboxStripeObjects {
    Table,
    Id,
    Kind,
    CustomerId,
    IdempotencyKey,
    Body,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UsageEntries {
    Table,
    MeteredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BillingAccounts::Table)
                .col(string(BillingAccounts::OrgId).primary_key())
                .col(string_null(BillingAccounts::CustomerId))
                .col(string_null(BillingAccounts::SubscriptionId))
                .col(string_null(BillingAccounts::SubscriptionPlan))
                .col(string_null(BillingAccounts::SubscriptionStatus))
                .col(timestamp_with_time_zone_null(BillingAccounts::PeriodStart))
                .col(timestamp_with_time_zone_null(BillingAccounts::PeriodEnd))
                .col(boolean(BillingAccounts::CancelAtPeriodEnd))
                .col(timestamp_with_time_zone_null(BillingAccounts::SubscribedAt))
                .col(timestamp_with_time_zone_null(BillingAccounts::PaidThrough))
                .col(big_integer(BillingAccounts::CreditMicros))
                .col(big_integer(BillingAccounts::DebitMicros))
                .col(timestamp_with_time_zone_null(BillingAccounts::SettledThrough))
                .col(big_integer(BillingAccounts::SubscriptionSeenAt))
                .col(timestamp_with_time_zone(BillingAccounts::CreatedAt))
                .col(timestamp_with_time_zone(BillingAccounts::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(BillingAccounts::Table, BillingAccounts::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_billing_accounts_customer")
                .table(BillingAccounts::Table)
                .col(BillingAccounts::CustomerId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(BillingCharges::Table)
                .col(string(BillingCharges::Id).primary_key())
                .col(string(BillingCharges::OrgId))
                .col(big_integer(BillingCharges::AmountCents))
                .col(string(BillingCharges::Currency))
                .col(string_null(BillingCharges::Description))
                .col(string(BillingCharges::Status))
                .col(string_null(BillingCharges::PaymentIntentId))
                .col(string_null(BillingCharges::PaymentMethodId))
                .col(string_null(BillingCharges::FailureCode))
                .col(text_null(BillingCharges::FailureMessage))
                .col(string(BillingCharges::IdempotencyKey))
                .col(timestamp_with_time_zone(BillingCharges::CreatedAt))
                .col(timestamp_with_time_zone(BillingCharges::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(BillingCharges::Table, BillingCharges::OrgId)
                        .to(Organizations::Table, Organizations::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_billing_charges_org")
                .table(BillingCharges::Table)
                .col(BillingCharges::OrgId)
                .col(BillingCharges::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_billing_charges_key")
                .table(BillingCharges::Table)
                .col(BillingCharges::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SandboxStripeObjects::Table)
                .col(string(SandboxStripeObjects::Id).primary_key())
                .col(string(SandboxStripeObjects::Kind))
                .col(string_null(SandboxStripeObjects::CustomerId))
                .col(string_null(SandboxStripeObjects::IdempotencyKey))
                .col(json(SandboxStripeObjects::Body))
                .col(timestamp_with_time_zone(SandboxStripeObjects::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sandbox_stripe_key")
                .table(SandboxStripeObjects::Table)
                .col(SandboxStripeObjects::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_sandbox_stripe_customer")
                .table(SandboxStripeObjects::Table)
                .col(SandboxStripeObjects::CustomerId)
                .col(SandboxStripeObjects::Kind)
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(UsageEntries::Table)
                .add_column(timestamp_with_time_zone_null(UsageEntries::MeteredAt))
                .to_owned(),
        )
        .await?;
        // The meter worker's queue: only entries not yet reported (both backends take it).
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_usage_entries_unmetered ON usage_entries (created_at) WHERE metered_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_usage_entries_unmetered")
            .await?;
        m.alter_table(
            Table::alter()
                .table(UsageEntries::Table)
                .drop_column(UsageEntries::MeteredAt)
                .to_owned(),
        )
        .await?;
        for t in [
            SandboxStripeObjects::Table.into_iden(),
            BillingCharges::Table.into_iden(),
            BillingAccounts::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
