//! Database access: connecting, migrating, and one module of queries per aggregate.
//! Every function reading tenant data takes the organisation id first.

pub mod a2p;
pub mod accounts;
pub mod agents;
pub mod analyses;
pub mod analytics;
pub mod api_keys;
pub mod billing;
pub mod calls;
pub mod campaigns;
pub mod email;
pub mod feedback;
pub mod idempotency;
pub mod knowledge;
pub mod ledger;
pub mod outbox;
pub mod phone_numbers;
pub mod sandbox_emails;
pub mod secrets;
pub mod sms;
pub mod telephony;
pub mod tools;
pub mod webhook_deliveries;
pub mod webhooks;
pub mod workflows;

use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use thruai_migration::{Migrator, MigratorTrait};

use crate::config::DatabaseSettings;

/// Opens the pool: SQLite (file created with its folder, WAL) or PostgreSQL (optionally in
/// its own schema, created if missing).
///
/// # Errors
/// When the database cannot be reached or the file cannot be created.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.url.as_str();
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(settings.max_connections);
    if url.starts_with("sqlite:") {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        if memory {
            // One connection that stays open keeps the in-memory database alive.
            opts.max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else if let Some(path) = sqlite_path(url)
            && let Some(dir) = std::path::Path::new(&path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        opts.map_sqlx_sqlite_opts(move |o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            let o = o
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true);
            if memory {
                o
            } else {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }
        });
    } else {
        probe_postgres(url).await?;
        if !settings.schema.is_empty() {
            let schema = settings.schema.clone();
            if !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                anyhow::bail!("database.schema: only letters, digits and _ are allowed");
            }
            let bootstrap = Database::connect(url).await.context("connecting to PostgreSQL")?;
            bootstrap
                .execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""),
                ))
                .await?;
            bootstrap.close().await?;
            opts.set_schema_search_path(schema);
        }
    }
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to the database ({})", redact(url)))
}

/// One connection to PostgreSQL, opened and closed: a server that refuses or does not
/// answer is reported at once with its cause, instead of a pool that waits out its timeout.
async fn probe_postgres(url: &str) -> anyhow::Result<()> {
    use sea_orm::sqlx::{Connection as _, postgres::PgConnection};
    let attempt = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url)).await;
    let reason = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "no answer within 5 s".to_string(),
    };
    anyhow::bail!("cannot connect to PostgreSQL at {}: {reason}", redact(url))
}

/// Applies every pending migration.
///
/// # Errors
/// When a migration fails.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

/// `sqlite://data/thruai.db?mode=rwc` → `data/thruai.db`.
fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty()).then(|| path.to_string())
}

/// The SQLite database file of this process, held for the process's life: SQLite is
/// single-node, and a second server on the same file would take over the first one's
/// calls and actors. The lock is the operating system's (released when the process ends,
/// however it ends).
#[derive(Debug)]
pub struct SqliteLock(#[allow(dead_code)] std::fs::File);

/// Locks the SQLite file of `url` (none for PostgreSQL or an in-memory database).
///
/// # Errors
/// When another process holds the database (its pid in the message), or the lock file
/// cannot be created.
pub fn lock_sqlite(url: &str) -> anyhow::Result<Option<SqliteLock>> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let Some(path) = sqlite_path(url) else {
        return Ok(None);
    };
    let lock_path = format!("{path}.lock");
    if let Some(dir) = std::path::Path::new(&lock_path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("opening {lock_path}"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&lock_path).unwrap_or_default();
            let holder = holder.trim();
            anyhow::bail!(
                "the SQLite database {path} is in use by another ThruAI process{}: SQLite is single-node — \
                 stop that process, give this one its own database (DATABASE_URL), or share PostgreSQL \
                 and Redis between nodes",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            );
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("locking {lock_path}")),
    }
    use std::io::Write as _;
    file.set_len(0)?;
    write!(file, "{}", std::process::id())?;
    file.flush()?;
    Ok(Some(SqliteLock(file)))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Starts a transaction. On SQLite it takes the write lock at `BEGIN` (`IMMEDIATE`), waiting
/// for it like any write (busy timeout): a deferred transaction that reads first and writes
/// later would fail at once with `SQLITE_BUSY_SNAPSHOT` ("database is locked") whenever
/// another connection committed in between — no wait covers that upgrade. PostgreSQL
/// starts its usual transaction.
///
/// # Errors
/// When no connection is available or the lock is not granted within the busy timeout.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Checks the database answers.
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_extracted() {
        assert_eq!(
            sqlite_path("sqlite://data/thruai.db?mode=rwc").as_deref(),
            Some("data/thruai.db")
        );
        assert_eq!(sqlite_path("sqlite:x.db").as_deref(), Some("x.db"));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
    }

    /// Transactions that read, then write, on many connections at once: with a deferred
    /// `BEGIN` some fail with SQLITE_BUSY_SNAPSHOT; with [`begin`] every one commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn read_then_write_transactions_never_fail_busy_on_sqlite() {
        let dir = std::env::temp_dir().join(format!("thruai-begin-{}", uuid::Uuid::new_v4()));
        let settings = DatabaseSettings {
            url: format!("sqlite://{}/t.db?mode=rwc", dir.display()),
            max_connections: 8,
            migrate_on_start: false,
            schema: String::new(),
        };
        let db = connect(&settings).await.unwrap();
        db.execute_unprepared("CREATE TABLE counter (n INTEGER NOT NULL)")
            .await
            .unwrap();
        db.execute_unprepared("INSERT INTO counter VALUES (0)").await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    for _ in 0..25 {
                        let txn = begin(&db).await?;
                        let row = txn
                            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM counter"))
                            .await?
                            .ok_or_else(|| DbErr::Custom("no row".into()))?;
                        let n: i64 = row.try_get("", "n")?;
                        tokio::task::yield_now().await;
                        txn.execute_raw(Statement::from_string(
                            DbBackend::Sqlite,
                            format!("UPDATE counter SET n = {}", n + 1),
                        ))
                        .await?;
                        txn.commit().await?;
                    }
                    Ok::<_, DbErr>(())
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT n FROM counter"))
            .await
            .unwrap()
            .unwrap();
        // Serialised writers: no increment lost either.
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 200);
        db.close().await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
    }
}
