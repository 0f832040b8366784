//! A profile's `credential_process`: a command whose standard output is credentials JSON
//! (`{"Version": 1, "AccessKeyId": …, "SecretAccessKey": …, "SessionToken": …, "Expiration": …}`).

use std::process::Stdio;
use std::time::Duration;

use super::{from_json, Credentials};
use crate::client::error::{Error, Result};

const TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) async fn run(command: &str, profile: &str) -> Result<Credentials> {
    let what = format!("credential_process of profile {profile:?}");
    // Run through the shell, as the AWS CLI and SDKs do, so quoting in the file works.
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Credentials(format!("{what}: cannot start `sh -c`: {e}")))?;
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| Error::Credentials(format!("{what} did not finish within {}s", TIMEOUT.as_secs())))?
        .map_err(|e| Error::Credentials(format!("{what}: {e}")))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Credentials(format!("{what} failed ({}): {}", out.status, stderr.trim())));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let version = serde_json::from_str::<serde_json::Value>(&stdout).ok().and_then(|v| v.get("Version")?.as_i64());
    if version != Some(1) {
        return Err(Error::Credentials(format!("{what}: the output must be JSON with \"Version\": 1")));
    }
    from_json(&stdout, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_the_commands_json() {
        let cmd = r#"printf '{"Version":1,"AccessKeyId":"AKP","SecretAccessKey":"SKP","SessionToken":"TP"}'"#;
        let c = run(cmd, "p").await.unwrap();
        assert_eq!((c.access_key_id.as_str(), c.secret_access_key.expose().as_str()), ("AKP", "SKP"));
        let e = run("echo nope >&2; exit 3", "p").await.unwrap_err().to_string();
        assert!(e.contains("failed") && e.contains("nope"), "{e}");
        let e = run("echo '{}'", "p").await.unwrap_err().to_string();
        assert!(e.contains("Version"), "{e}");
    }
}
