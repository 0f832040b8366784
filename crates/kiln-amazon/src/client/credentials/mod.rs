//! Credentials and where they come from: static keys, the environment, the shared files'
//! profiles (keys, `credential_process`, `role_arn` with `source_profile` or
//! `credential_source`), a container's credentials endpoint, the instance metadata service
//! (IMDSv2), and an assumed role on top of any of them. The loader picks the source once, in the
//! SDKs' order; the provider fetches, caches and refreshes what it gives.

mod container;
pub(crate) mod imds;
mod process;
pub(crate) mod profile;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Url;

pub(crate) use container::ContainerSource;
pub use imds::Imds;

use super::error::{Error, Result};
use super::secret::Secret;
use super::sts;
use super::transport::Transport;

/// An access key, its secret, an optional session token and when they expire.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    /// `None` for long-term keys.
    pub expiration: Option<SystemTime>,
}

impl Credentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
    ) -> Credentials {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: Secret::new(secret_access_key.into()),
            session_token: session_token.filter(|t| !t.is_empty()).map(Secret::new),
            expiration: None,
        }
    }

    /// True when they expire within `margin` from now (or already have).
    pub fn expires_within(&self, margin: Duration) -> bool {
        self.expiration.is_some_and(|e| e <= SystemTime::now() + margin)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key)
            .field("session_token", &self.session_token)
            .field("expiration", &self.expiration.map(super::time::format_iso8601))
            .finish()
    }
}

/// Packer's `assume_role` block: a role to assume with whatever credentials were found.
#[derive(Debug, Clone, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    /// Defaults to `kiln-<unix time>`.
    pub session_name: Option<String>,
    /// STS's default (one hour) when unset.
    pub duration: Option<Duration>,
    pub external_id: Option<String>,
    /// An inline session policy (JSON).
    pub policy: Option<String>,
    pub policy_arns: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub transitive_tag_keys: Vec<String>,
}

/// Where STS is for assuming roles.
pub(crate) struct StsTarget {
    pub transport: Arc<Transport>,
    pub endpoint: Url,
    pub region: String,
}

pub(crate) enum Source {
    Static(Credentials),
    Process { command: String, profile: String },
    Container(ContainerSource),
    Imds(Imds),
    AssumeRole { base: CredentialsProvider, role: AssumeRole, sts: Arc<StsTarget> },
}

/// Gives credentials from one source, cached until five minutes before they expire.
/// Cloning shares the cache.
#[derive(Clone)]
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    description: String,
    cache: tokio::sync::Mutex<Option<Credentials>>,
}

/// Refresh this long before expiry so a signed request never carries expired credentials.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

impl CredentialsProvider {
    pub(crate) fn new(source: Source, description: impl Into<String>) -> CredentialsProvider {
        let cached = match &source {
            Source::Static(c) => Some(c.clone()),
            _ => None,
        };
        CredentialsProvider {
            inner: Arc::new(Inner { source, description: description.into(), cache: tokio::sync::Mutex::new(cached) }),
        }
    }

    /// Fixed credentials (Packer's `access_key`, `secret_key` and `token`).
    pub fn from_static(credentials: Credentials) -> CredentialsProvider {
        CredentialsProvider::new(Source::Static(credentials), "static credentials")
    }

    /// Where the credentials come from, for messages (`profile "dev" (assume role …)`).
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// Current credentials, fetched or refreshed when needed. (A boxed future: assuming a role
    /// sends a call, which asks a provider for credentials, so the future type is recursive.)
    pub fn credentials(&self) -> Pin<Box<dyn Future<Output = Result<Credentials>> + Send + '_>> {
        Box::pin(async move {
            let mut cache = self.inner.cache.lock().await;
            if let Some(c) = cache.as_ref().filter(|c| !c.expires_within(REFRESH_MARGIN)) {
                return Ok(c.clone());
            }
            let fresh = self.fetch().await?;
            *cache = Some(fresh.clone());
            Ok(fresh)
        })
    }

    async fn fetch(&self) -> Result<Credentials> {
        match &self.inner.source {
            Source::Static(c) => Ok(c.clone()),
            Source::Process { command, profile } => process::run(command, profile).await,
            Source::Container(c) => c.fetch().await,
            Source::Imds(imds) => imds.credentials().await.map_err(|e| match e {
                Error::Credentials(m) => Error::Credentials(format!("{}: {m}", self.inner.description)),
                other => other,
            }),
            Source::AssumeRole { base, role, sts } => {
                let assumed = sts::assume_role_with(&sts.transport, &sts.endpoint, &sts.region, base, role)
                    .await
                    .map_err(|e| match e {
                        Error::Credentials(m) => Error::Credentials(m),
                        other => Error::Credentials(format!(
                            "assuming role {} with {}: {other}",
                            role.role_arn,
                            base.description()
                        )),
                    })?;
                Ok(assumed.credentials)
            }
        }
    }
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CredentialsProvider").field(&self.inner.description).finish()
    }
}

/// Parses the JSON the container endpoint, IMDS and credential processes answer with
/// (`AccessKeyId`, `SecretAccessKey`, `Token` or `SessionToken`, `Expiration`).
pub(crate) fn from_json(body: &str, from: &str) -> Result<Credentials> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Wire {
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        token: Option<String>,
        session_token: Option<String>,
        expiration: Option<String>,
        code: Option<String>,
        message: Option<String>,
    }
    let w: Wire = serde_json::from_str(body)
        .map_err(|e| Error::Credentials(format!("{from} answered with something that is not credentials JSON: {e}")))?;
    if let Some(code) = w.code.as_deref().filter(|c| *c != "Success") {
        return Err(Error::Credentials(format!("{from} answered {code}: {}", w.message.unwrap_or_default())));
    }
    let (Some(key), Some(secret)) = (w.access_key_id, w.secret_access_key) else {
        return Err(Error::Credentials(format!("{from} answered without AccessKeyId and SecretAccessKey")));
    };
    let mut c = Credentials::new(key, secret, w.token.or(w.session_token));
    if let Some(exp) = w.expiration {
        c.expiration = Some(
            super::time::parse_iso8601(&exp)
                .ok_or_else(|| Error::Credentials(format!("{from} answered with an unreadable Expiration {exp:?}")))?,
        );
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let mut c = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Some("FwoGZXIvYXdzEXAMPLETOKEN".into()),
        );
        c.expiration = super::super::time::parse_iso8601("2030-01-02T03:04:05Z");
        let shown = format!("{c:?} {:?}", CredentialsProvider::from_static(c.clone()));
        assert!(shown.contains("AKIAIOSFODNN7EXAMPLE") && shown.contains("2030-01-02T03:04:05Z"), "{shown}");
        assert!(!shown.contains("EXAMPLEKEY") && !shown.contains("EXAMPLETOKEN"), "{shown}");
    }

    #[test]
    fn reads_credentials_json() {
        let c = from_json(
            r#"{"Code":"Success","AccessKeyId":"AK","SecretAccessKey":"SK","Token":"T","Expiration":"2030-01-01T00:00:00Z"}"#,
            "IMDS",
        )
        .unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.expose().as_str()), ("AK", "SK"));
        assert_eq!(c.session_token.as_ref().map(|t| t.expose().as_str()), Some("T"));
        assert!(!c.expires_within(Duration::from_secs(60)));
        let e = from_json(r#"{"Code":"AssumeRoleUnauthorizedAccess","Message":"no"}"#, "IMDS").unwrap_err();
        assert_eq!(e.to_string(), "AWS credentials: IMDS answered AssumeRoleUnauthorizedAccess: no");
        assert!(from_json(r#"{"AccessKeyId":"AK"}"#, "x").is_err());
    }

    #[tokio::test]
    async fn static_provider_caches() {
        let p = CredentialsProvider::from_static(Credentials::new("AK", "SK", None));
        assert_eq!(p.credentials().await.unwrap().access_key_id, "AK");
        assert_eq!(p.description(), "static credentials");
    }
}
