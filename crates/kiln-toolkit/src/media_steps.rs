//! The CD and floppy steps (Packer's `StepCreateCD` and `StepCreateFloppy`): the `cd_*` and
//! `floppy_*` options written by [`crate::media`] into a fresh temporary directory, the image's
//! path in the state for the builder to attach, removed by the cleanup.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};
use serde::Deserialize;

use crate::media::{CdOptions, FloppyOptions};
use crate::HasCommon;

/// The CD options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdConfig {
    /// Files, directories and glob patterns put on a CD attached to the machine (a directory
    /// written `dir/` puts its content at the CD's root, `dir` the directory itself).
    #[serde(default)]
    pub cd_files: Vec<String>,
    /// Files put on the CD, by path: `{"meta-data": "...", "user-data": "..."}`.
    #[serde(default)]
    pub cd_content: BTreeMap<String, String>,
    /// The CD's volume label (`cidata` for cloud-init); default `packer`.
    #[serde(default)]
    pub cd_label: String,
}

/// The floppy options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloppyConfig {
    /// Files, directories and glob patterns put at the root of a 1.44 MB floppy attached to the
    /// machine (the files of a directory, flattened).
    #[serde(default)]
    pub floppy_files: Vec<String>,
    /// Directories copied onto the floppy with their structure.
    #[serde(default)]
    pub floppy_dirs: Vec<String>,
    /// Files put on the floppy, by path.
    #[serde(default)]
    pub floppy_content: BTreeMap<String, String>,
    /// The floppy's volume label; default `packer`.
    #[serde(default)]
    pub floppy_label: String,
}

impl CdConfig {
    pub fn options(&self) -> CdOptions {
        CdOptions { files: self.cd_files.clone(), content: self.cd_content.clone(), label: self.cd_label.clone() }
    }
}

impl FloppyConfig {
    pub fn options(&self) -> FloppyOptions {
        FloppyOptions {
            files: self.floppy_files.clone(),
            dirs: self.floppy_dirs.clone(),
            content: self.floppy_content.clone(),
            label: self.floppy_label.clone(),
        }
    }
}

/// A new private directory for one image (exclusive: a name no other build has).
fn temp_dir(prefix: &str) -> Result<PathBuf> {
    for _ in 0..16 {
        let name = kiln_config::random::hex(&kiln_config::random::bytes::<8>());
        let dir = std::env::temp_dir().join(format!("{prefix}{name}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::new(format!("creating {}: {e}", dir.display()))),
        }
    }
    Err(Error::new("cannot make a temporary directory"))
}

/// Removes an image and its temporary directory.
async fn remove_image(path: &Path) {
    let _ = tokio::fs::remove_file(path).await;
    if let Some(dir) = path.parent() {
        let _ = tokio::fs::remove_dir(dir).await;
    }
}

/// Which image a [`StepMedia`] makes.
enum Kind {
    Cd(CdOptions),
    Floppy(FloppyOptions),
}

/// Writes one image; shared by the CD and floppy steps.
struct StepMedia {
    kind: Kind,
    /// Where relative paths and patterns start (Packer: the working directory).
    base: PathBuf,
}

impl StepMedia {
    fn slot<'s>(&self, c: &'s mut crate::CommonState) -> &'s mut Option<PathBuf> {
        match self.kind {
            Kind::Cd(_) => &mut c.cd_path,
            Kind::Floppy(_) => &mut c.floppy_path,
        }
    }

    fn current<'s>(&self, c: &'s crate::CommonState) -> &'s Option<PathBuf> {
        match self.kind {
            Kind::Cd(_) => &c.cd_path,
            Kind::Floppy(_) => &c.floppy_path,
        }
    }

    async fn run(&self, state: &mut crate::CommonState, ctx: &RunContext) -> Result<()> {
        let (empty, what, file) = match &self.kind {
            Kind::Cd(o) => (o.is_empty(), "CD", "cd.iso"),
            Kind::Floppy(o) => (o.is_empty(), "floppy", "floppy.img"),
        };
        if empty {
            return Ok(());
        }
        ctx.ui.say(format!("Creating {what} disk..."));
        let dir = temp_dir(if what == "CD" { "kiln-cd-" } else { "kiln-floppy-" })?;
        let path = dir.join(file);
        // In the state before anything else can fail, so the cleanup finds the directory.
        *self.slot(state) = Some(path.clone());
        let (kind, base, target) = (
            match &self.kind {
                Kind::Cd(o) => Kind::Cd(o.clone()),
                Kind::Floppy(o) => Kind::Floppy(o.clone()),
            },
            self.base.clone(),
            path.clone(),
        );
        let written = tokio::task::spawn_blocking(move || match kind {
            Kind::Cd(o) => o.spec(&base).and_then(|s| s.create(&target)),
            Kind::Floppy(o) => o.spec(&base).and_then(|s| s.create(&target)),
        });
        let bytes = ctx
            .cancel
            .run(written)
            .await?
            .map_err(|e| Error::new(format!("creating the {what} disk: {e}")))?
            .map_err(|e| Error::new(format!("creating the {what} disk: {e}")))?;
        ctx.ui.message(format!("Done creating the {what} disk ({} bytes): {}", bytes, path.display()));
        Ok(())
    }
}

macro_rules! media_step {
    ($(#[$m:meta])* $name:ident, $packer:literal, $config:ty, $variant:ident, $what:literal) => {
        $(#[$m])*
        pub struct $name(StepMedia);

        impl $name {
            /// The step for `config`; relative paths start at `base` (Packer: the working
            /// directory).
            pub fn new(config: &$config, base: &Path) -> $name {
                $name(StepMedia { kind: Kind::$variant(config.options()), base: base.to_path_buf() })
            }
        }

        #[async_trait]
        impl<S: HasCommon> Step<S> for $name {
            fn name(&self) -> &'static str {
                $packer
            }
            async fn run(&self, state: &mut S, ctx: &RunContext) -> Result<()> {
                self.0.run(state.common_mut(), ctx).await
            }
            fn cleans(&self, state: &S) -> Option<String> {
                self.0.current(state.common()).as_ref().map(|p| format!("deleting the {} {}", $what, p.display()))
            }
            async fn cleanup(&self, state: &mut S, _ctx: &RunContext, _outcome: Outcome) {
                if let Some(p) = self.0.slot(state.common_mut()).take() {
                    remove_image(&p).await;
                }
            }
        }
    };
}

media_step!(
    /// Writes the CD of `cd_files` / `cd_content` / `cd_label`; sets
    /// [`crate::CommonState::cd_path`].
    StepCreateCd, "StepCreateCD", CdConfig, Cd, "CD"
);
media_step!(
    /// Writes the floppy of `floppy_files` / `floppy_dirs` / `floppy_content` / `floppy_label`;
    /// sets [`crate::CommonState::floppy_path`].
    StepCreateFloppy, "StepCreateFloppy", FloppyConfig, Floppy, "floppy"
);
