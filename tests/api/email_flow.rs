//! The email domain through the API on the sandbox provider: domains and their records,
//! verification (with its deadline), mailboxes, sending in threads, inbound replies found by
//! token, by `In-Reply-To` and by subject, the agent's answer and its loop guard, bounce
//! suppression, other organisations' ids and the MCP tools.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use thruai::http::email::wire::{DomainOut, EmailOut, ThreadOut, VerifyOut};

use crate::{
    helpers::{Reply, TestApp, spawn_app, spawn_with, unique},
    mcp::rpc,
};

fn domain_name() -> String {
    format!("{}.example.com", unique("mail").to_lowercase())
}

/// Adds a domain, publishes its records in the sandbox and verifies it.
pub async fn verified_domain(app: &TestApp) -> DomainOut {
    let name = domain_name();
    let added = app.post("/email-domains", &json!({ "domain": name })).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let id = added.data()["id"].as_str().unwrap().to_string();
    publish(app, &name).await;
    let verified = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let out: VerifyOut = serde_json::from_value(verified.data().clone()).unwrap();
    assert!(out.verified, "{out:?}");
    out.domain
}

async fn publish(app: &TestApp, name: &str) -> Reply {
    app.send(
        app.client
            .post(app.url(&format!("/_debug/sandbox/email-domains/{name}/publish")))
            .json(&json!({})),
    )
    .await
}

async fn inbound(app: &TestApp, body: Value) -> Reply {
    app.send(app.client.post(app.url("/_debug/sandbox/email/inbound")).json(&body))
        .await
}

async fn agent_with_mailbox(app: &TestApp, domain: &DomainOut, auto_reply: bool) -> (String, String) {
    let agent = app
        .post(
            "/agents",
            &json!({ "name": "Sam", "systemPrompt": "You are Sam, a helpful scheduler." }),
        )
        .await;
    let id = agent.data()["id"].as_str().unwrap().to_string();
    let address = format!("sam@{}", domain.name);
    let set = app
        .send(
            app.req(Method::PUT, &format!("/agents/{id}/email"))
                .json(&json!({ "address": address, "displayName": "Sam at Acme", "autoReply": auto_reply, "signature": "Sam, Acme scheduling" })),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    (id, address)
}

async fn outbox(app: &TestApp, to: &str) -> Vec<Value> {
    let r = app
        .send(app.client.get(app.url(&format!("/_debug/sandbox/outbox?to={to}"))))
        .await;
    r.data()["messages"].as_array().cloned().unwrap_or_default()
}

async fn thread_messages(app: &TestApp, thread: &str) -> Vec<EmailOut> {
    let r = app.get(&format!("/email-threads/{thread}/messages")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    serde_json::from_value(r.data()["messages"].clone()).unwrap()
}

/// Waits for the agent's answer to an inbound message.
async fn answered(app: &TestApp, email_id: &str) -> EmailOut {
    for _ in 0..100 {
        let r = app.get(&format!("/emails/{email_id}")).await;
        let e: EmailOut = serde_json::from_value(r.data().clone()).unwrap();
        if e.reply_status.as_deref() != Some("pending") {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent never answered {email_id}");
}

#[actix_web::test]
async fn a_domain_lists_its_records_and_verifies_once_they_are_published() {
    let app = spawn_app().await;
    let name = domain_name();

    let added = app
        .post(
            "/email-domains",
            &json!({ "domain": name.to_uppercase(), "region": "eu-west-1" }),
        )
        .await;
    let id = added.data()["id"].as_str().unwrap().to_string();
    let early = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    let published = publish(&app, &name).await;
    let verified = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    let listed = app.get("/email-domains").await;

    assert_eq!(added.status, 201, "{:?}", added.body);
    let d: DomainOut = serde_json::from_value(added.data().clone()).unwrap();
    assert_eq!(d.name, name, "stored lower case");
    assert_eq!(d.status, "not_started");
    let kinds: Vec<(&str, &str)> = d.records.iter().map(|r| (r.record.as_str(), r.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("DKIM", "TXT"),
            ("SPF", "MX"),
            ("SPF", "TXT"),
            ("Receiving", "MX"),
            ("DMARC", "TXT")
        ]
    );
    assert!(d.records[1].value.contains("eu-west-1"));
    assert_eq!(d.records[1].priority, Some(10));
    assert!(d.records.iter().all(|r| r.ttl == "Auto"));
    assert!(!d.records[4].required);
    let early: VerifyOut = serde_json::from_value(early.data().clone()).unwrap();
    assert!(!early.verified);
    assert_eq!(early.domain.status, "pending");
    assert_eq!(early.missing.len(), 4, "every required record is still missing");
    assert_eq!(published.status, 200, "{:?}", published.body);
    let verified: VerifyOut = serde_json::from_value(verified.data().clone()).unwrap();
    assert!(verified.verified && verified.missing.is_empty(), "{verified:?}");
    assert!(verified.domain.verified_at.is_some());
    assert_eq!(verified.domain.records[4].status, "optional");
    assert_eq!(listed.data()["emailDomains"][0]["status"], "verified");
    assert_eq!(listed.data()["pagination"]["total"], 1);
}

#[actix_web::test]
async fn bad_and_taken_domain_names_are_refused() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let name = domain_name();
    let idn = format!("bücher-{}.de", unique("x").to_lowercase());

    let cases = [
        json!({ "domain": "192.168.1.10" }),
        json!({ "domain": "[::1]" }),
        json!({ "domain": "localhost" }),
        json!({ "domain": "-bad-.com" }),
        json!({ "domain": "a..b.com" }),
        json!({ "domain": "exa mple.com" }),
        json!({ "domain": name, "region": "mars-1" }),
        json!({ "domain": 42 }),
        json!({ "domain": name, "extra": true }),
    ];
    let mut refused = Vec::new();
    for body in &cases {
        refused.push(app.post("/email-domains", body).await);
    }
    let first = app.post("/email-domains", &json!({ "domain": name })).await;
    let again = app
        .post("/email-domains", &json!({ "domain": format!("{name}.") }))
        .await;
    let theirs = other.post("/email-domains", &json!({ "domain": name })).await;
    let international = app.post("/email-domains", &json!({ "name": idn })).await;

    for (r, body) in refused.iter().zip(&cases) {
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "VALIDATION_ERROR"),
            "{body} → {:?}",
            r.body
        );
    }
    assert_eq!(first.status, 201);
    assert_eq!((again.status.as_u16(), again.code()), (409, "RESOURCE_CONFLICT"));
    assert_eq!((theirs.status.as_u16(), theirs.code()), (409, "RESOURCE_CONFLICT"));
    assert!(
        theirs.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another organization")
    );
    assert_eq!(international.status, 201, "{:?}", international.body);
    assert!(international.data()["name"].as_str().unwrap().starts_with("xn--"));
}

#[actix_web::test]
async fn a_verification_that_waits_past_its_deadline_fails_with_a_reason() {
    let app = spawn_with(|s| s.email.verification_timeout_secs = 1).await;
    let added = app.post("/email-domains", &json!({ "domain": domain_name() })).await;
    let id = added.data()["id"].as_str().unwrap().to_string();

    let pending = app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = app.get(&format!("/email-domains/{id}")).await;

    assert_eq!(pending.data()["domain"]["status"], "pending");
    assert_eq!(later.data()["status"], "failed");
    assert!(later.data()["failureReason"].as_str().unwrap().contains("verify again"));
    assert_eq!(later.data()["records"][0]["status"], "failed");
}

#[actix_web::test]
async fn sending_needs_a_verified_domain_and_usable_recipients() {
    let app = spawn_app().await;
    let name = domain_name();
    let added = app.post("/email-domains", &json!({ "domain": name })).await;
    let id = added.data()["id"].as_str().unwrap().to_string();
    let from = format!("Support <support@{name}>");

    let unverified = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "ann@example.org", "subject": "Hi", "text": "Hello" }),
        )
        .await;
    let foreign = app
        .post(
            "/emails/send",
            &json!({ "from": "me@elsewhere.example.net", "to": "ann@example.org", "subject": "Hi", "text": "Hello" }),
        )
        .await;
    let nobody = app
        .post(
            "/emails/send",
            &json!({ "to": "ann@example.org", "subject": "Hi", "text": "Hello" }),
        )
        .await;
    publish(&app, &name).await;
    app.post(&format!("/email-domains/{id}/verify"), &json!({})).await;
    let bad_to = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": ["ann@example.org", "not an address"], "subject": "Hi", "text": "x" }),
        )
        .await;
    let no_body = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "ann@example.org", "subject": "Hi" }),
        )
        .await;
    let no_subject = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "ann@example.org", "text": "x" }),
        )
        .await;
    let too_many: Vec<String> = (0..51).map(|i| format!("p{i}@example.org")).collect();
    let crowd = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": too_many, "subject": "Hi", "text": "x" }),
        )
        .await;
    let sent = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "ann@example.org", "cc": ["bo@example.org"], "subject": "Hi", "text": "Hello", "tags": [{ "name": "kind", "value": "welcome" }] }),
        )
        .await;

    assert_eq!(
        (unverified.status.as_u16(), unverified.code()),
        (400, "DOMAIN_NOT_VERIFIED")
    );
    assert_eq!(unverified.body["error"]["details"]["domainId"], id.as_str());
    assert_eq!(foreign.code(), "VALIDATION_ERROR");
    assert_eq!(nobody.body["error"]["details"][0]["field"], "from");
    assert_eq!(bad_to.body["error"]["details"][0]["field"], "to[1]");
    assert_eq!(no_body.code(), "VALIDATION_ERROR");
    assert_eq!(no_subject.body["error"]["details"][0]["field"], "subject");
    assert_eq!(crowd.code(), "VALIDATION_ERROR");
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    let e: EmailOut = serde_json::from_value(sent.data().clone()).unwrap();
    assert_eq!(e.status, "delivered", "the sandbox reports delivery at once");
    assert_eq!(e.from, format!("support@{name}"));
    assert_eq!(e.tags[0].value, "welcome");
    let ann = outbox(&app, "ann@example.org").await;
    let bo = outbox(&app, "bo@example.org").await;
    assert_eq!(ann[0]["subject"], "Hi");
    assert_eq!(ann[0]["from"], format!("Support <support@{name}>"));
    assert_eq!(bo.len(), 1, "cc receives it too");
    let listed = app.get("/emails?status=delivered").await;
    assert_eq!(listed.data()["emails"].as_array().unwrap().len(), 1);
    let failed = app.get("/emails?status=bogus").await;
    assert_eq!(failed.code(), "VALIDATION_ERROR");
}

#[actix_web::test]
async fn an_agent_sends_a_customer_replies_in_the_thread_and_the_agent_answers() {
    let app = spawn_app().await;
    let domain = verified_domain(&app).await;
    let (agent_id, address) = agent_with_mailbox(&app, &domain, true).await;
    let customer = format!("{}@example.org", unique("c"));

    let sent = app
        .post(
            "/emails/send",
            &json!({ "agentId": agent_id, "to": customer, "subject": "Your appointment", "text": "Tuesday at 3pm works." }),
        )
        .await;
    let sent: EmailOut = serde_json::from_value(sent.data().clone()).unwrap();
    let delivered = outbox(&app, &customer).await;
    let reply_to = sent.reply_to.clone().unwrap();
    let reply = inbound(
        &app,
        json!({ "from": format!("Customer <{customer}>"), "to": reply_to, "subject": "Re: Your appointment", "text": "Can we make it 4pm?" }),
    )
    .await;
    let reply_id = reply.data()["email"]["id"].as_str().unwrap().to_string();
    let outcome = answered(&app, &reply_id).await;
    let messages = thread_messages(&app, &sent.thread_id).await;
    let thread = app.get(&format!("/email-threads/{}", sent.thread_id)).await;
    let threads = app.get("/email-threads?status=waiting").await;
    let agent = app.get(&format!("/agents/{agent_id}")).await;

    assert!(
        sent.text.as_deref().unwrap().ends_with("-- \nSam, Acme scheduling"),
        "signature appended"
    );
    assert!(
        reply_to.starts_with("sam+t_") && reply_to.ends_with(&domain.name),
        "{reply_to}"
    );
    assert_eq!(delivered[0]["from"], format!("Sam at Acme <{address}>"));
    assert_eq!(reply.data()["accepted"], true);
    assert_eq!(
        reply.data()["email"]["threadId"],
        sent.thread_id.as_str(),
        "found by its token"
    );
    assert_eq!(outcome.reply_status.as_deref(), Some("sent"), "{outcome:?}");
    assert_eq!(messages.len(), 3);
    let answer = &messages[2];
    assert!(answer.auto_reply);
    assert_eq!(answer.direction, "outbound");
    assert_eq!(answer.subject, "Re: Your appointment");
    assert_eq!(answer.to, vec![customer.clone()]);
    assert_eq!(answer.in_reply_to.as_deref(), Some(messages[1].message_id.as_str()));
    assert!(!answer.text.as_deref().unwrap_or_default().is_empty());
    let to_customer = outbox(&app, &customer).await;
    assert_eq!(to_customer.len(), 2, "the answer reached the customer");
    assert_eq!(to_customer[0]["headers"]["Auto-Submitted"], "auto-replied");
    let thread: ThreadOut = serde_json::from_value(thread.data().clone()).unwrap();
    assert_eq!((thread.message_count, thread.status.as_str()), (3, "waiting"));
    assert_eq!(thread.counterpart, customer);
    assert_eq!(threads.data()["emailThreads"].as_array().unwrap().len(), 1);
    assert_eq!(agent.data()["emailConfig"]["address"], address.as_str());
}

#[actix_web::test]
async fn replies_thread_by_in_reply_to_and_by_subject_and_a_new_subject_starts_a_thread() {
    let app = spawn_app().await;
    let domain = verified_domain(&app).await;
    let (agent_id, address) = agent_with_mailbox(&app, &domain, false).await;
    let customer = format!("{}@example.org", unique("c"));
    let sent = app
        .post(
            "/emails/send",
            &json!({ "agentId": agent_id, "to": customer, "subject": "Invoice 42", "text": "Attached." }),
        )
        .await;
    let sent: EmailOut = serde_json::from_value(sent.data().clone()).unwrap();

    let by_header = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "about that", "text": "Thanks", "inReplyTo": sent.message_id }),
    )
    .await;
    let by_subject = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "RE: invoice  42", "text": "One more thing" }),
    )
    .await;
    let fresh = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "Something else", "text": "New topic" }),
    )
    .await;
    let stranger = inbound(
        &app,
        json!({ "from": "x@example.net", "to": address, "subject": "Invoice 42", "text": "?" }),
    )
    .await;
    let nowhere = inbound(
        &app,
        json!({ "from": customer, "to": "someone@unknown-domain.example", "subject": "x", "text": "y" }),
    )
    .await;
    let twice = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "dup", "text": "once", "messageId": "<dup-1@example.org>" }),
    )
    .await;
    let again = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "dup", "text": "once", "messageId": "dup-1@example.org" }),
    )
    .await;

    let thread_of = |r: &Reply| r.data()["email"]["threadId"].as_str().unwrap().to_string();
    assert_eq!(thread_of(&by_header), sent.thread_id);
    assert_eq!(thread_of(&by_subject), sent.thread_id);
    assert_ne!(thread_of(&fresh), sent.thread_id);
    assert_ne!(
        thread_of(&stranger),
        sent.thread_id,
        "same subject, another counterpart"
    );
    assert_eq!(nowhere.data()["accepted"], false);
    assert_eq!(
        twice.data()["email"]["id"],
        again.data()["email"]["id"],
        "the same message is kept once"
    );
    assert_eq!(
        by_header.data()["email"]["replyStatus"],
        Value::Null,
        "this mailbox only records"
    );
    assert_eq!(thread_messages(&app, &sent.thread_id).await.len(), 3);
}

#[actix_web::test]
async fn automatic_mail_is_never_answered_and_a_thread_gets_few_automatic_replies() {
    let app = spawn_with(|s| s.email.auto_reply_per_thread_per_hour = 1).await;
    let domain = verified_domain(&app).await;
    let (_, address) = agent_with_mailbox(&app, &domain, true).await;
    let customer = format!("{}@example.org", unique("c"));

    let auto = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "Out of office", "text": "I am away", "headers": { "Auto-Submitted": "auto-replied" } }),
    )
    .await;
    let bulk = inbound(
        &app,
        json!({ "from": "news@example.org", "to": address, "subject": "Newsletter", "text": "Hi", "headers": { "Precedence": "bulk" } }),
    )
    .await;
    let first = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "Question", "text": "Are you open?" }),
    )
    .await;
    let first = answered(&app, first.data()["email"]["id"].as_str().unwrap()).await;
    let second = inbound(
        &app,
        json!({ "from": customer, "to": address, "subject": "Re: Question", "text": "And Sunday?" }),
    )
    .await;
    let second = answered(&app, second.data()["email"]["id"].as_str().unwrap()).await;

    assert_eq!(auto.data()["email"]["replyStatus"], "skipped");
    assert_eq!(bulk.data()["email"]["replyStatus"], "skipped");
    assert_eq!(first.reply_status.as_deref(), Some("sent"));
    assert_eq!(second.thread_id, first.thread_id);
    assert_eq!(second.reply_status.as_deref(), Some("skipped"));
    assert!(
        second.reply_note.as_deref().unwrap().contains("loop guard"),
        "{second:?}"
    );
}

#[actix_web::test]
async fn a_bounce_suppresses_the_address_for_the_next_send() {
    let app = spawn_app().await;
    let domain = verified_domain(&app).await;
    let from = format!("billing@{}", domain.name);

    let bounced = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "bounced@resend.dev", "subject": "Invoice", "text": "x" }),
        )
        .await;
    let refused = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "Bounced@Resend.dev", "subject": "Invoice", "text": "x" }),
        )
        .await;
    let complained = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "complained@resend.dev", "subject": "News", "text": "x" }),
        )
        .await;
    let after = app
        .post(
            "/emails/send",
            &json!({ "from": from, "to": "complained@resend.dev", "subject": "News", "text": "x" }),
        )
        .await;

    assert_eq!(bounced.data()["status"], "bounced");
    assert_eq!(refused.code(), "VALIDATION_ERROR");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("suppressed"),
        "{:?}",
        refused.body
    );
    assert_eq!(complained.data()["status"], "complained");
    assert!(after.body["error"]["message"].as_str().unwrap().contains("spam"));
    assert_eq!(
        outbox(&app, "bounced@resend.dev").await.len(),
        1,
        "nothing sent after the bounce"
    );
}

#[actix_web::test]
async fn mailboxes_need_a_verified_domain_of_the_organisation_and_deleting_the_domain_clears_them() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let domain = verified_domain(&app).await;
    let theirs = verified_domain(&other).await;
    let unverified = app.post("/email-domains", &json!({ "domain": domain_name() })).await;
    let unverified_name = unverified.data()["name"].as_str().unwrap().to_string();
    let agent = app.post("/agents", &json!({ "name": "Mo", "systemPrompt": "x" })).await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let put = |body: Value| {
        let path = format!("/agents/{agent_id}/email");
        let app = &app;
        async move { app.send(app.req(Method::PUT, &path).json(&body)).await }
    };

    let on_theirs = put(json!({ "address": format!("mo@{}", theirs.name) })).await;
    let not_verified = put(json!({ "address": format!("mo@{unverified_name}") })).await;
    let plus = put(json!({ "address": format!("mo+x@{}", domain.name) })).await;
    let by_parts = put(json!({ "localPart": "mo", "domainId": domain.id })).await;
    let second = app.post("/agents", &json!({ "name": "Jo", "systemPrompt": "x" })).await;
    let second_id = second.data()["id"].as_str().unwrap().to_string();
    let taken = app
        .send(
            app.req(Method::PUT, &format!("/agents/{second_id}/email"))
                .json(&json!({ "address": format!("mo@{}", domain.name) })),
        )
        .await;
    let patched = app
        .patch(
            &format!("/agents/{second_id}"),
            &json!({ "emailConfig": { "address": format!("jo@{}", domain.name), "autoReply": true } }),
        )
        .await;
    let cross = other
        .send(
            other
                .req(Method::PUT, &format!("/agents/{agent_id}/email"))
                .json(&json!({ "address": format!("x@{}", theirs.name) })),
        )
        .await;
    let cross_delete = other.delete(&format!("/email-domains/{}", domain.id)).await;
    let cross_verify = other
        .post(&format!("/email-domains/{}/verify", domain.id), &json!({}))
        .await;
    let deleted = app.delete(&format!("/email-domains/{}", domain.id)).await;
    let after = app.get(&format!("/agents/{agent_id}")).await;
    let after_second = app.get(&format!("/agents/{second_id}")).await;

    assert_eq!(on_theirs.code(), "VALIDATION_ERROR");
    assert_eq!(not_verified.code(), "DOMAIN_NOT_VERIFIED");
    assert_eq!(plus.code(), "VALIDATION_ERROR");
    assert_eq!(by_parts.status, 200, "{:?}", by_parts.body);
    assert_eq!(by_parts.data()["address"], format!("mo@{}", domain.name));
    assert_eq!(taken.code(), "RESOURCE_CONFLICT");
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.data()["emailConfig"]["autoReply"], true);
    assert_eq!(cross.status, 404);
    assert_eq!(cross_delete.status, 404);
    assert_eq!(cross_verify.status, 404);
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    let mut cleared: Vec<String> = serde_json::from_value(deleted.data()["clearedAgents"].clone()).unwrap();
    cleared.sort();
    let mut expected = vec![agent_id.clone(), second_id.clone()];
    expected.sort();
    assert_eq!(cleared, expected);
    assert_eq!(after.data()["emailConfig"], Value::Null);
    assert_eq!(after_second.data()["emailConfig"], Value::Null);
}

#[actix_web::test]
async fn other_organisations_threads_and_emails_are_not_found() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let domain = verified_domain(&app).await;
    let sent = app
        .post(
            "/emails/send",
            &json!({ "from": format!("a@{}", domain.name), "to": "z@example.org", "subject": "S", "text": "T" }),
        )
        .await;
    let thread = sent.data()["threadId"].as_str().unwrap().to_string();
    let email = sent.data()["id"].as_str().unwrap().to_string();

    let replies = [
        other.get(&format!("/email-threads/{thread}")).await,
        other.get(&format!("/email-threads/{thread}/messages")).await,
        other.get(&format!("/emails/{email}")).await,
        other.get(&format!("/email-domains/{}", domain.id)).await,
        other
            .post(
                "/emails/send",
                &json!({ "threadId": thread, "from": "a@b.example.com", "text": "hi" }),
            )
            .await,
    ];
    let listed = other.get("/emails").await;

    for r in &replies {
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
    }
    assert_eq!(listed.data()["emails"].as_array().unwrap().len(), 0);
}

#[actix_web::test]
async fn a_send_with_an_idempotency_key_is_sent_once() {
    let app = spawn_app().await;
    let domain = verified_domain(&app).await;
    let body = json!({ "from": format!("a@{}", domain.name), "to": "once@example.org", "subject": "S", "text": "T" });
    let send = || async {
        app.send(
            app.req(Method::POST, "/emails/send")
                .header("Idempotency-Key", "send-1")
                .json(&body),
        )
        .await
    };

    let first = send().await;
    let replay = send().await;

    assert_eq!(first.status, 201);
    assert_eq!(replay.status, 201);
    assert_eq!(first.data()["id"], replay.data()["id"]);
    assert_eq!(outbox(&app, "once@example.org").await.len(), 1);
}

#[actix_web::test]
async fn the_six_mcp_tools_manage_domains_mailboxes_and_send() {
    let app = spawn_app().await;
    let call = |tool: &'static str, args: Value| {
        let app = &app;
        async move {
            rpc(app, "tools/call", json!({ "name": tool, "arguments": args })).await["result"]["structuredContent"]
                .clone()
        }
    };
    let tools = rpc(&app, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for tool in [
        "list_email_domains",
        "add_email_domain",
        "verify_email_domain",
        "delete_email_domain",
        "configure_agent_email",
        "send_agent_email",
    ] {
        assert!(names.contains(&tool), "{tool} missing");
    }
    let name = domain_name();

    let added = call("add_email_domain", json!({ "domain": name })).await;
    let id = added["id"].as_str().unwrap().to_string();
    publish(&app, &name).await;
    let verified = call("verify_email_domain", json!({ "id": id })).await;
    let listed = call("list_email_domains", json!({})).await;
    let agent = app
        .post("/agents", &json!({ "name": "Mia", "systemPrompt": "x" }))
        .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let configured = call(
        "configure_agent_email",
        json!({ "id": agent_id, "address": format!("mia@{name}") }),
    )
    .await;
    let sent = call(
        "send_agent_email",
        json!({ "agentId": agent_id, "to": "friend@example.org", "subject": "Hello", "text": "From MCP" }),
    )
    .await;
    let deleted = call("delete_email_domain", json!({ "id": id })).await;

    assert_eq!(verified["verified"], true, "{verified}");
    assert_eq!(listed["emailDomains"][0]["id"], id.as_str());
    assert_eq!(configured["address"], format!("mia@{name}"));
    assert_eq!(sent["status"], "delivered", "{sent}");
    assert_eq!(deleted["clearedAgents"], json!([agent_id]));
}

#[actix_web::test]
async fn an_agent_that_does_not_answer_in_time_leaves_a_failed_reply_with_the_reason() {
    // A language model that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let app = spawn_with(move |s| {
        s.email.auto_reply_timeout_ms = 300;
        s.providers.openai.api_key = "sk-test".into();
        s.providers.openai.base_url = format!("http://127.0.0.1:{port}/v1");
    })
    .await;
    let domain = verified_domain(&app).await;
    let agent = app
        .post(
            "/agents",
            &json!({ "name": "Slow", "systemPrompt": "x", "pipelineMode": "traditional", "llmConfig": { "provider": "openai" } }),
        )
        .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let address = format!("slow@{}", domain.name);
    app.send(
        app.req(Method::PUT, &format!("/agents/{agent_id}/email"))
            .json(&json!({ "address": address, "autoReply": true })),
    )
    .await;

    let started = std::time::Instant::now();
    let r = inbound(
        &app,
        json!({ "from": "ann@example.org", "to": address, "subject": "Hello?", "text": "Anyone there?" }),
    )
    .await;
    let outcome = answered(&app, r.data()["email"]["id"].as_str().unwrap()).await;

    assert_eq!(outcome.reply_status.as_deref(), Some("failed"), "{outcome:?}");
    assert!(outcome.reply_note.as_deref().unwrap().contains("300 ms"), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(outbox(&app, "ann@example.org").await.is_empty());
}

#[actix_web::test]
async fn answers_a_restart_left_waiting_are_resumed_once() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let app = spawn_app().await;
    let domain = verified_domain(&app).await;
    let (_, address) = agent_with_mailbox(&app, &domain, true).await;
    let r = inbound(
        &app,
        json!({ "from": "ann@example.org", "to": address, "subject": "Hours", "text": "When do you open?" }),
    )
    .await;
    let id = r.data()["email"]["id"].as_str().unwrap().to_string();
    answered(&app, &id).await;
    // As a crash would leave it: the answer recorded as still to do.
    thruai_entities::email_message::ActiveModel {
        id: Set(id.clone()),
        reply_status: Set(Some("pending".into())),
        ..Default::default()
    }
    .update(&app.state.db)
    .await
    .unwrap();

    app.state.email.resume_replies().await;
    app.state.email.resume_replies().await;
    let after = answered(&app, &id).await;

    assert_eq!(after.reply_status.as_deref(), Some("sent"));
    let answers: Vec<_> = thread_messages(&app, &after.thread_id)
        .await
        .into_iter()
        .filter(|m| m.auto_reply)
        .collect();
    assert_eq!(answers.len(), 1, "answered once: {answers:?}");
    assert_eq!(answers[0].tags[0].value, id, "the answer names what it answers");
}
