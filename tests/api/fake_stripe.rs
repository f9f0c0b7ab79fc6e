//! A local fake of Stripe's API as the billing client uses it: form-encoded bodies with
//! bracket keys, Bearer auth, `Idempotency-Key` replays (and `idempotency_error` on other
//! parameters), card errors on HTTP 402, Billing Meter events de-duplicated on `identifier`,
//! and scripted failures. Bodies and errors in Stripe's shapes.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

pub const KEY: &str = "sk_test_fake";

#[derive(Default)]
pub struct FakeState {
    /// Every POST: (path, Idempotency-Key, form).
    pub posts: Vec<(String, Option<String>, BTreeMap<String, String>)>,
    /// Idempotency-Key → (form, status, body) of the first answer.
    pub keys: HashMap<String, (BTreeMap<String, String>, u16, Value)>,
    /// Customer id → default payment method.
    pub defaults: HashMap<String, String>,
    /// Subscriptions as `GET /v1/subscriptions/{id}` answers them.
    pub subscriptions: HashMap<String, Value>,
    /// Meter event identifiers accepted, in order.
    pub meter_events: Vec<String>,
    /// The next meter-event answers: `fail` (500, nothing kept) or `lost` (kept, then 500).
    pub meter_script: Vec<&'static str>,
    /// Answer every request with garbage.
    pub garbage: bool,
    /// Process the next POST, keep its answer for its key, but answer 500 (a lost answer).
    pub lose_next: bool,
    pub next: u64,
}

pub struct FakeStripe {
    pub base_url: String,
    pub state: Arc<Mutex<FakeState>>,
}

type State = web::Data<Mutex<FakeState>>;

fn error(status: u16, kind: &str, code: &str, message: &str, extra: Value) -> HttpResponse {
    let mut e = json!({ "type": kind, "code": code, "message": message });
    if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .insert_header(("Request-Id", "req_fake"))
        .json(json!({ "error": e }))
}

fn form_of(body: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn id(state: &mut FakeState, prefix: &str) -> String {
    state.next += 1;
    format!("{prefix}_fake{}", state.next)
}

/// Auth, garbage and idempotency around one POST's own answer.
fn handle(
    req: &HttpRequest,
    state: &State,
    body: &[u8],
    answer: impl FnOnce(&mut FakeState, &BTreeMap<String, String>) -> (u16, Value),
) -> HttpResponse {
    let auth = req.headers().get("authorization").and_then(|h| h.to_str().ok());
    if auth == Some("Bearer rk_test_restricted") {
        return error(
            403,
            "invalid_request_error",
            "",
            "The provided key 'rk_test_***' does not have the required permissions for this endpoint",
            json!({}),
        );
    }
    if auth != Some(&format!("Bearer {KEY}")) {
        return error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided",
            json!({}),
        );
    }
    let mut s = state.lock().unwrap();
    if s.garbage {
        return HttpResponse::Ok()
            .content_type("text/html")
            .body("<html>upstream</html>");
    }
    let form = form_of(body);
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    s.posts.push((req.path().to_string(), key.clone(), form.clone()));
    if let Some(k) = &key
        && let Some((first, status, body)) = s.keys.get(k).cloned()
    {
        if first != form {
            return error(
                400,
                "idempotency_error",
                "idempotency_key_in_use",
                "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                json!({}),
            );
        }
        return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body);
    }
    let (status, out) = answer(&mut s, &form);
    if let Some(k) = key {
        s.keys.insert(k, (form, status, out.clone()));
    }
    if std::mem::take(&mut s.lose_next) {
        return error(500, "api_error", "", "The answer was lost on the way", json!({}));
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(out)
}

async fn create_customer(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    handle(&req, &state, &body, |s, f| {
        let id = id(s, "cus");
        (
            200,
            json!({ "id": id, "object": "customer", "email": f.get("email"), "metadata": { "org_id": f.get("metadata[org_id]") } }),
        )
    })
}

async fn get_customer(state: State, path: web::Path<String>) -> HttpResponse {
    let s = state.lock().unwrap();
    HttpResponse::Ok().json(json!({ "id": *path, "object": "customer",
        "invoice_settings": { "default_payment_method": s.defaults.get(path.as_str()) } }))
}

async fn update_customer(req: HttpRequest, state: State, path: web::Path<String>, body: web::Bytes) -> HttpResponse {
    handle(&req, &state, &body, |s, f| {
        if let Some(pm) = f.get("invoice_settings[default_payment_method]") {
            s.defaults.insert(path.to_string(), pm.clone());
        }
        (200, json!({ "id": *path, "object": "customer" }))
    })
}

async fn payment_methods(state: State, path: web::Path<String>) -> HttpResponse {
    let s = state.lock().unwrap();
    let card = |id: &str, last4: &str| {
        json!({ "id": id, "object": "payment_method", "type": "card", "customer": *path,
                "card": { "brand": "visa", "last4": last4, "exp_month": 12, "exp_year": 2030 } })
    };
    let data = if s.defaults.contains_key(path.as_str()) {
        vec![
            card("pm_card_visa", "4242"),
            card("pm_card_chargeDeclinedInsufficientFunds", "9995"),
        ]
    } else {
        Vec::new()
    };
    HttpResponse::Ok().json(json!({ "object": "list", "data": data, "has_more": false, "url": req_url(&path) }))
}

fn req_url(customer: &str) -> String {
    format!("/v1/customers/{customer}/payment_methods")
}

async fn checkout(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    handle(&req, &state, &body, |s, f| {
        if let Some(price) = f.get("line_items[0][price]")
            && price != "price_pro"
        {
            return (
                400,
                json!({ "error": { "type": "invalid_request_error", "code": "resource_missing",
                                           "param": "line_items[0][price]", "message": format!("No such price: '{price}'") } }),
            );
        }
        let id = id(s, "cs_test");
        (
            200,
            json!({ "id": id, "object": "checkout.session", "url": format!("https://checkout.stripe.com/c/pay/{id}"),
                      "mode": f.get("mode"), "status": "open", "customer": f.get("customer"), "expires_at": 1_900_000_000 }),
        )
    })
}

async fn portal(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    handle(&req, &state, &body, |s, f| {
        let id = id(s, "bps");
        (
            200,
            json!({ "id": id, "object": "billing_portal.session", "customer": f.get("customer"),
                      "url": format!("https://billing.stripe.com/p/session/{id}"), "return_url": f.get("return_url") }),
        )
    })
}

async fn subscription(state: State, path: web::Path<String>) -> HttpResponse {
    match state.lock().unwrap().subscriptions.get(path.as_str()) {
        Some(s) => HttpResponse::Ok().json(s),
        None => error(
            404,
            "invalid_request_error",
            "resource_missing",
            "No such subscription",
            json!({}),
        ),
    }
}

async fn payment_intent(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    handle(&req, &state, &body, |s, f| {
        let id = id(s, "pi");
        match f.get("payment_method").map(String::as_str) {
            Some("pm_card_visa") => (
                200,
                json!({ "id": id, "object": "payment_intent", "status": "succeeded",
                                                   "amount": f.get("amount").and_then(|a| a.parse::<i64>().ok()) }),
            ),
            _ => (
                402,
                json!({ "error": { "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
                                         "message": "Your card has insufficient funds.",
                                         "payment_intent": { "id": id, "status": "requires_payment_method" } } }),
            ),
        }
    })
}

async fn meter_event(req: HttpRequest, state: State, body: web::Bytes) -> HttpResponse {
    let form = form_of(&body);
    let mut s = state.lock().unwrap();
    let identifier = form.get("identifier").cloned().unwrap_or_default();
    s.posts.push((req.path().to_string(), None, form.clone()));
    let step = if s.meter_script.is_empty() {
        "ok"
    } else {
        s.meter_script.remove(0)
    };
    if step == "fail" {
        return error(500, "api_error", "", "Something went wrong", json!({}));
    }
    if s.meter_events.contains(&identifier) {
        return error(
            400,
            "invalid_request_error",
            "",
            &format!("An event with identifier {identifier} already exists."),
            json!({}),
        );
    }
    assert!(req.headers().get("authorization").is_some());
    assert!(form.contains_key("payload[stripe_customer_id]") && form.contains_key("payload[value]"));
    s.meter_events.push(identifier.clone());
    if step == "lost" {
        return error(
            500,
            "api_error",
            "",
            "Something went wrong after it was kept",
            json!({}),
        );
    }
    HttpResponse::Ok().json(json!({ "object": "billing.meter_event", "identifier": identifier }))
}

impl FakeStripe {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/customers", web::post().to(create_customer))
                .route("/v1/customers/{id}", web::get().to(get_customer))
                .route("/v1/customers/{id}", web::post().to(update_customer))
                .route("/v1/customers/{id}/payment_methods", web::get().to(payment_methods))
                .route("/v1/checkout/sessions", web::post().to(checkout))
                .route("/v1/billing_portal/sessions", web::post().to(portal))
                .route("/v1/subscriptions/{id}", web::get().to(subscription))
                .route("/v1/payment_intents", web::post().to(payment_intent))
                .route("/v1/billing/meter_events", web::post().to(meter_event))
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

    /// The POSTs to `path`, oldest first.
    pub fn posts(&self, path: &str) -> Vec<(Option<String>, BTreeMap<String, String>)> {
        let s = self.state.lock().unwrap();
        s.posts
            .iter()
            .filter(|(p, ..)| p == path)
            .map(|(_, k, f)| (k.clone(), f.clone()))
            .collect()
    }
}
