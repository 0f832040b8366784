//! `packer-plugin-NAME describe`: what a packer-plugin-sdk plugin binary contains, and the
//! command lines that start each of its components.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, ErrorKind, Result};
use crate::handshake::API_MAJOR;
use crate::process::{PluginCommand, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};

/// The kinds of component a plugin serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentKind {
    Builder,
    Provisioner,
    PostProcessor,
    Datasource,
}

impl ComponentKind {
    /// The word `start` takes, and Packer 1.6.6's binary-name infix.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Builder => "builder",
            ComponentKind::Provisioner => "provisioner",
            ComponentKind::PostProcessor => "post-processor",
            ComponentKind::Datasource => "datasource",
        }
    }
}

/// One JSON line from `describe`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Description {
    pub version: String,
    #[serde(default)]
    pub sdk_version: String,
    /// `x5.0`: the plugin API major and minor.
    pub api_version: String,
    #[serde(default)]
    pub builders: Vec<String>,
    #[serde(default)]
    pub provisioners: Vec<String>,
    #[serde(default)]
    pub post_processors: Vec<String>,
    #[serde(default)]
    pub datasources: Vec<String>,
    /// `v2`: the plugin can be started with `--protobuf`.
    #[serde(default)]
    pub protocol_version: String,
}

impl Description {
    /// Whether the plugin speaks protobuf/msgpack (start it with [`PluginCommand::protobuf`]).
    pub fn supports_protobuf(&self) -> bool {
        self.protocol_version == "v2"
    }

    pub fn components(&self, kind: ComponentKind) -> &[String] {
        match kind {
            ComponentKind::Builder => &self.builders,
            ComponentKind::Provisioner => &self.provisioners,
            ComponentKind::PostProcessor => &self.post_processors,
            ComponentKind::Datasource => &self.datasources,
        }
    }
}

/// Runs `program describe` and checks that it speaks kiln's plugin API.
pub async fn describe(program: &Path, timeout: Duration) -> Result<Description> {
    let name = format!("{} describe", program.display());
    let out = tokio::process::Command::new(program)
        .arg("describe")
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(timeout, out).await {
        Err(_) => {
            return Err(Error::new(ErrorKind::Timeout, format!("did not answer within {timeout:?}")).with_plugin(&name))
        }
        Ok(Err(e)) => return Err(Error::new(ErrorKind::Start, format!("cannot start it: {e}")).with_plugin(&name)),
        Ok(Ok(out)) => out,
    };
    let stderr: Vec<String> = String::from_utf8_lossy(&out.stderr).lines().rev().take(20).map(String::from).collect();
    let stderr: Vec<String> = stderr.into_iter().rev().collect();
    if !out.status.success() {
        return Err(Error::exited(format!("failed ({})", out.status)).with_plugin(&name).with_log_tail(stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let d: Description = serde_json::from_str(line)
        .map_err(|e| Error::protocol(format!("printed {line:?}, not a plugin description: {e}")).with_plugin(&name))?;
    let major = d.api_version.trim_start_matches('x').split('.').next().and_then(|m| m.parse::<u32>().ok());
    if major != Some(API_MAJOR) {
        return Err(Error::new(
            ErrorKind::Handshake,
            format!("speaks plugin API {:?}; kiln speaks x{API_MAJOR}.*", d.api_version),
        )
        .with_plugin(&name));
    }
    Ok(d)
}

impl PluginCommand {
    /// A packer-plugin-sdk plugin's component: `packer-plugin-NAME start KIND COMPONENT`.
    pub fn sdk(program: impl Into<PathBuf>, kind: ComponentKind, component: &str) -> PluginCommand {
        PluginCommand::new(program).args(["start", kind.as_str(), component])
    }

    /// Asks an SDK plugin for protobuf specs and msgpack values instead of gob (for plugins whose
    /// `describe` says `protocol_version` `v2`).
    pub fn protobuf(self) -> PluginCommand {
        self.arg("--protobuf")
    }

    /// One of Packer 1.6.6's built-in components: `packer plugin packer-KIND-NAME`.
    pub fn packer_builtin(packer: impl Into<PathBuf>, kind: ComponentKind, component: &str) -> PluginCommand {
        PluginCommand::new(packer).args(["plugin".to_string(), format!("packer-{}-{component}", kind.as_str())])
    }
}
