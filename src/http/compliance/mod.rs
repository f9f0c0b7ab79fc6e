//! A2P 10DLC compliance: reference data, dry-run validation, brand and campaign
//! registration (each driven by its `A2pActor`), refresh as an immediate poll, number
//! linking and the overall status with next actions.

pub mod reference;
pub mod status;
pub mod wire;

use actix_web::{
    HttpResponse,
    http::{Method, StatusCode},
    web,
};
use chrono::Utc;
use serde_json::{Value, json};
use thruai_actors::a2p::{
    snapshot::A2pSnapshot,
    state::{Effect, Event, Kind, Phase, Registration},
};
use thruai_entities::{a2p_brand, a2p_campaign};
use wire::{
    BrandCheck, BrandIn, BrandOut, CampaignCheck, CampaignDryRunOut, CampaignIn, CampaignOut, DryRunOut,
    FieldSuggestion, LinkIn, LinkedNumberOut,
};

use super::core::{
    envelope::{self, Sorted},
    extract::{Body, Ctx},
    route_spec::RouteSpec,
};
use crate::{
    app::a2p::record_change,
    domain::{TelephonyProvider, ids, is_e164},
    error::{ApiError, ApiResult, ErrorCode, FieldError},
    state::AppState,
    store,
};

fn brand_not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::BrandNotFound, format!("A2P brand '{id}' not found"))
}

fn campaign_not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::CampaignNotFound, format!("A2P campaign '{id}' not found"))
}

fn next_action(status: Phase, kind: Kind, id: &str) -> Option<String> {
    let path = if kind == Kind::Brand { "brands" } else { "campaigns" };
    match status {
        Phase::Pending | Phase::InReview => Some(format!(
            "Under review: POST /compliance/a2p/{path}/{id}/refresh to check now"
        )),
        Phase::Approved if kind == Kind::Brand => Some("Submit a campaign: POST /compliance/a2p/campaigns".into()),
        Phase::Approved => Some(format!(
            "Link numbers: POST /compliance/a2p/campaigns/{id}/phone-numbers"
        )),
        Phase::Rejected | Phase::Failed => Some(format!(
            "Fix the registration and submit a new one: POST /compliance/a2p/{path}"
        )),
        Phase::Draft => None,
    }
}

fn brand_out(b: a2p_brand::Model) -> BrandOut {
    BrandOut {
        next_action: next_action(b.status, Kind::Brand, &b.id),
        application_id: b.id.clone(),
        company_name: b.data["companyName"].as_str().map(str::to_owned),
        id: b.id,
        brand_type: b.brand_type,
        status: b.status.as_str().into(),
        substatus: b.substatus,
        carrier_sid: b.carrier_sid,
        rejection_reason: b.rejection_reason,
        registration: b.data,
        created_at: b.created_at,
        updated_at: b.updated_at,
        approved_at: b.approved_at,
    }
}

async fn campaign_out(db: &impl sea_orm::ConnectionTrait, c: a2p_campaign::Model) -> ApiResult<CampaignOut> {
    let numbers = store::a2p::campaign_numbers(db, &c.org_id, &c.id).await?;
    let mut registration = c.data.clone();
    if let Some(o) = registration.as_object_mut() {
        o.remove("brandCarrierSid");
    }
    Ok(CampaignOut {
        next_action: next_action(c.status, Kind::Campaign, &c.id),
        phone_numbers: numbers
            .into_iter()
            .map(|n| LinkedNumberOut {
                phone_number_id: n.phone_number_id,
                phone_number: n.phone_number,
                linked_at: n.created_at,
            })
            .collect(),
        id: c.id,
        brand_id: c.brand_id,
        use_case: c.use_case,
        status: c.status.as_str().into(),
        substatus: c.substatus,
        carrier_sid: c.carrier_sid,
        rejection_reason: c.rejection_reason,
        registration,
        created_at: c.created_at,
        updated_at: c.updated_at,
        approved_at: c.approved_at,
    })
}

/// The dry-run answer: `valid`, field errors with suggestions, nothing submitted.
fn dry_run(errors: Vec<FieldError>) -> DryRunOut {
    let suggestions = errors
        .iter()
        .filter_map(|e| {
            e.suggestion.as_ref().map(|s| FieldSuggestion {
                field: e.field.clone(),
                suggestion: s.clone(),
            })
        })
        .collect();
    DryRunOut {
        valid: errors.is_empty(),
        errors: errors.into_iter().map(Into::into).collect(),
        suggestions,
        submitted: false,
    }
}

/// Applies `Submit` to a new registration: the row is written with its intent (and the
/// `draft → pending` event) in the caller's transaction.
fn submitted(id: &str, org: &str, kind: Kind, payload: Value, state: &AppState) -> ApiResult<(Registration, Effect)> {
    let backoff = state.a2p.backoff();
    let (reg, effects) = Registration::new(id, org, kind, payload)
        .on(Event::Submit, &backoff)
        .map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    let first = effects
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::new(ErrorCode::InternalError, "no effect"))?;
    Ok((reg, first))
}

pub async fn config(_ctx: Ctx) -> ApiResult<HttpResponse> {
    Ok(envelope::ok(&Sorted(reference::config())))
}

pub async fn validate_brand(ctx: Ctx, Body(BrandCheck(input)): Body<BrandCheck>) -> ApiResult<HttpResponse> {
    let mut errors = input.problems();
    let existing = store::a2p::brands(ctx.db(), ctx.org()).await?;
    if let Some(b) = existing.iter().find(|b| !b.status.is_refused()) {
        errors.push(FieldError::new(
            "brandType",
            format!(
                "this organization already has brand '{}' ({}); submitting would fail with BRAND_EXISTS",
                b.id, b.status
            ),
        ));
    }
    Ok(envelope::ok(&Sorted(dry_run(errors))))
}

pub async fn create_brand(ctx: Ctx, Body(input): Body<BrandIn>) -> ApiResult<HttpResponse> {
    let existing = store::a2p::brands(ctx.db(), ctx.org()).await?;
    if let Some(b) = existing.iter().find(|b| !b.status.is_refused()) {
        return Err(ApiError::new(
            ErrorCode::BrandExists,
            format!(
                "This organization already has brand registration '{}' ({})",
                b.id, b.status
            ),
        )
        .with_details(json!({ "brandId": b.id, "status": b.status })));
    }
    let id = ids::new_id(ids::BRAND);
    let payload = serde_json::to_value(&input).map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    let (reg, first) = submitted(&id, ctx.org(), Kind::Brand, payload.clone(), &ctx.state)?;
    let now = Utc::now();
    let txn = ctx.begin().await?;
    let row = store::a2p::insert_brand(
        &txn,
        a2p_brand::Model {
            id: id.clone(),
            org_id: ctx.org().to_string(),
            brand_type: input.brand_type.clone().unwrap_or_default(),
            data: payload,
            status: reg.phase,
            substatus: reg.substatus.clone(),
            carrier_sid: None,
            rejection_reason: None,
            snapshot: A2pSnapshot::to_json(&reg),
            created_at: now,
            updated_at: now,
            approved_at: None,
        },
    )
    .await?;
    if let Effect::Persist(Some(change)) = &first {
        record_change(&txn, &reg, change).await?;
    }
    let res = ctx.commit(txn, StatusCode::CREATED, &brand_out(row)).await?;
    ctx.state.a2p.send_recorded(reg);
    Ok(res)
}

pub async fn get_brand(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = store::a2p::find_brand(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| brand_not_found(&id))?;
    Ok(envelope::ok(&brand_out(row)))
}

pub async fn refresh_brand(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    store::a2p::find_brand(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| brand_not_found(&id))?;
    ctx.state.a2p.refresh(&id).await;
    let row = store::a2p::find_brand(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| brand_not_found(&id))?;
    let txn = ctx.begin().await?;
    ctx.commit(txn, StatusCode::OK, &brand_out(row)).await
}

/// The brand a campaign names, which must be approved.
async fn approved_brand(ctx: &Ctx, brand_id: &str) -> ApiResult<a2p_brand::Model> {
    let brand = store::a2p::find_brand(ctx.db(), ctx.org(), brand_id)
        .await?
        .ok_or_else(|| brand_not_found(brand_id))?;
    if brand.status != Phase::Approved {
        return Err(ApiError::new(
            ErrorCode::BrandNotApproved,
            format!(
                "Brand '{brand_id}' is {}; campaigns need an approved brand",
                brand.status
            ),
        )
        .with_details(json!({
            "brandId": brand.id, "status": brand.status, "substatus": brand.substatus,
            "nextAction": next_action(brand.status, Kind::Brand, &brand.id),
        })));
    }
    Ok(brand)
}

pub async fn validate_campaign(ctx: Ctx, Body(CampaignCheck(input)): Body<CampaignCheck>) -> ApiResult<HttpResponse> {
    let mut errors = input.problems();
    let mut brand_status = None;
    if let Some(brand_id) = &input.brand_id {
        match approved_brand(&ctx, brand_id).await {
            Ok(b) => {
                brand_status = Some(b.status.as_str().to_string());
                if b.brand_type == "sole_proprietor" && input.use_case.as_deref() != Some("SOLE_PROPRIETOR") {
                    let mut e = FieldError::new(
                        "useCase",
                        "sole-proprietor brands register the SOLE_PROPRIETOR use case",
                    );
                    e.suggestion = Some("SOLE_PROPRIETOR".into());
                    errors.push(e);
                }
            }
            Err(e) => {
                brand_status = e
                    .details
                    .as_ref()
                    .and_then(|d| d["status"].as_str().map(str::to_string));
                errors.push(FieldError::new("brandId", e.message));
            }
        }
    }
    let out = CampaignDryRunOut {
        dry_run: dry_run(errors),
        brand_status,
    };
    Ok(envelope::ok(&Sorted(out)))
}

pub async fn create_campaign(ctx: Ctx, Body(input): Body<CampaignIn>) -> ApiResult<HttpResponse> {
    let brand_id = input.brand_id.clone().unwrap_or_default();
    let brand = approved_brand(&ctx, &brand_id).await?;
    let id = ids::new_id(ids::A2P_CAMPAIGN);
    let mut payload = serde_json::to_value(&input).map_err(|e| ApiError::internal(ErrorCode::InternalError, e))?;
    payload["brandCarrierSid"] = json!(brand.carrier_sid);
    let (reg, first) = submitted(&id, ctx.org(), Kind::Campaign, payload.clone(), &ctx.state)?;
    let now = Utc::now();
    let txn = ctx.begin().await?;
    let row = store::a2p::insert_campaign(
        &txn,
        a2p_campaign::Model {
            id: id.clone(),
            org_id: ctx.org().to_string(),
            brand_id,
            use_case: input.use_case.clone().unwrap_or_default(),
            data: payload,
            status: reg.phase,
            substatus: reg.substatus.clone(),
            carrier_sid: None,
            rejection_reason: None,
            snapshot: A2pSnapshot::to_json(&reg),
            created_at: now,
            updated_at: now,
            approved_at: None,
        },
    )
    .await?;
    if let Effect::Persist(Some(change)) = &first {
        record_change(&txn, &reg, change).await?;
    }
    let out = campaign_out(&txn, row).await?;
    let res = ctx.commit(txn, StatusCode::CREATED, &out).await?;
    ctx.state.a2p.send_recorded(reg);
    Ok(res)
}

pub async fn refresh_campaign(ctx: Ctx, id: web::Path<String>) -> ApiResult<HttpResponse> {
    store::a2p::find_campaign(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| campaign_not_found(&id))?;
    ctx.state.a2p.refresh(&id).await;
    let row = store::a2p::find_campaign(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| campaign_not_found(&id))?;
    let txn = ctx.begin().await?;
    let out = campaign_out(&txn, row).await?;
    ctx.commit(txn, StatusCode::OK, &out).await
}

pub async fn link_number(ctx: Ctx, id: web::Path<String>, Body(input): Body<LinkIn>) -> ApiResult<HttpResponse> {
    let campaign = store::a2p::find_campaign(ctx.db(), ctx.org(), &id)
        .await?
        .ok_or_else(|| campaign_not_found(&id))?;
    let number = match (&input.phone_number_id, &input.phone_number) {
        (Some(pid), _) => store::phone_numbers::find(ctx.db(), ctx.org(), pid)
            .await?
            .ok_or_else(|| ApiError::not_found("Phone number", pid))?,
        (None, Some(e164)) => {
            if !is_e164(e164) {
                return Err(ApiError::new(
                    ErrorCode::InvalidNumber,
                    format!("'{e164}' is not an E.164 phone number"),
                ));
            }
            store::phone_numbers::find_by_number(ctx.db(), ctx.org(), e164)
                .await?
                .ok_or_else(|| ApiError::not_found("Phone number", e164))?
        }
        (None, None) => return Err(ApiError::field("phoneNumberId", "give phoneNumberId or phoneNumber")),
    };
    if campaign.status != Phase::Approved {
        return Err(ApiError::new(
            ErrorCode::CampaignNotApproved,
            format!(
                "Campaign '{}' is {}; numbers can be linked once it is approved",
                campaign.id, campaign.status
            ),
        )
        .with_details(json!({
            "campaignId": campaign.id, "status": campaign.status, "substatus": campaign.substatus,
            "nextAction": next_action(campaign.status, Kind::Campaign, &campaign.id),
        })));
    }
    if number.provider == TelephonyProvider::Twilio
        && let (Some(carrier_ref), Some(pn)) = (&campaign.carrier_sid, &number.provider_sid)
        && let Some(twilio) = ctx
            .state
            .a2p
            .twilio(ctx.org())
            .await
            .map_err(|e| ApiError::internal(ErrorCode::TelephonyError, e))?
    {
        twilio
            .link_number(carrier_ref, pn)
            .await
            .map_err(|e| ApiError::internal(ErrorCode::TelephonyError, e))?;
    }
    let txn = ctx.begin().await?;
    store::a2p::link_number(&txn, ctx.org(), &campaign.id, &number).await?;
    let out = campaign_out(&txn, campaign).await?;
    ctx.commit(txn, StatusCode::OK, &out).await
}

fn brand_example() -> Value {
    json!({
        "brandType": "standard",
        "companyName": "Acme Dental LLC",
        "displayName": "Acme Dental",
        "ein": "12-3456789",
        "businessType": "Limited Liability Corporation",
        "companyType": "private",
        "vertical": "HEALTHCARE",
        "website": "https://acme-dental.example.com",
        "email": "compliance@acme-dental.example.com",
        "phone": "+14155550100",
        "address": { "street": "1 Market St", "city": "San Francisco", "state": "CA", "postalCode": "94105", "country": "US" },
        "contact": { "firstName": "Ada", "lastName": "Lovelace", "email": "ada@acme-dental.example.com", "phone": "+14155550101", "title": "Owner", "jobPosition": "CEO" }
    })
}

fn campaign_example() -> Value {
    json!({
        "brandId": "BRN-01JD0000000000000000000000",
        "useCase": "CUSTOMER_CARE",
        "description": "Appointment reminders and answers to patient questions for Acme Dental",
        "messageFlow": "Patients opt in by ticking the SMS box on the booking form at acme-dental.example.com/book",
        "messageSamples": [
            "Hi Sam, this is Acme Dental: your cleaning is tomorrow at 3pm. Reply STOP to unsubscribe.",
            "Acme Dental: thanks for your question, Dr. Lee will call you back today. Reply HELP for help."
        ],
        "hasEmbeddedLinks": false,
        "hasEmbeddedPhone": false,
        "helpMessage": "Acme Dental: call +14155550100 for help. Reply STOP to unsubscribe."
    })
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/status",
            "compliance",
            "get_a2p_status",
            "Get overall A2P compliance status with actionable blockingReasons[] and nextAction guidance",
            |r| r.to(status::status),
        )
        .key(Some("compliance:read"))
        .returns::<status::A2pStatusOut>(),
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/config",
            "compliance",
            "get_a2p_config",
            "Get available industry verticals, use cases, and brand types for registration",
            |r| r.to(config),
        )
        .key(Some("compliance:read"))
        .returns::<reference::A2pConfigOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands/validate",
            "compliance",
            "validate_a2p_brand",
            "Dry-run validation for brand registration. Returns field-level errors and suggestions without submitting to Twilio/TCR",
            |r| r.to(validate_brand),
        )
        .key(Some("compliance:read"))
        .body::<wire::BrandCheck>()
        .example(brand_example)
        .returns::<DryRunOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands",
            "compliance",
            "submit_a2p_brand",
            "Submit brand registration (sole_proprietor or standard). Returns Application ID (BRN-xxx) immediately",
            |r| r.to(create_brand),
        )
        .key(Some("compliance:write"))
        .body::<wire::BrandIn>()
        .example(brand_example)
        .returns::<BrandOut>(),
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/brands/:id",
            "compliance",
            "get_a2p_brand",
            "Get brand registration details by Application ID (BRN-xxx)",
            |r| r.to(get_brand),
        )
        .key(Some("compliance:read"))
        .returns::<BrandOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands/:id/refresh",
            "compliance",
            "refresh_a2p_brand",
            "Poll Twilio for latest brand registration status",
            |r| r.to(refresh_brand),
        )
        .key(Some("compliance:write"))
        .example(|| json!({}))
        .returns::<BrandOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/validate",
            "compliance",
            "validate_a2p_campaign",
            "Dry-run validation for campaign registration. Checks schema, brand approval status, and message samples",
            |r| r.to(validate_campaign),
        )
        .key(Some("compliance:read"))
        .body::<wire::CampaignCheck>()
        .example(campaign_example)
        .returns::<CampaignDryRunOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns",
            "compliance",
            "submit_a2p_campaign",
            "Submit A2P campaign (requires approved brand). Returns campaign ID (CMP-xxx)",
            |r| r.to(create_campaign),
        )
        .key(Some("compliance:write"))
        .body::<wire::CampaignIn>()
        .example(campaign_example)
        .returns::<CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/:id/refresh",
            "compliance",
            "refresh_a2p_campaign",
            "Poll Twilio for latest campaign status",
            |r| r.to(refresh_campaign),
        )
        .key(Some("compliance:write"))
        .example(|| json!({}))
        .returns::<CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/:id/phone-numbers",
            "compliance",
            "link_phone_to_campaign",
            "Link a phone number to an approved campaign for A2P-compliant SMS sending",
            |r| r.to(link_number),
        )
        .key(Some("compliance:write"))
        .body::<wire::LinkIn>()
        .example(|| json!({ "phoneNumber": "+14155550123" }))
        .returns::<CampaignOut>(),
    ]
}
