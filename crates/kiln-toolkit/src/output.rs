//! The output directory (Packer's `output_directory` and `StepOutputDir`): refused when it
//! exists and is not empty unless `-force` (then deleted first), created, reserved so no other
//! build of this machine writes into it at the same time, deleted when the build fails or is
//! cancelled, kept when it succeeds.

use std::path::{Path, PathBuf};

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, BuildInfo, Error, Result, RunContext};
use serde::Deserialize;

use crate::reserve::reserve_path;
use crate::HasCommon;

/// The output directory option.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// The directory the build writes its files to (created; must not exist or be empty unless
    /// `-force` is given, which deletes it first). Default `output-<build name>`, relative to
    /// the working directory.
    #[serde(default)]
    pub output_directory: String,
}

impl OutputConfig {
    /// The directory to use: `output_directory`, else `output-<build name>` (as Packer).
    pub fn dir(&self, info: &BuildInfo) -> PathBuf {
        if self.output_directory.is_empty() {
            PathBuf::from(format!("output-{}", info.name))
        } else {
            PathBuf::from(&self.output_directory)
        }
    }
}

/// Makes the output directory; sets [`crate::CommonState::output_dir`].
pub struct StepOutputDir {
    pub path: PathBuf,
}

impl StepOutputDir {
    pub fn new(config: &OutputConfig, info: &BuildInfo) -> StepOutputDir {
        StepOutputDir { path: config.dir(info) }
    }
}

fn is_empty_dir(p: &Path) -> bool {
    p.read_dir().map(|mut r| r.next().is_none()).unwrap_or(false)
}

#[async_trait]
impl<S: HasCommon> Step<S> for StepOutputDir {
    fn name(&self) -> &'static str {
        "StepOutputDir"
    }

    async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
        let path = &self.path;
        let reservation = reserve_path(path, "output directory")?;
        state.common_mut().reservations.push(reservation);
        let exists = std::fs::symlink_metadata(path).is_ok();
        if exists && !(path.is_dir() && is_empty_dir(path)) {
            if !ctx.info.force {
                return Err(Error::new(format!(
                    "Output directory exists: {}\n\nUse the -force flag to delete it prior to building, or choose another output_directory.",
                    path.display()
                )));
            }
            ctx.ui.say("Deleting previous output directory...");
            let r = if path.is_dir() && !path.is_symlink() {
                tokio::fs::remove_dir_all(path).await
            } else {
                tokio::fs::remove_file(path).await
            };
            r.map_err(|e| Error::new(format!("deleting {} for -force: {e}", path.display())))?;
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::new(format!("creating {}: {e}", parent.display())))?;
        }
        match tokio::fs::create_dir(path).await {
            Ok(()) => {}
            // Empty and ours: the reservation keeps other builds out.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && is_empty_dir(path) => {}
            Err(e) => return Err(Error::new(format!("creating the output directory {}: {e}", path.display()))),
        }
        state.common_mut().output_dir = Some(path.clone());
        Ok(())
    }

    fn cleans(&self, state: &S) -> Option<String> {
        state.common().output_dir.as_ref().map(|d| format!("deleting output directory {}", d.display()))
    }

    async fn cleanup(&self, state: &mut S, ctx: &RunContext, outcome: Outcome) {
        if !(outcome.failed || outcome.cancelled) {
            return;
        }
        if let Some(dir) = state.common_mut().output_dir.take() {
            ctx.ui.say("Deleting output directory...");
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
                if e.kind() != std::io::ErrorKind::NotFound {
                    ctx.ui.error(format!("Could not delete the output directory {}: {e}", dir.display()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{context, context_with};
    use crate::CommonState;

    #[tokio::test]
    async fn refused_unless_force_removed_on_failure_kept_on_success() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("old.img"), "x").unwrap();
        let step = StepOutputDir { path: dir.clone() };
        let (c, _events) = context();
        let mut s = CommonState::default();
        let e = step.run(&mut s, &c).await.unwrap_err();
        assert!(e.message.starts_with("Output directory exists: "), "{e}");
        assert!(dir.join("old.img").exists());
        // The failed run made nothing, so its cleanup deletes nothing.
        step.cleanup(&mut s, &c, Outcome { failed: true, cancelled: false }).await;
        assert!(dir.join("old.img").exists());

        // The failed build ends: its reservation goes with its state.
        drop(s);
        let (c, events) = context_with(BuildInfo { force: true, ..BuildInfo::default() });
        let mut s = CommonState::default();
        step.run(&mut s, &c).await.unwrap();
        assert!(events.says().contains(&"Deleting previous output directory...".to_string()));
        assert!(dir.is_dir() && is_empty_dir(&dir));
        // Another build cannot take it while this one runs.
        let mut other = CommonState::default();
        let e = step.run(&mut other, &c).await.unwrap_err();
        assert!(e.message.contains("in use by another build"), "{e}");
        step.cleanup(&mut s, &c, Outcome { failed: false, cancelled: true }).await;
        assert!(!dir.exists());

        drop((s, other));
        let mut s = CommonState::default();
        let nested = StepOutputDir { path: tmp.path().join("a/b") };
        nested.run(&mut s, &c).await.unwrap();
        nested.cleanup(&mut s, &c, Outcome::default()).await;
        assert!(tmp.path().join("a/b").is_dir());
    }

    #[test]
    fn default_is_output_build_name() {
        let info = BuildInfo { name: "qemu.debian".into(), ..BuildInfo::default() };
        assert_eq!(OutputConfig::default().dir(&info), PathBuf::from("output-qemu.debian"));
    }
}
