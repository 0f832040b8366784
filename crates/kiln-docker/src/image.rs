//! Images: pull, commit, import, tag, push, save, inspect, remove.

use std::fmt;
use std::path::Path;

use bollard::auth::DockerCredentials;
use bollard::models::{ContainerConfig, ImageInspect};
use bollard::query_parameters::{
    CommitContainerOptions, CreateImageOptions, ImportImageOptions, PushImageOptions, RemoveImageOptions,
    TagImageOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

use crate::changes::canonical_changes;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stream::{file_stream, stream_to_file};

/// Credentials for a registry (Packer's `login_server`, `login_username`,
/// `login_password`). The password never appears in `Debug` output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The registry, e.g. `registry.example.com:5000`; empty for Docker Hub.
    pub server: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<sensitive>")
            .finish()
    }
}

impl RegistryAuth {
    pub(crate) fn credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: (!self.server.is_empty()).then(|| self.server.clone()),
            ..DockerCredentials::default()
        }
    }
}

/// What a commit records besides the filesystem (Packer's `changes`, `author`, `message`).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// Dockerfile instructions: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER,
    /// VOLUME, WORKDIR, …
    pub changes: Vec<String>,
    /// The image's author.
    pub author: Option<String>,
    /// The commit message.
    pub message: Option<String>,
    /// `repo[:tag]` to name the image; unnamed when None.
    pub reference: Option<String>,
}

/// An image reference split the way the Engine API wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `registry/path/name`.
    pub repository: String,
    /// The tag, or a digest (`sha256:…`) when the reference pins one.
    pub tag: String,
}

impl ImageRef {
    /// Splits `name[:tag][@digest]`; a reference without a tag means `latest`, as in
    /// the docker CLI (an empty tag would pull or push every tag).
    pub fn parse(reference: &str) -> Result<ImageRef> {
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().any(char::is_whitespace) {
            return Err(Error::Invalid(format!(
                "{reference:?} is not an image reference (expected name[:tag], e.g. debian:bookworm)"
            )));
        }
        if let Some((repo, digest)) = reference.split_once('@') {
            let repo = match repo.rsplit_once(':') {
                Some((r, t)) if !t.contains('/') => r,
                _ => repo,
            };
            return Ok(ImageRef { repository: repo.to_string(), tag: digest.to_string() });
        }
        match reference.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') && !repo.is_empty() && !tag.is_empty() => {
                Ok(ImageRef { repository: repo.to_string(), tag: tag.to_string() })
            }
            _ => Ok(ImageRef { repository: reference.to_string(), tag: "latest".to_string() }),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tag.contains(':') {
            write!(f, "{}@{}", self.repository, self.tag)
        } else {
            write!(f, "{}:{}", self.repository, self.tag)
        }
    }
}

/// A client whose requests carry each `changes` line as its own query parameter.
/// bollard joins them with newlines into one; podman's import then reads the whole
/// block as a single change.
fn split_changes(docker: &Docker) -> Docker {
    docker.clone().with_request_modifier(|mut req| {
        let uri = req.uri().to_string();
        if let Some((base, query)) = uri.split_once('?') {
            let rewritten: Vec<String> = query
                .split('&')
                .flat_map(|pair| match pair.strip_prefix("changes=") {
                    Some(v) => v.split("%0A").map(|line| format!("changes={line}")).collect::<Vec<_>>(),
                    None => vec![pair.to_string()],
                })
                .collect();
            if let Ok(new) = format!("{base}?{}", rewritten.join("&")).parse() {
                *req.uri_mut() = new;
            }
        }
        req
    })
}

impl Engine {
    /// Pulls `reference` (`:latest` when it has no tag), for `platform` (`os/arch`,
    /// the engine's own when None), passing each progress line to `progress`.
    pub async fn pull(
        &self,
        reference: &str,
        platform: Option<&str>,
        auth: Option<&RegistryAuth>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let image = ImageRef::parse(reference)?;
        let options = CreateImageOptions {
            from_image: Some(image.to_string()),
            platform: platform.unwrap_or_default().to_string(),
            ..CreateImageOptions::default()
        };
        let action = format!("pulling {image}");
        let mut stream = self.long.create_image(Some(options), None, auth.map(RegistryAuth::credentials));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::engine(&action, e))?;
            if let Some(status) = info.status {
                progress(&status);
            }
        }
        Ok(())
    }

    /// Commits a container to a new image and returns its ID (`sha256:…`).
    pub async fn commit(&self, container: &str, options: &CommitOptions) -> Result<String> {
        let changes = canonical_changes(&options.changes)?;
        let (repo, tag) = match &options.reference {
            Some(r) => {
                let r = ImageRef::parse(r)?;
                (Some(r.repository), Some(r.tag))
            }
            None => (None, None),
        };
        let query = CommitContainerOptions {
            container: Some(container.to_string()),
            repo,
            tag,
            comment: options.message.clone(),
            author: options.author.clone(),
            pause: true,
            changes: (!changes.is_empty()).then(|| changes.join("\n")),
        };
        // bollard sends the (empty) container config as a JSON body. Docker CLI 23+
        // sends no body at all, which podman 4.3 rejects with "Decode(): EOF".
        let id = split_changes(&self.long)
            .commit_container(query, ContainerConfig::default())
            .await
            .map_err(|e| Error::engine(format!("committing container {container}"), e))?
            .id;
        Ok(with_sha256(id))
    }

    /// Imports a filesystem tarball (`docker import`) and returns the new image's ID.
    /// `reference` names it (`repo[:tag]`); `changes` as for commit; `platform`
    /// (`os[/arch[/variant]]`) is recorded in the image, the engine's own when None.
    pub async fn import(
        &self,
        tarball: &Path,
        reference: Option<&str>,
        changes: &[String],
        message: Option<&str>,
        platform: Option<&str>,
    ) -> Result<String> {
        let changes = canonical_changes(changes)?;
        let repo = reference.map(ImageRef::parse).transpose()?;
        let body = bollard::body_try_stream(
            file_stream(tarball).await.map_err(|e| Error::io(format!("reading {}", tarball.display()), e))?,
        );
        let options = CreateImageOptions {
            from_src: Some("-".into()),
            // The full reference goes in `repo`, as the docker CLI sends it: podman 4.3
            // ignores a separate `tag` on import.
            repo: repo.as_ref().map(ToString::to_string),
            message: message.map(str::to_string),
            changes,
            platform: platform.unwrap_or_default().to_string(),
            ..CreateImageOptions::default()
        };
        let action = format!("importing {}", tarball.display());
        let mut stream = split_changes(&self.long).create_image(Some(options), Some(body), None);
        let mut id = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::engine(&action, e))?;
            // Docker ends with {"status":"sha256:…"}; podman also sets "id".
            for v in [info.id, info.status].into_iter().flatten() {
                if v.starts_with("sha256:") {
                    id = Some(v);
                }
            }
        }
        id.ok_or_else(|| Error::Protocol(format!("{action}: the engine did not say the new image's ID")))
    }

    /// Tags `image` (name or ID) as `reference` (`repo[:tag]`).
    pub async fn tag(&self, image: &str, reference: &str) -> Result<()> {
        let r = ImageRef::parse(reference)?;
        let options = TagImageOptions { repo: Some(r.repository.clone()), tag: Some(r.tag.clone()) };
        self.api.tag_image(image, Some(options)).await.map_err(|e| Error::engine(format!("tagging {image} as {r}"), e))
    }

    /// Pushes `reference` (`:latest` when it has no tag) to its registry.
    pub async fn push(
        &self,
        reference: &str,
        auth: Option<&RegistryAuth>,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let r = ImageRef::parse(reference)?;
        let options = PushImageOptions { tag: Some(r.tag.clone()), ..PushImageOptions::default() };
        let action = format!("pushing {r}");
        let mut stream = self.long.push_image(&r.repository, Some(options), auth.map(RegistryAuth::credentials));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::engine(&action, e))?;
            if let Some(status) = info.status {
                progress(&status);
            }
        }
        Ok(())
    }

    /// Writes `images` (names or IDs) to a `docker save` archive at `dest`; returns its size.
    pub async fn save(&self, images: &[&str], dest: &Path) -> Result<u64> {
        let action = format!("saving {} to {}", images.join(" "), dest.display());
        stream_to_file(self.long.export_images(images), dest, &action).await
    }

    /// Loads a `docker save` archive (`docker load`); returns the engine's report
    /// lines (e.g. "Loaded image: …").
    pub async fn load(&self, archive: &Path) -> Result<Vec<String>> {
        let body = bollard::body_try_stream(
            file_stream(archive).await.map_err(|e| Error::io(format!("reading {}", archive.display()), e))?,
        );
        let action = format!("loading {}", archive.display());
        let options = ImportImageOptions { quiet: true, ..ImportImageOptions::default() };
        let mut stream = self.long.import_image(options, body, None);
        let mut report = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| Error::engine(&action, e))?;
            report.extend(info.stream.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
        }
        Ok(report)
    }

    /// The engine's description of an image.
    pub async fn inspect_image(&self, image: &str) -> Result<ImageInspect> {
        self.api.inspect_image(image).await.map_err(|e| Error::engine(format!("inspecting image {image}"), e))
    }

    /// Whether the engine has `image` (name or ID).
    pub async fn image_exists(&self, image: &str) -> Result<bool> {
        match self.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes an image (force: also when tagged several times). Removing an image
    /// that is already gone is not an error.
    pub async fn remove_image(&self, image: &str, force: bool) -> Result<()> {
        let options = RemoveImageOptions { force, noprune: false, ..RemoveImageOptions::default() };
        match self.api.remove_image(image, Some(options), None).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = Error::engine(format!("removing image {image}"), e);
                if err.is_not_found() {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

fn with_sha256(id: String) -> String {
    if id.starts_with("sha256:") {
        id
    } else {
        format!("sha256:{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let cases = [
            ("debian", "debian", "latest"),
            ("debian:bookworm", "debian", "bookworm"),
            ("127.0.0.1:5000/kiln/app", "127.0.0.1:5000/kiln/app", "latest"),
            ("127.0.0.1:5000/kiln/app:v1", "127.0.0.1:5000/kiln/app", "v1"),
            ("debian@sha256:abcd", "debian", "sha256:abcd"),
            ("debian:12@sha256:abcd", "debian", "sha256:abcd"),
        ];
        for (input, repo, tag) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!((r.repository.as_str(), r.tag.as_str()), (repo, tag), "{input}");
        }
        assert_eq!(ImageRef::parse("debian@sha256:ab").unwrap().to_string(), "debian@sha256:ab");
        assert!(ImageRef::parse("").is_err());
        assert!(ImageRef::parse("a b").is_err());
    }

    #[test]
    fn auth_debug_hides_the_password() {
        let auth = RegistryAuth { server: "r:5000".into(), username: "u".into(), password: "hunter2".into() };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
