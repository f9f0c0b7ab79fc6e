//! Billing against a local fake of Stripe: the client's form encoding, a subscription
//! applied from a signed webhook by re-reading it, charges with the caller's
//! `Idempotency-Key` passed through, Stripe's errors mapped to the contract's codes, and
//! one meter event per ledger entry through failures and lost answers.

use chrono::Utc;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use thruai::{
    domain::pricing::Prices,
    net::signing::sign_stripe,
    store::ledger::{self, Used},
};
use thruai_entities::usage_entry;

use crate::{
    fake_stripe::{FakeStripe, KEY},
    helpers::{TestApp, spawn_with},
};

const SECRET: &str = "whsec_live_test";

async fn stripe_app(fake: &FakeStripe, key: &str) -> TestApp {
    let (base, key) = (fake.base_url.clone(), key.to_string());
    spawn_with(move |s| {
        s.billing.provider = "stripe".into();
        s.billing.stripe_api_key = key;
        s.billing.stripe_base_url = base;
        s.billing.stripe_webhook_secret = SECRET.into();
        s.billing.meter_interval_ms = 3_600_000;
        s.billing.timeout_ms = 2_000;
        if let Some(pro) = s.billing.plans.get_mut("pro") {
            pro.stripe_price = "price_pro".into();
        }
        // A Price that no longer exists at Stripe.
        if let Some(gone) = s.billing.plans.get_mut("enterprise") {
            gone.stripe_price = "price_gone".into();
        }
    })
    .await
}

async fn org_of(app: &TestApp) -> String {
    app.get("/profile").await.data()["identity"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn checkout_webhook_and_charges_speak_stripe() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, KEY).await;
    let org = org_of(&app).await;

    let plans = app.get("/billing/plans").await;
    let purchasable: Vec<bool> = plans.data()["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["purchasable"].as_bool().unwrap())
        .collect();
    assert_eq!(purchasable, [false, true, true], "the paid plans have a Stripe Price");
    let r = app.post("/billing/checkout", &json!({ "planId": "enterprise" })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "STRIPE_INVALID_REQUEST"),
        "{:?}",
        r.body
    );
    assert!(r.body["error"]["message"].as_str().unwrap().contains("price_gone"));

    let s = app
        .send(
            app.req(Method::POST, "/billing/checkout")
                .header("Idempotency-Key", "buy-pro")
                .json(&json!({ "planId": "pro", "successUrl": "https://app.example.com/ok?s={CHECKOUT_SESSION_ID}" })),
        )
        .await;
    assert_eq!(s.status, 201, "{:?}", s.body);
    assert!(
        s.data()["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let customers = fake.posts("/v1/customers");
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0].1["metadata[org_id]"], org);
    let (key, form) = fake.posts("/v1/checkout/sessions").last().unwrap().clone();
    assert_eq!(key.as_deref(), Some(format!("thruai-checkout-{org}-buy-pro").as_str()));
    assert_eq!(form["mode"], "subscription");
    assert_eq!(form["line_items[0][price]"], "price_pro");
    assert_eq!(form["line_items[0][quantity]"], "1");
    assert_eq!(form["client_reference_id"], org);
    assert_eq!(form["subscription_data[metadata][plan]"], "pro");
    assert_eq!(
        form["success_url"],
        "https://app.example.com/ok?s={CHECKOUT_SESSION_ID}"
    );

    // Stripe reports the completed Checkout; the subscription is read back from Stripe.
    let customer = fake.state.lock().unwrap().keys.values().find_map(|(_, _, b)| {
        b["object"]
            .eq("customer")
            .then(|| b["id"].as_str().unwrap().to_string())
    });
    let customer = customer.unwrap();
    fake.state.lock().unwrap().subscriptions.insert(
        "sub_1".into(),
        json!({ "id": "sub_1", "object": "subscription", "customer": customer, "status": "active",
                "metadata": {}, "cancel_at_period_end": false,
                "items": { "data": [{ "price": { "id": "price_pro" }, "current_period_start": Utc::now().timestamp(),
                                      "current_period_end": Utc::now().timestamp() + 30 * 86_400 }] } }),
    );
    let event = json!({ "id": "evt_c1", "object": "event", "type": "checkout.session.completed", "created": Utc::now().timestamp(),
        "data": { "object": { "id": "cs_test_x", "object": "checkout.session", "mode": "subscription", "client_reference_id": org,
                              "customer": customer, "subscription": "sub_1", "metadata": { "org_id": org } } } });
    let raw = serde_json::to_vec(&event).unwrap();
    let delivered = app
        .send(
            app.client
                .post(format!("{}/webhooks/stripe", app.address))
                .header("Stripe-Signature", sign_stripe(SECRET, Utc::now().timestamp(), &raw))
                .body(raw),
        )
        .await;
    assert_eq!(delivered.status, 200, "{:?}", delivered.body);
    let sub = app.get("/billing/subscription").await;
    assert_eq!(
        (sub.data()["plan"]["id"].as_str(), sub.data()["status"].as_str()),
        (Some("pro"), Some("active"))
    );
    let r = app.post("/billing/checkout", &json!({ "planId": "pro" })).await;
    assert_eq!(r.code(), "SUBSCRIPTION_EXISTS");

    let portal = app.post("/billing/portal", &json!({})).await;
    assert_eq!(portal.status, 201, "{:?}", portal.body);
    assert_eq!(fake.posts("/v1/billing_portal/sessions")[0].1["customer"], customer);

    // No card yet at Stripe: the charge asks for billing to be set up.
    let r = app.post("/billing/charge", &json!({ "amount": 20 })).await;
    assert_eq!(r.code(), "BILLING_REQUIRED", "{:?}", r.body);
    fake.state
        .lock()
        .unwrap()
        .defaults
        .insert(customer.clone(), "pm_card_visa".into());
    let cards = app.get("/billing/payment-methods").await;
    assert_eq!(cards.data()["paymentMethods"][0]["isDefault"], true, "{:?}", cards.body);
    let charge = |key: &'static str, amount: f64| {
        app.send(
            app.req(Method::POST, "/billing/charge")
                .header("Idempotency-Key", key)
                .json(&json!({ "amount": amount })),
        )
    };
    let paid = charge("credit-1", 20.0).await;
    assert_eq!(paid.status, 201, "{:?}", paid.body);
    assert_eq!(
        (paid.data()["status"].as_str(), paid.data()["balance"].as_f64()),
        (Some("succeeded"), Some(20.0))
    );
    let (key, form) = fake.posts("/v1/payment_intents")[0].clone();
    assert_eq!(key.as_deref(), Some(format!("thruai-charge-{org}-credit-1").as_str()));
    for (k, v) in [
        ("amount", "2000"),
        ("currency", "usd"),
        ("off_session", "true"),
        ("confirm", "true"),
        ("payment_method", "pm_card_visa"),
    ] {
        assert_eq!(form[k], v, "{k}");
    }
    // The other card declines: PAYMENT_FAILED with Stripe's reasons; nothing credited.
    fake.state
        .lock()
        .unwrap()
        .defaults
        .insert(customer.clone(), "pm_card_chargeDeclinedInsufficientFunds".into());
    let declined = charge("credit-2", 30.0).await;
    assert_eq!(
        (declined.status.as_u16(), declined.code()),
        (402, "PAYMENT_FAILED"),
        "{:?}",
        declined.body
    );
    assert_eq!(declined.body["error"]["details"]["declineCode"], "insufficient_funds");
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 20.0);

    // Stripe charged but its answer was lost: the charge stays pending, and the same key
    // retried gets Stripe's first answer — one payment, credited once.
    {
        let mut s = fake.state.lock().unwrap();
        s.defaults.insert(customer.clone(), "pm_card_visa".into());
        s.lose_next = true;
    }
    let lost = charge("credit-4", 7.0).await;
    assert_eq!(lost.code(), "STRIPE_UNAVAILABLE", "{:?}", lost.body);
    let again = charge("credit-4", 7.0).await;
    assert_eq!(
        (again.status.as_u16(), again.data()["balance"].as_f64()),
        (201, Some(27.0)),
        "{:?}",
        again.body
    );
    let intents = fake.posts("/v1/payment_intents");
    let retried: Vec<_> = intents
        .iter()
        .filter(|(k, _)| k.as_deref().is_some_and(|k| k.ends_with("credit-4")))
        .collect();
    assert_eq!(retried.len(), 2, "asked twice under one key");
    assert_eq!(
        fake.state
            .lock()
            .unwrap()
            .keys
            .keys()
            .filter(|k| k.ends_with("credit-4"))
            .count(),
        1
    );

    // Lost again, and never retried by the client: the worker asks again under the key,
    // and a charge nobody can settle ends failed with the reason, never pending for ever.
    fake.state.lock().unwrap().lose_next = true;
    assert_eq!(charge("credit-5", 3.0).await.code(), "STRIPE_UNAVAILABLE");
    let billing = &app.state.billing;
    let later = Utc::now() + chrono::Duration::seconds(1);
    let long_ago = Utc::now() - chrono::Duration::days(1);
    assert_eq!(billing.settle_pending(later, long_ago).await.unwrap(), 1);
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 30.0);
    assert_eq!(
        billing.settle_pending(later, long_ago).await.unwrap(),
        0,
        "settled once"
    );
    {
        let mut s = fake.state.lock().unwrap();
        s.lose_next = true;
    }
    assert_eq!(charge("credit-6", 4.0).await.code(), "STRIPE_UNAVAILABLE");
    fake.state.lock().unwrap().garbage = true;
    assert_eq!(
        billing.settle_pending(later, long_ago).await.unwrap(),
        0,
        "no answer yet: still pending"
    );
    assert_eq!(billing.settle_pending(later, later).await.unwrap(), 1, "given up");
    let ended: thruai_entities::billing_charge::Model = thruai_entities::billing_charge::Entity::find()
        .filter(thruai_entities::billing_charge::Column::IdempotencyKey.ends_with("credit-6"))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (ended.status.as_str(), ended.failure_code.as_deref()),
        ("failed", Some("unknown_outcome"))
    );
    assert_eq!(app.get("/billing/subscription").await.data()["balance"], 30.0);

    // Stripe answering garbage is an outage, not a crash.
    fake.state.lock().unwrap().garbage = true;
    let r = charge("credit-3", 5.0).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (502, "STRIPE_UNAVAILABLE"),
        "{:?}",
        r.body
    );
}

#[actix_web::test]
async fn a_wrong_key_is_a_stripe_auth_error() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, "sk_test_wrong").await;
    let r = app.post("/billing/checkout", &json!({ "mode": "setup" })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (502, "STRIPE_AUTH_ERROR"),
        "{:?}",
        r.body
    );
    let app = stripe_app(&fake, "rk_test_restricted").await;
    let r = app.post("/billing/checkout", &json!({ "mode": "setup" })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (502, "STRIPE_PERMISSION_DENIED"),
        "{:?}",
        r.body
    );
    // An unreachable Stripe: unavailable.
    let app = spawn_with(|s| {
        s.billing.provider = "stripe".into();
        s.billing.stripe_api_key = KEY.into();
        s.billing.stripe_base_url = "http://127.0.0.1:9".into();
    })
    .await;
    let r = app.post("/billing/checkout", &json!({ "mode": "setup" })).await;
    assert_eq!(r.code(), "STRIPE_UNAVAILABLE", "{:?}", r.body);
    // Payments off: the payment routes say so; plans and statements still answer.
    let app = spawn_with(|s| s.billing.provider = "none".into()).await;
    let r = app.post("/billing/checkout", &json!({ "mode": "setup" })).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (503, "STRIPE_NOT_CONFIGURED"),
        "{:?}",
        r.body
    );
    assert_eq!(
        app.get("/billing/payment-methods").await.code(),
        "STRIPE_NOT_CONFIGURED"
    );
    assert_eq!(app.get("/billing/invoices").await.status, 200);
    assert_eq!(app.get("/billing/subscription").await.data()["paymentProvider"], "none");
}

#[actix_web::test]
async fn every_ledger_entry_reaches_the_meter_once_through_failures() {
    let fake = FakeStripe::start().await;
    let app = stripe_app(&fake, KEY).await;
    let org = org_of(&app).await;
    // A customer exists once a checkout was asked for.
    assert_eq!(
        app.post("/billing/checkout", &json!({ "mode": "setup" })).await.status,
        201
    );
    let prices = Prices::new([("telephony".to_string(), [("twilio".to_string(), 0.014)].into())].into());
    let used: Vec<Used> = (0..5)
        .map(|i| Used {
            source: format!("call:CALL-m{i}:telephony"),
            component: "telephony",
            provider: "twilio".into(),
            quantity: 1.0 + f64::from(i),
            agent_id: None,
            call_id: None,
            occurred_at: Utc::now(),
        })
        .collect();
    ledger::record(&app.state.db, &org, &prices, used).await.unwrap();
    // Another organisation without a customer is not reported (and does not block the queue).
    let other = app.other_org().await;
    let other_org = org_of(&other).await;
    ledger::record(
        &app.state.db,
        &other_org,
        &prices,
        vec![Used {
            source: "call:CALL-x:telephony".into(),
            component: "telephony",
            provider: "twilio".into(),
            quantity: 1.0,
            agent_id: None,
            call_id: None,
            occurred_at: Utc::now(),
        }],
    )
    .await
    .unwrap();

    // The first attempt fails outright; the third entry's answer is lost after Stripe kept it.
    fake.state.lock().unwrap().meter_script = vec!["fail", "ok", "ok", "lost"];
    let mut passes = 0;
    loop {
        passes += 1;
        let _ = app.state.billing.report_usage().await;
        if fake.state.lock().unwrap().meter_events.len() == 5 && app.state.billing.report_usage().await.unwrap() == 0 {
            break;
        }
        assert!(passes < 10, "the meter never caught up");
    }
    let mut ids: Vec<String> = usage_entry::Entity::find()
        .filter(usage_entry::Column::OrgId.eq(org.as_str()))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    let mut seen = fake.state.lock().unwrap().meter_events.clone();
    seen.sort();
    assert_eq!(seen, ids, "one meter event per entry");
    // The entry of the organisation without a customer was written as having nothing to report.
    let theirs = usage_entry::Entity::find()
        .filter(usage_entry::Column::OrgId.eq(other_org.as_str()))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(theirs.metered_at.is_some());
    let values: Vec<String> = fake
        .posts("/v1/billing/meter_events")
        .into_iter()
        .map(|(_, f)| f["payload[value]"].clone())
        .collect();
    assert!(values.contains(&"14000".to_string()), "{values:?}");
}
