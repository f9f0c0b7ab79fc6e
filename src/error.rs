//! The one table of error codes — every status the API answers with is chosen here, from
//! the contract's `errorCodes` — and `ApiError`, what a request fails with. Errors of the
//! layers below know their code ([`CodedError`]) and convert into it once, keeping their
//! cause. How an `ApiError` is written on the wire is `http`'s business.

use actix_web::http::StatusCode;
use sea_orm::{DbErr, SqlErr};
use serde_json::{Value, json};

/// The contract's error codes (plus two transport-level codes it leaves out, marked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    TwilioAuthError,
    TwilioPermissionDenied,
    RateLimited,
    BillingRequired,
    InvalidNumber,
    NotFound,
    TelephonyError,
    PaymentFailed,
    StripeInvalidRequest,
    StripeAuthError,
    StripeUnavailable,
    StripePermissionDenied,
    PaymentError,
    DomainNotVerified,
    EmailProviderError,
    ValidationError,
    ResourceConflict,
    RelatedNotFound,
    DatabaseError,
    ServiceUnavailable,
    UpstreamUnavailable,
    InternalError,
    Unauthorized,
    Forbidden,
    UserExists,
    SlugTaken,
    InvalidCode,
    CodeExpired,
    CreateFailed,
    FetchFailed,
    UpdateFailed,
    DeleteFailed,
    TriggerFailed,
    PublishFailed,
    UnpublishFailed,
    SubscriptionExists,
    MissingEmail,
    InvalidPlan,
    NoCustomer,
    BrandNotFound,
    BrandNotApproved,
    BrandExists,
    CampaignNotFound,
    CampaignNotApproved,
    TwilioNotConfigured,
    TwilioAuthFailed,
    TwilioAccountSuspended,
    NumberConflict,
    StripeNotConfigured,
    TelephonyNotConfigured,
    NoActiveNumbers,
    NumberExists,
    InvalidAgent,
    InvalidWorkflow,
    WorkflowNotPublished,
    ApiKeyMissing,
    InvalidApiKey,
    InvalidApiKeyFormat,
    ApiKeyRevoked,
    ApiKeyExpired,
    RateLimitExceeded,
    InvalidState,
    /// Not in the contract's table: a body over `server.max_body_bytes` (413).
    PayloadTooLarge,
    /// Not in the contract's table: a path served for other methods only (405).
    MethodNotAllowed,
    /// Not in the contract's table: a body that did not arrive within `server.body_timeout_ms` (408).
    RequestTimeout,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::TwilioAuthError,
        Self::TwilioPermissionDenied,
        Self::RateLimited,
        Self::BillingRequired,
        Self::InvalidNumber,
        Self::NotFound,
        Self::TelephonyError,
        Self::PaymentFailed,
        Self::StripeInvalidRequest,
        Self::StripeAuthError,
        Self::StripeUnavailable,
        Self::StripePermissionDenied,
        Self::PaymentError,
        Self::DomainNotVerified,
        Self::EmailProviderError,
        Self::ValidationError,
        Self::ResourceConflict,
        Self::RelatedNotFound,
        Self::DatabaseError,
        Self::ServiceUnavailable,
        Self::UpstreamUnavailable,
        Self::InternalError,
        Self::Unauthorized,
        Self::Forbidden,
        Self::UserExists,
        Self::SlugTaken,
        Self::InvalidCode,
        Self::CodeExpired,
        Self::CreateFailed,
        Self::FetchFailed,
        Self::UpdateFailed,
        Self::DeleteFailed,
        Self::TriggerFailed,
        Self::PublishFailed,
        Self::UnpublishFailed,
        Self::SubscriptionExists,
        Self::MissingEmail,
        Self::InvalidPlan,
        Self::NoCustomer,
        Self::BrandNotFound,
        Self::BrandNotApproved,
        Self::BrandExists,
        Self::CampaignNotFound,
        Self::CampaignNotApproved,
        Self::TwilioNotConfigured,
        Self::TwilioAuthFailed,
        Self::TwilioAccountSuspended,
        Self::NumberConflict,
        Self::StripeNotConfigured,
        Self::TelephonyNotConfigured,
        Self::NoActiveNumbers,
        Self::NumberExists,
        Self::InvalidAgent,
        Self::InvalidWorkflow,
        Self::WorkflowNotPublished,
        Self::ApiKeyMissing,
        Self::InvalidApiKey,
        Self::InvalidApiKeyFormat,
        Self::ApiKeyRevoked,
        Self::ApiKeyExpired,
        Self::RateLimitExceeded,
        Self::InvalidState,
        Self::PayloadTooLarge,
        Self::MethodNotAllowed,
        Self::RequestTimeout,
    ];

    /// (wire code, HTTP status, description, source) — the only place a status is chosen.
    pub fn spec(self) -> (&'static str, u16, &'static str, Option<&'static str>) {
        use ErrorCode::*;
        match self {
            TwilioAuthError => (
                "TWILIO_AUTH_ERROR",
                502,
                "Twilio authentication failed",
                Some("telephony"),
            ),
            TwilioPermissionDenied => (
                "TWILIO_PERMISSION_DENIED",
                502,
                "Twilio account lacks required permissions",
                Some("telephony"),
            ),
            RateLimited => (
                "RATE_LIMITED",
                429,
                "Rate limit exceeded (may originate from telephony or payment providers)",
                Some("telephony/payment"),
            ),
            BillingRequired => (
                "BILLING_REQUIRED",
                402,
                "Billing setup required or insufficient balance",
                Some("telephony"),
            ),
            InvalidNumber => ("INVALID_NUMBER", 400, "Invalid phone number", Some("telephony")),
            NotFound => (
                "NOT_FOUND",
                404,
                "Resource not found (may originate from telephony or general route lookups)",
                Some("telephony/general"),
            ),
            TelephonyError => ("TELEPHONY_ERROR", 502, "Unexpected telephony error", Some("telephony")),
            PaymentFailed => ("PAYMENT_FAILED", 402, "Payment method declined", Some("payment")),
            StripeInvalidRequest => (
                "STRIPE_INVALID_REQUEST",
                400,
                "Invalid payment request",
                Some("payment"),
            ),
            StripeAuthError => (
                "STRIPE_AUTH_ERROR",
                502,
                "Payment provider authentication failed",
                Some("payment"),
            ),
            StripeUnavailable => (
                "STRIPE_UNAVAILABLE",
                502,
                "Payment provider temporarily unavailable",
                Some("payment"),
            ),
            StripePermissionDenied => (
                "STRIPE_PERMISSION_DENIED",
                502,
                "Payment provider permission denied",
                Some("payment"),
            ),
            PaymentError => ("PAYMENT_ERROR", 502, "Unexpected payment error", Some("payment")),
            DomainNotVerified => (
                "DOMAIN_NOT_VERIFIED",
                400,
                "Email domain is not verified — verify via POST /email-domains/:id/verify before sending",
                Some("email"),
            ),
            EmailProviderError => (
                "EMAIL_PROVIDER_ERROR",
                502,
                "Unexpected email provider error",
                Some("email"),
            ),
            ValidationError => ("VALIDATION_ERROR", 400, "Request validation failed", Some("validation")),
            ResourceConflict => (
                "RESOURCE_CONFLICT",
                409,
                "Record already exists (duplicate)",
                Some("database"),
            ),
            RelatedNotFound => (
                "RELATED_NOT_FOUND",
                404,
                "Referenced record not found",
                Some("database"),
            ),
            DatabaseError => ("DATABASE_ERROR", 500, "Database error", Some("database")),
            ServiceUnavailable => (
                "SERVICE_UNAVAILABLE",
                503,
                "Database temporarily unavailable",
                Some("database"),
            ),
            UpstreamUnavailable => (
                "UPSTREAM_UNAVAILABLE",
                502,
                "An upstream service is temporarily unavailable (network-level failure)",
                Some("network"),
            ),
            InternalError => ("INTERNAL_ERROR", 500, "Unexpected error (fallback)", None),
            Unauthorized => ("UNAUTHORIZED", 401, "Authentication required", Some("authentication")),
            Forbidden => ("FORBIDDEN", 403, "Insufficient permissions", Some("authentication")),
            UserExists => (
                "USER_EXISTS",
                409,
                "A user with this email already exists",
                Some("provisioning"),
            ),
            SlugTaken => (
                "SLUG_TAKEN",
                409,
                "Organization slug already taken",
                Some("provisioning"),
            ),
            InvalidCode => (
                "INVALID_CODE",
                401,
                "Invalid or expired verification code",
                Some("provisioning"),
            ),
            CodeExpired => (
                "CODE_EXPIRED",
                401,
                "Verification code has expired",
                Some("provisioning"),
            ),
            CreateFailed => ("CREATE_FAILED", 500, "Failed to create resource", None),
            FetchFailed => ("FETCH_FAILED", 500, "Failed to fetch resource", None),
            UpdateFailed => ("UPDATE_FAILED", 500, "Failed to update resource", None),
            DeleteFailed => ("DELETE_FAILED", 500, "Failed to delete resource", None),
            TriggerFailed => ("TRIGGER_FAILED", 500, "Failed to trigger workflow execution", None),
            PublishFailed => ("PUBLISH_FAILED", 500, "Failed to publish workflow", None),
            UnpublishFailed => ("UNPUBLISH_FAILED", 500, "Failed to unpublish workflow", None),
            SubscriptionExists => (
                "SUBSCRIPTION_EXISTS",
                400,
                "Organization already has an active subscription",
                Some("billing"),
            ),
            MissingEmail => ("MISSING_EMAIL", 400, "No billing or owner email found", Some("billing")),
            InvalidPlan => ("INVALID_PLAN", 400, "Specified plan not found", Some("billing")),
            NoCustomer => ("NO_CUSTOMER", 400, "No billing customer exists", Some("billing")),
            BrandNotFound => (
                "BRAND_NOT_FOUND",
                404,
                "A2P brand registration not found",
                Some("compliance"),
            ),
            BrandNotApproved => (
                "BRAND_NOT_APPROVED",
                400,
                "Brand must be approved before this action",
                Some("compliance"),
            ),
            BrandExists => (
                "BRAND_EXISTS",
                409,
                "Organization already has a brand registration",
                Some("compliance"),
            ),
            CampaignNotFound => ("CAMPAIGN_NOT_FOUND", 404, "A2P campaign not found", Some("compliance")),
            CampaignNotApproved => (
                "CAMPAIGN_NOT_APPROVED",
                400,
                "Campaign must be approved before adding phone numbers",
                Some("compliance"),
            ),
            TwilioNotConfigured => (
                "TWILIO_NOT_CONFIGURED",
                400,
                "No Twilio credentials configured — use PUT /telephony/credentials to set up BYOC",
                Some("telephony"),
            ),
            TwilioAuthFailed => (
                "TWILIO_AUTH_FAILED",
                401,
                "Twilio credential validation failed — check Account SID and Auth Token",
                Some("telephony"),
            ),
            TwilioAccountSuspended => (
                "TWILIO_ACCOUNT_SUSPENDED",
                403,
                "Twilio account is suspended — contact Twilio support",
                Some("telephony"),
            ),
            NumberConflict => (
                "NUMBER_CONFLICT",
                409,
                "Phone number belongs to a different organization",
                Some("telephony"),
            ),
            StripeNotConfigured => (
                "STRIPE_NOT_CONFIGURED",
                503,
                "Payment processing not configured",
                Some("payment"),
            ),
            TelephonyNotConfigured => (
                "TELEPHONY_NOT_CONFIGURED",
                400,
                "No phone numbers configured for organization",
                Some("telephony"),
            ),
            NoActiveNumbers => (
                "NO_ACTIVE_NUMBERS",
                400,
                "No active phone numbers available",
                Some("telephony"),
            ),
            NumberExists => (
                "NUMBER_EXISTS",
                409,
                "Phone number already provisioned",
                Some("telephony"),
            ),
            InvalidAgent => (
                "INVALID_AGENT",
                400,
                "Agent not found or does not belong to organization",
                Some("validation"),
            ),
            InvalidWorkflow => (
                "INVALID_WORKFLOW",
                400,
                "Workflow not found or does not belong to organization",
                Some("validation"),
            ),
            WorkflowNotPublished => (
                "WORKFLOW_NOT_PUBLISHED",
                400,
                "Workflow is not published",
                Some("validation"),
            ),
            ApiKeyMissing => ("API_KEY_MISSING", 401, "API key required", Some("authentication")),
            InvalidApiKey => ("INVALID_API_KEY", 401, "Invalid API key", Some("authentication")),
            InvalidApiKeyFormat => (
                "INVALID_API_KEY_FORMAT",
                401,
                "API key format is invalid",
                Some("authentication"),
            ),
            ApiKeyRevoked => (
                "API_KEY_REVOKED",
                401,
                "API key has been revoked",
                Some("authentication"),
            ),
            ApiKeyExpired => ("API_KEY_EXPIRED", 401, "API key has expired", Some("authentication")),
            RateLimitExceeded => ("RATE_LIMIT_EXCEEDED", 429, "Too many requests", Some("rate-limit")),
            InvalidState => (
                "INVALID_STATE",
                400,
                "Resource is in an invalid state for the requested operation",
                Some("validation"),
            ),
            PayloadTooLarge => (
                "PAYLOAD_TOO_LARGE",
                413,
                "Request body exceeds the size limit (extension to the contract's table)",
                Some("transport"),
            ),
            MethodNotAllowed => (
                "METHOD_NOT_ALLOWED",
                405,
                "The path exists but not for this method (extension to the contract's table)",
                Some("transport"),
            ),
            RequestTimeout => (
                "REQUEST_TIMEOUT",
                408,
                "The request body did not arrive in time (extension to the contract's table)",
                Some("transport"),
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.spec().0
    }

    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().1).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The table as served in the self-description.
    pub fn table() -> Value {
        let mut map = serde_json::Map::new();
        for code in Self::ALL {
            let (name, status, description, source) = code.spec();
            let mut entry = json!({ "status": status, "description": description });
            if let Some(source) = source {
                entry["source"] = json!(source);
            }
            map.insert(name.to_string(), entry);
        }
        Value::Object(map)
    }
}

/// An error answered to the client in the envelope. For 5xx the message is generic and
/// the cause is logged with the request id.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Option<Value>,
    /// Extra response headers (`Retry-After`, `Allow`, rate-limit fields).
    pub headers: Vec<(&'static str, String)>,
    /// A 5xx whose message the client may see (it names what is unavailable, nothing
    /// internal); other 5xx show the code's generic description.
    pub public: bool,
    source: Option<anyhow::Error>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(source) = &self.source {
            write!(f, " (caused by: {source:#})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            headers: Vec::new(),
            public: false,
            source: None,
        }
    }

    /// A dependency is down: a 5xx whose message (what is unavailable, what to do) the
    /// client sees.
    pub fn unavailable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            public: true,
            ..Self::new(code, message)
        }
    }

    /// `Agent 'AGT-123' not found`.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{kind} '{id}' not found"))
    }

    /// A 400 with field-level details `[{field, message}]`.
    pub fn validation(details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("Validation failed: {}: {}", one.field, one.message),
            many => format!("Validation failed on {} fields", many.len()),
        };
        let mut err = Self::new(ErrorCode::ValidationError, message);
        err.details = Some(serde_json::to_value(&details).unwrap_or(Value::Null));
        err
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// A server-side failure: the client sees only the code's generic description.
    pub fn internal(code: ErrorCode, source: impl Into<anyhow::Error>) -> Self {
        let mut err = Self::new(code, code.spec().2);
        err.source = Some(source.into());
        err
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }
}

/// One field's problem, as carried in `error.details`.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            suggestion: None,
        }
    }
}

/// The contract code of a database failure.
pub fn db_code(err: &DbErr) -> ErrorCode {
    match err.sql_err() {
        _ if matches!(err, DbErr::RecordNotFound(_)) => ErrorCode::NotFound,
        Some(SqlErr::UniqueConstraintViolation(_)) => ErrorCode::ResourceConflict,
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => ErrorCode::RelatedNotFound,
        _ if matches!(err, DbErr::Conn(_) | DbErr::ConnectionAcquire(_)) => ErrorCode::ServiceUnavailable,
        _ => ErrorCode::DatabaseError,
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        match db_code(&err) {
            ErrorCode::NotFound => {
                let what = match &err {
                    DbErr::RecordNotFound(what) => what.clone(),
                    _ => "record".into(),
                };
                Self::new(ErrorCode::NotFound, format!("{what} not found"))
            }
            ErrorCode::ResourceConflict => Self::new(
                ErrorCode::ResourceConflict,
                "A record with the same unique fields already exists",
            )
            .with_source(err),
            ErrorCode::RelatedNotFound => {
                Self::new(ErrorCode::RelatedNotFound, "A referenced record does not exist").with_source(err)
            }
            code => Self::internal(code, err),
        }
    }
}

/// An error of a layer below HTTP that knows the contract code it answers with. Its
/// `Display` is the client's message for a 4xx code; for a 5xx code the client sees the
/// code's generic description and the error is logged as the cause.
pub trait CodedError: std::error::Error + Send + Sync + 'static {
    fn code(&self) -> ErrorCode;

    /// Field-level details (`[{field, message}]`) when the error is about fields.
    fn details(&self) -> Option<Value> {
        None
    }
}

impl<E: CodedError> From<E> for ApiError {
    fn from(err: E) -> Self {
        let code = err.code();
        if code.status().is_server_error() {
            return Self::internal(code, err);
        }
        let mut out = Self::new(code, err.to_string());
        out.details = err.details();
        out.with_source(err)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::internal(ErrorCode::InternalError, err)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_has_a_unique_wire_name_and_a_valid_status() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let (name, status, description, _) = code.spec();
            assert!(seen.insert(name), "duplicate {name}");
            assert!(StatusCode::from_u16(status).is_ok(), "{name}");
            assert!(!description.is_empty());
            assert_eq!(code.status().as_u16(), status);
        }
        assert_eq!(seen.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn the_table_matches_the_contract() {
        let contract: Value = serde_json::from_str(include_str!("http/meta/contract_meta.json")).unwrap();
        let ours = ErrorCode::table();
        for (name, entry) in contract["errorCodes"].as_object().unwrap() {
            assert_eq!(ours[name]["status"], entry["status"], "{name}");
        }
    }
}
