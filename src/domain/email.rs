//! The pure rules of email: addresses, domain names (IDNA), subjects and thread tokens.

use std::net::IpAddr;

/// The address inside `Name <a@b>` (or the whole string, trimmed).
pub fn bare_address(s: &str) -> &str {
    let s = s.trim();
    match (s.rfind('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close => s[open + 1..close].trim(),
        _ => s,
    }
}

/// A usable address: `local@domain`, with a dotted domain, no spaces or control characters,
/// within RFC 5321's lengths. Returns it with the domain in lower case (the local part is
/// the receiver's business).
pub fn parse_address(s: &str) -> Option<String> {
    let a = bare_address(s);
    if a.len() > 254
        || a.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    {
        return None;
    }
    let (local, domain) = a.rsplit_once('@')?;
    if local.is_empty() || local.len() > 64 || local.contains('@') || local.starts_with('.') || local.ends_with('.') {
        return None;
    }
    let domain = parse_domain(domain).ok()?;
    Some(format!("{local}@{domain}"))
}

/// A domain name as stored: IDNA (punycode) ASCII, lower case, at least two labels, no IP
/// literal.
///
/// # Errors
/// Why the name is not a domain.
pub fn parse_domain(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim().trim_end_matches('.');
    if raw.is_empty() {
        return Err("is empty");
    }
    if raw.parse::<IpAddr>().is_ok() || raw.starts_with('[') {
        return Err("is an IP address, not a domain name");
    }
    let ascii = match url::Host::parse(raw) {
        Ok(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Ok(_) => return Err("is an IP address, not a domain name"),
        Err(_) => return Err("is not a valid domain name"),
    };
    if ascii.len() > 253 {
        return Err("is longer than 253 characters");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("needs at least two labels (mail.example.com)");
    }
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("is not a valid domain name");
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err("is an IP address, not a domain name");
    }
    Ok(ascii)
}

/// The domain of an address, lower case.
pub fn domain_of(address: &str) -> Option<String> {
    bare_address(address)
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
}

/// A subject as threads compare it: without `Re:`/`Fwd:`/`AW:`… prefixes, whitespace
/// collapsed, lower case.
pub fn normalise_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let stripped = [
            "re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "vs:", "antw:", "tr:", "re :", "fwd :",
        ]
        .iter()
        .find(|p| lower.starts_with(*p))
        .map(|p| s[p.len()..].trim_start());
        match stripped {
            Some(rest) => s = rest,
            None => break,
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// `Re: subject`, unless it already is one.
pub fn reply_subject(subject: &str) -> String {
    if subject.trim_start().to_ascii_lowercase().starts_with("re:") {
        subject.trim().to_string()
    } else {
        format!("Re: {}", subject.trim())
    }
}

/// The thread token of a plus-addressed reply address: `agent+t_<token>@domain`.
pub fn thread_token(address: &str) -> Option<&str> {
    let a = bare_address(address);
    let (local, _) = a.rsplit_once('@')?;
    let (_, tag) = local.split_once('+')?;
    tag.strip_prefix("t_")
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// `local+t_<token>@domain` for `local@domain`.
pub fn tokenised(address: &str, token: &str) -> String {
    match bare_address(address).rsplit_once('@') {
        Some((local, domain)) => format!("{}+t_{token}@{domain}", local.split('+').next().unwrap_or(local)),
        None => address.to_string(),
    }
}

/// The address without its `+tag`, lower case: the mailbox it reaches.
pub fn mailbox_of(address: &str) -> String {
    let a = bare_address(address).to_ascii_lowercase();
    match a.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => a,
    }
}

/// The Message-IDs in an `In-Reply-To` or `References` header, brackets kept.
pub fn message_ids(header: &str) -> Vec<String> {
    header
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.trim();
            if s.starts_with('<') {
                s.to_string()
            } else {
                format!("<{s}>")
            }
        })
        .collect()
}

/// Marked as sent by a machine (RFC 3834 `Auto-Submitted`, `Precedence: bulk|junk|list`,
/// list or auto-response headers): never answered automatically.
pub fn is_automatic(header: impl Fn(&str) -> Option<String>, from: &str) -> bool {
    if header("auto-submitted").is_some_and(|v| !v.trim().eq_ignore_ascii_case("no")) {
        return true;
    }
    if header("precedence").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "bulk" | "junk" | "list" | "auto_reply"
        )
    }) {
        return true;
    }
    if header("x-autoreply").is_some() || header("x-autorespond").is_some() || header("list-id").is_some() {
        return true;
    }
    let local = bare_address(from)
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "no-reply" | "noreply" | "do-not-reply" | "donotreply"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(bare_address("Ann Lee <ann@Example.COM>"), "ann@Example.COM");
        assert_eq!(
            parse_address("Ann <Ann@Example.COM>").as_deref(),
            Some("Ann@example.com")
        );
        assert_eq!(
            parse_address("ann@bücher.example").as_deref(),
            Some("ann@xn--bcher-kva.example")
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a b@x.com",
            "ann@localhost",
            "ann@1.2.3.4",
            "a@b@c.com",
            "ann@[::1]",
        ] {
            assert_eq!(parse_address(bad), None, "{bad}");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(parse_domain("Mail.Example.com.").unwrap(), "mail.example.com");
        assert_eq!(parse_domain("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert!(parse_domain("192.168.0.1").is_err());
        assert!(parse_domain("[::1]").is_err());
        assert!(parse_domain("localhost").is_err());
        assert!(parse_domain("-bad.com").is_err());
        assert!(parse_domain("a..b").is_err());
        assert!(parse_domain("exa mple.com").is_err());
        assert!(parse_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn subjects() {
        assert_eq!(normalise_subject("RE: Fwd: re:  Your   Order"), "your order");
        assert_eq!(normalise_subject("AW: Termin"), "termin");
        assert_eq!(reply_subject("Your order"), "Re: Your order");
        assert_eq!(reply_subject("re: Your order"), "re: Your order");
    }

    #[test]
    fn tokens() {
        assert_eq!(thread_token("Sam <sam+t_ABC123@mail.x.com>"), Some("ABC123"));
        assert_eq!(thread_token("sam@mail.x.com"), None);
        assert_eq!(thread_token("sam+news@mail.x.com"), None);
        assert_eq!(tokenised("sam@mail.x.com", "ABC"), "sam+t_ABC@mail.x.com");
        assert_eq!(mailbox_of("Sam+t_A@Mail.X.com"), "sam@mail.x.com");
        assert_eq!(message_ids("<a@x> <b@y>\n c@z"), vec!["<a@x>", "<b@y>", "<c@z>"]);
    }

    #[test]
    fn automatic_mail_is_recognised() {
        let none = |_: &str| None;
        assert!(!is_automatic(none, "ann@x.com"));
        assert!(is_automatic(none, "MAILER-DAEMON@x.com"));
        assert!(is_automatic(
            |h: &str| (h == "auto-submitted").then(|| "auto-replied".into()),
            "a@x.com"
        ));
        assert!(!is_automatic(
            |h: &str| (h == "auto-submitted").then(|| "no".into()),
            "a@x.com"
        ));
        assert!(is_automatic(
            |h: &str| (h == "precedence").then(|| "Bulk".into()),
            "a@x.com"
        ));
    }
}
