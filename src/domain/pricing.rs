//! The price table: USD per unit, per component and provider (`[billing.prices]`), and the
//! one rounding rule — an entry's amount is a whole number of USD millionths, so sums over
//! the ledger are exact.

use std::collections::BTreeMap;

/// The unit each component is counted in.
pub fn unit_of(component: &str) -> &'static str {
    match component {
        "telephony" | "stt" | "s2s" => "minute",
        "llm_input" | "llm_output" => "token",
        "tts" => "character",
        "tool_calls" => "call",
        "sms" => "segment",
        "email" => "email",
        _ => "unit",
    }
}

/// `component → provider → USD per unit`.
pub type Table = BTreeMap<String, BTreeMap<String, f64>>;

/// The price table: `component → provider → USD per unit`, where a component's `default`
/// prices providers it does not name and `sandbox` is whatever the table says (free by
/// default); a plan may override any component (`[billing.plans.<id>.prices]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    pub table: Table,
    pub plans: BTreeMap<String, Table>,
}

fn lookup(table: &Table, component: &str, provider: &str) -> Option<f64> {
    table
        .get(component)
        .and_then(|p| p.get(provider).or_else(|| p.get("default")))
        .copied()
}

impl Prices {
    pub fn new(table: Table) -> Self {
        Self {
            table,
            plans: BTreeMap::new(),
        }
    }

    /// With the plans' overrides (plans without any are left out).
    pub fn with_plans(mut self, plans: impl IntoIterator<Item = (String, Table)>) -> Self {
        self.plans = plans.into_iter().filter(|(_, t)| !t.is_empty()).collect();
        self
    }

    /// Whether any plan prices differently (the plan then has to be known to price).
    pub fn by_plan(&self) -> bool {
        !self.plans.is_empty()
    }

    /// USD per unit of `component` from `provider` on `plan`: the plan's price for the
    /// component when it sets one, else the table's (0 when neither has it).
    pub fn unit_price(&self, plan: Option<&str>, component: &str, provider: &str) -> f64 {
        plan.and_then(|p| self.plans.get(p))
            .and_then(|t| lookup(t, component, provider))
            .or_else(|| lookup(&self.table, component, provider))
            .unwrap_or(0.0)
    }

    /// `(unit price, amount in USD millionths)` of `quantity` units.
    pub fn price(&self, plan: Option<&str>, component: &str, provider: &str, quantity: f64) -> (f64, i64) {
        let unit = self.unit_price(plan, component, provider);
        (unit, micros(unit * quantity))
    }
}

/// USD → whole millionths, rounded half away from zero.
pub fn micros(usd: f64) -> i64 {
    (usd * 1_000_000.0).round() as i64
}

/// Millionths → USD, for display.
pub fn usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Prices {
        Prices::new(
            [(
                "telephony".to_string(),
                [("twilio".to_string(), 0.014), ("default".to_string(), 0.02)].into(),
            )]
            .into(),
        )
    }

    #[test]
    fn prices_by_provider_with_a_default_and_exact_millionths() {
        let p = table();
        assert_eq!(p.price(None, "telephony", "twilio", 2.5), (0.014, 35_000));
        assert_eq!(p.unit_price(None, "telephony", "other"), 0.02);
        assert_eq!(p.price(None, "tts", "elevenlabs", 1000.0), (0.0, 0));
        assert_eq!(micros(0.0000005), 1);
        assert_eq!(usd(35_000), 0.035);
        assert_eq!(unit_of("llm_input"), "token");
    }

    #[test]
    fn a_plan_overrides_the_components_it_names() {
        let p = table().with_plans([
            (
                "pro".to_string(),
                [("telephony".to_string(), [("default".to_string(), 0.01)].into())].into(),
            ),
            ("free".to_string(), Table::new()),
        ]);
        assert!(p.by_plan());
        assert_eq!(p.unit_price(Some("pro"), "telephony", "twilio"), 0.01);
        assert_eq!(p.unit_price(Some("free"), "telephony", "twilio"), 0.014);
        assert_eq!(p.unit_price(Some("pro"), "sms", "twilio"), 0.0);
        assert_eq!(p.plans.len(), 1, "plans without overrides are left out");
    }
}
