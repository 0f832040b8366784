//! [`Config::check`]: what decoding cannot see, each finding at the option it is about.
//!
//! Where Packer accepts a value that cannot work (a VNC port below 5900, a disk size qemu-img
//! rejects, an empty `qemuargs` entry that crashes Packer), kiln says so here instead of at
//! run time.

use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};

use super::config::{is_file, Config, Format, NET_DEVICES, TPM_DEVICES};

pub(super) fn check(c: &Config, node: &Node) -> Diagnostics {
    let mut d = Diagnostics::new();
    let item = |key: &str, i: usize| match node.get(key).map(|n| &n.kind) {
        Some(NodeKind::Array(items)) => items.get(i).and_then(|n| n.span.clone()),
        _ => None,
    };

    if let Err(e) = c.disk_size() {
        d.push(Diagnostic::error(format!("disk_size: {e}")).at_opt(node.span_of("disk_size")));
    }
    for (i, s) in c.disk_additional_size.iter().enumerate() {
        if let Err(e) = s.parse::<super::config::DiskSize>() {
            d.push(
                Diagnostic::error(format!("disk_additional_size: {e}"))
                    .at_opt(item("disk_additional_size", i).or(node.span_of("disk_additional_size"))),
            );
        }
    }
    if c.use_backing_file && !(c.disk_image && c.format == Format::Qcow2) {
        d.push(
            Diagnostic::error("use_backing_file can only be enabled for qcow2 images and when disk_image is true")
                .at_opt(node.span_of("use_backing_file"))
                .with_help("set \"disk_image\": true and \"format\": \"qcow2\", or remove use_backing_file"),
        );
    }
    if c.skip_resize_disk && !c.disk_image {
        d.push(
            Diagnostic::error("skip_resize_disk can only be used when disk_image is true")
                .at_opt(node.span_of("skip_resize_disk"))
                .with_help("a blank disk is created at disk_size; remove skip_resize_disk"),
        );
    }
    if c.disk_image {
        check_disk_image_source(node, &mut d);
    }
    if c.disk_interface == super::config::DiskInterface::Sata && 1 + c.disk_additional_size.len() > 6 {
        d.push(
            Diagnostic::error("disk_interface \"sata\" has 6 ports: too many disks")
                .at_opt(node.span_of("disk_additional_size"))
                .with_help("use \"virtio\" or \"virtio-scsi\" for more disks"),
        );
    }
    if c.format == Format::Raw && c.disk_compression {
        d.push(
            Diagnostic::warning("disk_compression does nothing for raw images")
                .at_opt(node.span_of("disk_compression"))
                .with_help("only qcow2 images are compressed; remove disk_compression or use \"format\": \"qcow2\""),
        );
    }

    let (hmin, hmax) = c.host_ports();
    if hmin > hmax {
        d.push(
            Diagnostic::error("host_port_min must not be more than host_port_max")
                .at_opt(node.span_of("host_port_min")),
        );
    }
    for old in ["ssh_host_port_min", "ssh_host_port_max"] {
        if node.get(old).is_some() {
            let new = old.trim_start_matches("ssh_");
            d.push(
                Diagnostic::warning(format!("{old} is deprecated"))
                    .at_opt(node.span_of(old))
                    .with_help(format!("rename it to {new} (`packer fix` does)")),
            );
        }
    }
    if c.vnc_port_min > c.vnc_port_max {
        d.push(
            Diagnostic::error("vnc_port_min must not be more than vnc_port_max").at_opt(node.span_of("vnc_port_min")),
        );
    }
    if c.vnc_port_min < 5900 {
        d.push(
            Diagnostic::error(format!("vnc_port_min {} is below 5900", c.vnc_port_min))
                .at_opt(node.span_of("vnc_port_min"))
                .with_detail("QEMU's -vnc takes a display number N and listens on port 5900+N")
                .with_help("use ports from 5900 up"),
        );
    }

    if !NET_DEVICES.contains(&c.net_device()) {
        let mut w = Diagnostic::warning(format!("net_device {:?} is not one Packer documents", c.net_device()))
            .at_opt(node.span_of("net_device"))
            .with_detail("it is passed to QEMU as it is (`qemu-system-x86_64 -device help` lists the models)");
        if let Some(s) = did_you_mean(c.net_device(), NET_DEVICES.iter().copied()) {
            w = w.with_help(format!("did you mean {s:?}?"));
        }
        d.push(w);
    }
    for (i, args) in c.qemuargs.iter().enumerate() {
        let span = item("qemuargs", i).or(node.span_of("qemuargs"));
        match args.first() {
            None => d.push(
                Diagnostic::error(format!("qemuargs entry {} is empty", i + 1))
                    .at_opt(span)
                    .with_help("each entry is a list: the flag, then its value, e.g. [\"-m\", \"2048M\"]"),
            ),
            Some(flag) if !flag.starts_with('-') => d.push(
                Diagnostic::warning(format!("qemuargs entry {} starts with {flag:?}, not a flag", i + 1))
                    .at_opt(span)
                    .with_help("the first item of each entry is the flag (\"-device\"); the rest is its value"),
            ),
            Some(_) => {}
        }
    }
    if !c.vm_name.is_empty() && (c.vm_name.contains('/') || c.vm_name == "." || c.vm_name == "..") {
        d.push(
            Diagnostic::error(format!("vm_name {:?} must be a file name", c.vm_name))
                .at_opt(node.span_of("vm_name"))
                .with_help(
                    "the disk is written into output_directory under this name; set output_directory for the folder",
                ),
        );
    }
    if !c.firmware.is_empty() && !is_file(&c.firmware) {
        d.push(Diagnostic::error(format!("firmware {:?} does not exist", c.firmware)).at_opt(node.span_of("firmware")));
    }
    if c.efi() {
        for (key, path) in [("efi_firmware_code", c.efi_code()), ("efi_firmware_vars", c.efi_vars())] {
            if !is_file(path) {
                d.push(
                    Diagnostic::error(format!("{key} {path:?} does not exist"))
                        .at_opt(if node.get(key).is_some() { node.span_of(key) } else { node.span_of("efi_boot") })
                        .with_help(
                            "install OVMF (Debian: the ovmf package) or set efi_firmware_code and efi_firmware_vars",
                        ),
                );
            }
        }
        if !c.firmware.is_empty() {
            d.push(
                Diagnostic::error("firmware and efi_boot cannot both be used")
                    .at_opt(node.span_of("firmware"))
                    .with_help("efi_boot loads efi_firmware_code; remove firmware"),
            );
        }
    }
    check_cpus(c, node, &mut d);
    check_vnc(c, node, &mut d);
    check_tpm(c, node, &mut d);
    if c.use_pflash && c.firmware.is_empty() {
        d.push(
            Diagnostic::warning("use_pflash does nothing without firmware")
                .at_opt(node.span_of("use_pflash"))
                .with_help("set firmware to the file to load as a pflash drive, or remove use_pflash"),
        );
    }
    if c.efi_drop_efivars && !c.efi() {
        d.push(
            Diagnostic::warning("efi_drop_efivars does nothing without efi_boot")
                .at_opt(node.span_of("efi_drop_efivars"))
                .with_help("only a UEFI boot makes an efivars.fd; remove efi_drop_efivars"),
        );
    }
    if node.get("run_once").is_some() {
        d.push(
            Diagnostic::warning("run_once is deprecated and ignored")
                .at_opt(node.span_of("run_once"))
                .with_help("remove it"),
        );
    }
    d
}

/// With `disk_image`, `iso_url` (or `iso_urls`) names the disk to start from.
fn check_disk_image_source(node: &Node, d: &mut Diagnostics) {
    let urls: Vec<(String, Option<Span>)> = ["iso_url", "iso_urls"]
        .iter()
        .filter_map(|k| node.get(k))
        .flat_map(|n| match &n.kind {
            NodeKind::Array(items) => {
                items.iter().map(|i| (i.as_str().unwrap_or("").to_string(), i.span.clone())).collect()
            }
            _ => vec![(n.as_str().unwrap_or("").to_string(), n.span.clone())],
        })
        .collect();
    if urls.is_empty() {
        d.push(
            Diagnostic::error("disk_image needs iso_url: the disk image to start from")
                .at_opt(node.span_of("disk_image"))
                .with_help("set \"iso_url\" to a qcow2 or raw image (and \"iso_checksum\")"),
        );
    }
    for (url, span) in urls {
        let lower = url.to_ascii_lowercase();
        if lower.ends_with(".iso") {
            d.push(
                Diagnostic::warning(format!("disk_image is true but iso_url {url:?} looks like an ISO"))
                    .at_opt(span)
                    .with_help(
                    "with disk_image, iso_url is the VM's disk (qcow2 or raw); for an installer ISO remove disk_image",
                ),
            );
        }
    }
}

/// `cpus` against the topology `sockets × cores × threads`.
fn check_cpus(c: &Config, node: &Node, d: &mut Diagnostics) {
    let Some(max) = c.topology_cpus() else { return };
    if c.cpus > max {
        let key = ["sockets", "cores", "threads"].into_iter().find(|k| node.get(k).is_some()).unwrap_or("cpus");
        d.push(
            Diagnostic::warning(format!(
                "cpus {} is more than the topology holds: sockets × cores × threads = {max}; the VM gets {max}",
                c.cpus
            ))
            .at_opt(node.span_of("cpus").or(node.span_of(key)))
            .with_help("raise sockets, cores or threads, or lower cpus"),
        );
    }
}

/// `vnc_password` needs `vnc_use_password` and fits VNC's 8 characters.
fn check_vnc(c: &Config, node: &Node, d: &mut Diagnostics) {
    if c.vnc_password.is_empty() {
        return;
    }
    if !c.vnc_use_password {
        d.push(
            Diagnostic::warning("vnc_password does nothing without vnc_use_password")
                .at_opt(node.span_of("vnc_password"))
                .with_help("add \"vnc_use_password\": true"),
        );
    }
    if c.vnc_password.chars().count() > 8 {
        d.push(
            Diagnostic::warning("vnc_password is longer than 8 characters: VNC uses only the first 8")
                .at_opt(node.span_of("vnc_password"))
                .with_detail("VNC's password authentication keys DES with at most 8 bytes")
                .with_help("use at most 8 characters, so the password you type is the one checked"),
        );
    }
}

/// `vtpm` needs swtpm; its options do nothing without it.
fn check_tpm(c: &Config, node: &Node, d: &mut Diagnostics) {
    if !c.vtpm {
        for (key, set) in [("use_tpm1", c.use_tpm1), ("tpm_device_type", !c.tpm_device_type.is_empty())] {
            if set {
                d.push(
                    Diagnostic::warning(format!("{key} does nothing without vtpm"))
                        .at_opt(node.span_of(key))
                        .with_help(format!("add \"vtpm\": true, or remove {key}")),
                );
            }
        }
        return;
    }
    if super::tpm::find_swtpm().is_none() {
        d.push(
            Diagnostic::error("vtpm needs swtpm, the software TPM, and it is not on PATH")
                .at_opt(node.span_of("vtpm"))
                .with_help("install it (Debian and Ubuntu: apt-get install swtpm) or remove vtpm"),
        );
    }
    if !TPM_DEVICES.contains(&c.tpm_device()) {
        let mut w = Diagnostic::warning(format!("tpm_device_type {:?} is not a TPM device QEMU has", c.tpm_device()))
            .at_opt(node.span_of("tpm_device_type"))
            .with_detail(format!("it is passed to QEMU as it is; QEMU's TPM devices: {}", TPM_DEVICES.join(", ")));
        if let Some(s) = did_you_mean(c.tpm_device(), TPM_DEVICES.iter().copied()) {
            w = w.with_help(format!("did you mean {s:?}?"));
        }
        d.push(w);
    }
}
