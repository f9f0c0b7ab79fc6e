//! Crawl jobs. A crawl reads robots.txt (RFC 9309, this crawler's own user agent), seeds its
//! frontier with the start URL and the sitemap's pages, and walks breadth-first within the
//! start site's scope, depth, page and time limits. Each request goes through the SSRF guard,
//! redirects are followed hop by hop (each hop checked again), requests to one host never
//! overlap and are spaced by the politeness delay. Pages are extracted, de-duplicated by
//! content hash and indexed; a re-crawl asks with the stored ETag / Last-Modified, skips
//! unchanged content and removes pages that are gone. Progress is written after every page
//! and a heartbeat while the crawl runs, so a crawl whose process stopped is resumed.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::atomic::Ordering,
    time::Duration,
};

use chrono::Utc;
use serde_json::{Value, json};
use thruai_entities::knowledge_crawl as crawl;
use url::Url;

use super::{
    Knowledge, KnowledgeError,
    fetch::Fetched,
    ingest::{Source, content_hash, page_key},
};
use crate::{
    domain::{
        ids,
        knowledge::{Format, Scope, extract, looks_binary, normalise},
    },
    store::knowledge as kb,
};

/// Log entries kept per crawl.
const MAX_LOG: usize = 2000;

/// What `POST /knowledge/crawl` asks for.
#[derive(Debug, Clone, Default)]
pub struct CrawlRequest {
    pub url: String,
    pub agent_id: Option<String>,
    pub max_pages: Option<u32>,
    pub max_depth: Option<u32>,
    pub include_paths: Vec<String>,
    pub exclude_paths: Vec<String>,
}

/// A crawl's counters and log while it runs.
struct Progress {
    row: crawl::Model,
    log: Vec<Value>,
    /// Documents this crawl fetched or confirmed.
    seen_docs: HashSet<String>,
    /// Content hashes indexed by this crawl (duplicates are skipped).
    hashes: HashMap<String, String>,
    /// The page limit stopped the walk: pages not visited may still exist.
    truncated: bool,
}

impl Progress {
    fn note(&mut self, url: &Url, outcome: &str, extra: Value) {
        if self.log.len() >= MAX_LOG {
            return;
        }
        let mut entry = json!({ "url": url.as_str(), "outcome": outcome, "at": Utc::now().to_rfc3339() });
        if let (Some(e), Value::Object(x)) = (entry.as_object_mut(), extra) {
            e.extend(x);
        }
        self.log.push(entry);
    }
}

impl Knowledge {
    /// Queues a crawl and answers at once.
    ///
    /// # Errors
    /// A URL that is malformed or resolves to a refused address, limits out of range, bad
    /// path filters, another organisation's agent.
    pub async fn start_crawl(&self, org_id: &str, req: CrawlRequest) -> Result<crawl::Model, KnowledgeError> {
        let s = &self.settings;
        let (url, _) = self.guard.resolve(&req.url).await?;
        let url = normalise(url);
        let max_pages = req.max_pages.unwrap_or(s.default_max_pages);
        if max_pages == 0 || max_pages > s.max_pages_limit {
            return Err(KnowledgeError::field(
                "maxPages",
                format!("must be between 1 and {}", s.max_pages_limit),
            ));
        }
        let max_depth = req.max_depth.unwrap_or(s.default_max_depth);
        if max_depth > s.max_depth_limit {
            return Err(KnowledgeError::field(
                "maxDepth",
                format!("must be between 0 and {}", s.max_depth_limit),
            ));
        }
        for (field, paths) in [
            ("includePaths", &req.include_paths),
            ("excludePaths", &req.exclude_paths),
        ] {
            if paths.len() > 50 || paths.iter().any(|p| !p.starts_with('/') || p.len() > 500) {
                return Err(KnowledgeError::field(
                    field,
                    "at most 50 path prefixes, each starting with /",
                ));
            }
        }
        self.check_agent(org_id, req.agent_id.as_deref()).await?;
        let row = crawl::Model {
            id: ids::new_id(ids::KNOWLEDGE_CRAWL),
            org_id: org_id.to_string(),
            agent_id: req.agent_id,
            url: url.to_string(),
            status: "queued".into(),
            max_pages: i32::try_from(max_pages).unwrap_or(i32::MAX),
            max_depth: i32::try_from(max_depth).unwrap_or(i32::MAX),
            include_paths: json!(req.include_paths),
            exclude_paths: json!(req.exclude_paths),
            pages_fetched: 0,
            pages_unchanged: 0,
            pages_skipped: 0,
            pages_failed: 0,
            pages_removed: 0,
            chunks: 0,
            error: None,
            log: json!([]),
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            heartbeat_at: None,
        };
        let row = kb::insert_crawl(&self.db, row).await?;
        self.wake.notify_one();
        Ok(row)
    }

    /// A crawl of the organisation.
    ///
    /// # Errors
    /// Not found, or the database.
    pub async fn crawl(&self, org_id: &str, id: &str) -> Result<crawl::Model, KnowledgeError> {
        kb::find_crawl(&self.db, org_id, id)
            .await?
            .ok_or_else(|| KnowledgeError::NotFound("Crawl", id.to_string()))
    }

    /// Starts the crawls that are due, as far as this node's concurrency allows.
    pub(super) async fn run_due_crawls(&self) {
        let stale = Utc::now() - Duration::from_millis(self.settings.stale_after_ms);
        let due = match kb::crawls_due(&self.db, stale).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "listing due crawls failed");
                return;
            }
        };
        for row in due {
            if self.hosts.running.load(Ordering::SeqCst) >= self.settings.concurrent_crawls {
                break;
            }
            match kb::claim_crawl(&self.db, &row, Utc::now()).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(crawl = %row.id, error = %e, "claiming a crawl failed");
                    continue;
                }
            }
            self.hosts.running.fetch_add(1, Ordering::SeqCst);
            let this = self.clone();
            actix_web::rt::spawn(async move {
                let id = row.id.clone();
                if let Err(e) = this.run(row).await {
                    tracing::error!(crawl = %id, error = %e, "crawl could not record its end");
                }
                this.hosts.running.fetch_sub(1, Ordering::SeqCst);
                this.wake.notify_one();
            });
        }
    }

    fn crawl_budget(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::try_from(self.settings.crawl_timeout_secs).unwrap_or(i64::MAX / 1000))
    }

    /// Runs one claimed crawl to its end.
    async fn run(&self, row: crawl::Model) -> Result<(), KnowledgeError> {
        let now = Utc::now();
        let resumed = row.status == "running";
        let started_at = row.started_at.unwrap_or(now);
        let deadline = started_at + self.crawl_budget();
        let mut p = Progress {
            log: row.log.as_array().cloned().unwrap_or_default(),
            row,
            seen_docs: HashSet::new(),
            hashes: HashMap::new(),
            truncated: false,
        };
        p.row.status = "running".into();
        p.row.started_at = Some(started_at);
        p.row.heartbeat_at = Some(now);
        let start = Url::parse(&p.row.url).map_err(|e| KnowledgeError::field("url", e.to_string()))?;
        if resumed {
            if now >= deadline {
                p.note(
                    &start,
                    "interrupted",
                    json!({ "reason": "the server stopped during the crawl" }),
                );
                return self
                    .finish(
                        p,
                        "partial",
                        Some("interrupted: the server stopped during the crawl and its time budget is spent".into()),
                    )
                    .await;
            }
            // Start again: pages already indexed come back unchanged (validators, hashes).
            for c in [
                &mut p.row.pages_fetched,
                &mut p.row.pages_unchanged,
                &mut p.row.pages_skipped,
                &mut p.row.pages_failed,
                &mut p.row.pages_removed,
                &mut p.row.chunks,
            ] {
                *c = 0;
            }
            p.note(
                &start,
                "resumed",
                json!({ "reason": "the server stopped during the crawl" }),
            );
        }
        p.row = kb::save_crawl(&self.db, p.row.clone()).await?;
        let heartbeat = self.heartbeat(p.row.id.clone());
        let budget = (deadline - Utc::now()).to_std().unwrap_or_default();
        let walked = tokio::select! {
            w = tokio::time::timeout(budget, self.walk(&start, &mut p)) => w,
            () = self.stop.wait() => {
                heartbeat.abort();
                return Ok(());
            }
        };
        heartbeat.abort();
        let (status, error) = match walked {
            Err(_) => (
                "partial",
                Some(format!(
                    "stopped after the crawl time limit ({} s)",
                    self.settings.crawl_timeout_secs
                )),
            ),
            Ok(Err(reason)) => ("failed", Some(reason)),
            Ok(Ok(())) => {
                if !p.truncated {
                    self.remove_unseen(&start, &mut p).await?;
                }
                ("completed", None)
            }
        };
        self.finish(p, status, error).await
    }

    /// Keeps the crawl's heartbeat fresh while it runs.
    fn heartbeat(&self, id: String) -> actix_web::rt::task::JoinHandle<()> {
        let db = self.db.clone();
        let every = Duration::from_millis((self.settings.stale_after_ms / 4).max(10));
        actix_web::rt::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = kb::beat(&db, &id, Utc::now()).await {
                    tracing::warn!(crawl = %id, error = %e, "a crawl's heartbeat was not written");
                }
            }
        })
    }

    async fn finish(&self, mut p: Progress, status: &str, error: Option<String>) -> Result<(), KnowledgeError> {
        p.row.status = status.into();
        p.row.error = error;
        p.row.finished_at = Some(Utc::now());
        p.row.log = Value::Array(p.log);
        kb::save_crawl(&self.db, p.row).await?;
        Ok(())
    }

    async fn save_progress(&self, p: &mut Progress) -> Result<(), KnowledgeError> {
        p.row.log = Value::Array(p.log.clone());
        p.row.heartbeat_at = Some(Utc::now());
        p.row = kb::save_crawl(&self.db, p.row.clone()).await?;
        Ok(())
    }

    /// Pages of an earlier crawl of this scope that this complete crawl did not find are gone.
    async fn remove_unseen(&self, start: &Url, p: &mut Progress) -> Result<(), KnowledgeError> {
        let scope = self.scope_of(start, &p.row);
        let pages = kb::pages_under(&self.db, &p.row.org_id, p.row.agent_id.as_deref(), &scope.url_prefix()).await?;
        let gone: Vec<(String, Url)> = pages
            .into_iter()
            .filter(|d| !p.seen_docs.contains(&d.id))
            .filter_map(|d| {
                let url = d.url.as_deref().and_then(|u| Url::parse(u).ok())?;
                scope.contains(&url).then_some((d.id, url))
            })
            .collect();
        for (_, url) in &gone {
            p.note(url, "removed", json!({ "reason": "no longer found on the site" }));
        }
        let gone: Vec<String> = gone.into_iter().map(|(id, _)| id).collect();
        let n = kb::delete_documents(&self.db, &p.row.org_id, &gone).await?;
        p.row.pages_removed += i32::try_from(n).unwrap_or(0);
        Ok(())
    }

    fn scope_of(&self, start: &Url, row: &crawl::Model) -> Scope {
        let list = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        Scope::new(start, &list(&row.include_paths), &list(&row.exclude_paths))
    }

    /// The breadth-first walk. `Err` is why the crawl failed outright.
    async fn walk(&self, start: &Url, p: &mut Progress) -> Result<(), String> {
        let scope = self.scope_of(start, &p.row);
        let robots = self.robots(start).await;
        if robots.deny_all {
            p.note(start, "skipped", json!({ "reason": "robots.txt could not be read (server error or unreachable): RFC 9309 treats the site as disallowed" }));
            p.row.pages_skipped += 1;
            return Err(
                "robots.txt could not be read (server error or unreachable); the site is treated as disallowed".into(),
            );
        }
        let delay = Duration::from_millis(
            self.settings.fetch_delay_ms.max(
                robots
                    .delay
                    .map_or(0, |d| (f64::from(d) * 1000.0) as u64)
                    .min(self.settings.max_crawl_delay_ms),
            ),
        );
        let max_pages = usize::try_from(p.row.max_pages).unwrap_or(0);
        let max_depth = p.row.max_depth;
        let mut frontier: VecDeque<(Url, i32)> = VecDeque::new();
        let mut queued: HashSet<String> = HashSet::new();
        queued.insert(start.to_string());
        frontier.push_back((start.clone(), 0));
        for url in self.sitemap_pages(start, &robots, delay).await {
            if scope.contains(&url) && !looks_binary(&url) && queued.insert(url.to_string()) {
                frontier.push_back((url, 1));
            }
        }
        let mut visited = 0usize;
        while let Some((url, depth)) = frontier.pop_front() {
            if visited >= max_pages {
                p.truncated = true;
                p.note(
                    &url,
                    "not_visited",
                    json!({ "reason": format!("the page limit ({max_pages}) was reached") }),
                );
                break;
            }
            if !robots.allowed(&url) {
                p.row.pages_skipped += 1;
                p.note(&url, "skipped", json!({ "reason": "disallowed by robots.txt" }));
                continue;
            }
            visited += 1;
            let key = page_key(p.row.agent_id.as_deref(), url.as_str());
            let existing = kb::document_by_key(&self.db, &p.row.org_id, &key)
                .await
                .map_err(|e| e.to_string())?;
            let fetched = self.fetch(&url, existing.as_ref(), &scope, &robots, delay).await;
            match fetched {
                Fetched::Page {
                    url: final_url,
                    format,
                    body,
                    etag,
                    last_modified,
                } => {
                    let x = match format {
                        Format::Html => extract::html(&body, &final_url),
                        Format::Markdown | Format::Text => extract::text(&body, final_url.path()),
                    };
                    let links: Vec<Url> = if x.nofollow {
                        Vec::new()
                    } else {
                        x.links.iter().cloned().map(normalise).collect()
                    };
                    if depth < max_depth {
                        for link in links.iter().cloned() {
                            if scope.contains(&link) && !looks_binary(&link) && queued.insert(link.to_string()) {
                                frontier.push_back((link, depth + 1));
                            }
                        }
                    }
                    let links = links.iter().map(Url::to_string).collect();
                    self.index_page(p, &url, final_url, x, (etag, last_modified, links), existing)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Fetched::NotModified => {
                    if let Some(doc) = existing {
                        p.seen_docs.insert(doc.id.clone());
                        p.hashes.insert(doc.content_hash.clone(), url.to_string());
                        p.row.pages_unchanged += 1;
                        // Its links are those it had: the walk goes on through them.
                        let links = serde_json::from_value::<Vec<String>>(doc.links.clone()).unwrap_or_default();
                        for link in links.iter().filter_map(|l| Url::parse(l).ok()) {
                            if depth < max_depth
                                && scope.contains(&link)
                                && !looks_binary(&link)
                                && queued.insert(link.to_string())
                            {
                                frontier.push_back((link, depth + 1));
                            }
                        }
                        kb::touch_document(&self.db, doc, &p.row.id, None)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    p.note(&url, "unchanged", json!({ "status": 304 }));
                }
                Fetched::Gone(status) => {
                    if let Some(doc) = existing {
                        let n = kb::delete_documents(&self.db, &p.row.org_id, std::slice::from_ref(&doc.id))
                            .await
                            .map_err(|e| e.to_string())?;
                        p.row.pages_removed += i32::try_from(n).unwrap_or(0);
                        p.note(
                            &url,
                            "removed",
                            json!({ "status": status, "reason": "the page is gone" }),
                        );
                    } else {
                        p.row.pages_failed += 1;
                        p.note(
                            &url,
                            "failed",
                            json!({ "status": status, "reason": format!("HTTP {status}") }),
                        );
                    }
                }
                Fetched::Skipped(reason) => p.note(&url, "skipped", json!({ "reason": reason })),
                Fetched::Failed(reason, status) => {
                    p.row.pages_failed += 1;
                    p.note(&url, "failed", json!({ "status": status, "reason": reason }));
                    if depth == 0 && frontier.is_empty() && p.row.pages_fetched == 0 && p.row.pages_unchanged == 0 {
                        return Err(format!("the start page could not be fetched: {reason}"));
                    }
                }
            }
            self.save_progress(p).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Indexes a fetched page unless it is empty, `noindex`, a duplicate or unchanged.
    /// `validators`: its ETag, Last-Modified and links.
    async fn index_page(
        &self,
        p: &mut Progress,
        asked: &Url,
        fetched: Url,
        x: extract::Extracted,
        validators: (Option<String>, Option<String>, Vec<String>),
        existing: Option<thruai_entities::knowledge_document::Model>,
    ) -> Result<(), KnowledgeError> {
        if x.noindex {
            p.note(
                asked,
                "skipped",
                json!({ "reason": "the page asks not to be indexed (noindex)" }),
            );
            return Ok(());
        }
        if !x.markdown.chars().any(char::is_alphanumeric) {
            p.note(asked, "skipped", json!({ "reason": "no text content" }));
            return Ok(());
        }
        let hash = content_hash(&x.markdown);
        if let Some(first) = p.hashes.get(&hash) {
            let first = first.clone();
            p.note(
                asked,
                "duplicate",
                json!({ "reason": format!("same content as {first}") }),
            );
            return Ok(());
        }
        p.hashes.insert(hash.clone(), fetched.to_string());
        // A page that redirected is indexed under its final URL.
        let key = page_key(p.row.agent_id.as_deref(), fetched.as_str());
        let existing = if &fetched == asked {
            existing
        } else {
            kb::document_by_key(&self.db, &p.row.org_id, &key).await?
        };
        let url = fetched;
        if let Some(doc) = existing.as_ref().filter(|d| d.content_hash == hash).cloned() {
            p.seen_docs.insert(doc.id.clone());
            p.row.pages_unchanged += 1;
            let (etag, last_modified, links) = validators;
            kb::touch_document(&self.db, doc, &p.row.id, Some((etag, last_modified, json!(links)))).await?;
            p.note(&url, "unchanged", json!({ "reason": "same content as last time" }));
            return Ok(());
        }
        let source = Source {
            org_id: &p.row.org_id,
            agent_id: p.row.agent_id.as_deref(),
            crawl_id: Some(&p.row.id),
            kind: "page",
            url: Some(url.as_str()),
            title: &x.title,
            markdown: &x.markdown,
            etag: validators.0,
            last_modified: validators.1,
            links: validators.2,
        };
        let doc = self
            .index_source(existing, ids::new_id(ids::KNOWLEDGE_DOCUMENT), &key, &source)
            .await?;
        p.seen_docs.insert(doc.id.clone());
        p.row.pages_fetched += 1;
        p.row.chunks += doc.chunks;
        p.note(&url, "indexed", json!({ "chunks": doc.chunks, "title": doc.title }));
        Ok(())
    }
}
