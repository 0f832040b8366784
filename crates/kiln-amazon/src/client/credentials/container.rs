//! Credentials from a container's endpoint (ECS tasks, EKS Pod Identity, CodeBuild):
//! `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with an
//! optional authorization token or token file.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::imds::metadata_http_client;
use super::{from_json, Credentials};
use crate::client::env::Env;
use crate::client::error::{Error, Result};

const ECS_HOST: &str = "http://169.254.170.2";

pub(crate) struct ContainerSource {
    http: reqwest::Client,
    url: Url,
    token: Option<String>,
    token_file: Option<PathBuf>,
}

impl ContainerSource {
    /// `None` when neither variable is set.
    pub fn from_env(env: &Env, timeout: Duration) -> Result<Option<ContainerSource>> {
        let url = if let Some(rel) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let full = format!("{ECS_HOST}{}{rel}", if rel.starts_with('/') { "" } else { "/" });
            Url::parse(&full).map_err(|e| bad_uri("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &rel, &e.to_string()))?
        } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let url =
                Url::parse(&full).map_err(|e| bad_uri("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full, &e.to_string()))?;
            if !allowed(&url) {
                return Err(bad_uri(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &full,
                    "plain http is allowed only to a loopback address or the container endpoints 169.254.170.2/23; use https",
                ));
            }
            url
        } else {
            return Ok(None);
        };
        Ok(Some(ContainerSource {
            http: metadata_http_client(timeout)?,
            url,
            token: env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            token_file: env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(PathBuf::from),
        }))
    }

    pub async fn fetch(&self) -> Result<Credentials> {
        let mut req = self.http.get(self.url.clone());
        // The file wins and is read at each fetch: the orchestrator rotates it.
        let token = match &self.token_file {
            Some(path) => Some(
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| {
                        Error::Credentials(format!(
                            "reading AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}",
                            path.display()
                        ))
                    })?
                    .trim()
                    .to_string(),
            ),
            None => self.token.clone(),
        };
        if let Some(t) = token {
            req = req.header("authorization", t);
        }
        let from = format!("the container credentials endpoint {}", self.url);
        let resp = req.send().await.map_err(|e| Error::Credentials(format!("{from} is not reachable: {e}")))?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| Error::Credentials(format!("{from}: {e}")))?;
        if !status.is_success() {
            return Err(Error::Credentials(format!("{from} answered HTTP {status}")));
        }
        from_json(&body, &from)
    }
}

fn allowed(url: &Url) -> bool {
    if url.scheme() == "https" {
        return true;
    }
    if url.scheme() != "http" {
        return false;
    }
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => {
            ip.is_loopback() || ip.octets() == [169, 254, 170, 2] || ip.octets() == [169, 254, 170, 23]
        }
        Some(url::Host::Ipv6(ip)) => {
            IpAddr::V6(ip).is_loopback() || ip.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23]
        }
        None => false,
    }
}

fn bad_uri(var: &str, value: &str, why: &str) -> Error {
    Error::Config(format!("{var}={value:?}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_uri_must_be_local_or_https() {
        let t = Duration::from_secs(1);
        let ok = |v: &str| ContainerSource::from_env(&Env::from_vars([("AWS_CONTAINER_CREDENTIALS_FULL_URI", v)]), t);
        assert!(ok("http://127.0.0.1:8080/creds").unwrap().is_some());
        assert!(ok("http://169.254.170.23/v1/credentials").unwrap().is_some());
        assert!(ok("https://creds.example.com/x").unwrap().is_some());
        let e = ok("http://creds.example.com/x").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("use https"), "{e}");
        let rel = Env::from_vars([("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc")]);
        let src = ContainerSource::from_env(&rel, t).unwrap().unwrap();
        assert_eq!(src.url.as_str(), "http://169.254.170.2/v2/credentials/abc");
        assert!(ContainerSource::from_env(&Env::from_vars::<&str, &str>([]), t).unwrap().is_none());
    }
}
