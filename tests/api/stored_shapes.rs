//! Rows written by older code still load through the typed JSON columns: `null`, missing
//! keys and keys no longer known read with their defaults, on both backends.

use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;
use thruai_entities::{agent, campaign};

use crate::helpers::spawn_app;

async fn raw(app: &crate::helpers::TestApp, sql: &str) {
    app.state.db.execute_unprepared(sql).await.unwrap();
}

#[actix_web::test]
async fn an_agent_row_of_an_older_shape_loads_and_is_served_as_before() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/agents",
            &json!({ "name": "Old", "voiceConfig": { "voiceId": "v0" }, "variables": { "a": "x" } }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.data()["id"].as_str().unwrap().to_string();

    raw(
        &app,
        &format!(
            "UPDATE agents SET s2s_config = 'null', \
             voice_config = '{{\"voiceId\":\"v1\",\"retiredKey\":true}}', \
             interruption_settings = '{{}}', enabled_tools = 'null', \
             variables = '{{\"a\":\"x\",\"n\":1}}', \
             memory_policy = '{{\"enabled\":true,\"policyHooks\":null}}' WHERE id = '{id}'"
        ),
    )
    .await;

    let row = agent::Entity::find_by_id(id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.s2s_config, Default::default());
    assert_eq!(
        row.voice_config.as_ref().and_then(|v| v.voice_id.as_deref()),
        Some("v1")
    );
    assert!(row.enabled_tools.is_empty());
    assert!(row.variables.is_empty(), "a map with a non-string value reads as empty");
    assert_eq!(row.memory_policy.as_ref().and_then(|m| m.enabled), Some(true));

    let served = app.get(&format!("/agents/{id}")).await;
    assert_eq!(served.status, 200, "{:?}", served.body);
    let data = served.data();
    assert_eq!(data["s2sConfig"], json!({ "noiseReduction": "near_field" }));
    assert_eq!(data["voiceConfig"], json!({ "voiceId": "v1" }));
    assert_eq!(data["interruptionSettings"], json!({}));
    assert_eq!(data["enabledTools"], json!([]));
    assert_eq!(data["variables"], json!({}));
    assert_eq!(data["memoryPolicy"], json!({ "enabled": true }));
    assert!(data["llmConfig"].is_null());

    // And it is written back in the served shape on the next change.
    let patched = app.patch(&format!("/agents/{id}"), &json!({ "name": "Renewed" })).await;
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let row = agent::Entity::find_by_id(id).one(&app.state.db).await.unwrap().unwrap();
    assert_eq!(
        serde_json::to_value(&row.voice_config).unwrap(),
        json!({ "voiceId": "v1" })
    );
}

#[actix_web::test]
async fn a_campaign_row_of_an_older_shape_loads_with_default_policy_and_no_window() {
    let app = spawn_app().await;
    let n = app
        .post("/telephony/numbers/provision", &json!({ "areaCode": "415" }))
        .await;
    assert_eq!(n.status, 201, "{:?}", n.body);
    let agent = app.post("/agents", &json!({ "name": "Dialer" })).await;
    let agent_id = agent.data()["id"].as_str().unwrap();
    let created = app
        .post("/campaigns", &json!({ "name": "Old", "agentId": agent_id }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.data()["id"].as_str().unwrap().to_string();

    raw(
        &app,
        &format!(
            "UPDATE campaigns SET number_pool = 'null', retry_policy = '{{\"maxAttempts\":2}}', \
             calling_window = '{{\"timezone\":\"UTC\"}}' WHERE id = '{id}'"
        ),
    )
    .await;

    let row = campaign::Entity::find_by_id(id.clone())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.number_pool.is_empty());
    assert_eq!(row.retry_policy, Default::default());
    assert!(thruai::app::campaigns::window_of(&row).is_none());
    let served = app.get(&format!("/campaigns/{id}")).await;
    assert_eq!(served.status, 200, "{:?}", served.body);
    assert_eq!(served.data()["numberPool"], json!([]));
    assert_eq!(served.data()["retryPolicy"]["maxAttempts"], 1);
}
