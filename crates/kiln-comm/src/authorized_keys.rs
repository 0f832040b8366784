//! `ssh_clear_authorized_keys`: after provisioning, take the build's temporary key out of the
//! machine's `authorized_keys` files, so the image does not let that key in. Builders that make
//! a temporary key pair (QEMU, Amazon, Docker …) put [`StepCleanupTempKeys`] after their
//! provisioning step, as Packer does.
//!
//! Only the temporary key's own line goes (matched by its base64 key, so options in front of it
//! or another comment do not hide it); every other line stays byte for byte. As in Packer this is
//! best effort: a failure is reported, never fails the build.

use kiln_config::diag::Diagnostic;
use kiln_config::node::Node;
use kiln_core::hook::HasCommunicator;
use kiln_core::step::Step;
use kiln_core::{async_trait, Communicator, Error, Result, RunContext, Stream, Ui};

use crate::keys::TempKeyPair;
use crate::shell_quote as quote;
use crate::Config;

/// The files the key is removed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKeysFiles {
    /// The login user's file; a leading `~/` is the user's home (default
    /// `~/.ssh/authorized_keys`).
    pub user: String,
    /// root's file, edited through `sudo -n` when the login user is not root (default
    /// `/root/.ssh/authorized_keys`); `None` leaves it alone.
    pub root: Option<String>,
}

impl Default for AuthorizedKeysFiles {
    fn default() -> AuthorizedKeysFiles {
        AuthorizedKeysFiles { user: "~/.ssh/authorized_keys".into(), root: Some("/root/.ssh/authorized_keys".into()) }
    }
}

/// Builder state that may hold the build's temporary key pair.
pub trait HasTempKey {
    fn temp_key(&self) -> Option<&TempKeyPair>;
}

/// `path` as a shell word: `~/x` becomes `"$HOME"/'x'`, anything else is quoted.
fn shell_path(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", quote(rest)),
        None => quote(path),
    }
}

/// A shell command that deletes the lines holding `blob` from `file` (nothing when the file
/// does not exist). `sed -i.<suffix>` works with GNU, BSD and BusyBox sed alike.
fn delete_lines(file: &str, blob: &str) -> String {
    format!(
        "f={}; if [ -f \"$f\" ]; then sed -i.kiln-bak '\\|{blob}|d' \"$f\" && rm -f \"$f.kiln-bak\"; fi",
        shell_path(file)
    )
}

/// The base64 key of an `authorized_keys` line (`[options] type base64 [comment]`).
fn key_blob(public_key: &str) -> Option<&str> {
    public_key.split_whitespace().find(|f| {
        f.len() >= 16 && f.starts_with("AAAA") && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    })
}

/// Runs `command`, its output going to the debug log; an error saying what failed when it
/// did not exit 0.
async fn run(comm: &dyn Communicator, ui: &Ui, command: &str) -> Result<()> {
    let output = std::sync::Mutex::new(Vec::new());
    let collect = |_: Stream, line: &str| {
        if let Ok(mut o) = output.lock() {
            o.push(line.to_string());
        }
    };
    let code = comm.start(command, &collect).await?;
    let output = output.into_inner().unwrap_or_default();
    for line in &output {
        ui.log(line);
    }
    match code {
        Some(0) => Ok(()),
        other => Err(Error::new(format!(
            "exit status {}{}",
            other.map_or("unknown".to_string(), |c| c.to_string()),
            output.last().map(|l| format!(": {l}")).unwrap_or_default()
        ))),
    }
}

/// Removes the line of `public_key` (as [`TempKeyPair::public_authorized_key`]) from `files`
/// on the machine. What failed is said on `ui` and returned; callers go on regardless.
pub async fn clear_authorized_keys(
    comm: &dyn Communicator,
    ui: &Ui,
    public_key: &str,
    files: &AuthorizedKeysFiles,
) -> Result<()> {
    let Some(blob) = key_blob(public_key) else {
        return Err(Error::new(format!("not an authorized_keys line: {public_key:?}")));
    };
    ui.say("Trying to remove ephemeral keys from authorized_keys files");
    let mut failed = Vec::new();
    if let Err(e) = run(comm, ui, &delete_lines(&files.user, blob)).await {
        ui.error(format!(
            "Could not remove the temporary SSH key from {} ({e}); remove the line ending in {:?} by hand",
            files.user,
            public_key.rsplit(' ').next().unwrap_or_default()
        ));
        failed.push(files.user.clone());
    }
    if let Some(root) = &files.root {
        let edit = delete_lines(root, blob);
        let command = format!("if [ \"$(id -u)\" = 0 ]; then {edit}; else sudo -n sh -c {}; fi", quote(&edit));
        // Without passwordless sudo there is no way in; Packer only logs it too.
        if let Err(e) = run(comm, ui, &command).await {
            ui.log(format!("could not remove the temporary SSH key from {root} (best effort): {e}"));
            failed.push(root.clone());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::new(format!("the temporary SSH key may still be in {}", failed.join(", "))))
    }
}

/// Packer's `StepCleanupTempKeys`: when `ssh_clear_authorized_keys` is true, the communicator
/// is SSH and the build made a temporary key pair, removes that key from the machine. Put it
/// right after the provisioning step.
pub struct StepCleanupTempKeys {
    pub config: Config,
    pub files: AuthorizedKeysFiles,
}

impl StepCleanupTempKeys {
    pub fn new(config: &Config) -> StepCleanupTempKeys {
        StepCleanupTempKeys { config: config.clone(), files: AuthorizedKeysFiles::default() }
    }
}

#[async_trait]
impl<S: HasCommunicator + HasTempKey + Send + Sync> Step<S> for StepCleanupTempKeys {
    fn name(&self) -> &'static str {
        "StepCleanupTempKeys"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        if self.config.ssh_clear_authorized_keys != Some(true) || self.config.kind() != "ssh" {
            return Ok(());
        }
        let (Some(key), Some(comm)) = (state.temp_key(), state.communicator()) else {
            ctx.ui.log("ssh_clear_authorized_keys: this build made no temporary key pair, nothing to remove");
            return Ok(());
        };
        // Best effort, as in Packer: the image is built either way.
        let _ = ctx
            .cancel
            .run(clear_authorized_keys(comm.as_ref(), &ctx.ui, &key.public_authorized_key, &self.files))
            .await?;
        Ok(())
    }
}

impl Config {
    /// A warning when `ssh_clear_authorized_keys` is set for a build that makes no temporary key
    /// pair (`makes_temp_key` false), where it does nothing (Packer ignores it silently).
    pub fn check_clear_authorized_keys(&self, config: &Node, makes_temp_key: bool) -> Option<Diagnostic> {
        if self.ssh_clear_authorized_keys != Some(true) || makes_temp_key || self.kind() != "ssh" {
            return None;
        }
        let span = config.span_of("ssh_clear_authorized_keys");
        let how = if self.ssh_private_key_file.is_some() {
            "it logs in with ssh_private_key_file"
        } else if self.ssh_password.is_some() {
            "it logs in with ssh_password"
        } else if self.ssh_agent_auth == Some(true) {
            "it logs in with the SSH agent's keys"
        } else {
            "it uses the key or password it is given"
        };
        Some(
            Diagnostic::warning("ssh_clear_authorized_keys does nothing here")
                .at_opt(span)
                .with_detail(format!(
                    "it removes only the temporary key pair a builder makes for the build, and this build makes none: {how}"
                ))
                .with_help(
                    "remove the option; to take keys out of the image, delete them in a last shell provisioner",
                ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_paths_and_match_the_key_itself() {
        let pair = TempKeyPair::generate("packer_6f0c").unwrap();
        let blob = key_blob(&pair.public_authorized_key).unwrap();
        assert!(pair.public_authorized_key.contains(&format!(" {blob} ")));
        assert_eq!(
            key_blob("no-pty,command=\"x\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+/= c"),
            Some("AAAAC3NzaC1lZDI1NTE5AAAAIB+/=")
        );
        assert_eq!(key_blob("packer_x"), None);
        assert_eq!(
            delete_lines("~/.ssh/authorized_keys", "AAAAx+/="),
            "f=\"$HOME\"/'.ssh/authorized_keys'; if [ -f \"$f\" ]; then sed -i.kiln-bak '\\|AAAAx+/=|d' \"$f\" && rm -f \"$f.kiln-bak\"; fi"
        );
        assert_eq!(shell_path("/it's here"), "'/it'\"'\"'s here'");
    }

    #[test]
    fn warns_where_no_temporary_key_exists() {
        let src = "{\n  \"ssh_host\": \"h\",\n  \"ssh_username\": \"u\",\n  \"ssh_private_key_file\": \"k\",\n  \"ssh_clear_authorized_keys\": true\n}";
        let n = kiln_template::testing::json_node("t.json", src).unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        let w = c.check_clear_authorized_keys(&n, false).unwrap();
        assert!(!w.is_error());
        assert_eq!(w.summary, "ssh_clear_authorized_keys does nothing here");
        assert_eq!(w.span.as_ref().unwrap().line_col(), (5, 32));
        assert!(w.detail.as_deref().unwrap().ends_with("it logs in with ssh_private_key_file"));
        assert!(c.check_clear_authorized_keys(&n, true).is_none());
        let n = kiln_template::testing::json_node("t.json", "{\"ssh_clear_authorized_keys\": false}").unwrap();
        let c: Config = kiln_config::decode::decode(&n).unwrap();
        assert!(c.check_clear_authorized_keys(&n, false).is_none());
    }
}
