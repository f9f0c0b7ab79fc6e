//! Fetching for the crawler: per-host politeness, robots.txt (RFC 9309), sitemaps, and
//! GETs through the SSRF guard with redirects followed hop by hop (each hop checked again,
//! kept in the crawl's scope), bodies read up to a limit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::AtomicUsize},
    time::{Duration, Instant},
};

use reqwest::{Method, StatusCode, header};
use texting_robots::Robot;
use url::Url;

use super::Knowledge;
use crate::{
    domain::knowledge::{Format, Scope, normalise, sitemap_locs},
    net::ssrf::SsrfError,
};

/// RFC 9309: at least the first 500 KiB of robots.txt are read.
const ROBOTS_MAX_BYTES: usize = 500 << 10;
/// Redirect hops followed (RFC 9309 asks for at least five).
const MAX_HOPS: usize = 5;
/// Sitemap entries read per crawl (beyond the page limit they are of no use anyway).
const MAX_SITEMAP_URLS: usize = 5000;

/// Per-host politeness (one request at a time, spaced) and the node's running crawls.
#[derive(Default)]
pub(super) struct Hosts {
    last: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
    pub(super) running: AtomicUsize,
}

impl Hosts {
    /// Waits for the host's turn; the guard is held for the whole request.
    async fn turn(&self, host: &str, delay: Duration) -> tokio::sync::OwnedMutexGuard<Option<Instant>> {
        let slot = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(host.to_string())
            .or_default()
            .clone();
        let guard = slot.lock_owned().await;
        if let Some(last) = *guard {
            tokio::time::sleep_until((last + delay).into()).await;
        }
        guard
    }
}

/// robots.txt as read for one crawl.
pub(super) struct Robots {
    robot: Option<Robot>,
    /// 5xx or unreachable: everything is disallowed (RFC 9309 §2.3.1.4).
    pub(super) deny_all: bool,
    pub(super) delay: Option<f32>,
    sitemaps: Vec<String>,
}

impl Robots {
    pub(super) fn allowed(&self, url: &Url) -> bool {
        !self.deny_all && self.robot.as_ref().is_none_or(|r| r.allowed(url.as_str()))
    }
}

/// The outcome of fetching one URL.
pub(super) enum Fetched {
    Page {
        url: Url,
        format: Format,
        body: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
    Gone(u16),
    Skipped(String),
    Failed(String, Option<u16>),
}

impl Knowledge {
    /// GET through the guard, redirects followed hop by hop within the scope.
    pub(super) async fn fetch(
        &self,
        url: &Url,
        existing: Option<&thruai_entities::knowledge_document::Model>,
        scope: &Scope,
        robots: &Robots,
        delay: Duration,
    ) -> Fetched {
        let mut current = url.clone();
        for hop in 0..=MAX_HOPS {
            let host = current.host_str().unwrap_or_default().to_string();
            let mut turn = self.hosts.turn(&host, delay).await;
            let mut req = match self.guard.request(&self.http, Method::GET, current.as_str()) {
                Ok(r) => r,
                Err(e) => return Fetched::Failed(refusal(&e), None),
            };
            req = req
                .header(header::USER_AGENT, &self.settings.user_agent)
                .header(header::ACCEPT, "text/html, text/markdown;q=0.9, text/plain;q=0.8")
                .timeout(Duration::from_millis(self.settings.page_timeout_ms));
            if hop == 0
                && let Some(doc) = existing
            {
                if let Some(etag) = &doc.etag {
                    req = req.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(lm) = &doc.last_modified {
                    req = req.header(header::IF_MODIFIED_SINCE, lm);
                }
            }
            let result = self.receive(req, &current).await;
            *turn = Some(Instant::now());
            drop(turn);
            match result {
                Received::Redirect(location) => {
                    let Some(next) = current.join(&location).ok().map(normalise) else {
                        return Fetched::Failed(format!("unreadable redirect location {location:?}"), None);
                    };
                    if let Err(e) = self.guard.check_url(next.as_str()) {
                        return Fetched::Failed(format!("redirect to {next} refused: {e}"), None);
                    }
                    if !scope.contains(&next) {
                        return Fetched::Skipped(format!("redirects out of the crawl's scope, to {next}"));
                    }
                    if !robots.allowed(&next) {
                        return Fetched::Skipped(format!("redirects to {next}, disallowed by robots.txt"));
                    }
                    current = next;
                }
                Received::Done(f) => return f,
            }
        }
        Fetched::Failed(format!("more than {MAX_HOPS} redirects"), None)
    }

    async fn receive(&self, req: reqwest::RequestBuilder, url: &Url) -> Received {
        let resp = match self.guard.send(req).await {
            Ok(r) => r,
            Err(e) => return Received::Done(Fetched::Failed(refusal(&e), None)),
        };
        let status = resp.status();
        let code = Some(status.as_u16());
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            return match resp.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()) {
                Some(l) => Received::Redirect(l.to_string()),
                None => Received::Done(Fetched::Failed(format!("HTTP {status} without a Location"), code)),
            };
        }
        if status == StatusCode::NOT_MODIFIED {
            return Received::Done(Fetched::NotModified);
        }
        if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
            return Received::Done(Fetched::Gone(status.as_u16()));
        }
        if !status.is_success() {
            return Received::Done(Fetched::Failed(format!("HTTP {status}"), code));
        }
        let header_of = |h: header::HeaderName| resp.headers().get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        let content_type = header_of(header::CONTENT_TYPE).unwrap_or_default();
        let Some(format) = Format::of(&content_type, url) else {
            return Received::Done(Fetched::Skipped(format!("not a text page ({content_type})")));
        };
        let (etag, last_modified) = (header_of(header::ETAG), header_of(header::LAST_MODIFIED));
        let limit = self.settings.page_max_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Received::Done(Fetched::Skipped(format!("larger than {limit} bytes")));
        }
        match read_capped(resp, limit).await {
            Ok(Some(bytes)) => {
                if format == Format::Text && bytes.contains(&0) {
                    return Received::Done(Fetched::Skipped("binary content".into()));
                }
                Received::Done(Fetched::Page {
                    url: url.clone(),
                    format,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                    etag,
                    last_modified,
                })
            }
            Ok(None) => Received::Done(Fetched::Skipped(format!("larger than {limit} bytes"))),
            Err(e) => Received::Done(Fetched::Failed(e, code)),
        }
    }

    /// robots.txt of the start URL's origin: 2xx is parsed, 4xx allows everything, 5xx and
    /// unreachable disallow everything (RFC 9309 §2.3.1).
    pub(super) async fn robots(&self, start: &Url) -> Robots {
        let allow_all = |sitemaps| Robots {
            robot: None,
            deny_all: false,
            delay: None,
            sitemaps,
        };
        let Ok(url) = start.join("/robots.txt") else {
            return allow_all(Vec::new());
        };
        match self.get_small(&url, ROBOTS_MAX_BYTES).await {
            Ok((status, body)) if status.is_success() => {
                let agent = self
                    .settings
                    .user_agent
                    .split(['/', ' '])
                    .next()
                    .unwrap_or("ThruAI-KnowledgeBot");
                match Robot::new(agent, &body) {
                    Ok(robot) => Robots {
                        delay: robot.delay,
                        sitemaps: robot.sitemaps.clone(),
                        robot: Some(robot),
                        deny_all: false,
                    },
                    Err(_) => allow_all(Vec::new()),
                }
            }
            Ok((status, _)) if status.is_client_error() => allow_all(Vec::new()),
            _ => Robots {
                robot: None,
                deny_all: true,
                delay: None,
                sitemaps: Vec::new(),
            },
        }
    }

    /// The pages the sitemap lists (robots.txt's `Sitemap:` lines, else `/sitemap.xml`),
    /// sitemap indexes followed one level.
    pub(super) async fn sitemap_pages(&self, start: &Url, robots: &Robots, delay: Duration) -> Vec<Url> {
        let mut maps: Vec<Url> = robots.sitemaps.iter().filter_map(|s| Url::parse(s).ok()).collect();
        if maps.is_empty() {
            maps.extend(start.join("/sitemap.xml").ok());
        }
        let mut pages = Vec::new();
        // (sitemap, may it be an index whose sitemaps are read)
        let mut queue: Vec<(Url, bool)> = maps.into_iter().rev().map(|m| (m, true)).collect();
        let mut read = 0;
        while let Some((map, index_ok)) = queue.pop() {
            if read >= 10 || map.origin() != start.origin() {
                continue;
            }
            read += 1;
            let mut turn = self.hosts.turn(map.host_str().unwrap_or_default(), delay).await;
            let got = self.get_small(&map, 10 << 20).await;
            *turn = Some(Instant::now());
            drop(turn);
            let Ok((status, body)) = got else { continue };
            if !status.is_success() {
                continue;
            }
            let xml = String::from_utf8_lossy(&body);
            let index = xml.contains("<sitemapindex");
            for u in sitemap_locs(&xml)
                .into_iter()
                .take(MAX_SITEMAP_URLS)
                .filter_map(|l| Url::parse(&l).ok())
            {
                match (index, index_ok) {
                    (true, true) => queue.push((u, false)),
                    (true, false) => {}
                    (false, _) => pages.push(normalise(u)),
                }
            }
        }
        pages
    }

    /// A small GET (robots.txt, sitemaps) through the guard, following up to five redirects.
    async fn get_small(&self, url: &Url, limit: usize) -> Result<(StatusCode, Vec<u8>), String> {
        let mut current = url.clone();
        for _ in 0..=MAX_HOPS {
            let req = self
                .guard
                .request(&self.http, Method::GET, current.as_str())
                .map_err(|e| refusal(&e))?
                .header(header::USER_AGENT, &self.settings.user_agent)
                .timeout(Duration::from_millis(self.settings.page_timeout_ms));
            let resp = self.guard.send(req).await.map_err(|e| refusal(&e))?;
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or("redirect without a Location")?;
                current = current.join(location).map_err(|e| e.to_string())?;
                continue;
            }
            // Beyond the limit only the first `limit` bytes are read (RFC 9309 §2.5).
            let body = read_prefix(resp, limit).await?;
            return Ok((status, body));
        }
        Err("too many redirects".into())
    }
}

enum Received {
    Redirect(String),
    Done(Fetched),
}

/// The text logged for a refused or failed request (never an internal address).
fn refusal(e: &SsrfError) -> String {
    match e {
        SsrfError::Request(r) if r.is_timeout() => "timed out".into(),
        SsrfError::Request(r) if r.is_connect() => "could not connect".into(),
        other => other.to_string(),
    }
}

/// The whole body, or `None` when it exceeds `limit`.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Option<Vec<u8>>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        if e.is_timeout() {
            "timed out".to_string()
        } else {
            format!("reading the body failed: {e}")
        }
    })? {
        if out.len() + chunk.len() > limit {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// The first `limit` bytes of the body.
async fn read_prefix(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the body failed: {e}"))?
    {
        let room = limit - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
