//! The Twilio A2P registry behind the actors' `CarrierRegistry` port: TrustHub customer
//! profiles and trust products, Messaging services, brands and campaigns.

use async_trait::async_trait;
use serde_json::{Value, json};
use thruai_actors::a2p::{
    ports::{CarrierRegistry, PortError},
    state::{CarrierPhase, CarrierStatus, Kind},
};

use super::twilio::{
    TwilioClient, TwilioError,
    a2p::{A2P_TRUST_PRODUCT_POLICY, CreateCampaign, SECONDARY_PROFILE_POLICY, first_error},
};

fn twilio_port_error(e: TwilioError) -> PortError {
    if e.is_transient() {
        PortError::transient(e.to_string())
    } else {
        PortError::permanent(e.to_string())
    }
}

pub struct TwilioRegistry {
    pub client: TwilioClient,
    pub public_base_url: String,
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
