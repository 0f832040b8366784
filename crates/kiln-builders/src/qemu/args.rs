//! The QEMU command line: Packer's default arguments from the configuration and what the build
//! has made (disks, media, ports), merged with `qemuargs` as Packer merges them.
//!
//! Packer's rules, kept: each `qemuargs` entry is a flag and value parts joined without
//! separator; a flag given there replaces every default value of that flag; a flag without value
//! is passed bare; when `-device` no longer mentions `net_device`, the network card is added
//! back. Values are templates (`{{ .HTTPIP }}`, `{{ .SSHHostPort }}` …).
//!
//! Differences from Packer 1.6.6, each a fix (see `docs/compatibility.md`):
//! - the communicator's forward listens on 127.0.0.1 (`hostfwd=tcp:127.0.0.1:PORT-:22`), not on
//!   every interface;
//! - the VNC display is `port - 5900` (1.6.6 subtracts `vnc_port_min`, so a range not starting
//!   at 5900 points its own VNC client at the wrong port);
//! - QEMU 7 spellings: `password=on`, `server=on,wait=off` (1.6.6's short forms are deprecated);
//! - CD drives on `ide`/`virtio`/`scsi` are numbered after the disks of the same bus, and on
//!   `virtio-scsi` hang off the PCI controller (1.6.6's command lines for both fail to start);
//! - kiln adds its own QMP control socket after everything else (a `-qmp` in `qemuargs` adds a
//!   monitor, it does not take kiln's away), and `-display none` when headless without VNC;
//! - the guest's serial console goes to a file in kiln's private folder (`-serial file:…`, last,
//!   unless `qemuargs` has `-serial`, `-chardev` or `-nographic`): its end is shown when the
//!   guest's SSH server never answers;
//! - the arguments come in a fixed order (Packer's order is random from run to run);
//! - the guest gets an entropy source, a virtio RNG ([`ENTROPY_DEVICE`]) on machines with a PCI
//!   bus, unless `qemuargs` give it one (see [`entropy_device`]);
//! - x86 PC machines get no empty CD-ROM drive: only the build's own CDs, if any (see
//!   [`NO_EMPTY_CDROM`]);
//! - a CPU topology (`sockets`, `cores`, `threads`) larger than `cpus` gets `maxcpus` (later
//!   Packers pass a line QEMU 7 refuses).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::{Error, Result};

use super::config::{Accelerator, CdromInterface, Config, DetectZeroes, DiskInterface, Format};

/// One disk the VM gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub path: PathBuf,
    /// The format of the file QEMU opens (an overlay is qcow2 even for a raw output).
    pub format: Format,
}

/// The VM's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Net {
    /// QEMU's user-mode network, with the communicator's port forward `(host, guest)` on
    /// 127.0.0.1 (`None` with `communicator = "none"`).
    User { forward: Option<(u16, u16)> },
    /// `net_bridge`.
    Bridge(String),
}

/// What the command line needs besides the configuration: what the earlier steps made.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    pub config: &'a Config,
    pub vm_name: &'a str,
    /// Resolved (detected when `accelerator` is unset).
    pub accelerator: Accelerator,
    /// The main disk first, then `disk_additional_size`'s.
    pub disks: &'a [Disk],
    /// Whether the VM boots from its CD (an installer ISO) or its disk (`disk_image`).
    pub boot_from_cd: bool,
    /// CD images in order: the installer ISO, then the `cd_files` image.
    pub cdroms: &'a [PathBuf],
    pub floppy: Option<&'a Path>,
    pub net: Net,
    /// The reserved VNC port (`None`: no VNC server, `disable_vnc`).
    pub vnc_port: Option<u16>,
    /// The user's QMP socket (`qmp_enable`), if any.
    pub user_qmp: Option<&'a Path>,
    /// kiln's own QMP control socket.
    pub control_qmp: &'a Path,
    /// Where the guest's serial console goes (a file kiln shows the end of when the guest never
    /// answers), unless `qemuargs` decide where the serial port goes.
    pub console: Option<&'a Path>,
    /// The VM's copy of the UEFI variable store (with `efi_boot`).
    pub efi_vars: Option<&'a Path>,
    /// The control socket of the VM's software TPM (with `vtpm`).
    pub tpm_socket: Option<&'a Path>,
    /// Values for the `qemuargs` templates: `HTTPIP`, `HTTPPort`, `HTTPDir`, `OutputDir`,
    /// `Name`, `SSHHostPort`.
    pub template: &'a BTreeMap<String, String>,
}

type Args = Vec<(String, Vec<String>)>;

fn push(args: &mut Args, key: &str, value: impl Into<String>) {
    let value = value.into();
    match args.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => v.push(value),
        None => args.push((key.to_string(), vec![value])),
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// Packer's defaults for `inputs`, keyed by flag, in kiln's fixed order.
pub fn defaults(i: &Inputs) -> Args {
    let c = i.config;
    let mut a = Args::new();
    push(&mut a, "-name", i.vm_name);
    let machine = match i.accelerator {
        Accelerator::None => format!("type={}", c.machine_type()),
        accel => format!("type={},accel={}", c.machine_type(), accel.as_str()),
    };
    push(&mut a, "-machine", machine);
    push(&mut a, "-m", format!("{}M", c.memory()));
    if let Some(smp) = c.smp() {
        push(&mut a, "-smp", smp);
    }
    if !c.cpu_model.is_empty() {
        push(&mut a, "-cpu", c.cpu_model.as_str());
    }
    let mut devices = Vec::new();
    let mut scsi_controller = false;
    for (n, d) in i.disks.iter().enumerate() {
        let mut opts = match c.disk_interface {
            DiskInterface::VirtioScsi | DiskInterface::Sata => format!("if=none,file={},id=drive{n}", path(&d.path)),
            other => format!("file={},if={}", path(&d.path), other.as_str()),
        };
        opts.push_str(&format!(
            ",cache={},discard={},format={}",
            c.disk_cache.as_str(),
            c.disk_discard.as_str(),
            d.format.as_str()
        ));
        if c.disk_detect_zeroes != DetectZeroes::Off {
            opts.push_str(&format!(",detect-zeroes={}", c.disk_detect_zeroes.as_str()));
        }
        push(&mut a, "-drive", opts);
        match c.disk_interface {
            DiskInterface::VirtioScsi => {
                if !scsi_controller {
                    devices.push("virtio-scsi-pci,id=scsi0".to_string());
                    scsi_controller = true;
                }
                devices.push(format!("scsi-hd,bus=scsi0.0,drive=drive{n}"));
            }
            DiskInterface::Sata => {
                if n == 0 {
                    devices.push("ahci,id=ahci0".to_string());
                }
                devices.push(format!("ide-hd,bus=ahci0.{n},drive=drive{n}"));
            }
            _ => {}
        }
    }
    devices.push(format!("{},netdev=user.0", c.net_device()));
    for (j, cd) in i.cdroms.iter().enumerate() {
        let iface = c.cdrom_interface;
        // Numbered after the disks on the same bus, so the two never claim one unit.
        let same_bus = match (iface, c.disk_interface) {
            (Some(CdromInterface::Ide), DiskInterface::Ide)
            | (Some(CdromInterface::Scsi), DiskInterface::Scsi)
            | (Some(CdromInterface::Virtio), DiskInterface::Virtio) => i.disks.len(),
            _ => 0,
        };
        let index = same_bus + j;
        let drive = match iface {
            None => format!("file={},media=cdrom", path(cd)),
            Some(CdromInterface::VirtioScsi) => {
                if !scsi_controller {
                    devices.push("virtio-scsi-pci,id=scsi0".to_string());
                    scsi_controller = true;
                }
                devices.push(format!("scsi-cd,bus=scsi0.0,drive=cdrom{j}"));
                format!("file={},if=none,index={index},id=cdrom{j},media=cdrom", path(cd))
            }
            Some(other) => format!("file={},if={},index={index},id=cdrom{j},media=cdrom", path(cd), other.as_str()),
        };
        push(&mut a, "-drive", drive);
    }
    if !c.firmware.is_empty() && c.use_pflash && !c.efi() {
        push(&mut a, "-drive", format!("if=pflash,unit=0,format=raw,readonly=on,file={}", c.firmware));
    }
    if c.efi() {
        push(&mut a, "-drive", format!("if=pflash,unit=0,format=raw,readonly=on,file={}", c.efi_code()));
        if let Some(vars) = i.efi_vars {
            push(&mut a, "-drive", format!("if=pflash,unit=1,format=raw,file={}", path(vars)));
        }
    }
    if let Some(socket) = i.tpm_socket {
        for (flag, value) in super::tpm::qemu_args(socket, c.tpm_device()) {
            if flag == "-device" {
                devices.push(value);
            } else {
                push(&mut a, flag, value);
            }
        }
    }
    for d in devices {
        push(&mut a, "-device", d);
    }
    let netdev = match &i.net {
        Net::User { forward: Some((host, guest)) } => format!("user,id=user.0,hostfwd=tcp:127.0.0.1:{host}-:{guest}"),
        Net::User { forward: None } => "user,id=user.0".to_string(),
        Net::Bridge(br) => format!("bridge,id=user.0,br={br}"),
    };
    push(&mut a, "-netdev", netdev);
    if let Some(port) = i.vnc_port {
        let mut vnc = format!("{}:{}", c.vnc_bind_address(), port.saturating_sub(5900));
        if c.vnc_use_password {
            vnc.push_str(",password=on");
        }
        push(&mut a, "-vnc", vnc);
    }
    if c.headless {
        if i.vnc_port.is_none() {
            push(&mut a, "-display", "none");
        }
    } else if !c.use_default_display && c.display() != "none" {
        push(&mut a, "-display", c.display());
    }
    if !c.vga.is_empty() {
        push(&mut a, "-vga", c.vga.as_str());
    }
    push(&mut a, "-boot", if i.boot_from_cd { "once=d" } else { "c" });
    if let Some(f) = i.floppy {
        push(&mut a, "-fda", path(f));
    }
    if !c.firmware.is_empty() && !c.use_pflash && !c.efi() {
        push(&mut a, "-bios", c.firmware.as_str());
    }
    if let Some(q) = i.user_qmp {
        push(&mut a, "-qmp", format!("unix:{},server=on,wait=off", path(q)));
    }
    a
}

/// The arguments of `qemu-system-*` (without the program).
pub fn command_line(i: &Inputs) -> Result<Vec<String>> {
    let c = i.config;
    let mut user = Args::new();
    for (n, entry) in c.qemuargs.iter().enumerate() {
        let Some((flag, parts)) = entry.split_first() else {
            return Err(Error::new(format!("qemuargs entry {} is empty", n + 1)));
        };
        let mut value = String::new();
        for p in parts {
            let rendered = kiln_core::late::render(p, i.template)
                .map_err(|e| Error::new(format!("qemuargs entry {} ({flag}): {}", n + 1, e.message)))?;
            value.push_str(&rendered);
        }
        let flag = kiln_core::late::render(flag, i.template)
            .map_err(|e| Error::new(format!("qemuargs entry {}: {}", n + 1, e.message)))?;
        let idx = match user.iter().position(|(k, _)| *k == flag) {
            Some(p) => p,
            None => {
                user.push((flag, Vec::new()));
                user.len() - 1
            }
        };
        if !value.is_empty() {
            user[idx].1.push(value);
        }
    }
    let user_flags: Vec<String> = user.iter().map(|(k, _)| k.clone()).collect();
    let mut merged = Args::new();
    for (key, values) in defaults(i) {
        match user.iter().position(|(k, _)| *k == key) {
            Some(p) => merged.push(user.remove(p)),
            None => merged.push((key, values)),
        }
    }
    merged.extend(user);
    // Packer's rule: a -device override that drops the network card gets it back.
    if let Some((_, devices)) = merged.iter_mut().find(|(k, _)| k == "-device") {
        if !devices.concat().contains(c.net_device()) {
            devices.push(format!("{},netdev=user.0", c.net_device()));
        }
    }
    let mut out = Vec::new();
    for (key, values) in merged {
        if values.is_empty() {
            out.push(key.clone());
        }
        for v in values {
            out.push(key.clone());
            out.push(v);
        }
    }
    if let Some(device) = entropy_device(c, &out) {
        out.push("-device".into());
        out.push(device.into());
    }
    if let Some(global) = no_empty_cdrom(c, &out) {
        out.push("-global".into());
        out.push(global.into());
    }
    // The console to a file, unless the user routes the serial port (or every output) already
    // (kiln's own `-chardev`, the TPM's, routes nothing).
    let routed = ["-serial", "-nographic", "-chardev"].iter().any(|f| user_flags.iter().any(|a| a == f));
    if let (Some(console), false) = (i.console, routed) {
        out.push("-serial".into());
        out.push(format!("file:{}", path(console)));
    }
    out.push("-qmp".into());
    out.push(format!("unix:{},server=on,wait=off", path(i.control_qmp)));
    Ok(out)
}

/// kiln's entropy source for the guest: a virtio RNG fed by QEMU from the host's random source.
/// A guest without one waits for its kernel to gather entropy before anything that needs random
/// numbers can start (sshd's host-key and key-exchange set-up among them); under TCG the pool
/// was ready 3-4 s later than with one, the kernel's jitter collector busy on an emulated CPU.
pub const ENTROPY_DEVICE: &str = "virtio-rng-pci,id=kiln-rng0";

/// [`ENTROPY_DEVICE`] for machines with a PCI bus (`pc*`, `q35*`, `virt*`), unless `args`
/// already give the guest an RNG device (`-device virtio-rng-*`) or an `rng-*` source
/// (`-object`) of its own (theirs is kept).
fn entropy_device(c: &Config, args: &[String]) -> Option<&'static str> {
    let pci = machine_is(c, &["pc", "q35", "virt"]);
    let own = args.windows(2).any(|w| match w[0].as_str() {
        "-device" => w[1].starts_with("virtio-rng"),
        "-object" => w[1].starts_with("rng-"),
        _ => false,
    });
    (pci && !own).then_some(ENTROPY_DEVICE)
}

/// kiln's `-global` that leaves QEMU's default CD-ROM drive out. On x86 PC machines QEMU adds an
/// empty IDE CD-ROM drive to every VM (besides a build's own CDs, which `cd_files`, `cd_content`
/// and ISO builds attach as drives of their own). The guest's boot then probes it on its
/// emulated CPUs: the ATAPI identify, the `sr_mod` and `cdrom` drivers, udev's `cdrom_id` and
/// `blkid`. QEMU leaves its default CD-ROM out when the command line sets a property of
/// `ide-cd` (its rule for default devices the user configures); `share-rw=off` is that
/// property's default, so no CD-ROM drive changes. Measured under TCG, the base image: QEMU used
/// 0.57-0.61 s less CPU time in the 4 s after the SSH banner (three pairs of raw boots); kiln
/// builds of the bench template, eight pairs: the SSH connection 0.20 s sooner and the total
/// 0.23 s lower (medians).
pub const NO_EMPTY_CDROM: &str = "ide-cd.share-rw=off";

/// [`NO_EMPTY_CDROM`] on the machines that have the default CD-ROM drive (`pc*`, `q35*`,
/// `isapc`), unless `args` have `-nodefaults` or set an `ide-cd` property themselves (theirs
/// stays as given). Someone who wants the empty drive back asks for it:
/// `["-device", "ide-cd,bus=ide.1,unit=0"]`.
fn no_empty_cdrom(c: &Config, args: &[String]) -> Option<&'static str> {
    let pc = machine_is(c, &["pc", "q35", "isapc"]);
    let own = args.iter().any(|a| a == "-nodefaults")
        || args.windows(2).any(|w| w[0] == "-global" && w[1].starts_with("ide-cd."));
    (pc && !own).then_some(NO_EMPTY_CDROM)
}

/// Whether `machine_type` (without its options) is one of `families` or a versioned type of one
/// (`pc` matches `pc`, `pc-i440fx-7.2` and `pc-q35-7.2`, not `pcx`).
fn machine_is(c: &Config, families: &[&str]) -> bool {
    let machine = c.machine_type().split(',').next().unwrap_or_default();
    families.iter().any(|m| machine == *m || machine.strip_prefix(m).is_some_and(|rest| rest.starts_with('-')))
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
