//! WebSocket connections to providers (`ws://` for local fakes, `wss://` with rustls and
//! the webpki roots). The crypto provider is named explicitly: two are compiled into the
//! binary (through reqwest and sqlx), so rustls cannot pick a process default itself.

use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio_tungstenite::{
    Connector, MaybeTlsStream, WebSocketStream,
    tungstenite::{self, handshake::client::Request, http::Response},
};

fn tls() -> Option<Arc<rustls::ClientConfig>> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .ok()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        })
        .clone()
}

/// Opens a client WebSocket.
///
/// # Errors
/// When the connection, the TLS handshake or the upgrade fails.
pub async fn connect(
    request: Request,
) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response<Option<Vec<u8>>>), tungstenite::Error> {
    let connector = tls().map(Connector::Rustls);
    tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await
}
