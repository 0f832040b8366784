//! The qemu builder's own steps: the disks, the VM, the boot command, the guest watch around the
//! steps that need a live guest, the shutdown wait and the final conversion. The common steps
//! (download, output directory, HTTP server, ports, connect, shutdown command) come from the
//! builder toolkit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kiln_core::progress::Progress;
use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use super::accel::{self, HostFacts};
use super::args::{self, Inputs, Net};
use super::bootcommand;
use super::config::{Accelerator, BootConfig, Config};
use super::disk::{self, DiskPlan, QemuImg};
use super::netwatch;
use super::qmp::RunState;
use super::state::State;
use super::tpm::Swtpm;
use super::upload::DriveUpload;
use super::vm::{self, Exit, GuestEnd, Vm, VmSpec};
use kiln_toolkit::reserve;

/// How long QEMU gets to open its control socket.
const QMP_CONNECT: Duration = Duration::from_secs(30);

/// Makes the VM's disks (Packer's StepCreateDisk, StepCopyDisk and StepResizeDisk in one plan).
pub(super) struct StepCreateDisk(pub Arc<Config>);

#[async_trait]
impl Step<State> for StepCreateDisk {
    fn name(&self) -> &'static str {
        "StepCreateDisk"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let c = &self.0;
        let img = QemuImg::default();
        let source = match (c.disk_image, state.source().map(Path::to_path_buf)) {
            (true, Some(src)) => {
                let info = img.info(&src).await?;
                Some((src, info.format))
            }
            (true, None) => return Err(Error::new("disk_image is set but no source image was downloaded")),
            (false, _) => None,
        };
        let mut plan = DiskPlan::new(
            c,
            state.output_dir(),
            &state.vm_name,
            source.as_ref().map(|(p, f)| (p.as_path(), f.as_str())),
        )?;
        if let Some(dir) = state.layers_dir.clone() {
            // The step cache: the VM writes a layer in the cache, on the snapshot it starts from.
            std::fs::create_dir_all(&dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
            let base = state.resumed().map(|id| super::snapshot::layer_files(&dir, id).0);
            let (working, _) = super::snapshot::layer_files(&dir, &super::snapshot::new_layer_id());
            plan = plan.layered(working, base)?;
        }
        // Recorded before anything is written, so a cleanup knows every file it may have made.
        state.plan = Some(plan.clone());
        let ui = ctx.ui.clone();
        // Dropped at once on cancel: qemu-img dies with its handle.
        ctx.cancel.run(plan.create(&img, &move |m| ui.say(m))).await??;
        state.efi_vars = disk::prepare_efi_vars(c, state.output_dir()).await?;
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        state
            .plan
            .as_ref()
            .map(|p| format!("deleting the disks in {}", p.output.parent().unwrap_or(&p.output).display()))
    }

    async fn cleanup(&self, state: &mut State, _ctx: &RunContext, outcome: Outcome) {
        if !(outcome.failed || outcome.cancelled) {
            return;
        }
        if let Some(plan) = state.plan.take() {
            for f in plan.files().into_iter().chain(state.efi_vars.take()) {
                let _ = tokio::fs::remove_file(f).await;
            }
        }
    }
}

/// Reserves the host port forwarded to the guest's SSH port, on 127.0.0.1 (Packer's
/// stepPortForward; Packer 1.6.6 listens on every interface). With `skip_nat_mapping` it
/// reserves nothing and the communicator connects to `ssh_host` (default 127.0.0.1) on
/// `ssh_port`, as Packer does.
pub(super) struct StepPortForward {
    pub config: Arc<Config>,
    /// Whether a communicator connects to the guest (not `none`).
    pub connects: bool,
}

#[async_trait]
impl Step<State> for StepPortForward {
    fn name(&self) -> &'static str {
        "StepPortForward"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        if !self.connects || state.bridged {
            return Ok(());
        }
        if self.config.skip_nat_mapping {
            let port = state.guest_port;
            ctx.ui.say(format!("Skipping the port forward (skip_nat_mapping): connecting to port {port}"));
            state.common.host = Some("127.0.0.1".into());
            state.common.set_data("SSHHostPort", port.to_string());
            return Ok(());
        }
        let (min, max) = self.config.host_ports();
        ctx.ui.say(format!("Looking for available communicator (SSH, WinRM, etc) port between {min} and {max}"));
        let r = reserve::reserve_port("127.0.0.1", min, max, "communicator")?;
        let port = r.port.ok_or_else(|| Error::new("the port reservation has no port"))?;
        state.common.reservations.push(r);
        ctx.ui.say(format!("Found port for communicator (SSH, WinRM, etc): {port}."));
        state.common.host = Some("127.0.0.1".into());
        state.common.port = Some(port);
        state.common.set_data("SSHHostPort", port.to_string());
        Ok(())
    }
}

/// Reserves the VNC port (Packer's stepConfigureVNC); nothing with `disable_vnc`.
pub(super) struct StepConfigureVnc {
    pub config: Arc<Config>,
    pub boot: Arc<BootConfig>,
}

#[async_trait]
impl Step<State> for StepConfigureVnc {
    fn name(&self) -> &'static str {
        "StepConfigureVnc"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        if self.boot.disable_vnc {
            return Ok(());
        }
        let c = &self.config;
        ctx.ui.say(format!(
            "Looking for available port between {} and {} on {}",
            c.vnc_port_min,
            c.vnc_port_max,
            c.vnc_bind_address()
        ));
        let r = reserve::reserve_vnc(c.vnc_bind_address(), c.vnc_port_min, c.vnc_port_max)?;
        state.vnc_port = r.port;
        state.common.reservations.push(r);
        Ok(())
    }
}

/// Starts QEMU (Packer's stepRun and stepConfigureQMP): the accelerator, the command line, the
/// process (its handle in the state before anything is awaited), the control QMP connection.
pub(super) struct StepRun(pub Arc<Config>);

impl StepRun {
    fn accelerator(&self, ctx: &RunContext) -> Accelerator {
        let facts = HostFacts::probe();
        let chosen = match self.0.accelerator {
            Some(a) => {
                if let Some(w) = accel::explicit_warning(a, &facts) {
                    ctx.ui.error(format!("Warning: {w}"));
                }
                a
            }
            None => {
                let d = accel::detect(&facts);
                ctx.ui.log(format!("accelerator: {} ({})", d.accelerator.as_str(), d.reason));
                d.accelerator
            }
        };
        if chosen == Accelerator::Tcg {
            ctx.ui.say(format!("Note: {}", accel::TCG_MESSAGE));
        }
        chosen
    }
}

#[async_trait]
impl Step<State> for StepRun {
    fn name(&self) -> &'static str {
        "StepRun"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let c = &self.0;
        let plan = state.plan.clone().ok_or_else(|| Error::new("no disks to start the VM with"))?;
        state.accelerator = self.accelerator(ctx);
        let control_dir = private_dir()?;
        state.control_dir = Some(control_dir.clone());
        let control_qmp = control_dir.join("qmp.sock");
        let console = control_dir.join(CONSOLE_LOG);
        let user_qmp = c.qmp_enable.then(|| {
            if c.qmp_socket_path.is_empty() {
                state.output_dir().join(format!("{}.monitor", state.vm_name))
            } else {
                PathBuf::from(&c.qmp_socket_path)
            }
        });
        let disks = plan.disks();
        let net = if c.net_bridge.is_empty() {
            Net::User { forward: state.host_port().map(|p| (p, state.guest_port)) }
        } else {
            Net::Bridge(c.net_bridge.clone())
        };
        if c.vtpm {
            let program = super::tpm::find_swtpm()
                .ok_or_else(|| Error::new("vtpm needs swtpm, the software TPM, and it is not on PATH"))?;
            // Synchronous start: the handle is in the state before the next await.
            let tpm = Swtpm::start(&program, &control_dir.join("tpm"), c.use_tpm1)?;
            ctx.ui.log(format!("swtpm started (pid {})", tpm.pid));
            let tpm = state.swtpm.insert(tpm);
            ctx.cancel.run(tpm.ready()).await??;
        }
        let template = state.template_data();
        let cdroms = state.cdroms();
        let inputs = Inputs {
            config: c,
            vm_name: &state.vm_name,
            accelerator: state.accelerator,
            disks: &disks,
            boot_from_cd: !c.disk_image,
            cdroms: &cdroms,
            floppy: state.common.floppy_path.as_deref(),
            net,
            vnc_port: state.vnc_port,
            user_qmp: user_qmp.as_deref(),
            control_qmp: &control_qmp,
            console: Some(&console),
            efi_vars: state.efi_vars.as_deref(),
            tpm_socket: state.swtpm.as_ref().map(|t| t.socket.as_path()),
            template: &template,
        };
        let mut argv = args::command_line(&inputs)?;
        if state.layers_dir.is_some() {
            // A VM the step cache snapshots gets a VM generation ID, and a new one each time it
            // is started from a snapshot: the guest's kernel (Linux 5.18 and later) then reseeds
            // its random number generator instead of repeating the snapshot's.
            argv.extend(["-device".to_string(), "vmgenid,guid=auto".to_string()]);
        }
        let resume_state = state.resumed().zip(state.layers_dir.as_ref()).map(|(id, dir)| {
            argv.extend(["-incoming".to_string(), "defer".to_string()]);
            super::snapshot::layer_files(dir, id).1
        });
        ctx.ui.say(match (&resume_state, c.disk_image) {
            (Some(_), _) => "Starting VM from the step cache's snapshot",
            (None, true) => "Starting VM, booting disk image",
            (None, false) => "Starting VM, booting from CD-ROM",
        });
        ctx.ui.log(format!("Qemu command: {}", super::process::display_command(c.qemu_binary().as_ref(), &argv)));
        let ui = ctx.ui.clone();
        let on_stderr: vm::LineFn = Arc::new(move |l: &str| ui.log(format!("qemu stderr: {l}")));
        let spec =
            VmSpec { program: c.qemu_binary().into(), args: argv, qmp_socket: control_qmp, on_stderr: Some(on_stderr) };
        // Synchronous start: the handle is in the state before the next await.
        state.vm = Some(Arc::new(Vm::start(spec)?));
        let vm = state.vm.clone().ok_or_else(|| Error::new("the VM vanished"))?;
        let qmp = ctx.cancel.run(vm.connect_qmp(QMP_CONNECT)).await??;
        state.qmp = Some(Arc::new(qmp));
        if let (Some(file), Some(q)) = (&resume_state, &state.qmp) {
            let started = std::time::Instant::now();
            ctx.cancel.run(super::snapshot::load_state(q, file)).await??;
            ctx.ui.log(format!("the VM's state was loaded in {:.2}s", started.elapsed().as_secs_f64()));
        } else if !state.bridged && state.host_port().is_some() {
            let file = control_dir.join("net.pcap");
            if let Some(q) = &state.qmp {
                match netwatch::start(q, "user.0", &file).await {
                    Ok(()) => state.net_watch = Some(file),
                    Err(e) => ctx.ui.log(format!("no watch on the guest's network ({e}): connecting the usual way")),
                }
            }
        }
        if let Some(port) = state.vnc_port {
            if c.vnc_use_password {
                let password = if c.vnc_password.is_empty() { vm::vnc_password()? } else { c.vnc_password.clone() };
                ctx.ui.add_secrets([password.clone()]);
                if let Some(q) = &state.qmp {
                    q.set_vnc_password(&password).await.map_err(Error::from)?;
                }
                ctx.ui.message(format!(
                    "The VM will be run headless, without a GUI. To view it, connect over VNC to {}:{port} with the password {password}",
                    c.vnc_bind_address()
                ));
            } else if c.headless {
                ctx.ui.message(format!(
                    "The VM will be run headless, without a GUI. To view it, connect over VNC to {}:{port}",
                    c.vnc_bind_address()
                ));
            }
        }
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        let vm = state.vm.as_ref().filter(|v| v.exited().is_none()).map(|v| format!("the VM (QEMU pid {})", v.pid));
        let tpm = state.swtpm.as_ref().map(|t| format!("the VM's TPM (swtpm pid {})", t.pid));
        let parts: Vec<String> = vm.into_iter().chain(tpm).collect();
        (!parts.is_empty()).then(|| format!("stopping {}", parts.join(" and ")))
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let qmp = state.qmp.take();
        if let Some(vm) = state.vm.take() {
            if vm.exited().is_none() {
                // The guest's state no longer matters: no power button, quit at once.
                ctx.ui.log(format!("stopping QEMU (pid {})", vm.pid));
                let exit = if let Some(q) = &qmp {
                    let _ = q.quit().await;
                    vm.wait_timeout(Duration::from_secs(5)).await
                } else {
                    None
                };
                if exit.is_none() {
                    vm.signal(libc::SIGKILL);
                    vm.wait().await;
                }
            }
        }
        if let Some(tpm) = state.swtpm.take() {
            // It ends by itself once QEMU is gone.
            tpm.stop(Duration::from_secs(2)).await;
        }
        if let Some(dir) = state.control_dir.take() {
            let _ = tokio::fs::remove_dir_all(dir).await;
        }
        for f in std::mem::take(&mut state.partials) {
            let _ = tokio::fs::remove_file(f).await;
        }
    }
}

/// A folder of kiln's own for the control socket: short (unix socket paths are limited to 107
/// bytes) and private.
fn private_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let dir = base.join(format!("kiln-qemu-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::new(format!("creating a folder in {}: {e}", base.display()))),
        }
    }
    Err(Error::new(format!("no free folder name for QEMU's control socket in {}", base.display())))
}

/// Waits `boot_wait`, then types the boot command over QMP (Packer's stepTypeBootCommand). With
/// no boot command there is nothing to wait for: the step does nothing (Packer waits anyway).
pub(super) struct StepTypeBootCommand(pub Arc<BootConfig>);

#[async_trait]
impl Step<State> for StepTypeBootCommand {
    fn name(&self) -> &'static str {
        "StepTypeBootCommand"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let b = &self.0;
        if state.resumed().is_some() {
            ctx.ui.log("the VM resumed from the step cache: no boot command");
            return Ok(());
        }
        let steps = b.typing();
        if steps.is_empty() {
            ctx.ui.log("no boot_command: not waiting boot_wait");
            return Ok(());
        }
        let data = state.template_data();
        let mut typing = Vec::with_capacity(steps.len());
        for s in &steps {
            typing.push(bootcommand::prepare(s.keys, &|i| s.name(i), &data, b.key_interval())?);
        }
        let wait = b.boot_wait();
        if !wait.is_zero() {
            ctx.ui.say(format!("Waiting {} for boot...", kiln_config::golang::format_go_duration(wait)));
            ctx.cancel.run(tokio::time::sleep(wait)).await?;
        }
        let qmp = state.qmp.clone().ok_or_else(|| Error::new("no QMP connection to type with"))?;
        ctx.ui.say("Typing the boot command...");
        for (s, keys) in steps.iter().zip(&typing) {
            if let Some(d) = s.description {
                ctx.ui.say(format!("Typing boot step {}: {d}", s.step.unwrap_or(1)));
            }
            ctx.cancel.run(bootcommand::type_steps(&qmp, keys)).await?.map_err(|e| match s.step {
                None => Error::new(format!("typing the boot command: {e}")),
                Some(n) => Error::new(format!("typing boot step {n}: {e}")),
            })?;
            if let (true, Some(n)) = (ctx.info.debug, s.step) {
                ctx.debug_pause(&format!(
                    "Pausing after boot step {n}{}. Press enter to continue.",
                    describe(s.description)
                ))
                .await?;
            }
        }
        Ok(())
    }
}

/// ` (DESCRIPTION)` for a step that has one.
fn describe(description: Option<&str>) -> String {
    description.map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Runs a step while watching the guest: when QEMU exits or the VM stops for good
/// (`internal-error`, a panic) the step fails at once with the reason, instead of waiting for a
/// timeout (an SSH connection that can never come).
pub(super) struct WhileGuestRuns<T>(pub T);

#[async_trait]
impl<T: Step<State>> Step<State> for WhileGuestRuns<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let (Some(vm), Some(qmp)) = (state.vm.clone(), state.qmp.clone()) else {
            return self.0.run(state, ctx).await;
        };
        let accelerator = state.accelerator;
        tokio::select! {
            r = self.0.run(state, ctx) => r,
            end = vm::watch(&vm, &qmp) => Err(guest_end_error(&end, accelerator, &vm)),
        }
    }

    fn cleans(&self, state: &State) -> Option<String> {
        self.0.cleans(state)
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, outcome: Outcome) {
        self.0.cleanup(state, ctx, outcome).await
    }

    fn role(&self) -> kiln_core::step::StepRole {
        self.0.role()
    }

    fn cleanup_timeout(&self) -> std::time::Duration {
        self.0.cleanup_timeout()
    }
}

/// What to tell the user when the guest's run ended early.
fn guest_end_error(end: &GuestEnd, accelerator: Accelerator, vm: &Vm) -> Error {
    match end {
        GuestEnd::Stopped(RunState::InternalError) => Error::new(format!(
            "the VM stopped with an internal error of the {} accelerator: the host's accelerator cannot run this guest. \
             Set accelerator = \"tcg\" to emulate the CPU instead (slower, but it works everywhere)",
            accelerator.as_str()
        )),
        GuestEnd::Exited(Exit::Clean) => {
            let err = vm.stderr();
            let tail = super::process::tail(&err, 800);
            if tail.is_empty() {
                Error::new("the VM powered off before the build was done with it")
            } else {
                Error::new(format!("the VM powered off before the build was done with it; QEMU said: {tail}"))
            }
        }
        other => other.to_error(),
    }
}

/// Writes the artifact's disk once the VM is off (Packer's stepConvertDisk): compaction,
/// compression, or the one pass from the overlay, as the disk plan says.
pub(super) struct StepConvertDisk;

#[async_trait]
impl Step<State> for StepConvertDisk {
    fn name(&self) -> &'static str {
        "StepConvertDisk"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let plan = state.plan.clone().ok_or_else(|| Error::new("no disks to convert"))?;
        if !plan.convert_at_end {
            return Ok(());
        }
        ctx.ui.say("Converting hard drive...");
        let img = QemuImg::default();
        let total = img.info(&plan.working).await?.virtual_size;
        let progress = Progress::new(&ctx.ui, "qemu-img convert", Some(total));
        let ui = ctx.ui.clone();
        ctx.cancel.run(plan.finish(&img, &move |m| ui.say(m), Some(&progress))).await??;
        progress.finish();
        Ok(())
    }
}

/// Puts [`DriveUpload`] around the connected communicator: large uploads go through a
/// hot-plugged disk instead of SSH (see [`super::upload`]). Only for SSH (a POSIX shell in the
/// guest); the plain communicator comes back at cleanup.
pub(super) struct StepDriveUploads {
    /// Whether the communicator is `ssh`.
    pub ssh: bool,
}

#[async_trait]
impl Step<State> for StepDriveUploads {
    fn name(&self) -> &'static str {
        "StepDriveUploads"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let (true, Some(comm), Some(qmp), Some(dir)) =
            (self.ssh, state.common.comm.clone(), state.qmp.clone(), state.control_dir.clone())
        else {
            return Ok(());
        };
        let uploads = Arc::new(DriveUpload::new(comm, qmp, &dir, ctx.ui.clone()));
        state.uploads = Some(Arc::clone(&uploads));
        state.common.comm = Some(uploads);
        Ok(())
    }
}

/// The toolkit's StepConnect, started once the guest's sshd answers (see [`super::netwatch`]):
/// nothing is sent to the guest before it has spoken on its network, so no connection is left
/// behind in QEMU to start an sshd for nothing, and no SYN waits out QEMU's back-off.
pub(super) struct StepConnectWhenUp {
    pub config: kiln_comm::Config,
}

impl StepConnectWhenUp {
    /// Whether the wait applies: SSH through the user-mode network's forward, straight to it.
    fn gated(&self, state: &State) -> bool {
        let c = &self.config;
        let unset = |o: &Option<String>| o.as_deref().unwrap_or("").is_empty();
        c.kind() == "ssh"
            && unset(&c.ssh_host)
            && unset(&c.ssh_bastion_host)
            && state.net_watch.is_some()
            && state.qmp.is_some()
            && state.host_port().is_some()
    }
}

#[async_trait]
impl Step<State> for StepConnectWhenUp {
    fn name(&self) -> &'static str {
        "StepConnect"
    }

    fn role(&self) -> kiln_core::step::StepRole {
        kiln_core::step::StepRole::Wait
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let timeout = self.config.ssh_timeout();
        let mut config = self.config.clone();
        if self.gated(state) {
            let (Some(file), Some(qmp), Some(port)) = (state.net_watch.take(), state.qmp.clone(), state.host_port())
            else {
                return Err(Error::new("the network watch lost its VM"));
            };
            let start = std::time::Instant::now();
            let seen = ctx.cancel.run(tokio::time::timeout(timeout, netwatch::wait_guest_address(&file))).await?;
            netwatch::stop(&qmp).await;
            let _ = tokio::fs::remove_file(&file).await;
            let up = seen.is_ok();
            let how = match seen {
                Ok(s) if s.addressed => "it sent from its address",
                Ok(s) if s.leased => "QEMU's DHCP server gave it its address",
                _ => "no address seen yet",
            };
            ctx.ui.log(format!("the guest's network is up after {:.1}s ({how})", start.elapsed().as_secs_f64()));
            let left = timeout.saturating_sub(start.elapsed());
            let answered = if up { ctx.cancel.run(netwatch::wait_banner(&qmp, port, left)).await? } else { None };
            let Some(stream) = answered else {
                let console =
                    state.control_dir.as_ref().map(|d| console_tail(&d.join(CONSOLE_LOG))).unwrap_or_default();
                return Err(Error::new(format!(
                    "Timeout waiting for SSH on 127.0.0.1:{port} after {} (ssh_timeout): the guest's SSH server never answered{console}",
                    kiln_config::golang::format_go_duration(timeout)
                )));
            };
            ctx.ui.log(format!("the guest's SSH server answered after {:.1}s", start.elapsed().as_secs_f64()));
            // The SSH session goes on on this connection: another one would make the booting
            // guest's sshd start one more copy of itself first.
            config.ssh_opened = kiln_comm::ssh::Opened::new(stream);
            let left = timeout.saturating_sub(start.elapsed()).max(Duration::from_secs(30));
            config.set_ssh_timeout(left);
        }
        kiln_toolkit::connect::StepConnect::new(&config).run(state, ctx).await?;
        if state.resumed().is_some() {
            state.set_guest_clock(ctx).await;
        }
        Ok(())
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, outcome: Outcome) {
        kiln_toolkit::connect::StepConnect::new(&self.config).cleanup(state, ctx, outcome).await
    }
}

/// The guest's serial console, in kiln's private folder (see `args`).
const CONSOLE_LOG: &str = "console.log";

/// How much of the console an error shows.
const CONSOLE_LINES: usize = 15;

/// The last lines of the guest's console, for an error: "" when it wrote nothing (or the
/// console goes elsewhere), else the lines, indented, without terminal control sequences.
pub(super) fn console_tail(file: &Path) -> String {
    let Ok(bytes) = std::fs::read(file) else { return String::new() };
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<String> = text.lines().map(strip_controls).filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return String::new();
    }
    let tail = &lines[lines.len().saturating_sub(CONSOLE_LINES)..];
    format!("; the guest's console ended with:\n  {}", tail.join("\n  "))
}

/// `line` without escape sequences (colours, cursor moves) and other control characters.
fn strip_controls(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ … final byte (0x40-0x7e), or ESC and one more character.
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
        } else if !c.is_control() || c == '\t' {
            out.push(c);
        }
    }
    out.trim_end().to_string()
}
