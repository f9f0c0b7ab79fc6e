//! `thruai mcp`: the MCP server over stdio. Each JSON-RPC line read on stdin is forwarded
//! to a running server's `POST /mcp` with `THRUAI_API_KEY`; answers are written one per
//! line on stdout, which carries nothing else (logs go to stderr).

use serde_json::{Value, json};
use std::io::{BufRead, Write};

/// Where the server is when `THRUAI_BASE_URL` is not set.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

fn rpc_error(id: Value, code: i64, message: String, data: Option<Value>) -> Value {
    let mut error = json!({ "code": code, "message": message });
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({ "jsonrpc": "2.0", "id": id, "error": error })
}

/// Forwards one line; `None` when there is nothing to answer (notifications).
async fn forward(client: &reqwest::Client, url: &str, key: &str, line: &str) -> Option<Value> {
    let parsed: Result<Value, _> = serde_json::from_str(line);
    let id = match &parsed {
        Ok(v) => v.get("id").cloned(),
        Err(e) => return Some(rpc_error(Value::Null, -32700, format!("Parse error: {e}"), None)),
    };
    let res = client
        .post(url)
        .bearer_auth(key)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(line.to_string())
        .send()
        .await;
    let res = match res {
        Ok(res) => res,
        Err(e) => {
            tracing::error!(error = %e, "MCP server unreachable");
            return id.map(|id| rpc_error(id, -32603, format!("ThruAI server unreachable at {url}: {e}"), None));
        }
    };
    let status = res.status();
    let bytes = res.bytes().await.unwrap_or_default();
    if status == reqwest::StatusCode::ACCEPTED || bytes.is_empty() {
        return None;
    }
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if body["jsonrpc"] == "2.0" || body.is_array() {
        return Some(body);
    }
    // An HTTP-level refusal (401, 403, 429) in the API envelope.
    let error = &body["error"];
    let message = format!(
        "{}: {}",
        error["code"].as_str().unwrap_or("HTTP_ERROR"),
        error["message"].as_str().unwrap_or(status.as_str())
    );
    id.map(|id| rpc_error(id, -32001, message, Some(error.clone())))
}

/// Runs until stdin closes.
///
/// # Errors
/// When `THRUAI_API_KEY` is missing or stdout cannot be written.
pub async fn run() -> anyhow::Result<()> {
    let key = std::env::var("THRUAI_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| anyhow::anyhow!("THRUAI_API_KEY is not set: create a key with POST /api/v1/public/accounts/provision and /accounts/verify"))?;
    let base = std::env::var("THRUAI_BASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let url = format!("{}/mcp", base.trim_end_matches('/'));
    tracing::info!(%url, "MCP stdio bridge started");
    let client = reqwest::Client::new();
    // Stdin is read on its own thread (blocking reads), one line per message.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(answer) = forward(&client, &url, &key, line).await {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{answer}")?;
            stdout.flush()?;
        }
    }
    Ok(())
}
