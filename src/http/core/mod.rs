//! The request plumbing every route shares: the route table and its entries, the outer
//! frame, the per-client guard and the per-route API layer, extractors, strict validation and the envelope.

pub mod envelope;
pub mod extract;
pub mod frame;
pub mod guard;
pub mod layer;
pub mod route_spec;
pub mod routes;
pub mod validation;

/// Text made safe inside XML or HTML (element content and quoted attributes).
pub fn escape_markup(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
