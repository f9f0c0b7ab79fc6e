//! A2P 10DLC: brands and campaigns through the sandbox review (and through the fake
//! Twilio), rejections, error codes, tenancy, and crashes while a registration is under way.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use thruai::http::core::routes;
use thruai_entities::outbox_event;

use crate::{
    fake_twilio::FakeTwilio,
    helpers::{Reply, TestApp, backends, spawn_app, spawn_with},
    processes::{self, send, shared_env, start, url},
};

pub fn brand_body() -> Value {
    (routes::table()
        .iter()
        .find(|s| s.path == "/compliance/a2p/brands")
        .unwrap()
        .example
        .unwrap())()
}

pub fn campaign_body(brand_id: &str) -> Value {
    let mut body = (routes::table()
        .iter()
        .find(|s| s.path == "/compliance/a2p/campaigns")
        .unwrap()
        .example
        .unwrap())();
    body["brandId"] = json!(brand_id);
    body
}

/// Refreshes until the registration reaches `status` (or a terminal one); returns the last answer.
pub async fn wait_for(app: &TestApp, path: &str, status: &str) -> Reply {
    let mut last = None;
    for _ in 0..100 {
        let r = app.post(&format!("{path}/refresh"), &json!({})).await;
        let s = r.data()["status"].as_str().unwrap_or_default().to_string();
        last = Some(r);
        if s == status || ["approved", "rejected", "failed"].contains(&s.as_str()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last.unwrap()
}

/// An approved brand and campaign; returns their ids.
pub async fn approved_campaign(app: &TestApp) -> (String, String) {
    let brand = app.post("/compliance/a2p/brands", &brand_body()).await;
    assert_eq!(brand.status, 201, "{:?}", brand.body);
    let brand_id = brand.data()["id"].as_str().unwrap().to_string();
    let b = wait_for(app, &format!("/compliance/a2p/brands/{brand_id}"), "approved").await;
    assert_eq!(b.data()["status"], "approved", "{:?}", b.body);
    let campaign = app.post("/compliance/a2p/campaigns", &campaign_body(&brand_id)).await;
    assert_eq!(campaign.status, 201, "{:?}", campaign.body);
    let campaign_id = campaign.data()["id"].as_str().unwrap().to_string();
    let c = wait_for(app, &format!("/compliance/a2p/campaigns/{campaign_id}"), "approved").await;
    assert_eq!(c.data()["status"], "approved", "{:?}", c.body);
    (brand_id, campaign_id)
}

/// A sandbox number linked to an approved campaign: (E.164, number id, campaign id).
pub async fn registered_number(app: &TestApp) -> (String, String, String) {
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let (_, campaign_id) = approved_campaign(app).await;
    let id = n.data()["id"].as_str().unwrap().to_string();
    let link = app
        .post(
            &format!("/compliance/a2p/campaigns/{campaign_id}/phone-numbers"),
            &json!({ "phoneNumberId": id }),
        )
        .await;
    assert_eq!(link.status, 200, "{:?}", link.body);
    (n.data()["phoneNumber"].as_str().unwrap().to_string(), id, campaign_id)
}

async fn events_for(app: &TestApp, event_type: &str, field: &str, id: &str) -> Vec<Value> {
    outbox_event::Entity::find()
        .filter(outbox_event::Column::EventType.eq(event_type))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.payload[field] == id)
        .map(|e| e.payload)
        .collect()
}

#[actix_web::test]
async fn a_brand_and_a_campaign_go_through_sandbox_review_to_approval_with_their_events() {
    let app = spawn_app().await;

    let brand = app.post("/compliance/a2p/brands", &brand_body()).await;
    let brand_id = brand.data()["id"].as_str().unwrap().to_string();
    let approved = wait_for(&app, &format!("/compliance/a2p/brands/{brand_id}"), "approved").await;
    let campaign = app.post("/compliance/a2p/campaigns", &campaign_body(&brand_id)).await;
    let campaign_id = campaign.data()["id"].as_str().unwrap().to_string();
    let verified = wait_for(&app, &format!("/compliance/a2p/campaigns/{campaign_id}"), "approved").await;

    assert_eq!(brand.status, 201);
    assert!(brand_id.starts_with("BRN-"));
    assert_eq!(brand.data()["status"], "pending");
    assert_eq!(approved.data()["status"], "approved");
    assert_eq!(approved.data()["substatus"], "APPROVED");
    assert!(approved.data()["carrierSid"].as_str().unwrap().starts_with("BN"));
    assert!(campaign_id.starts_with("CMP-"));
    assert_eq!(verified.data()["substatus"], "VERIFIED");
    let brand_events = events_for(&app, "a2p.brand.status_changed", "brandId", &brand_id).await;
    let statuses: Vec<&str> = brand_events.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"pending"));
    assert!(statuses.contains(&"in_review"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"approved"));
    let campaign_events = events_for(&app, "a2p.campaign.status_changed", "campaignId", &campaign_id).await;
    assert_eq!(campaign_events.last().unwrap()["status"], "approved");
    let got = app.get(&format!("/compliance/a2p/brands/{brand_id}")).await;
    assert_eq!(got.data()["status"], "approved");
    assert!(got.data()["approvedAt"].is_string());
}

#[actix_web::test]
async fn a_rejection_carries_its_reason_into_the_status() {
    let app = spawn_app().await;
    let mut body = brand_body();
    body["companyName"] = json!("Acme SANDBOX_REJECT: EIN does not match the legal name");

    let brand = app.post("/compliance/a2p/brands", &body).await;
    let id = brand.data()["id"].as_str().unwrap().to_string();
    let rejected = wait_for(&app, &format!("/compliance/a2p/brands/{id}"), "rejected").await;
    let status = app.get("/compliance/a2p/status").await;

    assert_eq!(rejected.data()["status"], "rejected");
    assert_eq!(rejected.data()["rejectionReason"], "EIN does not match the legal name");
    assert_eq!(status.data()["status"], "brand_rejected");
    let reasons = status.data()["blockingReasons"].to_string();
    assert!(reasons.contains("EIN does not match"), "{reasons}");
    assert_eq!(status.data()["nextActions"][0]["operation"], "validate_a2p_brand");
    let events = events_for(&app, "a2p.brand.status_changed", "brandId", &id).await;
    assert_eq!(
        events.last().unwrap()["rejectionReason"],
        "EIN does not match the legal name"
    );
}

#[actix_web::test]
async fn the_status_guides_through_every_step_with_actions_and_a_window() {
    let app = spawn_with(|s| s.a2p.sandbox_brand_review_ms = 600_000).await;

    let empty = app.get("/compliance/a2p/status").await;
    app.post("/compliance/a2p/brands", &brand_body()).await;
    let pending = app.get("/compliance/a2p/status").await;
    let config = app.get("/compliance/a2p/config").await;

    assert_eq!(empty.data()["status"], "brand_required");
    assert_eq!(empty.data()["canSendSms"], false);
    assert_eq!(empty.data()["nextActions"][2]["operation"], "submit_a2p_brand");
    assert_eq!(pending.data()["status"], "brand_pending");
    assert!(pending.data()["estimatedWindow"]["latest"].is_string());
    assert!(
        pending.data()["nextActions"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/refresh")
    );
    assert!(config.data()["verticals"].as_array().unwrap().len() > 10);
    assert!(config.data()["useCases"].to_string().contains("CUSTOMER_CARE"));
    assert_eq!(config.data()["brandTypes"][0]["value"], "sole_proprietor");
}

#[actix_web::test]
async fn validation_dry_runs_list_field_errors_with_suggestions_and_submit_nothing() {
    let app = spawn_app().await;
    let mut bad = brand_body();
    bad["vertical"] = json!("HEALTHCARES");
    bad["phone"] = json!("(415) 555-0100");
    bad["website"] = json!("acme.example.com");

    let ok = app.post("/compliance/a2p/brands/validate", &brand_body()).await;
    let wrong = app.post("/compliance/a2p/brands/validate", &bad).await;
    let empty = app.post("/compliance/a2p/campaigns/validate", &json!({})).await;
    let unknown_brand = app
        .post("/compliance/a2p/campaigns/validate", &campaign_body("BRN-NOPE"))
        .await;
    let refused = app.post("/compliance/a2p/brands", &bad).await;

    assert_eq!(ok.status, 200);
    assert_eq!(ok.data()["valid"], true);
    assert_eq!(wrong.data()["valid"], false);
    let suggestions = wrong.data()["suggestions"].to_string();
    assert!(
        suggestions.contains("HEALTHCARE")
            && suggestions.contains("+14155550100")
            && suggestions.contains("https://acme"),
        "{suggestions}"
    );
    assert_eq!(empty.data()["valid"], false);
    assert!(empty.data()["errors"].to_string().contains("messageSamples"));
    assert!(unknown_brand.data()["errors"].to_string().contains("brandId"));
    assert_eq!(refused.code(), "VALIDATION_ERROR");
    assert_eq!(
        app.get("/compliance/a2p/status").await.data()["status"],
        "brand_required"
    );
}

#[actix_web::test]
async fn every_compliance_error_code_is_answered_where_it_belongs() {
    let app = spawn_with(|s| {
        s.a2p.sandbox_brand_review_ms = 600_000;
        s.a2p.sandbox_campaign_review_ms = 600_000;
    })
    .await;
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;

    let brand = app.post("/compliance/a2p/brands", &brand_body()).await;
    let brand_id = brand.data()["id"].as_str().unwrap().to_string();
    let exists = app.post("/compliance/a2p/brands", &brand_body()).await;
    let not_approved = app.post("/compliance/a2p/campaigns", &campaign_body(&brand_id)).await;
    let no_brand = app
        .post("/compliance/a2p/campaigns", &campaign_body("BRN-0000MISSING"))
        .await;
    let get_missing = app.get("/compliance/a2p/brands/BRN-0000MISSING").await;
    let refresh_missing = app
        .post("/compliance/a2p/campaigns/CMP-0000MISSING/refresh", &json!({}))
        .await;
    let link_missing = app
        .post(
            "/compliance/a2p/campaigns/CMP-0000MISSING/phone-numbers",
            &json!({ "phoneNumber": "+14155550100" }),
        )
        .await;

    assert_eq!(exists.status, 409);
    assert_eq!(exists.code(), "BRAND_EXISTS");
    assert_eq!(not_approved.status, 400);
    assert_eq!(not_approved.code(), "BRAND_NOT_APPROVED");
    assert_eq!(no_brand.code(), "BRAND_NOT_FOUND");
    assert_eq!(get_missing.status, 404);
    assert_eq!(get_missing.code(), "BRAND_NOT_FOUND");
    assert!(
        get_missing.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("BRN-0000MISSING")
    );
    assert_eq!(refresh_missing.code(), "CAMPAIGN_NOT_FOUND");
    assert_eq!(link_missing.code(), "CAMPAIGN_NOT_FOUND");

    // A campaign still under review cannot take numbers. The brand's actor may still write
    // its own status, so force the approval until a campaign is accepted.
    let mut campaign = None;
    for _ in 0..40 {
        sea_orm::ConnectionTrait::execute_unprepared(
            &app.state.db,
            &format!("UPDATE a2p_brands SET status = 'approved', carrier_sid = 'BNsandbox' WHERE id = '{brand_id}'"),
        )
        .await
        .unwrap();
        let r = app.post("/compliance/a2p/campaigns", &campaign_body(&brand_id)).await;
        if r.status.is_success() {
            campaign = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let campaign = campaign.expect("a campaign on the approved brand");
    let campaign_id = campaign.data()["id"].as_str().unwrap().to_string();
    let link = app
        .post(
            &format!("/compliance/a2p/campaigns/{campaign_id}/phone-numbers"),
            &json!({ "phoneNumberId": n.data()["id"] }),
        )
        .await;
    assert_eq!(link.status, 400);
    assert_eq!(link.code(), "CAMPAIGN_NOT_APPROVED");
    assert!(link.body["error"]["details"]["nextAction"].is_string());
}

#[actix_web::test]
async fn another_organisations_registrations_are_not_found() {
    let app = spawn_app().await;
    let (brand_id, campaign_id) = approved_campaign(&app).await;
    let other = app.other_org().await;

    let brand = other.get(&format!("/compliance/a2p/brands/{brand_id}")).await;
    let refresh = other
        .post(&format!("/compliance/a2p/brands/{brand_id}/refresh"), &json!({}))
        .await;
    let campaign = other
        .post(&format!("/compliance/a2p/campaigns/{campaign_id}/refresh"), &json!({}))
        .await;
    let using = other.post("/compliance/a2p/campaigns", &campaign_body(&brand_id)).await;

    assert_eq!(brand.status, 404);
    assert_eq!(refresh.status, 404);
    assert_eq!(campaign.status, 404);
    assert_eq!(using.status, 404);
    assert_eq!(
        other.get("/compliance/a2p/status").await.data()["status"],
        "brand_required"
    );
}

#[actix_web::test]
async fn with_twilio_credentials_registrations_go_through_trusthub_and_the_messaging_api() {
    let twilio = FakeTwilio::start().await;
    let sid = "AC0123456789abcdef0123456789abcdef";
    twilio.add_account(sid, "your_auth_token", "active");
    twilio.a2p_review(2, None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.api_base = base.clone();
        s.providers.twilio.messaging_base = base.clone();
        s.providers.twilio.trusthub_base = base;
    })
    .await;
    let creds = app
        .send(
            app.req(reqwest::Method::PUT, "/telephony/credentials")
                .json(&json!({ "accountSid": sid, "authToken": "your_auth_token" })),
        )
        .await;
    assert_eq!(creds.status, 200, "{:?}", creds.body);

    let (brand_id, campaign_id) = approved_campaign(&app).await;
    let brand = app.get(&format!("/compliance/a2p/brands/{brand_id}")).await;

    assert_eq!(twilio.a2p_brands().len(), 1, "one brand registration at Twilio");
    assert_eq!(twilio.a2p_campaigns().len(), 1);
    assert_eq!(brand.data()["carrierSid"], json!(twilio.a2p_brands()[0].sid));
    assert_eq!(twilio.requests_to("POST", "/v1/CustomerProfiles").len(), 1);
    assert_eq!(twilio.requests_to("POST", "/v1/TrustProducts").len(), 1);
    let campaign_request = &twilio.requests_to("POST", "/Compliance/Usa2p")[0];
    assert_eq!(
        campaign_request.param("BrandRegistrationSid"),
        Some(twilio.a2p_brands()[0].sid.as_str())
    );
    assert_eq!(campaign_request.params("MessageSamples").len(), 2);
    let events = events_for(&app, "a2p.campaign.status_changed", "campaignId", &campaign_id).await;
    assert!(events.iter().any(|e| e["substatus"] == "IN_PROGRESS"), "{events:?}");
}

#[actix_web::test]
async fn a_twilio_rejection_reports_the_carrier_reason() {
    let twilio = FakeTwilio::start().await;
    let sid = "AC0123456789abcdef0123456789abcdef";
    twilio.add_account(sid, "your_auth_token", "active");
    twilio.a2p_review(1, Some("Brand information could not be verified"));
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.account_sid = sid.into();
        s.providers.twilio.auth_token = "your_auth_token".into();
        s.providers.twilio.api_base = base.clone();
        s.providers.twilio.messaging_base = base.clone();
        s.providers.twilio.trusthub_base = base;
    })
    .await;

    let brand = app.post("/compliance/a2p/brands", &brand_body()).await;
    let id = brand.data()["id"].as_str().unwrap().to_string();
    let rejected = wait_for(&app, &format!("/compliance/a2p/brands/{id}"), "rejected").await;

    assert_eq!(rejected.data()["status"], "rejected");
    assert_eq!(rejected.data()["substatus"], "FAILED");
    assert_eq!(
        rejected.data()["rejectionReason"],
        "Brand information could not be verified"
    );
}

// -- crashes ------------------------------------------------------------------------------------

async fn sandbox_submissions(shared: &[(String, String)]) -> Vec<i32> {
    let mut settings = crate::helpers::test_settings();
    for (k, v) in shared {
        match k.as_str() {
            "THRUAI__DATABASE__URL" => settings.database.url.clone_from(v),
            "THRUAI__DATABASE__SCHEMA" => settings.database.schema.clone_from(v),
            _ => {}
        }
    }
    if backends().0.is_none() {
        settings.database.schema.clear();
    }
    let db = thruai::store::connect(&settings.database).await.unwrap();
    thruai_entities::a2p_sandbox_registration::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.submissions)
        .collect()
}

async fn brand_status(client: &reqwest::Client, server: &processes::Server, key: &str, id: &str) -> Reply {
    send(
        client
            .get(url(server, &format!("/compliance/a2p/brands/{id}")))
            .bearer_auth(key),
    )
    .await
}

#[actix_web::test]
async fn a_kill_9_during_review_resumes_polling_after_restart_and_submits_once() {
    let shared = shared_env();
    let fast = [
        ("THRUAI__A2P__SANDBOX_BRAND_REVIEW_MS", "5000"),
        ("THRUAI__A2P__POLL_INITIAL_MS", "100"),
        ("THRUAI__A2P__POLL_MAX_MS", "300"),
    ];
    let client = reqwest::Client::new();
    let mut first = start(&shared, &fast);
    let key = processes::signup(&client, &first).await;
    let created = send(
        client
            .post(url(&first, "/compliance/a2p/brands"))
            .bearer_auth(&key)
            .json(&brand_body()),
    )
    .await;
    let id = created.data()["id"].as_str().unwrap().to_string();
    let mut status = String::new();
    for _ in 0..100 {
        status = brand_status(&client, &first, &key, &id).await.data()["status"]
            .as_str()
            .unwrap()
            .to_string();
        if status == "in_review" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "in_review");

    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let second = start(&shared, &fast);
    let mut last = Value::Null;
    for _ in 0..200 {
        last = brand_status(&client, &second, &key, &id).await.data().clone();
        if last["status"] == "approved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(last["status"], "approved", "polling resumed after the restart: {last}");
    assert_eq!(sandbox_submissions(&shared).await, vec![1], "submitted exactly once");
}

#[actix_web::test]
async fn a_crash_between_submission_and_its_acknowledgement_is_reconciled_not_resubmitted() {
    let shared = shared_env();
    let fast = [
        ("THRUAI__A2P__SANDBOX_BRAND_REVIEW_MS", "500"),
        ("THRUAI__A2P__POLL_INITIAL_MS", "100"),
        ("THRUAI__A2P__POLL_MAX_MS", "300"),
    ];
    let client = reqwest::Client::new();
    let mut crashing = fast.to_vec();
    crashing.push(("THRUAI__TESTING__FAILPOINT", "a2p_abort_after_submit"));
    let mut first = start(&shared, &crashing);
    let key = processes::signup(&client, &first).await;

    // The process may abort before or after this answer leaves: the id is read back below.
    let _ = client
        .post(url(&first, "/compliance/a2p/brands"))
        .bearer_auth(&key)
        .json(&brand_body())
        .send()
        .await;
    let exit = first.child.wait().unwrap();
    let second = start(&shared, &fast);
    let status = send(client.get(url(&second, "/compliance/a2p/status")).bearer_auth(&key)).await;
    let id = status.data()["brand"]["id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..200 {
        last = brand_status(&client, &second, &key, &id).await.data().clone();
        if last["status"] == "approved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(!exit.success(), "the process aborted at the failpoint");
    assert_eq!(last["status"], "approved", "{last}");
    assert_eq!(
        sandbox_submissions(&shared).await,
        vec![1],
        "the in-doubt submission was looked up, not repeated"
    );
}
