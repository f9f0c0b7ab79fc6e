//! Provider discovery: the catalogue grouped by type, availability from configuration,
//! voices and models in the list shape, unknown providers as 404.

use crate::helpers::{spawn_app, spawn_with};

#[actix_web::test]
async fn providers_are_grouped_by_type_and_only_the_sandbox_is_available_by_default() {
    let app = spawn_app().await;

    let r = app.get("/providers").await;

    assert_eq!(r.status, 200);
    r.assert_envelope();
    let providers = &r.data()["providers"];
    for kind in ["llm", "tts", "stt", "s2s"] {
        let list = providers[kind].as_array().unwrap();
        let sandbox = list.iter().find(|p| p["id"] == "sandbox").unwrap();
        assert_eq!(sandbox["available"], true, "{kind}");
        assert!(
            list.iter()
                .filter(|p| p["id"] != "sandbox")
                .all(|p| p["available"] == false)
        );
    }
    let llm_ids: Vec<&str> = providers["llm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(llm_ids.contains(&"openai") && llm_ids.contains(&"anthropic") && llm_ids.contains(&"groq"));
    assert_eq!(r.data()["defaults"]["s2s"], "sandbox");
}

#[actix_web::test]
async fn a_configured_key_makes_its_providers_available() {
    let app = spawn_with(|s| s.providers.openai.api_key = "sk-test".into()).await;

    let r = app.get("/providers").await;

    let s2s = r.data()["providers"]["s2s"].as_array().unwrap().clone();
    let realtime = s2s.iter().find(|p| p["id"] == "openai-realtime").unwrap();
    assert_eq!(realtime["available"], true);
    assert_eq!(r.data()["defaults"]["s2s"], "openai-realtime");
}

#[actix_web::test]
async fn voices_and_models_are_listed_and_unknown_providers_are_404() {
    let app = spawn_app().await;

    let voices = app.get("/providers/elevenlabs/voices").await;
    let models = app.get("/providers/openai/models?pageSize=2").await;
    let stt = app.get("/providers/deepgram/stt-models").await;
    let unknown = app.get("/providers/nope-ai/voices").await;

    assert_eq!(voices.status, 200);
    assert!(!voices.data()["voices"].as_array().unwrap().is_empty());
    assert_eq!(voices.data()["voices"][0]["available"], false);
    assert_eq!(models.data()["models"].as_array().unwrap().len(), 2);
    assert_eq!(models.data()["pagination"]["hasMore"], true);
    assert_eq!(models.body["meta"]["pagination"], models.data()["pagination"]);
    assert_eq!(stt.data()["models"][0]["id"], "nova-3");
    assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "NOT_FOUND"));
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("nope-ai"));
}
