//! `RouteSpec`: one endpoint's description (method, path, auth, scope, limit, schemas,
//! example, handler) and the builders each resource's `routes()` is written with.

use actix_web::{Route, http::Method};
use serde_json::{Value, json};

/// Which limiter a route passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Per-organisation plan limit (every authenticated route).
    Plan,
    /// Provisioning: per client IP, strict sliding window.
    Provisioning,
    None,
}

/// What a route answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Produces {
    /// JSON in the response envelope (every API route).
    Envelope,
    /// A raw document of this content type (`/openapi.json`, `/llms.txt`, `/metrics`, `/mcp`).
    Raw(&'static str),
}

/// A query parameter a route reads.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    /// JSON Schema type: `string` or `integer`.
    pub ty: &'static str,
    pub description: &'static str,
}

/// `page` and `pageSize`, read by every list.
pub const PAGED: &[Param] = &[
    Param {
        name: "page",
        ty: "integer",
        description: "1-based page number (default 1)",
    },
    Param {
        name: "pageSize",
        ty: "integer",
        description: "Items per page (default 50, max 100)",
    },
];

pub struct RouteSpec {
    pub method: Method,
    /// Contract style, relative to the base path: `/feedback/:id`.
    pub path: &'static str,
    pub domain: &'static str,
    /// Operation name (also the MCP tool name).
    pub operation: &'static str,
    pub description: &'static str,
    pub auth: bool,
    /// Scope required, when any (`feedback:read`).
    pub permission: Option<&'static str>,
    pub limit: Limit,
    /// JSON Schema of the request body, for mutating routes that take one.
    pub request: Option<fn() -> Value>,
    /// A valid example body (documentation, and the route-walking tests).
    pub example: Option<fn() -> Value>,
    /// JSON Schema of `data` in a successful response (of the whole body for a raw
    /// document). Every route declares one; `None` only while a spec is being built.
    pub response: Option<fn() -> Value>,
    /// For lists: the name of the array inside `data` (`agents`); `response` is the item.
    pub list_key: Option<&'static str>,
    /// Query parameters the route reads.
    pub query: &'static [Param],
    /// Served at the root (`/llms.txt`) rather than under the base path.
    pub root: bool,
    pub produces: Produces,
    /// Not in the published contract: an extension of this server, documented here.
    pub extension: bool,
    /// Another path for the operation named here (one tool, one action).
    pub alias_of: Option<&'static str>,
    /// A document (self-description, a guide): an MCP resource, not a tool.
    pub document: bool,
    /// Answers only local, unproxied clients (the sandbox's debug routes): not an MCP tool.
    pub local_only: bool,
    /// Paid work or a payment: may answer 402 (`BILLING_REQUIRED`, `PAYMENT_FAILED`).
    pub billed: bool,
    /// Attaches the handler to a route builder.
    pub handler: fn(Route) -> Route,
}

impl RouteSpec {
    pub(crate) fn new(
        method: Method,
        path: &'static str,
        domain: &'static str,
        operation: &'static str,
        description: &'static str,
        handler: fn(Route) -> Route,
    ) -> Self {
        Self {
            method,
            path,
            domain,
            operation,
            description,
            auth: false,
            permission: None,
            limit: Limit::None,
            request: None,
            example: None,
            response: None,
            list_key: None,
            query: &[],
            root: false,
            produces: Produces::Envelope,
            extension: false,
            alias_of: None,
            document: false,
            local_only: false,
            billed: false,
            handler,
        }
    }

    /// The `data` of a successful response is a `T` (for a raw document: the body is).
    pub(crate) fn returns<T: schemars::JsonSchema>(mut self) -> Self {
        self.response = Some(schema_of::<T>);
        self
    }

    /// The `data` of a successful response is `{<key>: [T], pagination}`; reads `page`
    /// and `pageSize`.
    pub(crate) fn returns_list<T: schemars::JsonSchema>(mut self, key: &'static str) -> Self {
        self.response = Some(schema_of::<T>);
        self.list_key = Some(key);
        if self.query.is_empty() {
            self.query = PAGED;
        }
        self
    }

    pub(crate) fn query(mut self, params: &'static [Param]) -> Self {
        self.query = params;
        self
    }

    /// Served at the root, outside the base path.
    pub(crate) fn root(mut self) -> Self {
        self.root = true;
        self
    }

    pub(crate) fn raw(mut self, content_type: &'static str) -> Self {
        self.produces = Produces::Raw(content_type);
        self
    }

    /// Served by this server although the contract does not list it.
    /// Another path for `operation` (not a tool of its own).
    pub(crate) fn alias_of(mut self, operation: &'static str) -> Self {
        self.alias_of = Some(operation);
        self
    }

    /// A document clients read (an MCP resource rather than a tool).
    pub(crate) fn document(mut self) -> Self {
        self.document = true;
        self
    }

    /// An action an MCP client can take with its key: not a document (raw documents are
    /// documents too), not an alias, not a local-only debug route, not account provisioning
    /// (which needs no key, and the session has one).
    pub fn is_tool(&self) -> bool {
        !self.document
            && !self.local_only
            && self.alias_of.is_none()
            && self.produces == Produces::Envelope
            && self.domain != "accountProvisioning"
    }

    pub(crate) fn extension(mut self) -> Self {
        self.extension = true;
        self
    }

    pub(crate) fn public(self) -> Self {
        self
    }

    /// Served only to local, unproxied clients (checked by the handler).
    pub(crate) fn local_only(mut self) -> Self {
        self.local_only = true;
        self
    }

    /// Paid work (behind the billing gate) or a payment: may answer 402.
    pub(crate) fn billed(mut self) -> Self {
        self.billed = true;
        self
    }

    /// Requires an API key (and `scope`, when given); plan limits apply.
    pub(crate) fn key(mut self, scope: Option<&'static str>) -> Self {
        self.auth = true;
        self.permission = scope;
        self.limit = Limit::Plan;
        self
    }

    pub(crate) fn limit(mut self, limit: Limit) -> Self {
        self.limit = limit;
        self
    }

    pub(crate) fn body<T: schemars::JsonSchema>(mut self) -> Self {
        self.request = Some(schema_of::<T>);
        self
    }

    pub(crate) fn example(mut self, example: fn() -> Value) -> Self {
        self.example = Some(example);
        self
    }

    /// GET (and HEAD, OPTIONS) are safe; everything else changes state and honours
    /// `Idempotency-Key`. Safe POSTs (previews, searches) are listed by the contract.
    pub fn safe(&self) -> bool {
        self.method == Method::GET || SAFE_POSTS.contains(&self.path)
    }

    /// Mutating and enveloped: honours `Idempotency-Key`. (`/mcp` carries protocol
    /// messages; the API calls it makes honour the key themselves.)
    pub fn idempotent(&self) -> bool {
        !self.safe() && self.produces == Produces::Envelope
    }

    /// The path as served: `/api/v1/public/feedback/:id`, or `/llms.txt` for root routes.
    pub fn full_path(&self) -> String {
        if self.root {
            self.path.to_string()
        } else {
            format!("{}{}", crate::http::BASE_PATH, self.path)
        }
    }

    /// Names of the path parameters, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix(':')).collect()
    }

    /// JSON Schema of `data` in a successful response (lists wrapped with their
    /// pagination), or of the body of a raw document.
    pub fn response_schema(&self) -> Option<Value> {
        let item = (self.response?)();
        let Some(key) = self.list_key else {
            return Some(item);
        };
        let mut item = item;
        let defs = item.as_object_mut().and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        });
        let mut list = json!({
            "type": "object",
            "properties": {
                key: { "type": "array", "items": item },
                "pagination": schema_of::<super::envelope::PageInfo>(),
            },
            "required": [key, "pagination"],
        });
        if let Some(defs) = defs {
            list["$defs"] = defs;
        }
        if let Some(p) = list["properties"]["pagination"].as_object_mut() {
            p.remove("$schema");
        }
        Some(list)
    }

    /// `/feedback/:id` → `/feedback/{id}`.
    pub fn actix_path(&self) -> String {
        self.path
            .split('/')
            .map(|seg| {
                seg.strip_prefix(':')
                    .map_or_else(|| seg.to_string(), |name| format!("{{{name}}}"))
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// POSTs the contract marks `safe`: they read, and never change state.
const SAFE_POSTS: &[&str] = &[
    "/workflows/:id/dry-run",
    "/agents/:id/preview",
    "/agents/:id/preflight",
    "/agents/:id/simulate",
    "/telephony/numbers/search",
    "/compliance/a2p/brands/validate",
    "/compliance/a2p/campaigns/validate",
    "/knowledge/query",
];

pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}
