//! The persisted form of an A2P registration, versioned: old versions are upgraded
//! explicitly on restore, never papered over with defaults.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::{Intent, Kind, Phase, Registration};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "v")]
pub enum A2pSnapshot {
    #[serde(rename = "1")]
    V1(SnapshotV1),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotV1 {
    pub id: String,
    pub org_id: String,
    pub kind: Kind,
    pub phase: Phase,
    pub substatus: Option<String>,
    pub carrier_ref: Option<String>,
    pub intent: Option<Intent>,
    pub rejection_reason: Option<String>,
    pub payload: Value,
    pub polls: u32,
}

impl A2pSnapshot {
    pub fn of(r: &Registration) -> Self {
        Self::V1(SnapshotV1 {
            id: r.id.clone(),
            org_id: r.org_id.clone(),
            kind: r.kind,
            phase: r.phase,
            substatus: r.substatus.clone(),
            carrier_ref: r.carrier_ref.clone(),
            intent: r.intent.clone(),
            rejection_reason: r.rejection_reason.clone(),
            payload: r.payload.clone(),
            polls: r.polls,
        })
    }

    pub fn to_json(r: &Registration) -> Value {
        serde_json::to_value(Self::of(r)).unwrap_or(Value::Null)
    }

    /// # Errors
    /// When the JSON is no known snapshot version.
    pub fn restore(json: &Value) -> Result<Registration, serde_json::Error> {
        let Self::V1(s) = serde_json::from_value(json.clone())?;
        Ok(Registration {
            id: s.id,
            org_id: s.org_id,
            kind: s.kind,
            phase: s.phase,
            substatus: s.substatus,
            carrier_ref: s.carrier_ref,
            intent: s.intent,
            rejection_reason: s.rejection_reason,
            payload: s.payload,
            polls: s.polls,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_names_its_version() {
        let mut r = Registration::new("CMP-1", "ORG-1", Kind::Campaign, json!({"useCase": "MIXED"}));
        r.intent = Some(Intent {
            key: "k".into(),
            attempts: 1,
        });

        let json = A2pSnapshot::to_json(&r);

        assert_eq!(json["v"], "1");
        assert_eq!(A2pSnapshot::restore(&json).unwrap(), r);
        assert!(A2pSnapshot::restore(&json!({"v": "9"})).is_err());
    }
}
