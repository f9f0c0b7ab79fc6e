//! The versioned snapshot of a webhook actor: the endpoint it delivers to and its health,
//! as loaded from the store at (re)start and reported to operators.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a webhook actor needs to know about its subscription.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSnapshot {
    pub webhook_id: String,
    pub org_id: String,
    pub url: String,
    /// `whsec_…`; never printed by `Debug`.
    pub secret: String,
    pub active: bool,
    pub failing_since: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for EndpointSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointSnapshot")
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("active", &self.active)
            .field("failing_since", &self.failing_since)
            .finish_non_exhaustive()
    }
}

/// The actor as an operator sees it (no secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum WebhookSnapshot {
    #[serde(rename = "1")]
    V1(WebhookSnapshotV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSnapshotV1 {
    pub webhook_id: String,
    pub url: String,
    pub active: bool,
    pub failing_since: Option<DateTime<Utc>>,
    /// Attempts currently in flight.
    pub in_flight: usize,
    /// Attempts made since the actor started, by outcome.
    pub sent: u64,
    pub failed: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_tagged_and_secrets_stay_out_of_debug() {
        let snap = WebhookSnapshot::V1(WebhookSnapshotV1 {
            webhook_id: "WHK-1".into(),
            url: "https://example.com".into(),
            active: true,
            failing_since: None,
            in_flight: 0,
            sent: 1,
            failed: 0,
        });
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["v"], "1");
        assert_eq!(serde_json::from_value::<WebhookSnapshot>(json).unwrap(), snap);
        let endpoint = EndpointSnapshot {
            webhook_id: "WHK-1".into(),
            org_id: "ORG-1".into(),
            url: "https://example.com".into(),
            secret: "whsec_c2VjcmV0".into(),
            active: true,
            failing_since: None,
        };
        assert!(!format!("{endpoint:?}").contains("whsec_"));
    }
}
