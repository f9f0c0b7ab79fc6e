//! `Application`: builds the state, binds the listener (so the port is known before it
//! runs) and serves until stopped.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener},
    time::Duration,
};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};

use crate::{
    config::Settings,
    http::{self, core::guard::ClientLimits},
    state::AppState,
    store::{SqliteLock, lock_sqlite},
};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    /// Held until the server stops: no second process serves the same SQLite file.
    _sqlite: Option<SqliteLock>,
}

impl Application {
    /// # Errors
    /// When the state cannot be built or the address cannot be bound.
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let sqlite = lock_sqlite(&settings.database.url)?;
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .map_err(|e| anyhow::anyhow!("binding {}:{}: {e}", settings.server.host, settings.server.port))?;
        let port = listener.local_addr()?.port();
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        settings.server.public_base_url = public_base_url(&settings.server.public_base_url, listener.local_addr()?);
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
        match state.calls.recover().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(calls = n, "calls left open by a previous process closed as interrupted"),
            Err(e) => tracing::error!(error = %e, "closing interrupted calls failed"),
        }
        // Campaigns left running resume (after the calls above were closed): in-doubt dial
        // intents are reconciled with the carrier before anything is dialled again.
        match crate::app::campaigns::resume(&state.campaigns, &state.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(campaigns = n, "campaign actors rehydrated"),
            Err(e) => tracing::error!(error = %e, "rehydrating campaigns failed"),
        }
        // Inbound emails a previous process left unanswered are answered (at most once each).
        let email = state.email.clone();
        actix_web::rt::spawn(async move { email.resume_replies().await });
        // Ended calls' analyses, including those a previous process left due.
        state.analysis.start();
        // Ledger entries not yet reported to the payment provider's meter.
        state.billing.start_meter();
        // Queued crawls, crawls a previous process left running, re-embedding.
        state.knowledge.start();
        spawn_maintenance(state.clone());
        let data = web::Data::new(state.clone());
        let server_settings = &state.settings.server;
        let limits = web::Data::new(ClientLimits::new(
            server_settings.max_requests_per_client,
            Duration::from_millis(server_settings.body_timeout_ms),
        ));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(limits.clone())
                .wrap(from_fn(http::core::guard::guard))
                .wrap(from_fn(http::core::frame::frame))
                .configure(http::configure)
                .default_service(web::to(http::not_found))
        })
        .workers(workers)
        .client_request_timeout(Duration::from_millis(server_settings.client_request_timeout_ms))
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            state,
            _sqlite: sqlite,
        })
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
    /// by the next process once their leases expire) and the crawls (resumed likewise).
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.webhooks.shutdown();
        self.state.knowledge.shutdown();
        self.state.workflows.shutdown();
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

/// The URL carriers reach this server at: `configured`, or the bound address when it is
/// empty (a wildcard address as loopback). A configured URL that names another address
/// than the bound one is said once, at start-up: callbacks go there.
fn public_base_url(configured: &str, bound: SocketAddr) -> String {
    let ip = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let own = format!("http://{}", SocketAddr::new(ip, bound.port()));
    if configured.is_empty() {
        return own;
    }
    let names_bound = url::Url::parse(configured).is_ok_and(|u| {
        u.port_or_known_default() == Some(bound.port())
            && u.host_str().is_some_and(|h| {
                h.trim_matches(['[', ']'])
                    .parse::<IpAddr>()
                    .ok()
                    .is_none_or(|h| h == ip || h.is_loopback())
            })
    });
    if !names_bound {
        tracing::warn!(
            public_base_url = configured,
            bound = %own,
            "server.public_base_url is not the address the server is bound to: carriers will post callbacks and open media streams there"
        );
    }
    configured.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_url_follows_the_bound_address_unless_set() {
        let bound: SocketAddr = "127.0.0.1:9000".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public_base_url("", bound), "http://127.0.0.1:9000");
        let any: SocketAddr = "0.0.0.0:9001".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public_base_url("", any), "http://127.0.0.1:9001");
        let v6: SocketAddr = "[::]:9002".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(public_base_url("", v6), "http://[::1]:9002");
        assert_eq!(
            public_base_url("https://voice.example.com", bound),
            "https://voice.example.com"
        );
    }
}
