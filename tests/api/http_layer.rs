//! The envelope, headers and errors on every answer: unknown routes, wrong methods,
//! malformed JSON, oversized bodies, content types, request and trace ids.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_with};

#[actix_web::test]
async fn health_reports_the_database_and_echoes_request_ids() {
    let app = spawn_app().await;

    let r = app
        .send(
            app.client
                .get(app.url("/health"))
                .header("X-Request-Id", "req-42")
                .header("X-Trace-Id", "trace-7")
                .header("X-Parent-Id", "p-1"),
        )
        .await;

    assert_eq!(r.status, 200);
    r.assert_envelope();
    assert_eq!(r.data()["database"]["status"], "up");
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    assert_eq!(r.header("x-trace-id"), Some("trace-7"));
    assert_eq!(r.body["meta"]["requestId"], "req-42");
    assert_eq!(r.body["meta"]["traceId"], "trace-7");
    let plain = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(
        plain.body["meta"]["traceId"], plain.body["meta"]["requestId"],
        "trace id defaults to the request id"
    );
}

#[actix_web::test]
async fn unknown_paths_and_wrong_methods_answer_in_the_envelope() {
    let app = spawn_app().await;

    let unknown = app.send(app.client.get(format!("{}/nowhere", app.address))).await;
    let unknown_api = app.get("/agents-typo/123").await;
    let wrong_method = app.send(app.req(Method::PUT, "/feedback")).await;

    assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "NOT_FOUND"));
    unknown.assert_envelope();
    assert!(
        unknown.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /nowhere")
    );
    assert_eq!(unknown_api.status, 404);
    assert_eq!(
        (wrong_method.status.as_u16(), wrong_method.code()),
        (405, "METHOD_NOT_ALLOWED")
    );
    assert_eq!(wrong_method.header("allow"), Some("POST, GET"));
}

#[actix_web::test]
async fn malformed_json_and_wrong_content_types_are_validation_errors() {
    let app = spawn_app().await;

    let malformed = app
        .send(
            app.req(Method::POST, "/feedback")
                .header("content-type", "application/json")
                .body("{\"message\":"),
        )
        .await;
    let not_object = app
        .send(app.req(Method::POST, "/feedback").json(&json!(["message"])))
        .await;
    let form = app
        .send(
            app.req(Method::POST, "/feedback")
                .header("content-type", "text/plain")
                .body("message=hi"),
        )
        .await;

    assert_eq!((malformed.status.as_u16(), malformed.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(malformed.body["error"]["details"][0]["field"], "body");
    assert_eq!(not_object.code(), "VALIDATION_ERROR");
    assert_eq!(form.body["error"]["details"][0]["field"], "Content-Type");
}

#[actix_web::test]
async fn oversized_bodies_get_413_in_the_envelope_and_nothing_is_stored() {
    let app = spawn_with(|s| s.server.max_body_bytes = 4096).await;
    let huge = json!({ "message": "x".repeat(10_000) });

    let declared = app.post("/feedback", &huge).await;
    let keyed = app
        .send(
            app.req(Method::POST, "/feedback")
                .header("Idempotency-Key", "big")
                .json(&huge),
        )
        .await;

    assert_eq!((declared.status.as_u16(), declared.code()), (413, "PAYLOAD_TOO_LARGE"));
    declared.assert_envelope();
    assert_eq!(keyed.status, 413);
    assert_eq!(app.get("/feedback").await.data()["pagination"]["total"], 0);
}

#[actix_web::test]
async fn get_and_delete_ignore_a_content_type() {
    let app = spawn_app().await;

    let r = app
        .send(
            app.req(Method::GET, "/feedback")
                .header("content-type", "application/json"),
        )
        .await;

    assert_eq!(r.status, 200);
}

#[actix_web::test]
async fn server_errors_reveal_nothing_internal() {
    let app = spawn_app().await;
    // Break the database under the app: every query now fails.
    sea_orm::ConnectionTrait::execute_unprepared(&app.state.db, "DROP TABLE feedback")
        .await
        .unwrap();

    let r = app.get("/feedback").await;

    assert_eq!((r.status.as_u16(), r.code()), (500, "DATABASE_ERROR"));
    r.assert_envelope();
    assert_eq!(r.body["error"]["message"], "Database error");
    assert!(r.body["error"].get("details").is_none());
    assert!(!String::from_utf8_lossy(&r.bytes).to_lowercase().contains("feedback"));
}
