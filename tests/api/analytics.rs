//! Usage and costs over time, checked against figures computed by hand for calls and ledger
//! entries seeded at chosen instants: across a month's end, a New York DST change and time
//! zones; empty periods as zeros; defaults; bad queries; another organisation's agent.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use thruai::{
    app::analytics::{CostReport, UsageReport},
    store::ledger::{Used, record},
};
use thruai_entities::{
    call,
    values::status::{CallStatus, Direction, TelephonyProvider},
};

use crate::helpers::{TestApp, spawn_app, unique};

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// A new agent, and the organisation it belongs to.
async fn agent_and_org(app: &TestApp) -> (String, String) {
    use sea_orm::EntityTrait;
    let agent = app.post("/agents", &json!({ "name": "A", "systemPrompt": "x" })).await;
    let id = agent.data()["id"].as_str().unwrap().to_string();
    let row = thruai_entities::agent::Entity::find_by_id(id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    (id, row.org_id)
}

async fn seed_call(app: &TestApp, org: &str, agent: &str, direction: Direction, secs: i32, when: DateTime<Utc>) {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    call::Model {
        id: unique("CALL-"),
        org_id: org.into(),
        agent_id: agent.into(),
        direction,
        status: CallStatus::Completed,
        from_number: "+14155550100".into(),
        to_number: "+14155550101".into(),
        phone_number_id: None,
        provider: TelephonyProvider::Sandbox,
        provider_call_sid: None,
        session_id: unique("SES-"),
        stream_token: unique("tok"),
        end_reason: Some("caller_hangup".into()),
        variables: Default::default(),
        metadata: json!({}),
        owner_epoch: 1,
        duration_secs: secs,
        snapshot: json!({}),
        answered_at: Some(when),
        ended_at: Some(when),
        created_at: when,
        updated_at: when,
    }
    .into_active_model()
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn seed_usage(
    app: &TestApp,
    org: &str,
    agent: &str,
    component: &'static str,
    quantity: f64,
    when: DateTime<Utc>,
) {
    let mut prices = thruai::domain::pricing::Prices::default();
    prices
        .table
        .entry(component.into())
        .or_default()
        .insert("twilio".into(), 0.01);
    record(
        &app.state.db,
        org,
        &prices,
        vec![Used {
            source: unique("test:"),
            component,
            provider: "twilio".into(),
            quantity,
            agent_id: Some(agent.into()),
            call_id: None,
            occurred_at: when,
        }],
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn usage_and_costs_are_bucketed_by_local_day_week_and_month() {
    let app = spawn_app().await;
    let (agent, org) = agent_and_org(&app).await;
    // New York, spring forward on 2026-03-08. Local dates in comments.
    seed_call(&app, &org, &agent, Direction::Inbound, 90, at(2026, 3, 8, 4, 30)).await; // 03-07 23:30 EST
    seed_call(&app, &org, &agent, Direction::Outbound, 30, at(2026, 3, 8, 6, 0)).await; // 03-08 01:00 EST
    seed_call(&app, &org, &agent, Direction::Outbound, 60, at(2026, 3, 9, 3, 30)).await; // 03-08 23:30 EDT
    seed_call(&app, &org, &agent, Direction::Inbound, 120, at(2026, 4, 1, 3, 0)).await; // 03-31 23:00 EDT
    seed_usage(&app, &org, &agent, "telephony", 1.5, at(2026, 3, 8, 4, 30)).await; // $0.015
    seed_usage(&app, &org, &agent, "stt", 2.0, at(2026, 3, 9, 3, 30)).await; // $0.02
    seed_usage(&app, &org, &agent, "llm_input", 1000.0, at(2026, 4, 1, 3, 0)).await; // $10

    let ny = app
        .get("/analytics/usage?startDate=2026-03-07&endDate=2026-03-09&granularity=day&timezone=America/New_York")
        .await;
    let utc = app
        .get("/analytics/usage?startDate=2026-03-07&endDate=2026-03-09")
        .await;
    let months = app
        .get("/analytics/usage?startDate=2026-03-01&endDate=2026-04-30&granularity=month&timezone=America/New_York")
        .await;
    let weeks = app
        .get("/analytics/usage?startDate=2026-03-04&endDate=2026-03-10&granularity=week&timezone=America/New_York")
        .await;
    let costs = app
        .get("/analytics/costs?startDate=2026-03-01&endDate=2026-04-30&granularity=month&timezone=America/New_York")
        .await;
    let utc_costs = app
        .get("/analytics/costs?startDate=2026-03-01&endDate=2026-04-30&granularity=month")
        .await;

    let ny: UsageReport = serde_json::from_value(ny.data().clone()).unwrap();
    let calls: Vec<u64> = ny.usage.iter().map(|b| b.calls).collect();
    assert_eq!(calls, [1, 2, 0], "{ny:?}");
    assert_eq!(ny.usage[1].date, "2026-03-08");
    assert_eq!((ny.usage[1].inbound, ny.usage[1].outbound), (0, 2));
    assert_eq!(ny.usage[1].minutes, 1.5);
    assert_eq!(ny.usage[1].transcription_minutes, 2.0);
    assert_eq!((ny.totals.calls, ny.totals.minutes), (3, 3.0));
    assert_eq!(ny.period.timezone, "America/New_York");
    let utc: UsageReport = serde_json::from_value(utc.data().clone()).unwrap();
    let calls: Vec<u64> = utc.usage.iter().map(|b| b.calls).collect();
    assert_eq!(calls, [0, 2, 1], "the same calls, UTC days");
    let months: UsageReport = serde_json::from_value(months.data().clone()).unwrap();
    let calls: Vec<(String, u64)> = months.usage.iter().map(|b| (b.date.clone(), b.calls)).collect();
    assert_eq!(
        calls,
        [("2026-03-01".to_string(), 4), ("2026-04-01".to_string(), 0)],
        "03-31 23:00 EDT is March"
    );
    let weeks: UsageReport = serde_json::from_value(weeks.data().clone()).unwrap();
    let calls: Vec<(String, u64)> = weeks.usage.iter().map(|b| (b.date.clone(), b.calls)).collect();
    assert_eq!(
        calls,
        [("2026-03-02".to_string(), 3), ("2026-03-09".to_string(), 0)],
        "Monday to Sunday"
    );
    let costs: CostReport = serde_json::from_value(costs.data().clone()).unwrap();
    assert_eq!(costs.costs[0].total, 10.035);
    assert_eq!(costs.costs[0].breakdown.llm, 10.0);
    assert_eq!(costs.costs[0].breakdown.telephony, 0.015);
    assert_eq!(costs.costs[0].breakdown.stt, 0.02);
    assert_eq!(costs.costs[1].total, 0.0);
    assert_eq!(costs.totals.total, 10.035);
    assert_eq!(costs.totals.currency, "USD");
    let utc_costs: CostReport = serde_json::from_value(utc_costs.data().clone()).unwrap();
    assert_eq!(
        (utc_costs.costs[0].total, utc_costs.costs[1].total),
        (0.035, 10.0),
        "04-01 03:00 UTC is April"
    );
}

#[actix_web::test]
async fn every_parameter_has_a_default_and_bad_ones_name_their_field() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let theirs = other
        .post("/agents", &json!({ "name": "B", "systemPrompt": "x" }))
        .await;
    let theirs = theirs.data()["id"].as_str().unwrap().to_string();

    let plain = app.get("/analytics/usage").await;
    let costs = app.get("/analytics/costs").await;
    let field = |r: &crate::helpers::Reply| r.body["error"]["details"][0]["field"].clone();
    let bad_date = app.get("/analytics/usage?startDate=03/01/2026").await;
    let backwards = app
        .get("/analytics/usage?startDate=2026-03-10&endDate=2026-03-01")
        .await;
    let bad_tz = app.get("/analytics/costs?timezone=Mars/Olympus").await;
    let bad_g = app.get("/analytics/usage?granularity=hour").await;
    let huge = app
        .get("/analytics/usage?startDate=2000-01-01&endDate=2026-01-01")
        .await;
    let cross = app.get(&format!("/analytics/usage?agentId={theirs}")).await;
    let timestamp = app
        .get("/analytics/usage?startDate=2026-03-01T00:00:00Z&endDate=2026-03-02")
        .await;

    assert_eq!(plain.status, 200, "{:?}", plain.body);
    assert_eq!(
        plain.data()["usage"].as_array().unwrap().len(),
        30,
        "the last 30 days, by day"
    );
    assert!(
        plain.data()["usage"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["calls"] == 0)
    );
    assert_eq!(plain.data()["totals"]["transcriptionMinutes"], 0.0);
    assert_eq!(plain.data()["period"]["granularity"], "day");
    for key in ["llm", "tts", "stt", "telephony"] {
        assert_eq!(costs.data()["totals"]["breakdown"][key], 0.0, "{key}");
    }
    assert_eq!(field(&bad_date), Value::from("startDate"));
    assert_eq!(field(&backwards), Value::from("endDate"));
    assert_eq!(field(&bad_tz), Value::from("timezone"));
    assert_eq!(field(&bad_g), Value::from("granularity"));
    assert_eq!(field(&huge), Value::from("startDate"));
    assert_eq!(cross.status, 404);
    assert_eq!(timestamp.data()["usage"].as_array().unwrap().len(), 2);
}

#[actix_web::test]
async fn an_agents_calls_are_summed_with_latency_turn_taking_tools_and_cost() {
    use crate::calls::{agent, call, finished};
    let app = crate::calls::app().await;
    let other = app.other_org().await;
    let agent_id = agent(&app, "Thanks for calling!", json!({})).await;
    for _ in 0..2 {
        let id = call(
            &app,
            &agent_id,
            json!([{ "waitForAgent": true }, { "say": "What are your hours?" }, { "waitForAgent": true }, { "hangup": true }]),
        )
        .await;
        finished(&app, &id).await;
    }

    // Each call's post-call analysis lands shortly after its end.
    let mut analysed = 0;
    for _ in 0..100 {
        let calls = app.get(&format!("/calls?agentId={agent_id}")).await;
        let ids: Vec<String> = calls.data()["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        analysed = 0;
        for id in &ids {
            if app.get(&format!("/calls/{id}")).await.data()["analysis"]["status"] == "done" {
                analysed += 1;
            }
        }
        if analysed == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = app.get(&format!("/analytics/agents/{agent_id}")).await;
    let cross = other.get(&format!("/analytics/agents/{agent_id}")).await;
    let unknown = app.get("/analytics/agents/AGT-nope").await;
    let report: thruai::app::analytics::AgentReport = serde_json::from_value(r.data().clone()).unwrap();

    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        (report.calls.total, report.calls.outbound, report.calls.inbound),
        (2, 2, 0)
    );
    assert_eq!(report.calls.by_status.get("completed"), Some(&2), "{:?}", report.calls);
    assert!(report.duration.seconds.p50.is_some());
    assert_eq!(
        report.latency.samples, 2,
        "one answered turn per call: {:?}",
        report.latency
    );
    assert!(report.latency.p50.unwrap() < 2_000.0);
    assert_eq!(report.turn_taking.turns_per_call, 1.0);
    // Both spoke (the agent's greeting and answer were heard, the caller's question was
    // speech), and neither all the time.
    let t = &report.turn_taking;
    assert!(t.agent_talk_seconds > 0.0 && t.caller_talk_seconds > 0.0, "{t:?}");
    assert!(t.agent_talk_ratio.is_some_and(|r| r > 0.0 && r < 1.0), "{t:?}");
    assert!(t.silence_ratio.is_some_and(|r| (0.0..1.0).contains(&r)), "{t:?}");
    assert_eq!(report.tools.calls, 0);
    assert_eq!(report.tools.success_rate, None);
    assert_eq!(report.cost.currency, "USD");
    assert_eq!(analysed, 2);
    assert_eq!(
        (report.outcomes.method.as_str(), report.outcomes.analysed_calls),
        ("sandbox", 2)
    );
    assert_eq!(report.outcomes.sentiment.values().sum::<u64>(), 2);
    assert!(report.outcomes.resolution_rate.is_some());
    assert_eq!(report.trends.len(), 30);
    assert_eq!(report.trends.iter().map(|t| t.calls).sum::<u64>(), 2);
    assert_eq!(report.comparison.previous_calls, 0);
    assert_eq!(report.comparison.calls_change, None);
    assert_eq!((cross.status.as_u16(), cross.code()), (404, "NOT_FOUND"));
    assert_eq!(unknown.status, 404);
}

#[actix_web::test]
async fn an_analysis_is_retried_when_the_model_fails_and_then_ends_failed_with_the_reason() {
    use thruai::store::analyses;
    // A model that closes every connection.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = dead.accept().await {
            drop(s);
        }
    });
    let app = crate::helpers::spawn_with(move |s| {
        s.calls.analysis_interval_ms = 3_600_000;
        s.calls.analysis_retry_ms = 0;
        s.calls.analysis_max_attempts = 2;
        s.providers.openai.api_key = "sk-test".into();
        s.providers.openai.base_url = format!("http://127.0.0.1:{port}/v1");
    })
    .await;
    let agent = app
        .post(
            "/agents",
            &json!({ "name": "Llm", "systemPrompt": "x", "pipelineMode": "traditional", "llmConfig": { "provider": "openai" } }),
        )
        .await;
    let agent_id = agent.data()["id"].as_str().unwrap().to_string();
    let org = {
        use sea_orm::EntityTrait;
        thruai_entities::agent::Entity::find_by_id(agent_id.clone())
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .org_id
    };
    seed_call(&app, &org, &agent_id, Direction::Inbound, 30, Utc::now()).await;
    let row = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        call::Entity::find()
            .filter(call::Column::AgentId.eq(agent_id.as_str()))
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
    };
    analyses::due(&app.state.db, &row).await.unwrap();
    analyses::due(&app.state.db, &row).await.unwrap();

    let first = app.state.analysis.run_due().await;
    let after_first = analyses::find(&app.state.db, &row.id).await.unwrap().unwrap();
    let second = app.state.analysis.run_due().await;
    let after_second = analyses::find(&app.state.db, &row.id).await.unwrap().unwrap();
    let third = app.state.analysis.run_due().await;
    let shown = app.get(&format!("/calls/{}", row.id)).await;

    assert_eq!(
        (first, after_first.status.as_str(), after_first.attempts),
        (0, "pending", 1)
    );
    assert!(after_first.error.is_some());
    assert_eq!(
        (second, after_second.status.as_str(), after_second.attempts),
        (1, "failed", 2)
    );
    assert!(
        after_second.error.as_deref().unwrap().contains("after 2 attempts"),
        "{after_second:?}"
    );
    assert_eq!(third, 0, "nothing is due any more");
    assert_eq!(shown.data()["analysis"]["status"], "failed");
}

/// Three completed calls whose analyses say the caller's goal was not met.
async fn unresolved_calls(app: &TestApp) -> (String, Vec<String>) {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter};
    let (agent, org) = agent_and_org(app).await;
    for _ in 0..3 {
        seed_call(app, &org, &agent, Direction::Inbound, 60, Utc::now()).await;
    }
    let rows = call::Entity::find()
        .filter(call::Column::AgentId.eq(agent.as_str()))
        .all(&app.state.db)
        .await
        .unwrap();
    for row in &rows {
        thruai_entities::call_analysis::Model {
            call_id: row.id.clone(),
            org_id: org.clone(),
            agent_id: agent.clone(),
            status: "done".into(),
            attempts: 1,
            next_attempt_at: Utc::now(),
            method: Some("sandbox".into()),
            summary: Some("x".into()),
            sentiment: Some("neutral".into()),
            resolved: Some(false),
            error: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
        .into_active_model()
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    (agent, rows.into_iter().map(|r| r.id).collect())
}

#[actix_web::test]
async fn recommendations_cite_calls_and_the_written_part_needs_an_analyst() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let (agent, calls) = unresolved_calls(&app).await;

    let plain = app
        .get(&format!("/analytics/recommendations?agentId={agent}&source=all"))
        .await;
    let default = app.get(&format!("/analytics/recommendations?agentId={agent}")).await;
    let rules = app
        .get(&format!("/analytics/recommendations?agentId={agent}&source=rules"))
        .await;
    let every_agent = app.get("/analytics/recommendations?source=rules").await;
    let cross = other
        .get(&format!("/analytics/recommendations?agentId={agent}&source=rules"))
        .await;

    assert_eq!((plain.status.as_u16(), plain.code()), (503, "SERVICE_UNAVAILABLE"));
    assert!(
        plain.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("providers.anthropic.api_key")
    );
    assert_eq!(rules.status, 200, "{:?}", rules.body);
    assert_eq!(
        default.data()["recommendations"],
        rules.data()["recommendations"],
        "without an analyst: the rules"
    );
    assert!(default.data()["analyst"].as_str().unwrap().contains("not configured"));
    let r: thruai::app::analytics::RecommendationsReport = serde_json::from_value(rules.data().clone()).unwrap();
    assert_eq!(r.calls_considered, 3);
    let resolve = r
        .recommendations
        .iter()
        .find(|x| x.title == "Resolve more calls")
        .expect("a rule fired");
    assert_eq!(resolve.source, "rules");
    assert_eq!(resolve.agent_id, agent);
    assert!(!resolve.evidence_call_ids.is_empty());
    assert!(
        resolve.evidence_call_ids.iter().all(|id| calls.contains(id)),
        "cites real calls"
    );
    assert_eq!(
        every_agent.data()["recommendations"].as_array().unwrap().len(),
        r.recommendations.len()
    );
    assert_eq!(cross.status, 404);
}

#[actix_web::test]
async fn the_analyst_writes_recommendations_through_anthropic_citing_only_real_calls() {
    let fake = crate::fake_ai::FakeAi::start().await;
    let base = fake.base.clone();
    let app = crate::helpers::spawn_with(move |s| {
        s.providers.anthropic.api_key = crate::fake_ai::KEY.into();
        s.providers.anthropic.base_url = format!("{base}/anthropic/v1");
    })
    .await;
    let (agent, calls) = unresolved_calls(&app).await;

    let r = app.get(&format!("/analytics/recommendations?agentId={agent}")).await;

    assert_eq!(r.status, 200, "{:?}", r.body);
    let report: thruai::app::analytics::RecommendationsReport = serde_json::from_value(r.data().clone()).unwrap();
    let written: Vec<_> = report.recommendations.iter().filter(|x| x.source == "llm").collect();
    assert_eq!(written.len(), 1, "the invented citation is dropped: {written:?}");
    assert_eq!(written[0].title, "Confirm the time back");
    assert!(calls.contains(&written[0].evidence_call_ids[0]));
    assert!(report.recommendations.iter().any(|x| x.source == "rules"));
    assert!(!fake.seen("/anthropic/").is_empty());
}

#[actix_web::test]
async fn the_sandbox_analyst_writes_recommendations_without_a_key() {
    let app = crate::helpers::spawn_with(|s| s.providers.sandbox.analyst = true).await;
    let (agent, calls) = unresolved_calls(&app).await;

    let r = app
        .get(&format!("/analytics/recommendations?agentId={agent}&source=llm"))
        .await;

    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.data()["analyst"], "sandbox");
    let report: thruai::app::analytics::RecommendationsReport = serde_json::from_value(r.data().clone()).unwrap();
    let written: Vec<_> = report.recommendations.iter().filter(|x| x.source == "llm").collect();
    assert_eq!(written.len(), 1, "{written:?}");
    assert_eq!(written[0].title, "Confirm the caller's goal before ending");
    assert!(!written[0].evidence_call_ids.is_empty());
    assert!(written[0].evidence_call_ids.iter().all(|id| calls.contains(id)));
    // Deterministic: the same calls, the same answer.
    let again = app
        .get(&format!("/analytics/recommendations?agentId={agent}&source=llm"))
        .await;
    assert_eq!(again.data()["recommendations"], r.data()["recommendations"]);
}
