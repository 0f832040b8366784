//! `ssh_agent_auth`: log in with the keys of a running ssh-agent. In a test binary of its own
//! because it sets SSH_AUTH_SOCK for the process.

mod support;

use std::process::Command;

use kiln_core::{Communicator, Stream};
use kiln_testing::sshd::sshd_or_skip;
use support::ssh_config;

#[tokio::test(flavor = "multi_thread")]
async fn logs_in_with_the_agents_key() {
    let Some(sshd) = sshd_or_skip() else { return };
    let sock = sshd.dir.join("agent.sock");
    let agent = Command::new("ssh-agent").arg("-D").arg("-a").arg(&sock).stdout(std::process::Stdio::null()).spawn();
    let Ok(mut agent) = agent else {
        return kiln_testing::skip("ssh-agent is not available");
    };
    for _ in 0..50 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let added = Command::new("ssh-add").arg(&sshd.key).env("SSH_AUTH_SOCK", &sock).output().unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    std::env::set_var("SSH_AUTH_SOCK", &sock);
    let mut c = ssh_config(&sshd);
    c.ssh_private_key_file = None;
    c.ssh_agent_auth = Some(true);
    let r = kiln_comm::ssh::connect(&c, &|_| {}).await;
    let _ = agent.kill();
    let _ = agent.wait();
    let comm = r.unwrap();
    let out = |_: Stream, _: &str| {};
    assert_eq!(comm.start("true", &out).await.unwrap(), Some(0));
}
