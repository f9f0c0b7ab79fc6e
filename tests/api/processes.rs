//! Whole server processes (`target/…/thruai`): two sharing PostgreSQL + Redis for the rate
//! limit and idempotency guarantees, and crashes (`abort`) around an idempotent commit.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::{Reply, backends, unique};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a group of processes keeps its data: a fresh PostgreSQL schema (with Redis when
/// configured) or a fresh SQLite file.
pub(crate) fn shared_env() -> Vec<(String, String)> {
    let (db, redis) = backends();
    let mut env = vec![("THRUAI__REDIS__KEY_PREFIX".to_string(), format!("{}:", unique("proc")))];
    match db {
        Some(url) => {
            env.push(("THRUAI__DATABASE__URL".into(), url));
            env.push(("THRUAI__DATABASE__SCHEMA".into(), unique("p_")));
        }
        None => {
            let dir = std::env::temp_dir().join(unique("thruai-proc-"));
            std::fs::create_dir_all(&dir).unwrap();
            env.push((
                "THRUAI__DATABASE__URL".into(),
                format!("sqlite://{}/thruai.db?mode=rwc", dir.display()),
            ));
        }
    }
    env.push(("THRUAI__REDIS__URL".into(), redis.unwrap_or_default()));
    env
}

pub(crate) fn start(shared: &[(String, String)], extra: &[(&str, &str)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_thruai"));
    cmd.args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "info")
        .env("THRUAI__SERVER__WORKERS", "1")
        .env("THRUAI__EMAIL__PROVIDER", "sandbox")
        .env("THRUAI__EMAIL__SANDBOX_OUTBOX", "true")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__REQUESTS_PER_SECOND", "10000")
        .env("THRUAI__RATE_LIMIT__PLANS__FREE__BURST", "10000")
        .envs(shared.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("server starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().trim_matches('"').to_string();
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe; errors show in the
    // test's output.
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
    });
    Server { child, base }
}

pub(crate) async fn send(rb: reqwest::RequestBuilder) -> Reply {
    Reply::from(rb.send().await.expect("request sent")).await
}

pub(crate) fn url(server: &Server, path: &str) -> String {
    format!("{}/api/v1/public{path}", server.base)
}

pub(crate) async fn signup(client: &reqwest::Client, server: &Server) -> String {
    let email = format!("{}@example.com", unique("p"));
    let r = send(
        client
            .post(url(server, "/accounts/provision"))
            .json(&json!({ "email": email, "orgName": unique("Proc ") })),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let outbox = send(client.get(url(server, &format!("/_debug/sandbox/outbox?to={email}")))).await;
    let code = outbox.data()["messages"][0]["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let r = send(
        client
            .post(url(server, "/accounts/verify"))
            .json(&json!({ "email": email, "code": code })),
    )
    .await;
    r.data()["apiKey"].as_str().unwrap().to_string()
}

fn keyed_feedback(
    client: &reqwest::Client,
    server: &Server,
    api_key: &str,
    key: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    client
        .post(url(server, "/feedback"))
        .bearer_auth(api_key)
        .header("Idempotency-Key", key)
        .json(body)
}

async fn feedback_total(client: &reqwest::Client, server: &Server, api_key: &str) -> u64 {
    send(client.get(url(server, "/feedback")).bearer_auth(api_key))
        .await
        .data()["pagination"]["total"]
        .as_u64()
        .unwrap()
}

fn shared_backends() -> bool {
    let (db, redis) = backends();
    if db.is_none() || redis.is_none() {
        eprintln!("two-process guarantees need TEST_DATABASE_URL and TEST_REDIS_URL; .ci/run sets both");
        return false;
    }
    true
}

#[actix_web::test]
async fn two_processes_sharing_redis_admit_exactly_five_provisionings() {
    if !shared_backends() {
        return;
    }
    let shared = shared_env();
    let a = start(&shared, &[("THRUAI__RATE_LIMIT__PROVISIONING_MAX", "5")]);
    let b = start(&shared, &[("THRUAI__RATE_LIMIT__PROVISIONING_MAX", "5")]);
    let client = reqwest::Client::new();

    let replies = futures_util::future::join_all((0..60).map(|i| {
        let server = if i % 2 == 0 { &a } else { &b };
        let body = json!({ "email": format!("{}@example.com", unique("r")), "orgName": unique("Race ") });
        send(client.post(url(server, "/accounts/provision")).json(&body))
    }))
    .await;

    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 5);
    assert!(replies.iter().all(|r| r.status == 200 || r.code() == "RATE_LIMITED"));
}

#[actix_web::test]
async fn two_processes_create_one_resource_for_concurrent_duplicates() {
    if !shared_backends() {
        return;
    }
    let shared = shared_env();
    let a = start(&shared, &[]);
    let b = start(&shared, &[]);
    let client = reqwest::Client::new();
    let api_key = signup(&client, &a).await;
    let body = json!({ "message": "raced across nodes" });

    let replies = futures_util::future::join_all((0..60).map(|i| {
        send(keyed_feedback(
            &client,
            if i % 2 == 0 { &a } else { &b },
            &api_key,
            "node-race",
            &body,
        ))
    }))
    .await;

    let originals = replies
        .iter()
        .filter(|r| r.status == 201 && r.header("x-idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1);
    assert!(
        replies
            .iter()
            .all(|r| r.status == 201 || r.code() == "RESOURCE_CONFLICT")
    );
    assert_eq!(feedback_total(&client, &b, &api_key).await, 1);
}

#[actix_web::test]
async fn a_crash_after_the_commit_is_replayed_not_repeated() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let api_key = {
        let first = start(&shared, &[]);
        signup(&client, &first).await
    };
    let body = json!({ "message": "committed, then the process died" });

    let crashing = start(&shared, &[("THRUAI__TESTING__FAILPOINT", "abort_after_commit")]);
    let lost = keyed_feedback(&client, &crashing, &api_key, "crash-after", &body)
        .send()
        .await;
    drop(crashing);
    let restarted = start(&shared, &[]);
    let retry = send(keyed_feedback(&client, &restarted, &api_key, "crash-after", &body)).await;

    assert!(lost.is_err(), "the process aborted before answering");
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("x-idempotent-replayed"), Some("true"));
    assert_eq!(feedback_total(&client, &restarted, &api_key).await, 1);
}

#[actix_web::test]
async fn a_crash_before_the_commit_leaves_nothing_and_the_retry_runs_once() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let api_key = {
        let first = start(&shared, &[]);
        signup(&client, &first).await
    };
    let body = json!({ "message": "never committed" });

    // The dead holder's claim lasts its lock TTL (shortened here), then a retry may run.
    let crashing = start(
        &shared,
        &[
            ("THRUAI__TESTING__FAILPOINT", "abort_before_commit"),
            ("THRUAI__IDEMPOTENCY__LOCK_TTL_SECS", "1"),
        ],
    );
    let lost = keyed_feedback(&client, &crashing, &api_key, "crash-before", &body)
        .send()
        .await;
    drop(crashing);
    let restarted = start(&shared, &[("THRUAI__IDEMPOTENCY__LOCK_TTL_SECS", "1")]);
    let nothing = feedback_total(&client, &restarted, &api_key).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let retry = send(keyed_feedback(&client, &restarted, &api_key, "crash-before", &body)).await;
    let replay = send(keyed_feedback(&client, &restarted, &api_key, "crash-before", &body)).await;

    assert!(lost.is_err());
    assert_eq!(nothing, 0);
    assert_eq!(retry.status, 201);
    assert!(retry.header("x-idempotent-replayed").is_none(), "it ran, once");
    assert_eq!(replay.header("x-idempotent-replayed"), Some("true"));
    assert_eq!(feedback_total(&client, &restarted, &api_key).await, 1);
}

/// A connection to the database a group of processes shares.
pub(crate) async fn connect(shared: &[(String, String)]) -> sea_orm::DatabaseConnection {
    let mut settings = thruai::config::Settings::load(None).unwrap();
    for (k, v) in shared {
        match k.as_str() {
            "THRUAI__DATABASE__URL" => settings.database.url.clone_from(v),
            "THRUAI__DATABASE__SCHEMA" => settings.database.schema.clone_from(v),
            _ => {}
        }
    }
    thruai::store::connect(&settings.database).await.unwrap()
}

async fn call_events(shared: &[(String, String)], call_id: &str) -> Vec<String> {
    use sea_orm::EntityTrait;
    let db = connect(shared).await;
    thruai_entities::outbox_event::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.payload["callId"] == call_id)
        .map(|e| e.event_type)
        .collect()
}

/// Busy threads on every core while alive: the machine under CPU contention.
struct Contention(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Contention {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        for _ in 0..cores * 2 {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            });
        }
        Self(stop)
    }
}

impl Drop for Contention {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What the API showed of a live call (its transcript) survives a `kill -9`, on a machine
/// under CPU contention: the API shows only what is durable.
#[actix_web::test]
async fn a_crash_mid_call_closes_it_as_interrupted_exactly_once_with_its_transcript() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let server = start(&shared, &[]);
    let key = signup(&client, &server).await;
    let post = |path: &str, body: Value| client.post(url(&server, path)).bearer_auth(&key).json(&body);
    let n = send(post("/telephony/numbers/provision", json!({ "areaCode": "415" }))).await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let a = send(post(
        "/agents",
        json!({ "name": "Crashy", "firstMessage": "Hello, clinic." }),
    ))
    .await;
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    let script = json!([{ "waitForAgent": true }, { "say": "I need to move my appointment" },
                        { "waitForAgent": true }, { "silenceMs": 60000 }]);
    let c = send(post(
        "/calls/outbound",
        json!({ "agentId": agent_id, "to": "+14155550150", "metadata": { "sandboxScript": script } }),
    ))
    .await;
    assert_eq!(c.status, 201, "{:?}", c.body);
    let id = c.data()["callId"].as_str().unwrap().to_string();
    let get = |server: &Server, key: &str| {
        client
            .get(url(server, &format!("/calls/{id}")))
            .bearer_auth(key.to_string())
    };
    let contention = Contention::start();
    let mut live = None;
    for _ in 0..300 {
        let r = send(get(&server, &key)).await;
        if r.data()["status"] == "in_progress" && r.data()["transcript"].as_array().is_some_and(|t| t.len() >= 3) {
            live = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let live = live.expect("the call reached its second agent turn");
    drop(server); // SIGKILL mid-call
    drop(contention);

    let server = start(&shared, &[]);
    let r = send(get(&server, &key)).await;
    assert_eq!(r.data()["status"], "interrupted", "{:?}", r.body);
    assert!(r.data()["endReason"].as_str().unwrap().contains("interrupted"));
    let transcript = r.data()["transcript"].as_array().unwrap();
    assert_eq!(transcript.len(), live.data()["transcript"].as_array().unwrap().len());
    assert_eq!(transcript[1]["text"], "I need to move my appointment");
    drop(server);
    let server = start(&shared, &[]);
    let r = send(get(&server, &key)).await;
    assert_eq!(r.data()["status"], "interrupted");
    let events = call_events(&shared, &id).await;
    assert_eq!(events.iter().filter(|e| *e == "call.failed").count(), 1, "{events:?}");
    assert_eq!(events.iter().filter(|e| *e == "transcript.ready").count(), 1);
    // What the call used up to the crash is in the ledger, once, written with its close.
    let db = connect(&shared).await;
    let sources: Vec<String> = thruai::store::ledger::for_call(&db, &id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.source)
        .collect();
    assert!(sources.contains(&format!("call:{id}:telephony")), "{sources:?}");
    let mut unique = sources.clone();
    unique.dedup();
    assert_eq!(unique, sources);
    drop(server);
}

#[test]
fn the_demo_places_a_sandbox_call_end_to_end() {
    let out = Command::new(env!("CARGO_BIN_EXE_thruai"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("call completed (agent_ended)"), "{stdout}");
    assert!(
        stdout.contains("caller  Hi, I would like to book an appointment."),
        "{stdout}"
    );
    // Only the demo's own output: no access logs of its polling.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains(" INFO "), "{stderr}");
    assert!(stdout.lines().count() < 60, "{stdout}");
    // Each turn's latencies, as measured with the sandbox's simulated provider latency.
    let turn = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap_or_else(|| panic!("no turn row: {stdout}"));
    let figures: Vec<u64> = turn
        .split("ms")
        .filter_map(|f| f.split_whitespace().last()?.parse().ok())
        .collect();
    assert_eq!(figures.len(), 4, "{turn}");
    assert!(figures[1] >= 180 && figures[2] >= 350 && figures[3] >= 150, "{turn}");
}

/// SQLite is single-node: a second server on the same file refuses to start, whatever port
/// it binds, and names the process holding it; the first keeps serving.
#[actix_web::test]
async fn a_second_server_on_one_sqlite_file_refuses_to_start() {
    let dir = std::env::temp_dir().join(unique("thruai-lock-"));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = vec![
        ("THRUAI__REDIS__URL".to_string(), String::new()),
        (
            "THRUAI__DATABASE__URL".to_string(),
            format!("sqlite://{}/thruai.db?mode=rwc", dir.display()),
        ),
    ];
    let first = start(&sqlite, &[]);
    let second = Command::new(env!("CARGO_BIN_EXE_thruai"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .envs(sqlite.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(stderr.contains("in use by another ThruAI process"), "{stderr}");
    assert!(stderr.contains(&format!("pid {}", first.child.id())), "{stderr}");
    let health = send(reqwest::Client::new().get(url(&first, "/health"))).await;
    assert_eq!(health.status, 200);
    drop(first);
    // Released with the process: the next one starts.
    let next = start(&sqlite, &[]);
    drop(next);
}

/// A database that refuses connections is reported at once, with its cause, once.
#[test]
fn an_unreachable_database_fails_fast_with_its_cause() {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_thruai"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/thruai")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert_eq!(stderr.matches("cannot connect to PostgreSQL").count(), 1, "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
}

/// `thruai rotate-key` re-seals every secret under a new key, which then opens them; the
/// generated key kept in the database is forgotten, so the database alone opens nothing;
/// on SQLite it refuses while a server runs on the file.
#[actix_web::test]
async fn rotate_key_reseals_every_secret_under_the_new_key() {
    let shared = shared_env();
    let client = reqwest::Client::new();
    let server = start(&shared, &[("THRUAI__SECURITY__URL_ALLOWLIST", "127.0.0.1/32")]);
    let key = signup(&client, &server).await;
    let hook = send(
        client
            .post(url(&server, "/webhooks"))
            .bearer_auth(&key)
            .json(&json!({ "url": "http://127.0.0.1:9/hook", "events": ["call.completed"],
                           "secret": "my-webhook-secret-123" })),
    )
    .await;
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let tool = send(
        client
            .post(url(&server, "/tools"))
            .bearer_auth(&key)
            .json(&json!({ "name": "lookup", "url": "http://127.0.0.1:9/tool",
                           "headers": { "X-Api-Key": "abcdefgh12345678" } })),
    )
    .await;
    assert_eq!(tool.status, 201, "{:?}", tool.body);
    let rotate = |new_key: &str| {
        Command::new(env!("CARGO_BIN_EXE_thruai"))
            .args(["rotate-key", "--to", new_key])
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .envs(shared.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap()
    };
    let new_key = thruai::crypto::Crypto::generate_key();
    if !shared_backends() {
        let refused = rotate(&new_key);
        assert!(!refused.status.success(), "refused while the server holds the file");
    }
    drop(server);
    let out = rotate(&new_key);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Re-sealed 2 secrets"), "{stdout}");
    assert!(!stdout.contains(&new_key), "a key the operator gave is not echoed");

    let db = connect(&shared).await;
    let sealed = thruai::store::secrets::sealed_values(&db).await.unwrap();
    let next = thruai::crypto::Crypto::new(&new_key, db.clone()).unwrap();
    let mut opened = Vec::new();
    for value in &sealed {
        opened.push(next.decrypt(&value.text).await.unwrap());
    }
    opened.sort();
    assert_eq!(opened, ["abcdefgh12345678", "my-webhook-secret-123"]);
    // The generated key was forgotten: a server without the new key opens nothing.
    let old = thruai::crypto::Crypto::new("", db.clone()).unwrap();
    assert!(old.decrypt(&sealed[0].text).await.is_err());
}
