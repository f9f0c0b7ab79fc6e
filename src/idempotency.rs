//! `Idempotency-Key` on mutating requests. A completed response is stored in the database
//! inside the handler's own transaction (so it exists if and only if the change does) and
//! replayed byte for byte; an in-flight claim is a Redis `SET NX PX` lock when Redis is
//! configured, else an `in_flight` row on PostgreSQL, else (SQLite: one node) an in-process
//! set. Only successful responses are stored: an error
//! made no change, so the same key may be corrected and retried.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use redis::Script;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sha2::{Digest, Sha256};
use thruai_entities::idempotency_key;

use crate::{
    auth::hex,
    error::{ApiError, ErrorCode},
    redis_conn::RedisConn,
    store::idempotency as store,
};

/// Releases a Redis lock only if we still hold it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

#[derive(Clone)]
pub struct Idempotency {
    db: DatabaseConnection,
    redis: Option<RedisConn>,
    ttl: Duration,
    lock_ttl: Duration,
    /// In-flight claims (scope → expiry) when the database is SQLite (single node) and Redis
    /// is absent. Claims expire like the others, so a request dropped mid-way (client gone)
    /// cannot block its key for longer than the lock TTL.
    local: Option<Arc<Mutex<HashMap<String, Instant>>>>,
}

/// Where a claim is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holder {
    Redis,
    Database,
    Process,
}

/// A request that holds the key and may run.
#[derive(Debug, Clone)]
pub struct Claim {
    pub scope_hash: String,
    pub org_id: String,
    pub key: String,
    pub method: String,
    pub route: String,
    pub fingerprint: String,
    token: String,
    holder: Holder,
}

pub enum Outcome {
    Proceed(Claim),
    Replay { status: u16, body: Vec<u8> },
}

/// Checks the header value: 1–255 printable ASCII characters.
///
/// # Errors
/// `VALIDATION_ERROR` naming the header.
pub fn validate_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(ApiError::field(
            "Idempotency-Key",
            "must be 1-255 printable ASCII characters",
        ));
    }
    Ok(())
}

/// SHA-256 of the canonical JSON body (keys sorted) and the query string.
pub fn fingerprint(body: &[u8], query: &str) -> String {
    let mut hasher = Sha256::new();
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => hasher.update(value.to_string().as_bytes()),
        Err(_) => hasher.update(body),
    }
    hasher.update(b"?");
    hasher.update(query.as_bytes());
    hex(&hasher.finalize())
}

fn mismatch() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceConflict,
        "Idempotency-Key was already used with a different request body; use a new key for a different request",
    )
}

fn in_flight() -> ApiError {
    ApiError::new(
        ErrorCode::ResourceConflict,
        "A request with this Idempotency-Key is still in progress; retry after it completes",
    )
    .with_header("retry-after", "1")
}

impl Idempotency {
    /// `single_node`: the database is SQLite, so claims may live in this process.
    pub fn new(
        db: DatabaseConnection,
        redis: Option<RedisConn>,
        ttl: Duration,
        lock_ttl: Duration,
        single_node: bool,
    ) -> Self {
        let local = single_node.then(Arc::default);
        Self {
            db,
            redis,
            ttl,
            lock_ttl,
            local,
        }
    }

    /// Replays a completed response, refuses a mismatch or a concurrent duplicate, or
    /// claims the key for this request.
    ///
    /// # Errors
    /// `RESOURCE_CONFLICT` (409) for a different body or a request still in progress.
    pub async fn begin(
        &self,
        org_id: &str,
        key: &str,
        method: &str,
        route: &str,
        fingerprint: String,
    ) -> Result<Outcome, ApiError> {
        let scope_hash = hex(&Sha256::digest(
            format!("{org_id}\0{method}\0{route}\0{key}").as_bytes(),
        ));
        let claim = Claim {
            scope_hash,
            org_id: org_id.into(),
            key: key.into(),
            method: method.into(),
            route: route.into(),
            fingerprint,
            token: uuid::Uuid::new_v4().to_string(),
            holder: Holder::Database,
        };
        if let Some(done) = self.completed(&claim).await? {
            return done;
        }
        if let Some(redis) = &self.redis {
            let lock = redis.key(&["idem", &claim.scope_hash]);
            let cmd = redis::cmd("SET")
                .arg(&lock)
                .arg(&claim.token)
                .arg("NX")
                .arg("PX")
                .arg(self.lock_ttl.as_millis() as u64)
                .to_owned();
            match redis.query::<Option<String>>(&cmd).await {
                Ok(Some(_)) => {
                    let claim = Claim {
                        holder: Holder::Redis,
                        ..claim
                    };
                    // The first holder may have completed between our read and our lock.
                    if let Some(done) = self.completed(&claim).await? {
                        self.release(&claim).await;
                        return done;
                    }
                    return Ok(Outcome::Proceed(claim));
                }
                Ok(None) => {
                    return match self.completed(&claim).await? {
                        Some(done) => done,
                        None => Err(in_flight()),
                    };
                }
                Err(e) => {
                    tracing::warn!(error = %e, "idempotency lock falling back to the database")
                }
            }
        }
        if let Some(local) = &self.local {
            let now = Instant::now();
            let claimed = local
                .lock()
                .map(|mut claims| {
                    if claims.len() > 10_000 {
                        claims.retain(|_, until| *until > now);
                    }
                    match claims.get(&claim.scope_hash) {
                        Some(until) if *until > now => false,
                        _ => {
                            claims.insert(claim.scope_hash.clone(), now + self.lock_ttl);
                            true
                        }
                    }
                })
                .unwrap_or(false);
            let claim = Claim {
                holder: Holder::Process,
                ..claim
            };
            if !claimed {
                return match self.completed(&claim).await? {
                    Some(done) => done,
                    None => Err(in_flight()),
                };
            }
            if let Some(done) = self.completed(&claim).await? {
                self.release(&claim).await;
                return done;
            }
            return Ok(Outcome::Proceed(claim));
        }
        self.claim_in_db(claim).await
    }

    /// The stored outcome for the claim's scope, if a completed one exists.
    async fn completed(&self, claim: &Claim) -> Result<Option<Result<Outcome, ApiError>>, ApiError> {
        let Some(row) = store::find(&self.db, &claim.scope_hash).await? else {
            return Ok(None);
        };
        if row.status != store::COMPLETED {
            return Ok(None);
        }
        if row.fingerprint != claim.fingerprint {
            return Ok(Some(Err(mismatch())));
        }
        let status = u16::try_from(row.response_status.unwrap_or(200)).unwrap_or(200);
        Ok(Some(Ok(Outcome::Replay {
            status,
            body: row.response_body.unwrap_or_default().into_bytes(),
        })))
    }

    async fn claim_in_db(&self, claim: Claim) -> Result<Outcome, ApiError> {
        let now = Utc::now();
        let locked_until = now + self.lock_ttl;
        let expires_at = now + self.ttl;
        let row = self.row(&claim, store::IN_FLIGHT, now, Some(locked_until), None, None);
        if store::try_claim(&self.db, row).await? {
            return Ok(Outcome::Proceed(claim));
        }
        if let Some(done) = self.completed(&claim).await? {
            return done;
        }
        if store::take_over(
            &self.db,
            &claim.scope_hash,
            &claim.fingerprint,
            &claim.token,
            now,
            locked_until,
            expires_at,
        )
        .await?
        {
            return Ok(Outcome::Proceed(claim));
        }
        match store::find(&self.db, &claim.scope_hash).await? {
            Some(row) if row.fingerprint != claim.fingerprint => Err(mismatch()),
            _ => Err(in_flight()),
        }
    }

    fn row(
        &self,
        claim: &Claim,
        status: &str,
        now: DateTime<Utc>,
        locked_until: Option<DateTime<Utc>>,
        response_status: Option<u16>,
        body: Option<&[u8]>,
    ) -> idempotency_key::Model {
        idempotency_key::Model {
            scope_hash: claim.scope_hash.clone(),
            org_id: claim.org_id.clone(),
            idem_key: claim.key.clone(),
            method: claim.method.clone(),
            route: claim.route.clone(),
            fingerprint: claim.fingerprint.clone(),
            status: status.into(),
            response_status: response_status.map(i32::from),
            response_body: body.map(|b| String::from_utf8_lossy(b).into_owned()),
            lock_token: locked_until.map(|_| claim.token.clone()),
            locked_until,
            created_at: now,
            expires_at: now + self.ttl,
        }
    }

    /// Stores the response; call it inside the transaction that made the change.
    ///
    /// # Errors
    /// A database error (the caller's transaction then rolls back).
    pub async fn complete_in(
        &self,
        conn: &impl ConnectionTrait,
        claim: &Claim,
        status: u16,
        body: &[u8],
    ) -> Result<(), ApiError> {
        let row = self.row(claim, store::COMPLETED, Utc::now(), None, Some(status), Some(body));
        store::complete(conn, row).await.map_err(ApiError::from)
    }

    /// After the handler: store a successful response the handler did not store itself,
    /// then release the claim.
    pub async fn finish(&self, claim: &Claim, status: u16, body: Option<&[u8]>, stored_by_handler: bool) {
        let success = (200..300).contains(&status);
        if !stored_by_handler
            && success
            && let Err(e) = self
                .complete_in(&self.db, claim, status, body.unwrap_or_default())
                .await
        {
            tracing::error!(error = %e, "storing an idempotent response failed");
        }
        // A database claim was overwritten by the completed record: nothing left to release.
        if !(claim.holder == Holder::Database && success) {
            self.release(claim).await;
        }
    }

    async fn release(&self, claim: &Claim) {
        if claim.holder == Holder::Process {
            if let Some(local) = &self.local
                && let Ok(mut claims) = local.lock()
            {
                claims.remove(&claim.scope_hash);
            }
        } else if claim.holder == Holder::Redis {
            if let Some(redis) = &self.redis {
                let lock = redis.key(&["idem", &claim.scope_hash]);
                let script = Script::new(RELEASE);
                if let Err(e) = redis
                    .script::<i64>(&script, &[&lock], std::slice::from_ref(&claim.token))
                    .await
                {
                    tracing::warn!(error = %e, "releasing an idempotency lock failed; it expires by itself");
                }
            }
        } else if let Err(e) = store::release(&self.db, &claim.scope_hash, &claim.token).await {
            tracing::warn!(error = %e, "releasing an idempotency claim failed; it expires by itself");
        }
    }

    /// Deletes expired records (run periodically).
    pub async fn purge(&self) -> Result<u64, sea_orm::DbErr> {
        store::purge_expired(&self.db, Utc::now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_and_whitespace_but_not_values() {
        let a = fingerprint(br#"{"a":1,"b":[1,2]}"#, "");
        let b = fingerprint(b"{ \"b\": [1, 2], \"a\": 1 }", "");
        assert_eq!(a, b);
        assert_ne!(a, fingerprint(br#"{"a":2,"b":[1,2]}"#, ""));
        assert_ne!(a, fingerprint(br#"{"a":1,"b":[1,2]}"#, "x=1"));
    }

    #[test]
    fn keys_must_be_printable_ascii_up_to_255() {
        assert!(validate_key("abc-123").is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(256)).is_err());
        assert!(validate_key("tab\there").is_err());
        assert!(validate_key("ünï").is_err());
    }
}
