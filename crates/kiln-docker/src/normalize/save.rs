//! Rewriting a `docker save` archive into its canonical form.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::tarball::normalize_tar_stream;
use super::{rfc3339, Mtime};

/// Rewrites the `docker save` archive `input` into `output` so that images with the
/// same files and settings give the same bytes: each layer normalised as by
/// [`super::normalize_tar`], each config's times set to the policy's time and its
/// container ID dropped, digests and names recomputed to match. The output holds
/// `manifest.json`, `<sha256>.json` configs and `<sha256>.tar` layers, which
/// `docker load` and `podman load` read; the legacy per-layer directories and the
/// `repositories` file are left out. Returns the new image IDs (`sha256:…`).
pub fn normalize_save(input: &Path, output: &Path, mtime: Mtime) -> io::Result<Vec<String>> {
    let tmp = output.with_extension("normalizing");
    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let result = rewrite(input, &tmp, dir, mtime).and_then(|ids| {
        std::fs::rename(&tmp, output)?;
        Ok(ids)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn rewrite(input: &Path, tmp: &Path, scratch: &Path, mtime: Mtime) -> io::Result<Vec<String>> {
    let mut src = File::open(input)?;
    // Index the archive: name → (offset, size).
    let mut index: HashMap<String, (u64, u64)> = HashMap::new();
    {
        let mut archive = tar::Archive::new(&mut src);
        for entry in archive.entries_with_seek()? {
            let entry = entry?;
            if entry.header().entry_type().is_file() {
                let name = String::from_utf8_lossy(&entry.path_bytes()).trim_start_matches("./").to_string();
                index.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
    }
    let read_member = |src: &mut File, name: &str| -> io::Result<Vec<u8>> {
        let &(off, size) = index.get(name).ok_or_else(|| bad(format!("the archive has no {name}")))?;
        src.seek(SeekFrom::Start(off))?;
        let mut data = Vec::with_capacity(size as usize);
        (&mut *src).take(size).read_to_end(&mut data)?;
        Ok(data)
    };
    let manifest: Value = serde_json::from_slice(&read_member(&mut src, "manifest.json")?)
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    let images = manifest.as_array().ok_or_else(|| bad("manifest.json is not a list"))?;

    let mut out = tar::Builder::new(BufWriter::with_capacity(1 << 20, File::create(tmp)?));
    // Each layer once, even when several images share it: old name → (digest, size).
    let mut layers: BTreeMap<String, String> = BTreeMap::new();
    let mut new_manifest = Vec::new();
    let mut ids = Vec::new();
    for image in images {
        let config_name = image["Config"].as_str().ok_or_else(|| bad("a manifest entry has no Config"))?;
        let mut new_layers = Vec::new();
        let mut diff_ids = Vec::new();
        for layer in image["Layers"].as_array().into_iter().flatten() {
            let name = layer.as_str().ok_or_else(|| bad("a layer name is not text"))?;
            let digest = match layers.get(name) {
                Some(d) => d.clone(),
                None => {
                    let d = copy_layer(&mut src, &index, name, scratch, &mut out, mtime)?;
                    layers.insert(name.to_string(), d.clone());
                    d
                }
            };
            diff_ids.push(Value::String(format!("sha256:{digest}")));
            new_layers.push(Value::String(format!("{digest}.tar")));
        }
        let mut config: Value = serde_json::from_slice(&read_member(&mut src, config_name)?)
            .map_err(|e| bad(format!("{config_name}: {e}")))?;
        canonical_config(&mut config, diff_ids, mtime);
        let config_bytes = serde_json::to_vec(&config).map_err(io::Error::other)?;
        let config_digest = hex(&Sha256::digest(&config_bytes));
        append_bytes(&mut out, &format!("{config_digest}.json"), &config_bytes, mtime)?;
        ids.push(format!("sha256:{config_digest}"));
        let mut entry = serde_json::Map::new();
        entry.insert("Config".into(), Value::String(format!("{config_digest}.json")));
        entry.insert("RepoTags".into(), image.get("RepoTags").cloned().unwrap_or(Value::Null));
        entry.insert("Layers".into(), Value::Array(new_layers));
        new_manifest.push(Value::Object(entry));
    }
    let manifest_bytes = serde_json::to_vec(&Value::Array(new_manifest)).map_err(io::Error::other)?;
    append_bytes(&mut out, "manifest.json", &manifest_bytes, mtime)?;
    let mut writer = out.into_inner()?;
    writer.flush()?;
    writer.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(ids)
}

/// Normalises one layer into a scratch file, hashing it, and appends it to `out`
/// as `<sha256>.tar`. Returns the digest (hex).
fn copy_layer<W: Write>(
    src: &mut File,
    index: &HashMap<String, (u64, u64)>,
    name: &str,
    scratch: &Path,
    out: &mut tar::Builder<W>,
    mtime: Mtime,
) -> io::Result<String> {
    let &(off, size) = index.get(name).ok_or_else(|| bad(format!("the archive has no layer {name}")))?;
    src.seek(SeekFrom::Start(off))?;
    let mut magic = [0u8; 2];
    src.read_exact(&mut magic)?;
    if magic == [0x1f, 0x8b] {
        return Err(bad(format!("layer {name} is compressed; only plain tar layers are supported")));
    }
    // The layer is read through a window on the outer archive, so nothing is copied
    // before it is normalised.
    let mut window = io::BufReader::with_capacity(1 << 20, Window::new(src.try_clone()?, off, size));
    let mut layer_out = tempfile_in(scratch)?;
    {
        let hashing = HashingWriter::new(BufWriter::with_capacity(1 << 20, &mut layer_out.1));
        let mut hashing = hashing;
        normalize_tar_stream(&mut window, &mut hashing, mtime)?;
        hashing.inner.flush()?;
        layer_out.2 = hex(&hashing.hash.finalize_reset());
    }
    let (path, mut file, digest) = layer_out;
    let result = (|| {
        let len = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        let mut h = entry_header(len, mtime);
        out.append_data(&mut h, format!("{digest}.tar"), &mut file)
    })();
    let _ = std::fs::remove_file(&path);
    result.map(|()| digest)
}

fn tempfile_in(dir: &Path) -> io::Result<(std::path::PathBuf, File, String)> {
    for n in 0..1000u32 {
        let path = dir.join(format!(".kiln-layer-{}-{n}.tar", std::process::id()));
        match std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f, String::new())),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free scratch file name"))
}

/// Drops what differs between two commits of the same files: times, the container
/// it came from, the container's host name; sets the layer digests.
fn canonical_config(config: &mut Value, diff_ids: Vec<Value>, mtime: Mtime) {
    let time = Value::String(rfc3339(mtime.time()));
    if let Some(obj) = config.as_object_mut() {
        obj.insert("created".into(), time.clone());
        obj.remove("container");
        for key in ["config", "container_config"] {
            if let Some(c) = obj.get_mut(key).and_then(Value::as_object_mut) {
                if c.contains_key("Hostname") {
                    c.insert("Hostname".into(), Value::String(String::new()));
                }
                if let Some(env) = c.get_mut("Env").and_then(Value::as_array_mut) {
                    sort_env(env);
                }
            }
        }
        if let Some(history) = obj.get_mut("history").and_then(Value::as_array_mut) {
            for h in history.iter_mut().filter_map(Value::as_object_mut) {
                if h.contains_key("created") {
                    h.insert("created".into(), time.clone());
                }
            }
        }
        let rootfs = obj.entry("rootfs").or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(r) = rootfs.as_object_mut() {
            r.insert("type".into(), Value::String("layers".into()));
            r.insert("diff_ids".into(), Value::Array(diff_ids));
        }
    }
}

/// podman writes a commit's environment from a map, in random order. Sorted by name
/// (the last of duplicate names kept, as it is the one that applies) it means the same.
fn sort_env(env: &mut Vec<Value>) {
    let mut by_name: BTreeMap<String, Value> = BTreeMap::new();
    for v in env.drain(..) {
        let name = v.as_str().map(|s| s.split_once('=').map_or(s, |(k, _)| k).to_string()).unwrap_or_default();
        by_name.insert(name, v);
    }
    env.extend(by_name.into_values());
}

fn entry_header(size: u64, mtime: Mtime) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime.time());
    h.set_size(size);
    h
}

fn append_bytes<W: Write>(out: &mut tar::Builder<W>, name: &str, data: &[u8], mtime: Mtime) -> io::Result<()> {
    let mut h = entry_header(data.len() as u64, mtime);
    out.append_data(&mut h, name, data)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A seekable view of `len` bytes at `start` in a file.
struct Window {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
}

impl Window {
    fn new(file: File, start: u64, len: u64) -> Self {
        Window { file, start, len, pos: 0 }
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        self.file.seek(SeekFrom::Start(self.start + self.pos))?;
        let n = self.file.read(&mut buf[..want])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
        };
        if new < 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter { inner, hash: Sha256::new() }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
