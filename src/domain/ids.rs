//! Resource ids: a prefix from `API_CONVENTIONS.md` and 26 Crockford base-32 characters of
//! a UUIDv7 (time-ordered, so ids sort by creation).

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

pub const ORGANIZATION: &str = "ORG";
pub const USER: &str = "USR";
pub const API_KEY: &str = "KEY";
pub const FEEDBACK: &str = "FB";
pub const EMAIL: &str = "EML";
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_time() {
        let a = new_id(FEEDBACK);
        let b = new_id(FEEDBACK);
        assert!(a.starts_with("FB-") && a.len() == 29);
        assert!(a < b);
    }
}
