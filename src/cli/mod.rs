//! The command line: `thruai [serve] [--bind HOST:PORT]`, `thruai migrate`, `thruai mcp`,
//! `thruai demo`.

mod demo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{config::Settings, crypto::Crypto, startup::Application, store, telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "thruai",
    version,
    about = "ThruAI: a self-hostable platform for AI voice agents"
)]
pub struct Cli {
    /// Configuration file layered over the built-in defaults.
    #[arg(long, global = true, env = "THRUAI_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve {
        /// Listen address, overriding server.host and server.port.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// MCP server over stdio, bridged to a running server's /mcp (THRUAI_API_KEY,
    /// THRUAI_BASE_URL, default http://127.0.0.1:8080). Logs go to stderr only.
    Mcp,
    /// Place a sandbox call end to end on embedded defaults and print its transcript.
    Demo,
    /// Re-seal every secret at rest (BYOC tokens, tool and webhook secrets) under a new
    /// encryption key, in one transaction; run it with the server stopped, then start the
    /// server with security.encryption_key set to the new key.
    RotateKey {
        /// The new key (base64 of 32 bytes); also read from THRUAI_NEW_ENCRYPTION_KEY.
        /// Neither: a key is generated and printed once.
        #[arg(long)]
        to: Option<String>,
    },
}

/// Runs the parsed command.
///
/// # Errors
/// Configuration, database or server errors, with a message naming the cause.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref()).map_err(anyhow::Error::msg)?;
    if matches!(cli.command, Some(Command::Demo)) && std::env::var_os("RUST_LOG").is_none() {
        // The demo prints its own story; the server's logs would drown it.
        settings.log.filter = "warn".into();
    }
    telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve { bind: None }) {
        Command::Serve { bind } => {
            if let Some(bind) = bind {
                settings.apply_bind(&bind).map_err(anyhow::Error::msg)?;
            }
            let app = Application::build(settings.clone()).await?;
            tracing::info!(
                address = %format!("http://{}:{}", settings.server.host, app.port()),
                database = %store::redact(&settings.database.url),
                redis = %if settings.redis.url.is_empty() { "none (in-process limits)".to_string() } else { store::redact(&settings.redis.url) },
                "ThruAI listening"
            );
            app.run_until_stopped().await?;
        }
        Command::Mcp => crate::mcp_stdio::run().await?,
        Command::Demo => demo::run(settings).await?,
        Command::RotateKey { to } => rotate_key(&settings, to).await?,
        Command::Migrate => {
            let db = store::connect(&settings.database).await?;
            store::migrate(&db).await?;
            tracing::info!("migrations applied");
        }
    }
    Ok(())
}

async fn rotate_key(settings: &Settings, to: Option<String>) -> anyhow::Result<()> {
    // A server running on the same SQLite file would keep sealing with the old key.
    let _lock = store::lock_sqlite(&settings.database.url)?;
    let db = store::connect(&settings.database).await?;
    let given = to.or_else(|| std::env::var("THRUAI_NEW_ENCRYPTION_KEY").ok());
    let next_key = given.clone().unwrap_or_else(Crypto::generate_key);
    let current = Crypto::new(&settings.security.encryption_key, db.clone())?;
    let next = Crypto::new(&next_key, db.clone())?;
    let count = crate::app::secrets::rotate(&db, &current, &next).await?;
    println!("Re-sealed {count} secrets under the new key.");
    if given.is_none() {
        println!("The new key (shown once): {next_key}");
    }
    println!("Start the server with security.encryption_key set to it (THRUAI__SECURITY__ENCRYPTION_KEY).");
    Ok(())
}
