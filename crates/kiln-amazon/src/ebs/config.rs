//! Options of the `amazon-ebs` builder. Its own are below; it also takes the access options
//! ([`crate::common::access::Config`]), the AMI options ([`crate::common::ami::Config`]), the
//! run options ([`crate::common::run::Config`]) and the communicator's ([`kiln_comm::Config`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::common::block_device::BlockDevice;
use crate::common::tags::NameValue;

/// Builds an EBS-backed AMI: launches an instance from a source AMI, provisions it, stops it
/// and makes an AMI of it, then copies and shares the AMI as asked.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// Block devices of the AMI (attached to instances launched from it): `device_name`,
    /// `volume_size`, `volume_type`, `iops`, `throughput`, `encrypted`, `kms_key_id`,
    /// `snapshot_id`, `delete_on_termination`, `virtual_name`, `no_device`.
    #[serde(default)]
    pub ami_block_device_mappings: Vec<BlockDevice>,
    /// Block devices of the build instance (the same fields); EBS volumes among them are in the AMI.
    #[serde(default)]
    pub launch_block_device_mappings: Vec<BlockDevice>,
    /// Tags of the build instance's volumes (not of the AMI). Keys and values may use the build data.
    #[serde(default)]
    pub run_volume_tags: BTreeMap<String, String>,
    /// `run_volume_tags` as blocks of `name` and `value` (HCL2).
    #[serde(default)]
    pub run_volume_tag: Vec<NameValue>,
    /// Windows: hide the instance store drives (`xvdca` … `xvdcz`) of the build instance.
    #[serde(default)]
    pub no_ephemeral: bool,
    /// Make no AMI: launch, provision and terminate the instance only (a test stage, say).
    /// The build then has no artifact.
    #[serde(default)]
    pub skip_create_ami: bool,
}
