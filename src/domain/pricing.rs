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

/// `component → provider → USD per unit`; a component's `default` prices providers it does
/// not name; `sandbox` is whatever the table says (free by default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices(pub BTreeMap<String, BTreeMap<String, f64>>);

impl Prices {
    /// USD per unit of `component` from `provider` (0 when the table has neither).
    pub fn unit_price(&self, component: &str, provider: &str) -> f64 {
        self.0
            .get(component)
            .and_then(|p| p.get(provider).or_else(|| p.get("default")))
            .copied()
            .unwrap_or(0.0)
    }

    /// `(unit price, amount in USD millionths)` of `quantity` units.
    pub fn price(&self, component: &str, provider: &str, quantity: f64) -> (f64, i64) {
        let unit = self.unit_price(component, provider);
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
        Prices(
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
        assert_eq!(p.price("telephony", "twilio", 2.5), (0.014, 35_000));
        assert_eq!(p.unit_price("telephony", "other"), 0.02);
        assert_eq!(p.price("tts", "elevenlabs", 1000.0), (0.0, 0));
        assert_eq!(micros(0.0000005), 1);
        assert_eq!(usd(35_000), 0.035);
        assert_eq!(unit_of("llm_input"), "token");
    }
}
