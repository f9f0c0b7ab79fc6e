//! A small website on loopback for the crawler: pages set and changed by the test, with
//! ETags (a matching `If-None-Match` gets 304), redirects, slow pages and binaries; every
//! request is recorded with its User-Agent.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::HashMap,
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};

#[derive(Clone, Debug)]
pub enum Page {
    /// A body of this content type, with an ETag of its content.
    Body(&'static str, String),
    /// A redirect to this location (absolute or relative).
    Redirect(String),
    /// This body, after a delay.
    Slow(Duration, String),
    /// This status, no body.
    Status(u16),
}

#[derive(Default)]
pub struct Site {
    pages: Mutex<HashMap<String, Page>>,
    /// (path, User-Agent, If-None-Match)
    pub seen: Mutex<Vec<(String, String, Option<String>)>>,
}

pub struct FakeSite {
    pub base: String,
    pub site: Arc<Site>,
    handle: ServerHandle,
}

fn etag(body: &str) -> String {
    format!(
        "\"{:x}\"",
        body.len() * 31 + body.bytes().map(usize::from).sum::<usize>()
    )
}

async fn serve(req: HttpRequest, site: web::Data<Arc<Site>>) -> HttpResponse {
    let path = req.path().to_string();
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    site.seen.lock().unwrap().push((
        path.clone(),
        header("user-agent").unwrap_or_default(),
        header("if-none-match"),
    ));
    let page = site.pages.lock().unwrap().get(&path).cloned();
    match page {
        None => HttpResponse::NotFound().body("not found"),
        Some(Page::Status(s)) => HttpResponse::build(actix_web::http::StatusCode::from_u16(s).unwrap()).finish(),
        Some(Page::Redirect(to)) => HttpResponse::Found().insert_header(("Location", to)).finish(),
        Some(Page::Slow(d, body)) => {
            tokio::time::sleep(d).await;
            HttpResponse::Ok().content_type("text/html").body(body)
        }
        Some(Page::Body(ct, body)) => {
            let tag = etag(&body);
            if header("if-none-match").as_deref() == Some(tag.as_str()) {
                return HttpResponse::NotModified().insert_header(("ETag", tag)).finish();
            }
            HttpResponse::Ok()
                .content_type(ct)
                .insert_header(("ETag", tag))
                .body(body)
        }
    }
}

impl FakeSite {
    pub async fn start() -> Self {
        let site = Arc::new(Site::default());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::new(site.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(serve)))
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            site,
            handle,
        }
    }

    pub fn set(&self, path: &str, page: Page) {
        self.site.pages.lock().unwrap().insert(path.into(), page);
    }

    pub fn remove(&self, path: &str) {
        self.site.pages.lock().unwrap().remove(path);
    }

    /// An HTML page: a title, paragraphs, links, inside the usual chrome.
    pub fn html(&self, path: &str, title: &str, text: &str, links: &[&str]) {
        let links: String = links.iter().map(|l| format!("<a href=\"{l}\">{l}</a> ")).collect();
        let body = format!(
            "<html><head><title>{title}</title><script>track()</script></head><body>\
             <nav>Menu {links}</nav><main><h1>{title}</h1><p>{text}</p></main>\
             <footer>Footer text</footer></body></html>"
        );
        self.set(path, Page::Body("text/html; charset=utf-8", body));
    }

    pub fn requests_to(&self, path: &str) -> usize {
        self.site
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, ..)| p == path)
            .count()
    }
}
