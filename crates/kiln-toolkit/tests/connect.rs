//! The connect and temporary key pair steps against a real OpenSSH sshd on 127.0.0.1: the host
//! and port from the state, a port that only starts listening after a while, a port that
//! accepts but never sends a banner, failed logins, cancellation, a temporary key.

use std::time::{Duration, Instant};

use kiln_config::decode::Duration as GoDuration;
use kiln_core::step::{Outcome, Step};
use kiln_core::{BuildInfo, Stream};
use kiln_testing::sshd::{sshd_or_skip, Sshd};
use kiln_toolkit::connect::StepConnect;
use kiln_toolkit::keypair::{public_key, StepTempKeyPair};
use kiln_toolkit::testing::{context, context_with};
use kiln_toolkit::CommonState;

fn config(sshd: &Sshd) -> kiln_comm::Config {
    kiln_comm::Config {
        ssh_username: Some(sshd.user.clone()),
        ssh_private_key_file: Some(sshd.key.to_string_lossy().into_owned()),
        ..kiln_comm::Config::default()
    }
}

/// The state a builder leaves before connecting: its machine's address and forwarded port.
fn state_for(port: u16) -> CommonState {
    CommonState { host: Some("127.0.0.1".into()), port: Some(port), ..CommonState::default() }
}

async fn echo(state: &CommonState, text: &str) -> Vec<String> {
    let out = std::sync::Mutex::new(Vec::new());
    let f = |s: Stream, l: &str| {
        if s == Stream::Stdout {
            out.lock().unwrap().push(l.to_string())
        }
    };
    let comm = state.comm.clone().unwrap();
    assert_eq!(comm.start(&format!("echo {text}"), &f).await.unwrap(), Some(0));
    out.into_inner().unwrap()
}

/// Forwards 127.0.0.1:<new port> to `to`, but only after `delay`: a machine still booting.
fn late_forwarder(to: u16, delay: Duration) -> (u16, tokio::task::JoinHandle<()>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let l = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        while let Ok((mut a, _)) = l.accept().await {
            tokio::spawn(async move {
                if let Ok(mut b) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                }
            });
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn connects_to_the_builders_address_and_fills_the_generated_data() {
    let Some(sshd) = sshd_or_skip() else { return };
    let (ctx, rec) = context();
    let step = StepConnect::new(&config(&sshd));
    let mut state = state_for(sshd.port);
    step.run(&mut state, &ctx).await.unwrap();
    assert_eq!(
        rec.says(),
        [
            "Using ssh communicator to connect: 127.0.0.1".to_string(),
            format!("Waiting for SSH to become available on 127.0.0.1:{} (timeout 5m0s)...", sshd.port),
            "Connected to SSH!".to_string(),
        ]
    );
    assert_eq!(echo(&state, "hello").await, ["hello"]);
    let d = &state.generated;
    assert_eq!(
        (d["ConnType"].as_str(), d["Host"].as_str(), d["User"].as_str()),
        ("ssh", "127.0.0.1", sshd.user.as_str())
    );
    assert_eq!(d["Port"], sshd.port.to_string());
    assert_eq!(d["SSHPublicKey"], "");
    step.cleanup(&mut state, &ctx, Outcome::default()).await;
    assert!(state.comm.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn waits_for_a_port_that_opens_later() {
    let Some(sshd) = sshd_or_skip() else { return };
    let (port, fwd) = late_forwarder(sshd.port, Duration::from_secs(3));
    let (ctx, _rec) = context();
    let mut state = state_for(port);
    let start = Instant::now();
    StepConnect::new(&config(&sshd)).run(&mut state, &ctx).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(3));
    assert!(start.elapsed() < Duration::from_secs(15), "{:?}", start.elapsed());
    assert_eq!(echo(&state, "late").await, ["late"]);
    fwd.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_port_without_a_banner_fails_at_ssh_timeout_saying_what_it_waited_for() {
    let Some(sshd) = sshd_or_skip() else { return };
    // Accepts and holds every connection, says nothing.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = mute.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = mute.accept().await {
            held.push(s);
        }
    });
    let mut c = config(&sshd);
    c.ssh_timeout = Some(GoDuration(Duration::from_secs(3)));
    let (ctx, rec) = context();
    let start = Instant::now();
    let e = StepConnect::new(&c).run(&mut state_for(port), &ctx).await.unwrap_err();
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(3) && took < Duration::from_secs(6), "{took:?}");
    assert!(
        e.message.starts_with(&format!("Timeout waiting for SSH on 127.0.0.1:{port} after 3s (ssh_timeout)")),
        "{e}"
    );
    assert!(e.message.contains("the port accepts connections but no SSH server answered"), "{e}");
    assert!(rec.says()[1].ends_with("(timeout 3s)..."), "{:?}", rec.says());
    holder.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_logins_stop_at_ssh_handshake_attempts() {
    let Some(sshd) = sshd_or_skip() else { return };
    let stranger = sshd.dir.join("stranger");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .status()
        .unwrap();
    assert!(ok.success());
    let mut c = config(&sshd);
    c.ssh_private_key_file = Some(stranger.to_string_lossy().into_owned());
    c.ssh_handshake_attempts = Some(2);
    let (ctx, _rec) = context();
    let start = Instant::now();
    let e = StepConnect::new(&c).run(&mut state_for(sshd.port), &ctx).await.unwrap_err();
    assert!(e.message.starts_with("authentication as"), "{e}");
    assert!(e.message.ends_with("; gave up after 2 attempts (ssh_handshake_attempts)"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_stops_the_wait_at_once() {
    let Some(sshd) = sshd_or_skip() else { return };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (ctx, _rec) = context();
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let start = Instant::now();
    let e = StepConnect::new(&config(&sshd)).run(&mut state_for(closed), &ctx).await.unwrap_err();
    assert!(e.cancelled, "{e}");
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_temporary_key_logs_in_and_is_in_the_generated_data() {
    let Some(sshd) = sshd_or_skip() else { return };
    for (kind, bits, name, algorithm) in
        [(None, None, "ED25519", "ssh-ed25519"), (Some("ecdsa"), Some(384), "ECDSA", "ecdsa-sha2-nistp384")]
    {
        let (ctx, rec) = context_with(BuildInfo { run_uuid: "6f0c1d2e-aaaa".into(), ..BuildInfo::default() });
        let c = kiln_comm::Config {
            ssh_username: Some(sshd.user.clone()),
            temporary_key_pair_type: kind.map(str::to_string),
            temporary_key_pair_bits: bits,
            ..kiln_comm::Config::default()
        };
        let mut state = state_for(sshd.port);
        StepTempKeyPair::new(&c).run(&mut state, &ctx).await.unwrap();
        let public = public_key(&state).unwrap().to_string();
        assert!(public.starts_with(&format!("{algorithm} ")) && public.ends_with(" packer_6f0c1d2eaaaa"), "{public}");
        // What a builder does with it: put it on the machine (cloud-init, authorized_keys).
        std::fs::write(sshd.dir.join("authorized_keys"), format!("{public}\n")).unwrap();
        StepConnect::new(&c).run(&mut state, &ctx).await.unwrap();
        assert_eq!(echo(&state, "with-temp-key").await, ["with-temp-key"]);
        assert_eq!(state.generated["SSHPublicKey"], public);
        assert!(state.generated["SSHPrivateKey"].contains("OPENSSH PRIVATE KEY"));
        assert_eq!(rec.says()[0], format!("Creating temporary {name} SSH key for instance..."));
        // The private key is a secret: masked wherever it would show.
        ctx.ui.say(format!("key: {}", state.generated["SSHPrivateKey"]));
        assert_eq!(rec.says().last().unwrap(), "key: <sensitive>");
    }
}

#[tokio::test]
async fn none_connects_to_a_communicator_that_refuses_everything() {
    let (ctx, rec) = context();
    let c = kiln_comm::Config { communicator: Some("none".into()), ..kiln_comm::Config::default() };
    let mut state = CommonState::default();
    StepConnect::new(&c).run(&mut state, &ctx).await.unwrap();
    // The none communicator: provisioners that need no machine (shell-local) still run.
    let comm = state.comm.clone().unwrap();
    let e = comm.start("true", &|_, _| {}).await.unwrap_err();
    assert!(e.message.contains("none"), "{e}");
    assert_eq!(state.generated["ConnType"], "none");
    assert!(rec.says().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn through_a_bastion() {
    let Some(sshd) = sshd_or_skip() else { return };
    // The bastion is the same sshd: it opens a direct-tcpip channel to itself.
    let mut c = config(&sshd);
    c.ssh_bastion_host = Some("127.0.0.1".into());
    c.ssh_bastion_port = Some(sshd.port);
    let (ctx, rec) = context();
    let mut state = state_for(sshd.port);
    StepConnect::new(&c).run(&mut state, &ctx).await.unwrap();
    assert_eq!(
        rec.says()[1],
        format!(
            "Waiting for SSH to become available on 127.0.0.1:{0} through the bastion 127.0.0.1:{0} (timeout 5m0s)...",
            sshd.port
        )
    );
    assert_eq!(echo(&state, "via-bastion").await, ["via-bastion"]);
}
