//! Billing on the sandbox provider (Stripe's test mode kept by the server): plans with the
//! rate limiter's limits, Checkout and the portal completed through their pages with test
//! cards, charges that credit the balance once, statements that add up to the ledger to the
//! cent, the gate that refuses paid work, and Stripe's signed webhook applied once.

use chrono::{Duration, Utc};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use thruai::{
    app::billing::month_start,
    domain::pricing::Prices,
    net::signing::sign_stripe,
    store::ledger::{self, Used},
};

use crate::{
    calls::agent,
    helpers::{Reply, TestApp, spawn_with},
};

const SECRET: &str = "whsec_test_billing";

async fn billing_app(enforce: bool) -> TestApp {
    spawn_with(|s| {
        s.billing.enforce = enforce;
        s.billing.admit_cache_ms = 0;
        s.billing.stripe_webhook_secret = SECRET.into();
    })
    .await
}

/// The organisation id behind the app's key.
async fn org_of(app: &TestApp) -> String {
    let me = app.get("/profile").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    me.data()["identity"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Completes a sandbox Checkout page with `card`; returns the page's answer.
async fn pay(app: &TestApp, url: &str, card: &str) -> Reply {
    app.post_form(url, &[("card", card)]).await
}

async fn checkout(app: &TestApp, body: Value) -> Reply {
    app.post("/billing/checkout", &body).await
}

/// Saves `card` as the default through a setup-mode Checkout.
async fn save_card(app: &TestApp, card: &str) {
    let s = checkout(app, json!({ "mode": "setup" })).await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    let done = pay(app, s.data()["url"].as_str().unwrap(), card).await;
    assert_eq!(done.status, 303, "{}", String::from_utf8_lossy(&done.bytes));
}

async fn charge(app: &TestApp, body: Value, key: &str) -> Reply {
    app.send(
        app.req(Method::POST, "/billing/charge")
            .header("Idempotency-Key", key)
            .json(&body),
    )
    .await
}

/// Ledger entries for `org` as the server would write them.
async fn use_some(
    app: &TestApp,
    org: &str,
    source: &str,
    component: &'static str,
    quantity: f64,
    at: chrono::DateTime<Utc>,
) {
    let prices = Prices::new(
        [
            ("telephony".to_string(), [("twilio".to_string(), 0.014)].into()),
            ("llm_output".to_string(), [("openai".to_string(), 0.0000006)].into()),
            ("email".to_string(), [("resend".to_string(), 7.5)].into()),
        ]
        .into(),
    );
    let provider = match component {
        "telephony" => "twilio",
        "llm_output" => "openai",
        _ => "resend",
    };
    ledger::record(
        &app.state.db,
        org,
        &prices,
        vec![Used {
            source: source.into(),
            component,
            provider: provider.into(),
            quantity,
            agent_id: None,
            call_id: None,
            occurred_at: at,
        }],
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn plans_carry_the_limits_the_rate_limiter_enforces() {
    let app = billing_app(false).await;
    let r = app.get("/billing/plans").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let plans = r.data()["plans"].as_array().unwrap();
    let ids: Vec<&str> = plans.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["free", "pro", "enterprise"]);
    for p in plans {
        let id = p["id"].as_str().unwrap();
        let limit = app.settings.rate_limit.plans[id];
        assert_eq!(p["requestsPerSecond"], json!(limit.requests_per_second));
        assert_eq!(p["burst"], json!(limit.burst));
        assert_eq!(
            p["maxConcurrentCalls"],
            json!(app.settings.billing.plans[id].max_concurrent_calls)
        );
    }
    assert_eq!(plans[0]["purchasable"], false, "the free plan is not sold");
    assert_eq!(plans[1]["purchasable"], true, "the sandbox sells paid plans");
    assert_eq!(r.data()["defaultPlan"], "free");

    let s = app.get("/billing/subscription").await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    assert_eq!(s.data()["plan"]["id"], "free");
    assert_eq!(s.data()["status"], "active");
    assert_eq!(s.data()["balance"], 0.0);
    assert_eq!(s.data()["hasCustomer"], false);
    assert_eq!(s.data()["paymentProvider"], "sandbox");
    assert_eq!(s.data()["usage"]["included"], 10.0);
}

#[actix_web::test]
async fn checkout_and_portal_errors_carry_the_contract_codes() {
    let app = billing_app(false).await;
    let r = checkout(&app, json!({ "planId": "platinum" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_PLAN"), "{:?}", r.body);
    let r = checkout(&app, json!({ "planId": "free" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "INVALID_PLAN"), "{:?}", r.body);
    let r = checkout(&app, json!({ "mode": "subscription" })).await;
    assert_eq!(r.code(), "INVALID_PLAN", "{:?}", r.body);
    for bad in [
        json!({ "mode": "lifetime" }),
        json!({ "planId": "pro", "successUrl": "javascript:alert(1)" }),
        json!({ "planId": 7 }),
        json!({ "plan_id": "pro" }),
    ] {
        let r = checkout(&app, bad.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "VALIDATION_ERROR"),
            "{bad}: {:?}",
            r.body
        );
    }
    let r = app.post("/billing/portal", &json!({})).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "NO_CUSTOMER"), "{:?}", r.body);

    // No card yet: the charge needs billing set up, and says where.
    let r = charge(&app, json!({ "amount": 20 }), "k1").await;
    assert_eq!((r.status.as_u16(), r.code()), (402, "BILLING_REQUIRED"), "{:?}", r.body);
    assert!(
        r.body["error"]["details"]["checkoutUrl"]
            .as_str()
            .unwrap()
            .contains("/_sandbox/stripe/checkout/")
    );
    for bad in [
        json!({}),
        json!({ "amount": 0.2 }),
        json!({ "amount": 10.001 }),
        json!({ "amount": 5, "amountCents": 500 }),
        json!({ "amount": "5" }),
        json!({ "amount": 5, "currency": "eur" }),
        json!({ "amountCents": 100_000_000 }),
    ] {
        let r = charge(&app, bad.clone(), "k2").await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "VALIDATION_ERROR"),
            "{bad}: {:?}",
            r.body
        );
    }
    // Another organisation's invoice, and one that is no invoice.
    let other = app.other_org().await;
    let theirs = other.get("/billing/invoices").await.data()["invoices"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.get(&format!("/billing/invoices/{theirs}")).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
    let r = app.get("/billing/invoices/INV-000000-nope").await;
    assert_eq!(r.status, 404);
    // An organisation with no email to bill cannot get a customer.
    let lonely = app.other_org().await;
    let org = org_of(&lonely).await;
    thruai_entities::organization::Entity::update_many()
        .col_expr(
            thruai_entities::organization::Column::OwnerEmail,
            sea_orm::prelude::Expr::value(""),
        )
        .filter(thruai_entities::organization::Column::Id.eq(org.as_str()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let r = checkout(&lonely, json!({ "planId": "pro" })).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "MISSING_EMAIL"), "{:?}", r.body);
}

#[actix_web::test]
async fn a_subscription_bought_through_checkout_moves_the_plan_and_ends_in_the_portal() {
    let app = billing_app(false).await;
    let s = checkout(&app, json!({ "planId": "pro" })).await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    assert_eq!(s.data()["mode"], "subscription");
    let url = s.data()["url"].as_str().unwrap().to_string();
    let page = app.send(app.client.get(&url)).await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.bytes).contains("<b>pro</b>"));

    // A declined card leaves the session open; a good one completes it.
    let declined = pay(&app, &url, "4000 0000 0000 0002").await;
    assert_eq!(declined.status, 200);
    assert!(String::from_utf8_lossy(&declined.bytes).contains("declined"));
    assert_eq!(app.get("/billing/subscription").await.data()["plan"]["id"], "free");
    let done = pay(&app, &url, "4242 4242 4242 4242").await;
    assert_eq!(done.status, 303);
    assert!(
        done.header("location")
            .unwrap()
            .contains("/_sandbox/stripe/done?session_id=cs_test_")
    );
    let again = pay(&app, &url, "4242424242424242").await;
    assert!(String::from_utf8_lossy(&again.bytes).contains("already complete"));

    let sub = app.get("/billing/subscription").await;
    assert_eq!(sub.data()["plan"]["id"], "pro", "{:?}", sub.body);
    assert_eq!(sub.data()["status"], "active");
    assert!(sub.data()["subscriptionId"].as_str().unwrap().starts_with("sub_"));
    assert!(
        sub.data()["currentPeriod"]["end"].as_str().unwrap() > sub.data()["currentPeriod"]["start"].as_str().unwrap()
    );
    assert_eq!(sub.data()["usage"]["included"], 100.0);
    let r = checkout(&app, json!({ "planId": "enterprise" })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "SUBSCRIPTION_EXISTS"),
        "{:?}",
        r.body
    );

    let cards = app.get("/billing/payment-methods").await;
    let cards = cards.data()["paymentMethods"].as_array().unwrap().clone();
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(
        (cards[0]["last4"].as_str(), cards[0]["isDefault"].as_bool()),
        (Some("4242"), Some(true))
    );

    // This month's statement carries the plan's fee.
    let inv = app.get("/billing/invoices").await;
    let current = &inv.data()["invoices"][0];
    assert_eq!(current["status"], "draft");
    assert!(
        current["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["component"] == "plan" && l["amount"] == 99.0)
    );

    let portal = app
        .post(
            "/billing/portal",
            &json!({ "returnUrl": "https://app.example.com/billing" }),
        )
        .await;
    assert_eq!(portal.status, 201, "{:?}", portal.body);
    let purl = portal.data()["url"].as_str().unwrap().to_string();
    let page = app.send(app.client.get(&purl)).await;
    let html = String::from_utf8_lossy(&page.bytes).to_string();
    assert!(html.contains("Cancel subscription") && html.contains("4242"), "{html}");
    let sub_id = sub.data()["subscriptionId"].as_str().unwrap();
    let cancel = app
        .post_form(&format!("{purl}/cancel"), &[("subscription", sub_id)])
        .await;
    assert_eq!(cancel.status, 303);
    let after = app.get("/billing/subscription").await;
    assert_eq!(after.data()["plan"]["id"], "free", "{:?}", after.body);
    // A new subscription may be bought again.
    assert_eq!(checkout(&app, json!({ "planId": "pro" })).await.status, 201);
}

#[actix_web::test]
async fn charges_credit_the_balance_once_and_declines_say_why() {
    let app = billing_app(false).await;
    save_card(&app, "4242424242424242").await;
    let first = charge(&app, json!({ "amount": 25, "description": "Top-up" }), "top-up-1").await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.data()["status"], "succeeded");
    assert_eq!(first.data()["amountCents"], 2500);
    assert_eq!(first.data()["balance"], 25.0);
    let replay = charge(&app, json!({ "amount": 25, "description": "Top-up" }), "top-up-1").await;
    assert_eq!(replay.data()["id"], first.data()["id"]);
    let second = charge(&app, json!({ "amountCents": 1050 }), "top-up-2").await;
    assert_eq!(second.data()["balance"], 35.5, "{:?}", second.body);
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 35.5);

    save_card(&app, "4000 0000 0000 9995").await;
    let r = charge(&app, json!({ "amount": 10 }), "top-up-3").await;
    assert_eq!((r.status.as_u16(), r.code()), (402, "PAYMENT_FAILED"), "{:?}", r.body);
    assert_eq!(r.body["error"]["details"]["declineCode"], "insufficient_funds");
    assert!(
        r.body["error"]["details"]["paymentIntent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    save_card(&app, "4000002760003184").await;
    let r = charge(&app, json!({ "amount": 10 }), "top-up-4").await;
    assert_eq!(r.code(), "PAYMENT_FAILED");
    assert_eq!(r.body["error"]["details"]["code"], "authentication_required");
    assert!(
        r.body["error"]["details"]["nextAction"]
            .as_str()
            .unwrap()
            .contains("authenticate")
    );
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 35.5);
    let cards = app.get("/billing/payment-methods").await;
    assert_eq!(cards.data()["paymentMethods"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn statements_add_up_to_the_ledger_to_the_cent() {
    let app = billing_app(false).await;
    let org = org_of(&app).await;
    let now = Utc::now();
    let last_month = month_start(now) - Duration::days(3);
    // This month: 3.5 min of telephony, 12,345 output tokens; last month: one email.
    use_some(&app, &org, "t:1", "telephony", 2.25, now).await;
    use_some(&app, &org, "t:2", "telephony", 1.25, now).await;
    use_some(&app, &org, "t:3", "llm_output", 12_345.0, now).await;
    use_some(&app, &org, "t:4", "email", 3.0, last_month).await;
    let list = app.get("/billing/invoices").await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let invoices = list.data()["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    let this = &invoices[0];
    let lines = this["lines"].as_array().unwrap();
    let line = |c: &str| lines.iter().find(|l| l["component"] == c).unwrap().clone();
    // 3.5 × 0.014 = 0.049; 12,345 × 0.0000006 = 0.007407.
    assert_eq!(line("telephony")["amountMicros"], 49_000);
    assert_eq!(line("telephony")["quantity"], 3.5);
    assert_eq!(line("telephony")["entries"], 2);
    assert_eq!(line("llm_output")["amountMicros"], 7_407);
    assert_eq!(line("included_usage")["amountMicros"], -56_407);
    assert_eq!(
        (this["totalMicros"].as_i64(), this["amountDue"].as_i64()),
        (Some(0), Some(0))
    );
    assert_eq!(this["status"], "draft");
    // Last month: $22.50 of email, $10 included → $12.50 due, still open.
    let last = &invoices[1];
    assert_eq!(last["usage"], 22.5);
    assert_eq!(last["amountDue"], 1250);
    assert_eq!(last["status"], "open");
    let one = app
        .get(&format!("/billing/invoices/{}", last["id"].as_str().unwrap()))
        .await;
    assert_eq!(one.data(), last);
    // What last month used beyond the plan came out of the (empty) credit.
    let s = app.get("/billing/subscription").await;
    assert_eq!(s.data()["balance"], -12.5, "{:?}", s.body);
    let page = app.get("/billing/invoices?page=2&pageSize=1").await;
    assert_eq!(page.data()["invoices"][0]["id"], last["id"]);
    assert_eq!(page.data()["pagination"]["total"], 2);
}

#[actix_web::test]
async fn an_organisation_not_paid_up_cannot_place_calls_until_it_pays() {
    let app = billing_app(true).await;
    let org = org_of(&app).await;
    let agent = agent(&app, "Hello", json!({})).await;
    let call = json!({ "agentId": agent, "to": "+14155550123" });
    // Within the plan: calls go.
    let ok = app.post("/calls/outbound", &call).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    // $15 of email this month: $5 beyond the $10 included, and no credit.
    use_some(&app, &org, "e:1", "email", 2.0, Utc::now()).await;
    let r = app.post("/calls/outbound", &call).await;
    assert_eq!((r.status.as_u16(), r.code()), (402, "BILLING_REQUIRED"), "{:?}", r.body);
    let url = r.body["error"]["details"]["checkoutUrl"].as_str().unwrap().to_string();
    assert!(url.contains("/_sandbox/stripe/checkout/cs_test_"));
    let camp = app
        .post("/campaigns", &json!({ "name": "Gate", "agentId": agent }))
        .await;
    let start = app
        .post(
            &format!("/campaigns/{}/start", camp.data()["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(start.code(), "BILLING_REQUIRED", "{:?}", start.body);
    let sms = app
        .post("/sms/send", &json!({ "to": "+14155550123", "body": "hi" }))
        .await;
    assert_eq!(sms.code(), "BILLING_REQUIRED", "{:?}", sms.body);
    // The URL the refusal gave saves a card; credit brings the balance back.
    assert_eq!(pay(&app, &url, "4242424242424242").await.status, 303);
    let c = charge(&app, json!({ "amount": 5 }), "back").await;
    assert_eq!(
        (c.status.as_u16(), c.data()["balance"].as_f64()),
        (201, Some(0.0)),
        "{:?}",
        c.body
    );
    let ok = app.post("/calls/outbound", &call).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
}

fn signed(body: &Value, at: i64) -> (String, Vec<u8>) {
    let raw = serde_json::to_vec(body).unwrap();
    (sign_stripe(SECRET, at, &raw), raw)
}

async fn deliver(app: &TestApp, header: &str, raw: Vec<u8>) -> Reply {
    app.send(
        app.client
            .post(format!("{}/webhooks/stripe", app.address))
            .header("Stripe-Signature", header)
            .header("Content-Type", "application/json")
            .body(raw),
    )
    .await
}

#[actix_web::test]
async fn stripe_events_are_verified_on_the_raw_body_and_applied_once() {
    let app = billing_app(false).await;
    save_card(&app, "4000002760003184").await;
    // A charge that needs its holder: failed here, succeeded later (the event says so).
    let r = charge(&app, json!({ "amount": 40 }), "later").await;
    assert_eq!(r.code(), "PAYMENT_FAILED");
    let pi = r.body["error"]["details"]["paymentIntent"]
        .as_str()
        .unwrap()
        .to_string();
    let event = |id: &str| {
        json!({ "id": id, "object": "event", "type": "payment_intent.succeeded", "created": Utc::now().timestamp(),
                "livemode": false, "data": { "object": { "id": pi, "object": "payment_intent", "status": "succeeded" } } })
    };
    let now = Utc::now().timestamp();
    let (sig, raw) = signed(&event("evt_1"), now);
    let first = deliver(&app, &sig, raw.clone()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.data()["duplicate"], false);
    let replay = deliver(&app, &sig, raw).await;
    assert_eq!(replay.data()["duplicate"], true);
    // The same news under another event id credits nothing more.
    let (sig, raw) = signed(&event("evt_2"), now);
    assert_eq!(deliver(&app, &sig, raw).await.status, 200);
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 40.0);

    // Unsigned, tampered, stale or foreign-signed: refused.
    let (sig, raw) = signed(&event("evt_3"), now);
    let mut tampered = raw.clone();
    tampered.extend_from_slice(b" ");
    for (header, body) in [
        (String::new(), raw.clone()),
        (sig.clone(), tampered),
        (signed(&event("evt_3"), now - 301).0, raw.clone()),
        (sign_stripe("whsec_other", now, &raw), raw.clone()),
    ] {
        let r = deliver(&app, &header, body).await;
        assert_eq!((r.status.as_u16(), r.code()), (401, "UNAUTHORIZED"), "{:?}", r.body);
    }
    let (sig, raw) = signed(&json!({ "id": "evt_4", "object": "list" }), now);
    assert_eq!(deliver(&app, &sig, raw).await.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn stale_subscription_events_change_nothing_and_invoices_paid_are_paid() {
    let app = billing_app(false).await;
    let s = checkout(&app, json!({ "planId": "pro" })).await;
    assert_eq!(
        pay(&app, s.data()["url"].as_str().unwrap(), "4242424242424242")
            .await
            .status,
        303
    );
    let sub = app.get("/billing/subscription").await;
    let sub_id = sub.data()["subscriptionId"].as_str().unwrap().to_string();
    // A "deleted" that Stripe does not confirm (the subscription is re-read) changes nothing.
    let now = Utc::now().timestamp();
    let (sig, raw) = signed(
        &json!({ "id": "evt_old", "object": "event", "type": "customer.subscription.deleted", "created": now - 3600,
                 "data": { "object": { "id": sub_id, "object": "subscription", "status": "canceled",
                                       "metadata": { "org_id": org_of(&app).await } } } }),
        now,
    );
    assert_eq!(deliver(&app, &sig, raw).await.status, 200);
    let after = app.get("/billing/subscription").await;
    assert_eq!(
        (after.data()["plan"]["id"].as_str(), after.data()["status"].as_str()),
        (Some("pro"), Some("active"))
    );
    // An event about nobody this server knows is acknowledged and ignored.
    let (sig, raw) = signed(
        &json!({ "id": "evt_x", "object": "event", "type": "invoice.paid", "created": now,
                 "data": { "object": { "id": "in_x", "customer": "cus_nobody", "period_end": now } } }),
        now,
    );
    assert_eq!(deliver(&app, &sig, raw).await.status, 200);
}

#[actix_web::test]
async fn a_plan_prices_what_it_overrides_and_the_entry_keeps_that_price() {
    let app = spawn_with(|s| {
        let free = s.billing.plans.get_mut("free").unwrap();
        free.prices
            .insert("email".into(), [("default".to_string(), 0.5)].into());
    })
    .await;
    let org = org_of(&app).await;
    let send = |source: &'static str| Used {
        source: source.into(),
        component: "email",
        provider: "resend".into(),
        quantity: 1.0,
        agent_id: None,
        call_id: None,
        occurred_at: Utc::now(),
    };
    ledger::record(&app.state.db, &org, &app.state.prices, vec![send("email:EML-free")])
        .await
        .unwrap();
    // On Pro (no override), the table's price.
    let s = checkout(&app, json!({ "planId": "pro" })).await;
    assert_eq!(
        pay(&app, s.data()["url"].as_str().unwrap(), "4242424242424242")
            .await
            .status,
        303
    );
    ledger::record(&app.state.db, &org, &app.state.prices, vec![send("email:EML-pro")])
        .await
        .unwrap();
    let inv = app.get("/billing/invoices").await;
    let email = inv.data()["invoices"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["component"] == "email")
        .unwrap()
        .clone();
    assert_eq!(email["amountMicros"], 500_000 + 900, "{email}");
}
