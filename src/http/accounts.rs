//! Account provisioning in two unauthenticated steps (e-mailed 6-digit code, then the
//! first API key), and `GET /accounts/me`.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thruai_entities::{organization, pending_account};

use super::core::{
    envelope::{self, Sorted},
    extract::{self, Body, Ctx},
    route_spec::{Limit, RouteSpec},
    validation::{Validate, Validator},
};
use crate::{
    auth::{self, ALL_SCOPES},
    domain::{
        ids::{self, OrganizationId},
        normalize_email, slugify,
    },
    error::{ApiError, ApiResult, ErrorCode},
    idempotency::Claim,
    providers::email::OutgoingEmail,
    state::AppState,
    store::{self, accounts::NewOrganization, api_keys::NewApiKey},
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProvisionIn {
    /// The owner's e-mail address; the code is sent there.
    pub email: String,
    /// Organisation name, 2–100 characters; its slug must be free.
    pub org_name: String,
}

impl Validate for ProvisionIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            normalize_email(&self.email).is_some(),
            "email",
            "must be a valid email address",
        );
        v.length("orgName", self.org_name.trim(), 2, 100);
        v.check(
            !slugify(&self.org_name).is_empty(),
            "orgName",
            "must contain at least one letter or digit",
        );
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyIn {
    pub email: String,
    /// The 6-digit code from the e-mail.
    pub code: String,
}

impl Validate for VerifyIn {
    fn validate(&self, v: &mut Validator) {
        v.check(
            normalize_email(&self.email).is_some(),
            "email",
            "must be a valid email address",
        );
        let code = self.code.trim();
        v.check(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "code",
            "must be the 6-digit code from the email",
        );
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationOut {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub owner_email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<organization::Model> for OrganizationOut {
    fn from(m: organization::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            slug: m.slug,
            plan: m.plan,
            owner_email: m.owner_email,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An API call to make next.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NextCall {
    pub method: String,
    /// The full path, base path included.
    pub path: String,
    /// The body to send, with placeholders to fill.
    pub body: Value,
}

/// Where to read the code while e-mail is the sandbox.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SandboxNote {
    pub note: String,
    /// The sandbox outbox, readable from this machine when `email.sandbox_outbox` is on.
    pub outbox: String,
}

/// The answer to step 1: the code is on its way.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionOut {
    pub email: String,
    pub org_name: String,
    pub slug: String,
    pub expires_at: DateTime<Utc>,
    pub expires_in_seconds: i64,
    pub message: String,
    pub next_step: NextCall,
    /// Present only while e-mail is the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxNote>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserOut {
    pub id: String,
    pub email: String,
    pub role: String,
}

/// A suggested next step.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NextStep {
    pub action: String,
    pub method: String,
    pub path: String,
}

/// The answer to step 2: the organisation, its owner and the first API key, shown once.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedOut {
    /// The secret key (`sk_live_…`): shown here only.
    pub api_key: String,
    pub api_key_id: String,
    pub key_prefix: String,
    pub permissions: Vec<String>,
    pub organization: OrganizationOut,
    pub user: UserOut,
    pub message: String,
    pub next_steps: Vec<NextStep>,
}

/// The calling key, as `GET /accounts/me` shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyOut {
    pub id: String,
    pub prefix: String,
    pub permissions: Vec<String>,
}

/// `GET /accounts/me`: the organisation, and the key that asked.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AccountOut {
    #[serde(flatten)]
    pub organization: OrganizationOut,
    pub api_key: KeyOut,
}

fn code_hash(email: &str, code: &str) -> String {
    auth::hex(&Sha256::digest(format!("thruai-verify:{email}:{code}").as_bytes()))
}

/// Step 1: checks the slug is free, stores a pending sign-up and e-mails the code. An
/// address that already has an account gets the same answer, and its owner a notice.
pub async fn provision(state: web::Data<AppState>, Body(input): Body<ProvisionIn>) -> ApiResult<HttpResponse> {
    let email =
        normalize_email(&input.email).ok_or_else(|| ApiError::field("email", "must be a valid email address"))?;
    let org_name = input.org_name.trim().to_string();
    let slug = slugify(&org_name);
    if store::accounts::slug_taken(&state.db, &slug).await? {
        return Err(ApiError::new(
            ErrorCode::SlugTaken,
            format!("Organization slug '{slug}' is already taken; choose another orgName"),
        )
        .with_details(serde_json::json!({ "slug": slug })));
    }
    let now = Utc::now();
    let ttl = Duration::seconds(i64::try_from(state.settings.accounts.code_ttl_secs).unwrap_or(900));
    if store::accounts::user_exists(&state.db, &email).await? {
        // The same answer as for a new address, so sign-up does not tell who has an
        // account; the owner of the address is told instead, and nothing is created.
        state
            .email
            .provider()
            .send(OutgoingEmail::notice(
                &email,
                "Someone tried to sign up to ThruAI with your address",
                format!(
                    "Someone asked to create the ThruAI organization \"{org_name}\" with this address, which \
                     already has an account. Nothing was created and no code was issued.\n\nIf this was you, \
                     use your existing API key (GET /api/v1/public/profile). If it was not, you can ignore this email."
                ),
            ))
            .await?;
        return Ok(envelope::ok(&Sorted(provision_out(
            &state, email, org_name, slug, now, ttl,
        ))));
    }
    let code = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
    store::accounts::upsert_pending(
        &state.db,
        pending_account::Model {
            email: email.clone(),
            org_name: org_name.clone(),
            slug: slug.clone(),
            code_hash: code_hash(&email, &code),
            attempts: 0,
            expires_at: now + ttl,
            created_at: now,
        },
    )
    .await?;
    let minutes = ttl.num_minutes().max(1);
    state
        .email
        .provider()
        .send(OutgoingEmail {
            idempotency_key: Some(code_hash(&email, &code)),
            ..OutgoingEmail::notice(
                &email,
                format!("Your ThruAI verification code: {code}"),
                format!(
                    "Your ThruAI verification code for {org_name} is {code}.\n\nIt expires in {minutes} minutes. \
                     Submit it with POST /api/v1/public/accounts/verify.\n\nIf you did not request this, ignore this email."
                ),
            )
        })
        .await?;
    Ok(envelope::ok(&Sorted(provision_out(
        &state, email, org_name, slug, now, ttl,
    ))))
}

fn provision_out(
    state: &AppState,
    email: String,
    org_name: String,
    slug: String,
    now: DateTime<Utc>,
    ttl: Duration,
) -> ProvisionOut {
    ProvisionOut {
        message: format!("A 6-digit verification code was sent to {email}"),
        next_step: NextCall {
            method: "POST".into(),
            path: "/api/v1/public/accounts/verify".into(),
            body: json!({ "email": email, "code": "<6-digit code>" }),
        },
        sandbox: state.email_is_sandbox().then(|| SandboxNote {
            note: if state.settings.email.sandbox_outbox {
                "Email is in sandbox mode: the code was not sent; read it from the sandbox outbox (from this machine only)"
            } else {
                "Email is in sandbox mode: the code was not sent, and the sandbox outbox is closed; for development, \
                 restart with email.sandbox_outbox = true (THRUAI__EMAIL__SANDBOX_OUTBOX=true) and read it there, \
                 or configure Resend (email.resend_api_key)"
            }
            .into(),
            outbox: format!("/api/v1/public/_debug/sandbox/outbox?to={email}"),
        }),
        email,
        org_name,
        slug,
        expires_at: now + ttl,
        expires_in_seconds: ttl.num_seconds(),
    }
}

/// Step 2: checks the code and creates the organisation, its owner and the first API key,
/// returned once.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    Body(input): Body<VerifyIn>,
) -> ApiResult<HttpResponse> {
    let email =
        normalize_email(&input.email).ok_or_else(|| ApiError::field("email", "must be a valid email address"))?;
    let code = input.code.trim();
    let invalid = |msg: &str| ApiError::new(ErrorCode::InvalidCode, msg.to_string());
    let Some(pending) = store::accounts::find_pending(&state.db, &email).await? else {
        return Err(invalid(
            "Invalid or expired verification code; request a new one with POST /accounts/provision",
        ));
    };
    let max_attempts = i32::try_from(state.settings.accounts.max_code_attempts).unwrap_or(5);
    if pending.attempts >= max_attempts {
        store::accounts::consume_pending(&state.db, &email, &pending.code_hash).await?;
        return Err(invalid(
            "Too many incorrect attempts; request a new code with POST /accounts/provision",
        ));
    }
    if pending.expires_at <= Utc::now() {
        return Err(ApiError::new(
            ErrorCode::CodeExpired,
            "Verification code has expired; request a new one with POST /accounts/provision",
        ));
    }
    let matches: bool = code_hash(&email, code)
        .as_bytes()
        .ct_eq(pending.code_hash.as_bytes())
        .into();
    if !matches {
        store::accounts::record_failed_attempt(&state.db, &email, &pending.code_hash).await?;
        let left = (max_attempts - pending.attempts - 1).max(0);
        return Err(invalid("Invalid verification code").with_details(serde_json::json!({ "attemptsRemaining": left })));
    }

    let txn = store::begin(&state.db).await?;
    if !store::accounts::consume_pending(&txn, &email, &pending.code_hash).await? {
        return Err(invalid(
            "Invalid or expired verification code; request a new one with POST /accounts/provision",
        ));
    }
    if store::accounts::user_exists(&txn, &email).await? {
        return Err(ApiError::new(
            ErrorCode::UserExists,
            format!("A user with email '{email}' already exists"),
        ));
    }
    if store::accounts::slug_taken(&txn, &pending.slug).await? {
        return Err(ApiError::new(
            ErrorCode::SlugTaken,
            format!("Organization slug '{}' is already taken", pending.slug),
        ));
    }
    let now = Utc::now();
    let org_id = OrganizationId::new().into_string();
    let (org, owner) = store::accounts::create_organization(
        &txn,
        NewOrganization {
            org_id: &org_id,
            user_id: &ids::new_id(ids::USER),
            name: &pending.org_name,
            slug: &pending.slug,
            plan: &state.settings.rate_limit.default_plan,
            email: &email,
            now,
        },
    )
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => ApiError::new(
            ErrorCode::SlugTaken,
            format!("Organization slug '{}' or email is already taken", pending.slug),
        ),
        _ => ApiError::from(e),
    })?;
    let key = auth::generate_key();
    let key_row = store::api_keys::insert(
        &txn,
        NewApiKey {
            id: &ids::new_id(ids::API_KEY),
            org_id: &org_id,
            name: "Default key",
            hash: &key.hash,
            display_prefix: &key.display_prefix,
            scopes: ALL_SCOPES,
            expires_at: None,
            now,
        },
    )
    .await?;
    let step = |action: &str, path: &str| NextStep {
        action: action.into(),
        method: "GET".into(),
        path: path.into(),
    };
    let out = VerifiedOut {
        api_key: key.secret,
        api_key_id: key_row.id,
        key_prefix: key_row.display_prefix,
        permissions: ALL_SCOPES.iter().map(|s| (*s).to_string()).collect(),
        organization: OrganizationOut::from(org),
        user: UserOut {
            id: owner.id,
            email: owner.email,
            role: owner.role,
        },
        message: "Store this API key now: it is shown only once".into(),
        next_steps: vec![
            step("Check your identity and permissions", "/api/v1/public/profile"),
            step("Read the getting-started guide", "/api/v1/public/docs/getting-started"),
        ],
    };
    let claim = req.extensions().get::<Claim>().cloned();
    extract::commit(&req, &state, claim.as_ref(), txn, StatusCode::CREATED, &Sorted(out)).await
}

/// `GET /accounts/me`.
pub async fn me(ctx: Ctx) -> ApiResult<HttpResponse> {
    let org = store::accounts::find_org(ctx.db(), ctx.org())
        .await?
        .ok_or_else(|| ApiError::not_found("Organization", ctx.org()))?;
    let out = AccountOut {
        organization: OrganizationOut::from(org),
        api_key: KeyOut {
            id: ctx.principal.key_id.clone(),
            prefix: ctx.principal.key_prefix.clone(),
            permissions: ctx.principal.scopes.clone(),
        },
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::POST,
            "/accounts/provision",
            "accountProvisioning",
            "provision_account",
            "Step 1 (NO AUTH): Send email and org name to receive a 6-digit verification code via email",
            |r| r.to(provision),
        )
        .limit(Limit::Provisioning)
        .body::<ProvisionIn>()
        .example(|| json!({ "email": "ada@example.com", "orgName": "Ada Voice Lab" }))
        .returns::<ProvisionOut>(),
        RouteSpec::new(
            M::POST,
            "/accounts/verify",
            "accountProvisioning",
            "verify_account",
            "Step 2 (NO AUTH): Submit the emailed code to create account and receive API key (sk_live_...)",
            |r| r.to(verify),
        )
        .body::<VerifyIn>()
        .example(|| json!({ "email": "ada@example.com", "code": "123456" }))
        .returns::<VerifiedOut>(),
        RouteSpec::new(
            M::GET,
            "/accounts/me",
            "accountInfo",
            "get_account",
            "Get current organization info",
            |r| r.to(me),
        )
        .key(Some("billing:read"))
        .returns::<AccountOut>(),
    ]
}
