//! AWS Signature Version 4 (header signing), on ring's SHA-256 and HMAC.
//!
//! The steps are AWS's documented ones: a canonical request, a string to sign over its hash and
//! the credential scope, a signing key derived from the secret key by an HMAC chain, and an
//! `Authorization` header. Tested against AWS's published test-suite vectors.

use std::time::SystemTime;

use ring::{digest, hmac};

use super::time::amz_date;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Who signs, for which region and service, and when.
pub(crate) struct SigningParams<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    /// The signing name: `ec2`, `sts`, `ssm`, `secretsmanager`.
    pub service: &'a str,
    pub time: SystemTime,
}

/// The parts of an HTTP request that are signed.
pub(crate) struct SignableRequest<'a> {
    pub method: &'a str,
    /// The `Host` header's value: the host, plus `:port` when the port is not the scheme's default.
    pub host: &'a str,
    /// The path as sent (`/`).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty for none).
    pub query: &'a str,
    /// Headers to sign besides `host`, `x-amz-date` and `x-amz-security-token` (which are added).
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
    /// The payload's hash as sent in `x-amz-content-sha256` (S3: `UNSIGNED-PAYLOAD` for a body
    /// streamed from a file); `None`: the SHA-256 of `payload`.
    pub payload_hash: Option<&'a str>,
}

/// Signs `req`: returns the headers to add to it (`x-amz-date`, `x-amz-security-token` when
/// there is a session token, and `authorization`).
pub(crate) fn sign(params: &SigningParams<'_>, req: &SignableRequest<'_>) -> Vec<(&'static str, String)> {
    let (stamp, date) = amz_date(params.time);
    let mut headers: Vec<(String, String)> =
        req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), normalize_value(v))).collect();
    headers.push(("host".into(), req.host.to_string()));
    headers.push(("x-amz-date".into(), stamp.clone()));
    if let Some(token) = params.session_token {
        headers.push(("x-amz-security-token".into(), token.to_string()));
    }
    headers.sort();
    let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
    let canonical = canonical_request(req, &headers, &signed_headers);
    let scope = format!("{date}/{}/{}/aws4_request", params.region, params.service);
    let to_sign = format!("{ALGORITHM}\n{stamp}\n{scope}\n{}", hex_sha256(canonical.as_bytes()));
    let key = signing_key(params.secret_access_key, &date, params.region, params.service);
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());

    let mut out = vec![("x-amz-date", stamp)];
    if let Some(token) = params.session_token {
        out.push(("x-amz-security-token", token.to_string()));
    }
    out.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            params.access_key_id
        ),
    ));
    out
}

/// The canonical request; `headers` are lower-case, normalised and sorted.
fn canonical_request(req: &SignableRequest<'_>, headers: &[(String, String)], signed_headers: &str) -> String {
    let mut s = String::with_capacity(256);
    s.push_str(req.method);
    s.push('\n');
    s.push_str(&canonical_uri(req.path));
    s.push('\n');
    s.push_str(&canonical_query(req.query));
    s.push('\n');
    for (k, v) in headers {
        s.push_str(k);
        s.push(':');
        s.push_str(v);
        s.push('\n');
    }
    s.push('\n');
    s.push_str(signed_headers);
    s.push('\n');
    match req.payload_hash {
        Some(h) => s.push_str(h),
        None => s.push_str(&hex_sha256(req.payload)),
    }
    s
}

/// Each path segment decoded, then encoded with SigV4's rules (the services kiln calls all post
/// to `/`, so no dot-segment normalisation is needed).
fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.split('/').map(|seg| uri_encode(&percent_decode(seg))).collect::<Vec<_>>().join("/")
}

/// Parameters decoded, re-encoded with SigV4's rules and sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k)), uri_encode(&percent_decode(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// Trims a header value and folds runs of spaces into one.
fn normalize_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> hmac::Key {
    let step = |key: &[u8], data: &str| hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
    let k_date = step(format!("AWS4{secret}").as_bytes(), date);
    let k_region = step(k_date.as_ref(), region);
    let k_service = step(k_region.as_ref(), service);
    let k_signing = step(k_service.as_ref(), "aws4_request");
    hmac::Key::new(hmac::HMAC_SHA256, k_signing.as_ref())
}

pub(crate) fn hex_sha256(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Percent-encodes everything but RFC 3986's unreserved characters, with upper-case hex, as
/// SigV4 requires. The Query API's form bodies use the same encoding.
pub(crate) fn uri_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex_at = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex_at(i + 1), hex_at(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
