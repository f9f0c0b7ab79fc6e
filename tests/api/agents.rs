//! Agents: defaults, ranges, tool references, outbox events, preview, preflight,
//! simulation, and other organisations' ids.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use thruai::http::{
    agents::{
        AgentOut,
        checks::{CheckStatus, PreflightOut, PreviewOut},
        simulate::SimulateOut,
    },
    core::envelope::DeletedOut,
};
use thruai_entities::outbox_event;

use crate::helpers::{TestApp, spawn_app};

async fn agent_events(app: &TestApp) -> usize {
    outbox_event::Entity::find()
        .filter(outbox_event::Column::EventType.eq("agent.updated"))
        .all(&app.state.db)
        .await
        .unwrap()
        .len()
}

#[actix_web::test]
async fn an_agent_is_created_with_defaults_and_every_change_records_an_event() {
    let app = spawn_app().await;

    let created = app
        .post("/agents", &json!({ "name": "Ada", "systemPrompt": "You help." }))
        .await;
    let agent: AgentOut = serde_json::from_value(created.data().clone()).unwrap();
    let patched = app
        .patch(
            &format!("/agents/{}", agent.id),
            &json!({
                "s2sConfig": { "noiseReduction": null },
                "interruptionSettings": { "enabled": true, "sensitivityMs": 300, "bargeInConfidence": 0.7 },
                "s2sTurnDetection": { "type": "semantic_vad", "eagerness": "high" },
                "memoryPolicy": { "enabled": true, "dataClassification": "confidential", "namespaceScope": "caller", "retentionDays": 30 },
                "variables": { "company_name": "Acme" }
            }),
        )
        .await;
    let listed = app.get("/agents").await;
    let deleted = app.delete(&format!("/agents/{}", agent.id)).await;
    let gone = app.get(&format!("/agents/{}", agent.id)).await;

    assert_eq!(created.status, 201);
    assert!(agent.id.starts_with("AGT-"));
    assert_eq!(agent.pipeline_mode.as_str(), "s2s");
    assert_eq!(agent.status.as_str(), "active");
    assert_eq!(agent.s2s_provider.as_deref(), Some("sandbox"));
    assert_eq!(created.data()["s2sConfig"]["noiseReduction"], "near_field");
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert!(patched.data()["s2sConfig"]["noiseReduction"].is_null());
    assert_eq!(patched.data()["interruptionSettings"]["sensitivityMs"], 300);
    assert_eq!(patched.data()["memoryPolicy"]["namespaceScope"], "caller");
    let listed: Vec<AgentOut> = serde_json::from_value(listed.data()["agents"].clone()).unwrap();
    assert_eq!(listed[0].id, agent.id);
    assert_eq!(deleted.status, 200);
    let deleted: DeletedOut = serde_json::from_value(deleted.data().clone()).unwrap();
    assert_eq!(deleted.message, format!("Agent '{}' deleted", agent.id));
    assert!(deleted.warnings.is_empty());
    assert_eq!(gone.code(), "NOT_FOUND");
    assert_eq!(agent_events(&app).await, 3);
}

#[actix_web::test]
async fn out_of_range_and_unknown_values_are_refused_by_field() {
    let app = spawn_app().await;

    let cases = [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "A", "agentID": "x" }), "agentID"),
        (json!({ "name": "A", "pipelineMode": "duplex" }), "pipelineMode"),
        (
            json!({ "name": "A", "interruptionSettings": { "sensitivityMs": 50 } }),
            "interruptionSettings.sensitivityMs",
        ),
        (
            json!({ "name": "A", "interruptionSettings": { "falseInterruptionTimeoutMs": 6000 } }),
            "interruptionSettings.falseInterruptionTimeoutMs",
        ),
        (
            json!({ "name": "A", "s2sTurnDetection": { "threshold": 1.5 } }),
            "s2sTurnDetection.threshold",
        ),
        (
            json!({ "name": "A", "s2sTurnDetection": { "silenceDurationMs": 100 } }),
            "s2sTurnDetection.silenceDurationMs",
        ),
        (
            json!({ "name": "A", "s2sConfig": { "noiseReduction": "studio" } }),
            "s2sConfig.noiseReduction",
        ),
        (
            json!({ "name": "A", "memoryPolicy": { "retentionDays": 0 } }),
            "memoryPolicy.retentionDays",
        ),
        (
            json!({ "name": "A", "memoryPolicy": { "requireVerification": true } }),
            "memoryPolicy.verificationFields",
        ),
        (json!({ "name": "A", "s2sProvider": "openai-realtim" }), "s2sProvider"),
        (
            json!({ "name": "A", "s2sProvider": "openai-realtime", "s2sVoice": "nobody" }),
            "s2sVoice",
        ),
        (
            json!({ "name": "A", "llmConfig": { "provider": "anthropic", "model": "gpt-4o" } }),
            "llmConfig.model",
        ),
        (
            json!({ "name": "A", "enabledTools": ["missing_tool"] }),
            "enabledTools[0]",
        ),
        (
            json!({ "name": "A", "memoryPolicy": { "policyHooks": [{ "event": "before_read", "url": "http://127.0.0.1/x" }] } }),
            "memoryPolicy.policyHooks[0].url",
        ),
    ];

    for (body, field) in cases {
        let r = app.post("/agents", &body).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, "VALIDATION_ERROR"),
            "{body}: {:?}",
            r.body
        );
        let fields: Vec<&str> = r.body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap_or(""))
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    let typo = app.post("/agents", &json!({ "name": "A", "systemprompt": "x" })).await;
    assert_eq!(typo.body["error"]["details"][0]["suggestion"], "systemPrompt");
}

#[actix_web::test]
async fn other_organisations_agents_are_not_found() {
    let app = spawn_app().await;
    let other = app.other_org().await;
    let id = app.post("/agents", &json!({ "name": "Mine" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let replies = [
        other.get(&format!("/agents/{id}")).await,
        other
            .patch(&format!("/agents/{id}"), &json!({ "name": "Theirs" }))
            .await,
        other.delete(&format!("/agents/{id}")).await,
        other.post(&format!("/agents/{id}/preview"), &json!({})).await,
        other.post(&format!("/agents/{id}/preflight"), &json!({})).await,
        other.post(&format!("/agents/{id}/simulate"), &json!({})).await,
        other.get(&format!("/agents/{id}/telephony")).await,
    ];

    for r in replies {
        assert_eq!((r.status.as_u16(), r.code()), (404, "NOT_FOUND"), "{:?}", r.body);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(&id));
    }
    assert_eq!(other.get("/agents").await.data()["pagination"]["total"], 0);
}

#[actix_web::test]
async fn preview_substitutes_variables_scores_risk_and_hard_fails() {
    let app = spawn_app().await;
    let id = app
        .post(
            "/agents",
            &json!({
                "name": "Ada",
                "systemPrompt": "You call for {{company_name}} about invoice {{invoice_id}}. If asked, honour opt-out requests.",
                "firstMessage": "Hi {{customer_name}}, this is {{agent_name}}.",
                "variables": { "company_name": "Acme" }
            }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let partial = app
        .post(
            &format!("/agents/{id}/preview"),
            &json!({ "variables": { "invoice_id": "42" } }),
        )
        .await;
    let full = app
        .post(
            &format!("/agents/{id}/preview"),
            &json!({ "variables": { "invoice_id": "42", "customer_name": "Bo" }, "hardFail": true }),
        )
        .await;
    let hard = app
        .post(&format!("/agents/{id}/preview"), &json!({ "hardFail": true }))
        .await;

    assert_eq!(partial.status, 200);
    let partial: PreviewOut = serde_json::from_value(partial.data().clone()).unwrap();
    let full: PreviewOut = serde_json::from_value(full.data().clone()).unwrap();
    assert_eq!((partial.agent_id.as_str(), partial.hard_fail), (id.as_str(), false));
    assert_eq!(
        partial.assessment.system_prompt.as_deref(),
        Some("You call for Acme about invoice 42. If asked, honour opt-out requests.")
    );
    assert_eq!(partial.assessment.unresolved_variables, ["customer_name"]);
    assert_eq!(partial.assessment.risk_level, "low");
    assert_eq!(full.assessment.first_message.as_deref(), Some("Hi Bo, this is Ada."));
    assert_eq!(full.assessment.risk_score, 0);
    assert!(full.hard_fail);
    assert_eq!((hard.status.as_u16(), hard.code()), (400, "VALIDATION_ERROR"));
    let fields: Vec<&str> = hard.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["variables.invoice_id", "variables.customer_name"]);
}

#[actix_web::test]
async fn a_missing_safety_variable_raises_the_risk() {
    let app = spawn_app().await;
    let id = app
        .post(
            "/agents",
            &json!({ "name": "Ada", "systemPrompt": "Call for {{company_name}}. Disclose {{recording_disclosure}}." }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = app.post(&format!("/agents/{id}/preview"), &json!({})).await;

    assert_eq!(
        r.data()["missingSafetyVariables"],
        json!(["company_name", "recording_disclosure"])
    );
    assert_eq!(r.data()["riskLevel"], "high");
    assert!(r.data()["riskScore"].as_u64().unwrap() >= 60);
}

#[actix_web::test]
async fn preflight_reports_machine_actionable_checks() {
    let app = spawn_app().await;
    let bare = app.post("/agents", &json!({ "name": "Bare" })).await.data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = app.post(&format!("/agents/{bare}/preflight"), &json!({})).await;

    assert_eq!(r.status, 200);
    let r: PreflightOut = serde_json::from_value(r.data().clone()).unwrap();
    assert!(!r.ready);
    let check = |id: &str| r.checks.iter().find(|c| c.id == id).unwrap();
    let prompt = check("prompt_integrity");
    assert_eq!(prompt.status, CheckStatus::Fail);
    assert_eq!(prompt.fix.as_ref().unwrap()["method"], "PATCH");
    assert_eq!(check("provider_readiness").data["s2s"]["status"], "sandbox");
    for id in ["placeholders", "voice_quality", "compliance", "tools", "telephony"] {
        assert!(r.checks.iter().any(|c| c.id == id), "{id}");
    }
    assert_eq!(r.summary.pass + r.summary.warn + r.summary.fail, r.checks.len());
    assert!(r.summary.fail >= 1);
    assert!(r.voice_quality_score <= 100);
}

#[actix_web::test]
async fn simulation_runs_scenarios_against_the_sandbox_model() {
    let app = spawn_app().await;
    let id = app
        .post(
            "/agents",
            &json!({ "name": "Ada", "systemPrompt": "You help customers.", "firstMessage": "Hi, this is Ada." }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let quiet = app
        .post(
            "/agents",
            &json!({ "name": "Quiet", "s2sConfig": { "noiseReduction": null } }),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let all = app.post(&format!("/agents/{id}/simulate"), &json!({})).await;
    let noisy = app
        .post(
            &format!("/agents/{quiet}/simulate"),
            &json!({ "scenarios": ["background_noise"] }),
        )
        .await;
    let unknown = app
        .post(&format!("/agents/{id}/simulate"), &json!({ "scenarios": ["opt_ot"] }))
        .await;

    assert_eq!(all.status, 200, "{:?}", all.body);
    let all: SimulateOut = serde_json::from_value(all.data().clone()).unwrap();
    let noisy: SimulateOut = serde_json::from_value(noisy.data().clone()).unwrap();
    assert!(all.llm.sandbox);
    let result = |name: &str| all.results.iter().find(|r| r.scenario == name).unwrap();
    let opt_out = result("opt_out");
    assert!(opt_out.passed);
    assert!(opt_out.actions.iter().any(|a| a == "ended_call"));
    assert_eq!(
        (
            opt_out.transcript[0].role.as_str(),
            opt_out.transcript[0].content.as_str()
        ),
        ("assistant", "Hi, this is Ada.")
    );
    for name in [
        "wrong_party",
        "failed_verification",
        "interruption",
        "silence",
        "background_noise",
    ] {
        assert!(result(name).passed, "{name}: {:?}", result(name));
    }
    assert!(!result("tool_use").passed, "no tools attached");
    assert_eq!(all.summary.total, all.results.len());
    assert_eq!(all.summary.failed, 1);
    assert!(!noisy.results[0].passed);
    assert!(
        noisy.results[0]
            .recommendation
            .as_deref()
            .unwrap()
            .contains("noiseReduction")
    );
    assert_eq!(unknown.code(), "VALIDATION_ERROR");
    assert_eq!(unknown.body["error"]["details"][0]["suggestion"], "opt_out");
}

#[test]
fn status_and_pipeline_mode_are_described_as_plain_strings() {
    let schema = serde_json::to_value(schemars::schema_for!(AgentOut)).unwrap();
    assert_eq!(schema["properties"]["status"], json!({ "type": "string" }));
    assert_eq!(schema["properties"]["pipelineMode"], json!({ "type": "string" }));
}
