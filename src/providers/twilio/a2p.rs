//! Twilio's A2P 10DLC APIs (`PROVIDERS.md` §2): TrustHub customer profiles and trust
//! products, brand registrations, messaging services, US A2P campaigns and their numbers.
//! Same conventions as the 2010 API (form in, JSON out, Basic auth), on their own hosts.

use reqwest::Method;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

use super::{RetryPolicy, TwilioClient, TwilioError, check_sid, decode, push_opt};

pub const DEFAULT_MESSAGING_BASE: &str = "https://messaging.twilio.com";
pub const DEFAULT_TRUSTHUB_BASE: &str = "https://trusthub.twilio.com";
/// Policy of secondary (ISV customer) profiles.
pub const SECONDARY_PROFILE_POLICY: &str = "RNdfbf3fae0e1107f8aded0e7cead80bf5";
/// Policy of A2P messaging-profile trust products.
pub const A2P_TRUST_PRODUCT_POLICY: &str = "RNb0d4771c2c98518d916a3d4cd70a8f8b";

/// A TrustHub bundle (customer profile or trust product, `BU…`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Bundle {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
    /// `draft`, `pending-review`, `in-review`, `twilio-rejected`, `twilio-approved`.
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Sid {
    pub sid: String,
}

/// `BN…`: a brand registration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BrandRegistration {
    pub sid: String,
    #[serde(default)]
    pub customer_profile_bundle_sid: Option<String>,
    #[serde(default)]
    pub a2p_profile_bundle_sid: Option<String>,
    /// `PENDING`, `APPROVED`, `FAILED`, `IN_REVIEW`, `SUSPENDED`, `DELETION_PENDING`, …
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub errors: Vec<Value>,
    #[serde(default)]
    pub tcr_id: Option<String>,
}

/// `MG…`: a messaging service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Service {
    pub sid: String,
    #[serde(default)]
    pub friendly_name: Option<String>,
}

/// `QE…`: a US A2P campaign.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UsAppToPerson {
    pub sid: String,
    #[serde(default)]
    pub brand_registration_sid: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// `PENDING`, `IN_PROGRESS`, `VERIFIED`, `FAILED` (treat anything else as pending).
    #[serde(default)]
    pub campaign_status: Option<String>,
    #[serde(default)]
    pub errors: Vec<Value>,
}

/// The fields of `POST /v1/Services/{MG}/Compliance/Usa2p`.
#[derive(Debug, Clone, Default)]
pub struct CreateCampaign {
    pub brand_registration_sid: String,
    pub description: String,
    pub message_flow: String,
    pub message_samples: Vec<String>,
    pub use_case: String,
    pub has_embedded_links: bool,
    pub has_embedded_phone: bool,
    pub opt_in_message: Option<String>,
    pub opt_out_message: Option<String>,
    pub help_message: Option<String>,
}

/// The first error text of a v1 `errors[]` array.
pub fn first_error(errors: &[Value]) -> Option<String> {
    errors.iter().find_map(|e| {
        e.get("description")
            .or_else(|| e.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| e.as_str().map(str::to_owned))
    })
}

impl TwilioClient {
    fn v1_url(&self, base: &str, segments: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        let mut url = Url::parse(base)
            .map_err(|e| TwilioError::Unavailable(format!("invalid Twilio v1 host configuration: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| TwilioError::Unavailable("invalid Twilio v1 host configuration".to_owned()))?
            .pop_if_empty()
            .push("v1")
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    async fn v1_post<T: DeserializeOwned>(&self, url: Url, form: &[(String, String)]) -> Result<T, TwilioError> {
        self.post_json(url, form).await
    }

    /// First page (up to 1000 items) of a v1 list under `key`.
    async fn v1_list<T: DeserializeOwned>(&self, url: Url, key: &str) -> Result<Vec<T>, TwilioError> {
        let body = self.execute(Method::GET, url, None, RetryPolicy::Safe).await?;
        let mut page: serde_json::Map<String, Value> = decode(&body)?;
        match page.remove(key) {
            Some(v @ Value::Array(_)) => {
                serde_json::from_value(v).map_err(|e| TwilioError::Decode(format!("{key}: {e}")))
            }
            _ => Ok(Vec::new()),
        }
    }

    fn trusthub(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        self.v1_url(&self.trusthub_base, segments, query)
    }

    fn messaging(&self, segments: &[&str], query: &[(String, String)]) -> Result<Url, TwilioError> {
        self.v1_url(&self.messaging_base, segments, query)
    }

    /// `POST /v1/CustomerProfiles` or `/v1/TrustProducts` (`collection`).
    pub async fn create_bundle(
        &self,
        collection: &str,
        friendly_name: &str,
        email: &str,
        policy_sid: &str,
        status_callback: Option<&str>,
    ) -> Result<Bundle, TwilioError> {
        let mut form = vec![
            ("FriendlyName".to_owned(), friendly_name.to_owned()),
            ("Email".to_owned(), email.to_owned()),
            ("PolicySid".to_owned(), policy_sid.to_owned()),
        ];
        push_opt(&mut form, "StatusCallback", status_callback);
        self.v1_post(self.trusthub(&[collection], &[])?, &form).await
    }

    /// Bundles of `collection` named `friendly_name`.
    pub async fn find_bundles(&self, collection: &str, friendly_name: &str) -> Result<Vec<Bundle>, TwilioError> {
        let query = vec![
            ("FriendlyName".to_owned(), friendly_name.to_owned()),
            ("PageSize".to_owned(), "50".to_owned()),
        ];
        self.v1_list(self.trusthub(&[collection], &query)?, "results").await
    }

    /// `POST /v1/EndUsers` with `Attributes` as a JSON string.
    pub async fn create_end_user(
        &self,
        kind: &str,
        friendly_name: &str,
        attributes: &Value,
    ) -> Result<Sid, TwilioError> {
        let form = vec![
            ("Type".to_owned(), kind.to_owned()),
            ("FriendlyName".to_owned(), friendly_name.to_owned()),
            ("Attributes".to_owned(), attributes.to_string()),
        ];
        self.v1_post(self.trusthub(&["EndUsers"], &[])?, &form).await
    }

    /// `POST /v1/{collection}/{BU}/EntityAssignments`.
    pub async fn assign_entity(
        &self,
        collection: &str,
        bundle_sid: &str,
        object_sid: &str,
    ) -> Result<Sid, TwilioError> {
        check_sid(bundle_sid)?;
        let form = vec![("ObjectSid".to_owned(), object_sid.to_owned())];
        self.v1_post(
            self.trusthub(&[collection, bundle_sid, "EntityAssignments"], &[])?,
            &form,
        )
        .await
    }

    /// Submits a bundle for review (`Status=pending-review`).
    pub async fn submit_bundle(&self, collection: &str, bundle_sid: &str) -> Result<Bundle, TwilioError> {
        check_sid(bundle_sid)?;
        let form = vec![("Status".to_owned(), "pending-review".to_owned())];
        self.v1_post(self.trusthub(&[collection, bundle_sid], &[])?, &form)
            .await
    }

    /// `POST /v1/a2p/BrandRegistrations`.
    pub async fn create_brand_registration(
        &self,
        customer_profile_sid: &str,
        a2p_profile_sid: &str,
        brand_type: &str,
        skip_automatic_sec_vet: bool,
    ) -> Result<BrandRegistration, TwilioError> {
        let form = vec![
            ("CustomerProfileBundleSid".to_owned(), customer_profile_sid.to_owned()),
            ("A2PProfileBundleSid".to_owned(), a2p_profile_sid.to_owned()),
            ("BrandType".to_owned(), brand_type.to_owned()),
            ("SkipAutomaticSecVet".to_owned(), skip_automatic_sec_vet.to_string()),
        ];
        self.v1_post(self.messaging(&["a2p", "BrandRegistrations"], &[])?, &form)
            .await
    }

    pub async fn fetch_brand_registration(&self, sid: &str) -> Result<BrandRegistration, TwilioError> {
        check_sid(sid)?;
        self.get_json(self.messaging(&["a2p", "BrandRegistrations", sid], &[])?)
            .await
    }

    pub async fn list_brand_registrations(&self) -> Result<Vec<BrandRegistration>, TwilioError> {
        let query = vec![("PageSize".to_owned(), "1000".to_owned())];
        self.v1_list(self.messaging(&["a2p", "BrandRegistrations"], &query)?, "data")
            .await
    }

    /// `POST /v1/Services`.
    pub async fn create_messaging_service(
        &self,
        friendly_name: &str,
        inbound_url: Option<&str>,
        status_callback: Option<&str>,
    ) -> Result<Service, TwilioError> {
        let mut form = vec![
            ("FriendlyName".to_owned(), friendly_name.to_owned()),
            // Numbers keep their own SmsUrl (pointing at this platform).
            ("UseInboundWebhookOnNumber".to_owned(), "true".to_owned()),
        ];
        push_opt(&mut form, "InboundRequestUrl", inbound_url);
        push_opt(&mut form, "StatusCallback", status_callback);
        self.v1_post(self.messaging(&["Services"], &[])?, &form).await
    }

    pub async fn list_messaging_services(&self) -> Result<Vec<Service>, TwilioError> {
        let query = vec![("PageSize".to_owned(), "1000".to_owned())];
        self.v1_list(self.messaging(&["Services"], &query)?, "services").await
    }

    /// `POST /v1/Services/{MG}/Compliance/Usa2p`.
    pub async fn create_us_app_to_person(
        &self,
        service_sid: &str,
        c: &CreateCampaign,
    ) -> Result<UsAppToPerson, TwilioError> {
        check_sid(service_sid)?;
        let mut form = vec![
            ("BrandRegistrationSid".to_owned(), c.brand_registration_sid.clone()),
            ("Description".to_owned(), c.description.clone()),
            ("MessageFlow".to_owned(), c.message_flow.clone()),
            ("UsAppToPersonUsecase".to_owned(), c.use_case.clone()),
            ("HasEmbeddedLinks".to_owned(), c.has_embedded_links.to_string()),
            ("HasEmbeddedPhone".to_owned(), c.has_embedded_phone.to_string()),
        ];
        for sample in &c.message_samples {
            form.push(("MessageSamples".to_owned(), sample.clone()));
        }
        push_opt(&mut form, "OptInMessage", c.opt_in_message.as_deref());
        push_opt(&mut form, "OptOutMessage", c.opt_out_message.as_deref());
        push_opt(&mut form, "HelpMessage", c.help_message.as_deref());
        self.v1_post(
            self.messaging(&["Services", service_sid, "Compliance", "Usa2p"], &[])?,
            &form,
        )
        .await
    }

    pub async fn fetch_us_app_to_person(&self, service_sid: &str, sid: &str) -> Result<UsAppToPerson, TwilioError> {
        check_sid(service_sid)?;
        check_sid(sid)?;
        self.get_json(self.messaging(&["Services", service_sid, "Compliance", "Usa2p", sid], &[])?)
            .await
    }

    pub async fn list_us_app_to_person(&self, service_sid: &str) -> Result<Vec<UsAppToPerson>, TwilioError> {
        check_sid(service_sid)?;
        self.v1_list(
            self.messaging(&["Services", service_sid, "Compliance", "Usa2p"], &[])?,
            "compliance",
        )
        .await
    }

    /// `POST /v1/Services/{MG}/PhoneNumbers`: the number sends through the service.
    pub async fn add_service_number(&self, service_sid: &str, phone_number_sid: &str) -> Result<Sid, TwilioError> {
        check_sid(service_sid)?;
        let form = vec![("PhoneNumberSid".to_owned(), phone_number_sid.to_owned())];
        self.v1_post(self.messaging(&["Services", service_sid, "PhoneNumbers"], &[])?, &form)
            .await
    }
}
