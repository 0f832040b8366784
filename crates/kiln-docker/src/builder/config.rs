//! Options of the `docker` builder, and their checks.

use std::collections::BTreeMap;

use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};
use serde::Deserialize;

use crate::RunSpec;

/// Builds a container image: starts a container from `image`, runs the provisioners in
/// it (through the `docker` communicator by default), then commits it to an image,
/// exports its filesystem to a tarball, or discards it. kiln talks to the Docker
/// Engine API directly (`DOCKER_HOST`, else `/var/run/docker.sock`); podman's
/// Docker-compatible service works as well as Docker Engine. Exactly one of `commit`,
/// `export_path` and `discard` must be set. The communicator options apply too:
/// `communicator` is `docker` by default, `ssh` connects to the container's IP
/// address (an `sshd` must run in it), `none` runs no provisioners.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The image the container starts from. Required.
    #[serde(default)]
    pub image: String,
    /// Pull `image` before starting (default true). With false the image is only
    /// pulled when the engine does not have it, as `docker run` would.
    #[serde(default)]
    pub pull: Option<bool>,
    /// Commit the container to an image, the build's artifact (its ID is the
    /// artifact's ID and `ImageSha256` of the generated data).
    #[serde(default)]
    pub commit: bool,
    /// Write the container's filesystem to this tarball (`docker export`), the
    /// build's artifact. An existing file is only replaced with `-force`.
    #[serde(default)]
    pub export_path: Option<String>,
    /// Throw the container away at the end (for the artifice post-processor, say).
    #[serde(default)]
    pub discard: bool,
    /// Dockerfile instructions applied by the commit: CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR (HEALTHCHECK on Docker only).
    #[serde(default)]
    pub changes: Vec<String>,
    /// The commit's author.
    #[serde(default)]
    pub author: Option<String>,
    /// The commit's message.
    #[serde(default)]
    pub message: Option<String>,
    /// `docker run` arguments that start the container (default
    /// `["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"]`; `{{.Image}}` is
    /// `image`). kiln maps them to an Engine API request: a flag it cannot map is an
    /// error that lists the ones it can.
    #[serde(default)]
    pub run_command: Vec<String>,
    /// Host paths to mount in the container: `{"/host/path": "/container/path"}`.
    #[serde(default)]
    pub volumes: BTreeMap<String, String>,
    /// Run the container privileged (`--privileged`).
    #[serde(default)]
    pub privileged: bool,
    /// Capabilities to add (`--cap-add`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Capabilities to drop (`--cap-drop`).
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// tmpfs mounts, `PATH[:OPTIONS]` (`--tmpfs`).
    #[serde(default)]
    pub tmpfs: Vec<String>,
    /// Host devices, `HOST[:CONTAINER[:PERMISSIONS]]` (`--device`).
    #[serde(default)]
    pub device: Vec<String>,
    /// Where the build's temporary folder is mounted in the container (default
    /// `/packer-files`), as Packer does; kiln's communicator itself does not need it.
    #[serde(default)]
    pub container_dir: Option<String>,
    /// Give uploaded files to the container's user (its `USER`; default true). Only
    /// the owner changes, as with Packer's `chown`; `user:group` sets the group too.
    #[serde(default)]
    pub fix_upload_owner: Option<bool>,
    /// Run the provisioners' commands as this user (`user`, `uid`, `user:group`).
    #[serde(default)]
    pub exec_user: Option<String>,
    /// The platform of the image to pull and run, e.g. `linux/arm64`.
    #[serde(default)]
    pub platform: Option<String>,
    /// Log in to `login_server` to pull `image`.
    #[serde(default)]
    pub login: bool,
    /// The registry to log in to (e.g. `registry.example.com:5000`).
    #[serde(default)]
    pub login_server: Option<String>,
    /// The user name to log in with.
    #[serde(default)]
    pub login_username: Option<String>,
    /// The password to log in with (masked in all output).
    #[serde(default)]
    pub login_password: Option<String>,
    /// Log in to Amazon ECR: not implemented in kiln; an error that says how to log
    /// in with `login` instead.
    #[serde(default)]
    pub ecr_login: bool,
    /// AWS access key for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_access_key: Option<String>,
    /// AWS secret key for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_secret_key: Option<String>,
    /// AWS session token for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_token: Option<String>,
    /// AWS profile for `ecr_login` (accepted; `ecr_login` is not implemented).
    #[serde(default)]
    pub aws_profile: Option<String>,
    /// Windows containers: not supported by kiln (an error).
    #[serde(default)]
    pub windows_container: bool,
    /// kiln: make the `export_path` tarball reproducible, with modification times
    /// clamped to this time (seconds since 1970). The `SOURCE_DATE_EPOCH` environment
    /// variable does the same when this is unset. Entries are sorted, user and group
    /// names dropped: two builds that write the same files give the same bytes.
    #[serde(default)]
    pub source_date_epoch: Option<u64>,
}

/// What happens to the container at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Commit,
    Export(String),
    Discard,
}

impl Config {
    pub fn output(&self) -> Output {
        match &self.export_path {
            _ if self.commit => Output::Commit,
            Some(p) if !p.is_empty() => Output::Export(p.clone()),
            _ => Output::Discard,
        }
    }

    pub fn container_dir(&self) -> &str {
        self.container_dir.as_deref().filter(|d| !d.is_empty()).unwrap_or("/packer-files")
    }

    /// `run_command` with `{{.Image}}` rendered (Packer's default when empty).
    pub fn run_command(&self) -> Result<Vec<String>, String> {
        if self.run_command.is_empty() {
            return Ok(crate::default_run_command(&self.image));
        }
        let data: BTreeMap<String, String> = [("Image".to_string(), self.image.clone())].into();
        self.run_command.iter().map(|a| kiln_core::late::render(a, &data).map_err(|e| e.message)).collect()
    }

    /// The container's shape, `temp_dir` mounted at `container_dir`.
    pub fn run_spec(&self, temp_dir: Option<&str>) -> Result<RunSpec, String> {
        let mut volumes = self.volumes.clone();
        if let Some(t) = temp_dir {
            volumes.insert(t.to_string(), self.container_dir().to_string());
        }
        Ok(RunSpec {
            run_command: self.run_command()?,
            volumes,
            privileged: self.privileged,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            tmpfs: self.tmpfs.clone(),
            devices: self.device.clone(),
            platform: self.platform.clone(),
            labels: BTreeMap::new(),
        })
    }

    /// Registry credentials from `login`.
    pub fn login_auth(&self) -> Option<crate::RegistryAuth> {
        self.login.then(|| crate::RegistryAuth {
            server: self.login_server.clone().unwrap_or_default(),
            username: self.login_username.clone().unwrap_or_default(),
            password: self.login_password.clone().unwrap_or_default(),
        })
    }

    /// The checks Packer makes and kiln's own; warnings in Ok.
    pub fn check(&self, node: &Node, comm: &kiln_comm::Config) -> Result<Vec<Diagnostic>, Diagnostics> {
        let mut d = Diagnostics::new();
        let mut warnings = Vec::new();
        match crate::auth::check_login(node, self.login, self.login_username.as_deref(), self.ecr_login) {
            Ok(w) => warnings.extend(w),
            Err(e) => d.extend(e),
        }
        if self.image.trim().is_empty() {
            d.push(
                Diagnostic::error("the docker builder needs an image")
                    .at_opt(node.span_of("image"))
                    .with_help("add \"image\": the image to start the container from, e.g. \"debian:bookworm\""),
            );
        }
        let chosen: Vec<&str> = [
            ("commit", self.commit),
            ("export_path", self.export_path.as_deref().is_some_and(|p| !p.is_empty())),
            ("discard", self.discard),
        ]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(k, _)| *k)
        .collect();
        match chosen.len() {
            0 => d.push(
                Diagnostic::error("the docker builder needs to know what to do with the container")
                    .at_opt(node.span.clone())
                    .with_help("set one of \"commit\": true, \"export_path\": \"image.tar\" or \"discard\": true"),
            ),
            1 => {}
            _ => d.push(
                Diagnostic::error(format!("{} cannot be used together", chosen.join(" and ")))
                    .at_opt(node.span_of(chosen[1]))
                    .with_help("keep one of commit, export_path and discard"),
            ),
        }
        if let Some(p) = self.export_path.as_deref().filter(|p| std::path::Path::new(p).is_dir()) {
            d.push(
                Diagnostic::error(format!("export_path {p:?} is a folder"))
                    .at_opt(node.span_of("export_path"))
                    .with_help("name the tarball to write, e.g. \"out/image.tar\""),
            );
        }
        if self.windows_container {
            d.push(
                Diagnostic::error("Windows containers are not supported by kiln's docker builder")
                    .at_opt(node.span_of("windows_container"))
                    .with_help("remove \"windows_container\"; build Windows images with Packer"),
            );
        }
        if !self.container_dir().starts_with('/') {
            d.push(
                Diagnostic::error(format!("container_dir {:?} is not an absolute path", self.container_dir()))
                    .at_opt(node.span_of("container_dir"))
                    .with_help("use an absolute path in the container, e.g. \"/packer-files\""),
            );
        }
        if let Err(e) = crate::canonical_changes(&self.changes) {
            d.push(Diagnostic::error(e.to_string()).at_opt(element_span(
                node,
                "changes",
                &self.changes,
                &e.to_string(),
            )));
        }
        if !self.image.trim().is_empty() {
            match self.run_spec(Some("/tmp/kiln-check")).and_then(|s| s.to_request().map_err(|e| e.to_string())) {
                Ok(_) => {}
                Err(e) => d.push(Diagnostic::error(e).at_opt(node.span_of("run_command"))),
            }
        }
        if self.source_date_epoch.is_some() && !matches!(self.output(), Output::Export(_)) {
            warnings.push(
                Diagnostic::warning("source_date_epoch only applies to export_path")
                    .at_opt(node.span_of("source_date_epoch"))
                    .with_help(
                        "for a reproducible image archive, use the docker-save post-processor's source_date_epoch",
                    ),
            );
        }
        match comm.kind() {
            "docker" | "none" => {}
            "ssh" => d.extend(comm.check(node, false)),
            other => d.push(
                Diagnostic::error(format!("the docker builder cannot use the {other} communicator"))
                    .at_opt(node.span_of("communicator"))
                    .with_help("use \"docker\" (the default), \"ssh\" (to an sshd in the container) or \"none\""),
            ),
        }
        d.into_result()?;
        Ok(warnings)
    }
}

/// The span of the element of list `key` that `message` is about (it quotes it), else
/// of the list.
fn element_span(node: &Node, key: &str, items: &[String], message: &str) -> Option<Span> {
    let list = node.get(key)?;
    if let NodeKind::Array(nodes) = &list.kind {
        for (item, n) in items.iter().zip(nodes) {
            if message.contains(&format!("{item:?}")) {
                return n.span.clone();
            }
        }
    }
    list.span.clone()
}

/// Packer's communicator types for this builder: `docker` when unset.
pub fn with_default_communicator(mut comm: kiln_comm::Config) -> kiln_comm::Config {
    if comm.communicator.as_deref().unwrap_or("").is_empty() {
        comm.communicator = Some("docker".into());
    }
    comm
}
