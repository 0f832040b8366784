//! Sending one API call: sign, POST, read, classify, retry, report.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;

use super::config::Service;
use super::credentials::CredentialsProvider;
use super::error::{Error, Result, ServiceError};
use super::retry::{is_retryable_code, is_retryable_status, RetryConfig};
use super::sigv4::{self, SignableRequest, SigningParams};
use super::xml;

/// What the reporting hook is told after each API call (never a parameter, header or body,
/// so never a secret).
#[derive(Debug, Clone)]
pub struct CallReport {
    /// `EC2`, `STS`, `SSM`, `Secrets Manager`.
    pub service: &'static str,
    pub action: String,
    pub region: String,
    /// From the first attempt to the last answer, retries and their sleeps included.
    pub duration: Duration,
    pub attempts: u32,
    /// The last answer's HTTP status; `None` when no answer came (connection error, timeout).
    pub status: Option<u16>,
    /// AWS's error code when the call failed with one.
    pub error_code: Option<String>,
    pub request_id: Option<String>,
}

/// Called once per API call, after it ended.
pub type CallHook = Arc<dyn Fn(&CallReport) + Send + Sync>;

/// The wire format of a service.
pub(crate) enum Protocol<'a> {
    /// Form-encoded POST, XML answers (EC2, STS).
    Query,
    /// AWS JSON 1.1 with `X-Amz-Target` (SSM, Secrets Manager).
    Json { target: &'a str },
}

pub(crate) struct Call<'a> {
    pub service: Service,
    pub action: &'a str,
    pub region: &'a str,
    pub endpoint: &'a Url,
    pub protocol: Protocol<'a>,
    pub body: Vec<u8>,
}

pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub retry: RetryConfig,
    pub timeout: Duration,
    pub hook: Option<CallHook>,
}

impl Transport {
    /// Sends `call` until it succeeds, fails for good, or runs out of attempts; returns the body.
    pub async fn send(&self, call: &Call<'_>, credentials: &CredentialsProvider) -> Result<String> {
        let start = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let outcome = self.attempt(call, credentials).await;
            let retry = match &outcome {
                Ok(_) => false,
                Err(Error::Service(e)) => is_retryable_code(&e.code) || is_retryable_status(e.status),
                Err(Error::Http { .. }) => true,
                Err(_) => false,
            };
            if !retry || attempts >= self.retry.max_attempts.max(1) {
                self.report(call, start, attempts, &outcome);
                return outcome.map(|(_, body)| body);
            }
            tokio::time::sleep(self.retry.backoff(attempts)).await;
        }
    }

    async fn attempt(&self, call: &Call<'_>, credentials: &CredentialsProvider) -> Result<(u16, String)> {
        let creds = credentials.credentials().await?;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(2);
        match call.protocol {
            Protocol::Query => headers.push(("content-type", "application/x-www-form-urlencoded; charset=utf-8")),
            Protocol::Json { target } => {
                headers.push(("content-type", "application/x-amz-json-1.1"));
                headers.push(("x-amz-target", target));
            }
        }
        let host = host_header(call.endpoint);
        let signed = sigv4::sign(
            &SigningParams {
                access_key_id: &creds.access_key_id,
                secret_access_key: creds.secret_access_key.expose(),
                session_token: creds.session_token.as_ref().map(|t| t.expose().as_str()),
                region: call.region,
                service: call.service.signing_name(),
                time: SystemTime::now(),
            },
            &SignableRequest {
                method: "POST",
                host: &host,
                path: call.endpoint.path(),
                query: call.endpoint.query().unwrap_or(""),
                headers: &headers,
                payload: &call.body,
                payload_hash: None,
            },
        );
        let mut req = self.http.post(call.endpoint.clone()).timeout(self.timeout).body(call.body.clone());
        for (k, v) in headers.iter().copied() {
            req = req.header(k, v);
        }
        for (k, v) in &signed {
            req = req.header(*k, v);
        }
        let http_err = |e: reqwest::Error| Error::Http {
            service: call.service.display_name(),
            action: call.action.to_string(),
            message: describe_reqwest_error(&e, self.timeout),
            timed_out: e.is_timeout(),
        };
        let resp = req.send().await.map_err(http_err)?;
        let status = resp.status().as_u16();
        let request_id = ["x-amzn-requestid", "x-amz-request-id"]
            .iter()
            .find_map(|h| resp.headers().get(*h).and_then(|v| v.to_str().ok()).map(String::from));
        let body = resp.text().await.map_err(http_err)?;
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        Err(Error::Service(service_error(call, status, &body, request_id)))
    }

    fn report(&self, call: &Call<'_>, start: Instant, attempts: u32, outcome: &Result<(u16, String)>) {
        let Some(hook) = &self.hook else { return };
        let (status, error_code, request_id) = match outcome {
            Ok((status, _)) => (Some(*status), None, None),
            Err(Error::Service(e)) => (Some(e.status), Some(e.code.clone()), e.request_id.clone()),
            Err(_) => (None, None, None),
        };
        hook(&CallReport {
            service: call.service.display_name(),
            action: call.action.to_string(),
            region: call.region.to_string(),
            duration: start.elapsed(),
            attempts,
            status,
            error_code,
            request_id,
        });
    }
}

/// The error in an unsuccessful answer; when the body is not an AWS error (a proxy's HTML page,
/// an empty 503), the status stands in for the code.
fn service_error(call: &Call<'_>, status: u16, body: &str, header_request_id: Option<String>) -> ServiceError {
    let parsed = match call.protocol {
        Protocol::Query => xml::query_error(body),
        Protocol::Json { .. } => json_error(body),
    };
    let (code, message, request_id) = parsed.unwrap_or_else(|| {
        let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error");
        let snippet: String = body.chars().take(200).collect();
        (format!("HTTP{status}"), format!("{reason}: {}", snippet.trim()), None)
    });
    ServiceError {
        service: call.service.display_name(),
        action: call.action.to_string(),
        status,
        code,
        message,
        request_id: request_id.or(header_request_id),
    }
}

/// `{"__type": "com.amazonaws.ssm#ParameterNotFound", "message": "..."}` and its variants.
fn json_error(body: &str) -> Option<(String, String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let ty = v.get("__type").or_else(|| v.get("code")).and_then(|t| t.as_str())?;
    let code = ty.rsplit('#').next().unwrap_or(ty).split(':').next().unwrap_or(ty).to_string();
    let message = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()))
        .unwrap_or_default()
        .to_string();
    Some((code, message, None))
}

/// `Host` as the HTTP client sends it: the port only when it is not the scheme's default.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// reqwest's message plus its causes ("error sending request" alone says little).
pub(crate) fn describe_reqwest_error(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s (timed out)", timeout.as_secs_f32());
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_errors() {
        let e = json_error(r#"{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"gone"}"#);
        assert_eq!(e, Some(("ParameterNotFound".into(), "gone".into(), None)));
        let e = json_error(r#"{"__type":"ResourceNotFoundException:http://x","Message":"m"}"#);
        assert_eq!(e, Some(("ResourceNotFoundException".into(), "m".into(), None)));
        assert_eq!(json_error("<html/>"), None);
    }

    #[test]
    fn host_header_keeps_non_default_ports() {
        assert_eq!(host_header(&Url::parse("http://127.0.0.1:5000/").unwrap()), "127.0.0.1:5000");
        assert_eq!(
            host_header(&Url::parse("https://ec2.us-east-1.amazonaws.com:443/").unwrap()),
            "ec2.us-east-1.amazonaws.com"
        );
    }
}
