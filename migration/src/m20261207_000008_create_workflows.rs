//! Workflows: editable definitions (the draft), the immutable versions publishing freezes,
//! executions pinned to a version (with their lease and their timer), each execution's step
//! journal, and the durable cursor of the event feed that starts event-triggered executions.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Workflows {
    Table,
    Id,
    OrgId,
    Name,
    Description,
    Nodes,
    Edges,
    Trigger,
    IsPublished,
    Version,
    PublishedAt,
    TriggerEvent,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowVersions {
    Table,
    WorkflowId,
    Version,
    OrgId,
    Graph,
    PublishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowExecutions {
    Table,
    Id,
    OrgId,
    WorkflowId,
    Version,
    Status,
    Trigger,
    TriggerKey,
    Input,
    State,
    DryRun,
    Error,
    WakeAt,
    LeaseUntil,
    CreatedAt,
    StartedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowSteps {
    Table,
    Id,
    ExecutionId,
    Seq,
    NodeId,
    NodeType,
    Visit,
    Attempt,
    Status,
    IdempotencyKey,
    Input,
    Output,
    Error,
    StartedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum WorkflowCursors {
    Table,
    Name,
    CreatedAt,
    EventId,
}

fn org_fk<T: IntoIden + Copy + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
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
                .table(Workflows::Table)
                .col(string(Workflows::Id).primary_key())
                .col(string(Workflows::OrgId))
                .col(string(Workflows::Name))
                .col(text_null(Workflows::Description))
                .col(json(Workflows::Nodes))
                .col(json(Workflows::Edges))
                .col(json_null(Workflows::Trigger))
                .col(boolean(Workflows::IsPublished))
                .col(integer(Workflows::Version))
                .col(timestamp_with_time_zone_null(Workflows::PublishedAt))
                .col(string_null(Workflows::TriggerEvent))
                .col(timestamp_with_time_zone(Workflows::CreatedAt))
                .col(timestamp_with_time_zone(Workflows::UpdatedAt))
                .foreign_key(&mut org_fk(Workflows::Table, Workflows::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_workflows_org")
                .table(Workflows::Table)
                .col(Workflows::OrgId)
                .col(Workflows::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_workflows_trigger_event")
                .table(Workflows::Table)
                .col(Workflows::TriggerEvent)
                .col(Workflows::IsPublished)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WorkflowVersions::Table)
                .col(string(WorkflowVersions::WorkflowId))
                .col(integer(WorkflowVersions::Version))
                .col(string(WorkflowVersions::OrgId))
                .col(json(WorkflowVersions::Graph))
                .col(timestamp_with_time_zone(WorkflowVersions::PublishedAt))
                .primary_key(
                    Index::create()
                        .col(WorkflowVersions::WorkflowId)
                        .col(WorkflowVersions::Version),
                )
                .foreign_key(&mut org_fk(WorkflowVersions::Table, WorkflowVersions::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WorkflowExecutions::Table)
                .col(string(WorkflowExecutions::Id).primary_key())
                .col(string(WorkflowExecutions::OrgId))
                .col(string(WorkflowExecutions::WorkflowId))
                .col(integer(WorkflowExecutions::Version))
                .col(string(WorkflowExecutions::Status))
                .col(json(WorkflowExecutions::Trigger))
                .col(string_null(WorkflowExecutions::TriggerKey))
                .col(json(WorkflowExecutions::Input))
                .col(json(WorkflowExecutions::State))
                .col(boolean(WorkflowExecutions::DryRun))
                .col(text_null(WorkflowExecutions::Error))
                .col(timestamp_with_time_zone_null(WorkflowExecutions::WakeAt))
                .col(timestamp_with_time_zone_null(WorkflowExecutions::LeaseUntil))
                .col(timestamp_with_time_zone(WorkflowExecutions::CreatedAt))
                .col(timestamp_with_time_zone_null(WorkflowExecutions::StartedAt))
                .col(timestamp_with_time_zone_null(WorkflowExecutions::FinishedAt))
                .col(timestamp_with_time_zone(WorkflowExecutions::UpdatedAt))
                .foreign_key(&mut org_fk(WorkflowExecutions::Table, WorkflowExecutions::OrgId))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_workflow_executions_workflow")
                .table(WorkflowExecutions::Table)
                .col(WorkflowExecutions::WorkflowId)
                .col(WorkflowExecutions::CreatedAt)
                .to_owned(),
        )
        .await?;
        // An event starts a workflow once, however often it is seen.
        m.create_index(
            Index::create()
                .name("idx_workflow_executions_trigger_key")
                .table(WorkflowExecutions::Table)
                .col(WorkflowExecutions::WorkflowId)
                .col(WorkflowExecutions::TriggerKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_workflow_executions_due")
                .table(WorkflowExecutions::Table)
                .col(WorkflowExecutions::Status)
                .col(WorkflowExecutions::WakeAt)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WorkflowSteps::Table)
                .col(string(WorkflowSteps::Id).primary_key())
                .col(string(WorkflowSteps::ExecutionId))
                .col(integer(WorkflowSteps::Seq))
                .col(string(WorkflowSteps::NodeId))
                .col(string(WorkflowSteps::NodeType))
                .col(integer(WorkflowSteps::Visit))
                .col(integer(WorkflowSteps::Attempt))
                .col(string(WorkflowSteps::Status))
                .col(string(WorkflowSteps::IdempotencyKey))
                .col(json(WorkflowSteps::Input))
                .col(json_null(WorkflowSteps::Output))
                .col(text_null(WorkflowSteps::Error))
                .col(timestamp_with_time_zone(WorkflowSteps::StartedAt))
                .col(timestamp_with_time_zone_null(WorkflowSteps::FinishedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_workflow_steps_execution")
                .table(WorkflowSteps::Table)
                .col(WorkflowSteps::ExecutionId)
                .col(WorkflowSteps::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WorkflowCursors::Table)
                .col(string(WorkflowCursors::Name).primary_key())
                .col(timestamp_with_time_zone(WorkflowCursors::CreatedAt))
                .col(string(WorkflowCursors::EventId))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "workflow_cursors",
            "workflow_steps",
            "workflow_executions",
            "workflow_versions",
            "workflows",
        ] {
            m.drop_table(Table::drop().table(Alias::new(t)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
