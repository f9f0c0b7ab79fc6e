//! The MCP server: over Streamable HTTP (`POST /mcp`) and over stdio (`thruai mcp`), tools
//! listed from the route table, calls through the same handlers, errors as tool errors.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// One JSON-RPC request to `POST /mcp` with the app's key.
pub async fn rpc(app: &TestApp, method: &str, params: Value) -> Value {
    let res = app
        .client
        .post(format!("{}/mcp", app.address))
        .bearer_auth(&app.api_key)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn call(app: &TestApp, tool: &str, args: Value) -> Value {
    rpc(app, "tools/call", json!({ "name": tool, "arguments": args })).await["result"].clone()
}

#[actix_web::test]
async fn http_client_initializes_lists_tools_and_runs_quickstart_then_get_agent() {
    let app = spawn_app().await;

    let init = rpc(&app, "initialize", json!({ "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": { "name": "test", "version": "0" } })).await;
    let notified = app
        .client
        .post(format!("{}/mcp", app.address))
        .bearer_auth(&app.api_key)
        .json(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .send()
        .await
        .unwrap();
    let tools = rpc(&app, "tools/list", json!({})).await;
    let created = call(
        &app,
        "quickstart",
        json!({ "name": "MCP agent", "areaCode": "415", "idempotencyKey": "mcp-qs-1" }),
    )
    .await;
    let agent_id = created["structuredContent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let fetched = call(&app, "get_agent", json!({ "id": agent_id })).await;
    let http = app.get(&format!("/agents/{agent_id}")).await;

    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    assert_eq!(notified.status(), 202);
    let list = tools["result"]["tools"].as_array().unwrap();
    let create = list.iter().find(|t| t["name"] == "create_agent").unwrap();
    assert_eq!(create["inputSchema"]["type"], "object");
    assert!(create["inputSchema"]["properties"]["systemPrompt"].is_object());
    assert!(
        create["inputSchema"]["required"]
            .as_array()
            .unwrap()
            .contains(&json!("name"))
    );
    let get = list.iter().find(|t| t["name"] == "get_agent").unwrap();
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    assert_eq!(created["isError"], false, "{created}");
    assert_eq!(fetched["isError"], false);
    assert_eq!(fetched["structuredContent"]["name"], "MCP agent");
    assert_eq!(fetched["structuredContent"], http.data().clone());
}

#[actix_web::test]
async fn errors_are_tool_errors_with_the_contract_code_and_the_layer_applies() {
    let app = spawn_app().await;

    let missing = call(&app, "get_agent", json!({ "id": "AGT-nope" })).await;
    let invalid = call(&app, "create_agent", json!({ "name": "x", "agentID": "y" })).await;
    let no_param = call(&app, "get_agent", json!({})).await;
    let unknown = rpc(&app, "tools/call", json!({ "name": "no_such_tool", "arguments": {} })).await;
    let anonymous = app
        .client
        .post(format!("{}/mcp", app.address))
        .json(&json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" }))
        .send()
        .await
        .unwrap();
    let key = "mcp-idem-1";
    let first = call(
        &app,
        "submit_feedback",
        json!({ "type": "bug", "message": "via MCP", "idempotencyKey": key }),
    )
    .await;
    let again = call(
        &app,
        "submit_feedback",
        json!({ "type": "bug", "message": "via MCP", "idempotencyKey": key }),
    )
    .await;

    assert_eq!(missing["isError"], true);
    assert_eq!(missing["structuredContent"]["error"]["code"], "NOT_FOUND");
    assert!(missing["content"][0]["text"].as_str().unwrap().contains("AGT-nope"));
    assert_eq!(missing["structuredContent"]["error"]["status"], 404);
    assert_eq!(invalid["structuredContent"]["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(no_param["structuredContent"]["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(unknown["error"]["code"], -32602);
    assert_eq!(anonymous.status(), 401);
    assert_eq!(first["isError"], false, "{first}");
    assert_eq!(first["structuredContent"]["id"], again["structuredContent"]["id"]);
}

#[actix_web::test]
async fn resources_are_listed_and_read_through_the_api() {
    let app = spawn_app().await;
    app.post("/agents", &json!({ "name": "Listed" })).await;

    let list = rpc(&app, "resources/list", json!({})).await;
    let agents = rpc(&app, "resources/read", json!({ "uri": "thruai://agents" })).await;
    let providers = rpc(&app, "resources/read", json!({ "uri": "thruai://providers" })).await;
    let unknown = rpc(&app, "resources/read", json!({ "uri": "thruai://nothing" })).await;

    let uris: Vec<&str> = list["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert!(uris.contains(&"thruai://agents") && uris.contains(&"thruai://providers"));
    let text = agents["result"]["contents"][0]["text"].as_str().unwrap();
    let data: Value = serde_json::from_str(text).unwrap();
    assert_eq!(data["agents"][0]["name"], "Listed");
    assert!(
        providers["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(unknown["error"]["code"], -32002);
}

#[actix_web::test]
async fn stdio_client_lists_tools_and_runs_quickstart_get_agent_make_call_and_get_call() {
    let app = spawn_app().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_thruai"))
        .arg("mcp")
        .env("THRUAI_API_KEY", &app.api_key)
        .env("THRUAI_BASE_URL", &app.address)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The server runs on this test's runtime: talk to the child from a blocking thread.
    let answers = actix_web::rt::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut ask = |msg: Value| -> Option<Value> {
            writeln!(stdin, "{msg}").unwrap();
            stdin.flush().unwrap();
            msg.get("id")?;
            Some(serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap())
        };
        let init = ask(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": { "name": "stdio-test", "version": "0" } } })).unwrap();
        ask(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
        let tools = ask(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" })).unwrap();
        let created = ask(json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": { "name": "quickstart", "arguments": { "name": "Stdio agent" } } })).unwrap();
        let id = created["result"]["structuredContent"]["agent"]["id"].as_str().unwrap().to_string();
        let fetched = ask(json!({ "jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": { "name": "get_agent", "arguments": { "id": id } } })).unwrap();
        let placed = ask(json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": { "name": "make_call", "arguments": { "agentId": id, "to": "+14155550199" } } })).unwrap();
        let call_id = placed["result"]["structuredContent"]["callId"].as_str().unwrap_or_default().to_string();
        let call = ask(json!({ "jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": { "name": "get_call", "arguments": { "id": call_id } } })).unwrap();
        drop(stdin);
        (init, tools, created, fetched, (call_id, call))
    })
    .await
    .unwrap();
    let status = child.wait().unwrap();

    let (init, tools, created, fetched, (call_id, call)) = answers;
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26");
    assert!(
        tools["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "quickstart")
    );
    assert_eq!(created["result"]["isError"], false);
    assert_eq!(fetched["result"]["structuredContent"]["name"], "Stdio agent");
    assert!(call_id.starts_with("CALL-"), "make_call over stdio returned no call id");
    assert_eq!(call["result"]["isError"], false, "{call}");
    assert_eq!(call["result"]["structuredContent"]["id"], call_id.as_str());
    assert!(status.success());
}

#[actix_web::test]
async fn a_tool_needs_the_scope_its_route_needs() {
    let mut app = spawn_app().await;
    let org_id = app
        .state
        .auth
        .authenticate(Some(&format!("Bearer {}", app.api_key)))
        .await
        .unwrap()
        .org_id
        .clone();
    let key = thruai::auth::generate_key();
    thruai::store::api_keys::insert(
        &app.state.db,
        thruai::store::api_keys::NewApiKey {
            id: &crate::helpers::unique("KEY-"),
            org_id: &org_id,
            name: "read-only feedback",
            hash: &key.hash,
            display_prefix: &key.display_prefix,
            scopes: &["feedback:read"],
            expires_at: None,
            now: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    app.api_key = key.secret;

    let denied = call(&app, "create_agent", json!({ "name": "nope" })).await;
    let allowed = call(&app, "list_feedback", json!({})).await;

    assert_eq!(denied["isError"], true);
    assert_eq!(denied["structuredContent"]["error"]["code"], "FORBIDDEN");
    assert_eq!(
        denied["structuredContent"]["error"]["details"]["requiredPermission"],
        "agents:write"
    );
    assert_eq!(allowed["isError"], false);
}

#[actix_web::test]
async fn http_client_runs_quickstart_then_make_call_then_get_call_in_sandbox_mode() {
    let app = spawn_app().await;

    let created = call(&app, "quickstart", json!({ "name": "MCP caller", "areaCode": "415" })).await;
    let agent_id = created["structuredContent"]["agent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let placed = call(&app, "make_call", json!({ "agentId": agent_id, "to": "+14155550199" })).await;
    let call_id = placed["structuredContent"]["callId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let fetched = call(&app, "get_call", json!({ "id": call_id })).await;

    assert_eq!(created["isError"], false, "{created}");
    assert_eq!(placed["isError"], false, "{placed}");
    assert!(call_id.starts_with("CALL-"), "{placed}");
    assert_eq!(fetched["isError"], false, "{fetched}");
    assert_eq!(fetched["structuredContent"]["id"], call_id.as_str());
    assert_eq!(fetched["structuredContent"]["agentId"], agent_id.as_str());
}

/// `tools/list` is the actions, one tool each: documents are resources, aliases are not
/// tools of their own, nothing is listed that needs no key (the session has one) or answers
/// only local clients, and the list stays light.
#[actix_web::test]
async fn the_tool_list_holds_actions_only_and_documents_are_resources() {
    let app = spawn_app().await;
    let tools = rpc(&app, "tools/list", json!({})).await;
    let bytes = serde_json::to_vec(&tools["result"]).unwrap().len();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    eprintln!("tools/list: {} tools, {bytes} bytes", names.len());
    for gone in [
        "get_openapi",
        "get_llms_full",
        "get_reference",
        "get_metrics",
        "send_sms_alias",
        "send_sms_legacy",
        "search_numbers_get",
        "provision_account",
        "verify_account",
    ] {
        assert!(!names.contains(&gone), "{gone} is listed");
    }
    assert!(names.contains(&"send_sms") && names.contains(&"search_numbers"));
    // A budget that grows with the API, not with the weight of each tool: 56.3 KB for 87
    // tools when it was first trimmed, about 650 bytes a tool.
    assert!(
        bytes < names.len() * 700,
        "tools/list is {bytes} bytes for {} tools",
        names.len()
    );
    assert!(
        !names.contains(&"get_sandbox_outbox"),
        "local-only debug routes are not tools"
    );
    let resources = rpc(&app, "resources/list", json!({})).await;
    let uris: Vec<&str> = resources["result"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["uri"].as_str())
        .collect();
    for uri in [
        "thruai://openapi",
        "thruai://llms-full",
        "thruai://reference",
        "thruai://metrics",
    ] {
        assert!(uris.contains(&uri), "{uri} missing from {uris:?}");
    }
    let openapi = rpc(&app, "resources/read", json!({ "uri": "thruai://openapi" })).await;
    let content = &openapi["result"]["contents"][0];
    assert_eq!(content["mimeType"], "application/json");
    let doc: Value = serde_json::from_str(content["text"].as_str().unwrap()).unwrap();
    assert!(doc["paths"].is_object());
    let llms = rpc(&app, "resources/read", json!({ "uri": "thruai://llms-full" })).await;
    assert!(
        llms["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ThruAI")
    );
}
