//! The cleanup journal: what a build whose cleanups never ran (as after `kill -9`) left in
//! moto is all in its journal, and the amazon cleaners delete it, found by id or, when the
//! id never came, by what the build chose before the call (name, client token).

use std::sync::{Arc, Mutex};

use kiln_amazon::client::Env;
use kiln_amazon::common::journal;
use kiln_amazon::ebs::State;
use kiln_core::journal::Entry;
use kiln_core::step::Step;
use kiln_core::{async_trait, RunContext};

use super::{config, index_of, inventory, run, Inventory, Opts};
use crate::support::{Moto, ACCESS_KEY, SECRET_KEY};

/// What the build chose before each create call: the instance's client token, the group's
/// name, the AMIs' name.
type Chosen = Arc<Mutex<Option<(String, String, String)>>>;

/// Takes every handle out of the state and fails: the cleanups find nothing to delete, as
/// when kiln is killed, and the journal keeps every entry.
struct Vanish(Chosen);

#[async_trait]
impl Step<State> for Vanish {
    fn name(&self) -> &'static str {
        "Vanish"
    }

    async fn run(&self, state: &mut State, _ctx: &RunContext) -> kiln_core::Result<()> {
        let launch = state.launch.take().expect("an instance");
        let group = state.temporary_group.take().expect("a temporary group");
        state.temporary_key = None;
        let name = state.images.first().expect("an AMI").name.clone();
        state.images.clear();
        *self.0.lock().unwrap() = Some((launch.client_token, group.name, name));
        Err(kiln_core::Error::new("vanished"))
    }
}

/// Rewrites the journal's entries with `f` (as if the ids had never come back).
fn rewrite(files: &[std::path::PathBuf], f: impl Fn(&mut Entry)) {
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                let mut e: Entry = serde_json::from_str(l).unwrap();
                f(&mut e);
                serde_json::to_string(&e).unwrap()
            })
            .collect();
        std::fs::write(file, lines.join("\n") + "\n").unwrap();
    }
}

#[tokio::test]
async fn what_a_killed_build_left_is_in_the_journal_and_the_cleaners_delete_it() {
    let Some(moto) = Moto::start() else { return };
    let env = Env::from_vars([("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)]);
    for by_name in [false, true] {
        let before = inventory(&moto).await;
        let node = config(
            &moto,
            &format!(
                r#""ami_name": "kiln-journal-{by_name}", "ami_regions": ["us-west-2"], "ssh_username": "ubuntu",
                   "temporary_security_group_source_cidrs": ["192.0.2.0/24"]"#
            ),
        );
        let chosen = Chosen::default();
        let at = index_of("StepAMIRegionCopy") + 1;
        let dir = tempfile::tempdir().unwrap();
        let r = run(
            &node,
            Opts {
                insert: vec![(at, Box::new(Vanish(chosen.clone())))],
                journal_dir: Some(dir.path().into()),
                ..Opts::default()
            },
        )
        .await;
        assert_eq!(r.error(), "vanished");
        let left = inventory(&moto).await.added_since(&before);
        assert_eq!((left.instances.len(), left.key_pairs.len(), left.groups.len()), (1, 1, 1), "{left:#?}");
        assert_eq!((left.images.len(), left.snapshots.is_empty()), (2, false), "{left:#?}");

        let mut kinds: Vec<(String, String)> = r.journal.iter().map(|e| (e.kind.clone(), e.endpoint.clone())).collect();
        kinds.sort();
        assert_eq!(
            kinds,
            [
                (journal::IMAGE.into(), "us-east-1".into()),
                (journal::IMAGE.into(), "us-west-2".into()),
                (journal::INSTANCE.into(), "us-east-1".into()),
                (journal::KEY_PAIR.into(), "us-east-1".into()),
                (journal::SECURITY_GROUP.into(), "us-east-1".into()),
            ]
        );
        for e in &r.journal {
            assert_eq!(e.params.get("custom_endpoint_ec2"), Some(&moto.url), "{e:?}");
            let id_form = match e.kind.as_str() {
                journal::INSTANCE => "i-",
                journal::SECURITY_GROUP => "sg-",
                journal::IMAGE => "ami-",
                _ => "packer_",
            };
            assert!(e.id.starts_with(id_form), "{e:?}");
        }
        let files: Vec<_> = kiln_core::journal::entries(dir.path()).into_iter().map(|(f, _)| f).collect();
        let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
        assert!(!text.contains(SECRET_KEY) && !text.contains(ACCESS_KEY), "no key in the journal:\n{text}");

        if by_name {
            let (token, group, name) = chosen.lock().unwrap().clone().unwrap();
            rewrite(&files, |e| match e.kind.as_str() {
                journal::INSTANCE => e.id = token.clone(),
                journal::SECURITY_GROUP => e.id = group.clone(),
                journal::IMAGE => e.id = name.clone(),
                _ => {}
            });
        }
        // Last entry first, as `kiln cleanup` does.
        let entries: Vec<Entry> = kiln_core::journal::entries(dir.path()).into_iter().map(|(_, e)| e).collect();
        for e in entries.into_iter().rev() {
            let what = e.describe();
            journal::clean(e, env.clone()).await.unwrap_or_else(|err| panic!("{what}: {err}"));
        }
        let left = inventory(&moto).await.added_since(&before);
        assert_eq!(left, Inventory::default(), "by name: {by_name}");
    }
}
