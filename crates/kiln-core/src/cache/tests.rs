//! The step cache's keys, store and provisioning loop, on an in-memory machine whose state is
//! the list of commands run on it (the docker builder's tests run the same loop on podman).

// Each async test has a runtime of its own: holding the `output` tests' lock across its awaits
// blocks no other task.
#![allow(clippy::await_holding_lock)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_template::testing::json_node;

use super::*;
use crate::communicator::{ExecIo, Reader, UploadMeta, Writer};
use crate::component::{BuildInfo, GeneratedData, ProvisionHook, Provisioner};
use crate::event::{Event, MemoryRenderer, Ui};
use crate::hook::{PreparedProvisioner, Provisioners};

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Tests that write entries wait for `output`'s test of `remove_partials`, which removes every
/// temporary file of the process.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    crate::output::tests::SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn digest_of(node: &Node) -> String {
    let mut i = Inputs::new();
    i.add_node("config", node);
    i.finish()
}

#[test]
fn config_digests_ignore_spans_and_layout_but_not_values() {
    let a = json_node("a.json", r#"{"inline": ["echo hi"], "env": {"A": "1"}}"#).unwrap();
    let b = json_node("b.json", "{\n  \"inline\": [ \"echo hi\" ],\n  \"env\": {\"A\": \"1\"}\n}").unwrap();
    assert_eq!(digest_of(&a), digest_of(&b));
    let c = json_node("a.json", r#"{"inline": ["echo ho"], "env": {"A": "1"}}"#).unwrap();
    assert_ne!(digest_of(&a), digest_of(&c));
    // Labels and lengths keep neighbouring values apart.
    let mut x = Inputs::new();
    x.add("a", b"bc");
    let mut y = Inputs::new();
    y.add("ab", b"c");
    assert_ne!(x.finish(), y.finish());
}

#[test]
fn path_digests_see_one_byte_modes_and_names() {
    let d = temp("paths");
    std::fs::create_dir_all(d.join("tree/sub")).unwrap();
    std::fs::write(d.join("tree/sub/f"), b"hello").unwrap();
    let of = |p: &Path| {
        let mut i = Inputs::new();
        i.add_path("src", p).unwrap();
        i.finish()
    };
    let first = of(&d.join("tree"));
    assert_eq!(first, of(&d.join("tree")));
    std::fs::write(d.join("tree/sub/f"), b"hellp").unwrap();
    let changed = of(&d.join("tree"));
    assert_ne!(first, changed);
    std::fs::set_permissions(d.join("tree/sub/f"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    assert_ne!(changed, of(&d.join("tree")));
    let mut i = Inputs::new();
    let e = i.add_path("src", &d.join("missing")).unwrap_err();
    assert!(e.message.contains("missing"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn store_round_trips_refresh_skips_and_lists_by_use() {
    let _serial = serial();
    let d = temp("store");
    let cache = StepCache::new(&d, CacheMode::Use);
    let mut e = cache.entry("ab12", "docker", "sha256:1", Duration::from_secs(2), Duration::from_secs(5));
    e.used = 10;
    cache.put(&e).unwrap();
    assert_eq!(cache.get("ab12"), Some(e.clone()));
    assert_eq!(cache.get("ab13"), None);
    assert_eq!(cache.get("../x"), None, "keys are hex");
    assert_eq!(StepCache::new(&d, CacheMode::Refresh).get("ab12"), None);
    let newer = Entry { key: "cd34".into(), used: 20, ..e.clone() };
    cache.put(&newer).unwrap();
    let keys: Vec<String> = list(&d).into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["cd34", "ab12"]);
    remove(&d, "ab12").unwrap();
    assert_eq!(cache.get("ab12"), None);
    // No temporary files are left beside the entries.
    let names: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["cd34.json"]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn prune_keeps_the_most_recently_used_and_removes_children_first() {
    let e = |key: &str, created: u64, used: u64| Entry {
        created,
        used,
        ..StepCache::new(Path::new("."), CacheMode::Use).entry(key, "docker", key, Duration::ZERO, Duration::ZERO)
    };
    // As `list` gives them: most recently used first.
    let all = [e("c", 30, 300), e("b", 20, 200), e("a", 10, 100)];
    let keys = |v: Vec<Entry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    let rules =
        |keep, older: Option<u64>, max_size| PruneRules { keep, older_than: older.map(Duration::from_secs), max_size };
    assert_eq!(keys(to_prune(&all, &rules(1, None, None), 1000)), ["b", "a"]);
    assert_eq!(keys(to_prune(&all, &rules(0, None, None), 1000)), ["c", "b", "a"]);
    assert_eq!(keys(to_prune(&all, &rules(3, Some(750), None), 1000)), ["b", "a"]);
    assert!(to_prune(&all, &rules(3, None, None), 1000).is_empty());
}

#[test]
fn prune_by_size_drops_the_least_recently_used_beyond_the_limit() {
    let e = |key: &str, used: u64, size: u64| Entry {
        created: used,
        used,
        size,
        ..StepCache::new(Path::new("."), CacheMode::Use).entry(key, "qemu", key, Duration::ZERO, Duration::ZERO)
    };
    let all = [e("c", 300, 40), e("b", 200, 50), e("a", 100, 30)];
    let keys = |v: Vec<Entry>| v.into_iter().map(|e| e.key).collect::<Vec<_>>();
    let max = |m| PruneRules { keep: usize::MAX, older_than: None, max_size: Some(m) };
    assert!(to_prune(&all, &max(120), 1000).is_empty());
    assert_eq!(keys(to_prune(&all, &max(119), 1000)), ["a"]);
    assert_eq!(keys(to_prune(&all, &max(90), 1000)), ["a"]);
    assert_eq!(keys(to_prune(&all, &max(89), 1000)), ["b", "a"]);
    assert_eq!(keys(to_prune(&all, &max(0), 1000)), ["c", "b", "a"]);
}

#[test]
fn cache_modes_parse() {
    assert_eq!(CacheMode::parse("1"), Ok(Some(CacheMode::Use)));
    assert_eq!(CacheMode::parse("true"), Ok(Some(CacheMode::Use)));
    assert_eq!(CacheMode::parse("refresh"), Ok(Some(CacheMode::Refresh)));
    assert_eq!(CacheMode::parse("0"), Ok(None));
    assert!(CacheMode::parse("sometimes").unwrap_err().contains("-cache=refresh"));
}

/// A machine: the commands run on it, in order.
#[derive(Default, Clone)]
struct Machine {
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Communicator for Machine {
    async fn exec(&self, command: &str, _io: ExecIo<'_>) -> Result<Option<i32>> {
        self.log.lock().unwrap().push(command.to_string());
        Ok(Some(0))
    }
    async fn upload(&self, _: &str, _: Reader<'_>, _: UploadMeta) -> Result<()> {
        Ok(())
    }
    async fn upload_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<()> {
        Ok(())
    }
    async fn download(&self, _: &str, _: Writer<'_>) -> Result<()> {
        Ok(())
    }
    async fn download_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<()> {
        Ok(())
    }
}

/// Snapshots of [`Machine`]s, kept across "runs" as an engine keeps images.
#[derive(Default, Clone)]
struct Store(Arc<Mutex<BTreeMap<String, Vec<String>>>>, Arc<std::sync::atomic::AtomicUsize>);

struct Snaps {
    machine: Machine,
    store: Store,
    resumed: Option<String>,
    /// Cancels the build while the snapshot is being taken (Ctrl-C during a commit).
    cancel_in_snapshot: Option<crate::Cancel>,
}

#[async_trait]
impl Snapshot for Snaps {
    fn kind(&self) -> &str {
        "test"
    }
    async fn source_key(&self, _: &RunContext) -> Result<String> {
        Ok("base".into())
    }
    async fn snapshot(&mut self, _: &RunContext, key: &str) -> Result<String> {
        if let Some(c) = &self.cancel_in_snapshot {
            c.cancel();
        }
        // A new ID each time, as an engine gives a new image ID to each commit.
        let id = format!("snap-{}-{}", &key[..8], self.store.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        self.store.0.lock().unwrap().insert(id.clone(), self.machine.log.lock().unwrap().clone());
        Ok(id)
    }
    async fn resume_from(&mut self, _: &RunContext, snapshot: &str) -> Result<Arc<dyn Communicator>> {
        let saved = self.store.0.lock().unwrap().get(snapshot).cloned().ok_or_else(|| Error::new("gone"))?;
        self.machine = Machine { log: Arc::new(Mutex::new(saved)) };
        self.resumed = Some(snapshot.to_string());
        Ok(Arc::new(self.machine.clone()))
    }
    async fn exists(&self, snapshot: &str) -> bool {
        self.store.0.lock().unwrap().contains_key(snapshot)
    }
    async fn discard(&self, snapshot: &str) -> Result<()> {
        self.store.0.lock().unwrap().remove(snapshot);
        Ok(())
    }
    async fn export(&mut self, _: &RunContext, _: &str, snapshot: &str, dir: &Path) -> Result<Option<Vec<PathBuf>>> {
        let saved = self.store.0.lock().unwrap().get(snapshot).cloned().ok_or_else(|| Error::new("gone"))?;
        let file = dir.join("machine.txt");
        std::fs::write(&file, saved.join("\n")).unwrap();
        Ok(Some(vec![file]))
    }
    async fn import(&mut self, _: &RunContext, key: &str, files: &[PathBuf]) -> Result<String> {
        let text = std::fs::read_to_string(&files[0]).unwrap();
        let id = format!("imported-{}", &key[..8]);
        self.store.0.lock().unwrap().insert(id.clone(), text.lines().map(str::to_string).collect());
        Ok(id)
    }
}

/// Runs `command` on the machine; its input is `file`'s bytes, if set.
#[derive(Default)]
struct Run(String, Option<String>);

#[async_trait]
impl Provisioner for Run {
    fn prepare(&mut self, config: &Node, _: &BuildInfo) -> std::result::Result<Vec<Diagnostic>, Diagnostics> {
        self.0 = config.get("command").and_then(Node::as_str).unwrap_or_default().to_string();
        self.1 = config.get("file").and_then(Node::as_str).map(str::to_string);
        Ok(Vec::new())
    }
    async fn provision(&self, _: &RunContext, comm: Arc<dyn Communicator>, _: &GeneratedData) -> Result<()> {
        let noop = |_: crate::Stream, _: &str| {};
        comm.start(&self.0, &noop).await.map(|_| ())
    }
    fn inputs(&self, _: &BuildInfo, inputs: &mut Inputs) -> Result<Cacheable> {
        if let Some(f) = &self.1 {
            inputs.add_path("file", Path::new(f))?;
        }
        Ok(Cacheable::Yes)
    }
}

fn provisioners(configs: &[&str]) -> Provisioners {
    let list = configs
        .iter()
        .map(|c| {
            let config = json_node("t.json", c).unwrap();
            let mut p = Run::default();
            p.prepare(&config, &BuildInfo::default()).unwrap();
            PreparedProvisioner {
                label: "run".into(),
                kind: "run".into(),
                provisioner: Box::new(p),
                config,
                factory: Arc::new(|| Box::<Run>::default()),
                pause_before: None,
                max_retries: 0,
                timeout: None,
                volatile: Vec::new(),
            }
        })
        .collect();
    Provisioners { list, error_cleanup: None }
}

/// What a build said (`ui.say`).
fn said(renderer: &MemoryRenderer) -> Vec<String> {
    renderer
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Say { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

/// One build: the machine's commands, what was said, the snapshot it resumed from.
async fn build(
    dir: &Path,
    store: &Store,
    configs: &[&str],
    mode: CacheMode,
) -> (Vec<String>, Vec<String>, Option<String>) {
    build_sharing(dir, store, configs, mode, None).await
}

/// [`build`], with a shared store.
async fn build_sharing(
    dir: &Path,
    store: &Store,
    configs: &[&str],
    mode: CacheMode,
    shared: Option<&Path>,
) -> (Vec<String>, Vec<String>, Option<String>) {
    let renderer = MemoryRenderer::default();
    let mut cache = StepCache::new(dir, mode);
    if let Some(root) = shared {
        cache = cache.with_shared(Arc::new(super::FolderStore::new(root)));
    }
    let cache = Arc::new(cache);
    let info = BuildInfo { name: "b".into(), builder_type: "test".into(), cache: Some(cache), ..BuildInfo::default() };
    let ctx =
        RunContext { ui: Ui::new(Box::new(renderer.clone())), cancel: crate::Cancel::new(), info: Arc::new(info) };
    let machine = Machine::default();
    let mut snaps = Snaps { machine: machine.clone(), store: store.clone(), resumed: None, cancel_in_snapshot: None };
    let comm: Arc<dyn Communicator> = Arc::new(machine);
    provisioners(configs).provision_with(&ctx, comm, Some(&mut snaps), &GeneratedData::new()).await.unwrap();
    let said = said(&renderer);
    let log = snaps.machine.log.lock().unwrap().clone();
    (log, said, snaps.resumed)
}

#[tokio::test]
async fn a_rebuild_runs_only_what_changed_and_ends_in_the_same_state() {
    let _serial = serial();
    let d = temp("loop");
    let store = Store::default();
    let file = d.join("payload");
    std::fs::write(&file, b"v1").unwrap();
    let f = file.to_string_lossy().replace('\\', "/");
    let one = format!(r#"{{"command": "one", "file": "{f}"}}"#);
    let cache_dir = d.join("steps");
    let (full, said, resumed) =
        build(&cache_dir, &store, &[&one, r#"{"command":"two"}"#, r#"{"command":"three"}"#], CacheMode::Use).await;
    assert_eq!(full, ["one", "two", "three"]);
    assert_eq!(resumed, None);
    assert_eq!(said.iter().filter(|s| s.ends_with(": running")).count(), 3, "{said:?}");

    // Only the last provisioner changed: the first two come from the cache.
    let (log, said, resumed) =
        build(&cache_dir, &store, &[&one, r#"{"command":"two"}"#, r#"{"command":"3"}"#], CacheMode::Use).await;
    assert_eq!(log, ["one", "two", "3"], "the machine is the full build's, with the new last step");
    assert!(resumed.is_some());
    assert!(said.contains(&"Step cache: provisioner 1/3 (run): cached".to_string()), "{said:?}");
    assert!(said.contains(&"Step cache: provisioner 2/3 (run): cached".to_string()), "{said:?}");
    assert!(said.contains(&"Step cache: provisioner 3/3 (run): running".to_string()), "{said:?}");

    // One byte of the first provisioner's file: everything runs again.
    std::fs::write(&file, b"v2").unwrap();
    let (log, said, resumed) =
        build(&cache_dir, &store, &[&one, r#"{"command":"two"}"#, r#"{"command":"3"}"#], CacheMode::Use).await;
    assert_eq!((log, resumed), (vec!["one".to_string(), "two".into(), "3".into()], None));
    assert_eq!(said.iter().filter(|s| s.ends_with(": running")).count(), 3, "{said:?}");

    // Refresh runs everything even though the entries exist, and replaces their snapshots.
    let before = store.0.lock().unwrap().len();
    let (_, said, resumed) =
        build(&cache_dir, &store, &[&one, r#"{"command":"two"}"#, r#"{"command":"3"}"#], CacheMode::Refresh).await;
    assert_eq!(resumed, None);
    assert_eq!(said.iter().filter(|s| s.ends_with(": running")).count(), 3, "{said:?}");
    assert_eq!(store.0.lock().unwrap().len(), before, "the replaced snapshots were deleted");
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_volatile_option_stops_caching_and_says_which() {
    let _serial = serial();
    let d = temp("volatile");
    let store = Store::default();
    let mut ps = provisioners(&[r#"{"command":"one"}"#, r#"{"command":"two"}"#]);
    ps.list[1].volatile.push(kiln_config::build::Volatile {
        option: "command".into(),
        what: "timestamp()".into(),
        span: None,
    });
    let cache = Arc::new(StepCache::new(&d, CacheMode::Use));
    let renderer = MemoryRenderer::default();
    let info = BuildInfo { name: "b".into(), builder_type: "test".into(), cache: Some(cache), ..BuildInfo::default() };
    let ctx =
        RunContext { ui: Ui::new(Box::new(renderer.clone())), cancel: crate::Cancel::new(), info: Arc::new(info) };
    let machine = Machine::default();
    let mut snaps = Snaps { machine: machine.clone(), store: store.clone(), resumed: None, cancel_in_snapshot: None };
    ps.provision_with(&ctx, Arc::new(machine), Some(&mut snaps), &GeneratedData::new()).await.unwrap();
    let said = said(&renderer);
    assert!(
        said.iter().any(|s| s.contains("provisioner 2/2 (run) cannot be cached: option \"command\" uses timestamp()")),
        "{said:?}"
    );
    // The first step was cached, the volatile one was not.
    assert_eq!(list(&d).len(), 1);
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn an_interrupted_snapshot_never_becomes_an_entry() {
    let _serial = serial();
    let d = temp("interrupted");
    let cache = Arc::new(StepCache::new(&d, CacheMode::Use));
    let info = BuildInfo { name: "b".into(), builder_type: "test".into(), cache: Some(cache), ..BuildInfo::default() };
    let cancel = crate::Cancel::new();
    let ui = Ui::new(Box::new(MemoryRenderer::default()));
    let ctx = RunContext { ui, cancel: cancel.clone(), info: Arc::new(info) };
    let machine = Machine::default();
    let mut snaps =
        Snaps { machine: machine.clone(), store: Store::default(), resumed: None, cancel_in_snapshot: Some(cancel) };
    let ps = provisioners(&[r#"{"command":"one"}"#, r#"{"command":"two"}"#]);
    let e = ps.provision_with(&ctx, Arc::new(machine), Some(&mut snaps), &GeneratedData::new()).await.unwrap_err();
    assert!(e.cancelled, "{e}");
    assert!(list(&d).is_empty(), "an entry was written for an interrupted snapshot");
    assert_eq!(*snaps.machine.log.lock().unwrap(), ["one"], "the build stopped at the cancel");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn builds_writing_the_cache_at_once_leave_only_whole_entries() {
    let _serial = serial();
    let d = temp("concurrent");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let cache = StepCache::new(&d, CacheMode::Use);
                for i in 0..40u64 {
                    // Half the keys are shared by every thread, half are its own.
                    let key = if i % 2 == 0 { format!("{:04x}", i) } else { format!("{t:02x}{i:04x}") };
                    let mut e = cache.entry(&key, "docker", &format!("snap-{t}-{i}"), Duration::ZERO, Duration::ZERO);
                    e.provisioner = "p".repeat(1000 + i as usize);
                    cache.put(&e).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let files: Vec<_> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 20 + 8 * 20, "{files:?}");
    for f in files {
        let e: Entry = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert_eq!(f.file_stem().unwrap().to_string_lossy(), e.key);
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn a_machine_resumes_from_what_another_shared() {
    let _serial = serial();
    let d = temp("shared");
    let shared = d.join("fleet");
    let steps = [r#"{"command":"one"}"#, r#"{"command":"two"}"#, r#"{"command":"three"}"#];
    // Machine A: its own cache folder and engine; every entry is also shared.
    let (log, said, _) = build_sharing(&d.join("a"), &Store::default(), &steps, CacheMode::Use, Some(&shared)).await;
    assert_eq!(log, ["one", "two", "three"]);
    assert_eq!(said.iter().filter(|s| s.contains("shared in file://")).count(), 3, "{said:?}");
    // Machine B: nothing local; only the last provisioner changed.
    let engine_b = Store::default();
    let changed = [steps[0], steps[1], r#"{"command":"3"}"#];
    let (log, said, resumed) = build_sharing(&d.join("b"), &engine_b, &changed, CacheMode::Use, Some(&shared)).await;
    assert_eq!(log, ["one", "two", "3"], "B's machine is A's after two steps, plus the new one");
    assert!(resumed.is_some_and(|r| r.starts_with("imported-")), "{said:?}");
    assert!(said.iter().any(|s| s.starts_with("Step cache: fetching the snapshot after")), "{said:?}");
    assert!(said.contains(&"Step cache: provisioner 3/3 (run): running".to_string()), "{said:?}");
    // B wrote the imported entry locally: a third build on B needs the shared store no more.
    let (log, _, resumed) = build_sharing(&d.join("b"), &engine_b, &changed, CacheMode::Use, None).await;
    assert_eq!(log, ["one", "two", "3"]);
    assert!(resumed.is_some());
    // A store without an entry's files (an upload that never finished) is a miss, not an error.
    for e in std::fs::read_dir(shared.join("steps")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).unwrap();
        }
    }
    let (log, said, _) = build_sharing(&d.join("c"), &Store::default(), &changed, CacheMode::Use, Some(&shared)).await;
    assert_eq!(log, ["one", "two", "3"]);
    assert!(said.iter().all(|s| !s.starts_with("Step cache: resuming")), "{said:?}");
    let _ = std::fs::remove_dir_all(&d);
}
