//! The docker builder's steps.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::journal::Journal;
use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use super::{Config, State};
use crate::auth::{registry_of, saved_auth};
use crate::comm::{DockerComm, Options};
use crate::normalize::{normalize_tar, Mtime};
use crate::CommitOptions;

pub(super) fn engine_err(e: crate::Error) -> Error {
    Error::new(e.to_string())
}

/// A folder shared with the container at `container_dir`, as Packer's.
pub(super) struct StepTempDir;

#[async_trait]
impl Step<State> for StepTempDir {
    fn name(&self) -> &'static str {
        "StepTempDir"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        ctx.ui.say("Creating a temporary directory for sharing data...");
        let base = std::env::var_os("PACKER_TMP_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let base = std::path::absolute(&base).unwrap_or(base);
        tokio::fs::create_dir_all(&base).await.map_err(|e| Error::new(format!("creating {}: {e}", base.display())))?;
        let mut n = 0u32;
        loop {
            let dir = base.join(format!("kiln-docker-{}-{n}", std::process::id()));
            match tokio::fs::create_dir(&dir).await {
                Ok(()) => {
                    state.temp_dir = Some(dir);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(Error::new(format!("creating a temporary folder in {}: {e}", base.display()))),
            }
        }
    }

    fn cleans(&self, state: &State) -> Option<String> {
        state.temp_dir.as_ref().map(|d| format!("deleting temporary folder {}", d.display()))
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, _outcome: Outcome) {
        if let Some(d) = state.temp_dir.take() {
            let _ = tokio::fs::remove_dir_all(d).await;
        }
    }
}

/// `build`: builds the image the container starts from with the Dockerfile, and makes it the
/// build's `image`. Its cleanup removes the image again unless the build commits (the
/// committed image is made from it).
pub(super) struct StepBuild(pub Arc<Config>);

#[async_trait]
impl Step<State> for StepBuild {
    fn name(&self) -> &'static str {
        "StepBuild"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let c = &self.0;
        let Some(b) = &c.build else { return Ok(()) };
        ctx.ui.say(format!("Building base image from {} (context {})...", b.path, b.build_dir()));
        let auth = c.login_auth();
        let request = crate::BuildRequest {
            dockerfile: Path::new(&b.path),
            context: Path::new(b.build_dir()),
            args: &b.arguments,
            pull: b.pull.unwrap_or(true),
            compress: b.compress,
            platform: c.platform.as_deref(),
            auth: auth.as_ref(),
        };
        let ui = ctx.ui.clone();
        let mut progress = |line: &str| ui.message(line);
        // Cancelled, the request is dropped: Docker Engine stops a build when its client goes.
        let built = match ctx.cancel.run(state.engine.build(&request, &mut progress)).await {
            Err(e) if e.cancelled && state.engine.is_podman() => {
                ctx.ui.error(format!(
                    "podman's service at {} goes on with the build after kiln has left it (it does not stop a build whose client has gone): it runs the Dockerfile to its end, and an image it finishes stays unnamed (`podman image prune` removes it)",
                    state.engine.host()
                ));
                return Err(e);
            }
            other => other?,
        };
        let id = built.map_err(|e| Error::new(format!("Error building the base image: {e}")))?;
        ctx.ui.say(format!("Finished building base image {id}"));
        state.built = Some(id.clone());
        state.config = Arc::new(Config { image: id, build: None, ..(*state.config).clone() });
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        let id = state.built.as_ref()?;
        (self.0.output() != super::Output::Commit).then(|| format!("removing the built base image {id}"))
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let Some(id) = state.built.take() else { return };
        if self.0.output() == super::Output::Commit {
            ctx.ui.log(format!("keeping the built base image {id}: the committed image is made from it"));
            return;
        }
        if let Err(e) = state.engine.remove_image(&id, false).await {
            ctx.ui.error(format!("Could not remove the built base image {id}: {e}"));
        }
    }
}

/// Pulls the image (with `pull: false`, only when the engine does not have it).
pub(super) struct StepPull(pub Arc<Config>);

#[async_trait]
impl Step<State> for StepPull {
    fn name(&self) -> &'static str {
        "StepPull"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let c = &self.0;
        if c.pull == Some(false) {
            if state.engine.image_exists(&c.image).await.map_err(engine_err)? {
                ctx.ui.log(format!("pull is false and the engine has {}: not pulling", c.image));
                return Ok(());
            }
            ctx.ui.say(format!("Pulling Docker image: {} (pull is false, but the engine does not have it)", c.image));
        } else {
            ctx.ui.say(format!("Pulling Docker image: {}", c.image));
        }
        let auth = c.login_auth().or_else(|| saved_auth(&registry_of(&c.image)));
        let ui = ctx.ui.clone();
        let mut last = String::new();
        let mut progress = |line: &str| {
            if line != last {
                ui.message(line);
                last = line.to_string();
            }
        };
        state
            .engine
            .pull(&c.image, c.platform.as_deref(), auth.as_ref(), &mut progress)
            .await
            .map_err(|e| Error::new(format!("Error pulling Docker image: {e}")))
    }
}

/// Creates and starts the container; its cleanup removes it.
pub(super) struct StepRun;

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        // The state's options: with `build`, their `image` is the built one.
        let config = Arc::clone(&state.config);
        start_container(state, ctx, &config).await
    }

    fn cleans(&self, state: &State) -> Option<String> {
        state.container.as_ref().map(|id| format!("removing container {id}"))
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let Some(id) = state.container.take() else { return };
        ctx.ui.say(format!("Killing the container: {id}"));
        match state.engine.remove_container(&id).await {
            Ok(()) => {
                if let Err(e) = Journal::for_build(&ctx.info).forget(crate::JOURNAL_CONTAINER, &id) {
                    ctx.ui.log(format!("could not cross container {id} out of the cleanup journal: {e}"));
                }
            }
            Err(e) => ctx.ui.error(format!("Could not remove container {id}: {e}; remove it with `docker rm -f {id}`")),
        }
    }
}

/// Creates and starts a container as `config` says (the step cache resumes with `image` set to
/// a snapshot); its ID is in the state and the cleanup journal before anything else happens.
pub(super) async fn start_container(state: &mut State, ctx: &RunContext, config: &Config) -> Result<()> {
    let temp = state.temp_dir.as_ref().map(|d| d.to_string_lossy().into_owned());
    let spec = config.run_spec(temp.as_deref()).map_err(Error::new)?;
    let request = spec.to_request().map_err(engine_err)?;
    ctx.ui.say("Starting docker container...");
    let mut shown: Vec<String> = Vec::new();
    for (host, guest) in &spec.volumes {
        shown.push(format!("-v {host}:{guest}"));
    }
    shown.extend(spec.run_command.iter().cloned());
    ctx.ui.message(format!("Run command: docker run {}", shown.join(" ")));
    let id = state.engine.create_container(&request).await.map_err(engine_err)?;
    // Recorded before anything else can fail or be cancelled, in the state and in the
    // cleanup journal (which a later `kiln cleanup` reads if kiln gets killed).
    state.container = Some(id.clone());
    state.data.insert("ID".into(), id.clone());
    let journal = Journal::for_build(&ctx.info);
    if let Err(e) = journal.record(crate::JOURNAL_CONTAINER, &id, state.engine.host()) {
        ctx.ui
            .error(format!("Could not write container {id} to the cleanup journal {}: {e}", journal.path().display()));
    }
    state.engine.start_container(&id).await.map_err(|e| Error::new(format!("Error running container: {e}")))?;
    ctx.ui.message(format!("Container ID: {id}"));
    Ok(())
}

/// The docker communicator for container `id`, as the user the container runs as.
pub(super) async fn docker_comm(state: &State, id: &str) -> Result<Arc<dyn kiln_core::Communicator>> {
    let info = state.engine.inspect_container(id).await.map_err(engine_err)?;
    let user = info.config.and_then(|c| c.user).unwrap_or_default();
    let options = Options {
        exec_user: state.config.exec_user.clone().filter(|u| !u.is_empty()),
        fix_upload_owner: state.config.fix_upload_owner.unwrap_or(true),
        container_user: user,
    };
    Ok(Arc::new(DockerComm::new(state.engine.clone(), id.to_string(), options)))
}

/// Makes the communicator: `docker` (exec and archives), `ssh` (to the container's
/// address) or `none`.
pub(super) struct StepConnect {
    pub comm: kiln_comm::Config,
}

#[async_trait]
impl Step<State> for StepConnect {
    fn name(&self) -> &'static str {
        "StepConnect"
    }
    /// Waiting for SSH holds nothing yet: a cancel stops it at once.
    fn role(&self) -> kiln_core::step::StepRole {
        kiln_core::step::StepRole::Wait
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let id = state.container.clone().ok_or_else(|| Error::new("no container to connect to"))?;
        let kind = self.comm.kind().to_string();
        state.data.insert("ConnType".into(), kind.clone());
        state.comm_kind = kind.clone();
        match kind.as_str() {
            "none" => state.comm = Some(Arc::new(kiln_comm::NoneComm)),
            "ssh" => {
                let mut cc = self.comm.clone();
                if cc.ssh_host.as_deref().unwrap_or("").is_empty() {
                    let info = state.engine.inspect_container(&id).await.map_err(engine_err)?;
                    cc.ssh_host = Some(container_ip(&info).ok_or_else(|| {
                        Error::new(format!("container {id} has no IP address to connect to; set ssh_host"))
                    })?);
                }
                let host = cc.ssh_host.clone().unwrap_or_default();
                ctx.ui.say(format!("Using ssh communicator to connect: {host}"));
                let ui = ctx.ui.clone();
                let say = move |s: &str| ui.say(s);
                state.comm = Some(cc.connect(&say).await?);
                let port = cc.ssh_port.unwrap_or(22).to_string();
                for (k, v) in [
                    ("Host", host.as_str()),
                    ("Port", port.as_str()),
                    ("User", cc.ssh_username.as_deref().unwrap_or("")),
                    ("Password", cc.ssh_password.as_deref().unwrap_or("")),
                ] {
                    state.data.insert(k.into(), v.into());
                }
            }
            _ => {
                let info = state.engine.inspect_container(&id).await.map_err(engine_err)?;
                ctx.ui
                    .say(format!("Using docker communicator to connect: {}", container_ip(&info).unwrap_or_default()));
                state.comm = Some(docker_comm(state, &id).await?);
            }
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, _outcome: Outcome) {
        state.comm = None;
    }
}

/// The container's address on its first network.
fn container_ip(info: &crate::ContainerInspectResponse) -> Option<String> {
    let nets = info.network_settings.as_ref()?.networks.as_ref()?;
    let mut names: Vec<&String> = nets.keys().collect();
    names.sort();
    names.into_iter().find_map(|n| nets[n].ip_address.clone().filter(|ip| !ip.is_empty()))
}

/// Commits the container with `changes`, `author` and `message`.
pub(super) struct StepCommit(pub Arc<Config>);

#[async_trait]
impl Step<State> for StepCommit {
    fn name(&self) -> &'static str {
        "StepCommit"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let id = state.container.clone().ok_or_else(|| Error::new("no container to commit"))?;
        ctx.ui.say("Committing the container");
        let options = CommitOptions {
            changes: self.0.changes.clone(),
            author: self.0.author.clone().filter(|a| !a.is_empty()),
            message: self.0.message.clone().filter(|m| !m.is_empty()),
            reference: None,
        };
        let image = state
            .engine
            .commit(&id, &options)
            .await
            .map_err(|e| Error::new(format!("Error committing container: {e}")))?;
        ctx.ui.message(format!("Image ID: {image}"));
        state.data.insert("ImageSha256".into(), image.clone());
        state.image_id = Some(image);
        Ok(())
    }
}

/// Exports the container's filesystem to `export_path`, reproducibly when asked.
pub(super) struct StepExport {
    pub config: Arc<Config>,
    pub path: String,
}

/// A file beside `path` for work in progress, unique to this run.
fn beside(path: &Path, tag: &str) -> PathBuf {
    kiln_core::output::temp_path_beside(path, tag)
}

#[async_trait]
impl Step<State> for StepExport {
    fn name(&self) -> &'static str {
        "StepExport"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let id = state.container.clone().ok_or_else(|| Error::new("no container to export"))?;
        let path = PathBuf::from(&self.path);
        kiln_core::output::check_output_file(&path, ctx.info.force)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::new(format!("creating the folder of export_path {}: {e}", self.path)))?;
        }
        let epoch = self.config.source_date_epoch.map(Mtime::Clamp).or_else(Mtime::from_source_date_epoch);
        ctx.ui.say("Exporting the container");
        let raw = beside(&path, "export");
        state.partial.push(raw.clone());
        state.engine.export_container(&id, &raw).await.map_err(engine_err)?;
        let done = match epoch {
            None => raw,
            Some(mtime) => {
                ctx.ui.message(format!(
                    "Making the tarball reproducible: entries sorted, modification times clamped to {}",
                    match mtime {
                        Mtime::Clamp(t) | Mtime::Set(t) => t,
                    }
                ));
                let normalized = beside(&path, "normalized");
                state.partial.push(normalized.clone());
                let (from, to) = (raw.clone(), normalized.clone());
                tokio::task::spawn_blocking(move || normalize_tar(&from, &to, mtime))
                    .await
                    .map_err(|e| Error::new(e.to_string()))?
                    .map_err(|e| Error::new(format!("normalising the export of container {id}: {e}")))?;
                let _ = tokio::fs::remove_file(&raw).await;
                normalized
            }
        };
        kiln_core::output::commit(&done, &path, ctx.info.force)?;
        state.partial.clear();
        state.exported = Some(path);
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        if state.partial.is_empty() && state.exported.is_none() {
            return None;
        }
        Some(format!("deleting the unfinished export {}", self.path))
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, outcome: Outcome) {
        for p in state.partial.drain(..) {
            let _ = tokio::fs::remove_file(p).await;
        }
        if outcome.failed || outcome.cancelled {
            if let Some(p) = state.exported.take() {
                let _ = tokio::fs::remove_file(p).await;
            }
        }
    }
}
