//! The `Telephony` port for numbers (search, purchase, configure, release) with two
//! carriers: Twilio (per-organisation BYOC credentials or the platform-wide account) and
//! the sandbox carrier, whose deterministic inventory and sales live in the database.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sea_orm::{DatabaseConnection, DbErr};
use serde::Serialize;

use super::twilio::{BuyNumber, NumberSearch, TwilioClient, TwilioConfig, TwilioError, UpdateNumber};
use crate::{crypto::CryptoError, state::AppState, store};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
    pub mms: bool,
}

/// A number offered for sale.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AvailableNumber {
    pub phone_number: String,
    pub friendly_name: String,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub capabilities: Capabilities,
}

/// A number the account owns at the carrier.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CarrierNumber {
    pub sid: String,
    pub phone_number: String,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    pub capabilities: Capabilities,
}

/// Where the carrier sends a number's calls and messages.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub voice_url: String,
    pub sms_url: String,
}

impl Webhooks {
    /// `{public_base_url}/twilio/voice` and `/twilio/sms`.
    pub fn for_base(public_base_url: &str) -> Self {
        let base = public_base_url.trim_end_matches('/');
        Self {
            voice_url: format!("{base}/twilio/voice"),
            sms_url: format!("{base}/twilio/sms"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub country: String,
    pub area_code: Option<String>,
    pub contains: Option<String>,
    pub limit: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum TelephonyError {
    #[error(transparent)]
    Twilio(#[from] TwilioError),
    #[error("phone number {0} is not available for purchase")]
    Unavailable(String),
    #[error("no Twilio credentials configured")]
    NotConfigured,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("stored credentials could not be decrypted")]
    Crypto(#[from] CryptoError),
}

/// An SMS to hand to the carrier.
#[derive(Debug, Clone)]
pub struct OutboundSms {
    pub from: String,
    pub to: String,
    pub body: String,
    /// Where the carrier posts delivery status (`/twilio/sms-status`).
    pub status_callback: String,
}

/// The carrier's acknowledgement of an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    pub sid: String,
    pub status: String,
    pub num_segments: i32,
}

/// Sandbox recipients that simulate delivery failures (like Twilio's magic test numbers).
pub const SANDBOX_FAILED_RECIPIENT: &str = "+15005550006";
pub const SANDBOX_UNDELIVERED_RECIPIENT: &str = "+15005550007";

/// Segments of an SMS body: 160 GSM-7 characters (153 when split) or 70 UCS-2 (67).
pub fn segments(body: &str) -> i32 {
    let n = body.chars().count();
    let gsm = body
        .chars()
        .all(|c| c.is_ascii() && !c.is_ascii_control() || c == '\n' || c == '\r');
    let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
    let count = if n <= single { 1 } else { n.div_ceil(multi) };
    i32::try_from(count).unwrap_or(i32::MAX)
}

#[async_trait]
pub trait Telephony: Send + Sync {
    /// `twilio` or `sandbox` (stored on each number).
    fn provider(&self) -> &'static str;
    /// The Twilio account in use, for Twilio.
    fn account_sid(&self) -> Option<&str>;
    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, TelephonyError>;
    async fn purchase(&self, e164: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError>;
    async fn find_owned(&self, e164: &str) -> Result<Option<CarrierNumber>, TelephonyError>;
    async fn list_owned(&self) -> Result<Vec<CarrierNumber>, TelephonyError>;
    async fn configure(&self, sid: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError>;
    async fn release(&self, sid: &str) -> Result<(), TelephonyError>;
    /// Sends an SMS; delivery status arrives later through the status callback.
    async fn send_sms(&self, sms: &OutboundSms) -> Result<SentSms, TelephonyError>;
    /// Places an outbound call; the carrier fetches TwiML from `req.url`. Returns its call id.
    async fn place_call(&self, req: &PlaceCall) -> Result<String, TelephonyError>;
    /// Ends a live call.
    async fn hangup(&self, call_sid: &str) -> Result<(), TelephonyError>;
    /// The call placed for a dial intent, if the carrier has one (reconciling a dial whose
    /// acknowledgement a crash lost).
    async fn find_call(&self, lookup: &CallLookup) -> Result<Option<String>, TelephonyError>;
}

/// What identifies a dial at the carrier.
#[derive(Debug, Clone)]
pub struct CallLookup {
    pub intent_key: String,
    pub to: String,
    pub from: String,
    /// The intent was recorded at this time: an older call is another attempt's.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// An outbound call to place.
#[derive(Debug, Clone)]
pub struct PlaceCall {
    pub to: String,
    pub from: String,
    /// Where the carrier fetches TwiML (`/twilio/voice?callId=…`).
    pub url: String,
    /// Where it posts status callbacks (`/twilio/status?callId=…`).
    pub status_callback: String,
    /// The sandbox's scripted far end (ignored by real carriers).
    pub sandbox_script: Option<serde_json::Value>,
    /// The campaign dial intent this call carries out (in the status callback URL too).
    pub intent_key: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Twilio
// ---------------------------------------------------------------------------------------------

pub struct TwilioCarrier {
    client: TwilioClient,
}

impl TwilioCarrier {
    pub fn new(client: TwilioClient) -> Self {
        Self { client }
    }
}

fn twilio_caps(c: super::twilio::Capabilities) -> Capabilities {
    Capabilities {
        voice: c.voice,
        sms: c.sms,
        mms: c.mms,
    }
}

fn from_incoming(n: super::twilio::IncomingNumber) -> CarrierNumber {
    CarrierNumber {
        sid: n.sid,
        phone_number: n.phone_number,
        friendly_name: n.friendly_name,
        voice_url: n.voice_url.filter(|u| !u.is_empty()),
        sms_url: n.sms_url.filter(|u| !u.is_empty()),
        capabilities: twilio_caps(n.capabilities),
    }
}

#[async_trait]
impl Telephony for TwilioCarrier {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    fn account_sid(&self) -> Option<&str> {
        Some(self.client.account_sid())
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, TelephonyError> {
        let found = self
            .client
            .search_available(&NumberSearch {
                country: q.country.clone(),
                area_code: q.area_code.clone(),
                contains: q.contains.clone(),
                limit: Some(q.limit),
                ..NumberSearch::default()
            })
            .await?;
        Ok(found
            .into_iter()
            .map(|n| AvailableNumber {
                friendly_name: n.friendly_name.unwrap_or_else(|| n.phone_number.clone()),
                phone_number: n.phone_number,
                locality: n.locality,
                region: n.region,
                country: n.iso_country.unwrap_or_else(|| q.country.clone()),
                capabilities: twilio_caps(n.capabilities),
            })
            .collect())
    }

    async fn purchase(&self, e164: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        let bought = self
            .client
            .buy_number(&BuyNumber {
                phone_number: e164.to_string(),
                voice_url: Some(hooks.voice_url.clone()),
                voice_method: Some("POST".into()),
                sms_url: Some(hooks.sms_url.clone()),
                sms_method: Some("POST".into()),
                ..BuyNumber::default()
            })
            .await?;
        Ok(from_incoming(bought))
    }

    async fn find_owned(&self, e164: &str) -> Result<Option<CarrierNumber>, TelephonyError> {
        Ok(self.client.find_incoming_number(e164).await?.map(from_incoming))
    }

    async fn list_owned(&self) -> Result<Vec<CarrierNumber>, TelephonyError> {
        Ok(self
            .client
            .list_incoming_numbers(100)
            .await?
            .into_iter()
            .map(from_incoming)
            .collect())
    }

    async fn configure(&self, sid: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        let updated = self
            .client
            .update_number(
                sid,
                &UpdateNumber {
                    voice_url: Some(hooks.voice_url.clone()),
                    voice_method: Some("POST".into()),
                    sms_url: Some(hooks.sms_url.clone()),
                    sms_method: Some("POST".into()),
                    ..UpdateNumber::default()
                },
            )
            .await?;
        Ok(from_incoming(updated))
    }

    async fn release(&self, sid: &str) -> Result<(), TelephonyError> {
        Ok(self.client.release_number(sid).await?)
    }

    async fn send_sms(&self, sms: &OutboundSms) -> Result<SentSms, TelephonyError> {
        let sent = self
            .client
            .send_message(&super::twilio::SendMessage {
                to: sms.to.clone(),
                from: Some(sms.from.clone()),
                body: Some(sms.body.clone()),
                status_callback: Some(sms.status_callback.clone()),
                ..super::twilio::SendMessage::default()
            })
            .await?;
        Ok(SentSms {
            num_segments: sent
                .num_segments
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| segments(&sms.body)),
            sid: sent.sid,
            status: if sent.status.is_empty() {
                "queued".into()
            } else {
                sent.status
            },
        })
    }

    async fn place_call(&self, req: &PlaceCall) -> Result<String, TelephonyError> {
        let call = self
            .client
            .create_call(&super::twilio::CreateCall {
                to: req.to.clone(),
                from: req.from.clone(),
                url: Some(req.url.clone()),
                method: Some("POST".into()),
                status_callback: Some(req.status_callback.clone()),
                status_callback_method: Some("POST".into()),
                status_callback_events: ["initiated", "ringing", "answered", "completed"]
                    .map(String::from)
                    .to_vec(),
                ..super::twilio::CreateCall::default()
            })
            .await?;
        Ok(call.sid)
    }

    async fn hangup(&self, call_sid: &str) -> Result<(), TelephonyError> {
        self.client.update_call(call_sid, Some("completed"), None).await?;
        Ok(())
    }

    /// Twilio keeps no caller-side key: the intent's call is the one from `from` to `to`
    /// created since the intent was recorded (one intent per contact attempt).
    async fn find_call(&self, lookup: &CallLookup) -> Result<Option<String>, TelephonyError> {
        let since = lookup.since - chrono::Duration::seconds(1);
        let day = since.format("%Y-%m-%d").to_string();
        let calls = self.client.list_calls_to(&lookup.to, &lookup.from, Some(&day)).await?;
        Ok(calls
            .into_iter()
            .find(|c| {
                c.date_created
                    .as_deref()
                    .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                    .is_none_or(|d| d >= since)
            })
            .map(|c| c.sid))
    }
}

// ---------------------------------------------------------------------------------------------
// Sandbox carrier
// ---------------------------------------------------------------------------------------------

/// Checks (50 ms apart) for the sender to have recorded a sandbox message's SID.
const DELIVERY_WAIT_TRIES: u32 = 100;

/// Area codes offered when a search names none.
const SANDBOX_AREAS: &[&str] = &["415", "212", "312", "512", "206"];
/// The inventory per area code: `+1 {area} 555 0100..0199` (the 555-01XX block is reserved
/// for fiction, so sandbox numbers can never ring a real phone).
const SANDBOX_LINES: std::ops::RangeInclusive<u32> = 100..=199;

/// The sandbox carrier for one organisation: sales are rows of `sandbox_numbers`.
pub struct SandboxCarrier {
    db: DatabaseConnection,
    org_id: String,
    /// Pause between simulated delivery steps.
    delivery_step: Duration,
    /// Set by [`SandboxCarrier::for_calls`]: what the far end of a sandbox call needs.
    far_end: Option<crate::providers::sandbox::far_end::FarEndEnv>,
}

impl SandboxCarrier {
    pub fn new(db: DatabaseConnection, org_id: &str) -> Self {
        Self {
            db,
            org_id: org_id.to_string(),
            delivery_step: Duration::from_millis(200),
            far_end: None,
        }
    }

    #[must_use]
    pub fn with_delivery_step(mut self, step: Duration) -> Self {
        self.delivery_step = step;
        self
    }

    /// Plays the network: `sent`, then `delivered` (or the failure of a magic recipient),
    /// applied to the message as Twilio's status callbacks would be.
    fn deliver(&self, sid: String, to: &str) {
        let db = self.db.clone();
        let step = self.delivery_step;
        let outcome = match to {
            SANDBOX_FAILED_RECIPIENT => ("failed", Some((30006, "Landline or unreachable carrier"))),
            SANDBOX_UNDELIVERED_RECIPIENT => ("undelivered", Some((30003, "Unreachable destination handset"))),
            _ => ("delivered", None),
        };
        actix_web::rt::spawn(async move {
            actix_web::rt::time::sleep(step).await;
            // The sender records the SID right after this call returns: wait for it.
            for _ in 0..DELIVERY_WAIT_TRIES {
                match store::sms::find_by_provider_sid(&db, &sid).await {
                    Ok(Some(_)) => break,
                    _ => actix_web::rt::time::sleep(Duration::from_millis(50)).await,
                }
            }
            if outcome.0 != "failed"
                && let Err(e) = store::sms::apply_status(&db, &sid, "sent", None, None).await
            {
                tracing::warn!(error = %e, sid, "sandbox delivery: recording `sent` failed");
            }
            actix_web::rt::time::sleep(step).await;
            let (code, message) = outcome.1.map_or((None, None), |(c, m)| (Some(c), Some(m.to_string())));
            if let Err(e) = store::sms::apply_status(&db, &sid, outcome.0, code, message).await {
                tracing::warn!(error = %e, sid, "sandbox delivery: recording the outcome failed");
            }
        });
    }

    /// A carrier that can place calls: it plays the far end itself.
    pub fn for_calls(mut self, env: crate::providers::sandbox::far_end::FarEndEnv) -> Self {
        self.far_end = Some(env);
        self
    }

    /// True for numbers of the sandbox inventory.
    pub fn in_inventory(e164: &str) -> bool {
        let Some(rest) = e164.strip_prefix("+1") else {
            return false;
        };
        rest.len() == 10
            && rest.bytes().all(|b| b.is_ascii_digit())
            && matches!(rest.as_bytes()[0], b'2'..=b'9')
            && &rest[3..6] == "555"
            && rest[6..].parse::<u32>().is_ok_and(|line| SANDBOX_LINES.contains(&line))
    }

    fn friendly(e164: &str) -> String {
        match e164.strip_prefix("+1") {
            Some(d) if d.len() == 10 => format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..]),
            _ => e164.to_string(),
        }
    }
}

/// `*` matches one digit; everything else must match itself.
fn matches_contains(digits: &str, pattern: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let digits: Vec<char> = digits.chars().collect();
    if pattern.is_empty() {
        return true;
    }
    digits
        .windows(pattern.len())
        .any(|w| w.iter().zip(&pattern).all(|(d, p)| *p == '*' || d == p))
}

#[async_trait]
impl Telephony for SandboxCarrier {
    fn provider(&self) -> &'static str {
        "sandbox"
    }

    fn account_sid(&self) -> Option<&str> {
        None
    }

    async fn search(&self, q: &SearchQuery) -> Result<Vec<AvailableNumber>, TelephonyError> {
        if !matches!(q.country.as_str(), "US" | "CA") {
            return Ok(Vec::new());
        }
        let areas: Vec<&str> = match &q.area_code {
            Some(area) => vec![area.as_str()],
            None => SANDBOX_AREAS.to_vec(),
        };
        let candidates: Vec<String> = areas
            .iter()
            .flat_map(|area| SANDBOX_LINES.map(move |line| format!("+1{area}555{line:04}")))
            .filter(|n| q.contains.as_deref().is_none_or(|c| matches_contains(&n[1..], c)))
            .collect();
        let sold = store::telephony::sandbox_sold_among(&self.db, &candidates).await?;
        Ok(candidates
            .into_iter()
            .filter(|n| !sold.contains(n))
            .take(q.limit as usize)
            .map(|n| AvailableNumber {
                friendly_name: Self::friendly(&n),
                phone_number: n,
                locality: Some("Sandbox City".into()),
                region: Some("SB".into()),
                country: q.country.clone(),
                capabilities: Capabilities {
                    voice: true,
                    sms: true,
                    mms: false,
                },
            })
            .collect())
    }

    async fn purchase(&self, e164: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        if !Self::in_inventory(e164) {
            return Err(TelephonyError::Unavailable(e164.to_string()));
        }
        let sid = format!("PN{}", uuid::Uuid::new_v4().simple());
        let row = store::telephony::sandbox_insert(
            &self.db,
            &sid,
            &self.org_id,
            e164,
            Some(hooks.voice_url.clone()),
            Some(hooks.sms_url.clone()),
        )
        .await
        .map_err(|e| match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => TelephonyError::Unavailable(e164.to_string()),
            _ => TelephonyError::Db(e),
        })?;
        Ok(sandbox_number(row))
    }

    async fn find_owned(&self, e164: &str) -> Result<Option<CarrierNumber>, TelephonyError> {
        Ok(self.list_owned().await?.into_iter().find(|n| n.phone_number == e164))
    }

    async fn list_owned(&self) -> Result<Vec<CarrierNumber>, TelephonyError> {
        Ok(store::telephony::sandbox_owned(&self.db, &self.org_id)
            .await?
            .into_iter()
            .map(sandbox_number)
            .collect())
    }

    async fn configure(&self, sid: &str, hooks: &Webhooks) -> Result<CarrierNumber, TelephonyError> {
        let row = store::telephony::sandbox_find(&self.db, &self.org_id, sid)
            .await?
            .ok_or_else(|| TelephonyError::Unavailable(sid.to_string()))?;
        let row = store::telephony::sandbox_update_urls(
            &self.db,
            row,
            Some(hooks.voice_url.clone()),
            Some(hooks.sms_url.clone()),
        )
        .await?;
        Ok(sandbox_number(row))
    }

    async fn release(&self, sid: &str) -> Result<(), TelephonyError> {
        store::telephony::sandbox_release(&self.db, &self.org_id, sid).await?;
        Ok(())
    }

    async fn send_sms(&self, sms: &OutboundSms) -> Result<SentSms, TelephonyError> {
        let owned = self.find_owned(&sms.from).await?;
        if owned.is_none() {
            return Err(TelephonyError::Unavailable(sms.from.clone()));
        }
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        self.deliver(sid.clone(), &sms.to);
        Ok(SentSms {
            sid,
            status: "queued".into(),
            num_segments: segments(&sms.body),
        })
    }

    /// Behaves as Twilio does: records the call in its own log, then fetches the TwiML,
    /// opens the stream and plays the far end — or, for the magic callee numbers of
    /// [`sandbox_outcome`], rings and reports `busy` / `no-answer` / `failed`.
    async fn place_call(&self, req: &PlaceCall) -> Result<String, TelephonyError> {
        let env = self.far_end.clone().ok_or(TelephonyError::NotConfigured)?;
        let sid = format!("CA{}", uuid::Uuid::new_v4().simple());
        let earlier = store::campaigns::sandbox_calls_to(&self.db, &self.org_id, &req.to).await?;
        let outcome = sandbox_outcome(&req.to, earlier);
        store::campaigns::sandbox_record_call(
            &self.db,
            thruai_entities::sandbox_call::Model {
                sid: sid.clone(),
                org_id: self.org_id.clone(),
                intent_key: req.intent_key.clone(),
                from_number: req.from.clone(),
                to_number: req.to.clone(),
                outcome: outcome.into(),
                created_at: chrono::Utc::now(),
            },
        )
        .await?;
        let far_end = crate::providers::sandbox::far_end::FarEnd::outbound(env, &sid, req);
        actix_web::rt::spawn(async move {
            if outcome == "answered" {
                let report = far_end.run().await;
                tracing::debug!(?report, "sandbox far end finished");
            } else {
                far_end.unanswered(outcome).await;
            }
        });
        Ok(sid)
    }

    async fn find_call(&self, lookup: &CallLookup) -> Result<Option<String>, TelephonyError> {
        Ok(
            store::campaigns::sandbox_call_by_intent(&self.db, &self.org_id, &lookup.intent_key)
                .await?
                .map(|c| c.sid),
        )
    }

    /// The far end sees the stream close, as a caller hears the line drop.
    async fn hangup(&self, _call_sid: &str) -> Result<(), TelephonyError> {
        Ok(())
    }
}

/// How the sandbox far end answers a callee, by its number (`+1 NPA 555 0NXX`, like the
/// 555-01XX inventory, never a real phone): `02XX` busy, `03XX` no answer the first time
/// it is called (answered afterwards, to exercise retries), `04XX` failed; every other
/// number answers. `earlier` is how many calls the carrier already placed to it.
pub fn sandbox_outcome(to: &str, earlier: u64) -> &'static str {
    let line = to
        .strip_prefix("+1")
        .filter(|r| r.len() == 10 && &r[3..6] == "555")
        .map(|r| &r[6..8]);
    match line {
        Some("02") => "busy",
        Some("03") if earlier == 0 => "no-answer",
        Some("04") => "failed",
        _ => "answered",
    }
}

fn sandbox_number(row: thruai_entities::sandbox_number::Model) -> CarrierNumber {
    CarrierNumber {
        friendly_name: Some(SandboxCarrier::friendly(&row.phone_number)),
        sid: row.sid,
        phone_number: row.phone_number,
        voice_url: row.voice_url,
        sms_url: row.sms_url,
        capabilities: Capabilities {
            voice: true,
            sms: true,
            mms: false,
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Choosing the carrier
// ---------------------------------------------------------------------------------------------

/// Whose Twilio account an organisation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The organisation's own credentials (`PUT /telephony/credentials`).
    Byoc,
    /// The platform-wide account of `providers.twilio`.
    Platform,
    Sandbox,
}

fn sandbox_carrier(state: &AppState, org_id: &str) -> SandboxCarrier {
    SandboxCarrier::new(state.db.clone(), org_id)
        .with_delivery_step(Duration::from_millis(state.settings.sms.sandbox_delivery_ms))
}

pub fn twilio_client(state: &AppState, account_sid: &str, auth_token: &str) -> TwilioClient {
    twilio_client_with(&state.http, &state.settings, account_sid, auth_token)
}

/// A Twilio client from its parts (for code that holds no `AppState`).
pub fn twilio_client_with(
    http: &reqwest::Client,
    settings: &crate::config::Settings,
    account_sid: &str,
    auth_token: &str,
) -> TwilioClient {
    let cfg = &settings.providers;
    TwilioClient::new(
        http.clone(),
        TwilioConfig {
            api_base: cfg.twilio.api_base.clone(),
            timeout: Duration::from_millis(cfg.timeout_ms),
            max_retries: cfg.twilio.max_retries,
        },
        account_sid.to_string(),
        auth_token.to_string(),
    )
    .with_v1_hosts(&cfg.twilio.messaging_base, &cfg.twilio.trusthub_base)
}

/// The organisation's Twilio client (BYOC first, then the platform account), if any.
///
/// # Errors
/// When the stored credentials cannot be read or decrypted.
pub async fn twilio_for(state: &AppState, org_id: &str) -> Result<Option<(Mode, TwilioClient)>, TelephonyError> {
    if let Some(creds) = store::telephony::credentials(&state.db, org_id).await? {
        let token = state.crypto.decrypt(&creds.auth_token_ciphertext).await?;
        return Ok(Some((Mode::Byoc, twilio_client(state, &creds.account_sid, &token))));
    }
    let platform = &state.settings.providers.twilio;
    if platform.configured() {
        return Ok(Some((
            Mode::Platform,
            twilio_client(state, &platform.account_sid, &platform.auth_token),
        )));
    }
    Ok(None)
}

/// The carrier an organisation buys numbers from: Twilio when configured, else the sandbox.
///
/// # Errors
/// When the stored credentials cannot be read or decrypted.
pub async fn carrier_for(state: &AppState, org_id: &str) -> Result<(Mode, Arc<dyn Telephony>), TelephonyError> {
    Ok(match twilio_for(state, org_id).await? {
        Some((mode, client)) => (mode, Arc::new(TwilioCarrier::new(client))),
        None => (Mode::Sandbox, Arc::new(sandbox_carrier(state, org_id))),
    })
}

/// The carrier holding an existing number: its recorded provider and Twilio account.
///
/// # Errors
/// `NotConfigured` when the number's Twilio account is no longer configured.
pub async fn carrier_of(
    state: &AppState,
    number: &thruai_entities::phone_number::Model,
) -> Result<Arc<dyn Telephony>, TelephonyError> {
    if number.provider == "sandbox" {
        return Ok(Arc::new(
            sandbox_carrier(state, &number.org_id)
                .for_calls(crate::providers::sandbox::far_end::FarEndEnv::from_state(state)),
        ));
    }
    if let Some(creds) = store::telephony::credentials(&state.db, &number.org_id).await?
        && number
            .twilio_account_sid
            .as_deref()
            .is_none_or(|sid| sid == creds.account_sid)
    {
        let token = state.crypto.decrypt(&creds.auth_token_ciphertext).await?;
        return Ok(Arc::new(TwilioCarrier::new(twilio_client(
            state,
            &creds.account_sid,
            &token,
        ))));
    }
    let platform = &state.settings.providers.twilio;
    if platform.configured()
        && number
            .twilio_account_sid
            .as_deref()
            .is_none_or(|sid| sid == platform.account_sid)
    {
        return Ok(Arc::new(TwilioCarrier::new(twilio_client(
            state,
            &platform.account_sid,
            &platform.auth_token,
        ))));
    }
    Err(TelephonyError::NotConfigured)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_inventory_is_the_555_01xx_block() {
        assert!(SandboxCarrier::in_inventory("+14155550100"));
        assert!(SandboxCarrier::in_inventory("+12125550199"));
        assert!(!SandboxCarrier::in_inventory("+14155550200"));
        assert!(!SandboxCarrier::in_inventory("+14155551234"));
        assert!(!SandboxCarrier::in_inventory("+441234567890"));
    }

    #[test]
    fn sandbox_callees_answer_by_number() {
        assert_eq!(sandbox_outcome("+14155550123", 0), "answered");
        assert_eq!(sandbox_outcome("+14155550200", 0), "busy");
        assert_eq!(sandbox_outcome("+14155550299", 3), "busy");
        assert_eq!(sandbox_outcome("+14155550300", 0), "no-answer");
        assert_eq!(sandbox_outcome("+14155550300", 1), "answered");
        assert_eq!(sandbox_outcome("+14155550450", 0), "failed");
        assert_eq!(sandbox_outcome("+14155550250", 0), "busy");
        assert_eq!(sandbox_outcome("+14152220200", 0), "answered");
    }

    #[test]
    fn contains_patterns_match_digits_and_wildcards() {
        assert!(matches_contains("14155550123", "0123"));
        assert!(matches_contains("14155550123", "55*01"));
        assert!(!matches_contains("14155550123", "999"));
    }
}
