//! Settings: `config/default.toml` (compiled in) → optional file → environment
//! (`THRUAI__SECTION__KEY`, plus `DATABASE_URL` / `REDIS_URL`), validated once at start.

use std::{collections::BTreeMap, net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Deserializer};

mod knowledge;
mod workflows;
pub use knowledge::KnowledgeSettings;
pub use workflows::WorkflowSettings;

/// The defaults, documented key by key.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub accounts: AccountSettings,
    pub rate_limit: RateLimitSettings,
    pub idempotency: IdempotencySettings,
    pub email: EmailSettings,
    pub security: SecuritySettings,
    pub webhooks: WebhookSettings,
    pub providers: ProviderSettings,
    pub sms: SmsSettings,
    pub a2p: A2pSettings,
    pub calls: CallSettings,
    pub campaigns: CampaignSettings,
    pub billing: BillingSettings,
    pub knowledge: KnowledgeSettings,
    pub workflows: WorkflowSettings,
    pub log: LogSettings,
    pub testing: TestingSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub max_body_bytes: usize,
    /// Time for a request's head (line and headers) to arrive.
    pub client_request_timeout_ms: u64,
    /// Time for a request's body to arrive, counted from its head.
    pub body_timeout_ms: u64,
    /// Requests in flight per client address (media-stream upgrades aside); 0: no cap.
    pub max_requests_per_client: usize,
    pub public_base_url: String,
    #[serde(deserialize_with = "string_or_list")]
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub migrate_on_start: bool,
    pub schema: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    pub key_prefix: String,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub cache_ttl_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    pub code_ttl_secs: u64,
    pub max_code_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub provisioning_max: u32,
    pub provisioning_window_secs: u64,
    pub default_plan: String,
    pub plans: BTreeMap<String, PlanLimit>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanLimit {
    pub requests_per_second: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencySettings {
    pub ttl_secs: u64,
    pub lock_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub provider: String,
    pub from: String,
    pub resend_api_key: String,
    pub resend_base_url: String,
    pub timeout_ms: u64,
    /// Development only: serve the sandbox e-mail provider's outbox (every sign-up code) at
    /// `/_debug/sandbox/outbox`, to loopback clients that are not behind a proxy.
    pub sandbox_outbox: bool,
    /// The signing secret (`whsec_…`) of the Resend webhook that posts to `/webhooks/resend`.
    pub resend_webhook_secret: String,
    /// How far a webhook's timestamp may be from now, in seconds.
    pub webhook_tolerance_secs: i64,
    /// How long a domain's verification may wait for its DNS records before it fails.
    pub verification_timeout_secs: u64,
    /// The most automatic replies an agent sends in one thread within an hour (loop guard).
    pub auto_reply_per_thread_per_hour: u32,
    /// The longest an agent's answer to an inbound message may take, in milliseconds.
    pub auto_reply_timeout_ms: u64,
}

/// Billing: the usage ledger's prices, the plans, the payment provider (Stripe, or its
/// sandbox), and whether an organisation must be paid up to place calls and send messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// `component → provider → USD per unit` (`default` for providers not named).
    pub prices: BTreeMap<String, BTreeMap<String, f64>>,
    /// `""`: Stripe with a key, else the sandbox; `stripe`, `sandbox`, or `none` (checkout,
    /// portal, payment methods and charges answer `STRIPE_NOT_CONFIGURED`).
    pub provider: String,
    pub stripe_api_key: String,
    pub stripe_base_url: String,
    /// The signing secret (`whsec_…`) of the Stripe endpoint that posts to `/webhooks/stripe`.
    pub stripe_webhook_secret: String,
    /// Sent as `Stripe-Version`; empty: the account's default.
    pub stripe_api_version: String,
    pub timeout_ms: u64,
    pub webhook_tolerance_secs: i64,
    /// When on, an organisation without an active plan, or with a negative balance, cannot
    /// place calls, start campaigns or send SMS and email (`BILLING_REQUIRED`).
    pub enforce: bool,
    /// How long an organisation found paid up stays admitted without asking again (the
    /// gate sums the month's ledger); a refusal is never remembered.
    pub admit_cache_ms: u64,
    /// The Billing Meter event every ledger entry is reported under (value: USD millionths);
    /// empty: usage is not reported.
    pub meter_event_name: String,
    pub meter_interval_ms: u64,
    pub meter_batch: u64,
    /// A charge whose answer was lost is asked again (same key) after this long, on the
    /// worker's pass; and ends `failed` (`unknown_outcome`) after `charge_give_up_secs`.
    pub charge_retry_after_secs: i64,
    pub charge_give_up_secs: i64,
    /// Where Checkout returns to when the request names no URL (empty: the server's own
    /// pages).
    pub success_url: String,
    pub cancel_url: String,
    /// The plans, by id; each has a `[rate_limit.plans]` entry of the same id.
    pub plans: BTreeMap<String, BillingPlan>,
}

/// A plan as sold: its price, what it includes, and its concurrency; its request rate is
/// `[rate_limit.plans.<id>]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BillingPlan {
    pub name: String,
    pub monthly_price_usd: f64,
    /// Usage included each period, in USD of the price table.
    pub included_usage_usd: f64,
    pub max_concurrent_calls: u32,
    /// The Stripe Price of its subscription (`price_…`); empty: not sold through Checkout.
    pub stripe_price: String,
    pub description: String,
    /// Overrides of `[billing.prices]` for the plan's organisations, same shape.
    #[serde(default)]
    pub prices: BTreeMap<String, BTreeMap<String, f64>>,
}

/// Where payments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentsKind {
    Stripe,
    Sandbox,
    None,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    #[serde(deserialize_with = "string_or_list")]
    pub url_allowlist: Vec<String>,
    /// Base64 of 32 bytes: the AES-256-GCM key for secrets at rest. Empty: a random key is
    /// generated on first use and kept in the database (`platform_secrets`).
    pub encryption_key: String,
    /// A production deployment: development conveniences that weaken it refuse to start.
    pub production: bool,
}

/// Outbound AI and telephony providers. An empty key means "not configured": the
/// provider is listed as unavailable and the sandbox stands in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub timeout_ms: u64,
    pub twilio: TwilioSettings,
    pub openai: ApiProviderSettings,
    pub anthropic: ApiProviderSettings,
    pub groq: ApiProviderSettings,
    pub elevenlabs: ApiProviderSettings,
    pub cartesia: ApiProviderSettings,
    pub deepgram: ApiProviderSettings,
    pub sandbox: SandboxProviderSettings,
}

/// The sandbox providers' simulated latency (0: answer at once).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxProviderSettings {
    pub stt_latency_ms: u64,
    pub llm_latency_ms: u64,
    pub tts_latency_ms: u64,
    /// Without an Anthropic key, written recommendations come from a deterministic
    /// stand-in (development and tests); off: they need the key.
    pub analyst: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioSettings {
    /// Scheme and host of Twilio's 2010 REST API (tests point it at a local fake).
    pub api_base: String,
    /// Platform-wide account, used by organisations without BYOC credentials.
    pub account_sid: String,
    pub auth_token: String,
    pub max_retries: u32,
    /// Scheme and host of the Messaging v1 API (A2P brands, services, campaigns).
    pub messaging_base: String,
    /// Scheme and host of the TrustHub v1 API (customer profiles, trust products).
    pub trusthub_base: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// HELP answer when the campaign has none; `{org}` is the organisation's name.
    pub help_text: String,
    /// The sandbox carrier's webhook signing token.
    pub sandbox_auth_token: String,
    pub sandbox_delivery_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct A2pSettings {
    pub sandbox_brand_review_ms: u64,
    pub sandbox_campaign_review_ms: u64,
    pub poll_initial_ms: u64,
    pub poll_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiProviderSettings {
    pub api_key: String,
    pub base_url: String,
    /// OpenAI only: the Realtime API's event-name generation, `ga` or `beta`.
    #[serde(default = "default_dialect")]
    pub realtime_dialect: String,
}

fn default_dialect() -> String {
    "ga".into()
}

impl ApiProviderSettings {
    pub fn configured(&self) -> bool {
        !self.api_key.trim().is_empty()
    }
}

impl TwilioSettings {
    /// True when a platform-wide Twilio account is configured.
    pub fn configured(&self) -> bool {
        !self.account_sid.trim().is_empty() && !self.auth_token.trim().is_empty()
    }
}

/// Outgoing webhooks: schedule, timeouts, leases, dispatcher cadence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    #[serde(deserialize_with = "durations")]
    pub retry_schedule: Vec<std::time::Duration>,
    pub jitter: f64,
    pub time_scale: f64,
    pub timeout_ms: u64,
    pub disable_after_secs: u64,
    pub max_retry_after_secs: u64,
    pub batch_size: u64,
    pub concurrent_batches: usize,
    pub lease_ms: u64,
    pub dispatch_interval_ms: u64,
    pub dispatch_batch: u64,
    pub sweep_interval_ms: u64,
    pub max_restarts: u32,
    pub restart_window_secs: u64,
    pub response_body_limit: usize,
}

impl WebhookSettings {
    /// Checks that cannot be expressed in types; each error names its key.
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err("webhooks.jitter: must be between 0 and 1".into());
        }
        if !(self.time_scale > 0.0 && self.time_scale.is_finite()) {
            return Err("webhooks.time_scale: must be a positive number".into());
        }
        if self.timeout_ms == 0 || self.batch_size == 0 || self.dispatch_batch == 0 || self.concurrent_batches == 0 {
            return Err(
                "webhooks.timeout_ms / batch_size / concurrent_batches / dispatch_batch: must be positive".into(),
            );
        }
        if self.lease_ms <= self.timeout_ms {
            return Err("webhooks.lease_ms: must exceed webhooks.timeout_ms".into());
        }
        if self.dispatch_interval_ms == 0 || self.sweep_interval_ms == 0 {
            return Err("webhooks.dispatch_interval_ms / sweep_interval_ms: must be positive".into());
        }
        Ok(())
    }
}

/// Live calls (`[calls]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallSettings {
    /// Auth token the sandbox carrier signs its webhooks with (`X-Twilio-Signature`).
    pub sandbox_auth_token: String,
    /// With nobody speaking this long, the agent ends the call.
    pub silence_timeout_ms: u64,
    /// How often the post-call analysis worker looks for ended calls.
    pub analysis_interval_ms: u64,
    /// The longest one analysis may take.
    pub analysis_timeout_ms: u64,
    /// The pause before a failed analysis is tried again.
    pub analysis_retry_ms: u64,
    /// Attempts before an analysis is given up (`failed`, with the reason).
    pub analysis_max_attempts: u32,
    /// An unanswered call ends this long after it was placed (Twilio's own default: 60 s).
    pub ring_timeout_secs: u64,
    /// The longest an answered call may last, when its agent sets no `maxDurationSeconds`.
    pub max_call_duration_secs: u64,
    /// Silence that ends the caller's turn when the agent sets no `minSilenceMs`.
    pub end_of_turn_silence_ms: u32,
    /// Caller speech that interrupts the agent when the agent sets no `sensitivityMs`.
    pub barge_in_ms: u32,
    /// Caller speech over the agent that stops its audio at once (`clear`).
    pub barge_in_pause_ms: u32,
    /// Silence after such a pause, without a confirmed interruption, before the agent
    /// resumes (when the agent sets no `falseInterruptionTimeoutMs`).
    pub false_interruption_ms: u32,
    /// VAD threshold: frames quieter than this RMS (16-bit linear) are silence.
    pub vad_threshold_rms: f32,
    /// Most characters of conversation sent to the LLM as context (0: no limit).
    pub llm_context_max_chars: usize,
    /// Most turns of conversation sent to the LLM as context (0: no limit).
    pub llm_context_max_turns: usize,
    /// Longest a sandbox far end keeps a call open, in seconds.
    pub sandbox_max_call_secs: u64,
    /// Restarts of a crashing call actor allowed per window before the call is failed.
    pub max_restarts: u32,
    pub restart_window_secs: u64,
}

/// Outbound campaigns (`[campaigns]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSettings {
    pub tick_ms: u64,
    pub lease_ms: u64,
    pub in_doubt_after_ms: u64,
    pub max_restarts: u32,
    pub restart_window_secs: u64,
    pub org_max_concurrent_calls: u32,
    pub max_contacts_per_request: usize,
    pub sandbox_call_ms: u64,
    pub max_call_secs: u64,
    pub dial_ahead: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: String,
    pub filter: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestingSettings {
    pub failpoint: String,
}

/// Which email provider the settings select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProviderKind {
    Sandbox,
    Resend,
}

impl Settings {
    /// Defaults → `file` (if given) → environment, then [`Settings::validate`].
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn load(file: Option<&Path>) -> Result<Self, String> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                return Err(format!("config file {} does not exist", path.display()));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment
            .merge(Env::raw().only(&["DATABASE_URL"]).map(|_| "database.url".into()))
            .merge(Env::raw().only(&["REDIS_URL"]).map(|_| "redis.url".into()))
            .merge(Env::prefixed("THRUAI__").split("__"));
        let settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                e.to_string()
            } else {
                format!("configuration key `{key}`: {e}")
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that cannot be expressed in types; each error names its key.
    ///
    /// # Errors
    /// A message naming the offending key.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_production()?;
        let url = &self.database.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(format!("database.url: expected sqlite:… or postgres://…, got `{url}`"));
        }
        if self.database.max_connections == 0 {
            return Err("database.max_connections: must be at least 1".into());
        }
        let redis_url = &self.redis.url;
        if !(redis_url.is_empty() || redis_url.starts_with("redis://") || redis_url.starts_with("rediss://")) {
            return Err(format!("redis.url: expected redis://…, got `{}`", self.redis.url));
        }
        if self.server.max_body_bytes < 1024 {
            return Err("server.max_body_bytes: must be at least 1024".into());
        }
        if self.server.client_request_timeout_ms == 0 || self.server.body_timeout_ms == 0 {
            return Err("server.client_request_timeout_ms and server.body_timeout_ms: must be above 0".into());
        }
        if !self.server.public_base_url.is_empty() && url::Url::parse(&self.server.public_base_url).is_err() {
            return Err(format!(
                "server.public_base_url: not a URL: `{}`",
                self.server.public_base_url
            ));
        }
        for proxy in &self.server.trusted_proxies {
            parse_net(proxy).map_err(|e| format!("server.trusted_proxies: {e}"))?;
        }
        self.payments()?;
        for (id, plan) in &self.billing.plans {
            if !self.rate_limit.plans.contains_key(id) {
                return Err(format!("billing.plans.{id}: has no rate_limit.plans.{id}"));
            }
            if !(plan.monthly_price_usd >= 0.0 && plan.included_usage_usd >= 0.0) || plan.max_concurrent_calls == 0 {
                return Err(format!(
                    "billing.plans.{id}: prices must not be negative and max_concurrent_calls must be positive"
                ));
            }
        }
        if let Some(id) = self
            .rate_limit
            .plans
            .keys()
            .find(|id| !self.billing.plans.contains_key(*id))
        {
            return Err(format!("rate_limit.plans.{id}: has no billing.plans.{id}"));
        }
        self.knowledge.validate()?;
        self.workflows.validate()?;
        if self.billing.charge_retry_after_secs < 0
            || self.billing.charge_give_up_secs <= self.billing.charge_retry_after_secs
        {
            return Err("billing.charge_give_up_secs: must exceed charge_retry_after_secs (both not negative)".into());
        }
        if self.billing.timeout_ms == 0 || self.billing.meter_interval_ms == 0 || self.billing.meter_batch == 0 {
            return Err("billing.timeout_ms / meter_interval_ms / meter_batch: must be positive".into());
        }
        if !self.rate_limit.plans.contains_key(&self.rate_limit.default_plan) {
            return Err(format!(
                "rate_limit.default_plan: `{}` is not one of rate_limit.plans ({})",
                self.rate_limit.default_plan,
                self.rate_limit.plans.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for (name, plan) in &self.rate_limit.plans {
            if plan.requests_per_second.is_nan() || plan.requests_per_second <= 0.0 || plan.burst == 0 {
                return Err(format!(
                    "rate_limit.plans.{name}: requests_per_second and burst must be positive"
                ));
            }
        }
        if self.rate_limit.provisioning_max == 0 || self.rate_limit.provisioning_window_secs == 0 {
            return Err("rate_limit.provisioning_max / provisioning_window_secs: must be positive".into());
        }
        if self.accounts.max_code_attempts == 0 || self.accounts.code_ttl_secs == 0 {
            return Err("accounts.code_ttl_secs / max_code_attempts: must be positive".into());
        }
        if self.idempotency.ttl_secs == 0 || self.idempotency.lock_ttl_secs == 0 {
            return Err("idempotency.ttl_secs / lock_ttl_secs: must be positive".into());
        }
        self.email_provider()?;
        self.webhooks.validate()?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(format!(
                "log.format: expected `text` or `json`, got `{}`",
                self.log.format
            ));
        }
        for entry in &self.security.url_allowlist {
            if entry.trim().is_empty() {
                return Err("security.url_allowlist: empty entry".into());
            }
            if entry.contains('/') {
                parse_net(entry).map_err(|e| format!("security.url_allowlist: {e}"))?;
            }
        }
        if !self.security.encryption_key.is_empty() {
            use base64::Engine as _;
            let key = base64::engine::general_purpose::STANDARD
                .decode(self.security.encryption_key.trim())
                .map_err(|_| "security.encryption_key: not valid base64".to_string())?;
            if key.len() != 32 {
                return Err(format!(
                    "security.encryption_key: must decode to 32 bytes (got {})",
                    key.len()
                ));
            }
        }
        if url::Url::parse(&self.providers.twilio.api_base).is_err() {
            return Err(format!(
                "providers.twilio.api_base: not a URL: `{}`",
                self.providers.twilio.api_base
            ));
        }
        if self.providers.twilio.account_sid.is_empty() != self.providers.twilio.auth_token.is_empty() {
            return Err("providers.twilio.account_sid / auth_token: set both or neither".into());
        }
        for (key, base) in [
            ("providers.twilio.messaging_base", &self.providers.twilio.messaging_base),
            ("providers.twilio.trusthub_base", &self.providers.twilio.trusthub_base),
        ] {
            if url::Url::parse(base).is_err() {
                return Err(format!("{key}: not a URL: `{base}`"));
            }
        }
        if self.sms.sandbox_auth_token.trim().is_empty() {
            return Err("sms.sandbox_auth_token: must not be empty".into());
        }
        if self.a2p.poll_initial_ms == 0 || self.a2p.poll_max_ms < self.a2p.poll_initial_ms {
            return Err("a2p.poll_initial_ms / poll_max_ms: must be positive, max at least initial".into());
        }
        let c = &self.campaigns;
        if c.tick_ms == 0 || c.lease_ms <= c.tick_ms || c.in_doubt_after_ms == 0 || c.restart_window_secs == 0 {
            return Err(
                "campaigns.tick_ms / lease_ms / in_doubt_after_ms / restart_window_secs: must be positive, lease_ms above tick_ms"
                    .into(),
            );
        }
        if c.max_call_secs == 0 {
            return Err("campaigns.max_call_secs: must be positive".into());
        }
        if c.org_max_concurrent_calls == 0 || !(1..=100_000).contains(&c.max_contacts_per_request) {
            return Err(
                "campaigns.org_max_concurrent_calls / max_contacts_per_request: must be positive (at most 100000 contacts)"
                    .into(),
            );
        }
        if self.providers.timeout_ms == 0 {
            return Err("providers.timeout_ms: must be positive".into());
        }
        // A workflow's failpoints may name the kind of step they stop at (`…:sms`).
        let failpoint = match self.testing.failpoint.split_once(':') {
            Some((name, "sms" | "email" | "call" | "webhook" | "wait")) if name.starts_with("workflow_") => name,
            _ => self.testing.failpoint.as_str(),
        };
        if !matches!(
            failpoint,
            "" | "abort_before_commit"
                | "abort_after_commit"
                | "a2p_abort_after_submit"
                | "campaign_abort_after_arm"
                | "campaign_abort_after_intent"
                | "campaign_abort_after_place"
                | "workflow_abort_after_intent"
                | "workflow_abort_after_effect"
        ) {
            return Err(format!(
                "testing.failpoint: unknown failpoint `{}`",
                self.testing.failpoint
            ));
        }
        Ok(())
    }

    /// The email provider in force: explicit, or Resend when a key is configured.
    ///
    /// # Errors
    /// When `email.provider` names an unknown provider or Resend lacks a key.
    pub fn email_provider(&self) -> Result<EmailProviderKind, String> {
        match self.email.provider.as_str() {
            "" if self.email.resend_api_key.is_empty() => Ok(EmailProviderKind::Sandbox),
            "" | "resend" if !self.email.resend_api_key.is_empty() => Ok(EmailProviderKind::Resend),
            "resend" => Err("email.resend_api_key: required when email.provider = \"resend\"".into()),
            "sandbox" => Ok(EmailProviderKind::Sandbox),
            other => Err(format!("email.provider: expected `sandbox` or `resend`, got `{other}`")),
        }
    }

    /// The payment provider the settings choose: Stripe with a key, else the sandbox.
    ///
    /// # Errors
    /// When `billing.provider` names an unknown provider or Stripe lacks a key.
    pub fn payments(&self) -> Result<PaymentsKind, String> {
        let keyed = !self.billing.stripe_api_key.is_empty();
        match self.billing.provider.as_str() {
            "" | "stripe" if keyed => Ok(PaymentsKind::Stripe),
            "" | "sandbox" => Ok(PaymentsKind::Sandbox),
            "stripe" => Err("billing.stripe_api_key: required when billing.provider = \"stripe\"".into()),
            "none" => Ok(PaymentsKind::None),
            other => Err(format!(
                "billing.provider: expected `stripe`, `sandbox` or `none`, got `{other}`"
            )),
        }
    }

    /// Overrides host and port from `HOST:PORT`.
    ///
    /// # Errors
    /// When `bind` is not a socket address.
    pub fn apply_bind(&mut self, bind: &str) -> Result<(), String> {
        let addr: SocketAddr = bind
            .parse()
            .map_err(|_| format!("--bind: expected HOST:PORT, got `{bind}`"))?;
        self.server.host = addr.ip().to_string();
        self.server.port = addr.port();
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }
}

/// An IP or CIDR.
///
/// # Errors
/// A message naming the entry.
pub fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<ipnet::IpNet>() {
        return Ok(net);
    }
    s.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("`{s}` is not an IP address or CIDR"))
}

/// A list of humantime durations (`["5s", "5m"]`).
/// A list of humantime durations, as a TOML list or a comma-separated string ("5ms,10ms").
fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<std::time::Duration>, D::Error> {
    string_or_list(d)?
        .iter()
        .map(|s| humantime::parse_duration(s).map_err(|e| serde::de::Error::custom(format!("'{s}': {e}"))))
        .collect()
}

/// Accepts a TOML list or a comma-separated string (the environment's form).
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        One(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(list) => list,
        Either::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    })
}

impl Settings {
    /// With `security.production`, what only development may do is refused: a generated
    /// encryption key kept beside the data it protects (on PostgreSQL, where a dump or a
    /// replica travels without the machine), the sandbox outbox, URLs to internal hosts,
    /// fault injection.
    fn validate_production(&self) -> Result<(), String> {
        if !self.security.production {
            return Ok(());
        }
        if !self.is_sqlite() && self.security.encryption_key.trim().is_empty() {
            return Err(
                "security.encryption_key: required in production on PostgreSQL (base64 of 32 bytes, \
                        `openssl rand -base64 32`); without it the key that seals every secret is kept in the \
                        same database"
                    .into(),
            );
        }
        if self.email.sandbox_outbox {
            return Err("email.sandbox_outbox: development only, refused with security.production".into());
        }
        if !self.security.url_allowlist.is_empty() {
            return Err("security.url_allowlist: development only, refused with security.production".into());
        }
        if !self.testing.failpoint.is_empty() {
            return Err("testing.failpoint: refused with security.production".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_what_only_development_may_do() {
        let mut s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        s.security.production = true;
        s.validate().unwrap();
        s.database.url = "postgres://postgres@127.0.0.1:5432/thruai".into();
        assert!(s.validate().unwrap_err().starts_with("security.encryption_key"));
        s.security.encryption_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into();
        s.validate().unwrap();
        s.email.sandbox_outbox = true;
        assert!(s.validate().unwrap_err().starts_with("email.sandbox_outbox"));
        s.email.sandbox_outbox = false;
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        assert!(s.validate().unwrap_err().starts_with("security.url_allowlist"));
    }

    #[test]
    fn the_compiled_in_defaults_load_and_validate() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        s.validate().unwrap();
        assert_eq!(s.server.port, 8080);
        assert!(s.is_sqlite());
        assert_eq!(s.email_provider().unwrap(), EmailProviderKind::Sandbox);
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string("[server]\nport = \"eighty\""))
            .extract::<Settings>()
            .unwrap_err();
        assert!(err.path.join(".").contains("port"), "{err}");
        let mut s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        s.database.url = "mysql://x".into();
        assert!(s.validate().unwrap_err().starts_with("database.url"));
        s.database.url = "sqlite::memory:".into();
        s.rate_limit.default_plan = "gold".into();
        assert!(s.validate().unwrap_err().starts_with("rate_limit.default_plan"));
    }

    #[test]
    fn lists_accept_comma_separated_strings() {
        let s: Settings = Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::string("[security]\nurl_allowlist = \"127.0.0.1/32, ::1/128\""))
            .extract()
            .unwrap();
        assert_eq!(s.security.url_allowlist, vec!["127.0.0.1/32", "::1/128"]);
    }

    #[test]
    fn bind_overrides_host_and_port() {
        let mut s: Settings = Figment::from(Toml::string(DEFAULT_TOML)).extract().unwrap();
        s.apply_bind("0.0.0.0:9000").unwrap();
        assert_eq!((s.server.host.as_str(), s.server.port), ("0.0.0.0", 9000));
        assert!(s.apply_bind("nope").is_err());
    }
}
