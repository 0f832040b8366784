//! The qemu builder's snapshots for the step cache: the whole running VM (its RAM and devices as
//! a QEMU migration stream, its disk as a frozen qcow2 layer), so a re-build starts the VM where
//! the last unchanged provisioner left it, without booting.
//!
//! - The VM's disk is a chain of qcow2 layers in the cache (`<steps>/qemu/<id>.qcow2`), the first
//!   on the source image. A snapshot stops the guest for a moment, stacks a new layer on the
//!   disk (QMP `blockdev-snapshot-sync`: the old top layer is frozen from then on), writes the
//!   machine's state next to the frozen layer (`<id>.state`, QMP `migrate` to a file) and lets the
//!   guest go on. The snapshot's ID is the frozen layer's.
//! - Before the VM starts ([`StepCacheLookup`]) the builder asks the cache for the longest cached
//!   prefix; with a hit, the VM's disk is a new layer on that snapshot's layer and QEMU starts
//!   with `-incoming` from its state: no boot, no boot command. The guest's clock is set again
//!   once connected (it stood still in the snapshot).
//! - At the end the artifact is written from the top layer in one `qemu-img convert` pass, as
//!   for any overlay build.
//!
//! Layers are immutable once frozen, so builds sharing the cache never write to each other's;
//! deleting a layer (`kiln cache prune`) turns every entry built on it into a miss
//! ([`Snapshot::exists`] follows the backing chain).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiln_config::node::Node;
use kiln_core::cache::{Inputs, Snapshot, Start};
use kiln_core::step::Step;
use kiln_core::{async_trait, Communicator, Error, ExecIo, ProvisionHook, Result, RunContext};
use serde_json::json;

use super::config::Config;
use super::disk::QemuImg;
use super::qmp::Qmp;
use super::state::State;

/// The kind under which `kiln cache prune` deletes these snapshots
/// (`kiln_core::cache::snapshot_cleaner_kind("qemu")`).
pub const CACHE_SNAPSHOT: &str = "step-cache-qemu";

/// How long writing or reading a machine's state may take.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(600);

/// Options that do not change the machine the provisioners see: the artifact's name, format and
/// compaction, how the VM is shown and reached, and timeouts.
const NOT_MACHINE: &[&str] = &[
    "output_directory",
    "vm_name",
    "format",
    "skip_compaction",
    "disk_compression",
    "qemu_img_args",
    "headless",
    "display",
    "use_default_display",
    "vnc_bind_address",
    "vnc_port_min",
    "vnc_port_max",
    "vnc_use_password",
    "vnc_password",
    "disable_vnc",
    "efi_drop_efivars",
    "host_port_min",
    "host_port_max",
    "ssh_host_port_min",
    "ssh_host_port_max",
    "shutdown_command",
    "shutdown_timeout",
    "ssh_timeout",
    "ssh_handshake_attempts",
    "boot_wait",
    "boot_key_interval",
    "boot_keygroup_interval",
    "qmp_enable",
    "qmp_socket_path",
    "iso_target_path",
    "iso_target_extension",
    "iso_skip_cache",
    "iso_checksum",
    "iso_url",
    "iso_urls",
];

/// The digest of the builder options that change the machine (set by `prepare`).
pub(super) fn config_digest(node: &Node) -> String {
    let mut i = Inputs::new();
    i.add_node_without("qemu builder", node, NOT_MACHINE);
    i.finish()
}

/// Why this build's VM cannot be snapshotted, if it cannot.
pub(super) fn unsupported(c: &Config, comm_kind: &str) -> Option<String> {
    let why = if !c.disk_image {
        "it installs from an ISO (the cache starts from a disk_image)"
    } else if c.use_backing_file {
        "use_backing_file keeps the output on the source image"
    } else if !c.disk_additional_size.is_empty() {
        "it has disk_additional_size disks"
    } else if c.efi() {
        "it boots with UEFI (its variable store is not in the snapshot)"
    } else if c.vtpm {
        "it has a TPM (vtpm: the TPM's state is in swtpm, not in the snapshot)"
    } else if !c.net_bridge.is_empty() {
        "it is on a host bridge (net_bridge)"
    } else if comm_kind != "ssh" {
        "it does not use the ssh communicator"
    } else {
        return None;
    };
    Some(format!("the qemu builder cannot snapshot this VM: {why}"))
}

/// A snapshot's files in the cache's `qemu` folder: the frozen disk layer and the machine state.
pub(super) fn layer_files(dir: &Path, id: &str) -> (PathBuf, PathBuf) {
    (dir.join(format!("{id}.qcow2")), dir.join(format!("{id}.state")))
}

/// A new layer's ID: random, so concurrent builds never pick the same file.
pub(super) fn new_layer_id() -> String {
    kiln_config::random::hex(&kiln_config::random::bytes::<16>())
}

/// The digest of an image file and of its backing files, remembered by file identity (device,
/// inode, size, modification time) in `dir`, so a big base image is read once.
async fn image_digest(img: &QemuImg, path: &Path, dir: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let mut all = Inputs::new();
    let mut next = Some(path.to_path_buf());
    let mut depth = 0;
    while let Some(p) = next.take() {
        depth += 1;
        if depth > 32 {
            return Err(Error::new(format!("{}: the backing chain is too long", path.display())));
        }
        let meta = std::fs::metadata(&p).map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
        let mut id = Inputs::new();
        id.add("path", p.as_os_str().as_encoded_bytes());
        for n in [meta.dev(), meta.ino(), meta.size(), meta.mtime() as u64, meta.mtime_nsec() as u64] {
            id.add("meta", &n.to_le_bytes());
        }
        let memo = dir.join("source-digests").join(id.finish());
        let digest = match std::fs::read_to_string(&memo) {
            Ok(d) if d.trim().len() == 64 => d.trim().to_string(),
            _ => {
                let p2 = p.clone();
                let d = tokio::task::spawn_blocking(move || {
                    let mut i = Inputs::new();
                    i.add_path("image", &p2).map(|()| i.finish())
                })
                .await
                .map_err(|e| Error::new(format!("hashing {}: {e}", p.display())))??;
                if let Some(parent) = memo.parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::write(&memo, &d);
                d
            }
        };
        all.add("layer", digest.as_bytes());
        let info = img.info(&p).await?;
        next = info.backing_file.map(|b| {
            let b = PathBuf::from(b);
            if b.is_absolute() {
                b
            } else {
                p.parent().unwrap_or(Path::new(".")).join(b)
            }
        });
    }
    Ok(all.finish())
}

/// Waits for QEMU's migration (out or in) to finish.
async fn wait_migration(qmp: &Qmp, what: &str) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        let r = qmp.execute("query-migrate", None).await.map_err(|e| Error::new(format!("{what}: {e}")))?;
        match r["status"].as_str().unwrap_or("") {
            "completed" => return Ok(()),
            "failed" | "cancelled" => {
                let why = r["error-desc"].as_str().unwrap_or("QEMU gives no reason");
                return Err(Error::new(format!("{what} failed: {why}")));
            }
            _ => {}
        }
        if started.elapsed() > MIGRATION_TIMEOUT {
            return Err(Error::new(format!("{what} did not finish in {}s", MIGRATION_TIMEOUT.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts the VM's machine state from `state_file` in a QEMU started with `-incoming defer`,
/// then lets the guest run.
pub(super) async fn load_state(qmp: &Qmp, state_file: &Path) -> Result<()> {
    let uri = format!("exec:cat {}", kiln_comm::shell_quote(&state_file.display().to_string()));
    qmp.execute("migrate-incoming", Some(json!({ "uri": uri })))
        .await
        .map_err(|e| Error::new(format!("loading the VM's state from {}: {e}", state_file.display())))?;
    wait_migration(qmp, "loading the VM's state").await?;
    qmp.execute("cont", None).await.map_err(|e| Error::new(format!("starting the restored VM: {e}")))?;
    Ok(())
}

/// The QMP name of the block device whose top image is `file`.
async fn device_of(qmp: &Qmp, file: &Path) -> Result<String> {
    let r = qmp.execute("query-block", None).await.map_err(|e| Error::new(format!("query-block: {e}")))?;
    let want = file.display().to_string();
    r.as_array()
        .into_iter()
        .flatten()
        .find(|d| d["inserted"]["file"].as_str() == Some(want.as_str()))
        .and_then(|d| d["device"].as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .ok_or_else(|| Error::new(format!("QEMU has no drive on {want}")))
}

/// Runs `cmd` in the guest; its exit status (`None`: no status).
async fn guest_run(comm: &dyn Communicator, cmd: &str) -> Result<Option<i32>> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    comm.exec(cmd, ExecIo::new(&mut out, &mut err)).await
}

impl State {
    /// The cache's folder for layers, when this build uses the cache.
    fn layers(&self) -> Result<&Path> {
        self.layers_dir.as_deref().ok_or_else(|| Error::new("the step cache is off for this VM"))
    }

    /// Sets the guest's clock to the host's after the VM resumed from a snapshot (it stood still
    /// while the snapshot waited in the cache). Needs root or `sudo -n`; otherwise says so.
    pub(super) async fn set_guest_clock(&self, ctx: &RunContext) {
        let Some(comm) = self.common.comm.clone() else { return };
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let cmd = format!(
            "if [ \"$(id -u)\" = 0 ]; then date -u -s @{now}; else sudo -n date -u -s @{now}; fi >/dev/null 2>&1"
        );
        match guest_run(comm.as_ref(), &cmd).await {
            Ok(Some(0)) => ctx.ui.log("step cache: the guest's clock is set to the host's"),
            _ => ctx.ui.error(
                "Warning: the VM resumed from the step cache with the clock it had when the snapshot was taken, \
                 and kiln could not set it (that needs root or passwordless sudo in the guest)",
            ),
        }
    }
}

#[async_trait]
impl Snapshot for State {
    fn kind(&self) -> &str {
        "qemu"
    }

    fn endpoint(&self) -> String {
        self.layers_dir.as_deref().map(|d| d.display().to_string()).unwrap_or_default()
    }

    async fn source_key(&self, _ctx: &RunContext) -> Result<String> {
        if let Some(why) = &self.cache_unsupported {
            return Err(Error::new(why.clone()));
        }
        let dir = self.layers()?;
        let source = self.source().ok_or_else(|| Error::new("no source image"))?;
        let img = QemuImg::default();
        let binary = self.qemu_binary.clone();
        let version = super::process::run(Path::new(&binary), &["--version".to_string()]).await?.stdout;
        let mut i = Inputs::new();
        i.add("qemu", version.lines().next().unwrap_or("").as_bytes());
        i.add("accelerator", self.accelerator.as_str().as_bytes());
        i.add("options", self.config_digest.as_bytes());
        i.add("source", image_digest(&img, source, dir).await?.as_bytes());
        Ok(i.finish())
    }

    async fn snapshot(&mut self, ctx: &RunContext, _key: &str) -> Result<String> {
        let dir = self.layers()?.to_path_buf();
        let qmp = self.qmp.clone().ok_or_else(|| Error::new("no QMP connection to snapshot with"))?;
        let mut plan = self.plan.clone().ok_or_else(|| Error::new("no disks to snapshot"))?;
        if let Some(u) = &self.uploads {
            // A hot-plugged upload disk the new VM would not have.
            u.settle().await;
        }
        if let Some(comm) = self.common.comm.clone() {
            // What the guest wrote is on the disk, not only in its page cache.
            let _ = guest_run(comm.as_ref(), "sync").await;
        }
        let frozen = plan.working.clone();
        let id = frozen
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
            .ok_or_else(|| Error::new(format!("{}: not a cache layer", frozen.display())))?;
        let (_, state_file) = layer_files(&dir, &id);
        let (next, _) = layer_files(&dir, &new_layer_id());
        let device = device_of(&qmp, &frozen).await?;
        let partial = state_file.with_extension("state.partial");
        self.partials.push(partial.clone());
        qmp.execute("stop", None).await.map_err(|e| Error::new(format!("pausing the VM: {e}")))?;
        let started = std::time::Instant::now();
        let saved: Result<()> = async {
            qmp.execute(
                "blockdev-snapshot-sync",
                Some(json!({ "device": device, "snapshot-file": next.display().to_string(),
                             "format": "qcow2", "mode": "absolute-paths" })),
            )
            .await
            .map_err(|e| Error::new(format!("stacking a new disk layer: {e}")))?;
            // From here on the VM writes to `next`: the plan follows, so the end converts it
            // and a failure deletes it.
            plan.working = next.clone();
            self.plan = Some(plan.clone());
            let _ = qmp.execute("migrate-set-parameters", Some(json!({ "max-bandwidth": 1u64 << 40 }))).await;
            let uri = format!("exec:cat > {}", kiln_comm::shell_quote(&partial.display().to_string()));
            qmp.execute("migrate", Some(json!({ "uri": uri })))
                .await
                .map_err(|e| Error::new(format!("saving the VM's state: {e}")))?;
            wait_migration(&qmp, "saving the VM's state").await
        }
        .await;
        // The guest goes on whatever happened.
        let resumed = qmp.execute("cont", None).await;
        saved?;
        resumed.map_err(|e| Error::new(format!("resuming the VM after its snapshot: {e}")))?;
        std::fs::rename(&partial, &state_file)
            .map_err(|e| Error::new(format!("renaming {}: {e}", partial.display())))?;
        self.partials.retain(|p| p != &partial);
        ctx.ui.log(format!("step cache: snapshot {id} in {:.2}s", started.elapsed().as_secs_f64()));
        Ok(id)
    }

    async fn resume_from(&mut self, _ctx: &RunContext, snapshot: &str) -> Result<Arc<dyn Communicator>> {
        // Not reached: the builder asks the cache before the VM starts (`started_from`).
        Err(Error::new(format!("the qemu builder starts from snapshot {snapshot} only before its VM starts")))
    }

    fn started_from(&self) -> Option<Start> {
        self.start.clone()
    }

    async fn size(&mut self, snapshot: &str) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let Ok(dir) = self.layers() else { return 0 };
        let (layer, state) = layer_files(dir, snapshot);
        // Blocks in use: a qcow2 layer and a state file can be sparse.
        [layer, state].iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.blocks() * 512).sum()
    }

    async fn exists(&self, snapshot: &str) -> bool {
        let Ok(dir) = self.layers() else { return false };
        let (layer, state) = layer_files(dir, snapshot);
        if !state.is_file() {
            return false;
        }
        // Every layer under it must still be there.
        QemuImg::default().check_chain(&layer).await.is_ok()
    }

    async fn discard(&self, snapshot: &str) -> Result<()> {
        let dir = self.layers()?;
        remove_layer(dir, snapshot)
    }

    /// The snapshot as two files: its disk flattened into one stand-alone qcow2 (the layers
    /// under it and the source image included) and its machine state.
    async fn export(
        &mut self,
        ctx: &RunContext,
        _key: &str,
        snapshot: &str,
        dir: &Path,
    ) -> Result<Option<Vec<PathBuf>>> {
        let layers = self.layers()?;
        let (layer, state) = layer_files(layers, snapshot);
        let (disk, machine) = (dir.join("disk.qcow2"), dir.join("machine.state"));
        ctx.ui.log(format!("step cache: flattening {} into {}", layer.display(), disk.display()));
        let args: Vec<String> = ["convert", "-U", "-O", "qcow2"]
            .iter()
            .map(|s| s.to_string())
            .chain([layer.display().to_string(), disk.display().to_string()])
            .collect();
        super::process::run(Path::new("qemu-img"), &args).await?;
        link_or_copy(&state, &machine)?;
        Ok(Some(vec![disk, machine]))
    }

    /// Makes a snapshot (a layer without backing file, and its state) from [`Self::export`]'s files.
    async fn import(&mut self, _ctx: &RunContext, _key: &str, files: &[PathBuf]) -> Result<String> {
        let layers = self.layers()?.to_path_buf();
        let named = |name: &str| {
            files
                .iter()
                .find(|f| f.file_name().is_some_and(|n| n == name))
                .ok_or_else(|| Error::new(format!("the shared snapshot has no {name}")))
        };
        let (disk, machine) = (named("disk.qcow2")?, named("machine.state")?);
        std::fs::create_dir_all(&layers).map_err(|e| Error::new(format!("creating {}: {e}", layers.display())))?;
        let id = new_layer_id();
        let (layer, state) = layer_files(&layers, &id);
        let moved = link_or_copy(disk, &layer).and_then(|()| link_or_copy(machine, &state));
        if let Err(e) = moved {
            let _ = remove_layer(&layers, &id);
            return Err(e);
        }
        Ok(id)
    }
}

/// A hard link where both are on one file system, else a copy.
fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| Error::new(format!("copying {} to {}: {e}", from.display(), to.display())))
}

/// Deletes a snapshot's files; files already gone are fine.
pub fn remove_layer(dir: &Path, id: &str) -> Result<()> {
    let (layer, state) = layer_files(dir, id);
    for f in [layer, state] {
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::new(format!("deleting {}: {e}", f.display()))),
        }
    }
    Ok(())
}

/// Deletes a step cache snapshot for `kiln cache prune` (the entry's endpoint is the folder).
pub fn clean_snapshot(entry: kiln_core::journal::Entry) -> kiln_core::registry::CleanerFuture {
    Box::pin(async move {
        if entry.endpoint.is_empty() {
            return Err(Error::new("the cache entry does not say where its snapshot is"));
        }
        remove_layer(Path::new(&entry.endpoint), &entry.id)
    })
}

/// Before the disks are made: with the step cache on and a VM that can be snapshotted, the
/// VM's disk goes into the cache's layer folder, and the longest cached prefix of the
/// provisioners (if any) is what the VM starts from.
pub(super) struct StepCacheLookup {
    pub hook: Arc<dyn ProvisionHook>,
    pub config: Arc<Config>,
    pub comm_kind: String,
}

#[async_trait]
impl Step<State> for StepCacheLookup {
    fn name(&self) -> &'static str {
        "StepCacheLookup"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let Some(cache) = ctx.info.cache.clone() else { return Ok(()) };
        state.cache_unsupported = unsupported(&self.config, &self.comm_kind);
        if state.cache_unsupported.is_some() {
            return Ok(());
        }
        state.layers_dir = Some(cache.dir().join("qemu"));
        // Part of the source's key (StepRun chooses the same again).
        state.accelerator = match self.config.accelerator {
            Some(a) => a,
            None => super::accel::detect(&super::accel::HostFacts::probe()).accelerator,
        };
        state.start = self.hook.resume_point(ctx, state).await?;
        if let Some(entry) = state.start.as_ref().and_then(|s| s.entry.as_ref()) {
            ctx.ui.say(format!(
                "Step cache: starting the VM from snapshot {} (after {})",
                entry.snapshot, entry.provisioner
            ));
        }
        Ok(())
    }
}
