//! The server's policies as capabilities state them: limits (rate, body, timeouts,
//! idempotency, pagination, retries), field-name compatibility and the autonomous-mode rules.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, noise_reduction_values, strings};
use crate::{
    http::meta::discovery::{PlanLimitOut, plan_limits},
    state::AppState,
};

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningCapability {
    pub max_requests: u32,
    pub window_seconds: u64,
    pub scope: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitCapabilities {
    pub backend: String,
    pub provisioning: ProvisioningCapability,
    /// Keyed by plan name.
    pub plans: BTreeMap<String, PlanLimitOut>,
    pub headers: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BodyLimits {
    pub max_request_bytes: usize,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Range {
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Timeouts {
    pub provider_request_ms: u64,
    pub email_request_ms: u64,
    pub tool_webhook_seconds: Range,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyCapability {
    pub header: String,
    pub ttl_seconds: u64,
    pub in_flight_lock_seconds: u64,
    pub scope: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PaginationCapability {
    pub default_page_size: u64,
    pub max_page_size: u64,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TelephonyRetries {
    pub max_retries: u32,
    pub applies_to: String,
}

/// A condition a client retries on: an HTTP status, or a named condition.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum RetryOn {
    Status(u16),
    Condition(String),
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientRetries {
    pub retry_on: Vec<RetryOn>,
    pub backoff_seconds: Vec<u32>,
    pub max_attempts: u32,
    pub honour_retry_after: bool,
    pub reuse_idempotency_key: bool,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    pub telephony_provider: TelephonyRetries,
    pub client_recommended: ClientRetries,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LimitsOut {
    pub rate_limits: RateLimitCapabilities,
    pub bodies: BodyLimits,
    pub timeouts: Timeouts,
    pub idempotency: IdempotencyCapability,
    pub pagination: PaginationCapability,
    pub retries: Retries,
}

pub(super) fn limits(state: &AppState) -> LimitsOut {
    let s = &state.settings;
    let (max, window) = state.limiter.provisioning();
    let statuses = [429, 500, 502, 503, 504];
    LimitsOut {
        rate_limits: RateLimitCapabilities {
            backend: state.limiter.backend().into(),
            provisioning: ProvisioningCapability {
                max_requests: max,
                window_seconds: window,
                scope: "client IP, strict sliding window".into(),
            },
            plans: plan_limits(state),
            headers: strings(&["RateLimit", "RateLimit-Policy", "Retry-After (on 429)"]),
        },
        bodies: BodyLimits {
            max_request_bytes: s.server.max_body_bytes,
        },
        timeouts: Timeouts {
            provider_request_ms: s.providers.timeout_ms,
            email_request_ms: s.email.timeout_ms,
            tool_webhook_seconds: Range { min: 1, max: 30 },
        },
        idempotency: IdempotencyCapability {
            header: "Idempotency-Key".into(),
            ttl_seconds: s.idempotency.ttl_secs,
            in_flight_lock_seconds: s.idempotency.lock_ttl_secs,
            scope: "organisation (or client IP when unauthenticated) + method + route".into(),
        },
        pagination: PaginationCapability {
            default_page_size: PAGE_SIZE_DEFAULT,
            max_page_size: PAGE_SIZE_MAX,
        },
        retries: Retries {
            telephony_provider: TelephonyRetries {
                max_retries: s.providers.twilio.max_retries,
                applies_to: "GET and DELETE to Twilio".into(),
            },
            client_recommended: ClientRetries {
                retry_on: statuses
                    .into_iter()
                    .map(RetryOn::Status)
                    .chain([RetryOn::Condition("network error".into())])
                    .collect(),
                backoff_seconds: vec![1, 2, 4, 8],
                max_attempts: 5,
                honour_retry_after: true,
                reuse_idempotency_key: true,
            },
        },
    }
}

/// One field and the names or values it also goes by.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldCompatibility {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_returned: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Option<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MetadataCompatibility {
    pub description: String,
    /// Keyed by resource.
    pub resources: BTreeMap<String, Vec<FieldCompatibility>>,
}

fn field(name: &str) -> FieldCompatibility {
    FieldCompatibility {
        field: name.into(),
        aliases: None,
        also_returned: None,
        maps_to: None,
        values: None,
        default: None,
        note: None,
    }
}

pub(super) fn metadata_compatibility() -> MetadataCompatibility {
    let alias = |name: &str, alias: &str, also_returned: bool, note: Option<&str>| FieldCompatibility {
        aliases: Some(strings(&[alias])),
        also_returned: also_returned.then(|| strings(&[alias])),
        note: note.map(str::to_string),
        ..field(name)
    };
    let maps_to = |name: &str, target: &str| FieldCompatibility {
        maps_to: Some(target.into()),
        ..field(name)
    };
    let resources = [
        ("webhooks", vec![alias("isActive", "enabled", true, None)]),
        ("calls", vec![alias("id", "callId", true, None)]),
        (
            "agentTelephony",
            vec![alias(
                "phoneNumberId",
                "phoneNumber",
                false,
                Some("give the id (TEL-...) or the E.164 number"),
            )],
        ),
        (
            "agentQuickstart",
            vec![maps_to("voice", "s2sVoice"), maps_to("model", "s2sModel")],
        ),
        (
            "agents",
            vec![FieldCompatibility {
                values: Some(noise_reduction_values()),
                default: Some("near_field".into()),
                ..field("s2sConfig.noiseReduction")
            }],
        ),
        (
            "pagination",
            vec![alias(
                "pageSize",
                "limit",
                false,
                Some("limit/offset only on webhook deliveries"),
            )],
        ),
    ];
    MetadataCompatibility {
        description: "Field names each resource accepts for the same value; writes may use any alias, reads carry the canonical name (and the aliases listed under alsoReturned)".into(),
        resources: resources
            .into_iter()
            .map(|(name, fields)| (name.to_string(), fields))
            .collect(),
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StrictContracts {
    pub enabled: bool,
    pub unknown_fields: String,
    pub schemas: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MandatoryPreflight {
    pub enabled: bool,
    pub before: Vec<String>,
    pub operations: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeterministicRetries {
    pub enabled: bool,
    pub idempotency_key: String,
    pub replay_header: String,
    pub retry_on: Vec<u16>,
    pub backoff_seconds: Vec<u32>,
}

/// The rules an autonomous agent driving the API follows.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutonomousMode {
    pub strict_contracts: StrictContracts,
    pub mandatory_preflight: MandatoryPreflight,
    pub deterministic_retries: DeterministicRetries,
    pub bootstrap: String,
    /// Headers carried end to end.
    pub tracing: Vec<String>,
}

pub(super) fn autonomous_mode() -> AutonomousMode {
    AutonomousMode {
        strict_contracts: StrictContracts {
            enabled: true,
            unknown_fields: "rejected with VALIDATION_ERROR and a suggestion for near misses".into(),
            schemas: strings(&[
                "/api/v1/public/_debug/schemas",
                "/openapi.json",
                "MCP tools/list inputSchema",
            ]),
        },
        mandatory_preflight: MandatoryPreflight {
            enabled: true,
            before: strings(&["assigning a phone number", "placing a call"]),
            operations: strings(&["preflight_agent", "simulate_agent", "preview_agent"]),
        },
        deterministic_retries: DeterministicRetries {
            enabled: true,
            idempotency_key: "required on every mutating request made by an autonomous agent; reuse it on retry".into(),
            replay_header: "X-Idempotent-Replayed".into(),
            retry_on: vec![429, 500, 502, 503, 504],
            backoff_seconds: vec![1, 2, 4, 8],
        },
        bootstrap: "/api/v1/public/profile".into(),
        tracing: strings(&["X-Request-Id", "X-Trace-Id", "X-Parent-Id"]),
    }
}
