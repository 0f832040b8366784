//! Boxes for each provider, checked by reading them back and by Vagrant itself (`vagrant box
//! add` into a private VAGRANT_HOME, then `vagrant box list`); determinism; bad options.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use kiln_core::event::MemoryRenderer;
use kiln_testing::TempDir;

use super::*;

fn ctx(dir: &Path) -> (RunContext, MemoryRenderer) {
    let r = MemoryRenderer::default();
    let info = BuildInfo {
        name: "box-test".into(),
        builder_type: "qemu".into(),
        template_dir: dir.to_path_buf(),
        ..BuildInfo::default()
    };
    (RunContext { ui: Ui::new(Box::new(r.clone())), cancel: Cancel::new(), info: Arc::new(info) }, r)
}

fn configured(json: &str) -> std::result::Result<Vagrant, Diagnostics> {
    let n = kiln_template::testing::json_node("t.json", json).unwrap();
    let mut v = Vagrant::default();
    v.configure(&n, &BuildInfo::default())?;
    Ok(v)
}

/// (name, contents, mode) of each entry of a box (gzipped or not), in order.
fn entries(path: &str) -> Vec<(String, Vec<u8>, u32)> {
    let bytes = std::fs::read(path).unwrap();
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut v = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut v).unwrap();
        v
    } else {
        bytes
    };
    let mut a = tar::Archive::new(&plain[..]);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mode = e.header().mode().unwrap();
        let mut v = Vec::new();
        e.read_to_end(&mut v).unwrap();
        out.push((e.path().unwrap().to_string_lossy().into_owned(), v, mode));
    }
    out
}

fn text_of<'a>(entries: &'a [(String, Vec<u8>, u32)], name: &str) -> &'a str {
    let e = entries.iter().find(|e| e.0 == name).unwrap_or_else(|| panic!("no {name} in the box"));
    std::str::from_utf8(&e.1).unwrap()
}

/// `vagrant box add` of `box_path` as `name` into a fresh VAGRANT_HOME, then the `vagrant box
/// list` line of that box; `None` when vagrant is not installed (unless KILN_REQUIRE_TOOLS=1).
fn vagrant_adds(dir: &Path, name: &str, box_path: &str) -> Option<String> {
    if Command::new("vagrant").arg("--version").output().is_err() {
        kiln_testing::skip("vagrant is not installed");
        return None;
    }
    let home = dir.join(format!("vagrant-home-{name}"));
    let run = |args: &[&str]| {
        let o = Command::new("vagrant")
            .args(args)
            .current_dir(dir)
            .env("VAGRANT_HOME", &home)
            .env("VAGRANT_CHECKPOINT_DISABLE", "1")
            .env("VAGRANT_DEFAULT_PROVIDER", "")
            .output()
            .expect("vagrant runs");
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success(), "vagrant {args:?} failed:\n{text}");
        text
    };
    run(&["box", "add", "--name", name, box_path]);
    let list = run(&["box", "list"]);
    Some(list.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} not listed:\n{list}")).to_string())
}

fn qemu_img(dir: &Path, name: &str, size: &str) -> Option<String> {
    let path = dir.join(name);
    match Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&path).arg(size).status() {
        Ok(s) => assert!(s.success(), "qemu-img create failed"),
        Err(_) => {
            kiln_testing::skip("qemu-img is not installed");
            return None;
        }
    }
    Some(path.to_string_lossy().into_owned())
}

/// The artifact the qemu builder reports: every file of its output folder, the disk's name,
/// format, size and the accelerator in its state.
fn qemu_artifact(dir: &Path, disk: &str, accel: &str) -> Arc<dyn Artifact> {
    let other = dir.join("efivars.fd");
    std::fs::write(&other, b"not in the box").unwrap();
    let state = [
        ("diskName", serde_json::json!(Path::new(disk).file_name().unwrap().to_string_lossy())),
        ("diskType", serde_json::json!("qcow2")),
        ("diskSize", serde_json::json!("3G")),
        ("domainType", serde_json::json!(accel)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Arc::new(BasicArtifact {
        builder_id: "transcend.qemu".into(),
        id: "VM".into(),
        files: vec![other.to_string_lossy().into_owned(), disk.to_string()],
        state,
        owns_files: true,
        ..BasicArtifact::default()
    })
}

#[tokio::test]
async fn libvirt_box_from_a_qcow2_is_added_by_vagrant_and_is_deterministic() {
    let d = TempDir::new("vagrant-libvirt");
    let Some(disk) = qemu_img(&d.0, "quickstart", "2500M") else { return };
    let artifact = qemu_artifact(&d.0, &disk, "tcg");
    let out = d.0.join("out/{{.Provider}}-{{.BuildName}}.box").to_string_lossy().into_owned();
    let v = configured(&serde_json::json!({ "output": out }).to_string()).unwrap();
    let (ctx, r) = ctx(&d.0);
    let done = v.post_process(&ctx, artifact.clone()).await.unwrap();
    let a = done.artifact.unwrap();
    let box_path = d.0.join("out/libvirt-box-test.box").to_string_lossy().into_owned();
    assert_eq!(a.files(), vec![box_path.clone()]);
    assert_eq!(a.builder_id(), BUILDER_ID);
    assert_eq!(a.id(), "libvirt");
    // The disk is copied into the box: keep_input_artifact decides about the input.
    assert!(!done.keep && !done.force_keep);
    let shown = format!("{:?}", r.events());
    assert!(shown.contains("Creating Vagrant box for 'libvirt' provider"), "{shown}");

    let e = entries(&box_path);
    let names: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["Vagrantfile", "box.img", "metadata.json"]);
    assert_eq!(e[1].1, std::fs::read(&disk).unwrap(), "box.img is the disk, byte for byte");
    let meta: serde_json::Value = serde_json::from_str(text_of(&e, "metadata.json")).unwrap();
    assert_eq!(meta, serde_json::json!({"provider": "libvirt", "format": "qcow2", "virtual_size": 3}));
    assert!(text_of(&e, "Vagrantfile").contains("libvirt.driver = \"qemu\""), "{}", text_of(&e, "Vagrantfile"));
    // Nothing is left beside the box.
    let left: Vec<_> = std::fs::read_dir(d.0.join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // The same input gives the same bytes; the existing box is not replaced without -force.
    let err = v.post_process(&ctx, artifact.clone()).await.err().expect("refused");
    assert!(err.to_string().contains("already exists"), "{err}");
    let again = d.0.join("again.box").to_string_lossy().into_owned();
    let v2 = configured(&serde_json::json!({ "output": again }).to_string()).unwrap();
    v2.post_process(&ctx, artifact).await.unwrap();
    assert_eq!(std::fs::read(&box_path).unwrap(), std::fs::read(&again).unwrap(), "two runs differ");

    let Some(line) = vagrant_adds(&d.0, "kiln-libvirt", &box_path) else { return };
    assert!(line.contains("(libvirt, 0)"), "{line}");
}

#[tokio::test]
async fn aws_box_names_the_ami_of_each_region_and_is_added_by_vagrant() {
    let d = TempDir::new("vagrant-aws");
    let artifact: Arc<dyn Artifact> = Arc::new(BasicArtifact {
        builder_id: "mitchellh.amazonebs".into(),
        id: "us-east-1:ami-0123456789abcdef0,eu-west-1:ami-0fedcba9876543210".into(),
        ..BasicArtifact::default()
    });
    let out = d.0.join("aws.box").to_string_lossy().into_owned();
    let v = configured(&serde_json::json!({ "output": out, "architecture": "amd64" }).to_string()).unwrap();
    let (ctx, _r) = ctx(&d.0);
    let done = v.post_process(&ctx, artifact).await.unwrap();
    // The box refers to the AMIs: they stay, whatever keep_input_artifact says.
    assert!(done.keep && done.force_keep);
    let e = entries(&out);
    let names: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["Vagrantfile", "metadata.json"]);
    assert!(e.iter().all(|e| e.2 == 0o644), "{:?}", e.iter().map(|e| e.2).collect::<Vec<_>>());
    let meta: serde_json::Value = serde_json::from_str(text_of(&e, "metadata.json")).unwrap();
    assert_eq!(meta, serde_json::json!({"provider": "aws", "architecture": "amd64"}));
    let vf = text_of(&e, "Vagrantfile");
    assert!(vf.contains("aws.region_config \"eu-west-1\", ami: \"ami-0fedcba9876543210\""), "{vf}");
    assert!(vf.contains("aws.region_config \"us-east-1\", ami: \"ami-0123456789abcdef0\""), "{vf}");
    let Some(line) = vagrant_adds(&d.0, "kiln-aws", &out) else { return };
    assert!(line.contains("(aws, 0)"), "{line}");
}

#[tokio::test]
async fn docker_box_names_the_image_with_include_and_custom_vagrantfile() {
    let d = TempDir::new("vagrant-docker");
    let readme = d.0.join("README.md");
    std::fs::write(&readme, "a box\n").unwrap();
    let extra = d.0.join("extra.rb");
    std::fs::write(&extra, "# built by {{.BuildName}} from {{.ArtifactId}} for {{.Provider}}\n").unwrap();
    let artifact: Arc<dyn Artifact> = Arc::new(BasicArtifact {
        builder_id: "packer.post-processor.docker-import".into(),
        id: "sha256:2f6e5b0a8c1d".into(),
        ..BasicArtifact::default()
    });
    let out = d.0.join("docker.box").to_string_lossy().into_owned();
    let v = configured(
        &serde_json::json!({
            "output": out,
            "include": [readme.to_string_lossy()],
            "vagrantfile_template": extra.to_string_lossy(),
            "compression_level": 0,
        })
        .to_string(),
    )
    .unwrap();
    let (ctx, _r) = ctx(&d.0);
    v.post_process(&ctx, artifact).await.unwrap();
    // Level 0: a plain tar.
    assert!(!std::fs::read(&out).unwrap().starts_with(&[0x1f, 0x8b]));
    let e = entries(&out);
    let names: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["README.md", "Vagrantfile", "metadata.json"]);
    assert_eq!(text_of(&e, "README.md"), "a box\n");
    let vf = text_of(&e, "Vagrantfile");
    assert!(vf.contains("docker.image = \"sha256:2f6e5b0a8c1d\""), "{vf}");
    assert!(vf.contains("# built by box-test from sha256:2f6e5b0a8c1d for docker"), "{vf}");
    let Some(line) = vagrant_adds(&d.0, "kiln-docker", &out) else { return };
    assert!(line.contains("(docker, 0)"), "{line}");
}

#[tokio::test]
async fn artifice_input_needs_provider_override() {
    let d = TempDir::new("vagrant-artifice");
    let Some(disk) = qemu_img(&d.0, "disk.qcow2", "1G") else { return };
    let artifact: Arc<dyn Artifact> = Arc::new(BasicArtifact {
        builder_id: crate::artifice::BUILDER_ID.into(),
        files: vec![disk.clone()],
        user_files: true,
        ..BasicArtifact::default()
    });
    let out = d.0.join("a.box").to_string_lossy().into_owned();
    let (ctx, _r) = ctx(&d.0);
    let v = configured(&serde_json::json!({ "output": out }).to_string()).unwrap();
    let e = v.post_process(&ctx, artifact.clone()).await.err().expect("refused");
    assert!(e.to_string().contains("set provider_override"), "{e}");
    assert!(!Path::new(&out).exists());

    let v = configured(&serde_json::json!({ "output": out, "provider_override": "libvirt" }).to_string()).unwrap();
    v.post_process(&ctx, artifact).await.unwrap();
    let e = entries(&out);
    let meta: serde_json::Value = serde_json::from_str(text_of(&e, "metadata.json")).unwrap();
    assert_eq!(meta, serde_json::json!({"provider": "libvirt", "format": "qcow2", "virtual_size": 1}));
}

#[test]
fn bad_options_are_pointed_at() {
    let e = configured(r#"{"provider_override": "libvrit"}"#).err().unwrap();
    assert!(e.0[0].summary.contains("\"libvrit\""), "{}", e.0[0].summary);
    assert_eq!(e.0[0].help.as_deref(), Some("did you mean \"libvirt\"?"));
    assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 23));

    let e = configured(r#"{"compression_level": -3}"#).err().unwrap();
    assert_eq!(e.0[0].summary, "compression_level -3 is out of range");

    let e = configured(r#"{"vagrantfile_template": "no/such/Vagrantfile"}"#).err().unwrap();
    assert!(e.0[0].summary.contains("does not exist"), "{}", e.0[0].summary);
    // Made during the build: not checked before.
    configured(r#"{"vagrantfile_template": "no/such/Vagrantfile", "vagrantfile_template_generated": true}"#).unwrap();

    let e = configured(r#"{"include": ["no/such/file"]}"#).err().unwrap();
    assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 14));

    let e = configured(r#"{"outptu": "x.box"}"#).err().unwrap();
    assert!(e.0[0].summary.contains("outptu"), "{}", e.0[0].summary);
}

#[test]
fn unknown_builders_are_refused_with_what_works() {
    let e = provider_for("packer.file").unwrap_err().to_string();
    assert!(e.contains("packer.file") && e.contains("provider_override"), "{e}");
    let e = provider_for("packer.docker").unwrap_err().to_string();
    assert!(e.contains("commit = true"), "{e}");
    assert_eq!(provider_for("transcend.qemu").unwrap(), "libvirt");
    assert_eq!(provider_for("mitchellh.amazonebs").unwrap(), "aws");
    assert_eq!(provider_for("packer.post-processor.docker-tag").unwrap(), "docker");
}
