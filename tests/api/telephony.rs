//! Telephony end to end: the sandbox carrier (quickstart, search, provision, release) and
//! BYOC Twilio against the fake (credentials, search, provision, import with webhook
//! configuration, external discovery, release), with every telephony error code.

use reqwest::Method;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use thruai_entities::telephony_credential;

use crate::{
    fake_twilio::{FakeTwilio, Fault},
    helpers::{Reply, TestApp, spawn_app, spawn_with},
};

const TOKEN: &str = "test-auth-token";

async fn put(app: &TestApp, path: &str, body: &Value) -> Reply {
    app.send(app.req(Method::PUT, path).json(body)).await
}

#[actix_web::test]
async fn with_nothing_configured_quickstart_gives_a_sandbox_number_and_preflight_passes() {
    let app = spawn_app().await;

    let quick = app
        .post(
            "/agents/quickstart",
            &json!({ "name": "Front desk", "areaCode": "212" }),
        )
        .await;
    let agent_id = quick.data()["agent"]["id"].as_str().unwrap().to_string();
    let tool = app
        .post(
            "/tools",
            &json!({ "name": "book_table", "url": "https://tools.example.com/book" }),
        )
        .await;
    let attached = app
        .patch(
            &format!("/agents/{agent_id}"),
            &json!({ "enabledTools": ["book_table"] }),
        )
        .await;
    let numbers = app.get(&format!("/agents/{agent_id}/telephony")).await;
    let preflight = app.post(&format!("/agents/{agent_id}/preflight"), &json!({})).await;
    let simulated = app
        .post(
            &format!("/agents/{agent_id}/simulate"),
            &json!({ "scenarios": ["tool_use", "opt_out"] }),
        )
        .await;

    assert_eq!(quick.status, 201, "{:?}", quick.body);
    let number = &quick.data()["phoneNumber"];
    assert_eq!(number["provider"], "sandbox");
    assert!(number["phoneNumber"].as_str().unwrap().starts_with("+1212555"));
    assert_eq!(number["agentId"], agent_id.as_str());
    assert_eq!(number["voiceWebhookUrl"], format!("{}/twilio/voice", app.address));
    assert_eq!(tool.status, 201);
    assert_eq!(attached.data()["enabledTools"][0], tool.data()["id"]);
    assert_eq!(numbers.data()["phoneNumbers"][0]["id"], number["id"]);
    assert_eq!(preflight.data()["ready"], true, "{}", preflight.data());
    assert_eq!(simulated.data()["summary"]["passed"], 2, "{}", simulated.data());
}

#[actix_web::test]
async fn the_sandbox_carrier_searches_provisions_and_releases_numbers() {
    let app = spawn_app().await;
    let other = app.other_org().await;

    let by_query = app.get("/telephony/numbers/search?areaCode=415&limit=3").await;
    let by_body = app
        .post(
            "/telephony/numbers/search",
            &json!({ "areaCode": "415", "contains": "0199" }),
        )
        .await;
    let first = by_query.data()["numbers"][0]["phoneNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let provisioned = app
        .post("/telephony/numbers/provision", &json!({ "phoneNumber": first }))
        .await;
    let again = app
        .post("/telephony/numbers/provision", &json!({ "phoneNumber": first }))
        .await;
    let theirs = other
        .post("/telephony/numbers/provision", &json!({ "phoneNumber": first }))
        .await;
    let invalid = app
        .post(
            "/telephony/numbers/provision",
            &json!({ "phoneNumber": "415-555-0100" }),
        )
        .await;
    let not_inventory = app
        .post(
            "/telephony/numbers/provision",
            &json!({ "phoneNumber": "+14155559999" }),
        )
        .await;
    let after = app.get("/telephony/numbers/search?areaCode=415&limit=3").await;
    let id = provisioned.data()["id"].as_str().unwrap().to_string();
    let listed = app.get("/telephony/numbers").await;
    let foreign_patch = other
        .patch(&format!("/telephony/numbers/{id}"), &json!({ "friendlyName": "x" }))
        .await;
    let foreign_delete = other.delete(&format!("/telephony/numbers/{id}")).await;
    let patched = app
        .patch(
            &format!("/telephony/numbers/{id}"),
            &json!({ "friendlyName": "Main line", "status": "inactive" }),
        )
        .await;
    let bad_agent = app
        .patch(&format!("/telephony/numbers/{id}"), &json!({ "agentId": "AGT-NOPE" }))
        .await;
    let released = app.delete(&format!("/telephony/numbers/{id}")).await;
    let back = app.get("/telephony/numbers/search?areaCode=415&limit=3").await;
    let bad_area = app.get("/telephony/numbers/search?areaCode=41").await;

    assert_eq!(by_query.status, 200, "{:?}", by_query.body);
    assert_eq!(by_query.data()["provider"], "sandbox");
    assert_eq!(by_query.data()["numbers"].as_array().unwrap().len(), 3);
    assert_eq!(first, "+14155550100");
    assert_eq!(by_body.data()["numbers"][0]["phoneNumber"], "+14155550199");
    assert_eq!(provisioned.status, 201, "{:?}", provisioned.body);
    assert!(id.starts_with("TEL-"));
    assert_eq!((again.status.as_u16(), again.code()), (409, "NUMBER_EXISTS"));
    assert_eq!((theirs.status.as_u16(), theirs.code()), (409, "NUMBER_CONFLICT"));
    assert_eq!((invalid.status.as_u16(), invalid.code()), (400, "INVALID_NUMBER"));
    assert_eq!(not_inventory.code(), "INVALID_NUMBER");
    assert_ne!(after.data()["numbers"][0]["phoneNumber"], first.as_str());
    assert_eq!(listed.data()["numbers"][0]["id"], id.as_str());
    assert_eq!(foreign_patch.code(), "NOT_FOUND");
    assert_eq!(foreign_delete.code(), "NOT_FOUND");
    assert_eq!(patched.data()["friendlyName"], "Main line");
    assert_eq!(patched.data()["status"], "inactive");
    assert_eq!(bad_agent.code(), "INVALID_AGENT");
    assert_eq!(released.status, 200);
    assert_eq!(back.data()["numbers"][0]["phoneNumber"], first.as_str());
    assert_eq!(bad_area.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn numbers_are_assigned_to_and_removed_from_agents() {
    let app = spawn_app().await;
    let a = app.post("/agents", &json!({ "name": "A" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = app.post("/agents", &json!({ "name": "B" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let number = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "312" }))
        .await;
    let nid = number.data()["id"].as_str().unwrap().to_string();
    let e164 = number.data()["phoneNumber"].as_str().unwrap().to_string();

    let assigned = app
        .post(&format!("/agents/{a}/telephony"), &json!({ "phoneNumber": e164 }))
        .await;
    let taken = app
        .post(&format!("/agents/{b}/telephony"), &json!({ "phoneNumberId": nid }))
        .await;
    let wrong_agent = app.delete(&format!("/agents/{b}/telephony/{nid}")).await;
    let removed = app.delete(&format!("/agents/{a}/telephony/{nid}")).await;
    let moved = app
        .post(&format!("/agents/{b}/telephony"), &json!({ "phoneNumberId": nid }))
        .await;
    let deleted_agent = app.delete(&format!("/agents/{b}")).await;
    let after = app.get("/telephony/numbers").await;

    assert_eq!(assigned.status, 200, "{:?}", assigned.body);
    assert_eq!(assigned.data()["agentId"], a.as_str());
    assert_eq!(taken.code(), "RESOURCE_CONFLICT");
    assert_eq!(wrong_agent.code(), "NOT_FOUND");
    assert_eq!(removed.status, 200);
    assert_eq!(moved.data()["agentId"], b.as_str());
    assert!(deleted_agent.data()["warnings"][0].as_str().unwrap().contains(&e164));
    assert!(after.data()["numbers"][0]["agentId"].is_null());
}

#[actix_web::test]
async fn import_and_external_discovery_need_twilio_credentials() {
    let app = spawn_app().await;

    let import = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "+14155550100" }))
        .await;
    let external = app.get("/telephony/numbers/external").await;
    let bad_sid = put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": "nope", "authToken": TOKEN }),
    )
    .await;

    assert_eq!((import.status.as_u16(), import.code()), (400, "TWILIO_NOT_CONFIGURED"));
    assert_eq!(external.code(), "TWILIO_NOT_CONFIGURED");
    assert_eq!(bad_sid.code(), "VALIDATION_ERROR");
}

async fn byoc() -> (FakeTwilio, TestApp, String) {
    let fake = FakeTwilio::start().await;
    let base = fake.base_url.clone();
    let app = spawn_with(move |s| s.providers.twilio.api_base = base).await;
    let sid = FakeTwilio::sid("AC");
    fake.add_account(&sid, TOKEN, "active");
    (fake, app, sid)
}

#[actix_web::test]
async fn byoc_credentials_are_validated_against_twilio_and_stored_encrypted() {
    let (fake, app, sid) = byoc().await;
    let suspended = FakeTwilio::sid("AC");
    fake.add_account(&suspended, TOKEN, "suspended");

    let wrong = put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": "wrong-token" }),
    )
    .await;
    let paused = put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": suspended, "authToken": TOKEN }),
    )
    .await;
    let ok = put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": TOKEN }),
    )
    .await;
    fake.script(Fault::status("/2010-04-01/Accounts", 503, 20500).times(5));
    let down = put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": TOKEN }),
    )
    .await;

    assert_eq!((wrong.status.as_u16(), wrong.code()), (401, "TWILIO_AUTH_FAILED"));
    assert_eq!(
        (paused.status.as_u16(), paused.code()),
        (403, "TWILIO_ACCOUNT_SUSPENDED")
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.data()["accountSid"], sid.as_str());
    assert!(!ok.body.to_string().contains(TOKEN));
    assert_eq!((down.status.as_u16(), down.code()), (502, "UPSTREAM_UNAVAILABLE"));
    let stored = telephony_credential::Entity::find().all(&app.state.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].auth_token_ciphertext.contains(TOKEN));
    assert_eq!(
        app.state
            .crypto
            .decrypt(&stored[0].auth_token_ciphertext)
            .await
            .unwrap(),
        TOKEN
    );
}

#[actix_web::test]
async fn byoc_numbers_are_searched_bought_imported_and_released_at_twilio() {
    let (fake, app, sid) = byoc().await;
    let other = app.other_org().await;
    put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": TOKEN }),
    )
    .await;
    let owned = "+14155551234";
    let owned_sid = fake.add_owned_number(&sid, owned, Some("https://old.example.com/voice".into()));

    let search = app
        .post("/telephony/numbers/search", &json!({ "areaCode": "415", "limit": 2 }))
        .await;
    let to_buy = search.data()["numbers"][0]["phoneNumber"].as_str().unwrap().to_string();
    let bought = app
        .post("/telephony/numbers/provision", &json!({ "phoneNumber": to_buy }))
        .await;
    let external = app.get("/telephony/numbers/external").await;
    let imported = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": owned }))
        .await;
    let reimport = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": owned }))
        .await;
    let missing = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "+14155556666" }))
        .await;
    let invalid = app
        .post("/telephony/numbers/import", &json!({ "phoneNumber": "4155551234" }))
        .await;
    let other_sandbox = other.get("/telephony/numbers/search?areaCode=415").await;
    let released = app
        .delete(&format!("/telephony/numbers/{}", bought.data()["id"].as_str().unwrap()))
        .await;

    assert_eq!(search.data()["provider"], "twilio");
    assert_eq!(search.data()["mode"], "byoc");
    assert_eq!(bought.status, 201, "{:?}", bought.body);
    assert_eq!(bought.data()["provider"], "twilio");
    assert_eq!(bought.data()["twilioAccountSid"], sid.as_str());
    let fake_number = fake.numbers().into_iter().find(|n| n.phone_number == to_buy);
    assert!(fake_number.is_none(), "released at Twilio");
    let buy = &fake.requests_to("POST", "/IncomingPhoneNumbers.json")[0];
    assert_eq!(
        buy.param("VoiceUrl"),
        Some(format!("{}/twilio/voice", app.address).as_str())
    );
    assert_eq!(
        buy.param("SmsUrl"),
        Some(format!("{}/twilio/sms", app.address).as_str())
    );
    let ext = external.data()["numbers"].as_array().unwrap();
    let listed = ext.iter().find(|n| n["phoneNumber"] == owned).unwrap();
    assert_eq!(listed["imported"], false);
    assert_eq!(imported.status, 201, "{:?}", imported.body);
    assert_eq!(
        imported.data()["voiceWebhookUrl"],
        format!("{}/twilio/voice", app.address)
    );
    let update = &fake.requests_to("POST", &format!("/IncomingPhoneNumbers/{owned_sid}.json"))[0];
    assert_eq!(
        update.param("VoiceUrl"),
        Some(format!("{}/twilio/voice", app.address).as_str())
    );
    assert_eq!(
        update.param("SmsUrl"),
        Some(format!("{}/twilio/sms", app.address).as_str())
    );
    let configured = fake.numbers().into_iter().find(|n| n.phone_number == owned).unwrap();
    assert_eq!(configured.voice_url, Some(format!("{}/twilio/voice", app.address)));
    assert_eq!(reimport.code(), "NUMBER_EXISTS");
    assert_eq!(missing.code(), "NOT_FOUND");
    assert_eq!(invalid.code(), "INVALID_NUMBER");
    assert_eq!(other_sandbox.data()["provider"], "sandbox");
    assert_eq!(released.status, 200);
    assert_eq!(fake.requests_to("DELETE", ".json").len(), 1);
}

#[actix_web::test]
async fn twilio_failures_map_to_contract_codes() {
    let (fake, app, sid) = byoc().await;
    put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": TOKEN }),
    )
    .await;

    fake.script(Fault::status("/AvailablePhoneNumbers", 500, 20500).times(5));
    let outage = app
        .post("/telephony/numbers/search", &json!({ "areaCode": "415" }))
        .await;
    fake.script(Fault::garbage("/AvailablePhoneNumbers"));
    let garbage = app
        .post("/telephony/numbers/search", &json!({ "areaCode": "415" }))
        .await;
    let quick = app
        .post("/agents/quickstart", &json!({ "name": "Q", "areaCode": "415" }))
        .await;

    assert_eq!((outage.status.as_u16(), outage.code()), (502, "UPSTREAM_UNAVAILABLE"));
    assert_eq!((garbage.status.as_u16(), garbage.code()), (502, "TELEPHONY_ERROR"));
    assert_eq!(quick.status, 201, "{:?}", quick.body);
    assert_eq!(quick.data()["phoneNumber"]["provider"], "twilio");
}

#[actix_web::test]
async fn quickstart_still_creates_the_agent_when_no_number_can_be_had() {
    let (fake, app, sid) = byoc().await;
    put(
        &app,
        "/telephony/credentials",
        &json!({ "accountSid": sid, "authToken": TOKEN }),
    )
    .await;
    fake.script(Fault::status("/AvailablePhoneNumbers", 500, 20500).times(5));

    let quick = app
        .post("/agents/quickstart", &json!({ "name": "Partial", "areaCode": "415" }))
        .await;
    let agents = app.get("/agents").await;

    assert_eq!(quick.status, 201, "{:?}", quick.body);
    assert!(quick.data()["phoneNumber"].is_null());
    assert!(quick.data()["error"]["message"].is_string());
    assert!(quick.data()["error"]["details"].is_object());
    assert_eq!(agents.data()["pagination"]["total"], 1);
}

/// Racing for one number: exactly one request wins; every loser in the winner's
/// organisation hears NUMBER_EXISTS, whenever it lost; another organisation hears
/// NUMBER_CONFLICT, "not available", never whose it is.
#[actix_web::test]
async fn losers_of_a_race_for_one_number_always_hear_the_same_code() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let number = "+14155550177";
    let body = json!({ "phoneNumber": number });
    let replies = futures_util::future::join_all((0..6).map(|_| app.post("/telephony/numbers/provision", &body))).await;
    let theirs = other.post("/telephony/numbers/provision", &body).await;

    let won = replies.iter().filter(|r| r.status == 201).count();
    let codes: Vec<&str> = replies.iter().filter(|r| r.status != 201).map(Reply::code).collect();
    assert_eq!(won, 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == "NUMBER_EXISTS"), "{codes:?}");
    assert_eq!(theirs.code(), "NUMBER_CONFLICT");
    let message = theirs.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("not available") && !message.contains("organization"),
        "{message}"
    );
}
