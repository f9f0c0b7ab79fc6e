//! A campaign's contacts: added in pages of up to `campaigns.max_contacts_per_request`
//! (multi-row inserts; rejected rows listed with a reason) and listed with their dials.

use std::collections::HashSet;

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thruai_entities::values::status::CampaignStatus;

use super::{load, load_locked};
use crate::{
    app::campaigns,
    domain::{
        ids, is_e164,
        validation::{control_message, forbidden_control, forbidden_control_in},
    },
    error::{ApiError, ApiResult, ErrorCode},
    http::core::{
        envelope,
        extract::{Body, Ctx, ListQuery},
        validation::{Validate, Validator},
    },
    store::campaigns as cs,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactIn {
    /// E.164; a row with anything else is rejected (`invalid number`).
    pub phone_number: String,
    pub name: Option<String>,
    /// Fills the agent's `{{variables}}`; `timezone` (IANA) sets the contact's calling window zone.
    pub custom_data: Option<Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContactsIn {
    /// 1 to `campaigns.max_contacts_per_request` (default 5,000) contacts; send larger
    /// lists in several requests.
    pub contacts: Vec<ContactIn>,
}

impl Validate for ContactsIn {
    const CONTROL_CHARACTERS_PER_ITEM: bool = true;

    fn validate(&self, v: &mut Validator) {
        v.check(!self.contacts.is_empty(), "contacts", "must list at least one contact");
    }
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedContact {
    pub index: usize,
    pub phone_number: String,
    pub reason: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactsAdded {
    pub added: usize,
    pub failed: usize,
    pub errors: Vec<RejectedContact>,
}

/// One dial of a contact: a call placed (or being placed) for one attempt.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DialOut {
    /// 1-based.
    pub attempt: i32,
    /// The call (`None` for a campaign that runs a workflow: its execution places the
    /// calls).
    pub call_id: Option<String>,
    /// The workflow execution started for this attempt (a campaign with a `workflowId`).
    pub execution_id: Option<String>,
    /// `{contactId}:{attempt}`: the idempotency key of the dial.
    pub intent_key: String,
    pub status: String,
    pub outcome: Option<String>,
    pub provider_call_sid: Option<String>,
    /// The carrier's acknowledgement was recovered by a lookup after a crash.
    pub reconciled: bool,
    pub created_at: DateTime<Utc>,
}

/// A contact with its dials.
#[derive(Debug, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContactOut {
    pub id: String,
    pub campaign_id: String,
    pub phone_number: String,
    pub name: Option<String>,
    pub custom_data: Value,
    pub timezone: Option<String>,
    /// `queued`, `in_progress`, `completed`, `failed` or `suppressed`.
    pub status: String,
    pub attempts: i32,
    pub last_outcome: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The calls placed for it, in attempt order.
    pub call_ids: Vec<String>,
    pub calls: Vec<DialOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn row_problem(c: &ContactIn) -> Option<String> {
    if !is_e164(&c.phone_number) {
        return Some("invalid number: must be E.164 (e.g. +14155550123)".into());
    }
    if c.name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Some("invalid name: at most 200 characters".into());
    }
    if let Some(ch) = c.name.as_deref().and_then(forbidden_control) {
        return Some(format!("invalid name: {}", control_message(ch)));
    }
    if let Some(d) = &c.custom_data {
        if !d.is_object() {
            return Some("invalid customData: must be an object".into());
        }
        let text = d.to_string();
        if text.len() > 4096 {
            return Some("invalid customData: at most 4096 bytes serialized".into());
        }
        if let Some(ch) = forbidden_control_in(d) {
            return Some(format!("invalid customData: {}", control_message(ch)));
        }
        if let Some(tz) = d.get("timezone")
            && tz
                .as_str()
                .and_then(thruai_actors::campaign::window::parse_tz)
                .is_none()
        {
            return Some(format!("invalid timezone: {tz} is not an IANA time zone"));
        }
    }
    None
}

pub async fn add_contacts(ctx: Ctx, id: web::Path<String>, Body(input): Body<ContactsIn>) -> ApiResult<HttpResponse> {
    let max = ctx.state.settings.campaigns.max_contacts_per_request;
    if input.contacts.len() > max {
        return Err(ApiError::field(
            "contacts",
            format!(
                "at most {max} contacts per request (got {}); send the list in pages",
                input.contacts.len()
            ),
        ));
    }
    let txn = ctx.begin().await?;
    let row = load_locked(&ctx, &txn, &id).await?;
    if row.status == CampaignStatus::Completed {
        return Err(ApiError::new(
            ErrorCode::ResourceConflict,
            format!(
                "Campaign '{}' is completed: create a new campaign for more contacts",
                row.id
            ),
        ));
    }
    let numbers: Vec<String> = input
        .contacts
        .iter()
        .filter(|c| is_e164(&c.phone_number))
        .map(|c| c.phone_number.clone())
        .collect();
    let existing = cs::existing_numbers(&txn, &row.id, &numbers).await?;
    let opted_out = cs::opted_out(&txn, ctx.org(), &numbers).await?;
    let mut seen: HashSet<&str> = HashSet::with_capacity(input.contacts.len());
    let mut errors = Vec::new();
    let mut added = 0;
    // Rows go to the database a batch at a time (1,000 on SQLite, up to 5,000 in one
    // statement on PostgreSQL): a large request is never held twice over.
    let batch = cs::insert_batch(&txn).min(input.contacts.len());
    let mut rows = Vec::with_capacity(batch);
    let mut position = cs::next_position(&txn, &row.id).await?;
    let now = Utc::now();
    for (index, c) in input.contacts.iter().enumerate() {
        let reason = row_problem(c).or_else(|| {
            if existing.contains(&c.phone_number) || !seen.insert(c.phone_number.as_str()) {
                Some("duplicate: the campaign already has this number".into())
            } else if opted_out.contains(&c.phone_number) {
                Some("opted out: the number opted out of your messages (do not call)".into())
            } else {
                None
            }
        });
        if let Some(reason) = reason {
            errors.push(RejectedContact {
                index,
                phone_number: c.phone_number.clone(),
                reason,
            });
            continue;
        }
        let custom = c.custom_data.clone().unwrap_or_else(|| json!({}));
        rows.push(cs::NewContact {
            id: ids::new_id(ids::CONTACT),
            position,
            phone_number: c.phone_number.clone(),
            name: c.name.clone(),
            timezone: custom.get("timezone").and_then(Value::as_str).map(str::to_string),
            custom_data: custom,
        });
        position += 1;
        if rows.len() == batch {
            added += rows.len();
            cs::insert_contacts(&txn, &row.id, &row.org_id, now, &rows).await?;
            rows.clear();
        }
    }
    added += rows.len();
    cs::insert_contacts(&txn, &row.id, &row.org_id, now, &rows).await?;
    let out = ContactsAdded {
        added,
        failed: errors.len(),
        errors,
    };
    let status = if out.added > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let res = ctx.commit(txn, status, &out).await?;
    if row.status == CampaignStatus::Running {
        // A campaign not running yet gets them when its actor starts.
        if out.added > 0 {
            crate::app::campaigns::refresh_queue_statistics(ctx.state.db.clone());
        }
        ctx.state.campaigns.ensure(&row.id);
    }
    Ok(res)
}

pub async fn list_contacts(ctx: Ctx, id: web::Path<String>, q: ListQuery) -> ApiResult<HttpResponse> {
    let page = q.page()?;
    let status = q.one_of(
        "status",
        &["queued", "in_progress", "completed", "failed", "suppressed"],
    )?;
    let row = load(&ctx, ctx.db(), &id).await?;
    let (rows, total) = cs::list_contacts(
        ctx.db(),
        ctx.org(),
        &row.id,
        status.as_deref(),
        page.offset(),
        page.page_size,
    )
    .await?;
    let ids: Vec<String> = rows.iter().map(|c| c.id.clone()).collect();
    let mut dials = cs::dials_of(ctx.db(), &ids).await?;
    let items: Vec<ContactOut> = rows
        .into_iter()
        .map(|c| {
            let calls: Vec<DialOut> = dials
                .remove(&c.id)
                .unwrap_or_default()
                .into_iter()
                // An intent armed ahead is no call (yet).
                .filter(|d| d.status != cs::DIAL_ARMED)
                .map(|d| DialOut {
                    attempt: d.attempt,
                    execution_id: campaigns::is_execution(&d.call_id).then(|| d.call_id.clone()),
                    call_id: (!campaigns::is_execution(&d.call_id)).then_some(d.call_id),
                    intent_key: d.intent_key,
                    status: d.status,
                    outcome: d.outcome,
                    provider_call_sid: d.provider_call_sid,
                    reconciled: d.reconciled,
                    created_at: d.created_at,
                })
                .collect();
            ContactOut {
                call_ids: calls.iter().filter_map(|d| d.call_id.clone()).collect(),
                calls,
                id: c.id,
                campaign_id: c.campaign_id,
                phone_number: c.phone_number,
                name: c.name,
                custom_data: c.custom_data,
                timezone: c.timezone,
                status: c.status,
                attempts: c.attempts,
                last_outcome: c.last_outcome,
                next_attempt_at: c.next_attempt_at,
                created_at: c.created_at,
                updated_at: c.updated_at,
            }
        })
        .collect();
    Ok(envelope::list("contacts", &items, page.info(total)))
}
