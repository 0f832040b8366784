//! Files in and out of a container through the archive endpoints: tarballs built and
//! read on the fly, never staged on disk, modes kept.

use std::io;
use std::path::{Path, PathBuf};

use bollard::query_parameters::{DownloadFromContainerOptions, UploadToContainerOptions};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stream::{channel_stream, ChannelReader, ChannelWriter, CHUNK};

/// Metadata of an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission bits, setuid/setgid/sticky included (e.g. 0o644).
    pub mode: u32,
    /// Owner in the container.
    pub uid: u64,
    /// Group in the container.
    pub gid: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

impl FileMeta {
    /// Owned by root, as a file copied in by a root `cp` (Packer's way) would be.
    pub fn root(mode: u32, mtime: u64) -> FileMeta {
        FileMeta { mode, uid: 0, gid: 0, mtime }
    }
}

/// Where the archive endpoint should extract, and the entry name for `dst`.
/// Everything is extracted at `/` under the full path: the engine creates missing
/// parent directories (0755, root), and no entry ever rewrites an existing parent.
fn archive_name(dst: &str) -> Result<String> {
    let trimmed = dst.trim_start_matches('/');
    let clean: Vec<&str> = trimmed.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
    if clean.is_empty() || clean.contains(&"..") {
        return Err(Error::Invalid(format!(
            "upload destination {dst:?} must name a path inside the container (no \"..\")"
        )));
    }
    Ok(clean.join("/"))
}

impl Engine {
    /// Uploads `size` bytes read from `src` to the file `dst` in the container.
    /// Relative destinations are taken from `/`; missing directories are created.
    /// A source shorter or longer than `size` is an error; when that shows within
    /// the first chunk (256 KiB) nothing reaches the container, later the error
    /// says the destination may hold a part of it.
    pub async fn upload_file<R>(&self, container: &str, dst: &str, src: R, size: u64, meta: FileMeta) -> Result<()>
    where
        R: AsyncRead + Send + Unpin,
    {
        if dst.ends_with('/') {
            return Err(Error::Invalid(format!("upload destination {dst:?} ends with \"/\": name the file to write")));
        }
        let name = archive_name(dst)?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        set_meta(&mut header, meta);
        // tar's builder writes the header (with a GNU long-name entry when needed);
        // the data follows from the reader without passing through it.
        let mut head = tar::Builder::new(Vec::new());
        head.append_data(&mut header, &name, io::empty())
            .map_err(|e| Error::Invalid(format!("upload destination {dst:?}: {e}")))?;
        let head = head.into_inner().map_err(|e| Error::Invalid(format!("upload destination {dst:?}: {e}")))?;
        // into_inner appended the two end blocks; the header part is what precedes them.
        let head = Bytes::from(head[..head.len() - 1024].to_vec());

        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        // Run next to the request (not spawned), so `src` may borrow.
        let producer = async move {
            let result = async {
                let mut src = src;
                // The engine extracts as the archive arrives: once the header is sent the
                // file exists. So each chunk is read in full before it is sent, the header
                // with the first one: a source that ends early or runs long within it (the
                // usual wrong size) is refused with nothing written in the container.
                let mut header = Some(head);
                let mut sent = 0u64;
                loop {
                    let mut buf = Vec::with_capacity(CHUNK);
                    (&mut src).take(CHUNK as u64).read_to_end(&mut buf).await?;
                    sent += buf.len() as u64;
                    let last = buf.len() < CHUNK;
                    if sent > size || (last && sent != size) {
                        let what = if sent > size {
                            format!("the source holds more than the {size} bytes announced")
                        } else {
                            format!("the source ended after {sent} of {size} bytes")
                        };
                        let torn = if header.is_none() {
                            format!("; {dst} in the container may hold a part of it")
                        } else {
                            String::new()
                        };
                        return Err(io::Error::other(format!("{what}{torn}")));
                    }
                    if let Some(h) = header.take() {
                        tx.send(Ok(h)).await.map_err(|_| closed())?;
                    }
                    if !buf.is_empty() {
                        tx.send(Ok(Bytes::from(buf))).await.map_err(|_| closed())?;
                    }
                    if last {
                        break;
                    }
                }
                let pad = ((512 - size % 512) % 512) as usize + 1024;
                tx.send(Ok(Bytes::from(vec![0u8; pad]))).await.map_err(|_| closed())?;
                Ok(())
            }
            .await;
            if let Err(e) = &result {
                // Fail the request too, so the engine does not extract a torn archive.
                let _ = tx.send(Err(io::Error::new(e.kind(), e.to_string()))).await;
            }
            result
        };
        let action = format!("uploading to {dst} in container {container}");
        self.put_archive(container, rx, producer, &action).await
    }

    /// Uploads the local directory `src` into the container with Packer's rules:
    /// `src` without a trailing slash lands in `dst/<basename of src>`, with one its
    /// contents land in `dst`. Directories are created as needed; modes and mtimes
    /// are kept, ownership is `owner` (uid, gid), root by default. `exclude` lists
    /// paths relative to `src` to leave out (with everything under them).
    pub async fn upload_dir(
        &self,
        container: &str,
        src: &Path,
        dst: &str,
        owner: Option<(u64, u64)>,
        exclude: &[String],
    ) -> Result<()> {
        let meta = tokio::fs::metadata(src).await.map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::Invalid(format!("{} is not a directory", src.display())));
        }
        let contents_only = src.to_string_lossy().ends_with('/');
        let target = if contents_only {
            dst.to_string()
        } else {
            let base =
                src.file_name().ok_or_else(|| Error::Invalid(format!("{} has no directory name", src.display())))?;
            format!("{}/{}", dst.trim_end_matches('/'), base.to_string_lossy())
        };
        let root_name = archive_name(&target)?;
        let (uid, gid) = owner.unwrap_or((0, 0));
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        let src_owned = src.to_path_buf();
        let skip = Exclude::new(exclude);
        let producer = tokio::task::spawn_blocking(move || {
            let err_tx = tx.clone();
            let result = (|| {
                let mut builder = tar::Builder::new(ChannelWriter::new(tx));
                let tree = Tree { uid, gid, skip: &skip };
                if !contents_only {
                    // The folder itself, with its mode and the owner, as `cp -R` makes it.
                    let meta = std::fs::metadata(&src_owned)?;
                    tree.append_dir(&mut builder, &meta, Path::new(&root_name))?;
                }
                tree.append(&mut builder, &src_owned, Path::new(&root_name), Path::new(""))?;
                builder.into_inner()?.flush_all()
            })();
            if let Err(e) = &result {
                let _ = err_tx.blocking_send(Err(io::Error::new(e.kind(), e.to_string())));
            }
            result
        });
        let action = format!("uploading {} to {target} in container {container}", src.display());
        let producer = async { producer.await.unwrap_or_else(|e| Err(io::Error::other(e.to_string()))) };
        self.put_archive(container, rx, producer, &action).await
    }

    async fn put_archive(
        &self,
        container: &str,
        rx: mpsc::Receiver<io::Result<Bytes>>,
        producer: impl std::future::Future<Output = io::Result<()>>,
        action: &str,
    ) -> Result<()> {
        let options = UploadToContainerOptions { path: "/".into(), ..UploadToContainerOptions::default() };
        let request =
            self.long.upload_to_container(container, Some(options), bollard::body_try_stream(channel_stream(rx)));
        // Once the request ends, the body (rx) is gone and the producer's sends fail: both end.
        let (sent, produced) = tokio::join!(request, producer);
        // The producer's own error says more than the engine's "unexpected EOF".
        produced.map_err(|e| Error::io(action, e))?;
        sent.map_err(|e| Error::engine(action, e))
    }

    /// Streams the file `src` in the container to `dst`; returns the bytes written.
    /// Symbolic links are followed, as `cp` in the container would.
    pub async fn download_file<W>(&self, container: &str, src: &str, dst: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let mut path = src.to_string();
        for _ in 0..16 {
            let action = format!("downloading {path} from container {container}");
            let stream =
                self.long.download_from_container(container, Some(DownloadFromContainerOptions { path: path.clone() }));
            let mut reader = TarStream::new(stream.map(|r| r.map_err(|e| Error::engine(&action, e))));
            let entry = reader.next_header(&action).await?;
            match entry.kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let n = reader.copy_data(entry.size, dst, &action).await?;
                    dst.flush().await.map_err(|e| Error::io(format!("{action}: writing"), e))?;
                    return Ok(n);
                }
                tar::EntryType::Symlink => {
                    let target = entry.link.unwrap_or_default();
                    path = if target.starts_with('/') {
                        target
                    } else {
                        let parent = Path::new(&path).parent().unwrap_or(Path::new("/"));
                        parent.join(target).to_string_lossy().into_owned()
                    };
                }
                tar::EntryType::Directory => {
                    return Err(Error::Invalid(format!("{action}: it is a directory; download it as one")))
                }
                other => return Err(Error::Invalid(format!("{action}: it is not a regular file ({other:?})"))),
            }
        }
        Err(Error::Invalid(format!("downloading {src} from container {container}: too many levels of symbolic links")))
    }

    /// Downloads the directory (or file) `src` from the container to the local `dst`,
    /// with the upload's rules: `src` without a trailing slash lands in
    /// `dst/<basename>`, with one its contents land in `dst`. Modes and mtimes are
    /// kept; ownership is the local user's. `exclude` lists paths relative to `src`
    /// to leave out (with everything under them).
    pub async fn download_dir(&self, container: &str, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        let request_path =
            if src.ends_with('/') { format!("{}/.", src.trim_end_matches('/')) } else { src.to_string() };
        let action = format!("downloading {src} from container {container} to {}", dst.display());
        tokio::fs::create_dir_all(dst)
            .await
            .map_err(|e| Error::io(format!("{action}: creating {}", dst.display()), e))?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
        let dst_owned = dst.to_path_buf();
        let skip = Exclude::new(exclude);
        // `src` names the archive's root entry; `src/.` gives its contents (`./x` from
        // Docker, `x` from podman).
        let root_named = !src.ends_with('/');
        let unpacker =
            tokio::task::spawn_blocking(move || unpack_into(ChannelReader::new(rx), &dst_owned, &skip, root_named));
        let mut stream = std::pin::pin!(self
            .long
            .download_from_container(container, Some(DownloadFromContainerOptions { path: request_path }),));
        let mut engine_err = None;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    if tx.send(Ok(bytes)).await.is_err() {
                        break; // the unpacker failed; its error is reported below
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(io::Error::other("the download failed"))).await;
                    engine_err = Some(e);
                    break;
                }
            }
        }
        drop(tx);
        let unpacked = unpacker.await;
        if let Some(e) = engine_err {
            return Err(Error::engine(action, e));
        }
        match unpacked {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::io(action, e)),
            Err(e) => Err(Error::io(action, io::Error::other(e.to_string()))),
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading the upload")
}

fn set_meta(header: &mut tar::Header, meta: FileMeta) {
    header.set_mode(meta.mode & 0o7777);
    header.set_uid(meta.uid);
    header.set_gid(meta.gid);
    header.set_mtime(meta.mtime);
}

trait FlushAll {
    fn flush_all(self) -> io::Result<()>;
}

impl FlushAll for ChannelWriter {
    fn flush_all(mut self) -> io::Result<()> {
        io::Write::flush(&mut self)
    }
}

/// What to leave out of a directory transfer: relative paths (and everything under them), or a
/// build context's `.dockerignore`.
pub(crate) enum Exclude {
    Paths(Vec<PathBuf>),
    Ignore(crate::dockerignore::DockerIgnore),
}

impl Exclude {
    fn new(list: &[String]) -> Exclude {
        Exclude::Paths(
            list.iter()
                .map(|x| x.trim_start_matches("./").trim_end_matches('/'))
                .filter(|x| !x.is_empty())
                .map(PathBuf::from)
                .collect(),
        )
    }

    /// What happens to `rel`: kept, skipped with everything under it, or (a folder
    /// `.dockerignore` excludes while an exception may bring back something inside it) read
    /// through without an entry of its own, as the docker CLI sends a context.
    fn verdict(&self, rel: &Path, is_dir: bool) -> Verdict {
        let excluded = match self {
            Exclude::Paths(paths) => (paths.iter().any(|x| rel.starts_with(x)), false),
            Exclude::Ignore(ignore) => (ignore.excludes(&rel.to_string_lossy()), is_dir && ignore.has_exceptions()),
        };
        match excluded {
            (false, _) => Verdict::Keep,
            (true, true) => Verdict::ReadThrough,
            (true, false) => Verdict::Skip,
        }
    }
}

/// See [`Exclude::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    Skip,
    ReadThrough,
}

/// How the entries of an uploaded tree are written.
pub(crate) struct Tree<'a> {
    pub uid: u64,
    pub gid: u64,
    pub skip: &'a Exclude,
}

impl Tree<'_> {
    pub(crate) fn header(&self, meta: &std::fs::Metadata) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
        header.set_uid(self.uid);
        header.set_gid(self.gid);
        let _ = header.set_username("");
        let _ = header.set_groupname("");
        header
    }

    fn append_dir<W: io::Write>(
        &self,
        builder: &mut tar::Builder<W>,
        meta: &std::fs::Metadata,
        name: &Path,
    ) -> io::Result<()> {
        let mut header = self.header(meta);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        builder.append_data(&mut header, name, io::empty())
    }

    /// Appends the contents of `dir` under `name` (not `dir` itself), sorted by name so
    /// the same tree always makes the same archive. `rel` is `dir` relative to the
    /// uploaded root, for `exclude`.
    pub(crate) fn append<W: io::Write>(
        &self,
        builder: &mut tar::Builder<W>,
        dir: &Path,
        name: &Path,
        rel: &Path,
    ) -> io::Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let rel = rel.join(entry.file_name());
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let ft = meta.file_type();
            let verdict = self.skip.verdict(&rel, ft.is_dir());
            if verdict == Verdict::Skip {
                continue;
            }
            let entry_name = name.join(entry.file_name());
            let mut header = self.header(&meta);
            if ft.is_dir() {
                if verdict == Verdict::Keep {
                    self.append_dir(builder, &meta, &entry_name)?;
                }
                self.append(builder, &path, &entry_name, &rel)?;
            } else if ft.is_file() {
                let file = std::fs::File::open(&path)?;
                builder.append_data(&mut header, &entry_name, file)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&path)?;
                header.set_size(0);
                builder.append_link(&mut header, &entry_name, target)?;
            } else {
                return Err(io::Error::other(format!(
                    "{} is neither a file, a directory nor a symbolic link",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

fn unpack_into<R: io::Read>(reader: R, dst: &Path, skip: &Exclude, root_named: bool) -> io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(false);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        // `exclude` is relative to the source, which the first component names.
        let path = entry.path()?.into_owned();
        let rel: PathBuf = path
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .skip(usize::from(root_named))
            .collect();
        if skip.verdict(&rel, entry.header().entry_type().is_dir()) == Verdict::Skip {
            continue;
        }
        // unpack_in refuses paths that would leave dst ("..", absolute, via links).
        entry.unpack_in(dst)?;
    }
    Ok(())
}

/// The header of one tar entry, with GNU and PAX extensions applied.
struct EntryHead {
    kind: tar::EntryType,
    size: u64,
    link: Option<String>,
}

/// Reads a tar stream's first entry as it arrives, without a blocking thread.
struct TarStream<S> {
    stream: S,
    buf: BytesMut,
}

impl<S: Stream<Item = Result<Bytes>> + Unpin> TarStream<S> {
    fn new(stream: S) -> Self {
        TarStream { stream, buf: BytesMut::new() }
    }

    /// Makes at least `n` bytes available; false at the end of the stream.
    async fn fill(&mut self, n: usize) -> Result<bool> {
        while self.buf.len() < n {
            match self.stream.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk?),
                None => return Ok(false),
            }
        }
        Ok(true)
    }

    async fn take(&mut self, n: usize, action: &str) -> Result<Bytes> {
        if !self.fill(n).await? {
            return Err(Error::Protocol(format!("{action}: the archive ended early")));
        }
        Ok(self.buf.split_to(n).freeze())
    }

    async fn next_header(&mut self, action: &str) -> Result<EntryHead> {
        let bad = |what: &str| Error::Protocol(format!("{action}: bad archive from the engine: {what}"));
        let mut long_link = None;
        let mut pax_size = None;
        loop {
            let block = self.take(512, action).await?;
            if block.iter().all(|&b| b == 0) {
                return Err(Error::Protocol(format!("{action}: the engine sent an empty archive")));
            }
            let mut raw = [0u8; 512];
            raw.copy_from_slice(&block);
            let header = tar::Header::from_byte_slice(&raw);
            let size = header.entry_size().map_err(|e| bad(&e.to_string()))?;
            let kind = header.entry_type();
            let padded = size.div_ceil(512) * 512;
            match kind {
                tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
                | tar::EntryType::XHeader
                | tar::EntryType::XGlobalHeader => {
                    let data = self.take(usize::try_from(padded).map_err(|_| bad("huge extension"))?, action).await?;
                    let data = &data[..size as usize];
                    if kind == tar::EntryType::GNULongLink {
                        long_link = Some(String::from_utf8_lossy(data).trim_end_matches('\0').to_string());
                    }
                    if kind == tar::EntryType::XHeader {
                        for ext in tar::PaxExtensions::new(data).flatten() {
                            match ext.key() {
                                Ok("size") => pax_size = ext.value().ok().and_then(|v| v.parse().ok()),
                                Ok("linkpath") => long_link = ext.value().ok().map(str::to_string),
                                _ => {}
                            }
                        }
                    }
                }
                _ => {
                    let link = long_link
                        .or_else(|| header.link_name_bytes().map(|b| String::from_utf8_lossy(&b).into_owned()));
                    return Ok(EntryHead { kind, size: pax_size.unwrap_or(size), link });
                }
            }
        }
    }

    async fn copy_data<W: AsyncWrite + Unpin>(&mut self, size: u64, dst: &mut W, action: &str) -> Result<u64> {
        let mut left = size;
        while left > 0 {
            if self.buf.is_empty() && !self.fill(1).await? {
                return Err(Error::Protocol(format!("{action}: the archive ended early")));
            }
            let n = (self.buf.len() as u64).min(left) as usize;
            let chunk = self.buf.split_to(n);
            dst.write_all(&chunk).await.map_err(|e| Error::io(format!("{action}: writing"), e))?;
            left -= n as u64;
        }
        Ok(size)
    }
}

/// The local path a directory download of `src` into `dst` creates (for callers
/// that report it).
pub fn download_target(src: &str, dst: &Path) -> PathBuf {
    if src.ends_with('/') {
        dst.to_path_buf()
    } else {
        match Path::new(src).file_name() {
            Some(base) => dst.join(base),
            None => dst.to_path_buf(),
        }
    }
}
