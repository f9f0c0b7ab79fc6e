//! Custom tools, delivered: a signed POST to the tool's endpoint through the SSRF guard,
//! with its headers and timeout (`POST /tools/:id/test` and live calls alike).

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use serde_json::Value;
use thruai_entities::tool;

use crate::{
    crypto::{Crypto, CryptoError},
    error::{CodedError, ErrorCode},
    net::{
        signing::{self, SigningError, WebhookSecret},
        ssrf::{SsrfError, UrlGuard},
    },
};

/// The most of a tool's response body kept.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
const USER_AGENT: &str = concat!("ThruAI-Tools/", env!("CARGO_PKG_VERSION"));

/// Why a tool could not be called at all (an endpoint's failure is a [`Delivery`] with an
/// error instead).
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("the tool's secret cannot be opened")]
    Sealed(#[from] CryptoError),
    #[error("the tool's stored secret is unusable")]
    Secret(#[from] SigningError),
}

impl CodedError for ToolError {
    fn code(&self) -> ErrorCode {
        ErrorCode::InternalError
    }
}

/// Delivers tool calls: the guarded client for user-supplied URLs and the key that opens
/// the tools' secrets.
#[derive(Clone)]
pub struct ToolDelivery {
    guard: UrlGuard,
    client: reqwest::Client,
    crypto: Crypto,
}

/// Reads at most [`MAX_RESPONSE_BYTES`] of the body.
async fn read_capped(mut res: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(body)
}

fn describe_send_error(err: &SsrfError, timeout: u64) -> String {
    match err {
        SsrfError::Request(e) if e.is_timeout() => format!("timed out after {timeout} s"),
        SsrfError::Request(e) if e.is_connect() => "could not connect to the tool endpoint".into(),
        SsrfError::Request(_) => "the request to the tool endpoint failed".into(),
        other => other.to_string(),
    }
}

/// Whether a stored header value is sealed (values stored before headers were sealed are
/// plain text, read as they are until the tool is saved again or the key is rotated).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(crate::crypto::SEALED_PREFIX)
}

/// The tool's extra headers, opened (header values are sealed at rest: they are often
/// credentials).
///
/// # Errors
/// A sealed value that does not open with the platform key.
pub async fn open_headers(crypto: &Crypto, m: &tool::Model) -> Result<BTreeMap<String, String>, CryptoError> {
    let mut out = BTreeMap::new();
    for (name, value) in &m.headers.0 {
        let value = if is_sealed(value) {
            crypto.decrypt(value).await?
        } else {
            value.clone()
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

/// Seals every header value for storage.
///
/// # Errors
/// When the platform key is unavailable.
pub async fn seal_headers(
    crypto: &Crypto,
    headers: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, CryptoError> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        out.insert(name, crypto.encrypt(&value).await?);
    }
    Ok(out)
}

/// The outcome of one signed tool call.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub status_code: Option<u16>,
    /// JSON when it parses, else text (first 64 KB).
    pub response: Value,
    pub elapsed_ms: u64,
    /// Why the call failed (transport, timeout, non-2xx, redirect), if it did.
    pub error: Option<String>,
    pub signed: bool,
}

impl ToolDelivery {
    pub fn new(guard: UrlGuard, client: reqwest::Client, crypto: Crypto) -> Self {
        Self { guard, client, crypto }
    }

    /// POSTs `payload` to the tool's URL through the SSRF guard, signed (Standard Webhooks)
    /// when the tool has a secret, with its headers and its timeout. Used by `POST
    /// /tools/:id/test` and by live calls.
    ///
    /// # Errors
    /// Only when the tool's stored secret cannot be read; endpoint failures are in `error`.
    pub async fn deliver(&self, row: &tool::Model, payload: &Value) -> Result<Delivery, ToolError> {
        let message_id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let body = payload.to_string().into_bytes();
        let secret = match &row.secret_ciphertext {
            Some(sealed) => Some(WebhookSecret::parse(&self.crypto.decrypt(sealed).await?)?),
            None => None,
        };
        let timeout = u64::try_from(row.timeout_secs.clamp(1, 30)).unwrap_or(10);
        let report = |status: Option<u16>, response: Value, elapsed: u64, error: Option<String>| Delivery {
            message_id: message_id.clone(),
            status_code: status,
            response,
            elapsed_ms: elapsed,
            error,
            signed: secret.is_some(),
        };
        let mut req = match self.guard.request(&self.client, reqwest::Method::POST, &row.url) {
            Ok(req) => req,
            Err(e) => return Ok(report(None, Value::Null, 0, Some(e.to_string()))),
        };
        req = req
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .timeout(Duration::from_secs(timeout));
        for (name, value) in open_headers(&self.crypto, row).await? {
            req = req.header(name, value);
        }
        if let Some(secret) = &secret {
            let signed = signing::signed_headers(secret, &message_id, Utc::now().timestamp(), &body);
            for (name, value) in signed.header_pairs() {
                req = req.header(name, value);
            }
        }
        let started = std::time::Instant::now();
        let elapsed = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let out = match self.guard.send(req.body(body)).await {
            Err(e) => report(None, Value::Null, elapsed(), Some(describe_send_error(&e, timeout))),
            Ok(res) => {
                let status = res.status();
                let location = res
                    .headers()
                    .get("location")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match read_capped(res).await {
                    Err(e) => report(
                        Some(status.as_u16()),
                        Value::Null,
                        elapsed(),
                        Some(describe_send_error(&SsrfError::Request(e), timeout)),
                    ),
                    Ok(bytes) => {
                        let response = serde_json::from_slice(&bytes)
                            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
                        let error = if status.is_redirection() {
                            Some(format!(
                                "redirects are not followed (HTTP {} to {})",
                                status.as_u16(),
                                location.unwrap_or_default()
                            ))
                        } else if !status.is_success() {
                            Some(format!("the tool endpoint answered HTTP {}", status.as_u16()))
                        } else {
                            None
                        };
                        report(Some(status.as_u16()), response, elapsed(), error)
                    }
                }
            }
        };
        Ok(out)
    }
}
