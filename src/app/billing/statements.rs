//! Invoices as statements: one per calendar month (UTC) from the usage ledger, a line per
//! component summed in the database (one aggregate query, however many entries), the plan's
//! fee while a paid subscription ran, and what the plan includes taken off. Amounts are
//! exact in USD millionths; `amountDue` is the total in cents, rounded half up.

use chrono::{DateTime, Datelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Billing, BillingError, IN_FORCE, month_start, next_month};
use crate::{
    domain::pricing::{micros, usd},
    store::{accounts, billing as store},
};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLine {
    /// A ledger component (`telephony`, `stt`, `llm_input`…), `plan` or `included_usage`.
    pub component: String,
    pub description: String,
    pub quantity: f64,
    pub unit: String,
    /// USD.
    pub amount: f64,
    /// USD millionths (exact: the usage lines add up to the ledger).
    pub amount_micros: i64,
    /// Ledger entries summed into the line.
    pub entries: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    /// `INV-YYYYMM-<organization id>`.
    pub id: String,
    /// `draft` (the month is not over), `open` (due), `paid`.
    pub status: String,
    pub currency: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub lines: Vec<InvoiceLine>,
    /// USD of usage at the price table.
    pub usage: f64,
    /// USD: every line.
    pub total: f64,
    pub total_micros: i64,
    /// Cents.
    pub amount_due: i64,
}

fn invoice_id(org_id: &str, month: DateTime<Utc>) -> String {
    format!("INV-{:04}{:02}-{org_id}", month.year(), month.month())
}

/// The month an invoice id names, when it is the organisation's.
fn month_of(org_id: &str, id: &str) -> Option<DateTime<Utc>> {
    let (ym, org) = id.strip_prefix("INV-")?.split_once('-')?;
    if org != org_id || ym.len() != 6 || !ym.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m) = (ym[..4].parse().ok()?, ym[4..].parse().ok()?);
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

fn label(component: &str) -> &str {
    match component {
        "telephony" => "Telephony",
        "stt" => "Speech-to-text",
        "llm_input" => "LLM input tokens",
        "llm_output" => "LLM output tokens",
        "tts" => "Text-to-speech",
        "s2s" => "Speech-to-speech",
        "tool_calls" => "Tool calls",
        "sms" => "SMS segments",
        "email" => "Emails",
        other => other,
    }
}

impl Billing {
    /// The months that have a statement, newest first: from the organisation's creation (or
    /// its first usage, if earlier) to this month.
    async fn months(&self, org_id: &str) -> Result<Vec<DateTime<Utc>>, BillingError> {
        let org = accounts::find_org(&self.db, org_id)
            .await?
            .ok_or_else(|| BillingError::NotFound("Organization", org_id.into()))?;
        let first = match store::first_usage(&self.db, org_id).await? {
            Some(t) if t < org.created_at => t,
            _ => org.created_at,
        };
        let (mut m, now) = (month_start(first), month_start(Utc::now()));
        let mut out = Vec::new();
        while m <= now {
            out.push(m);
            m = next_month(m);
        }
        out.reverse();
        Ok(out)
    }

    /// One page of the organisation's statements, newest first, and how many there are.
    pub async fn invoices(&self, org_id: &str, offset: u64, limit: u64) -> Result<(Vec<Invoice>, u64), BillingError> {
        let months = self.months(org_id).await?;
        let total = months.len() as u64;
        let mut out = Vec::new();
        for m in months
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
        {
            out.push(self.statement(org_id, m).await?);
        }
        Ok((out, total))
    }

    /// One statement by id (another organisation's, or a month without one: not found).
    pub async fn invoice(&self, org_id: &str, id: &str) -> Result<Invoice, BillingError> {
        let not_found = || BillingError::NotFound("Invoice", id.into());
        let month = month_of(org_id, id).ok_or_else(not_found)?;
        if !self.months(org_id).await?.contains(&month) {
            return Err(not_found());
        }
        self.statement(org_id, month).await
    }

    /// The statement of the month starting at `month`.
    pub async fn statement(&self, org_id: &str, month: DateTime<Utc>) -> Result<Invoice, BillingError> {
        let end = next_month(month);
        let usage = store::usage_by_component(&self.db, org_id, month, end).await?;
        let used: i64 = usage.iter().map(|l| l.amount_micros).sum();
        let mut lines: Vec<InvoiceLine> = usage
            .into_iter()
            .map(|l| InvoiceLine {
                description: format!("{} ({} {})", label(&l.component), round6(l.quantity), l.unit),
                component: l.component,
                quantity: round6(l.quantity),
                unit: l.unit,
                amount: usd(l.amount_micros),
                amount_micros: l.amount_micros,
                entries: l.entries,
            })
            .collect();
        let org = accounts::find_org(&self.db, org_id)
            .await?
            .ok_or_else(|| BillingError::NotFound("Organization", org_id.into()))?;
        let acct = store::account(&self.db, org_id).await?;
        // The plan of the month: the subscription's while it ran in it, else the org's.
        let subscribed = acct.subscribed_at.is_some_and(|t| t < end)
            && acct.subscription_status.as_deref().is_some_and(|s| {
                IN_FORCE.contains(&s) || s == "past_due" || acct.period_end.is_some_and(|e| e > month)
            });
        let plan_id = match (&acct.subscription_plan, subscribed) {
            (Some(p), true) => p.clone(),
            _ => org.plan.clone(),
        };
        let plan = self.plan(&plan_id);
        let mut line = |component: &str, description: String, amount_micros: i64| {
            lines.push(InvoiceLine {
                component: component.into(),
                description,
                quantity: 1.0,
                unit: "month".into(),
                amount: usd(amount_micros),
                amount_micros,
                entries: 0,
            });
        };
        if let Some(p) = plan {
            if subscribed && p.monthly_price_usd > 0.0 {
                line("plan", format!("{} plan", p.name), micros(p.monthly_price_usd));
            }
            let included = micros(p.included_usage_usd).min(used);
            if included > 0 {
                line(
                    "included_usage",
                    format!("Usage included in the {} plan", p.name),
                    -included,
                );
            }
        }
        let total_micros: i64 = lines.iter().map(|l| l.amount_micros).sum();
        let amount_due = cents(total_micros);
        let status = if end > Utc::now() {
            "draft"
        } else if amount_due <= 0 || acct.paid_through.is_some_and(|p| p >= end) {
            "paid"
        } else {
            "open"
        };
        Ok(Invoice {
            id: invoice_id(org_id, month),
            status: status.into(),
            currency: "usd".into(),
            period_start: month,
            period_end: end,
            lines,
            usage: usd(used),
            total: usd(total_micros),
            total_micros,
            amount_due,
        })
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// USD millionths → cents, half up.
fn cents(micros: i64) -> i64 {
    (micros + 5_000).div_euclid(10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_the_month_and_the_organisation() {
        let m = month_of("ORG-A", "INV-202612-ORG-A").unwrap_or_default();
        assert_eq!(invoice_id("ORG-A", m), "INV-202612-ORG-A");
        assert_eq!(month_of("ORG-B", "INV-202612-ORG-A"), None);
        assert_eq!(month_of("ORG-A", "INV-2026-12-ORG-A"), None);
        assert_eq!(month_of("ORG-A", "INV-202613-ORG-A"), None);
        assert_eq!(month_of("ORG-A", "nope"), None);
    }

    #[test]
    fn cents_round_half_up() {
        assert_eq!(cents(4_999), 0);
        assert_eq!(cents(5_000), 1);
        assert_eq!(cents(1_234_567), 123);
        assert_eq!(cents(-10_000), -1);
    }
}
