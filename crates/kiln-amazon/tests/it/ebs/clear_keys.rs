//! `ssh_clear_authorized_keys`: the build logs in with the temporary key pair EC2 made, and
//! takes that key's line out of the machine's `authorized_keys` after provisioning. The
//! machine is a private sshd on 127.0.0.1 whose `authorized_keys` file the test names (never
//! the test machine's own); a step stands for cloud-init and installs the key there.

use kiln_amazon::ebs::State;
use kiln_comm::authorized_keys::{AuthorizedKeysFiles, StepCleanupTempKeys};
use kiln_core::step::Step;
use kiln_core::{async_trait, RunContext};

use super::{config, index_of, inventory, run, Inventory, Opts};
use crate::support::Moto;

/// What cloud-init does on a real instance: the key pair's public half into authorized_keys.
struct InstallKey(std::path::PathBuf);

#[async_trait]
impl Step<State> for InstallKey {
    fn name(&self) -> &'static str {
        "InstallKey"
    }

    async fn run(&self, state: &mut State, _ctx: &RunContext) -> kiln_core::Result<()> {
        let pair = state.temp_key_pair.as_ref().expect("ssh_clear_authorized_keys keeps the public half");
        let mut text = std::fs::read_to_string(&self.0).unwrap();
        text.push_str(&format!("{}\n", pair.public_authorized_key));
        std::fs::write(&self.0, text).unwrap();
        Ok(())
    }
}

#[tokio::test]
async fn the_temporary_key_is_removed_from_authorized_keys() {
    let Some(moto) = Moto::start() else { return };
    let Some(sshd) = kiln_testing::sshd::sshd_or_skip() else { return };
    let before = inventory(&moto).await;
    let keys = sshd.dir.join("authorized_keys");
    let original = std::fs::read_to_string(&keys).unwrap();
    let node = config(
        &moto,
        &format!(
            r#""ami_name": "kiln-clear-keys", "ssh_username": "{}", "ssh_host": "127.0.0.1", "ssh_port": {},
               "ssh_clear_authorized_keys": true, "ssh_timeout": "20s""#,
            sshd.user, sshd.port
        ),
    );
    let comm = kiln_comm::Config { ssh_clear_authorized_keys: Some(true), ..Default::default() };
    let files = AuthorizedKeysFiles { user: keys.to_string_lossy().into_owned(), root: None };
    let r = run(
        &node,
        Opts {
            insert: vec![(index_of("StepKeyPair") + 1, Box::new(InstallKey(keys.clone())))],
            slot: vec![
                Box::new(kiln_amazon::ebs::steps::StepConnect),
                Box::new(StepCleanupTempKeys { config: comm, files }),
            ],
            ..Opts::default()
        },
    )
    .await;
    let artifact = r.artifact();
    let text = r.transcript();
    assert!(text.contains("Trying to remove ephemeral keys from authorized_keys files"), "{text}");
    assert_eq!(std::fs::read_to_string(&keys).unwrap(), original, "only the temporary key's line went");
    artifact.destroy().await.unwrap();
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}
