//! End-to-end webhook benchmark, as a user sees it: authenticated `PATCH /agents/:id` calls
//! (each emits `agent.updated`) at a client concurrency, one or many subscriptions, a
//! receiver on loopback. Reports deliveries/s, API call → receipt latency p50/p90/p99,
//! duplicates and missing deliveries, and the CPU time per event of the server, PostgreSQL
//! and Redis (each read from /proc, the server being its own process).
//!
//! `cargo build --release && target/release/bench_webhooks_e2e [CONCURRENCY] [SUBSCRIPTIONS]
//! [SECONDS]` with `DATABASE_URL` / `REDIS_URL` set for PostgreSQL + Redis (SQLite with
//! in-process limits otherwise). The server is `thruai` from the same directory.

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener as StdListener,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream},
    net::{TcpListener, TcpStream},
};

/// What the receiver saw.
#[derive(Default)]
struct Received {
    /// (subscription path, webhook-id) → how many times.
    seen: HashMap<(String, String), u32>,
    /// API call → receipt, per first receipt, in microseconds.
    latencies_us: Vec<u64>,
    last: Option<Instant>,
}

/// When each PATCH (by its sequence number) was sent.
type Sent = Arc<Mutex<HashMap<u64, Instant>>>;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

/// CPU seconds (user + system) of the processes whose command name is `comm`, or of `pid`.
fn cpu_secs(comm: Option<&str>, pid: Option<u32>) -> f64 {
    let ticks: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0);
    let mut total = 0u64;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(p) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid.is_some_and(|want| want != p) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if comm.is_some_and(|c| &stat[open + 1..close] != c) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let value = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        total += value(11) + value(12);
    }
    total as f64 / ticks
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// The server, as its own process.
fn start_server(port: u16, data_dir: &std::path::Path) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?.with_file_name("thruai");
    let mut cmd = Command::new(exe);
    cmd.env("THRUAI__SERVER__PORT", port.to_string())
        .env("THRUAI__SERVER__WORKERS", "2")
        .env("THRUAI__EMAIL__PROVIDER", "sandbox")
        .env("THRUAI__EMAIL__SANDBOX_OUTBOX", "true")
        .env("THRUAI__SECURITY__URL_ALLOWLIST", "127.0.0.1/32")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__REQUESTS_PER_SECOND", "1000000")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__BURST", "1000000")
        .env("THRUAI__RATE_LIMIT__PROVISIONING_MAX", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if std::env::var("DATABASE_URL").is_err() {
        cmd.env(
            "THRUAI__DATABASE__URL",
            format!("sqlite://{}/bench.db?mode=rwc", data_dir.display()),
        );
    }
    Ok(cmd.spawn()?)
}

/// The receiver: answers 200 at once, records each (path, webhook-id) and the latency from
/// the PATCH that caused it (its sequence number is in the agent's description).
async fn receiver(received: Arc<Mutex<Received>>, sent: Sent) -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, received.clone(), sent.clone()));
        }
    });
    Ok(port)
}

async fn serve(mut stream: TcpStream, received: Arc<Mutex<Received>>, sent: Sent) {
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
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let id = header("webhook-id").unwrap_or_default();
        while buf.len() < head_end + 4 + len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Value = serde_json::from_slice(&buf[head_end + 4..head_end + 4 + len]).unwrap_or(Value::Null);
        buf.drain(..head_end + 4 + len);
        let seq = body["data"]["agent"]["description"]
            .as_str()
            .and_then(|d| d.strip_prefix("e2e-"))
            .and_then(|n| n.parse::<u64>().ok());
        let at = seq.and_then(|n| sent.lock().ok()?.get(&n).copied());
        if let Ok(mut r) = received.lock() {
            let count = r.seen.entry((path, id)).or_insert(0);
            *count += 1;
            if *count == 1
                && let Some(at) = at
            {
                r.latencies_us.push(now.duration_since(at).as_micros() as u64);
            }
            r.last = Some(now);
        }
        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if stream.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// One keep-alive exchange; returns the status.
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

async fn setup(base: &str, subscriptions: usize, sink_port: u16) -> anyhow::Result<(String, String)> {
    let client = reqwest::Client::new();
    let email = format!("e2e-{}@example.com", std::process::id());
    client
        .post(format!("{base}/accounts/provision"))
        .json(&json!({ "email": email, "orgName": format!("E2E {}", std::process::id()) }))
        .send()
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
    let verified: Value = client
        .post(format!("{base}/accounts/verify"))
        .json(&json!({ "email": email, "code": code }))
        .send()
        .await?
        .json()
        .await?;
    let key = verified["data"]["apiKey"].as_str().unwrap_or_default().to_string();
    let agent: Value = client
        .post(format!("{base}/agents"))
        .bearer_auth(&key)
        .json(&json!({ "name": "E2E", "systemPrompt": "benchmark" }))
        .send()
        .await?
        .json()
        .await?;
    let agent_id = agent["data"]["id"].as_str().unwrap_or_default().to_string();
    anyhow::ensure!(!agent_id.is_empty(), "setup failed: {agent}");
    for i in 0..subscriptions {
        let r: Value = client
            .post(format!("{base}/webhooks"))
            .bearer_auth(&key)
            .json(&json!({ "url": format!("http://127.0.0.1:{sink_port}/s/{i}"), "events": ["agent.updated"] }))
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(r["success"] == true, "subscription failed: {r}");
    }
    Ok((key, agent_id))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let concurrency: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    let subscriptions: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    let dir = std::env::temp_dir().join(format!("thruai-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = free_port();
    let mut server = start_server(port, &dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(run(port, server.id(), concurrency, subscriptions, seconds));
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run(port: u16, server_pid: u32, concurrency: usize, subscriptions: usize, seconds: u64) -> anyhow::Result<()> {
    let base = format!("http://127.0.0.1:{port}/api/v1/public");
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = Arc::new(Mutex::new(Received::default()));
    let sent: Sent = Arc::new(Mutex::new(HashMap::new()));
    let sink = receiver(received.clone(), sent.clone()).await?;
    let (key, agent_id) = setup(&base, subscriptions, sink).await?;
    // Let the subscriptions' actors start.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cpu = || {
        (
            cpu_secs(None, Some(server_pid)),
            cpu_secs(Some("postgres"), None),
            cpu_secs(Some("redis-server"), None),
        )
    };
    let before = cpu();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let seq = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (seq, sent, key, agent_id) = (seq.clone(), sent.clone(), key.clone(), agent_id.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            let Ok(conn) = TcpStream::connect(("127.0.0.1", port)).await else {
                return (ok, errors + 1);
            };
            let _ = conn.set_nodelay(true);
            let mut stream = BufStream::new(conn);
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let body = format!(r#"{{"description":"e2e-{n}"}}"#);
                let req = format!(
                    "PATCH /api/v1/public/agents/{agent_id} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
                     Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if let Ok(mut s) = sent.lock() {
                    s.insert(n, Instant::now());
                }
                match roundtrip(&mut stream, req.as_bytes()).await {
                    Ok(200) => ok += 1,
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        break;
                    }
                }
            }
            (ok, errors)
        }));
    }
    let (mut accepted, mut errors) = (0u64, 0u64);
    for t in tasks {
        let (o, e) = t.await.unwrap_or((0, 1));
        accepted += o;
        errors += e;
    }
    let api_secs = started.elapsed().as_secs_f64();
    // Wait for the deliveries to settle: all arrived, or nothing new for 15 s (a fan-out
    // pass can take seconds), or 5 minutes.
    let expected = accepted * subscriptions as u64;
    let settle = Instant::now();
    loop {
        let (unique, last) = {
            let r = received.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
            (r.seen.len() as u64, r.last)
        };
        if unique >= expected
            || last.is_some_and(|l| l.elapsed() > Duration::from_secs(15))
            || settle.elapsed() > Duration::from_secs(300)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = cpu();
    let r = received.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let unique = r.seen.len() as u64;
    let duplicates: u64 = r.seen.values().map(|&c| u64::from(c.saturating_sub(1))).sum();
    let span = r.last.map_or(api_secs, |l| l.duration_since(started).as_secs_f64());
    let mut lat = r.latencies_us.clone();
    lat.sort_unstable();
    let events = accepted.max(1) as f64;
    let per_event = |a: f64, b: f64| (b - a) * 1000.0 / events;
    let subs: HashSet<&String> = r.seen.keys().map(|(p, _)| p).collect();
    println!(
        "backend: {}; client concurrency {concurrency}; {subscriptions} subscription(s) ({} reached); {seconds} s",
        if std::env::var("DATABASE_URL").is_ok() {
            "PostgreSQL + Redis"
        } else {
            "SQLite + in-process limits"
        },
        subs.len()
    );
    println!(
        "API: {accepted} PATCH accepted ({:.0}/s), {errors} errors",
        accepted as f64 / api_secs
    );
    println!(
        "deliveries: {unique} of {expected} ({:.0}/s end to end), {duplicates} duplicates, {} missing",
        unique as f64 / span,
        expected.saturating_sub(unique)
    );
    println!(
        "API call -> receipt: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        percentile(&lat, 0.50),
        percentile(&lat, 0.90),
        percentile(&lat, 0.99)
    );
    println!(
        "CPU per event: server {:.2} ms, PostgreSQL {:.2} ms, Redis {:.2} ms",
        per_event(before.0, after.0),
        per_event(before.1, after.1),
        per_event(before.2, after.2)
    );
    Ok(())
}
