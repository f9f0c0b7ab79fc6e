//! The optional Redis connection: lazily (re)connected, every command bounded by a
//! timeout, its health observable for `/health` and for the fallbacks that depend on it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::{
    FromRedisValue, Script,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use crate::config::RedisSettings;

#[derive(Clone)]
pub struct RedisConn {
    manager: ConnectionManager,
    prefix: Arc<str>,
    timeout: Duration,
    healthy: Arc<AtomicBool>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("redis timed out")]
    Timeout,
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

impl RedisConn {
    /// `None` when `redis.url` is empty. The connection is made on first use, so a Redis
    /// that is down at start-up only degrades the features that need it.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn from_settings(settings: &RedisSettings) -> anyhow::Result<Option<Self>> {
        if settings.url.is_empty() {
            return Ok(None);
        }
        let client = redis::Client::open(settings.url.as_str())?;
        let timeout = Duration::from_millis(settings.timeout_ms.max(1));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let manager = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(Some(Self {
            manager,
            prefix: settings.key_prefix.clone().into(),
            timeout,
            healthy: Arc::new(AtomicBool::new(true)),
        }))
    }

    pub fn key(&self, parts: &[&str]) -> String {
        let mut key = String::from(&*self.prefix);
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                key.push(':');
            }
            key.push_str(part);
        }
        key
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    fn record<T>(&self, res: Result<T, RedisError>) -> Result<T, RedisError> {
        let ok = res.is_ok();
        if self.healthy.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("redis reachable again");
            } else {
                tracing::warn!("redis unreachable; falling back where possible");
            }
        }
        res
    }

    /// Runs one command with the timeout.
    ///
    /// # Errors
    /// Timeout or Redis error.
    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, RedisError> {
        let mut conn = self.manager.clone();
        let res = match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await {
            Ok(res) => res.map_err(RedisError::from),
            Err(_) => Err(RedisError::Timeout),
        };
        self.record(res)
    }

    /// Runs a Lua script atomically (EVALSHA, loading it on first use).
    ///
    /// # Errors
    /// Timeout or Redis error.
    pub async fn script<T: FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[String],
    ) -> Result<T, RedisError> {
        let mut conn = self.manager.clone();
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(arg.as_str());
        }
        let res = match tokio::time::timeout(self.timeout, invocation.invoke_async::<T>(&mut conn)).await {
            Ok(res) => res.map_err(RedisError::from),
            Err(_) => Err(RedisError::Timeout),
        };
        self.record(res)
    }

    /// PING, for `/health`.
    pub async fn ping(&self) -> bool {
        self.query::<String>(&redis::cmd("PING")).await.is_ok()
    }
}
