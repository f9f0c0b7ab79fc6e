//! What an attacker tries first: the sandbox outbox through a proxy, metrics cardinality.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{BASE, TestApp, spawn_bare};

async fn outbox(app: &TestApp, headers: &[(&str, &str)]) -> u16 {
    let mut rb = app.client.get(app.url("/_debug/sandbox/outbox?to=ada@example.com"));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    rb.send().await.unwrap().status().as_u16()
}

/// Behind a reverse proxy on the same host every request comes from loopback: a forwarded
/// request is not local, trusted proxy or not, and without the development setting the
/// outbox is not there at all.
#[actix_web::test]
async fn the_sandbox_outbox_is_closed_to_forwarded_requests_and_off_unless_allowed() {
    let app = spawn_bare(|s| s.server.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    app.post(
        "/accounts/provision",
        &json!({ "email": "ada@example.com", "orgName": "Ada Voice Lab" }),
    )
    .await;
    assert_eq!(outbox(&app, &[]).await, 200);
    assert_eq!(outbox(&app, &[("x-forwarded-for", "203.0.113.9")]).await, 404);
    assert_eq!(outbox(&app, &[("x-forwarded-for", "127.0.0.1")]).await, 404);
    assert_eq!(outbox(&app, &[("forwarded", "for=203.0.113.9")]).await, 404);
    let untrusted = spawn_bare(|_| {}).await;
    assert_eq!(outbox(&untrusted, &[("x-forwarded-for", "203.0.113.9")]).await, 404);
    let off = spawn_bare(|s| s.email.sandbox_outbox = false).await;
    assert_eq!(outbox(&off, &[]).await, 404);
}

/// Made-up methods and paths, with or without a key, add no series to `/metrics`: every
/// label comes from a closed set.
#[actix_web::test]
async fn a_flood_of_unknown_methods_and_paths_adds_no_metrics_series() {
    let app = crate::helpers::spawn_app().await;
    // Other tests of this binary feed the same process-wide registry: count the series an
    // unknown method can land in.
    let series = |text: &str| text.lines().filter(|l| l.contains("method=\"other\"")).count();
    let scrape = async || {
        app.client
            .get(format!("{}/metrics", app.address))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let flood = async |round: usize| {
        for i in 0..50 {
            let method = reqwest::Method::from_bytes(format!("FOO{round}X{i}").as_bytes()).unwrap();
            let _ = app
                .client
                .request(method, app.url(&format!("/agents/AGT-{round}-{i}")))
                .bearer_auth(&app.api_key)
                .send()
                .await;
            let _ = app
                .client
                .get(format!("{}/nowhere/{round}/{i}", app.address))
                .send()
                .await;
        }
    };
    flood(0).await;
    let before = series(&scrape().await);
    assert!(before > 0, "the flood is counted, under method=\"other\"");
    flood(1).await;
    flood(2).await;
    let text = scrape().await;
    assert_eq!(series(&text), before, "{text}");
    assert!(!text.contains("FOO1X"));
    assert!(!text.contains("/nowhere/"));
}

/// PostgreSQL refuses NUL in text, and no field needs a control character other than tab
/// and line breaks: a body, a query or a path carrying one is refused before it reaches
/// the database, naming where it was.
#[actix_web::test]
async fn control_characters_are_refused_naming_the_field() {
    let app = crate::helpers::spawn_app().await;
    let agent = app
        .post(
            "/agents",
            &json!({ "name": "Desk", "systemPrompt": "Line one.\n\tLine two.\r\n" }),
        )
        .await;
    assert_eq!(agent.status, 201, "tab and line breaks are text: {:?}", agent.body);
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();

    let cases = [
        (
            "/agents",
            json!({ "name": "Desk\u{0}", "systemPrompt": "Hello." }),
            "name",
        ),
        (
            "/feedback",
            json!({ "type": "general", "message": "Hi\u{0}there" }),
            "message",
        ),
        (
            "/tools",
            json!({ "name": "lookup", "description": "Finds\u{1b}[31m", "url": "https://example.com/t",
                    "headers": { "X-Key": "a\u{0}b" } }),
            "description",
        ),
        (
            "/webhooks",
            json!({ "url": "https://example.com/h", "events": ["call.ended"], "description": "x\u{7f}" }),
            "description",
        ),
        (
            "/campaigns",
            json!({ "name": "Spring\u{0}", "agentId": agent_id }),
            "name",
        ),
        (
            "/agents",
            json!({ "name": "Desk", "systemPrompt": "Hello.", "variables": { "who\u{0}": "x" } }),
            "variables",
        ),
    ];
    for (path, body, field) in cases {
        let r = app.post(path, &body).await;
        assert_eq!(r.status, 400, "{path}: {:?}", r.body);
        assert_eq!(r.code(), "VALIDATION_ERROR", "{path}: {:?}", r.body);
        let fields = r.body["error"]["details"].to_string();
        assert!(fields.contains(field), "{path} names {field}: {fields}");
    }
    let patched = app
        .patch(&format!("/agents/{agent_id}"), &json!({ "firstMessage": "Hi\u{0}" }))
        .await;
    assert_eq!(patched.status, 400, "{:?}", patched.body);

    let query = app.get("/calls?status=%00").await;
    assert_eq!(
        (query.status.as_u16(), query.code()),
        (400, "VALIDATION_ERROR"),
        "{:?}",
        query.body
    );
    assert!(query.body["error"]["details"].to_string().contains("status"));
    let path = app.get("/agents/AGT-%00").await;
    assert_eq!(path.status, 400, "{:?}", path.body);
    assert_eq!(path.code(), "VALIDATION_ERROR");

    // Nothing was half-written.
    assert_eq!(
        app.get("/agents").await.data()["agents"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(
        app.get("/tools").await.data()["tools"].as_array().map(Vec::len),
        Some(0)
    );
}

/// A request whose body stalls after its head.
async fn stalled(app: &TestApp, path: &str, key: Option<&str>) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Content-Length: 100\r\n\r\n{{\"email\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// What the server said on a stalled connection before closing it, within `within`.
async fn answer_then_close(mut stream: tokio::net::TcpStream, within: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut out))
        .await
        .ok()?
        .ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Stalled bodies, unauthenticated or not, are answered 408 and closed at the body
/// deadline while the server keeps answering others; a client holding more requests in
/// flight than its share is refused at once.
#[actix_web::test]
async fn stalled_bodies_are_timed_out_and_a_client_holds_only_its_share() {
    let app = crate::helpers::spawn_with(|s| {
        s.server.body_timeout_ms = 600;
        s.server.client_request_timeout_ms = 600;
        s.server.max_requests_per_client = 6;
    })
    .await;
    let started = Instant::now();
    // A head that never ends is closed too (it holds no request, so no share).
    let mut slow_head = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow_head, b"POST /api/v1/public/agents HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(stalled(&app, &format!("{BASE}/accounts/verify"), None).await);
        held.push(stalled(&app, "/twilio/sms", None).await);
        held.push(stalled(&app, &format!("{BASE}/agents"), Some(&app.api_key)).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Six in flight from this address: a seventh is refused at once, whatever it is.
    let refused = app.get("/agents").await;
    assert_eq!(
        (refused.status.as_u16(), refused.code()),
        (429, "RATE_LIMITED"),
        "{:?}",
        refused.body
    );

    let answers =
        futures_util::future::join_all(held.into_iter().map(|s| answer_then_close(s, Duration::from_secs(5)))).await;
    let elapsed = started.elapsed();
    assert!(
        answer_then_close(slow_head, Duration::from_secs(3)).await.is_some(),
        "a stalled head is closed"
    );
    for answer in &answers {
        let answer = answer.as_deref().expect("closed by the server within 5 s");
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    }
    let api_answers = answers.iter().flatten().filter(|a| !a.contains("/twilio")).count();
    assert!(api_answers >= 4);
    assert!(
        answers
            .iter()
            .flatten()
            .filter(|a| a.contains("REQUEST_TIMEOUT"))
            .count()
            >= 4,
        "{answers:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    // Their share released, the same client is served again.
    assert_eq!(app.get("/agents").await.status, 200);
}

/// Errors raised below the API's handlers (actix-web's own extractors) come back in the
/// envelope too, their status kept.
#[actix_web::test]
async fn errors_below_the_handlers_are_enveloped() {
    let app = crate::helpers::spawn_app().await;
    let huge = "x".repeat(3 << 20);
    for path in ["/mcp", "/twilio/voice"] {
        let r = app
            .send(
                app.client
                    .post(format!("{}{path}", app.address))
                    .bearer_auth(&app.api_key)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(huge.clone()),
            )
            .await;
        assert_eq!(r.status, 413, "{path}: {}", String::from_utf8_lossy(&r.bytes));
        assert_eq!(r.code(), "PAYLOAD_TOO_LARGE", "{path}");
        r.assert_envelope();
    }
}
