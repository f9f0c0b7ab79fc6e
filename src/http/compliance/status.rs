//! `GET /compliance/a2p/status`: where the organisation stands on A2P 10DLC, what blocks
//! SMS on US long codes, and the next actions as machine-actionable steps.

use actix_web::HttpResponse;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use thruai_entities::{a2p_brand, a2p_campaign};

use crate::{
    error::ApiResult,
    http::{
        core::{envelope, extract::Ctx},
        sms::is_us_long_code,
    },
    state::AppState,
    store,
};

pub struct NextSteps {
    pub stage: &'static str,
    pub substatus: Option<String>,
    pub next_action: Option<String>,
    pub next_actions: Vec<Value>,
    pub blocking: Vec<Value>,
    pub window: Option<Value>,
}

fn action(operation: &str, method: &str, path: &str, description: &str) -> Value {
    json!({ "operation": operation, "method": method, "path": path, "description": description })
}

fn window(from: DateTime<Utc>, min: Duration, max: Duration, typical: &str) -> Value {
    json!({ "earliest": from + min, "latest": from + max, "description": typical })
}

/// How long the registration still under review may take (carrier timelines, or the
/// sandbox's configured review time).
fn review_window(state: &AppState, sandbox: bool, brand: bool, created: DateTime<Utc>) -> Value {
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

fn blocking(code: &str, message: String, id: Option<&str>) -> Value {
    json!({ "code": code, "message": message, "resourceId": id })
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
    let brand: Option<&a2p_brand::Model> = brands.iter().find(|b| b.status == "approved").or(brands.first());
    let approved_campaign: Option<&a2p_campaign::Model> = campaigns.iter().find(|c| c.status == "approved");
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
        Some(b) if b.status == "rejected" || b.status == "failed" => {
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
        Some(b) if b.status != "approved" => {
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
        Some(c) if c.status == "rejected" || c.status == "failed" => {
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
        Some(c) if c.status != "approved" => {
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
                a["body"] = json!({ "phoneNumberId": n.id });
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

pub async fn status(ctx: Ctx) -> ApiResult<HttpResponse> {
    let steps = next_steps(&ctx.state, ctx.org()).await?;
    let brands = store::a2p::brands(ctx.db(), ctx.org()).await?;
    let campaigns = store::a2p::campaigns(ctx.db(), ctx.org()).await?;
    let linked = store::a2p::linked_numbers(ctx.db(), ctx.org()).await?;
    let brand = brands.iter().find(|b| b.status == "approved").or(brands.first());
    Ok(envelope::ok(&json!({
        "status": steps.stage,
        "substatus": steps.substatus,
        "canSendSms": steps.blocking.is_empty(),
        "estimatedWindow": steps.window,
        "blockingReasons": steps.blocking,
        "nextAction": steps.next_action,
        "nextActions": steps.next_actions,
        "brand": brand.map(|b| json!({
            "id": b.id, "status": b.status, "substatus": b.substatus,
            "rejectionReason": b.rejection_reason, "updatedAt": b.updated_at,
        })),
        "campaigns": campaigns.iter().map(|c| json!({
            "id": c.id, "brandId": c.brand_id, "useCase": c.use_case, "status": c.status,
            "substatus": c.substatus, "rejectionReason": c.rejection_reason,
            "phoneNumbers": linked.iter().filter(|l| l.campaign_id == c.id).map(|l| &l.phone_number).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })))
}
