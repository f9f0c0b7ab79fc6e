//! The HTTP layer: the route table turned into actix resources, each wrapped by the API
//! layer (auth, limits, idempotency), under the outer frame (envelope headers, panics).
//! One module per resource, each declaring its routes (`routes()`) beside its handlers and
//! wire types; `core` holds the request plumbing, `meta` the server's self-description.

pub mod accounts;
pub mod agents;
pub mod analytics;
pub mod api_keys;
pub mod billing;
pub mod calls;
pub mod campaigns;
pub mod compliance;
pub mod core;
pub mod debug;
pub mod email;
pub mod feedback;
pub mod knowledge;
pub mod meta;
pub mod profile;
pub mod providers;
pub mod sms;
pub mod telephony;
pub mod tools;
pub mod twilio;
pub mod webhook_deliveries;
pub mod webhooks;
pub mod workflows;

use std::{collections::BTreeMap, rc::Rc};

use actix_web::{HttpRequest, HttpResponse, middleware::from_fn, web};

use self::core::{layer, route_spec::RouteSpec, routes};
use crate::error::{ApiError, ErrorCode};

pub const BASE_PATH: &str = "/api/v1/public";

/// Registers every route of the table (under the base path, or at the root for the
/// discovery documents); static paths before parameterised ones so `/agents/quickstart`
/// wins over `/agents/{id}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Carrier webhooks and the media stream: outside the base path and the API layer.
    twilio::configure(cfg);
    email::configure(cfg);
    billing::configure(cfg);
    let mut by_path: BTreeMap<String, Vec<&'static RouteSpec>> = BTreeMap::new();
    for spec in routes::table() {
        let full = if spec.root {
            spec.actix_path()
        } else {
            format!("{BASE_PATH}{}", spec.actix_path())
        };
        by_path.entry(full).or_default().push(spec);
    }
    let mut paths: Vec<_> = by_path.into_iter().collect();
    paths.sort_by_key(|(path, _)| path.matches('{').count());
    for (full, specs) in paths {
        let mut fulls = vec![full.clone()];
        if full == format!("{BASE_PATH}/") {
            fulls.push(BASE_PATH.to_string());
        }
        for full in fulls {
            let specs: Rc<[&'static RouteSpec]> = specs.clone().into();
            let allow = specs.iter().map(|s| s.method.as_str()).collect::<Vec<_>>().join(", ");
            let mut resource = web::resource(full);
            for spec in specs.iter() {
                resource = resource.route((spec.handler)(web::method(spec.method.clone())));
            }
            let layer_specs = specs.clone();
            let resource = resource
                .default_service(web::to(move |req: HttpRequest| {
                    let allow = allow.clone();
                    async move { method_not_allowed(&req, &allow) }
                }))
                .wrap(from_fn(move |req, next| {
                    layer::api_layer(layer_specs.clone(), req, next)
                }));
            cfg.service(resource);
        }
    }
}

fn method_not_allowed(req: &HttpRequest, allow: &str) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}; allowed: {allow}", req.method(), req.path()),
    )
    .with_header("allow", allow)
    .error_response()
}

/// Any path no route matches: 404 in the envelope, naming method and path.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::new(
        ErrorCode::NotFound,
        format!("No route for {} {}", req.method(), req.path()),
    )
    .error_response()
}
