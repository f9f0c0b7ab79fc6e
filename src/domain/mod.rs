//! Parsed domain values: resource ids with their prefixes, e-mail addresses, slugs, and
//! the closed sets of values stored as strings (statuses, pipeline, direction, carrier).

pub mod agent;
pub mod e164;
pub mod email;
pub mod ids;
pub mod knowledge;
pub mod periods;
pub mod pricing;
pub mod validation;

pub use thruai_entities::values::status::{AgentStatus, Direction, PipelineMode, TelephonyProvider};

/// Lower-cases and checks an e-mail address (one `@`, a dotted domain, no spaces).
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_ascii_lowercase();
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    (!local.is_empty() && local.len() <= 64 && !domain.contains('@') && domain_ok).then_some(email)
}

/// `Acme Corp, Inc.` → `acme-corp-inc`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(63).collect()
}

pub use e164::{E164, InvalidE164};

/// Strict E.164: `+`, a non-zero country digit, 8–15 digits in all (see [`E164`]).
pub fn is_e164(s: &str) -> bool {
    E164::parse(s).is_ok()
}

/// US toll-free area codes.
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

/// True for US (+1) long codes, which need an approved A2P 10DLC campaign to send SMS.
pub fn is_us_long_code(e164: &str) -> bool {
    e164.strip_prefix("+1")
        .is_some_and(|rest| rest.len() == 10 && !TOLL_FREE.contains(&&rest[..3]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(normalize_email(" Ada@Example.COM ").as_deref(), Some("ada@example.com"));
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@b@c.com",
            "a@.com",
            "a@x..com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[test]
    fn slugs_are_lowercase_and_dashed() {
        assert_eq!(slugify("Acme Corp, Inc."), "acme-corp-inc");
        assert_eq!(slugify("  --Hello__World-- "), "hello-world");
        assert_eq!(slugify("日本"), "");
    }

    #[test]
    fn us_long_codes_exclude_toll_free_and_other_countries() {
        assert!(is_us_long_code("+14155550100"));
        assert!(!is_us_long_code("+18005550100"));
        assert!(!is_us_long_code("+447700900123"));
    }

    #[test]
    fn e164_is_strict() {
        assert!(is_e164("+14155550100"));
        for bad in [
            "14155550100",
            "+0123456789",
            "+1415",
            "+1 415 555 0100",
            "+1415555010012345",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
