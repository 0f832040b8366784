//! `ssh_agent_auth`: log in with the keys of a running ssh-agent. In a test binary of its own
//! because it sets SSH_AUTH_SOCK for the process.

mod support;

use kiln_core::{Communicator, Stream};
use kiln_testing::sshd::sshd_or_skip;
use support::ssh_config;

#[tokio::test(flavor = "multi_thread")]
async fn logs_in_with_the_agents_key() {
    let Some(sshd) = sshd_or_skip() else { return };
    let agent = match kiln_testing::sshd::Agent::start(&sshd.dir) {
        Ok(a) => a,
        Err(e) => return kiln_testing::skip(&e),
    };
    agent.add(&sshd.key).unwrap();
    std::env::set_var("SSH_AUTH_SOCK", &agent.sock);
    let mut c = ssh_config(&sshd);
    c.ssh_private_key_file = None;
    c.ssh_agent_auth = Some(true);
    let r = kiln_comm::ssh::connect(&c, &|_| {}).await;
    drop(agent);
    let comm = r.unwrap();
    let out = |_: Stream, _: &str| {};
    assert_eq!(comm.start("true", &out).await.unwrap(), Some(0));
}
