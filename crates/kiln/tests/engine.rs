//! End-to-end runs of the engine with the real components, on plans made from JSON templates.

mod common;

use common::{plain, run, template, TempDir};
use kiln_core::render::Format;
use kiln_core::scheduler::RunOptions;
use kiln_core::RunSettings;

#[test]
fn null_and_file_with_shell_local_checksum_and_manifest_like_packer() {
    let d = TempDir::new("e2e");
    let t = template(&format!(
        r#"{{
  "builders": [{{"type":"null","communicator":"none"}}, {{"type":"file","name":"f","content":"hello","target":"{out}"}}],
  "provisioners": [{{"type":"shell-local","inline":["echo hi; echo err >&2"]}}],
  "post-processors": [[{{"type":"checksum","checksum_types":["md5","sha256"],"output":"{dir}/packer_{{{{.BuildName}}}}_{{{{.BuilderType}}}}_{{{{.ChecksumType}}}}.checksum"}},
                       {{"type":"manifest","output":"{dir}/packer-manifest.json","custom_data":{{"a":"b"}}}}]]
}}"#,
        out = d.path("out.txt"),
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    for line in [
        "==> null: Running local shell script: ",
        "    null: hi",
        "==> null: err",
        "    f: hi",
        "==> f: Running post-processor: checksum",
        "==> null: Running post-processor: manifest",
        "Build 'null' finished after ",
        "\n==> Wait completed after ",
        "\n==> Builds finished. The artifacts of successful builds are:\n",
        "--> null: Did not export anything. This is the null builder\n",
        &format!("--> f: Stored file: {}\n", d.path("out.txt")),
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(
        std::fs::read_to_string(d.path("packer_f_file_md5.checksum")).unwrap(),
        "5d41402abc4b2a76b9719d911017c592\tout.txt\n"
    );
    assert!(std::fs::read_to_string(d.path("packer_f_file_sha256.checksum")).unwrap().starts_with("2cf24dba"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("packer-manifest.json")).unwrap()).unwrap();
    let builds = m["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2);
    let f = builds.iter().find(|b| b["name"] == "f").unwrap();
    assert_eq!(f["builder_type"], "file");
    assert_eq!(f["files"][0]["size"], 5);
    assert_eq!(f["files"].as_array().unwrap().len(), 3, "input file and two checksum files");
    assert_eq!(f["custom_data"]["a"], "b");
    assert_eq!(m["last_run_uuid"], f["packer_run_uuid"]);
    let n = builds.iter().find(|b| b["name"] == "null").unwrap();
    assert_eq!(n["files"], serde_json::Value::Null);
    // A second run refuses to replace the artifact without -force, and appends with it.
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already exists; delete it or run with -force"), "{out}");
    let force = RunSettings { options: RunOptions { force: true, ..RunOptions::default() }, ..RunSettings::default() };
    let (code, out) = run(&t, &force, plain());
    assert_eq!(code, 0, "{out}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("packer-manifest.json")).unwrap()).unwrap();
    // Two builds of the first run, the null build of the refused run, two of the forced one.
    assert_eq!(m["builds"].as_array().unwrap().len(), 5);
}

#[test]
fn failing_provisioner_retries_then_fails_only_its_build() {
    let d = TempDir::new("retry");
    let count = d.path("count");
    let t = template(&format!(
        r#"{{
  "builders": [{{"type":"null","name":"bad","communicator":"none"}}, {{"type":"null","name":"good","communicator":"none"}}],
  "provisioners": [{{"type":"shell-local","only":["bad"],"inline":["echo x >> {count}; exit 2"],"max_retries":2}}],
  "error-cleanup-provisioner": {{"type":"shell-local","inline":["echo cleaning up after failure"]}}
}}"#
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 3);
    assert!(out.contains("==> bad: Provisioner failed with \"Script exited with non-zero exit status: 2. Allowed exit codes are: [0]\", retrying with 2 trie(s) left"), "{out}");
    assert!(out.contains("==> bad: retry limit reached."));
    assert!(out.contains("==> bad: Provisioning step had errors: Running the cleanup provisioner, if present..."));
    assert!(out.contains("    bad: cleaning up after failure"));
    assert!(out.contains("\n==> Some builds didn't complete successfully and had errors:\n--> bad: Script exited with non-zero exit status: 2."));
    assert!(out.contains("--> good: Did not export anything."), "{out}");
}

#[test]
fn provisioner_timeout_and_pause_before() {
    let t = template(
        r#"{"builders": [{"type":"null","communicator":"none"}],
  "provisioners": [{"type":"shell-local","inline":["true"],"pause_before":"200ms"},
                   {"type":"shell-local","inline":["sleep 20"],"timeout":"500ms"}]}"#,
    );
    let start = std::time::Instant::now();
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert!(out.contains("==> null: Pausing 200ms before the next provisioner..."), "{out}");
    assert!(out.contains("==> null: Setting a 500ms timeout for the next provisioner..."));
    assert!(out.contains("==> null: Cancelling provisioner after a timeout..."));
    assert!(out.contains("--> null: the shell-local provisioner timed out after 500ms"), "{out}");
}

#[test]
fn parallel_builds_run_at_once_unless_limited() {
    let t = template(
        r#"{"builders": [{"type":"null","name":"a","communicator":"none"},{"type":"null","name":"b","communicator":"none"},
                      {"type":"null","name":"c","communicator":"none"}],
  "provisioners": [{"type":"shell-local","inline":["sleep 1"]}]}"#,
    );
    let start = std::time::Instant::now();
    let (code, _) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0);
    let unlimited = start.elapsed();
    let mut s = RunSettings::default();
    s.options.parallel_builds = 1;
    let start = std::time::Instant::now();
    let (code, _) = run(&t, &s, plain());
    assert_eq!(code, 0);
    let serial = start.elapsed();
    // Three one-second builds: at once they take about one second, one by one at least three.
    assert!(serial >= std::time::Duration::from_secs(3), "{serial:?}");
    assert!(unlimited + std::time::Duration::from_millis(1500) < serial, "{unlimited:?} vs {serial:?}");
}

#[test]
fn only_and_except_select_builds() {
    let t = template(
        r#"{"builders": [{"type":"null","name":"web-1","communicator":"none"},{"type":"null","name":"web-2","communicator":"none"},
                      {"type":"null","name":"db","communicator":"none"}]}"#,
    );
    let s = RunSettings { only: vec!["web-*".into()], except: vec!["web-2".into()], ..RunSettings::default() };
    let (code, out) = run(&t, &s, plain());
    assert_eq!(code, 0);
    assert!(out.contains("Build 'web-1' finished"));
    assert!(!out.contains("web-2") && !out.contains("'db'"), "{out}");
}

#[test]
fn configuration_errors_stop_before_anything_runs() {
    let d = TempDir::new("prep");
    let marker = d.path("ran");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","communicator":"none","fo":1}}],
  "provisioners": [{{"type":"shell-local","inline":["touch {marker}"]}}],
  "post-processors": [{{"type":"checksum","checksum_types":["sha9"]}}]}}"#
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1);
    assert!(out.contains("Error: unknown option \"fo\"\n --> template.json:1:52"), "{out}");
    assert!(out.contains("Error: unknown checksum type \"sha9\""), "{out}");
    assert!(!common::exists(&marker));
}

#[test]
fn no_secret_in_any_output() {
    let secret = "s3cr3t-Pa55";
    let mut t = template(&format!(
        r#"{{"builders": [{{"type":"file","content":"x","target":"/nonexistent-dir-{secret}/\u0000"}}, {{"type":"null","communicator":"none"}}],
  "provisioners": [{{"type":"shell-local","inline":["echo the password is {secret}", "echo {secret} >&2"],
                     "environment_vars":["PASSWORD={secret}"]}}]}}"#
    ));
    t.sensitive_values.push(secret.to_string());
    for format in [plain(), Format::Human { color: true, timestamps: true }, Format::MachineReadable, Format::Json] {
        let (_, out) = run(&t, &RunSettings::default(), format);
        assert!(!out.contains(secret), "secret leaked with {format:?}:\n{out}");
        assert!(out.contains("<sensitive>"), "{format:?}:\n{out}");
    }
}

#[test]
fn machine_readable_summary() {
    let d = TempDir::new("mr");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","name":"f","content":"hello","target":"{}"}}]}}"#,
        d.path("o.txt")
    ));
    let (code, out) = run(&t, &RunSettings::default(), Format::MachineReadable);
    assert_eq!(code, 0, "{out}");
    let tail: Vec<String> = out.lines().map(|l| l.split_once(',').map_or("", |x| x.1).to_string()).collect();
    let o = d.path("o.txt");
    for expected in [
        "f,artifact-count,1".to_string(),
        "f,artifact,0,builder-id,packer.file".to_string(),
        "f,artifact,0,id,File".to_string(),
        format!("f,artifact,0,string,Stored file: {o}"),
        "f,artifact,0,files-count,1".to_string(),
        format!("f,artifact,0,file,0,{o}"),
        "f,artifact,0,end".to_string(),
        "\u{0},ui,say,\\n==> Builds finished. The artifacts of successful builds are:".replace('\u{0}', ""),
    ] {
        assert!(tail.contains(&expected), "missing {expected:?} in\n{out}");
    }
}

#[test]
fn failed_build_removes_what_it_created() {
    let d = TempDir::new("fail");
    let target = d.path("made.txt");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","content":"x","target":"{target}"}}],
  "provisioners": [{{"type":"shell-local","inline":["exit 1"]}}]}}"#
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1);
    assert!(out.contains(&format!("==> file: Cleaning up: deleting target file {target}")), "{out}");
    assert!(!common::exists(&target));
    // -on-error=abort leaves it and says so.
    let mut s = RunSettings::default();
    s.options.on_error = kiln_core::OnError::Abort;
    let (code, out) = run(&t, &s, plain());
    assert_eq!(code, 1);
    assert!(common::exists(&target));
    assert!(out.contains(&format!("  - deleting target file {target}")), "{out}");
}

#[test]
fn run_cleanup_provisioner_mode_runs_it_and_keeps_the_rest() {
    let d = TempDir::new("rcp");
    let target = d.path("made.txt");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","content":"x","target":"{target}"}}],
  "provisioners": [{{"type":"shell-local","inline":["exit 1"]}}],
  "error-cleanup-provisioner": {{"type":"shell-local","inline":["echo error cleanup ran"]}}}}"#
    ));
    let mut s = RunSettings::default();
    s.options.on_error = kiln_core::OnError::RunCleanupProvisioner;
    let (code, out) = run(&t, &s, plain());
    assert_eq!(code, 1);
    assert!(out.contains("    file: error cleanup ran"), "{out}");
    assert!(common::exists(&target), "run-cleanup-provisioner must not clean up the build");
}

#[test]
fn builds_that_prepare_still_run_when_another_cannot_like_packer() {
    let t = template(
        r#"{"builders":[{"type":"null","communicator":"none"},{"type":"null","name":"bad","communicator":"none","foo":1}],
 "provisioners":[{"type":"shell-local","inline":["echo ran"]}]}"#,
    );
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("Error: unknown option \"foo\""), "{out}");
    assert!(out.contains("    null: ran"), "{out}");
    assert!(!out.contains("bad: ran"), "{out}");
    assert!(out.contains("--> null: Did not export anything."), "{out}");
}

#[test]
fn packer_log_writes_a_masked_debug_log() {
    let d = TempDir::new("log");
    let log_path = d.path("packer.log");
    let env: std::collections::BTreeMap<String, String> =
        [("PACKER_LOG".to_string(), "1".to_string()), ("PACKER_LOG_PATH".to_string(), log_path.clone())].into();
    let log = kiln_core::run::log_from_env(&env).expect("PACKER_LOG=1 turns the log on");
    let secret = "hunter2-log";
    let mut t = template(&format!(
        r#"{{"builders": [{{"type":"null","communicator":"none"}}],
  "provisioners": [{{"type":"shell-local","inline":["echo pw={secret}"]}}]}}"#
    ));
    t.sensitive_values.push(secret.into());
    let buf = common::Buf::default();
    let ui = kiln_core::Ui::with(
        kiln_core::render::renderer_to(plain(), Box::new(buf.clone())),
        Some(log),
        Box::new(kiln_core::event::StdinAsker),
    );
    let reg = kiln_components::registry();
    let input = kiln_core::RunInput { builds: &t.builds, sensitive_values: &t.sensitive_values };
    let r = kiln_core::run_template(&reg, input, &RunSettings::default(), &ui, &|_| {});
    assert_eq!(r.exit_code(), 0);
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(text.contains("null: Running step StepProvision"), "{text}");
    assert!(text.contains("ui: null: pw=<sensitive>"), "{text}");
    assert!(!text.contains(secret), "{text}");
    assert!(kiln_core::run::log_from_env(&Default::default()).is_none());
}

#[test]
fn compress_consumes_its_input_and_never_overwrites_without_force() {
    let d = TempDir::new("compress");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","content":"data","target":"{dir}/disk.raw"}}],
  "post-processors": [{{"type":"compress","output":"{dir}/{{{{.BuildName}}}}.tar"}}]}}"#,
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    // The rendered name decides the format: a plain tar, where Packer 1.6.6 would gzip it.
    let tar = std::fs::read(d.path("file.tar")).unwrap();
    assert_eq!(&tar[257..262], b"ustar");
    assert!(!common::exists(&d.path("disk.raw")), "keep_input_artifact defaults to false");
    // Packer replaces the archive silently; kiln keeps it and says how to replace it.
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("output file {} already exists", d.path("file.tar"))), "{out}");
    assert!(out.contains("-force"), "{out}");
    assert_eq!(std::fs::read(d.path("file.tar")).unwrap(), tar);
}

#[test]
fn file_builder_copies_a_source_with_progress() {
    let d = TempDir::new("filesrc");
    std::fs::write(d.path("in.img"), vec![3u8; 2 << 20]).unwrap();
    let t = template(&format!(
        r#"{{"builders": [{{"type":"file","source":"{src}","target":"{dst}"}}]}}"#,
        src = d.path("in.img"),
        dst = d.path("out/copy.img")
    ));
    let (code, out) = run(&t, &RunSettings::default(), Format::Json);
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read(d.path("out/copy.img")).unwrap(), vec![3u8; 2 << 20]);
    let events: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.iter().any(|e| e["type"] == "say" && e["text"].as_str().unwrap().starts_with("Copying ")));
    let last = events.iter().rfind(|e| e["type"] == "progress").expect("progress");
    assert_eq!(last["done"], 2 << 20);
    assert_eq!(last["total"], 2 << 20);
    // A missing source is a configuration error at its line.
    let t = template(r#"{"builders": [{"type":"file","source":"/nonexistent/x.img","target":"y"}]}"#);
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1);
    assert!(out.contains("Error: source file \"/nonexistent/x.img\" does not exist\n --> template.json:1:39"), "{out}");
}
