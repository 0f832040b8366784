//! What the steps of `amazon-ebs` share: the prepared options, the clients, and every resource
//! made so far. A resource is recorded before the call that makes it (by name or token, its id
//! unknown yet) and completed when the call answers, so a cleanup can find it even when the
//! answer never came.

use std::sync::Arc;

use kiln_core::hook::HasCommunicator;
use kiln_core::{Communicator, GeneratedData};

use crate::client::{Ec2Client, Image, Instance, Secret, WaitConfig};
use crate::common::journal::Recorder;
use crate::common::tags::BuildData;
use crate::common::{access, ami, run};

/// Everything the template set, prepared (tag blocks merged, defaults applied).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub access: access::Config,
    pub ami: ami::Config,
    pub run: run::Config,
    pub ebs: super::Config,
    pub comm: kiln_comm::Config,
    /// `-force` (deregisters an AMI of the same name, as `force_deregister`).
    pub force: bool,
    /// Where kiln's public address is looked up.
    pub checkip_url: String,
}

/// How long each kind of wait may take, and how it polls.
#[derive(Debug, Clone)]
pub struct Waits {
    pub instance: WaitConfig,
    pub image: WaitConfig,
}

/// A temporary key pair: its name is known before it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairHandle {
    pub name: String,
    /// Made for sure (the call answered).
    pub created: bool,
}

/// A temporary security group: its name is known before it is made, its id after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupHandle {
    pub name: String,
    pub id: Option<String>,
    /// The VPC it is in, to find it by name when the id never came.
    pub vpc_id: Option<String>,
}

/// The build instance: launched with a client token, so it can be found even if RunInstances'
/// answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchHandle {
    pub client_token: String,
    pub instance_id: Option<String>,
}

/// What an AMI is to the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRole {
    /// Made from the instance in the build region.
    Original,
    /// A copy in another region.
    Copy,
    /// The encrypted copy that replaces the original in the build region (`encrypt_boot`).
    EncryptedCopy,
}

/// An AMI being made or made: the name is known before the call, the id after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHandle {
    pub region: String,
    pub name: String,
    pub role: ImageRole,
    pub image_id: Option<String>,
    /// Known once it is available.
    pub snapshot_ids: Vec<String>,
    /// Its tags were given to the call that made it (the snapshots still need theirs).
    pub tagged: bool,
}

impl ImageHandle {
    pub fn new(region: &str, name: &str, role: ImageRole) -> ImageHandle {
        ImageHandle {
            region: region.to_string(),
            name: name.to_string(),
            role,
            image_id: None,
            snapshot_ids: Vec::new(),
            tagged: false,
        }
    }
}

/// The state of one `amazon-ebs` build.
pub struct State {
    pub settings: Arc<Settings>,
    /// EC2 in the build region; `in_region` reaches the others.
    pub ec2: Ec2Client,
    pub region: String,
    pub waits: Waits,
    /// For the public-address lookup.
    pub http: reqwest::Client,

    /// The AMI the instance starts from.
    pub source_image: Option<Image>,
    /// What templates may use: `SourceAMI`, `SourceAMIName`, …, `BuildRegion`, `SourceAMITags.<key>`.
    pub build_data: BuildData,
    /// The builder's generated data (Packer's `build` variables).
    pub generated: GeneratedData,

    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub availability_zone: Option<String>,

    /// The key pair the instance is launched with (temporary or `ssh_keypair_name`).
    pub key_name: Option<String>,
    pub temporary_key: Option<KeyPairHandle>,
    /// The temporary key's private half, for the communicator.
    pub private_key: Option<Secret>,
    /// The temporary key pair with its public half (`ssh_clear_authorized_keys` removes that
    /// line from the instance).
    pub temp_key_pair: Option<kiln_comm::keys::TempKeyPair>,

    pub security_group_ids: Vec<String>,
    pub temporary_group: Option<GroupHandle>,

    pub launch: Option<LaunchHandle>,
    /// The instance as last described.
    pub instance: Option<Instance>,
    /// Volumes that outlive the instance and are not the template's (Packer deletes them).
    pub orphan_volume_candidates: Vec<String>,

    /// Where the communicator connects (from `ssh_interface` or `ssh_host`).
    pub ssh_host: Option<String>,
    pub ssh_port: u16,

    /// The connected communicator, once the connect step (not in this crate yet) ran.
    pub comm: Option<Arc<dyn Communicator>>,

    pub images: Vec<ImageHandle>,

    /// The cleanup journal every resource is written to before it is made.
    pub journal: Recorder,
}

impl State {
    pub fn new(settings: Arc<Settings>, ec2: Ec2Client, waits: Waits, http: reqwest::Client) -> State {
        let region = ec2.region().to_string();
        let ssh_port = settings.comm.ssh_port.unwrap_or(22);
        State {
            settings,
            ec2,
            region,
            waits,
            http,
            source_image: None,
            build_data: BuildData::new(),
            generated: GeneratedData::new(),
            vpc_id: None,
            subnet_id: None,
            availability_zone: None,
            key_name: None,
            temporary_key: None,
            private_key: None,
            temp_key_pair: None,
            security_group_ids: Vec::new(),
            temporary_group: None,
            launch: None,
            instance: None,
            orphan_volume_candidates: Vec::new(),
            ssh_host: None,
            ssh_port,
            comm: None,
            images: Vec::new(),
            journal: Recorder::default(),
        }
    }

    /// The instance's id, once known.
    pub fn instance_id(&self) -> Option<&str> {
        self.launch.as_ref().and_then(|l| l.instance_id.as_deref())
    }

    /// The finished AMIs, region → id (what the artifact holds): not an intermediary one
    /// that an encrypted copy replaces.
    pub fn amis(&self) -> std::collections::BTreeMap<String, String> {
        self.final_images().filter_map(|h| Some((h.region.clone(), h.image_id.clone()?))).collect()
    }

    /// The AMIs the build keeps.
    pub fn final_images(&self) -> impl Iterator<Item = &ImageHandle> {
        let intermediary = self.settings.ami.encrypt_boot == Some(true) || self.settings.ami.skip_save_build_region;
        self.images.iter().filter(move |h| !(intermediary && h.role == ImageRole::Original))
    }

    /// The communicator options the connect step needs: the template's, with the instance's
    /// address and port and the temporary private key filled in.
    pub fn communicator_config(&self) -> kiln_comm::Config {
        let mut c = self.settings.comm.clone();
        c.ssh_host = self.ssh_host.clone().or(c.ssh_host);
        c.ssh_port = Some(self.ssh_port);
        if let Some(k) = &self.private_key {
            c.ssh_private_key = Some(k.expose().clone());
        }
        c
    }
}

impl kiln_comm::authorized_keys::HasTempKey for State {
    fn temp_key(&self) -> Option<&kiln_comm::keys::TempKeyPair> {
        self.temp_key_pair.as_ref()
    }
}

impl HasCommunicator for State {
    fn communicator(&self) -> Option<Arc<dyn Communicator>> {
        self.comm.clone()
    }

    fn generated_data(&self) -> GeneratedData {
        self.generated.clone()
    }
}
