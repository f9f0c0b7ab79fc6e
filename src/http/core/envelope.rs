//! The response envelope `{success, data, error, meta}` and the per-request metadata
//! (request id, trace id) every answer carries, kept in a task-local for the request; the
//! shapes every resource shares (`PageInfo`, `DeletedOut`) and `Sorted`.

use std::{cell::RefCell, sync::Arc};

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header::HeaderValue},
};
use chrono::{SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;

pub const API_VERSION: &str = "1.13.0";

/// Identity of one request, set by the outermost middleware.
#[derive(Debug)]
pub struct RequestMeta {
    pub request_id: String,
    pub trace_id: String,
    pub parent_id: Option<String>,
    /// Something the request made or answered about runs on the sandbox providers
    /// (`meta.sandbox: true`).
    pub sandbox: std::sync::atomic::AtomicBool,
}

/// Marks the current request's answer `meta.sandbox: true`.
pub fn mark_sandbox() {
    if let Some(m) = current() {
        m.sandbox.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

tokio::task_local! {
    static REQUEST: RefCell<Option<Arc<RequestMeta>>>;
}

/// Runs `fut` with `meta` as the current request.
pub async fn scope<F: std::future::Future>(meta: Arc<RequestMeta>, fut: F) -> F::Output {
    REQUEST.scope(RefCell::new(Some(meta)), fut).await
}

pub fn current() -> Option<Arc<RequestMeta>> {
    REQUEST.try_with(|m| m.borrow().clone()).ok().flatten()
}

pub fn current_request_id() -> String {
    current().map(|m| m.request_id.clone()).unwrap_or_default()
}

/// Pagination as carried in list payloads and `meta.pagination`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub page: u64,
    pub page_size: u64,
    pub total: u64,
    pub has_more: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    request_id: &'a str,
    trace_id: &'a str,
    timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<PageInfo>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sandbox: bool,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    success: bool,
    data: Option<&'a T>,
    error: Option<&'a Value>,
    meta: Meta<'a>,
}

/// Serializes the envelope; `data` and `error` are exclusive.
pub fn to_bytes<T: Serialize>(data: Option<&T>, error: Option<&Value>, pagination: Option<PageInfo>) -> Vec<u8> {
    let meta = current();
    let (request_id, trace_id) = meta
        .as_deref()
        .map_or(("", ""), |m| (m.request_id.as_str(), m.trace_id.as_str()));
    let env = Envelope {
        success: error.is_none(),
        data,
        error,
        meta: Meta {
            request_id,
            trace_id,
            timestamp: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            pagination,
            sandbox: meta
                .as_deref()
                .is_some_and(|m| m.sandbox.load(std::sync::atomic::Ordering::Relaxed)),
        },
    };
    serde_json::to_vec(&env).unwrap_or_else(|_| {
        br#"{"success":false,"data":null,"error":{"code":"INTERNAL_ERROR","message":"Unexpected error (fallback)"},"meta":{}}"#
            .to_vec()
    })
}

fn json_response(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json").body(body)
}

pub fn ok<T: Serialize>(data: &T) -> HttpResponse {
    json_response(StatusCode::OK, to_bytes(Some(data), None, None))
}

pub fn created<T: Serialize>(data: &T) -> HttpResponse {
    json_response(StatusCode::CREATED, to_bytes(Some(data), None, None))
}

pub fn with_status<T: Serialize>(status: StatusCode, data: &T) -> HttpResponse {
    json_response(status, to_bytes(Some(data), None, None))
}

/// `data: {<name>: [...], pagination}` with the pagination repeated in `meta`.
pub fn list<T: Serialize>(name: &str, items: &[T], page: PageInfo) -> HttpResponse {
    let mut data = serde_json::Map::new();
    data.insert(
        name.to_string(),
        serde_json::to_value(items).unwrap_or(Value::Array(vec![])),
    );
    data.insert("pagination".into(), serde_json::to_value(page).unwrap_or(Value::Null));
    json_response(StatusCode::OK, to_bytes(Some(&Value::Object(data)), None, Some(page)))
}

/// What a DELETE answers (200, never 204): a message, and warnings when there are any.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletedOut {
    pub message: String,
    /// What the deletion left behind (numbers unassigned, agents still naming a tool…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl DeletedOut {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            warnings: Vec::new(),
        }
    }

    pub fn with_warnings(mut self, warnings: Vec<String>) -> Self {
        self.warnings = warnings;
        self
    }
}

/// Serializes `T` with the keys of every object in alphabetical order, as a
/// `serde_json::Value` holds them: the order the `json!` bodies these types replaced went
/// out in, kept so that typing a response changed no byte of it.
#[derive(Debug)]
pub struct Sorted<T>(pub T);

impl<T: Serialize> Serialize for Sorted<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::to_value(&self.0)
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

pub fn error_response(status: StatusCode, error: Value) -> HttpResponse {
    json_response(status, to_bytes::<Value>(None, Some(&error), None))
}

/// An `ApiError` on the wire: the envelope with `{code, message, details}`; a 5xx shows the
/// code's generic description and logs the cause with the request id.
impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() && !self.public {
            tracing::error!(error = %self, request_id = %current_request_id(), "request failed");
            self.code.spec().2.to_string()
        } else {
            self.message.clone()
        };
        let mut error = json!({ "code": self.code.as_str(), "message": message });
        if let Some(details) = &self.details
            && !status.is_server_error()
        {
            error["details"] = details.clone();
        }
        let mut res = error_response(status, error);
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                res.headers_mut()
                    .insert(actix_web::http::header::HeaderName::from_static(name), value);
            }
        }
        res
    }
}
