//! API keys: every authentication error code, scopes, and the cache's bounded staleness.

use chrono::Utc;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use thruai::{
    auth,
    store::api_keys::{self, NewApiKey},
};
use thruai_entities::api_key;

use crate::helpers::{TestApp, spawn_app, spawn_with};

async fn with_key(app: &TestApp, header: Option<&str>) -> crate::helpers::Reply {
    let mut rb = app.client.request(Method::GET, app.url("/feedback"));
    if let Some(h) = header {
        rb = rb.header("authorization", h);
    }
    app.send(rb).await
}

async fn key_row(app: &TestApp) -> api_key::Model {
    api_key::Entity::find_by_id(
        app.get("/profile").await.data()["identity"]["apiKey"]["id"]
            .as_str()
            .unwrap()
            .to_string(),
    )
    .one(&app.state.db)
    .await
    .unwrap()
    .unwrap()
}

#[actix_web::test]
async fn each_kind_of_bad_key_gets_its_own_code() {
    let app = spawn_app().await;
    let unknown = auth::generate_key().secret;

    let missing = with_key(&app, None).await;
    let garbage = with_key(&app, Some("Bearer sk_live_nope")).await;
    let no_bearer = with_key(&app, Some(&app.api_key.clone())).await;
    // The key's last character changed (to one it is not: a random key may end in `x`).
    let (head, last) = app.api_key.split_at(app.api_key.len() - 1);
    let other = if last == "x" { 'y' } else { 'x' };
    let bad_checksum = with_key(&app, Some(&format!("Bearer {head}{other}"))).await;
    let not_issued = with_key(&app, Some(&format!("Bearer {unknown}"))).await;
    let good = with_key(&app, Some(&format!("Bearer {}", app.api_key))).await;

    assert_eq!((missing.status.as_u16(), missing.code()), (401, "API_KEY_MISSING"));
    missing.assert_envelope();
    assert_eq!(garbage.code(), "INVALID_API_KEY_FORMAT");
    assert_eq!(no_bearer.code(), "INVALID_API_KEY_FORMAT");
    assert_eq!(bad_checksum.code(), "INVALID_API_KEY_FORMAT");
    assert_eq!(
        (not_issued.status.as_u16(), not_issued.code()),
        (401, "INVALID_API_KEY")
    );
    assert_eq!(good.status, 200);
}

#[actix_web::test]
async fn revoked_and_expired_keys_are_refused() {
    let app = spawn_app().await;
    let row = key_row(&app).await;

    let mut revoked: api_key::ActiveModel = row.clone().into();
    revoked.revoked_at = Set(Some(Utc::now()));
    revoked.update(&app.state.db).await.unwrap();
    let after_revoke = app.get("/feedback").await;

    let mut expired: api_key::ActiveModel = row.into();
    expired.revoked_at = Set(None);
    expired.expires_at = Set(Some(Utc::now() - chrono::Duration::seconds(1)));
    expired.update(&app.state.db).await.unwrap();
    let after_expiry = app.get("/feedback").await;

    assert_eq!(
        (after_revoke.status.as_u16(), after_revoke.code()),
        (401, "API_KEY_REVOKED")
    );
    assert_eq!(
        (after_expiry.status.as_u16(), after_expiry.code()),
        (401, "API_KEY_EXPIRED")
    );
}

#[actix_web::test]
async fn a_missing_scope_is_forbidden_and_named() {
    let app = spawn_app().await;
    let row = key_row(&app).await;
    let key = auth::generate_key();
    api_keys::insert(
        &app.state.db,
        NewApiKey {
            id: "KEY-READONLY",
            org_id: &row.org_id,
            name: "read only",
            hash: &key.hash,
            display_prefix: &key.display_prefix,
            scopes: &["feedback:read"],
            expires_at: None,
            now: Utc::now(),
        },
    )
    .await
    .unwrap();

    let read = app
        .send(app.client.get(app.url("/feedback")).bearer_auth(&key.secret))
        .await;
    let write = app
        .send(
            app.client
                .post(app.url("/feedback"))
                .bearer_auth(&key.secret)
                .json(&serde_json::json!({ "message": "x" })),
        )
        .await;
    let me = app
        .send(app.client.get(app.url("/accounts/me")).bearer_auth(&key.secret))
        .await;

    assert_eq!(read.status, 200);
    assert_eq!((write.status.as_u16(), write.code()), (403, "FORBIDDEN"));
    assert!(
        write.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("feedback:write")
    );
    assert_eq!(write.body["error"]["details"]["requiredPermission"], "feedback:write");
    assert_eq!(me.body["error"]["details"]["requiredPermission"], "billing:read");
}

#[actix_web::test]
async fn a_cached_key_is_revoked_within_the_cache_ttl() {
    let app = spawn_with(|s| s.auth.cache_ttl_ms = 300).await;
    assert_eq!(app.get("/feedback").await.status, 200);
    let mut row: api_key::ActiveModel = key_row(&app).await.into();
    row.revoked_at = Set(Some(Utc::now()));
    row.update(&app.state.db).await.unwrap();

    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let after = app.get("/feedback").await;

    assert_eq!(after.code(), "API_KEY_REVOKED");
}
