//! `X-Twilio-Signature`: computing and checking the signature of Twilio's webhooks.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Base64 HMAC-SHA1 (key = auth token) of `url` followed by every POST parameter as
/// `key + value`, sorted by key and then value, identical pairs once (as twilio-python does).
/// For GET webhooks pass no params (the query string is part of `url`).
#[must_use]
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC accepts keys of any length, so this never fails in practice.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (key, value) in sorted {
        mac.update(key.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks an `X-Twilio-Signature` header in constant time against `url` as given, and also
/// with the port removed and with the scheme's default port added (as Twilio's SDKs do).
#[must_use]
pub fn validate_signature(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let header = header.trim();
    if header.is_empty() {
        return false;
    }
    let mut candidates = vec![url.to_owned()];
    candidates.extend(port_variants(url));
    let mut ok = subtle::Choice::from(0u8);
    for candidate in &candidates {
        let expected = compute_signature(auth_token, candidate, params);
        ok |= expected.as_bytes().ct_eq(header.as_bytes());
    }
    ok.into()
}

/// `url` without its explicit port, or with the default port (`:443`/`:80`) when it has none.
/// Works on the string so that the rest of the URL stays byte-for-byte as Twilio signed it.
fn port_variants(url: &str) -> Vec<String> {
    let Some(scheme_end) = url.find("://") else {
        return Vec::new();
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let host_start = authority_start + authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &url[host_start..authority_end];
    // Skip an IPv6 literal's brackets before looking for the port's colon.
    let search_from = host_port.rfind(']').map_or(0, |i| i + 1);
    match host_port[search_from..].rfind(':') {
        Some(i) => {
            let colon = host_start + search_from + i;
            vec![format!("{}{}", &url[..colon], &url[authority_end..])]
        }
        None => {
            let port = match url[..scheme_end].to_ascii_lowercase().as_str() {
                "https" | "wss" => 443,
                "http" | "ws" => 80,
                _ => return Vec::new(),
            };
            vec![format!("{}:{port}{}", &url[..authority_end], &url[authority_end..])]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// Twilio's published request-validation example (token `12345`).
    fn documented_params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("From", "+14158675309"),
            ("Digits", "1234"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    const DOC_URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    #[test]
    fn signature_matches_twilio_documented_example() {
        let sig = compute_signature("12345", DOC_URL, &documented_params());
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(validate_signature(
            "12345",
            DOC_URL,
            &documented_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn signature_sorts_repeated_keys_by_value() {
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(
            compute_signature("12345", DOC_URL, &params),
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        );
    }

    #[test]
    fn signature_port_variants_match_sdk_vectors() {
        let p = documented_params();
        // Signed with ":443" added; the request URL has no port.
        assert!(validate_signature("12345", DOC_URL, &p, "kvajT1Ptam85bY51eRf/AJRuM3w="));
        // Signed without the port; the request URL carries one.
        assert!(validate_signature(
            "12345",
            "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // http with ":80" added.
        assert!(validate_signature(
            "12345",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            &p,
            "0ZXoZLH/DfblKGATFgpif+LLRf4="
        ));
        // A custom port kept as is.
        assert!(validate_signature(
            "12345",
            "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
            &p,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
        ));
        // The host's case is signed as given, not normalised.
        assert!(validate_signature(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p,
            "g9IN/x4Cft2g517EjYvEvM/W7LU="
        ));
        assert!(!validate_signature(
            "12345",
            "https://MyCompany.com/myapp.php?foo=1&bar=2",
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn signature_rejects_tampering() {
        let p = documented_params();
        let good = compute_signature("12345", DOC_URL, &p);
        let mut tampered = p.clone();
        tampered[2].1 = "9999".to_owned();
        assert!(!validate_signature("12345", DOC_URL, &tampered, &good));
        assert!(!validate_signature("other", DOC_URL, &p, &good));
        assert!(!validate_signature("12345", &format!("{DOC_URL}&x=1"), &p, &good));
        assert!(!validate_signature("12345", DOC_URL, &p, ""));
        assert!(!validate_signature("12345", DOC_URL, &p, "garbage"));
    }

    #[test]
    fn port_variants_handle_userinfo_and_ipv6() {
        assert_eq!(
            port_variants("https://u:p@host.example/a?b=1"),
            vec!["https://u:p@host.example:443/a?b=1".to_owned()]
        );
        assert_eq!(
            port_variants("https://u:p@host.example:8443/a"),
            vec!["https://u:p@host.example/a".to_owned()]
        );
        assert_eq!(port_variants("http://[::1]:8080/x"), vec!["http://[::1]/x".to_owned()]);
        assert_eq!(port_variants("http://[::1]"), vec!["http://[::1]:80".to_owned()]);
        assert!(port_variants("not a url").is_empty());
    }
}
