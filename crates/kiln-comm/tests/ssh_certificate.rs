//! `ssh_certificate_file`: logging in with an OpenSSH user certificate, against a real sshd that
//! trusts only a certificate authority (its authorized_keys is emptied, so a key alone cannot
//! log in); with a key file (RSA, where the signature must use SHA-2, and Ed25519), and with a
//! certificate an ssh-agent holds. Also what validate says of keys and certificates. In a test
//! binary of its own because the agent test sets SSH_AUTH_SOCK for the process.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kiln_core::{Communicator, Stream};
use kiln_testing::sshd::{sshd_or_skip, Sshd};
use support::ssh_config;

fn run(cmd: &mut Command) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(o.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&o.stderr));
}

fn keygen(path: &Path, kind: &str) {
    run(Command::new("ssh-keygen").args(["-q", "-t", kind, "-N", "", "-f"]).arg(path));
}

/// Signs `key`.pub with the CA in `dir` for `principal`, valid in `validity` (ssh-keygen's -V).
fn sign(dir: &Path, key: &Path, principal: &str, validity: &str) {
    let mut pub_key = key.as_os_str().to_owned();
    pub_key.push(".pub");
    run(Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(dir.join("ca"))
        .args(["-I", "kiln-test", "-n", principal, "-V", validity])
        .arg(pub_key));
}

fn cert_of(key: &Path) -> String {
    format!("{}-cert.pub", key.display())
}

/// An sshd that takes only certificates signed by `dir`/ca.
fn trust_only_the_ca(sshd: &mut Sshd) {
    keygen(&sshd.dir.join("ca"), "ed25519");
    std::fs::write(sshd.dir.join("authorized_keys"), "").unwrap();
    let ca = sshd.dir.join("ca.pub");
    sshd.reconfigure(&format!("TrustedUserCAKeys {}", ca.display())).unwrap();
}

fn config(sshd: &Sshd, key: &Path, cert: Option<String>) -> kiln_comm::Config {
    let mut c = ssh_config(sshd);
    c.ssh_private_key_file = Some(key.to_string_lossy().into_owned());
    c.ssh_certificate_file = cert;
    c.ssh_timeout = Some(kiln_config::decode::Duration(Duration::from_secs(5)));
    c.ssh_handshake_attempts = Some(1);
    c
}

async fn logs_in(c: &kiln_comm::Config) -> Result<(), String> {
    let comm = kiln_comm::ssh::connect(c, &|_| {}).await.map_err(|e| e.message)?;
    let out = |_: Stream, _: &str| {};
    assert_eq!(comm.start("true", &out).await.unwrap(), Some(0));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_file_logs_in_with_its_certificate() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    trust_only_the_ca(&mut sshd);
    let user = sshd.user.clone();
    for kind in ["rsa", "ed25519"] {
        let key = sshd.dir.join(format!("user_{kind}"));
        keygen(&key, kind);
        // The key alone is refused: only the certificate can log in.
        let e = logs_in(&config(&sshd, &key, None)).await.unwrap_err();
        assert!(e.contains("authentication as") && e.contains("failed"), "{kind}: {e}");
        sign(&sshd.dir, &key, &user, "-5m:+1h");
        logs_in(&config(&sshd, &key, Some(cert_of(&key)))).await.unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    // The bastion's login takes the target's key and certificate when it has none of its own.
    let key = sshd.dir.join("user_ed25519");
    let mut c = config(&sshd, &key, Some(cert_of(&key)));
    c.ssh_bastion_host = Some("127.0.0.1".into());
    c.ssh_bastion_port = Some(sshd.port);
    logs_in(&c).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_agents_certificate_logs_in() {
    let Some(mut sshd) = sshd_or_skip() else { return };
    trust_only_the_ca(&mut sshd);
    let key = sshd.dir.join("agent_key");
    keygen(&key, "ed25519");
    sign(&sshd.dir, &key, &sshd.user.clone(), "-5m:+1h");
    let agent = match kiln_testing::sshd::Agent::start(&sshd.dir) {
        Ok(a) => a,
        Err(e) => return kiln_testing::skip(&e),
    };
    // ssh-add loads the key and, from beside it, its certificate.
    let listed = agent.add(&key).unwrap();
    std::env::set_var("SSH_AUTH_SOCK", &agent.sock);
    let mut c = config(&sshd, &key, None);
    c.ssh_private_key_file = None;
    c.ssh_agent_auth = Some(true);
    let r = logs_in(&c).await;
    drop(agent);
    assert!(listed.contains("ED25519-CERT"), "the agent holds no certificate: {listed}");
    r.unwrap();
}

/// What validate says: a certificate for another key is an error at the option; an expired one,
/// or one for another user, a warning; a key behind a passphrase an error.
#[test]
fn validate_reads_keys_and_certificates() {
    let dir = kiln_testing::TempDir::new("ssh-cert");
    keygen(&dir.join("ca"), "ed25519");
    for k in ["k", "other"] {
        keygen(&dir.join(k), "ed25519");
    }
    run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "secret", "-f"]).arg(dir.join("locked")));
    let check = |key: &str, cert: &str| {
        let text = format!(
            "{{\"ssh_host\": \"h\", \"ssh_username\": \"kiln\",\n \"ssh_private_key_file\": \"{}\",\n \"ssh_certificate_file\": \"{}\"}}",
            dir.path(key),
            cert
        );
        let n = kiln_template::testing::json_node("t.json", &text).unwrap();
        let c: kiln_comm::Config = kiln_config::decode::decode(&n).unwrap();
        let d = c.check(&n, true);
        d.0.iter().map(|d| (d.is_error(), d.summary.clone(), d.span.as_ref().unwrap().line_col().0)).collect::<Vec<_>>()
    };
    let k = dir.join("k");
    sign(&dir, &k, "kiln", "-5m:+1h");
    assert_eq!(check("k", &cert_of(&k)), []);
    // Another key's certificate.
    let e = check("other", &cert_of(&k));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].0 && e[0].1.ends_with("certifies another key than the private key it goes with") && e[0].2 == 3,
        "{e:?}"
    );
    // Expired, and for other users: warnings (the key alone may still log in).
    sign(&dir, &k, "ops,root", "20200101:20200102");
    let w = check("k", &cert_of(&k));
    assert_eq!(
        w,
        [(
            false,
            "ssh_certificate_file: the server will refuse this certificate: it expired on 2020-01-02 00:00:00 UTC; \
             it is for \"ops\", \"root\", not for \"kiln\""
                .to_string(),
            3
        )]
    );
    // A missing key, a key behind a passphrase.
    let e = check("missing", "");
    assert!(e.len() == 1 && e[0].0 && e[0].1.contains("cannot read") && e[0].2 == 2, "{e:?}");
    let e = check("locked", "");
    assert!(
        e.len() == 1 && e[0].0 && e[0].1.ends_with("is protected by a passphrase, which kiln cannot ask for"),
        "{e:?}"
    );
}
