//! The sandbox A2P registry: keeps its submissions in the database and reviews them on a
//! configurable timeline; a submission carrying [`SANDBOX_REJECT`] is rejected.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use thruai_actors::a2p::{
    ports::{CarrierRegistry, PortError},
    state::{CarrierPhase, CarrierStatus, Kind},
};

use crate::store;

/// Put this anywhere in a sandbox submission (e.g. `"companyName": "Acme SANDBOX_REJECT:
/// EIN does not match"`) and the sandbox registry rejects it, with the text after the colon
/// as the reason.
pub const SANDBOX_REJECT: &str = "SANDBOX_REJECT";

fn db_error(e: sea_orm::DbErr) -> PortError {
    PortError::transient(format!("database: {e}"))
}

pub struct SandboxRegistry {
    pub db: DatabaseConnection,
    pub org_id: String,
    pub brand_review: Duration,
    pub campaign_review: Duration,
}

/// The rejection asked for by a submission, if any.
fn requested_rejection(payload: &Value, kind: Kind) -> Option<String> {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => s.find(SANDBOX_REJECT).map(|at| {
                let rest = s[at + SANDBOX_REJECT.len()..].trim_start_matches([':', ' ']).trim();
                rest.to_string()
            }),
            Value::Array(a) => a.iter().find_map(find),
            Value::Object(o) => o.values().find_map(find),
            _ => None,
        }
    }
    find(payload).map(|reason| {
        if !reason.is_empty() {
            reason
        } else if kind == Kind::Brand {
            "TCR could not verify the business identity: the legal name and EIN do not match".into()
        } else {
            "Message samples do not match the declared use case".into()
        }
    })
}

#[async_trait]
impl CarrierRegistry for SandboxRegistry {
    async fn submit(&self, kind: Kind, key: &str, payload: &Value) -> Result<String, PortError> {
        let name = payload["companyName"]
            .as_str()
            .or_else(|| payload["description"].as_str())
            .unwrap_or("registration");
        let review = if kind == Kind::Brand {
            self.brand_review
        } else {
            self.campaign_review
        };
        let row = store::a2p::sandbox_submit(
            &self.db,
            store::a2p::SandboxSubmission {
                org_id: &self.org_id,
                kind: kind.as_str(),
                key,
                name,
                reject_reason: requested_rejection(payload, kind),
                review_ms: i64::try_from(review.as_millis()).unwrap_or(i64::MAX),
            },
        )
        .await
        .map_err(db_error)?;
        Ok(row.sid)
    }

    async fn lookup(&self, _kind: Kind, key: &str) -> Result<Option<String>, PortError> {
        Ok(store::a2p::sandbox_by_key(&self.db, key)
            .await
            .map_err(db_error)?
            .map(|r| r.sid))
    }

    async fn poll(&self, kind: Kind, carrier_ref: &str) -> Result<CarrierStatus, PortError> {
        let row = store::a2p::sandbox_find(&self.db, &self.org_id, carrier_ref)
            .await
            .map_err(db_error)?
            .ok_or_else(|| PortError::permanent(format!("no sandbox registration {carrier_ref}")))?;
        let elapsed = (Utc::now() - row.created_at).num_milliseconds();
        let (phase, sub) = if elapsed < row.review_ms / 10 {
            (CarrierPhase::Pending, "PENDING")
        } else if elapsed < row.review_ms {
            (
                CarrierPhase::InReview,
                if kind == Kind::Brand {
                    "IN_REVIEW"
                } else {
                    "IN_PROGRESS"
                },
            )
        } else if row.reject_reason.is_some() {
            (CarrierPhase::Rejected, "FAILED")
        } else {
            (
                CarrierPhase::Approved,
                if kind == Kind::Brand { "APPROVED" } else { "VERIFIED" },
            )
        };
        Ok(CarrierStatus {
            phase,
            substatus: sub.into(),
            reason: (phase == CarrierPhase::Rejected)
                .then(|| row.reject_reason.clone())
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_magic_value_asks_for_a_rejection_with_its_reason() {
        let custom = json!({"companyName": "Acme SANDBOX_REJECT: EIN does not match"});
        let plain = json!({"x": ["SANDBOX_REJECT"]});

        assert_eq!(
            requested_rejection(&custom, Kind::Brand).as_deref(),
            Some("EIN does not match")
        );
        assert!(
            requested_rejection(&plain, Kind::Campaign)
                .unwrap()
                .contains("use case")
        );
        assert_eq!(requested_rejection(&json!({"companyName": "Acme"}), Kind::Brand), None);
    }
}
