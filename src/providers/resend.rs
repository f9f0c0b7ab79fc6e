//! Resend's HTTP API (PROVIDERS.md §4): `POST /emails` (with `Idempotency-Key`),
//! `GET /emails/{id}`, domains (create, verify, get, delete), received emails, and its
//! webhook events (Standard Webhooks signed, verified by the caller).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use thruai_entities::values::email::DnsRecord;

use super::email::{EmailError, EmailEvent, EmailSender, InboundEmail, OutgoingEmail, ProviderDomain};

pub struct ResendEmail {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    from: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct SentEmail {
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Deserialize)]
struct Domain {
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    records: Vec<Record>,
}

#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    record: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    ttl: Value,
    #[serde(default)]
    priority: Option<u16>,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct Received {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    cc: Option<Vec<String>>,
    #[serde(default)]
    reply_to: Option<Vec<String>>,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    message_id: Option<String>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Value>>,
}

impl From<Domain> for ProviderDomain {
    fn from(d: Domain) -> Self {
        Self {
            id: d.id,
            status: d.status,
            records: d
                .records
                .into_iter()
                .map(|r| DnsRecord {
                    record: r.record,
                    kind: r.kind,
                    name: r.name,
                    value: r.value,
                    priority: r.priority,
                    ttl: match r.ttl {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        _ => "Auto".into(),
                    },
                    status: r.status,
                    required: true,
                })
                .collect(),
        }
    }
}

impl ResendEmail {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: &str, from: String) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            from,
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
        missing: &'static str,
    ) -> Result<T, EmailError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(&self.api_key);
        if let Some(body) = body {
            req = req.json(body);
        }
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        let res = req.send().await.map_err(|e| EmailError::Unavailable(without_url(&e)))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| EmailError::Unavailable(without_url(&e)))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|_| EmailError::Unavailable("unreadable response from Resend".into()));
        }
        let err: ErrorBody = serde_json::from_str(&text).unwrap_or(ErrorBody {
            name: String::new(),
            message: String::new(),
        });
        Err(match (status.as_u16(), err.name.as_str()) {
            (401 | 403, _) | (_, "missing_api_key" | "invalid_api_key" | "restricted_api_key") => EmailError::Auth,
            (429, _) | (_, "rate_limit_exceeded") => EmailError::RateLimited,
            (404, _) | (_, "not_found") => EmailError::NotFound(missing),
            (500.., _) => EmailError::Unavailable(format!("HTTP {status}")),
            _ => EmailError::Rejected(format!("{} {}", err.name, err.message).trim().to_string()),
        })
    }
}

#[async_trait]
impl EmailSender for ResendEmail {
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError> {
        let mut body = json!({
            "from": email.from.as_deref().unwrap_or(&self.from),
            "to": email.to,
            "subject": email.subject,
        });
        let set = |body: &mut Value, key: &str, v: Value| body[key] = v;
        if let Some(text) = &email.text {
            set(&mut body, "text", json!(text));
        }
        if let Some(html) = &email.html {
            set(&mut body, "html", json!(html));
        }
        if !email.cc.is_empty() {
            set(&mut body, "cc", json!(email.cc));
        }
        if !email.bcc.is_empty() {
            set(&mut body, "bcc", json!(email.bcc));
        }
        if let Some(r) = &email.reply_to {
            set(&mut body, "reply_to", json!(r));
        }
        if !email.headers.is_empty() {
            set(&mut body, "headers", json!(email.headers));
        }
        if !email.tags.is_empty() {
            set(&mut body, "tags", json!(email.tags));
        }
        let created: Created = self
            .call(
                reqwest::Method::POST,
                "/emails",
                Some(&body),
                email.idempotency_key.as_deref(),
                "email",
            )
            .await?;
        Ok(created.id)
    }

    async fn sent_message_id(&self, email_id: &str) -> Result<Option<String>, EmailError> {
        let sent: SentEmail = self
            .call(
                reqwest::Method::GET,
                &format!("/emails/{}", seg(email_id)),
                None,
                None,
                "email",
            )
            .await?;
        Ok(sent.message_id)
    }

    async fn create_domain(&self, name: &str, region: &str, receiving: bool) -> Result<ProviderDomain, EmailError> {
        let body = json!({
            "name": name,
            "region": region,
            "capabilities": { "sending": "enabled", "receiving": if receiving { "enabled" } else { "disabled" } },
        });
        let d: Domain = self
            .call(reqwest::Method::POST, "/domains", Some(&body), None, "domain")
            .await?;
        Ok(d.into())
    }

    async fn verify_domain(&self, domain_id: &str) -> Result<ProviderDomain, EmailError> {
        let path = format!("/domains/{}", seg(domain_id));
        let _: Value = self
            .call(reqwest::Method::POST, &format!("{path}/verify"), None, None, "domain")
            .await?;
        let d: Domain = self.call(reqwest::Method::GET, &path, None, None, "domain").await?;
        Ok(d.into())
    }

    async fn delete_domain(&self, domain_id: &str) -> Result<(), EmailError> {
        let _: Value = self
            .call(
                reqwest::Method::DELETE,
                &format!("/domains/{}", seg(domain_id)),
                None,
                None,
                "domain",
            )
            .await?;
        Ok(())
    }

    async fn received_email(&self, email_id: &str) -> Result<InboundEmail, EmailError> {
        let r: Received = self
            .call(
                reqwest::Method::GET,
                &format!("/emails/receiving/{}", seg(email_id)),
                None,
                None,
                "received email",
            )
            .await?;
        let headers = r
            .headers
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect();
        Ok(InboundEmail {
            provider_email_id: r.id.or_else(|| Some(email_id.to_string())),
            from: r.from,
            to: r.to,
            cc: r.cc.unwrap_or_default(),
            reply_to: r.reply_to.unwrap_or_default(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            message_id: r.message_id,
            headers,
        })
    }

    fn is_sandbox(&self) -> bool {
        false
    }

    fn name(&self) -> &'static str {
        "resend"
    }
}

/// One path segment: an id from a webhook is not trusted to be one.
fn seg(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// A Resend webhook body (`{type, created_at, data}`) as an event.
///
/// # Errors
/// When the body is not a Resend event.
pub fn parse_event(body: &[u8]) -> Result<EmailEvent, String> {
    #[derive(Deserialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        data: Value,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("not a Resend event: {e}"))?;
    let data = &env.data;
    let text = |k: &str| data[k].as_str().map(str::to_string);
    let list = |k: &str| -> Vec<String> {
        match &data[k] {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let email_id = || text("email_id").ok_or_else(|| format!("{}: data.email_id is missing", env.kind));
    Ok(match env.kind.as_str() {
        "email.sent" => EmailEvent::Sent { email_id: email_id()? },
        "email.delivered" => EmailEvent::Delivered { email_id: email_id()? },
        "email.delivery_delayed" => EmailEvent::DeliveryDelayed { email_id: email_id()? },
        "email.bounced" => EmailEvent::Bounced {
            email_id: email_id()?,
            to: list("to"),
            reason: data["bounce"]["message"].as_str().map(str::to_string),
        },
        "email.complained" => EmailEvent::Complained {
            email_id: email_id()?,
            to: list("to"),
        },
        "email.failed" => EmailEvent::Failed {
            email_id: email_id()?,
            reason: data["failed"]["reason"].as_str().map(str::to_string),
        },
        "email.received" => EmailEvent::Received { email_id: email_id()? },
        "domain.created" | "domain.updated" => EmailEvent::DomainUpdated {
            domain_id: text("id").ok_or_else(|| format!("{}: data.id is missing", env.kind))?,
        },
        other => EmailEvent::Other {
            kind: other.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_from_resend_bodies() {
        let bounced = br#"{"type":"email.bounced","created_at":"2026-01-01T00:00:00Z","data":{"email_id":"e1","to":["x@y.z"],"bounce":{"message":"mailbox full"}}}"#;
        assert_eq!(
            parse_event(bounced).unwrap(),
            EmailEvent::Bounced {
                email_id: "e1".into(),
                to: vec!["x@y.z".into()],
                reason: Some("mailbox full".into())
            }
        );
        let received = br#"{"type":"email.received","data":{"email_id":"r1","from":"a@b.c","to":["s@d.e"],"subject":"hi","message_id":"<m@x>","cc":[],"bcc":[],"attachments":[],"created_at":"2026-01-01T00:00:00Z"}}"#;
        assert_eq!(
            parse_event(received).unwrap(),
            EmailEvent::Received { email_id: "r1".into() }
        );
        assert!(matches!(
            parse_event(br#"{"type":"email.opened","data":{}}"#).unwrap(),
            EmailEvent::Other { .. }
        ));
        assert!(parse_event(br#"{"type":"email.sent","data":{}}"#).is_err());
        assert!(parse_event(b"garbage").is_err());
    }
}
