//! The command lines Packer 1.6.6 ran (`PACKER_LOG=1 packer build`, the `Executing
//! /usr/bin/qemu-system-x86_64: []string{...}` line) for the same configurations, against
//! kiln's. Packer's order is random, so each flag's values are compared in order, flags as a
//! set. Where kiln differs on purpose (see the module's documentation) the test says so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::qemu::config::Config;

fn config(json: &str) -> Config {
    let n = kiln_template::testing::json_node("t.json", json).unwrap();
    kiln_config::decode::decode_component(&n, "the \"qemu\" builder").unwrap()
}

/// Flag → values in order; a bare flag has an empty value.
fn by_flag(args: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].clone();
        let value = args.get(i + 1).filter(|v| !v.starts_with('-')).cloned();
        i += if value.is_some() { 2 } else { 1 };
        m.entry(flag).or_default().push(value.unwrap_or_default());
    }
    m
}

/// Packer's spellings that kiln changes everywhere (QEMU 7's forms, the forward on 127.0.0.1).
fn normalise_packer(args: &[&str]) -> Vec<String> {
    args.iter()
        .map(|a| {
            a.replace("hostfwd=tcp::", "hostfwd=tcp:127.0.0.1:")
                .replace(",server,nowait", ",server=on,wait=off")
                .replace(",password", ",password=on")
        })
        .collect()
}

struct Case<'a> {
    config: &'a str,
    vm_name: &'a str,
    accel: Accelerator,
    disks: Vec<(&'a str, Format)>,
    boot_from_cd: bool,
    cdroms: Vec<&'a str>,
    floppy: Option<&'a str>,
    forward: u16,
    vnc: Option<u16>,
    user_qmp: Option<&'a str>,
    template: &'a [(&'a str, &'a str)],
}

impl Case<'_> {
    fn run(&self) -> Result<Vec<String>> {
        let c = config(self.config);
        let disks: Vec<Disk> = self.disks.iter().map(|(p, f)| Disk { path: PathBuf::from(p), format: *f }).collect();
        let cdroms: Vec<PathBuf> = self.cdroms.iter().map(PathBuf::from).collect();
        let template: BTreeMap<String, String> =
            self.template.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let i = Inputs {
            config: &c,
            vm_name: self.vm_name,
            accelerator: self.accel,
            disks: &disks,
            boot_from_cd: self.boot_from_cd,
            cdroms: &cdroms,
            floppy: self.floppy.map(Path::new),
            net: Net::User { forward: Some((self.forward, 22)) },
            vnc_port: self.vnc,
            user_qmp: self.user_qmp.map(Path::new),
            control_qmp: Path::new("/run/kiln-q/qmp.sock"),
            console: None,
            efi_vars: None,
            tpm_socket: None,
            template: &template,
        };
        let mut out = command_line(&i)?;
        // kiln's control socket comes last, always.
        let tail: Vec<String> = out.split_off(out.len() - 2);
        assert_eq!(tail, ["-qmp", "unix:/run/kiln-q/qmp.sock,server=on,wait=off"]);
        // No empty CD-ROM drive (Packer leaves QEMU's default one in): see
        // `no_empty_cdrom_drive_on_pc_machines`.
        if out.ends_with(&["-global".to_string(), NO_EMPTY_CDROM.to_string()]) {
            out.truncate(out.len() - 2);
        }
        // kiln's entropy source (Packer has none) before it, unless the user gave one: see
        // `an_entropy_source_unless_qemuargs_give_one`.
        if out.ends_with(&["-device".to_string(), ENTROPY_DEVICE.to_string()]) {
            out.truncate(out.len() - 2);
        } else {
            assert!(out.iter().any(|a| a.contains("virtio-rng")), "no entropy source: {out:?}");
        }
        Ok(out)
    }

    /// Compares with Packer's line after `fix` (kiln's intended differences for this case).
    fn matches_packer(&self, packer: &[&str], fix: &[(&str, &str, &str)]) {
        let mut want = by_flag(&normalise_packer(packer));
        for (flag, from, to) in fix {
            let values = want.entry(flag.to_string()).or_default();
            match (from.is_empty(), to.is_empty()) {
                (true, _) => values.push(to.to_string()),
                (false, true) => values.retain(|v| v != from),
                (false, false) => values.iter_mut().filter(|v| v == from).for_each(|v| *v = to.to_string()),
            }
            if values.is_empty() {
                want.remove(*flag);
            }
        }
        let got = self.run().unwrap();
        assert_eq!(by_flag(&got), want, "kiln: {got:?}");
    }
}

const TCG: Accelerator = Accelerator::Tcg;

fn base<'a>(config: &'a str, vm_name: &'a str, disks: Vec<(&'a str, Format)>) -> Case<'a> {
    Case {
        config,
        vm_name,
        accel: TCG,
        disks,
        boot_from_cd: true,
        cdroms: vec!["/tmp/pk/dummy.iso"],
        floppy: None,
        forward: 2222,
        vnc: None,
        user_qmp: None,
        template: &[],
    }
}

#[test]
fn the_benchmark_template() {
    // /work/shared/anchors/templates/qemu-debian.json: disk_image, -netdev override.
    let cfg = r#"{"vm_name": "debian-packer.qcow2", "disk_image": true, "format": "qcow2", "skip_resize_disk": true,
        "accelerator": "tcg", "headless": true, "memory": "1024", "cpus": "2", "net_device": "virtio-net",
        "disk_interface": "virtio", "vnc_bind_address": "127.0.0.1",
        "qemuargs": [["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"]]}"#;
    let case = Case {
        boot_from_cd: false,
        cdroms: vec![],
        forward: 2703,
        vnc: Some(5914),
        template: &[("SSHHostPort", "2703")],
        ..base(cfg, "debian-packer.qcow2", vec![("out1/debian-packer.qcow2", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-name",
            "debian-packer.qcow2",
            "-vnc",
            "127.0.0.1:14",
            "-netdev",
            "user,id=user.0,hostfwd=tcp:127.0.0.1:2703-:22",
            "-boot",
            "c",
            "-m",
            "1024M",
            "-smp",
            "cpus=2,sockets=2",
            "-device",
            "virtio-net,netdev=user.0",
            "-drive",
            "file=out1/debian-packer.qcow2,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "-machine",
            "type=pc,accel=tcg",
        ],
        &[],
    );
}

#[test]
fn an_iso_build_with_every_default() {
    let case = Case {
        accel: Accelerator::Kvm,
        forward: 3842,
        vnc: Some(5943),
        ..base(r#"{"headless": true}"#, "packer-qemu", vec![("out-t2/packer-qemu", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-netdev",
            "user,id=user.0,hostfwd=tcp::3842-:22",
            "-vnc",
            "127.0.0.1:43",
            "-m",
            "512M",
            "-device",
            "virtio-net,netdev=user.0",
            "-drive",
            "file=out-t2/packer-qemu,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,media=cdrom",
            "-boot",
            "once=d",
            "-name",
            "packer-qemu",
            "-machine",
            "type=pc,accel=kvm",
        ],
        &[],
    );
}

#[test]
fn raw_ide_disks_with_media_and_many_options() {
    let cfg = r#"{"accelerator": "tcg", "format": "raw", "disk_interface": "ide", "disk_size": "2G",
        "disk_additional_size": ["1G", "512M"], "disk_cache": "none", "disk_discard": "unmap",
        "disk_detect_zeroes": "unmap", "net_device": "e1000", "machine_type": "q35", "cpus": 3, "memory": 700,
        "vnc_bind_address": "0.0.0.0", "vnc_port_min": 5990, "vnc_port_max": 5999, "host_port_min": 3000,
        "host_port_max": 3010, "vm_name": "myvm.img", "headless": true}"#;
    let case = Case {
        cdroms: vec!["/tmp/pk/dummy.iso", "/tmp/packer2616891239.iso"],
        floppy: Some("/tmp/packer679942460"),
        forward: 3002,
        vnc: Some(5998),
        ..base(
            cfg,
            "myvm.img",
            vec![
                ("out-t3/myvm.img", Format::Raw),
                ("out-t3/myvm.img-1", Format::Raw),
                ("out-t3/myvm.img-2", Format::Raw),
            ],
        )
    };
    let disk = |p: &str| format!("file={p},if=ide,cache=none,discard=unmap,format=raw,detect-zeroes=unmap");
    let (d0, d1, d2) = (disk("out-t3/myvm.img"), disk("out-t3/myvm.img-1"), disk("out-t3/myvm.img-2"));
    case.matches_packer(
        &[
            "-machine",
            "type=q35,accel=tcg",
            "-vnc",
            "0.0.0.0:8",
            "-smp",
            "cpus=3,sockets=3",
            "-drive",
            &d0,
            "-drive",
            &d1,
            "-drive",
            &d2,
            "-drive",
            "file=/tmp/pk/dummy.iso,media=cdrom",
            "-drive",
            "file=/tmp/packer2616891239.iso,media=cdrom",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::3002-:22",
            "-name",
            "myvm.img",
            "-fda",
            "/tmp/packer679942460",
            "-boot",
            "once=d",
            "-m",
            "700M",
            "-device",
            "e1000,netdev=user.0",
        ],
        // Packer 1.6.6 numbers the display from vnc_port_min; QEMU numbers it from 5900.
        &[("-vnc", "0.0.0.0:8", "0.0.0.0:98")],
    );
}

#[test]
fn qemuargs_override_defaults_and_render_templates() {
    let cfg = r#"{"accelerator": "tcg", "disk_interface": "virtio-scsi", "qmp_enable": true, "vnc_use_password": true,
        "headless": true,
        "qemuargs": [["-m", "1024M"], ["-device", "virtio-rng-pci"], ["-no-reboot"],
            ["-serial", "file:{{ .OutputDir }}/serial.log"],
            ["-fw_cfg", "name=opt/x,string=http://{{ .HTTPIP }}:{{ .HTTPPort }}/{{ .Name }}"], ["-smp", "2", ",cores=2"]]}"#;
    let case = Case {
        forward: 3785,
        vnc: Some(5974),
        user_qmp: Some("out-t4/packer-qemu.monitor"),
        template: &[("OutputDir", "out-t4"), ("HTTPIP", "10.0.2.2"), ("HTTPPort", "8129"), ("Name", "packer-qemu")],
        ..base(cfg, "packer-qemu", vec![("out-t4/packer-qemu", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-serial",
            "file:out-t4/serial.log",
            "-smp",
            "2,cores=2",
            "-qmp",
            "unix:out-t4/packer-qemu.monitor,server,nowait",
            "-name",
            "packer-qemu",
            "-vnc",
            "127.0.0.1:74,password",
            "-drive",
            "if=none,file=out-t4/packer-qemu,id=drive0,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,media=cdrom",
            "-boot",
            "once=d",
            "-m",
            "1024M",
            "-device",
            "virtio-rng-pci",
            "-device",
            "virtio-net,netdev=user.0",
            "-no-reboot",
            "-fw_cfg",
            "name=opt/x,string=http://10.0.2.2:8129/packer-qemu",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::3785-:22",
        ],
        &[],
    );
    // A missing template value is an error naming the entry.
    let e = Case { template: &[], ..case }.run().unwrap_err();
    assert!(e.message.starts_with("qemuargs entry 4 (-serial):"), "{e}");
}

#[test]
fn a_window_and_raw_disk_image() {
    let case = Case {
        boot_from_cd: false,
        cdroms: vec![],
        forward: 2995,
        vnc: Some(5920),
        ..base(r#"{"accelerator": "tcg", "headless": false}"#, "packer-qemu", vec![("out-t6/packer-qemu", Format::Raw)])
    };
    case.matches_packer(
        &[
            "-vnc",
            "127.0.0.1:20",
            "-name",
            "packer-qemu",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::2995-:22",
            "-m",
            "512M",
            "-drive",
            "file=out-t6/packer-qemu,if=virtio,cache=writeback,discard=ignore,format=raw",
            "-device",
            "virtio-net,netdev=user.0",
            "-boot",
            "c",
            "-display",
            "gtk",
        ],
        &[],
    );
}

#[test]
fn scsi_disk_with_a_virtio_cdrom() {
    let cfg = r#"{"accelerator": "tcg", "headless": false, "display": "none", "disk_interface": "scsi",
        "cdrom_interface": "virtio"}"#;
    let case = Case {
        forward: 3722,
        vnc: Some(5931),
        ..base(cfg, "packer-qemu", vec![("out-t7/packer-qemu", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-m",
            "512M",
            "-vnc",
            "127.0.0.1:31",
            "-device",
            "virtio-net,netdev=user.0",
            "-drive",
            "file=out-t7/packer-qemu,if=scsi,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,if=virtio,index=0,id=cdrom0,media=cdrom",
            "-name",
            "packer-qemu",
            "-boot",
            "once=d",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::3722-:22",
            "-display",
            "gtk",
        ],
        // Documented (newer Packer): display "none" passes no -display; 1.6.6 passed gtk.
        &[("-display", "gtk", "")],
    );
}

#[test]
fn virtio_scsi_disks_and_cdroms_share_one_controller() {
    let cfg = r#"{"accelerator": "tcg", "headless": true, "disk_interface": "virtio-scsi",
        "cdrom_interface": "virtio-scsi", "disk_additional_size": ["10M"]}"#;
    let case = Case {
        cdroms: vec!["/tmp/pk/dummy.iso", "/tmp/packer3339343185.iso"],
        forward: 2472,
        vnc: Some(5992),
        ..base(
            cfg,
            "packer-qemu",
            vec![("out-t10/packer-qemu", Format::Qcow2), ("out-t10/packer-qemu-1", Format::Qcow2)],
        )
    };
    case.matches_packer(
        &[
            "-vnc",
            "127.0.0.1:92",
            "-m",
            "512M",
            "-device",
            "virtio-scsi-pci,id=scsi0",
            "-device",
            "scsi-hd,bus=scsi0.0,drive=drive0",
            "-device",
            "scsi-hd,bus=scsi0.0,drive=drive1",
            "-device",
            "virtio-net,netdev=user.0",
            "-device",
            "virtio-scsi-device",
            "-device",
            "scsi-cd,drive=cdrom0",
            "-device",
            "virtio-scsi-device",
            "-device",
            "scsi-cd,drive=cdrom1",
            "-drive",
            "if=none,file=out-t10/packer-qemu,id=drive0,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "if=none,file=out-t10/packer-qemu-1,id=drive1,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,if=none,index=0,id=cdrom0,media=cdrom",
            "-drive",
            "file=/tmp/packer3339343185.iso,if=none,index=1,id=cdrom1,media=cdrom",
            "-boot",
            "once=d",
            "-name",
            "packer-qemu",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::2472-:22",
        ],
        // 1.6.6's virtio-scsi-device needs a virtio bus a pc machine does not have (QEMU
        // refuses to start); kiln hangs the CDs off the PCI controller.
        &[
            ("-device", "virtio-scsi-device", ""),
            ("-device", "scsi-cd,drive=cdrom0", "scsi-cd,bus=scsi0.0,drive=cdrom0"),
            ("-device", "scsi-cd,drive=cdrom1", "scsi-cd,bus=scsi0.0,drive=cdrom1"),
        ],
    );
}

#[test]
fn ide_cdroms_come_after_ide_disks() {
    let cfg = r#"{"accelerator": "tcg", "headless": true, "disk_interface": "ide", "cdrom_interface": "ide"}"#;
    let case = Case {
        cdroms: vec!["/tmp/pk/dummy.iso", "/tmp/packer1827534201.iso"],
        forward: 2837,
        vnc: Some(5975),
        ..base(cfg, "packer-qemu", vec![("out-t9/packer-qemu", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-m",
            "512M",
            "-device",
            "virtio-net,netdev=user.0",
            "-drive",
            "file=out-t9/packer-qemu,if=ide,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,if=ide,index=0,id=cdrom0,media=cdrom",
            "-drive",
            "file=/tmp/packer1827534201.iso,if=ide,index=1,id=cdrom1,media=cdrom",
            "-boot",
            "once=d",
            "-name",
            "packer-qemu",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::2837-:22",
            "-vnc",
            "127.0.0.1:75",
        ],
        // 1.6.6 gives the first CD index 0, which the disk already has: QEMU refuses to start.
        &[
            (
                "-drive",
                "file=/tmp/pk/dummy.iso,if=ide,index=0,id=cdrom0,media=cdrom",
                "file=/tmp/pk/dummy.iso,if=ide,index=1,id=cdrom0,media=cdrom",
            ),
            (
                "-drive",
                "file=/tmp/packer1827534201.iso,if=ide,index=1,id=cdrom1,media=cdrom",
                "file=/tmp/packer1827534201.iso,if=ide,index=2,id=cdrom1,media=cdrom",
            ),
        ],
    );
}

#[test]
fn no_accelerator_a_vnc_password_and_a_user_qmp_socket() {
    let cfg = r#"{"accelerator": "none", "vnc_use_password": true, "headless": true}"#;
    let case = Case {
        accel: Accelerator::None,
        forward: 2983,
        vnc: Some(5955),
        user_qmp: Some("out-t11/packer-qemu.monitor"),
        ..base(cfg, "packer-qemu", vec![("out-t11/packer-qemu", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-netdev",
            "user,id=user.0,hostfwd=tcp::2983-:22",
            "-vnc",
            "127.0.0.1:55,password",
            "-boot",
            "once=d",
            "-qmp",
            "unix:out-t11/packer-qemu.monitor,server,nowait",
            "-m",
            "512M",
            "-drive",
            "file=out-t11/packer-qemu,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=/tmp/pk/dummy.iso,media=cdrom",
            "-name",
            "packer-qemu",
            "-machine",
            "type=pc",
            "-device",
            "virtio-net,netdev=user.0",
        ],
        &[],
    );
}

#[test]
fn a_disk_image_with_an_additional_disk() {
    let cfg = r#"{"accelerator": "tcg", "headless": true, "cpus": 2, "memory": 1024, "disk_image": true,
        "skip_resize_disk": true, "vm_name": "b1.qcow2", "disk_additional_size": ["64M"]}"#;
    let case = Case {
        boot_from_cd: false,
        cdroms: vec![],
        forward: 3945,
        vnc: Some(5941),
        ..base(cfg, "b1.qcow2", vec![("out-b1/b1.qcow2", Format::Qcow2), ("out-b1/b1.qcow2-1", Format::Qcow2)])
    };
    case.matches_packer(
        &[
            "-drive",
            "file=out-b1/b1.qcow2,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "-drive",
            "file=out-b1/b1.qcow2-1,if=virtio,cache=writeback,discard=ignore,format=qcow2",
            "-machine",
            "type=pc,accel=tcg",
            "-netdev",
            "user,id=user.0,hostfwd=tcp::3945-:22",
            "-smp",
            "cpus=2,sockets=2",
            "-m",
            "1024M",
            "-device",
            "virtio-net,netdev=user.0",
            "-boot",
            "c",
            "-name",
            "b1.qcow2",
            "-vnc",
            "127.0.0.1:41",
        ],
        &[],
    );
}

#[test]
fn kiln_only_cases() {
    // A -device override without the network card gets it back; a bare flag stays bare.
    let cfg = r#"{"headless": true, "qemuargs": [["-device", "virtio-rng-pci"], ["-nographic"], ["-device", "e1000,netdev=x"]]}"#;
    let got = Case { vnc: None, ..base(cfg, "vm", vec![("d", Format::Qcow2)]) }.run().unwrap();
    let m = by_flag(&got);
    assert_eq!(m["-device"], ["virtio-rng-pci", "e1000,netdev=x", "virtio-net,netdev=user.0"]);
    assert_eq!(m["-nographic"], [""]);
    // disable_vnc (no VNC port) and headless: nothing to show the screen on.
    assert_eq!(m["-display"], ["none"]);
    // Mentioning net_device keeps -device as given.
    let cfg = r#"{"qemuargs": [["-device", "virtio-net-pci,netdev=user.0"]]}"#;
    let m = by_flag(&base(cfg, "vm", vec![("d", Format::Qcow2)]).run().unwrap());
    assert_eq!(m["-device"], ["virtio-net-pci,netdev=user.0"]);
    // SATA: an AHCI controller and one port per disk.
    let cfg = r#"{"disk_interface": "sata", "headless": true}"#;
    let m = by_flag(
        &Case { cdroms: vec![], ..base(cfg, "vm", vec![("a", Format::Qcow2), ("b", Format::Raw)]) }.run().unwrap(),
    );
    assert_eq!(
        m["-device"],
        [
            "ahci,id=ahci0",
            "ide-hd,bus=ahci0.0,drive=drive0",
            "ide-hd,bus=ahci0.1,drive=drive1",
            "virtio-net,netdev=user.0"
        ]
    );
    assert_eq!(m["-drive"][1], "if=none,file=b,id=drive1,cache=writeback,discard=ignore,format=raw");
    // Firmware; a bridge.
    let c = config(r#"{"firmware": "/usr/share/seabios/bios.bin", "net_bridge": "br0"}"#);
    let t = BTreeMap::new();
    let i = Inputs { net: Net::Bridge("br0".into()), ..bare(&c, &t) };
    let m = by_flag(&command_line(&i).unwrap());
    assert_eq!(m["-bios"], ["/usr/share/seabios/bios.bin"]);
    assert_eq!(m["-netdev"], ["bridge,id=user.0,br=br0"]);
    assert_eq!(m["-display"], ["gtk"]);
    // EFI: code read-only, the VM's own copy of the variables.
    let c = config(r#"{"efi_boot": true, "efi_firmware_code": "/fw/CODE.fd", "headless": true}"#);
    let i = Inputs { config: &c, efi_vars: Some(Path::new("out/efivars.fd")), ..i };
    let m = by_flag(&command_line(&i).unwrap());
    assert_eq!(
        m["-drive"],
        ["if=pflash,unit=0,format=raw,readonly=on,file=/fw/CODE.fd", "if=pflash,unit=1,format=raw,file=out/efivars.fd"]
    );
    assert!(!m.contains_key("-bios"));
}

#[test]
fn the_serial_console_goes_to_a_file_unless_qemuargs_route_it() {
    let t = BTreeMap::new();
    let line = |qemuargs: &str| {
        let c = config(&format!(r#"{{"headless": true, "qemuargs": {qemuargs}}}"#));
        let i = Inputs {
            control_qmp: Path::new("ctl/qmp.sock"),
            console: Some(Path::new("ctl/console.log")),
            ..bare(&c, &t)
        };
        command_line(&i).unwrap()
    };
    let plain = line("[]");
    let n = plain.len();
    assert_eq!(plain[n - 4..], ["-serial", "file:ctl/console.log", "-qmp", "unix:ctl/qmp.sock,server=on,wait=off"]);
    for routed in [r#"[["-serial", "stdio"]]"#, r#"[["-nographic"]]"#, r#"[["-chardev", "pty,id=s0"]]"#] {
        let l = line(routed);
        assert!(!l.iter().any(|a| a.starts_with("file:ctl/console")), "{routed}: {l:?}");
    }
}

#[test]
fn an_entropy_source_unless_qemuargs_give_one() {
    let t = BTreeMap::new();
    let line = |json: &str| command_line(&bare(&config(json), &t)).unwrap();
    let rng = |l: &[String]| l.windows(2).filter(|w| w[0] == "-device" && w[1] == ENTROPY_DEVICE).count();
    // Machines with a PCI bus: Packer's default `pc`, versioned types, q35 with options, virt.
    for m in ["pc", "pc-i440fx-7.2", "q35", "pc-q35-7.2,smm=on", "virt", "virt-7.2"] {
        let l = line(&format!(r#"{{"machine_type": "{m}"}}"#));
        assert_eq!(rng(&l), 1, "{m}: {l:?}");
        // Before the serial console and kiln's control socket (and the CD-ROM global on PCs).
        let at = l.iter().position(|a| a == ENTROPY_DEVICE).unwrap();
        let after: Vec<&String> = l[at + 1..].iter().filter(|a| a.starts_with('-')).collect();
        let want: &[&str] = if m.starts_with("virt") { &["-qmp"] } else { &["-global", "-qmp"] };
        assert_eq!(after, want, "{m}");
    }
    // No PCI bus, no virtio-rng-pci (QEMU would refuse the command line).
    for m in ["microvm", "isapc", "s390-ccw-virtio"] {
        assert_eq!(rng(&line(&format!(r#"{{"machine_type": "{m}"}}"#))), 0, "{m}");
    }
    // The user's own RNG device or source is kept, and kiln adds none.
    for own in [
        r#"[["-device", "virtio-rng-pci,max-bytes=1024,period=1000"]]"#,
        r#"[["-object", "rng-random,id=r0,filename=/dev/hwrng"], ["-device", "virtio-rng-pci,rng=r0"]]"#,
        r#"[["-object", "rng-builtin,id=r1"]]"#,
    ] {
        let l = line(&format!(r#"{{"qemuargs": {own}}}"#));
        assert_eq!(rng(&l), 0, "{own}: {l:?}");
        assert!(l.iter().any(|a| a.contains("rng")), "{own}: {l:?}");
    }
    // A name that merely contains the words is not an RNG.
    let l = line(r#"{"qemuargs": [["-drive", "file=virtio-rng-test.qcow2,if=virtio"]]}"#);
    assert_eq!(rng(&l), 1, "{l:?}");
}

#[test]
fn no_empty_cdrom_drive_on_pc_machines() {
    let t = BTreeMap::new();
    let cds = [PathBuf::from("cd.iso")];
    let line = |json: &str, cdroms: &[PathBuf]| command_line(&Inputs { cdroms, ..bare(&config(json), &t) }).unwrap();
    let global = |l: &[String]| l.windows(2).filter(|w| w[0] == "-global" && w[1] == NO_EMPTY_CDROM).count();
    // Every x86 PC machine, with or without the build's own CD (that one stays a drive).
    for m in ["pc", "pc-i440fx-7.2", "q35", "pc-q35-7.2,smm=on", "isapc"] {
        for cdroms in [&[][..], &cds[..]] {
            let l = line(&format!(r#"{{"machine_type": "{m}"}}"#), cdroms);
            assert_eq!(global(&l), 1, "{m}: {l:?}");
            assert_eq!(l.iter().filter(|a| a.contains("media=cdrom")).count(), cdroms.len(), "{m}: {l:?}");
            // After the user's arguments (QEMU reads every -global before it makes the devices),
            // before the serial console and kiln's control socket.
            let at = l.iter().position(|a| a == NO_EMPTY_CDROM).unwrap();
            assert_eq!(l[at + 1..].iter().filter(|a| a.starts_with('-')).collect::<Vec<_>>(), ["-qmp"], "{m}");
        }
    }
    // Machines without QEMU's default CD-ROM drive.
    for m in ["microvm", "virt", "s390-ccw-virtio", "pcx"] {
        assert_eq!(global(&line(&format!(r#"{{"machine_type": "{m}"}}"#), &[])), 0, "{m}");
    }
    // The user's own defaults or ide-cd property are kept, and kiln adds nothing.
    for own in [r#"[["-nodefaults"]]"#, r#"[["-global", "ide-cd.share-rw=on"]]"#] {
        let l = line(&format!(r#"{{"qemuargs": {own}}}"#), &[]);
        assert_eq!(global(&l), 0, "{own}: {l:?}");
        assert!(l.iter().any(|a| a == "-nodefaults" || a == "ide-cd.share-rw=on"), "{own}: {l:?}");
    }
    // A property of another device is not one of ide-cd's.
    assert_eq!(global(&line(r#"{"qemuargs": [["-global", "ide-hd.share-rw=on"]]}"#, &[])), 1);
}

/// The values of `flag` in `l`, in order.
fn values<'a>(l: &'a [String], flag: &str) -> Vec<&'a str> {
    l.windows(2).filter(|w| w[0] == flag).map(|w| w[1].as_str()).collect()
}

#[test]
fn cpu_topology_as_later_packers_with_maxcpus_when_fewer_cpus() {
    let t = BTreeMap::new();
    let smp = |json: &str| {
        let l = command_line(&bare(&config(json), &t)).unwrap();
        values(&l, "-smp").into_iter().map(String::from).collect::<Vec<_>>()
    };
    // cpus alone: one per socket, as Packer 1.6.6 (see the Packer cases above); one: no -smp.
    assert_eq!(smp(r#"{"cpus": 3}"#), ["cpus=3,sockets=3"]);
    assert!(smp(r#"{"cpus": 1}"#).is_empty());
    // A topology without cpus: all the CPUs it holds.
    assert_eq!(smp(r#"{"sockets": 1, "cores": 2, "threads": 2}"#), ["cpus=4,sockets=1,cores=2,threads=2"]);
    assert_eq!(smp(r#"{"cores": 2}"#), ["cpus=2,cores=2"]);
    // More cpus than the topology holds: cut to it (validate warns).
    assert_eq!(smp(r#"{"cpus": 8, "cores": 2}"#), ["cpus=2,cores=2"]);
    // Fewer: the rest can be plugged in later; QEMU needs maxcpus for that.
    assert_eq!(smp(r#"{"cpus": 2, "sockets": 2, "cores": 2}"#), ["cpus=2,sockets=2,cores=2,maxcpus=4"]);
    assert_eq!(smp(r#"{"cpus": 1, "threads": 2}"#), ["cpus=1,threads=2,maxcpus=2"]);
    // qemuargs still win.
    assert_eq!(smp(r#"{"cores": 2, "qemuargs": [["-smp", "6"]]}"#), ["6"]);
}

#[test]
fn cpu_model_vga_and_firmware_as_pflash() {
    let t = BTreeMap::new();
    let line = |json: &str| command_line(&bare(&config(json), &t)).unwrap();
    let l = line(r#"{"cpu_model": "max", "vga": "virtio"}"#);
    assert_eq!((values(&l, "-cpu"), values(&l, "-vga")), (vec!["max"], vec!["virtio"]));
    // Unset: QEMU's defaults, no flag at all.
    let l = line("{}");
    assert!(!l.iter().any(|a| a == "-cpu" || a == "-vga" || a == "-bios"), "{l:?}");
    assert_eq!(values(&line(r#"{"cpu_model": "max", "qemuargs": [["-cpu", "host"]]}"#), "-cpu"), ["host"]);
    // firmware: -bios, or a read-only pflash drive with use_pflash.
    let l = line(r#"{"firmware": "/fw/bios.bin"}"#);
    assert_eq!(values(&l, "-bios"), ["/fw/bios.bin"]);
    assert!(!l.iter().any(|a| a.contains("pflash")), "{l:?}");
    let l = line(r#"{"firmware": "/fw/bios.bin", "use_pflash": true}"#);
    assert!(!l.iter().any(|a| a == "-bios"), "{l:?}");
    assert_eq!(values(&l, "-drive"), ["if=pflash,unit=0,format=raw,readonly=on,file=/fw/bios.bin"]);
}

#[test]
fn a_tpm_is_a_socket_backend_and_a_device_and_the_console_stays() {
    let t = BTreeMap::new();
    let sock = Path::new("ctl/tpm/swtpm.sock");
    let line = |json: &str| {
        let c = config(json);
        let i = Inputs { tpm_socket: Some(sock), console: Some(Path::new("ctl/console.log")), ..bare(&c, &t) };
        command_line(&i).unwrap()
    };
    let l = line("{}");
    assert_eq!(values(&l, "-chardev"), ["socket,id=kiln-vtpm,path=ctl/tpm/swtpm.sock"]);
    assert_eq!(values(&l, "-tpmdev"), ["emulator,id=kiln-tpm0,chardev=kiln-vtpm"]);
    assert_eq!(values(&l, "-device"), ["virtio-net,netdev=user.0", "tpm-tis,tpmdev=kiln-tpm0", ENTROPY_DEVICE]);
    // kiln's own -chardev routes no serial port: the console still goes to its file.
    assert_eq!(values(&l, "-serial"), ["file:ctl/console.log"]);
    assert_eq!(values(&line(r#"{"tpm_device_type": "tpm-crb"}"#), "-device")[1], "tpm-crb,tpmdev=kiln-tpm0");
    // The user's -chardev replaces kiln's (Packer's rule for a flag in qemuargs), and routes the
    // serial port.
    let l = line(r#"{"qemuargs": [["-chardev", "pty,id=s0"]]}"#);
    assert_eq!(values(&l, "-chardev"), ["pty,id=s0"]);
    assert!(values(&l, "-serial").is_empty(), "{l:?}");
    // No socket (no vtpm): nothing of it.
    let c = config("{}");
    let l = command_line(&bare(&c, &t)).unwrap();
    assert!(!l.iter().any(|a| a.contains("tpm")), "{l:?}");
}

/// Inputs with nothing made yet: no disks, media or VNC, a user-mode network forwarding 2222.
fn bare<'a>(c: &'a Config, t: &'a BTreeMap<String, String>) -> Inputs<'a> {
    Inputs {
        config: c,
        vm_name: "vm",
        accelerator: TCG,
        disks: &[],
        boot_from_cd: false,
        cdroms: &[],
        floppy: None,
        net: Net::User { forward: Some((2222, 22)) },
        vnc_port: None,
        user_qmp: None,
        control_qmp: Path::new("q"),
        console: None,
        efi_vars: None,
        tpm_socket: None,
        template: t,
    }
}
