//! Standard Webhooks (Svix-compatible) HMAC-SHA256 signer and verifier, used for outgoing
//! webhooks and custom tool calls: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
#![forbid(unsafe_code)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Reject timestamps further than this from now, in either direction (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;
/// Prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Header names (Standard Webhooks).
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Length in bytes of a generated key.
const GENERATED_KEY_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SigningError {
    #[error("webhook secret is empty")]
    Empty,
    #[error("webhook secret after \"whsec_\" is not valid base64")]
    InvalidBase64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// A header is missing, empty or unparsable; the text names which.
    #[error("malformed webhook header: {0}")]
    Malformed(&'static str),
    /// The timestamp is outside the tolerance window (stale or in the future).
    #[error("webhook timestamp outside the allowed tolerance")]
    Timestamp,
    /// No `v1` signature matched any of the secrets.
    #[error("no matching webhook signature")]
    NoMatch,
}

/// HMAC key bytes. Debug output never shows the key.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookSecret(<{} bytes redacted>)", self.0.len())
    }
}

impl WebhookSecret {
    /// A new random 24-byte key and its display form `whsec_<base64>` (show/store that once).
    pub fn generate() -> (Self, String) {
        let mut key = vec![0u8; GENERATED_KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        let text = format!("{SECRET_PREFIX}{}", STANDARD.encode(&key));
        (Self(key), text)
    }

    /// `whsec_<base64>` -> the decoded bytes (padding optional). A string WITHOUT the prefix
    /// is used as-is: its UTF-8 bytes are the key (for providers that hand out plain secrets).
    pub fn parse(s: &str) -> Result<Self, SigningError> {
        let s = s.trim();
        let key = match s.strip_prefix(SECRET_PREFIX) {
            Some(b64) => STANDARD_PAD_INDIFFERENT
                .decode(b64)
                .map_err(|_| SigningError::InvalidBase64)?,
            None => s.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err(SigningError::Empty);
        }
        Ok(Self(key))
    }

    /// Builds a secret from raw key bytes.
    pub fn from_bytes(key: Vec<u8>) -> Result<Self, SigningError> {
        if key.is_empty() {
            return Err(SigningError::Empty);
        }
        Ok(Self(key))
    }

    /// The `whsec_<base64>` form of this key.
    pub fn to_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length, so this never fails; the fallback keeps clippy happy.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

/// `v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The three header values for one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs for `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub fn header_pairs(&self) -> [(&'static str, String); 3] {
        [
            (HEADER_ID, self.id.clone()),
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }

    /// The same values under the Svix names (`svix-id`, `svix-timestamp`, `svix-signature`).
    pub fn svix_header_pairs(&self) -> [(&'static str, String); 3] {
        [
            ("svix-id", self.id.clone()),
            ("svix-timestamp", self.timestamp.to_string()),
            ("svix-signature", self.signature.clone()),
        ]
    }
}

/// Signs `body` and returns the header values.
pub fn signed_headers(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    SignedHeaders {
        id: msg_id.to_owned(),
        timestamp,
        signature: sign(secret, msg_id, timestamp, body),
    }
}

/// Verifies a delivery against one or more secrets (several during rotation).
///
/// `signature_header` is a space-separated list of `<version>,<base64>` entries; only `v1` is
/// checked, other versions are ignored. Comparison is constant-time on the decoded bytes.
/// Checks, in order: headers well-formed, timestamp within `tolerance_secs` of `now_unix`
/// (either direction), then some `v1` signature matching some secret.
pub fn verify(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    if msg_id.trim().is_empty() {
        return Err(VerifyError::Malformed(HEADER_ID));
    }
    let ts_text = timestamp_header.trim();
    if ts_text.is_empty() || !ts_text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed(HEADER_TIMESTAMP));
    }
    let timestamp: i64 = ts_text.parse().map_err(|_| VerifyError::Malformed(HEADER_TIMESTAMP))?;

    let mut candidates: Vec<Vec<u8>> = Vec::new();
    let mut entries = 0usize;
    for entry in signature_header.split_whitespace() {
        entries += 1;
        let (version, sig) = entry.split_once(',').ok_or(VerifyError::Malformed(HEADER_SIGNATURE))?;
        if version != "v1" {
            continue;
        }
        // An undecodable v1 entry cannot match; skip it rather than failing the others.
        if let Ok(bytes) = STANDARD_PAD_INDIFFERENT.decode(sig) {
            candidates.push(bytes);
        }
    }
    if entries == 0 {
        return Err(VerifyError::Malformed(HEADER_SIGNATURE));
    }

    if now_unix.abs_diff(timestamp) > tolerance_secs.max(0).unsigned_abs() {
        return Err(VerifyError::Timestamp);
    }

    for secret in secrets {
        let mac = secret.mac(msg_id, timestamp, body);
        if candidates.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).unwrap()
    }

    fn check(secrets: &[WebhookSecret], sig: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
        verify(secrets, MSG_ID, &TS.to_string(), sig, body, now, DEFAULT_TOLERANCE_SECS)
    }

    #[test]
    fn official_vector() {
        assert_eq!(sign(&secret(), MSG_ID, TS, BODY), EXPECTED);
        assert_eq!(check(&[secret()], EXPECTED, BODY, TS), Ok(()));
    }

    #[test]
    fn generated_secret_round_trips() {
        let (s, text) = WebhookSecret::generate();
        assert!(text.starts_with("whsec_"));
        assert_eq!(s.0.len(), 24);
        assert_eq!(s.to_whsec(), text);
        let parsed = WebhookSecret::parse(&text).unwrap();
        assert_eq!(parsed.0, s.0);
        let (other, _) = WebhookSecret::generate();
        assert_ne!(other.0, s.0);

        let h = signed_headers(&s, "msg_1", 1_700_000_000, b"{}");
        assert_eq!(
            verify(
                &[parsed],
                &h.id,
                &h.timestamp.to_string(),
                &h.signature,
                b"{}",
                1_700_000_000,
                300
            ),
            Ok(())
        );
        let pairs = h.header_pairs();
        assert_eq!(pairs[0], ("webhook-id", "msg_1".to_string()));
        assert_eq!(pairs[1], ("webhook-timestamp", "1700000000".to_string()));
        assert_eq!(pairs[2], ("webhook-signature", h.signature.clone()));
        assert_eq!(h.svix_header_pairs()[2].0, "svix-signature");
        assert!(!format!("{s:?}").contains(&text[6..]));
    }

    #[test]
    fn secret_parsing() {
        assert_eq!(
            WebhookSecret::parse("whsec_!!!").unwrap_err(),
            SigningError::InvalidBase64
        );
        assert_eq!(WebhookSecret::parse("whsec_").unwrap_err(), SigningError::Empty);
        assert_eq!(WebhookSecret::parse("").unwrap_err(), SigningError::Empty);
        // Unpadded base64 accepted.
        let padded = WebhookSecret::parse("whsec_YWJj").unwrap();
        assert_eq!(padded.0, b"abc");
        assert_eq!(WebhookSecret::parse("whsec_YWI").unwrap().0, b"ab");
        assert_eq!(WebhookSecret::parse("whsec_YWI=").unwrap().0, b"ab");
        // Without the prefix the UTF-8 bytes are the key.
        assert_eq!(WebhookSecret::parse("plain-secret").unwrap().0, b"plain-secret");
        assert!(WebhookSecret::from_bytes(vec![]).is_err());
    }

    #[test]
    fn rotation_and_multiple_signatures() {
        let (old, _) = WebhookSecret::generate();
        // Second secret matches.
        assert_eq!(check(&[old.clone(), secret()], EXPECTED, BODY, TS), Ok(()));
        // Several signatures in the header, the matching one last, unknown versions ignored.
        let other = sign(&old, MSG_ID, TS, BODY);
        let header = format!("v1a,AAAA {other} v1,bm90LWEtc2ln  {EXPECTED}");
        assert_eq!(check(&[secret()], &header, BODY, TS), Ok(()));
        assert_eq!(check(std::slice::from_ref(&old), &header, BODY, TS), Ok(()));
        // Undecodable v1 entries are skipped, not fatal.
        let header = format!("v1,@@@ {EXPECTED}");
        assert_eq!(check(&[secret()], &header, BODY, TS), Ok(()));
        // Only unknown versions: no match.
        assert_eq!(
            check(&[secret()], "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, TS),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(check(&[], EXPECTED, BODY, TS), Err(VerifyError::NoMatch));
    }

    #[test]
    fn tampering_and_wrong_secret() {
        assert_eq!(
            check(&[secret()], EXPECTED, br#"{"test": 2432232315}"#, TS),
            Err(VerifyError::NoMatch)
        );
        let (wrong, _) = WebhookSecret::generate();
        assert_eq!(check(&[wrong], EXPECTED, BODY, TS), Err(VerifyError::NoMatch));
        // Signature valid for another id or timestamp.
        assert_eq!(
            verify(&[secret()], "msg_other", &TS.to_string(), EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        let ts2 = (TS + 1).to_string();
        assert_eq!(
            verify(&[secret()], MSG_ID, &ts2, EXPECTED, BODY, TS, 300),
            Err(VerifyError::NoMatch)
        );
        // Truncated signature.
        assert_eq!(
            check(&[secret()], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJE", BODY, TS),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn timestamp_window() {
        let s = [secret()];
        assert_eq!(check(&s, EXPECTED, BODY, TS + 300), Ok(()));
        assert_eq!(check(&s, EXPECTED, BODY, TS - 300), Ok(()));
        // Stale (more than 5 minutes old) and future.
        assert_eq!(check(&s, EXPECTED, BODY, TS + 301), Err(VerifyError::Timestamp));
        assert_eq!(check(&s, EXPECTED, BODY, TS - 301), Err(VerifyError::Timestamp));
        assert_eq!(check(&s, EXPECTED, BODY, TS + 3600), Err(VerifyError::Timestamp));
        // Extreme values do not overflow.
        assert_eq!(check(&s, EXPECTED, BODY, i64::MIN), Err(VerifyError::Timestamp));
        assert_eq!(check(&s, EXPECTED, BODY, i64::MAX), Err(VerifyError::Timestamp));
    }

    #[test]
    fn malformed_headers() {
        let s = [secret()];
        let ts = TS.to_string();
        let bad_ts = [
            "",
            " ",
            "abc",
            "-1614265330",
            "1614265330.5",
            "1e9",
            "99999999999999999999",
        ];
        for t in bad_ts {
            assert_eq!(
                verify(&s, MSG_ID, t, EXPECTED, BODY, TS, 300),
                Err(VerifyError::Malformed(HEADER_TIMESTAMP)),
                "{t:?}"
            );
        }
        for sig in ["", "   ", "v1", "garbage", &format!("{EXPECTED} v1")] {
            assert_eq!(
                verify(&s, MSG_ID, &ts, sig, BODY, TS, 300),
                Err(VerifyError::Malformed(HEADER_SIGNATURE)),
                "{sig:?}"
            );
        }
        assert_eq!(
            verify(&s, "", &ts, EXPECTED, BODY, TS, 300),
            Err(VerifyError::Malformed(HEADER_ID))
        );
        // Surrounding whitespace in the timestamp header is tolerated.
        assert_eq!(verify(&s, MSG_ID, " 1614265330 ", EXPECTED, BODY, TS, 300), Ok(()));
    }
}

/// Stripe's `Stripe-Signature` (`t=…,v1=…[,v1=…]`): `hex(HMAC-SHA256(secret as given,
/// "{t}.{raw body}"))`, any `v1` matching in constant time, `t` within `tolerance_secs`.
///
/// # Errors
/// A message saying what is wrong.
pub fn verify_stripe(
    secret: &str,
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), String> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => candidates.extend(hex_bytes(sig)),
            _ => {}
        }
    }
    let t = timestamp.ok_or("Stripe-Signature has no timestamp (t=…)")?;
    if candidates.is_empty() {
        return Err("Stripe-Signature has no v1 signature".into());
    }
    if now_unix.abs_diff(t) > tolerance_secs.max(0).unsigned_abs() {
        return Err("Stripe-Signature timestamp is outside the tolerance".into());
    }
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).map_err(|_| "unusable secret")?;
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    if candidates.iter().any(|sig| mac.clone().verify_slice(sig).is_ok()) {
        Ok(())
    } else {
        Err("no v1 signature matches".into())
    }
}

/// Signs like Stripe (tests, and tools that replay events to a server): the
/// `Stripe-Signature` value.
pub fn sign_stripe(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

fn hex_bytes(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod stripe_tests {
    use super::*;

    #[test]
    fn stripe_signatures_verify_with_rotation_and_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign_stripe("whsec_abc", 1_700_000_000, body);
        assert_eq!(verify_stripe("whsec_abc", &header, body, 1_700_000_100, 300), Ok(()));
        // A second v1 (secret rotation) and an unknown scheme are fine.
        let rotated = format!("{},v1={},v0=zz", header, "00".repeat(32));
        assert_eq!(verify_stripe("whsec_abc", &rotated, body, 1_700_000_000, 300), Ok(()));
        assert!(verify_stripe("whsec_other", &header, body, 1_700_000_000, 300).is_err());
        assert!(verify_stripe("whsec_abc", &header, b"{}", 1_700_000_000, 300).is_err());
        assert!(verify_stripe("whsec_abc", &header, body, 1_700_000_301, 300).is_err());
        assert!(verify_stripe("whsec_abc", "v1=abcd", body, 1_700_000_000, 300).is_err());
        assert!(verify_stripe("whsec_abc", "t=1700000000", body, 1_700_000_000, 300).is_err());
    }
}
