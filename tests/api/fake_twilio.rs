//! Fake Twilio 2010 REST API for tests: an actix-web server on 127.0.0.1:0 that speaks Twilio's
//! wire format (form in, JSON out, Basic auth, Twilio error bodies) with inspectable state and
//! scripted faults. Self-contained: it does not use the client module.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, http::StatusCode, web};
use base64::Engine as _;
use serde_json::{Value, json};

const ACCOUNTS_PREFIX: &str = "/2010-04-01/Accounts/";
const TOLL_FREE_AREAS: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct FakeAccount {
    pub sid: String,
    pub token: String,
    /// `active`, `suspended` or `closed`.
    pub status: String,
    pub friendly_name: String,
}

#[derive(Debug, Clone)]
pub struct FakeNumber {
    pub sid: String,
    pub account_sid: String,
    pub phone_number: String,
    pub friendly_name: String,
    pub voice_url: Option<String>,
    pub voice_method: String,
    pub voice_fallback_url: Option<String>,
    pub sms_url: Option<String>,
    pub sms_method: String,
    pub status_callback: Option<String>,
    pub status_callback_method: String,
    /// `local`, `mobile` or `tollfree`.
    pub kind: String,
    pub created: u64,
    pub updated: u64,
}

#[derive(Debug, Clone)]
pub struct FakeCall {
    pub sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: String,
    pub status: String,
    pub url: Option<String>,
    pub twiml: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_events: Vec<String>,
    /// Every form parameter of the create request, in order.
    pub params: Vec<(String, String)>,
    pub phone_number_sid: Option<String>,
    pub created: u64,
    pub updated: u64,
}

#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub sid: String,
    pub account_sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: Option<String>,
    pub media_urls: Vec<String>,
    pub status: String,
    pub status_callback: Option<String>,
    pub params: Vec<(String, String)>,
    pub created: u64,
}

/// One request as the fake saw it (before faults and auth were applied).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    /// Basic auth named an existing account with its token.
    pub auth_ok: bool,
    pub username: Option<String>,
}

impl RecordedRequest {
    /// First value of `key` in the form body, else in the query string.
    pub fn param(&self, key: &str) -> Option<&str> {
        first(&self.form, key).or_else(|| first(&self.query, key))
    }

    /// Every value of `key` in the form body and query string (repeated keys).
    pub fn params(&self, key: &str) -> Vec<&str> {
        self.form
            .iter()
            .chain(self.query.iter())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Debug, Clone)]
pub enum FaultKind {
    /// Answer with this HTTP status and a Twilio error body with this code; no effect happens.
    Status(u16, i64),
    /// 429, code 20429, `Retry-After: secs`; no effect happens.
    RateLimited { retry_after_secs: u64 },
    /// Do the work, then hold the response this long (so a client timeout leaves the effect
    /// done but unacknowledged, like a lost response).
    Delay(Duration),
    /// 200 with a body that is not valid JSON; no effect happens.
    Garbage,
}

/// A scripted misbehaviour for the next `remaining` matching requests.
#[derive(Debug, Clone)]
pub struct Fault {
    /// `None` matches every method.
    pub method: Option<String>,
    /// Matched as a prefix of the full path, and of the path after
    /// `/2010-04-01/Accounts/{AccountSid}` (e.g. `/Calls`, `/IncomingPhoneNumbers.json`).
    pub path_prefix: String,
    pub remaining: u32,
    pub kind: FaultKind,
}

impl Fault {
    pub fn status(path_prefix: &str, status: u16, twilio_code: i64) -> Self {
        Self::new(path_prefix, FaultKind::Status(status, twilio_code))
    }
    pub fn rate_limited(path_prefix: &str, retry_after_secs: u64) -> Self {
        Self::new(path_prefix, FaultKind::RateLimited { retry_after_secs })
    }
    pub fn delay(path_prefix: &str, delay: Duration) -> Self {
        Self::new(path_prefix, FaultKind::Delay(delay))
    }
    pub fn garbage(path_prefix: &str) -> Self {
        Self::new(path_prefix, FaultKind::Garbage)
    }
    /// Apply to the next `n` matching requests (default 1).
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = n;
        self
    }
    /// Only requests with this method (`GET`, `POST`, `DELETE`).
    pub fn on(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }
    fn new(path_prefix: &str, kind: FaultKind) -> Self {
        Self {
            method: None,
            path_prefix: path_prefix.to_owned(),
            remaining: 1,
            kind,
        }
    }
    fn matches(&self, method: &str, path: &str) -> bool {
        if self.remaining == 0 || self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        if path.starts_with(&self.path_prefix) {
            return true;
        }
        let relative = path
            .strip_prefix(ACCOUNTS_PREFIX)
            .and_then(|rest| rest.find(['/', '.']).map(|i| &rest[i..]));
        relative.is_some_and(|r| r.starts_with(&self.path_prefix))
    }
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub accounts: HashMap<String, FakeAccount>,
    /// Owned numbers, all accounts, in purchase order.
    pub numbers: Vec<FakeNumber>,
    pub calls: Vec<FakeCall>,
    pub messages: Vec<FakeMessage>,
    /// `(sender or messaging service SID, recipient)`; sender `*` blocks every sender.
    pub opted_out: HashSet<(String, String)>,
    pub faults: Vec<Fault>,
    pub requests: Vec<RecordedRequest>,
    /// TrustHub and Messaging v1 state (see `fake_twilio_a2p`).
    pub a2p: crate::fake_twilio_a2p::A2pFake,
}

type Shared = Arc<Mutex<FakeState>>;

// ---------------------------------------------------------------------------------------------
// Server handle
// ---------------------------------------------------------------------------------------------

/// Running fake; stops when dropped. Point the client's `api_base` at `base_url`.
///
/// Suspended or closed accounts: `GET /Accounts/{sid}.json` answers 200 with that `status`;
/// every other endpoint answers 401 with code 20005 ("Account not active"). Wrong or unknown
/// credentials answer 401 with code 20003. A path naming another account answers 404/20404.
pub struct FakeTwilio {
    pub base_url: String,
    pub state: Arc<Mutex<FakeState>>,
    handle: ServerHandle,
}

impl FakeTwilio {
    /// Binds 127.0.0.1:0 and serves on one worker thread. Needs a Tokio runtime.
    pub async fn start() -> FakeTwilio {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Twilio");
        let port = listener.local_addr().expect("local addr").port();
        let state: Shared = Arc::new(Mutex::new(FakeState::default()));
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(dispatch)))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen fake Twilio")
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeTwilio {
            base_url: format!("http://127.0.0.1:{port}"),
            state,
            handle,
        }
    }

    pub fn add_account(&self, sid: &str, token: &str, status: &str) {
        self.state.lock().unwrap().accounts.insert(
            sid.to_owned(),
            FakeAccount {
                sid: sid.to_owned(),
                token: token.to_owned(),
                status: status.to_owned(),
                friendly_name: format!("Fake account {sid}"),
            },
        );
    }

    /// Registers a number as owned by `account_sid` (bypassing the inventory); returns its PN SID.
    pub fn add_owned_number(&self, account_sid: &str, e164: &str, voice_url: Option<String>) -> String {
        let mut s = self.state.lock().unwrap();
        let number = new_number(account_sid, e164, &[]);
        let sid = number.sid.clone();
        s.numbers.push(FakeNumber { voice_url, ..number });
        sid
    }

    pub fn script(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push(fault);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Recorded requests with this method whose path ends with `suffix`.
    pub fn requests_to(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// Blocks `sender` (a number, a messaging service SID, or `*` for all) → `recipient`.
    pub fn opt_out(&self, sender: &str, recipient: &str) {
        self.state
            .lock()
            .unwrap()
            .opted_out
            .insert((sender.to_owned(), recipient.to_owned()));
    }

    pub fn opt_in(&self, sender: &str, recipient: &str) {
        self.state
            .lock()
            .unwrap()
            .opted_out
            .remove(&(sender.to_owned(), recipient.to_owned()));
    }

    pub fn numbers(&self) -> Vec<FakeNumber> {
        self.state.lock().unwrap().numbers.clone()
    }

    pub fn calls(&self) -> Vec<FakeCall> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.state.lock().unwrap().messages.clone()
    }

    /// Moves a call along (`ringing`, `in-progress`, `completed`, ...), as the network would.
    pub fn set_call_status(&self, call_sid: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        if let Some(call) = s.calls.iter_mut().find(|c| c.sid == call_sid) {
            call.status = status.to_owned();
            call.updated = now();
        }
    }

    /// A random SID with this two-letter prefix (`AC`, `PN`, `CA`, `SM`, ...).
    pub fn sid(prefix: &str) -> String {
        new_sid(prefix)
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits for completion.
        std::mem::drop(self.handle.stop(false));
    }
}

// ---------------------------------------------------------------------------------------------
// Request handling
// ---------------------------------------------------------------------------------------------

async fn dispatch(req: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.path().to_owned();
    let query = parse_pairs(req.query_string().as_bytes());
    let form = parse_pairs(&body);
    let creds = basic_auth(&req);

    let fault = {
        let mut s = state.lock().unwrap();
        let auth_ok = creds
            .as_ref()
            .is_some_and(|(user, pass)| s.accounts.get(user).is_some_and(|a| &a.token == pass));
        s.requests.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            form: form.clone(),
            auth_ok,
            username: creds.as_ref().map(|(u, _)| u.clone()),
        });
        let found = s.faults.iter_mut().find(|f| f.matches(&method, &path));
        found.map(|f| {
            f.remaining -= 1;
            f.kind.clone()
        })
    };

    let mut delay = None;
    match fault {
        Some(FaultKind::Status(status, code)) => {
            return twilio_error(status, code, "Scripted failure");
        }
        Some(FaultKind::RateLimited { retry_after_secs }) => {
            let mut resp = twilio_error(429, 20429, "Too Many Requests");
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_secs),
            );
            return resp;
        }
        Some(FaultKind::Garbage) => {
            return HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"sid\": \"CA0123\", \"status\": <html>oops");
        }
        Some(FaultKind::Delay(d)) => delay = Some(d),
        None => {}
    }

    let response = {
        let mut s = state.lock().unwrap();
        route(&mut s, &method, &path, &query, &form, creds)
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    response
}

fn route(
    s: &mut FakeState,
    method: &str,
    path: &str,
    query: &[(String, String)],
    form: &[(String, String)],
    creds: Option<(String, String)>,
) -> HttpResponse {
    let Some((user, pass)) = creds else {
        return twilio_error(401, 20003, "Authenticate");
    };
    let Some(account) = s.accounts.get(&user).cloned() else {
        return twilio_error(401, 20003, "Authenticate");
    };
    if account.token != pass {
        return twilio_error(401, 20003, "Authenticate");
    }
    if path.starts_with("/v1/") {
        if account.status != "active" {
            return twilio_error(401, 20005, "Account not active");
        }
        return crate::fake_twilio_a2p::route(&mut s.a2p, &account.sid, method, path, query, form);
    }
    let Some(rest) = path.strip_prefix(ACCOUNTS_PREFIX) else {
        return not_found(path);
    };
    let (sid_part, tail) = rest.split_once('/').unwrap_or((rest, ""));

    if tail.is_empty() {
        // Accounts/{Sid}.json
        return match (method, sid_part.strip_suffix(".json")) {
            ("GET", Some(sid)) if sid == account.sid => HttpResponse::Ok().json(account_json(&account)),
            _ => not_found(path),
        };
    }
    if sid_part != account.sid {
        return not_found(path);
    }
    if account.status != "active" {
        return twilio_error(401, 20005, "Account not active");
    }

    let segments: Vec<&str> = tail.split('/').collect();
    let acct = account.sid.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["AvailablePhoneNumbers", country, kind]) => available(s, country, kind, query, path),
        ("POST", ["IncomingPhoneNumbers.json"]) => buy_number(s, acct, form),
        ("GET", ["IncomingPhoneNumbers.json"]) => list_numbers(s, acct, query, path),
        (_, ["IncomingPhoneNumbers", file]) => match file.strip_suffix(".json") {
            Some(sid) => number_instance(s, acct, method, sid, form, path),
            None => not_found(path),
        },
        ("POST", ["Calls.json"]) => create_call(s, acct, form),
        ("GET", ["Calls.json"]) => list_calls(s, acct, query, path),
        (_, ["Calls", file]) => match file.strip_suffix(".json") {
            Some(sid) => call_instance(s, acct, method, sid, form, path),
            None => not_found(path),
        },
        ("POST", ["Messages.json"]) => send_message(s, acct, form),
        ("GET", ["Messages.json"]) => {
            let items: Vec<Value> = s
                .messages
                .iter()
                .rev()
                .filter(|m| m.account_sid == acct)
                .map(message_json)
                .collect();
            page("messages", items, path, query)
        }
        ("GET", ["Messages", file]) => {
            let sid = file.strip_suffix(".json").unwrap_or(file);
            match s.messages.iter().find(|m| m.sid == sid && m.account_sid == acct) {
                Some(m) => HttpResponse::Ok().json(message_json(m)),
                None => not_found(path),
            }
        }
        _ => not_found(path),
    }
}

// -- numbers ----------------------------------------------------------------------------------

fn available(s: &FakeState, country: &str, kind_file: &str, query: &[(String, String)], path: &str) -> HttpResponse {
    let country = country.to_ascii_uppercase();
    if country != "US" && country != "CA" {
        return not_found(path);
    }
    let (kind, default_area, exchange) = match kind_file {
        "Local.json" => ("local", "415", "555"),
        "Mobile.json" => ("mobile", "415", "557"),
        "TollFree.json" => ("tollfree", "800", "555"),
        _ => return not_found(path),
    };
    let area = first(query, "AreaCode").unwrap_or(default_area);
    let caps = capabilities_for(kind);
    let valid_area = area.len() == 3
        && area.bytes().all(|b| b.is_ascii_digit())
        && !area.starts_with(['0', '1'])
        && (kind == "tollfree") == TOLL_FREE_AREAS.contains(&area);
    let filters_ok = [
        ("VoiceEnabled", caps[0]),
        ("SmsEnabled", caps[1]),
        ("MmsEnabled", caps[2]),
        ("FaxEnabled", caps[3]),
    ]
    .iter()
    .all(|(param, has)| match first(query, param) {
        Some(v) if v.eq_ignore_ascii_case("true") => *has,
        Some(v) if v.eq_ignore_ascii_case("false") => !*has,
        _ => true,
    });
    let page_size = page_size(query);
    let pattern = first(query, "Contains").map(contains_pattern);
    let mut items = Vec::new();
    if valid_area && filters_ok {
        for line in 1000..=9999u32 {
            if items.len() >= page_size {
                break;
            }
            let e164 = format!("+1{area}{exchange}{line:04}");
            if s.numbers.iter().any(|n| n.phone_number == e164) {
                continue;
            }
            if let Some(p) = &pattern
                && !matches_pattern(&e164[1..], p)
            {
                continue;
            }
            items.push(json!({
                "friendly_name": friendly(&e164),
                "phone_number": e164,
                "lata": "722",
                "locality": "Fakeville",
                "rate_center": "FAKEVILLE",
                "latitude": "37.780000",
                "longitude": "-122.400000",
                "region": "CA",
                "postal_code": "94105",
                "iso_country": country,
                "address_requirements": "none",
                "beta": false,
                "capabilities": {"voice": caps[0], "sms": caps[1], "mms": caps[2], "fax": caps[3]},
            }));
        }
    }
    HttpResponse::Ok().json(json!({ "available_phone_numbers": items, "uri": path }))
}

fn buy_number(s: &mut FakeState, acct: &str, form: &[(String, String)]) -> HttpResponse {
    let phone = match (first(form, "PhoneNumber"), first(form, "AreaCode")) {
        (Some(p), _) => p.to_owned(),
        (None, Some(area)) => {
            let found = (1000..=9999u32)
                .map(|line| format!("+1{area}555{line:04}"))
                .find(|e| inventory_kind(e).is_some() && !s.numbers.iter().any(|n| &n.phone_number == e));
            match found {
                Some(e) => e,
                None => return twilio_error(400, 21452, "No phone numbers found in area code"),
            }
        }
        (None, None) => {
            return twilio_error(400, 21421, "A 'PhoneNumber' or 'AreaCode' is required");
        }
    };
    if !is_e164(&phone) {
        return twilio_error(400, 21421, &format!("PhoneNumber {phone} is invalid"));
    }
    if inventory_kind(&phone).is_none() || s.numbers.iter().any(|n| n.phone_number == phone) {
        return twilio_error(400, 21422, &format!("PhoneNumber {phone} is not available"));
    }
    let number = new_number(acct, &phone, form);
    let body = number_json(&number);
    s.numbers.push(number);
    HttpResponse::Created().json(body)
}

fn list_numbers(s: &FakeState, acct: &str, query: &[(String, String)], path: &str) -> HttpResponse {
    let phone_filter = first(query, "PhoneNumber");
    let name_filter = first(query, "FriendlyName");
    let items: Vec<Value> = s
        .numbers
        .iter()
        .filter(|n| n.account_sid == acct)
        .filter(|n| phone_filter.is_none_or(|p| n.phone_number.contains(p.trim_end_matches('*'))))
        .filter(|n| name_filter.is_none_or(|f| n.friendly_name == f))
        .map(number_json)
        .collect();
    page("incoming_phone_numbers", items, path, query)
}

fn number_instance(
    s: &mut FakeState,
    acct: &str,
    method: &str,
    sid: &str,
    form: &[(String, String)],
    path: &str,
) -> HttpResponse {
    let Some(index) = s.numbers.iter().position(|n| n.sid == sid && n.account_sid == acct) else {
        return not_found(path);
    };
    match method {
        "GET" => HttpResponse::Ok().json(number_json(&s.numbers[index])),
        "POST" => {
            let n = &mut s.numbers[index];
            apply_number_params(n, form);
            n.updated = now();
            HttpResponse::Ok().json(number_json(n))
        }
        "DELETE" => {
            s.numbers.remove(index);
            HttpResponse::NoContent().finish()
        }
        _ => not_found(path),
    }
}

fn new_number(acct: &str, e164: &str, form: &[(String, String)]) -> FakeNumber {
    let t = now();
    let mut n = FakeNumber {
        sid: new_sid("PN"),
        account_sid: acct.to_owned(),
        phone_number: e164.to_owned(),
        friendly_name: friendly(e164),
        voice_url: None,
        voice_method: "POST".to_owned(),
        voice_fallback_url: None,
        sms_url: None,
        sms_method: "POST".to_owned(),
        status_callback: None,
        status_callback_method: "POST".to_owned(),
        kind: inventory_kind(e164).unwrap_or("local").to_owned(),
        created: t,
        updated: t,
    };
    apply_number_params(&mut n, form);
    n
}

fn apply_number_params(n: &mut FakeNumber, form: &[(String, String)]) {
    let opt = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    for (key, value) in form {
        match key.as_str() {
            "FriendlyName" => n.friendly_name = value.clone(),
            "VoiceUrl" => n.voice_url = opt(value),
            "VoiceMethod" => n.voice_method = value.clone(),
            "VoiceFallbackUrl" => n.voice_fallback_url = opt(value),
            "SmsUrl" => n.sms_url = opt(value),
            "SmsMethod" => n.sms_method = value.clone(),
            "StatusCallback" => n.status_callback = opt(value),
            "StatusCallbackMethod" => n.status_callback_method = value.clone(),
            _ => {}
        }
    }
}

/// The fake's inventory: `+1 {area} 555 {1000..9999}` (local, or toll-free for 8xx toll-free
/// area codes) and `+1 {area} 557 {1000..9999}` (mobile).
fn inventory_kind(e164: &str) -> Option<&'static str> {
    let digits = e164.strip_prefix("+1")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (area, exchange, line) = (&digits[0..3], &digits[3..6], &digits[6..]);
    if area.starts_with(['0', '1']) || line.starts_with('0') {
        return None;
    }
    match exchange {
        "555" if TOLL_FREE_AREAS.contains(&area) => Some("tollfree"),
        "555" => Some("local"),
        "557" if !TOLL_FREE_AREAS.contains(&area) => Some("mobile"),
        _ => None,
    }
}

/// `[voice, sms, mms, fax]`.
fn capabilities_for(kind: &str) -> [bool; 4] {
    match kind {
        "tollfree" => [true, true, false, true],
        "mobile" => [true, true, true, false],
        _ => [true, true, true, false],
    }
}

/// Keypad letters become digits; anything but digits and `*` is dropped.
fn contains_pattern(raw: &str) -> Vec<u8> {
    raw.bytes()
        .filter_map(|b| match b.to_ascii_uppercase() {
            d @ (b'0'..=b'9' | b'*') => Some(d),
            b'A'..=b'C' => Some(b'2'),
            b'D'..=b'F' => Some(b'3'),
            b'G'..=b'I' => Some(b'4'),
            b'J'..=b'L' => Some(b'5'),
            b'M'..=b'O' => Some(b'6'),
            b'P'..=b'S' => Some(b'7'),
            b'T'..=b'V' => Some(b'8'),
            b'W'..=b'Z' => Some(b'9'),
            _ => None,
        })
        .collect()
}

fn matches_pattern(digits: &str, pattern: &[u8]) -> bool {
    let d = digits.as_bytes();
    if pattern.is_empty() {
        return true;
    }
    d.windows(pattern.len())
        .any(|w| w.iter().zip(pattern).all(|(c, p)| *p == b'*' || c == p))
}

// -- calls ------------------------------------------------------------------------------------

fn create_call(s: &mut FakeState, acct: &str, form: &[(String, String)]) -> HttpResponse {
    let Some(to) = first(form, "To") else {
        return twilio_error(400, 21201, "No 'To' number is specified");
    };
    if !(is_e164(to) || to.starts_with("sip:") || to.starts_with("client:")) {
        return twilio_error(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let Some(from) = first(form, "From") else {
        return twilio_error(400, 21213, "No 'From' number is specified");
    };
    let Some(from_number) = s
        .numbers
        .iter()
        .find(|n| n.account_sid == acct && n.phone_number == from)
    else {
        return twilio_error(
            400,
            21210,
            &format!("The source phone number provided, {from}, is not yet verified for your account"),
        );
    };
    let url = first(form, "Url").map(str::to_owned);
    let twiml = first(form, "Twiml").map(str::to_owned);
    if url.is_none() && twiml.is_none() && first(form, "ApplicationSid").is_none() {
        return twilio_error(400, 21205, "Url parameter is required");
    }
    let t = now();
    let call = FakeCall {
        sid: new_sid("CA"),
        account_sid: acct.to_owned(),
        to: to.to_owned(),
        from: from.to_owned(),
        status: "queued".to_owned(),
        url,
        twiml,
        status_callback: first(form, "StatusCallback").map(str::to_owned),
        status_callback_events: all(form, "StatusCallbackEvent"),
        params: form.to_vec(),
        phone_number_sid: Some(from_number.sid.clone()),
        created: t,
        updated: t,
    };
    let body = call_json(&call);
    s.calls.push(call);
    HttpResponse::Created().json(body)
}

fn list_calls(s: &FakeState, acct: &str, query: &[(String, String)], path: &str) -> HttpResponse {
    let to = first(query, "To");
    let from = first(query, "From");
    let status = first(query, "Status");
    // `StartTime>` is inclusive; the fake compares it with the creation time.
    let after = first(query, "StartTime>");
    let before = first(query, "StartTime<");
    let items: Vec<Value> = s
        .calls
        .iter()
        .rev()
        .filter(|c| c.account_sid == acct)
        .filter(|c| to.is_none_or(|t| c.to == t))
        .filter(|c| from.is_none_or(|f| c.from == f))
        .filter(|c| status.is_none_or(|st| c.status == st))
        .filter(|c| after.is_none_or(|a| iso8601(c.created).as_str() >= a))
        .filter(|c| before.is_none_or(|b| iso8601(c.created).as_str() < b))
        .map(call_json)
        .collect();
    page("calls", items, path, query)
}

fn call_instance(
    s: &mut FakeState,
    acct: &str,
    method: &str,
    sid: &str,
    form: &[(String, String)],
    path: &str,
) -> HttpResponse {
    let Some(call) = s.calls.iter_mut().find(|c| c.sid == sid && c.account_sid == acct) else {
        return not_found(path);
    };
    match method {
        "GET" => HttpResponse::Ok().json(call_json(call)),
        "POST" => {
            if let Some(status) = first(form, "Status") {
                if status != "completed" && status != "canceled" {
                    return twilio_error(400, 21220, &format!("Invalid call status {status}"));
                }
                call.status = status.to_owned();
            }
            if let Some(twiml) = first(form, "Twiml") {
                call.twiml = Some(twiml.to_owned());
            }
            if let Some(url) = first(form, "Url") {
                call.url = Some(url.to_owned());
            }
            call.updated = now();
            HttpResponse::Ok().json(call_json(call))
        }
        _ => not_found(path),
    }
}

// -- messages ---------------------------------------------------------------------------------

fn send_message(s: &mut FakeState, acct: &str, form: &[(String, String)]) -> HttpResponse {
    let Some(to) = first(form, "To") else {
        return twilio_error(400, 21604, "A 'To' phone number is required");
    };
    if !is_e164(to) {
        return twilio_error(400, 21211, &format!("Invalid 'To' Phone Number: {to}"));
    }
    let from = first(form, "From");
    let service = first(form, "MessagingServiceSid");
    let Some(sender) = from.or(service) else {
        return twilio_error(400, 21603, "A 'From' phone number is required");
    };
    let body = first(form, "Body");
    let media = all(form, "MediaUrl");
    if body.is_none() && media.is_empty() {
        return twilio_error(400, 21602, "Message body is required");
    }
    if let Some(f) = from
        && !s.numbers.iter().any(|n| n.account_sid == acct && n.phone_number == f)
    {
        return twilio_error(
            400,
            21606,
            &format!(
                "The From phone number {f} is not a valid, SMS-capable inbound phone number or short code for your account"
            ),
        );
    }
    let blocked = s.opted_out.contains(&(sender.to_owned(), to.to_owned()))
        || s.opted_out.contains(&("*".to_owned(), to.to_owned()));
    if blocked {
        return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient");
    }
    let message = FakeMessage {
        sid: new_sid(if media.is_empty() { "SM" } else { "MM" }),
        account_sid: acct.to_owned(),
        to: to.to_owned(),
        from: from.map(str::to_owned),
        messaging_service_sid: service.map(str::to_owned),
        body: body.map(str::to_owned),
        media_urls: media,
        status: if from.is_some() { "queued" } else { "accepted" }.to_owned(),
        status_callback: first(form, "StatusCallback").map(str::to_owned),
        params: form.to_vec(),
        created: now(),
    };
    let json = message_json(&message);
    s.messages.push(message);
    HttpResponse::Created().json(json)
}

// -- JSON -------------------------------------------------------------------------------------

fn account_json(a: &FakeAccount) -> Value {
    json!({
        "sid": a.sid,
        "friendly_name": a.friendly_name,
        "status": a.status,
        "type": "Full",
        "owner_account_sid": a.sid,
        "auth_token": a.token,
        "date_created": rfc2822(0),
        "date_updated": rfc2822(0),
        "uri": format!("{ACCOUNTS_PREFIX}{}.json", a.sid),
        "subresource_uris": {
            "calls": format!("{ACCOUNTS_PREFIX}{}/Calls.json", a.sid),
            "incoming_phone_numbers": format!("{ACCOUNTS_PREFIX}{}/IncomingPhoneNumbers.json", a.sid),
            "messages": format!("{ACCOUNTS_PREFIX}{}/Messages.json", a.sid),
        },
    })
}

fn number_json(n: &FakeNumber) -> Value {
    let caps = capabilities_for(&n.kind);
    json!({
        "sid": n.sid,
        "account_sid": n.account_sid,
        "phone_number": n.phone_number,
        "friendly_name": n.friendly_name,
        "voice_url": n.voice_url,
        "voice_method": n.voice_method,
        "voice_fallback_url": n.voice_fallback_url,
        "voice_fallback_method": "POST",
        "voice_caller_id_lookup": false,
        "voice_application_sid": null,
        "sms_url": n.sms_url,
        "sms_method": n.sms_method,
        "sms_fallback_url": null,
        "sms_application_sid": null,
        "status_callback": n.status_callback,
        "status_callback_method": n.status_callback_method,
        "trunk_sid": null,
        // IncomingPhoneNumber spells these keys in capitals on the wire.
        "capabilities": {"voice": caps[0], "SMS": caps[1], "MMS": caps[2], "fax": caps[3]},
        "address_requirements": "none",
        "beta": false,
        "origin": "twilio",
        "status": "in-use",
        "type": n.kind,
        "emergency_status": "Inactive",
        "api_version": "2010-04-01",
        "date_created": rfc2822(n.created),
        "date_updated": rfc2822(n.updated),
        "uri": format!("{ACCOUNTS_PREFIX}{}/IncomingPhoneNumbers/{}.json", n.account_sid, n.sid),
    })
}

fn call_json(c: &FakeCall) -> Value {
    let started = !matches!(c.status.as_str(), "queued" | "ringing" | "canceled");
    let ended = matches!(
        c.status.as_str(),
        "completed" | "busy" | "failed" | "no-answer" | "canceled"
    );
    json!({
        "sid": c.sid,
        "account_sid": c.account_sid,
        "parent_call_sid": null,
        "to": c.to,
        "to_formatted": friendly(&c.to),
        "from": c.from,
        "from_formatted": friendly(&c.from),
        "phone_number_sid": c.phone_number_sid,
        "status": c.status,
        "start_time": started.then(|| rfc2822(c.created)),
        "end_time": (started && ended).then(|| rfc2822(c.updated)),
        "duration": (started && ended).then(|| c.updated.saturating_sub(c.created).to_string()),
        "price": null,
        "price_unit": "USD",
        "direction": "outbound-api",
        "answered_by": null,
        "api_version": "2010-04-01",
        "forwarded_from": null,
        "group_sid": null,
        "caller_name": null,
        "queue_time": "0",
        "trunk_sid": null,
        "date_created": rfc2822(c.created),
        "date_updated": rfc2822(c.updated),
        "uri": format!("{ACCOUNTS_PREFIX}{}/Calls/{}.json", c.account_sid, c.sid),
        "subresource_uris": {
            "recordings": format!("{ACCOUNTS_PREFIX}{}/Calls/{}/Recordings.json", c.account_sid, c.sid),
            "streams": format!("{ACCOUNTS_PREFIX}{}/Calls/{}/Streams.json", c.account_sid, c.sid),
        },
    })
}

fn message_json(m: &FakeMessage) -> Value {
    json!({
        "sid": m.sid,
        "account_sid": m.account_sid,
        "messaging_service_sid": m.messaging_service_sid,
        "from": m.from,
        "to": m.to,
        "body": m.body.clone().unwrap_or_default(),
        "num_segments": if m.from.is_some() { "1" } else { "0" },
        "num_media": m.media_urls.len().to_string(),
        "direction": "outbound-api",
        "status": m.status,
        "error_code": null,
        "error_message": null,
        "price": null,
        "price_unit": "USD",
        "api_version": "2010-04-01",
        "date_created": rfc2822(m.created),
        "date_updated": rfc2822(m.created),
        "date_sent": null,
        "uri": format!("{ACCOUNTS_PREFIX}{}/Messages/{}.json", m.account_sid, m.sid),
        "subresource_uris": {
            "media": format!("{ACCOUNTS_PREFIX}{}/Messages/{}/Media.json", m.account_sid, m.sid),
        },
    })
}

/// A 2010-API list page under `key`, paged by `PageSize`/`Page`, with `next_page_uri`.
fn page(key: &str, items: Vec<Value>, path: &str, query: &[(String, String)]) -> HttpResponse {
    let size = page_size(query);
    let number: usize = first(query, "Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let start = (number * size).min(items.len());
    let end = (start + size).min(items.len());
    let filters: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Page" | "PageSize" | "PageToken"))
        .cloned()
        .collect();
    let uri = |n: usize| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.extend_pairs(&filters);
        ser.append_pair("PageSize", &size.to_string());
        ser.append_pair("Page", &n.to_string());
        if n > 0 {
            ser.append_pair("PageToken", &format!("PA{n}"));
        }
        format!("{path}?{}", ser.finish())
    };
    let slice = items[start..end].to_vec();
    json_page(
        key,
        slice,
        number,
        size,
        start,
        end,
        uri(number),
        uri(0),
        (end < items.len()).then(|| uri(number + 1)),
        (number > 0).then(|| uri(number - 1)),
    )
}

#[allow(clippy::too_many_arguments)]
fn json_page(
    key: &str,
    slice: Vec<Value>,
    number: usize,
    size: usize,
    start: usize,
    end: usize,
    uri: String,
    first_page_uri: String,
    next_page_uri: Option<String>,
    previous_page_uri: Option<String>,
) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert(key.to_owned(), Value::Array(slice));
    body.insert("page".into(), json!(number));
    body.insert("page_size".into(), json!(size));
    body.insert("start".into(), json!(start));
    body.insert("end".into(), json!(end.saturating_sub(1).max(start)));
    body.insert("uri".into(), json!(uri));
    body.insert("first_page_uri".into(), json!(first_page_uri));
    body.insert("next_page_uri".into(), json!(next_page_uri));
    body.insert("previous_page_uri".into(), json!(previous_page_uri));
    HttpResponse::Ok().json(Value::Object(body))
}

// -- helpers ----------------------------------------------------------------------------------

fn twilio_error(status: u16, code: i64, message: &str) -> HttpResponse {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status_code).json(json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status,
    }))
}

fn not_found(path: &str) -> HttpResponse {
    twilio_error(404, 20404, &format!("The requested resource {path} was not found"))
}

fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn all(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
}

fn page_size(query: &[(String, String)]) -> usize {
    first(query, "PageSize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 1000)
}

fn basic_auth(req: &HttpRequest) -> Option<(String, String)> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

fn is_e164(s: &str) -> bool {
    s.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

/// `(415) 555-1000` for +1 numbers, the number itself otherwise.
fn friendly(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &d[0..3], &d[3..6], &d[6..])
        }
        _ => e164.to_owned(),
    }
}

fn new_sid(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// (year, month, day, hour, minute, second, weekday with 0 = Sunday) in UTC.
fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64, usize) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as usize;
    (year, month, day, rem / 3_600, rem % 3_600 / 60, rem % 60, weekday)
}

/// `Tue, 31 Aug 2010 20:36:28 +0000`, as the 2010 API writes dates.
fn rfc2822(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{}, {d:02} {} {y} {h:02}:{mi:02}:{s:02} +0000",
        DAYS[wd],
        MONTHS[(mo - 1) as usize]
    )
}

fn iso8601(secs: u64) -> String {
    let (y, mo, d, h, mi, s, _) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_like_twilio() {
        assert_eq!(rfc2822(1_283_286_988), "Tue, 31 Aug 2010 20:36:28 +0000");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn inventory_and_patterns() {
        assert_eq!(inventory_kind("+14155551234"), Some("local"));
        assert_eq!(inventory_kind("+18005551234"), Some("tollfree"));
        assert_eq!(inventory_kind("+14155571234"), Some("mobile"));
        assert_eq!(inventory_kind("+14155550123"), None);
        assert_eq!(inventory_kind("+442071234567"), None);
        assert!(matches_pattern("14155551234", &contains_pattern("555*2")));
        assert!(matches_pattern("14155551234", &contains_pattern("1234")));
        assert!(!matches_pattern("14155551234", &contains_pattern("9999")));
        assert_eq!(contains_pattern("CALL-ME"), b"225563".to_vec());
    }
}
