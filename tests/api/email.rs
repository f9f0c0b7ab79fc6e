//! The Resend client against a local fake that speaks Resend's wire format, and
//! provisioning end to end through it.

use std::sync::Arc;

use serde_json::json;
use thruai::providers::email::{EmailError, OutgoingEmail};

use crate::{
    fake_resend::FakeResend,
    helpers::{spawn_bare, test_settings, unique},
};

fn resend_settings(base: &str, key: &str) -> thruai::config::Settings {
    let mut s = test_settings();
    s.email.provider = "resend".into();
    s.email.resend_api_key = key.into();
    s.email.resend_base_url = base.into();
    s
}

async fn sender(base: &str, key: &str) -> Arc<dyn thruai::providers::email::EmailSender> {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    thruai::providers::email_sender(&resend_settings(base, key), db).unwrap()
}

fn message() -> OutgoingEmail {
    OutgoingEmail {
        idempotency_key: Some("idem-1".into()),
        ..OutgoingEmail::notice("ada@example.com", "Hi", "Hello")
    }
}

#[actix_web::test]
async fn resend_receives_the_message_with_its_idempotency_key() {
    let fake = FakeResend::start().await;
    let email = sender(&fake.base_url, "re_test_key").await;

    let id = email.send(message()).await.unwrap();

    assert!(!id.is_empty());
    let received = fake.sent();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0.as_deref(), Some("idem-1"));
    assert_eq!(received[0].1["to"], json!(["ada@example.com"]));
    assert_eq!(received[0].1["subject"], "Hi");
    assert!(!email.is_sandbox());
}

#[actix_web::test]
async fn resend_failures_are_classified() {
    let fake = FakeResend::start().await;
    let wrong_key = sender(&fake.base_url, "re_wrong").await;
    let email = sender(&fake.base_url, "re_test_key").await;
    fake.state.lock().unwrap().script = vec![
        (
            422,
            json!({ "statusCode": 422, "name": "validation_error", "message": "Invalid `to` field" }),
        ),
        (
            429,
            json!({ "statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests" }),
        ),
        (
            500,
            json!({ "statusCode": 500, "name": "internal_server_error", "message": "boom" }),
        ),
    ];

    let auth = wrong_key.send(message()).await.unwrap_err();
    let invalid = email.send(message()).await.unwrap_err();
    let limited = email.send(message()).await.unwrap_err();
    let down = email.send(message()).await.unwrap_err();
    let unreachable = sender("http://127.0.0.1:1", "re_test_key")
        .await
        .send(message())
        .await
        .unwrap_err();

    assert!(matches!(auth, EmailError::Auth), "{auth:?}");
    assert!(
        matches!(invalid, EmailError::Rejected(ref m) if m.contains("validation_error")),
        "{invalid:?}"
    );
    assert!(matches!(limited, EmailError::RateLimited), "{limited:?}");
    assert!(matches!(down, EmailError::Unavailable(_)), "{down:?}");
    assert!(matches!(unreachable, EmailError::Unavailable(_)), "{unreachable:?}");
}

#[actix_web::test]
async fn provisioning_sends_the_code_through_resend_and_the_sandbox_outbox_is_gone() {
    let fake = FakeResend::start().await;
    let base = fake.base_url.clone();
    let app = spawn_bare(move |s| {
        s.email.provider = "resend".into();
        s.email.resend_api_key = "re_test_key".into();
        s.email.resend_base_url = base;
    })
    .await;
    let email = format!("{}@example.com", unique("r"));

    let provisioned = app.provision(&email, &unique("Resend Org ")).await;
    let outbox = app
        .send(app.client.get(app.url(&format!("/_debug/sandbox/outbox?to={email}"))))
        .await;
    let sent = fake.sent();
    let code = sent[0].1["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let verified = app.verify(&email, &code).await;

    assert_eq!(provisioned.status, 200);
    assert!(provisioned.data().get("sandbox").is_none());
    assert_eq!(outbox.status, 404);
    assert_eq!(sent[0].1["to"], json!([email]));
    assert_eq!(verified.status, 201);
}

#[actix_web::test]
async fn an_email_provider_outage_is_a_502_and_the_code_can_be_requested_again() {
    let fake = FakeResend::start().await;
    let base = fake.base_url.clone();
    let app = spawn_bare(move |s| {
        s.email.provider = "resend".into();
        s.email.resend_api_key = "re_test_key".into();
        s.email.resend_base_url = base;
    })
    .await;
    fake.state.lock().unwrap().script = vec![(500, json!({ "name": "internal_server_error" }))];
    let email = format!("{}@example.com", unique("o"));

    let failed = app.provision(&email, "Outage Org").await;
    let retried = app.provision(&email, "Outage Org").await;

    assert_eq!((failed.status.as_u16(), failed.code()), (502, "UPSTREAM_UNAVAILABLE"));
    assert_eq!(retried.status, 200);
}

/// A server on the fake Resend, with its webhook secret, and an organisation.
async fn resend_app(fake: &FakeResend, secret: &str) -> crate::helpers::TestApp {
    let base = fake.base_url.clone();
    let secret = secret.to_string();
    let mut app = spawn_bare(move |s| {
        s.email.provider = "resend".into();
        s.email.resend_api_key = crate::fake_resend::KEY.into();
        s.email.resend_base_url = base;
        s.email.resend_webhook_secret = secret;
    })
    .await;
    app.api_key = app.seed_org().await;
    app
}

async fn post_event(
    app: &crate::helpers::TestApp,
    secret: &thruai::net::signing::WebhookSecret,
    id: &str,
    age_secs: i64,
    body: &serde_json::Value,
) -> crate::helpers::Reply {
    let raw = serde_json::to_vec(body).unwrap();
    let signed = thruai::net::signing::signed_headers(secret, id, chrono::Utc::now().timestamp() - age_secs, &raw);
    let mut rb = app
        .client
        .post(format!("{}/webhooks/resend", app.address))
        .header("content-type", "application/json")
        .body(raw);
    for (name, value) in signed.svix_header_pairs() {
        rb = rb.header(name, value);
    }
    app.send(rb).await
}

#[actix_web::test]
async fn on_resend_a_domain_verifies_a_thread_runs_and_signed_events_apply_once() {
    use reqwest::Method;
    let fake = FakeResend::start().await;
    let (secret, whsec) = thruai::net::signing::WebhookSecret::generate();
    let app = resend_app(&fake, &whsec).await;
    let name = format!("{}.example.com", unique("mail").to_lowercase());

    let added = app.post("/email-domains", &json!({ "domain": name })).await;
    let id = added.data()["id"].as_str().unwrap().to_string();
    let pending = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    fake.state.lock().unwrap().dns_ok = true;
    let verified = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    let agent = app
        .post("/agents", &json!({ "name": "Sam", "systemPrompt": "You schedule." }))
        .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let address = format!("sam@{name}");
    app.send(
        app.req(Method::PUT, &format!("/agents/{agent_id}/email"))
            .json(&json!({ "address": address, "autoReply": true })),
    )
    .await;
    let sent = app
        .send(
            app.req(Method::POST, "/emails/send")
                .header("Idempotency-Key", "k1")
                .json(&json!({ "agentId": agent_id, "to": "ann@example.org", "subject": "Booking", "text": "Confirmed." })),
        )
        .await;
    let provider_id = sent.data()["providerEmailId"].as_str().unwrap().to_string();
    let delivered = json!({ "type": "email.delivered", "created_at": "2026-12-07T10:00:00Z", "data": { "email_id": provider_id, "to": ["ann@example.org"] } });
    let first = post_event(&app, &secret, "msg_1", 0, &delivered).await;
    let replay = post_event(&app, &secret, "msg_1", 0, &delivered).await;
    let stale = post_event(&app, &secret, "msg_2", 3600, &delivered).await;
    let (other_secret, _) = thruai::net::signing::WebhookSecret::generate();
    let forged = post_event(&app, &other_secret, "msg_3", 0, &delivered).await;
    let unsigned = app
        .send(
            app.client
                .post(format!("{}/webhooks/resend", app.address))
                .json(&delivered),
        )
        .await;
    let after = app
        .get(&format!("/emails/{}", sent.data()["id"].as_str().unwrap()))
        .await;

    // The customer replies to the plain address, naming the Message-ID SES rewrote ours to.
    let rewritten = format!("<0100{}@email.amazonses.com>", provider_id.replace('-', ""));
    fake.state.lock().unwrap().inbound.insert(
        "in-1".into(),
        json!({ "object": "email", "id": "in-1", "from": "Ann <ann@example.org>", "to": [address], "subject": "Re: Booking",
                "text": "Can I bring a friend?", "message_id": "<ann-1@example.org>", "headers": { "In-Reply-To": rewritten } }),
    );
    let received = json!({ "type": "email.received", "created_at": "2026-12-07T10:01:00Z",
        "data": { "email_id": "in-1", "from": "ann@example.org", "to": [address], "subject": "Re: Booking", "message_id": "<ann-1@example.org>", "cc": [], "bcc": [], "attachments": [] } });
    let inbound = post_event(&app, &secret, "msg_4", 0, &received).await;
    let thread = sent.data()["threadId"].as_str().unwrap().to_string();
    let mut messages = Vec::new();
    for _ in 0..100 {
        let r = app.get(&format!("/email-threads/{thread}/messages")).await;
        messages = r.data()["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let sends = fake.sent();

    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.data()["records"][0]["name"], format!("resend._domainkey.{name}"));
    assert_eq!(pending.data()["verified"], false);
    assert_eq!(verified.data()["verified"], true, "{:?}", verified.body);
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let (key, body) = &sends[0];
    assert_eq!(
        key.as_deref().map(str::len),
        Some(64),
        "the key is scoped to the organisation: {key:?}"
    );
    assert_ne!(key.as_deref(), Some("k1"));
    assert_eq!(body["from"], format!("Sam <{address}>"));
    assert!(body["reply_to"].as_str().unwrap().starts_with("sam+t_"));
    assert!(
        body["headers"]["Message-ID"]
            .as_str()
            .unwrap()
            .ends_with(&format!("@{name}>"))
    );
    assert_eq!(
        (first.status.as_u16(), &first.data()["duplicate"]),
        (200, &json!(false))
    );
    assert_eq!(replay.data()["duplicate"], true);
    assert_eq!(stale.status, 401);
    assert_eq!(forged.status, 401);
    assert_eq!(unsigned.status, 401);
    assert_eq!(after.data()["status"], "delivered");
    assert_eq!(inbound.status, 200, "{:?}", inbound.body);
    assert_eq!(messages.len(), 3, "the reply and the agent's answer: {messages:?}");
    assert_eq!(messages[1]["from"], "ann@example.org");
    assert_eq!(messages[2]["autoReply"], true);
    let answer = &sends.last().unwrap().1;
    assert_eq!(answer["headers"]["In-Reply-To"], "<ann-1@example.org>");
    assert_eq!(answer["headers"]["Auto-Submitted"], "auto-replied");
    assert!(answer["headers"]["References"].as_str().unwrap().contains(&rewritten));
}

#[actix_web::test]
async fn a_bounce_event_suppresses_and_a_failed_send_is_recorded_failed_not_sent() {
    let fake = FakeResend::start().await;
    let (secret, whsec) = thruai::net::signing::WebhookSecret::generate();
    let app = resend_app(&fake, &whsec).await;
    fake.state.lock().unwrap().dns_ok = true;
    let name = format!("{}.example.com", unique("mail").to_lowercase());
    let added = app
        .post("/email-domains", &json!({ "domain": name, "receiving": false }))
        .await;
    let id = added.data()["id"].as_str().unwrap().to_string();
    app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    let from = format!("billing@{name}");
    let body = json!({ "from": from, "to": "gone@example.org", "subject": "Invoice", "text": "Due." });

    let sent = app.post("/emails/send", &body).await;
    let provider_id = sent.data()["providerEmailId"].as_str().unwrap().to_string();
    let bounce = json!({ "type": "email.bounced", "created_at": "2026-12-07T10:00:00Z",
        "data": { "email_id": provider_id, "to": ["gone@example.org"], "bounce": { "message": "mailbox does not exist" } } });
    let applied = post_event(&app, &secret, "b1", 0, &bounce).await;
    let late = post_event(
        &app,
        &secret,
        "d1",
        0,
        &json!({ "type": "email.delivered", "data": { "email_id": provider_id } }),
    )
    .await;
    let suppressed = app.post("/emails/send", &body).await;
    fake.state.lock().unwrap().script = vec![
        (
            500,
            json!({ "statusCode": 500, "name": "internal_server_error", "message": "boom" }),
        ),
        (
            422,
            json!({ "statusCode": 422, "name": "validation_error", "message": "Invalid `from` field" }),
        ),
    ];
    let other = json!({ "from": from, "to": "x@example.org", "subject": "Hi", "text": "x" });
    let down = app.post("/emails/send", &other).await;
    let refused = app.post("/emails/send", &other).await;
    let garbage = post_event(&app, &secret, "g1", 0, &json!({ "nonsense": true })).await;
    let failed = app.get("/emails?status=failed").await;
    let bounced = app
        .get(&format!("/emails/{}", sent.data()["id"].as_str().unwrap()))
        .await;

    assert_eq!(
        added.data()["records"].as_array().unwrap().len(),
        4,
        "no receiving MX, plus DMARC"
    );
    assert_eq!(applied.status, 200);
    assert_eq!(late.status, 200);
    assert_eq!(
        bounced.data()["status"],
        "bounced",
        "a late delivered does not undo a bounce"
    );
    assert_eq!(bounced.data()["error"], "mailbox does not exist");
    assert!(
        suppressed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bounced")
    );
    assert_eq!(down.code(), "UPSTREAM_UNAVAILABLE");
    assert_eq!(refused.code(), "EMAIL_PROVIDER_ERROR");
    assert_eq!(garbage.code(), "VALIDATION_ERROR");
    assert_eq!(failed.data()["emails"].as_array().unwrap().len(), 2);
    assert_eq!(fake.sent().len(), 1, "only the first send reached Resend");
}

#[actix_web::test]
async fn without_a_webhook_secret_provider_events_are_refused() {
    let fake = FakeResend::start().await;
    let app = resend_app(&fake, "").await;
    let (secret, _) = thruai::net::signing::WebhookSecret::generate();

    let r = post_event(
        &app,
        &secret,
        "x",
        0,
        &json!({ "type": "email.sent", "data": { "email_id": "e" } }),
    )
    .await;

    assert_eq!(r.status, 401);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resend_webhook_secret")
    );
}
