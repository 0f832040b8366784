//! Loading the client's configuration: region, credentials source, endpoints, HTTP client,
//! retries, timeouts and the reporting hook, in the order the AWS SDKs (and so Packer) use.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use super::credentials::profile::{self, ResolveCtx, SharedFiles};
use super::credentials::{
    imds, AssumeRole, ContainerSource, Credentials, CredentialsProvider, Imds, Source, StsTarget,
};
use super::env::Env;
use super::error::{Error, Result};
use super::retry::RetryConfig;
use super::transport::{Call, CallHook, Protocol, Transport};

/// The services the client speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Ec2,
    Sts,
    Ssm,
    SecretsManager,
    /// Objects only (the step cache's shared store).
    S3,
}

impl Service {
    pub const ALL: [Service; 5] = [Service::Ec2, Service::Sts, Service::Ssm, Service::SecretsManager, Service::S3];

    /// The SigV4 signing name, also the endpoint's host prefix.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Ec2 => "ec2",
            Service::Sts => "sts",
            Service::Ssm => "ssm",
            Service::SecretsManager => "secretsmanager",
            Service::S3 => "s3",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Sts => "STS",
            Service::Ssm => "SSM",
            Service::SecretsManager => "Secrets Manager",
            Service::S3 => "S3",
        }
    }

    /// The suffix of the SDKs' `AWS_ENDPOINT_URL_<SERVICE>` variable.
    fn env_suffix(self) -> &'static str {
        match self {
            Service::Ec2 => "EC2",
            Service::Sts => "STS",
            Service::Ssm => "SSM",
            Service::SecretsManager => "SECRETS_MANAGER",
            Service::S3 => "S3",
        }
    }
}

/// Builds an [`AwsConfig`]. Everything is optional; what is not given is looked up like the SDKs
/// do (environment, then the shared files' profile, then the container endpoint, then IMDS).
#[derive(Default)]
pub struct ConfigLoader {
    env: Env,
    region: Option<String>,
    profile: Option<String>,
    credentials: Option<Credentials>,
    config_file: Option<PathBuf>,
    credentials_file: Option<PathBuf>,
    assume_role: Option<AssumeRole>,
    endpoints: BTreeMap<Service, String>,
    imds_endpoint: Option<String>,
    skip_metadata: bool,
    metadata_timeout: Option<Duration>,
    hook: Option<CallHook>,
    retry: Option<RetryConfig>,
    timeout: Option<Duration>,
    http: Option<reqwest::Client>,
}

impl ConfigLoader {
    /// A loader that reads the process environment.
    pub fn new() -> ConfigLoader {
        ConfigLoader::default()
    }

    /// Reads `env` instead of the process environment.
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The region (Packer's `region`); otherwise `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The shared files' profile (Packer's `profile`). Given here, it wins over keys in the
    /// environment, as in Packer; through `AWS_PROFILE` it comes after them.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Fixed credentials (Packer's `access_key`, `secret_key`, `token`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The shared config file instead of `AWS_CONFIG_FILE` or `~/.aws/config`.
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// The shared credentials file (Packer's `shared_credentials_file`).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials_file = Some(path.into());
        self
    }

    /// Assume this role with the credentials found (Packer's `assume_role` block).
    pub fn assume_role(mut self, role: AssumeRole) -> Self {
        self.assume_role = Some(role);
        self
    }

    /// A custom endpoint (Packer's `custom_endpoint_ec2`); `https://` is added when there is no scheme.
    pub fn endpoint(mut self, service: Service, url: impl Into<String>) -> Self {
        self.endpoints.insert(service, url.into());
        self
    }

    /// The instance metadata service's address (default `http://169.254.169.254`, or
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
    pub fn imds_endpoint(mut self, url: impl Into<String>) -> Self {
        self.imds_endpoint = Some(url.into());
        self
    }

    /// Never ask the instance metadata service (Packer's `skip_metadata_api_check`).
    pub fn skip_metadata(mut self, skip: bool) -> Self {
        self.skip_metadata = skip;
        self
    }

    /// Timeout of each request to IMDS or a container endpoint (default 1 s).
    pub fn metadata_timeout(mut self, timeout: Duration) -> Self {
        self.metadata_timeout = Some(timeout);
        self
    }

    /// Called after every API call (for `-debug` and JSON logs).
    pub fn hook(mut self, hook: CallHook) -> Self {
        self.hook = Some(hook);
        self
    }

    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Timeout of each HTTP attempt (default 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The project's shared HTTP client instead of one built here.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Resolves region, endpoints and the credentials source. Reads the shared files; asks no
    /// service yet (credentials are fetched on the first call).
    pub fn load(self) -> Result<AwsConfig> {
        let env = &self.env;
        let files = SharedFiles::load(env, self.config_file.as_deref(), self.credentials_file.as_deref())?;
        let env_profile = env.first(&["AWS_PROFILE", "AWS_DEFAULT_PROFILE"]);
        let profile_name = self.profile.clone().or(env_profile.clone()).unwrap_or_else(|| "default".into());
        let named = self.profile.is_some() || env_profile.is_some();
        let profile = files.profile(&profile_name);
        if self.profile.is_some() && profile.is_none() {
            return Err(Error::Config(format!("profile {profile_name:?} is not in {}", files.describe())));
        }

        let region = self
            .region
            .clone()
            .or_else(|| env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]))
            .or_else(|| profile.as_ref().and_then(|p| p.get("region").map(String::from)))
            .ok_or_else(|| {
                Error::Config(format!(
                    "no region: set `region`, AWS_REGION, or `region` in profile {profile_name:?} of {}",
                    files.describe()
                ))
            })?;
        check_region(&region)?;

        let mut endpoints = BTreeMap::new();
        for service in Service::ALL {
            let given =
                self.endpoints.get(&service).cloned().or_else(|| {
                    env.first(&[&format!("AWS_ENDPOINT_URL_{}", service.env_suffix()), "AWS_ENDPOINT_URL"])
                });
            if let Some(url) = given {
                endpoints.insert(service, parse_endpoint(service, &url)?);
            }
        }

        let http = match self.http.clone() {
            Some(h) => h,
            None => default_http_client(env)?,
        };
        let transport = Arc::new(Transport {
            http,
            retry: self.retry.clone().unwrap_or_default(),
            timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
            hook: self.hook.clone(),
        });
        let sts_endpoint = endpoint_in(&endpoints, &region, Service::Sts)?;
        let sts = Arc::new(StsTarget { transport: transport.clone(), endpoint: sts_endpoint, region: region.clone() });

        let metadata_timeout = self.metadata_timeout.unwrap_or(Duration::from_secs(1));
        let imds_disabled =
            self.skip_metadata || env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let imds_endpoint = self
            .imds_endpoint
            .clone()
            .or_else(|| env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT"))
            .unwrap_or_else(|| imds::DEFAULT_ENDPOINT.to_string());
        let make_imds = || -> Result<Imds> {
            if imds_disabled {
                return Err(Error::Credentials(
                    "the instance metadata service is disabled (skip_metadata_api_check or AWS_EC2_METADATA_DISABLED)"
                        .into(),
                ));
            }
            Imds::new(&imds_endpoint, metadata_timeout)
        };
        let ctx = ResolveCtx { files: &files, env, sts: sts.clone(), imds: &make_imds, metadata_timeout };

        let base = if let Some(c) = self.credentials.clone() {
            CredentialsProvider::from_static(c)
        } else if self.profile.is_some() {
            profile::provider_for_profile(&ctx, &profile_name)?.ok_or_else(|| {
                Error::Credentials(format!("profile {profile_name:?} in {} holds no credentials", files.describe()))
            })?
        } else if let Some(p) = profile::environment(env) {
            p
        } else if let Some(p) = profile::provider_for_profile(&ctx, &profile_name)? {
            p
        } else if named && profile.is_none() {
            return Err(Error::Config(format!(
                "profile {profile_name:?} (AWS_PROFILE) is not in {}",
                files.describe()
            )));
        } else if let Some(c) = ContainerSource::from_env(env, metadata_timeout)? {
            CredentialsProvider::new(Source::Container(c), "container credentials endpoint")
        } else {
            let tried = format!(
                "no credentials in the template, the environment (AWS_ACCESS_KEY_ID) or profile {profile_name:?} of {}",
                files.describe()
            );
            if imds_disabled {
                return Err(Error::Credentials(format!("{tried}, and the instance metadata service is disabled")));
            }
            CredentialsProvider::new(
                Source::Imds(make_imds()?),
                format!("instance metadata (IMDSv2), as there are {tried}"),
            )
        };
        let credentials = match self.assume_role {
            Some(mut role) => {
                if role.role_arn.is_empty() {
                    return Err(Error::Config("assume_role needs role_arn".into()));
                }
                role.session_name.get_or_insert_with(profile::default_session_name);
                let description = format!("assume role {} with {}", role.role_arn, base.description());
                CredentialsProvider::new(Source::AssumeRole { base, role, sts }, description)
            }
            None => base,
        };
        Ok(AwsConfig { region, credentials, endpoints: Arc::new(endpoints), transport })
    }
}

/// Region, credentials, endpoints and transport shared by every service client. Cheap to
/// clone; [`AwsConfig::with_region`] gives the same settings in another region (CopyImage).
#[derive(Clone)]
pub struct AwsConfig {
    region: String,
    credentials: CredentialsProvider,
    endpoints: Arc<BTreeMap<Service, Url>>,
    transport: Arc<Transport>,
}

impl AwsConfig {
    pub fn loader() -> ConfigLoader {
        ConfigLoader::new()
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The same configuration in `region`. Custom endpoints are kept (a local EC2 double
    /// serves every region at one address).
    pub fn with_region(&self, region: &str) -> Result<AwsConfig> {
        check_region(region)?;
        Ok(AwsConfig { region: region.to_string(), ..self.clone() })
    }

    pub fn credentials(&self) -> &CredentialsProvider {
        &self.credentials
    }

    /// The service's endpoint in this region: the custom one, or `https://<service>.<region>.amazonaws.com`.
    pub fn endpoint(&self, service: Service) -> Result<Url> {
        endpoint_in(&self.endpoints, &self.region, service)
    }

    /// The HTTP client, retry rules and per-request timeout every call uses.
    pub(crate) fn transport(&self) -> &Transport {
        &self.transport
    }

    pub(crate) async fn send(
        &self,
        service: Service,
        action: &str,
        protocol: Protocol<'_>,
        body: Vec<u8>,
    ) -> Result<String> {
        let endpoint = self.endpoint(service)?;
        let call = Call { service, action, region: &self.region, endpoint: &endpoint, protocol, body };
        self.transport.send(&call, &self.credentials).await
    }
}

impl fmt::Debug for AwsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsConfig")
            .field("region", &self.region)
            .field("credentials", &self.credentials.description())
            .field("endpoints", &self.endpoints.iter().map(|(s, u)| (s.display_name(), u.as_str())).collect::<Vec<_>>())
            .finish()
    }
}

fn endpoint_in(custom: &BTreeMap<Service, Url>, region: &str, service: Service) -> Result<Url> {
    if let Some(u) = custom.get(&service) {
        return Ok(u.clone());
    }
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    let url = format!("https://{}.{region}.{suffix}/", service.signing_name());
    Url::parse(&url).map_err(|e| Error::Config(format!("endpoint {url}: {e}")))
}

/// Region names go into host names: letters, digits and dashes only.
fn check_region(region: &str) -> Result<()> {
    if !region.is_empty() && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        Ok(())
    } else {
        Err(Error::Config(format!("region {region:?} is not a region name (like us-east-1)")))
    }
}

fn parse_endpoint(service: Service, given: &str) -> Result<Url> {
    let with_scheme = if given.contains("://") { given.to_string() } else { format!("https://{given}") };
    let url = Url::parse(&with_scheme).map_err(|e| {
        Error::Config(format!("custom endpoint for {} {given:?} is not a URL: {e}", service.display_name()))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config(format!(
            "custom endpoint for {} {given:?} must be an http or https URL",
            service.display_name()
        )));
    }
    Ok(url)
}

/// rustls with the Mozilla and system roots, plus `AWS_CA_BUNDLE` when it is set.
fn default_http_client(env: &Env) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = env.get("AWS_CA_BUNDLE") {
        let pem = std::fs::read(&path).map_err(|e| Error::Config(format!("AWS_CA_BUNDLE {path}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::Config(format!("AWS_CA_BUNDLE {path} is not a PEM bundle: {e}")))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| Error::Config(format!("cannot set up the HTTP client: {e}")))
}

#[cfg(test)]
mod tests;
