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
    /// The image the container starts from. Required, unless `build` makes it.
    #[serde(default)]
    pub image: String,
    /// Make the image the container starts from with a Dockerfile (`docker build`), instead of
    /// `image`. An object: `path`, the Dockerfile (required); `build_dir`, the build context
    /// (default `.`; its `.dockerignore` applies); `arguments`, build arguments
    /// (`{"NAME": "value"}`); `pull`, pull newer `FROM` images (default true); `compress`, send
    /// the context gzip-compressed. The built image is removed at the end unless the build
    /// commits (the committed image is made from it).
    #[serde(default)]
    pub build: Option<BuildConfig>,
    /// Pull `image` before starting (default true). With false the image is only
    /// pulled when the engine does not have it, as `docker run` would. Not with `build`
    /// (that has its own `pull`).
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
    /// The platform of the image to pull (or build) and run, e.g. `linux/arm64`.
    #[serde(default)]
    pub platform: Option<String>,
    /// The container's OCI runtime (`--runtime`), e.g. `runsc` (gVisor) or `kata-runtime`;
    /// the engine must have it configured. Unset: the engine's default.
    #[serde(default)]
    pub runtime: Option<String>,
    /// The docker program Packer runs. kiln talks to the Engine API instead (`DOCKER_HOST`),
    /// so this is accepted and ignored, with a warning.
    #[serde(default)]
    pub docker_path: Option<String>,
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
    /// Use Amazon ECR's public registry for `ecr_login` (accepted; `ecr_login` is not
    /// implemented).
    #[serde(default)]
    pub aws_force_use_public_ecr: Option<bool>,
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

/// `build`: the image the container starts from, built from a Dockerfile (`docker build`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BuildConfig {
    /// The Dockerfile. Required. It is sent with the build context even when it lies outside
    /// `build_dir` or `.dockerignore` excludes it, as the docker CLI does.
    #[serde(default)]
    pub path: String,
    /// The build context: the folder whose files the Dockerfile's `COPY` and `ADD` see, less
    /// what its `.dockerignore` excludes. Default `.` (where kiln runs).
    #[serde(default)]
    pub build_dir: String,
    /// Build arguments (`--build-arg NAME=value`), for the Dockerfile's `ARG`s.
    #[serde(default)]
    pub arguments: BTreeMap<String, String>,
    /// Pull a newer version of the `FROM` images even when the engine has them (`--pull`).
    /// Default true.
    #[serde(default)]
    pub pull: Option<bool>,
    /// Send the build context gzip-compressed (`--compress`): less to send to a remote engine,
    /// more CPU on both sides.
    #[serde(default)]
    pub compress: bool,
}

impl BuildConfig {
    pub fn build_dir(&self) -> &str {
        if self.build_dir.is_empty() {
            "."
        } else {
            &self.build_dir
        }
    }
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
            runtime: self.runtime.clone(),
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
        match &self.build {
            Some(b) => {
                check_build(b, node, &mut d);
                if !self.image.is_empty() {
                    d.push(
                        Diagnostic::error("image and build cannot be used together")
                            .at_opt(node.span_of("image"))
                            .with_help("build makes the image the container starts from; remove image"),
                    );
                }
                if self.pull.is_some() {
                    warnings.push(
                        Diagnostic::warning("pull does nothing with build")
                            .at_opt(node.span_of("pull"))
                            .with_help("set \"pull\" inside build (true by default) to pull the Dockerfile's FROM images"),
                    );
                }
            }
            None if self.image.trim().is_empty() => d.push(
                Diagnostic::error("the docker builder needs an image")
                    .at_opt(node.span_of("image"))
                    .with_help("add \"image\": the image to start the container from, e.g. \"debian:bookworm\" (or \"build\" with a Dockerfile)"),
            ),
            None => {}
        }
        if node.get("docker_path").is_some() {
            warnings.push(
                Diagnostic::warning("docker_path is not used: kiln talks to the Docker Engine API, not a docker program")
                    .at_opt(node.span_of("docker_path"))
                    .with_help("remove docker_path; to reach another engine (podman's service, say) set DOCKER_HOST, e.g. unix:///run/podman/podman.sock"),
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
        if !self.image.trim().is_empty() || self.build.is_some() {
            // With `build`, `{{.Image}}` is the built image's ID, known only then.
            let probe = match &self.build {
                Some(_) if self.image.is_empty() => Config { image: "sha256:built".into(), ..self.clone() },
                _ => self.clone(),
            };
            match probe.run_spec(Some("/tmp/kiln-check")).and_then(|s| s.to_request().map_err(|e| e.to_string())) {
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

/// `build`'s own checks: a Dockerfile that is a file, a context that is a folder.
fn check_build(b: &BuildConfig, node: &Node, d: &mut Diagnostics) {
    let at = |key: &str| node.get("build").and_then(|n| n.span_of(key)).or(node.span_of("build"));
    if b.path.is_empty() {
        d.push(
            Diagnostic::error("build needs path: the Dockerfile to build the image from")
                .at_opt(at("path"))
                .with_help("add \"path\": \"Dockerfile\" (relative to where kiln runs)"),
        );
    } else if !std::path::Path::new(&b.path).is_file() {
        d.push(
            Diagnostic::error(format!("build path {:?} is not a file", b.path))
                .at_opt(at("path"))
                .with_help("name the Dockerfile, relative to where kiln runs"),
        );
    }
    if !std::path::Path::new(b.build_dir()).is_dir() {
        d.push(
            Diagnostic::error(format!("build_dir {:?} is not a folder", b.build_dir()))
                .at_opt(at("build_dir"))
                .with_help("name the build context's folder (the Dockerfile's COPY and ADD read from it)"),
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The warnings `check` gives for a builder object, each with its line.
    fn warnings(json: &str) -> Vec<(String, usize)> {
        let node = kiln_template::testing::json_node("t.json", json).unwrap();
        let (c, comm): (Config, kiln_comm::Config) =
            kiln_config::decode::decode_split(&node, "the \"docker\" builder").unwrap();
        let w = c.check(&node, &with_default_communicator(comm)).unwrap();
        w.iter().map(|d| (d.summary.clone(), d.span.as_ref().map_or(0, |s| s.line_col().0))).collect()
    }

    #[test]
    fn later_packers_options_that_kiln_does_not_use_are_warnings_at_their_line() {
        assert_eq!(
            warnings("{\"image\": \"x\", \"commit\": true,\n \"docker_path\": \"podman\"}"),
            [("docker_path is not used: kiln talks to the Docker Engine API, not a docker program".to_string(), 2)]
        );
        assert_eq!(
            warnings("{\"commit\": true, \"build\": {\"path\": \"Cargo.toml\"},\n \"pull\": true}"),
            [("pull does nothing with build".to_string(), 2)]
        );
        assert_eq!(
            warnings("{\"image\": \"x\", \"commit\": true,\n \"aws_force_use_public_ecr\": true}"),
            [("aws_force_use_public_ecr does nothing without ecr_login".to_string(), 2)]
        );
        let node = kiln_template::testing::json_node("t.json", r#"{"commit": true, "runtime": "runsc", "build": {"path": "Cargo.toml", "arguments": {"A": "1"}, "compress": true}}"#).unwrap();
        let (c, _): (Config, kiln_comm::Config) = kiln_config::decode::decode_split(&node, "x").unwrap();
        let b = c.build.as_ref().unwrap();
        assert_eq!((b.build_dir(), b.pull, b.compress, b.arguments.len()), (".", None, true, 1));
        assert_eq!(c.run_spec(None).map(|s| s.runtime), Ok(Some("runsc".to_string())));
    }
}
