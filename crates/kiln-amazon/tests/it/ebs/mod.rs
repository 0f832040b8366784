//! The `amazon-ebs` builder against moto: whole builds with the communicator `none`, the
//! temporary security group's rule, failures and cancellations, each checked against what moto
//! holds afterwards.

mod build;
mod clear_keys;
mod failures;
mod journal;
mod lost;
mod options;

use std::sync::{Arc, Mutex};

use kiln_amazon::client::{CallReport, DescribeBy, Ec2Client, Instance, IpPermission};
use kiln_amazon::ebs::{EbsBuilder, State};
use kiln_config::node::Node;
use kiln_core::event::{Event, MemoryRenderer};
use kiln_core::step::Step;
use kiln_core::{async_trait, Artifact, BuildInfo, Builder, Cancel, RunContext, Ui};

use crate::support::{Moto, ACCESS_KEY, SECRET_KEY};

pub const REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

/// A builder configuration on moto: the example keys, the focal filter, and `extra` (JSON members).
pub fn config(moto: &Moto, extra: &str) -> Node {
    let sep = if extra.trim().is_empty() { "" } else { "," };
    let src = format!(
        r#"{{
  "access_key": "{ACCESS_KEY}", "secret_key": "{SECRET_KEY}",
  "region": "us-east-1", "custom_endpoint_ec2": "{url}",
  "skip_credential_validation": true, "skip_metadata_api_check": true,
  "source_ami_filter": {{"filters": {{"name": "ubuntu/images/*ubuntu-focal-20.04-amd64-server-*",
     "root-device-type": "ebs", "virtualization-type": "hvm"}}, "owners": ["099720109477"], "most_recent": true}},
  "instance_type": "t2.micro"{sep}
  {extra}
}}"#,
        url = moto.url
    );
    kiln_template::testing::json_node("template.json", &src).unwrap_or_else(|e| panic!("{e}\n{src}"))
}

/// One build's outcome, what it said, and the AWS calls it made.
pub struct Run {
    pub result: kiln_core::Result<Option<Arc<dyn Artifact>>>,
    pub events: Vec<Event>,
    pub calls: Vec<CallReport>,
    /// What the build left in its cleanup journal (a folder of its own).
    pub journal: Vec<kiln_core::journal::Entry>,
}

impl Run {
    /// The output as Packer prints it (`==> amazon-ebs: …`).
    pub fn transcript(&self) -> String {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Say { text, .. } => Some(format!("==> amazon-ebs: {text}")),
                Event::Message { text, .. } => Some(format!("    amazon-ebs: {text}")),
                Event::Error { text, .. } => Some(format!("==> amazon-ebs: (error) {text}")),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn actions(&self) -> Vec<String> {
        self.calls.iter().map(|c| c.action.clone()).collect()
    }

    pub fn artifact(&self) -> Arc<dyn Artifact> {
        match &self.result {
            Ok(Some(a)) => a.clone(),
            Ok(None) => panic!("no artifact\n{}", self.transcript()),
            Err(e) => panic!("build failed: {e}\n{}", self.transcript()),
        }
    }

    pub fn error(&self) -> String {
        match &self.result {
            Err(e) => e.message.clone(),
            Ok(_) => panic!("the build succeeded\n{}", self.transcript()),
        }
    }
}

/// How to run a build.
#[derive(Default)]
pub struct Opts {
    /// Steps for the connect-and-provision slot.
    pub slot: Vec<Box<dyn Step<State>>>,
    /// Steps put at `(index, step)` of the finished list (after the slot is filled).
    pub insert: Vec<(usize, Box<dyn Step<State>>)>,
    /// Cancel the build right after this action's call returns.
    pub cancel_after: Option<&'static str>,
    /// Where the public address is looked up.
    pub checkip_url: Option<String>,
    pub info: BuildInfo,
    /// The environment the builder sees (empty by default).
    pub env: Vec<(&'static str, String)>,
    /// The build's cancellation token, when the test cancels it itself.
    pub cancel: Option<Cancel>,
    /// Where the cleanup journal goes (default: a temporary folder of the run's own).
    pub journal_dir: Option<std::path::PathBuf>,
}

/// Prepares and runs the builder on `node`.
pub async fn run(node: &Node, opts: Opts) -> Run {
    let calls: Arc<Mutex<Vec<CallReport>>> = Arc::default();
    let cancel = opts.cancel.clone().unwrap_or_default();
    let hook = {
        let (calls, cancel, target) = (calls.clone(), cancel.clone(), opts.cancel_after);
        Arc::new(move |r: &CallReport| {
            calls.lock().unwrap().push(r.clone());
            if target == Some(r.action.as_str()) {
                cancel.cancel();
            }
        })
    };
    let mut b = EbsBuilder::default().with_env(kiln_amazon::client::Env::from_vars(opts.env)).with_call_hook(hook);
    if let Some(u) = opts.checkip_url {
        b = b.with_checkip_url(u);
    }
    let temp = tempfile::tempdir().expect("journal folder");
    let journal_dir = opts.journal_dir.clone().unwrap_or_else(|| temp.path().to_path_buf());
    b = b.with_journal_dir(&journal_dir);
    let info = BuildInfo { name: "amazon-ebs".into(), builder_type: "amazon-ebs".into(), ..opts.info };
    if let Err(d) = b.prepare(node, &info) {
        panic!("prepare: {d}");
    }
    let renderer = MemoryRenderer::default();
    let ctx =
        RunContext { ui: Ui::new(Box::new(renderer.clone())).for_build("amazon-ebs"), cancel, info: Arc::new(info) };
    let mut steps = b.steps(opts.slot);
    for (i, s) in opts.insert {
        steps.insert(i, s);
    }
    let result = b.run_list(&ctx, steps).await;
    let calls = calls.lock().unwrap().clone();
    let journal = kiln_core::journal::entries(&journal_dir).into_iter().map(|(_, e)| e).collect();
    Run { result, events: renderer.events(), calls, journal }
}

/// Index of the step named `name` in the default list (with an empty slot).
pub fn index_of(name: &str) -> usize {
    EbsBuilder::default()
        .steps(Vec::new())
        .iter()
        .position(|s| s.name() == name)
        .unwrap_or_else(|| panic!("no step {name}"))
}

pub use kiln_amazon::inventory::Inventory;

/// What moto holds in [`REGIONS`].
pub async fn inventory(moto: &Moto) -> Inventory {
    Inventory::take(&Ec2Client::new(&moto.config("us-east-1", None)), &REGIONS).await.expect("inventory")
}

/// Prints the calls as a numbered list, for the comparison with Packer.
pub fn print_calls(title: &str, calls: &[CallReport]) {
    println!("{title}: {} EC2 calls", calls.len());
    for (i, c) in calls.iter().enumerate() {
        println!("  {:>2} {:<30} {}", i + 1, c.action, c.region);
    }
}

/// What the connect slot sees while the instance runs.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The temporary group's ingress rules (empty without one).
    pub rules: Vec<IpPermission>,
    pub host: Option<String>,
    pub port: u16,
    pub private_key: Option<String>,
    /// The instance as moto describes it now.
    pub instance: Instance,
    pub security_group_ids: Vec<String>,
}

/// Stands where the connect step will be: reads the instance and its temporary group back
/// from moto through a client of its own (not counted with the build's calls).
pub struct Probe {
    check: Ec2Client,
    seen: Arc<Mutex<Option<Seen>>>,
}

impl Probe {
    pub fn new(moto: &Moto) -> (Probe, Arc<Mutex<Option<Seen>>>) {
        let seen = Arc::new(Mutex::new(None));
        (Probe { check: Ec2Client::new(&moto.config("us-east-1", None)), seen: seen.clone() }, seen)
    }
}

#[async_trait]
impl Step<State> for Probe {
    fn name(&self) -> &'static str {
        "Probe"
    }

    async fn run(&self, state: &mut State, _ctx: &RunContext) -> kiln_core::Result<()> {
        let rules = match state.temporary_group.as_ref().and_then(|g| g.id.clone()) {
            Some(gid) => self.check.describe_security_groups(&DescribeBy::ids([gid])).await.unwrap().remove(0).ingress,
            None => Vec::new(),
        };
        let c = state.communicator_config();
        let instance = self.check.describe_instance(state.instance_id().expect("an instance")).await.unwrap();
        *self.seen.lock().unwrap() = Some(Seen {
            rules,
            host: c.ssh_host,
            port: c.ssh_port.unwrap_or(0),
            private_key: c.ssh_private_key,
            instance,
            security_group_ids: state.security_group_ids.clone(),
        });
        Ok(())
    }
}
