//! SMS: sending (checks and A2P gate), delivery status, inbound messages with STOP / START
//! / HELP, conversations, opt-outs, signatures and tenancy.

use std::time::Duration;

use serde_json::json;
use thruai::providers::twilio::compute_signature;

use crate::{
    a2p::registered_number,
    helpers::{Reply, TestApp, spawn_app},
};

const CONTACT: &str = "+14155550177";

/// Posts a carrier webhook signed as the sandbox carrier (or with `token`).
async fn webhook(app: &TestApp, path: &str, params: &[(&str, &str)], token: Option<&str>) -> Reply {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    let url = format!("{}{path}", app.address);
    let token = token.unwrap_or(&app.settings.sms.sandbox_auth_token);
    let signature = compute_signature(token, &url, &params);
    app.send(
        app.client
            .post(format!("{}{path}", app.address))
            .header("X-Twilio-Signature", signature)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&params)),
    )
    .await
}

fn form(params: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

pub async fn inbound(app: &TestApp, from: &str, to: &str, body: &str) -> Reply {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    webhook(
        app,
        "/twilio/sms",
        &[
            ("MessageSid", &sid),
            ("From", from),
            ("To", to),
            ("Body", body),
            ("SmsStatus", "received"),
        ],
        None,
    )
    .await
}

async fn send_sms(app: &TestApp, from: &str, to: &str) -> Reply {
    app.post(
        "/sms/messages",
        &json!({ "from": from, "to": to, "body": "Your appointment is at 3pm." }),
    )
    .await
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> Reply {
    let mut last = app.get(&format!("/sms/messages/{id}")).await;
    for _ in 0..100 {
        if last.data()["status"] == status {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = app.get(&format!("/sms/messages/{id}")).await;
    }
    last
}

#[actix_web::test]
async fn a_message_is_sent_and_delivered_on_all_three_paths() {
    let app = spawn_app().await;
    let (from, number_id, _) = registered_number(&app).await;

    let a = send_sms(&app, &from, CONTACT).await;
    let b = app
        .post(
            "/sms",
            &json!({ "phoneNumberId": number_id, "to": CONTACT, "body": "Second" }),
        )
        .await;
    let c = app.post("/sms/send", &json!({ "to": CONTACT, "body": "Third" })).await;
    let delivered = wait_status(&app, a.data()["id"].as_str().unwrap(), "delivered").await;

    for r in [&a, &b, &c] {
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.data()["from"], from.as_str());
        assert!(r.data()["id"].as_str().unwrap().starts_with("SMS-"));
    }
    assert_eq!(delivered.data()["status"], "delivered");
    let listed = app.get("/sms/messages?direction=outbound&pageSize=2").await;
    assert_eq!(listed.data()["messages"].as_array().unwrap().len(), 2);
    assert_eq!(listed.data()["pagination"]["total"], 3);
    assert_eq!(listed.data()["messages"][0]["body"], "Third");
}

#[actix_web::test]
async fn a_message_whose_status_callback_reports_failure_is_marked_failed() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    let magic = send_sms(&app, &from, "+15005550006").await;
    let failed = wait_status(&app, magic.data()["id"].as_str().unwrap(), "failed").await;
    let plain = send_sms(&app, &from, CONTACT).await;
    let sid = plain.data()["providerSid"].as_str().unwrap().to_string();
    wait_status(&app, plain.data()["id"].as_str().unwrap(), "delivered").await;
    let other = send_sms(&app, &from, "+14155550178").await;
    let other_sid = other.data()["providerSid"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let callback = webhook(
        &app,
        "/twilio/sms-status",
        &[
            ("MessageSid", &other_sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
            ("From", &from),
            ("To", "+14155550178"),
        ],
        None,
    )
    .await;
    let late = webhook(
        &app,
        "/twilio/sms-status",
        &[("MessageSid", &sid), ("MessageStatus", "sent"), ("From", &from)],
        None,
    )
    .await;

    assert_eq!(failed.data()["status"], "failed");
    assert_eq!(failed.data()["errorCode"], 30006);
    assert_eq!(callback.status, 204);
    let undelivered = app
        .get(&format!("/sms/messages/{}", other.data()["id"].as_str().unwrap()))
        .await;
    assert_eq!(undelivered.data()["status"], "undelivered");
    assert_eq!(undelivered.data()["errorCode"], 30003);
    assert_eq!(late.status, 204);
    let still = app
        .get(&format!("/sms/messages/{}", plain.data()["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        still.data()["status"],
        "delivered",
        "a late callback never moves a message back"
    );
}

#[actix_web::test]
async fn stop_then_start_from_the_same_number_opts_out_and_back_in() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    let stop = inbound(&app, CONTACT, &from, " Stop ").await;
    let before = app.get("/sms/messages?direction=outbound").await.data()["pagination"]["total"].clone();
    let refused = send_sms(&app, &from, CONTACT).await;
    let after = app.get("/sms/messages?direction=outbound").await.data()["pagination"]["total"].clone();
    let opt_outs = app.get("/sms/opt-outs").await;
    let opted = thruai::store::sms::is_opted_out(&app.state.db, &org_of(&app).await, None, CONTACT)
        .await
        .unwrap();
    let start = inbound(&app, CONTACT, &from, "START").await;
    let allowed = send_sms(&app, &from, CONTACT).await;

    assert_eq!(stop.status, 200);
    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "VALIDATION_ERROR");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("opted out"));
    assert_eq!(before, after, "nothing was sent");
    assert_eq!(opt_outs.data()["optOuts"][0]["phoneNumber"], CONTACT);
    assert_eq!(opt_outs.data()["optOuts"][0]["keyword"], "STOP");
    assert!(opted);
    assert_eq!(start.status, 200);
    assert_eq!(allowed.status, 201, "{:?}", allowed.body);
    assert_eq!(
        app.get("/sms/opt-outs").await.data()["optOuts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

async fn org_of(app: &TestApp) -> String {
    app.get("/accounts/me").await.data()["id"].as_str().unwrap().to_string()
}

#[actix_web::test]
async fn every_opt_out_keyword_counts_only_as_the_whole_message() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    inbound(&app, "+14155550181", &from, "please stop calling").await;
    for (i, word) in ["unsubscribe", "CANCEL", "end", "Quit.", "stopall", "REVOKE", "optout"]
        .iter()
        .enumerate()
    {
        inbound(&app, &format!("+1415555019{i}"), &from, word).await;
    }

    let opt_outs = app.get("/sms/opt-outs").await;
    assert_eq!(opt_outs.data()["pagination"]["total"], 7);
    assert_eq!(send_sms(&app, &from, "+14155550181").await.status, 201);
}

#[actix_web::test]
async fn help_is_answered_with_the_organisations_help_text() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    let help = inbound(&app, CONTACT, &from, "help").await;
    let conversations = app.get("/sms/conversations").await;
    let conv_id = conversations.data()["conversations"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let messages = app.get(&format!("/sms/conversations/{conv_id}/messages")).await;

    let twiml = String::from_utf8_lossy(&help.bytes).to_string();
    assert_eq!(help.status, 200);
    assert!(
        twiml.contains("<Message>Acme Dental: call +14155550100 for help."),
        "{twiml}"
    );
    assert_eq!(messages.data()["messages"].as_array().unwrap().len(), 2);
    assert_eq!(messages.data()["messages"][1]["direction"], "inbound");
    assert_eq!(messages.data()["messages"][0]["direction"], "outbound");
    assert_eq!(
        app.get("/sms/opt-outs").await.data()["optOuts"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "HELP does not opt out"
    );
}

#[actix_web::test]
async fn conversations_group_by_number_pair_newest_first() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    send_sms(&app, &from, CONTACT).await;
    inbound(&app, "+14155550188", &from, "Hello there").await;
    inbound(&app, CONTACT, &from, "Thanks!").await;
    let list = app.get("/sms/conversations").await;

    let convs = list.data()["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 2);
    assert_eq!(convs[0]["contactNumber"], CONTACT);
    assert_eq!(convs[0]["messageCount"], 2);
    assert_eq!(convs[0]["lastMessagePreview"], "Thanks!");
    assert_eq!(convs[1]["contactNumber"], "+14155550188");
    assert_eq!(convs[0]["phoneNumber"], from.as_str());
}

#[actix_web::test]
async fn sending_without_an_approved_campaign_is_refused_with_the_next_action() {
    let app = spawn_app().await;
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    let from = n.data()["phoneNumber"].as_str().unwrap().to_string();

    let refused = send_sms(&app, &from, CONTACT).await;

    assert_eq!(refused.status, 400);
    assert_eq!(refused.code(), "CAMPAIGN_NOT_APPROVED");
    let details = &refused.body["error"]["details"];
    assert!(
        details["nextAction"]
            .as_str()
            .unwrap()
            .contains("/compliance/a2p/brands")
    );
    assert_eq!(details["nextActions"][2]["operation"], "submit_a2p_brand");
    assert_eq!(app.get("/sms/messages").await.data()["pagination"]["total"], 0);
}

#[actix_web::test]
async fn bad_numbers_and_missing_senders_are_refused() {
    let app = spawn_app().await;

    let no_numbers = app.post("/sms", &json!({ "to": CONTACT, "body": "hi" })).await;
    let bad_to = app.post("/sms", &json!({ "to": "4155550177", "body": "hi" })).await;
    let not_ours = send_sms(&app, "+14155550111", CONTACT).await;
    let too_long = app
        .post("/sms", &json!({ "to": CONTACT, "body": "x".repeat(1601) }))
        .await;

    assert_eq!(no_numbers.code(), "TELEPHONY_NOT_CONFIGURED");
    assert_eq!(bad_to.code(), "INVALID_NUMBER");
    assert_eq!(not_ours.code(), "INVALID_NUMBER");
    assert_eq!(too_long.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn webhooks_with_a_bad_signature_are_refused() {
    let app = spawn_app().await;
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    let to = n.data()["phoneNumber"].as_str().unwrap().to_string();

    let forged = webhook(
        &app,
        "/twilio/sms",
        &[("MessageSid", "SM1"), ("From", CONTACT), ("To", &to), ("Body", "STOP")],
        Some("wrong-token"),
    )
    .await;
    let unsigned = app
        .send(
            app.client
                .post(format!("{}/twilio/sms", app.address))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("From".into(), CONTACT.into()),
                    ("To".into(), to.clone()),
                    ("Body".into(), "STOP".into()),
                ])),
        )
        .await;
    let status = webhook(
        &app,
        "/twilio/sms-status",
        &[("MessageSid", "SMnope"), ("MessageStatus", "failed")],
        Some("wrong-token"),
    )
    .await;

    assert_eq!(forged.status, 403);
    assert_eq!(unsigned.status, 403);
    assert_eq!(status.status, 404);
    assert_eq!(
        app.get("/sms/opt-outs").await.data()["optOuts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[actix_web::test]
async fn another_organisations_messages_and_conversations_are_not_found() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;
    let sent = send_sms(&app, &from, CONTACT).await;
    let conv = sent.data()["conversationId"].as_str().unwrap().to_string();
    let other = app.other_org().await;

    let message = other
        .get(&format!("/sms/messages/{}", sent.data()["id"].as_str().unwrap()))
        .await;
    let messages = other.get(&format!("/sms/conversations/{conv}/messages")).await;
    let spoof = send_sms(&other, &from, CONTACT).await;

    assert_eq!(message.status, 404);
    assert_eq!(messages.status, 404);
    assert_eq!(spoof.code(), "INVALID_NUMBER");
    assert_eq!(other.get("/sms/messages").await.data()["pagination"]["total"], 0);
}

/// A carrier's message is kept whatever it holds (NUL, which no database text holds,
/// becomes U+FFFD); a sender or recipient with a control character is refused, never a 500.
#[actix_web::test]
async fn an_inbound_message_with_nul_is_kept_and_a_bad_number_refused() {
    let app = spawn_app().await;
    let (from, _, _) = registered_number(&app).await;

    let kept = inbound(&app, CONTACT, &from, "Hi\0there").await;
    let refused = inbound(&app, "+1415555\u{0}0188", &from, "Hello").await;
    let list = app.get("/sms/conversations").await;

    assert_eq!(kept.status, 200, "{:?}", kept.body);
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(list.data()["conversations"][0]["lastMessagePreview"], "Hi\u{FFFD}there");
}
