//! Options of `shell-local` (the provisioner and the post-processor share them).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Runs commands or scripts on the machine running kiln.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One command, run as an inline script. Exactly one of `command`, `inline`, `script`,
    /// `scripts` is required.
    #[serde(default)]
    pub command: Option<String>,
    /// Commands written to a temporary script (with `inline_shebang`) and run.
    #[serde(default)]
    pub inline: Option<Vec<String>>,
    /// A script file to run.
    #[serde(default)]
    pub script: Option<String>,
    /// Script files to run in order.
    #[serde(default)]
    pub scripts: Option<Vec<String>>,
    /// `KEY=value` pairs set for the scripts.
    #[serde(default)]
    pub environment_vars: Vec<String>,
    /// Environment variables as a map (newer Packer).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// How variables are written in `{{.Vars}}`: a format with two `%s` (default `%s='%s' `).
    #[serde(default)]
    pub env_var_format: Option<String>,
    /// How to run a script: `{{.Vars}}`, `{{.Script}}` and `{{.Command}}` are replaced
    /// (default `["/bin/sh", "-c", "{{.Vars}} {{.Script}}"]`).
    #[serde(default)]
    pub execute_command: Option<Vec<String>>,
    /// The shebang of inline scripts (default `/bin/sh -e`).
    #[serde(default)]
    pub inline_shebang: Option<String>,
    /// Operating systems to run on (`linux`, `darwin`, `windows`); others skip it.
    #[serde(default)]
    pub only_on: Vec<String>,
    /// Exit codes that count as success (default `[0]`).
    #[serde(default)]
    pub valid_exit_codes: Option<Vec<i64>>,
    /// Extension of the temporary inline script.
    #[serde(default)]
    pub tempfile_extension: Option<String>,
    /// Windows Subsystem for Linux path translation (accepted; no effect on Linux).
    #[serde(default)]
    pub use_linux_pathing: bool,
}
