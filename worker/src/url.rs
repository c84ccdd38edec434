//! Which URLs the worker accepts from a caller and may later fetch itself (the follow-up check
//! of a receipt whose content was served at a URL): `http` or `https`, at most
//! [`MAX_URL_BYTES`], no user name or password, and a host that is a public name or a public
//! address. The host is read the way `fetch` reads it (WHATWG URL parsing, through the `url`
//! crate), so spellings such as `http://2130706433/` or `http://0x7f.1/` are seen as the
//! loopback address they are.
//!
//! ```
//! use schoon_worker::url::public_url;
//!
//! assert!(public_url("https://images.example.com/a.jpg").is_ok());
//! assert!(public_url("http://127.0.0.1/a.jpg").is_err());
//! assert!(public_url("http://0x7f.1/a.jpg").is_err());
//! assert!(public_url("http://[::ffff:10.0.0.1]/").is_err());
//! assert!(public_url("file:///etc/passwd").is_err());
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::ApiError;

/// Longest URL accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// Parses `text` and accepts it only as a public `http`/`https` URL; the error names the URL
/// (shortened) and why it is refused.
pub fn public_url(text: &str) -> Result<Url, ApiError> {
    let shown = shorten(text);
    if text.len() > MAX_URL_BYTES {
        return Err(ApiError::Invalid(format!(
            "url '{shown}' has {} bytes (at most {MAX_URL_BYTES})",
            text.len()
        )));
    }
    let url = Url::parse(text).map_err(|e| ApiError::Invalid(format!("url '{shown}': {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::Invalid(format!(
            "url '{shown}': scheme '{}' (only http and https)",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ApiError::Invalid(format!("url '{shown}' carries credentials")));
    }
    let private = match url.host() {
        None => true,
        Some(Host::Ipv4(a)) => private_v4(a),
        Some(Host::Ipv6(a)) => private_v6(a),
        Some(Host::Domain(name)) => private_name(name),
    };
    if private {
        return Err(ApiError::Invalid(format!(
            "url '{shown}' names a private, local or reserved host"
        )));
    }
    Ok(url)
}

fn shorten(text: &str) -> String {
    const SHOWN: usize = 120;
    if text.len() <= SHOWN {
        return text.to_owned();
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or_default())
}

/// Names that resolve to the machine itself or to a local network by convention.
fn private_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    !name.contains('.')
        || name == "localhost"
        || [".localhost", ".local", ".internal", ".lan", ".home.arpa", ".intranet"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// Loopback, private (RFC 1918), carrier-grade NAT, link-local, documentation, benchmarking,
/// multicast, reserved and "this network" addresses.
fn private_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || o0 == 0
        || (o0 == 100 && (64..128).contains(&o1))
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (o1 == 18 || o1 == 19))
        || o0 >= 240
}

/// Loopback, unspecified, unique-local (fc00::/7), link-local (fe80::/10), multicast,
/// documentation (2001:db8::/32), and IPv4 addresses written as IPv6 (mapped, compatible,
/// NAT64) whose IPv4 part is private.
fn private_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    if let Some(v4) = a.to_ipv4_mapped() {
        return private_v4(v4);
    }
    if s[..6] == [0; 6] {
        // ::/96 (IPv4-compatible, ::1 and :: among them).
        return true;
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return private_v4(v4);
    }
    a.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_pass() {
        for u in [
            "https://images.example.com/a.jpg",
            "http://93.184.216.34/x",
            "https://[2606:4700::1111]/x",
            "https://cdn.example.org:8443/p?q=1#f",
        ] {
            assert!(public_url(u).is_ok(), "{u}");
        }
    }

    #[test]
    fn private_and_odd_urls_fail() {
        for u in [
            "http://127.0.0.1/",
            "http://localhost:8787/",
            "http://foo.localhost/",
            "http://printer.local/",
            "http://intranet/",
            "http://10.1.2.3/",
            "http://172.20.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://017700000001/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://user:pw@example.com/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "not a url",
        ] {
            assert!(public_url(u).is_err(), "{u}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        let e = public_url(&long).unwrap_err().to_string();
        assert!(e.contains("at most 2048"), "{e}");
    }
}
