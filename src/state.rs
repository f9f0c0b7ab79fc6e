//! Application state shared by every worker: cheap to clone (handles and `Arc`s only).

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    auth::Authenticator,
    config::Settings,
    idempotency::Idempotency,
    limits::RateLimiter,
    net::ssrf,
    providers::email::{self, EmailSender},
    redis_conn::RedisConn,
};

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub redis: Option<RedisConn>,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    pub idempotency: Idempotency,
    pub email: Arc<dyn EmailSender>,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Checks every user-supplied outbound URL (from `security.url_allowlist`).
    pub url_guard: ssrf::UrlGuard,
    /// HTTP client whose resolver applies `url_guard`; no redirects, no proxy.
    pub http: reqwest::Client,
    /// The webhook actors' registry.
    pub webhooks: thruai_actors::WebhookRegistryHandle,
}

impl AppState {
    /// Connects the database (migrating when configured), Redis and the providers.
    ///
    /// # Errors
    /// When the database is unreachable, migrations fail or a provider is misconfigured.
    pub async fn connect(settings: Settings) -> anyhow::Result<Self> {
        let db = crate::store::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            crate::store::migrate(&db).await?;
        }
        let redis = RedisConn::from_settings(&settings.redis)?;
        let email = email::from_settings(&settings, db.clone())?;
        let trusted_proxies = settings
            .server
            .trusted_proxies
            .iter()
            .map(|p| crate::config::parse_net(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let url_guard = ssrf::UrlGuard::new(&settings.security.url_allowlist)
            .map_err(|e| anyhow::anyhow!("security.url_allowlist: {e}"))?;
        let http = url_guard
            .client(Duration::from_millis(settings.webhooks.timeout_ms))
            .map_err(|e| anyhow::anyhow!("building the outbound HTTP client: {e}"))?;
        let webhooks = crate::webhooks::start(&settings.webhooks, db.clone(), url_guard.clone(), http.clone());
        Ok(Self {
            url_guard,
            http,
            webhooks,
            auth: Authenticator::new(db.clone(), Duration::from_millis(settings.auth.cache_ttl_ms)),
            limiter: RateLimiter::new(settings.rate_limit.clone(), redis.clone()),
            idempotency: Idempotency::new(
                db.clone(),
                redis.clone(),
                Duration::from_secs(settings.idempotency.ttl_secs),
                Duration::from_secs(settings.idempotency.lock_ttl_secs),
            ),
            email,
            redis,
            db,
            trusted_proxies: Arc::new(trusted_proxies),
            started_at: chrono::Utc::now(),
            settings: Arc::new(settings),
        })
    }

    /// True while the e-mail provider is the sandbox.
    pub fn email_is_sandbox(&self) -> bool {
        self.email.is_sandbox()
    }
}
