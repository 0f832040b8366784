//! Round trips through the system tools (or the crates' decoders when a tool is missing),
//! determinism, refusal to overwrite, several files into one archive.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use kiln_core::event::MemoryRenderer;

use super::*;
use kiln_testing::TempDir;

fn job(target: &str, files: &[String], force: bool) -> (Job, MemoryRenderer) {
    let r = MemoryRenderer::default();
    let j = Job {
        target: target.to_string(),
        files: files.to_vec(),
        format: detect(target),
        level: 6,
        force,
        mtime: 0,
        ui: Ui::new(Box::new(r.clone())),
        cancel: Cancel::new(),
    };
    (j, r)
}

fn data() -> Vec<u8> {
    deflate::tests::sample_data(3 * deflate::CHUNK + 4321)
}

/// Runs `tool args`, `None` when the tool is not installed (unless KILN_REQUIRE_TOOLS=1).
fn tool(name: &str, args: &[&str], dir: &Path) -> Option<Vec<u8>> {
    match Command::new(name).args(args).current_dir(dir).output() {
        Ok(o) => {
            assert!(o.status.success(), "{name} {args:?}: {}", String::from_utf8_lossy(&o.stderr));
            Some(o.stdout)
        }
        Err(_) if !kiln_testing::require_tools() => {
            eprintln!("notice: {name} not installed, checking with the crate's decoder only");
            None
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>, u64, u64)> {
    let mut a = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        out.push((e.path().unwrap().to_string_lossy().into_owned(), v, h.mtime().unwrap(), h.uid().unwrap()));
    }
    out
}

#[test]
fn gz_single_file_round_trips_and_is_deterministic() {
    let d = TempDir::new("gz");
    let input = d.file("disk.raw", &data());
    let (j, r) = job(&d.path("disk.raw.gz"), std::slice::from_ref(&input), false);
    assert_eq!(j.run().unwrap(), d.path("disk.raw.gz"));
    let first = std::fs::read(d.path("disk.raw.gz")).unwrap();
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&first[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, data());
    if let Some(out) = tool("gzip", &["-dc", "disk.raw.gz"], &d.0) {
        assert_eq!(out, data());
    }
    let (j2, _) = job(&d.path("again.gz"), &[input], false);
    j2.run().unwrap();
    assert_eq!(std::fs::read(d.path("again.gz")).unwrap(), first, "same input, same bytes");
    let ev = r.events();
    assert!(ev
        .iter()
        .any(|e| matches!(e, kiln_core::event::Event::Progress { done, .. } if *done == data().len() as u64)));
}

#[test]
fn many_files_go_into_a_sorted_deterministic_tar() {
    let d = TempDir::new("tgz");
    let b = d.file("b.vmdk", &data());
    let a = d.file("a.ovf", b"<ovf/>");
    let (j, _) = job(&d.path("box.tar.gz"), &[b.clone(), a.clone()], false);
    j.run().unwrap();
    let gz = std::fs::read(d.path("box.tar.gz")).unwrap();
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut tar_bytes).unwrap();
    let entries = untar(&tar_bytes);
    assert_eq!(entries.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["a.ovf", "b.vmdk"]);
    assert_eq!(entries[1].1, data());
    assert!(entries.iter().all(|e| e.2 == 0 && e.3 == 0), "mtime 0, uid 0");
    if let Some(list) = tool("tar", &["tzf", "box.tar.gz"], &d.0) {
        assert_eq!(String::from_utf8_lossy(&list), "a.ovf\nb.vmdk\n");
    }
    let (j2, _) = job(&d.path("box2.tar.gz"), &[a, b], false);
    j2.run().unwrap();
    assert_eq!(std::fs::read(d.path("box2.tar.gz")).unwrap(), gz, "order of the artifact's files does not matter");
}

#[test]
fn plain_tar_and_tar_lz4_and_tar_bgzf() {
    let d = TempDir::new("tar");
    let a = d.file("a.bin", &data());
    let b = d.file("b.txt", b"hello\n");
    for name in ["x.tar", "x.tar.lz4", "x.tar.bgzf"] {
        let (j, _) = job(&d.path(name), &[a.clone(), b.clone()], false);
        j.run().unwrap();
        let bytes = std::fs::read(d.path(name)).unwrap();
        let tar_bytes = match name {
            "x.tar" => bytes,
            "x.tar.lz4" => {
                let mut v = Vec::new();
                lz4_flex::frame::FrameDecoder::new(&bytes[..]).read_to_end(&mut v).unwrap();
                v
            }
            _ => {
                let mut v = Vec::new();
                flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut v).unwrap();
                v
            }
        };
        let e = untar(&tar_bytes);
        assert_eq!(e.len(), 2, "{name}");
        assert_eq!(e[0].1, data(), "{name}");
        assert_eq!(e[1].1, b"hello\n", "{name}");
    }
}

#[test]
fn lz4_and_bgzf_single_file_round_trip() {
    let d = TempDir::new("lz4");
    let a = d.file("a.bin", &data());
    let (j, _) = job(&d.path("a.bin.lz4"), std::slice::from_ref(&a), false);
    j.run().unwrap();
    if let Some(out) = tool("lz4", &["-dc", "a.bin.lz4"], &d.0) {
        assert_eq!(out, data());
    }
    let mut v = Vec::new();
    lz4_flex::frame::FrameDecoder::new(&std::fs::read(d.path("a.bin.lz4")).unwrap()[..]).read_to_end(&mut v).unwrap();
    assert_eq!(v, data());
    let (j, _) = job(&d.path("a.bgzf"), &[a], false);
    j.run().unwrap();
    let mut v = Vec::new();
    flate2::read::MultiGzDecoder::new(&std::fs::read(d.path("a.bgzf")).unwrap()[..]).read_to_end(&mut v).unwrap();
    assert_eq!(v, data());
    if let Some(out) = tool("gzip", &["-dc", "a.bgzf"], &d.0) {
        assert_eq!(out, data(), "gzip reads BGZF");
    }
}

#[test]
fn zip_round_trips_and_is_deterministic() {
    let d = TempDir::new("zip");
    std::fs::create_dir_all(d.0.join("sub")).unwrap();
    let a = d.file("sub/disk.vmdk", &data());
    let b = d.file("box.ovf", b"<ovf/>");
    let (j, _) = job(&d.path("out.zip"), &[a.clone(), b.clone()], false);
    j.run().unwrap();
    let z1 = std::fs::read(d.path("out.zip")).unwrap();
    let (j2, _) = job(&d.path("out2.zip"), &[b, a], false);
    j2.run().unwrap();
    assert_eq!(std::fs::read(d.path("out2.zip")).unwrap(), z1);
    if let Some(list) = tool("unzip", &["-Z1", "out.zip"], &d.0) {
        let names = String::from_utf8_lossy(&list).into_owned();
        assert!(names.lines().count() == 2 && names.contains("sub/disk.vmdk"), "{names}");
        tool("unzip", &["-tq", "out.zip"], &d.0);
        let inner = d.path("sub/disk.vmdk").trim_start_matches('/').to_string();
        let out = tool("unzip", &["-p", "out.zip", &inner], &d.0).unwrap_or_default();
        assert_eq!(out, data());
    }
}

#[test]
fn existing_output_is_kept_without_force() {
    let d = TempDir::new("force");
    let a = d.file("a.bin", b"new data");
    let out = d.file("a.bin.gz", b"precious");
    let (j, _) = job(&out, std::slice::from_ref(&a), false);
    let e = j.run().unwrap_err();
    assert!(e.message.contains("already exists") && e.message.contains("-force"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let (j, _) = job(&out, &[a], true);
    j.run().unwrap();
    assert_ne!(std::fs::read(&out).unwrap(), b"precious");
}

#[test]
fn several_files_need_an_archive() {
    let d = TempDir::new("many");
    let a = d.file("a", b"a");
    let b = d.file("b", b"b");
    let (j, _) = job(&d.path("x.gz"), &[a, b], false);
    let e = j.run().unwrap_err();
    assert!(e.message.contains("only one file") && e.message.contains(".tar.gz"), "{e}");
    assert!(!Path::new(&d.path("x.gz")).exists(), "nothing written");
}

#[test]
fn missing_input_leaves_nothing_behind() {
    let d = TempDir::new("missing");
    let (j, _) = job(&d.path("x.tar.gz"), &[d.path("nope")], false);
    let e = j.run().unwrap_err();
    assert!(e.message.contains("nope"), "{e}");
    assert_eq!(std::fs::read_dir(&d.0).unwrap().count(), 0, "no partial file");
}

#[test]
fn configure_checks_level_and_format() {
    let conf = |s: &str| {
        let n = kiln_template::testing::json_node("t.json", s).unwrap();
        Compress::default().configure(&n, &BuildInfo::default())
    };
    let e = conf(r#"{"compression_level": -3}"#).unwrap_err();
    assert_eq!(e.0[0].summary, "compression_level -3 is out of range");
    assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 23));
    let w = conf(r#"{"format": "tar.gzz"}"#).unwrap();
    assert_eq!(w[0].help.as_deref(), Some("did you mean \"tar.gz\"?"));
    assert!(conf(r#"{"output": "a.xz"}"#).unwrap().is_empty());
    assert!(conf(r#"{"output": "{{.BuildName}}.zip", "compression_level": 12}"#).unwrap().is_empty());
    let e = conf(r#"{"ouput": "a.zip"}"#).unwrap_err();
    assert!(e.0[0].help.as_deref().unwrap_or_default().contains("output"), "{:?}", e.0[0]);
}

#[test]
fn cancelled_job_stops_and_removes_its_partial_file() {
    let d = TempDir::new("cancel");
    let a = d.file("a.bin", &data());
    let (j, _) = job(&d.path("a.tar.gz"), &[a], false);
    j.cancel.cancel();
    let e = j.run().unwrap_err();
    assert!(e.cancelled, "{e}");
    assert!(!Path::new(&d.path("a.tar.gz")).exists());
    let left: Vec<_> = std::fs::read_dir(&d.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["a.bin"], "a partial file remains");
}

#[test]
fn two_jobs_with_one_target_never_share_a_file() {
    // Both start before either finishes: one writes the archive, the other fails at creation
    // (no -force); the archive is whole.
    let d = TempDir::new("race");
    let a = d.file("a.bin", &data());
    let (j1, _) = job(&d.path("a.tar.gz"), std::slice::from_ref(&a), false);
    let (j2, _) = job(&d.path("a.tar.gz"), &[a], false);
    let (r1, r2) = std::thread::scope(|s| {
        let h1 = s.spawn(|| j1.run());
        let h2 = s.spawn(|| j2.run());
        (h1.join().unwrap(), h2.join().unwrap())
    });
    assert!(r1.is_ok() != r2.is_ok(), "{r1:?} {r2:?}");
    let e = r1.err().or(r2.err()).unwrap();
    assert!(e.message.contains("already exists"), "{e}");
    let out = std::process::Command::new("gzip").args(["-t", &d.path("a.tar.gz")]).status().unwrap();
    assert!(out.success());
    let left: Vec<_> = std::fs::read_dir(&d.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
}

#[test]
fn an_archive_never_replaces_its_own_input() {
    let d = TempDir::new("self");
    let a = d.file("a.gz", &data());
    let (j, _) = job(&d.path("a.gz"), std::slice::from_ref(&a), true);
    let e = j.run().unwrap_err();
    assert!(e.message.contains("destroy its own input"), "{e}");
    assert_eq!(std::fs::read(&a).unwrap(), data());
}

#[test]
fn xz_and_tar_xz_read_back_with_xz_and_are_deterministic() {
    let d = TempDir::new("xz");
    // Bigger than one xz block at level 1 (preset 0: 3 x 256 KiB dictionary): several threads.
    let big = deflate::tests::sample_data(7 << 20);
    let a = d.file("a.bin", &big);
    let b = d.file("b.txt", b"hello\n");
    let mut j = job(&d.path("a.bin.xz"), std::slice::from_ref(&a), false).0;
    j.level = 1;
    j.run().unwrap();
    let xz_bytes = std::fs::read(d.path("a.bin.xz")).unwrap();
    assert!(xz_bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]), "an xz stream");
    assert!(xz_bytes.len() < big.len() * 3 / 4, "{}", xz_bytes.len());
    if let Some(out) = tool("xz", &["-dc", "a.bin.xz"], &d.0) {
        assert_eq!(out, big);
    }
    let mut back = Vec::new();
    liblzma::read::XzDecoder::new(&xz_bytes[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, big);
    // Same bytes whatever the number of threads: the blocks are fixed by the preset.
    let mut again = job(&d.path("again.xz"), std::slice::from_ref(&a), false).0;
    again.level = 1;
    again.run().unwrap();
    assert_eq!(std::fs::read(d.path("again.xz")).unwrap(), xz_bytes);

    let (j, r) = job(&d.path("x.tar.xz"), &[a, b], false);
    j.run().unwrap();
    let said = format!("{:?}", r.events());
    assert!(said.contains("Using xz compression with") && said.contains("Tarring"), "{said}");
    let mut tar_bytes = Vec::new();
    liblzma::read::XzDecoder::new(&std::fs::read(d.path("x.tar.xz")).unwrap()[..]).read_to_end(&mut tar_bytes).unwrap();
    let e = untar(&tar_bytes);
    assert_eq!((e[0].1.len(), &e[1].1[..]), (big.len(), &b"hello\n"[..]));
    if let Some(list) = tool("tar", &["tJf", "x.tar.xz"], &d.0) {
        assert_eq!(String::from_utf8_lossy(&list), "a.bin\nb.txt\n");
    }
}
