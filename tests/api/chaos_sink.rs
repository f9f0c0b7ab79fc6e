//! A scriptable webhook receiver on 127.0.0.1:0 speaking raw HTTP/1.1, so it can misbehave
//! exactly: status codes, `Retry-After`, redirects, timeouts, resets and lost acks. It
//! records every request (webhook-id, timestamp, signature validity, body).

#![allow(dead_code)]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rand::Rng;
use thruai::net::signing::{self, WebhookSecret};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// How the sink answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(u16),
    /// Status with extra headers (e.g. `Retry-After`, `Location`).
    With(u16, Vec<(String, String)>),
    /// Hold the request this long, then close without answering.
    Hang(Duration),
    /// Answer this status after a delay.
    Slow(Duration, u16),
    /// Close the connection with a TCP reset, before processing.
    Reset,
    /// Process the request, then drop the connection before the status line.
    AckLost,
}

impl Reply {
    /// True when the receiver "processed" the event (2xx or a lost ack).
    pub fn processed(&self) -> bool {
        match self {
            Reply::Status(s) | Reply::With(s, _) | Reply::Slow(_, s) => (200..300).contains(s),
            Reply::AckLost => true,
            _ => false,
        }
    }
}

type Script = Arc<dyn Fn(usize) -> Reply + Send + Sync>;

/// One request as the sink saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub webhook_id: String,
    pub timestamp: String,
    pub signature_valid: bool,
    pub body: String,
    pub at: Instant,
    pub reply: Reply,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct ChaosSink {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    secret: Arc<Mutex<Option<WebhookSecret>>>,
    script: Arc<Mutex<Script>>,
}

impl ChaosSink {
    /// A sink answering 200 to everything until scripted otherwise.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = ChaosSink {
            port: listener.local_addr().unwrap().port(),
            seen: Arc::default(),
            secret: Arc::default(),
            script: Arc::new(Mutex::new(Arc::new(|_| Reply::Status(200)))),
        };
        let me = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(me.clone().serve(stream));
            }
        });
        sink
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The secret signatures are checked against.
    pub fn set_secret(&self, secret: &str) {
        *self.secret.lock().unwrap() = Some(WebhookSecret::parse(secret).unwrap());
    }

    /// `f(n)` answers the n-th request (0-based).
    pub fn script(&self, f: impl Fn(usize) -> Reply + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(f);
    }

    /// These replies in order, then 200s.
    pub fn sequence(&self, replies: Vec<Reply>) {
        self.script(move |n| replies.get(n).cloned().unwrap_or(Reply::Status(200)));
    }

    /// Fails `rate` of requests at random with a 500, a reset or a lost ack.
    pub fn random_failures(&self, rate: f64) {
        self.script(move |_| {
            let mut rng = rand::rng();
            if rng.random_bool(rate) {
                match rng.random_range(0..3) {
                    0 => Reply::Status(500),
                    1 => Reply::Reset,
                    _ => Reply::AckLost,
                }
            } else {
                Reply::Status(200)
            }
        });
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits until `pred(seen)` holds, or panics after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.seen();
            if pred(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "sink: condition not met; saw {} requests",
                seen.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn serve(self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        loop {
            let Some((head, body)) = read_request(&mut stream, &mut buf).await else {
                return;
            };
            let seen = self.record(&head, body);
            let reply = seen.reply.clone();
            self.seen.lock().unwrap().push(seen);
            match reply {
                Reply::Status(code) => {
                    if write_response(&mut stream, code, &[]).await.is_err() {
                        return;
                    }
                }
                Reply::With(code, headers) => {
                    if write_response(&mut stream, code, &headers).await.is_err() {
                        return;
                    }
                }
                Reply::Slow(d, code) => {
                    tokio::time::sleep(d).await;
                    if write_response(&mut stream, code, &[]).await.is_err() {
                        return;
                    }
                }
                Reply::Hang(d) => {
                    tokio::time::sleep(d).await;
                    return;
                }
                Reply::Reset => {
                    #[allow(deprecated)] // a zero linger never blocks; it is how a reset is sent
                    let _ = stream.set_linger(Some(Duration::ZERO));
                    return;
                }
                Reply::AckLost => return,
            }
        }
    }

    fn record(&self, head: &str, body: Vec<u8>) -> Seen {
        let mut lines = head.split("\r\n");
        let path = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("").to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let (id, ts, sig) = (
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        );
        let signature_valid = self.secret.lock().unwrap().as_ref().is_some_and(|secret| {
            signing::verify(
                std::slice::from_ref(secret),
                &id,
                &ts,
                &sig,
                &body,
                chrono::Utc::now().timestamp(),
                signing::DEFAULT_TOLERANCE_SECS,
            )
            .is_ok()
        });
        let n = self.seen.lock().unwrap().len();
        let script = self.script.lock().unwrap().clone();
        Seen {
            webhook_id: id,
            timestamp: ts,
            signature_valid,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
            reply: script(n),
            path,
            headers,
        }
    }
}

/// Reads one request (head and `content-length` body) from a keep-alive connection.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let start = head_end + 4;
    while buf.len() < start + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[start..start + len].to_vec();
    buf.drain(..start + len);
    Some((head, body))
}

async fn write_response(stream: &mut TcpStream, code: u16, headers: &[(String, String)]) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {code} Chaos\r\ncontent-length: 2\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\nok");
    stream.write_all(out.as_bytes()).await
}
