//! `spawn_app()`: a server on a random port with a fresh database (in-memory SQLite, or a
//! fresh schema in `TEST_DATABASE_URL`) and, with `TEST_REDIS_URL`, a fresh key prefix.

#![allow(dead_code)]

use std::sync::LazyLock;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use thruai::{config::Settings, startup::Application, state::AppState};

pub const BASE: &str = "/api/v1/public";

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var("TEST_LOG").is_ok() {
        let mut s = test_settings();
        s.log.filter = "debug".into();
        thruai::telemetry::init(&s.log);
    }
});

/// The database URL and Redis URL the suite runs against.
pub fn backends() -> (Option<String>, Option<String>) {
    let db = std::env::var("TEST_DATABASE_URL").ok().filter(|s| !s.is_empty());
    let redis = std::env::var("TEST_REDIS_URL").ok().filter(|s| !s.is_empty());
    (db, redis)
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Settings for one test app: defaults, port 0, a fresh database and Redis namespace.
pub fn test_settings() -> Settings {
    let mut s = Settings::load(None).expect("default settings load");
    s.server.port = 0;
    s.server.workers = 1;
    let (db, redis) = backends();
    match db {
        Some(url) => {
            s.database.url = url;
            s.database.schema = unique("t_");
            s.database.max_connections = 5;
        }
        None => s.database.url = "sqlite::memory:".into(),
    }
    s.redis.url = redis.unwrap_or_default();
    s.redis.key_prefix = format!("{}:", unique("test"));
    s.email.provider = "sandbox".into();
    s.email.sandbox_outbox = true;
    s.auth.cache_ttl_ms = 0;
    // Plenty of headroom: the limit tests configure their own.
    for plan in s.rate_limit.plans.values_mut() {
        plan.requests_per_second = 10_000.0;
        plan.burst = 10_000;
    }
    s.rate_limit.provisioning_max = 1_000;
    // A2P review and SMS delivery on a test timeline.
    s.a2p.sandbox_brand_review_ms = 300;
    s.a2p.sandbox_campaign_review_ms = 300;
    s.a2p.poll_initial_ms = 50;
    s.a2p.poll_max_ms = 200;
    s.sms.sandbox_delivery_ms = 20;
    s
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub state: AppState,
    pub api_key: String,
    pub settings: Settings,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

/// A server with adjusted settings and a provisioned organisation (`api_key`).
pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let mut app = spawn_bare(adjust).await;
    app.api_key = app.signup().await.0;
    app
}

/// A server without any organisation.
pub async fn spawn_bare(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&TRACING);
    let mut settings = test_settings();
    adjust(&mut settings);
    let app = Application::build(settings.clone()).await.expect("app builds");
    let port = app.port();
    let state = app.state().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        state,
        api_key: String::new(),
        settings,
    }
}

/// A response read whole: status, headers and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    pub body: Value,
}

impl Reply {
    pub async fn from(res: Response) -> Self {
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            bytes,
            body,
        }
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the envelope's shape and the standard headers.
    pub fn assert_envelope(&self) -> &Self {
        assert!(
            self.body["success"].is_boolean(),
            "no envelope: {}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert!(self.body.get("data").is_some() && self.body.get("error").is_some());
        assert!(self.body["meta"]["requestId"].is_string() && self.body["meta"]["timestamp"].is_string());
        assert_eq!(self.header("x-api-version"), Some("1.13.0"));
        assert!(self.header("x-request-id").is_some());
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{BASE}{path}", self.address)
    }

    /// A request with this app's key.
    pub fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(&self.api_key)
    }

    pub async fn send(&self, rb: reqwest::RequestBuilder) -> Reply {
        Reply::from(rb.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.req(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.req(Method::POST, path).json(body)).await
    }

    /// A form POST (as a browser submits a page's form) to a full URL.
    pub async fn post_form(&self, url: &str, pairs: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.send(
            self.client
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send(self.req(Method::PATCH, path).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.req(Method::DELETE, path)).await
    }

    pub async fn provision(&self, email: &str, org_name: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/accounts/provision"))
                .json(&json!({ "email": email, "orgName": org_name })),
        )
        .await
    }

    /// The newest code the sandbox e-mailed to `email`.
    pub async fn code_for(&self, email: &str) -> String {
        let outbox = self
            .send(self.client.get(self.url(&format!("/_debug/sandbox/outbox?to={email}"))))
            .await;
        assert_eq!(outbox.status, 200, "{:?}", outbox.body);
        let subject = outbox.data()["messages"][0]["subject"]
            .as_str()
            .expect("a message")
            .to_string();
        subject.rsplit(' ').next().unwrap().to_string()
    }

    pub async fn verify(&self, email: &str, code: &str) -> Reply {
        self.send(
            self.client
                .post(self.url("/accounts/verify"))
                .json(&json!({ "email": email, "code": code })),
        )
        .await
    }

    /// Provisions a new organisation; returns its key and id.
    pub async fn signup(&self) -> (String, String) {
        let email = format!("{}@example.com", unique("owner-"));
        let org = unique("Org ");
        let r = self.provision(&email, &org).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let code = self.code_for(&email).await;
        let r = self.verify(&email, &code).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        (
            r.data()["apiKey"].as_str().unwrap().to_string(),
            r.data()["organization"]["id"].as_str().unwrap().to_string(),
        )
    }

    /// Another app handle on the same server, acting as a second organisation.
    pub async fn other_org(&self) -> TestApp {
        let (key, _) = self.signup().await;
        TestApp {
            address: self.address.clone(),
            port: self.port,
            client: self.client.clone(),
            state: self.state.clone(),
            api_key: key,
            settings: self.settings.clone(),
        }
    }
}

impl TestApp {
    /// An organisation and key written straight to the store (no provisioning request).
    pub async fn seed_org(&self) -> String {
        use thruai::store::{accounts::NewOrganization, api_keys::NewApiKey};
        let now = chrono::Utc::now();
        let org_id = unique("ORG-");
        let slug = unique("seed-");
        thruai::store::accounts::create_organization(
            &self.state.db,
            NewOrganization {
                org_id: &org_id,
                user_id: &unique("USR-"),
                name: "Seeded",
                slug: &slug,
                plan: "free",
                email: &format!("{slug}@example.com"),
                now,
            },
        )
        .await
        .unwrap();
        let key = thruai::auth::generate_key();
        thruai::store::api_keys::insert(
            &self.state.db,
            NewApiKey {
                id: &unique("KEY-"),
                org_id: &org_id,
                name: "seeded",
                hash: &key.hash,
                display_prefix: &key.display_prefix,
                scopes: thruai::auth::ALL_SCOPES,
                expires_at: None,
                now,
            },
        )
        .await
        .unwrap();
        key.secret
    }
}

/// A server on `settings` as given (a restart test boots two on one database), acting with
/// `api_key`; the handle stops it.
pub async fn boot(settings: Settings, api_key: String) -> (TestApp, actix_web::dev::ServerHandle) {
    let app = Application::build(settings.clone()).await.expect("app builds");
    let port = app.port();
    let state = app.state().clone();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let test_app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        client: reqwest::Client::new(),
        state,
        api_key,
        settings,
    };
    (test_app, handle)
}
