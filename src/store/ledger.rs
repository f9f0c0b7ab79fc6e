//! The usage ledger: one entry per source (`call:CALL-…:stt`, `sms:SMS-…`, `email:EML-…`),
//! written in the transaction of the event that produced it and kept once, priced when
//! written (at the organisation's plan's price, when its plan sets one). A call's cost is
//! read from here.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, prelude::*, sea_query::OnConflict,
};
use thruai_actors::call::snapshot::CallSnapshotV1;
use thruai_entities::{billing_account, usage_entry};

use crate::domain::{
    ids,
    pricing::{Prices, unit_of},
};

/// Something used, before it is priced.
#[derive(Debug, Clone, PartialEq)]
pub struct Used {
    pub source: String,
    pub component: &'static str,
    pub provider: String,
    pub quantity: f64,
    pub agent_id: Option<String>,
    pub call_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// Writes each entry once (a source already written is left as it is).
pub async fn record(db: &impl ConnectionTrait, org_id: &str, prices: &Prices, used: Vec<Used>) -> Result<(), DbErr> {
    let now = Utc::now();
    let plan = match prices.by_plan() {
        true => super::accounts::find_org(db, org_id).await?.map(|o| o.plan),
        false => None,
    };
    // Without a payment customer there is nothing to report to the meter, now or later
    // (usage from before a customer exists is not sent): such entries are born reported.
    let reported = billing_account::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .is_none_or(|a| a.customer_id.is_none())
        .then_some(now);
    let rows: Vec<usage_entry::ActiveModel> = used
        .into_iter()
        .map(|u| {
            let (unit_price, amount) = prices.price(plan.as_deref(), u.component, &u.provider, u.quantity);
            usage_entry::ActiveModel {
                id: Set(ids::new_id(ids::USAGE)),
                org_id: Set(org_id.to_string()),
                source: Set(u.source),
                component: Set(u.component.to_string()),
                provider: Set(u.provider),
                unit: Set(unit_of(u.component).to_string()),
                quantity: Set(u.quantity),
                unit_price: Set(unit_price),
                amount_micros: Set(amount),
                agent_id: Set(u.agent_id),
                call_id: Set(u.call_id),
                occurred_at: Set(u.occurred_at),
                created_at: Set(now),
                metered_at: Set(reported),
            }
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    usage_entry::Entity::insert_many(rows)
        .on_conflict(OnConflict::column(usage_entry::Column::Source).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What an ended call used, by component (none of what it did not use). `telephony` is the
/// carrier the call ran on; the other providers are the snapshot's.
pub fn call_usage(snap: &CallSnapshotV1, telephony: &str) -> Vec<Used> {
    let u = &snap.usage;
    let provider = |c: &str| u.providers.get(c).cloned().unwrap_or_else(|| "sandbox".into());
    let minutes = |ms: u64| ms as f64 / 60_000.0;
    let mut out = vec![("telephony", telephony.to_string(), minutes(u.telephony_ms))];
    if u.providers.contains_key("s2s") {
        out.push(("s2s", provider("s2s"), minutes(u.telephony_ms)));
    } else {
        out.extend([
            ("stt", provider("stt"), minutes(u.stt_ms)),
            ("llm_input", provider("llm"), u.llm_input_tokens as f64),
            ("llm_output", provider("llm"), u.llm_output_tokens as f64),
            ("tts", provider("tts"), u.tts_characters as f64),
        ]);
    }
    out.push(("tool_calls", "platform".into(), u.tool_calls as f64));
    let at = snap.ended_at.unwrap_or_else(Utc::now);
    out.into_iter()
        .filter(|(_, _, q)| *q > 0.0)
        .map(|(component, provider, quantity)| Used {
            source: format!("call:{}:{component}", snap.call_id),
            component,
            provider,
            quantity,
            agent_id: Some(snap.agent_id.clone()),
            call_id: Some(snap.call_id.clone()),
            occurred_at: at,
        })
        .collect()
}

/// The ledger entries of one call.
pub async fn for_call(db: &impl ConnectionTrait, call_id: &str) -> Result<Vec<usage_entry::Model>, DbErr> {
    usage_entry::Entity::find()
        .filter(usage_entry::Column::CallId.eq(call_id))
        .order_by_asc(usage_entry::Column::Component)
        .all(db)
        .await
}
