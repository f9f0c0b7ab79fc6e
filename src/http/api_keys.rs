//! API keys (an extension of the contract): an owner key creates keys with a subset of the
//! permissions, a name and an optional expiry, lists them (prefix, permissions, created, last
//! used), revokes them and rotates them (a new key with the same permissions, the old one
//! valid for a grace period). The secret is shown once; only its hash is stored.

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use thruai_entities::api_key;

use super::core::{
    envelope,
    extract::{Body, Ctx, ListQuery},
    route_spec::RouteSpec,
    validation::{Validate, Validator, suggest},
};
use crate::{
    auth::{self, ALL_SCOPES, MANAGE_KEYS, is_owner_scopes},
    domain::ids,
    error::{ApiError, ApiResult, ErrorCode},
    store::{self, api_keys::NewApiKey},
};

/// The longest grace period a rotated key keeps working for: 7 days.
const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ApiKeyIn {
    /// What the key is for, 1–100 characters.
    pub name: String,
    /// Permissions, a subset of the organisation's (`agents:read`, …). Default: every one.
    pub scopes: Option<Vec<String>>,
    /// When the key stops working (in the future). Default: never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Validate for ApiKeyIn {
    fn validate(&self, v: &mut Validator) {
        v.length("name", self.name.trim(), 1, 100);
        if let Some(scopes) = &self.scopes {
            v.check(!scopes.is_empty(), "scopes", "must name at least one permission");
            check_scopes(v, scopes);
        }
        if let Some(at) = self.expires_at {
            v.check(at > Utc::now(), "expiresAt", "must be in the future");
        }
    }
}

fn check_scopes(v: &mut Validator, scopes: &[String]) {
    for (i, scope) in scopes.iter().enumerate() {
        if !ALL_SCOPES.contains(&scope.as_str()) {
            let hint = suggest(scope, ALL_SCOPES.iter().copied())
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            v.check(
                false,
                &format!("scopes[{i}]"),
                format!("unknown permission '{scope}'{hint}"),
            );
        }
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateIn {
    /// How long the old key keeps working, 0–604800 seconds (7 days). Default 86400 (a day);
    /// 0 revokes it at once.
    pub grace_period_seconds: Option<i64>,
    /// When the new key stops working. Default: never.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Validate for RotateIn {
    fn validate(&self, v: &mut Validator) {
        if let Some(grace) = self.grace_period_seconds {
            v.check(
                (0..=MAX_GRACE_SECS).contains(&grace),
                "gracePeriodSeconds",
                format!("must be between 0 and {MAX_GRACE_SECS}"),
            );
        }
        if let Some(at) = self.expires_at {
            v.check(at > Utc::now(), "expiresAt", "must be in the future");
        }
    }
}

/// Whether a key still opens the API.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl std::fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        })
    }
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    /// `sk_live_AbCd…wxyz`: enough to recognise the key.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub status: KeyStatus,
    /// Holds every permission, so it can manage keys.
    pub owner: bool,
    pub created_at: DateTime<Utc>,
    /// Written at most once a minute.
    pub last_used_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<api_key::Model> for ApiKeyOut {
    fn from(m: api_key::Model) -> Self {
        let scopes = scopes_of(&m);
        Self {
            status: status_of(&m, Utc::now()),
            owner: is_owner_scopes(&scopes),
            id: m.id,
            name: m.name,
            prefix: m.display_prefix,
            scopes,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A key just minted: the secret, shown this once.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreatedOut {
    /// The secret: store it now, it is never shown again.
    pub api_key: String,
    pub key: ApiKeyOut,
    /// For a rotation: the key it replaces, and until when that one still works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<ApiKeyOut>,
}

fn scopes_of(m: &api_key::Model) -> Vec<String> {
    m.scopes.0.clone()
}

fn status_of(m: &api_key::Model, now: DateTime<Utc>) -> KeyStatus {
    if m.revoked_at.is_some() {
        KeyStatus::Revoked
    } else if m.expires_at.is_some_and(|at| at <= now) {
        KeyStatus::Expired
    } else {
        KeyStatus::Active
    }
}

async fn load(ctx: &Ctx, id: &str) -> ApiResult<api_key::Model> {
    store::api_keys::find(ctx.db(), ctx.org(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", id))
}

async fn mint(
    ctx: &Ctx,
    txn: &sea_orm::DatabaseTransaction,
    name: &str,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> ApiResult<(String, api_key::Model)> {
    let key = auth::generate_key();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let row = store::api_keys::insert(
        txn,
        NewApiKey {
            id: &ids::new_id(ids::API_KEY),
            org_id: ctx.org(),
            name,
            hash: &key.hash,
            display_prefix: &key.display_prefix,
            scopes: &scopes,
            expires_at,
            now: Utc::now(),
        },
    )
    .await?;
    Ok((key.secret, row))
}

pub async fn create(ctx: Ctx, Body(input): Body<ApiKeyIn>) -> ApiResult<HttpResponse> {
    let scopes = input
        .scopes
        .unwrap_or_else(|| ALL_SCOPES.iter().map(|s| (*s).to_string()).collect());
    // Only an owner key reaches here, but no key ever mints one stronger than itself.
    if let Some(extra) = scopes.iter().find(|s| !ctx.principal.has_scope(s)) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("This API key cannot grant '{extra}', which it does not hold"),
        ));
    }
    let txn = ctx.begin().await?;
    let (secret, row) = mint(&ctx, &txn, input.name.trim(), &scopes, input.expires_at).await?;
    let out = ApiKeyCreatedOut {
        api_key: secret,
        key: row.into(),
        replaces: None,
    };
    ctx.commit(txn, StatusCode::CREATED, &out).await
}

pub async fn list(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    // An organisation holds a handful of keys: paged here, after one query.
    let keys = store::api_keys::list(ctx.db(), ctx.org()).await?;
    let total = keys.len() as u64;
    let items: Vec<ApiKeyOut> = keys
        .into_iter()
        .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.page_size).unwrap_or(usize::MAX))
        .map(Into::into)
        .collect();
    Ok(envelope::list("apiKeys", &items, page.info(total)))
}

pub async fn get(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(envelope::ok(&ApiKeyOut::from(load(&ctx, &id).await?)))
}

/// An organisation keeps at least one working owner key: the last one cannot be revoked
/// (or rotated away) until another exists.
async fn ensure_another_owner(ctx: &Ctx, leaving: &api_key::Model) -> ApiResult<()> {
    if !is_owner_scopes(&scopes_of(leaving)) {
        return Ok(());
    }
    let now = Utc::now();
    let others = store::api_keys::list(ctx.db(), ctx.org())
        .await?
        .into_iter()
        .filter(|k| k.id != leaving.id && status_of(k, now) == KeyStatus::Active && k.expires_at.is_none())
        .any(|k| is_owner_scopes(&scopes_of(&k)));
    if others {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::InvalidState,
        format!(
            "API key '{}' is the organisation's last owner key (every permission, no expiry): create another \
             first (POST /api/v1/public/api-keys) or rotate it",
            leaving.id
        ),
    ))
}

/// Revokes a key at once (its requests answer `API_KEY_REVOKED`).
pub async fn revoke(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(&ctx, &id).await?;
    if row.revoked_at.is_none() {
        ensure_another_owner(&ctx, &row).await?;
    }
    let txn = ctx.begin().await?;
    store::api_keys::revoke(&txn, &row.id, Utc::now()).await?;
    let revoked = store::api_keys::find(&txn, ctx.org(), &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", &row.id))?;
    let res = ctx.commit(txn, StatusCode::OK, &ApiKeyOut::from(revoked)).await?;
    ctx.state.auth.forget(&row.key_hash);
    Ok(res)
}

/// A new key with the same name and permissions; the old one works for the grace period.
pub async fn rotate(ctx: Ctx, id: web::Path<String>, Body(input): Body<RotateIn>) -> ApiResult<HttpResponse> {
    let old = load(&ctx, &id).await?;
    let now = Utc::now();
    let status = status_of(&old, now);
    if status != KeyStatus::Active {
        return Err(ApiError::new(
            ErrorCode::InvalidState,
            format!("API key '{}' is {status}: only an active key is rotated", old.id),
        ));
    }
    let grace = Duration::seconds(input.grace_period_seconds.unwrap_or(86_400));
    let txn = ctx.begin().await?;
    let (secret, row) = mint(&ctx, &txn, &old.name, &scopes_of(&old), input.expires_at).await?;
    if grace.is_zero() {
        store::api_keys::revoke(&txn, &old.id, now).await?;
    } else {
        let until = old.expires_at.map_or(now + grace, |at| at.min(now + grace));
        store::api_keys::expire_at(&txn, &old.id, until).await?;
    }
    let replaced = store::api_keys::find(&txn, ctx.org(), &old.id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key", &old.id))?;
    let out = ApiKeyCreatedOut {
        api_key: secret,
        key: row.into(),
        replaces: Some(replaced.into()),
    };
    let res = ctx.commit(txn, StatusCode::CREATED, &out).await?;
    ctx.state.auth.forget(&old.key_hash);
    Ok(res)
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/api-keys",
            "profile",
            "create_api_key",
            "Create an API key with a subset of the permissions, a name and an optional expiry (owner key; the secret is shown once)",
            |r| r.to(create),
        )
        .key(Some(MANAGE_KEYS))
        .body::<ApiKeyIn>()
        .example(|| json!({ "name": "Reporting", "scopes": ["calls:read", "analytics:read"] }))
        .returns::<ApiKeyCreatedOut>()
        .extension(),
        RouteSpec::new(
            M::GET,
            "/api-keys",
            "profile",
            "list_api_keys",
            "List the organisation's API keys: prefix, permissions, status, created and last used",
            |r| r.to(list),
        )
        .key(Some(MANAGE_KEYS))
        .returns_list::<ApiKeyOut>("apiKeys")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/api-keys/:id",
            "profile",
            "get_api_key",
            "Get an API key (never its secret)",
            |r| r.to(get),
        )
        .key(Some(MANAGE_KEYS))
        .returns::<ApiKeyOut>()
        .extension(),
        RouteSpec::new(
            M::DELETE,
            "/api-keys/:id",
            "profile",
            "revoke_api_key",
            "Revoke an API key at once (not the organisation's last owner key)",
            |r| r.to(revoke),
        )
        .key(Some(MANAGE_KEYS))
        .returns::<ApiKeyOut>()
        .extension(),
        RouteSpec::new(
            M::POST,
            "/api-keys/:id/rotate",
            "profile",
            "rotate_api_key",
            "Rotate an API key: a new key with the same name and permissions; the old one keeps working for a grace period (default a day)",
            |r| r.to(rotate),
        )
        .key(Some(MANAGE_KEYS))
        .body::<RotateIn>()
        .example(|| json!({ "gracePeriodSeconds": 3600 }))
        .returns::<ApiKeyCreatedOut>()
        .extension(),
    ]
}
