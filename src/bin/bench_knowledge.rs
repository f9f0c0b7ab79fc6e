//! Knowledge benchmark, on the default configuration (local embeddings, no key):
//! 1. retrieval quality: the evaluation set in `tests/fixtures/knowledge/eval` (55 pages, 65
//!    paraphrased questions) — top-1 and top-5 hit rates for BM25 alone, vectors alone and
//!    hybrid, and embedding throughput while the pages are added;
//! 2. query latency for an organisation with `CHUNKS` chunks (default 10,000);
//! 3. crawl throughput against a site served on loopback (`PAGES` pages, no politeness delay).
//!
//! Usage: `[DATABASE_URL=…] bench_knowledge [CHUNKS] [PAGES]` (SQLite in memory by default);
//! see BENCHMARKS.md.

use std::{
    collections::HashMap,
    path::Path,
    time::{Duration, Instant},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use chrono::Utc;
use serde::Deserialize;
use thruai::{
    app::knowledge::{CrawlRequest, DocumentIn, Knowledge, Mode, QueryIn},
    config::Settings,
    net::ssrf::UrlGuard,
    providers::embeddings::LocalEmbedder,
    store::{self, accounts::NewOrganization},
};

const EVAL: &str = "tests/fixtures/knowledge/eval";

#[derive(Deserialize)]
struct Question {
    q: String,
    page: String,
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

async fn org(db: &sea_orm::DatabaseConnection, id: &str) -> anyhow::Result<()> {
    store::accounts::create_organization(
        db,
        NewOrganization {
            org_id: id,
            user_id: &id.replace("ORG", "USR"),
            name: id,
            slug: &id.to_ascii_lowercase(),
            plan: "pro",
            email: &format!("{}@example.com", id.to_ascii_lowercase()),
            now: Utc::now(),
        },
    )
    .await?;
    Ok(())
}

fn pages() -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(Path::new(EVAL).join("pages")).context("run from the repository root")? {
        let path = entry?.path();
        let slug = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        out.push((slug, std::fs::read_to_string(&path)?));
    }
    out.sort();
    Ok(out)
}

fn query(q: &str, mode: Mode, top_k: u32) -> QueryIn {
    QueryIn {
        query: q.to_string(),
        agent_id: None,
        top_k: Some(top_k),
        min_similarity: None,
        mode,
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let target_chunks = arg(1, 10_000);
    let site_pages = arg(2, 200);
    let mut settings = Settings::load(None).map_err(anyhow::Error::msg)?;
    settings.database.url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    if settings.database.url.starts_with("postgres") {
        settings.database.schema = format!("bench_knowledge_{}", Utc::now().timestamp());
    }
    settings.knowledge.fetch_delay_ms = 0;
    settings.knowledge.max_pages_limit = settings.knowledge.max_pages_limit.max(site_pages as u32);
    let db = store::connect(&settings.database).await?;
    store::migrate(&db).await?;
    let guard = UrlGuard::new(&["127.0.0.1/32".to_string()]).map_err(anyhow::Error::msg)?;
    let http = guard.client(Duration::from_secs(5))?;
    let kb = Knowledge::new(
        db.clone(),
        settings.knowledge.clone(),
        std::sync::Arc::new(LocalEmbedder::new()),
        guard,
        http,
    );
    kb.start();

    // 1. Quality.
    org(&db, "ORG-BENCHEVAL").await?;
    let pages = pages()?;
    let questions: Vec<Question> =
        serde_json::from_str(&std::fs::read_to_string(Path::new(EVAL).join("questions.json"))?)?;
    let mut page_of: HashMap<String, String> = HashMap::new();
    let started = Instant::now();
    let mut chunks = 0;
    for (slug, text) in &pages {
        let doc = kb
            .add_document(
                "ORG-BENCHEVAL",
                DocumentIn {
                    title: None,
                    text: text.clone(),
                    format: "markdown".into(),
                    agent_id: None,
                    url: Some(format!("https://help.larkspur.example/{slug}")),
                },
            )
            .await?;
        chunks += doc.chunks;
        page_of.insert(doc.id, slug.clone());
    }
    println!(
        "eval set: {} pages, {chunks} chunks, {} questions; added in {:.0} ms",
        pages.len(),
        questions.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    // The same index ranked three ways, and hybrid with lighter BM25 weights.
    let weighted = |w: f32| -> anyhow::Result<Knowledge> {
        let mut s = settings.knowledge.clone();
        s.bm25_weight = w;
        let guard = UrlGuard::default();
        let http = guard.client(Duration::from_secs(5))?;
        Ok(Knowledge::new(
            db.clone(),
            s,
            std::sync::Arc::new(LocalEmbedder::new()),
            guard,
            http,
        ))
    };
    let runs = [
        ("bm25", Mode::Keyword, kb.clone()),
        ("vectors", Mode::Semantic, kb.clone()),
        ("hybrid", Mode::Hybrid, kb.clone()),
        ("hybrid, bm25 weight 0.5", Mode::Hybrid, weighted(0.5)?),
        ("hybrid, bm25 weight 0.25", Mode::Hybrid, weighted(0.25)?),
    ];
    for (name, mode, kb) in runs {
        let (mut top1, mut top5) = (0, 0);
        for q in &questions {
            let found = kb.query("ORG-BENCHEVAL", query(&q.q, mode, 5)).await?;
            let rank = found
                .hits
                .iter()
                .position(|h| page_of.get(&h.document_id) == Some(&q.page));
            top1 += usize::from(rank == Some(0));
            top5 += usize::from(rank.is_some());
        }
        let n = questions.len() as f64;
        println!(
            "quality {name:>24}: top-1 {:.1} % ({top1}/{}), top-5 {:.1} % ({top5}/{})",
            100.0 * top1 as f64 / n,
            questions.len(),
            100.0 * top5 as f64 / n,
            questions.len()
        );
    }

    // 2. Latency at scale: copies of the pages, each made distinct, until the target.
    org(&db, "ORG-BENCHSCALE").await?;
    let started = Instant::now();
    let mut chunks = 0usize;
    let mut copy = 0;
    while chunks < target_chunks {
        for (slug, text) in &pages {
            if chunks >= target_chunks {
                break;
            }
            let doc = kb
                .add_document(
                    "ORG-BENCHSCALE",
                    DocumentIn {
                        title: Some(format!("{slug} (edition {copy})")),
                        text: format!("{text}\n\nEdition {copy} of the {slug} page, reference LK-{copy:05}."),
                        format: "markdown".into(),
                        agent_id: None,
                        url: Some(format!("https://help.larkspur.example/{copy}/{slug}")),
                    },
                )
                .await?;
            chunks += doc.chunks as usize;
        }
        copy += 1;
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "indexed {chunks} chunks in {took:.1} s: {:.0} chunks/s (chunking, embedding and writing)",
        chunks as f64 / took
    );
    let texts: Vec<String> = questions.iter().map(|q| q.q.clone()).collect();
    let embedder = LocalEmbedder::new();
    let started = Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        embedder.embed_now(&texts)?;
    }
    println!(
        "embedding alone: {:.0} texts/s",
        (rounds * texts.len()) as f64 / started.elapsed().as_secs_f64()
    );
    let first = Instant::now();
    kb.query("ORG-BENCHSCALE", query(&questions[0].q, Mode::Hybrid, 5))
        .await?;
    println!(
        "first query (builds the index): {:.0} ms",
        first.elapsed().as_secs_f64() * 1000.0
    );
    let mut times = Vec::new();
    for round in 0..5 {
        for q in &questions {
            let t = Instant::now();
            let found = kb.query("ORG-BENCHSCALE", query(&q.q, Mode::Hybrid, 5)).await?;
            times.push(t.elapsed());
            if round == 0 && found.hits.is_empty() {
                anyhow::bail!("no results for {:?}", q.q);
            }
        }
    }
    times.sort();
    println!(
        "query latency over {chunks} chunks ({} queries): p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        times.len(),
        pct(&times, 0.5),
        pct(&times, 0.95),
        pct(&times, 0.99),
        pct(&times, 1.0)
    );

    // 3. Crawl throughput: the pages as HTML, each linking to the next few, on loopback.
    let html: Vec<String> = (0..site_pages)
        .map(|i| {
            let (slug, text) = &pages[i % pages.len()];
            let body: String = text
                .lines()
                .map(|l| match l.strip_prefix("## ").or_else(|| l.strip_prefix("# ")) {
                    Some(h) => format!("<h2>{h}</h2>"),
                    None if l.trim().is_empty() => String::new(),
                    None => format!("<p>{l} (page {i})</p>"),
                })
                .collect();
            // The first page is the index; the others link to their neighbours.
            let targets: Vec<usize> = if i == 0 {
                (1..site_pages).collect()
            } else {
                (1..=3).map(|k| (i + k) % site_pages).collect()
            };
            let links: String = targets
                .iter()
                .map(|t| format!("<a href=\"/site/{t}\">next</a>"))
                .collect();
            format!(
                "<html><head><title>{slug} {i}</title></head><body><nav>{links}</nav><main>{body}</main></body></html>"
            )
        })
        .collect();
    let html = web::Data::new(html);
    let server = HttpServer::new(move || {
        App::new().app_data(html.clone()).route(
            "/site/{n}",
            web::get().to(|n: web::Path<usize>, html: web::Data<Vec<String>>| async move {
                match html.get(*n) {
                    Some(page) => HttpResponse::Ok().content_type("text/html").body(page.clone()),
                    None => HttpResponse::NotFound().finish(),
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    org(&db, "ORG-BENCHCRAWL").await?;
    let started = Instant::now();
    let crawl = kb
        .start_crawl(
            "ORG-BENCHCRAWL",
            CrawlRequest {
                url: format!("http://127.0.0.1:{port}/site/0"),
                max_pages: Some(site_pages as u32),
                max_depth: Some(2),
                ..Default::default()
            },
        )
        .await?;
    let done = loop {
        let c = kb.crawl("ORG-BENCHCRAWL", &crawl.id).await?;
        if !matches!(c.status.as_str(), "queued" | "running") {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed().as_secs_f64();
    println!(
        "crawl: {} ({}), {} pages indexed, {} chunks in {took:.1} s: {:.1} pages/s",
        done.status,
        done.error.unwrap_or_default(),
        done.pages_fetched,
        done.chunks,
        f64::from(done.pages_fetched) / took
    );
    // The worker stops before the runtime goes (a pooled connection must not outlive it).
    kb.shutdown();
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}
