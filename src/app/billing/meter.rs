//! The billing worker's pass. Usage: each ledger entry written while its organisation has
//! a customer (the others are written as reported) becomes one meter event (value: USD
//! millionths) whose `identifier` is the entry's id — so a retry after a lost answer is the
//! same event — and is marked once the provider accepted it; failures are retried on the
//! next pass, and an entry the provider refuses outright (older than its 35-day window) is
//! marked and logged, never retried forever. Charges: those whose answer was lost are
//! settled (`settle_pending`).

use std::time::Duration;

use chrono::Utc;

use super::Billing;
use crate::{
    providers::payments::{MeterEvent, PaymentError},
    store::billing as store,
};

impl Billing {
    /// Runs a pass every `billing.meter_interval_ms`, for as long as the runtime lives:
    /// reports usage to the meter (when a meter event name is set) and settles charges whose
    /// answer was lost. Nothing to do without a payment provider.
    pub fn start_meter(&self) {
        if self.payments.is_none() {
            return;
        }
        let this = self.clone();
        actix_web::rt::spawn(async move {
            let mut tick = actix_web::rt::time::interval(Duration::from_millis(this.settings.meter_interval_ms));
            loop {
                tick.tick().await;
                if !this.settings.meter_event_name.is_empty()
                    && let Err(e) = this.report_usage().await
                {
                    tracing::warn!(error = %e, "reporting usage to the meter failed; retried next pass");
                }
                let now = Utc::now();
                let secs = chrono::Duration::seconds;
                if let Err(e) = this
                    .settle_pending(
                        now - secs(this.settings.charge_retry_after_secs),
                        now - secs(this.settings.charge_give_up_secs),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "settling pending charges failed; retried next pass");
                }
            }
        });
    }

    /// Reports one batch of unreported entries; returns how many the provider accepted.
    ///
    /// # Errors
    /// When the store fails, or the provider is unreachable (the rest wait for the next
    /// pass).
    pub async fn report_usage(&self) -> Result<usize, PaymentError> {
        let Some(payments) = self.payments.clone() else {
            return Ok(0);
        };
        let mut accepted = 0;
        for (entry, customer) in store::unmetered(&self.db, self.settings.meter_batch).await? {
            let event = MeterEvent {
                event_name: self.settings.meter_event_name.clone(),
                customer,
                value: entry.amount_micros,
                identifier: entry.id.clone(),
                timestamp: entry.occurred_at.timestamp().min(Utc::now().timestamp()),
            };
            match payments.meter_event(event).await {
                Ok(()) => accepted += 1,
                Err(PaymentError::Invalid(why)) => {
                    tracing::warn!(entry = %entry.id, %why, "the meter refused a ledger entry; it is not reported");
                }
                Err(e) => return Err(e),
            }
            store::mark_metered(&self.db, &entry.id).await?;
        }
        Ok(accepted)
    }
}
