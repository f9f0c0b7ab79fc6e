//! Two-step provisioning, `/accounts/me` and `/profile`, and every provisioning error code.

use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;
use thruai_entities::pending_account;

use crate::helpers::{spawn_app, spawn_bare, unique};

#[actix_web::test]
async fn provisioning_then_verifying_returns_a_working_key_once() {
    let app = spawn_bare(|_| {}).await;
    let email = format!("{}@Example.com", unique("ada"));

    let provisioned = app.provision(&email, "Ada's Voice Lab").await;
    let code = app.code_for(&email.to_lowercase()).await;
    let verified = app.verify(&email, &code).await;
    let key = verified.data()["apiKey"].as_str().unwrap().to_string();
    let me = app
        .send(app.client.get(app.url("/accounts/me")).bearer_auth(&key))
        .await;
    let again = app.verify(&email, &code).await;

    assert_eq!(provisioned.status, 200);
    provisioned.assert_envelope();
    assert_eq!(provisioned.data()["slug"], "ada-s-voice-lab");
    assert_eq!(provisioned.data()["expiresInSeconds"], 900);
    assert!(
        !provisioned.bytes.windows(6).any(|w| w == code.as_bytes()),
        "the code is never in the response"
    );
    assert_eq!(verified.status, 201);
    assert!(key.starts_with("sk_live_"));
    assert!(
        verified.data()["organization"]["id"]
            .as_str()
            .unwrap()
            .starts_with("ORG-")
    );
    assert_eq!(verified.data()["permissions"].as_array().unwrap().len(), 24);
    assert_eq!(me.status, 200);
    assert_eq!(me.data()["name"], "Ada's Voice Lab");
    assert_eq!(me.data()["ownerEmail"], email.to_lowercase());
    assert_eq!(again.code(), "INVALID_CODE", "a code works once");
}

#[actix_web::test]
async fn the_key_is_stored_only_as_a_hash() {
    let app = spawn_bare(|_| {}).await;
    let (key, _) = app.signup().await;

    let rows = thruai_entities::api_key::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();

    assert_eq!(rows.len(), 1);
    assert_ne!(rows[0].key_hash, key);
    assert!(!format!("{rows:?}").contains(&key[12..key.len() - 4]));
    assert!(rows[0].display_prefix.starts_with(&key[..12]));
}

/// Sign-up does not tell who has an account: an address that has one gets the answer a new
/// address gets, and its owner a notice without a code; a taken slug is refused.
#[actix_web::test]
async fn an_existing_user_is_told_by_email_and_a_taken_slug_is_refused() {
    let app = spawn_bare(|_| {}).await;
    let email = format!("{}@example.com", unique("u"));
    let org = unique("Taken Org ");
    app.provision(&email, &org).await;
    let code = app.code_for(&email).await;
    assert_eq!(app.verify(&email, &code).await.status, 201);

    let same_email = app.provision(&email, "Another Org").await;
    let fresh = app
        .provision(&format!("{}@example.com", unique("w")), "Yet Another Org")
        .await;
    let same_slug = app
        .provision(&format!("{}@example.com", unique("v")), &org.to_uppercase())
        .await;
    let notice = app.get(&format!("/_debug/sandbox/outbox?to={email}")).await.data()["messages"][0].clone();

    assert_eq!(same_email.status, 200, "{:?}", same_email.body);
    let shape = |r: &crate::helpers::Reply| {
        let mut keys: Vec<String> = r.data().as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (
            keys,
            r.data()["message"]
                .as_str()
                .unwrap()
                .replace(r.data()["email"].as_str().unwrap(), ""),
        )
    };
    assert_eq!(shape(&same_email), shape(&fresh));
    assert!(
        notice["subject"].as_str().unwrap().contains("tried to sign up"),
        "{notice}"
    );
    assert!(!notice["text"].as_str().unwrap().contains("code is"), "{notice}");
    assert_eq!((same_slug.status.as_u16(), same_slug.code()), (409, "SLUG_TAKEN"));
}

#[actix_web::test]
async fn wrong_codes_count_against_a_few_attempts() {
    let app = spawn_bare(|s| s.accounts.max_code_attempts = 3).await;
    let email = format!("{}@example.com", unique("w"));
    app.provision(&email, &unique("Org ")).await;
    let code = app.code_for(&email).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let first = app.verify(&email, wrong).await;
    app.verify(&email, wrong).await;
    app.verify(&email, wrong).await;
    let right_too_late = app.verify(&email, &code).await;
    let unknown = app.verify(&format!("{}@example.com", unique("nobody")), "123456").await;
    let malformed = app.verify(&email, "12ab").await;

    assert_eq!((first.status.as_u16(), first.code()), (401, "INVALID_CODE"));
    assert_eq!(first.body["error"]["details"]["attemptsRemaining"], 2);
    assert_eq!(
        right_too_late.code(),
        "INVALID_CODE",
        "attempts exhausted burns the code"
    );
    assert_eq!(unknown.code(), "INVALID_CODE");
    assert_eq!(malformed.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn an_expired_code_is_refused_with_code_expired() {
    let app = spawn_bare(|_| {}).await;
    let email = format!("{}@example.com", unique("x"));
    app.provision(&email, &unique("Org ")).await;
    let code = app.code_for(&email).await;
    let row = pending_account::Entity::find_by_id(email.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row: pending_account::ActiveModel = row.into();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    row.update(&app.state.db).await.unwrap();

    let expired = app.verify(&email, &code).await;

    assert_eq!((expired.status.as_u16(), expired.code()), (401, "CODE_EXPIRED"));
}

#[actix_web::test]
async fn provisioning_input_is_validated() {
    let app = spawn_bare(|_| {}).await;

    let bad_email = app.provision("not-an-email", "Org").await;
    let short_name = app.provision("a@example.com", "x").await;
    let symbols = app.provision("a@example.com", "!!!").await;
    let unknown = app
        .send(
            app.client
                .post(app.url("/accounts/provision"))
                .json(&json!({ "email": "a@example.com", "orgname": "Org" })),
        )
        .await;

    assert_eq!(bad_email.body["error"]["details"][0]["field"], "email");
    assert_eq!(short_name.body["error"]["details"][0]["field"], "orgName");
    assert_eq!(symbols.code(), "VALIDATION_ERROR");
    assert_eq!(unknown.body["error"]["details"][0]["suggestion"], "orgName");
}

#[actix_web::test]
async fn the_profile_maps_identity_permissions_actions_and_next_steps() {
    let app = spawn_app().await;

    let profile = app.get("/profile").await;

    assert_eq!(profile.status, 200);
    let data = profile.data();
    assert!(
        data["identity"]["organization"]["id"]
            .as_str()
            .unwrap()
            .starts_with("ORG-")
    );
    assert_eq!(data["permissions"].as_array().unwrap().len(), 24);
    assert_eq!(data["actions"]["submit_feedback"]["allowed"], true);
    assert_eq!(data["actions"]["submit_feedback"]["path"], "/api/v1/public/feedback");
    assert_eq!(data["resources"]["feedback"], 0);
    assert_eq!(data["quickStart"][0]["method"], "POST");
    assert_eq!(
        app.send(app.client.request(Method::GET, app.url("/profile")))
            .await
            .code(),
        "API_KEY_MISSING"
    );
}
