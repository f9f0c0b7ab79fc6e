//! Provider discovery: the catalogue grouped by type, and each provider's voices, models
//! and STT models, each marked available according to the configured credentials.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, http::Method, web};
use schemars::JsonSchema;
use serde::Serialize;

use super::core::{
    envelope::{self, Sorted},
    extract::{Ctx, ListQuery},
    route_spec::RouteSpec,
};
use crate::{
    error::{ApiError, ApiResult},
    providers::catalog::{self, Kind, Provider},
};

/// A provider of one kind, with what it offers and whether this server can use it.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderOut {
    pub id: &'static str,
    pub name: &'static str,
    /// `llm`, `tts`, `stt` or `s2s`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub available: bool,
    pub sandbox: bool,
    /// What to configure to make it available (absent for the sandbox).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_key: Option<&'static str>,
    pub default_model: Option<&'static str>,
    /// Model ids.
    pub models: Vec<&'static str>,
    /// How many voices it has (TTS and S2S).
    pub voices: usize,
}

/// The catalogue grouped by kind, and the default provider of each kind.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvidersOut {
    /// Keyed by kind: `llm`, `tts`, `stt`, `s2s`.
    pub providers: BTreeMap<&'static str, Vec<ProviderOut>>,
    /// The provider id used when an agent names none, by kind.
    pub defaults: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceOut {
    pub provider: &'static str,
    pub available: bool,
    pub id: &'static str,
    pub name: &'static str,
    pub gender: &'static str,
    pub language: &'static str,
    pub description: &'static str,
}

/// A model: an LLM, TTS or S2S model (`contextWindow` and `supportsTools`), or an STT
/// model (`type` `stt`, `languages` and `streaming`).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelOut {
    pub provider: &'static str,
    pub available: bool,
    pub id: &'static str,
    pub name: &'static str,
    /// `llm`, `tts`, `s2s` or `stt`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supports_tools: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub languages: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming: Option<bool>,
    /// Dated snapshots accepted as this model (`deprecated` where the provider deprecated
    /// them); any `{id}-YYYY-MM-DD` is accepted too.
    #[serde(default, skip_serializing_if = "<[catalog::Alias]>::is_empty")]
    pub aliases: &'static [catalog::Alias],
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
    let mut out = ProvidersOut {
        providers: BTreeMap::new(),
        defaults: BTreeMap::new(),
    };
    for kind in Kind::ALL {
        let entries: Vec<ProviderOut> = catalog::CATALOG
            .iter()
            .filter(|p| p.has(kind))
            .map(|p| provider_out(p, kind, &ctx))
            .collect();
        out.providers.insert(kind.as_str(), entries);
        out.defaults.insert(
            kind.as_str(),
            catalog::default_for(kind, &ctx.state.settings.providers).id,
        );
    }
    Ok(envelope::ok(&Sorted(out)))
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
    let voices: Vec<VoiceOut> = p
        .voices
        .iter()
        .map(|v| VoiceOut {
            provider: p.id,
            available,
            id: v.id,
            name: v.name,
            gender: v.gender,
            language: v.language,
            description: v.description,
        })
        .collect();
    page_of(&q, "voices", &voices)
}

pub async fn list_models(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = provider(&id)?;
    let available = p.available(&ctx.state.settings.providers);
    let mut models: Vec<ModelOut> = p
        .models
        .iter()
        .map(|m| ModelOut {
            provider: p.id,
            available,
            id: m.id,
            name: m.name,
            kind: m.kind.as_str(),
            context_window: m.context_window,
            supports_tools: Some(m.supports_tools),
            languages: None,
            streaming: None,
            aliases: m.aliases,
        })
        .collect();
    models.extend(p.stt_models.iter().map(|m| stt_model(p.id, available, m)));
    page_of(&q, "models", &models)
}

fn stt_model(provider: &'static str, available: bool, m: &catalog::SttModel) -> ModelOut {
    ModelOut {
        provider,
        available,
        id: m.id,
        name: m.name,
        kind: "stt",
        context_window: None,
        supports_tools: None,
        languages: Some(m.languages),
        streaming: Some(m.streaming),
        aliases: &[],
    }
}

pub async fn list_stt_models(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let p = provider(&id)?;
    let available = p.available(&ctx.state.settings.providers);
    let models: Vec<ModelOut> = p.stt_models.iter().map(|m| stt_model(p.id, available, m)).collect();
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
        .key(Some("providers:read"))
        .returns::<ProvidersOut>(),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/voices",
            "providers",
            "list_voices",
            "List available voices for a TTS provider",
            |r| r.to(list_voices),
        )
        .key(Some("providers:read"))
        .returns_list::<VoiceOut>("voices"),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/models",
            "providers",
            "list_models",
            "List available models for a provider (LLM or STT)",
            |r| r.to(list_models),
        )
        .key(Some("providers:read"))
        .returns_list::<ModelOut>("models"),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/stt-models",
            "providers",
            "list_stt_models",
            "List STT models for a provider",
            |r| r.to(list_stt_models),
        )
        .key(Some("providers:read"))
        .returns_list::<ModelOut>("models"),
    ]
}
