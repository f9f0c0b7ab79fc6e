//! A phone number in strict E.164: `+`, a non-zero country digit, 8–15 digits in all.
//! Parsed once where a number is accepted (outbound calls, number provisioning and import,
//! SMS), then carried as this type.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// A strict E.164 number, e.g. `+14155550123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// Why a string is not an E.164 number (it is kept, for the error message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an E.164 phone number (e.g. +14155550123)")]
pub struct InvalidE164(pub String);

impl E164 {
    /// The number, or why not: no trimming, no reformatting.
    ///
    /// # Errors
    /// [`InvalidE164`] unless `s` is `+` and 8–15 digits, the first non-zero.
    pub fn parse(s: &str) -> Result<Self, InvalidE164> {
        let valid = s.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
        });
        if valid {
            Ok(Self(s.to_string()))
        } else {
            Err(InvalidE164(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for E164 {
    type Err = InvalidE164;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for E164 {
    type Error = InvalidE164;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        if Self::parse(&s).is_ok() {
            Ok(Self(s))
        } else {
            Err(InvalidE164(s))
        }
    }
}

impl TryFrom<&str> for E164 {
    type Error = InvalidE164;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::parse(s)
    }
}

impl From<E164> for String {
    fn from(n: E164) -> Self {
        n.0
    }
}

impl PartialEq<str> for E164 {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for E164 {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_numbers_parse_and_print_as_given() {
        let n = E164::parse("+14155550100").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n.as_str(), "+14155550100");
        assert_eq!(n.to_string(), "+14155550100");
        assert_eq!(String::from(n.clone()), "+14155550100");
        assert_eq!("+14155550100".parse::<E164>().ok(), Some(n.clone()));
        assert_eq!(E164::try_from("+14155550100".to_string()).ok(), Some(n));
        assert!(E164::parse("+12345678").is_ok(), "8 digits");
        assert!(E164::parse("+123456789012345").is_ok(), "15 digits");
    }

    #[test]
    fn anything_else_is_refused_with_the_number_in_the_message() {
        for bad in [
            "",
            "+",
            "14155550100",
            "+0123456789",
            "+1415",
            "+1234567",
            "+1 415 555 0100",
            " +14155550100",
            "+1415555010012345",
            "+1415555O100",
            "+١٤١٥٥٥٥٠١٠٠",
        ] {
            assert_eq!(E164::parse(bad), Err(InvalidE164(bad.to_string())), "{bad}");
        }
        assert_eq!(
            InvalidE164("123".into()).to_string(),
            "'123' is not an E.164 phone number (e.g. +14155550123)"
        );
    }

    #[test]
    fn serde_is_the_plain_string_and_refuses_bad_numbers() {
        let n: E164 = serde_json::from_str("\"+447700900123\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_string(&n).ok().as_deref(), Some("\"+447700900123\""));
        assert!(serde_json::from_str::<E164>("\"447700900123\"").is_err());
    }
}
