//! The calls' transcripts and debug timelines: one row per line, written by the same fenced
//! write as the call's snapshot, so the snapshot (and the live call's memory) no longer
//! grows with them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Calls {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum CallTranscript {
    Table,
    CallId,
    Seq,
    Speaker,
    Text,
    AtMs,
    Interrupted,
    Partial,
}

#[derive(DeriveIden, Clone, Copy)]
enum CallTimeline {
    Table,
    CallId,
    Seq,
    At,
    Kind,
    Detail,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CallTranscript::Table)
                .col(string(CallTranscript::CallId))
                .col(big_integer(CallTranscript::Seq))
                .col(string(CallTranscript::Speaker))
                .col(text(CallTranscript::Text))
                .col(big_integer(CallTranscript::AtMs))
                .col(boolean(CallTranscript::Interrupted))
                .col(boolean(CallTranscript::Partial))
                .primary_key(Index::create().col(CallTranscript::CallId).col(CallTranscript::Seq))
                .foreign_key(
                    ForeignKey::create()
                        .from(CallTranscript::Table, CallTranscript::CallId)
                        .to(Calls::Table, Calls::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(CallTimeline::Table)
                .col(string(CallTimeline::CallId))
                .col(big_integer(CallTimeline::Seq))
                .col(timestamp_with_time_zone(CallTimeline::At))
                .col(string(CallTimeline::Kind))
                .col(json_binary(CallTimeline::Detail))
                .primary_key(Index::create().col(CallTimeline::CallId).col(CallTimeline::Seq))
                .foreign_key(
                    ForeignKey::create()
                        .from(CallTimeline::Table, CallTimeline::CallId)
                        .to(Calls::Table, Calls::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CallTimeline::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(CallTranscript::Table).to_owned())
            .await
    }
}
