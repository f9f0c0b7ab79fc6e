//! Webhook delivery benchmark: sustained deliveries/s to a loopback sink, first-attempt
//! latency (event committed → request received), and memory with many idle subscriptions.
//! Usage: `bench_webhooks [DATABASE_URL]` (env BENCH_EVENTS, BENCH_SUBS, BENCH_RATE,
//! BENCH_SECS, BENCH_IDLE); see docs/BENCHMARKS-issue5.md.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::Utc;
use serde_json::json;
use thruai::{config::Settings, domain::ids, startup::Application, store};
use thruai_entities::webhook;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// When each `webhook-id` first arrived, and how many requests arrived in all.
#[derive(Default)]
struct Seen {
    first: HashMap<String, Instant>,
    requests: u64,
}

type Shared = Arc<Mutex<Seen>>;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

async fn sink(seen: Shared) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, seen.clone()));
        }
    });
    Ok(port)
}

async fn serve(mut stream: TcpStream, seen: Shared) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let now = Instant::now();
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim_start_matches(':').trim().to_string())
            })
        };
        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let id = header("webhook-id").unwrap_or_default().to_ascii_uppercase();
        while buf.len() < head_end + 4 + len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + 4 + len);
        if let Ok(mut s) = seen.lock() {
            s.requests += 1;
            s.first.entry(id).or_insert(now);
        }
        if stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .is_err()
        {
            return;
        }
    }
}

fn settings(url: &str) -> anyhow::Result<Settings> {
    let mut s = Settings::load(None).map_err(anyhow::Error::msg)?;
    s.server.port = 0;
    s.server.workers = 1;
    s.database.url = url.to_string();
    if !url.starts_with("sqlite:") {
        s.database.schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
        s.database.max_connections = 16;
    }
    s.security.url_allowlist = vec!["127.0.0.1/32".into()];
    s.log.filter = "warn".into();
    Ok(s)
}

async fn subscribe(app: &Application, org: &str, url: &str, n: usize, start: bool) -> anyhow::Result<Vec<String>> {
    let now = Utc::now();
    let mut hooks = Vec::with_capacity(n);
    let txn = store::begin(&app.state().db).await?;
    for _ in 0..n {
        let row = store::webhooks::insert(
            &txn,
            webhook::Model {
                id: ids::new_id(ids::WEBHOOK),
                org_id: org.to_string(),
                url: url.to_string(),
                events: vec!["call.completed".to_string()].into(),
                secret: thruai::net::signing::WebhookSecret::generate().1,
                description: None,
                is_active: true,
                disabled_reason: None,
                failing_since: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            },
        )
        .await?;
        hooks.push(row.id);
    }
    txn.commit().await?;
    if start {
        for id in &hooks {
            app.state().webhooks.ensure(id).await;
        }
    }
    Ok(hooks)
}

/// Emits `n` events in transactions of `per_txn`; returns (event id, commit instant).
async fn emit(app: &Application, org: &str, n: u64, per_txn: u64) -> anyhow::Result<Vec<(String, Instant)>> {
    let mut out = Vec::with_capacity(usize::try_from(n)?);
    let mut left = n;
    while left > 0 {
        let batch = left.min(per_txn);
        let txn = store::begin(&app.state().db).await?;
        let mut ids = Vec::new();
        for i in 0..batch {
            let row = store::outbox::record(
                &txn,
                org,
                "call.completed",
                json!({ "callId": format!("CALL-{i}"), "durationSec": 42 }),
            )
            .await?;
            ids.push(row.id);
        }
        txn.commit().await?;
        let at = Instant::now();
        out.extend(ids.into_iter().map(|id| (id, at)));
        left -= batch;
    }
    Ok(out)
}

async fn wait_requests(seen: &Shared, target: u64, timeout: Duration) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + timeout;
    loop {
        let n = seen.lock().map(|s| s.requests).unwrap_or(0);
        if n >= target {
            return Ok(Instant::now());
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out: {n}/{target} requests");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/thruai_test".into());
    let events = env_num("BENCH_EVENTS", 5_000);
    let subs = usize::try_from(env_num("BENCH_SUBS", 4))?;
    let rate = env_num("BENCH_RATE", 500);
    let secs = env_num("BENCH_SECS", 10);
    let idle = usize::try_from(env_num("BENCH_IDLE", 10_000))?;
    let seen: Shared = Arc::default();
    let port = sink(seen.clone()).await?;
    let hook_url = format!("http://127.0.0.1:{port}/hook");

    let s = settings(&url)?;
    let app = Application::build(s.clone()).await.context("building the app")?;
    println!("database: {}  schema: {}", store::redact(&url), s.database.schema);

    // 1. Throughput: `events` events fanned out to `subs` subscriptions, emitted up front.
    let org = ids::new_id(ids::ORGANIZATION);
    subscribe(&app, &org, &hook_url, subs, true).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    emit(&app, &org, events, 500).await?;
    let emitted = started.elapsed();
    let total = events * subs as u64;
    let done = wait_requests(&seen, total, Duration::from_secs(600)).await?;
    let elapsed = done - started;
    println!(
        "throughput: {total} deliveries ({events} events x {subs} subscriptions) in {:.2} s = {:.0} deliveries/s (events committed in {:.2} s)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        emitted.as_secs_f64()
    );

    // 2. First-attempt latency at a steady rate, one subscription.
    let org2 = ids::new_id(ids::ORGANIZATION);
    subscribe(&app, &org2, &hook_url, 1, true).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = seen.lock().map(|s| s.requests).unwrap_or(0);
    let per_tick = (rate / 100).max(1);
    let mut committed = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        tick.tick().await;
        committed.extend(emit(&app, &org2, per_tick, per_tick).await?);
    }
    wait_requests(&seen, before + committed.len() as u64, Duration::from_secs(120)).await?;
    let mut lat: Vec<f64> = {
        let s = seen.lock().map_err(|_| anyhow::anyhow!("sink lock poisoned"))?;
        committed
            .iter()
            .filter_map(|(id, at)| {
                s.first
                    .get(id)
                    .map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    lat.sort_by(f64::total_cmp);
    println!(
        "latency (commit -> request received), {} events at {}/s: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        per_tick * 100,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );

    // 3. Memory with `idle` idle subscriptions: written to the database, then a second
    // server boots on it and starts one actor per subscription (as after a restart).
    let org3 = ids::new_id(ids::ORGANIZATION);
    subscribe(&app, &org3, &hook_url, idle, false).await?;
    app.state().webhooks.shutdown();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_mb();
    let booted = Instant::now();
    let second = Application::build(s.clone()).await.context("building the second app")?;
    let expected = idle + subs + 1;
    for _ in 0..600 {
        if second.state().webhooks.actor_count().await >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let actors = second.state().webhooks.actor_count().await;
    let boot = booted.elapsed();
    let mut samples = Vec::new();
    for _ in 0..4 {
        samples.push(rss_mb());
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    println!(
        "memory: RSS {rss_before:.1} MB before boot; {actors} actors up in {:.2} s; RSS {} MB at +0/5/10/15 s idle ({:.1} KB per idle subscription)",
        boot.as_secs_f64(),
        samples
            .iter()
            .map(|m| format!("{m:.1}"))
            .collect::<Vec<_>>()
            .join(" / "),
        (samples.last().copied().unwrap_or(0.0) - rss_before) * 1024.0 / idle.max(1) as f64
    );
    second.state().webhooks.shutdown();
    Ok(())
}
