//! Client-against-fake tests: every `TwilioClient` method, error mapping, retries, timeouts and
//! pagination, run against `FakeTwilio` on a random loopback port.

use std::time::{Duration, Instant};

use thruai::error::CodedError;
use thruai::providers::twilio::{
    BuyNumber, CreateCall, NumberKind, NumberSearch, SendMessage, TwilioClient, TwilioConfig, TwilioError, UpdateNumber,
};

use crate::fake_twilio::{FakeTwilio, Fault};

const TOKEN: &str = "test-auth-token";

struct Env {
    fake: FakeTwilio,
    sid: String,
    client: TwilioClient,
}

fn config(base: &str, timeout: Duration, max_retries: u32) -> TwilioConfig {
    TwilioConfig {
        api_base: base.to_owned(),
        timeout,
        max_retries,
    }
}

fn client_for(base: &str, sid: &str, token: &str, timeout: Duration, retries: u32) -> TwilioClient {
    TwilioClient::new(
        reqwest::Client::new(),
        config(base, timeout, retries),
        sid.to_owned(),
        token.to_owned(),
    )
}

async fn env_with(timeout: Duration, retries: u32) -> Env {
    let fake = FakeTwilio::start().await;
    let sid = FakeTwilio::sid("AC");
    fake.add_account(&sid, TOKEN, "active");
    let client = client_for(&fake.base_url, &sid, TOKEN, timeout, retries);
    Env { fake, sid, client }
}

async fn env() -> Env {
    env_with(Duration::from_secs(5), 2).await
}

fn call_req(to: &str, from: &str) -> CreateCall {
    CreateCall {
        to: to.to_owned(),
        from: from.to_owned(),
        url: Some("https://agent.example.com/twiml".to_owned()),
        ..CreateCall::default()
    }
}

const OWN: &str = "+14155559000";

// -- accounts ---------------------------------------------------------------------------------

#[tokio::test]
async fn fetch_account_with_good_credentials() {
    let e = env().await;
    let account = e.client.fetch_account().await.unwrap();
    assert_eq!(account.sid, e.sid);
    assert_eq!(account.status, "active");
    assert_eq!(account.account_type.as_deref(), Some("Full"));
    let reqs = e.fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, format!("/2010-04-01/Accounts/{}.json", e.sid));
    assert!(reqs[0].auth_ok);
}

#[tokio::test]
async fn wrong_token_is_auth_failed() {
    let e = env().await;
    let bad = client_for(&e.fake.base_url, &e.sid, "wrong", Duration::from_secs(5), 2);
    let err = bad.fetch_account().await.unwrap_err();
    assert!(
        matches!(err, TwilioError::AuthFailed { code: Some(20003), .. }),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "TWILIO_AUTH_FAILED");
    // 401 is not retried.
    assert_eq!(e.fake.requests().len(), 1);
    assert!(!e.fake.requests()[0].auth_ok);

    let unknown = client_for(
        &e.fake.base_url,
        &FakeTwilio::sid("AC"),
        TOKEN,
        Duration::from_secs(5),
        2,
    );
    let err = unknown.list_incoming_numbers(50).await.unwrap_err();
    assert!(matches!(err, TwilioError::AuthFailed { .. }), "{err:?}");
}

#[tokio::test]
async fn suspended_account_is_account_suspended() {
    let fake = FakeTwilio::start().await;
    let sid = FakeTwilio::sid("AC");
    fake.add_account(&sid, TOKEN, "suspended");
    fake.add_owned_number(&sid, OWN, None);
    let client = client_for(&fake.base_url, &sid, TOKEN, Duration::from_secs(5), 2);

    let err = client.fetch_account().await.unwrap_err();
    assert!(matches!(err, TwilioError::AccountSuspended { .. }), "{err:?}");
    assert_eq!(err.code().as_str(), "TWILIO_ACCOUNT_SUSPENDED");

    let err = client.create_call(&call_req("+14155550100", OWN)).await.unwrap_err();
    assert!(
        matches!(err, TwilioError::AccountSuspended { code: Some(20005), .. }),
        "{err:?}"
    );
    assert!(fake.calls().is_empty());

    let closed = FakeTwilio::sid("AC");
    fake.add_account(&closed, "t2", "closed");
    let client = client_for(&fake.base_url, &closed, "t2", Duration::from_secs(5), 2);
    let err = client.fetch_account().await.unwrap_err();
    assert!(matches!(err, TwilioError::AccountSuspended { .. }), "{err:?}");
}

#[tokio::test]
async fn another_accounts_resources_are_not_found() {
    let e = env().await;
    let other = FakeTwilio::sid("AC");
    e.fake.add_account(&other, "other-token", "active");
    let their_number = e.fake.add_owned_number(&other, "+14155558888", None);

    let err = e
        .client
        .update_number(&their_number, &UpdateNumber::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TwilioError::NotFound { code: Some(20404), .. }),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "NOT_FOUND");

    // A path naming the other account with our credentials.
    let resp = reqwest::Client::new()
        .get(format!("{}/2010-04-01/Accounts/{other}.json", e.fake.base_url))
        .basic_auth(&e.sid, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], 20404);
    assert_eq!(body["status"], 404);
    assert!(body["more_info"].as_str().unwrap().ends_with("20404"));

    // Malformed SIDs never reach the wire.
    let before = e.fake.requests().len();
    let err = e.client.fetch_call("../../Accounts").await.unwrap_err();
    assert!(matches!(err, TwilioError::NotFound { .. }), "{err:?}");
    assert_eq!(e.fake.requests().len(), before);
}

// -- numbers ----------------------------------------------------------------------------------

#[tokio::test]
async fn search_available_numbers() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, "+15105551000", None);
    let found = e
        .client
        .search_available(&NumberSearch {
            country: "us".to_owned(),
            area_code: Some("510".to_owned()),
            sms_enabled: Some(true),
            voice_enabled: Some(true),
            limit: Some(3),
            ..NumberSearch::default()
        })
        .await
        .unwrap();
    let numbers: Vec<&str> = found.iter().map(|n| n.phone_number.as_str()).collect();
    // +15105551000 is owned, so the inventory starts at 1001.
    assert_eq!(numbers, ["+15105551001", "+15105551002", "+15105551003"]);
    assert!(found[0].capabilities.voice && found[0].capabilities.sms);
    assert_eq!(found[0].friendly_name.as_deref(), Some("(510) 555-1001"));
    assert_eq!(found[0].iso_country.as_deref(), Some("US"));

    let req = e.fake.requests().pop().unwrap();
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{}/AvailablePhoneNumbers/US/Local.json", e.sid)
    );
    assert_eq!(req.param("AreaCode"), Some("510"));
    assert_eq!(req.param("SmsEnabled"), Some("true"));
    assert_eq!(req.param("PageSize"), Some("3"));

    let contains = e
        .client
        .search_available(&NumberSearch {
            area_code: Some("510".to_owned()),
            contains: Some("55*77".to_owned()),
            limit: Some(2),
            ..NumberSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(contains.len(), 2);
    assert!(contains.iter().all(|n| n.phone_number.contains("77")));

    let toll_free = e
        .client
        .search_available(&NumberSearch {
            kind: NumberKind::TollFree,
            limit: Some(1),
            ..NumberSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(toll_free[0].phone_number, "+18005551000");
    assert!(e.fake.requests().pop().unwrap().path.ends_with("/TollFree.json"));

    let err = e
        .client
        .search_available(&NumberSearch {
            country: "USA".to_owned(),
            ..NumberSearch::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TwilioError::Api { status: 400, .. }), "{err:?}");
}

#[tokio::test]
async fn buy_number_then_it_is_no_longer_offered() {
    let e = env().await;
    let bought = e
        .client
        .buy_number(&BuyNumber {
            phone_number: "+14155551000".to_owned(),
            friendly_name: Some("Agent line".to_owned()),
            voice_url: Some("https://agent.example.com/voice".to_owned()),
            voice_method: Some("POST".to_owned()),
            sms_url: Some("https://agent.example.com/sms".to_owned()),
            status_callback: Some("https://agent.example.com/status".to_owned()),
            ..BuyNumber::default()
        })
        .await
        .unwrap();
    assert!(bought.sid.starts_with("PN"));
    assert_eq!(bought.phone_number, "+14155551000");
    assert_eq!(bought.friendly_name.as_deref(), Some("Agent line"));
    assert_eq!(bought.voice_url.as_deref(), Some("https://agent.example.com/voice"));
    assert_eq!(bought.sms_url.as_deref(), Some("https://agent.example.com/sms"));
    assert_eq!(bought.account_sid.as_deref(), Some(e.sid.as_str()));
    // Capitalised SMS/MMS keys on the wire.
    assert!(bought.capabilities.voice && bought.capabilities.sms && bought.capabilities.mms);
    assert_eq!(bought.number_type.as_deref(), Some("local"));

    let post = e.fake.requests_to("POST", "/IncomingPhoneNumbers.json").pop().unwrap();
    assert_eq!(post.param("PhoneNumber"), Some("+14155551000"));
    assert_eq!(post.param("FriendlyName"), Some("Agent line"));
    assert_eq!(post.param("VoiceUrl"), Some("https://agent.example.com/voice"));
    assert_eq!(post.param("StatusCallback"), Some("https://agent.example.com/status"));

    let offered = e
        .client
        .search_available(&NumberSearch {
            area_code: Some("415".to_owned()),
            limit: Some(1),
            ..NumberSearch::default()
        })
        .await
        .unwrap();
    assert_eq!(offered[0].phone_number, "+14155551001");

    let again = e
        .client
        .buy_number(&BuyNumber {
            phone_number: "+14155551000".to_owned(),
            ..BuyNumber::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(again, TwilioError::InvalidNumber { code: Some(21422), .. }),
        "{again:?}"
    );
    assert_eq!(again.code().as_str(), "INVALID_NUMBER");

    let invalid = e
        .client
        .buy_number(&BuyNumber {
            phone_number: "12345".to_owned(),
            ..BuyNumber::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(invalid, TwilioError::InvalidNumber { code: Some(21421), .. }),
        "{invalid:?}"
    );
    assert_eq!(e.fake.numbers().len(), 1);
}

#[tokio::test]
async fn list_incoming_numbers_follows_pagination() {
    let e = env().await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let number = format!("+1415555200{i}");
        e.fake.add_owned_number(&e.sid, &number, None);
        expected.push(number);
    }
    // Another account's number is never listed.
    let other = FakeTwilio::sid("AC");
    e.fake.add_account(&other, "x", "active");
    e.fake.add_owned_number(&other, "+14155552999", None);

    let listed = e.client.list_incoming_numbers(3).await.unwrap();
    let got: Vec<String> = listed.into_iter().map(|n| n.phone_number).collect();
    assert_eq!(got, expected);
    let gets = e.fake.requests_to("GET", "/IncomingPhoneNumbers.json");
    assert_eq!(gets.len(), 3, "7 items at 3 a page");
    assert_eq!(gets[1].param("Page"), Some("1"));
    assert_eq!(gets[2].param("Page"), Some("2"));
    assert!(gets.iter().all(|r| r.auth_ok));
}

#[tokio::test]
async fn find_incoming_number_is_exact() {
    let e = env().await;
    let sid = e
        .fake
        .add_owned_number(&e.sid, "+14155553000", Some("https://x/voice".into()));
    e.fake.add_owned_number(&e.sid, "+141555530001", None);

    let found = e.client.find_incoming_number("+14155553000").await.unwrap().unwrap();
    assert_eq!(found.sid, sid);
    assert_eq!(found.voice_url.as_deref(), Some("https://x/voice"));
    let req = e.fake.requests().pop().unwrap();
    assert_eq!(req.param("PhoneNumber"), Some("+14155553000"));

    // The fake, like Twilio, matches partially; the client keeps only exact matches.
    assert!(e.client.find_incoming_number("+1415555300").await.unwrap().is_none());
    assert!(e.client.find_incoming_number("+19995550000").await.unwrap().is_none());
}

#[tokio::test]
async fn update_and_release_number() {
    let e = env().await;
    let sid = e.fake.add_owned_number(&e.sid, "+14155554000", None);
    let updated = e
        .client
        .update_number(
            &sid,
            &UpdateNumber {
                voice_url: Some("https://agent.example.com/v2".to_owned()),
                sms_url: Some("https://agent.example.com/s2".to_owned()),
                friendly_name: Some("Renamed".to_owned()),
                ..UpdateNumber::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.voice_url.as_deref(), Some("https://agent.example.com/v2"));
    assert_eq!(updated.friendly_name.as_deref(), Some("Renamed"));
    let post = e.fake.requests().pop().unwrap();
    assert_eq!(post.method, "POST");
    assert!(post.path.ends_with(&format!("/IncomingPhoneNumbers/{sid}.json")));
    assert_eq!(post.param("SmsUrl"), Some("https://agent.example.com/s2"));
    assert_eq!(post.param("VoiceMethod"), None, "unset fields are not sent");

    e.client.release_number(&sid).await.unwrap();
    assert!(e.fake.numbers().is_empty());
    // Already released: 404 counts as done.
    e.client.release_number(&sid).await.unwrap();
    let deletes = e.fake.requests_to("DELETE", &format!("{sid}.json"));
    assert_eq!(deletes.len(), 2);
}

// -- calls ------------------------------------------------------------------------------------

#[tokio::test]
async fn create_call_sends_every_parameter() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let call = e
        .client
        .create_call(&CreateCall {
            status_callback: Some("https://agent.example.com/status".to_owned()),
            status_callback_events: vec![
                "initiated".to_owned(),
                "ringing".to_owned(),
                "answered".to_owned(),
                "completed".to_owned(),
            ],
            timeout: Some(30),
            time_limit: Some(600),
            machine_detection: Some("DetectMessageEnd".to_owned()),
            async_amd: Some(true),
            extra: vec![("CallReason".to_owned(), "Appointment reminder".to_owned())],
            ..call_req("+14155550100", OWN)
        })
        .await
        .unwrap();
    assert!(call.sid.starts_with("CA"));
    assert_eq!(call.status, "queued");
    assert_eq!(call.to, "+14155550100");
    assert_eq!(call.from, OWN);
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    assert!(call.start_time.is_none());

    let req = e.fake.requests_to("POST", "/Calls.json").pop().unwrap();
    assert_eq!(req.param("To"), Some("+14155550100"));
    assert_eq!(req.param("Url"), Some("https://agent.example.com/twiml"));
    assert_eq!(
        req.params("StatusCallbackEvent"),
        ["initiated", "ringing", "answered", "completed"]
    );
    assert_eq!(req.param("Timeout"), Some("30"));
    assert_eq!(req.param("TimeLimit"), Some("600"));
    assert_eq!(req.param("MachineDetection"), Some("DetectMessageEnd"));
    assert_eq!(req.param("AsyncAmd"), Some("true"));
    assert_eq!(req.param("CallReason"), Some("Appointment reminder"));
    assert_eq!(e.fake.calls().len(), 1);
    assert_eq!(e.fake.calls()[0].status_callback_events.len(), 4);
}

#[tokio::test]
async fn create_call_to_invalid_number() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let err = e.client.create_call(&call_req("12", OWN)).await.unwrap_err();
    assert!(
        matches!(err, TwilioError::InvalidNumber { code: Some(21211), .. }),
        "{err:?}"
    );
    assert!(e.fake.calls().is_empty());

    // An unknown `From` is a plain API error.
    let err = e
        .client
        .create_call(&call_req("+14155550100", "+19995550000"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TwilioError::Api {
                status: 400,
                code: Some(21210),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "TELEPHONY_ERROR");
}

#[tokio::test]
async fn update_and_fetch_call() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let call = e.client.create_call(&call_req("+14155550100", OWN)).await.unwrap();
    e.fake.set_call_status(&call.sid, "in-progress");
    let live = e.client.fetch_call(&call.sid).await.unwrap();
    assert_eq!(live.status, "in-progress");
    assert!(live.start_time.is_some());

    let redirected = e
        .client
        .update_call(&call.sid, None, Some("<Response><Hangup/></Response>"))
        .await
        .unwrap();
    assert_eq!(redirected.status, "in-progress");
    assert_eq!(
        e.fake.calls()[0].twiml.as_deref(),
        Some("<Response><Hangup/></Response>")
    );

    let ended = e.client.update_call(&call.sid, Some("completed"), None).await.unwrap();
    assert_eq!(ended.status, "completed");
    let req = e.fake.requests().pop().unwrap();
    assert_eq!(req.param("Status"), Some("completed"));
    assert_eq!(e.client.fetch_call(&call.sid).await.unwrap().status, "completed");

    let err = e.client.fetch_call(&FakeTwilio::sid("CA")).await.unwrap_err();
    assert!(matches!(err, TwilioError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn list_calls_to_filters_and_pages() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let target = "+14155550111";
    let mut sids = Vec::new();
    for _ in 0..3 {
        sids.push(e.client.create_call(&call_req(target, OWN)).await.unwrap().sid);
    }
    e.client.create_call(&call_req("+14155550222", OWN)).await.unwrap();

    let calls = e.client.list_calls_to(target, OWN, None).await.unwrap();
    let mut got: Vec<String> = calls.iter().map(|c| c.sid.clone()).collect();
    got.sort();
    sids.sort();
    assert_eq!(got, sids);
    let req = e.fake.requests_to("GET", "/Calls.json").pop().unwrap();
    assert_eq!(req.param("To"), Some(target));
    assert_eq!(req.param("From"), Some(OWN));

    let since = e.client.list_calls_to(target, OWN, Some("2000-01-01")).await.unwrap();
    assert_eq!(since.len(), 3);
    assert_eq!(e.fake.requests().pop().unwrap().param("StartTime>"), Some("2000-01-01"));
    let future = e.client.list_calls_to(target, OWN, Some("2999-01-01")).await.unwrap();
    assert!(future.is_empty());
}

#[tokio::test]
async fn list_calls_follows_next_page_uri() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let target = "+14155550333";
    for _ in 0..55 {
        e.client.create_call(&call_req(target, OWN)).await.unwrap();
    }
    let calls = e.client.list_calls_to(target, OWN, None).await.unwrap();
    assert_eq!(calls.len(), 55);
    assert_eq!(e.fake.requests_to("GET", "/Calls.json").len(), 2);
}

// -- messages ---------------------------------------------------------------------------------

#[tokio::test]
async fn send_message_and_opt_out() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let msg = e
        .client
        .send_message(&SendMessage {
            to: "+14155550100".to_owned(),
            from: Some(OWN.to_owned()),
            body: Some("Your appointment is at 3pm".to_owned()),
            media_urls: vec![
                "https://cdn.example.com/a.png".to_owned(),
                "https://cdn.example.com/b.png".to_owned(),
            ],
            status_callback: Some("https://agent.example.com/sms-status".to_owned()),
            ..SendMessage::default()
        })
        .await
        .unwrap();
    assert!(msg.sid.starts_with("MM"));
    assert_eq!(msg.status, "queued");
    assert_eq!(msg.num_media.as_deref(), Some("2"));
    let req = e.fake.requests_to("POST", "/Messages.json").pop().unwrap();
    assert_eq!(
        req.params("MediaUrl"),
        ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]
    );
    assert_eq!(req.param("Body"), Some("Your appointment is at 3pm"));
    assert_eq!(
        req.param("StatusCallback"),
        Some("https://agent.example.com/sms-status")
    );

    let via_service = e
        .client
        .send_message(&SendMessage {
            to: "+14155550100".to_owned(),
            messaging_service_sid: Some("MG0123456789abcdef0123456789abcdef".to_owned()),
            body: Some("hi".to_owned()),
            ..SendMessage::default()
        })
        .await
        .unwrap();
    assert_eq!(via_service.status, "accepted");
    assert!(via_service.from.is_none());

    e.fake.opt_out(OWN, "+14155550100");
    let err = e
        .client
        .send_message(&SendMessage {
            to: "+14155550100".to_owned(),
            from: Some(OWN.to_owned()),
            body: Some("again".to_owned()),
            ..SendMessage::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, TwilioError::OptedOut { code: Some(21610), .. }),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "TELEPHONY_ERROR");
    assert_eq!(e.fake.messages().len(), 2);

    e.fake.opt_in(OWN, "+14155550100");
    let err = e
        .client
        .send_message(&SendMessage {
            to: "not-a-number".to_owned(),
            from: Some(OWN.to_owned()),
            body: Some("x".to_owned()),
            ..SendMessage::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TwilioError::InvalidNumber { .. }), "{err:?}");
}

// -- retries, timeouts, garbage -----------------------------------------------------------------

#[tokio::test]
async fn get_is_retried_after_a_500() {
    let e = env().await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    let call = e.client.create_call(&call_req("+14155550100", OWN)).await.unwrap();
    e.fake.script(Fault::status("/Calls/", 500, 20500).on("GET"));
    let fetched = e.client.fetch_call(&call.sid).await.unwrap();
    assert_eq!(fetched.sid, call.sid);
    assert_eq!(e.fake.requests_to("GET", &format!("{}.json", call.sid)).len(), 2);
}

#[tokio::test]
async fn get_gives_up_after_max_retries() {
    let e = env().await;
    e.fake
        .script(Fault::status("/IncomingPhoneNumbers.json", 503, 20503).times(10));
    let err = e.client.list_incoming_numbers(50).await.unwrap_err();
    assert!(matches!(err, TwilioError::Unavailable(_)), "{err:?}");
    assert_eq!(err.code().as_str(), "UPSTREAM_UNAVAILABLE");
    assert!(err.is_transient());
    // One attempt plus max_retries (2).
    assert_eq!(e.fake.requests().len(), 3);
}

#[tokio::test]
async fn delete_is_retried_after_a_500() {
    let e = env().await;
    let sid = e.fake.add_owned_number(&e.sid, OWN, None);
    e.fake
        .script(Fault::status("/IncomingPhoneNumbers/", 502, 20500).on("DELETE"));
    e.client.release_number(&sid).await.unwrap();
    assert_eq!(e.fake.requests_to("DELETE", &format!("{sid}.json")).len(), 2);
    assert!(e.fake.numbers().is_empty());
}

#[tokio::test]
async fn buy_is_not_retried_after_a_500() {
    let e = env().await;
    e.fake
        .script(Fault::status("/IncomingPhoneNumbers.json", 500, 20500).on("POST"));
    let err = e
        .client
        .buy_number(&BuyNumber {
            phone_number: "+14155551000".to_owned(),
            ..BuyNumber::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TwilioError::Unavailable(_)), "{err:?}");
    assert_eq!(e.fake.requests_to("POST", "/IncomingPhoneNumbers.json").len(), 1);
    assert!(e.fake.numbers().is_empty());
}

#[tokio::test]
async fn rate_limit_honours_retry_after_on_get_only() {
    let e = env().await;
    e.fake
        .script(Fault::rate_limited("/IncomingPhoneNumbers.json", 1).on("GET"));
    let started = Instant::now();
    e.client.list_incoming_numbers(50).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(950), "waited Retry-After");
    assert_eq!(e.fake.requests().len(), 2);

    e.fake.add_owned_number(&e.sid, OWN, None);
    e.fake.script(Fault::rate_limited("/Messages.json", 7));
    let err = e
        .client
        .send_message(&SendMessage {
            to: "+14155550100".to_owned(),
            from: Some(OWN.to_owned()),
            body: Some("hi".to_owned()),
            ..SendMessage::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, TwilioError::RateLimited { retry_after: Some(7) }),
        "{err:?}"
    );
    assert_eq!(err.code().as_str(), "RATE_LIMITED");
    assert_eq!(e.fake.requests_to("POST", "/Messages.json").len(), 1);

    // A Retry-After above the cap is handed back instead of waited out, even on a GET.
    e.fake.script(Fault::rate_limited("/Calls.json", 60));
    let started = Instant::now();
    let err = e.client.list_calls_to("+14155550100", OWN, None).await.unwrap_err();
    assert!(
        matches!(err, TwilioError::RateLimited { retry_after: Some(60) }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn timeout_is_unavailable_and_the_dial_can_be_reconciled() {
    let e = env_with(Duration::from_millis(300), 2).await;
    e.fake.add_owned_number(&e.sid, OWN, None);
    e.fake
        .script(Fault::delay("/Calls.json", Duration::from_secs(3)).on("POST"));
    let started = Instant::now();
    let err = e.client.create_call(&call_req("+14155550100", OWN)).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    match &err {
        TwilioError::Unavailable(msg) => assert!(msg.contains("timed out"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The POST was not repeated...
    assert_eq!(e.fake.requests_to("POST", "/Calls.json").len(), 1);
    // ...and the fake did create the call, so the caller reconciles instead of redialling.
    let found = e.client.list_calls_to("+14155550100", OWN, None).await.unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn get_timeouts_are_retried_then_unavailable() {
    let e = env_with(Duration::from_millis(200), 1).await;
    e.fake.script(Fault::delay(".json", Duration::from_secs(2)).times(2));
    let err = e.client.fetch_account().await.unwrap_err();
    assert!(matches!(err, TwilioError::Unavailable(_)), "{err:?}");
    assert_eq!(e.fake.requests().len(), 2);
}

#[tokio::test]
async fn connect_errors_are_unavailable() {
    // Bind then drop a listener so that the port is (very likely) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_for(
        &format!("http://127.0.0.1:{port}"),
        "AC0123456789abcdef0123456789abcdef",
        TOKEN,
        Duration::from_secs(2),
        1,
    );
    let started = Instant::now();
    let err = client.create_call(&call_req("+14155550100", OWN)).await.unwrap_err();
    assert!(matches!(err, TwilioError::Unavailable(_)), "{err:?}");
    // Refused connections fail at once, so the time spent is the one backoff before the
    // single retry: a POST is retried when no byte can have reached the server.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn garbage_body_is_decode_error() {
    let e = env().await;
    e.fake.script(Fault::garbage(".json"));
    let err = e.client.fetch_account().await.unwrap_err();
    assert!(matches!(err, TwilioError::Decode(_)), "{err:?}");
    assert_eq!(err.code().as_str(), "TELEPHONY_ERROR");
    // Not retried: a 200 with a bad body is not transient.
    assert_eq!(e.fake.requests().len(), 1);
}

#[tokio::test]
async fn token_is_never_in_errors() {
    let e = env_with(Duration::from_millis(200), 0).await;
    e.fake.script(Fault::delay(".json", Duration::from_secs(2)));
    let err = e.client.fetch_account().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}
