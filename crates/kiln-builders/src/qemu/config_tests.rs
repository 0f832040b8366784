use serde::Deserialize;

use super::*;

/// Stands in for the toolkit's parts in these tests.
#[derive(Debug, Default, Deserialize)]
#[allow(dead_code)]
struct Iso {
    #[serde(default)]
    iso_url: String,
    #[serde(default)]
    iso_urls: Vec<String>,
    #[serde(default)]
    iso_checksum: String,
}

fn node(src: &str) -> Node {
    kiln_template::testing::json_node("t.json", src).unwrap()
}

fn decode(src: &str) -> Result<(Config, BootConfig, Node), Diagnostics> {
    let n = node(src);
    let (c, rest): (Config, Node) = decode_with_rest(&n)?;
    let (boot, _iso): (BootConfig, Iso) = kiln_config::decode::decode_split(&rest, "the \"qemu\" builder")?;
    Ok((c, boot, n))
}

/// The builder's own options (and unknown ones, for its did-you-mean), and the rest of the
/// object for the other parts.
fn decode_with_rest(n: &Node) -> Result<(Config, Node), Diagnostics> {
    let others: Vec<&str> = kiln_config::decode::fields_of::<BootConfig>()
        .iter()
        .chain(kiln_config::decode::fields_of::<Iso>())
        .copied()
        .collect();
    let NodeKind::Object(members) = &n.kind else { panic!("not an object") };
    let (rest, mine): (Vec<_>, Vec<_>) = members.iter().cloned().partition(|(k, _)| others.contains(&k.name.as_str()));
    let c = kiln_config::decode::decode_component(&Node::object(mine, n.span.clone()), "the \"qemu\" builder")?;
    Ok((c, Node::object(rest, n.span.clone())))
}

/// (severity, summary, line, column) of each finding of both checks.
fn findings(src: &str) -> Vec<(bool, String, usize, usize)> {
    let (c, boot, n) = decode(src).unwrap();
    let mut d = c.check(&n);
    d.extend(boot.check(&n));
    d.0.iter()
        .map(|d| {
            let (l, col) = d.span.as_ref().map(|s| s.line_col()).unwrap_or((0, 0));
            (d.is_error(), d.summary.clone(), l, col)
        })
        .collect()
}

#[test]
fn the_benchmark_template_decodes_with_packers_defaults() {
    let src = r#"{"vm_name": "debian-packer.qcow2", "disk_image": true, "iso_url": "base.qcow2", "iso_checksum": "none",
        "format": "qcow2", "skip_resize_disk": true, "accelerator": "tcg", "headless": true, "memory": "1024",
        "cpus": "2", "net_device": "virtio-net", "disk_interface": "virtio", "vnc_bind_address": "127.0.0.1",
        "qemuargs": [["-netdev", "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22"]]}"#;
    let (c, boot, _) = decode(src).unwrap();
    assert_eq!((c.cpus(), c.memory(), c.accelerator), (2, 1024, Some(Accelerator::Tcg)));
    assert_eq!(c.qemuargs[0][1], "user,id=user.0,hostfwd=tcp:127.0.0.1:{{ .SSHHostPort }}-:22");
    assert!(findings(src).is_empty(), "{:?}", findings(src));
    assert_eq!(boot.boot_wait(), Duration::from_secs(10));
    assert_eq!(boot.key_interval(), Duration::from_millis(100));

    let (c, _, _) = decode("{}").unwrap();
    assert_eq!((c.cpus(), c.memory(), c.machine_type(), c.net_device()), (1, 512, "pc", "virtio-net"));
    assert_eq!(
        (c.format, c.disk_interface, c.disk_cache),
        (Format::Qcow2, DiskInterface::Virtio, DiskCache::Writeback)
    );
    assert_eq!((c.disk_discard, c.disk_detect_zeroes), (DiskDiscard::Ignore, DetectZeroes::Off));
    assert_eq!(c.disk_size().unwrap().text, "40960M");
    assert_eq!((c.host_ports(), c.vnc_port_min, c.vnc_port_max), ((2222, 4444), 5900, 6000));
    assert_eq!((c.vnc_bind_address(), c.qemu_binary(), c.display()), ("127.0.0.1", "qemu-system-x86_64", "gtk"));
    assert_eq!((c.vm_name("qemu"), c.accelerator, c.cdrom_interface), ("packer-qemu".into(), None, None));
    // Empty strings are Packer's "unset".
    let (c, _, _) = decode(r#"{"format": "", "accelerator": "", "disk_cache": "", "cdrom_interface": ""}"#).unwrap();
    assert_eq!(
        (c.format, c.accelerator, c.disk_cache, c.cdrom_interface),
        (Format::Qcow2, None, DiskCache::Writeback, None)
    );
}

#[test]
fn bad_values_are_located_with_the_choices() {
    let e = decode("{\n  \"format\": \"vmdk\",\n  \"accelerator\": \"KVM\"}").unwrap_err();
    let msgs: Vec<(String, (usize, usize))> =
        e.0.iter().map(|d| (d.summary.clone(), d.span.as_ref().unwrap().line_col())).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs[0].0.contains("\"vmdk\" is not a valid format: use one of qcow2, raw"), "{msgs:?}");
    assert_eq!(msgs[0].1, (2, 13));
    assert!(msgs[1].0.contains("did you mean \"kvm\"?"), "{msgs:?}");
    let e = decode(r#"{"qemu_img_args": {"convert": [], "compress": []}}"#).unwrap_err();
    assert!(e.to_string().contains("compress"), "{e}");
    let e = decode(r#"{"disk_sise": "1G"}"#).unwrap_err();
    assert!(e.to_string().contains("did you mean \"disk_size\"?"), "{e}");
}

#[test]
fn disk_sizes_as_packer_reads_them() {
    let ok = |s: &str| s.parse::<DiskSize>().map(|d| (d.text, d.bytes));
    assert_eq!(ok("10240"), Ok(("10240M".into(), 10240 << 20)));
    assert_eq!(ok("40G"), Ok(("40G".into(), 40 << 30)));
    assert_eq!(ok("1t"), Ok(("1t".into(), 1 << 40)));
    assert_eq!(ok("512k"), Ok(("512k".into(), 512 << 10)));
    assert_eq!(ok("4096b"), Ok(("4096b".into(), 4096)));
    for bad in ["", "abc", "1.5G", "10GB", "G", "-1", "99999999999999999999", "18446744073709551615T"] {
        assert!(ok(bad).is_err(), "{bad:?}");
    }
    let (c, _, _) = decode(r#"{"disk_size": 10240}"#).unwrap();
    assert_eq!(c.disk_size().unwrap().text, "10240M");
}

#[test]
fn checks_point_at_the_option() {
    let f = findings(
        r#"{"disk_size": "40GB", "disk_additional_size": ["1G", "x"],
  "use_backing_file": true, "skip_resize_disk": true,
  "host_port_min": 5000, "host_port_max": 4000, "vnc_port_min": 5800,
  "net_device": "virtio-nett", "qemuargs": [[], ["m", "1"]], "vm_name": "a/b", "run_once": true}"#,
    );
    let summaries: Vec<&str> = f.iter().map(|x| x.1.as_str()).collect();
    let find = |s: &str| f.iter().find(|x| x.1.contains(s)).unwrap_or_else(|| panic!("{s:?} not in {summaries:#?}"));
    assert_eq!((find("disk_size:").2, find("disk_size:").3), (1, 15));
    assert_eq!((find("disk_additional_size:").2, find("disk_additional_size:").3), (1, 54));
    assert!(find("use_backing_file can only").0);
    assert!(find("skip_resize_disk can only").0);
    assert!(find("host_port_min must not").0);
    assert!(find("vnc_port_min 5800 is below 5900").0);
    assert!(!find("net_device \"virtio-nett\"").0);
    assert!(find("qemuargs entry 1 is empty").0);
    assert_eq!(find("qemuargs entry 1 is empty").2, 4);
    assert!(!find("qemuargs entry 2 starts with \"m\"").0);
    assert!(find("vm_name \"a/b\"").0);
    assert!(!find("run_once is deprecated").0);
    assert_eq!(f.len(), 11, "{summaries:#?}");
}

#[test]
fn disk_image_needs_a_disk() {
    let f = findings(r#"{"disk_image": true}"#);
    assert_eq!(f.len(), 1);
    assert!(f[0].0 && f[0].1.starts_with("disk_image needs iso_url"));
    let f = findings(r#"{"disk_image": true, "iso_urls": ["a.qcow2", "debian.ISO"]}"#);
    assert_eq!(f.len(), 1);
    assert!(!f[0].0 && f[0].1.contains("\"debian.ISO\" looks like an ISO"), "{f:?}");
    assert_eq!(f[0].3, 46);
}

#[test]
fn old_port_names_still_work_with_a_warning() {
    let src = r#"{"ssh_host_port_min": 3000, "ssh_host_port_max": 3100}"#;
    let (c, _, _) = decode(src).unwrap();
    assert_eq!(c.host_ports(), (3000, 3100));
    let f = findings(src);
    assert_eq!(f.iter().filter(|x| !x.0 && x.1.ends_with("is deprecated")).count(), 2, "{f:?}");
}

#[test]
fn efi_and_firmware_files_must_exist() {
    let f = findings(
        r#"{"efi_boot": true, "efi_firmware_code": "/nonexistent/CODE.fd", "efi_firmware_vars": "/nonexistent/VARS.fd"}"#,
    );
    assert_eq!(f.iter().filter(|x| x.0 && x.1.contains("does not exist")).count(), 2, "{f:?}");
    assert_eq!(f.len(), 2, "{f:?}");
    let (c, _, _) = decode(r#"{"efi_firmware_vars": "/x"}"#).unwrap();
    assert!(c.efi(), "setting a firmware file turns efi_boot on");
    let dir = tempfile::tempdir().unwrap();
    let fw = dir.path().join("bios.bin");
    std::fs::write(&fw, b"").unwrap();
    assert!(findings(&format!(r#"{{"firmware": {:?}}}"#, fw.to_str().unwrap())).is_empty());
}

#[test]
fn boot_command_problems_point_into_the_string() {
    let src = "{\"boot_command\": [\"<esc><wait>\",\n  \"linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/x <entr>\",\n  \"caf\u{e9}<enter>\"]}";
    let f = findings(src);
    assert_eq!(f.len(), 1, "an error hides the warnings: {f:?}");
    assert!(f[0].0);
    assert_eq!(f[0].1, "boot_command entry 3, column 4: 'é' cannot be typed: no key of a US keyboard types it");
    assert_eq!((f[0].2, f[0].3), (3, 7));
    let src = "{\"boot_command\": [\"<esc><wait>\",\n  \"linux url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/x <entr>\"]}";
    let f = findings(src);
    assert_eq!(f.len(), 1);
    assert!(!f[0].0);
    assert!(f[0].1.starts_with("boot_command entry 2, column 50: <entr> is not a key name"), "{f:?}");
    assert_eq!((f[0].2, f[0].3), (2, 53));
    // An escaped string cannot be pointed into: the whole entry is.
    let f = findings("{\"boot_command\": [\"a\\tb<entr>\"]}");
    assert_eq!((f[0].2, f[0].3), (1, 19));
    let (_, b, _) = decode(
        r#"{"boot_wait": "3s", "boot_key_interval": "10ms", "boot_keygroup_interval": "1s", "disable_vnc": true}"#,
    )
    .unwrap();
    assert_eq!(
        (b.boot_wait(), b.key_interval(), b.disable_vnc),
        (Duration::from_secs(3), Duration::from_millis(10), true)
    );
}

#[test]
fn boot_steps_are_checked_step_by_step_and_typed_in_order() {
    let src = "{\"boot_steps\": [\n  [\"1<enter><wait5>\", \"Install\"],\n  [],\n  [\"caf\u{e9}\"],\n  [\"a\", \"b\", \"c\"]]}";
    let f = findings(src);
    assert_eq!(
        f,
        [
            (false, "boot_steps step 2 is empty: nothing is typed for it".to_string(), 3, 3),
            (true, "boot_steps step 3, column 4: 'é' cannot be typed: no key of a US keyboard types it".into(), 4, 8),
            (true, "boot_steps step 4 has 3 items".into(), 5, 3),
        ]
    );
    let f = findings(r#"{"boot_command": ["a"], "boot_steps": [["b"]]}"#);
    assert_eq!(f, [(true, "boot_command and boot_steps cannot be used together".to_string(), 1, 39)]);
    let (_, b, _) = decode(r#"{"boot_steps": [["a<enter>", "first"], [], ["b", ""], ["c"]]}"#).unwrap();
    let t = b.typing();
    let got: Vec<(&[String], Option<&str>, Option<usize>)> =
        t.iter().map(|s| (s.keys, s.description, s.step)).collect();
    let (a, bb, c) = (["a<enter>".to_string()], ["b".to_string()], ["c".to_string()]);
    assert_eq!(got, [(&a[..], Some("first"), Some(1)), (&bb[..], None, Some(3)), (&c[..], None, Some(4))]);
    assert_eq!(t[1].name(0), "boot_steps step 3");
    // boot_command is one step, its entries named as before.
    let (_, b, _) = decode(r#"{"boot_command": ["a", "b"]}"#).unwrap();
    let t = b.typing();
    assert_eq!((t.len(), t[0].keys.len(), t[0].step, t[0].name(1)), (1, 2, None, "boot_command entry 2".to_string()));
    assert!(decode("{}").unwrap().1.typing().is_empty());
}

#[test]
fn newer_packer_options_and_their_checks() {
    let (c, _, _) = decode(r#"{"sockets": 2, "cores": 2, "cpu_model": "max", "vga": "qxl"}"#).unwrap();
    assert_eq!(
        (c.cpus(), c.smp().as_deref(), c.cpu_model.as_str(), c.vga.as_str()),
        (4, Some("cpus=4,sockets=2,cores=2"), "max", "qxl")
    );
    // More cpus than the topology holds: a warning at cpus.
    let f = findings("{\"cores\": 2,\n \"cpus\": 3}");
    assert_eq!(
        f,
        [(
            false,
            "cpus 3 is more than the topology holds: sockets × cores × threads = 2; the VM gets 2".to_string(),
            2,
            10
        )]
    );
    assert!(findings(r#"{"cpus": 2, "cores": 4}"#).is_empty());
    // Options that do nothing without another.
    let f = findings(
        r#"{"vnc_password": "0123456789", "use_tpm1": true, "tpm_device_type": "tpm-crb", "use_pflash": true, "efi_drop_efivars": true}"#,
    );
    let summaries: Vec<&str> = f.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "vnc_password does nothing without vnc_use_password",
            "vnc_password is longer than 8 characters: VNC uses only the first 8",
            "use_tpm1 does nothing without vtpm",
            "tpm_device_type does nothing without vtpm",
            "use_pflash does nothing without firmware",
            "efi_drop_efivars does nothing without efi_boot",
        ]
    );
    assert!(f.iter().all(|f| !f.0), "all warnings: {f:?}");
    assert!(findings(r#"{"vnc_use_password": true, "vnc_password": "s3cret"}"#).is_empty());
    // A TPM device QEMU does not have: a warning with the likely one.
    let f = findings(r#"{"vtpm": true, "tpm_device_type": "tpm-tsi"}"#);
    let tpm: Vec<_> = f.iter().filter(|f| f.1.contains("tpm_device_type")).collect();
    assert_eq!(tpm.len(), 1, "{f:?}");
    assert_eq!(tpm[0].1, "tpm_device_type \"tpm-tsi\" is not a TPM device QEMU has");
}
