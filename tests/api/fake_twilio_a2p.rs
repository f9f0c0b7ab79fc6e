//! The fake Twilio's A2P side: TrustHub bundles and end users, brand registrations,
//! messaging services, US A2P campaigns and service numbers (v1 APIs, form in, JSON out).
//! Review is scripted: each fetch of a registration moves it one step towards its verdict.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use actix_web::HttpResponse;
use serde_json::{Value, json};

use crate::fake_twilio::FakeTwilio;

#[derive(Debug, Clone)]
pub struct FakeRegistration {
    pub sid: String,
    pub account_sid: String,
    /// `brand` or `campaign`.
    pub kind: String,
    pub parent: Option<String>,
    pub fetches: u32,
    pub params: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct A2pFake {
    /// `(sid, collection, friendly name, status)` of customer profiles and trust products.
    pub bundles: Vec<(String, String, String, String)>,
    pub services: Vec<(String, String)>,
    pub brands: Vec<FakeRegistration>,
    pub campaigns: Vec<FakeRegistration>,
    pub service_numbers: Vec<(String, String)>,
    /// Fetches a registration stays under review before its verdict (0: approved at once).
    pub fetches_to_verdict: u32,
    /// Reject every registration with this reason instead of approving it.
    pub reject_with: Option<String>,
}

impl FakeTwilio {
    pub fn a2p_review(&self, fetches_to_verdict: u32, reject_with: Option<&str>) {
        let mut s = self.state.lock().unwrap();
        s.a2p.fetches_to_verdict = fetches_to_verdict;
        s.a2p.reject_with = reject_with.map(str::to_owned);
    }

    pub fn a2p_brands(&self) -> Vec<FakeRegistration> {
        self.state.lock().unwrap().a2p.brands.clone()
    }

    pub fn a2p_campaigns(&self) -> Vec<FakeRegistration> {
        self.state.lock().unwrap().a2p.campaigns.clone()
    }
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn sid(prefix: &str) -> String {
    FakeTwilio::sid(prefix)
}

fn not_found(path: &str) -> HttpResponse {
    HttpResponse::NotFound().json(
        json!({ "code": 20404, "message": format!("The requested resource {path} was not found"), "status": 404 }),
    )
}

fn list(key: &str, items: Vec<Value>) -> HttpResponse {
    HttpResponse::Ok()
        .json(json!({ key: items, "meta": { "page": 0, "page_size": 50, "next_page_url": null, "key": key } }))
}

fn verdict(a: &A2pFake, r: &FakeRegistration) -> (String, Vec<Value>) {
    let (approved, review) = if r.kind == "brand" {
        ("APPROVED", "IN_REVIEW")
    } else {
        ("VERIFIED", "IN_PROGRESS")
    };
    if r.fetches < a.fetches_to_verdict {
        return ((if r.fetches == 0 { "PENDING" } else { review }).into(), vec![]);
    }
    match &a.reject_with {
        Some(reason) => ("FAILED".into(), vec![json!({ "code": 30794, "description": reason })]),
        None => (approved.into(), vec![]),
    }
}

fn brand_json(a: &A2pFake, r: &FakeRegistration) -> Value {
    let (status, errors) = verdict(a, r);
    json!({
        "sid": r.sid, "account_sid": r.account_sid,
        "customer_profile_bundle_sid": first(&r.params, "CustomerProfileBundleSid"),
        "a2p_profile_bundle_sid": first(&r.params, "A2PProfileBundleSid"),
        "brand_type": first(&r.params, "BrandType"),
        "status": status, "errors": errors, "failure_reason": null, "tcr_id": "BXXXXXX",
    })
}

fn campaign_json(a: &A2pFake, r: &FakeRegistration) -> Value {
    let (status, errors) = verdict(a, r);
    json!({
        "sid": r.sid, "account_sid": r.account_sid, "messaging_service_sid": r.parent,
        "brand_registration_sid": first(&r.params, "BrandRegistrationSid"),
        "us_app_to_person_usecase": first(&r.params, "UsAppToPersonUsecase"),
        "campaign_status": status, "errors": errors,
    })
}

/// Serves `/v1/...` for an authenticated, active `acct`.
pub fn route(
    a: &mut A2pFake,
    acct: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    form: &[(String, String)],
) -> HttpResponse {
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", [coll @ ("CustomerProfiles" | "TrustProducts")]) => {
            let b = (
                sid("BU"),
                (*coll).to_owned(),
                first(form, "FriendlyName").unwrap_or_default().to_owned(),
                "draft".to_owned(),
            );
            let body = json!({ "sid": b.0, "friendly_name": b.2, "status": b.3 });
            a.bundles.push(b);
            HttpResponse::Created().json(body)
        }
        ("GET", [coll @ ("CustomerProfiles" | "TrustProducts")]) => {
            let name = first(query, "FriendlyName");
            let items = a
                .bundles
                .iter()
                .filter(|b| b.1 == *coll && name.is_none_or(|n| n == b.2))
                .map(|b| json!({ "sid": b.0, "friendly_name": b.2, "status": b.3 }))
                .collect();
            list("results", items)
        }
        ("POST", [_, bu]) if bu.starts_with("BU") => match a.bundles.iter_mut().find(|b| b.0 == *bu) {
            Some(b) => {
                b.3 = first(form, "Status").unwrap_or("pending-review").to_owned();
                HttpResponse::Ok().json(json!({ "sid": b.0, "friendly_name": b.2, "status": b.3 }))
            }
            None => not_found(path),
        },
        ("POST", [_, _, "EntityAssignments"]) => HttpResponse::Created().json(json!({ "sid": sid("BV") })),
        ("POST", ["EndUsers"]) => HttpResponse::Created().json(json!({ "sid": sid("IT") })),
        ("POST", ["a2p", "BrandRegistrations"]) => {
            let r = FakeRegistration {
                sid: sid("BN"),
                account_sid: acct.to_owned(),
                kind: "brand".into(),
                parent: None,
                fetches: 0,
                params: form.to_vec(),
            };
            let body = brand_json(a, &r);
            a.brands.push(r);
            HttpResponse::Created().json(body)
        }
        ("GET", ["a2p", "BrandRegistrations"]) => {
            let items = a
                .brands
                .iter()
                .filter(|r| r.account_sid == acct)
                .map(|r| brand_json(a, r))
                .collect();
            list("data", items)
        }
        ("GET", ["a2p", "BrandRegistrations", bn]) => {
            let Some(i) = a.brands.iter().position(|r| r.sid == *bn && r.account_sid == acct) else {
                return not_found(path);
            };
            a.brands[i].fetches += 1;
            HttpResponse::Ok().json(brand_json(a, &a.brands[i]))
        }
        ("POST", ["Services"]) => {
            let s = (sid("MG"), first(form, "FriendlyName").unwrap_or_default().to_owned());
            let body = json!({ "sid": s.0, "friendly_name": s.1 });
            a.services.push(s);
            HttpResponse::Created().json(body)
        }
        ("GET", ["Services"]) => {
            let items = a
                .services
                .iter()
                .map(|s| json!({ "sid": s.0, "friendly_name": s.1 }))
                .collect();
            list("services", items)
        }
        ("POST", ["Services", mg, "Compliance", "Usa2p"]) => {
            let r = FakeRegistration {
                sid: sid("QE"),
                account_sid: acct.to_owned(),
                kind: "campaign".into(),
                parent: Some((*mg).to_owned()),
                fetches: 0,
                params: form.to_vec(),
            };
            let body = campaign_json(a, &r);
            a.campaigns.push(r);
            HttpResponse::Created().json(body)
        }
        ("GET", ["Services", mg, "Compliance", "Usa2p"]) => {
            let items = a
                .campaigns
                .iter()
                .filter(|r| r.parent.as_deref() == Some(*mg))
                .map(|r| campaign_json(a, r))
                .collect();
            list("compliance", items)
        }
        ("GET", ["Services", _, "Compliance", "Usa2p", qe]) => {
            let Some(i) = a.campaigns.iter().position(|r| r.sid == *qe) else {
                return not_found(path);
            };
            a.campaigns[i].fetches += 1;
            HttpResponse::Ok().json(campaign_json(a, &a.campaigns[i]))
        }
        ("POST", ["Services", mg, "PhoneNumbers"]) => {
            let pn = first(form, "PhoneNumberSid").unwrap_or_default().to_owned();
            a.service_numbers.push(((*mg).to_owned(), pn.clone()));
            HttpResponse::Created().json(json!({ "sid": pn, "service_sid": mg }))
        }
        _ => not_found(path),
    }
}
