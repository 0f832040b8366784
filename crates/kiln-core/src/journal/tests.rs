use super::*;
use crate::registry::{CleanerFuture, Registry};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kiln-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The fake kind: the resource is a file, its id the path.
fn delete_file(e: Entry) -> CleanerFuture {
    Box::pin(async move {
        match tokio::fs::remove_file(&e.id).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(crate::Error::new(format!("removing {}: {err}", e.id))),
        }
    })
}

#[test]
fn entries_are_recorded_updated_and_forgotten() {
    let dir = temp("record");
    let j = Journal::in_dir(&dir, "qemu.debian 1", "0123abcd-ef");
    let a = j.record("test-file", "pending", "here").unwrap();
    assert_eq!((a.pid, a.build.as_str()), (std::process::id(), "qemu.debian 1"));
    j.record("test-file", "b", "").unwrap();
    j.update("test-file", "pending", "a").unwrap();
    let ids: Vec<String> = entries(&dir).into_iter().map(|(_, e)| e.id).collect();
    assert_eq!(ids, ["a", "b"]);
    // A live process's entries are not orphans.
    assert!(orphaned(&dir).is_empty());
    j.forget("test-file", "a").unwrap();
    j.forget("test-file", "b").unwrap();
    assert!(!j.path().exists(), "an empty journal is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn entries_of_a_killed_process_are_warned_about_and_cleaned() {
    let dir = temp("orphan");
    let resource = dir.join("resource.txt");
    std::fs::write(&resource, "left behind").unwrap();
    // A process that wrote its journal entry and was killed with SIGKILL.
    let mut victim = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    let entry = Entry {
        kind: "test-file".into(),
        id: resource.to_string_lossy().into_owned(),
        endpoint: String::new(),
        build: "victim".into(),
        pid: victim.id(),
        time: 1,
        params: Default::default(),
    };
    let file = dir.join("victim.jsonl");
    std::fs::write(&file, format!("{}\n", serde_json::to_string(&entry).unwrap())).unwrap();
    assert!(orphaned(&dir).is_empty(), "its process still runs");
    victim.kill().unwrap();
    victim.wait().unwrap();

    let orphans = orphaned(&dir);
    assert_eq!(orphans.len(), 1);
    let warning = orphan_warning(&orphans).unwrap();
    assert!(warning.contains(&format!("test-file {} (build \"victim\"", resource.display())), "{warning}");
    assert!(warning.contains("kiln cleanup"), "{warning}");

    let said = std::sync::Mutex::new(Vec::new());
    let say = |s: &str| said.lock().unwrap().push(s.to_string());
    // Without a cleaner for the kind: reported, kept.
    assert_eq!(clean_orphans(&Registry::new(), &dir, false, &say).await, 1);
    assert!(resource.exists() && file.exists());
    let reg = Registry::new().cleaner("test-file", delete_file);
    assert_eq!(clean_orphans(&reg, &dir, true, &say).await, 0);
    assert!(resource.exists(), "-dry-run deletes nothing");
    assert_eq!(clean_orphans(&reg, &dir, false, &say).await, 0);
    assert!(!resource.exists(), "the cleaner ran");
    assert!(!file.exists(), "the entry is gone");
    assert_eq!(clean_orphans(&reg, &dir, false, &say).await, 0);
    let said = said.into_inner().unwrap();
    assert!(said[0].starts_with("Cannot delete test-file"), "{said:?}");
    assert!(said[1].starts_with("Would delete test-file"), "{said:?}");
    assert!(said[2].starts_with("Deleted test-file"), "{said:?}");
    assert!(said[3].starts_with("Nothing to clean up"), "{said:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The order cleaners ran in (the fake kind that records instead of deleting).
static CLEANED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn note(e: Entry) -> CleanerFuture {
    Box::pin(async move {
        CLEANED.lock().unwrap().push(format!("{}:{}", e.id, e.params.get("with").cloned().unwrap_or_default()));
        Ok(())
    })
}

#[tokio::test]
async fn a_journal_is_cleaned_last_entry_first_with_its_params() {
    let dir = temp("order");
    let mut victim = std::process::Command::new("sleep").arg("100").spawn().unwrap();
    let line = |id: &str, with: Option<&str>| {
        let mut e = Entry {
            kind: "note".into(),
            id: id.into(),
            endpoint: String::new(),
            build: "victim".into(),
            pid: victim.id(),
            time: 1,
            params: Default::default(),
        };
        if let Some(w) = with {
            e.params.insert("with".into(), w.into());
        }
        format!("{}\n", serde_json::to_string(&e).unwrap())
    };
    // Entries without params are written as before (older kiln versions read them).
    assert!(!line("x", None).contains("params"));
    std::fs::write(dir.join("1-a.jsonl"), format!("{}{}", line("group", None), line("instance", Some("vol-1"))))
        .unwrap();
    std::fs::write(dir.join("2-b.jsonl"), line("other", None)).unwrap();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let reg = Registry::new().cleaner("note", note);
    assert_eq!(clean_orphans(&reg, &dir, false, &|_| {}).await, 0);
    assert_eq!(*CLEANED.lock().unwrap(), ["instance:vol-1", "group:", "other:"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn params_are_kept_through_updates() {
    let dir = temp("params");
    let j = Journal::in_dir(&dir, "b", "r");
    let params = [("endpoint".to_string(), "http://127.0.0.1:5000".to_string())].into_iter().collect();
    j.record_with("k", "token-1", "us-east-1", params).unwrap();
    j.update("k", "token-1", "i-1").unwrap();
    j.set_param("k", "i-1", "volumes", "vol-1,vol-2").unwrap();
    let all = entries(&dir);
    assert_eq!(all.len(), 1);
    let e = &all[0].1;
    assert_eq!(e.id, "i-1");
    assert_eq!(e.params.get("endpoint").map(String::as_str), Some("http://127.0.0.1:5000"));
    assert_eq!(e.params.get("volumes").map(String::as_str), Some("vol-1,vol-2"));
    j.forget("k", "i-1").unwrap();
    assert!(!j.path().exists());
    let _ = std::fs::remove_dir_all(&dir);
}
