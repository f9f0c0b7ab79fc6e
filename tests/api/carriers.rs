//! The one rule for carrier credentials (`app::carriers`): a number is dialled from, and its
//! voice, status and SMS webhooks are checked against, the Twilio account it was bought or
//! imported on — a platform number, a BYOC number, and a platform number in an
//! organisation that added its own credentials afterwards.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use thruai::providers::twilio::compute_signature;

use crate::{
    fake_twilio::FakeTwilio,
    helpers::{Reply, TestApp, spawn_with},
};

const PLATFORM: &str = "AC00000000000000000000000000000001";
const PLATFORM_TOKEN: &str = "platform_auth_token";
const BYOC: &str = "AC00000000000000000000000000000002";
const BYOC_TOKEN: &str = "byoc_auth_token";
const PLATFORM_NUMBER: &str = "+14155550123";
const BYOC_NUMBER: &str = "+14155550124";

/// A server on the platform account, with one number of each account at the fake Twilio.
async fn app() -> (FakeTwilio, TestApp) {
    let twilio = FakeTwilio::start().await;
    twilio.add_account(PLATFORM, PLATFORM_TOKEN, "active");
    twilio.add_account(BYOC, BYOC_TOKEN, "active");
    twilio.add_owned_number(PLATFORM, PLATFORM_NUMBER, None);
    twilio.add_owned_number(BYOC, BYOC_NUMBER, None);
    let base = twilio.base_url.clone();
    let app = spawn_with(move |s| {
        s.providers.twilio.api_base = base;
        s.providers.twilio.account_sid = PLATFORM.into();
        s.providers.twilio.auth_token = PLATFORM_TOKEN.into();
    })
    .await;
    (twilio, app)
}

/// Imports a number with an agent answering it; returns the agent's id.
async fn import(app: &TestApp, e164: &str) -> String {
    let a = app
        .post(
            "/agents",
            &json!({ "name": format!("Agent {e164}"), "firstMessage": "Hello." }),
        )
        .await;
    let agent_id = a.data()["id"].as_str().unwrap().to_string();
    let n = app
        .post(
            "/telephony/numbers/import",
            &json!({ "phoneNumber": e164, "agentId": agent_id }),
        )
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    agent_id
}

async fn add_byoc(app: &TestApp) {
    let r = app
        .send(
            app.req(Method::PUT, "/telephony/credentials")
                .json(&json!({ "accountSid": BYOC, "authToken": BYOC_TOKEN })),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
}

/// Posts a carrier webhook to `path_and_query`, signed with `token`.
async fn signed(app: &TestApp, path_and_query: &str, params: &[(&str, &str)], token: &str) -> Reply {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let url = format!("{}{path_and_query}", app.address);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    app.send(
        app.client
            .post(&url)
            .header("X-Twilio-Signature", compute_signature(token, &url, &params))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await
}

/// An inbound call to `to` as Twilio would post it, signed with `token`: 200 with a
/// `<Stream>` when the signature is accepted, 403 when refused.
async fn inbound_call(app: &TestApp, to: &str, token: &str) -> u16 {
    let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
    let r = signed(
        app,
        "/twilio/voice",
        &[
            ("CallSid", &sid),
            ("From", "+12125550100"),
            ("To", to),
            ("CallStatus", "ringing"),
        ],
        token,
    )
    .await;
    if r.status == 200 {
        let twiml = String::from_utf8_lossy(&r.bytes);
        assert!(twiml.contains("<Stream"), "{twiml}");
    }
    r.status.as_u16()
}

/// An inbound SMS to `to`, signed with `token`.
async fn inbound_sms(app: &TestApp, to: &str, token: &str) -> u16 {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    signed(
        app,
        "/twilio/sms",
        &[
            ("MessageSid", &sid),
            ("From", "+12125550100"),
            ("To", to),
            ("Body", "hi"),
        ],
        token,
    )
    .await
    .status
    .as_u16()
}

/// Places an outbound call from `from`; returns the account Twilio placed it on and the
/// call's voice webhook URL (its path and query).
async fn outbound_call(app: &TestApp, twilio: &FakeTwilio, agent_id: &str, from: &str) -> (String, String) {
    let before = twilio.calls().len();
    let r = app
        .post(
            "/calls/outbound",
            &json!({ "agentId": agent_id, "from": from, "to": "+14155550177" }),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    for _ in 0..100 {
        if let Some(c) = twilio.calls().get(before) {
            let url = c.url.clone().unwrap();
            let path = url.strip_prefix(&app.address).unwrap().to_string();
            return (c.account_sid.clone(), path);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("Twilio was not asked to place the call");
}

/// The voice webhook of a placed call, signed with `token`.
async fn call_webhook(app: &TestApp, path: &str, token: &str) -> u16 {
    signed(app, path, &[("CallStatus", "in-progress")], token)
        .await
        .status
        .as_u16()
}

#[actix_web::test]
async fn a_platform_number_uses_the_platform_account() {
    let (twilio, app) = app().await;
    let agent = import(&app, PLATFORM_NUMBER).await;
    assert_eq!(inbound_call(&app, PLATFORM_NUMBER, PLATFORM_TOKEN).await, 200);
    assert_eq!(inbound_call(&app, PLATFORM_NUMBER, BYOC_TOKEN).await, 403);
    assert_eq!(inbound_sms(&app, PLATFORM_NUMBER, PLATFORM_TOKEN).await, 200);
    let (account, hook) = outbound_call(&app, &twilio, &agent, PLATFORM_NUMBER).await;
    assert_eq!(account, PLATFORM);
    assert_eq!(call_webhook(&app, &hook, BYOC_TOKEN).await, 403);
    assert_eq!(call_webhook(&app, &hook, PLATFORM_TOKEN).await, 200);
}

#[actix_web::test]
async fn a_byoc_number_uses_the_organisations_account() {
    let (twilio, app) = app().await;
    add_byoc(&app).await;
    let agent = import(&app, BYOC_NUMBER).await;
    assert_eq!(inbound_call(&app, BYOC_NUMBER, BYOC_TOKEN).await, 200);
    assert_eq!(inbound_call(&app, BYOC_NUMBER, PLATFORM_TOKEN).await, 403);
    assert_eq!(inbound_sms(&app, BYOC_NUMBER, BYOC_TOKEN).await, 200);
    assert_eq!(inbound_sms(&app, BYOC_NUMBER, PLATFORM_TOKEN).await, 403);
    let (account, hook) = outbound_call(&app, &twilio, &agent, BYOC_NUMBER).await;
    assert_eq!(account, BYOC);
    assert_eq!(call_webhook(&app, &hook, PLATFORM_TOKEN).await, 403);
    assert_eq!(call_webhook(&app, &hook, BYOC_TOKEN).await, 200);
}

#[actix_web::test]
async fn a_platform_number_keeps_the_platform_account_after_byoc_credentials_are_added() {
    let (twilio, app) = app().await;
    let agent = import(&app, PLATFORM_NUMBER).await;
    add_byoc(&app).await;
    // Dialled with the platform account, and its webhooks checked against the same one.
    let (account, hook) = outbound_call(&app, &twilio, &agent, PLATFORM_NUMBER).await;
    assert_eq!(account, PLATFORM);
    assert_eq!(call_webhook(&app, &hook, PLATFORM_TOKEN).await, 200);
    assert_eq!(call_webhook(&app, &hook, BYOC_TOKEN).await, 403);
    assert_eq!(inbound_call(&app, PLATFORM_NUMBER, PLATFORM_TOKEN).await, 200);
    assert_eq!(inbound_call(&app, PLATFORM_NUMBER, BYOC_TOKEN).await, 403);
    assert_eq!(inbound_sms(&app, PLATFORM_NUMBER, PLATFORM_TOKEN).await, 200);
    // A number imported now goes to the organisation's own account.
    let byoc_agent = import(&app, BYOC_NUMBER).await;
    let (account, _) = outbound_call(&app, &twilio, &byoc_agent, BYOC_NUMBER).await;
    assert_eq!(account, BYOC);
}
