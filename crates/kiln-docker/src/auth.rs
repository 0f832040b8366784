//! Registry credentials saved by `docker login`.
//!
//! Packer's docker components run the docker CLI, which sends the credentials
//! `docker login` saved. kiln talks to the engine itself, so it reads them the same
//! way: the `auths` entries of `$DOCKER_CONFIG/config.json` (else
//! `~/.docker/config.json`). Credential helpers (`credsStore`, `credHelpers`) are not
//! run; with one, use the components' `login_*` options.

use std::path::PathBuf;

use base64::Engine as _;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;

use crate::{ImageRef, RegistryAuth};

/// Docker Hub's names, as references and `auths` keys write it.
const HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The registry `reference` lives in: its first component when that looks like a
/// host (has a `.` or `:`, or is `localhost`), else Docker Hub.
pub fn registry_of(reference: &str) -> String {
    let repo = ImageRef::parse(reference).map(|r| r.repository).unwrap_or_else(|_| reference.to_string());
    match repo.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// The saved credentials for `registry`, if `docker login` saved any in the config file.
pub fn saved_auth(registry: &str) -> Option<RegistryAuth> {
    let text = std::fs::read_to_string(config_path()?).ok()?;
    auth_in(&text, registry)
}

/// The checks of the login options the docker builder and docker-push share
/// (`login`, `login_username`, `ecr_login`, `aws_*`): errors, and warnings in Ok.
pub(crate) fn check_login(
    node: &Node,
    login: bool,
    username: Option<&str>,
    ecr_login: bool,
) -> Result<Vec<Diagnostic>, Diagnostics> {
    let mut d = Diagnostics::new();
    let mut warnings = Vec::new();
    if ecr_login {
        d.push(
            Diagnostic::error("ecr_login is not implemented in kiln yet")
                .at_opt(node.span_of("ecr_login"))
                .with_help("log in with \"login\": true, \"login_username\": \"AWS\" and \"login_password\" set to the output of `aws ecr get-login-password`"),
        );
    } else {
        for k in ["aws_access_key", "aws_secret_key", "aws_token", "aws_profile", "aws_force_use_public_ecr"] {
            if node.get(k).is_some() {
                warnings.push(
                    Diagnostic::warning(format!("{k} does nothing without ecr_login"))
                        .at_opt(node.span_of(k))
                        .with_help(format!("remove \"{k}\"")),
                );
            }
        }
    }
    if login && username.unwrap_or("").is_empty() {
        d.push(
            Diagnostic::error("login needs login_username and login_password").at_opt(node.span_of("login")).with_help(
                "add \"login_username\" and \"login_password\" (and \"login_server\" unless it is Docker Hub)",
            ),
        );
    }
    d.into_result()?;
    Ok(warnings)
}

fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".docker").join("config.json"))
}

/// The host of an `auths` key (`https://index.docker.io/v1/` → `index.docker.io`).
fn key_host(key: &str) -> &str {
    let k = key.split_once("://").map_or(key, |(_, rest)| rest);
    k.split('/').next().unwrap_or(k)
}

fn auth_in(config: &str, registry: &str) -> Option<RegistryAuth> {
    let json: serde_json::Value = serde_json::from_str(config).ok()?;
    let auths = json.get("auths")?.as_object()?;
    let wanted: Vec<&str> = if HUB.contains(&registry) { HUB.to_vec() } else { vec![registry] };
    let (key, entry) = auths.iter().find(|(k, _)| wanted.contains(&key_host(k)))?;
    let (username, password) = match entry.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) {
        Some(b64) => {
            let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
            let text = String::from_utf8(raw).ok()?;
            let (u, p) = text.split_once(':')?;
            (u.to_string(), p.to_string())
        }
        None => (
            entry.get("username")?.as_str()?.to_string(),
            entry.get("password").and_then(|p| p.as_str()).unwrap_or("").to_string(),
        ),
    };
    Some(RegistryAuth { server: key.clone(), username, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_references() {
        assert_eq!(registry_of("debian:bookworm"), "docker.io");
        assert_eq!(registry_of("library/debian"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/kiln/app:v1"), "127.0.0.1:5000");
        assert_eq!(registry_of("registry.example.com/app"), "registry.example.com");
        assert_eq!(registry_of("localhost/app"), "localhost");
    }

    #[test]
    fn saved_logins_are_found_by_host() {
        // "kiln:secret" and "hub:pw" in base64.
        let config = r#"{"auths": {
            "127.0.0.1:5000": {"auth": "a2lsbjpzZWNyZXQ="},
            "https://index.docker.io/v1/": {"auth": "aHViOnB3"}}}"#;
        let a = auth_in(config, "127.0.0.1:5000").unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("kiln", "secret"));
        let hub = auth_in(config, "docker.io").unwrap();
        assert_eq!((hub.username.as_str(), hub.server.as_str()), ("hub", "https://index.docker.io/v1/"));
        assert!(auth_in(config, "other.example.com").is_none());
        assert!(auth_in("not json", "docker.io").is_none());
    }
}
