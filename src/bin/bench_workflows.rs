//! Workflow benchmark: many executions waiting on timers (memory per waiting execution, how
//! late the timers fire) and an event storm (executions started per second from events).
//! Usage: `[DATABASE_URL=…] bench_workflows [WAITING] [EVENTS]` (defaults 10000 and 10000;
//! SQLite in a temporary file when no URL is given). Figures in BENCHMARKS.md.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};
use thruai::{
    config::Settings,
    domain::ids,
    startup::Application,
    store::{self, accounts::NewOrganization},
};
use thruai_entities::{workflow, workflow_execution as execution, workflow_step as step};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn workflow(app: &Application, org: &str, nodes: Value, edges: Value) -> anyhow::Result<String> {
    let now = Utc::now();
    let row = store::workflows::insert(
        &app.state().db,
        workflow::Model {
            id: ids::new_id(ids::WORKFLOW),
            org_id: org.into(),
            name: "bench".into(),
            description: None,
            nodes,
            edges,
            trigger: None,
            is_published: false,
            version: 0,
            published_at: None,
            trigger_event: None,
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    app.state()
        .workflows
        .publish(org, &row.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(row.id)
}

async fn count(app: &Application, workflow_id: &str, status: Option<&str>) -> anyhow::Result<u64> {
    let mut q = execution::Entity::find().filter(execution::Column::WorkflowId.eq(workflow_id));
    if let Some(s) = status {
        q = q.filter(execution::Column::Status.eq(s));
    }
    Ok(q.count(&app.state().db).await?)
}

async fn wait_until(
    app: &Application,
    wf: &str,
    status: Option<&str>,
    n: u64,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if count(app, wf, status).await? >= n {
            return Ok(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::bail!("{n} executions of {wf} were not {status:?} within {limit:?}")
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let arg = |i: usize, d: u64| std::env::args().nth(i).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (waiting, events) = (arg(1, 10_000), arg(2, 10_000));
    let mut s = Settings::load(None).map_err(anyhow::Error::msg)?;
    s.server.port = 0;
    s.server.workers = 1;
    s.log.filter = "warn".into();
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            s.database.url = url;
            s.database.schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            s.database.max_connections = 16;
        }
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("thruai-bench-wf-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir)?;
            s.database.url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
        }
    }
    let app = Application::build(s.clone()).await.context("building the app")?;
    println!("database: {}", store::redact(&s.database.url));
    let org = ids::new_id(ids::ORGANIZATION);
    store::accounts::create_organization(
        &app.state().db,
        NewOrganization {
            org_id: &org,
            user_id: &org.replace("ORG", "USR"),
            name: &org,
            slug: &org.to_ascii_lowercase(),
            plan: "pro",
            email: &format!("{}@example.com", org.to_ascii_lowercase()),
            now: Utc::now(),
        },
    )
    .await?;

    // 1. Executions waiting on timers: memory while they wait, lateness when they fire.
    // Long enough for every execution to be waiting before the first timer fires.
    let wait_secs = 30 + waiting / 100;
    let wf = workflow(
        &app,
        &org,
        json!([
            { "id": "t", "type": "trigger" },
            { "id": "pause", "type": "wait", "data": { "seconds": wait_secs } },
            { "id": "after", "type": "set", "data": { "variables": { "done": true } } }
        ]),
        json!([{ "source": "t", "target": "pause" }, { "source": "pause", "target": "after" }]),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_mb();
    let started = Instant::now();
    for _ in 0..waiting {
        app.state()
            .workflows
            .trigger(&org, &wf, json!({}), json!({ "type": "manual" }), None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let triggered = started.elapsed();
    wait_until(&app, &wf, Some("waiting"), waiting, Duration::from_secs(600)).await?;
    let parked = started.elapsed();
    let during = rss_mb();
    println!(
        "waiting: {waiting} executions triggered in {:.1} s ({:.0}/s), all waiting after {:.1} s; RSS {before:.1} → {during:.1} MB = {:.2} KB per waiting execution; actors running: {}",
        triggered.as_secs_f64(),
        waiting as f64 / triggered.as_secs_f64(),
        parked.as_secs_f64(),
        (during - before) * 1024.0 / waiting as f64,
        app.state().workflows.running().await
    );
    wait_until(
        &app,
        &wf,
        Some("succeeded"),
        waiting,
        Duration::from_secs(wait_secs + 300),
    )
    .await?;
    let steps = step::Entity::find()
        .filter(step::Column::NodeId.eq("pause"))
        .all(&app.state().db)
        .await?;
    let mut late: Vec<f64> = steps
        .iter()
        .filter_map(|s| {
            let until = DateTime::parse_from_rfc3339(s.input["until"].as_str()?).ok()?;
            Some((s.finished_at? - until.with_timezone(&Utc)).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    late.sort_by(f64::total_cmp);
    println!(
        "timers: {} fired; lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        late.len(),
        pct(&late, 0.50),
        pct(&late, 0.99),
        late.last().copied().unwrap_or_default()
    );

    // 2. An event storm: `events` call.completed events, each starting one execution.
    let wf = workflow(
        &app,
        &org,
        json!([
            { "id": "t", "type": "trigger", "data": { "type": "event", "event": "call.completed" } },
            { "id": "note", "type": "set", "data": { "variables": { "call": "{{trigger.payload.callId}}" } } }
        ]),
        json!([{ "source": "t", "target": "note" }]),
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let db = &app.state().db;
    for chunk in 0..events.div_ceil(500) {
        let txn = db.begin().await?;
        for i in chunk * 500..((chunk + 1) * 500).min(events) {
            store::outbox::record(
                &txn,
                &org,
                "call.completed",
                json!({ "callId": format!("CALL-BENCH-{i}") }),
            )
            .await?;
        }
        txn.commit().await?;
    }
    let emitted = started.elapsed();
    let created = wait_until(&app, &wf, None, events, Duration::from_secs(600)).await? - started;
    let done = wait_until(&app, &wf, Some("succeeded"), events, Duration::from_secs(600)).await? - started;
    println!(
        "event storm: {events} events written in {:.1} s; executions started {:.0}/s (all in {:.1} s), all succeeded after {:.1} s ({:.0}/s)",
        emitted.as_secs_f64(),
        events as f64 / created.as_secs_f64(),
        created.as_secs_f64(),
        done.as_secs_f64(),
        events as f64 / done.as_secs_f64()
    );
    app.state().workflows.shutdown();
    // Executions' pooled connections are not waited for.
    std::process::exit(0)
}
