//! Feedback end to end: create, list, get, respond; validation; other organisations' ids.

use serde_json::json;
use thruai::http::feedback::FeedbackOut;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn feedback_is_created_listed_fetched_and_answered() {
    let app = spawn_app().await;

    let created = app
        .post(
            "/feedback",
            &json!({ "type": "bug", "subject": "Echo", "message": "Agent repeats itself", "rating": 2 }),
        )
        .await;
    let fb: FeedbackOut = serde_json::from_value(created.data().clone()).unwrap();
    let listed = app.get("/feedback?page=1&pageSize=10").await;
    let fetched = app.get(&format!("/feedback/{}", fb.id)).await;
    let patched = app
        .patch(
            &format!("/feedback/{}", fb.id),
            &json!({ "status": "resolved", "response": "Fixed" }),
        )
        .await;

    assert_eq!(created.status, 201);
    created.assert_envelope();
    assert!(fb.id.starts_with("FB-"));
    assert_eq!((fb.kind.as_str(), fb.status.as_str()), ("bug", "open"));
    assert_eq!(listed.data()["feedback"][0]["id"], fb.id.as_str());
    assert_eq!(
        listed.data()["pagination"],
        json!({ "page": 1, "pageSize": 10, "total": 1, "hasMore": false })
    );
    assert_eq!(listed.body["meta"]["pagination"], listed.data()["pagination"]);
    let fetched: FeedbackOut = serde_json::from_value(fetched.data().clone()).unwrap();
    assert_eq!(fetched, fb);
    assert_eq!(patched.status, 200);
    assert_eq!(patched.data()["status"], "resolved");
    assert_eq!(patched.data()["response"], "Fixed");
    assert!(patched.data()["respondedAt"].is_string());
}

#[actix_web::test]
async fn lists_paginate_and_filter() {
    let app = spawn_app().await;
    for i in 0..5 {
        let kind = if i % 2 == 0 { "bug" } else { "question" };
        assert_eq!(
            app.post("/feedback", &json!({ "type": kind, "message": format!("m{i}") }))
                .await
                .status,
            201
        );
    }

    let page2 = app.get("/feedback?page=2&pageSize=2").await;
    let bugs = app.get("/feedback?type=bug").await;
    let bad_size = app.get("/feedback?pageSize=101").await;
    let bad_filter = app.get("/feedback?status=nope").await;

    assert_eq!(page2.data()["feedback"].as_array().unwrap().len(), 2);
    assert_eq!(
        page2.data()["pagination"],
        json!({ "page": 2, "pageSize": 2, "total": 5, "hasMore": true })
    );
    assert_eq!(page2.data()["feedback"][0]["message"], "m2", "newest first");
    assert_eq!(bugs.data()["pagination"]["total"], 3);
    assert_eq!((bad_size.status.as_u16(), bad_size.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(bad_size.body["error"]["details"][0]["field"], "pageSize");
    assert_eq!(bad_filter.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn invalid_feedback_is_refused_field_by_field() {
    let app = spawn_app().await;

    let missing = app.post("/feedback", &json!({})).await;
    let ranges = app
        .post("/feedback", &json!({ "message": "", "rating": 9, "type": "bugg" }))
        .await;
    let wrong_type = app.post("/feedback", &json!({ "message": 42 })).await;
    let typo = app.post("/feedback", &json!({ "mesage": "hi" })).await;
    let empty_patch = app.patch("/feedback/FB-X", &json!({})).await;

    assert_eq!((missing.status.as_u16(), missing.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(missing.body["error"]["details"][0]["field"], "message");
    let fields: Vec<&str> = ranges.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["type", "message", "rating"]);
    assert_eq!(ranges.body["error"]["details"][0]["suggestion"], "bug");
    assert_eq!(wrong_type.body["error"]["details"][0]["field"], "message");
    assert_eq!(typo.body["error"]["details"][0]["suggestion"], "message");
    assert_eq!(empty_patch.code(), "VALIDATION_ERROR");
    assert_eq!(
        app.get("/feedback").await.data()["pagination"]["total"],
        0,
        "nothing half-written"
    );
}

#[actix_web::test]
async fn another_organisations_feedback_is_not_found() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let id = app.post("/feedback", &json!({ "message": "mine" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let get = other.get(&format!("/feedback/{id}")).await;
    let patch = other
        .patch(&format!("/feedback/{id}"), &json!({ "status": "closed" }))
        .await;
    let list = other.get("/feedback").await;

    assert_eq!((get.status.as_u16(), get.code()), (404, "NOT_FOUND"));
    assert!(get.body["error"]["message"].as_str().unwrap().contains(&id));
    assert_eq!(patch.status, 404);
    assert_eq!(list.data()["pagination"]["total"], 0);
    assert_eq!(
        app.get(&format!("/feedback/{id}")).await.data()["status"],
        "open",
        "unchanged"
    );
}
