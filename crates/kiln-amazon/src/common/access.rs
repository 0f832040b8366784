//! Packer's access options of every amazon component: credentials, region, endpoint, retries,
//! polling. They become the client's [`ConfigLoader`].

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use serde::Deserialize;

use crate::client::{AssumeRole, AwsConfig, ConfigLoader, Credentials, Env, RetryConfig, Service, WaitConfig};

/// Credentials, region and endpoint options (Packer's `AccessConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The access key; otherwise `AWS_ACCESS_KEY_ID`, the shared files, the container endpoint
    /// or the instance's role, as the AWS SDKs look them up.
    #[serde(default)]
    pub access_key: Option<String>,
    /// The secret key that goes with `access_key`.
    #[serde(default)]
    pub secret_key: Option<String>,
    /// A session token for temporary keys (`AWS_SESSION_TOKEN`).
    #[serde(default)]
    pub token: Option<String>,
    /// The profile of the shared files to take credentials from; it wins over keys in the environment.
    #[serde(default)]
    pub profile: Option<String>,
    /// The shared credentials file (default `~/.aws/credentials` or `AWS_SHARED_CREDENTIALS_FILE`).
    #[serde(default)]
    pub shared_credentials_file: Option<String>,
    /// Assume this role with the credentials found: `role_arn`, `session_name`, `external_id`,
    /// `duration_seconds`, `policy`, `policy_arns`, `tags`, `transitive_tag_keys`.
    #[serde(default)]
    pub assume_role: Option<AssumeRoleConfig>,
    /// The region to build in (otherwise `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile's).
    #[serde(default)]
    pub region: Option<String>,
    /// Another EC2 endpoint (a VPC endpoint, a local EC2 double); `https://` when no scheme is given.
    #[serde(default)]
    pub custom_endpoint_ec2: Option<String>,
    /// Do not check the credentials with STS GetCallerIdentity before the build.
    #[serde(default)]
    pub skip_credential_validation: bool,
    /// Never ask the instance metadata service for credentials.
    #[serde(default)]
    pub skip_metadata_api_check: bool,
    /// Decode encoded authorization failure messages with STS (not supported by kiln: refused).
    #[serde(default)]
    pub decode_authorization_messages: bool,
    /// Do not verify the TLS certificates of AWS's endpoints.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
    /// Attempts of each API call before giving up (default 10, as Packer).
    #[serde(default)]
    pub max_retries: Option<u32>,
    /// An MFA code for a role that asks for one (not supported by kiln: refused).
    #[serde(default)]
    pub mfa_code: Option<String>,
    /// Credentials from HashiCorp Vault's AWS engine (not supported by kiln: refused).
    #[serde(default)]
    pub vault_aws_engine: Option<BTreeMap<String, String>>,
    /// How waits poll: `delay_seconds` between checks and `max_attempts` checks (otherwise
    /// `AWS_POLL_DELAY_SECONDS`, `AWS_MAX_ATTEMPTS`, `AWS_TIMEOUT_SECONDS`, or kiln's backoff).
    #[serde(default)]
    pub aws_polling: Option<AwsPolling>,
}

/// The `assume_role` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssumeRoleConfig {
    /// The role's ARN.
    #[serde(default)]
    pub role_arn: String,
    /// The session's name (default `kiln-<time>`).
    #[serde(default)]
    pub session_name: Option<String>,
    /// The external id the role's trust policy asks for.
    #[serde(default)]
    pub external_id: Option<String>,
    /// How long the role's credentials last (STS's default is an hour).
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// An inline session policy (JSON).
    #[serde(default)]
    pub policy: Option<String>,
    /// Managed policies for the session.
    #[serde(default)]
    pub policy_arns: Vec<String>,
    /// Session tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Session tags passed on to roles assumed from this one.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
}

/// The `aws_polling` block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPolling {
    /// Seconds between checks.
    #[serde(default)]
    pub delay_seconds: Option<u64>,
    /// How many checks before giving up.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

impl Config {
    /// Checks what can be checked before the build; `node` is the builder's whole configuration.
    pub fn check(&self, node: &Node, d: &mut Diagnostics) {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if set(&self.access_key) != set(&self.secret_key) {
            let missing = if set(&self.access_key) { "secret_key" } else { "access_key" };
            d.push(
                Diagnostic::error("`access_key` and `secret_key` must both be either set or not set.")
                    .at_opt(node.span_of(if missing == "secret_key" { "access_key" } else { "secret_key" }))
                    .with_help(format!("add {missing:?}, or leave both out to use the environment or a profile")),
            );
        }
        if let Some(r) = &self.assume_role {
            if r.role_arn.is_empty() {
                d.push(Diagnostic::error("assume_role needs role_arn").at_opt(node.span_of("assume_role")));
            }
        }
        for (key, set) in [
            ("mfa_code", set(&self.mfa_code)),
            ("vault_aws_engine", self.vault_aws_engine.as_ref().is_some_and(|m| !m.is_empty())),
            ("decode_authorization_messages", self.decode_authorization_messages),
        ] {
            if set {
                d.push(
                    Diagnostic::error(format!("{key} is not supported by kiln yet"))
                        .at_opt(node.span_of(key))
                        .with_help(
                            "remove it: give credentials through access_key/secret_key, a profile or the environment",
                        ),
                );
            }
        }
        if let Some(p) = &self.aws_polling {
            if p.delay_seconds == Some(0) || p.max_attempts == Some(0) {
                d.push(
                    Diagnostic::error("aws_polling: delay_seconds and max_attempts must be above 0")
                        .at_opt(node.span_of("aws_polling")),
                );
            }
        }
        if let Some(e) = &self.custom_endpoint_ec2 {
            if e.trim().is_empty() {
                d.push(Diagnostic::error("custom_endpoint_ec2 is empty").at_opt(node.span_of("custom_endpoint_ec2")));
            }
        }
    }

    /// The values to mask in output.
    pub fn secrets(&self) -> Vec<String> {
        [&self.secret_key, &self.token].into_iter().flatten().filter(|s| !s.is_empty()).cloned().collect()
    }

    /// The client's loader with these options; `env` stands for the process environment.
    pub fn loader(&self, env: Env) -> crate::client::Result<ConfigLoader> {
        let mut l = ConfigLoader::new().env(env).skip_metadata(self.skip_metadata_api_check);
        if let Some(r) = self.region.as_deref().filter(|r| !r.is_empty()) {
            l = l.region(r);
        }
        if let (Some(a), Some(s)) = (&self.access_key, &self.secret_key) {
            if !a.is_empty() {
                l = l.credentials(Credentials::new(a, s, self.token.clone()));
            }
        }
        if let Some(p) = self.profile.as_deref().filter(|p| !p.is_empty()) {
            l = l.profile(p);
        }
        if let Some(f) = self.shared_credentials_file.as_deref().filter(|f| !f.is_empty()) {
            l = l.credentials_file(f);
        }
        if let Some(r) = &self.assume_role {
            l = l.assume_role(AssumeRole {
                role_arn: r.role_arn.clone(),
                session_name: r.session_name.clone(),
                duration: r.duration_seconds.map(Duration::from_secs),
                external_id: r.external_id.clone(),
                policy: r.policy.clone(),
                policy_arns: r.policy_arns.clone(),
                tags: r.tags.clone(),
                transitive_tag_keys: r.transitive_tag_keys.clone(),
            });
        }
        if let Some(e) = self.custom_endpoint_ec2.as_deref().filter(|e| !e.is_empty()) {
            l = l.endpoint(Service::Ec2, e);
        }
        // Packer raises the SDK's 3 retries to 10: throttling is common in busy accounts.
        l = l.retry(RetryConfig {
            max_attempts: self.max_retries.filter(|n| *n > 0).unwrap_or(10),
            ..RetryConfig::default()
        });
        if self.insecure_skip_tls_verify {
            let http = reqwest::Client::builder()
                .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .danger_accept_invalid_certs(true)
                .build()
                .map_err(|e| crate::client::Error::Config(format!("cannot set up the HTTP client: {e}")))?;
            l = l.http_client(http);
        }
        Ok(l)
    }

    /// Loads the client's configuration.
    pub fn load(&self, env: Env, hook: Option<crate::client::CallHook>) -> crate::client::Result<AwsConfig> {
        let mut l = self.loader(env)?;
        if let Some(h) = hook {
            l = l.hook(h);
        }
        l.load()
    }

    /// How a wait of `default` polls, with `aws_polling` or Packer's environment variables
    /// applied. Packer's delay is constant; kiln starts at it and keeps it, and turns the
    /// attempts into a time limit (delay × attempts).
    pub fn wait_config(&self, env: &Env, default: WaitConfig) -> WaitConfig {
        let num = |name: &str| env.get(name).and_then(|v| v.trim().parse::<u64>().ok()).filter(|n| *n > 0);
        let polling = self.aws_polling.clone().unwrap_or_default();
        let delay = polling.delay_seconds.or_else(|| num("AWS_POLL_DELAY_SECONDS"));
        let attempts = polling.max_attempts.map(u64::from).or_else(|| num("AWS_MAX_ATTEMPTS"));
        let mut w = default;
        if let Some(s) = delay {
            w.initial_delay = Duration::from_secs(s);
            w.max_delay = Duration::from_secs(s);
        }
        let step = delay.map(Duration::from_secs).unwrap_or(w.max_delay);
        if let Some(n) = attempts {
            w.timeout = step.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
        } else if let Some(t) = num("AWS_TIMEOUT_SECONDS") {
            w.timeout = Duration::from_secs(t);
        }
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_follows_the_block_then_the_environment() {
        let default = WaitConfig::default();
        let none = Config::default();
        let env = Env::from_vars::<&str, &str>([]);
        assert_eq!(none.wait_config(&env, default.clone()).timeout, default.timeout);
        let c = Config { aws_polling: Some(AwsPolling { delay_seconds: Some(5), max_attempts: Some(10) }), ..none };
        let w = c.wait_config(&env, default.clone());
        assert_eq!(
            (w.initial_delay, w.max_delay, w.timeout),
            (Duration::from_secs(5), Duration::from_secs(5), Duration::from_secs(50))
        );
        let env = Env::from_vars([("AWS_TIMEOUT_SECONDS", "90")]);
        assert_eq!(Config::default().wait_config(&env, default).timeout, Duration::from_secs(90));
    }
}
