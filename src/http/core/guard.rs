//! What one client may hold: a bounded number of requests in flight per client address,
//! and a deadline for a request's body to arrive (the head has the server's
//! `client_request_timeout`). A client that stalls its bodies ties up at most its own share,
//! for at most the deadline, and is answered 408 on a connection that is then closed.

use std::{
    collections::HashMap,
    net::IpAddr,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    Error, HttpMessage, HttpRequest,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::{ConnectionType, header},
    middleware::Next,
    web,
};
use futures_util::Stream;
use tokio::time::Sleep;

use crate::{
    error::{ApiError, ApiResult, ErrorCode},
    state::AppState,
};

/// Requests in flight per client address, shared by every worker.
pub struct ClientLimits {
    in_flight: Mutex<HashMap<IpAddr, usize>>,
    max_per_client: usize,
    body_timeout: Duration,
}

impl ClientLimits {
    /// `max_per_client` 0: no cap.
    pub fn new(max_per_client: usize, body_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            in_flight: Mutex::new(HashMap::new()),
            max_per_client,
            body_timeout,
        })
    }

    fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Permit> {
        if self.max_per_client == 0 {
            return Some(Permit(None));
        }
        let mut map = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(ip).or_default();
        if *n >= self.max_per_client {
            return None;
        }
        *n += 1;
        Some(Permit(Some((self.clone(), ip))))
    }
}

/// One request in flight; counted out when dropped, however the request ends.
struct Permit(Option<(Arc<ClientLimits>, IpAddr)>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some((limits, ip)) = self.0.take() {
            let mut map = limits
                .in_flight
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

/// The client address: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy. The rate limiter
/// and the loopback-only routes resolve it the same way.
pub fn client_addr(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    Some(
        forwarded
            .split(',')
            .rev()
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

/// The gate of the sandbox email routes: open only while e-mail is the sandbox and
/// `email.sandbox_outbox` allows it, only to a local client (loopback, not forwarded by a
/// proxy); anyone else gets the 404 of a route that does not exist.
///
/// # Errors
/// That 404.
pub fn sandbox_only(req: &HttpRequest, state: &AppState) -> ApiResult<()> {
    let open = state.email_is_sandbox() && state.settings.email.sandbox_outbox;
    if open && is_local_client(req, &state.trusted_proxies) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::NotFound,
            format!("No route for {} {}", req.method(), req.path()),
        ))
    }
}

/// A client on this machine, talking to the server directly: its address (resolved as
/// [`client_addr`]) is loopback and the request carries no forwarding header — a request a
/// proxy on this host forwarded is not local, trusted or not.
pub fn is_local_client(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> bool {
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"]
        .iter()
        .any(|h| req.headers().contains_key(*h));
    !forwarded && client_addr(req, trusted).is_some_and(|ip| ip.is_loopback())
}

/// Marks a request whose body missed its deadline (its connection is then closed).
#[derive(Clone, Default)]
struct Expired(Arc<std::sync::atomic::AtomicBool>);

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let (Some(limits), Some(state)) = (
        req.app_data::<web::Data<Arc<ClientLimits>>>().cloned(),
        req.app_data::<web::Data<AppState>>().cloned(),
    ) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    // A media stream is a long-lived upgrade, carrier-authenticated, many per carrier
    // address: neither capped nor given a body deadline.
    if req.headers().contains_key(header::UPGRADE) {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    let permit = match client_addr(req.request(), &state.trusted_proxies) {
        Some(ip) => match limits.enter(ip) {
            Some(permit) => Some(permit),
            None => {
                let err = ApiError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "Too many requests in flight from {ip} (server.max_requests_per_client = {})",
                        limits.max_per_client
                    ),
                );
                let mut res = req.error_response(err);
                res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
                return Ok(res);
            }
        },
        None => None,
    };
    let expired = Expired::default();
    if has_body(&req) {
        let inner = req.take_payload();
        let deadline = Deadline {
            inner,
            timer: Box::pin(tokio::time::sleep(limits.body_timeout)),
            expired: expired.clone(),
            timeout: limits.body_timeout,
        };
        req.set_payload(Payload::Stream {
            payload: Box::pin(deadline),
        });
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if expired.0.load(std::sync::atomic::Ordering::Relaxed) {
        res.response_mut().head_mut().set_connection_type(ConnectionType::Close);
    }
    drop(permit);
    Ok(res)
}

fn has_body(req: &ServiceRequest) -> bool {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// A body stream that fails with `TimedOut` once its deadline passes.
struct Deadline {
    inner: Payload,
    timer: Pin<Box<Sleep>>,
    expired: Expired,
    timeout: Duration,
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired.0.load(std::sync::atomic::Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.expired.0.store(true, std::sync::atomic::Ordering::Relaxed);
                    Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("the body did not arrive within {} ms", this.timeout.as_millis()),
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

/// A body that could not be read, as the API answers it: 408 when it missed its deadline.
pub fn body_error(e: &PayloadError) -> ApiError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            ApiError::new(ErrorCode::RequestTimeout, io.to_string())
        }
        other => ApiError::field("body", "could not read the request body").with_source(anyhow::anyhow!("{other}")),
    }
}
