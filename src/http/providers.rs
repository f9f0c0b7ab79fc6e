//! Provider discovery: the catalogue grouped by type, and each provider's voices, models
//! and STT models, each marked available according to the configured credentials.

use actix_web::{HttpResponse, http::Method, web};
use serde::Serialize;
use serde_json::{Value, json};

use super::core::{
    envelope,
    extract::{Ctx, ListQuery},
    route_spec::RouteSpec,
};
use crate::{
    error::{ApiError, ApiResult},
    providers::catalog::{self, Kind, Provider},
};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProviderOut {
    id: &'static str,
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    available: bool,
    sandbox: bool,
    /// What to configure to make it available (empty for the sandbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    config_key: Option<&'static str>,
    default_model: Option<&'static str>,
    models: Vec<&'static str>,
    voices: usize,
}

fn provider_out(p: &'static Provider, kind: Kind, ctx: &Ctx) -> ProviderOut {
    let models: Vec<&'static str> = if kind == Kind::Stt {
        p.stt_models.iter().map(|m| m.id).collect()
    } else {
        p.models_of(kind).map(|m| m.id).collect()
    };
    ProviderOut {
        id: p.id,
        name: p.name,
        kind: kind.as_str(),
        available: p.available(&ctx.state.settings.providers),
        sandbox: p.is_sandbox(),
        config_key: (!p.config_key.is_empty()).then_some(p.config_key),
        default_model: models.first().copied(),
        models,
        voices: if matches!(kind, Kind::Tts | Kind::S2s) {
            p.voices.len()
        } else {
            0
        },
    }
}

pub async fn list_providers(ctx: Ctx) -> ApiResult<HttpResponse> {
    let mut groups = serde_json::Map::new();
    let mut defaults = serde_json::Map::new();
    for kind in Kind::ALL {
        let entries: Vec<ProviderOut> = catalog::CATALOG
            .iter()
            .filter(|p| p.has(kind))
            .map(|p| provider_out(p, kind, &ctx))
            .collect();
        groups.insert(kind.as_str().into(), json!(entries));
        defaults.insert(
            kind.as_str().into(),
            json!(catalog::default_for(kind, &ctx.state.settings.providers).id),
        );
    }
    Ok(envelope::ok(
        &json!({ "providers": Value::Object(groups), "defaults": Value::Object(defaults) }),
    ))
}

fn provider(id: &str) -> ApiResult<&'static Provider> {
    catalog::find(id).ok_or_else(|| ApiError::not_found("Provider", id))
}

/// A page of `items` under `name`, in the standard list shape.
fn page_of<T: Serialize>(q: &ListQuery, name: &str, items: &[T]) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let start = usize::try_from(page.offset()).unwrap_or(usize::MAX).min(items.len());
    let end = start
        .saturating_add(usize::try_from(page.page_size).unwrap_or(100))
        .min(items.len());
    Ok(envelope::list(name, &items[start..end], page.info(items.len() as u64)))
}

pub async fn list_voices(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = provider(&id)?;
    let available = p.available(&ctx.state.settings.providers);
    let voices: Vec<Value> = p
        .voices
        .iter()
        .map(|v| json!({ "provider": p.id, "available": available, "id": v.id, "name": v.name, "gender": v.gender, "language": v.language, "description": v.description }))
        .collect();
    page_of(&q, "voices", &voices)
}

pub async fn list_models(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = provider(&id)?;
    let available = p.available(&ctx.state.settings.providers);
    let mut models: Vec<Value> = p
        .models
        .iter()
        .map(|m| {
            let mut v = json!(m);
            v["provider"] = json!(p.id);
            v["available"] = json!(available);
            v
        })
        .collect();
    models.extend(p.stt_models.iter().map(|m| stt_model(p.id, available, m)));
    page_of(&q, "models", &models)
}

fn stt_model(provider: &str, available: bool, m: &catalog::SttModel) -> Value {
    json!({ "provider": provider, "available": available, "id": m.id, "name": m.name, "type": "stt", "languages": m.languages, "streaming": m.streaming })
}

pub async fn list_stt_models(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = provider(&id)?;
    let available = p.available(&ctx.state.settings.providers);
    let models: Vec<Value> = p.stt_models.iter().map(|m| stt_model(p.id, available, m)).collect();
    page_of(&q, "models", &models)
}

pub fn routes() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/providers",
            "providers",
            "list_providers",
            "List all providers grouped by type (llm, tts, stt)",
            |r| r.to(list_providers),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/voices",
            "providers",
            "list_voices",
            "List available voices for a TTS provider",
            |r| r.to(list_voices),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/models",
            "providers",
            "list_models",
            "List available models for a provider (LLM or STT)",
            |r| r.to(list_models),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/stt-models",
            "providers",
            "list_stt_models",
            "List STT models for a provider",
            |r| r.to(list_stt_models),
        )
        .key(Some("providers:read")),
    ]
}
