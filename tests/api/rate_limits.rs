//! Rate limits: provisioning's strict sliding window per client IP (and who counts as the
//! client), per-plan limits, the IETF headers, and Redis being down.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, spawn_bare, spawn_with, unique};

async fn provision_from(app: &TestApp, xff: Option<&str>) -> crate::helpers::Reply {
    let mut rb = app
        .client
        .post(app.url("/accounts/provision"))
        .json(&json!({ "email": format!("{}@example.com", unique("rl")), "orgName": unique("Org ") }));
    if let Some(xff) = xff {
        rb = rb.header("X-Forwarded-For", xff);
    }
    app.send(rb).await
}

#[actix_web::test]
async fn provisioning_admits_five_per_hour_per_ip_then_429_with_headers() {
    let app = spawn_bare(|s| s.rate_limit.provisioning_max = 5).await;

    let mut replies = Vec::new();
    for _ in 0..7 {
        replies.push(provision_from(&app, None).await);
    }

    assert!(replies[..5].iter().all(|r| r.status == 200));
    assert_eq!(
        replies[0].header("ratelimit-policy"),
        Some("\"provisioning\";q=5;w=3600")
    );
    assert_eq!(replies[4].header("ratelimit").map(|h| h.contains(";r=0;")), Some(true));
    let refused = &replies[5];
    assert_eq!((refused.status.as_u16(), refused.code()), (429, "RATE_LIMITED"));
    refused.assert_envelope();
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 3500 && retry <= 3600, "{retry}");
    assert_eq!(
        refused.header("ratelimit"),
        Some(format!("\"provisioning\";r=0;t={retry}").as_str())
    );
    assert_eq!(replies[6].status, 429);
}

#[actix_web::test]
async fn concurrent_provisioning_never_admits_more_than_the_limit() {
    let app = spawn_bare(|s| {
        s.rate_limit.provisioning_max = 5;
        s.server.workers = 2;
    })
    .await;

    let replies = futures_util::future::join_all((0..40).map(|_| provision_from(&app, None))).await;

    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 5);
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 429));
}

#[actix_web::test]
async fn the_window_slides_rather_than_refilling() {
    let app = spawn_bare(|s| {
        s.rate_limit.provisioning_max = 2;
        s.rate_limit.provisioning_window_secs = 2;
    })
    .await;

    let a = provision_from(&app, None).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let b = provision_from(&app, None).await;
    let refused = provision_from(&app, None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after_first_leaves = provision_from(&app, None).await;
    let still_full = provision_from(&app, None).await;

    assert_eq!(
        (a.status.as_u16(), b.status.as_u16(), refused.status.as_u16()),
        (200, 200, 429)
    );
    assert_eq!(after_first_leaves.status, 200, "the oldest request left the window");
    assert_eq!(still_full.status, 429, "the second is still inside it");
}

#[actix_web::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let untrusted = spawn_bare(|s| s.rate_limit.provisioning_max = 2).await;
    let trusted = spawn_bare(|s| {
        s.rate_limit.provisioning_max = 2;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;

    let spoofed: Vec<u16> = futures_util::future::join_all((0..4).map(|i| {
        let ip = format!("203.0.113.{i}");
        let app = &untrusted;
        async move { provision_from(app, Some(&ip)).await.status.as_u16() }
    }))
    .await;
    let mut per_client = Vec::new();
    for ip in ["198.51.100.1", "198.51.100.1", "198.51.100.1", "198.51.100.2"] {
        per_client.push(
            provision_from(&trusted, Some(&format!("10.9.9.9, {ip}")))
                .await
                .status
                .as_u16(),
        );
    }

    assert_eq!(
        spoofed.iter().filter(|s| **s == 200).count(),
        2,
        "a spoofed header does not buy more attempts"
    );
    assert_eq!(per_client, [200, 200, 429, 200]);
}

#[actix_web::test]
async fn plans_limit_authenticated_requests_with_headers_on_every_answer() {
    let app = spawn_with(|s| {
        for plan in s.rate_limit.plans.values_mut() {
            plan.requests_per_second = 1.0;
            plan.burst = 3;
        }
    })
    .await;
    // Signing up spent nothing: plan limits count authenticated requests only.

    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let r = app.get("/feedback").await;
        statuses.push(r.status.as_u16());
        last = Some(r);
    }
    let other = app.other_org().await;
    let theirs = other.get("/feedback").await;

    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let last = last.unwrap();
    assert_eq!(last.code(), "RATE_LIMITED");
    assert_eq!(last.header("retry-after"), Some("1"));
    assert_eq!(last.header("ratelimit-policy"), Some("\"plan-free\";q=3;w=3"));
    assert_eq!(theirs.status, 200, "limits are per organisation");
    assert!(theirs.header("ratelimit").is_some());
}

#[actix_web::test]
async fn with_redis_down_provisioning_fails_closed_and_plans_fall_back() {
    let app = spawn_bare(|s| {
        s.redis.url = "redis://127.0.0.1:1".into();
        s.redis.timeout_ms = 200;
    })
    .await;
    let key = app.seed_org().await;

    let provisioning = provision_from(&app, None).await;
    let authed = app.send(app.client.get(app.url("/feedback")).bearer_auth(&key)).await;
    let keyed = app
        .send(
            app.client
                .post(app.url("/feedback"))
                .bearer_auth(&key)
                .header("Idempotency-Key", "k")
                .json(&json!({ "message": "x" })),
        )
        .await;
    let replay = app
        .send(
            app.client
                .post(app.url("/feedback"))
                .bearer_auth(&key)
                .header("Idempotency-Key", "k")
                .json(&json!({ "message": "x" })),
        )
        .await;
    let health = app.send(app.client.get(app.url("/health"))).await;

    assert_eq!(
        (provisioning.status.as_u16(), provisioning.code()),
        (503, "SERVICE_UNAVAILABLE")
    );
    assert!(provisioning.header("retry-after").is_some());
    let message = provisioning.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Redis") && !message.contains("Database"),
        "the answer names what is down: {message}"
    );
    assert_eq!(authed.status, 200);
    assert!(authed.header("ratelimit").is_some());
    assert_eq!(keyed.status, 201, "idempotency falls back to the database");
    assert_eq!(replay.header("x-idempotent-replayed"), Some("true"));
    assert_eq!(health.data()["redis"]["status"], "down");
    assert_eq!(health.data()["status"], "degraded");
}
