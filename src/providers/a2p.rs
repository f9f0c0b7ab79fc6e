//! A2P registries behind the actors' `CarrierRegistry` port: Twilio (TrustHub + Messaging
//! APIs) for organisations with Twilio credentials, else the sandbox registry, which keeps
//! its submissions in the database and reviews them on a configurable timeline. Also the
//! server's implementation of the actors' `A2pPorts`.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use thruai_actors::a2p::{
    ports::{A2pPorts, CarrierRegistry, PortError},
    snapshot::A2pSnapshot,
    state::{Backoff, CarrierPhase, CarrierStatus, Kind, Registration, StatusChange},
};

use super::{
    telephony::twilio_client_with,
    twilio::{
        TwilioClient, TwilioError,
        a2p::{A2P_TRUST_PRODUCT_POLICY, CreateCampaign, SECONDARY_PROFILE_POLICY, first_error},
    },
};
use crate::{config::Settings, crypto::Crypto, store};

/// Put this anywhere in a sandbox submission (e.g. `"companyName": "Acme SANDBOX_REJECT:
/// EIN does not match"`) and the sandbox registry rejects it, with the text after the colon
/// as the reason.
pub const SANDBOX_REJECT: &str = "SANDBOX_REJECT";

fn twilio_port_error(e: TwilioError) -> PortError {
    if e.is_transient() {
        PortError::transient(e.to_string())
    } else {
        PortError::permanent(e.to_string())
    }
}

fn db_error(e: sea_orm::DbErr) -> PortError {
    PortError::transient(format!("database: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Sandbox registry
// ---------------------------------------------------------------------------------------------

pub struct SandboxRegistry {
    db: DatabaseConnection,
    org_id: String,
    brand_review: Duration,
    campaign_review: Duration,
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

// ---------------------------------------------------------------------------------------------
// Twilio registry
// ---------------------------------------------------------------------------------------------

pub struct TwilioRegistry {
    client: TwilioClient,
    public_base_url: String,
}

const PROFILES: &str = "CustomerProfiles";
const TRUST_PRODUCTS: &str = "TrustProducts";

fn text(payload: &Value, path: &[&str]) -> String {
    let mut v = payload;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_default().to_string()
}

impl TwilioRegistry {
    /// The bundle named `key` in `collection`, created (and submitted) when missing.
    async fn bundle(&self, collection: &str, key: &str, email: &str) -> Result<(String, bool), TwilioError> {
        if let Some(b) = self.client.find_bundles(collection, key).await?.into_iter().next() {
            return Ok((b.sid, false));
        }
        let policy = if collection == PROFILES {
            SECONDARY_PROFILE_POLICY
        } else {
            A2P_TRUST_PRODUCT_POLICY
        };
        let b = self.client.create_bundle(collection, key, email, policy, None).await?;
        Ok((b.sid, true))
    }

    async fn submit_brand(&self, key: &str, p: &Value) -> Result<String, TwilioError> {
        let email = text(p, &["email"]);
        let (profile, created) = self.bundle(PROFILES, key, &email).await?;
        if created {
            let business = self
                .client
                .create_end_user(
                    "customer_profile_business_information",
                    &format!("{key}-business"),
                    &json!({
                        "business_name": text(p, &["companyName"]),
                        "business_type": text(p, &["businessType"]),
                        "business_industry": text(p, &["vertical"]),
                        "business_registration_identifier": "EIN",
                        "business_registration_number": text(p, &["ein"]),
                        "business_regions_of_operation": "USA_AND_CANADA",
                        "website_url": text(p, &["website"]),
                        "business_identity": "isv_reseller_or_partner",
                    }),
                )
                .await?;
            self.client.assign_entity(PROFILES, &profile, &business.sid).await?;
            let rep = self
                .client
                .create_end_user(
                    "authorized_representative_1",
                    &format!("{key}-rep"),
                    &json!({
                        "first_name": text(p, &["contact", "firstName"]),
                        "last_name": text(p, &["contact", "lastName"]),
                        "email": text(p, &["contact", "email"]),
                        "phone_number": text(p, &["contact", "phone"]),
                        "business_title": text(p, &["contact", "title"]),
                        "job_position": text(p, &["contact", "jobPosition"]),
                    }),
                )
                .await?;
            self.client.assign_entity(PROFILES, &profile, &rep.sid).await?;
            self.client.submit_bundle(PROFILES, &profile).await?;
        }
        let (product, created) = self.bundle(TRUST_PRODUCTS, key, &email).await?;
        if created {
            let info = self
                .client
                .create_end_user(
                    "us_a2p_messaging_profile_information",
                    &format!("{key}-messaging"),
                    &json!({
                        "company_type": text(p, &["companyType"]).replace('_', "-"),
                        "stock_exchange": text(p, &["stockExchange"]),
                        "stock_ticker": text(p, &["stockTicker"]),
                    }),
                )
                .await?;
            self.client.assign_entity(TRUST_PRODUCTS, &product, &info.sid).await?;
            self.client.assign_entity(TRUST_PRODUCTS, &product, &profile).await?;
            self.client.submit_bundle(TRUST_PRODUCTS, &product).await?;
        }
        let sole = p["brandType"].as_str() == Some("sole_proprietor");
        let brand = self
            .client
            .create_brand_registration(
                &profile,
                &product,
                if sole { "SOLE_PROPRIETOR" } else { "STANDARD" },
                false,
            )
            .await?;
        Ok(brand.sid)
    }

    async fn submit_campaign(&self, key: &str, p: &Value) -> Result<String, TwilioError> {
        let existing = self
            .client
            .list_messaging_services()
            .await?
            .into_iter()
            .find(|s| s.friendly_name.as_deref() == Some(key));
        let service = match existing {
            Some(s) => s.sid,
            None => {
                let base = self.public_base_url.trim_end_matches('/');
                self.client
                    .create_messaging_service(
                        key,
                        Some(&format!("{base}/twilio/sms")),
                        Some(&format!("{base}/twilio/sms-status")),
                    )
                    .await?
                    .sid
            }
        };
        let samples = p["messageSamples"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        let opt = |k: &str| p[k].as_str().map(str::to_owned);
        let campaign = self
            .client
            .create_us_app_to_person(
                &service,
                &CreateCampaign {
                    brand_registration_sid: text(p, &["brandCarrierSid"]),
                    description: text(p, &["description"]),
                    message_flow: text(p, &["messageFlow"]),
                    message_samples: samples,
                    use_case: text(p, &["useCase"]),
                    has_embedded_links: p["hasEmbeddedLinks"].as_bool().unwrap_or(false),
                    has_embedded_phone: p["hasEmbeddedPhone"].as_bool().unwrap_or(false),
                    opt_in_message: opt("optInMessage"),
                    opt_out_message: opt("optOutMessage"),
                    help_message: opt("helpMessage"),
                },
            )
            .await?;
        Ok(format!("{service}/{}", campaign.sid))
    }

    /// Adds a number to the campaign's messaging service (`carrier_ref` is `MG…/QE…`).
    ///
    /// # Errors
    /// Twilio's refusal.
    pub async fn link_number(&self, carrier_ref: &str, phone_number_sid: &str) -> Result<(), TwilioError> {
        let service = carrier_ref.split('/').next().unwrap_or_default();
        match self.client.add_service_number(service, phone_number_sid).await {
            // 21710: the number is already in this service.
            Err(TwilioError::Api { code: Some(21710), .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl CarrierRegistry for TwilioRegistry {
    async fn submit(&self, kind: Kind, key: &str, payload: &Value) -> Result<String, PortError> {
        match kind {
            Kind::Brand => self.submit_brand(key, payload).await,
            Kind::Campaign => self.submit_campaign(key, payload).await,
        }
        .map_err(twilio_port_error)
    }

    async fn lookup(&self, kind: Kind, key: &str) -> Result<Option<String>, PortError> {
        let found = match kind {
            Kind::Brand => {
                let Some(profile) = self
                    .client
                    .find_bundles(PROFILES, key)
                    .await
                    .map_err(twilio_port_error)?
                    .into_iter()
                    .next()
                else {
                    return Ok(None);
                };
                self.client
                    .list_brand_registrations()
                    .await
                    .map_err(twilio_port_error)?
                    .into_iter()
                    .find(|b| b.customer_profile_bundle_sid.as_deref() == Some(profile.sid.as_str()))
                    .map(|b| b.sid)
            }
            Kind::Campaign => {
                let services = self.client.list_messaging_services().await.map_err(twilio_port_error)?;
                let Some(service) = services.into_iter().find(|s| s.friendly_name.as_deref() == Some(key)) else {
                    return Ok(None);
                };
                self.client
                    .list_us_app_to_person(&service.sid)
                    .await
                    .map_err(twilio_port_error)?
                    .into_iter()
                    .next()
                    .map(|c| format!("{}/{}", service.sid, c.sid))
            }
        };
        Ok(found)
    }

    async fn poll(&self, kind: Kind, carrier_ref: &str) -> Result<CarrierStatus, PortError> {
        let (raw, reason) = match kind {
            Kind::Brand => {
                let b = self
                    .client
                    .fetch_brand_registration(carrier_ref)
                    .await
                    .map_err(twilio_port_error)?;
                let reason = first_error(&b.errors).or(b.failure_reason);
                (b.status, reason)
            }
            Kind::Campaign => {
                let (service, sid) = carrier_ref.split_once('/').unwrap_or(("", carrier_ref));
                let c = self
                    .client
                    .fetch_us_app_to_person(service, sid)
                    .await
                    .map_err(twilio_port_error)?;
                (c.campaign_status.unwrap_or_default(), first_error(&c.errors))
            }
        };
        let phase = match raw.to_ascii_uppercase().as_str() {
            "IN_REVIEW" | "IN_PROGRESS" => CarrierPhase::InReview,
            "APPROVED" | "VERIFIED" => CarrierPhase::Approved,
            "FAILED" | "SUSPENDED" | "DELETION_PENDING" | "DELETION_FAILED" => CarrierPhase::Rejected,
            // PENDING, and anything Twilio adds later, counts as pending.
            _ => CarrierPhase::Pending,
        };
        Ok(CarrierStatus {
            phase,
            substatus: if raw.is_empty() {
                "PENDING".into()
            } else {
                raw.to_ascii_uppercase()
            },
            reason,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Ports
// ---------------------------------------------------------------------------------------------

/// What the A2P actors get from the server: the database, settings and clients.
pub struct ServerA2pPorts {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    pub crypto: Crypto,
}

impl ServerA2pPorts {
    /// The organisation's Twilio client (BYOC, then the platform account), if any.
    ///
    /// # Errors
    /// When the stored credentials cannot be read.
    pub async fn twilio(&self, org_id: &str) -> Result<Option<TwilioRegistry>, PortError> {
        let public_base_url = self.settings.server.public_base_url.clone();
        if let Some(creds) = store::telephony::credentials(&self.db, org_id)
            .await
            .map_err(db_error)?
        {
            let token = self
                .crypto
                .decrypt(&creds.auth_token_ciphertext)
                .await
                .map_err(|e| PortError::permanent(e.to_string()))?;
            let client = twilio_client_with(&self.http, &self.settings, &creds.account_sid, &token);
            return Ok(Some(TwilioRegistry {
                client,
                public_base_url,
            }));
        }
        let platform = &self.settings.providers.twilio;
        if platform.configured() {
            let client = twilio_client_with(&self.http, &self.settings, &platform.account_sid, &platform.auth_token);
            return Ok(Some(TwilioRegistry {
                client,
                public_base_url,
            }));
        }
        Ok(None)
    }
}

/// Writes the `a2p.*.status_changed` event of `change`; pass the transaction of the change.
///
/// # Errors
/// Database failures.
pub async fn record_change(
    db: &impl sea_orm::ConnectionTrait,
    reg: &Registration,
    c: &StatusChange,
) -> Result<(), sea_orm::DbErr> {
    let id_field = if reg.kind == Kind::Brand {
        "brandId"
    } else {
        "campaignId"
    };
    store::outbox::record(
        db,
        &reg.org_id,
        event_type(reg.kind),
        json!({
            id_field: reg.id,
            "previousStatus": c.from.as_str(),
            "status": c.to.as_str(),
            "substatus": c.substatus,
            "rejectionReason": c.reason,
            "carrierSid": reg.carrier_ref,
            "changedAt": Utc::now(),
        }),
    )
    .await
    .map(|_| ())
}

pub fn event_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Brand => "a2p.brand.status_changed",
        Kind::Campaign => "a2p.campaign.status_changed",
    }
}

#[async_trait]
impl A2pPorts for ServerA2pPorts {
    /// The registration's row and its status change, in one transaction.
    async fn persist(&self, reg: &Registration, change: Option<&StatusChange>) -> Result<(), PortError> {
        let write = async {
            let txn = store::begin(&self.db).await?;
            store::a2p::save_registration(&txn, reg).await?;
            if let Some(c) = change {
                record_change(&txn, reg, c).await?;
            }
            txn.commit().await
        };
        write.await.map_err(db_error)
    }

    async fn registry(&self, org_id: &str) -> Result<Arc<dyn CarrierRegistry>, PortError> {
        if let Some(twilio) = self.twilio(org_id).await? {
            return Ok(Arc::new(twilio));
        }
        let cfg = &self.settings.a2p;
        Ok(Arc::new(SandboxRegistry {
            db: self.db.clone(),
            org_id: org_id.to_string(),
            brand_review: Duration::from_millis(cfg.sandbox_brand_review_ms),
            campaign_review: Duration::from_millis(cfg.sandbox_campaign_review_ms),
        }))
    }

    async fn load_active(&self) -> Result<Vec<Registration>, PortError> {
        let snapshots = store::a2p::active_snapshots(&self.db).await.map_err(db_error)?;
        Ok(snapshots
            .iter()
            .filter_map(|s| match A2pSnapshot::restore(s) {
                Ok(r) => Some(r),
                Err(e) => {
                    // Quarantined: one unreadable snapshot must not block the others.
                    tracing::error!(error = %e, "unreadable A2P snapshot skipped");
                    None
                }
            })
            .collect())
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.settings.a2p.poll_initial_ms),
            max: Duration::from_millis(self.settings.a2p.poll_max_ms),
        }
    }

    fn failpoint(&self, name: &str) {
        if self.settings.testing.failpoint == name {
            tracing::error!(failpoint = name, "aborting at failpoint");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
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
