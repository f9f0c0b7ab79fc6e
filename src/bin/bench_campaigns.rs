//! Campaign benchmark against the real `thruai` binary (spawned next to this one): a
//! 100,000-contact campaign with short sandbox calls. Measures how fast contacts are
//! accepted (pages of 5,000 by default), how closely the dialling holds `maxConcurrentCalls` (open
//! dial intents sampled every 50 ms from `/_debug/campaigns/:id`), and the server's RSS
//! for the whole run.
//! Usage: `bench_campaigns [DATABASE_URL]` (default: a fresh SQLite file) with env
//! BENCH_CONTACTS (100000), BENCH_PAGE (5000), BENCH_CAP (50), BENCH_CALL_MS (200),
//! BENCH_SECS (60: how long to dial; 0 = until the campaign completes).

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::{Value, json};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1/public{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let res = rb.send().await?;
        let status = res.status();
        let v: Value = res.json().await?;
        if !status.is_success() {
            bail!("{path}: HTTP {status}: {v}");
        }
        Ok(v["data"].clone())
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

#[tokio::main(flavor = "current_thread")]
#[allow(clippy::too_many_lines)]
async fn main() -> anyhow::Result<()> {
    let contacts = env_num("BENCH_CONTACTS", 100_000);
    let page = env_num("BENCH_PAGE", 5_000);
    let cap = env_num("BENCH_CAP", 50);
    let call_ms = env_num("BENCH_CALL_MS", 200);
    let secs = env_num("BENCH_SECS", 60);
    let dir = std::env::temp_dir().join(format!("thruai-bench-campaigns-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}/thruai.db?mode=rwc", dir.display()));
    let exe = std::env::current_exe()?.parent().context("no folder")?.join("thruai");
    let schema = if url.starts_with("postgres") {
        format!("bench_{}", uuid::Uuid::new_v4().simple())
    } else {
        String::new()
    };
    let mut child = Command::new(&exe)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn,thruai=info")
        .env("THRUAI__DATABASE__URL", &url)
        .env("THRUAI__DATABASE__SCHEMA", &schema)
        .env("THRUAI__DATABASE__MAX_CONNECTIONS", "16")
        .env("THRUAI__SERVER__MAX_BODY_BYTES", "4194304")
        .env("THRUAI__EMAIL__PROVIDER", "sandbox")
        .env("THRUAI__EMAIL__SANDBOX_OUTBOX", "true")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__REQUESTS_PER_SECOND", "100000")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__BURST", "100000")
        .env("THRUAI__CAMPAIGNS__SANDBOX_CALL_MS", call_ms.to_string())
        .env("THRUAI__CAMPAIGNS__ORG_MAX_CONCURRENT_CALLS", (cap * 2).to_string())
        .env("THRUAI__CAMPAIGNS__MAX_CONTACTS_PER_REQUEST", page.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    let base = loop {
        let line = lines.next().context("the server exited")??;
        if let Some(rest) = line.split("address=").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string();
        }
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
    });
    let result = run(base, pid, contacts, page, cap, secs).await;
    let carrier = match &result {
        Ok(()) => carrier_concurrency(&url, &schema, cap).await,
        Err(_) => Ok(()),
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "database: {}",
        if schema.is_empty() {
            "SQLite (file)"
        } else {
            "PostgreSQL"
        }
    );
    result.and(carrier)
}

async fn run(base: String, pid: u32, contacts: u64, page: u64, cap: u64, secs: u64) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let email = format!("bench{}@example.com", uuid::Uuid::new_v4().simple());
    let mut api = Api {
        http: http.clone(),
        base: base.clone(),
        key: String::new(),
    };
    let url = |p: &str| format!("{base}/api/v1/public{p}");
    http.post(url("/accounts/provision"))
        .json(&json!({ "email": email, "orgName": "Bench" }))
        .send()
        .await?;
    let mut code = String::new();
    for _ in 0..50 {
        let v: Value = http
            .get(url(&format!("/_debug/sandbox/outbox?to={email}")))
            .send()
            .await?
            .json()
            .await?;
        if let Some(s) = v["data"]["messages"][0]["subject"].as_str() {
            code = s.rsplit(' ').next().unwrap_or_default().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v: Value = http
        .post(url("/accounts/verify"))
        .json(&json!({ "email": email, "code": code }))
        .send()
        .await?
        .json()
        .await?;
    api.key = v["data"]["apiKey"].as_str().context("no api key")?.to_string();
    api.post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await?;
    let agent = api
        .post(
            "/agents",
            &json!({ "name": "Bench", "pipelineMode": "traditional", "firstMessage": "Hi {{name}}" }),
        )
        .await?;
    let campaign = api
        .post(
            "/campaigns",
            &json!({ "name": "Bench", "agentId": agent["id"], "maxConcurrentCalls": cap }),
        )
        .await?;
    let id = campaign["id"].as_str().context("no id")?.to_string();
    let rss_boot = rss_mb(pid);
    let mut rss_max = rss_boot;

    // 1. Contacts, in pages.
    let started = Instant::now();
    let mut added = 0u64;
    let mut next = 0u64;
    while next < contacts {
        let n = page.min(contacts - next);
        let body = json!({ "contacts": (next..next + n)
            .map(|i| json!({ "phoneNumber": format!("+1646{:07}", 1_000_000 + i), "name": format!("C{i}"), "customData": { "n": i } }))
            .collect::<Vec<_>>() });
        let r = api.post(&format!("/campaigns/{id}/contacts"), &body).await?;
        added += r["added"].as_u64().unwrap_or(0);
        next += n;
        rss_max = rss_max.max(rss_mb(pid));
    }
    let accept = started.elapsed();
    println!(
        "contacts: {added} accepted in {:.2} s = {:.0} contacts/s ({} per request)",
        accept.as_secs_f64(),
        added as f64 / accept.as_secs_f64(),
        page
    );

    // 2. Dialling.
    api.post(&format!("/campaigns/{id}/start"), &json!({})).await?;
    let dial_start = Instant::now();
    let mut samples: Vec<u64> = Vec::new();
    let mut steady: Vec<u64> = Vec::new();
    let mut max_in_flight = 0;
    let limit = if secs == 0 {
        Duration::from_secs(24 * 3600)
    } else {
        Duration::from_secs(secs)
    };
    let mut last_stats = json!({});
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let d = api.get(&format!("/_debug/campaigns/{id}")).await?;
        let in_flight = d["inFlightDials"].as_array().map_or(0, |a| a.len() as u64);
        max_in_flight = max_in_flight.max(in_flight);
        samples.push(in_flight);
        let queued = d["stats"]["stats"]["queued"].as_u64().unwrap_or(0);
        // Steady state: after the first second, while contacts are still waiting.
        if dial_start.elapsed() > Duration::from_secs(1) && queued > cap {
            steady.push(in_flight);
        }
        rss_max = rss_max.max(rss_mb(pid));
        last_stats = d["stats"].clone();
        if d["status"] == "completed" || dial_start.elapsed() > limit {
            break;
        }
    }
    let dialled = dial_start.elapsed();
    let done =
        last_stats["stats"]["completed"].as_u64().unwrap_or(0) + last_stats["stats"]["failed"].as_u64().unwrap_or(0);
    let mean = steady.iter().sum::<u64>() as f64 / steady.len().max(1) as f64;
    println!(
        "dialling: {done} calls finished in {:.1} s = {:.1} calls/s; cap {cap}: max in flight {max_in_flight}, steady-state mean {mean:.2} ({:.2}% of the cap, {} samples at 50 ms)",
        dialled.as_secs_f64(),
        done as f64 / dialled.as_secs_f64(),
        mean / cap as f64 * 100.0,
        steady.len()
    );
    println!("progress: {}", last_stats);
    println!("memory: server RSS {rss_boot:.1} MB after boot, max {rss_max:.1} MB during the run");
    if max_in_flight > cap {
        bail!("the cap was exceeded: {max_in_flight} > {cap}");
    }
    Ok(())
}

/// Concurrency at the carrier: each sandbox call from its creation to the end of its call
/// record; time-weighted mean over the steady state (first and last 2 s left out) and max.
async fn carrier_concurrency(url: &str, schema: &str, cap: u64) -> anyhow::Result<()> {
    use sea_orm::EntityTrait;
    let db = thruai::store::connect(&thruai::config::DatabaseSettings {
        url: url.to_string(),
        schema: schema.to_string(),
        max_connections: 2,
        migrate_on_start: false,
    })
    .await?;
    let placed = thruai_entities::sandbox_call::Entity::find().all(&db).await?;
    let ends: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> = thruai_entities::call::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .filter_map(|c| Some((c.provider_call_sid?, c.ended_at?)))
        .collect();
    let mut edges: Vec<(chrono::DateTime<chrono::Utc>, i64)> = Vec::new();
    for p in &placed {
        if let Some(end) = ends.get(&p.sid) {
            edges.push((p.created_at, 1));
            edges.push((*end, -1));
        }
    }
    edges.sort_by_key(|(t, d)| (*t, *d));
    let (Some(first), Some(last)) = (edges.first().map(|e| e.0), edges.last().map(|e| e.0)) else {
        bail!("no call reached the carrier");
    };
    let (from, to) = (
        first + chrono::Duration::seconds(2),
        last - chrono::Duration::seconds(2),
    );
    let (mut open, mut most, mut weighted, mut prev) = (0i64, 0i64, 0f64, from);
    for (t, d) in edges {
        if t > from && t < to {
            weighted += open as f64 * (t - prev).num_microseconds().unwrap_or(0) as f64;
            prev = t;
        } else if t >= to && prev < to {
            weighted += open as f64 * (to - prev).num_microseconds().unwrap_or(0) as f64;
            prev = to;
        }
        open += d;
        most = most.max(open);
    }
    let span = (to - from).num_microseconds().unwrap_or(1).max(1) as f64;
    let mean = weighted / span;
    gap_breakdown(&db, &placed, (from, to)).await?;
    println!(
        "carrier: {} calls placed; concurrency at the carrier (call created -> call ended): max {most}, time-weighted mean {mean:.2} over {:.1} s ({:.2}% of the cap {cap})",
        placed.len(),
        span / 1e6,
        mean / cap as f64 * 100.0
    );
    if most > i64::try_from(cap).unwrap_or(i64::MAX) {
        bail!("the carrier saw {most} calls at once, above the cap {cap}");
    }
    Ok(())
}

/// Where the time between a call's end and its slot's next call at the carrier goes, per
/// dial in the steady state: call ended -> its dial settled (`campaign_dials.updated_at` of a
/// done dial; the call's final status is saved at its `updated_at`), and intent recorded (`campaign_dials.created_at`) -> call created at the carrier.
async fn gap_breakdown(
    db: &sea_orm::DatabaseConnection,
    placed: &[thruai_entities::sandbox_call::Model],
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> anyhow::Result<()> {
    use sea_orm::EntityTrait;
    let dials = thruai_entities::campaign_dial::Entity::find().all(db).await?;
    let calls: std::collections::HashMap<String, thruai_entities::call::Model> = thruai_entities::call::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let at_carrier: std::collections::HashMap<&str, chrono::DateTime<chrono::Utc>> = placed
        .iter()
        .filter_map(|p| Some((p.intent_key.as_deref()?, p.created_at)))
        .collect();
    let ms = |d: chrono::Duration| d.num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let (mut saved, mut settle, mut dial) = (Vec::new(), Vec::new(), Vec::new());
    for d in &dials {
        if d.created_at < from || d.created_at > to {
            continue;
        }
        // Started (its call row is written then) -> at the carrier.
        if let Some(t) = at_carrier.get(d.intent_key.as_str())
            && let Some(call) = calls.get(&d.call_id)
        {
            dial.push(ms(*t - call.created_at));
        }
        if d.status == "done"
            && let Some(call) = calls.get(&d.call_id)
            && let Some(end) = call.ended_at
        {
            saved.push(ms(call.updated_at - end));
            settle.push(ms(d.updated_at - call.updated_at));
        }
    }
    let describe = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            v.get(((v.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        format!(
            "mean {:.1} ms, p50 {:.1}, p95 {:.1}, max {:.1} ({} dials)",
            v.iter().sum::<f64>() / v.len().max(1) as f64,
            at(0.5),
            at(0.95),
            at(1.0),
            v.len()
        )
    };
    // Each call's end -> the next call created at the carrier (the slot refilled): ends and
    // starts in time order, each start matched with the earliest end not matched yet.
    let by_sid: std::collections::HashMap<&str, &thruai_entities::call::Model> = calls
        .values()
        .filter_map(|c| Some((c.provider_call_sid.as_deref()?, c)))
        .collect();
    let mut events: Vec<(chrono::DateTime<chrono::Utc>, bool)> = Vec::new();
    for p in placed {
        if p.created_at > from && p.created_at < to {
            events.push((p.created_at, true));
        }
        if let Some(end) = by_sid.get(p.sid.as_str()).and_then(|c| c.ended_at)
            && end > from
            && end < to
        {
            events.push((end, false));
        }
    }
    events.sort_by_key(|(t, start)| (*t, *start));
    let mut ended = std::collections::VecDeque::new();
    let mut refill = Vec::new();
    for (t, start) in events {
        if !start {
            ended.push_back(t);
        } else if let Some(e) = ended.pop_front() {
            refill.push(ms(t - e));
        }
    }
    println!("gap: call ended -> next call at the carrier: {}", describe(&mut refill));
    println!("gap: call ended -> its final status saved: {}", describe(&mut saved));
    println!("gap: final status saved -> dial settled: {}", describe(&mut settle));
    println!(
        "gap: intent started (call row) -> call at the carrier: {}",
        describe(&mut dial)
    );
    Ok(())
}
