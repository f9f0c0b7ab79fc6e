//! Twilio REST client (2010-04-01 API: accounts, phone numbers, calls, messages) and the
//! `X-Twilio-Signature` webhook helpers. Form-encoded requests, JSON responses, HTTP Basic
//! auth; retries only where a repeat cannot duplicate an effect (see [`TwilioClient`]).
#![forbid(unsafe_code)]

pub mod a2p;
mod resources;
mod signature;
mod wire;

pub use signature::{compute_signature, validate_signature};
use wire::opt_i64;
pub use wire::*;

use std::{
    error::Error as _,
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use reqwest::{Method, StatusCode, header};
use serde::{Deserialize, de::DeserializeOwned};
use url::Url;

use crate::error::{CodedError, ErrorCode};

/// Twilio's production API host for the 2010 API.
pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";
const API_VERSION: &str = "2010-04-01";
/// List endpoints follow `next_page_uri` at most this many pages.
const MAX_PAGES: usize = 20;
/// A `Retry-After` longer than this is not waited out: the error goes back to the caller.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(3);
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

// ---------------------------------------------------------------------------------------------
// Configuration and errors
// ---------------------------------------------------------------------------------------------

/// Settings shared by every request of a [`TwilioClient`].
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Scheme and host of the 2010 API, e.g. `https://api.twilio.com` (no trailing path needed).
    pub api_base: String,
    /// Whole-request timeout (connect, send, and read the full body), per attempt.
    pub timeout: Duration,
    /// Extra attempts after the first one, for the requests that may be retried.
    pub max_retries: u32,
}

impl Default for TwilioConfig {
    fn default() -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            timeout: Duration::from_secs(15),
            max_retries: 2,
        }
    }
}

/// Everything a Twilio call can fail with, already sorted into what the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// 401 or code 20003: wrong Account SID / Auth Token pair.
    #[error("Twilio rejected the credentials: {message}")]
    AuthFailed { code: Option<i64>, message: String },
    /// Codes 20005 / 10001, or an account whose status is `suspended` or `closed`.
    #[error("Twilio account is not active: {message}")]
    AccountSuspended { code: Option<i64>, message: String },
    /// 404 or code 20404.
    #[error("Twilio resource not found: {message}")]
    NotFound { code: Option<i64>, message: String },
    /// Codes 21211, 21214, 21217, 21421, 21422, 21614.
    #[error("invalid or unavailable phone number: {message}")]
    InvalidNumber { code: Option<i64>, message: String },
    /// Code 21610: the recipient replied STOP to this sender.
    #[error("recipient has opted out: {message}")]
    OptedOut { code: Option<i64>, message: String },
    /// 403 or code 21408 (region/permission not enabled).
    #[error("Twilio permission denied: {message}")]
    PermissionDenied { code: Option<i64>, message: String },
    /// 429 or code 20429; `retry_after` is the server's `Retry-After` in seconds.
    #[error("Twilio rate limit reached (retry after {retry_after:?} s)")]
    RateLimited { retry_after: Option<u64> },
    /// Any other 4xx.
    #[error("Twilio API error: HTTP {status}, code {code:?}: {message}")]
    Api {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// Network error, timeout, or 5xx (after retries where retries apply). For a POST that
    /// creates something the outcome is unknown: reconcile (e.g. `list_calls_to`) before redoing.
    #[error("Twilio unavailable: {0}")]
    Unavailable(String),
    /// A success status with a body that is not the expected JSON.
    #[error("could not decode Twilio response: {0}")]
    Decode(String),
}

impl CodedError for TwilioError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::AuthFailed { .. } => ErrorCode::TwilioAuthFailed,
            Self::AccountSuspended { .. } => ErrorCode::TwilioAccountSuspended,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::InvalidNumber { .. } => ErrorCode::InvalidNumber,
            Self::PermissionDenied { .. } => ErrorCode::TwilioPermissionDenied,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::UpstreamUnavailable,
            Self::OptedOut { .. } | Self::Api { .. } | Self::Decode(_) => ErrorCode::TelephonyError,
        }
    }
}

impl TwilioError {
    /// Twilio's numeric error code, when the response carried one.
    #[must_use]
    pub fn twilio_code(&self) -> Option<i64> {
        match self {
            Self::AuthFailed { code, .. }
            | Self::AccountSuspended { code, .. }
            | Self::NotFound { code, .. }
            | Self::InvalidNumber { code, .. }
            | Self::OptedOut { code, .. }
            | Self::PermissionDenied { code, .. }
            | Self::Api { code, .. } => *code,
            Self::RateLimited { .. } | Self::Unavailable(_) | Self::Decode(_) => None,
        }
    }

    /// True when trying again later may succeed (rate limit, outage, timeout).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::RateLimited { .. } | Self::Unavailable(_))
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

/// Whether a failed request may be sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryPolicy {
    /// GET and DELETE: repeat on network errors, timeouts, 5xx and 429.
    Safe,
    /// POST: repeat only on a connect error (DNS/TCP/TLS failed, so no request byte was sent).
    /// A timeout, a reset after sending, a 5xx or a 429 is returned to the caller as is.
    ConnectOnly,
}

/// Twilio REST client for one account. Cheap to clone.
///
/// Retries: GETs and DELETEs are retried up to `max_retries` times on network errors,
/// timeouts, 5xx and 429 (exponential backoff from 200 ms, capped at 3 s, with jitter; a
/// `Retry-After` in seconds is honoured, and one above 10 s is not waited out). POSTs (buy a
/// number, create a call, send a message, and the updates) are retried only when the connection
/// could not be established, because then Twilio never saw the request. A POST that fails
/// any later way returns `Unavailable` and its effect is unknown.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    config: TwilioConfig,
    account_sid: String,
    auth_token: String,
    /// Scheme and host of the Messaging v1 API (see [`a2p`]).
    messaging_base: String,
    /// Scheme and host of the TrustHub v1 API (see [`a2p`]).
    trusthub_base: String,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient")
            .field("config", &self.config)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl TwilioClient {
    #[must_use]
    pub fn new(http: reqwest::Client, cfg: TwilioConfig, account_sid: String, auth_token: String) -> Self {
        Self {
            http,
            config: cfg,
            account_sid,
            auth_token,
            messaging_base: a2p::DEFAULT_MESSAGING_BASE.to_owned(),
            trusthub_base: a2p::DEFAULT_TRUSTHUB_BASE.to_owned(),
        }
    }

    /// Points the Messaging and TrustHub v1 APIs elsewhere (tests use a local fake).
    #[must_use]
    pub fn with_v1_hosts(mut self, messaging_base: &str, trusthub_base: &str) -> Self {
        messaging_base.clone_into(&mut self.messaging_base);
        trusthub_base.clone_into(&mut self.trusthub_base);
        self
    }

    #[must_use]
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    // -- plumbing ------------------------------------------------------------------------------

    fn check_account_sid(&self) -> Result<(), TwilioError> {
        if is_valid_sid(&self.account_sid) {
            Ok(())
        } else {
            Err(TwilioError::AuthFailed {
                code: None,
                message: "malformed Account SID".to_owned(),
            })
        }
    }

    /// `{api_base}/2010-04-01/Accounts/{AccountSid}/{tail...}?{query}`.
    fn account_url(&self, tail: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        self.check_account_sid()?;
        let mut segments = vec![API_VERSION, "Accounts", self.account_sid.as_str()];
        segments.extend_from_slice(tail);
        self.url(&segments, query)
    }

    fn url(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        let mut url = Url::parse(&self.config.api_base)
            .map_err(|e| TwilioError::Unavailable(format!("invalid Twilio api_base configuration: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| TwilioError::Unavailable("invalid Twilio api_base configuration".to_owned()))?
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Absolute URL for a `next_page_uri`, accepted only under this account's path so that the
    /// credentials are never sent anywhere else.
    fn next_page_url(&self, uri: &str) -> Result<Url, TwilioError> {
        let prefix = format!("/{API_VERSION}/Accounts/{}/", self.account_sid);
        if !uri.starts_with(&prefix) {
            return Err(TwilioError::Decode(format!("unexpected next_page_uri {uri:?}")));
        }
        let joined = format!("{}{uri}", self.config.api_base.trim_end_matches('/'));
        Url::parse(&joined).map_err(|e| TwilioError::Decode(format!("bad next_page_uri: {e}")))
    }

    async fn get_json<T: DeserializeOwned>(&self, url: Url) -> Result<T, TwilioError> {
        let body = self.execute(Method::GET, url, None, RetryPolicy::Safe).await?;
        decode(&body)
    }

    async fn post_json<T: DeserializeOwned>(&self, url: Url, form: &[(String, String)]) -> Result<T, TwilioError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let bytes = self
            .execute(Method::POST, url, Some(body), RetryPolicy::ConnectOnly)
            .await?;
        decode(&bytes)
    }

    async fn list_all<T: DeserializeOwned>(&self, first: Url, key: &str) -> Result<Vec<T>, TwilioError> {
        let mut out = Vec::new();
        let mut url = first;
        for page in 0..MAX_PAGES {
            let body = self.execute(Method::GET, url.clone(), None, RetryPolicy::Safe).await?;
            let (items, next) = split_page::<T>(&body, key)?;
            out.extend(items);
            let Some(next) = next else {
                return Ok(out);
            };
            let next = self.next_page_url(&next)?;
            if next == url {
                return Ok(out);
            }
            if page + 1 == MAX_PAGES {
                tracing::warn!(
                    path = url.path(),
                    pages = MAX_PAGES,
                    "Twilio list truncated at the page cap"
                );
            }
            url = next;
        }
        Ok(out)
    }

    /// Sends one logical request, retrying per `policy`. Returns the body of a 2xx response.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        form: Option<String>,
        policy: RetryPolicy,
    ) -> Result<Vec<u8>, TwilioError> {
        let mut attempt: u32 = 0;
        loop {
            let may_retry = attempt < self.config.max_retries;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .timeout(self.config.timeout)
                .header(header::ACCEPT, "application/json");
            if let Some(body) = &form {
                request = request
                    .header(header::CONTENT_TYPE, FORM_CONTENT_TYPE)
                    .body(body.clone());
            }
            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = parse_retry_after(response.headers());
                    response.bytes().await.map(|body| (status, retry_after, body.to_vec()))
                }
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) => {
                    let connect = e.is_connect();
                    if may_retry && (connect || policy == RetryPolicy::Safe) {
                        let wait = backoff(attempt);
                        tracing::warn!(
                            method = %method, path = url.path(), attempt, connect,
                            timeout = e.is_timeout(), wait = ?wait,
                            "Twilio request failed, retrying"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                    tracing::warn!(method = %method, path = url.path(), attempt, "Twilio request failed");
                    return Err(TwilioError::Unavailable(describe(&e)));
                }
                Ok((status, _, body)) if status.is_success() => {
                    tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), "Twilio request ok");
                    return Ok(body);
                }
                Ok((status, retry_after, body)) => {
                    let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
                    if transient && may_retry && policy == RetryPolicy::Safe {
                        let wait = retry_after.map_or_else(|| backoff(attempt), Duration::from_secs);
                        if wait <= MAX_RETRY_AFTER {
                            tracing::warn!(
                                method = %method, path = url.path(), status = status.as_u16(),
                                attempt, wait = ?wait,
                                "Twilio answered with a transient error, retrying"
                            );
                            tokio::time::sleep(wait).await;
                            attempt += 1;
                            continue;
                        }
                    }
                    let err = classify(status, retry_after, &body);
                    tracing::debug!(method = %method, path = url.path(), status = status.as_u16(), error = %err, "Twilio request rejected");
                    return Err(err);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Twilio SIDs are two letters and 32 hex digits; accept any short alphanumeric token so
/// that nothing can escape its path segment.
fn is_valid_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= 64 && sid.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_sid(sid: &str) -> Result<(), TwilioError> {
    if is_valid_sid(sid) {
        Ok(())
    } else {
        Err(TwilioError::NotFound {
            code: None,
            message: format!("malformed SID {sid:?}"),
        })
    }
}

fn push_opt(pairs: &mut Vec<(String, String)>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_owned()));
    }
}

fn push_bool(pairs: &mut Vec<(String, String)>, key: &str, value: Option<bool>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_string()));
    }
}

fn push_num(pairs: &mut Vec<(String, String)>, key: &str, value: Option<u32>) {
    if let Some(v) = value {
        pairs.push((key.to_owned(), v.to_string()));
    }
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, TwilioError> {
    serde_json::from_slice(body).map_err(|e| TwilioError::Decode(e.to_string()))
}

/// Items under `key` and the `next_page_uri` of a 2010-API list page.
fn split_page<T: DeserializeOwned>(body: &[u8], key: &str) -> Result<(Vec<T>, Option<String>), TwilioError> {
    let mut page: serde_json::Map<String, serde_json::Value> = decode(body)?;
    let next = match page.remove("next_page_uri") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    let items = match page.remove(key) {
        Some(value @ serde_json::Value::Array(_)) => {
            serde_json::from_value(value).map_err(|e| TwilioError::Decode(format!("{key}: {e}")))?
        }
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(_) => return Err(TwilioError::Decode(format!("{key} is not a list"))),
    };
    Ok((items, next))
}

fn parse_retry_after(headers: &header::HeaderMap) -> Option<u64> {
    headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(8));
    let base = exp.min(BACKOFF_CAP);
    let jitter_range = u64::try_from(base.as_millis() / 4).unwrap_or(0).max(1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    base + Duration::from_millis(nanos % jitter_range)
}

/// The error and its causes, on one line (reqwest's top-level message alone says little).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("timed out: {e}")
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "opt_i64")]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// Sorts a non-2xx answer into a [`TwilioError`] by Twilio code first, then HTTP status.
fn classify(status: StatusCode, retry_after: Option<u64>, body: &[u8]) -> TwilioError {
    let parsed = serde_json::from_slice::<ErrorBody>(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let message = parsed.and_then(|b| b.message).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text: String = text.trim().chars().take(200).collect();
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        }
    });
    let http = status.as_u16();
    match (http, code) {
        (_, Some(20005 | 10001)) => TwilioError::AccountSuspended { code, message },
        (_, Some(20003)) | (401, _) => TwilioError::AuthFailed { code, message },
        (_, Some(21610)) => TwilioError::OptedOut { code, message },
        (_, Some(21211 | 21214 | 21217 | 21421 | 21422 | 21614)) => TwilioError::InvalidNumber { code, message },
        (_, Some(21408)) | (403, _) => TwilioError::PermissionDenied { code, message },
        (_, Some(20429)) | (429, _) => TwilioError::RateLimited { retry_after },
        (_, Some(20404)) | (404, _) => TwilioError::NotFound { code, message },
        (500..=599, _) => TwilioError::Unavailable(format!("HTTP {http}, code {code:?}: {message}")),
        _ => TwilioError::Api {
            status: http,
            code,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_maps_twilio_codes() {
        let body = |code: i64| format!(r#"{{"code":{code},"message":"m","status":400}}"#);
        let c = |status: u16, code: i64| {
            classify(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                None,
                body(code).as_bytes(),
            )
        };
        assert!(matches!(c(401, 20003), TwilioError::AuthFailed { .. }));
        assert!(matches!(c(401, 20005), TwilioError::AccountSuspended { .. }));
        assert!(matches!(c(403, 10001), TwilioError::AccountSuspended { .. }));
        assert!(matches!(c(404, 20404), TwilioError::NotFound { .. }));
        for code in [21211, 21214, 21217, 21421, 21422, 21614] {
            assert!(matches!(c(400, code), TwilioError::InvalidNumber { .. }));
        }
        assert!(matches!(c(400, 21610), TwilioError::OptedOut { .. }));
        assert!(matches!(c(400, 21408), TwilioError::PermissionDenied { .. }));
        assert!(matches!(c(403, 1), TwilioError::PermissionDenied { .. }));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some(3), b""),
            TwilioError::RateLimited { retry_after: Some(3) }
        ));
        assert!(matches!(c(503, 20500), TwilioError::Unavailable(_)));
        match c(400, 21205) {
            TwilioError::Api {
                status: 400,
                code: Some(21205),
                message,
            } => assert_eq!(message, "m"),
            other => panic!("unexpected {other:?}"),
        }
        let e = classify(StatusCode::BAD_REQUEST, None, b"<html>oops</html>");
        assert!(matches!(e, TwilioError::Api { ref message, .. } if message.contains("oops")));
    }

    #[test]
    fn contract_codes() {
        let m = || "m".to_owned();
        let cases = [
            (
                TwilioError::AuthFailed {
                    code: None,
                    message: m(),
                },
                "TWILIO_AUTH_FAILED",
            ),
            (
                TwilioError::AccountSuspended {
                    code: None,
                    message: m(),
                },
                "TWILIO_ACCOUNT_SUSPENDED",
            ),
            (
                TwilioError::NotFound {
                    code: None,
                    message: m(),
                },
                "NOT_FOUND",
            ),
            (
                TwilioError::InvalidNumber {
                    code: None,
                    message: m(),
                },
                "INVALID_NUMBER",
            ),
            (
                TwilioError::OptedOut {
                    code: None,
                    message: m(),
                },
                "TELEPHONY_ERROR",
            ),
            (
                TwilioError::PermissionDenied {
                    code: None,
                    message: m(),
                },
                "TWILIO_PERMISSION_DENIED",
            ),
            (TwilioError::RateLimited { retry_after: None }, "RATE_LIMITED"),
            (
                TwilioError::Api {
                    status: 400,
                    code: None,
                    message: m(),
                },
                "TELEPHONY_ERROR",
            ),
            (TwilioError::Unavailable(m()), "UPSTREAM_UNAVAILABLE"),
            (TwilioError::Decode(m()), "TELEPHONY_ERROR"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code().as_str(), code, "{err:?}");
        }
    }

    #[test]
    fn debug_redacts_token() {
        let client = TwilioClient::new(
            reqwest::Client::new(),
            TwilioConfig::default(),
            "AC1".to_owned(),
            "super-secret-token".to_owned(),
        );
        assert!(!format!("{client:?}").contains("super-secret-token"));
    }
}
