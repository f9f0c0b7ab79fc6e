//! Live-call load benchmark: N concurrent Twilio Media Streams against one `thruai` server
//! process, each a caller that listens, barges in over the agent, finishes its sentence and
//! waits for the answer — at 50 frames per second, like Twilio.
//!
//! ```sh
//! cargo build --release --bin thruai --bin bench_calls
//! BENCH_CALLS=1000 BENCH_SECS=60 target/release/bench_calls
//! ```
//!
//! Environment: `BENCH_CALLS` (1000), `BENCH_SECS` per call (60), `BENCH_RAMP_SECS` (10),
//! `BENCH_WORKERS` server HTTP workers (2), `BENCH_PIPELINE` (`traditional` or `s2s`),
//! `BENCH_DATABASE_URL` (PostgreSQL, a fresh schema; SQLite in a temporary file otherwise),
//! `BENCH_SERVER` (the `thruai` binary beside this one), `BENCH_GENERATOR_NICE` (0: the
//! generator's niceness, to give the server the CPU first). The server runs on its defaults
//! otherwise (sandbox speech), measured from outside: frame-handling delay and frames handled from its
//! `/metrics`, CPU and RSS from `/proc`. The generator measures what a caller experiences:
//! speech onset → `clear` (barge-in), end of speech → first agent audio, and its own timer
//! lateness (so an overloaded generator cannot pass for a fast server).

// A benchmark harness: a failed setup step should stop it at once, loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thruai::providers::{sandbox::far_end, twilio};
use thruai_actors::audio::{FRAME_BYTES, mulaw, tone};
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, protocol::WebSocketConfig};

const AUTH_TOKEN: &str = "bench-sandbox-token";
const ACCOUNT_SID: &str = "ACsandbox0000000000000000000000000";
/// The server's barge-in histogram.
const CLEARS: &str = "thruai_barge_in_clear_seconds";
/// Agent audio heard before the caller talks over it.
const INTERRUPT_AFTER: Duration = Duration::from_millis(400);
/// With the agent quiet this long, the caller asks something (no barge-in).
const ASK_AFTER_QUIET: Duration = Duration::from_millis(1500);
const UTTERANCES: &[&str] = &[
    "sorry, what time do you open on saturday",
    "can I book a table for four people",
    "is there parking near the restaurant",
    "do you have vegetarian dishes on the menu",
];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Samples {
    barge_in_ms: Vec<f64>,
    first_audio_ms: Vec<f64>,
    lateness_ms: Vec<f64>,
    clears_unmatched: u64,
    errors: Vec<String>,
    /// Per call: its id and the media frames the caller sent.
    frames_per_call: Vec<(String, u64)>,
}

/// What every caller shares: counters and the utterances' frames.
struct Totals {
    frames_sent: AtomicU64,
    connected: AtomicU64,
    closed_by_server: AtomicU64,
    speech: Vec<Vec<String>>,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, v: &mut [f64]) -> String {
    format!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
        v.len(),
        percentile(v, 0.5),
        percentile(v, 0.9),
        percentile(v, 0.99),
        percentile(v, 1.0)
    )
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(workers: u64) -> Server {
    let exe = std::env::var("BENCH_SERVER").unwrap_or_else(|_| {
        let me = std::env::current_exe().expect("own path");
        me.with_file_name("thruai").display().to_string()
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("thruai-bench-calls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = format!("http://127.0.0.1:{port}");
    // PostgreSQL (a fresh schema) with BENCH_DATABASE_URL, else SQLite in a temporary file.
    let (db_url, schema) = match std::env::var("BENCH_DATABASE_URL") {
        Ok(url) => (url, format!("bench_calls_{}", uuid::Uuid::new_v4().simple())),
        Err(_) => (format!("sqlite://{}/thruai.db?mode=rwc", dir.display()), String::new()),
    };
    let mut child = Command::new(exe)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn,thruai=info")
        .env("THRUAI__DATABASE__URL", db_url)
        .env("THRUAI__DATABASE__SCHEMA", schema)
        .env("THRUAI__SERVER__WORKERS", workers.to_string())
        .env("THRUAI__SERVER__PUBLIC_BASE_URL", &base)
        .env("THRUAI__EMAIL__PROVIDER", "sandbox")
        .env("THRUAI__EMAIL__SANDBOX_OUTBOX", "true")
        .env("THRUAI__CALLS__SANDBOX_AUTH_TOKEN", AUTH_TOKEN)
        .env("THRUAI__CALLS__SILENCE_TIMEOUT_MS", "600000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the thruai binary starts (build it with --release first)");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    loop {
        let line = lines.next().expect("server printed its address").expect("utf-8");
        if line.contains("address=") {
            break;
        }
    }
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("ERROR") || line.contains("panicked") {
                eprintln!("server: {line}");
            }
        }
    });
    Server { child, base }
}

/// (RSS in KiB, CPU ticks user+system) of a process.
fn proc_usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    (rss, ticks)
}

/// The media histogram of `/metrics`: (cumulative buckets (le seconds, count), count).
async fn media_metrics(http: &reqwest::Client, base: &str) -> (Vec<(f64, u64)>, u64) {
    histogram(http, base, "thruai_media_frame_delay_seconds").await
}

/// The server's `/metrics` text.
async fn metrics(http: &reqwest::Client, base: &str) -> String {
    // A pooled connection idle past the server's keep-alive can be closed as it is reused
    // (`IncompleteMessage`): asked again on a new one.
    let mut attempt = 0;
    let response = loop {
        match http.get(format!("{base}/metrics")).send().await {
            Ok(r) => break r,
            Err(e) if attempt < 2 => {
                attempt += 1;
                eprintln!("metrics: {e}; asking again");
            }
            Err(e) => panic!("metrics: {e}"),
        }
    };
    response.text().await.unwrap_or_default()
}

/// A gauge (unlabelled) of the server's `/metrics`.
async fn gauge(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let prefix = format!("{name} ");
    metrics(http, base)
        .await
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A histogram of the server's `/metrics`: its cumulative buckets and its count.
async fn histogram(http: &reqwest::Client, base: &str, name: &str) -> (Vec<(f64, u64)>, u64) {
    let text = metrics(http, base).await;
    let mut buckets = Vec::new();
    let mut count = 0;
    let (bucket, total) = (format!("{name}_bucket{{le=\""), format!("{name}_count "));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(&bucket) {
            let (le, n) = rest.split_once("\"} ").unwrap_or(("", "0"));
            if le != "+Inf" {
                buckets.push((le.parse().unwrap_or(f64::INFINITY), n.trim().parse().unwrap_or(0)));
            }
        } else if let Some(n) = line.strip_prefix(&total) {
            count = n.trim().parse().unwrap_or(0);
        }
    }
    (buckets, count)
}

/// The bucket bound (ms) under which a quantile of the frames between two scrapes fell.
fn bucket_quantile(before: &[(f64, u64)], after: &[(f64, u64)], total: u64, q: f64) -> String {
    let rank = (total as f64 * q).ceil() as u64;
    for ((le, a), (_, b)) in after.iter().zip(before.iter().chain(std::iter::repeat(&(0.0, 0)))) {
        if a - b >= rank {
            return format!("≤ {} ms", le * 1000.0);
        }
    }
    "> 5000 ms".into()
}

async fn provision(http: &reqwest::Client, base: &str) -> (String, String) {
    let api = format!("{base}/api/v1/public");
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let r: Value = http
        .post(format!("{api}/accounts/provision"))
        .json(&json!({ "email": email, "orgName": "Call bench" }))
        .send()
        .await
        .expect("provision")
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "{r}");
    let outbox: Value = http
        .get(format!("{api}/_debug/sandbox/outbox?to={email}"))
        .send()
        .await
        .expect("outbox")
        .json()
        .await
        .expect("json");
    let code = outbox["data"]["messages"][0]["subject"]
        .as_str()
        .and_then(|s| s.rsplit(' ').next())
        .expect("code")
        .to_string();
    let r: Value = http
        .post(format!("{api}/accounts/verify"))
        .json(&json!({ "email": email, "code": code }))
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    let key = r["data"]["apiKey"].as_str().expect("api key").to_string();
    let r: Value = http
        .post(format!("{api}/agents/quickstart"))
        .bearer_auth(&key)
        .json(&json!({ "name": "Bench desk", "areaCode": "415" }))
        .send()
        .await
        .expect("quickstart")
        .json()
        .await
        .expect("json");
    let number = r["data"]["phoneNumber"]["phoneNumber"]
        .as_str()
        .unwrap_or_else(|| panic!("a number: {r}"))
        .to_string();
    let agent = r["data"]["agent"]["id"].as_str().expect("agent id");
    let pipeline = std::env::var("BENCH_PIPELINE").unwrap_or_else(|_| "traditional".into());
    let r: Value = http
        .patch(format!("{api}/agents/{agent}"))
        .bearer_auth(&key)
        .json(&json!({ "pipelineMode": pipeline,
                       "firstMessage": "Hello, thanks for calling the restaurant, how can I help you today?" }))
        .send()
        .await
        .expect("agent update")
        .json()
        .await
        .expect("json");
    assert_eq!(r["success"], true, "{r}");
    (key, number)
}

enum Play {
    /// Agent audio still to play, in bytes (8 kHz μ-law: 8 bytes a millisecond).
    Audio(usize),
    Mark(String),
}

/// The callers' utterances as base64 `media` payloads of 20 ms, encoded once.
fn utterance_frames() -> Vec<Vec<String>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    UTTERANCES
        .iter()
        .map(|text| {
            tone::encode(text)
                .chunks(FRAME_BYTES)
                .map(|frame| {
                    let mut f = frame.to_vec();
                    f.resize(FRAME_BYTES, mulaw::SILENCE);
                    b64.encode(&f)
                })
                .collect()
        })
        .collect()
}

/// A message from the server, with the `media` payload left encoded.
#[derive(serde::Deserialize)]
struct ServerMessage<'a> {
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(borrow, default)]
    media: Option<ServerMedia<'a>>,
    #[serde(default)]
    mark: Option<ServerMark>,
}

#[derive(serde::Deserialize)]
struct ServerMedia<'a> {
    #[serde(borrow)]
    payload: std::borrow::Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct ServerMark {
    name: String,
}

/// Decoded length of a base64 string.
fn decoded_len(b64: &str) -> usize {
    let pad = b64.bytes().rev().take_while(|&b| b == b'=').count();
    (b64.len() / 4 * 3).saturating_sub(pad)
}

/// One caller: answers like Twilio, then talks over the agent and asks questions until
/// `duration` has passed.
async fn caller(
    http: reqwest::Client,
    base: String,
    to: String,
    index: usize,
    duration: Duration,
    samples: Arc<Mutex<Samples>>,
    totals: Arc<Totals>,
) -> Result<(), String> {
    let speech = &totals.speech;
    let call_sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let voice_url = format!("{base}/twilio/voice");
    let params: Vec<(String, String)> = [
        ("CallSid", call_sid.as_str()),
        ("AccountSid", ACCOUNT_SID),
        ("From", &format!("+1212555{:04}", index % 10_000)),
        ("To", to.as_str()),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("ApiVersion", "2010-04-01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let signature = twilio::compute_signature(AUTH_TOKEN, &voice_url, &params);
    let twiml = http
        .post(&voice_url)
        .header("X-Twilio-Signature", signature)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter())
                .finish(),
        )
        .send()
        .await
        .map_err(|e| format!("voice: {e}"))?
        .text()
        .await
        .map_err(|e| format!("voice body: {e}"))?;
    let (stream_url, parameters) = far_end::parse_stream(&twiml).ok_or_else(|| format!("no stream: {twiml}"))?;
    let call_id = parameters["callId"].as_str().unwrap_or_default().to_string();
    let mut frames_sent: u64 = 0;
    let mut request = stream_url.as_str().into_client_request().map_err(|e| e.to_string())?;
    let sig = twilio::compute_signature(AUTH_TOKEN, &stream_url, &[]);
    request
        .headers_mut()
        .insert("X-Twilio-Signature", sig.parse().map_err(|_| "header")?);
    // tungstenite zero-fills its whole read buffer (128 KiB by default) on every read: a
    // quarter of the generator's CPU at 1,000 calls. The server's messages are far smaller.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (ws, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), true)
        .await
        .map_err(|e| format!("ws: {e}"))?;
    totals.connected.fetch_add(1, Ordering::Relaxed);
    let (mut tx, mut rx) = ws.split();
    let stream_sid = format!("MZ{}", uuid::Uuid::new_v4().simple());
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut seq: u64 = 0;
    let send = |v: String| Message::text(v);
    tx.send(send(
        json!({"event": "connected", "protocol": "Call", "version": "1.0.0"}).to_string(),
    ))
    .await
    .map_err(|e| e.to_string())?;
    seq += 1;
    tx.send(send(
        json!({"event": "start", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
               "start": {"accountSid": ACCOUNT_SID, "streamSid": stream_sid, "callSid": call_sid,
                         "tracks": ["inbound"], "customParameters": parameters,
                         "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}})
        .to_string(),
    ))
    .await
    .map_err(|e| e.to_string())?;

    let silence_b64 = b64.encode([mulaw::SILENCE; FRAME_BYTES]);
    let mut utterance = index;
    // The utterance being said and its next frame.
    let mut saying: Option<(usize, usize)> = None;
    let mut playback: VecDeque<Play> = VecDeque::new();
    let mut agent_playing_since: Option<Instant> = None;
    let mut agent_quiet_since = Instant::now();
    let mut speech_started: Option<Instant> = None;
    let mut speech_ended: Option<Instant> = None;
    let mut local = Samples::default();
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut chunk: u64 = 0;
    let mut closed = false;
    loop {
        let scheduled = tokio::select! {
            t = tick.tick() => t,
            msg = rx.next() => {
                let now = Instant::now();
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        let Ok(m) = serde_json::from_str::<ServerMessage<'_>>(&text) else { continue };
                        match m.event.as_ref() {
                            "media" => {
                                if let Some(at) = speech_ended.take() {
                                    local.first_audio_ms.push(ms(now - at));
                                }
                                let len = m.media.map_or(0, |p| decoded_len(&p.payload));
                                playback.push_back(Play::Audio(len));
                            }
                            "mark" => playback.push_back(Play::Mark(m.mark.map(|k| k.name).unwrap_or_default())),
                            "clear" => {
                                match speech_started.take() {
                                    Some(at) => local.barge_in_ms.push(ms(now - at)),
                                    None => local.clears_unmatched += 1,
                                }
                                for item in playback.drain(..) {
                                    if let Play::Mark(name) = item {
                                        seq += 1;
                                        let m = json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": stream_sid, "mark": {"name": name}});
                                        tx.send(send(m.to_string())).await.map_err(|e| e.to_string())?;
                                    }
                                }
                            }
                            _ => {}
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => { closed = true; break; }
                    Some(Ok(_)) => continue,
                }
            }
        };
        let now = Instant::now();
        local
            .lateness_ms
            .push(ms(now.saturating_duration_since(scheduled.into_std())));
        if started.elapsed() >= duration {
            break;
        }
        // Play 20 ms of agent audio; echo the marks reached.
        let mut budget = FRAME_BYTES;
        let mut played = false;
        while budget > 0 {
            match playback.front_mut() {
                Some(Play::Audio(left)) => {
                    let n = budget.min(*left);
                    *left -= n;
                    budget -= n;
                    played = true;
                    if *left == 0 {
                        playback.pop_front();
                    }
                }
                Some(Play::Mark(name)) => {
                    seq += 1;
                    let m = json!({"event": "mark", "sequenceNumber": seq.to_string(), "streamSid": stream_sid, "mark": {"name": name}});
                    tx.send(send(m.to_string())).await.map_err(|e| e.to_string())?;
                    playback.pop_front();
                }
                None => break,
            }
        }
        if played {
            agent_playing_since.get_or_insert(now);
            agent_quiet_since = now;
        } else {
            agent_playing_since = None;
        }
        // The caller: barge in once the agent has talked a while, or ask when it is quiet.
        if saying.is_none() && speech_started.is_none() && speech_ended.is_none() {
            let barge = agent_playing_since.is_some_and(|t| now - t >= INTERRUPT_AFTER);
            let ask = !played && now - agent_quiet_since >= ASK_AFTER_QUIET;
            if barge || ask {
                utterance += 1;
                saying = Some((utterance % speech.len(), 0));
                if barge {
                    speech_started = Some(now);
                }
            }
        }
        chunk += 1;
        seq += 1;
        let payload = saying.map_or(silence_b64.as_str(), |(u, k)| speech[u][k].as_str());
        let frame = format!(
            r#"{{"event":"media","sequenceNumber":"{seq}","streamSid":"{stream_sid}","media":{{"track":"inbound","chunk":"{chunk}","timestamp":"{}","payload":"{payload}"}}}}"#,
            chunk * 20,
        );
        tx.send(send(frame)).await.map_err(|e| e.to_string())?;
        totals.frames_sent.fetch_add(1, Ordering::Relaxed);
        frames_sent += 1;
        let said_all = match &mut saying {
            Some((u, k)) => {
                *k += 1;
                *k == speech[*u].len()
            }
            None => false,
        };
        if said_all {
            saying = None;
            speech_ended = Some(Instant::now());
            // An interruption the agent never cleared (it had stopped already) is no sample.
            speech_started = None;
        }
    }
    if closed {
        totals.closed_by_server.fetch_add(1, Ordering::Relaxed);
    } else {
        seq += 1;
        let stop = json!({"event": "stop", "sequenceNumber": seq.to_string(), "streamSid": stream_sid,
                          "stop": {"accountSid": ACCOUNT_SID, "callSid": call_sid}});
        let _ = tx.send(send(stop.to_string())).await;
        let _ = tx.close().await;
        // Like Twilio, read on until the server closes too: a socket closed with unread
        // data in it is reset, and the reset discards what the server had not read yet.
        let drain = async {
            while let Some(Ok(m)) = rx.next().await {
                if m.is_close() {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
    }
    let mut s = samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    s.barge_in_ms.append(&mut local.barge_in_ms);
    s.first_audio_ms.append(&mut local.first_audio_ms);
    s.lateness_ms.append(&mut local.lateness_ms);
    s.clears_unmatched += local.clears_unmatched;
    s.frames_per_call.push((call_id, frames_sent));
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// What a call holds by its end (transcript, conversation turns, timeline), as JSON bytes:
/// the part of a long call's memory that is its content rather than overhead.
async fn report_content(http: &reqwest::Client, base: &str, key: &str, calls: &[(String, u64)]) {
    let mut sizes = Vec::new();
    for (id, _) in calls.iter().take(20) {
        let Ok(r) = http
            .get(format!("{base}/api/v1/public/calls/{id}/debug"))
            .bearer_auth(key)
            .send()
            .await
        else {
            continue;
        };
        let v: Value = r.json().await.unwrap_or_default();
        let timeline = v["data"]["timeline"].to_string().len();
        let Ok(r) = http
            .get(format!("{base}/api/v1/public/calls/{id}/transcript"))
            .bearer_auth(key)
            .send()
            .await
        else {
            continue;
        };
        let t: Value = r.json().await.unwrap_or_default();
        let lines = t["data"]["transcript"].as_array().map_or(0, Vec::len);
        sizes.push((lines, t["data"]["transcript"].to_string().len(), timeline));
    }
    if let Some(&(lines, transcript, timeline)) = sizes.first() {
        let n = sizes.len();
        let avg = |f: fn(&(usize, usize, usize)) -> usize| sizes.iter().map(f).sum::<usize>() / n;
        println!(
            "content per call at its end ({n} calls): {} transcript lines, transcript {:.1} KB, timeline {:.1} KB as JSON (first call: {lines}, {:.1} KB, {:.1} KB)",
            avg(|s| s.0),
            avg(|s| s.1) as f64 / 1024.0,
            avg(|s| s.2) as f64 / 1024.0,
            transcript as f64 / 1024.0,
            timeline as f64 / 1024.0
        );
    }
}

/// The calls whose actor noted fewer frames than their caller sent, with the end of their
/// timeline: where lost frames went.
async fn report_lost_frames(http: &reqwest::Client, base: &str, key: &str, calls: &[(String, u64)]) {
    let mut shown = 0;
    for (id, sent) in calls {
        let debug: Value = match http
            .get(format!("{base}/api/v1/public/calls/{id}/debug"))
            .bearer_auth(key)
            .send()
            .await
        {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => continue,
        };
        let timeline = debug["data"]["timeline"].as_array().cloned().unwrap_or_default();
        let received: u64 = timeline
            .iter()
            .filter(|e| e["kind"] == "stream")
            .filter_map(|e| e["detail"]["framesReceived"].as_u64())
            .sum();
        if received >= *sent {
            continue;
        }
        println!("call {id}: {sent} frames sent, {received} received by its actor");
        let kinds: Vec<String> = timeline
            .iter()
            .filter(|e| e["kind"] != "turn" && e["kind"] != "interruption" && e["kind"] != "false_interruption")
            .map(|e| format!("{} {}", e["kind"].as_str().unwrap_or("?"), e["detail"]))
            .collect();
        println!("  {}", kinds.join("\n  "));
        shown += 1;
        if shown == 5 {
            break;
        }
    }
}

fn main() {
    let calls = env_u64("BENCH_CALLS", 1000) as usize;
    let secs = env_u64("BENCH_SECS", 60);
    let ramp = env_u64("BENCH_RAMP_SECS", 10);
    let workers = env_u64("BENCH_WORKERS", 2);
    let server = start_server(workers);
    let pid = server.child.id();
    // With BENCH_GENERATOR_NICE=n the generator (not the server) runs at a lower priority:
    // on two shared cores, what the server's own figures are when the CPU goes to it first,
    // as it would with the callers on another machine. The generator's lateness says what
    // that cost the callers.
    let nice = env_u64("BENCH_GENERATOR_NICE", 0);
    if nice > 0 {
        let me = std::process::id().to_string();
        let ok = Command::new("renice")
            .args(["-n", &nice.to_string(), "-p", &me])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        println!(
            "generator niceness {nice}: {}",
            if ok { "set" } else { "could not be set" }
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let (key, number) = provision(&http, &server.base).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (rss_idle, _) = proc_usage(pid);
        let samples = Arc::new(Mutex::new(Samples::default()));
        let totals = Arc::new(Totals {
            frames_sent: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            closed_by_server: AtomicU64::new(0),
            speech: utterance_frames(),
        });
        let (_, frames_before_run) = media_metrics(&http, &server.base).await;
        println!(
            "server pid {pid}: idle RSS {:.1} MB; starting {calls} calls of {secs} s over {ramp} s",
            rss_idle as f64 / 1024.0
        );

        let run_started = Instant::now();
        let mut tasks = Vec::with_capacity(calls);
        for i in 0..calls {
            let at = Duration::from_secs_f64(ramp as f64 * i as f64 / calls as f64);
            let (http, base, to) = (http.clone(), server.base.clone(), number.clone());
            let (samples, totals) = (samples.clone(), totals.clone());
            tasks.push(tokio::task::spawn_local(async move {
                tokio::time::sleep(at).await;
                let r = caller(http, base, to, i, Duration::from_secs(secs), samples.clone(), totals).await;
                if let Err(e) = r {
                    samples
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .errors
                        .push(e);
                }
            }));
        }

        // Steady state: from the end of the ramp (plus 5 s) to 5 s before the first calls end.
        let steady_from = Duration::from_secs(ramp + 5);
        let steady_to = Duration::from_secs(secs.saturating_sub(5).max(ramp + 6));
        tokio::time::sleep(steady_from).await;
        let (buckets_a, count_a) = media_metrics(&http, &server.base).await;
        let (clears_a, clear_count_a) = histogram(&http, &server.base, CLEARS).await;
        let (_, ticks_a) = proc_usage(pid);
        let (_, gen_ticks_a) = proc_usage(std::process::id());
        let at_a = Instant::now();
        let mut rss = Vec::new();
        while run_started.elapsed() < steady_to {
            let (r, _) = proc_usage(pid);
            rss.push(r);
            // What a long call's memory is meant to grow with: its conversation, up to the
            // context budget.
            let context = gauge(&http, &server.base, "thruai_call_context_chars").await;
            println!(
                "  t={:>4.0}s  RSS {:>7.1} MB  context {:>5.1} KB/call  frames sent {}",
                run_started.elapsed().as_secs_f64(),
                r as f64 / 1024.0,
                context / 1024.0 / calls as f64,
                totals.frames_sent.load(Ordering::Relaxed)
            );
            tokio::time::sleep(Duration::from_secs(5).min(steady_to.saturating_sub(run_started.elapsed()))).await;
        }
        let (buckets_b, count_b) = media_metrics(&http, &server.base).await;
        let (clears_b, clear_count_b) = histogram(&http, &server.base, CLEARS).await;
        let (_, ticks_b) = proc_usage(pid);
        let (_, gen_ticks_b) = proc_usage(std::process::id());
        let steady_secs = at_a.elapsed().as_secs_f64();
        let live = gauge(&http, &server.base, "thruai_live_calls").await;
        for t in tasks {
            let _ = t.await;
        }
        // Frames still queued in actor mailboxes are late, not lost: wait until the count settles.
        let mut frames_after_run = media_metrics(&http, &server.base).await.1;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let now = media_metrics(&http, &server.base).await.1;
            if now == frames_after_run {
                break;
            }
            frames_after_run = now;
        }

        let hz = 100.0; // USER_HZ
        let cpu = (ticks_b - ticks_a) as f64 / hz / steady_secs * 100.0;
        let gen_cpu = (gen_ticks_b - gen_ticks_a) as f64 / hz / steady_secs * 100.0;
        let frames = count_b - count_a;
        let sent = totals.frames_sent.load(Ordering::Relaxed);
        let handled = frames_after_run - frames_before_run;
        let rss_peak = rss.iter().copied().max().unwrap_or(0);
        let rss_first = rss.first().copied().unwrap_or(0);
        let rss_last = rss.last().copied().unwrap_or(0);
        let per_call = {
            let mut s = samples.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            println!();
            println!(
                "calls: {calls} started, {} streams connected, {} closed by the server, {} errors{}",
                totals.connected.load(Ordering::Relaxed),
                totals.closed_by_server.load(Ordering::Relaxed),
                s.errors.len(),
                s.errors.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
            );
            println!("live calls at the end of the steady window: {live}");
            println!(
                "frames: {sent} sent, {handled} handled by call actors, {} dropped",
                sent.saturating_sub(handled)
            );
            println!(
                "steady window {steady_secs:.0} s: {frames} frames ({:.0}/s), server CPU {cpu:.0} % of one core, generator {gen_cpu:.0} %",
                frames as f64 / steady_secs
            );
            println!(
                "frame-handling delay (server): p50 {}, p99 {}, p99.9 {}",
                bucket_quantile(&buckets_a, &buckets_b, frames, 0.5),
                bucket_quantile(&buckets_a, &buckets_b, frames, 0.99),
                bucket_quantile(&buckets_a, &buckets_b, frames, 0.999)
            );
            let clears = clear_count_b - clear_count_a;
            println!(
                "barge-in (server: first speech frame's arrival → clear sent), {clears} clears: p50 {}, p99 {}",
                bucket_quantile(&clears_a, &clears_b, clears, 0.5),
                bucket_quantile(&clears_a, &clears_b, clears, 0.99),
            );
            println!(
                "server RSS: idle {:.1} MB, steady {:.1} → {:.1} MB (peak {:.1}); per live call {:.0} KB",
                rss_idle as f64 / 1024.0,
                rss_first as f64 / 1024.0,
                rss_last as f64 / 1024.0,
                rss_peak as f64 / 1024.0,
                (rss_peak.saturating_sub(rss_idle)) as f64 / calls as f64
            );
            println!("\n| measure (ms) | samples | p50 | p90 | p99 | max |\n|---|---:|---:|---:|---:|---:|");
            println!("{}", summary("speech onset → clear (barge-in)", &mut s.barge_in_ms));
            println!(
                "{}",
                summary("end of speech → first agent audio", &mut s.first_audio_ms)
            );
            println!("{}", summary("generator timer lateness", &mut s.lateness_ms));
            println!("clears without a pending interruption: {}", s.clears_unmatched);
            std::mem::take(&mut s.frames_per_call)
        };
        if sent > handled {
            report_lost_frames(&http, &server.base, &key, &per_call).await;
        }
        report_content(&http, &server.base, &key, &per_call).await;
    });
}
