//! A local HTTP sink for tool and webhook calls: records every request, answers JSON on
//! `/ok`, sleeps on `/slow`, redirects on `/redirect` and fails on `/fail`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Sink {
    pub base_url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    handle: ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, seen: web::Data<Arc<Mutex<Vec<Received>>>>) -> HttpResponse {
    seen.lock().unwrap().push(Received {
        path: req.path().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
    });
    match req.path() {
        "/slow" => {
            actix_web::rt::time::sleep(Duration::from_secs(3)).await;
            HttpResponse::Ok().json(serde_json::json!({ "late": true }))
        }
        "/redirect" => HttpResponse::Found()
            .insert_header(("location", "http://169.254.169.254/latest"))
            .finish(),
        "/fail" => HttpResponse::InternalServerError().body("boom"),
        _ => HttpResponse::Ok().json(serde_json::json!({ "ok": true, "orderStatus": "shipped" })),
    }
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::new(received.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Sink {
            base_url: format!("http://127.0.0.1:{port}"),
            received,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        std::mem::drop(self.handle.stop(false));
    }
}
