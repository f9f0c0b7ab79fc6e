//! `GET /compliance/a2p/status`: where the organisation stands on A2P 10DLC, what blocks
//! SMS on US long codes, and the next actions as machine-actionable steps.

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::{a2p_brand, a2p_campaign, values::status::RegistrationStatus as Phase};

use crate::{
    domain::is_us_long_code,
    error::ApiResult,
    http::core::{
        envelope::{self, Sorted},
        extract::Ctx,
    },
    state::AppState,
    store,
};

pub struct NextSteps {
    pub stage: &'static str,
    pub substatus: Option<String>,
    pub next_action: Option<String>,
    pub next_actions: Vec<NextAction>,
    pub blocking: Vec<BlockingReason>,
    pub window: Option<ReviewWindow>,
}

/// An operation to call next, as an MCP tool name and as an HTTP call.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NextAction {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub description: String,
    /// The body to send, when the call needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// What keeps SMS on US long codes blocked.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BlockingReason {
    /// `BRAND_REQUIRED`, `BRAND_REJECTED`, `BRAND_NOT_APPROVED`, `CAMPAIGN_REQUIRED`,
    /// `CAMPAIGN_REJECTED`, `CAMPAIGN_NOT_APPROVED` or `NUMBER_NOT_LINKED`.
    pub code: String,
    pub message: String,
    pub resource_id: Option<String>,
}

/// When a registration under review may be decided.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReviewWindow {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
    pub description: String,
}

fn action(operation: &str, method: &str, path: &str, description: &str) -> NextAction {
    NextAction {
        operation: operation.into(),
        method: method.into(),
        path: path.into(),
        description: description.into(),
        body: None,
    }
}

fn window(from: DateTime<Utc>, min: Duration, max: Duration, typical: &str) -> ReviewWindow {
    ReviewWindow {
        earliest: from + min,
        latest: from + max,
        description: typical.into(),
    }
}

/// How long the registration still under review may take (carrier timelines, or the
/// sandbox's configured review time).
fn review_window(state: &AppState, sandbox: bool, brand: bool, created: DateTime<Utc>) -> ReviewWindow {
    let a2p = &state.settings.a2p;
    if sandbox {
        let ms = if brand {
            a2p.sandbox_brand_review_ms
        } else {
            a2p.sandbox_campaign_review_ms
        };
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        return window(
            created,
            Duration::milliseconds(ms / 10),
            Duration::milliseconds(ms),
            "sandbox review",
        );
    }
    if brand {
        window(
            created,
            Duration::minutes(5),
            Duration::days(3),
            "minutes to 3 business days",
        )
    } else {
        window(
            created,
            Duration::days(2),
            Duration::days(21),
            "several business days up to 3 weeks",
        )
    }
}

fn blocking(code: &str, message: String, id: Option<&str>) -> BlockingReason {
    BlockingReason {
        code: code.into(),
        message,
        resource_id: id.map(str::to_string),
    }
}

/// The stage of the organisation's registration and what to do next.
///
/// # Errors
/// Database failures.
pub async fn next_steps(state: &AppState, org_id: &str) -> ApiResult<NextSteps> {
    let brands = store::a2p::brands(&state.db, org_id).await?;
    let campaigns = store::a2p::campaigns(&state.db, org_id).await?;
    let linked = store::a2p::linked_numbers(&state.db, org_id).await?;
    let (numbers, _) =
        store::phone_numbers::list(&state.db, org_id, &store::phone_numbers::Filter::default(), 0, 1000).await?;
    let sandbox = store::telephony::credentials(&state.db, org_id).await?.is_none()
        && !state.settings.providers.twilio.configured();
    let brand: Option<&a2p_brand::Model> = brands.iter().find(|b| b.status == Phase::Approved).or(brands.first());
    let approved_campaign: Option<&a2p_campaign::Model> = campaigns.iter().find(|c| c.status == Phase::Approved);
    let campaign = approved_campaign.or(campaigns.first());
    let submit_brand = action(
        "submit_a2p_brand",
        "POST",
        "/compliance/a2p/brands",
        "Register your business as a brand",
    );
    let mut s = NextSteps {
        stage: "compliant",
        substatus: None,
        next_action: None,
        next_actions: vec![],
        blocking: vec![],
        window: None,
    };
    match brand {
        None => {
            s.stage = "brand_required";
            s.blocking
                .push(blocking("BRAND_REQUIRED", "No A2P brand registration".into(), None));
            s.next_action = Some("Validate and submit a brand registration: POST /compliance/a2p/brands/validate, then POST /compliance/a2p/brands".into());
            s.next_actions = vec![
                action(
                    "get_a2p_config",
                    "GET",
                    "/compliance/a2p/config",
                    "Allowed verticals, use cases and brand types",
                ),
                action(
                    "validate_a2p_brand",
                    "POST",
                    "/compliance/a2p/brands/validate",
                    "Dry-run the brand registration",
                ),
                submit_brand,
            ];
            return Ok(s);
        }
        Some(b) if b.status.is_refused() => {
            s.stage = "brand_rejected";
            s.substatus.clone_from(&b.substatus);
            let reason = b.rejection_reason.clone().unwrap_or_default();
            s.blocking.push(blocking(
                "BRAND_REJECTED",
                format!("Brand '{}' was {}: {reason}", b.id, b.status),
                Some(&b.id),
            ));
            s.next_action = Some(format!(
                "Fix the brand registration ({reason}) and submit it again with POST /compliance/a2p/brands"
            ));
            s.next_actions = vec![
                action(
                    "validate_a2p_brand",
                    "POST",
                    "/compliance/a2p/brands/validate",
                    "Check the corrected registration",
                ),
                submit_brand,
            ];
            return Ok(s);
        }
        Some(b) if b.status != Phase::Approved => {
            s.stage = "brand_pending";
            s.substatus.clone_from(&b.substatus);
            s.window = Some(review_window(state, sandbox, true, b.created_at));
            s.blocking.push(blocking(
                "BRAND_NOT_APPROVED",
                format!("Brand '{}' is {}", b.id, b.status),
                Some(&b.id),
            ));
            s.next_action = Some(format!(
                "Wait for brand '{}' to be approved (POST /compliance/a2p/brands/{}/refresh to check now, or subscribe to a2p.brand.status_changed)",
                b.id, b.id
            ));
            s.next_actions = vec![action(
                "refresh_a2p_brand",
                "POST",
                &format!("/compliance/a2p/brands/{}/refresh", b.id),
                "Poll the carrier now",
            )];
            return Ok(s);
        }
        Some(_) => {}
    }
    let brand_id = brand.map(|b| b.id.clone()).unwrap_or_default();
    let submit_campaign = action(
        "submit_a2p_campaign",
        "POST",
        "/compliance/a2p/campaigns",
        "Register your messaging use case",
    );
    match campaign {
        None => {
            s.stage = "campaign_required";
            s.blocking.push(blocking(
                "CAMPAIGN_REQUIRED",
                "No A2P campaign registration".into(),
                None,
            ));
            s.next_action = Some(format!(
                "Submit a campaign for brand '{brand_id}': POST /compliance/a2p/campaigns"
            ));
            s.next_actions = vec![
                action(
                    "validate_a2p_campaign",
                    "POST",
                    "/compliance/a2p/campaigns/validate",
                    "Dry-run the campaign",
                ),
                submit_campaign,
            ];
            return Ok(s);
        }
        Some(c) if c.status.is_refused() => {
            s.stage = "campaign_rejected";
            s.substatus.clone_from(&c.substatus);
            let reason = c.rejection_reason.clone().unwrap_or_default();
            s.blocking.push(blocking(
                "CAMPAIGN_REJECTED",
                format!("Campaign '{}' was {}: {reason}", c.id, c.status),
                Some(&c.id),
            ));
            s.next_action = Some(format!(
                "Fix the campaign ({reason}) and submit it again with POST /compliance/a2p/campaigns"
            ));
            s.next_actions = vec![submit_campaign];
            return Ok(s);
        }
        Some(c) if c.status != Phase::Approved => {
            s.stage = "campaign_pending";
            s.substatus.clone_from(&c.substatus);
            s.window = Some(review_window(state, sandbox, false, c.created_at));
            s.blocking.push(blocking(
                "CAMPAIGN_NOT_APPROVED",
                format!("Campaign '{}' is {}", c.id, c.status),
                Some(&c.id),
            ));
            s.next_action = Some(format!(
                "Wait for campaign '{}' to be approved (POST /compliance/a2p/campaigns/{}/refresh to check now)",
                c.id, c.id
            ));
            s.next_actions = vec![action(
                "refresh_a2p_campaign",
                "POST",
                &format!("/compliance/a2p/campaigns/{}/refresh", c.id),
                "Poll the carrier now",
            )];
            return Ok(s);
        }
        Some(_) => {}
    }
    let campaign_id = campaign.map(|c| c.id.clone()).unwrap_or_default();
    let unlinked: Vec<_> = numbers
        .iter()
        .filter(|n| is_us_long_code(&n.phone_number) && !linked.iter().any(|l| l.phone_number_id == n.id))
        .collect();
    if !unlinked.is_empty() || numbers.is_empty() {
        s.stage = "numbers_unlinked";
        for n in &unlinked {
            s.blocking.push(blocking(
                "NUMBER_NOT_LINKED",
                format!("{} is not linked to an approved campaign", n.phone_number),
                Some(&n.id),
            ));
        }
        s.next_action = Some(format!(
            "Link your US numbers to campaign '{campaign_id}': POST /compliance/a2p/campaigns/{campaign_id}/phone-numbers"
        ));
        s.next_actions = unlinked
            .iter()
            .map(|n| {
                let mut a = action(
                    "link_phone_to_campaign",
                    "POST",
                    &format!("/compliance/a2p/campaigns/{campaign_id}/phone-numbers"),
                    "Send SMS from this number",
                );
                a.body = Some(json!({ "phoneNumberId": n.id }));
                a
            })
            .collect();
        if numbers.is_empty() {
            s.next_action = Some(
                "Provision a phone number (POST /telephony/numbers/provision), then link it to your campaign".into(),
            );
            s.next_actions = vec![action(
                "provision_number",
                "POST",
                "/telephony/numbers/provision",
                "Buy a number",
            )];
        }
    }
    Ok(s)
}

/// The organisation's brand, as the status shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BrandStatusOut {
    pub id: String,
    pub status: String,
    pub substatus: Option<String>,
    pub rejection_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A campaign registration, as the status shows it.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CampaignStatusOut {
    pub id: String,
    pub brand_id: String,
    pub use_case: String,
    pub status: String,
    pub substatus: Option<String>,
    pub rejection_reason: Option<String>,
    /// The numbers linked to it, E.164.
    pub phone_numbers: Vec<String>,
}

/// `GET /compliance/a2p/status`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct A2pStatusOut {
    /// `brand_required`, `brand_rejected`, `brand_pending`, `campaign_required`,
    /// `campaign_rejected`, `campaign_pending`, `numbers_unlinked` or `compliant`.
    pub status: String,
    pub substatus: Option<String>,
    pub can_send_sms: bool,
    pub estimated_window: Option<ReviewWindow>,
    pub blocking_reasons: Vec<BlockingReason>,
    pub next_action: Option<String>,
    pub next_actions: Vec<NextAction>,
    pub brand: Option<BrandStatusOut>,
    pub campaigns: Vec<CampaignStatusOut>,
}

pub async fn status(ctx: Ctx) -> ApiResult<HttpResponse> {
    let steps = next_steps(&ctx.state, ctx.org()).await?;
    let brands = store::a2p::brands(ctx.db(), ctx.org()).await?;
    let campaigns = store::a2p::campaigns(ctx.db(), ctx.org()).await?;
    let linked = store::a2p::linked_numbers(ctx.db(), ctx.org()).await?;
    let brand = brands.iter().find(|b| b.status == Phase::Approved).or(brands.first());
    let out = A2pStatusOut {
        status: steps.stage.into(),
        substatus: steps.substatus,
        can_send_sms: steps.blocking.is_empty(),
        estimated_window: steps.window,
        blocking_reasons: steps.blocking,
        next_action: steps.next_action,
        next_actions: steps.next_actions,
        brand: brand.map(|b| BrandStatusOut {
            id: b.id.clone(),
            status: b.status.as_str().into(),
            substatus: b.substatus.clone(),
            rejection_reason: b.rejection_reason.clone(),
            updated_at: b.updated_at,
        }),
        campaigns: campaigns
            .into_iter()
            .map(|c| CampaignStatusOut {
                phone_numbers: linked
                    .iter()
                    .filter(|l| l.campaign_id == c.id)
                    .map(|l| l.phone_number.clone())
                    .collect(),
                id: c.id,
                brand_id: c.brand_id,
                use_case: c.use_case,
                status: c.status.as_str().into(),
                substatus: c.substatus,
                rejection_reason: c.rejection_reason,
            })
            .collect(),
    };
    Ok(envelope::ok(&Sorted(out)))
}
