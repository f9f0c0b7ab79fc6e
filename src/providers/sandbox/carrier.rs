//! The sandbox carrier: Twilio's behaviour for one organisation, deterministic and on this
//! machine. Its number inventory and sales are rows of `sandbox_numbers`, an SMS is
//! "delivered" a step at a time, and a call is played by the scripted far end.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::DatabaseConnection;

use super::far_end::{FarEnd, FarEndEnv};
use crate::{
    providers::telephony::{
        AvailableNumber, CallLookup, Capabilities, CarrierNumber, OutboundSms, PlaceCall, SANDBOX_FAILED_RECIPIENT,
        SANDBOX_UNDELIVERED_RECIPIENT, SearchQuery, SentSms, Telephony, TelephonyError, Webhooks, segments,
    },
    store,
};

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
    far_end: Option<FarEndEnv>,
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
    pub fn for_calls(mut self, env: FarEndEnv) -> Self {
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
    fn provider(&self) -> thruai_entities::values::status::TelephonyProvider {
        thruai_entities::values::status::TelephonyProvider::Sandbox
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
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => TelephonyError::Taken(e164.to_string()),
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
        let earlier = store::telephony::sandbox_calls_to(&self.db, &self.org_id, &req.to).await?;
        let outcome = sandbox_outcome(&req.to, earlier);
        store::telephony::sandbox_record_call(
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
        let far_end = FarEnd::outbound(env, &sid, req);
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
            store::telephony::sandbox_call_by_intent(&self.db, &self.org_id, &lookup.intent_key)
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
