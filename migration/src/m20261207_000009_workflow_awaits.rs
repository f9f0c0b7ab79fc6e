//! A workflow execution waiting for an event names it (`awaiting_event`), so that the event
//! feed wakes exactly the executions an event may resume; the outbox is looked up by
//! organisation, event type and time for the event a waiting step matches.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowExecutions {
    Table,
    Status,
    AwaitingEvent,
}

#[derive(DeriveIden, Clone, Copy)]
enum OutboxEvents {
    Table,
    OrgId,
    EventType,
    CreatedAt,
}

const AWAITING: &str = "idx_workflow_executions_awaiting";
const BY_TYPE: &str = "idx_outbox_events_org_type";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WorkflowExecutions::Table)
                .add_column(string_null(WorkflowExecutions::AwaitingEvent))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(AWAITING)
                .table(WorkflowExecutions::Table)
                .col(WorkflowExecutions::AwaitingEvent)
                .col(WorkflowExecutions::Status)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name(BY_TYPE)
                .table(OutboxEvents::Table)
                .col(OutboxEvents::OrgId)
                .col(OutboxEvents::EventType)
                .col(OutboxEvents::CreatedAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name(BY_TYPE).table(OutboxEvents::Table).to_owned())
            .await?;
        m.drop_index(Index::drop().name(AWAITING).table(WorkflowExecutions::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(WorkflowExecutions::Table)
                .drop_column(WorkflowExecutions::AwaitingEvent)
                .to_owned(),
        )
        .await
    }
}
