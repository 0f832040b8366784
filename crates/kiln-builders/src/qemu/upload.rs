//! Large uploads through a virtual drive instead of SSH.
//!
//! Under TCG the guest's sshd decrypts every byte in an emulated CPU: an upload over SSH runs at
//! a few MB/s. [`DriveUpload`] wraps the build's communicator: a file of at least
//! [`MIN_DRIVE_UPLOAD`] bytes is written to a raw image on the host, hot-plugged into the guest
//! over QMP as a read-only virtio disk (its serial names it), and copied by the guest with `dd`
//! to the destination (as the SSH user; `sudo -n` only reads the disk); the disk is then
//! unplugged. Every other operation, smaller files, and any upload the drive cannot carry go
//! through the wrapped communicator, so provisioners see no difference. A guest that has no
//! hot-plug, no `sudo -n` or no such disk within [`DEVICE_WAIT_TENTHS`] makes the wrapper stop
//! trying (one fallback, then plain SSH for the rest of the build).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kiln_core::communicator::{Reader, Writer};
use kiln_core::progress::Progress;
use kiln_core::{async_trait, Communicator, Error, ExecIo, Result, Subsystem, Ui, UploadMeta};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::qmp::Qmp;

/// Smaller files go over SSH: the hot-plug costs about a second of guest time.
pub const MIN_DRIVE_UPLOAD: u64 = 8 * 1024 * 1024;

/// How long the guest looks for the disk, in tenths of a second.
const DEVICE_WAIT_TENTHS: u32 = 300;

/// How long the guest gets to release an unplugged disk.
const UNPLUG_WAIT: Duration = Duration::from_secs(10);

/// The guest script's exit statuses that mean "this guest cannot use the drive channel".
const NO_DEVICE: i32 = 97;
const NO_SUDO: i32 = 98;
/// What the guest script says when it copied without direct I/O.
const BUFFERED: &str = "kiln: copying with buffered writes instead";

/// Why the drive channel did not carry a file.
enum Failed {
    /// The VM or the guest cannot do it (no hot-plug, no disk, no `sudo -n`): stop trying.
    Unsupported(String),
    /// This file did not make it (the copy failed): SSH gets it.
    Once(String),
    /// The build was cancelled: no fallback.
    Cancelled(Error),
}

/// A communicator that moves large uploads through a hot-plugged disk (see the module doc).
pub struct DriveUpload {
    inner: Arc<dyn Communicator>,
    qmp: Arc<Qmp>,
    /// kiln's private folder (the VM's control folder): the images live there while in use.
    dir: PathBuf,
    ui: Ui,
    seq: AtomicU32,
    /// Set when the guest showed it cannot use the channel.
    disabled: AtomicBool,
    /// Upload disks still being unplugged.
    unplugging: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl DriveUpload {
    pub fn new(inner: Arc<dyn Communicator>, qmp: Arc<Qmp>, dir: &Path, ui: Ui) -> DriveUpload {
        DriveUpload {
            inner,
            qmp,
            dir: dir.to_path_buf(),
            ui,
            seq: AtomicU32::new(0),
            disabled: AtomicBool::new(false),
            unplugging: Default::default(),
        }
    }

    /// Copies `src` into a new image file padded to whole sectors; returns its path and the
    /// number of bytes copied.
    async fn spool(&self, n: u32, src: Reader<'_>, meta: &UploadMeta) -> Result<(PathBuf, u64)> {
        let started = std::time::Instant::now();
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.dir.join(format!("upload-{n}.img"));
        let werr = |e: std::io::Error| Error::new(format!("writing {}: {e}", path.display()));
        let std_file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(werr)?;
        let mut file = tokio::fs::File::from_std(std_file);
        let mut tracked = tokio::io::BufReader::with_capacity(1 << 20, meta.track(src));
        let copied = tokio::io::copy_buf(&mut tracked, &mut file)
            .await
            .map_err(|e| Error::new(format!("reading the upload: {e}")))?;
        // A disk is whole 512-byte sectors: the guest copies exactly `copied` bytes back.
        file.set_len(copied.div_ceil(512).max(1) * 512).await.map_err(werr)?;
        file.flush().await.map_err(werr)?;
        self.ui.log(format!(
            "upload image {}: {copied} bytes in {:.1}s",
            path.display(),
            started.elapsed().as_secs_f64()
        ));
        Ok((path, copied))
    }

    /// The drive channel for one file: plug, copy in the guest, unplug.
    async fn through_drive(
        &self,
        n: u32,
        dst: &str,
        image: &Path,
        size: u64,
        mode: Option<u32>,
        owned: bool,
    ) -> std::result::Result<(), Failed> {
        // The serial's prefix is also in the base image's udev rule (scripts/base-image).
        let node = format!("kiln-upload-{n}");
        let device = format!("kiln-upload-dev-{n}");
        self.qmp
            .execute(
                "blockdev-add",
                Some(json!({
                    "driver": "raw",
                    "node-name": node,
                    "read-only": true,
                    "file": { "driver": "file", "filename": image.display().to_string(), "read-only": true },
                })),
            )
            .await
            .map_err(|e| Failed::Unsupported(format!("adding the upload disk: {e}")))?;
        let plugged = self
            .qmp
            .execute(
                "device_add",
                Some(json!({ "driver": "virtio-blk-pci", "id": device, "drive": node, "serial": node })),
            )
            .await;
        let started = std::time::Instant::now();
        let result = match &plugged {
            Ok(_) => self.copy_in_guest(&node, dst, size, mode).await,
            Err(e) => Err(Failed::Unsupported(format!("plugging the upload disk in: {e}"))),
        };
        self.ui.log(format!("upload disk {node}: the guest's copy took {:.1}s", started.elapsed().as_secs_f64()));
        // The guest lets the disk go while the build goes on; the image goes once it has (or
        // with the VM's control folder).
        let (qmp, ui, plugged) = (Arc::clone(&self.qmp), self.ui.clone(), plugged.is_ok());
        // On failure the caller still reads the image (its SSH fallback) and removes it.
        // (Never the user's own file, plugged in as it is.)
        let remove = (owned && result.is_ok()).then(|| image.to_path_buf());
        let task = tokio::spawn(async move {
            if plugged {
                unplug(&qmp, &ui, &device).await;
            }
            if let Err(e) = qmp.execute("blockdev-del", Some(json!({ "node-name": node }))).await {
                ui.log(format!("upload disk {node}: {e} (it goes with the VM)"));
            }
            if let Some(image) = remove {
                let _ = tokio::fs::remove_file(&image).await;
            }
        });
        let mut pending = self.unplugging.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|t| !t.is_finished());
        pending.push(task);
        drop(pending);
        result
    }

    /// Waits until every upload disk is gone from the VM (before a snapshot of it).
    pub async fn settle(&self) {
        let pending = std::mem::take(&mut *self.unplugging.lock().unwrap_or_else(|p| p.into_inner()));
        for t in pending {
            let _ = t.await;
        }
    }

    async fn copy_in_guest(
        &self,
        serial: &str,
        dst: &str,
        size: u64,
        mode: Option<u32>,
    ) -> std::result::Result<(), Failed> {
        let script = guest_script(serial, dst, size, mode);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = match self.inner.exec(&script, ExecIo::new(&mut out, &mut err)).await {
            Ok(s) => s,
            Err(e) if e.cancelled => return Err(Failed::Cancelled(e)),
            Err(e) => return Err(Failed::Once(e.message)),
        };
        let said = String::from_utf8_lossy(&err).trim().to_string();
        match status {
            Some(0) => {
                if !said.is_empty() {
                    self.ui.log(format!("upload disk {serial}: the guest said: {said}"));
                }
                Ok(())
            }
            Some(NO_DEVICE) => Err(Failed::Unsupported("the guest did not see the upload disk".into())),
            Some(NO_SUDO) => {
                Err(Failed::Unsupported("reading a disk needs root, and `sudo -n` asks for a password".into()))
            }
            Some(code) => Err(Failed::Once(format!("the guest's copy exited with {code}: {said}"))),
            None => Err(Failed::Once("the guest's copy ended without a status".into())),
        }
    }
}

/// Asks the guest to let the disk go and waits for QEMU to say it went.
async fn unplug(qmp: &Qmp, ui: &Ui, device: &str) {
    let mut events = qmp.subscribe();
    if let Err(e) = qmp.execute("device_del", Some(json!({ "id": device }))).await {
        ui.log(format!("unplugging {device}: {e}"));
        return;
    }
    let gone = async {
        loop {
            match events.recv().await {
                Ok(ev) if ev.name == "DEVICE_DELETED" && ev.data["device"] == device => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    };
    if tokio::time::timeout(UNPLUG_WAIT, gone).await.is_err() {
        ui.log(format!("the guest did not release {device} within {}s; it goes with the VM", UNPLUG_WAIT.as_secs()));
    }
}

/// The guest's side: find the disk by its serial, copy it into `dst`, cut that to `size` bytes
/// unless `size` is whole sectors (then the disk is exactly the file) and set `mode` if given:
/// no command more than needed, each is a process started in an emulated CPU. The disk is read
/// and `dst` written with O_DIRECT (one copy fewer in the emulated CPU, no dirty pages left to
/// flush; the disk is whole sectors, so every read is aligned); `sudo -n` is asked only when the
/// user cannot read the disk (root can; so can a member of the `disk` group). `dst` is created
/// by the user (theirs, as over SFTP), and root's `dd` opens it without O_CREAT: with O_CREAT,
/// the kernel's `fs.protected_regular` refuses root another user's file in a sticky folder such
/// as /tmp. Where direct I/O cannot be had (tmpfs), a buffered copy, said on stderr.
///
/// Blocks of 1 MiB: each read and write is one request to the disk (a guest's virtio disks take
/// up to 1280 KiB in one). Measured under TCG, 100 MiB in kiln builds of the bench template
/// (medians): the upload took 0.43 s with 1 MiB blocks (eight builds), 0.52 s with 2 MiB (eight),
/// 0.53 s with 512 KiB, 0.60 s with 4 MiB and 0.77 s with 16 MiB (four each; the guest splits a
/// 16 MiB write into 13 requests).
///
/// After a direct copy, a detached `cat` reads the file once (when it is at most a quarter of
/// the guest's memory), so that it is in the guest's page cache as an upload over SSH leaves
/// it: whatever reads it next (a checksum, an unpacking) reads memory, not the disk. The
/// script's status is the copy's; the read goes on while the build does.
pub fn guest_script(serial: &str, dst: &str, size: u64, mode: Option<u32>) -> String {
    let dst = kiln_comm::shell_quote(dst);
    let mut finish = Vec::new();
    if size == 0 || !size.is_multiple_of(512) {
        finish.push(format!("truncate -s {size} {dst}"));
    }
    if let Some(m) = mode {
        finish.push(format!("chmod {m:o} {dst}"));
    }
    let kib = size.div_ceil(1024);
    let finish = if finish.is_empty() { "true".to_string() } else { finish.join(" && ") };
    format!(
        "dev=; i=0; while [ $i -lt {DEVICE_WAIT_TENTHS} ]; do \
           for b in /sys/block/*; do v=; [ -r \"$b/serial\" ] && read -r v < \"$b/serial\"; \
             [ \"$v\" = {serial} ] && dev=/dev/${{b##*/}}; done; \
           [ -n \"$dev\" ] && [ -b \"$dev\" ] && break; dev=; i=$((i+1)); sleep 0.1; \
         done; \
         [ -n \"$dev\" ] || exit {NO_DEVICE}; \
         s=; [ -r \"$dev\" ] || s='sudo -n'; \
         : > {dst} || exit 1; p=1; \
         if ! $s dd if=\"$dev\" of={dst} bs=1M iflag=direct oflag=direct conv=notrunc,nocreat status=none; then \
           echo '{BUFFERED}' >&2; p=; \
           if ! $s dd if=\"$dev\" bs=4M iflag=direct status=none > {dst}; then \
             [ -z \"$s\" ] || sudo -n true 2>/dev/null || exit {NO_SUDO}; exit 1; \
           fi; \
         fi; \
         {finish}; r=$?; m=0; \
         while read -r k v _; do [ \"$k\" = MemTotal: ] && m=$v && break; done 2>/dev/null </proc/meminfo; \
         if [ -n \"$p\" ] && [ $r = 0 ] && [ {kib} -le $((m / 4)) ]; then \
           cat {dst} </dev/null >/dev/null 2>&1 & \
         fi; \
         exit $r"
    )
}

#[async_trait]
impl Communicator for DriveUpload {
    async fn exec(&self, command: &str, io: ExecIo<'_>) -> Result<Option<i32>> {
        self.inner.exec(command, io).await
    }

    async fn upload(&self, dst: &str, src: Reader<'_>, meta: UploadMeta) -> Result<()> {
        let big = meta.size.is_some_and(|s| s >= MIN_DRIVE_UPLOAD);
        if !big || self.disabled.load(Ordering::Relaxed) {
            return self.inner.upload(dst, src, meta).await;
        }
        let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let spooled = self.spool(n, src, &meta).await;
        let (image, size) = match spooled {
            Ok(s) => s,
            Err(e) => {
                let _ = tokio::fs::remove_file(self.dir.join(format!("upload-{n}.img"))).await;
                return Err(e);
            }
        };
        let drive = self.through_drive(n, dst, &image, size, meta.mode, true).await;
        // After a success the unplugging task removes the image; otherwise it is done here.
        let r = match self.carried(dst, size, drive) {
            Ok(true) => return Ok(()),
            Ok(false) => self.resend(dst, &image, size, &meta).await,
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&image).await;
        r
    }

    async fn upload_file(&self, dst: &str, src: &Path) -> Result<()> {
        self.upload_path(dst, src, None).await
    }

    async fn upload_file_progress(&self, dst: &str, src: &Path, progress: Arc<Progress>) -> Result<()> {
        self.upload_path(dst, src, Some(progress)).await
    }

    async fn upload_dir(&self, dst: &str, src: &Path, exclude: &[String]) -> Result<()> {
        self.inner.upload_dir(dst, src, exclude).await
    }

    async fn download(&self, src: &str, dst: Writer<'_>) -> Result<()> {
        self.inner.download(src, dst).await
    }

    async fn download_dir(&self, src: &str, dst: &Path, exclude: &[String]) -> Result<()> {
        self.inner.download_dir(src, dst, exclude).await
    }

    async fn stop_cancelled(&self, ui: &Ui) {
        self.inner.stop_cancelled(ui).await
    }

    async fn subsystem(&self, name: &str, io: ExecIo<'_>) -> Result<Subsystem> {
        self.inner.subsystem(name, io).await
    }

    async fn remove_file(&self, path: &str) -> Result<()> {
        self.inner.remove_file(path).await
    }
}

impl DriveUpload {
    /// A local file: a large one is plugged in as it is (read-only, no copy on the host: QEMU
    /// reads past its end as zeros, the guest cuts the copy to its size); the others, and any
    /// the drive cannot carry, go through the wrapped communicator.
    async fn upload_path(&self, dst: &str, src: &Path, progress: Option<Arc<Progress>>) -> Result<()> {
        let md = tokio::fs::metadata(src).await.map_err(|e| Error::new(format!("reading {}: {e}", src.display())))?;
        let big = md.is_file() && md.len() >= MIN_DRIVE_UPLOAD;
        if big && !self.disabled.load(Ordering::Relaxed) {
            let n = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let file = std::path::absolute(src).map_err(|e| Error::new(format!("{}: {e}", src.display())))?;
            let mode = Some(kiln_core::communicator::file_mode(&md));
            let drive = self.through_drive(n, dst, &file, md.len(), mode, false).await;
            if self.carried(dst, md.len(), drive)? {
                if let Some(p) = progress {
                    p.add(md.len());
                    p.finish();
                }
                return Ok(());
            }
        }
        match progress {
            Some(p) => self.inner.upload_file_progress(dst, src, p).await,
            None => self.inner.upload_file(dst, src).await,
        }
    }

    /// What the drive channel's outcome means for an upload: `Ok(true)` carried, `Ok(false)`
    /// send it over the wrapped communicator instead (said why; the channel is off for the
    /// build when the guest cannot use it), `Err` cancelled.
    fn carried(&self, dst: &str, size: u64, drive: std::result::Result<(), Failed>) -> Result<bool> {
        match drive {
            Ok(()) => {
                self.ui.log(format!("uploaded {dst} ({size} bytes) through a virtual disk"));
                Ok(true)
            }
            Err(Failed::Cancelled(e)) => Err(e),
            Err(Failed::Unsupported(why)) => {
                self.disabled.store(true, Ordering::Relaxed);
                self.ui.log(format!("uploads through a virtual disk are off for this build: {why}"));
                Ok(false)
            }
            Err(Failed::Once(why)) => {
                self.ui.log(format!(
                    "upload of {dst} through a virtual disk failed ({why}); sending it over the communicator"
                ));
                Ok(false)
            }
        }
    }

    /// The spooled bytes over the wrapped communicator (the source reader is spent).
    async fn resend(&self, dst: &str, image: &Path, size: u64, meta: &UploadMeta) -> Result<()> {
        let mut f =
            tokio::fs::File::open(image).await.map_err(|e| Error::new(format!("reading {}: {e}", image.display())))?;
        f.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|e| Error::new(format!("reading {}: {e}", image.display())))?;
        let mut limited = f.take(size);
        let meta = UploadMeta { size: Some(size), mode: meta.mode, mtime: meta.mtime, progress: None };
        self.inner.upload(dst, &mut limited, meta).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_script_reads_exactly_the_file_and_keeps_its_mode() {
        let s = guest_script("kiln-upload-3", "/tmp/a b", 1234567, Some(0o755));
        assert!(s.contains("= kiln-upload-3 ]"), "{s}");
        assert!(s.contains("iflag=direct oflag=direct conv=notrunc,nocreat"), "{s}");
        assert!(s.contains("fi; truncate -s 1234567 '/tmp/a b' && chmod 755 '/tmp/a b'; r=$?;"), "{s}");
        assert!(!guest_script("x", "d", 1, None).contains("chmod"));
        // Whole sectors: the disk is the file, nothing to cut.
        let whole = guest_script("x", "d", 1024, None);
        assert!(!whole.contains("truncate") && whole.contains("fi; true; r=$?;"), "{whole}");
        assert!(guest_script("x", "d", 0, None).contains("fi; truncate -s 0 'd'; r=$?;"));
        assert!(guest_script("x", "d", 4096, Some(0o600)).contains("fi; chmod 600 'd'; r=$?;"));
        // The read that leaves the file in the page cache: after a direct copy that worked, of a
        // file at most a quarter of the guest's memory (in KiB, rounded up), detached from the
        // session; the script's status stays the copy's.
        assert!(s.contains("[ 1206 -le $((m / 4)) ]; then"), "{s}");
        assert!(s.contains("then cat '/tmp/a b' </dev/null >/dev/null 2>&1 & fi; exit $r"), "{s}");
        assert!(s.contains("p=1;") && s.contains(&format!("'{BUFFERED}' >&2; p=;")), "{s}");
    }

    /// The script's ending under the system's `sh`: its status is the copy's, and the read it
    /// leaves behind runs detached (the session ends without waiting for it) and only after a
    /// direct copy that worked. The file is a FIFO: a reader shows up as a writer's open
    /// succeeding, and a reader left waiting on it would hold the script's output open.
    #[test]
    fn the_guest_script_runs_under_sh_and_leaves_the_read_behind() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let s = guest_script("x", &fifo.display().to_string(), 1000, None);
        // Run from the copy's outcome on (no disk with that serial here).
        let tail = &s[s.find("; r=$?;").unwrap() + 2..];
        let run = |copied: &str, finish: &str| {
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("p={copied}; {finish}; {tail}"))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            let mut out = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = std::io::Read::read_to_end(&mut out, &mut buf);
                let _ = tx.send(());
            });
            let closed = rx.recv_timeout(Duration::from_secs(10)).is_ok();
            let code = child.wait().unwrap().code();
            // Is a reader waiting on the FIFO? (Opening it for writing lets that reader end.)
            let reader = (0..20).any(|_| {
                let open = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo).is_ok();
                if !open {
                    std::thread::sleep(Duration::from_millis(50));
                }
                open
            });
            (code, closed, reader)
        };
        assert_eq!(run("1", "true"), (Some(0), true, true));
        assert_eq!(run("1", "false"), (Some(1), true, false));
        assert_eq!(run("", "true"), (Some(0), true, false));
        assert_eq!(run("", "(exit 3)"), (Some(3), true, false));
    }
}
