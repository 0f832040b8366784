//! `checksum`: writes checksums of the artifact's files, every requested type computed in one
//! read of each file (the hashes run in parallel threads over each chunk).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_config::node::{Node, NodeKind};
use kiln_core::{
    async_trait, Artifact, BasicArtifact, BuildInfo, Error, PostProcessed, PostProcessor, Result, RunContext,
};
use serde::Deserialize;
use sha2::digest::DynDigest;

pub const BUILDER_ID: &str = "packer.post-processor.checksum";
pub const TYPES: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];
const DEFAULT_OUTPUT: &str = "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum";

/// Options of `checksum`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Which checksums: md5 (default), sha1, sha224, sha256, sha384, sha512.
    #[serde(default)]
    pub checksum_types: Vec<String>,
    /// The checksum file for each type; `{{.BuildName}}`, `{{.BuilderType}}` and
    /// `{{.ChecksumType}}` are replaced (default
    /// `packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum`).
    #[serde(default)]
    pub output: Option<String>,
}

#[derive(Default)]
pub struct Checksum {
    config: Config,
}

pub fn new() -> Box<dyn PostProcessor> {
    Box::<Checksum>::default()
}

fn hasher(kind: &str) -> Option<Box<dyn DynDigest + Send>> {
    Some(match kind {
        "md5" => Box::new(md5::Md5::default()),
        "sha1" => Box::new(sha1::Sha1::default()),
        "sha224" => Box::new(sha2::Sha224::default()),
        "sha256" => Box::new(sha2::Sha256::default()),
        "sha384" => Box::new(sha2::Sha384::default()),
        "sha512" => Box::new(sha2::Sha512::default()),
        _ => return None,
    })
}

/// Hex digests of `path`, one per kind, reading the file once.
///
/// A reader thread hands each chunk to one thread per hash type through small bounded queues,
/// so the hashes run side by side without waiting for each other at every chunk, and reading
/// overlaps hashing.
pub fn hash_file(path: &Path, kinds: &[String]) -> std::io::Result<Vec<String>> {
    let hashers: Vec<Box<dyn DynDigest + Send>> = kinds.iter().filter_map(|k| hasher(k)).collect();
    let mut f = std::fs::File::open(path)?;
    if hashers.len() == 1 {
        let mut h = hashers.into_iter().next().map(Ok).unwrap_or_else(|| Err(std::io::ErrorKind::InvalidInput))?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = read_full(&mut f, &mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        return Ok(vec![hex(&h.finalize())]);
    }
    std::thread::scope(|s| {
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for mut h in hashers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(QUEUE);
            senders.push(tx);
            workers.push(s.spawn(move || {
                for chunk in rx {
                    h.update(&chunk);
                }
                hex(&h.finalize())
            }));
        }
        let read = (|| -> std::io::Result<()> {
            // Chunks in flight, oldest first: one every worker has finished is read into again,
            // so a file costs about QUEUE + 2 buffers, not one allocation per chunk.
            let mut in_flight: std::collections::VecDeque<Arc<Vec<u8>>> = std::collections::VecDeque::new();
            loop {
                let mut buf = match in_flight.front().map(Arc::strong_count) {
                    Some(1) => in_flight.pop_front().and_then(|c| Arc::try_unwrap(c).ok()).unwrap_or_default(),
                    _ => Vec::new(),
                };
                buf.resize(CHUNK, 0);
                let n = read_full(&mut f, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                let chunk = Arc::new(buf);
                for tx in &senders {
                    // A worker only stops early by panicking, which the join below reports.
                    let _ = tx.send(Arc::clone(&chunk));
                }
                in_flight.push_back(chunk);
            }
        })();
        drop(senders);
        let sums: Vec<String> = workers.into_iter().map(|w| w.join().unwrap_or_else(|_| String::new())).collect();
        read?;
        if sums.iter().any(String::is_empty) {
            return Err(std::io::Error::other("a checksum thread failed"));
        }
        Ok(sums)
    })
}

/// Bytes per read; several chunks in flight per hash keep both cores busy.
const CHUNK: usize = 1 << 20;
const QUEUE: usize = 8;

/// Fills `buf` as far as the file allows; 0 at the end.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait]
impl PostProcessor for Checksum {
    fn configure(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let mut c: Config = kiln_config::decode::decode_component(config, "the \"checksum\" post-processor")?;
        let mut d = Diagnostics::new();
        for (i, t) in c.checksum_types.iter().enumerate() {
            if !TYPES.contains(&t.as_str()) {
                let span = config
                    .get("checksum_types")
                    .and_then(|n| match &n.kind {
                        NodeKind::Array(items) => items.get(i).and_then(|x| x.span.clone()),
                        _ => n.span.clone(),
                    })
                    .or(config.span.clone());
                let mut e = Diagnostic::error(format!("unknown checksum type {t:?}"))
                    .at_opt(span)
                    .with_detail(format!("the checksum types are: {}", TYPES.join(", ")));
                if let Some(s) = did_you_mean(t, TYPES.iter().copied()) {
                    e = e.with_help(format!("did you mean {s:?}?"));
                }
                d.push(e);
            }
        }
        d.into_result()?;
        if c.checksum_types.is_empty() {
            c.checksum_types = vec!["md5".into()];
        }
        self.config = c;
        Ok(Vec::new())
    }

    async fn post_process(&self, ctx: &RunContext, artifact: Arc<dyn Artifact>) -> Result<PostProcessed> {
        let kinds = self.config.checksum_types.clone();
        let template = self.config.output.clone().unwrap_or_else(|| DEFAULT_OUTPUT.to_string());
        let mut outputs = Vec::new();
        for k in &kinds {
            let mut data = crate::template_data(&ctx.info);
            data.insert("ChecksumType".into(), k.clone());
            outputs.push(kiln_core::late::render(&template, &data)?);
        }
        let files = artifact.files();
        if files.is_empty() {
            // Nothing to sum: Packer writes no checksum file then either.
            outputs.clear();
        }
        let (f2, o2) = (files.clone(), outputs.clone());
        tokio::task::spawn_blocking(move || write_checksums(&f2, &kinds, &o2))
            .await
            .map_err(|e| Error::new(e.to_string()))??;
        let mut all = files;
        for o in outputs {
            if !all.contains(&o) {
                all.push(o);
            }
        }
        let a = BasicArtifact {
            builder_id: BUILDER_ID.into(),
            description: crate::files_description(&all),
            files: all,
            ..BasicArtifact::default()
        };
        Ok(PostProcessed { artifact: Some(Arc::new(a)), keep: true, force_keep: false })
    }
}

/// Appends `<hex>\t<file name>` lines for each file to each type's output file.
///
/// "Appends" as Packer does, but safely: the new file (the old lines, then the new ones) is
/// written beside it and renamed over it, under a lock on its folder, so parallel builds never
/// lose each other's lines, a symlink at the output is replaced rather than written through, and
/// an output that is one of the files being summed is refused.
fn write_checksums(files: &[String], kinds: &[String], outputs: &[String]) -> Result<()> {
    let mut sums = Vec::new();
    for file in files {
        let s = hash_file(Path::new(file), kinds).map_err(|e| Error::new(format!("reading {file}: {e}")))?;
        let name = Path::new(file).file_name().map_or_else(|| file.clone(), |n| n.to_string_lossy().into_owned());
        sums.push((name, s));
    }
    for (i, o) in outputs.iter().enumerate() {
        let p = Path::new(o);
        if let Some(parent) = p.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let _lock = kiln_core::output::FolderLock::acquire(p)?;
        let mut out = kiln_core::output::OutputFile::create(p, true, files)?;
        // Only a regular file's lines are kept; a symlink is replaced, not read through.
        if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()) {
            let old = std::fs::read(p).map_err(|e| Error::new(format!("reading checksum file {o}: {e}")))?;
            out.file().write_all(&old)?;
        }
        for (name, s) in &sums {
            if let Some(sum) = s.get(i) {
                writeln!(out.file(), "{sum}\t{name}")?;
            }
        }
        out.commit(0o644)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_six_in_one_pass() {
        let d = kiln_testing::TempDir::new("checksum");
        let dir = &d.0;
        let f = dir.join("hello");
        std::fs::write(&f, "hello").unwrap();
        let kinds: Vec<String> = TYPES.iter().map(|s| s.to_string()).collect();
        let sums = hash_file(&f, &kinds).unwrap();
        assert_eq!(sums[0], "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(sums[1], "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d");
        assert_eq!(sums[3], "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(sums[5].len(), 128);
        let out = dir.join("out.md5").to_string_lossy().into_owned();
        write_checksums(&[f.to_string_lossy().into_owned()], &kinds[..1], std::slice::from_ref(&out)).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "5d41402abc4b2a76b9719d911017c592\thello\n");
    }

    #[test]
    fn files_of_many_chunks_hash_like_one_shot_digests() {
        use sha2::Digest;
        let d = kiln_testing::TempDir::new("checksum-big");
        let dir = &d.0;
        let f = dir.join("big");
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i * 31 % 251) as u8).collect();
        std::fs::write(&f, &data).unwrap();
        let kinds: Vec<String> = TYPES.iter().map(|s| s.to_string()).collect();
        let sums = hash_file(&f, &kinds).unwrap();
        assert_eq!(sums[0], hex(&md5::Md5::digest(&data)));
        assert_eq!(sums[1], hex(&sha1::Sha1::digest(&data)));
        assert_eq!(sums[2], hex(&sha2::Sha224::digest(&data)));
        assert_eq!(sums[3], hex(&sha2::Sha256::digest(&data)));
        assert_eq!(sums[4], hex(&sha2::Sha384::digest(&data)));
        assert_eq!(sums[5], hex(&sha2::Sha512::digest(&data)));
        assert_eq!(hash_file(&f, &kinds[3..4]).unwrap(), vec![sums[3].clone()]);
    }

    #[test]
    fn unknown_type_is_pointed_at() {
        let n = kiln_template::testing::json_node("t.json", r#"{"checksum_types":["md5","sha265"]}"#).unwrap();
        let e = Checksum::default().configure(&n, &BuildInfo::default()).unwrap_err();
        assert_eq!(e.0[0].summary, "unknown checksum type \"sha265\"");
        assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"sha256\"?"));
        assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 26));
    }
}
