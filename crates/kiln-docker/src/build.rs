//! Building an image from a Dockerfile (`POST /build`, the docker builder's `build`): the
//! context folder goes to the engine as a tar stream, less what its `.dockerignore` excludes,
//! the Dockerfile always with it (under a name of its own when it lies outside the context), as
//! the docker CLI sends them. Entries are sorted and owned by root, so the same folder makes the
//! same context.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::Path;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::dockerignore::DockerIgnore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::image::RegistryAuth;
use crate::stream::{channel_stream, ChannelWriter};
use crate::transfer::{Exclude, Tree};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// The Dockerfile on this machine.
    pub dockerfile: &'a Path,
    /// The context folder.
    pub context: &'a Path,
    /// `--build-arg`s.
    pub args: &'a BTreeMap<String, String>,
    /// Pull newer versions of the `FROM` images (`--pull`).
    pub pull: bool,
    /// Send the context gzip-compressed.
    pub compress: bool,
    /// `os/arch` to build for; the engine's own when None.
    pub platform: Option<&'a str>,
    /// Credentials for the registry of the `FROM` images.
    pub auth: Option<&'a RegistryAuth>,
}

/// Where the Dockerfile goes in the context: its path inside the context folder, or a name of
/// its own when it lies outside (then it is added under that name). The name is the same for
/// the same file from build to build, so the context stays the same.
fn dockerfile_name(dockerfile: &Path, context: &Path) -> io::Result<(String, bool)> {
    use sha2::Digest;
    let file = std::fs::canonicalize(dockerfile)?;
    let root = std::fs::canonicalize(context)?;
    match file.strip_prefix(&root) {
        Ok(rel) => Ok((rel.to_string_lossy().into_owned(), false)),
        Err(_) => {
            let digest = sha2::Sha256::digest(file.to_string_lossy().as_bytes());
            let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Ok((format!(".kiln-dockerfile-{tag}"), true))
        }
    }
}

/// Writes the context of `req` as a tar to `out`: the folder less `ignore`, then the Dockerfile
/// (and `.dockerignore`) when they are not in it already. A Dockerfile from outside is also
/// named in the context's `.dockerignore` (as the docker CLI does), so the engine reads it but
/// `COPY .` does not copy it into the image.
fn write_context<W: io::Write>(
    out: W,
    context: &Path,
    ignore: DockerIgnore,
    dockerfile: &Path,
    name: &str,
    outside: bool,
) -> io::Result<W> {
    let own = context.join(".dockerignore");
    // (metadata, name, bytes) of the entries added after the folder's.
    let mut extra: Vec<(std::fs::Metadata, String, Vec<u8>)> = Vec::new();
    if outside || ignore.excludes(name) {
        extra.push((std::fs::metadata(dockerfile)?, name.to_string(), std::fs::read(dockerfile)?));
    }
    // `.dockerignore` goes last, written anew when it must name the Dockerfile from outside.
    let own_exists = own.is_file();
    let rewrite = outside || (own_exists && ignore.excludes(".dockerignore"));
    if rewrite {
        let (meta, mut text) = match own_exists {
            true => (std::fs::metadata(&own)?, std::fs::read(&own)?),
            false => (std::fs::metadata(dockerfile)?, Vec::new()),
        };
        if outside {
            text.extend_from_slice(format!("\n{name}\n").as_bytes());
        }
        extra.push((meta, ".dockerignore".to_string(), text));
    }
    let mut ignore = ignore;
    if rewrite && own_exists {
        // The folder's own copy is replaced by the one above.
        ignore.add_exclusion(".dockerignore");
    }
    let skip = Exclude::Ignore(ignore);
    let tree = Tree { uid: 0, gid: 0, skip: &skip };
    let mut builder = tar::Builder::new(out);
    tree.append(&mut builder, context, Path::new(""), Path::new(""))?;
    for (meta, name, data) in extra {
        let mut header = tree.header(&meta);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, &name, &data[..])?;
    }
    builder.into_inner()
}

impl Engine {
    /// Builds the image `req` describes and returns its ID (`sha256:…`); each line of the
    /// build's output goes to `progress`. Intermediate containers are removed, also when a step
    /// fails.
    pub async fn build(&self, req: &BuildRequest<'_>, progress: &mut (dyn FnMut(&str) + Send)) -> Result<String> {
        let ignore = DockerIgnore::read(req.context).map_err(Error::Invalid)?;
        let (name, outside) = dockerfile_name(req.dockerfile, req.context)
            .map_err(|e| Error::io(format!("reading {} and {}", req.dockerfile.display(), req.context.display()), e))?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        let (context, dockerfile, file_name, compress) =
            (req.context.to_path_buf(), req.dockerfile.to_path_buf(), name.clone(), req.compress);
        let producer = tokio::task::spawn_blocking(move || {
            let err_tx = tx.clone();
            let result = (|| {
                let writer = ChannelWriter::new(tx);
                let mut writer = if compress {
                    let gz = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
                    write_context(gz, &context, ignore, &dockerfile, &file_name, outside)?.finish()?
                } else {
                    write_context(writer, &context, ignore, &dockerfile, &file_name, outside)?
                };
                io::Write::flush(&mut writer)
            })();
            if let Err(e) = &result {
                let _ = err_tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            result
        });
        let options = bollard::query_parameters::BuildImageOptions {
            dockerfile: name,
            pull: req.pull.then(|| "1".to_string()),
            rm: true,
            forcerm: true,
            buildargs: (!req.args.is_empty()).then(|| req.args.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            platform: req.platform.unwrap_or_default().to_string(),
            ..Default::default()
        };
        let credentials = req.auth.map(|a| HashMap::from([(a.server.clone(), a.credentials())]));
        let action = format!("building {} in {}", req.dockerfile.display(), req.context.display());
        let body = bollard::body_try_stream(channel_stream(rx));
        let build = async {
            let mut stream = self.long.build_image(options, credentials, Some(body));
            let mut id = None;
            let mut last_line = String::new();
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| Error::engine(&action, e))?;
                if let Some(detail) = info.error_detail {
                    let message = detail.message.unwrap_or_default();
                    return Err(Error::Protocol(format!("{action}: {message}")));
                }
                for line in info.stream.iter().chain(info.status.iter()).flat_map(|s| s.lines()) {
                    let line = line.trim_end();
                    if !line.is_empty() {
                        progress(line);
                        last_line = line.to_string();
                    }
                }
                if let Some(aux) = info.aux.and_then(|a| a.id) {
                    id = Some(aux);
                }
            }
            // Docker sends the ID as `aux`; podman's last line is the ID itself.
            id.or_else(|| image_id_in(&last_line))
                .ok_or_else(|| Error::Protocol(format!("{action}: the engine did not say which image it built")))
        };
        let (built, produced) =
            tokio::join!(build, async { producer.await.unwrap_or_else(|e| Err(io::Error::other(e.to_string()))) });
        // The context's own error says more than the engine's.
        produced.map_err(|e| Error::io(format!("sending the build context {}", req.context.display()), e))?;
        built
    }
}

/// An image ID in a build's last line: `Successfully built 0123abcd…` (Docker's classic
/// builder) or the bare 64-digit ID (podman).
fn image_id_in(line: &str) -> Option<String> {
    let word = line.strip_prefix("Successfully built ").unwrap_or(line).trim();
    let hex = word.strip_prefix("sha256:").unwrap_or(word);
    (hex.len() >= 12 && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tar: &[u8]) -> Vec<String> {
        let mut a = tar::Archive::new(tar);
        a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn the_context_leaves_out_what_dockerignore_says_but_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        for f in ["src/main.c", "src/main.o", "notes.md", "README.md", "Dockerfile", "secrets/key"] {
            let p = ctx.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        std::fs::write(ctx.join(".dockerignore"), "**/*.o\n*.md\n!README.md\nsecrets\nDockerfile\n.dockerignore\n")
            .unwrap();
        let ignore = DockerIgnore::read(&ctx).unwrap();
        let (name, outside) = dockerfile_name(&ctx.join("Dockerfile"), &ctx).unwrap();
        assert_eq!((name.as_str(), outside), ("Dockerfile", false));
        let tar = write_context(Vec::new(), &ctx, ignore, &ctx.join("Dockerfile"), &name, outside).unwrap();
        assert_eq!(names(&tar), ["README.md", "src", "src/main.c", "Dockerfile", ".dockerignore"]);
        // A Dockerfile outside the context goes in under a name of its own.
        std::fs::write(dir.path().join("Other.dockerfile"), "FROM x\n").unwrap();
        let (name, outside) = dockerfile_name(&dir.path().join("Other.dockerfile"), &ctx).unwrap();
        assert!(outside && name.starts_with(".kiln-dockerfile-"), "{name}");
        let tar = write_context(
            Vec::new(),
            &ctx,
            DockerIgnore::read(&ctx).unwrap(),
            &dir.path().join("Other.dockerfile"),
            &name,
            outside,
        )
        .unwrap();
        let n = names(&tar);
        assert_eq!(n.last(), Some(&".dockerignore".to_string()));
        assert_eq!(n[n.len() - 2], name);
        assert_eq!(n.iter().filter(|e| *e == ".dockerignore").count(), 1, "{n:?}");
        // The same file gets the same name next time, and the context's .dockerignore names it
        // (the engine reads it; `COPY .` leaves it out).
        assert_eq!(dockerfile_name(&dir.path().join("Other.dockerfile"), &ctx).unwrap().0, name);
        let mut a = tar::Archive::new(&tar[..]);
        let mut ignore_file = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().to_string_lossy() == ".dockerignore")
            .unwrap();
        let mut ignore_text = String::new();
        io::Read::read_to_string(&mut ignore_file, &mut ignore_text).unwrap();
        assert!(ignore_text.starts_with("**/*.o\n") && ignore_text.ends_with(&format!("\n{name}\n")), "{ignore_text}");
        let mut a = tar::Archive::new(&tar[..]);
        let mut e = a.entries().unwrap().find(|e| e.as_ref().unwrap().path().unwrap().to_string_lossy() == name);
        let mut text = String::new();
        io::Read::read_to_string(e.as_mut().unwrap().as_mut().unwrap(), &mut text).unwrap();
        assert_eq!(text, "FROM x\n");
    }

    #[test]
    fn image_ids_in_the_last_line() {
        let id = "a".repeat(64);
        assert_eq!(image_id_in(&id), Some(id.clone()));
        assert_eq!(image_id_in("Successfully built 0123456789ab"), Some("0123456789ab".into()));
        assert_eq!(image_id_in(&format!("sha256:{id}")), Some(id));
        assert_eq!(image_id_in("Step 3/3 : RUN true"), None);
        assert_eq!(image_id_in("cafe"), None);
    }
}
