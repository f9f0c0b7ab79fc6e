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
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
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
