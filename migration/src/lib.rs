//! The schema, as portable sea-query migrations shared by SQLite and PostgreSQL.
#![forbid(unsafe_code)]

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_foundation;
mod m20261128_000002_create_agents_tools_numbers;
mod m20261128_000003_create_webhooks;
mod m20261128_000004_create_calls;
mod m20261201_000003_create_sms_a2p;
mod m20261202_000001_create_campaigns;
mod m20261203_000001_create_campaign_contact_counts;
mod m20261203_000002_create_call_lines;
mod m20261207_000001_agent_max_duration;
mod m20261207_000002_feedback_priority;
mod m20261207_000003_create_email;
mod m20261207_000004_create_usage_entries;
mod m20261207_000005_create_call_analyses;
mod m20261207_000006_create_billing;
mod m20261207_000007_create_knowledge;
mod m20261207_000008_create_workflows;
mod m20261207_000009_workflow_awaits;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_foundation::Migration),
            Box::new(m20261128_000002_create_agents_tools_numbers::Migration),
            Box::new(m20261128_000003_create_webhooks::Migration),
            Box::new(m20261201_000003_create_sms_a2p::Migration),
            Box::new(m20261128_000004_create_calls::Migration),
            Box::new(m20261202_000001_create_campaigns::Migration),
            Box::new(m20261203_000001_create_campaign_contact_counts::Migration),
            Box::new(m20261203_000002_create_call_lines::Migration),
            Box::new(m20261207_000001_agent_max_duration::Migration),
            Box::new(m20261207_000002_feedback_priority::Migration),
            Box::new(m20261207_000003_create_email::Migration),
            Box::new(m20261207_000004_create_usage_entries::Migration),
            Box::new(m20261207_000005_create_call_analyses::Migration),
            Box::new(m20261207_000006_create_billing::Migration),
            Box::new(m20261207_000007_create_knowledge::Migration),
            Box::new(m20261207_000008_create_workflows::Migration),
            Box::new(m20261207_000009_workflow_awaits::Migration),
        ]
    }
}
