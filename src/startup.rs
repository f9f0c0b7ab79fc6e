//! `Application`: builds the state, binds the listener (so the port is known before it
//! runs) and serves until stopped.

use std::{net::TcpListener, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};

use crate::{config::Settings, http, state::AppState};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// # Errors
    /// When the state cannot be built or the address cannot be bound.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| anyhow::anyhow!("binding {}:{}: {e}", settings.server.host, settings.server.port))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        // `public_base_url` on port 0 means "the port just bound" (tests, the demo).
        if let Some(base) = settings.server.public_base_url.strip_suffix(":0") {
            settings.server.public_base_url = format!("{base}:{port}");
        }
        let state = AppState::connect(settings).await?;
        // Registrations still under way resume: in-doubt submissions are reconciled with
        // the carrier, and polling starts again.
        let resumed = state
            .a2p
            .rehydrate()
            .await
            .map_err(|e| anyhow::anyhow!("rehydrating A2P actors: {e}"))?;
        if resumed > 0 {
            tracing::info!(resumed, "A2P registrations rehydrated");
        }
        match crate::calls::recover(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(calls = n, "calls left open by a previous process closed as interrupted"),
            Err(e) => tracing::error!(error = %e, "closing interrupted calls failed"),
        }
        // Campaigns left running resume (after the calls above were closed): in-doubt dial
        // intents are reconciled with the carrier before anything is dialled again.
        match crate::campaigns::resume(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(campaigns = n, "campaign actors rehydrated"),
            Err(e) => tracing::error!(error = %e, "rehydrating campaigns failed"),
        }
        spawn_maintenance(state.clone());
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .wrap(from_fn(http::core::frame::frame))
                .configure(http::configure)
                .default_service(web::to(http::not_found))
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self { port, server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle to stop the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, then stops the webhook actors (attempts in flight are retried
    /// by the next process once their leases expire).
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.webhooks.shutdown();
        result
    }
}

/// Periodic housekeeping: purges expired idempotency records.
fn spawn_maintenance(state: AppState) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            match state.idempotency.purge().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired idempotency records purged"),
                Err(e) => tracing::warn!(error = %e, "purging idempotency records failed"),
            }
        }
    });
}
