//! The Resend client against a local fake that speaks Resend's wire format, and
//! provisioning end to end through it.

use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use thruai::providers::email::{EmailError, OutgoingEmail};

use crate::helpers::{spawn_bare, test_settings, unique};

#[derive(Default)]
struct FakeState {
    received: Vec<(Option<String>, Value)>,
    /// The next answers to give, as (status, body); empty: 200 with an id.
    script: Vec<(u16, Value)>,
}

struct FakeResend {
    base_url: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeResend {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route(
                "/emails",
                web::post().to(|req: HttpRequest, body: web::Json<Value>, state: web::Data<Mutex<FakeState>>| async move {
                    if req.headers().get("authorization").and_then(|h| h.to_str().ok()) != Some("Bearer re_test_key") {
                        return HttpResponse::Unauthorized()
                            .json(json!({ "statusCode": 401, "name": "invalid_api_key", "message": "API key is invalid" }));
                    }
                    let mut state = state.lock().unwrap();
                    let idem = req.headers().get("idempotency-key").and_then(|h| h.to_str().ok()).map(String::from);
                    if !state.script.is_empty() {
                        let (status, body) = state.script.remove(0);
                        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body);
                    }
                    state.received.push((idem, body.into_inner()));
                    HttpResponse::Ok().json(json!({ "id": uuid::Uuid::new_v4().to_string() }))
                }),
            )
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }
}

fn resend_settings(base: &str, key: &str) -> thruai::config::Settings {
    let mut s = test_settings();
    s.email.provider = "resend".into();
    s.email.resend_api_key = key.into();
    s.email.resend_base_url = base.into();
    s
}

async fn sender(base: &str, key: &str) -> Arc<dyn thruai::providers::email::EmailSender> {
    let db = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    thruai::providers::email::from_settings(&resend_settings(base, key), db).unwrap()
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
    let received = fake.state.lock().unwrap().received.clone();
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
    let sent = fake.state.lock().unwrap().received.clone();
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
