//! The request plumbing every route shares: the route table and its entries, the outer
//! frame and the per-route API layer, extractors, strict validation and the envelope.

pub mod envelope;
pub mod extract;
pub mod frame;
pub mod layer;
pub mod route_spec;
pub mod routes;
pub mod validation;
