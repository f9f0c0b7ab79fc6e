//! Outgoing SMS in two halves around the carrier's request, shared by `POST /sms/send` and
//! workflow steps: [`record`] writes the message (`queued`) before it leaves, so a crash
//! leaves a trace and not a ghost; [`settle`] writes what the carrier said — its sid, status
//! and segments on the ledger, or the failure (a carrier's STOP remembered).

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use thruai_entities::{phone_number, sms_message, values::status::NumberStatus};

use crate::{
    domain::pricing::Prices,
    providers::{
        telephony::{self, SentSms, TelephonyError},
        twilio::TwilioError,
    },
    store,
};

/// Whether a number can send SMS: active, with the SMS capability.
pub fn can_send(n: &phone_number::Model) -> bool {
    n.status == NumberStatus::Active && n.capabilities["sms"].as_bool().unwrap_or(false)
}

/// One message about to leave.
pub struct Outgoing<'a> {
    /// Its id (`SMS-…`; a workflow step derives it from its key).
    pub id: String,
    pub org_id: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    pub provider: String,
}

/// Records the message `queued` in its conversation.
///
/// # Errors
/// Database failures (a message of the same id: the unique key).
pub async fn record(db: &DatabaseConnection, msg: Outgoing<'_>) -> Result<sms_message::Model, DbErr> {
    let now = Utc::now();
    let txn = crate::store::begin(db).await?;
    let conversation_id = store::sms::touch_conversation(&txn, msg.org_id, msg.from, msg.to, msg.body, now).await?;
    let row = store::sms::insert_message(
        &txn,
        sms_message::Model {
            id: msg.id,
            org_id: msg.org_id.to_string(),
            conversation_id,
            direction: "outbound".into(),
            from_number: msg.from.to_string(),
            to_number: msg.to.to_string(),
            body: msg.body.to_string(),
            status: "queued".into(),
            provider: msg.provider,
            provider_sid: None,
            error_code: None,
            error_message: None,
            num_segments: telephony::segments(msg.body),
            created_at: now,
            updated_at: now,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}

/// Writes the carrier's answer to a recorded message, in the caller's transaction.
///
/// # Errors
/// Database failures.
pub async fn settle(
    txn: &impl ConnectionTrait,
    prices: &Prices,
    mut row: sms_message::Model,
    sent: Result<SentSms, &TelephonyError>,
) -> Result<sms_message::Model, DbErr> {
    let result = if sent.is_ok() { "accepted" } else { "failed" };
    crate::metrics::counter(
        "thruai_sms_messages_total",
        &[("direction", "outbound"), ("result", result)],
        1.0,
    );
    row.updated_at = Utc::now();
    match sent {
        Ok(sent) => {
            row.provider_sid = Some(sent.sid);
            if store::sms::status_rank(&sent.status) > store::sms::status_rank(&row.status) {
                row.status = sent.status;
            }
            row.num_segments = sent.num_segments;
            let used = store::ledger::Used {
                source: format!("sms:{}", row.id),
                component: "sms",
                provider: row.provider.clone(),
                quantity: f64::from(row.num_segments.max(1)),
                agent_id: None,
                call_id: None,
                occurred_at: row.updated_at,
            };
            let org = row.org_id.clone();
            store::ledger::record(txn, &org, prices, vec![used]).await?;
        }
        Err(e) => {
            row.status = "failed".into();
            row.error_message = Some(e.to_string());
            if let TelephonyError::Twilio(TwilioError::OptedOut { .. }) = e {
                // The carrier knows of a STOP we missed: remember it.
                store::sms::opt_out(txn, &row.org_id, &row.from_number, &row.to_number, "STOP").await?;
            }
        }
    }
    store::sms::save_message(txn, row).await
}
