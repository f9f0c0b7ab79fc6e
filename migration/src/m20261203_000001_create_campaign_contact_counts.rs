//! Contacts per status of each campaign, kept by every write that adds or moves a contact
//! (in the same transaction): `GET /campaigns/:id/stats`, the progress view and the debug
//! view read one row instead of counting a 100,000-contact queue on every request.
//! Existing campaigns are counted once here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum CampaignContactCounts {
    Table,
    CampaignId,
    Queued,
    InProgress,
    Completed,
    Failed,
    Suppressed,
}

/// Each campaign's contacts counted per status (portable SQL: SQLite and PostgreSQL).
const BACKFILL: &str = r#"INSERT INTO "campaign_contact_counts"
 ("campaign_id", "queued", "in_progress", "completed", "failed", "suppressed")
SELECT c."id",
 (SELECT COUNT(*) FROM "campaign_contacts" k WHERE k."campaign_id" = c."id" AND k."status" = 'queued'),
 (SELECT COUNT(*) FROM "campaign_contacts" k WHERE k."campaign_id" = c."id" AND k."status" = 'in_progress'),
 (SELECT COUNT(*) FROM "campaign_contacts" k WHERE k."campaign_id" = c."id" AND k."status" = 'completed'),
 (SELECT COUNT(*) FROM "campaign_contacts" k WHERE k."campaign_id" = c."id" AND k."status" = 'failed'),
 (SELECT COUNT(*) FROM "campaign_contacts" k WHERE k."campaign_id" = c."id" AND k."status" = 'suppressed')
FROM "campaigns" c"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(CampaignContactCounts::Table)
                .col(string(CampaignContactCounts::CampaignId).primary_key())
                .col(big_integer(CampaignContactCounts::Queued).default(0))
                .col(big_integer(CampaignContactCounts::InProgress).default(0))
                .col(big_integer(CampaignContactCounts::Completed).default(0))
                .col(big_integer(CampaignContactCounts::Failed).default(0))
                .col(big_integer(CampaignContactCounts::Suppressed).default(0))
                .to_owned(),
        )
        .await?;
        m.get_connection().execute_unprepared(BACKFILL).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(CampaignContactCounts::Table).to_owned())
            .await
    }
}
