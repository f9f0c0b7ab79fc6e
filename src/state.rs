//! Application state shared by every worker: cheap to clone (handles and `Arc`s only).

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use thruai_actors::{A2pSupervisor, CampaignSupervisor};

use crate::{
    auth::Authenticator,
    config::Settings,
    crypto::Crypto,
    idempotency::Idempotency,
    limits::RateLimiter,
    net::ssrf::UrlGuard,
    providers::{
        a2p::ServerA2pPorts,
        email::{self, EmailSender},
        llm::{LanguageModel, SandboxLlm},
    },
    redis_conn::RedisConn,
};

/// Connect timeout of the guarded client for user-supplied URLs (tools, webhooks).
const OUTBOUND_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The SSRF guard built from `security.url_allowlist`.
    pub url_guard: UrlGuard,
    /// The one client for user-supplied URLs: guarded resolver, no redirects, no proxy.
    /// Send through `url_guard.request` / `url_guard.send`.
    pub outbound: reqwest::Client,
    /// Client for operator-configured provider APIs (Twilio, LLMs).
    pub http: reqwest::Client,
    /// Encrypts secrets at rest.
    pub crypto: Crypto,
    /// The language model used when an agent's provider has no live client (the sandbox).
    pub llm: Arc<dyn LanguageModel>,
    /// The A2P registration actors of this node.
    pub a2p: A2pSupervisor,
    /// Writes the live calls' snapshots, many per transaction.
    pub checkpoints: crate::calls::CheckpointWriter,
    /// The live calls of this process.
    pub calls: thruai_actors::CallSupervisor,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The webhook actors' registry.
    pub webhooks: thruai_actors::WebhookSupervisor,
    /// The outbound campaign actors of this node.
    pub campaigns: CampaignSupervisor,
    /// The campaign ports' handle on this state (they dial through the application). It is
    /// a cycle — state → campaigns → ports → state — that [`AppState::release`] breaks.
    app_cell: crate::campaigns::AppCell,
}

impl AppState {
    /// Lets go of the state's references to itself, so that it (its database pools, its
    /// actors' ports) can be freed once every other clone is gone: at shutdown, and when a
    /// test's server ends.
    pub fn release(&self) {
        self.app_cell.set(None);
    }

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
        let url_guard = UrlGuard::new(&settings.security.url_allowlist).map_err(anyhow::Error::msg)?;
        let outbound = url_guard
            .client(OUTBOUND_CONNECT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("building the guarded HTTP client: {e}"))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(OUTBOUND_CONNECT_TIMEOUT)
            .build()?;
        let crypto = Crypto::new(&settings.security.encryption_key, db.clone())?;
        let settings = Arc::new(settings);
        let webhooks = crate::webhooks::start(
            &settings.webhooks,
            db.clone(),
            crypto.clone(),
            url_guard.clone(),
            outbound.clone(),
        );
        let a2p = A2pSupervisor::new(Arc::new(ServerA2pPorts {
            db: db.clone(),
            settings: settings.clone(),
            http: http.clone(),
            crypto: crypto.clone(),
        }));
        let cell = crate::campaigns::AppCell::default();
        let campaigns = CampaignSupervisor::new(
            Arc::new(crate::campaigns::ServerCampaignPorts {
                state: cell.clone(),
                db: db.clone(),
                settings: settings.clone(),
                node: uuid::Uuid::new_v4().simple().to_string(),
                dialing: Arc::default(),
                read: Arc::default(),
                ahead: crate::campaigns::Pools::default(),
            }),
            crate::campaigns::config_of(&settings),
        );
        let state = Self {
            campaigns,
            app_cell: cell.clone(),
            webhooks,
            a2p,
            url_guard,
            outbound,
            http,
            crypto,
            llm: Arc::new(SandboxLlm),
            checkpoints: crate::calls::CheckpointWriter::start(db.clone()),
            calls: thruai_actors::CallSupervisor::new(thruai_actors::call::supervisor::RestartPolicy {
                max_restarts: settings.calls.max_restarts,
                window: std::time::Duration::from_secs(settings.calls.restart_window_secs),
            }),
            auth: Authenticator::new(db.clone(), Duration::from_millis(settings.auth.cache_ttl_ms)),
            limiter: RateLimiter::new(settings.rate_limit.clone(), redis.clone()),
            idempotency: Idempotency::new(
                db.clone(),
                redis.clone(),
                Duration::from_secs(settings.idempotency.ttl_secs),
                Duration::from_secs(settings.idempotency.lock_ttl_secs),
                settings.is_sqlite(),
            ),
            email,
            redis,
            db,
            trusted_proxies: Arc::new(trusted_proxies),
            started_at: chrono::Utc::now(),
            settings,
        };
        // The campaign ports dial through the application (calls, carriers).
        cell.set(Some(state.clone()));
        Ok(state)
    }

    /// True while the e-mail provider is the sandbox.
    pub fn email_is_sandbox(&self) -> bool {
        self.email.is_sandbox()
    }
}
