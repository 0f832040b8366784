//! Options of the `qemu` builder.
//!
//! [`Config`] holds the builder's own options; [`BootConfig`] the boot command's (Packer's
//! VNC boot options, shared with other builders that type at a console). The rest of a `qemu`
//! source is made of common parts the builder toolkit defines, decoded from the same object:
//!
//! | toolkit part | Packer options |
//! |---|---|
//! | ISO download | `iso_url`, `iso_urls`, `iso_checksum`, `iso_target_path`, `iso_target_extension` |
//! | HTTP server | `http_directory`, `http_content`, `http_port_min`, `http_port_max`, `http_bind_address` |
//! | floppy | `floppy_files`, `floppy_dirs`, `floppy_content`, `floppy_label` |
//! | CD | `cd_files`, `cd_content`, `cd_label` |
//! | shutdown | `shutdown_command`, `shutdown_timeout` |
//! | output directory | `output_directory` |
//! | communicator | `communicator`, `ssh_*`, `winrm_*`, `pause_before_connecting` |
//!
//! (`iso_skip_cache` is the qemu builder's own in Packer, so it is here.) [`Config::check`] and
//! [`BootConfig::check`] are the checks `prepare` runs after decoding.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use kiln_config::decode::Duration as GoDuration;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};
use serde::de::{self, Deserializer};
use serde::Deserialize;

use super::bootcommand;

/// Declares a string option with a fixed set of values: `FromStr`, `as_str`, and a
/// `Deserialize` that reads `""` as the default (as Packer does).
macro_rules! choice {
    ($(#[$m:meta])* $name:ident: $option:literal, default $def:ident, { $($var:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($var),+ }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($s),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::$def
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$var),)+
                    _ => Err(choice_error($option, s, Self::ALL)),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if s.is_empty() {
                    return Ok($name::default());
                }
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

fn choice_error(option: &str, value: &str, all: &[&str]) -> String {
    let mut m = format!("{value:?} is not a valid {option}: use one of {}", all.join(", "));
    if let Some(s) =
        did_you_mean(value, all.iter().copied()).or_else(|| all.iter().copied().find(|a| a.eq_ignore_ascii_case(value)))
    {
        m.push_str(&format!(" (did you mean {s:?}?)"));
    }
    m
}

choice!(
    /// The disk image format.
    Format: "format", default Qcow2, { Qcow2 = "qcow2", Raw = "raw" }
);
choice!(
    /// How the disks are attached.
    DiskInterface: "disk_interface", default Virtio,
    { Virtio = "virtio", VirtioScsi = "virtio-scsi", Scsi = "scsi", Ide = "ide", Sata = "sata" }
);
choice!(
    /// QEMU's `cache=` for the disks.
    DiskCache: "disk_cache", default Writeback,
    { Writeback = "writeback", Writethrough = "writethrough", None = "none", Unsafe = "unsafe", Directsync = "directsync" }
);
choice!(
    /// QEMU's `discard=` for the disks.
    DiskDiscard: "disk_discard", default Ignore, { Ignore = "ignore", Unmap = "unmap" }
);
choice!(
    /// QEMU's `detect-zeroes=` for the disks.
    DetectZeroes: "disk_detect_zeroes", default Off, { Off = "off", On = "on", Unmap = "unmap" }
);
choice!(
    /// How the CD drives are attached, when not QEMU's default (`media=cdrom` on the IDE bus).
    CdromInterface: "cdrom_interface", default Ide, { Ide = "ide", Scsi = "scsi", Virtio = "virtio", VirtioScsi = "virtio-scsi" }
);
choice!(
    /// A QEMU accelerator.
    Accelerator: "accelerator", default Tcg,
    { Kvm = "kvm", Tcg = "tcg", Xen = "xen", Hax = "hax", Hvf = "hvf", Whpx = "whpx", None = "none" }
);

/// Network devices Packer documents; another value is passed to QEMU with a warning.
pub const NET_DEVICES: &[&str] = &[
    "virtio-net",
    "virtio-net-pci",
    "virtio",
    "e1000",
    "e1000e",
    "rtl8139",
    "ne2k_pci",
    "pcnet",
    "usb-net",
    "vmxnet3",
    "i82550",
    "i82551",
    "i82557a",
    "i82557b",
    "i82557c",
    "i82558a",
    "i82558b",
    "i82559a",
    "i82559b",
    "i82559c",
    "i82559er",
    "i82562",
    "i82801",
];

/// Extra `qemu-img` arguments for each kind of call.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QemuImgArgs {
    /// Extra arguments of `qemu-img convert` (the final conversion and compaction), before the
    /// output format.
    #[serde(default)]
    pub convert: Vec<String>,
    /// Extra arguments of `qemu-img create`, before the file name.
    #[serde(default)]
    pub create: Vec<String>,
    /// Extra arguments of `qemu-img resize`, before the file name.
    #[serde(default)]
    pub resize: Vec<String>,
}

/// The `qemu` builder's own options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The accelerator QEMU runs the VM with: `kvm`, `tcg`, `xen`, `hax`, `hvf`, `whpx` or
    /// `none`. Unset: kiln uses `kvm` when `/dev/kvm` can run ordinary guests and `tcg`
    /// otherwise (saying so: TCG emulates the CPU and is much slower).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub accelerator: Option<Accelerator>,
    /// Virtual CPUs of the VM (`-smp`). Default 1, or with `sockets`, `cores` or `threads` the
    /// most their topology holds (a larger `cpus` is cut to that).
    #[serde(default)]
    pub cpus: u32,
    /// CPU sockets of the VM's topology (`-smp sockets=`). The topology holds
    /// `sockets × cores × threads` CPUs (the ones set).
    #[serde(default)]
    pub sockets: u32,
    /// Cores per socket (`-smp cores=`).
    #[serde(default)]
    pub cores: u32,
    /// Threads per core (`-smp threads=`).
    #[serde(default)]
    pub threads: u32,
    /// QEMU's CPU model (`-cpu`): `host` (with `kvm`), `max`, `Skylake-Client` …
    /// (`qemu-system-x86_64 -cpu help` lists them). Unset: the machine's default (`qemu64` on
    /// x86).
    #[serde(default)]
    pub cpu_model: String,
    /// Memory of the VM in MiB (`-m`). Default 512.
    #[serde(default)]
    pub memory: u32,
    /// QEMU's machine type (`-machine type=`). Default `pc`.
    #[serde(default)]
    pub machine_type: String,
    /// Firmware file passed with `-bios` (a SeaBIOS or OVMF build), instead of QEMU's default.
    #[serde(default)]
    pub firmware: String,
    /// Load `firmware` as a read-only pflash drive instead of with `-bios`.
    #[serde(default)]
    pub use_pflash: bool,
    /// Boot with UEFI firmware from pflash drives (`efi_firmware_code`, `efi_firmware_vars`)
    /// instead of BIOS. Setting either file turns it on.
    #[serde(default)]
    pub efi_boot: bool,
    /// The UEFI firmware code for `efi_boot`. Default `/usr/share/OVMF/OVMF_CODE.fd`.
    #[serde(default)]
    pub efi_firmware_code: String,
    /// The UEFI variable store template for `efi_boot`; the VM gets a copy in the output
    /// directory. Default `/usr/share/OVMF/OVMF_VARS.fd`.
    #[serde(default)]
    pub efi_firmware_vars: String,
    /// Leave the VM's `efivars.fd` out of the artifact's files (post-processors that take only
    /// disk images then see only disks). The file stays in the output directory.
    #[serde(default)]
    pub efi_drop_efivars: bool,

    /// Use `iso_url` as the VM's disk (an existing qcow2 or raw image) instead of booting an
    /// installer ISO on a blank disk.
    #[serde(default)]
    pub disk_image: bool,
    /// With `disk_image`, make the output a qcow2 overlay whose backing file is `iso_url`
    /// (small, fast, but it needs the source image wherever it is used). qcow2 only.
    #[serde(default)]
    pub use_backing_file: bool,
    /// Size of the main disk: a number of MiB (`10240`) or a size with a unit (`40G`,
    /// `512M`, `1T`; `b`, `k`, `m`, `g`, `t` in any case). Default `40960M`. With
    /// `disk_image`, the image is grown to it unless `skip_resize_disk`.
    #[serde(default)]
    pub disk_size: String,
    /// Sizes of more disks, each as `disk_size`; they are created blank and named
    /// `VM_NAME-1`, `VM_NAME-2` … in the output directory.
    #[serde(default)]
    pub disk_additional_size: Vec<String>,
    /// Output disk format: `qcow2` (default) or `raw`.
    #[serde(default)]
    pub format: Format,
    /// How the disks are attached: `virtio` (default), `virtio-scsi`, `scsi`, `ide` or `sata`.
    /// Kickstart files and boot commands must expect the matching device names.
    #[serde(default)]
    pub disk_interface: DiskInterface,
    /// Disk cache mode: `writeback` (default), `writethrough`, `none`, `unsafe` or `directsync`.
    #[serde(default)]
    pub disk_cache: DiskCache,
    /// Whether the guest's discard (TRIM) requests free space in the image: `ignore` (default)
    /// or `unmap`.
    #[serde(default)]
    pub disk_discard: DiskDiscard,
    /// Whether QEMU turns writes of zeroes into holes: `off` (default), `on` or `unmap`
    /// (needs `disk_discard` = `unmap` to free space).
    #[serde(default)]
    pub disk_detect_zeroes: DetectZeroes,
    /// Keep the disk as the VM left it instead of rewriting it with `qemu-img convert` at the
    /// end (which drops unused space). qcow2 only.
    #[serde(default)]
    pub skip_compaction: bool,
    /// Compress the qcow2 output (`qemu-img convert -c`) in the final conversion.
    #[serde(default)]
    pub disk_compression: bool,
    /// With `disk_image`, keep the image's own size instead of growing it to `disk_size`.
    #[serde(default)]
    pub skip_resize_disk: bool,
    /// Extra `qemu-img` arguments: `{"convert": [...], "create": [...], "resize": [...]}`.
    #[serde(default)]
    pub qemu_img_args: QemuImgArgs,
    /// Bus for the CD drives (the ISO and `cd_files`): `ide`, `scsi`, `virtio` or
    /// `virtio-scsi`. Unset: QEMU's default (`media=cdrom`).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub cdrom_interface: Option<CdromInterface>,

    /// The VM's network card model (`-device`). Default `virtio-net`.
    #[serde(default)]
    pub net_device: String,
    /// Attach the VM to this host bridge (`-netdev bridge`) instead of QEMU's user-mode network;
    /// the guest's address then comes from the bridge's DHCP, and no port is forwarded.
    #[serde(default)]
    pub net_bridge: String,
    /// Forward no host port to the guest's SSH port: kiln connects to `ssh_host` (default
    /// 127.0.0.1) on `ssh_port`, for a network you set up yourself in `qemuargs` (a `-netdev`
    /// with your own `hostfwd`, say).
    #[serde(default)]
    pub skip_nat_mapping: bool,
    /// Lowest host port for the communicator's forward to the guest (on 127.0.0.1). Default
    /// 2222.
    #[serde(default = "default_host_port_min")]
    pub host_port_min: u16,
    /// Highest host port for the communicator's forward. Default 4444.
    #[serde(default = "default_host_port_max")]
    pub host_port_max: u16,
    /// Old name of `host_port_min` (deprecated).
    #[serde(default)]
    pub ssh_host_port_min: Option<u16>,
    /// Old name of `host_port_max` (deprecated).
    #[serde(default)]
    pub ssh_host_port_max: Option<u16>,

    /// Run without a window. The screen stays reachable over VNC.
    #[serde(default)]
    pub headless: bool,
    /// QEMU's `-display` when not `headless` (`gtk`, `sdl`, `none` …). Default `gtk`.
    #[serde(default)]
    pub display: String,
    /// Pass no `-display` and let QEMU choose.
    #[serde(default)]
    pub use_default_display: bool,
    /// Address the VNC server listens on. Default `127.0.0.1`.
    #[serde(default)]
    pub vnc_bind_address: String,
    /// Lowest VNC port (at least 5900: QEMU numbers VNC displays from there). Default 5900.
    #[serde(default = "default_vnc_port_min")]
    pub vnc_port_min: u16,
    /// Highest VNC port. Default 6000.
    #[serde(default = "default_vnc_port_max")]
    pub vnc_port_max: u16,
    /// Protect the VNC server with a password: `vnc_password`, or a random one.
    #[serde(default)]
    pub vnc_use_password: bool,
    /// The VNC password with `vnc_use_password` (a secret: masked in kiln's output). VNC
    /// passwords have at most 8 characters. Unset: a random one.
    #[serde(default)]
    pub vnc_password: String,
    /// The graphics card (`-vga`): `std`, `virtio`, `qxl`, `cirrus`, `vmware`, `none` … Unset: the
    /// machine's default.
    #[serde(default)]
    pub vga: String,
    /// Give the VM a TPM: a software TPM (`swtpm`, which must be installed) that lives as long
    /// as the VM, its state in kiln's private folder (not in the artifact). TPM 2.0 unless
    /// `use_tpm1`.
    #[serde(default)]
    pub vtpm: bool,
    /// With `vtpm`: a TPM 1.2 instead of 2.0.
    #[serde(default)]
    pub use_tpm1: bool,
    /// With `vtpm`: QEMU's TPM device, `tpm-tis` (default; x86), `tpm-crb`, `tpm-tis-device`
    /// (Arm) or `tpm-spapr` (POWER).
    #[serde(default)]
    pub tpm_device_type: String,

    /// The QEMU program. Default `qemu-system-x86_64`.
    #[serde(default)]
    pub qemu_binary: String,
    // TODO: kiln_core::late::Late<String> once that type lands: these are run-time templates.
    /// Extra QEMU arguments, each a list: the flag and its value parts (joined without
    /// separator). A flag given here replaces all of kiln's default values for that flag
    /// (`["-m", "2048M"]` replaces the memory, `["-device", ...]` every default device; the
    /// network card is added back when no `-device` mentions `net_device`). Values may use
    /// `{{ .HTTPIP }}`, `{{ .HTTPPort }}`, `{{ .HTTPDir }}`, `{{ .OutputDir }}`, `{{ .Name }}`
    /// and `{{ .SSHHostPort }}`.
    #[serde(default)]
    pub qemuargs: Vec<Vec<String>>,
    /// Open a QMP socket for your own tools (at `qmp_socket_path`). kiln's own control socket
    /// is separate.
    #[serde(default)]
    pub qmp_enable: bool,
    /// Where `qmp_enable` puts the QMP socket. Default `OUTPUT_DIRECTORY/VM_NAME.monitor`.
    #[serde(default)]
    pub qmp_socket_path: String,
    /// Name of the VM and of the main disk file in the output directory. Default
    /// `packer-BUILDNAME` (no extension is added).
    #[serde(default)]
    pub vm_name: String,
    /// Use `iso_url` where it is instead of copying it into the download cache first.
    #[serde(default)]
    pub iso_skip_cache: bool,
    /// Deprecated and ignored (Packer's old single-boot switch).
    #[serde(default)]
    pub run_once: bool,
}

/// The boot command options (Packer's VNC boot configuration). kiln types the keys through
/// QEMU's monitor, not over VNC.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootConfig {
    // TODO: kiln_core::late::Late<String> once that type lands: these are run-time templates.
    /// Keys to type once the VM has started and `boot_wait` has passed, in Packer's boot
    /// command language: text, `<enter>`, `<esc>`, `<f1>`…, `<leftCtrlOn>`…, `<wait5>`.
    /// Values may use `{{ .HTTPIP }}`, `{{ .HTTPPort }}` and `{{ .Name }}`.
    #[serde(default)]
    pub boot_command: Vec<String>,
    /// How long to wait after starting the VM before typing. Default `10s`.
    #[serde(default)]
    pub boot_wait: Option<GoDuration>,
    /// Pause after each key. Default 100ms (or `PACKER_KEY_INTERVAL`).
    #[serde(default)]
    pub boot_key_interval: Option<GoDuration>,
    /// Accepted for Packer compatibility; the qemu builder does not group keys.
    #[serde(default)]
    pub boot_keygroup_interval: Option<GoDuration>,
    /// Start no VNC server.
    #[serde(default)]
    pub disable_vnc: bool,
    /// The boot command in steps, each `[keys, description]` (the description optional): kiln
    /// says each description before typing its keys, and with `-debug` pauses after each step.
    /// For installers with many screens. Not with `boot_command`.
    #[serde(default)]
    pub boot_steps: Vec<Vec<String>>,
}

fn default_host_port_min() -> u16 {
    2222
}
fn default_host_port_max() -> u16 {
    4444
}
fn default_vnc_port_min() -> u16 {
    5900
}
fn default_vnc_port_max() -> u16 {
    6000
}

fn empty_is_none<'de, D: Deserializer<'de>, T: FromStr<Err = String>>(d: D) -> Result<Option<T>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => s.parse().map(Some).map_err(de::Error::custom),
    }
}

/// A disk size as `qemu-img` takes it, normalised as Packer does (a bare number is MiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSize {
    /// `40960M`, `40G`.
    pub text: String,
    pub bytes: u64,
}

impl FromStr for DiskSize {
    type Err = String;
    fn from_str(s: &str) -> Result<DiskSize, String> {
        let bad = || {
            format!(
                "{s:?} is not a disk size: write a number of MiB (10240) or a number with a unit b, k, m, g or t (40G)"
            )
        };
        let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &s[digits.len()..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || unit.len() > 1 {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        let shift = match unit.to_ascii_lowercase().as_str() {
            "" | "m" => 20,
            "b" => 0,
            "k" => 10,
            "g" => 30,
            "t" => 40,
            _ => return Err(bad()),
        };
        let bytes = n.checked_mul(1 << shift).ok_or_else(bad)?;
        let text = if unit.is_empty() { format!("{digits}M") } else { s.to_string() };
        Ok(DiskSize { text, bytes })
    }
}

/// Packer's default `disk_size`.
pub const DEFAULT_DISK_SIZE: &str = "40960M";
pub const DEFAULT_EFI_CODE: &str = "/usr/share/OVMF/OVMF_CODE.fd";
pub const DEFAULT_EFI_VARS: &str = "/usr/share/OVMF/OVMF_VARS.fd";

/// QEMU's TPM devices for `tpm_device_type`; another value is passed on with a warning.
pub const TPM_DEVICES: &[&str] = &["tpm-tis", "tpm-crb", "tpm-tis-device", "tpm-spapr", "tpm-tis-i2c"];

impl Config {
    /// The VM's CPU count: `cpus`, within what `sockets`, `cores` and `threads` hold.
    pub fn cpus(&self) -> u32 {
        match (self.topology_cpus(), self.cpus) {
            (Some(max), 0) => max,
            (Some(max), n) => n.min(max),
            (None, n) => n.max(1),
        }
    }

    /// The product of the topology options that are set (`None`: none is).
    pub fn topology_cpus(&self) -> Option<u32> {
        let set: Vec<u32> = [self.sockets, self.cores, self.threads].into_iter().filter(|n| *n > 0).collect();
        (!set.is_empty()).then(|| set.iter().fold(1u32, |p, n| p.saturating_mul(*n)))
    }

    /// QEMU's `-smp` value, `None` for QEMU's default (one CPU). With `cpus` alone, one CPU per
    /// socket as Packer 1.6.6 does; with a topology, its parts as given, and `maxcpus` when the
    /// VM starts with fewer CPUs than the topology holds (QEMU 7 otherwise takes `cpus` as the
    /// topology's size and refuses the line, which later Packers pass as it is).
    pub fn smp(&self) -> Option<String> {
        let Some(max) = self.topology_cpus() else {
            return (self.cpus() > 1).then(|| format!("cpus={0},sockets={0}", self.cpus()));
        };
        let mut s = format!("cpus={}", self.cpus());
        for (key, n) in [("sockets", self.sockets), ("cores", self.cores), ("threads", self.threads)] {
            if n > 0 {
                s.push_str(&format!(",{key}={n}"));
            }
        }
        if self.cpus() < max {
            s.push_str(&format!(",maxcpus={max}"));
        }
        Some(s)
    }

    pub fn tpm_device(&self) -> &str {
        or(&self.tpm_device_type, "tpm-tis")
    }

    /// Packer takes anything under 10 MiB as unset.
    pub fn memory(&self) -> u32 {
        if self.memory < 10 {
            512
        } else {
            self.memory
        }
    }

    pub fn machine_type(&self) -> &str {
        or(&self.machine_type, "pc")
    }

    pub fn net_device(&self) -> &str {
        or(&self.net_device, "virtio-net")
    }

    pub fn qemu_binary(&self) -> &str {
        or(&self.qemu_binary, "qemu-system-x86_64")
    }

    pub fn vnc_bind_address(&self) -> &str {
        or(&self.vnc_bind_address, "127.0.0.1")
    }

    pub fn display(&self) -> &str {
        or(&self.display, "gtk")
    }

    /// `packer-BUILDNAME` unless `vm_name` is set.
    pub fn vm_name(&self, build_name: &str) -> String {
        if self.vm_name.is_empty() {
            format!("packer-{build_name}")
        } else {
            self.vm_name.clone()
        }
    }

    /// The main disk's size (`disk_size`, default 40960M). `check` has vetted it.
    pub fn disk_size(&self) -> Result<DiskSize, String> {
        match self.disk_size.as_str() {
            "" | "0" => DEFAULT_DISK_SIZE.parse(),
            s => s.parse(),
        }
    }

    pub fn additional_sizes(&self) -> Result<Vec<DiskSize>, String> {
        self.disk_additional_size.iter().map(|s| s.parse()).collect()
    }

    /// The host port range for the communicator, honouring the old option names.
    pub fn host_ports(&self) -> (u16, u16) {
        (self.ssh_host_port_min.unwrap_or(self.host_port_min), self.ssh_host_port_max.unwrap_or(self.host_port_max))
    }

    pub fn efi(&self) -> bool {
        self.efi_boot || !self.efi_firmware_code.is_empty() || !self.efi_firmware_vars.is_empty()
    }

    pub fn efi_code(&self) -> &str {
        or(&self.efi_firmware_code, DEFAULT_EFI_CODE)
    }

    pub fn efi_vars(&self) -> &str {
        or(&self.efi_firmware_vars, DEFAULT_EFI_VARS)
    }

    /// Whether the user asked for a QMP socket of their own (Packer opens one for
    /// `vnc_use_password` too).
    pub fn user_qmp(&self) -> bool {
        self.qmp_enable || self.vnc_use_password
    }

    /// The checks after decoding; `node` is the builder's configuration object (for locations;
    /// it also holds the toolkit parts' options, such as `iso_url`).
    pub fn check(&self, node: &Node) -> Diagnostics {
        super::check::check(self, node)
    }
}

impl BootConfig {
    /// `boot_wait`, default 10 s.
    pub fn boot_wait(&self) -> Duration {
        self.boot_wait.map(GoDuration::get).unwrap_or(Duration::from_secs(10))
    }

    /// `boot_key_interval`, else `PACKER_KEY_INTERVAL`, else 100 ms.
    pub fn key_interval(&self) -> Duration {
        if let Some(d) = self.boot_key_interval.map(GoDuration::get).filter(|d| !d.is_zero()) {
            return d;
        }
        std::env::var("PACKER_KEY_INTERVAL")
            .ok()
            .and_then(|v| kiln_config::golang::parse_go_duration(&v).ok())
            .unwrap_or(bootcommand::DEFAULT_KEY_INTERVAL)
    }

    /// The boot command (or each of `boot_steps`) parses (template actions masked); warnings for
    /// text typed as it is.
    pub fn check(&self, node: &Node) -> Diagnostics {
        let items = |n: Option<&Node>| -> Vec<Node> {
            match n.map(|n| &n.kind) {
                Some(NodeKind::Array(items)) => items.clone(),
                _ => Vec::new(),
            }
        };
        let mut d = Diagnostics::new();
        let entries = items(node.get("boot_command"));
        check_keys(&self.boot_command, &|i| format!("boot_command entry {}", i + 1), &entries, node, &mut d);
        if self.boot_steps.is_empty() {
            return d;
        }
        if !self.boot_command.is_empty() {
            d.push(
                Diagnostic::error("boot_command and boot_steps cannot be used together")
                    .at_opt(node.span_of("boot_steps"))
                    .with_help("make the boot_command a step of boot_steps, or keep only one of them"),
            );
        }
        let steps = items(node.get("boot_steps"));
        for (i, step) in self.boot_steps.iter().enumerate() {
            let step_node = steps.get(i);
            let span = step_node.and_then(|n| n.span.clone()).or(node.span_of("boot_steps"));
            match step.len() {
                0 => d.push(
                    Diagnostic::warning(format!("boot_steps step {} is empty: nothing is typed for it", i + 1))
                        .at_opt(span),
                ),
                1 | 2 => {
                    let keys = items(step_node);
                    let label = |_| format!("boot_steps step {}", i + 1);
                    check_keys(&step[..1], &label, &keys, step_node.unwrap_or(node), &mut d);
                }
                n => d.push(
                    Diagnostic::error(format!("boot_steps step {} has {n} items", i + 1))
                        .at_opt(span)
                        .with_help("a step is [\"keys\"] or [\"keys\", \"what they do\"]"),
                ),
            }
        }
        d
    }

    /// What to type: `boot_command` as one step, or each of `boot_steps` (empty ones left out).
    pub fn typing(&self) -> Vec<BootStep<'_>> {
        if !self.boot_command.is_empty() {
            return vec![BootStep { keys: &self.boot_command, description: None, step: None }];
        }
        (self.boot_steps.iter().enumerate())
            .filter(|(_, s)| !s.is_empty())
            .map(|(i, s)| BootStep {
                keys: &s[..1],
                description: s.get(1).map(String::as_str).filter(|d| !d.is_empty()),
                step: Some(i + 1),
            })
            .collect()
    }
}

/// Keys typed at once: the whole `boot_command`, or one of `boot_steps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootStep<'a> {
    pub keys: &'a [String],
    pub description: Option<&'a str>,
    /// Its number among `boot_steps` (from 1); `None` for `boot_command`.
    pub step: Option<usize>,
}

impl BootStep<'_> {
    /// How messages name the entry `index` of `keys`: `boot_command entry 2`, `boot_steps step 3`.
    pub fn name(&self, index: usize) -> String {
        match self.step {
            None => format!("boot_command entry {}", index + 1),
            Some(n) => format!("boot_steps step {n}"),
        }
    }
}

/// `strings` parse as boot commands (template actions masked), each problem located in its
/// string's node among `nodes` (else at `parent`) and named by `label(index)`.
fn check_keys(strings: &[String], label: &dyn Fn(usize) -> String, nodes: &[Node], parent: &Node, d: &mut Diagnostics) {
    let masked: Vec<String> = strings.iter().map(|s| bootcommand::mask_template_actions(s)).collect();
    let (errors, warnings) = match bootcommand::parse(&masked) {
        Ok(parsed) => (Vec::new(), parsed.warnings),
        Err(errors) => (errors, Vec::new()),
    };
    for (p, error) in errors.iter().map(|p| (p, true)).chain(warnings.iter().map(|p| (p, false))) {
        let summary = format!("{}, column {}: {}", label(p.pos.entry), p.pos.column, p.message);
        let entry = nodes.get(p.pos.entry);
        let span = entry
            .and_then(|n| span_in_string(n, &strings[p.pos.entry], p.pos.offset, p.pos.len))
            .or_else(|| entry.and_then(|n| n.span.clone()))
            .or(parent.span.clone());
        let mut diag = if error { Diagnostic::error(summary) } else { Diagnostic::warning(summary) }.at_opt(span);
        if let Some(h) = &p.help {
            diag = diag.with_help(h.clone());
        }
        d.push(diag);
    }
}

fn or<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() {
        default
    } else {
        s
    }
}

/// The span of bytes `offset..offset+len` of `value` inside the string literal `node` spans,
/// when the literal spells the value without escapes (else `None`: the caller points at the
/// whole string).
pub(super) fn span_in_string(node: &Node, value: &str, offset: usize, len: usize) -> Option<Span> {
    let span = node.span.as_ref()?;
    let text = span.text();
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))?;
    if inner != value {
        return None;
    }
    let start = span.start + 1 + offset;
    Some(Span::new(&span.file, start, start + len))
}

/// Whether `path` names an existing file (for the firmware options).
pub(super) fn is_file(path: &str) -> bool {
    Path::new(path).is_file()
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
