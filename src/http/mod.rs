//! The HTTP layer: the route table turned into actix resources, each wrapped by the API
//! layer (auth, limits, idempotency), under the outer frame (envelope headers, panics).

pub mod accounts;
pub mod agents;
pub mod calls;
pub mod debug;
pub mod discovery;
pub mod envelope;
pub mod extract;
pub mod feedback;
pub mod frame;
pub mod health;
pub mod layer;
pub mod profile;
pub mod providers;
pub mod routes;
pub mod telephony;
pub mod tools;
pub mod twilio;
pub mod validation;

use std::{collections::BTreeMap, rc::Rc};

use actix_web::{HttpRequest, HttpResponse, middleware::from_fn, web};

use crate::error::{ApiError, ErrorCode};

pub const BASE_PATH: &str = "/api/v1/public";

/// Registers every route of the table; static paths before parameterised ones so
/// `/agents/quickstart` wins over `/agents/{id}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Carrier webhooks and the media stream: not part of the public API.
    twilio::configure(cfg);
    let mut by_path: BTreeMap<String, Vec<&'static routes::RouteSpec>> = BTreeMap::new();
    for spec in routes::table() {
        by_path.entry(spec.actix_path()).or_default().push(spec);
    }
    let mut paths: Vec<_> = by_path.into_iter().collect();
    paths.sort_by_key(|(path, _)| path.matches('{').count());
    for (path, specs) in paths {
        let full = format!("{BASE_PATH}{path}");
        let mut fulls = vec![full.clone()];
        if path == "/" {
            fulls.push(BASE_PATH.to_string());
        }
        for full in fulls {
            let specs: Rc<[&'static routes::RouteSpec]> = specs.clone().into();
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
