//! The AWS JSON 1.1 protocol (SSM, Secrets Manager): a JSON body, the operation in `X-Amz-Target`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::config::{AwsConfig, Service};
use super::error::{Error, Result};
use super::transport::Protocol;

/// Calls `<prefix>.<action>` with `input`, parses the answer as `O`.
pub(crate) async fn call<I: Serialize, O: DeserializeOwned>(
    cfg: &AwsConfig,
    service: Service,
    target_prefix: &str,
    action: &str,
    input: &I,
) -> Result<O> {
    let body = serde_json::to_vec(input).map_err(|e| Error::response(service.display_name(), action, e.to_string()))?;
    let target = format!("{target_prefix}.{action}");
    let text = cfg.send(service, action, Protocol::Json { target: &target }, body).await?;
    // Some operations answer with an empty body.
    let text = if text.trim().is_empty() { "{}" } else { &text };
    serde_json::from_str(text)
        .map_err(|e| Error::response(service.display_name(), action, format!("invalid JSON: {e}")))
}
