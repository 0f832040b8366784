//! The ssh communicator against a real OpenSSH sshd on 127.0.0.1.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use kiln_core::{Communicator, Stream};
use kiln_testing::sshd::sshd_or_skip;
use support::ssh_config;

fn quiet(_: &str) {}

#[tokio::test(flavor = "multi_thread")]
async fn commands_files_and_folders() {
    let Some(sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    let lines = Mutex::new(Vec::new());
    let out = |s: Stream, l: &str| lines.lock().unwrap().push(format!("{s:?}:{l}"));
    let code = comm.start("echo out; echo err >&2; printf 'no newline'; exit 7", &out).await.unwrap();
    assert_eq!(code, Some(7));
    let mut got = lines.into_inner().unwrap();
    got.sort();
    assert_eq!(got, ["Stderr:err", "Stdout:no newline", "Stdout:out"]);

    let dir = sshd.dir.join("remote");
    let remote = dir.to_string_lossy().into_owned();
    std::fs::create_dir_all(&dir).unwrap();
    comm.upload_bytes(&format!("{remote}/bytes.txt"), b"hello").await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("bytes.txt")).unwrap(), "hello");

    let local = sshd.dir.join("local");
    std::fs::create_dir_all(local.join("app/sub")).unwrap();
    std::fs::write(local.join("app/a.txt"), "a").unwrap();
    std::fs::write(local.join("app/sub/b.txt"), "b").unwrap();
    comm.upload_file(&format!("{remote}/a-copy.txt"), &local.join("app/a.txt")).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("a-copy.txt")).unwrap(), "a");
    comm.upload_dir(&format!("{remote}/with"), &local.join("app"), &[]).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("with/app/sub/b.txt")).unwrap(), "b");
    let contents = format!("{}/", local.join("app").display());
    comm.upload_dir(&format!("{remote}/contents"), std::path::Path::new(&contents), &[]).await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("contents/sub/b.txt")).unwrap(), "b");

    let back = sshd.dir.join("back");
    comm.download_file(&format!("{remote}/bytes.txt"), &back.join("x.txt")).await.unwrap();
    assert_eq!(std::fs::read_to_string(back.join("x.txt")).unwrap(), "hello");
    comm.download_dir(&format!("{remote}/with"), &back, &[]).await.unwrap();
    assert_eq!(std::fs::read_to_string(back.join("with/app/sub/b.txt")).unwrap(), "b");
}

#[tokio::test(flavor = "multi_thread")]
async fn scp_method_moves_files_without_sftp() {
    let Some(sshd) = sshd_or_skip() else { return };
    let mut c = ssh_config(&sshd);
    c.ssh_file_transfer_method = Some("scp".into());
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let target = sshd.dir.join("scp.txt");
    comm.upload_bytes(&target.to_string_lossy(), b"via cat").await.unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "via cat");
    let back = sshd.dir.join("scp-back.txt");
    comm.download_file(&target.to_string_lossy(), &back).await.unwrap();
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "via cat");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_and_closed_port_fail_clearly() {
    let Some(sshd) = sshd_or_skip() else { return };
    let mut c = ssh_config(&sshd);
    c.ssh_private_key_file = Some(sshd.dir.join("host_key").to_string_lossy().into_owned());
    c.ssh_handshake_attempts = Some(1);
    let e = kiln_comm::ssh::connect(&c, &quiet).await.err().unwrap();
    assert!(e.message.starts_with("authentication as"), "{e}");

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = ssh_config(&sshd);
    c.ssh_port = Some(free);
    c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(1)));
    let start = std::time::Instant::now();
    let e = kiln_comm::ssh::connect(&c, &quiet).await.err().unwrap();
    assert!(e.message.starts_with("Timeout waiting for SSH"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_bastion() {
    let Some(sshd) = sshd_or_skip() else { return };
    // The same sshd is the bastion and, through its tunnel, the target.
    let mut c = ssh_config(&sshd);
    c.ssh_bastion_host = Some("127.0.0.1".into());
    c.ssh_bastion_port = Some(sshd.port);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let lines = Mutex::new(Vec::new());
    let out = |_: Stream, l: &str| lines.lock().unwrap().push(l.to_string());
    assert_eq!(comm.start("echo via bastion", &out).await.unwrap(), Some(0));
    assert_eq!(lines.into_inner().unwrap(), ["via bastion"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_key_pair_logs_in() {
    let Some(sshd) = sshd_or_skip() else { return };
    let pair = kiln_comm::keys::TempKeyPair::generate("packer_test").unwrap();
    let auth = sshd.dir.join("authorized_keys");
    let mut keys = std::fs::read_to_string(&auth).unwrap();
    keys.push_str(&format!("{}\n", pair.public_authorized_key));
    std::fs::write(&auth, keys).unwrap();
    let mut c = ssh_config(&sshd);
    c.ssh_private_key_file = None;
    c.ssh_private_key = Some(pair.private_openssh.clone());
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let out = |_: Stream, _: &str| {};
    assert_eq!(comm.start("exit 0", &out).await.unwrap(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnects_after_the_machine_went_away() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    let comm = kiln_comm::ssh::connect(&ssh_config(&sshd), &quiet).await.unwrap();
    let out = |_: Stream, _: &str| {};
    assert_eq!(comm.start("true", &out).await.unwrap(), Some(0));
    let target = sshd.dir.join("before.txt");
    comm.upload_bytes(&target.to_string_lossy(), b"1").await.unwrap();
    sshd.restart().unwrap();
    // The old session is gone; the next command waits for the machine and goes on.
    assert_eq!(comm.start("true", &out).await.unwrap(), Some(0));
    let target = sshd.dir.join("after.txt");
    comm.upload_bytes(&target.to_string_lossy(), b"2").await.unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "2");
}
