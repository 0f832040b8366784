//! `kiln build -cache` with a builder that cannot snapshot, and `kiln cache ls|prune` on the
//! entries in `PACKER_CACHE_DIR/steps` (the docker builder's cache is tested against podman in
//! kiln-docker's `tests/cache.rs`).

use std::process::Command;

use kiln_testing::TempDir;

const KILN: &str = env!("CARGO_BIN_EXE_kiln");

fn kiln(cache: &std::path::Path, dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(KILN);
    c.args(args).current_dir(dir).env("PACKER_CACHE_DIR", cache).env_remove("KILN_CACHE");
    for (k, v) in env {
        c.env(k, v);
    }
    kiln_testing::cli::text(c.output().unwrap())
}

#[test]
fn build_with_the_cache_on_a_builder_without_snapshots_runs_everything_and_says_so() {
    let d = TempDir::new("cache-cli-build");
    let cache = d.0.join("cache");
    let t = d.file(
        "t.json",
        br#"{"builders":[{"type":"null","communicator":"none"}],
             "provisioners":[{"type":"shell-local","inline":["echo ran-here"]}]}"#,
    );
    for (args, env) in [(vec!["build", "-cache", &t], vec![]), (vec!["build", &t], vec![("KILN_CACHE", "1")])] {
        let (code, out, err) = kiln(&cache, &d.0, &args, &env);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("Step cache: the null builder cannot snapshot its machine; every provisioner runs"),
            "{out}"
        );
        assert!(out.contains("ran-here"), "{out}");
        assert!(out.contains("==> Step cache: 0 of 1 provisioner(s) cached, saved about"), "{out}");
    }
    // Off: not a word about it.
    let (code, out, _) = kiln(&cache, &d.0, &["build", "-cache=false", &t], &[("KILN_CACHE", "1")]);
    assert_eq!(code, 0);
    assert!(!out.contains("Step cache"), "{out}");
    let (code, _, err) = kiln(&cache, &d.0, &["build", "-cache=sometimes", &t], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown cache mode \"sometimes\": use -cache, -cache=refresh or -cache=false"), "{err}");
}

#[test]
fn cache_ls_and_prune() {
    let d = TempDir::new("cache-cli-prune");
    let cache = d.0.join("cache");
    let steps = cache.join("steps");
    std::fs::create_dir_all(&steps).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let entry = |key: &str, kind: &str, endpoint: &str, used: u64| {
        let text = format!(
            r#"{{"key":"{key}","kind":"{kind}","snapshot":"snap-{key}","endpoint":"{endpoint}","build":"b",
                "provisioner":"shell","took_ms":1000,"saves_ms":61000,"created":{used},"used":{used}}}"#
        );
        std::fs::write(steps.join(format!("{key}.json")), text).unwrap();
    };
    entry("aaaa", "martian", "", now);
    entry("bbbb", "docker", "unix:///nonexistent/docker.sock", now - 7200);

    let (code, out, _) = kiln(&cache, &d.0, &["cache", "ls"], &[]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("aaaa  martian  b (shell): saves 1 minute 1 second, used"), "{out}");
    assert!(lines[1].starts_with("bbbb  docker") && lines[1].ends_with("ago, snapshot snap-bbbb"), "{out}");

    let (code, out, _) = kiln(&cache, &d.0, &["cache", "prune", "-older-than=1h", "-dry-run"], &[]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    assert!(out.starts_with("Would remove bbbb"), "{out}");

    // The docker engine cannot be reached: the entry stays for a later prune.
    let (code, out, err) = kiln(&cache, &d.0, &["cache", "prune", "-keep=1"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("Cannot remove snapshot snap-bbbb (docker)"), "{err}");
    assert!(steps.join("bbbb.json").exists());

    // A kind kiln has no cleaner for: the entry goes, the snapshot is left and named.
    let (code, out, _) = kiln(&cache, &d.0, &["cache", "prune"], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("kiln cannot remove martian snapshots; snap-aaaa is left as it is"), "{out}");
    assert!(out.contains("Removed aaaa"), "{out}");
    let (_, out, _) = kiln(&cache, &d.0, &["cache", "ls"], &[]);
    assert!(out.starts_with("bbbb") && out.lines().count() == 1, "{out}");

    let (code, _, err) = kiln(&cache, &d.0, &["cache", "purge"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("cache needs one of: ls, prune"), "{err}");
}
