//! Knowledge end to end: crawls of a local site (robots.txt, sitemap, redirects, a private
//! redirect, duplicates, binaries, a slow page, a re-crawl after changes), documents added
//! directly, hybrid search, the chunks, validation and scoping.

use std::time::Duration;

use serde_json::{Value, json};
use thruai::config::Settings;

use crate::{
    fake_site::{FakeSite, Page},
    helpers::{TestApp, spawn_with},
};

/// Loopback allowed, no politeness delay, short page timeout, a fast worker.
pub fn crawler(s: &mut Settings) {
    s.security.url_allowlist = vec!["127.0.0.1/32".into()];
    s.knowledge.fetch_delay_ms = 0;
    s.knowledge.page_timeout_ms = 500;
    s.knowledge.poll_ms = 50;
}

/// Waits for the crawl to end; returns it with its log.
pub async fn finished(app: &TestApp, id: &str) -> Value {
    for _ in 0..600 {
        let r = app.get(&format!("/knowledge/crawls/{id}")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        if !matches!(r.data()["status"].as_str(), Some("queued" | "running")) {
            return r.data().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("crawl {id} never ended");
}

fn outcome<'a>(crawl: &'a Value, path: &str) -> Vec<&'a Value> {
    crawl["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"].as_str().unwrap().ends_with(path))
        .collect()
}

fn site(fake: &FakeSite) {
    let b = &fake.base;
    fake.set(
        "/robots.txt",
        Page::Body(
            "text/plain",
            format!("User-agent: *\nDisallow: /help/private\nCrawl-delay: 0\nSitemap: {b}/sitemap.xml\n"),
        ),
    );
    fake.set(
        "/sitemap.xml",
        Page::Body(
            "application/xml",
            format!("<?xml version=\"1.0\"?><urlset><url><loc>{b}/help/orphan</loc></url></urlset>"),
        ),
    );
    fake.html(
        "/help/",
        "Help centre",
        "Welcome to the Larkspur help centre.",
        &[
            "/help/billing",
            "/help/refunds",
            "/help/copy",
            "/help/private/secret",
            "/help/old",
            "/help/evil",
            "/help/manual.pdf",
            "/help/download",
            "/help/slow",
            "/help/notes.md",
            "/help/hidden",
            "/blog/news",
        ],
    );
    fake.html(
        "/help/billing",
        "Billing dates",
        "Your bill is issued on the third working day of each month and is payable within fourteen days.",
        &[],
    );
    fake.html(
        "/help/refunds",
        "Refunds",
        "Credit left on a closed account is returned to your bank card within five working days.",
        &[],
    );
    // The same page under another address.
    fake.html(
        "/help/copy",
        "Refunds",
        "Credit left on a closed account is returned to your bank card within five working days.",
        &[],
    );
    fake.html("/help/private/secret", "Secret", "Staff only.", &[]);
    fake.set("/help/old", Page::Redirect("/help/refunds-policy".into()));
    fake.html(
        "/help/refunds-policy",
        "Refund policy",
        "Refund requests are answered by the accounts team within two days.",
        &[],
    );
    fake.set("/help/evil", Page::Redirect("http://10.9.9.9/help/x".into()));
    fake.set(
        "/help/download",
        Page::Body("application/octet-stream", "\u{0}\u{1}binary".into()),
    );
    fake.set(
        "/help/slow",
        Page::Slow(Duration::from_secs(3), "<html><body>late</body></html>".into()),
    );
    fake.set(
        "/help/notes.md",
        Page::Body(
            "text/markdown",
            "# Engineer visits\n\nEngineers arrive between 8am and 6pm; you get a text an hour before.".into(),
        ),
    );
    fake.set(
        "/help/hidden",
        Page::Body(
            "text/html",
            "<html><head><meta name=\"robots\" content=\"noindex\"></head><body>Hidden page</body></html>".into(),
        ),
    );
    fake.html(
        "/help/orphan",
        "Smart meters",
        "Smart meters send readings every half hour.",
        &[],
    );
}

async fn search(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app
        .post("/knowledge/query", &json!({ "query": query, "topK": 3 }))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.data()["results"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn a_crawl_obeys_robots_uses_the_sitemap_and_refreshes_only_what_changed() {
    let fake = FakeSite::start().await;
    site(&fake);
    let app = spawn_with(crawler).await;
    let r = app
        .post(
            "/knowledge/crawl",
            &json!({ "url": format!("{}/help/", fake.base), "maxPages": 50 }),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert!(r.data()["id"].as_str().unwrap().starts_with("KCR-"));
    assert!(matches!(r.data()["status"].as_str(), Some("queued" | "running")));
    let id = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(r.data()["statusUrl"], format!("/api/v1/public/knowledge/crawls/{id}"));

    let crawl = finished(&app, &id).await;
    assert_eq!(crawl["status"], "completed", "{crawl:#}");
    // index, billing, refunds, refunds-policy (via the redirect), notes.md, orphan (sitemap)
    assert_eq!(crawl["pagesFetched"], 6, "{crawl:#}");
    assert_eq!(crawl["pagesSkipped"], 1, "robots.txt: {crawl:#}");
    assert_eq!(outcome(&crawl, "/help/private/secret")[0]["outcome"], "skipped");
    assert_eq!(outcome(&crawl, "/help/copy")[0]["outcome"], "duplicate");
    let evil = outcome(&crawl, "/help/evil")[0];
    assert_eq!(evil["outcome"], "failed");
    assert!(evil["reason"].as_str().unwrap().contains("refused"), "{evil}");
    assert!(
        outcome(&crawl, "/help/slow")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
    assert!(
        outcome(&crawl, "/help/download")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not a text page")
    );
    assert!(
        outcome(&crawl, "/help/hidden")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("noindex")
    );
    assert_eq!(outcome(&crawl, "/help/orphan")[0]["outcome"], "indexed");
    assert_eq!(outcome(&crawl, "/help/refunds-policy")[0]["outcome"], "indexed");
    assert_eq!(
        crawl["pagesFailed"], 2,
        "the private redirect and the slow page: {crawl:#}"
    );
    // Never asked for: robots-disallowed, binary by name, other sections of the site.
    for path in ["/help/private/secret", "/help/manual.pdf", "/blog/news"] {
        assert_eq!(fake.requests_to(path), 0, "{path} was requested");
    }
    let agents: Vec<String> = fake
        .site
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, ua, _)| ua.clone())
        .collect();
    assert!(
        agents.iter().all(|ua| ua.starts_with("ThruAI-KnowledgeBot/")),
        "{agents:?}"
    );

    // Chunks carry their source; the chrome is gone.
    let chunks = app.get(&format!("/knowledge/chunks?crawlId={id}&pageSize=100")).await;
    assert_eq!(chunks.status, 200);
    let list = chunks.data()["chunks"].as_array().unwrap();
    assert!(list.len() >= 6);
    let all: String = list.iter().map(|c| c["text"].as_str().unwrap()).collect();
    for gone in ["Footer text", "track()", "Menu", "Staff only", "Hidden page"] {
        assert!(!all.contains(gone), "{gone} was indexed");
    }
    let billing = list
        .iter()
        .find(|c| c["source"]["title"] == "Billing dates")
        .expect("billing chunk");
    assert_eq!(billing["source"]["url"], format!("{}/help/billing", fake.base));
    assert_eq!(billing["headingPath"], "Billing dates");

    let hits = search(&app, "when do I have to pay my bill").await;
    assert_eq!(hits[0]["source"]["title"], "Billing dates", "{hits:#?}");
    assert!(hits[0]["similarity"].as_f64().unwrap() > 0.0);

    // The site changes: one page edited, one gone; the rest answer 304 to their ETag.
    fake.html(
        "/help/billing",
        "Billing dates",
        "From March, bills are issued on the tenth of each month and collected by direct debit.",
        &[],
    );
    fake.remove("/help/notes.md");
    let r = app
        .post(
            "/knowledge/crawl",
            &json!({ "url": format!("{}/help/", fake.base), "maxPages": 50 }),
        )
        .await;
    let again = finished(&app, r.data()["id"].as_str().unwrap()).await;
    assert_eq!(again["status"], "completed", "{again:#}");
    assert_eq!(again["pagesFetched"], 1, "only the edited page: {again:#}");
    assert_eq!(
        again["pagesUnchanged"], 4,
        "index, refunds, refunds-policy, orphan: {again:#}"
    );
    assert_eq!(again["pagesRemoved"], 1, "{again:#}");
    assert_eq!(outcome(&again, "/help/orphan")[0]["status"], 304);
    let hits = search(&app, "engineer arrival time text message").await;
    assert!(
        hits.iter().all(|h| h["source"]["title"] != "Engineer visits"),
        "{hits:#?}"
    );
    let hits = search(&app, "which day of the month is the bill issued").await;
    assert!(hits[0]["text"].as_str().unwrap().contains("tenth"), "{hits:#?}");
}

#[actix_web::test]
async fn documents_are_chunked_embedded_searched_listed_and_deleted() {
    let app = spawn_with(crawler).await;
    let agent = app
        .post("/agents", &json!({ "name": "Sam", "systemPrompt": "You help." }))
        .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let long = "Engineers carry identification and will show it at the door. ".repeat(40);
    let doc = app
        .post(
            "/knowledge/documents",
            &json!({
                "text": format!("# Engineer visits\n\n## Arrival\n\nEngineers arrive between 8am and 6pm.\n\n## Identity\n\n{long}"),
                "agentId": agent_id,
            }),
        )
        .await;
    assert_eq!(doc.status, 201, "{:?}", doc.body);
    assert_eq!(doc.data()["title"], "Engineer visits");
    assert!(doc.data()["chunks"].as_i64().unwrap() >= 2);
    let doc_id = doc.data()["id"].as_str().unwrap().to_string();
    let plain = app
        .post(
            "/knowledge/documents",
            &json!({ "title": "Opening hours", "text": "# Lines open\nWe answer the phone from 9am to 5pm, Monday to Friday.", "format": "text" }),
        )
        .await;
    assert_eq!(plain.status, 201, "{:?}", plain.body);

    let r = app
        .post(
            "/knowledge/query",
            &json!({ "query": "what time do engineers arrive at the door", "agentId": agent_id }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let results = r.data()["results"].as_array().unwrap();
    assert_eq!(results[0]["source"]["title"], "Engineer visits", "{results:#?}");
    assert!(results[0]["text"].as_str().unwrap().contains("8am"));
    assert_eq!(results[0]["rank"], 1);
    assert!(
        r.data()["model"]
            .as_str()
            .unwrap()
            .starts_with("minishlab/potion-base-8M")
    );
    for w in results.windows(2) {
        assert!(w[0]["score"].as_f64() >= w[1]["score"].as_f64());
    }
    // A threshold above every similarity leaves nothing.
    let r = app
        .post(
            "/knowledge/query",
            &json!({ "query": "technician", "minSimilarity": 0.99 }),
        )
        .await;
    assert_eq!(r.data()["results"], json!([]));

    let by_agent = app.get(&format!("/knowledge/chunks?agentId={agent_id}")).await;
    assert_eq!(
        by_agent.data()["pagination"]["total"].as_i64(),
        doc.data()["chunks"].as_i64()
    );
    let chunk = &by_agent.data()["chunks"][1];
    assert_eq!(chunk["headingPath"], "Engineer visits > Identity");
    assert_eq!(app.get("/knowledge/documents").await.data()["pagination"]["total"], 2);

    // Another organisation sees nothing of it.
    let other = app.other_org().await;
    assert_eq!(other.get("/knowledge/chunks").await.data()["chunks"], json!([]));
    assert_eq!(
        other
            .post("/knowledge/query", &json!({ "query": "technician" }))
            .await
            .data()["results"],
        json!([])
    );
    let r = other
        .post("/knowledge/query", &json!({ "query": "x", "agentId": agent_id }))
        .await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(
        other.delete(&format!("/knowledge/documents/{doc_id}")).await.status,
        404
    );

    let gone = app.delete(&format!("/knowledge/documents/{doc_id}")).await;
    assert_eq!(gone.status, 200, "{:?}", gone.body);
    assert!(gone.data()["message"].as_str().unwrap().contains("deleted"));
    assert_eq!(
        app.get(&format!("/knowledge/chunks?agentId={agent_id}")).await.data()["chunks"],
        json!([])
    );
    let r = app.post("/knowledge/query", &json!({ "query": "technician" })).await;
    assert!(
        r.data()["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["source"]["title"] != "Engineer visits")
    );
}

#[actix_web::test]
async fn bad_requests_are_refused_and_nothing_is_written() {
    let app = spawn_with(crawler).await;
    let other = app.other_org().await;
    let their_agent = other
        .post("/agents", &json!({ "name": "Theirs", "systemPrompt": "x" }))
        .await;
    let their_agent = their_agent.data()["id"].as_str().unwrap();
    for (body, status) in [
        (json!({ "url": "http://127.0.0.2:9/" }), 400),
        (json!({ "url": "http://localhost:9/" }), 400),
        (json!({ "url": "http://10.0.0.7/docs" }), 400),
        (json!({ "url": "http://169.254.169.254/latest/meta-data" }), 400),
        (json!({ "url": "ftp://example.com/" }), 400),
        (json!({ "url": "not a url" }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "maxPages": 0 }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "maxPages": 100000 }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "maxDepth": 99 }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "includePaths": ["docs"] }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "maxPages": "ten" }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "depth": 2 }), 400),
        (json!({ "url": "http://127.0.0.1:9/", "agentId": their_agent }), 404),
    ] {
        let r = app.post("/knowledge/crawl", &body).await;
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert_eq!(r.code(), if status == 400 { "VALIDATION_ERROR" } else { "NOT_FOUND" });
    }
    assert_eq!(app.get("/knowledge/crawls").await.data()["crawls"], json!([]));
    for body in [
        json!({ "query": "" }),
        json!({ "query": "   " }),
        json!({ "query": "x", "topK": 0 }),
        json!({ "query": "x", "topK": 500 }),
        json!({ "query": "x", "minSimilarity": 1.5 }),
        json!({ "query": "x", "mode": "fuzzy" }),
        json!({ "query": "x".repeat(3000) }),
        json!({ "q": "x" }),
    ] {
        let r = app.post("/knowledge/query", &body).await;
        assert_eq!(r.status, 400, "{body}: {:?}", r.body);
    }
    for body in [
        json!({ "text": "" }),
        json!({ "text": "x", "format": "pdf" }),
        json!({ "text": "x".repeat(1_100_000) }),
        json!({ "text": "x", "url": "http://192.168.1.1/x" }),
        json!({ "text": 5 }),
    ] {
        let r = app.post("/knowledge/documents", &body).await;
        assert!(matches!(r.status.as_u16(), 400 | 413), "{:?}", r.body);
    }
    assert_eq!(app.get("/knowledge/documents").await.data()["documents"], json!([]));
    assert_eq!(app.get("/knowledge/crawls/KCR-NOPE").await.status, 404);
    let r = app.get("/knowledge/crawls?status=done").await;
    assert_eq!(r.status, 400);
}

#[actix_web::test]
async fn a_site_whose_robots_txt_fails_is_not_crawled_and_a_crawl_past_its_time_limit_ends_partial() {
    let broken = FakeSite::start().await;
    broken.set("/robots.txt", Page::Status(503));
    broken.html("/", "Home", "Hello", &[]);
    let slow = FakeSite::start().await;
    slow.html("/", "Home", "Start", &["/a", "/b", "/c"]);
    for p in ["/a", "/b", "/c"] {
        slow.set(
            p,
            Page::Slow(
                Duration::from_millis(400),
                format!("<html><body><p>page {p}</p></body></html>"),
            ),
        );
    }
    let app = spawn_with(|s| {
        crawler(s);
        s.knowledge.crawl_timeout_secs = 1;
    })
    .await;
    let r = app
        .post("/knowledge/crawl", &json!({ "url": format!("{}/", broken.base) }))
        .await;
    let crawl = finished(&app, r.data()["id"].as_str().unwrap()).await;
    assert_eq!(crawl["status"], "failed", "{crawl:#}");
    assert!(crawl["error"].as_str().unwrap().contains("robots.txt"));
    assert_eq!(broken.requests_to("/"), 0);

    let r = app
        .post("/knowledge/crawl", &json!({ "url": format!("{}/", slow.base) }))
        .await;
    let crawl = finished(&app, r.data()["id"].as_str().unwrap()).await;
    assert_eq!(crawl["status"], "partial", "{crawl:#}");
    assert!(crawl["error"].as_str().unwrap().contains("time limit"));
    assert!(crawl["pagesFetched"].as_i64().unwrap() >= 1);
}

#[actix_web::test]
async fn a_crawl_interrupted_by_a_restart_is_resumed_by_the_next_process() {
    use crate::helpers::{backends, boot, test_settings, unique};

    let fake = FakeSite::start().await;
    let pages: Vec<String> = (1..=8).map(|i| format!("/p{i}")).collect();
    let links: Vec<&str> = pages.iter().map(String::as_str).collect();
    fake.html("/", "Home", "The start page of the site.", &links);
    for (i, p) in pages.iter().enumerate() {
        fake.set(
            p,
            Page::Slow(
                Duration::from_millis(150),
                format!("<html><head><title>Page {i}</title></head><body><p>Topic number {i} is explained here.</p></body></html>"),
            ),
        );
    }
    let mut settings = test_settings();
    crawler(&mut settings);
    settings.knowledge.stale_after_ms = 1_000;
    if backends().0.is_none() {
        let path = std::env::temp_dir().join(format!("{}.db", unique("thruai-knowledge-")));
        settings.database.url = format!("sqlite://{}?mode=rwc", path.display());
    }
    let (mut first, handle) = boot(settings.clone(), String::new()).await;
    first.api_key = first.signup().await.0;
    let r = first
        .post("/knowledge/crawl", &json!({ "url": format!("{}/", fake.base) }))
        .await;
    let id = r.data()["id"].as_str().unwrap().to_string();
    for _ in 0..200 {
        if first.get(&format!("/knowledge/crawls/{id}")).await.data()["pagesFetched"].as_i64() >= Some(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.stop(false).await;
    first.state.knowledge.shutdown();
    let row = thruai::store::knowledge::crawl_by_id(&first.state.db, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "running", "stopped mid-crawl");
    assert!(row.pages_fetched < 9, "stopped mid-crawl: {row:?}");

    let (second, handle) = boot(settings, first.api_key.clone()).await;
    let crawl = finished(&second, &id).await;
    assert_eq!(crawl["status"], "completed", "{crawl:#}");
    let log = crawl["log"].as_array().unwrap();
    assert!(log.iter().any(|e| e["outcome"] == "resumed"), "{crawl:#}");
    // Pages indexed before the stop come back unchanged; all nine are there once.
    assert_eq!(
        crawl["pagesFetched"].as_i64().unwrap() + crawl["pagesUnchanged"].as_i64().unwrap(),
        9,
        "{crawl:#}"
    );
    let docs = second.get("/knowledge/documents").await;
    assert_eq!(docs.data()["pagination"]["total"], 9);
    handle.stop(false).await;
    second.state.knowledge.shutdown();
}

#[actix_web::test]
async fn the_openai_embeddings_client_speaks_the_wire_format_and_reports_failures() {
    use thruai::providers::embeddings::{Embedder, OpenAiEmbedder};

    use crate::fake_ai::{FakeAi, Fault, KEY};

    let fake = FakeAi::start().await;
    let base = format!("{}/openai/v1", fake.base);
    let client = |key: &str| {
        OpenAiEmbedder::new(
            &base,
            key,
            "text-embedding-3-small",
            Some(8),
            Duration::from_millis(500),
        )
    };
    let e = client(KEY);
    assert_eq!(e.identity(), "openai:text-embedding-3-small/8");
    let v = e.embed(&["alpha beta".into(), "zeta".into()]).await.unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].len(), 8);
    assert!(
        (v[0].iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5,
        "unit vectors"
    );
    assert!(
        v[1][usize::from(b'z') % 8] > 0.99,
        "in the order asked, not the answer's order"
    );
    let seen = fake.seen("/embeddings");
    assert_eq!(seen[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(
        seen[0].body,
        json!({ "model": "text-embedding-3-small", "input": ["alpha beta", "zeta"], "dimensions": 8, "encoding_format": "float" })
    );
    let err = client("wrong").embed(&["x".into()]).await.unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("Incorrect API key"), "{err}");

    let garbage = FakeAi::start().await;
    garbage.fail("openai", Fault::Garbage);
    let g = OpenAiEmbedder::new(
        &format!("{}/openai/v1", garbage.base),
        KEY,
        "m",
        None,
        Duration::from_millis(500),
    );
    assert!(g.embed(&["x".into()]).await.is_err());
    let slow = FakeAi::start().await;
    slow.fail("openai", Fault::Slow(3_000));
    let s = OpenAiEmbedder::new(
        &format!("{}/openai/v1", slow.base),
        KEY,
        "m",
        None,
        Duration::from_millis(300),
    );
    let err = s.embed(&["x".into()]).await.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
}

#[actix_web::test]
async fn changing_the_embedding_model_re_embeds_every_chunk() {
    use std::sync::Arc;

    use thruai::{app::knowledge::Knowledge, providers::embeddings::OpenAiEmbedder};

    use crate::fake_ai::{FakeAi, KEY};

    let app = spawn_with(crawler).await;
    let doc = app
        .post(
            "/knowledge/documents",
            &json!({ "text": "# Tariffs\n\nOur fixed tariff lasts twelve months." }),
        )
        .await;
    assert_eq!(doc.status, 201, "{:?}", doc.body);
    let chunks = app.get("/knowledge/chunks").await;
    assert!(
        chunks.data()["chunks"][0]["model"]
            .as_str()
            .unwrap()
            .starts_with("minishlab/")
    );

    // The same database, now served with another model.
    app.state.knowledge.shutdown();
    let fake = FakeAi::start().await;
    let remote = Arc::new(OpenAiEmbedder::new(
        &format!("{}/openai/v1", fake.base),
        KEY,
        "text-embedding-3-small",
        Some(16),
        Duration::from_secs(2),
    ));
    let guard = thruai::net::ssrf::UrlGuard::default();
    let other = Knowledge::new(
        app.state.db.clone(),
        app.settings.knowledge.clone(),
        remote,
        guard.clone(),
        guard.client(Duration::from_secs(1)).unwrap(),
    );
    other.start();
    let mut model = String::new();
    for _ in 0..100 {
        model = app.get("/knowledge/chunks").await.data()["chunks"][0]["model"]
            .as_str()
            .unwrap()
            .to_string();
        if model.starts_with("openai:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(model, "openai:text-embedding-3-small/16");
    other.shutdown();
}

#[actix_web::test]
async fn a_sandbox_call_answers_from_the_knowledge_base_and_shows_what_it_retrieved() {
    use crate::calls::{agent, app, call, finished};

    let app = app().await;
    let agent = agent(&app, "Thanks for calling!", json!({})).await;
    let doc = app
        .post(
            "/knowledge/documents",
            &json!({ "agentId": agent, "text": "# Opening hours\n\nThe clinic is open from 8am to 6pm on weekdays and from 9am to noon on Saturdays. It is closed on Sundays." }),
        )
        .await;
    assert_eq!(doc.status, 201, "{:?}", doc.body);
    let chunk = app
        .get(&format!(
            "/knowledge/chunks?documentId={}",
            doc.data()["id"].as_str().unwrap()
        ))
        .await;
    let chunk_id = chunk.data()["chunks"][0]["id"].as_str().unwrap().to_string();
    let id = call(
        &app,
        &agent,
        json!([{ "waitForAgent": true }, { "say": "What are your opening hours on Saturday?" }, { "waitForAgent": true },
               { "say": "Thanks, goodbye." }, { "waitForAgent": true }, { "silenceMs": 3000 }]),
    )
    .await;
    let c = finished(&app, &id).await;
    assert_eq!(c.summary.status, "completed", "{c:?}");
    let said: Vec<String> = c
        .transcript
        .iter()
        .filter(|l| l.speaker == "agent")
        .map(|l| l.text.clone())
        .collect();
    assert!(said[1].contains("9am to noon on Saturdays"), "{said:?}");

    let debug = app.get(&format!("/calls/{id}/debug")).await;
    let timeline = debug.data()["timeline"].as_array().unwrap();
    let retrieved = timeline
        .iter()
        .find(|e| e["kind"] == "knowledge")
        .expect("a knowledge event");
    assert_eq!(retrieved["detail"]["chunkIds"], json!([chunk_id]), "{retrieved}");
    assert!(retrieved["detail"]["retrievalMs"].as_u64().unwrap() < 400);
    assert_eq!(
        debug.data()["latency"]["knowledgeRetrievalMs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(debug.data()["turns"][0]["retrievalMs"].is_u64());
}

/// The same ranking whichever database holds the chunks: this suite runs on SQLite and on
/// PostgreSQL, and both must give exactly these results.
#[actix_web::test]
async fn rankings_are_the_same_on_every_backend() {
    let app = spawn_with(crawler).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge/eval/pages");
    for slug in [
        "billing-dates",
        "direct-debit",
        "refunds",
        "credit-balance",
        "exit-fees",
        "moving-house",
        "power-cuts",
        "smart-meter-installation",
    ] {
        let text = std::fs::read_to_string(dir.join(format!("{slug}.md"))).unwrap();
        let r = app
            .post(
                "/knowledge/documents",
                &json!({ "text": text, "url": format!("https://help.example.com/{slug}") }),
            )
            .await;
        assert_eq!(r.status, 201, "{slug}: {:?}", r.body);
    }
    let mut got = Vec::new();
    for (query, mode) in [
        ("when will my monthly bill arrive", "hybrid"),
        ("I am leaving my flat next month", "hybrid"),
        ("the electricity has gone off in my street", "semantic"),
        ("refund of money left on my account", "keyword"),
    ] {
        let r = app
            .post("/knowledge/query", &json!({ "query": query, "mode": mode, "topK": 4 }))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let ranked: Vec<String> = r.data()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let slug = h["source"]["url"].as_str().unwrap().rsplit('/').next().unwrap();
                format!("{slug} > {}", h["headingPath"].as_str().unwrap())
            })
            .collect();
        got.push(ranked);
    }
    let expected = [
        [
            "billing-dates > Billing Dates > When your bill is produced",
            "billing-dates > Billing Dates > Changing your billing date",
            "billing-dates > Billing Dates > Why your bill might be late",
            "moving-house > Moving House > Taking Larkspur with you",
        ],
        [
            "moving-house > Moving House > Tell us before you go",
            "billing-dates > Billing Dates > Changing your billing date",
            "credit-balance > Credit Balance > Reducing your payments instead",
            "direct-debit > Direct Debit > Changing the collection day or cancelling",
        ],
        [
            "power-cuts > Power Cuts > Who to call",
            "power-cuts > Power Cuts > During the outage",
            "moving-house > Moving House > Tell us before you go",
            "smart-meter-installation > Smart Meter Installation > What a smart meter does",
        ],
        [
            "refunds > Refunds > Asking for money back",
            "refunds > Refunds > Where the money goes",
            "credit-balance > Credit Balance > Reducing your payments instead",
            "exit-fees > Exit Fees > Moving house",
        ],
    ];
    assert_eq!(got, expected, "{got:?}");
}
