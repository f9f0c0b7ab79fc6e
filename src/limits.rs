//! Rate limits. Provisioning: a strict sliding-window log per client IP (never more than
//! `max` in any window). Authenticated requests: GCRA per organisation at its plan's rate
//! and burst. With Redis, each decision is one atomic Lua script (exact across processes);
//! without it — or while it is down, for plan limits — the same algorithms run in-process.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::Script;

use crate::{
    config::{PlanLimit, RateLimitSettings},
    error::{ApiError, ErrorCode},
    redis_conn::RedisConn,
};

/// The outcome of one check and the IETF `RateLimit` / `RateLimit-Policy` fields for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub policy: String,
    pub quota: u32,
    pub window_secs: u64,
    pub remaining: u32,
    /// Seconds until the quota is fully available again (or, when refused, until the next
    /// request is admitted).
    pub reset_secs: u64,
}

impl Decision {
    pub fn headers(&self) -> [(&'static str, String); 2] {
        [
            (
                "ratelimit-policy",
                format!("\"{}\";q={};w={}", self.policy, self.quota, self.window_secs),
            ),
            (
                "ratelimit",
                format!("\"{}\";r={};t={}", self.policy, self.remaining, self.reset_secs),
            ),
        ]
    }

    /// The 429 for a refused decision, with `Retry-After` equal to `t`.
    pub fn refusal(&self, code: ErrorCode, what: &str) -> ApiError {
        let mut err = ApiError::new(code, format!("{what}: retry after {} seconds", self.reset_secs))
            .with_header("retry-after", self.reset_secs.to_string());
        for (name, value) in self.headers() {
            err = err.with_header(name, value);
        }
        err
    }
}

/// Trims, counts and admits in one step; scores are Redis server milliseconds.
const SLIDING_LOG: &str = r"
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return {1, limit - n - 1, tonumber(oldest[2]) + window - now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
";

/// GCRA: the theoretical arrival time is the only state.
const GCRA: &str = r"
local key = KEYS[1]
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - burst * emission
if now < allow_at then
  return {0, 0, math.ceil(allow_at - now)}
end
redis.call('SET', key, new_tat, 'PX', math.ceil(new_tat - now) + 1)
return {1, math.floor((now - allow_at) / emission), math.ceil(new_tat - now)}
";

#[derive(Clone)]
pub struct RateLimiter {
    redis: Option<RedisConn>,
    settings: Arc<RateLimitSettings>,
    memory: Arc<Mutex<Memory>>,
    sliding: Arc<Script>,
    gcra: Arc<Script>,
}

struct Memory {
    epoch: Instant,
    logs: HashMap<String, VecDeque<Instant>>,
    tats: HashMap<String, f64>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings, redis: Option<RedisConn>) -> Self {
        Self {
            redis,
            settings: Arc::new(settings),
            memory: Arc::new(Mutex::new(Memory {
                epoch: Instant::now(),
                logs: HashMap::new(),
                tats: HashMap::new(),
            })),
            sliding: Arc::new(Script::new(SLIDING_LOG)),
            gcra: Arc::new(Script::new(GCRA)),
        }
    }

    pub fn backend(&self) -> &'static str {
        match &self.redis {
            Some(r) if r.is_healthy() => "redis",
            Some(_) => "in-process (redis down)",
            None => "in-process",
        }
    }

    pub fn plans(&self) -> &BTreeMap<String, PlanLimit> {
        &self.settings.plans
    }

    pub fn provisioning(&self) -> (u32, u64) {
        (self.settings.provisioning_max, self.settings.provisioning_window_secs)
    }

    /// One provisioning request from `client`. Fails closed when Redis is configured but
    /// unreachable: abuse control must not silently become per-process.
    ///
    /// # Errors
    /// `RATE_LIMITED` (429) when over the limit; `SERVICE_UNAVAILABLE` when Redis is down.
    pub async fn check_provisioning(&self, client: &str) -> Result<Decision, ApiError> {
        let max = self.settings.provisioning_max;
        let window = Duration::from_secs(self.settings.provisioning_window_secs);
        let (allowed, remaining, reset_ms) = match &self.redis {
            Some(redis) => {
                let key = redis.key(&["rl", "provision", client]);
                let member = uuid::Uuid::new_v4().to_string();
                let args = [max.to_string(), window.as_millis().to_string(), member];
                let reply: Vec<i64> = redis.script(&self.sliding, &[&key], &args).await.map_err(|e| {
                    ApiError::unavailable(
                        ErrorCode::ServiceUnavailable,
                        "Provisioning is temporarily unavailable: Redis (the shared rate limiter) is unreachable; retry shortly",
                    )
                    .with_header("retry-after", "5")
                    .with_source(e)
                })?;
                (
                    reply.first() == Some(&1),
                    reply.get(1).copied().unwrap_or(0),
                    reply.get(2).copied().unwrap_or(0),
                )
            }
            None => self.memory_sliding(client, max, window),
        };
        let decision = Decision {
            allowed,
            policy: "provisioning".into(),
            quota: max,
            window_secs: window.as_secs(),
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            reset_secs: ceil_secs(reset_ms),
        };
        if decision.allowed {
            Ok(decision)
        } else {
            Err(decision.refusal(
                ErrorCode::RateLimited,
                "Provisioning rate limit exceeded (5 requests per hour per IP)",
            ))
        }
    }

    /// One authenticated request by `org_id` on `plan`. Falls back to the in-process
    /// limiter while Redis is unreachable.
    pub async fn check_plan(&self, org_id: &str, plan: &str) -> Decision {
        let limit = self
            .settings
            .plans
            .get(plan)
            .or_else(|| self.settings.plans.get(&self.settings.default_plan))
            .copied()
            .unwrap_or(PlanLimit {
                requests_per_second: 50.0,
                burst: 100,
            });
        let emission_ms = 1000.0 / limit.requests_per_second;
        let mut reply = None;
        if let Some(redis) = &self.redis {
            let key = redis.key(&["rl", "plan", org_id]);
            let args = [format!("{emission_ms}"), limit.burst.to_string()];
            match redis.script::<Vec<i64>>(&self.gcra, &[&key], &args).await {
                Ok(r) => {
                    reply = Some((
                        r.first() == Some(&1),
                        r.get(1).copied().unwrap_or(0),
                        r.get(2).copied().unwrap_or(0),
                    ))
                }
                Err(e) => tracing::debug!(error = %e, "plan limit falling back to in-process"),
            }
        }
        let (allowed, remaining, reset_ms) = match reply {
            Some(r) => r,
            None => self.memory_gcra(org_id, emission_ms, limit.burst),
        };
        let window_secs = ((f64::from(limit.burst) * emission_ms) / 1000.0).ceil().max(1.0) as u64;
        Decision {
            allowed,
            policy: format!("plan-{plan}"),
            quota: limit.burst,
            window_secs,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
            reset_secs: ceil_secs(reset_ms),
        }
    }

    fn memory_sliding(&self, client: &str, max: u32, window: Duration) -> (bool, i64, i64) {
        let Ok(mut mem) = self.memory.lock() else {
            return (false, 0, 1000);
        };
        let now = Instant::now();
        if mem.logs.len() > 10_000 {
            mem.logs
                .retain(|_, log| log.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let log = mem.logs.entry(client.to_string()).or_default();
        while log.front().is_some_and(|t| now.duration_since(*t) >= window) {
            log.pop_front();
        }
        let n = log.len() as i64;
        let allowed = n < i64::from(max);
        if allowed {
            log.push_back(now);
        }
        let oldest = log.front().copied().unwrap_or(now);
        let reset = window.saturating_sub(now.duration_since(oldest)).as_millis() as i64;
        (allowed, if allowed { i64::from(max) - n - 1 } else { 0 }, reset)
    }

    fn memory_gcra(&self, key: &str, emission_ms: f64, burst: u32) -> (bool, i64, i64) {
        let Ok(mut mem) = self.memory.lock() else {
            return (true, 0, 0);
        };
        let now = mem.epoch.elapsed().as_secs_f64() * 1000.0;
        if mem.tats.len() > 100_000 {
            mem.tats.retain(|_, tat| *tat > now);
        }
        let tat = mem.tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + emission_ms;
        let allow_at = new_tat - f64::from(burst) * emission_ms;
        if now < allow_at {
            return (false, 0, (allow_at - now).ceil() as i64);
        }
        mem.tats.insert(key.to_string(), new_tat);
        (
            true,
            ((now - allow_at) / emission_ms).floor() as i64,
            (new_tat - now).ceil() as i64,
        )
    }
}

fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(max: u32, window_secs: u64, rps: f64, burst: u32) -> RateLimiter {
        let mut plans = BTreeMap::new();
        plans.insert(
            "free".to_string(),
            PlanLimit {
                requests_per_second: rps,
                burst,
            },
        );
        RateLimiter::new(
            RateLimitSettings {
                provisioning_max: max,
                provisioning_window_secs: window_secs,
                default_plan: "free".into(),
                plans,
            },
            None,
        )
    }

    #[actix_web::test]
    async fn provisioning_admits_exactly_max_then_refuses_with_retry_after() {
        let l = limiter(5, 3600, 10.0, 10);
        for i in 0..5 {
            let d = l.check_provisioning("1.2.3.4").await.unwrap();
            assert_eq!(d.remaining, 4 - i);
        }
        let err = l.check_provisioning("1.2.3.4").await.unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        let retry: u64 = err
            .headers
            .iter()
            .find(|(n, _)| *n == "retry-after")
            .unwrap()
            .1
            .parse()
            .unwrap();
        assert!(retry > 3590 && retry <= 3600, "{retry}");
        assert!(
            err.headers
                .iter()
                .any(|(n, v)| *n == "ratelimit" && v == &format!("\"provisioning\";r=0;t={retry}"))
        );
        assert!(
            l.check_provisioning("5.6.7.8").await.is_ok(),
            "other clients are independent"
        );
    }

    #[actix_web::test]
    async fn the_sliding_window_readmits_exactly_one_window_after_the_oldest() {
        let l = limiter(2, 1, 10.0, 10);
        l.check_provisioning("ip").await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        l.check_provisioning("ip").await.unwrap();
        assert!(l.check_provisioning("ip").await.is_err());
        tokio::time::sleep(Duration::from_millis(650)).await;
        l.check_provisioning("ip").await.unwrap();
        assert!(
            l.check_provisioning("ip").await.is_err(),
            "the second request is still inside the window"
        );
    }

    #[actix_web::test]
    async fn plans_admit_the_burst_then_the_rate() {
        let l = limiter(5, 3600, 10.0, 5);
        let admitted = {
            let mut n = 0;
            for _ in 0..20 {
                if l.check_plan("org", "free").await.allowed {
                    n += 1;
                }
            }
            n
        };
        assert_eq!(admitted, 5);
        let refused = l.check_plan("org", "free").await;
        assert!(!refused.allowed && refused.reset_secs >= 1);
        tokio::time::sleep(Duration::from_millis(110)).await;
        assert!(l.check_plan("org", "free").await.allowed);
        assert!(l.check_plan("other", "free").await.allowed);
    }

    #[test]
    fn headers_follow_the_ietf_draft() {
        let d = Decision {
            allowed: true,
            policy: "plan-free".into(),
            quota: 100,
            window_secs: 2,
            remaining: 99,
            reset_secs: 1,
        };
        assert_eq!(d.headers()[0].1, "\"plan-free\";q=100;w=2");
        assert_eq!(d.headers()[1].1, "\"plan-free\";r=99;t=1");
    }
}
