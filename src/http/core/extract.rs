//! Extractors: `Ctx` (the authenticated caller, state and idempotency claim — a handler
//! without it is visibly public), `Body<T>` (strictly validated JSON), `ListQuery`.

use std::{future::Future, pin::Pin, sync::Arc};

use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, dev::Payload, http::StatusCode, web};
use futures_util::StreamExt;
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use serde::{Serialize, de::DeserializeOwned};

use super::{
    envelope::{self, PageInfo},
    layer::{IdempotentResponseStored, too_large},
    validation::{Validate, parse_body},
};
use crate::{
    auth::Principal,
    error::{ApiError, ApiResult, ErrorCode},
    idempotency::Claim,
    state::AppState,
    store,
};

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::new(ErrorCode::InternalError, "state missing"))
}

/// The authenticated caller of a request, with the app state.
pub struct Ctx {
    pub principal: Arc<Principal>,
    pub state: web::Data<AppState>,
    claim: Option<Claim>,
    req: HttpRequest,
}

impl FromRequest for Ctx {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = req.extensions().get::<Arc<Principal>>().cloned();
        std::future::ready(match principal {
            Some(principal) => state_of(req).map(|state| Ctx {
                principal,
                state,
                claim: req.extensions().get::<Claim>().cloned(),
                req: req.clone(),
            }),
            None => Err(ApiError::new(ErrorCode::Unauthorized, "Authentication required")),
        })
    }
}

impl Ctx {
    pub fn org(&self) -> &str {
        &self.principal.org_id
    }

    /// The organisation's plan (as authenticated).
    pub fn plan(&self) -> &str {
        &self.principal.plan
    }

    /// The request's `Idempotency-Key`, when it carries one.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.claim.as_ref().map(|c| c.key.as_str())
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// # Errors
    /// When a transaction cannot be started.
    pub async fn begin(&self) -> ApiResult<DatabaseTransaction> {
        Ok(store::begin(&self.state.db).await?)
    }

    /// Commits `txn` together with the response (stored for `Idempotency-Key` replays in
    /// the same transaction) and returns that response.
    ///
    /// # Errors
    /// When storing or committing fails (nothing is then kept).
    pub async fn commit<T: Serialize>(
        &self,
        txn: DatabaseTransaction,
        status: StatusCode,
        data: &T,
    ) -> ApiResult<HttpResponse> {
        commit(&self.req, &self.state, self.claim.as_ref(), txn, status, data).await
    }
}

/// The public-route variant of [`Ctx::commit`].
///
/// # Errors
/// When storing or committing fails.
pub async fn commit<T: Serialize>(
    req: &HttpRequest,
    state: &AppState,
    claim: Option<&Claim>,
    txn: DatabaseTransaction,
    status: StatusCode,
    data: &T,
) -> ApiResult<HttpResponse> {
    let body = envelope::to_bytes(Some(data), None, None);
    if let Some(claim) = claim {
        state
            .idempotency
            .complete_in(&txn, claim, status.as_u16(), &body)
            .await?;
    }
    failpoint(state, "abort_before_commit");
    txn.commit().await?;
    failpoint(state, "abort_after_commit");
    // Whatever events this change recorded go out now, not at the dispatcher's next tick.
    state.webhooks.nudge();
    if claim.is_some() {
        req.extensions_mut().insert(IdempotentResponseStored);
    }
    Ok(HttpResponse::build(status).content_type("application/json").body(body))
}

/// Crash-test hook: aborts the process at a named point when configured.
fn failpoint(state: &AppState, name: &str) {
    if state.settings.testing.failpoint == name {
        tracing::error!(failpoint = name, "aborting at failpoint");
        std::process::abort();
    }
}

/// A JSON body, parsed strictly into `T` and validated.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = state_of(req)
            .map(|s| s.settings.server.max_body_bytes)
            .unwrap_or(1 << 20);
        let content_type = req.content_type().to_ascii_lowercase();
        let mut payload = payload.take();
        Box::pin(async move {
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| super::guard::body_error(&e))?;
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            let blank = body.iter().all(u8::is_ascii_whitespace);
            if !blank && !content_type.is_empty() && !content_type.contains("json") {
                return Err(ApiError::field(
                    "Content-Type",
                    format!("must be application/json (got {content_type})"),
                ));
            }
            parse_body(&body).map(Body)
        })
    }
}

/// Query parameters with the standard pagination (`page` 1-based, `pageSize` ≤ 100).
pub struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl FromRequest for ListQuery {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let pairs = url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .collect();
        std::future::ready(Ok(ListQuery { pairs }))
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: u64,
    pub page_size: u64,
}

impl Page {
    pub fn offset(&self) -> u64 {
        (self.page - 1) * self.page_size
    }

    pub fn info(&self, total: u64) -> PageInfo {
        PageInfo {
            page: self.page,
            page_size: self.page_size,
            total,
            has_more: self.offset() + self.page_size < total,
        }
    }
}

impl ListQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// # Errors
    /// `VALIDATION_ERROR` for a page below 1 or a size outside 1–100.
    pub fn page(&self) -> ApiResult<Page> {
        let number = |name: &str, default: u64, min: u64, max: u64| -> ApiResult<u64> {
            match self.get(name) {
                None | Some("") => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::field(
                            name,
                            format!("must be an integer between {min} and {max} (got '{raw}')"),
                        )
                    }),
            }
        };
        Ok(Page {
            page: number("page", 1, 1, 1_000_000)?,
            page_size: number("pageSize", 50, 1, 100)?,
        })
    }

    /// An optional filter restricted to `allowed` values.
    ///
    /// # Errors
    /// `VALIDATION_ERROR` naming the allowed values.
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v.to_string())),
            Some(v) => Err(ApiError::field(
                name,
                format!("must be one of: {} (got '{v}')", allowed.join(", ")),
            )),
        }
    }
}
