//! `AppState`: the bundle of services that `http/` and start-up see — cheap to clone
//! (handles and `Arc`s only). Each application service inside it holds only the parts it
//! uses; none of them holds the bundle.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use thruai_actors::{CampaignSupervisor, call::ports::LanguageModel};

use crate::{
    app::{
        AgentModels,
        a2p::A2p,
        analysis::CallAnalysis,
        analytics::Analytics,
        billing::Billing,
        calls::{CallParts, Calls},
        campaigns,
        carriers::Carriers,
        email::Email,
        knowledge::Knowledge,
        tools::ToolDelivery,
        webhooks::Webhooks,
        workflows::{self, Workflows},
    },
    auth::Authenticator,
    config::Settings,
    crypto::Crypto,
    domain::pricing::Prices,
    idempotency::Idempotency,
    limits::RateLimiter,
    net::ssrf::UrlGuard,
    providers::{self, llm::SandboxLlm},
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
    /// Email: domains, mailboxes, sending, threads; its provider sends the platform's notices.
    pub email: Email,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The SSRF guard built from `security.url_allowlist` (URLs are checked at save time).
    pub url_guard: UrlGuard,
    /// Encrypts secrets at rest.
    pub crypto: Crypto,
    /// The language model used when an agent's provider has no live client (the sandbox).
    pub llm: Arc<dyn LanguageModel>,
    pub carriers: Carriers,
    pub tools: ToolDelivery,
    pub calls: Calls,
    pub campaigns: CampaignSupervisor,
    pub webhooks: Webhooks,
    pub a2p: A2p,
    pub analytics: Analytics,
    /// Post-call analysis (its worker starts with the server).
    pub analysis: CallAnalysis,
    /// Plans, subscriptions, payments and statements (its meter worker starts with the
    /// server).
    pub billing: Billing,
    /// Crawls, documents and hybrid search (its worker starts with the server).
    pub knowledge: Knowledge,
    /// Published workflows and their executions (the supervisor and the event feed start
    /// with the server).
    pub workflows: Workflows,
    /// The usage ledger's price table (`[billing.prices]`).
    pub prices: Arc<Prices>,
    pub started_at: chrono::DateTime<chrono::Utc>,
}

impl AppState {
    /// Connects the database (migrating when configured), Redis and the providers, and
    /// builds the services.
    ///
    /// # Errors
    /// When the database is unreachable, migrations fail or a provider is misconfigured.
    pub async fn connect(settings: Settings) -> anyhow::Result<Self> {
        let db = crate::store::connect(&settings.database).await?;
        if settings.database.migrate_on_start {
            crate::store::migrate(&db).await?;
        }
        let redis = RedisConn::from_settings(&settings.redis)?;
        if let Some(r) = &redis
            && !r.ping().await
        {
            tracing::warn!(
                redis = %crate::store::redact(&settings.redis.url),
                "Redis is unreachable: provisioning answers 503 until it is back (rate limits and \
                 idempotency locks fall back to this process)"
            );
        }
        let email = providers::email_sender(&settings, db.clone())?;
        // A database that lives and dies with the process (the demo, tests) holds nothing
        // worth the warnings below.
        let in_memory = settings.database.url.contains(":memory:") || settings.database.url.contains("mode=memory");
        if email.is_sandbox() && settings.email.sandbox_outbox && !in_memory {
            tracing::warn!(
                "email.sandbox_outbox is on: every sign-up code is readable at /_debug/sandbox/outbox from \
                 this machine — for development only"
            );
        }
        let trusted_proxies = settings
            .server
            .trusted_proxies
            .iter()
            .map(|p| crate::config::parse_net(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let url_guard = UrlGuard::new(&settings.security.url_allowlist).map_err(anyhow::Error::msg)?;
        // The one client for user-supplied URLs: guarded resolver, no redirects, no proxy.
        let outbound = url_guard
            .client(OUTBOUND_CONNECT_TIMEOUT)
            .map_err(|e| anyhow::anyhow!("building the guarded HTTP client: {e}"))?;
        // The client for operator-configured provider APIs (Twilio, LLMs, speech).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(OUTBOUND_CONNECT_TIMEOUT)
            .build()?;
        let crypto = Crypto::new(&settings.security.encryption_key, db.clone())?;
        if !crypto.is_configured() && !in_memory {
            tracing::warn!(
                "security.encryption_key is not set: secrets are sealed with a key generated into this same \
                 database, so a copy of the database alone opens them; set it in production (see docs/security.md)"
            );
        }
        let settings = Arc::new(settings);
        let llm: Arc<dyn LanguageModel> = Arc::new(SandboxLlm);
        let webhooks = Webhooks::start(
            &settings.webhooks,
            db.clone(),
            crypto.clone(),
            url_guard.clone(),
            outbound.clone(),
        );
        let prices = Arc::new(
            Prices::new(settings.billing.prices.clone()).with_plans(
                settings
                    .billing
                    .plans
                    .iter()
                    .map(|(id, p)| (id.clone(), p.prices.clone())),
            ),
        );
        let carriers = Carriers::new(db.clone(), crypto.clone(), http.clone(), &settings);
        let tools = ToolDelivery::new(url_guard.clone(), outbound.clone(), crypto.clone());
        let a2p = A2p::new(
            db.clone(),
            settings.a2p.clone(),
            carriers.clone(),
            settings.server.public_base_url.clone(),
            settings.testing.failpoint.clone(),
        );
        let knowledge = Knowledge::new(
            db.clone(),
            settings.knowledge.clone(),
            providers::embeddings::embedder(
                &settings.knowledge.embedder,
                &settings.providers.openai,
                &settings.knowledge.openai_model,
                (settings.knowledge.openai_dimensions > 0).then_some(settings.knowledge.openai_dimensions),
                Duration::from_millis(settings.knowledge.embed_timeout_ms),
            ),
            url_guard.clone(),
            outbound,
        );
        let calls = Calls::new(CallParts {
            db: db.clone(),
            settings: settings.calls.clone(),
            providers: settings.providers.clone(),
            http: http.clone(),
            public_base_url: settings.server.public_base_url.clone(),
            carriers: carriers.clone(),
            tools: tools.clone(),
            sandbox_llm: llm.clone(),
            prices: (*prices).clone(),
            knowledge: knowledge.clone(),
        });
        let campaigns = campaigns::supervisor(db.clone(), &settings, calls.clone());
        let models = AgentModels {
            providers: Arc::new(settings.providers.clone()),
            http,
            sandbox: llm.clone(),
        };
        let email = Email::new(
            db.clone(),
            settings.email.clone(),
            prices.clone(),
            email,
            models.clone(),
        );
        let billing = Billing::new(
            db.clone(),
            settings.billing.clone(),
            settings.rate_limit.plans.clone(),
            settings.rate_limit.default_plan.clone(),
            settings.server.public_base_url.clone(),
            providers::payments(&settings, db.clone())?,
        );
        let workflows = Workflows::start(workflows::Parts {
            db: db.clone(),
            settings: settings.workflows.clone(),
            calls: calls.clone(),
            email: email.clone(),
            webhooks: webhooks.clone(),
            crypto: crypto.clone(),
            prices: prices.clone(),
            models: models.clone(),
            public_base_url: settings.server.public_base_url.clone(),
            failpoint: settings.testing.failpoint.clone(),
        });
        let analytics = Analytics::new(db.clone(), providers::live::analyst(&settings.providers, &models.http));
        let analysis = CallAnalysis::new(db.clone(), settings.calls.clone(), models);
        Ok(Self {
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
            analytics,
            analysis,
            billing,
            knowledge,
            workflows,
            db,
            trusted_proxies: Arc::new(trusted_proxies),
            url_guard,
            crypto,
            llm,
            carriers,
            tools,
            calls,
            campaigns,
            webhooks,
            a2p,
            prices,
            started_at: chrono::Utc::now(),
            settings,
        })
    }

    /// True while the e-mail provider is the sandbox.
    pub fn email_is_sandbox(&self) -> bool {
        self.email.provider().is_sandbox()
    }
}
