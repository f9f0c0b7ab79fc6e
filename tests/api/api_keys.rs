//! The API key lifecycle: keys with a subset of the permissions, a name and an expiry; list,
//! last use, revoke, rotate with a grace period; the last owner key kept.

use std::time::Duration;

use chrono::Utc;
use reqwest::Method;
use serde_json::json;
use thruai::http::api_keys::{ApiKeyCreatedOut, ApiKeyOut, KeyStatus};

use crate::helpers::{Reply, TestApp, spawn_app};

async fn as_key(app: &TestApp, key: &str, method: Method, path: &str) -> Reply {
    app.send(app.client.request(method, app.url(path)).bearer_auth(key))
        .await
}

fn created(r: &Reply) -> ApiKeyCreatedOut {
    assert_eq!(r.status, 201, "{:?}", r.body);
    serde_json::from_value(r.data().clone()).unwrap()
}

#[actix_web::test]
async fn a_key_with_a_subset_of_permissions_does_only_that_and_cannot_manage_keys() {
    let app = spawn_app().await;
    let expires = Utc::now() + chrono::Duration::days(30);
    let made = created(
        &app.post(
            "/api-keys",
            &json!({ "name": "Reporting", "scopes": ["feedback:read"], "expiresAt": expires }),
        )
        .await,
    );
    let reads = as_key(&app, &made.api_key, Method::GET, "/feedback").await;
    let writes = app
        .send(
            app.client
                .post(app.url("/feedback"))
                .bearer_auth(&made.api_key)
                .json(&json!({ "message": "hi" })),
        )
        .await;
    let manage = as_key(&app, &made.api_key, Method::GET, "/api-keys").await;
    let listed = app.get("/api-keys").await;
    let keys: Vec<ApiKeyOut> = serde_json::from_value(listed.data()["apiKeys"].clone()).unwrap();
    let unknown = app
        .post("/api-keys", &json!({ "name": "x", "scopes": ["feedbak:read"] }))
        .await;
    let past = app
        .post(
            "/api-keys",
            &json!({ "name": "x", "expiresAt": "2020-01-01T00:00:00Z" }),
        )
        .await;

    assert_eq!(made.key.scopes, vec!["feedback:read"]);
    assert_eq!(made.key.status, KeyStatus::Active);
    assert!(!made.key.owner);
    assert!(made.api_key.starts_with(&made.key.prefix[..12]));
    assert_eq!(reads.status, 200);
    assert_eq!((writes.status.as_u16(), writes.code()), (403, "FORBIDDEN"));
    assert_eq!((manage.status.as_u16(), manage.code()), (403, "FORBIDDEN"));
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|k| k.id == made.key.id && k.name == "Reporting"));
    assert!(
        !String::from_utf8_lossy(&listed.bytes).contains(&made.api_key),
        "never the secret"
    );
    assert_eq!(unknown.code(), "VALIDATION_ERROR");
    assert!(
        unknown.body["error"]["details"].to_string().contains("feedback:read"),
        "a suggestion"
    );
    assert_eq!(past.code(), "VALIDATION_ERROR");
    // The key's use is recorded (off the request path).
    let mut last_used = None;
    for _ in 0..50 {
        last_used = app.get(&format!("/api-keys/{}", made.key.id)).await.data()["lastUsedAt"]
            .as_str()
            .map(str::to_owned);
        if last_used.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(last_used.is_some());
}

#[actix_web::test]
async fn a_revoked_key_stops_at_once_and_the_last_owner_key_stays() {
    let app = spawn_app().await;
    let listed = app.get("/api-keys").await;
    let first: Vec<ApiKeyOut> = serde_json::from_value(listed.data()["apiKeys"].clone()).unwrap();
    let owner_id = first[0].id.clone();
    assert!(first[0].owner);

    let last = app.delete(&format!("/api-keys/{owner_id}")).await;
    let spare = created(&app.post("/api-keys", &json!({ "name": "Spare owner" })).await);
    let used = as_key(&app, &spare.api_key, Method::GET, "/profile").await;
    let revoked = app.delete(&format!("/api-keys/{owner_id}")).await;
    let after = app.get("/profile").await;
    let spare_last = as_key(
        &app,
        &spare.api_key,
        Method::DELETE,
        &format!("/api-keys/{}", spare.key.id),
    )
    .await;

    assert_eq!(
        (last.status.as_u16(), last.code()),
        (400, "INVALID_STATE"),
        "{:?}",
        last.body
    );
    assert!(spare.key.owner);
    assert_eq!(used.status, 200);
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert_eq!(revoked.data()["status"], "revoked");
    assert_eq!((after.status.as_u16(), after.code()), (401, "API_KEY_REVOKED"));
    assert_eq!(
        spare_last.code(),
        "INVALID_STATE",
        "now the spare is the last owner key"
    );
}

#[actix_web::test]
async fn a_rotated_key_keeps_working_for_its_grace_period_then_expires() {
    let app = spawn_app().await;
    let made = created(
        &app.post(
            "/api-keys",
            &json!({ "name": "CI", "scopes": ["agents:read", "calls:read"] }),
        )
        .await,
    );
    let rotated = created(
        &app.post(
            &format!("/api-keys/{}/rotate", made.key.id),
            &json!({ "gracePeriodSeconds": 1 }),
        )
        .await,
    );
    let old_in_grace = as_key(&app, &made.api_key, Method::GET, "/agents").await;
    let new_works = as_key(&app, &rotated.api_key, Method::GET, "/agents").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let old_after = as_key(&app, &made.api_key, Method::GET, "/agents").await;
    let again = app.post(&format!("/api-keys/{}/rotate", made.key.id), &json!({})).await;
    let immediate = created(
        &app.post(
            &format!("/api-keys/{}/rotate", rotated.key.id),
            &json!({ "gracePeriodSeconds": 0 }),
        )
        .await,
    );
    let revoked_now = as_key(&app, &rotated.api_key, Method::GET, "/agents").await;

    assert_eq!(rotated.key.scopes, made.key.scopes);
    assert_eq!(rotated.key.name, "CI");
    assert_eq!(
        rotated.replaces.as_ref().map(|k| k.id.as_str()),
        Some(made.key.id.as_str())
    );
    assert!(rotated.replaces.as_ref().unwrap().expires_at.is_some());
    assert_eq!(old_in_grace.status, 200);
    assert_eq!(new_works.status, 200);
    assert_eq!((old_after.status.as_u16(), old_after.code()), (401, "API_KEY_EXPIRED"));
    assert_eq!(again.code(), "INVALID_STATE", "an expired key is not rotated");
    assert_eq!(immediate.replaces.unwrap().status, KeyStatus::Revoked);
    assert_eq!(revoked_now.code(), "API_KEY_REVOKED");
}
