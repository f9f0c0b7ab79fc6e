//! The JSON columns of the email domain: a domain's DNS records, an agent's mailbox and a
//! message's tags.

use sea_orm::FromJsonQueryResult;
use serde::{Deserialize, Serialize};

use super::tolerant_json;

/// One DNS record a domain needs, as a person pastes it into a registrar.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    /// What it is for: `SPF`, `DKIM`, `Receiving` (MX for inbound mail) or `DMARC`.
    pub record: String,
    /// `TXT`, `MX` or `CNAME`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The host, fully qualified (`send.mail.example.com`).
    pub name: String,
    pub value: String,
    /// MX only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// `Auto` or seconds.
    pub ttl: String,
    /// `not_started`, `pending`, `verified`, `failed` or `optional` (recommended, not required).
    pub status: String,
    /// Needed for sending or receiving (DMARC is recommended only).
    pub required: bool,
}

/// A domain's records, in the order they are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromJsonQueryResult)]
pub struct DnsRecords(pub Vec<DnsRecord>);

impl Serialize for DnsRecords {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DnsRecords {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(Self(serde_json::from_value(value).unwrap_or_default()))
    }
}

/// An agent's email identity on one of the organisation's domains.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromJsonQueryResult, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Mailbox {
    /// `EDM-…`
    #[serde(default)]
    pub domain_id: String,
    /// `sam@mail.example.com`
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Answers inbound mail through its language model (`true`), or only records it.
    #[serde(default)]
    pub auto_reply: bool,
}

tolerant_json!(Mailbox);

/// A tag on a sent message (`{name, value}`, as Resend takes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailTag {
    pub name: String,
    pub value: String,
}

/// A message's tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromJsonQueryResult)]
pub struct EmailTags(pub Vec<EmailTag>);

impl Serialize for EmailTags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for EmailTags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(Self(serde_json::from_value(value).unwrap_or_default()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stored_shapes_read_tolerantly() {
        let m: Mailbox = serde_json::from_value(json!({"address": "a@b.c", "extra": 1})).unwrap();
        assert_eq!(m.address, "a@b.c");
        assert!(!m.auto_reply);
        let bad: Mailbox = serde_json::from_value(json!("nope")).unwrap();
        assert_eq!(bad, Mailbox::default());
        let r: DnsRecords = serde_json::from_value(json!(null)).unwrap();
        assert!(r.0.is_empty());
        let t: EmailTags = serde_json::from_value(json!([{"name": "a", "value": "b"}])).unwrap();
        assert_eq!(t.0[0].value, "b");
    }
}
