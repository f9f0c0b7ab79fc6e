//! The route table: every endpoint described once. The router, the self-description,
//! `/_debug/schemas` and the route-walking tests are all generated from it.

use std::sync::LazyLock;

use actix_web::http::Method;
use serde_json::{Value, json};

use super::route_spec::{Limit, Param, RouteSpec};
use crate::http::{
    accounts, agents, calls, campaigns, compliance, debug, feedback,
    meta::{capabilities, discovery, docs, health, llms, mcp, metrics as metrics_route, openapi},
    profile, providers, sms, telephony, tools, webhook_deliveries, webhooks,
};

/// Query of `GET /telephony/numbers/search`.
const SEARCH_QUERY: &[Param] = &[
    Param {
        name: "areaCode",
        ty: "string",
        description: "Area code, e.g. 415",
    },
    Param {
        name: "country",
        ty: "string",
        description: "ISO country code (default US)",
    },
    Param {
        name: "contains",
        ty: "string",
        description: "Digits the number must contain",
    },
    Param {
        name: "limit",
        ty: "integer",
        description: "Most results to return",
    },
];

fn brand_example() -> Value {
    json!({
        "brandType": "standard",
        "companyName": "Acme Dental LLC",
        "displayName": "Acme Dental",
        "ein": "12-3456789",
        "businessType": "Limited Liability Corporation",
        "companyType": "private",
        "vertical": "HEALTHCARE",
        "website": "https://acme-dental.example.com",
        "email": "compliance@acme-dental.example.com",
        "phone": "+14155550100",
        "address": { "street": "1 Market St", "city": "San Francisco", "state": "CA", "postalCode": "94105", "country": "US" },
        "contact": { "firstName": "Ada", "lastName": "Lovelace", "email": "ada@acme-dental.example.com", "phone": "+14155550101", "title": "Owner", "jobPosition": "CEO" }
    })
}

fn campaign_example() -> Value {
    json!({
        "brandId": "BRN-01JD0000000000000000000000",
        "useCase": "CUSTOMER_CARE",
        "description": "Appointment reminders and answers to patient questions for Acme Dental",
        "messageFlow": "Patients opt in by ticking the SMS box on the booking form at acme-dental.example.com/book",
        "messageSamples": [
            "Hi Sam, this is Acme Dental: your cleaning is tomorrow at 3pm. Reply STOP to unsubscribe.",
            "Acme Dental: thanks for your question, Dr. Lee will call you back today. Reply HELP for help."
        ],
        "hasEmbeddedLinks": false,
        "hasEmbeddedPhone": false,
        "helpMessage": "Acme Dental: call +14155550100 for help. Reply STOP to unsubscribe."
    })
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
        .example(|| json!({ "type": "bug", "subject": "Agent repeats itself", "message": "The agent repeated the greeting twice", "rating": 2 }))
        .returns::<feedback::FeedbackOut>(),
        RouteSpec::new(
            M::GET,
            "/feedback",
            "feedback",
            "list_feedback",
            "List submitted feedback",
            |r| r.to(feedback::list),
        )
        .key(Some("feedback:read"))
        .returns_list::<feedback::FeedbackOut>("feedback"),
        RouteSpec::new(
            M::GET,
            "/feedback/:id",
            "feedback",
            "get_feedback",
            "Get feedback by ID",
            |r| r.to(feedback::get),
        )
        .key(Some("feedback:read"))
        .returns::<feedback::FeedbackOut>(),
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
        .example(|| json!({ "status": "resolved", "response": "Fixed in 1.13.0" }))
        .returns::<feedback::FeedbackOut>(),
        // -- agents ------------------------------------------------------------------------
        RouteSpec::new(M::GET, "/agents", "agents", "list_agents", "List all agents", |r| {
            r.to(agents::list)
        })
        .key(Some("agents:read"))
        .returns_list::<agents::AgentOut>("agents"),
        RouteSpec::new(M::GET, "/agents/:id", "agents", "get_agent", "Get agent by ID", |r| {
            r.to(agents::get)
        })
        .key(Some("agents:read"))
        .returns::<agents::AgentOut>(),
        RouteSpec::new(M::POST, "/agents", "agents", "create_agent", "Create a new agent", |r| {
            r.to(agents::create)
        })
        .key(Some("agents:write"))
        .body::<agents::AgentIn>()
        .example(|| json!({ "name": "Front desk", "systemPrompt": "You answer calls for {{business}}. Be brief and friendly.", "firstMessage": "Hi, thanks for calling {{business}}!", "pipelineMode": "traditional", "variables": { "business": "Acme Dental" }, "interruptionSettings": { "enabled": true, "sensitivityMs": 300 } }))
        .returns::<agents::AgentOut>(),
        RouteSpec::new(M::PATCH, "/agents/:id", "agents", "update_agent", "Update an agent", |r| {
            r.to(agents::update)
        })
        .key(Some("agents:write"))
        .body::<agents::AgentPatch>()
        .example(|| json!({ "firstMessage": "Hello, how can I help you today?" }))
        .returns::<agents::AgentOut>(),
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
        .key(Some("agents:read"))
        .returns_list::<telephony::PhoneNumberOut>("phoneNumbers"),
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
        .example(|| json!({ "name": "lookup_order", "description": "Look up an order by its number", "url": "https://tools.example.com/orders/lookup", "parameters": { "type": "object", "properties": { "orderId": { "type": "string" } }, "required": ["orderId"] }, "timeout": 10 }))
        .returns::<tools::ToolOut>(),
        RouteSpec::new(
            M::GET,
            "/tools",
            "tools",
            "list_tools",
            "List all custom tools for the organization",
            |r| r.to(tools::list),
        )
        .key(Some("tools:read"))
        .returns_list::<tools::ToolOut>("tools"),
        RouteSpec::new(M::GET, "/tools/:id", "tools", "get_tool", "Get tool details by ID", |r| {
            r.to(tools::get)
        })
        .key(Some("tools:read"))
        .returns::<tools::ToolOut>(),
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
        .example(|| json!({ "description": "Look up an order and its delivery status", "timeout": 15 }))
        .returns::<tools::ToolOut>(),
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
        .example(|| json!({ "arguments": { "orderId": "A-1001" } }))
        .returns::<tools::ToolTestOut>(),
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
        .key(Some("telephony:read"))
        .returns_list::<telephony::PhoneNumberOut>("numbers"),
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
        .key(Some("telephony:read"))
        .query(SEARCH_QUERY)
        .extension(),
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
        .example(|| json!({ "areaCode": "415" }))
        .returns::<telephony::PhoneNumberOut>(),
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
        .example(|| json!({ "phoneNumber": "+14155550123", "friendlyName": "Main line" }))
        .returns::<telephony::PhoneNumberOut>(),
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
        .example(|| json!({ "friendlyName": "Front desk line" }))
        .returns::<telephony::PhoneNumberOut>(),
        RouteSpec::new(
            M::POST,
            "/webhooks",
            "webhooks",
            "create_webhook",
            "Create webhook subscription for real-time events (call.started, call.completed, call.failed, transcript.ready, workflow.triggered, workflow.completed, agent.updated, a2p.brand.status_changed, a2p.campaign.status_changed)",
            |r| r.to(webhooks::create),
        )
        .key(Some("webhooks:write"))
        .body::<webhooks::WebhookIn>()
        .example(|| json!({ "url": "https://hooks.example.invalid/thruai", "events": ["call.completed", "call.failed"], "description": "CRM sync" })),
        RouteSpec::new(
            M::GET,
            "/webhooks",
            "webhooks",
            "list_webhooks",
            "List all webhook subscriptions",
            |r| r.to(webhooks::list),
        )
        .key(Some("webhooks:read")),
        RouteSpec::new(
            M::GET,
            "/webhooks/:id",
            "webhooks",
            "get_webhook",
            "Get webhook subscription details",
            |r| r.to(webhooks::get),
        )
        .key(Some("webhooks:read")),
        RouteSpec::new(
            M::GET,
            "/webhooks/:id/deliveries",
            "webhooks",
            "list_webhook_deliveries",
            "List webhook delivery attempts with status, timing, and error details",
            |r| r.to(webhook_deliveries::list),
        )
        .key(Some("webhooks:read")),
        // The contract lists PATCH /webhooks/:id twice; this is its later, fuller description.
        RouteSpec::new(
            M::PATCH,
            "/webhooks/:id",
            "webhooks",
            "update_webhook",
            "Update webhook subscription (url, events, secret, description, enabled)",
            |r| r.to(webhooks::update),
        )
        .key(Some("webhooks:write"))
        .body::<webhooks::WebhookPatch>()
        .example(|| json!({ "events": ["call.completed", "transcript.ready"], "enabled": true })),
        RouteSpec::new(
            M::DELETE,
            "/webhooks/:id",
            "webhooks",
            "delete_webhook",
            "Delete webhook subscription",
            |r| r.to(webhooks::delete),
        )
        .key(Some("webhooks:write")),
        RouteSpec::new(
            M::POST,
            "/webhooks/:id/test",
            "webhooks",
            "test_webhook",
            "Send test webhook delivery with sample payload",
            |r| r.to(webhook_deliveries::test),
        )
        .key(Some("webhooks:write"))
        .body::<webhook_deliveries::WebhookTestIn>()
        .example(|| json!({ "event": "call.completed" })),
        RouteSpec::new(
            M::POST,
            "/webhooks/:id/replay",
            "webhooks",
            "replay_webhook",
            "Replay failed deliveries by ID or time window for exactly-once recovery",
            |r| r.to(webhook_deliveries::replay),
        )
        .key(Some("webhooks:write"))
        .body::<webhook_deliveries::ReplayIn>()
        .example(|| json!({ "since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z" })),
        // -- compliance (A2P 10DLC) ---------------------------------------------------------
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/status",
            "compliance",
            "get_a2p_status",
            "Get overall A2P compliance status with actionable blockingReasons[] and nextAction guidance",
            |r| r.to(compliance::status::status),
        )
        .key(Some("compliance:read")),
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/config",
            "compliance",
            "get_a2p_config",
            "Get available industry verticals, use cases, and brand types for registration",
            |r| r.to(compliance::config),
        )
        .key(Some("compliance:read")),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands/validate",
            "compliance",
            "validate_a2p_brand",
            "Dry-run validation for brand registration. Returns field-level errors and suggestions without submitting to Twilio/TCR",
            |r| r.to(compliance::validate_brand),
        )
        .key(Some("compliance:read"))
        .body::<compliance::wire::BrandCheck>()
        .example(brand_example),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands",
            "compliance",
            "submit_a2p_brand",
            "Submit brand registration (sole_proprietor or standard). Returns Application ID (BRN-xxx) immediately",
            |r| r.to(compliance::create_brand),
        )
        .key(Some("compliance:write"))
        .body::<compliance::wire::BrandIn>()
        .example(brand_example),
        RouteSpec::new(
            M::GET,
            "/compliance/a2p/brands/:id",
            "compliance",
            "get_a2p_brand",
            "Get brand registration details by Application ID (BRN-xxx)",
            |r| r.to(compliance::get_brand),
        )
        .key(Some("compliance:read")),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/brands/:id/refresh",
            "compliance",
            "refresh_a2p_brand",
            "Poll Twilio for latest brand registration status",
            |r| r.to(compliance::refresh_brand),
        )
        .key(Some("compliance:write"))
        .example(|| json!({})),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/validate",
            "compliance",
            "validate_a2p_campaign",
            "Dry-run validation for campaign registration. Checks schema, brand approval status, and message samples",
            |r| r.to(compliance::validate_campaign),
        )
        .key(Some("compliance:read"))
        .body::<compliance::wire::CampaignCheck>()
        .example(campaign_example),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns",
            "compliance",
            "submit_a2p_campaign",
            "Submit A2P campaign (requires approved brand). Returns campaign ID (CMP-xxx)",
            |r| r.to(compliance::create_campaign),
        )
        .key(Some("compliance:write"))
        .body::<compliance::wire::CampaignIn>()
        .example(campaign_example),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/:id/refresh",
            "compliance",
            "refresh_a2p_campaign",
            "Poll Twilio for latest campaign status",
            |r| r.to(compliance::refresh_campaign),
        )
        .key(Some("compliance:write"))
        .example(|| json!({})),
        RouteSpec::new(
            M::POST,
            "/compliance/a2p/campaigns/:id/phone-numbers",
            "compliance",
            "link_phone_to_campaign",
            "Link a phone number to an approved campaign for A2P-compliant SMS sending",
            |r| r.to(compliance::link_number),
        )
        .key(Some("compliance:write"))
        .body::<compliance::wire::LinkIn>()
        .example(|| json!({ "phoneNumber": "+14155550123" })),
        // -- sms ---------------------------------------------------------------------------
        RouteSpec::new(M::POST, "/sms", "sms", "send_sms_alias", "Send an SMS message (RESTful alias)", |r| {
            r.to(sms::send)
        })
        .key(Some("telephony:write"))
        .body::<sms::SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" })),
        RouteSpec::new(M::POST, "/sms/messages", "sms", "send_sms", "Send an SMS message", |r| {
            r.to(sms::send)
        })
        .key(Some("telephony:write"))
        .body::<sms::SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" })),
        RouteSpec::new(
            M::POST,
            "/sms/send",
            "sms",
            "send_sms_legacy",
            "Send an SMS message (alias for POST /sms/messages)",
            |r| r.to(sms::send),
        )
        .key(Some("telephony:write"))
        .body::<sms::SmsIn>()
        .example(|| json!({ "to": "+14155550199", "body": "Your appointment is confirmed for 3pm. Reply STOP to unsubscribe.", "from": "+14155550123" })),
        RouteSpec::new(M::GET, "/sms/messages", "sms", "list_sms_messages", "List SMS messages", |r| {
            r.to(sms::list)
        })
        .key(Some("telephony:read")),
        RouteSpec::new(M::GET, "/sms/messages/:id", "sms", "get_sms_message", "Get SMS message by ID", |r| {
            r.to(sms::get)
        })
        .key(Some("telephony:read")),
        RouteSpec::new(
            M::GET,
            "/sms/conversations",
            "sms",
            "list_sms_conversations",
            "List SMS conversations",
            |r| r.to(sms::conversations),
        )
        .key(Some("telephony:read")),
        RouteSpec::new(
            M::GET,
            "/sms/conversations/:id/messages",
            "sms",
            "get_sms_conversation_messages",
            "Get SMS conversation messages",
            |r| r.to(sms::conversation_messages),
        )
        .key(Some("telephony:read")),
        RouteSpec::new(M::GET, "/sms/opt-outs", "sms", "list_sms_opt_outs", "List SMS opt-outs", |r| {
            r.to(sms::opt_outs)
        })
        .key(Some("telephony:read")),
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
        // -- campaigns ---------------------------------------------------------------------
        RouteSpec::new(M::GET, "/campaigns", "campaigns", "list_campaigns", "List campaigns", |r| {
            r.to(campaigns::list)
        })
        .key(Some("campaigns:read"))
        .query(&[Param { name: "status", ty: "string", description: "draft, running, paused or completed" }])
        .returns_list::<campaigns::CampaignOut>("campaigns"),
        RouteSpec::new(M::GET, "/campaigns/:id", "campaigns", "get_campaign", "Get campaign by ID", |r| {
            r.to(campaigns::get)
        })
        .key(Some("campaigns:read"))
        .returns::<campaigns::CampaignOut>(),
        RouteSpec::new(M::POST, "/campaigns", "campaigns", "create_campaign", "Create campaign", |r| {
            r.to(campaigns::create)
        })
        .key(Some("campaigns:write"))
        .body::<campaigns::CampaignIn>()
        .example(|| json!({
            "name": "Spring check-up reminders",
            "description": "Remind patients to book their spring check-up",
            "agentId": "AGT-01JDEXAMPLE",
            "maxConcurrentCalls": 5,
            "callingWindow": { "timezone": "America/New_York", "startTime": "09:00", "endTime": "18:00", "days": ["mon", "tue", "wed", "thu", "fri"] },
            "retryPolicy": { "maxAttempts": 3, "delaySecs": 3600, "retryOn": ["no_answer", "busy"] },
            "metadata": { "team": "front-desk" }
        }))
        .returns::<campaigns::CampaignOut>(),
        RouteSpec::new(M::PATCH, "/campaigns/:id", "campaigns", "update_campaign", "Update campaign", |r| {
            r.to(campaigns::update)
        })
        .key(Some("campaigns:write"))
        .body::<campaigns::CampaignPatch>()
        .example(|| json!({ "maxConcurrentCalls": 10, "description": "Spring check-up reminders (wave 2)" }))
        .returns::<campaigns::CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/contacts",
            "campaigns",
            "add_campaign_contacts",
            "Add contacts to campaign",
            |r| r.to(campaigns::contacts::add_contacts),
        )
        .key(Some("campaigns:write"))
        .body::<campaigns::contacts::ContactsIn>()
        .example(|| json!({ "contacts": [
            { "phoneNumber": "+14155552671", "name": "Sam Lee", "customData": { "firstName": "Sam", "appointment": "Tuesday 3pm" } },
            { "phoneNumber": "+14155552672", "name": "Ada Byron", "customData": { "firstName": "Ada", "timezone": "America/Los_Angeles" } }
        ] }))
        .returns::<campaigns::contacts::ContactsAdded>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/start",
            "campaigns",
            "start_campaign",
            "Start campaign",
            |r| r.to(campaigns::start),
        )
        .key(Some("campaigns:write"))
        .example(|| json!({}))
        .returns::<campaigns::CampaignOut>(),
        RouteSpec::new(
            M::POST,
            "/campaigns/:id/pause",
            "campaigns",
            "pause_campaign",
            "Pause campaign",
            |r| r.to(campaigns::pause),
        )
        .key(Some("campaigns:write"))
        .example(|| json!({}))
        .returns::<campaigns::CampaignOut>(),
        RouteSpec::new(M::DELETE, "/campaigns/:id", "campaigns", "delete_campaign", "Delete campaign", |r| {
            r.to(campaigns::delete)
        })
        .key(Some("campaigns:write")),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/contacts",
            "campaigns",
            "list_campaign_contacts",
            "List campaign contacts",
            |r| r.to(campaigns::contacts::list_contacts),
        )
        .key(Some("campaigns:read"))
        .query(&[Param { name: "status", ty: "string", description: "queued, in_progress, completed, failed or suppressed" }]),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/stats",
            "campaigns",
            "get_campaign_stats",
            "Get campaign statistics with real-time progress, success rate, and contact status breakdown",
            |r| r.to(campaigns::progress::stats),
        )
        .key(Some("campaigns:read")),
        RouteSpec::new(
            M::GET,
            "/campaigns/:id/progress",
            "campaigns",
            "get_campaign_progress",
            "Campaign progress in the flat 1.2.0 shape for older clients: { total, pending, inProgress, completed, failed, suppressed, percentComplete, successRate }",
            |r| r.to(campaigns::progress::progress),
        )
        .key(Some("campaigns:read"))
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/campaigns/:id",
            "debug",
            "get_campaign_debug",
            "The campaign actor's live state: mailbox, in-flight dials, lease, next window opening, last transitions, and why it is not dialling",
            |r| r.to(campaigns::progress::debug),
        )
        .key(Some("campaigns:read"))
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/schemas",
            "debug",
            "get_schemas",
            "JSON Schemas of every request body, keyed by operation",
            |r| r.to(debug::schemas),
        )
        .key(None)
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/version",
            "debug",
            "get_version",
            "Server build and API version",
            |r| r.to(debug::version),
        )
        .key(None)
        .extension(),
        RouteSpec::new(
            M::GET,
            "/_debug/sandbox/outbox",
            "debug",
            "get_sandbox_outbox",
            "Messages the sandbox email provider sent to ?to=EMAIL, newest first (loopback clients only, sandbox only)",
            |r| r.to(debug::sandbox_outbox),
        )
        .public()
        .query(&[Param { name: "to", ty: "string", description: "Recipient email address" }])
        .extension(),
        // -- discovery, docs, operations (issue 7) -----------------------------------------
        RouteSpec::new(
            M::GET,
            "/capabilities",
            "discovery",
            "get_capabilities",
            "Machine-readable capability discovery: endpoint availability, provider matrix, pipeline modes, feature status, required scopes, and operational limits",
            |r| r.to(capabilities::capabilities),
        )
        .public(),
        RouteSpec::new(
            M::GET,
            "/openapi.json",
            "discovery",
            "get_openapi",
            "OpenAPI 3.1 document of every served endpoint, generated from the route table",
            |r| r.to(openapi::document),
        )
        .public()
        .root()
        .raw("application/json")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/reference",
            "discovery",
            "get_api_reference",
            "Interactive API reference (HTML, no external assets) rendering /openapi.json",
            |r| r.to(openapi::reference),
        )
        .public()
        .root()
        .raw("text/html; charset=utf-8")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/llms.txt",
            "discovery",
            "get_llms_txt",
            "llms.txt index: what this API is and where its documentation lives",
            |r| r.to(llms::llms_txt),
        )
        .public()
        .root()
        .raw("text/plain; charset=utf-8")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/llms-full.txt",
            "discovery",
            "get_llms_full_txt",
            "The full reference as plain text: every endpoint with its schemas, then every guide",
            |r| r.to(llms::llms_full_txt),
        )
        .public()
        .root()
        .raw("text/plain; charset=utf-8")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/.well-known/ai-plugin.json",
            "discovery",
            "get_ai_plugin",
            "AI plugin manifest pointing at the OpenAPI document",
            |r| r.to(llms::ai_plugin),
        )
        .public()
        .root()
        .raw("application/json")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/agents.json",
            "discovery",
            "get_agents_json",
            "Agent integration manifest: authentication, MCP endpoints, discovery documents and suggested flows",
            |r| r.to(llms::agents_json),
        )
        .public()
        .root()
        .raw("application/json")
        .extension(),
        RouteSpec::new(
            M::GET,
            "/docs",
            "docs",
            "list_docs",
            "List all available API guides with slugs and descriptions",
            |r| r.to(docs::list),
        )
        .public(),
        RouteSpec::new(
            M::GET,
            "/docs/:slug",
            "docs",
            "get_doc",
            "Get full guide content by slug. Supports Accept: text/markdown for raw markdown.",
            |r| r.to(docs::get),
        )
        .public(),
        RouteSpec::new(
            M::GET,
            "/quickstart",
            "docs",
            "get_quickstart_guide",
            "From nothing to a working phone agent: the ordered API calls, with bodies",
            |r| r.to(docs::quickstart),
        )
        .public()
        .extension(),
        RouteSpec::new(
            M::GET,
            "/metrics",
            "operations",
            "get_metrics",
            "Prometheus metrics: requests and latency per route, rate-limit decisions, idempotency outcomes, calls, actors, webhooks",
            |r| r.to(metrics_route::metrics),
        )
        .public()
        .root()
        .raw("text/plain; version=0.0.4; charset=utf-8")
        .extension(),
        RouteSpec::new(
            M::POST,
            "/mcp",
            "mcp",
            "mcp",
            "Model Context Protocol endpoint (Streamable HTTP, JSON responses): one tool per API operation, same API keys and scopes",
            |r| r.to(mcp::endpoint),
        )
        .key(None)
        .root()
        .raw("application/json")
        .extension(),
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
