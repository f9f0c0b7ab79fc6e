//! HTTP benchmark: authenticated `GET /feedback/:id` and idempotent `POST /feedback` on the
//! full stack, beside a bare actix-web handler measured in the same run.
//!
//! `cargo run --release --bin bench-api -- [SECONDS] [CONCURRENCY]`; set `DATABASE_URL` /
//! `REDIS_URL` to measure PostgreSQL + Redis instead of SQLite with in-process limits.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use thruai::{config::Settings, startup::Application};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream},
    net::TcpStream,
};

#[derive(Default)]
struct Stats {
    ok: u64,
    errors: u64,
    latencies_us: Vec<u32>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx]) / 1000.0
}

/// One keep-alive HTTP/1.1 exchange on a raw connection (a lean client, so the generator
/// takes as little CPU from the servers as possible). Returns the status.
async fn roundtrip(stream: &mut BufStream<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

fn request(method: &str, path: &str, key: Option<&str>, idem: Option<&str>, body: Option<&str>) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if let Some(key) = key {
        r.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    if let Some(idem) = idem {
        r.push_str(&format!("Idempotency-Key: {idem}\r\n"));
    }
    if let Some(body) = body {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

/// Runs `concurrency` connections for `duration`; `make` builds each request from a
/// sequence number.
async fn load<F>(name: &str, port: u16, duration: Duration, concurrency: usize, expect: u16, make: F) -> (f64, f64, f64)
where
    F: Fn(u64) -> Vec<u8> + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let seq = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let Ok(conn) = TcpStream::connect(("127.0.0.1", port)).await else {
                return stats;
            };
            let _ = conn.set_nodelay(true);
            let mut stream = BufStream::new(conn);
            while Instant::now() < deadline {
                let req = make(seq.fetch_add(1, Ordering::Relaxed));
                let started = Instant::now();
                match roundtrip(&mut stream, &req).await {
                    Ok(status) if status == expect => {
                        stats.ok += 1;
                        stats
                            .latencies_us
                            .push(started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    Ok(_) => stats.errors += 1,
                    Err(_) => {
                        stats.errors += 1;
                        break;
                    }
                }
            }
            stats
        }));
    }
    let mut all = Stats::default();
    for task in tasks {
        let s = task.await.unwrap_or_default();
        all.ok += s.ok;
        all.errors += s.errors;
        all.latencies_us.extend(s.latencies_us);
    }
    all.latencies_us.sort_unstable();
    let rps = all.ok as f64 / duration.as_secs_f64();
    let (p50, p99) = (percentile(&all.latencies_us, 0.50), percentile(&all.latencies_us, 0.99));
    println!(
        "{name:<44} {rps:>10.0} req/s   p50 {p50:>6.2} ms   p99 {p99:>6.2} ms   errors {}",
        all.errors
    );
    (rps, p50, p99)
}

fn start_in_thread<F>(f: F) -> u16
where
    F: FnOnce(std::sync::mpsc::Sender<u16>) + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || f(tx));
    rx.recv().unwrap_or(0)
}

async fn bare() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": true, "data": { "id": "FB-0", "message": "hello" }, "error": null }))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let concurrency: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let duration = Duration::from_secs(seconds);

    let bare_port = start_in_thread(|tx| {
        let _ = actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| App::new().route("/bare", web::get().to(bare)))
                .workers(2)
                .bind(("127.0.0.1", 0))?;
            let _ = tx.send(server.addrs()[0].port());
            server.run().await
        });
    });

    let dir = std::env::temp_dir().join(format!("thruai-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut settings = Settings::load(None).map_err(anyhow::Error::msg)?;
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.email.provider = "sandbox".into();
    settings.email.sandbox_outbox = true;
    if std::env::var("DATABASE_URL").is_err() {
        settings.database.url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    }
    for plan in settings.rate_limit.plans.values_mut() {
        plan.requests_per_second = 1_000_000.0;
        plan.burst = 1_000_000;
    }
    let backend = format!(
        "{} + {}",
        if settings.is_sqlite() { "SQLite" } else { "PostgreSQL" },
        if settings.redis.url.is_empty() {
            "in-process limits"
        } else {
            "Redis"
        }
    );
    let app_port = start_in_thread(move |tx| {
        let _ = actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await?;
            let _ = tx.send(app.port());
            app.run_until_stopped().await?;
            Ok::<_, anyhow::Error>(())
        });
    });
    anyhow::ensure!(app_port != 0 && bare_port != 0, "servers failed to start");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
        let base = format!("http://127.0.0.1:{app_port}/api/v1/public");
        let email = format!("bench-{}@example.com", std::process::id());
        let post = |path: &str, body: Value| client.post(format!("{base}{path}")).json(&body).send();
        post(
            "/accounts/provision",
            json!({ "email": email, "orgName": format!("Bench {}", std::process::id()) }),
        )
        .await?;
        let outbox: Value = client
            .get(format!("{base}/_debug/sandbox/outbox?to={email}"))
            .send()
            .await?
            .json()
            .await?;
        let code = outbox["data"]["messages"][0]["subject"]
            .as_str()
            .unwrap_or_default()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        let verified: Value = post("/accounts/verify", json!({ "email": email, "code": code }))
            .await?
            .json()
            .await?;
        let key = verified["data"]["apiKey"].as_str().unwrap_or_default().to_string();
        let created: Value = client
            .post(format!("{base}/feedback"))
            .bearer_auth(&key)
            .json(&json!({ "message": "benchmark" }))
            .send()
            .await?
            .json()
            .await?;
        let id = created["data"]["id"].as_str().unwrap_or_default().to_string();
        anyhow::ensure!(!id.is_empty(), "setup failed: {created}");

        println!("backend: {backend}; {seconds} s per phase; {concurrency} connections; 2 server workers");
        load(
            "bare actix-web handler (GET)",
            bare_port,
            duration,
            concurrency,
            200,
            |_| request("GET", "/bare", None, None, None),
        )
        .await;
        let path = format!("/api/v1/public/feedback/{id}");
        let k = key.clone();
        load(
            "authenticated GET /feedback/:id",
            app_port,
            duration,
            concurrency,
            200,
            move |_| request("GET", &path, Some(&k), None, None),
        )
        .await;
        let run = std::process::id();
        let body = r#"{"message":"load"}"#;
        let k = key.clone();
        load(
            "idempotent POST /feedback (new key each)",
            app_port,
            duration,
            concurrency,
            201,
            move |n| {
                request(
                    "POST",
                    "/api/v1/public/feedback",
                    Some(&k),
                    Some(&format!("bench-{run}-{n}")),
                    Some(body),
                )
            },
        )
        .await;
        let k = key.clone();
        load(
            "idempotent POST /feedback (replays)",
            app_port,
            duration,
            concurrency,
            201,
            move |n| {
                request(
                    "POST",
                    "/api/v1/public/feedback",
                    Some(&k),
                    Some(&format!("bench-{run}-{}", n % 100)),
                    Some(body),
                )
            },
        )
        .await;
        Ok::<_, anyhow::Error>(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    std::process::exit(0);
}
