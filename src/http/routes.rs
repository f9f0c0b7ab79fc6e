//! The route table: every endpoint described once. The router, the self-description,
//! `/_debug/schemas` and the route-walking tests are all generated from it.

use std::sync::LazyLock;

use actix_web::{Route, http::Method};
use serde_json::{Value, json};

use super::{accounts, agents, calls, debug, discovery, feedback, health, profile, providers, telephony, tools};

/// Which limiter a route passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Per-organisation plan limit (every authenticated route).
    Plan,
    /// Provisioning: per client IP, strict sliding window.
    Provisioning,
    None,
}

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
    /// Attaches the handler to a route builder.
    pub handler: fn(Route) -> Route,
}

impl RouteSpec {
    fn new(
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
            handler,
        }
    }

    fn public(self) -> Self {
        self
    }

    /// Requires an API key (and `scope`, when given); plan limits apply.
    fn key(mut self, scope: Option<&'static str>) -> Self {
        self.auth = true;
        self.permission = scope;
        self.limit = Limit::Plan;
        self
    }

    fn limit(mut self, limit: Limit) -> Self {
        self.limit = limit;
        self
    }

    fn body<T: schemars::JsonSchema>(mut self) -> Self {
        self.request = Some(schema_of::<T>);
        self
    }

    fn example(mut self, example: fn() -> Value) -> Self {
        self.example = Some(example);
        self
    }

    /// GET (and HEAD, OPTIONS) are safe; everything else changes state and honours
    /// `Idempotency-Key`. Safe POSTs (previews, searches) are listed by the contract.
    pub fn safe(&self) -> bool {
        self.method == Method::GET || SAFE_POSTS.contains(&self.path)
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
    "/agents/:id/preview",
    "/agents/:id/preflight",
    "/agents/:id/simulate",
    "/telephony/numbers/search",
];

fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null)
}

/// The table, built once.
pub fn table() -> &'static [RouteSpec] {
    static TABLE: LazyLock<Vec<RouteSpec>> = LazyLock::new(build);
    &TABLE
}

fn build() -> Vec<RouteSpec> {
    use Method as M;
    vec![
        RouteSpec::new(
            M::GET,
            "/",
            "discovery",
            "get_api",
            "Returns the full API contract including all endpoints, error codes, and authentication requirements",
            |r| r.to(discovery::describe),
        )
        .public(),
        RouteSpec::new(M::GET, "/health", "health", "health", "Health check endpoint", |r| {
            r.to(health::health)
        })
        .public(),
        RouteSpec::new(
            M::POST,
            "/accounts/provision",
            "accountProvisioning",
            "provision_account",
            "Step 1 (NO AUTH): Send email and org name to receive a 6-digit verification code via email",
            |r| r.to(accounts::provision),
        )
        .limit(Limit::Provisioning)
        .body::<accounts::ProvisionIn>()
        .example(|| json!({ "email": "ada@example.com", "orgName": "Ada Voice Lab" })),
        RouteSpec::new(
            M::POST,
            "/accounts/verify",
            "accountProvisioning",
            "verify_account",
            "Step 2 (NO AUTH): Submit the emailed code to create account and receive API key (sk_live_...)",
            |r| r.to(accounts::verify),
        )
        .body::<accounts::VerifyIn>()
        .example(|| json!({ "email": "ada@example.com", "code": "123456" })),
        RouteSpec::new(
            M::GET,
            "/accounts/me",
            "accountInfo",
            "get_account",
            "Get current organization info",
            |r| r.to(accounts::me),
        )
        .key(Some("billing:read")),
        RouteSpec::new(
            M::GET,
            "/profile",
            "profile",
            "get_profile",
            "Get caller identity, granted permissions, action map, resource counts, and contextual quickStart guidance",
            |r| r.to(profile::profile),
        )
        .key(None),
        RouteSpec::new(
            M::POST,
            "/feedback",
            "feedback",
            "submit_feedback",
            "Submit feedback",
            |r| r.to(feedback::create),
        )
        .key(Some("feedback:write"))
        .body::<feedback::FeedbackIn>()
        .example(|| json!({ "type": "bug", "subject": "Agent repeats itself", "message": "The agent repeated the greeting twice", "rating": 2 })),
        RouteSpec::new(
            M::GET,
            "/feedback",
            "feedback",
            "list_feedback",
            "List submitted feedback",
            |r| r.to(feedback::list),
        )
        .key(Some("feedback:read")),
        RouteSpec::new(
            M::GET,
            "/feedback/:id",
            "feedback",
            "get_feedback",
            "Get feedback by ID",
            |r| r.to(feedback::get),
        )
        .key(Some("feedback:read")),
        RouteSpec::new(
            M::PATCH,
            "/feedback/:id",
            "feedback",
            "update_feedback",
            "Respond to feedback",
            |r| r.to(feedback::update),
        )
        .key(Some("feedback:write"))
        .body::<feedback::FeedbackPatch>()
        .example(|| json!({ "status": "resolved", "response": "Fixed in 1.13.0" })),
        // -- agents ------------------------------------------------------------------------
        RouteSpec::new(M::GET, "/agents", "agents", "list_agents", "List all agents", |r| {
            r.to(agents::list)
        })
        .key(Some("agents:read")),
        RouteSpec::new(M::GET, "/agents/:id", "agents", "get_agent", "Get agent by ID", |r| {
            r.to(agents::get)
        })
        .key(Some("agents:read")),
        RouteSpec::new(M::POST, "/agents", "agents", "create_agent", "Create a new agent", |r| {
            r.to(agents::create)
        })
        .key(Some("agents:write"))
        .body::<agents::AgentIn>()
        .example(|| json!({ "name": "Front desk", "systemPrompt": "You answer calls for {{business}}. Be brief and friendly.", "firstMessage": "Hi, thanks for calling {{business}}!", "pipelineMode": "traditional", "variables": { "business": "Acme Dental" }, "interruptionSettings": { "enabled": true, "sensitivityMs": 300 } })),
        RouteSpec::new(M::PATCH, "/agents/:id", "agents", "update_agent", "Update an agent", |r| {
            r.to(agents::update)
        })
        .key(Some("agents:write"))
        .body::<agents::AgentPatch>()
        .example(|| json!({ "firstMessage": "Hello, how can I help you today?" })),
        RouteSpec::new(M::DELETE, "/agents/:id", "agents", "delete_agent", "Delete an agent", |r| {
            r.to(agents::delete)
        })
        .key(Some("agents:write")),
        RouteSpec::new(
            M::GET,
            "/agents/:id/telephony",
            "agents",
            "list_agent_numbers",
            "List phone numbers assigned to agent",
            |r| r.to(agents::numbers::list_numbers),
        )
        .key(Some("agents:read")),
        RouteSpec::new(
            M::POST,
            "/agents/:id/telephony",
            "agents",
            "assign_number",
            "Assign phone number to agent",
            |r| r.to(agents::numbers::assign),
        )
        .key(Some("agents:write"))
        .body::<agents::numbers::AssignIn>()
        .example(|| json!({ "phoneNumberId": "TEL-01JD0000000000000000000000" })),
        RouteSpec::new(
            M::DELETE,
            "/agents/:id/telephony/:phoneNumberId",
            "agents",
            "unassign_number",
            "Remove phone number from agent",
            |r| r.to(agents::numbers::unassign),
        )
        .key(Some("agents:write")),
        RouteSpec::new(
            M::POST,
            "/agents/:id/preview",
            "agents",
            "preview_agent",
            "Preview variable substitution for agent prompts",
            |r| r.to(agents::checks::preview),
        )
        .key(Some("agents:read"))
        .body::<agents::checks::PreviewIn>()
        .example(|| json!({ "variables": { "business": "Acme Dental" }, "hardFail": false })),
        RouteSpec::new(
            M::POST,
            "/agents/:id/preflight",
            "agents",
            "preflight_agent",
            "Validate agent configuration before launch: prompt integrity, provider readiness, template placeholders, voice quality score, and compliance status",
            |r| r.to(agents::checks::preflight),
        )
        .key(Some("agents:read"))
        .body::<agents::checks::PreflightIn>()
        .example(|| json!({ "variables": { "business": "Acme Dental" } })),
        RouteSpec::new(
            M::POST,
            "/agents/:id/simulate",
            "agents",
            "simulate_agent",
            "Run scenario simulation (wrong_party, failed_verification, interruption, opt_out, silence, etc.) to test agent readiness without making real calls",
            |r| r.to(agents::simulate::simulate),
        )
        .key(Some("agents:read"))
        .body::<agents::simulate::SimulateIn>()
        .example(|| json!({ "scenarios": ["wrong_party", "opt_out", "interruption"] })),
        RouteSpec::new(
            M::POST,
            "/agents/quickstart",
            "agents",
            "quickstart",
            "One-shot agent creation with sensible defaults — creates agent, searches for a phone number, provisions it, and assigns it in a single call",
            |r| r.to(agents::numbers::quickstart),
        )
        .key(Some("agents:write"))
        .body::<agents::numbers::QuickstartIn>()
        .example(|| json!({ "name": "Quick agent", "systemPrompt": "You book appointments for {{business}}.", "areaCode": "415" })),
        // -- providers ---------------------------------------------------------------------
        RouteSpec::new(
            M::GET,
            "/providers",
            "providers",
            "list_providers",
            "List all providers grouped by type (llm, tts, stt)",
            |r| r.to(providers::list_providers),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/voices",
            "providers",
            "list_voices",
            "List available voices for a TTS provider",
            |r| r.to(providers::list_voices),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/models",
            "providers",
            "list_models",
            "List available models for a provider (LLM or STT)",
            |r| r.to(providers::list_models),
        )
        .key(Some("providers:read")),
        RouteSpec::new(
            M::GET,
            "/providers/:providerId/stt-models",
            "providers",
            "list_stt_models",
            "List STT models for a provider",
            |r| r.to(providers::list_stt_models),
        )
        .key(Some("providers:read")),
        // -- tools -------------------------------------------------------------------------
        RouteSpec::new(
            M::POST,
            "/tools",
            "tools",
            "create_tool",
            "Create a custom webhook tool. The tool becomes available to agents via enabledTools.",
            |r| r.to(tools::create),
        )
        .key(Some("tools:write"))
        .body::<tools::ToolIn>()
        .example(|| json!({ "name": "lookup_order", "description": "Look up an order by its number", "url": "https://tools.example.com/orders/lookup", "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] }, "timeout": 10 })),
        RouteSpec::new(
            M::GET,
            "/tools",
            "tools",
            "list_tools",
            "List all custom tools for the organization",
            |r| r.to(tools::list),
        )
        .key(Some("tools:read")),
        RouteSpec::new(M::GET, "/tools/:id", "tools", "get_tool", "Get tool details by ID", |r| {
            r.to(tools::get)
        })
        .key(Some("tools:read")),
        RouteSpec::new(
            M::PATCH,
            "/tools/:id",
            "tools",
            "update_tool",
            "Update tool configuration (URL, parameters, secret, headers, timeout). Tool name cannot be changed.",
            |r| r.to(tools::update),
        )
        .key(Some("tools:write"))
        .body::<tools::ToolPatch>()
        .example(|| json!({ "description": "Look up an order and its delivery status", "timeout": 15 })),
        RouteSpec::new(
            M::DELETE,
            "/tools/:id",
            "tools",
            "delete_tool",
            "Delete a custom tool. Returns warnings if agents still reference it.",
            |r| r.to(tools::delete),
        )
        .key(Some("tools:write")),
        RouteSpec::new(
            M::POST,
            "/tools/:id/test",
            "tools",
            "test_tool",
            "Test tool by sending a sample request to the webhook URL",
            |r| r.to(tools::test),
        )
        .key(Some("tools:write"))
        .body::<tools::ToolTestIn>()
        .example(|| json!({ "arguments": { "orderId": "A-1001" } })),
        // -- telephony ---------------------------------------------------------------------
        RouteSpec::new(
            M::PUT,
            "/telephony/credentials",
            "telephony",
            "set_telephony_credentials",
            "Configure BYOC Twilio credentials (validates against Twilio API)",
            |r| r.to(telephony::put_credentials),
        )
        .key(Some("telephony:write"))
        .body::<telephony::CredentialsIn>()
        .example(|| json!({ "accountSid": "AC0123456789abcdef0123456789abcdef", "authToken": "your_auth_token" })),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers",
            "telephony",
            "list_numbers",
            "List phone numbers",
            |r| r.to(telephony::list_numbers),
        )
        .key(Some("telephony:read")),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers/external",
            "telephony",
            "list_external_numbers",
            "Discover numbers in your Twilio account (for import)",
            |r| r.to(telephony::list_external),
        )
        .key(Some("telephony:read")),
        RouteSpec::new(
            M::GET,
            "/telephony/numbers/search",
            "telephony",
            "search_numbers_get",
            "Search available numbers to purchase (query: areaCode, country, contains, limit)",
            |r| r.to(telephony::search_get),
        )
        .key(Some("telephony:read")),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/search",
            "telephony",
            "search_numbers",
            "Search available numbers to purchase",
            |r| r.to(telephony::search_post),
        )
        .key(Some("telephony:read"))
        .body::<telephony::SearchIn>()
        .example(|| json!({ "areaCode": "415", "limit": 5 })),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/provision",
            "telephony",
            "provision_number",
            "Purchase and provision a new phone number",
            |r| r.to(telephony::provision),
        )
        .key(Some("telephony:write"))
        .body::<telephony::ProvisionIn>()
        .example(|| json!({ "areaCode": "415" })),
        RouteSpec::new(
            M::POST,
            "/telephony/numbers/import",
            "telephony",
            "import_number",
            "Import an existing number from your Twilio account",
            |r| r.to(telephony::import),
        )
        .key(Some("telephony:write"))
        .body::<telephony::ImportIn>()
        .example(|| json!({ "phoneNumber": "+14155550123", "friendlyName": "Main line" })),
        RouteSpec::new(
            M::DELETE,
            "/telephony/numbers/:id",
            "telephony",
            "release_number",
            "Release a phone number",
            |r| r.to(telephony::release),
        )
        .key(Some("telephony:write")),
        RouteSpec::new(
            M::PATCH,
            "/telephony/numbers/:id",
            "telephony",
            "update_number",
            "Update phone number config",
            |r| r.to(telephony::update_number),
        )
        .key(Some("telephony:write"))
        .body::<telephony::NumberPatch>()
        .example(|| json!({ "friendlyName": "Front desk line" })),
        RouteSpec::new(M::GET, "/calls", "calls", "list_calls", "List call records", |r| {
            r.to(calls::list)
        })
        .key(Some("calls:read")),
        RouteSpec::new(M::GET, "/calls/:id", "calls", "get_call", "Get call by ID", |r| {
            r.to(calls::get)
        })
        .key(Some("calls:read")),
        RouteSpec::new(
            M::GET,
            "/calls/:id/transcript",
            "calls",
            "get_call_transcript",
            "Get call transcript",
            |r| r.to(calls::transcript),
        )
        .key(Some("calls:read")),
        RouteSpec::new(
            M::GET,
            "/calls/:id/debug",
            "calls",
            "get_call_debug",
            "Get call debug timeline and troubleshooting",
            |r| r.to(calls::debug),
        )
        .key(Some("calls:read")),
        RouteSpec::new(
            M::POST,
            "/calls/outbound",
            "calls",
            "make_call",
            "Initiate outbound call",
            |r| r.to(calls::outbound),
        )
        .key(Some("calls:write"))
        .body::<calls::OutboundIn>()
        .example(|| json!({ "agentId": "AGT-01JDEXAMPLE", "to": "+14155550100" })),
        RouteSpec::new(
            M::GET,
            "/_debug/schemas",
            "debug",
            "get_schemas",
            "JSON Schemas of every request body, keyed by operation",
            |r| r.to(debug::schemas),
        )
        .key(None),
        RouteSpec::new(
            M::GET,
            "/_debug/version",
            "debug",
            "get_version",
            "Server build and API version",
            |r| r.to(debug::version),
        )
        .key(None),
        RouteSpec::new(
            M::GET,
            "/_debug/sandbox/outbox",
            "debug",
            "get_sandbox_outbox",
            "Messages the sandbox email provider sent to ?to=EMAIL, newest first (loopback clients only, sandbox only)",
            |r| r.to(debug::sandbox_outbox),
        )
        .public(),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_is_unique_and_documented() {
        let mut seen = HashSet::new();
        for spec in table() {
            assert!(
                seen.insert((spec.method.clone(), spec.path)),
                "{} {}",
                spec.method,
                spec.path
            );
            assert!(!spec.description.is_empty());
            assert!(spec.permission.is_none() || spec.auth);
        }
    }

    #[test]
    fn paths_convert_to_actix_patterns() {
        let spec = table().iter().find(|s| s.path == "/feedback/:id").unwrap();
        assert_eq!(spec.actix_path(), "/feedback/{id}");
    }
}
