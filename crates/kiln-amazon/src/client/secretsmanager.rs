//! Secrets Manager (JSON 1.1): `GetSecretValue` for the `amazon-secretsmanager` data source and
//! the `aws_secretsmanager` template function, and `CreateSecret` (tests and tooling).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::config::{AwsConfig, Service};
use super::error::{Error, Result};
use super::json;
use super::secret::Secret;

const TARGET: &str = "secretsmanager";

/// One version of a secret.
#[derive(Debug, Clone)]
pub struct SecretValue {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
    pub secret_string: Option<Secret>,
    pub secret_binary: Option<Secret<Vec<u8>>>,
}

impl SecretValue {
    /// The value Packer's `aws_secretsmanager` function and data source give for `key`: a
    /// plain-text secret as it is; for a JSON object, the value under `key`, or with no key the
    /// only value of a one-key object.
    pub fn value_for_key(&self, key: Option<&str>) -> Result<String, String> {
        let Some(text) = &self.secret_string else {
            return Err(format!("secret {:?} holds binary data, not a string", self.name));
        };
        value_for_key(text.expose(), key).map_err(|m| format!("secret {:?}: {m}", self.name))
    }
}

fn value_for_key(text: &str, key: Option<&str>) -> Result<String, String> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(text.to_string());
    };
    let serde_json::Value::Object(map) = json else {
        return Ok(text.to_string());
    };
    let as_string = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match key.filter(|k| !k.is_empty()) {
        Some(k) => map.get(k).map(as_string).ok_or_else(|| {
            format!("no key {k:?} (it has {})", map.keys().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", "))
        }),
        None if map.len() == 1 => Ok(map.values().next().map(as_string).unwrap_or_default()),
        None => Err(format!("it holds {} keys; say which one", map.len())),
    }
}

/// What `CreateSecret` returns.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedSecret {
    #[serde(rename = "ARN")]
    pub arn: String,
    pub name: String,
    #[serde(default)]
    pub version_id: Option<String>,
}

/// A Secrets Manager client.
#[derive(Debug, Clone)]
pub struct SecretsManagerClient {
    cfg: AwsConfig,
}

impl SecretsManagerClient {
    pub fn new(cfg: &AwsConfig) -> SecretsManagerClient {
        SecretsManagerClient { cfg: cfg.clone() }
    }

    /// `secret_id` is a name or ARN; without a version or stage, `AWSCURRENT`.
    pub async fn get_secret_value(
        &self,
        secret_id: &str,
        version_id: Option<&str>,
        version_stage: Option<&str>,
    ) -> Result<SecretValue> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct In<'a> {
            secret_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            version_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            version_stage: Option<&'a str>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            #[serde(rename = "ARN", default)]
            arn: String,
            #[serde(default)]
            name: String,
            #[serde(default)]
            version_id: String,
            #[serde(default)]
            version_stages: Vec<String>,
            secret_string: Option<String>,
            secret_binary: Option<String>,
        }
        let action = "GetSecretValue";
        let out: Out = json::call(
            &self.cfg,
            Service::SecretsManager,
            TARGET,
            action,
            &In { secret_id, version_id, version_stage },
        )
        .await?;
        let secret_binary = match out.secret_binary {
            Some(b) => Some(Secret::new(base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| {
                Error::response("Secrets Manager", action, format!("SecretBinary is not base64: {e}"))
            })?)),
            None => None,
        };
        Ok(SecretValue {
            arn: out.arn,
            name: out.name,
            version_id: out.version_id,
            version_stages: out.version_stages,
            secret_string: out.secret_string.map(Secret::new),
            secret_binary,
        })
    }

    pub async fn create_secret(
        &self,
        name: &str,
        secret_string: &Secret,
        description: Option<&str>,
    ) -> Result<CreatedSecret> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct In<'a> {
            name: &'a str,
            secret_string: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            description: Option<&'a str>,
        }
        let input = In { name, secret_string: secret_string.expose(), description };
        json::call(&self.cfg, Service::SecretsManager, TARGET, "CreateSecret", &input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_values_like_packer() {
        assert_eq!(value_for_key("plain text", Some("k")), Ok("plain text".into()));
        assert_eq!(value_for_key(r#"{"user":"a","pw":"b"}"#, Some("pw")), Ok("b".into()));
        assert_eq!(value_for_key(r#"{"only":"v"}"#, None), Ok("v".into()));
        assert_eq!(value_for_key(r#"{"n":5}"#, Some("n")), Ok("5".into()));
        assert!(value_for_key(r#"{"a":"1","b":"2"}"#, None).unwrap_err().contains("2 keys"));
        assert!(value_for_key(r#"{"a":"1"}"#, Some("x")).unwrap_err().contains("no key \"x\""));
        assert_eq!(value_for_key("[1,2]", None), Ok("[1,2]".into()));
    }
}
