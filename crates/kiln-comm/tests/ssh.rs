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
async fn goes_on_on_a_connection_the_builder_opened() {
    let Some(sshd) = sshd_or_skip() else { return };
    // The builder saw the first byte of the banner (QEMU's wait for the guest's sshd).
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", sshd.port)).await.unwrap();
    let mut first = [0u8; 1];
    stream.peek(&mut first).await.unwrap();
    assert_eq!(&first, b"S");
    // Nothing listens on the configured port: only the opened connection can log in.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = ssh_config(&sshd);
    c.ssh_port = Some(free);
    c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(2)));
    c.ssh_opened = kiln_comm::ssh::Opened::new(stream);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let lines = Mutex::new(Vec::new());
    let out = |_: Stream, l: &str| lines.lock().unwrap().push(l.to_string());
    assert_eq!(comm.start("echo on the opened connection", &out).await.unwrap(), Some(0));
    assert_eq!(lines.into_inner().unwrap(), ["on the opened connection"]);
    // It is used once: a second connect with the same options finds nothing to take.
    let e = kiln_comm::ssh::connect(&c, &quiet).await.err().unwrap();
    assert!(e.message.starts_with("Timeout waiting for SSH"), "{e}");
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

/// Every kind of temporary key logs in (each alone in authorized_keys).
#[tokio::test(flavor = "multi_thread")]
async fn temporary_key_pair_logs_in() {
    use kiln_comm::keys::{KeyType, TempKeyPair};
    let Some(sshd) = sshd_or_skip() else { return };
    let auth = sshd.dir.join("authorized_keys");
    for kind in [KeyType::Ed25519, KeyType::Ecdsa(256), KeyType::Ecdsa(384), KeyType::Ecdsa(521), KeyType::Rsa(2048)] {
        let pair = TempKeyPair::generate_type(kind, "packer_test").unwrap();
        std::fs::write(&auth, format!("{}\n", pair.public_authorized_key)).unwrap();
        let mut c = ssh_config(&sshd);
        c.ssh_private_key_file = None;
        c.ssh_private_key = Some(pair.private_openssh.clone());
        c.ssh_handshake_attempts = Some(1);
        let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let out = |_: Stream, _: &str| {};
        assert_eq!(comm.start("exit 0", &out).await.unwrap(), Some(0));
    }
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

/// A TCP server on 127.0.0.1 that answers each connection's first line with `reply: <line>`.
async fn line_server(reply: &'static str) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut line = String::new();
                let _ = BufReader::new(r).read_line(&mut line).await;
                let _ = w.write_all(format!("{reply}: {}\n", line.trim_end()).as_bytes()).await;
            });
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn local_tunnel_reaches_a_port_as_the_machine_sees_it() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let Some(sshd) = sshd_or_skip() else { return };
    let target = line_server("far side").await;
    let listen = free_port();
    let mut c = ssh_config(&sshd);
    c.ssh_local_tunnels = Some(vec![format!("{listen}:127.0.0.1:{target}")]);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let s = tokio::net::TcpStream::connect(("127.0.0.1", listen)).await.unwrap();
    let (r, mut w) = s.into_split();
    w.write_all(b"ping\n").await.unwrap();
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), BufReader::new(r).read_line(&mut line)).await.unwrap().unwrap();
    assert_eq!(line, "far side: ping\n");
    // The listener goes with the communicator.
    drop(comm);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", listen)).await.is_err(), "still listening");
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_tunnel_reaches_this_machine_from_the_machine() {
    let Some(sshd) = sshd_or_skip() else { return };
    let here = line_server("kiln side").await;
    let remote_port = free_port();
    let mut c = ssh_config(&sshd);
    c.ssh_remote_tunnels = Some(vec![format!("{remote_port}:127.0.0.1:{here}")]);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await.unwrap();
    let lines = Mutex::new(Vec::new());
    let out = |_: Stream, l: &str| lines.lock().unwrap().push(l.to_string());
    // On the machine: connect to the forwarded port with bash's /dev/tcp.
    let cmd = format!("exec 3<>/dev/tcp/127.0.0.1/{remote_port} && echo pong >&3 && head -n1 <&3");
    assert_eq!(comm.start(&format!("bash -c '{cmd}'"), &out).await.unwrap(), Some(0));
    assert_eq!(lines.into_inner().unwrap(), ["kiln side: pong"]);
}

#[test]
fn bad_tunnel_specs_are_located() {
    let n = kiln_template::testing::json_node(
        "t.json",
        "{\"communicator\": \"ssh\", \"ssh_host\": \"h\", \"ssh_username\": \"u\", \"ssh_password\": \"p\",\n \"ssh_local_tunnels\": [\"10022:localhost:22\", \"10023:localhost\"]}",
    )
    .unwrap();
    let c: kiln_comm::Config = kiln_config::decode::decode(&n).unwrap();
    let d = c.check(&n, true);
    assert_eq!(d.0.len(), 1, "{d:?}");
    assert!(
        d.0[0].summary.starts_with("ssh_local_tunnels: \"10023:localhost\" has no host port"),
        "{}",
        d.0[0].summary
    );
    assert_eq!(d.0[0].span.as_ref().unwrap().line_col(), (2, 46));
}

/// `ssh_ciphers` and `ssh_key_exchange_algorithms` are what the client offers: against a
/// server that takes only `aes256-ctr` and group 14, offering those connects and offering
/// others does not. `ssh_wait_timeout` (the old name) bounds the wait as `ssh_timeout` does.
#[tokio::test(flavor = "multi_thread")]
async fn offered_ciphers_and_key_exchanges_and_the_old_wait_timeout() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    sshd.reconfigure("Ciphers aes256-ctr\nKexAlgorithms diffie-hellman-group14-sha256").unwrap();
    let with = |ciphers: &[&str], kex: &[&str]| {
        let mut c = ssh_config(&sshd);
        c.ssh_ciphers = Some(ciphers.iter().map(|s| s.to_string()).collect());
        c.ssh_key_exchange_algorithms = Some(kex.iter().map(|s| s.to_string()).collect());
        c.ssh_handshake_attempts = Some(1);
        c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(5)));
        c
    };
    let comm =
        kiln_comm::ssh::connect(&with(&["aes256-ctr"], &["diffie-hellman-group14-sha256"]), &quiet).await.unwrap();
    assert_eq!(comm.start("true", &|_, _| {}).await.unwrap(), Some(0));
    for (ciphers, kex) in [
        (&["aes128-gcm@openssh.com"][..], &["diffie-hellman-group14-sha256"][..]),
        (&["aes256-ctr"][..], &["curve25519-sha256"][..]),
    ] {
        let e = kiln_comm::ssh::connect(&with(ciphers, kex), &quiet).await.err().expect("no common algorithm");
        assert!(!e.message.starts_with("authentication"), "{ciphers:?} {kex:?}: {e}");
    }

    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = ssh_config(&sshd);
    c.ssh_port = Some(free);
    c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(300)));
    c.ssh_wait_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(1)));
    let start = std::time::Instant::now();
    let e = kiln_comm::ssh::connect(&c, &quiet).await.err().unwrap();
    assert!(e.message.starts_with("Timeout waiting for SSH"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
}

/// `ssh_proxy_host`: the connection goes through a SOCKS5 proxy, here OpenSSH's own (`ssh -D`
/// to the same sshd, its log showing the forwarded request), stopped by its PID at the end.
/// The target is given by name (`localhost`): the proxy resolves it.
#[tokio::test(flavor = "multi_thread")]
async fn through_a_socks5_proxy() {
    let Some(sshd) = sshd_or_skip() else { return };
    let socks_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let proxy_log = sshd.dir.join("socks.log");
    let mut proxy = std::process::Command::new("ssh")
        .args(["-v", "-N", "-D", &format!("127.0.0.1:{socks_port}"), "-p", &sshd.port.to_string(), "-i"])
        .arg(&sshd.key)
        .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes"])
        .arg(format!("{}@127.0.0.1", sshd.user))
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&proxy_log).unwrap())
        .spawn()
        .expect("ssh (OpenSSH's client) runs");
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", socks_port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "ssh -D did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut c = ssh_config(&sshd);
    c.ssh_host = Some("localhost".into());
    c.ssh_proxy_host = Some("127.0.0.1".into());
    c.ssh_proxy_port = Some(socks_port);
    let comm = kiln_comm::ssh::connect(&c, &quiet).await;
    let lines = Mutex::new(Vec::new());
    let out = |_: Stream, l: &str| lines.lock().unwrap().push(l.to_string());
    let ran = match &comm {
        Ok(comm) => comm.start("echo $SSH_CONNECTION", &out).await,
        Err(e) => Err(e.clone()),
    };
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert_eq!(ran.unwrap(), Some(0));
    assert_eq!(lines.into_inner().unwrap().len(), 1);
    // The proxy carried it: OpenSSH logs each SOCKS request it forwards.
    let log = std::fs::read_to_string(&proxy_log).unwrap();
    assert!(log.contains("dynamic-tcpip"), "no SOCKS connection in the proxy's log:\n{log}");
    // Nothing listens there any more: the proxy's own error comes back.
    let mut c = ssh_config(&sshd);
    c.ssh_proxy_host = Some("127.0.0.1".into());
    c.ssh_proxy_port = Some(socks_port);
    c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(1)));
    let e = kiln_comm::ssh::connect(&c, &quiet).await.err().unwrap();
    assert!(e.message.contains("through the SOCKS5 proxy 127.0.0.1:"), "{e}");
}
