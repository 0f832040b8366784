use std::path::Path;

use super::*;
use crate::qemu::config::Config;

fn config(json: &str) -> Config {
    let n = kiln_template::testing::json_node("t.json", json).unwrap();
    kiln_config::decode::decode_component(&n, "the \"qemu\" builder").unwrap()
}

/// qemu-img and qemu-io, or `None` (skip) when absent, unless KILN_REQUIRE_TOOLS=1.
fn tools() -> Option<QemuImg> {
    let ok = |p: &str| std::process::Command::new(p).arg("--version").output().is_ok_and(|o| o.status.success());
    if ok("qemu-img") && ok("qemu-io") {
        return Some(QemuImg::default());
    }
    assert!(std::env::var("KILN_REQUIRE_TOOLS").as_deref() != Ok("1"), "qemu-img and qemu-io are required");
    eprintln!("skipping: qemu-img or qemu-io is not installed");
    None
}

fn qemu_io(fmt: &str, path: &Path, cmd: &str) -> String {
    let out = std::process::Command::new("qemu-io").args(["-f", fmt, "-c", cmd]).arg(path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "qemu-io {cmd}: {text}");
    text
}

/// Writes a 1 MiB pattern at `offset` and checks it reads back from `path`.
fn assert_pattern(fmt: &str, path: &Path, pattern: u8, offset: &str) {
    let out = qemu_io(fmt, path, &format!("read -P {pattern} {offset} 1M"));
    assert!(!out.contains("verification failed"), "{path:?} at {offset}: {out}");
}

fn quiet(_: String) {}

#[test]
fn plans_follow_the_options() {
    let out = Path::new("out");
    let src = Some((Path::new("/img/base.qcow2"), "qcow2"));
    let p = DiskPlan::new(&config("{}"), out, "vm", None).unwrap();
    assert_eq!(p.main, Main::Blank { size: "40960M".parse().unwrap() });
    assert_eq!((p.working.as_path(), p.convert_at_end, p.compress), (Path::new("out/vm"), true, false));
    let p = DiskPlan::new(&config(r#"{"skip_compaction": true}"#), out, "vm", None).unwrap();
    assert!(!p.convert_at_end);
    let p = DiskPlan::new(&config(r#"{"skip_compaction": true, "disk_compression": true}"#), out, "vm", None).unwrap();
    assert!(p.convert_at_end && p.compress);
    // Packer compacts qcow2 only.
    let p = DiskPlan::new(&config(r#"{"format": "raw", "disk_compression": true}"#), out, "vm", None).unwrap();
    assert!(!p.convert_at_end && !p.compress);

    let p = DiskPlan::new(&config(r#"{"disk_image": true, "disk_size": "8G"}"#), out, "vm", src).unwrap();
    assert!(matches!(&p.main, Main::Overlay { size: Some(s), .. } if s.text == "8G"), "{:?}", p.main);
    assert_eq!(p.working, Path::new("out/.vm.kiln-overlay.qcow2"));
    assert!(p.convert_at_end);
    assert_eq!(p.disks()[0].format, Format::Qcow2);
    let p =
        DiskPlan::new(&config(r#"{"disk_image": true, "skip_resize_disk": true, "format": "raw"}"#), out, "vm", src)
            .unwrap();
    assert!(matches!(&p.main, Main::Overlay { size: None, .. }));
    assert!(p.convert_at_end, "the overlay is always written out");
    // Nothing to rewrite at the end: the copy is the one pass.
    let p = DiskPlan::new(&config(r#"{"disk_image": true, "skip_compaction": true}"#), out, "vm", src).unwrap();
    assert!(matches!(&p.main, Main::Copy { .. }) && !p.convert_at_end, "{p:?}");

    let p = DiskPlan::new(&config(r#"{"disk_image": true, "use_backing_file": true}"#), out, "vm", src).unwrap();
    assert!(matches!(&p.main, Main::Backed { .. }));
    assert_eq!((p.working.as_path(), p.convert_at_end), (Path::new("out/vm"), false));

    let c = config(r#"{"disk_image": true, "qemu_img_args": {"resize": ["--preallocation=off"]}}"#);
    let p = DiskPlan::new(&c, out, "vm", src).unwrap();
    assert!(matches!(&p.main, Main::Copy { .. }));

    let p = DiskPlan::new(&config(r#"{"disk_additional_size": ["1G", "512"]}"#), out, "vm.qcow2", None).unwrap();
    assert_eq!(p.additional[1], (Path::new("out/vm.qcow2-2").to_path_buf(), "512".parse().unwrap()));
    assert_eq!(p.disks().len(), 3);
    assert!(DiskPlan::new(&config(r#"{"disk_image": true}"#), out, "vm", None).is_err());
}

#[test]
fn progress_percent() {
    assert_eq!(last_percent("    (0.00/100%)\r    (12.50/100%)\r"), Some(12.5));
    assert_eq!(last_percent("nothing"), None);
}

#[tokio::test]
async fn a_blank_disk_is_created_and_compacted() {
    let Some(img) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let c = config(
        r#"{"disk_size": "64M", "disk_additional_size": ["16M"], "qemu_img_args": {"create": ["-o", "cluster_size=128k"]}}"#,
    );
    let p = DiskPlan::new(&c, dir.path(), "vm", None).unwrap();
    p.create(&img, &quiet).await.unwrap();
    let info = img.info(&p.output).await.unwrap();
    assert_eq!((info.format.as_str(), info.virtual_size), ("qcow2", 64 << 20));
    assert_eq!(img.info(&dir.path().join("vm-1")).await.unwrap().virtual_size, 16 << 20);
    qemu_io("qcow2", &p.output, "write -P 7 1M 1M");
    p.finish(&img, &quiet, None).await.unwrap();
    assert_pattern("qcow2", &p.output, 7, "1M");
    assert!(!dir.path().join("vm.convert").exists());
}

/// The overlay path: nothing copied at the start, one convert at the end that holds the
/// source's data, the guest's writes and the new size; the overlay is gone.
#[tokio::test]
async fn a_disk_image_is_written_once_from_an_overlay() {
    let Some(img) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("base.qcow2");
    img.create(&src, "qcow2", Some("32M"), None, &[]).await.unwrap();
    qemu_io("qcow2", &src, "write -P 1 0 1M");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for (fmt, compress) in [("qcow2", false), ("raw", false), ("qcow2", true)] {
        let c = config(&format!(
            r#"{{"disk_image": true, "disk_size": "48M", "format": "{fmt}", "disk_compression": {compress}}}"#
        ));
        let p = DiskPlan::new(&c, &out, "vm", Some((&src, "qcow2"))).unwrap();
        p.create(&img, &quiet).await.unwrap();
        assert!(!p.output.exists(), "nothing is written before the VM runs");
        let overlay = img.info(&p.working).await.unwrap();
        assert_eq!(overlay.backing_file.as_deref(), Some(src.to_str().unwrap()));
        assert_eq!(overlay.virtual_size, 48 << 20);
        qemu_io("qcow2", &p.working, "write -P 2 40M 1M");
        let ui = kiln_core::Ui::new(Box::new(kiln_core::event::MemoryRenderer::default()));
        let progress = kiln_core::progress::Progress::new(&ui, "converting", Some(48 << 20));
        p.finish(&img, &quiet, Some(&progress)).await.unwrap();
        assert_eq!(progress.done(), 48 << 20, "qemu-img -p reached 100%");
        assert!(!p.working.exists());
        let info = img.info(&p.output).await.unwrap();
        assert_eq!((info.format.as_str(), info.virtual_size, info.backing_file), (fmt, 48 << 20, None));
        assert_pattern(fmt, &p.output, 1, "0");
        assert_pattern(fmt, &p.output, 2, "40M");
        std::fs::remove_file(&p.output).unwrap();
    }
    // The source is untouched.
    assert_eq!(img.info(&src).await.unwrap().virtual_size, 32 << 20);
    assert_pattern("qcow2", &src, 1, "0");
}

#[tokio::test]
async fn a_backing_file_output_and_packers_copy_path() {
    let Some(img) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("base.qcow2");
    img.create(&src, "qcow2", Some("32M"), None, &[]).await.unwrap();
    qemu_io("qcow2", &src, "write -P 3 0 1M");

    let c = config(r#"{"disk_image": true, "use_backing_file": true, "skip_resize_disk": true}"#);
    let p = DiskPlan::new(&c, dir.path(), "backed", Some((&src, "qcow2"))).unwrap();
    p.create(&img, &quiet).await.unwrap();
    p.finish(&img, &quiet, None).await.unwrap();
    let info = img.info(&p.output).await.unwrap();
    assert_eq!((info.backing_file.as_deref(), info.virtual_size), (Some(src.to_str().unwrap()), 32 << 20));

    // resize arguments: copy (converting to raw), then qemu-img resize with them.
    let c = config(
        r#"{"disk_image": true, "format": "raw", "disk_size": "40M", "qemu_img_args": {"resize": ["--preallocation=off"]}}"#,
    );
    let p = DiskPlan::new(&c, dir.path(), "copied", Some((&src, "qcow2"))).unwrap();
    p.create(&img, &quiet).await.unwrap();
    let info = img.info(&p.output).await.unwrap();
    assert_eq!((info.format.as_str(), info.virtual_size), ("raw", 40 << 20));
    assert_pattern("raw", &p.output, 3, "0");

    // skip_compaction, same format: a plain copy, grown by qemu-img resize, kept as it is.
    let c = config(r#"{"disk_image": true, "skip_compaction": true, "disk_size": "40M"}"#);
    let p = DiskPlan::new(&c, dir.path(), "plain", Some((&src, "qcow2"))).unwrap();
    p.create(&img, &quiet).await.unwrap();
    qemu_io("qcow2", &p.output, "write -P 4 39M 1M");
    p.finish(&img, &quiet, None).await.unwrap();
    assert_eq!(img.info(&p.output).await.unwrap().virtual_size, 40 << 20);
    assert_pattern("qcow2", &p.output, 3, "0");
    assert_pattern("qcow2", &p.output, 4, "39M");

    // Shrinking is refused before anything is written.
    let c = config(r#"{"disk_image": true, "disk_size": "16M"}"#);
    let p = DiskPlan::new(&c, dir.path(), "small", Some((&src, "qcow2"))).unwrap();
    let e = p.create(&img, &quiet).await.unwrap_err();
    assert!(e.message.contains("smaller than the source image"), "{e}");
    assert!(!p.working.exists());
}

#[tokio::test]
async fn a_failing_qemu_img_says_why() {
    let Some(img) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let e = img.info(&dir.path().join("absent.qcow2")).await.unwrap_err();
    assert!(e.message.contains("qemu-img info") && e.message.contains("No such file"), "{e}");
}

#[tokio::test]
async fn efi_vars_are_copied_for_the_vm() {
    let dir = tempfile::tempdir().unwrap();
    let vars = dir.path().join("VARS.fd");
    std::fs::write(&vars, b"template").unwrap();
    let c = config(&format!(r#"{{"efi_firmware_vars": {:?}}}"#, vars.to_str().unwrap()));
    let copy = prepare_efi_vars(&c, dir.path()).await.unwrap().unwrap();
    assert_eq!(
        (copy.file_name().unwrap(), std::fs::read(&copy).unwrap()),
        ("efivars.fd".as_ref(), b"template".to_vec())
    );
    assert_eq!(prepare_efi_vars(&config("{}"), dir.path()).await.unwrap(), None);
}
