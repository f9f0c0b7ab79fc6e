//! API keys and scopes: `sk_live_` + 32 random base-62 characters (≈190 bits) + a 6-character
//! CRC32 checksum, so a malformed key is refused before any lookup. Only the SHA-256 hash
//! and a display prefix are stored.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use rand::Rng;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use crate::{
    error::{ApiError, ErrorCode},
    store,
};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;

/// Every scope a new key is granted (analytics and providers are read-only).
pub const ALL_SCOPES: &[&str] = &[
    "agents:read",
    "agents:write",
    "calls:read",
    "calls:write",
    "telephony:read",
    "telephony:write",
    "billing:read",
    "billing:write",
    "workflows:read",
    "workflows:write",
    "campaigns:read",
    "campaigns:write",
    "analytics:read",
    "feedback:read",
    "feedback:write",
    "providers:read",
    "webhooks:read",
    "webhooks:write",
    "tools:read",
    "tools:write",
    "compliance:read",
    "compliance:write",
    "email:read",
    "email:write",
];

/// The permission of the key-management routes: held only by an owner key, one that holds
/// every permission, so no key can mint a key stronger than itself.
pub const MANAGE_KEYS: &str = "keys:manage";

/// How often, at most, a key's `last_used_at` is written.
const LAST_USED_EVERY: Duration = Duration::from_secs(60);

/// A freshly minted key: the secret (shown once) and what is stored.
pub struct NewKey {
    pub secret: String,
    pub hash: String,
    pub display_prefix: String,
}

pub fn generate_key() -> NewKey {
    let mut rng = rand::rng();
    let mut secret = String::from("sk_live_");
    for _ in 0..RANDOM_LEN {
        secret.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    secret.push_str(&checksum(&secret));
    NewKey {
        hash: hash_key(&secret),
        display_prefix: display_prefix(&secret),
        secret,
    }
}

fn checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// Shape and checksum, without touching the database.
pub fn well_formed(key: &str) -> bool {
    let Some(rest) = key.strip_prefix("sk_live_").or_else(|| key.strip_prefix("sk_test_")) else {
        return false;
    };
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    checksum(body) == sum
}

pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `sk_live_AbCd…wxyz`: enough to recognise a key, useless to an attacker.
pub fn display_prefix(key: &str) -> String {
    format!("{}…{}", &key[..12.min(key.len())], &key[key.len().saturating_sub(4)..])
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub org_id: String,
    pub org_name: String,
    pub plan: String,
    pub key_id: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<chrono::DateTime<Utc>>,
}

impl Principal {
    pub fn has_scope(&self, scope: &str) -> bool {
        if scope == MANAGE_KEYS {
            return self.is_owner();
        }
        self.scopes.iter().any(|s| s == scope)
    }

    /// A key holding every permission (the first key of an organisation is one).
    pub fn is_owner(&self) -> bool {
        is_owner_scopes(&self.scopes)
    }
}

pub fn is_owner_scopes(scopes: &[String]) -> bool {
    ALL_SCOPES.iter().all(|s| scopes.iter().any(|held| held == s))
}

/// A verified key and when it was looked up.
type CachedKey = (Instant, Arc<Principal>);

/// Verifies bearer keys, with a short in-process cache of successful lookups.
#[derive(Clone)]
pub struct Authenticator {
    db: DatabaseConnection,
    ttl: Duration,
    cache: Arc<Mutex<HashMap<String, CachedKey>>>,
    /// When each key's `last_used_at` was last written by this process.
    used: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Authenticator {
    pub fn new(db: DatabaseConnection, ttl: Duration) -> Self {
        Self {
            db,
            ttl,
            cache: Arc::default(),
            used: Arc::default(),
        }
    }

    /// Drops a key's cached verification (after it was revoked or its expiry changed), so
    /// this process sees the change at once; other nodes see it within `auth.cache_ttl_ms`.
    pub fn forget(&self, key_hash: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(key_hash);
        }
    }

    /// Records the key's use: written at most once a minute per key, off the request path.
    fn note_use(&self, key_id: &str) {
        let due = self.used.lock().is_ok_and(|mut used| {
            let now = Instant::now();
            match used.get(key_id) {
                Some(at) if now.duration_since(*at) < LAST_USED_EVERY => false,
                _ => {
                    if used.len() > 100_000 {
                        used.clear();
                    }
                    used.insert(key_id.to_string(), now);
                    true
                }
            }
        });
        if due {
            let db = self.db.clone();
            let key_id = key_id.to_string();
            tokio::spawn(async move {
                if let Err(e) = store::api_keys::touch(&db, &key_id, Utc::now()).await {
                    tracing::debug!(error = %e, key_id, "recording a key's last use failed");
                }
            });
        }
    }

    /// `Authorization: Bearer sk_…` → the caller, or the contract's error for why not.
    ///
    /// # Errors
    /// `API_KEY_MISSING`, `INVALID_API_KEY_FORMAT`, `INVALID_API_KEY`, `API_KEY_REVOKED`,
    /// `API_KEY_EXPIRED`, or a database error.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Arc<Principal>, ApiError> {
        let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return Err(ApiError::new(
                ErrorCode::ApiKeyMissing,
                "API key required: send Authorization: Bearer sk_live_…",
            ));
        };
        let key = match header.split_once(' ') {
            Some((scheme, key)) if scheme.eq_ignore_ascii_case("bearer") => key.trim(),
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidApiKeyFormat,
                    "Authorization header must be 'Bearer sk_live_…'",
                ));
            }
        };
        if !well_formed(key) {
            return Err(ApiError::new(
                ErrorCode::InvalidApiKeyFormat,
                "API key format is invalid",
            ));
        }
        let hash = hash_key(key);
        if !self.ttl.is_zero()
            && let Some(principal) = self.cached(&hash)
        {
            if principal.expires_at.is_some_and(|at| at <= Utc::now()) {
                return Err(ApiError::new(ErrorCode::ApiKeyExpired, "API key has expired"));
            }
            self.note_use(&principal.key_id);
            return Ok(principal);
        }
        let Some((key_row, org)) = store::api_keys::find_by_hash(&self.db, &hash).await? else {
            return Err(ApiError::new(ErrorCode::InvalidApiKey, "Invalid API key"));
        };
        if key_row.revoked_at.is_some() {
            return Err(ApiError::new(
                ErrorCode::ApiKeyRevoked,
                format!("API key '{}' has been revoked", key_row.id),
            ));
        }
        if key_row.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(ApiError::new(
                ErrorCode::ApiKeyExpired,
                format!("API key '{}' has expired", key_row.id),
            ));
        }
        let principal = Arc::new(Principal {
            scopes: key_row.scopes.0.clone(),
            org_id: org.id,
            org_name: org.name,
            plan: org.plan,
            key_id: key_row.id,
            key_prefix: key_row.display_prefix,
            expires_at: key_row.expires_at,
        });
        if !self.ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(hash, (Instant::now(), principal.clone()));
        }
        self.note_use(&principal.key_id);
        Ok(principal)
    }

    fn cached(&self, hash: &str) -> Option<Arc<Principal>> {
        let cache = self.cache.lock().ok()?;
        let (at, principal) = cache.get(hash)?;
        (at.elapsed() < self.ttl).then(|| principal.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_distinct() {
        let a = generate_key();
        let b = generate_key();
        assert!(a.secret.starts_with("sk_live_"));
        assert_eq!(a.secret.len(), 8 + RANDOM_LEN + CHECKSUM_LEN);
        assert!(well_formed(&a.secret));
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash_key(&a.secret));
        assert!(!a.display_prefix.contains(&a.secret[12..a.secret.len() - 4]));
    }

    #[test]
    fn a_single_changed_character_fails_the_checksum() {
        let key = generate_key().secret;
        let mut bytes = key.clone().into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(!well_formed(&tampered));
        assert!(!well_formed("sk_live_short"));
        assert!(!well_formed(&key.replace("sk_live_", "pk_live_")));
        assert!(!well_formed(&format!("{key}x")));
    }

    #[test]
    fn scopes_cover_every_domain_with_read_only_analytics_and_providers() {
        assert_eq!(ALL_SCOPES.len(), 24);
        assert!(!ALL_SCOPES.contains(&"analytics:write"));
        assert!(!ALL_SCOPES.contains(&"providers:write"));
    }
}
