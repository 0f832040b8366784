//! The shared `config` and `credentials` files: parsing, merging a profile from both, and
//! turning a profile into a credentials source (keys, `credential_process`, or `role_arn` on
//! top of `source_profile` / `credential_source`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{AssumeRole, ContainerSource, Credentials, CredentialsProvider, Imds, Source, StsTarget};
use crate::client::env::Env;
use crate::client::error::{Error, Result};

/// One INI file: `[section]` → key → value.
#[derive(Debug, Default)]
struct Ini {
    path: Option<PathBuf>,
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// Both shared files, read once.
#[derive(Debug, Default)]
pub(crate) struct SharedFiles {
    config: Ini,
    credentials: Ini,
}

/// A profile merged from both files (the credentials file wins on a key in both).
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub name: String,
    props: BTreeMap<String, String>,
}

impl Profile {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }
}

impl SharedFiles {
    /// Reads the files at the given paths, or from `AWS_CONFIG_FILE` /
    /// `AWS_SHARED_CREDENTIALS_FILE`, or `~/.aws/config` / `~/.aws/credentials`. A missing file
    /// is empty; an unreadable or malformed one is an error.
    pub fn load(env: &Env, config: Option<&Path>, credentials: Option<&Path>) -> Result<SharedFiles> {
        let pick = |given: Option<&Path>, var: &str, default: &str| -> Option<PathBuf> {
            given
                .map(Path::to_path_buf)
                .or_else(|| env.get(var).map(|p| env.expand_home(&p)))
                .or_else(|| env.home().map(|h| h.join(".aws").join(default)))
        };
        Ok(SharedFiles {
            config: Ini::read(pick(config, "AWS_CONFIG_FILE", "config"), true)?,
            credentials: Ini::read(pick(credentials, "AWS_SHARED_CREDENTIALS_FILE", "credentials"), false)?,
        })
    }

    pub fn profile(&self, name: &str) -> Option<Profile> {
        let a = self.config.sections.get(name);
        let b = self.credentials.sections.get(name);
        if a.is_none() && b.is_none() {
            return None;
        }
        let mut props = a.cloned().unwrap_or_default();
        props.extend(b.cloned().unwrap_or_default());
        Some(Profile { name: name.to_string(), props })
    }

    /// "~/.aws/config or ~/.aws/credentials", for messages.
    pub fn describe(&self) -> String {
        let p = |i: &Ini| i.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(none)".into());
        format!("{} or {}", p(&self.config), p(&self.credentials))
    }
}

impl Ini {
    fn read(path: Option<PathBuf>, is_config: bool) -> Result<Ini> {
        let Some(path) = path else { return Ok(Ini::default()) };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Ini { path: Some(path), ..Ini::default() })
            }
            Err(e) => return Err(Error::Config(format!("cannot read {}: {e}", path.display()))),
        };
        let sections = parse_ini(&text, is_config)
            .map_err(|(line, msg)| Error::Config(format!("{}:{line}: {msg}", path.display())))?;
        Ok(Ini { path: Some(path), sections })
    }
}

/// Parses the AWS flavour of INI. In the config file, profiles are `[default]` and
/// `[profile NAME]`; other sections (`sso-session`, `services`) are skipped. Indented lines
/// under a key without a value are sub-settings (`s3 =` …), which kiln does not use.
fn parse_ini(text: &str, is_config: bool) -> Result<BTreeMap<String, BTreeMap<String, String>>, (usize, String)> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_sub = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.split(&['#', ';'][..]).next().and_then(|s| s.trim_end().strip_suffix(']')) else {
                return Err((i + 1, format!("unterminated section header {line:?}")));
            };
            let name = name.trim();
            current = if !is_config {
                Some(name.to_string())
            } else if name == "default" {
                Some("default".into())
            } else {
                name.strip_prefix("profile")
                    .filter(|r| r.starts_with(char::is_whitespace))
                    .map(|r| r.trim().to_string())
            };
            if let Some(c) = &current {
                out.entry(c.clone()).or_default();
            }
            in_sub = false;
            continue;
        }
        if in_sub && raw.starts_with(char::is_whitespace) {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err((i + 1, format!("expected `key = value` or `[section]`, found {line:?}")));
        };
        let (k, v) = (k.trim(), v.trim());
        in_sub = v.is_empty();
        let Some(section) = &current else {
            if is_config {
                continue; // a key of a skipped section
            }
            return Err((i + 1, format!("`{k}` is outside any [profile] section")));
        };
        if let Some(props) = out.get_mut(section) {
            props.insert(k.to_ascii_lowercase(), v.to_string());
        }
    }
    Ok(out)
}

/// What resolving a profile needs besides the files.
pub(crate) struct ResolveCtx<'a> {
    pub files: &'a SharedFiles,
    pub env: &'a Env,
    pub sts: Arc<StsTarget>,
    pub imds: &'a dyn Fn() -> Result<Imds>,
    pub metadata_timeout: Duration,
}

/// The credentials of profile `name`, `None` when it does not exist or holds none.
pub(crate) fn provider_for_profile(ctx: &ResolveCtx<'_>, name: &str) -> Result<Option<CredentialsProvider>> {
    resolve(ctx, name, &mut Vec::new())
}

fn resolve(ctx: &ResolveCtx<'_>, name: &str, chain: &mut Vec<String>) -> Result<Option<CredentialsProvider>> {
    let Some(p) = ctx.files.profile(name) else { return Ok(None) };
    if chain.iter().any(|n| n == name) {
        chain.push(name.to_string());
        return Err(Error::Config(format!("profiles form a loop through source_profile: {}", chain.join(" → "))));
    }
    chain.push(name.to_string());
    let here = format!("profile {name:?}");
    if p.get("sso_start_url").is_some() || p.get("sso_session").is_some() {
        return Err(Error::Config(format!(
            "{here} uses IAM Identity Center (SSO), which kiln does not support yet; run \
             `aws configure export-credentials --profile {name} --format env` and export the variables it prints"
        )));
    }
    if p.get("mfa_serial").is_some() {
        return Err(Error::Config(format!("{here} needs an MFA code (mfa_serial), which kiln cannot ask for")));
    }
    if let Some(role_arn) = p.get("role_arn") {
        let base = match (p.get("source_profile"), p.get("credential_source")) {
            (Some(src), None) if src == name => static_keys(&p)?.ok_or_else(|| {
                Error::Config(format!(
                    "{here} is its own source_profile but has no aws_access_key_id/aws_secret_access_key"
                ))
            })?,
            (Some(src), None) => resolve(ctx, src, chain)?.ok_or_else(|| {
                Error::Config(format!(
                    "{here}: source_profile {src:?} has no credentials (or does not exist in {})",
                    ctx.files.describe()
                ))
            })?,
            (None, Some(cs)) => credential_source(ctx, &here, cs)?,
            (Some(_), Some(_)) => {
                return Err(Error::Config(format!("{here} sets both source_profile and credential_source; keep one")))
            }
            (None, None) if p.get("web_identity_token_file").is_some() => {
                return Err(Error::Config(format!(
                    "{here} uses web_identity_token_file, which kiln does not support yet"
                )))
            }
            (None, None) => {
                return Err(Error::Config(format!("{here} sets role_arn without source_profile or credential_source")))
            }
        };
        let duration =
            match p.get("duration_seconds") {
                Some(d) => Some(Duration::from_secs(d.parse().map_err(|_| {
                    Error::Config(format!("{here}: duration_seconds {d:?} is not a number of seconds"))
                })?)),
                None => None,
            };
        let role = AssumeRole {
            role_arn: role_arn.to_string(),
            session_name: p.get("role_session_name").map(String::from),
            duration,
            external_id: p.get("external_id").map(String::from),
            ..AssumeRole::default()
        };
        let description = format!("{here} (assume role {role_arn} with {})", base.description());
        return Ok(Some(CredentialsProvider::new(
            Source::AssumeRole { base, role, sts: ctx.sts.clone() },
            description,
        )));
    }
    if let Some(keys) = static_keys(&p)? {
        return Ok(Some(keys));
    }
    if let Some(cmd) = p.get("credential_process") {
        return Ok(Some(CredentialsProvider::new(
            Source::Process { command: cmd.to_string(), profile: name.to_string() },
            format!("{here} (credential_process)"),
        )));
    }
    Ok(None)
}

fn static_keys(p: &Profile) -> Result<Option<CredentialsProvider>> {
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(k), Some(s)) => {
            let c = Credentials::new(k, s, p.get("aws_session_token").map(String::from));
            Ok(Some(CredentialsProvider::new(Source::Static(c), format!("profile {:?} (shared files)", p.name))))
        }
        (Some(_), None) | (None, Some(_)) => Err(Error::Config(format!(
            "profile {:?} sets only one of aws_access_key_id and aws_secret_access_key",
            p.name
        ))),
        (None, None) => Ok(None),
    }
}

fn credential_source(ctx: &ResolveCtx<'_>, here: &str, cs: &str) -> Result<CredentialsProvider> {
    match cs {
        "Environment" => environment(ctx.env)
            .ok_or_else(|| Error::Credentials(format!("{here}: credential_source = Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set"))),
        "Ec2InstanceMetadata" => Ok(CredentialsProvider::new(Source::Imds((ctx.imds)()?), "instance metadata (IMDSv2)")),
        "EcsContainer" => match ContainerSource::from_env(ctx.env, ctx.metadata_timeout)? {
            Some(c) => Ok(CredentialsProvider::new(Source::Container(c), "container credentials endpoint")),
            None => Err(Error::Credentials(format!(
                "{here}: credential_source = EcsContainer but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set"
            ))),
        },
        other => Err(Error::Config(format!(
            "{here}: credential_source {other:?} is not one of Environment, Ec2InstanceMetadata, EcsContainer"
        ))),
    }
}

/// Keys from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (or the older `AWS_ACCESS_KEY`/`AWS_SECRET_KEY`).
pub(crate) fn environment(env: &Env) -> Option<CredentialsProvider> {
    let key = env.first(&["AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"])?;
    let secret = env.first(&["AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"])?;
    let c = Credentials::new(key, secret, env.get("AWS_SESSION_TOKEN"));
    Some(CredentialsProvider::new(Source::Static(c), "environment (AWS_ACCESS_KEY_ID)"))
}

/// `kiln-<unix seconds>`, the session name when none is configured.
pub(crate) fn default_session_name() -> String {
    format!("kiln-{}", SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0))
}

#[cfg(test)]
mod tests;
