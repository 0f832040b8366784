use std::io::Read;
use std::sync::atomic::AtomicBool;

use kiln_core::event::MemoryRenderer;
use kiln_core::progress::Progress;
use kiln_core::Ui;

use super::*;

struct Dir(std::path::PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("kiln-compress-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("sub")).unwrap();
        std::fs::write(p.join("sub/a.txt"), "alpha ".repeat(1000)).unwrap();
        std::fs::write(p.join("b.bin"), (0..300_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>()).unwrap();
        Dir(p)
    }
    fn p(&self, rel: &str) -> String {
        self.0.join(rel).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn make(format: Format, files: &[String], out: &str) {
    let progress = Progress::new(&Ui::new(Box::new(MemoryRenderer::default())), "t", None);
    write(format, files, Path::new(out), 6, &progress, &AtomicBool::new(false)).unwrap();
    assert_eq!(progress.done(), files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum::<u64>());
}

fn tar_entries(r: impl Read) -> Vec<(String, Vec<u8>, u64)> {
    let mut a = tar::Archive::new(r);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mtime = e.header().mtime().unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data, mtime)
        })
        .collect()
}

#[test]
fn formats_from_the_rendered_name() {
    assert_eq!(Format::from_name("x.tar.gz"), Ok(Format::TarGz));
    assert_eq!(Format::from_name("x.TGZ"), Ok(Format::TarGz));
    assert_eq!(Format::from_name("image.raw.tar"), Ok(Format::Tar));
    assert_eq!(Format::from_name("x.lz4"), Ok(Format::Lz4));
    assert_eq!(Format::from_name("x.tar.bgzf"), Ok(Format::TarBgzf));
    assert_eq!(Format::from_name("packer_null_null"), Ok(Format::TarGz));
    assert!(Format::from_name("x.tar.zst").unwrap_err().contains("cannot write .zst"));
    assert_eq!(Format::from_option(".zip"), Ok(Format::Zip));
    assert!(Format::from_option("rar").is_err());
}

#[test]
fn tar_gz_and_tar_bgzf_and_tar_lz4_hold_every_file_like_packer() {
    let d = Dir::new("tars");
    let files = vec![d.p("sub/a.txt"), d.p("b.bin")];
    for (format, name) in [
        (Format::TarGz, "o.tar.gz"),
        (Format::TarBgzf, "o.tar.bgzf"),
        (Format::TarLz4, "o.tar.lz4"),
        (Format::Tar, "o.tar"),
    ] {
        let out = d.p(name);
        make(format, &files, &out);
        let f = std::fs::File::open(&out).unwrap();
        let entries = match format {
            Format::TarLz4 => tar_entries(lz4_flex::frame::FrameDecoder::new(f)),
            Format::Tar => tar_entries(f),
            _ => tar_entries(flate2::read::MultiGzDecoder::new(f)),
        };
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.bin"], "{name}");
        assert_eq!(entries[1].1, std::fs::read(d.p("b.bin")).unwrap());
        assert!(entries.iter().all(|e| e.2 == 0), "mtime 0 as Packer writes it");
    }
    // Same inputs, same bytes.
    make(Format::TarGz, &files, &d.p("again.tar.gz"));
    assert_eq!(std::fs::read(d.p("o.tar.gz")).unwrap(), std::fs::read(d.p("again.tar.gz")).unwrap());
}

#[test]
fn zip_keeps_paths_single_file_formats_round_trip() {
    let d = Dir::new("zip");
    let files = vec![d.p("sub/a.txt"), d.p("b.bin")];
    make(Format::Zip, &files, &d.p("o.zip"));
    let mut z = zip::ZipArchive::new(std::fs::File::open(d.p("o.zip")).unwrap()).unwrap();
    let mut names: Vec<String> = (0..z.len()).map(|i| z.by_index(i).unwrap().name().unwrap().to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [d.p("b.bin").trim_start_matches('/').to_string(), d.p("sub/a.txt").trim_start_matches('/').to_string()]
    );
    let one = vec![d.p("b.bin")];
    let original = std::fs::read(d.p("b.bin")).unwrap();
    make(Format::Gz, &one, &d.p("b.gz"));
    let mut back = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(d.p("b.gz")).unwrap()).read_to_end(&mut back).unwrap();
    assert_eq!(back, original);
    make(Format::Lz4, &one, &d.p("b.lz4"));
    let mut back = Vec::new();
    lz4_flex::frame::FrameDecoder::new(std::fs::File::open(d.p("b.lz4")).unwrap()).read_to_end(&mut back).unwrap();
    assert_eq!(back, original);
}

#[test]
fn a_stop_request_ends_the_write() {
    let d = Dir::new("stop");
    let progress = Progress::new(&Ui::new(Box::new(MemoryRenderer::default())), "t", None);
    let e = write(Format::TarGz, &[d.p("b.bin")], Path::new(&d.p("o.tar.gz")), 6, &progress, &AtomicBool::new(true))
        .unwrap_err();
    assert_eq!(e.to_string(), "cancelled");
}
