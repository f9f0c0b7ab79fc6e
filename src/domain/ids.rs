//! Resource ids: a prefix from `API_CONVENTIONS.md` and 26 Crockford base-32 characters of
//! a UUIDv7 (time-ordered, so ids sort by creation).

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub const ORGANIZATION: &str = "ORG";
pub const USER: &str = "USR";
pub const API_KEY: &str = "KEY";
pub const FEEDBACK: &str = "FB";
pub const EMAIL: &str = "EML";
pub const EMAIL_DOMAIN: &str = "EDM";
pub const EMAIL_THREAD: &str = "ETH";
pub const EMAIL_SUPPRESSION: &str = "SUP";
/// One entry of the usage ledger.
pub const USAGE: &str = "USG";
pub const EVENT: &str = "EVT";
pub const WEBHOOK: &str = "WHK";
pub const DELIVERY: &str = "DLV";
/// One row of a webhook delivery log (an HTTP attempt of a `DLV-` delivery).
pub const WEBHOOK_ATTEMPT: &str = "ATT";
pub const AGENT: &str = "AGT";
pub const PHONE_NUMBER: &str = "TEL";
pub const TOOL: &str = "TOOL";
pub const SMS: &str = "SMS";
pub const CONVERSATION: &str = "CNV";
pub const OPT_OUT: &str = "OPT";
pub const BRAND: &str = "BRN";
/// A2P campaigns share the `CMP-` prefix with outbound campaigns (separate table).
pub const A2P_CAMPAIGN: &str = "CMP";
pub const CALL: &str = "CALL";
/// Outbound campaigns (`campaigns` table).
pub const CAMPAIGN: &str = "CMP";
pub const CONTACT: &str = "CON";
pub const KNOWLEDGE_CRAWL: &str = "KCR";
pub const KNOWLEDGE_DOCUMENT: &str = "KDOC";
pub const KNOWLEDGE_CHUNK: &str = "KCH";
pub const WORKFLOW: &str = "WFL";
pub const EXECUTION: &str = "EXE";
pub const WORKFLOW_STEP: &str = "STP";

/// A fresh id: `FB-01JD…`.
pub fn new_id(prefix: &str) -> String {
    let mut n = uuid::Uuid::now_v7().as_u128();
    let mut buf = [0u8; 26];
    for slot in buf.iter_mut().rev() {
        *slot = CROCKFORD[(n & 31) as usize];
        n >>= 5;
    }
    let mut id = String::with_capacity(prefix.len() + 27);
    id.push_str(prefix);
    id.push('-');
    id.extend(buf.iter().map(|&b| b as char));
    id
}

/// An id derived from `seed` (the same seed, the same id): a workflow step's effect is
/// found again by it after a crash.
pub fn derived_id(prefix: &str, seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut n = u128::from_be_bytes(digest[..16].try_into().unwrap_or([0; 16]));
    let mut buf = [0u8; 26];
    for slot in buf.iter_mut().rev() {
        *slot = CROCKFORD[(n & 31) as usize];
        n >>= 5;
    }
    format!("{prefix}-{}", buf.iter().map(|&b| b as char).collect::<String>())
}

/// A string newtype for one resource's ids: serialised as the bare string, made fresh with
/// its prefix by `new()`.
macro_rules! id_types {
    ($($(#[$doc:meta])* $name:ident => $prefix:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id with this resource's prefix.
            pub fn new() -> Self {
                Self(new_id($prefix))
            }

            /// This resource's prefix (`AGT`, `CALL`, …).
            pub const PREFIX: &'static str = $prefix;

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}

id_types!(
    /// `AGT-…`
    AgentId => AGENT,
    /// `CALL-…`
    CallId => CALL,
    /// `CMP-…` (outbound campaigns)
    CampaignId => CAMPAIGN,
    /// `TEL-…`
    PhoneNumberId => PHONE_NUMBER,
    /// `WHK-…`
    WebhookId => WEBHOOK,
    /// `TOOL-…`
    ToolId => TOOL,
    /// `ORG-…`
    OrganizationId => ORGANIZATION,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_newtypes_carry_their_prefix_and_are_plain_strings_on_the_wire() {
        let agent = AgentId::new();
        assert!(agent.as_str().starts_with("AGT-") && agent.len() == 30);
        assert!(CallId::new().starts_with("CALL-"));
        assert!(CampaignId::new().starts_with("CMP-"));
        assert!(PhoneNumberId::new().starts_with("TEL-"));
        assert!(WebhookId::new().starts_with("WHK-"));
        assert!(ToolId::new().starts_with("TOOL-"));
        assert!(OrganizationId::new().starts_with("ORG-"));
        let json = serde_json::to_string(&agent).unwrap_or_default();
        assert_eq!(json, format!("\"{agent}\""));
        let back: AgentId = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, agent);
        assert_eq!(String::from(back.clone()), agent.to_string());
        assert_eq!(AgentId::from("AGT-x"), "AGT-x");
    }

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let a = new_id(FEEDBACK);
        let b = new_id(FEEDBACK);
        assert!(a.starts_with("FB-") && a.len() == 29);
        assert!(a < b);
    }
}
