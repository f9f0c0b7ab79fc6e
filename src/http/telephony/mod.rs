//! Telephony: BYOC Twilio credentials, number search, provision, import, external
//! discovery, update and release — through the organisation's carrier (Twilio or sandbox).
//! The wire types live in `wire.rs`.

pub mod wire;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::Utc;
use serde_json::json;
use thruai_entities::{phone_number, telephony_credential, values::status::NumberStatus};
use wire::{
    CredentialsIn, CredentialsOut, ExternalNumberOut, ExternalNumbersOut, ImportIn, NumberPatch, NumberSearchOut,
    PhoneNumberOut, ProvisionIn, SearchIn, mode_name,
};

use super::core::{
    envelope::{self, DeletedOut, Sorted},
    extract::{Body, Ctx, ListQuery},
    route_spec::{Param, RouteSpec},
};
use crate::{
    app::carriers::Mode,
    domain::{E164, ids::PhoneNumberId},
    error::{ApiError, ApiResult, ErrorCode},
    providers::{
        telephony::{self, CarrierNumber, SearchQuery, Telephony, Webhooks},
        twilio::TwilioError,
    },
    state::AppState,
    store,
};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

fn not_configured() -> ApiError {
    ApiError::new(
        ErrorCode::TwilioNotConfigured,
        "No Twilio credentials configured — use PUT /telephony/credentials to set up BYOC",
    )
}

/// `raw` as an E.164 number, or `INVALID_NUMBER` naming `field`.
pub(crate) fn e164(field: &str, raw: &str) -> ApiResult<E164> {
    E164::parse(raw).map_err(|_| invalid_number(field, raw))
}

pub(crate) fn invalid_number(field: &str, raw: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidNumber,
        format!("'{raw}' is not an E.164 phone number (e.g. +14155550123)"),
    )
    .with_details(json!([{ "field": field, "message": "must be E.164: '+', country code, number; 8–15 digits" }]))
}

// ---------------------------------------------------------------------------------------------
// Shared steps (also used by quickstart and agent assignment)
// ---------------------------------------------------------------------------------------------

/// `NUMBER_EXISTS` when this organisation already has it, `NUMBER_CONFLICT` when another does.
pub async fn ensure_unowned(state: &AppState, org_id: &str, e164: &str) -> ApiResult<()> {
    match store::phone_numbers::find_any_owner(&state.db, e164).await? {
        None => Ok(()),
        Some(owner) if owner == org_id => Err(ApiError::new(
            ErrorCode::NumberExists,
            format!("Phone number '{e164}' is already provisioned in this organization"),
        )),
        Some(_) => Err(ApiError::new(
            ErrorCode::NumberConflict,
            format!("Phone number '{e164}' is not available"),
        )),
    }
}

/// `INVALID_AGENT` unless `agent_id` is one of the organisation's agents.
pub async fn ensure_agent(db: &impl sea_orm::ConnectionTrait, org_id: &str, agent_id: &str) -> ApiResult<()> {
    match store::agents::find(db, org_id, agent_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            ErrorCode::InvalidAgent,
            format!("Agent '{agent_id}' not found or does not belong to this organization"),
        )
        .with_details(json!([{ "field": "agentId", "message": "unknown agent" }]))),
    }
}

pub fn webhooks(state: &AppState) -> Webhooks {
    Webhooks::for_base(&state.settings.server.public_base_url)
}

/// The row for a number just bought or imported at `carrier`.
pub fn number_row(
    org_id: &str,
    carrier: &dyn Telephony,
    bought: CarrierNumber,
    country: &str,
    friendly_name: Option<String>,
    agent_id: Option<String>,
) -> phone_number::Model {
    let now = Utc::now();
    phone_number::Model {
        id: PhoneNumberId::new().into(),
        org_id: org_id.to_string(),
        friendly_name: friendly_name.or(bought.friendly_name),
        provider: carrier.provider(),
        provider_sid: Some(bought.sid),
        twilio_account_sid: carrier.account_sid().map(str::to_string),
        voice_webhook_url: bought.voice_url,
        sms_webhook_url: bought.sms_url,
        agent_id,
        status: NumberStatus::Active,
        country: country.to_string(),
        capabilities: json!(bought.capabilities),
        phone_number: bought.phone_number,
        created_at: now,
        updated_at: now,
    }
}

/// Searches (when only an area code is given) and buys a number at the organisation's
/// carrier. Nothing is written to this platform's tables: the caller records the row.
pub async fn buy(
    state: &AppState,
    org_id: &str,
    phone_number: Option<&E164>,
    search: &SearchIn,
) -> ApiResult<(std::sync::Arc<dyn Telephony>, CarrierNumber, String)> {
    let (_, carrier) = state.carriers.for_org(org_id).await?;
    let query = search.query();
    let e164 = match phone_number {
        Some(n) => n.to_string(),
        None => {
            let found = carrier
                .search(&SearchQuery {
                    limit: 20,
                    ..query.clone()
                })
                .await?;
            let numbers: Vec<String> = found.into_iter().map(|n| n.phone_number).collect();
            let owned = store::phone_numbers::owned_among(&state.db, &numbers).await?;
            numbers.into_iter().find(|n| !owned.contains(n)).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::NoActiveNumbers,
                    format!(
                        "No phone numbers available in area code {}",
                        query.area_code.as_deref().unwrap_or("(any)")
                    ),
                )
            })?
        }
    };
    ensure_unowned(state, org_id, &e164).await?;
    let bought = match carrier.purchase(&e164, &webhooks(state)).await {
        Ok(bought) => bought,
        Err(telephony::TelephonyError::Taken(_)) => return Err(lost_race(state, org_id, &e164).await),
        Err(e) => return Err(e.into()),
    };
    Ok((carrier, bought, query.country))
}

/// The answer to the loser of a race for one number, whenever it lost (at the carrier or
/// at the insert): the winner's row is waited for briefly, so a loser in the winner's
/// organisation always hears `NUMBER_EXISTS` and any other `NUMBER_CONFLICT`.
pub async fn lost_race(state: &AppState, org_id: &str, e164: &str) -> ApiError {
    const SETTLE: std::time::Duration = std::time::Duration::from_secs(2);
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        match ensure_unowned(state, org_id, e164).await {
            Err(answer) => return answer,
            Ok(()) if std::time::Instant::now() >= deadline => {
                return ApiError::new(
                    ErrorCode::NumberConflict,
                    format!("Phone number '{e164}' is not available"),
                );
            }
            Ok(()) => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
}

/// Records a bought or imported number and answers it.
async fn record(ctx: &Ctx, row: phone_number::Model) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let row = store::phone_numbers::insert(&txn, row).await?;
    ctx.commit(txn, StatusCode::CREATED, &PhoneNumberOut::from(row)).await
}

/// Whether recording a number failed because another request recorded it first.
fn is_duplicate(e: &ApiError) -> bool {
    e.code == ErrorCode::ResourceConflict
}

/// Best effort: gives a number back to the carrier when recording it failed.
pub async fn compensate(carrier: &dyn Telephony, sid: &str) {
    if let Err(e) = carrier.release(sid).await {
        tracing::error!(error = %e, sid, "could not release a number after a failed provision");
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

pub async fn put_credentials(ctx: Ctx, Body(input): Body<CredentialsIn>) -> ApiResult<HttpResponse> {
    let sid = input.account_sid.trim().to_string();
    let token = input.auth_token.trim().to_string();
    let client = ctx.state.carriers.twilio_client(&sid, &token);
    let account = client.fetch_account().await.map_err(|e| match e {
        // Another account's SID, or a key without access to it: the pair does not work.
        TwilioError::NotFound { .. } | TwilioError::PermissionDenied { .. } => ApiError::new(
            ErrorCode::TwilioAuthFailed,
            "Twilio credential validation failed — check Account SID and Auth Token",
        ),
        other => ApiError::from(other),
    })?;
    let sealed = ctx
        .state
        .crypto
        .encrypt(&token)
        .await
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    let now = Utc::now();
    let friendly_name = input.friendly_name.or(account.friendly_name.clone());
    let txn = ctx.begin().await?;
    store::telephony::upsert_credentials(
        &txn,
        telephony_credential::Model {
            org_id: ctx.org().to_string(),
            account_sid: sid.clone(),
            auth_token_ciphertext: sealed,
            friendly_name: friendly_name.clone(),
            account_type: account.account_type.clone(),
            account_status: account.status.clone(),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    let out = CredentialsOut {
        configured: true,
        provider: "twilio".into(),
        mode: mode_name(Mode::Byoc),
        account_sid: sid,
        friendly_name,
        account_type: account.account_type,
        account_status: account.status,
        validated_at: now,
    };
    ctx.commit(txn, StatusCode::OK, &Sorted(out)).await
}

pub async fn list_numbers(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let filter = store::phone_numbers::Filter {
        agent_id: q.get("agentId").filter(|s| !s.is_empty()).map(str::to_string),
        provider: q.one_of("provider", &["twilio", "sandbox"])?,
    };
    let (rows, total) = store::phone_numbers::list(ctx.db(), ctx.org(), &filter, page.offset(), page.page_size).await?;
    let items: Vec<PhoneNumberOut> = rows.into_iter().map(Into::into).collect();
    Ok(envelope::list("numbers", &items, page.info(total)))
}

async fn search(ctx: &Ctx, input: &SearchIn) -> ApiResult<HttpResponse> {
    let (mode, carrier) = ctx.state.carriers.for_org(ctx.org()).await?;
    let found = carrier.search(&input.query()).await?;
    let candidates: Vec<String> = found.iter().map(|n| n.phone_number.clone()).collect();
    let owned = store::phone_numbers::owned_among(ctx.db(), &candidates).await?;
    let out = NumberSearchOut {
        numbers: found
            .into_iter()
            .filter(|n| !owned.contains(&n.phone_number))
            .map(Into::into)
            .collect(),
        provider: carrier.provider().to_string(),
        mode: mode_name(mode),
        sandbox: mode == Mode::Sandbox,
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn search_get(ctx: Ctx, q: ListQuery) -> ApiResult<HttpResponse> {
    let input = SearchIn::from_query(&q)?;
    search(&ctx, &input).await
}

pub async fn search_post(ctx: Ctx, Body(input): Body<SearchIn>) -> ApiResult<HttpResponse> {
    search(&ctx, &input).await
}

pub async fn provision(ctx: Ctx, Body(input): Body<ProvisionIn>) -> ApiResult<HttpResponse> {
    let phone_number = input
        .phone_number
        .as_deref()
        .map(|n| e164("phoneNumber", n))
        .transpose()?;
    if let Some(agent_id) = &input.agent_id {
        ensure_agent(ctx.db(), ctx.org(), agent_id).await?;
    }
    let search = SearchIn {
        area_code: input.area_code.clone(),
        country: input.country.clone(),
        contains: None,
        limit: None,
    };
    let (carrier, bought, country) = buy(&ctx.state, ctx.org(), phone_number.as_ref(), &search).await?;
    let sid = bought.sid.clone();
    let e164 = bought.phone_number.clone();
    let row = number_row(
        ctx.org(),
        carrier.as_ref(),
        bought,
        &country,
        input.friendly_name,
        input.agent_id,
    );
    match record(&ctx, row).await {
        Ok(res) => Ok(res),
        Err(e) => {
            compensate(carrier.as_ref(), &sid).await;
            if is_duplicate(&e) {
                return Err(lost_race(&ctx.state, ctx.org(), &e164).await);
            }
            Err(e)
        }
    }
}

pub async fn import(ctx: Ctx, Body(input): Body<ImportIn>) -> ApiResult<HttpResponse> {
    let number = e164("phoneNumber", input.phone_number.trim())?;
    let Some((_, client)) = ctx.state.carriers.twilio_for(ctx.org()).await? else {
        return Err(not_configured());
    };
    if let Some(agent_id) = &input.agent_id {
        ensure_agent(ctx.db(), ctx.org(), agent_id).await?;
    }
    ensure_unowned(&ctx.state, ctx.org(), number.as_str()).await?;
    let carrier = telephony::TwilioCarrier::new(client);
    let owned = carrier.find_owned(number.as_str()).await?.ok_or_else(|| {
        ApiError::not_found(
            &format!("Phone number in Twilio account {}", carrier.account_sid().unwrap_or("")),
            number.as_str(),
        )
    })?;
    let configured = carrier.configure(&owned.sid, &webhooks(&ctx.state)).await?;
    let row = number_row(
        ctx.org(),
        &carrier,
        configured,
        "US",
        input.friendly_name,
        input.agent_id,
    );
    match record(&ctx, row).await {
        Err(e) if is_duplicate(&e) => Err(lost_race(&ctx.state, ctx.org(), number.as_str()).await),
        other => other,
    }
}

pub async fn list_external(ctx: Ctx) -> ApiResult<HttpResponse> {
    let Some((mode, client)) = ctx.state.carriers.twilio_for(ctx.org()).await? else {
        return Err(not_configured());
    };
    let carrier = telephony::TwilioCarrier::new(client);
    let numbers = carrier.list_owned().await?;
    let all: Vec<String> = numbers.iter().map(|n| n.phone_number.clone()).collect();
    let (mine, _) =
        store::phone_numbers::list(ctx.db(), ctx.org(), &store::phone_numbers::Filter::default(), 0, 10_000).await?;
    let taken = store::phone_numbers::owned_among(ctx.db(), &all).await?;
    let items: Vec<ExternalNumberOut> = numbers
        .into_iter()
        .map(|n| {
            let imported = mine.iter().find(|m| m.phone_number == n.phone_number);
            ExternalNumberOut {
                imported: imported.is_some(),
                phone_number_id: imported.map(|m| m.id.clone()),
                importable: !taken.contains(&n.phone_number),
                sid: n.sid,
                phone_number: n.phone_number,
                friendly_name: n.friendly_name,
                voice_url: n.voice_url,
                sms_url: n.sms_url,
                capabilities: n.capabilities.into(),
            }
        })
        .collect();
    let out = ExternalNumbersOut {
        numbers: items,
        account_sid: carrier.account_sid().map(str::to_string),
        mode: mode_name(mode),
    };
    Ok(envelope::ok(&Sorted(out)))
}

async fn load(db: &impl sea_orm::ConnectionTrait, org_id: &str, id: &str) -> ApiResult<phone_number::Model> {
    store::phone_numbers::find(db, org_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Phone number", id))
}

pub async fn update_number(ctx: Ctx, id: web::Path<String>, Body(patch): Body<NumberPatch>) -> ApiResult<HttpResponse> {
    let txn = ctx.begin().await?;
    let mut row = load(&txn, ctx.org(), &id).await?;
    if let Some(name) = patch.friendly_name {
        row.friendly_name = Some(name);
    }
    if let Some(status) = patch.status {
        row.status = NumberStatus::parse(&status).unwrap_or(row.status);
    }
    if let Some(agent_id) = patch.agent_id {
        if let Some(agent_id) = &agent_id {
            ensure_agent(&txn, ctx.org(), agent_id).await?;
        }
        for changed in [row.agent_id.clone(), agent_id.clone()].into_iter().flatten() {
            store::outbox::record(
                &txn,
                ctx.org(),
                "agent.updated",
                json!({ "agentId": changed, "change": "telephony", "phoneNumberId": row.id }),
            )
            .await?;
        }
        row.agent_id = agent_id;
    }
    row.updated_at = Utc::now();
    let row = store::phone_numbers::save(&txn, row).await?;
    ctx.commit(txn, StatusCode::OK, &PhoneNumberOut::from(row)).await
}

pub async fn release(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = load(ctx.db(), ctx.org(), &id).await?;
    let carrier = ctx.state.carriers.of_number(&row).await?;
    if let Some(sid) = &row.provider_sid {
        carrier.release(sid).await?;
    }
    let txn = ctx.begin().await?;
    let mut warnings = Vec::new();
    if let Some(agent_id) = &row.agent_id {
        warnings.push(format!("Agent '{agent_id}' no longer has this number"));
        store::outbox::record(
            &txn,
            ctx.org(),
            "agent.updated",
            json!({ "agentId": agent_id, "change": "telephony", "phoneNumberId": row.id }),
        )
        .await?;
    }
    store::phone_numbers::delete(&txn, ctx.org(), &row.id).await?;
    let out =
        DeletedOut::new(format!("Phone number '{}' ({}) released", row.id, row.phone_number)).with_warnings(warnings);
    ctx.commit(txn, StatusCode::OK, &out).await
}

/// Query of `GET /telephony/numbers/search`.
const SEARCH_QUERY: &[Param] = &[
    Param {
        name: "areaCode",
        ty: "string",
        description: "Area code, e.g. 415",
    },
    Param {
        name: "country",
        ty: "string",
        description: "ISO country code (default US)",
    },
    Param {
        name: "contains",
        ty: "string",
        description: "Digits the number must contain",
    },
    Param {
        name: "limit",
        ty: "integer",
        description: "Most results to return",
    },
];

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::PUT,
            "/telephony/credentials",
            "telephony",
            "set_telephony_credentials",
            "Configure BYOC Twilio credentials (validates against Twilio API)",
            |r| r.to(put_credentials),
        )
        .key(Some("telephony:write"))
        .body::<CredentialsIn>()
        .example(|| json!({ "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "your_auth_token" }))
        .returns::<CredentialsOut>(),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers",
            "telephony",
            "list_numbers",
            "List phone numbers",
            |r| r.to(list_numbers),
        )
        .key(Some("telephony:read"))
        .returns_list::<PhoneNumberOut>("numbers"),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers/external",
            "telephony",
            "list_external_numbers",
            "Discover numbers in your Twilio account (for import)",
            |r| r.to(list_external),
        )
        .key(Some("telephony:read"))
        .returns::<ExternalNumbersOut>(),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers/search",
            "telephony",
            "search_numbers_get",
            "Search available numbers to purchase (query: areaCode, country, contains, limit)",
            |r| r.to(search_get),
        )
        .key(Some("telephony:read"))
        .query(SEARCH_QUERY)
        .alias_of("search_numbers")
        .extension()
        .returns::<NumberSearchOut>(),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/search",
            "telephony",
            "search_numbers",
            "Search available numbers to purchase",
            |r| r.to(search_post),
        )
        .key(Some("telephony:read"))
        .body::<SearchIn>()
        .example(|| json!({ "areaCode": "415", "limit": 5 }))
        .returns::<NumberSearchOut>(),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/provision",
            "telephony",
            "provision_number",
            "Purchase and provision a new phone number",
            |r| r.to(provision),
        )
        .key(Some("telephony:write"))
        .body::<ProvisionIn>()
        .example(|| json!({ "areaCode": "415" }))
        .returns::<PhoneNumberOut>(),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/import",
            "telephony",
            "import_number",
            "Import an existing number from your Twilio account",
            |r| r.to(import),
        )
        .key(Some("telephony:write"))
        .body::<ImportIn>()
        .example(|| json!({ "phoneNumber": "+14155550123", "friendlyName": "Main line" }))
        .returns::<PhoneNumberOut>(),
        RouteSpec::new(
            M::DELETE,
            "/telephony/numbers/:id",
            "telephony",
            "release_number",
            "Release a phone number",
            |r| r.to(release),
        )
        .key(Some("telephony:write"))
        .returns::<DeletedOut>(),
        RouteSpec::new(
            M::PATCH,
            "/telephony/numbers/:id",
            "telephony",
            "update_number",
            "Update phone number config",
            |r| r.to(update_number),
        )
        .key(Some("telephony:write"))
        .body::<NumberPatch>()
        .example(|| json!({ "friendlyName": "Front desk line" }))
        .returns::<PhoneNumberOut>(),
    ]
}
