//! `ssh_clear_authorized_keys` against a real OpenSSH sshd on 127.0.0.1: the temporary key's
//! lines leave the harness's `authorized_keys` (never the real ~/.ssh), every other byte stays.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use kiln_comm::authorized_keys::{clear_authorized_keys, AuthorizedKeysFiles, HasTempKey, StepCleanupTempKeys};
use kiln_comm::keys::TempKeyPair;
use kiln_core::event::{Event, MemoryRenderer};
use kiln_core::hook::HasCommunicator;
use kiln_core::step::Step;
use kiln_core::{Communicator, RunContext, Ui};
use kiln_testing::sshd::{sshd_or_skip, Sshd};
use support::ssh_config;

fn quiet(_: &str) {}

/// Other lines of every kind, around the places the temporary key is put.
fn others(client_key: &str) -> [String; 5] {
    [
        client_key.to_string(),
        "# keep: a comment mentioning packer_ and AAAA\n".into(),
        "  \n".into(),
        "no-pty,from=\"10.0.0.1\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherOtherOtherOtherOtherOtherOther1 other@host\r\n".into(),
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQLastLineWithoutNewline last".into(),
    ]
}

/// (file with the temporary key in it, the same file as it must end up).
fn with_and_without(others: &[String; 5], pair: &TempKeyPair) -> (String, String) {
    let temp = format!("{}\n", pair.public_authorized_key);
    let with_options = format!("restrict,pty {}\n", pair.public_authorized_key);
    let with =
        [&others[0], &temp, &others[1], &others[2], &with_options, &others[3], &others[4]].map(String::as_str).concat();
    (with, others.concat())
}

async fn connect_with(sshd: &Sshd, pair: &TempKeyPair) -> kiln_core::Result<kiln_comm::ssh::Ssh> {
    let mut c = ssh_config(sshd);
    c.ssh_private_key_file = None;
    c.ssh_private_key = Some(pair.private_openssh.clone());
    c.ssh_handshake_attempts = Some(1);
    kiln_comm::ssh::connect(&c, &quiet).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_temporary_key_leaves_both_files_and_nothing_else_does() {
    let Some(sshd) = sshd_or_skip() else { return };
    let pair = TempKeyPair::generate("packer_65a1f0c2").unwrap();
    let auth = sshd.dir.join("authorized_keys");
    let others = others(&std::fs::read_to_string(&auth).unwrap());
    let (with, without) = with_and_without(&others, &pair);
    std::fs::write(&auth, &with).unwrap();
    std::fs::set_permissions(&auth, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Stands in for root's file (the test must not touch the real /root/.ssh).
    let root_file = sshd.dir.join("root_authorized_keys");
    std::fs::write(&root_file, &with).unwrap();

    let comm = connect_with(&sshd, &pair).await.unwrap();
    let r = MemoryRenderer::default();
    let ui = Ui::new(Box::new(r.clone()));
    let files = AuthorizedKeysFiles {
        user: auth.to_string_lossy().into_owned(),
        root: Some(root_file.to_string_lossy().into_owned()),
    };
    let result = clear_authorized_keys(&comm, &ui, &pair.public_authorized_key, &files).await;
    assert_eq!(std::fs::read(&auth).unwrap(), without.as_bytes());
    assert_eq!(std::fs::metadata(&auth).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!sshd.dir.join("authorized_keys.kiln-bak").exists());
    assert_eq!(
        r.events(),
        [Event::Say { build: None, text: "Trying to remove ephemeral keys from authorized_keys files".into() }]
    );
    if sshd.user == "root" {
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(std::fs::read(&root_file).unwrap(), without.as_bytes());
    } else {
        // Without passwordless sudo root's file cannot be reached: said, not fatal.
        assert!(result.is_err_and(|e| e.message.contains("root_authorized_keys")));
    }
    // The key no longer logs in; the harness's own key still does.
    let e = connect_with(&sshd, &pair).await.err().unwrap();
    assert!(e.message.starts_with("authentication as"), "{e}");
    assert!(kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.is_ok());
    // Running it again finds nothing to remove and changes nothing; a missing file is no error.
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    let missing = AuthorizedKeysFiles { user: sshd.dir.join("none").to_string_lossy().into_owned(), root: None };
    assert!(clear_authorized_keys(&comm, &ui, &pair.public_authorized_key, &missing).await.is_ok());
    assert!(!sshd.dir.join("none").exists());
    assert!(
        clear_authorized_keys(&comm, &ui, &pair.public_authorized_key, &files).await.is_ok() || sshd.user != "root"
    );
    assert_eq!(std::fs::read(&auth).unwrap(), without.as_bytes());
}

/// A builder's state, as the step sees it.
struct State {
    comm: Option<Arc<dyn Communicator>>,
    key: Option<TempKeyPair>,
}

impl HasCommunicator for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }
}

impl HasTempKey for State {
    fn temp_key(&self) -> Option<&TempKeyPair> {
        self.key.as_ref()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_step_runs_only_when_asked_and_a_temporary_key_exists() {
    let Some(sshd) = sshd_or_skip() else { return };
    let pair = TempKeyPair::generate("packer_step").unwrap();
    let auth = sshd.dir.join("authorized_keys");
    let others = others(&std::fs::read_to_string(&auth).unwrap());
    let (with, without) = with_and_without(&others, &pair);
    std::fs::write(&auth, &with).unwrap();
    let comm: Arc<dyn Communicator> = Arc::new(kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap());
    let r = MemoryRenderer::default();
    let ctx = RunContext { ui: Ui::new(Box::new(r.clone())), cancel: Default::default(), info: Default::default() };
    let files = AuthorizedKeysFiles { user: auth.to_string_lossy().into_owned(), root: None };

    let mut config = ssh_config(&sshd);
    let step = StepCleanupTempKeys { config: config.clone(), files: files.clone() };
    let mut state = State { comm: Some(Arc::clone(&comm)), key: Some(pair) };
    step.run(&mut state, &ctx).await.unwrap();
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), with, "ssh_clear_authorized_keys is not set");

    config.ssh_clear_authorized_keys = Some(true);
    let step = StepCleanupTempKeys { config, files };
    let mut no_key = State { comm: Some(Arc::clone(&comm)), key: None };
    step.run(&mut no_key, &ctx).await.unwrap();
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), with, "no temporary key: nothing to remove");
    assert!(r.events().is_empty());

    step.run(&mut state, &ctx).await.unwrap();
    assert_eq!(std::fs::read_to_string(&auth).unwrap(), without);
    assert_eq!(r.events().len(), 1);
}
