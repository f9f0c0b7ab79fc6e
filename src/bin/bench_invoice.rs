//! Statement benchmark: one organisation with N ledger entries this month (default
//! 1,000,000), then the month's invoice (`GET /billing/invoices/:id`'s work) and the
//! subscription view (`GET /billing/subscription`, the enforcement gate's work) timed.
//! Usage: `DATABASE_URL=postgres://… bench_invoice [ENTRIES] [RUNS]`; see BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use thruai::{
    app::billing::{Billing, month_start},
    config::Settings,
    store::{self, accounts::NewOrganization},
};

fn arg(n: usize, default: u64) -> u64 {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let entries = arg(1, 1_000_000);
    let runs = arg(2, 5).max(1);
    let url = std::env::var("DATABASE_URL").context("DATABASE_URL (postgres://…) is required")?;
    if !url.starts_with("postgres") {
        bail!("this benchmark measures PostgreSQL: DATABASE_URL must be postgres://…");
    }
    let mut settings = Settings::load(None).map_err(anyhow::Error::msg)?;
    settings.database.url = url;
    settings.database.schema = format!("bench_invoice_{}", Utc::now().timestamp());
    let db = store::connect(&settings.database).await?;
    store::migrate(&db).await?;
    let org = "ORG-BENCHINVOICE";
    let now = Utc::now();
    store::accounts::create_organization(
        &db,
        NewOrganization {
            org_id: org,
            user_id: "USR-BENCHINVOICE",
            name: "Bench",
            slug: "bench-invoice",
            plan: "pro",
            email: "bench@example.com",
            now,
        },
    )
    .await?;

    let started = Instant::now();
    // Nine components, amounts of 1..1000 millionths, spread over the month's first days.
    db.execute_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO usage_entries (id, org_id, source, component, provider, unit, quantity, unit_price, \
         amount_micros, agent_id, call_id, occurred_at, created_at) \
         SELECT 'USG-' || g, $1, 'bench:' || g, \
                (ARRAY['telephony','stt','llm_input','llm_output','tts','s2s','tool_calls','sms','email'])[1 + g % 9], \
                'bench', 'unit', 1.5, 0.001, 1 + g % 1000, NULL, 'CALL-' || (g / 9), \
                date_trunc('month', now()) + (g % 500000) * interval '1 second', now() \
         FROM generate_series(1, $2::bigint) AS g",
        [org.into(), i64::try_from(entries)?.into()],
    ))
    .await?;
    db.execute_unprepared("ANALYZE usage_entries").await?;
    println!(
        "inserted {entries} ledger entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let billing = Billing::new(
        db.clone(),
        settings.billing.clone(),
        settings.rate_limit.plans.clone(),
        settings.rate_limit.default_plan.clone(),
        "http://127.0.0.1".into(),
        None,
    );
    let month = month_start(Utc::now());
    let mut times = Vec::new();
    let mut invoice = None;
    for _ in 0..runs {
        let t = Instant::now();
        invoice = Some(billing.statement(org, month).await?);
        times.push(t.elapsed());
    }
    let invoice = invoice.context("no run")?;
    let counted: i64 = invoice.lines.iter().map(|l| l.entries).sum();
    println!(
        "invoice {} ({} lines, {counted} entries, usage ${:.2}): {}",
        invoice.id,
        invoice.lines.len(),
        invoice.usage,
        summary(times)
    );
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        billing.subscription(org).await?;
        times.push(t.elapsed());
    }
    println!("subscription view: {}", summary(times));
    db.execute_unprepared(&format!("DROP SCHEMA {} CASCADE", settings.database.schema))
        .await?;
    Ok(())
}
