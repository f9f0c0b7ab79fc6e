//! A local fake of Resend's HTTP API: `POST /emails` (with `Idempotency-Key` replays and
//! scripted failures), `GET /emails/{id}` (a rewritten Message-ID, as SES does), domains
//! (create, verify, get, delete) and received emails. Bodies and errors in Resend's shapes.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, http::StatusCode, web};
use serde_json::{Value, json};

pub const KEY: &str = "re_test_key";

#[derive(Default)]
pub struct FakeState {
    /// Every accepted send: (Idempotency-Key, body).
    pub received: Vec<(Option<String>, Value)>,
    /// The next answers to `POST /emails`, as (status, body); empty: 200 with an id.
    pub script: Vec<(u16, Value)>,
    /// Idempotency-Key → the id it was first answered with.
    pub keys: HashMap<String, String>,
    /// id → (name, region, receiving).
    pub domains: HashMap<String, (String, String, bool)>,
    /// Whether the DNS records are found.
    pub dns_ok: bool,
    /// Received emails by id, as `GET /emails/receiving/{id}` answers them.
    pub inbound: HashMap<String, Value>,
}

pub struct FakeResend {
    pub base_url: String,
    pub state: Arc<Mutex<FakeState>>,
}

type State = web::Data<Mutex<FakeState>>;

fn authorised(req: &HttpRequest) -> Option<HttpResponse> {
    let ok = req.headers().get("authorization").and_then(|h| h.to_str().ok()) == Some(&format!("Bearer {KEY}"));
    (!ok).then(|| {
        HttpResponse::Unauthorized()
            .json(json!({ "statusCode": 401, "name": "invalid_api_key", "message": "API key is invalid" }))
    })
}

fn not_found(what: &str) -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({ "statusCode": 404, "name": "not_found", "message": format!("{what} not found") }))
}

fn domain_body(id: &str, (name, region, receiving): &(String, String, bool), dns_ok: bool, verifying: bool) -> Value {
    let status = match (verifying, dns_ok) {
        (false, _) => "not_started",
        (true, true) => "verified",
        (true, false) => "pending",
    };
    let mut records = vec![
        json!({ "record": "DKIM", "name": format!("resend._domainkey.{name}"), "type": "TXT", "ttl": "Auto", "status": status, "value": "p=MIGfMA0GCSq" }),
        json!({ "record": "SPF", "name": format!("send.{name}"), "type": "MX", "ttl": "Auto", "status": status, "value": format!("feedback-smtp.{region}.amazonses.com"), "priority": 10 }),
        json!({ "record": "SPF", "name": format!("send.{name}"), "type": "TXT", "ttl": "Auto", "status": status, "value": "\"v=spf1 include:amazonses.com ~all\"" }),
    ];
    if *receiving {
        records.push(json!({ "record": "Receiving", "name": name, "type": "MX", "ttl": "Auto", "status": status, "value": format!("inbound-smtp.{region}.amazonaws.com"), "priority": 10 }));
    }
    json!({ "object": "domain", "id": id, "name": name, "status": status, "region": region, "created_at": "2026-12-07T00:00:00.000Z", "records": records })
}

impl FakeResend {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/emails", web::post().to(send))
                .route("/emails/receiving/{id}", web::get().to(received))
                .route("/emails/{id}", web::get().to(get_email))
                .route("/domains", web::post().to(create_domain))
                .route("/domains/{id}/verify", web::post().to(verify_domain))
                .route("/domains/{id}", web::get().to(get_domain))
                .route("/domains/{id}", web::delete().to(delete_domain))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
        }
    }

    pub fn sent(&self) -> Vec<(Option<String>, Value)> {
        self.state.lock().unwrap().received.clone()
    }
}

async fn send(req: HttpRequest, body: web::Json<Value>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    let mut state = state.lock().unwrap();
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|h| h.to_str().ok())
        .map(String::from);
    if !state.script.is_empty() {
        let (status, body) = state.script.remove(0);
        return HttpResponse::build(StatusCode::from_u16(status).unwrap()).json(body);
    }
    if let Some(id) = key.as_ref().and_then(|k| state.keys.get(k)) {
        return HttpResponse::Ok().json(json!({ "id": id }));
    }
    let id = uuid::Uuid::new_v4().to_string();
    if let Some(k) = &key {
        state.keys.insert(k.clone(), id.clone());
    }
    state.received.push((key, body.into_inner()));
    HttpResponse::Ok().json(json!({ "id": id }))
}

async fn get_email(req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    HttpResponse::Ok().json(json!({ "object": "email", "id": *id, "message_id": format!("<0100{}@email.amazonses.com>", id.replace('-', "")) }))
}

async fn received(req: HttpRequest, id: web::Path<String>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    match state.lock().unwrap().inbound.get(id.as_str()) {
        Some(v) => HttpResponse::Ok().json(v),
        None => not_found("Email"),
    }
}

async fn create_domain(req: HttpRequest, body: web::Json<Value>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let region = body["region"].as_str().unwrap_or("us-east-1").to_string();
    let receiving = body["capabilities"]["receiving"] == "enabled";
    let id = uuid::Uuid::new_v4().to_string();
    let entry = (name, region, receiving);
    let out = domain_body(&id, &entry, false, false);
    state.lock().unwrap().domains.insert(id, entry);
    HttpResponse::Created().json(out)
}

async fn verify_domain(req: HttpRequest, id: web::Path<String>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    if !state.lock().unwrap().domains.contains_key(id.as_str()) {
        return not_found("Domain");
    }
    HttpResponse::Ok().json(json!({ "object": "domain", "id": *id }))
}

async fn get_domain(req: HttpRequest, id: web::Path<String>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    let state = state.lock().unwrap();
    match state.domains.get(id.as_str()) {
        Some(d) => HttpResponse::Ok().json(domain_body(&id, d, state.dns_ok, true)),
        None => not_found("Domain"),
    }
}

async fn delete_domain(req: HttpRequest, id: web::Path<String>, state: State) -> HttpResponse {
    if let Some(denied) = authorised(&req) {
        return denied;
    }
    match state.lock().unwrap().domains.remove(id.as_str()) {
        Some(_) => HttpResponse::Ok().json(json!({ "object": "domain", "id": *id, "deleted": true })),
        None => not_found("Domain"),
    }
}
