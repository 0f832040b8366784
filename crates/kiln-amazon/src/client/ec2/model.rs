//! Typed requests and answers of the EC2 actions kiln uses (the fields kiln reads, not the whole API).

use std::collections::BTreeMap;

use crate::client::secret::Secret;

/// Tags: key → value.
pub type Tags = BTreeMap<String, String>;

/// A `Filter.N` of a Describe action: `name` matches any of `values` (`*` and `?` wildcards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(name: impl Into<String>, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
        Filter { name: name.into(), values: values.into_iter().map(Into::into).collect() }
    }
}

/// Tags applied at creation (`TagSpecification`): `resource_type` is `instance`, `volume`,
/// `image`, `snapshot`, `security-group`, `key-pair`, `network-interface` ….
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagSpecification {
    pub resource_type: String,
    pub tags: Tags,
}

/// A block device mapping, for RunInstances, CreateImage and RegisterImage, and as read back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockDeviceMapping {
    pub device_name: String,
    /// `ephemeral0` … for instance store volumes.
    pub virtual_name: Option<String>,
    /// Suppress a device of the AMI.
    pub no_device: bool,
    pub ebs: Option<EbsBlockDevice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EbsBlockDevice {
    pub delete_on_termination: Option<bool>,
    pub encrypted: Option<bool>,
    pub iops: Option<u32>,
    pub throughput: Option<u32>,
    pub kms_key_id: Option<String>,
    pub snapshot_id: Option<String>,
    /// GiB.
    pub volume_size: Option<u32>,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1`, `standard`.
    pub volume_type: Option<String>,
}

/// `DescribeImages`' input. Every list empty means every image the caller may launch.
#[derive(Debug, Clone, Default)]
pub struct DescribeImages {
    pub image_ids: Vec<String>,
    /// Account ids, `self`, `amazon`, `aws-marketplace`.
    pub owners: Vec<String>,
    /// Account ids or `self`, `all`.
    pub executable_users: Vec<String>,
    pub filters: Vec<Filter>,
    pub include_deprecated: Option<bool>,
    /// Page size; all pages are read.
    pub max_results: Option<u32>,
}

/// An AMI.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    pub image_id: String,
    pub name: String,
    pub owner_id: String,
    pub owner_alias: Option<String>,
    /// `pending`, `available`, `invalid`, `deregistered`, `transient`, `failed`, `error`.
    pub state: String,
    pub state_reason: Option<String>,
    /// ISO 8601; sorts chronologically as a string.
    pub creation_date: Option<String>,
    pub description: Option<String>,
    pub architecture: Option<String>,
    pub virtualization_type: Option<String>,
    pub hypervisor: Option<String>,
    pub root_device_type: Option<String>,
    pub root_device_name: Option<String>,
    pub platform: Option<String>,
    pub platform_details: Option<String>,
    pub image_location: Option<String>,
    pub image_type: Option<String>,
    pub public: bool,
    pub ena_support: Option<bool>,
    pub sriov_net_support: Option<String>,
    pub boot_mode: Option<String>,
    pub deprecation_time: Option<String>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub tags: Tags,
}

/// `CreateImage`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateImage {
    pub instance_id: String,
    pub name: String,
    pub description: Option<String>,
    pub no_reboot: Option<bool>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    /// `image` and `snapshot` tags.
    pub tag_specifications: Vec<TagSpecification>,
}

/// `RegisterImage`'s input (an AMI from snapshots).
#[derive(Debug, Clone, Default)]
pub struct RegisterImage {
    pub name: String,
    pub description: Option<String>,
    pub architecture: Option<String>,
    pub root_device_name: Option<String>,
    pub virtualization_type: Option<String>,
    pub ena_support: Option<bool>,
    pub sriov_net_support: Option<String>,
    pub boot_mode: Option<String>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub tag_specifications: Vec<TagSpecification>,
}

/// `CopyImage`'s input; sent to a client in the destination region.
#[derive(Debug, Clone, Default)]
pub struct CopyImage {
    pub source_image_id: String,
    pub source_region: String,
    pub name: String,
    pub description: Option<String>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    /// Makes a retried copy idempotent.
    pub client_token: Option<String>,
    /// Copy the snapshots within this many minutes (time-based copies; multiples of 15).
    pub snapshot_copy_completion_minutes: Option<u64>,
}

/// Who may launch an AMI.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaunchPermission {
    User(String),
    /// `all` makes the AMI public.
    Group(String),
    OrganizationArn(String),
    OrganizationalUnitArn(String),
}

/// `ModifyImageAttribute`'s input: launch permissions to add and remove, or a new description.
#[derive(Debug, Clone, Default)]
pub struct ModifyImageAttribute {
    pub image_id: String,
    pub add_launch_permissions: Vec<LaunchPermission>,
    pub remove_launch_permissions: Vec<LaunchPermission>,
    pub description: Option<String>,
    /// Marketplace product codes to attach (an attribute of its own: not with the others).
    pub product_codes: Vec<String>,
    /// `ImdsSupport` (`v2.0`): an attribute of its own too.
    pub imds_support: Option<String>,
}

/// Who may create volumes from a snapshot (`ModifySnapshotAttribute createVolumePermission`).
#[derive(Debug, Clone, Default)]
pub struct ModifySnapshotPermissions {
    pub snapshot_id: String,
    pub add_users: Vec<String>,
    /// `all` makes the snapshot public.
    pub add_groups: Vec<String>,
}

/// An attribute of an instance to change (`ModifyInstanceAttribute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceAttribute {
    /// ENA networking on or off (the instance must be stopped).
    EnaSupport(bool),
    /// SR-IOV networking: `simple` enables it.
    SriovNetSupport(String),
}

/// `RunInstances`' input (one or more instances of one kind).
#[derive(Debug, Clone, Default)]
pub struct RunInstances {
    pub image_id: String,
    pub instance_type: String,
    /// Both default to 1.
    pub min_count: Option<u32>,
    pub max_count: Option<u32>,
    pub key_name: Option<String>,
    /// With no `network_interfaces`; with them, give the groups on the interface.
    pub security_group_ids: Vec<String>,
    /// With no `network_interfaces`.
    pub subnet_id: Option<String>,
    /// Raw user data; the client base64-encodes it. A secret: it often carries credentials.
    pub user_data: Option<Secret<Vec<u8>>>,
    /// An instance profile's name, or its ARN when it starts with `arn:`.
    pub iam_instance_profile: Option<String>,
    pub block_device_mappings: Vec<BlockDeviceMapping>,
    pub tag_specifications: Vec<TagSpecification>,
    pub ebs_optimized: Option<bool>,
    /// `stop` or `terminate`.
    pub instance_initiated_shutdown_behavior: Option<String>,
    /// Makes a retried launch idempotent.
    pub client_token: Option<String>,
    pub availability_zone: Option<String>,
    /// `default`, `dedicated`, `host`.
    pub tenancy: Option<String>,
    /// For a public IP in a subnet that does not give one (`associate_public_ip_address`).
    pub network_interfaces: Vec<NetworkInterfaceSpec>,
    pub monitoring: Option<bool>,
    pub metadata_options: Option<MetadataOptions>,
    /// Launch as a one-time spot instance; `Some(None)` pays up to the on-demand price.
    pub spot_max_price: Option<Option<String>>,
    /// `standard` or `unlimited` for T instances.
    pub cpu_credits: Option<String>,
    /// `Placement.HostId`.
    pub host_id: Option<String>,
    /// `EnclaveOptions.Enabled`.
    pub enclave: bool,
    /// `open` or `none`.
    pub capacity_reservation_preference: Option<String>,
    pub capacity_reservation_id: Option<String>,
    pub capacity_reservation_group_arn: Option<String>,
    /// License configurations' ARNs.
    pub license_configuration_arns: Vec<String>,
}

/// A network interface to create at launch.
#[derive(Debug, Clone, Default)]
pub struct NetworkInterfaceSpec {
    pub device_index: u32,
    pub subnet_id: Option<String>,
    pub security_group_ids: Vec<String>,
    pub associate_public_ip_address: Option<bool>,
    pub delete_on_termination: Option<bool>,
}

/// The instance metadata service's settings on a launched instance.
#[derive(Debug, Clone, Default)]
pub struct MetadataOptions {
    /// `enabled` or `disabled`.
    pub http_endpoint: Option<String>,
    /// `required` (IMDSv2 only) or `optional`.
    pub http_tokens: Option<String>,
    pub http_put_response_hop_limit: Option<u32>,
    pub instance_metadata_tags: Option<String>,
}

/// An instance's state: `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceState {
    pub code: i32,
    pub name: String,
}

/// An instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    pub instance_id: String,
    pub image_id: String,
    pub instance_type: String,
    pub state: InstanceState,
    pub state_reason: Option<String>,
    pub key_name: Option<String>,
    pub launch_time: Option<String>,
    pub availability_zone: Option<String>,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub private_ip_address: Option<String>,
    pub public_ip_address: Option<String>,
    pub private_dns_name: Option<String>,
    pub public_dns_name: Option<String>,
    pub security_group_ids: Vec<String>,
    pub root_device_name: Option<String>,
    pub root_device_type: Option<String>,
    pub architecture: Option<String>,
    pub platform: Option<String>,
    pub spot_instance_request_id: Option<String>,
    /// `spot` for a spot instance; absent for an on-demand one.
    pub instance_lifecycle: Option<String>,
    pub iam_instance_profile_arn: Option<String>,
    pub block_devices: Vec<InstanceBlockDevice>,
    pub tags: Tags,
}

/// A volume attached to an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceBlockDevice {
    pub device_name: String,
    pub volume_id: String,
    pub delete_on_termination: Option<bool>,
}

/// `DescribeInstances`' input.
#[derive(Debug, Clone, Default)]
pub struct DescribeInstances {
    pub instance_ids: Vec<String>,
    pub filters: Vec<Filter>,
    /// Page size (EC2 refuses it together with `instance_ids`); all pages are read.
    pub max_results: Option<u32>,
}

/// What StopInstances and TerminateInstances report per instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceStateChange {
    pub instance_id: String,
    pub previous_state: String,
    pub current_state: String,
}

/// A created key pair; the private key is a secret.
#[derive(Debug, Clone)]
pub struct KeyPair {
    pub key_name: String,
    pub key_pair_id: Option<String>,
    pub key_fingerprint: String,
    /// PEM (RSA) or OpenSSH (ed25519) private key; empty for ImportKeyPair.
    pub key_material: Secret,
}

/// An ingress or egress rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpPermission {
    /// `tcp`, `udp`, `icmp`, or `-1` for all.
    pub ip_protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub ipv4_ranges: Vec<String>,
    pub ipv6_ranges: Vec<String>,
    pub source_group_ids: Vec<String>,
}

/// `CreateSecurityGroup`'s input.
#[derive(Debug, Clone, Default)]
pub struct CreateSecurityGroup {
    pub group_name: String,
    pub description: String,
    pub vpc_id: Option<String>,
    pub tag_specifications: Vec<TagSpecification>,
}

/// A security group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroup {
    pub group_id: String,
    pub group_name: String,
    pub description: String,
    pub owner_id: String,
    pub vpc_id: Option<String>,
    pub ingress: Vec<IpPermission>,
    pub egress: Vec<IpPermission>,
    pub tags: Tags,
}

/// Ids, names and filters for `DescribeSecurityGroups`, `DescribeSubnets`, `DescribeVpcs`,
/// `DescribeVolumes`, `DescribeSnapshots`.
#[derive(Debug, Clone, Default)]
pub struct DescribeBy {
    pub ids: Vec<String>,
    /// Group names (security groups) or owner ids (snapshots); unused elsewhere.
    pub names: Vec<String>,
    pub filters: Vec<Filter>,
    pub max_results: Option<u32>,
}

impl DescribeBy {
    pub fn ids(ids: impl IntoIterator<Item = impl Into<String>>) -> DescribeBy {
        DescribeBy { ids: ids.into_iter().map(Into::into).collect(), ..DescribeBy::default() }
    }

    pub fn filters(filters: Vec<Filter>) -> DescribeBy {
        DescribeBy { filters, ..DescribeBy::default() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subnet {
    pub subnet_id: String,
    pub vpc_id: String,
    pub state: String,
    pub cidr_block: String,
    pub availability_zone: String,
    pub available_ip_address_count: u32,
    pub default_for_az: bool,
    pub map_public_ip_on_launch: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vpc {
    pub vpc_id: String,
    pub state: String,
    pub cidr_block: String,
    pub is_default: bool,
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Region {
    pub region_name: String,
    pub endpoint: String,
    pub opt_in_status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AvailabilityZone {
    pub zone_name: String,
    pub zone_id: Option<String>,
    pub state: String,
    pub region_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volume {
    pub volume_id: String,
    pub size: u32,
    pub state: String,
    pub snapshot_id: Option<String>,
    pub availability_zone: String,
    pub volume_type: Option<String>,
    pub encrypted: bool,
    /// Instance ids it is attached to.
    pub attached_to: Vec<String>,
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub snapshot_id: String,
    pub volume_id: Option<String>,
    /// `pending`, `completed`, `error`, `recoverable`, `recovering`.
    pub state: String,
    pub progress: Option<String>,
    pub start_time: Option<String>,
    pub owner_id: String,
    pub volume_size: Option<u32>,
    pub description: Option<String>,
    pub encrypted: bool,
    pub tags: Tags,
}
