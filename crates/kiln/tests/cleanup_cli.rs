//! `kiln cleanup` and the warning of `kiln build` about resources a killed kiln process left
//! in the cleanup journal (under `PACKER_CACHE_DIR`).

use std::process::Command;

use kiln_testing::TempDir;

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn kiln(cache: &std::path::Path, dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(KILN).args(args).current_dir(dir).env("PACKER_CACHE_DIR", cache).output().unwrap();
    kiln_testing::cli::text(out)
}

#[test]
fn entries_of_a_killed_kiln_are_reported_and_listed() {
    let d = TempDir::new("cleanup-cli");
    let cache = d.0.join("cache");
    let journal = cache.join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    // A real kiln process, killed with SIGKILL while it runs (it waits on stdin in console).
    let mut victim = Command::new(KILN)
        .arg("console")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = victim.id();
    let entries = [("docker-container", "kiln-test-no-such-container"), ("martian-probe", "mp-1")];
    let text: String = entries
        .iter()
        .map(|(k, id)| {
            format!(
                "{{\"kind\":\"{k}\",\"id\":\"{id}\",\"endpoint\":\"unix:///nonexistent/docker.sock\",\"build\":\"b\",\"pid\":{pid},\"time\":1}}\n"
            )
        })
        .collect();
    std::fs::write(journal.join(format!("{pid}-b-x.jsonl")), text).unwrap();
    let (code, out, _) = kiln(&cache, &d.0, &["cleanup", "-dry-run"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Nothing to clean up: the cleanup journal has no entries of finished kiln processes.\n"),
        "a running process's entries are left alone"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();

    let (code, out, _) = kiln(&cache, &d.0, &["cleanup", "-dry-run"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("Would delete docker-container kiln-test-no-such-container in unix:///nonexistent/docker.sock (build \"b\", kiln process {pid})")), "{out}");
    assert!(out.contains("Cannot delete martian-probe mp-1"), "{out}");

    let t = d.file("t.json", br#"{"builders":[{"type":"null","communicator":"none"}]}"#);
    let (code, _, err) = kiln(&cache, &d.0, &["build", &t]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("2 resource(s) left behind by kiln processes that did not finish their cleanup"), "{err}");
    assert!(err.contains("Run `kiln cleanup` to delete them"), "{err}");

    // Without -dry-run: the docker engine cannot be reached, so both stay, with the reason.
    let (code, out, _) = kiln(&cache, &d.0, &["cleanup"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Could not delete docker-container kiln-test-no-such-container"), "{out}");
    assert_eq!(kiln_core_entries(&journal), 2);
}

fn kiln_core_entries(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default().lines().count())
        .sum()
}
