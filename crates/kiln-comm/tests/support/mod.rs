//! What kiln-comm's tests share: communicator options for the test sshd.

use kiln_comm::Config;
use kiln_testing::sshd::Sshd;

/// Communicator options for `sshd`, as a template would write them.
pub fn ssh_config(sshd: &Sshd) -> Config {
    Config {
        communicator: Some("ssh".into()),
        ssh_host: Some("127.0.0.1".into()),
        ssh_port: Some(sshd.port),
        ssh_username: Some(sshd.user.clone()),
        ssh_private_key_file: Some(sshd.key.to_string_lossy().into_owned()),
        ..Config::default()
    }
}
