//! `http`: requests a URL and returns the response's body and headers, as Packer's `http` data
//! source does. A response outside the 2xx range is an error. kiln adds `status_code` and
//! `response_headers` to the outputs, and `ca_cert_file` / `insecure_skip_verify` for servers
//! with a private certificate authority.

use std::collections::BTreeMap;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::datasource::{DataSource, Output, OutputType};
use kiln_core::{async_trait, Error, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;

/// Options of the `http` data source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The URL to request; it must answer with a 2xx status. Required.
    #[serde(default)]
    pub url: String,
    /// `GET` (default), `HEAD`, `POST`, `PUT`, `DELETE`, `OPTIONS` or `PATCH`.
    #[serde(default)]
    pub method: Option<String>,
    /// Headers sent with the request.
    #[serde(default)]
    pub request_headers: BTreeMap<String, String>,
    /// The body sent with the request (default none).
    #[serde(default)]
    pub request_body: Option<String>,
    /// A PEM file of certificate authorities to trust besides the system's, for a server whose
    /// certificate a private authority signed (kiln).
    #[serde(default)]
    pub ca_cert_file: Option<String>,
    /// Accept any certificate the server shows, without checking it: for test servers only
    /// (kiln).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

const METHODS: &[&str] = &["HEAD", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

const OUTPUTS: &[Output] = &[
    Output::new("url", OutputType::String, "The URL that was requested."),
    Output::new("body", OutputType::String, "The body of the response, as text."),
    Output::new("status_code", OutputType::Number, "The status code of the response (kiln)."),
    Output::new(
        "response_headers",
        OutputType::StringMap,
        "The headers of the response; the values of a repeated header are joined with \", \" (kiln).",
    ),
    Output::new(
        "request_headers",
        OutputType::StringMap,
        "The headers of the response, under the name Packer gives them (the same map as `response_headers`).",
    ),
];

#[derive(Default)]
pub struct Http {
    request: Option<Request>,
}

/// The request the configuration describes, checked.
struct Request {
    url: Url,
    method: Method,
    headers: HeaderMap,
    body: Option<String>,
    client: reqwest::Client,
}

pub fn new() -> Box<dyn DataSource> {
    Box::<Http>::default()
}

#[async_trait]
impl DataSource for Http {
    fn configure(&mut self, config: &Node) -> Result<Vec<Diagnostic>, Diagnostics> {
        let c: Config = kiln_config::decode::decode_component(config, "the \"http\" data source")?;
        let at = |key: &str| config.span_of(key);
        let mut errors = Diagnostics::new();
        let url = if c.url.is_empty() {
            errors.push(
                Diagnostic::error("the http data source needs a `url`")
                    .at_opt(at("url"))
                    .with_help("set `url = \"https://...\"`"),
            );
            None
        } else {
            match Url::parse(&c.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                Ok(u) => {
                    errors.push(
                        Diagnostic::error(format!("unsupported URL scheme {:?}", u.scheme()))
                            .at_opt(at("url"))
                            .with_help("the http data source requests http:// and https:// URLs"),
                    );
                    None
                }
                Err(e) => {
                    errors.push(Diagnostic::error(format!("invalid url {:?}: {e}", c.url)).at_opt(at("url")));
                    None
                }
            }
        };
        let method = c.method.as_deref().unwrap_or("GET");
        if !METHODS.contains(&method) {
            errors.push(
                Diagnostic::error(format!("unsupported method {method:?}"))
                    .at_opt(at("method"))
                    .with_help(format!("use one of {}", METHODS.join(", "))),
            );
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &c.request_headers {
            match (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
                (Ok(n), Ok(v)) => {
                    headers.insert(n, v);
                }
                _ => errors.push(
                    Diagnostic::error(format!("request header {name:?} is not a valid HTTP header"))
                        .at_opt(at("request_headers"))
                        .with_help("header names are letters, digits and -; values are one line of text"),
                ),
            }
        }
        let client = client(&c).map_err(|e| e.at_opt(at("ca_cert_file")));
        let client = match client {
            Ok(client) => Some(client),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let (Some(url), Some(client), false) = (url, client, errors.has_errors()) else {
            return Err(errors);
        };
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        self.request = Some(Request { url, method, headers, body: c.request_body, client });
        Ok(Vec::new())
    }

    fn outputs(&self) -> &'static [Output] {
        OUTPUTS
    }

    async fn execute(&self) -> Result<serde_json::Value> {
        let Some(r) = &self.request else {
            return Err(Error::new("the http data source was not configured"));
        };
        let what = format!("{} {}", r.method, r.url);
        let mut req = r.client.request(r.method.clone(), r.url.clone()).headers(r.headers.clone());
        if let Some(body) = &r.body {
            req = req.body(body.clone());
        }
        let resp = req.send().await.map_err(|e| Error::new(format!("{what}: {}", chain(&e))))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::new(format!(
                "{what} answered HTTP {status}: the http data source needs a 2xx response"
            )));
        }
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in resp.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            headers
                .entry(canonical_header(name.as_str()))
                .and_modify(|v| {
                    v.push_str(", ");
                    v.push_str(&value);
                })
                .or_insert(value);
        }
        let bytes = resp.bytes().await.map_err(|e| Error::new(format!("{what}: reading the body: {}", chain(&e))))?;
        Ok(serde_json::json!({
            "url": r.url.as_str(),
            "body": String::from_utf8_lossy(&bytes),
            "status_code": status.as_u16(),
            "response_headers": headers,
            "request_headers": headers,
        }))
    }
}

/// The client for `c`'s certificate options.
fn client(c: &Config) -> std::result::Result<reqwest::Client, Diagnostic> {
    let mut b = reqwest::Client::builder().danger_accept_invalid_certs(c.insecure_skip_verify);
    if let Some(path) = &c.ca_cert_file {
        let pem =
            std::fs::read(path).map_err(|e| Diagnostic::error(format!("cannot read ca_cert_file {path}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Diagnostic::error(format!("ca_cert_file {path} holds no valid PEM certificate: {}", chain(&e)))
        })?;
        if certs.is_empty() {
            return Err(Diagnostic::error(format!("ca_cert_file {path} holds no PEM certificate"))
                .with_help("give a file of -----BEGIN CERTIFICATE----- blocks"));
        }
        for cert in certs {
            b = b.add_root_certificate(cert);
        }
    }
    b.build().map_err(|e| Diagnostic::error(format!("cannot set up the HTTP client: {}", chain(&e))))
}

/// A header name as Go writes it (`content-type` → `Content-Type`), as Packer's outputs have
/// them.
fn canonical_header(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            upper = c == '-';
            out
        })
        .collect()
}

/// An error with its causes, `: `-separated (reqwest's own message says little: "error sending
/// request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_written_as_go_writes_them() {
        assert_eq!(canonical_header("content-type"), "Content-Type");
        assert_eq!(canonical_header("x-request-id"), "X-Request-Id");
        assert_eq!(canonical_header("etag"), "Etag");
    }
}
