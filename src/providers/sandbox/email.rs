//! The sandbox email provider: behaves like Resend end to end on this machine. Sent messages
//! are kept in `sandbox_emails` (the loopback outbox); a domain gets Resend's records and
//! verifies once they are "published" (`POST /_debug/sandbox/email-domains/:name/publish`);
//! delivery is reported at once, except to Resend's test addresses `bounced@resend.dev` and
//! `complained@resend.dev` and to any address under the reserved `.invalid` domain, which
//! bounce (or complain) as they would.

use async_trait::async_trait;
use base64::Engine as _;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::json;
use sha2::{Digest, Sha256};
use thruai_entities::{sandbox_email, sandbox_email_domain, values::email::DnsRecord};

use crate::{
    domain::ids,
    providers::email::{EmailError, EmailEvent, EmailSender, InboundEmail, OutgoingEmail, ProviderDomain},
    store,
};

pub struct SandboxEmail {
    db: DatabaseConnection,
    from: String,
}

impl SandboxEmail {
    pub fn new(db: DatabaseConnection, from: String) -> Self {
        Self { db, from }
    }
}

/// How the sandbox treats a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    Bounced,
    Complained,
}

/// Resend's test addresses (labels after `+` allowed) and the reserved `.invalid` TLD.
pub fn fate(address: &str) -> Fate {
    let address = crate::domain::email::bare_address(address).to_ascii_lowercase();
    let (local, domain) = address.rsplit_once('@').unwrap_or((&address, ""));
    let local = local.split('+').next().unwrap_or(local);
    if domain == "invalid" || domain.ends_with(".invalid") || (domain == "resend.dev" && local == "bounced") {
        Fate::Bounced
    } else if domain == "resend.dev" && local == "complained" {
        Fate::Complained
    } else {
        Fate::Delivered
    }
}

/// The records Resend asks for, for `name` in `region`.
pub fn records_for(name: &str, region: &str, receiving: bool, status: &str) -> Vec<DnsRecord> {
    let key = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(format!("dkim:{name}")));
    let record = |record: &str, kind: &str, host: String, value: String, priority: Option<u16>| DnsRecord {
        record: record.into(),
        kind: kind.into(),
        name: host,
        value,
        priority,
        ttl: "Auto".into(),
        status: status.into(),
        required: true,
    };
    let mut out = vec![
        record(
            "DKIM",
            "TXT",
            format!("resend._domainkey.{name}"),
            format!("p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ{key}"),
            None,
        ),
        record(
            "SPF",
            "MX",
            format!("send.{name}"),
            format!("feedback-smtp.{region}.amazonses.com"),
            Some(10),
        ),
        record(
            "SPF",
            "TXT",
            format!("send.{name}"),
            "\"v=spf1 include:amazonses.com ~all\"".into(),
            None,
        ),
    ];
    if receiving {
        out.push(record(
            "Receiving",
            "MX",
            name.to_string(),
            format!("inbound-smtp.{region}.amazonaws.com"),
            Some(10),
        ));
    }
    out
}

#[async_trait]
impl EmailSender for SandboxEmail {
    async fn send(&self, email: OutgoingEmail) -> Result<String, EmailError> {
        let provider_id = uuid::Uuid::new_v4().to_string();
        let mut headers = email.headers.clone();
        if let Some(r) = &email.reply_to {
            headers.insert("Reply-To".into(), r.clone());
        }
        if !email.cc.is_empty() {
            headers.insert("Cc".into(), email.cc.join(", "));
        }
        let from = email.from.clone().unwrap_or_else(|| self.from.clone());
        let now = Utc::now();
        for to in email.recipients() {
            store::sandbox_emails::insert(
                &self.db,
                sandbox_email::Model {
                    id: ids::new_id(ids::EMAIL),
                    to_address: crate::domain::email::bare_address(to).to_ascii_lowercase(),
                    from_address: from.clone(),
                    subject: email.subject.clone(),
                    text_body: email.text.clone().unwrap_or_default(),
                    html_body: email.html.clone(),
                    provider_id: Some(provider_id.clone()),
                    headers: Some(json!(headers)),
                    created_at: now,
                },
            )
            .await?;
        }
        Ok(provider_id)
    }

    async fn sent_message_id(&self, _email_id: &str) -> Result<Option<String>, EmailError> {
        // The sandbox keeps the Message-ID it was given.
        Ok(None)
    }

    async fn create_domain(&self, name: &str, region: &str, receiving: bool) -> Result<ProviderDomain, EmailError> {
        let id = uuid::Uuid::new_v4().to_string();
        store::sandbox_emails::insert_domain(
            &self.db,
            sandbox_email_domain::Model {
                id: id.clone(),
                name: name.to_string(),
                region: region.to_string(),
                published: false,
                created_at: Utc::now(),
            },
        )
        .await?;
        Ok(ProviderDomain {
            id,
            status: "not_started".into(),
            records: records_for(name, region, receiving, "not_started"),
        })
    }

    async fn verify_domain(&self, domain_id: &str) -> Result<ProviderDomain, EmailError> {
        let d = store::sandbox_emails::find_domain(&self.db, domain_id)
            .await?
            .ok_or(EmailError::NotFound("domain"))?;
        let status = if d.published { "verified" } else { "pending" };
        Ok(ProviderDomain {
            id: d.id,
            status: status.into(),
            records: records_for(&d.name, &d.region, true, status),
        })
    }

    async fn delete_domain(&self, domain_id: &str) -> Result<(), EmailError> {
        if store::sandbox_emails::delete_domain(&self.db, domain_id).await? {
            Ok(())
        } else {
            Err(EmailError::NotFound("domain"))
        }
    }

    async fn received_email(&self, _email_id: &str) -> Result<InboundEmail, EmailError> {
        // Inbound mail reaches the sandbox through its simulator, body and all.
        Err(EmailError::NotFound("received email"))
    }

    fn simulated_events(&self, email_id: &str, email: &OutgoingEmail) -> Vec<EmailEvent> {
        let of = |wanted: Fate| -> Vec<String> {
            email
                .recipients()
                .filter(|r| fate(r) == wanted)
                .map(|r| crate::domain::email::bare_address(r).to_ascii_lowercase())
                .collect()
        };
        let email_id = email_id.to_string();
        let mut events = vec![EmailEvent::Sent {
            email_id: email_id.clone(),
        }];
        let bounced = of(Fate::Bounced);
        if bounced.is_empty() {
            events.push(EmailEvent::Delivered {
                email_id: email_id.clone(),
            });
        } else {
            events.push(EmailEvent::Bounced {
                email_id: email_id.clone(),
                to: bounced,
                reason: Some("sandbox: the address does not exist (test address)".into()),
            });
        }
        let complained = of(Fate::Complained);
        if !complained.is_empty() {
            events.push(EmailEvent::Complained {
                email_id,
                to: complained,
            });
        }
        events
    }

    fn is_sandbox(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "sandbox"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_addresses_have_their_fate() {
        assert_eq!(fate("bounced@resend.dev"), Fate::Bounced);
        assert_eq!(fate("Bounced+x@Resend.dev"), Fate::Bounced);
        assert_eq!(fate("Ann <ann@nowhere.invalid>"), Fate::Bounced);
        assert_eq!(fate("complained@resend.dev"), Fate::Complained);
        assert_eq!(fate("delivered@resend.dev"), Fate::Delivered);
        assert_eq!(fate("ann@example.com"), Fate::Delivered);
    }

    #[test]
    fn records_are_resends() {
        let r = records_for("mail.example.com", "us-east-1", true, "not_started");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].name, "resend._domainkey.mail.example.com");
        assert_eq!(r[1].value, "feedback-smtp.us-east-1.amazonses.com");
        assert_eq!(r[3].record, "Receiving");
        assert_eq!(records_for("a.b", "eu-west-1", false, "pending").len(), 3);
    }
}
