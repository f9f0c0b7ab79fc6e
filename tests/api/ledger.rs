//! The usage ledger: a call, an SMS and an email each write their entries once — a replayed
//! checkpoint or request adds nothing — priced from `[billing.prices]`, and a call's cost is
//! read back from them to the millionth.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use thruai_entities::usage_entry;

use crate::{
    a2p::registered_number,
    calls::{agent, call, finished},
    email_flow::verified_domain,
    helpers::{TestApp, spawn_with},
};

async fn entries(app: &TestApp, prefix: &str) -> Vec<usage_entry::Model> {
    usage_entry::Entity::find()
        .filter(usage_entry::Column::Source.starts_with(prefix))
        .all(&app.state.db)
        .await
        .unwrap()
}

/// Prices for the sandbox, so amounts are not all zero.
async fn priced_app() -> TestApp {
    spawn_with(|s| {
        s.security.url_allowlist = vec!["127.0.0.1/32".into()];
        s.calls.silence_timeout_ms = 8000;
        let p = &mut s.billing.prices;
        for (component, price) in [
            ("telephony", 0.02),
            ("stt", 0.01),
            ("llm_input", 0.000001),
            ("llm_output", 0.000002),
            ("tts", 0.0001),
            ("sms", 0.0079),
            ("email", 0.0009),
        ] {
            p.entry(component.into()).or_default().insert("sandbox".into(), price);
        }
    })
    .await
}

#[actix_web::test]
async fn a_call_is_on_the_ledger_once_and_its_cost_is_read_from_it() {
    let app = priced_app().await;
    let agent_id = agent(&app, "Thanks for calling!", json!({})).await;
    let id = call(
        &app,
        &agent_id,
        json!([{ "waitForAgent": true }, { "say": "What are your hours?" }, { "waitForAgent": true }, { "hangup": true }]),
    )
    .await;
    let c = finished(&app, &id).await;
    let written = entries(&app, &format!("call:{id}:")).await;

    // The final checkpoint again (a retried write, a restarted actor): nothing more.
    let row = thruai::store::calls::find(&app.state.db, &written[0].org_id, &id)
        .await
        .unwrap()
        .unwrap();
    let snap = thruai::store::calls::snapshot_of(&row).unwrap();
    thruai::store::calls::checkpoint_many(&app.state.db, &[(snap, Vec::new())], app.state.calls.prices())
        .await
        .unwrap();
    let again = entries(&app, &format!("call:{id}:")).await;

    let components: Vec<&str> = written.iter().map(|e| e.component.as_str()).collect();
    for c in ["telephony", "stt", "llm_input", "llm_output", "tts"] {
        assert!(components.contains(&c), "{c} missing from {components:?}");
    }
    assert!(
        written
            .iter()
            .all(|e| e.provider == "sandbox" && e.agent_id.as_deref() == Some(agent_id.as_str()))
    );
    let telephony = written.iter().find(|e| e.component == "telephony").unwrap();
    assert_eq!(telephony.unit, "minute");
    assert_eq!(telephony.unit_price, 0.02);
    assert_eq!(
        telephony.amount_micros,
        (telephony.quantity * 0.02 * 1_000_000.0).round() as i64
    );
    assert_eq!(again.len(), written.len(), "a replayed checkpoint adds nothing");
    let total: i64 = written.iter().map(|e| e.amount_micros).sum();
    assert!(total > 0);
    assert_eq!(c.cost.total, total as f64 / 1_000_000.0, "{:?}", c.cost);
    let tts: i64 = written
        .iter()
        .filter(|e| e.component == "tts")
        .map(|e| e.amount_micros)
        .sum();
    assert_eq!(c.cost.tts, tts as f64 / 1_000_000.0);
    assert!(c.cost.note.contains("ledger"), "{}", c.cost.note);

    // A call that ended before the ledger existed is priced from its usage, the same way.
    usage_entry::Entity::delete_many()
        .filter(usage_entry::Column::CallId.eq(id.as_str()))
        .exec(&app.state.db)
        .await
        .unwrap();
    let older = finished(&app, &id).await;
    assert_eq!(older.cost.total, c.cost.total);
    assert!(older.cost.note.contains("priced from its usage"), "{}", older.cost.note);
}

#[actix_web::test]
async fn an_sms_and_an_email_are_each_one_entry_even_when_the_request_is_replayed() {
    let app = priced_app().await;
    let (from, _, _) = registered_number(&app).await;
    let domain = verified_domain(&app).await;
    let sms = json!({ "from": from, "to": "+14155550177", "body": "Your code is 1234" });
    let email = json!({ "from": format!("a@{}", domain.name), "to": "x@example.org", "subject": "S", "text": "T" });
    let send = |path: &'static str, body: serde_json::Value, key: &'static str| {
        let app = &app;
        async move {
            app.send(
                app.req(reqwest::Method::POST, path)
                    .header("Idempotency-Key", key)
                    .json(&body),
            )
            .await
        }
    };

    let s1 = send("/sms/messages", sms.clone(), "ledger-sms").await;
    let s2 = send("/sms/messages", sms, "ledger-sms").await;
    let e1 = send("/emails/send", email.clone(), "ledger-email").await;
    let e2 = send("/emails/send", email, "ledger-email").await;

    assert_eq!((s1.status.as_u16(), s2.status.as_u16()), (201, 201), "{:?}", s1.body);
    assert_eq!((e1.status.as_u16(), e2.status.as_u16()), (201, 201), "{:?}", e1.body);
    let sms_entries = entries(&app, "sms:").await;
    let email_entries = entries(&app, "email:").await;
    assert_eq!(sms_entries.len(), 1);
    assert_eq!(
        sms_entries[0].source,
        format!("sms:{}", s1.data()["id"].as_str().unwrap())
    );
    assert_eq!(
        (sms_entries[0].unit.as_str(), sms_entries[0].amount_micros),
        ("segment", 7_900)
    );
    // A received message (and Twilio retrying its webhook) is one entry too.
    let received = crate::sms::inbound(&app, "+14155550177", &from, "Thanks!").await;
    let sid_retry = entries(&app, "sms:").await.len();
    assert_eq!(received.status, 200, "{:?}", received.body);
    assert_eq!(sid_retry, 2, "sent and received");
    assert_eq!(email_entries.len(), 1);
    assert_eq!(
        email_entries[0].source,
        format!("email:{}", e1.data()["id"].as_str().unwrap())
    );
    assert_eq!(email_entries[0].amount_micros, 900);
}
