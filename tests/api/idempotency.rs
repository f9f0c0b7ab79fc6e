//! `Idempotency-Key`: byte-identical replays, mismatches, concurrent duplicates, what is not
//! stored, scoping per organisation, and a crashed holder's claim.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with, unique};

async fn keyed_post(app: &TestApp, key: &str, body: &Value) -> crate::helpers::Reply {
    app.send(
        app.req(Method::POST, "/feedback")
            .header("Idempotency-Key", key)
            .json(body),
    )
    .await
}

async fn total(app: &TestApp) -> u64 {
    app.get("/feedback").await.data()["pagination"]["total"]
        .as_u64()
        .unwrap()
}

#[actix_web::test]
async fn a_replay_is_byte_identical_and_marked() {
    let app = spawn_app().await;
    let body = json!({ "message": "once" });

    let first = keyed_post(&app, "k-1", &body).await;
    let second = keyed_post(&app, "k-1", &json!({ "message": "once" })).await;

    assert_eq!(first.status, 201);
    assert!(first.header("x-idempotent-replayed").is_none());
    assert_eq!(second.status, 201);
    assert_eq!(second.header("x-idempotent-replayed"), Some("true"));
    assert_eq!(second.bytes, first.bytes);
    assert_eq!(total(&app).await, 1);
}

#[actix_web::test]
async fn the_same_key_with_a_different_body_is_a_conflict() {
    let app = spawn_app().await;
    keyed_post(&app, "k-2", &json!({ "message": "a" })).await;

    let other = keyed_post(&app, "k-2", &json!({ "message": "b" })).await;

    assert_eq!((other.status.as_u16(), other.code()), (409, "RESOURCE_CONFLICT"));
    assert!(
        other.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("different request body")
    );
    assert_eq!(total(&app).await, 1);
}

#[actix_web::test]
async fn a_validation_failure_is_not_stored_so_the_key_can_be_corrected() {
    let app = spawn_app().await;

    let invalid = keyed_post(&app, "k-3", &json!({ "message": "" })).await;
    let corrected = keyed_post(&app, "k-3", &json!({ "message": "fixed" })).await;

    assert_eq!(invalid.status, 400);
    assert_eq!(corrected.status, 201);
    assert!(corrected.header("x-idempotent-replayed").is_none());
}

#[actix_web::test]
async fn keys_are_scoped_to_the_organisation_and_the_route() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let created = keyed_post(&app, "shared", &json!({ "message": "x" })).await;
    let id = created.data()["id"].as_str().unwrap();

    let theirs = keyed_post(&other, "shared", &json!({ "message": "x" })).await;
    let patch = app
        .send(
            app.req(Method::PATCH, &format!("/feedback/{id}"))
                .header("Idempotency-Key", "shared")
                .json(&json!({ "status": "closed" })),
        )
        .await;

    assert_eq!(theirs.status, 201);
    assert!(theirs.header("x-idempotent-replayed").is_none());
    assert_ne!(theirs.data()["id"], created.data()["id"]);
    assert_eq!(patch.status, 200);
    assert!(patch.header("x-idempotent-replayed").is_none());
}

#[actix_web::test]
async fn concurrent_duplicates_create_exactly_one_resource() {
    let app = spawn_with(|s| s.server.workers = 2).await;
    let key = unique("race-");
    let body = json!({ "message": "race" });

    let replies = futures_util::future::join_all((0..40).map(|_| keyed_post(&app, &key, &body))).await;

    let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    let originals = created
        .iter()
        .filter(|r| r.header("x-idempotent-replayed").is_none())
        .count();
    assert_eq!(originals, 1);
    for r in &replies {
        assert!(
            r.status == 201 || r.code() == "RESOURCE_CONFLICT",
            "{} {:?}",
            r.status,
            r.body
        );
    }
    assert!(created.iter().all(|r| r.bytes == created[0].bytes));
    assert_eq!(total(&app).await, 1);
}

#[actix_web::test]
async fn bad_keys_are_refused() {
    let app = spawn_app().await;

    let long = keyed_post(&app, &"k".repeat(256), &json!({ "message": "x" })).await;

    assert_eq!((long.status.as_u16(), long.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(long.body["error"]["details"][0]["field"], "Idempotency-Key");
    assert_eq!(total(&app).await, 0);
}

#[actix_web::test]
async fn a_claim_left_by_a_crashed_request_expires_and_the_retry_runs_once() {
    let app = spawn_with(|s| s.idempotency.lock_ttl_secs = 1).await;
    let org = app.get("/profile").await.data()["identity"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A holder that died mid-request: its claim is in place, nothing was committed.
    let fp = thruai::idempotency::fingerprint(br#"{"message":"crash"}"#, "");
    let outcome = app
        .state
        .idempotency
        .begin(&org, "k-crash", "POST", "/feedback", fp)
        .await
        .unwrap();
    assert!(matches!(outcome, thruai::idempotency::Outcome::Proceed(_)));

    let during = keyed_post(&app, "k-crash", &json!({ "message": "crash" })).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = keyed_post(&app, "k-crash", &json!({ "message": "crash" })).await;
    let replay = keyed_post(&app, "k-crash", &json!({ "message": "crash" })).await;

    assert_eq!(during.code(), "RESOURCE_CONFLICT");
    assert_eq!(during.header("retry-after"), Some("1"));
    assert_eq!(after.status, 201);
    assert_eq!(replay.header("x-idempotent-replayed"), Some("true"));
    assert_eq!(total(&app).await, 1);
}
