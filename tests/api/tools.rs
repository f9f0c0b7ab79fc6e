//! Custom tools: CRUD rules, the SSRF guard at save time, signed test calls against a
//! local sink, timeouts, and delete warnings.

use sea_orm::EntityTrait;
use serde_json::json;
use thruai::{
    http::tools::{ToolOut, ToolTestOut},
    net::signing::{WebhookSecret, verify},
};

use crate::{
    helpers::{TestApp, spawn_app, spawn_with},
    sink::Sink,
};

const SECRET: &str = "whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=";

async fn local_app() -> TestApp {
    spawn_with(|s| s.security.url_allowlist = vec!["127.0.0.1/32".into()]).await
}

#[actix_web::test]
async fn tools_are_created_read_listed_and_updated_without_revealing_the_secret() {
    let app = spawn_app().await;

    let created = app
        .post(
            "/tools",
            &json!({
                "name": "check_order",
                "description": "Look up an order",
                "url": "https://tools.example.com/orders",
                "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] },
                "secret": SECRET,
                "headers": { "X-Api-Key": "abcdefgh12345678", "X-Env": "test" },
                "timeout": 5
            }),
        )
        .await;
    let tool: ToolOut = serde_json::from_value(created.data().clone()).unwrap();
    let fetched = app.get(&format!("/tools/{}", tool.id)).await;
    let listed = app.get("/tools").await;
    let patched = app
        .patch(
            &format!("/tools/{}", tool.id),
            &json!({ "timeout": 30, "description": "Orders" }),
        )
        .await;

    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(tool.id.starts_with("TOOL-"));
    assert!(tool.has_secret);
    assert_eq!(tool.secret_hint.as_deref(), Some("…dHM="));
    assert!(!created.body.to_string().contains(SECRET));
    assert_eq!(tool.headers["X-Api-Key"], "****5678");
    assert_eq!(tool.headers["X-Env"], "test");
    assert_eq!(fetched.data()["id"], tool.id.as_str());
    assert_eq!(listed.data()["tools"][0]["id"], tool.id.as_str());
    assert_eq!(patched.data()["timeout"], 30);
    assert_eq!(patched.data()["description"], "Orders");
}

#[actix_web::test]
async fn tool_rules_are_enforced() {
    let app = spawn_app().await;
    let body = json!({ "name": "lookup", "url": "https://tools.example.com/a" });
    let first = app.post("/tools", &body).await;
    let id = first.data()["id"].as_str().unwrap().to_string();

    let duplicate = app.post("/tools", &body).await;
    let rename = app.patch(&format!("/tools/{id}"), &json!({ "name": "other" })).await;
    let slow = app
        .post(
            "/tools",
            &json!({ "name": "t2", "url": "https://x.example.com", "timeout": 31 }),
        )
        .await;
    let zero = app
        .post(
            "/tools",
            &json!({ "name": "t3", "url": "https://x.example.com", "timeout": 0 }),
        )
        .await;
    let bad_schema = app
        .post(
            "/tools",
            &json!({ "name": "t4", "url": "https://x.example.com", "parameters": { "type": "object", "properties": { "a": { "type": "nonsense" } } } }),
        )
        .await;
    let bad_name = app
        .post(
            "/tools",
            &json!({ "name": "has space", "url": "https://x.example.com" }),
        )
        .await;

    assert_eq!(first.status, 201);
    assert_eq!(
        (duplicate.status.as_u16(), duplicate.code()),
        (409, "RESOURCE_CONFLICT")
    );
    assert_eq!((rename.status.as_u16(), rename.code()), (400, "VALIDATION_ERROR"));
    assert_eq!(rename.body["error"]["details"][0]["field"], "name");
    assert_eq!(slow.code(), "VALIDATION_ERROR");
    assert!(
        slow.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap()
            .contains("between 1 and 30")
    );
    assert_eq!(zero.code(), "VALIDATION_ERROR");
    assert_eq!(bad_schema.code(), "VALIDATION_ERROR");
    assert_eq!(bad_schema.body["error"]["details"][0]["field"], "parameters");
    assert_eq!(bad_name.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn internal_tool_urls_are_refused_without_an_allow_list() {
    let app = spawn_app().await;

    let urls = [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://10.0.0.5/hook",
        "http://100.64.0.1/hook",
        "ftp://example.com/hook",
    ];
    let mut replies = Vec::new();
    for url in urls {
        replies.push((url, app.post("/tools", &json!({ "name": "t", "url": url })).await));
    }

    for (url, reply) in replies {
        assert_eq!(
            (reply.status.as_u16(), reply.code()),
            (400, "VALIDATION_ERROR"),
            "{url}"
        );
        assert_eq!(reply.body["error"]["details"][0]["field"], "url", "{url}");
        let message = reply.body["error"]["details"][0]["message"]
            .as_str()
            .unwrap_or_default();
        if !url.starts_with("ftp") {
            // Says what an operator can do about it, and says "refused" once.
            assert!(message.contains("security.url_allowlist"), "{message}");
            assert_eq!(message.matches("refused").count(), 1, "{message}");
        }
    }
    let tool = app
        .post("/tools", &json!({ "name": "ok", "url": "https://tools.example.com" }))
        .await;
    let patched = app
        .patch(
            &format!("/tools/{}", tool.data()["id"].as_str().unwrap()),
            &json!({ "url": "http://127.0.0.1/x" }),
        )
        .await;
    assert_eq!(patched.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn testing_a_tool_sends_a_signed_request_with_its_headers() {
    let sink = Sink::start().await;
    let app = local_app().await;
    let tool = app
        .post(
            "/tools",
            &json!({
                "name": "check_order",
                "url": format!("{}/ok", sink.base_url),
                "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] },
                "secret": SECRET,
                "headers": { "X-Env": "test" }
            }),
        )
        .await;
    let id = tool.data()["id"].as_str().unwrap().to_string();
    // Header values are often credentials: sealed at rest, opened for the call.
    let stored = thruai_entities::tool::Entity::find_by_id(id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(stored.headers.0["X-Env"].starts_with("v1:"), "{:?}", stored.headers);
    assert_eq!(tool.data()["headers"]["X-Env"], "test");

    let r = app
        .post(
            &format!("/tools/{id}/test"),
            &json!({ "arguments": { "orderId": "42" } }),
        )
        .await;
    let bad_args = app
        .post(&format!("/tools/{id}/test"), &json!({ "arguments": { "orderId": 42 } }))
        .await;

    assert_eq!(r.status, 200, "{:?}", r.body);
    let out: ToolTestOut = serde_json::from_value(r.data().clone()).unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.status_code, Some(200));
    assert_eq!(out.response["orderStatus"], "shipped");
    assert!(out.signed && out.error.is_none());
    let seen = sink.requests();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.header("x-env"), Some("test"));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["arguments"]["orderId"], "42");
    assert_eq!(body["tool"], "check_order");
    verify(
        &[WebhookSecret::parse(SECRET).unwrap()],
        req.header("webhook-id").unwrap(),
        req.header("webhook-timestamp").unwrap(),
        req.header("webhook-signature").unwrap(),
        &req.body,
        chrono::Utc::now().timestamp(),
        300,
    )
    .expect("signature verifies");
    assert_eq!(bad_args.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn a_tool_test_reports_timeouts_redirects_and_errors() {
    let sink = Sink::start().await;
    let app = local_app().await;
    let mut ids = Vec::new();
    for (name, path, timeout) in [("slow", "/slow", 1), ("redirect", "/redirect", 5), ("fail", "/fail", 5)] {
        let r = app
            .post(
                "/tools",
                &json!({ "name": name, "url": format!("{}{path}", sink.base_url), "timeout": timeout }),
            )
            .await;
        ids.push(r.data()["id"].as_str().unwrap().to_string());
    }

    let slow = app.post(&format!("/tools/{}/test", ids[0]), &json!({})).await;
    let redirect = app.post(&format!("/tools/{}/test", ids[1]), &json!({})).await;
    let fail = app.post(&format!("/tools/{}/test", ids[2]), &json!({})).await;

    let slow: ToolTestOut = serde_json::from_value(slow.data().clone()).unwrap();
    assert!(!slow.success && slow.status_code.is_none());
    assert!(slow.error.unwrap().contains("timed out"));
    assert!(
        slow.response_time >= 900 && slow.response_time < 2900,
        "{}",
        slow.response_time
    );
    assert!(!slow.signed);
    let redirect: ToolTestOut = serde_json::from_value(redirect.data().clone()).unwrap();
    assert_eq!((redirect.success, redirect.status_code), (false, Some(302)));
    assert!(redirect.error.unwrap().contains("not followed"));
    let fail: ToolTestOut = serde_json::from_value(fail.data().clone()).unwrap();
    assert_eq!((fail.success, fail.status_code), (false, Some(500)));
    assert_eq!(fail.response, "boom");
}

#[actix_web::test]
async fn deleting_a_tool_warns_about_agents_that_use_it_and_other_orgs_see_404() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let tool = app
        .post(
            "/tools",
            &json!({ "name": "lookup", "url": "https://tools.example.com" }),
        )
        .await;
    let id = tool.data()["id"].as_str().unwrap().to_string();
    let agent = app
        .post("/agents", &json!({ "name": "Ada", "enabledTools": ["lookup"] }))
        .await;

    let foreign_get = other.get(&format!("/tools/{id}")).await;
    let foreign_test = other.post(&format!("/tools/{id}/test"), &json!({})).await;
    let foreign_delete = other.delete(&format!("/tools/{id}")).await;
    let deleted = app.delete(&format!("/tools/{id}")).await;
    let again = app.get(&format!("/tools/{id}")).await;

    assert_eq!(agent.data()["enabledTools"][0], id.as_str());
    for r in [&foreign_get, &foreign_test, &foreign_delete, &again] {
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"));
    }
    assert_eq!(deleted.status, 200);
    let warning = deleted.data()["warnings"][0].as_str().unwrap();
    assert!(warning.contains(agent.data()["id"].as_str().unwrap()));
}
