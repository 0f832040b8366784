//! The EC2 instance metadata service, version 2: a session token from `PUT /latest/api/token`,
//! then `GET`s that carry it. Short timeouts and no retries on connection errors, so a machine
//! that is not an EC2 instance finds out in about a second instead of hanging.

use std::time::Duration;

use reqwest::{StatusCode, Url};

use super::{from_json, Credentials};
use crate::client::error::{Error, Result};

/// Where IMDS is by default (IPv4).
pub const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const TOKEN_TTL_SECONDS: &str = "21600";

/// A client for the instance metadata service.
#[derive(Clone, Debug)]
pub struct Imds {
    http: reqwest::Client,
    endpoint: Url,
}

impl Imds {
    /// `endpoint` is `http://169.254.169.254` on EC2; tests point it at a local server.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Imds> {
        let endpoint = Url::parse(endpoint)
            .map_err(|e| Error::Config(format!("instance metadata endpoint {endpoint:?} is not a URL: {e}")))?;
        Ok(Imds { http: metadata_http_client(timeout)?, endpoint })
    }

    /// Credentials of the instance profile's role.
    pub async fn credentials(&self) -> Result<Credentials> {
        let token = self.token().await?;
        let roles = self.get_with(&token, "/latest/meta-data/iam/security-credentials/").await?;
        let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(Error::Credentials("instance metadata: this instance has no IAM instance profile".into()));
        };
        let body = self.get_with(&token, &format!("/latest/meta-data/iam/security-credentials/{role}")).await?;
        from_json(&body, "instance metadata")
    }

    /// The instance's region.
    pub async fn region(&self) -> Result<String> {
        let token = self.token().await?;
        Ok(self.get_with(&token, "/latest/meta-data/placement/region").await?.trim().to_string())
    }

    /// Any metadata path, e.g. `/latest/meta-data/instance-id`.
    pub async fn get(&self, path: &str) -> Result<String> {
        let token = self.token().await?;
        self.get_with(&token, path).await
    }

    /// The session token; `None` when the service only speaks IMDSv1 (404/405 on the PUT).
    async fn token(&self) -> Result<Option<String>> {
        let url = self.url("/latest/api/token")?;
        let resp = self
            .http
            .put(url)
            .header("x-aws-ec2-metadata-token-ttl-seconds", TOKEN_TTL_SECONDS)
            .send()
            .await
            .map_err(|e| unreachable(&self.endpoint, &e))?;
        match resp.status() {
            s if s.is_success() => Ok(Some(resp.text().await.map_err(|e| unreachable(&self.endpoint, &e))?)),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Ok(None),
            StatusCode::FORBIDDEN => Err(Error::Credentials(
                "instance metadata: token requests are forbidden (IMDS is disabled for this instance)".into(),
            )),
            s => Err(Error::Credentials(format!("instance metadata: token request answered HTTP {s}"))),
        }
    }

    async fn get_with(&self, token: &Option<String>, path: &str) -> Result<String> {
        let mut req = self.http.get(self.url(path)?);
        if let Some(t) = token {
            req = req.header("x-aws-ec2-metadata-token", t);
        }
        let resp = req.send().await.map_err(|e| unreachable(&self.endpoint, &e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::Credentials(format!("instance metadata: GET {path} answered HTTP {status}")));
        }
        resp.text().await.map_err(|e| unreachable(&self.endpoint, &e))
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.endpoint.join(path).map_err(|e| Error::Config(format!("instance metadata path {path}: {e}")))
    }
}

fn unreachable(endpoint: &Url, e: &reqwest::Error) -> Error {
    let why = if e.is_timeout() { "no answer in time".to_string() } else { e.to_string() };
    Error::Credentials(format!(
        "instance metadata service at {endpoint} is not reachable ({why}): not an EC2 instance?"
    ))
}

/// For IMDS and the container endpoint: no proxy (they are link-local) and short timeouts.
pub(crate) fn metadata_http_client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout * 2)
        .build()
        .map_err(|e| Error::Config(format!("cannot set up the metadata HTTP client: {e}")))
}
