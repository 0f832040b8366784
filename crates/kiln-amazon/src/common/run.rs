//! Packer's run options: the source AMI, the instance, its network, and how kiln reaches it.

use std::collections::BTreeMap;

use kiln_config::decode::Duration;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_config::node::Node;
use serde::Deserialize;

use super::tags::{self, KeyValue};

/// Options of the instance a build runs (Packer's `RunConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// Give the instance a public IP address (unset: the subnet's default).
    #[serde(default)]
    pub associate_public_ip_address: Option<bool>,
    /// The availability zone to launch in.
    #[serde(default)]
    pub availability_zone: Option<String>,
    /// A spot block's duration (retired by AWS; not supported by kiln: refused).
    #[serde(default)]
    pub block_duration_minutes: Option<u64>,
    /// Do not stop the instance before making the AMI (the provisioners shut it down).
    #[serde(default)]
    pub disable_stop_instance: bool,
    /// Launch an EBS-optimized instance.
    #[serde(default)]
    pub ebs_optimized: bool,
    /// Launch a T2 instance with unlimited CPU credits (later Packers: `enable_unlimited_credits`).
    #[serde(default)]
    pub enable_t2_unlimited: bool,
    /// Launch a burstable instance (T2, T3, T3a, T4g) with unlimited CPU credits.
    #[serde(default)]
    pub enable_unlimited_credits: bool,
    /// Run the instance with Nitro Enclaves enabled.
    #[serde(default)]
    pub enable_nitro_enclave: bool,
    /// Whether the instance may run in an open capacity reservation: `open` or `none`. Not with
    /// `capacity_reservation_id` or `capacity_reservation_group_arn`.
    #[serde(default)]
    pub capacity_reservation_preference: Option<String>,
    /// Run the instance in this capacity reservation.
    #[serde(default)]
    pub capacity_reservation_id: Option<String>,
    /// Run the instance in a capacity reservation of this resource group.
    #[serde(default)]
    pub capacity_reservation_group_arn: Option<String>,
    /// License configurations to associate with the instance:
    /// `[{"license_configuration_request": {"license_configuration_arn": "arn:…"}}]`.
    #[serde(default)]
    pub license_specifications: Vec<LicenseSpecification>,
    /// The instance profile (name or ARN) the instance runs with.
    #[serde(default)]
    pub iam_instance_profile: Option<String>,
    /// Do not check that `iam_instance_profile` exists (kiln never checks it).
    #[serde(default)]
    pub skip_profile_validation: bool,
    /// A policy for a temporary instance profile (not supported by kiln yet: refused).
    #[serde(default)]
    pub temporary_iam_instance_profile_policy_document: Option<serde::de::IgnoredAny>,
    /// What a shutdown from inside the instance does: `stop` (default) or `terminate`.
    #[serde(default)]
    pub shutdown_behavior: Option<String>,
    /// The instance type (`t3.micro`); or give `spot_instance_types`.
    #[serde(default)]
    pub instance_type: Option<String>,
    /// Find the security groups to use: `filters` (DescribeSecurityGroups filters).
    #[serde(default)]
    pub security_group_filter: Option<Filters>,
    /// Tags of the instance (and of its volumes unless `run_volume_tags` is set). Keys and
    /// values may use the build data.
    #[serde(default)]
    pub run_tags: BTreeMap<String, String>,
    /// `run_tags` as blocks of `key` and `value` (HCL2).
    #[serde(default)]
    pub run_tag: Vec<KeyValue>,
    /// One existing security group for the instance instead of a temporary one.
    #[serde(default)]
    pub security_group_id: Option<String>,
    /// Existing security groups for the instance instead of a temporary one.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// The AMI to start from; or give `source_ami_filter`.
    #[serde(default)]
    pub source_ami: Option<String>,
    /// Find the AMI to start from: `filters` (DescribeImages filters), `owners` (required) and
    /// `most_recent` (take the newest when several match).
    #[serde(default)]
    pub source_ami_filter: Option<AmiFilter>,
    /// Instance types for a spot instance (kiln launches the first).
    #[serde(default)]
    pub spot_instance_types: Vec<String>,
    /// Launch a one-time spot instance at this maximum hourly price, or `auto` for up to the
    /// on-demand price.
    #[serde(default)]
    pub spot_price: Option<String>,
    /// Deprecated and unused (a warning, as in Packer).
    #[serde(default)]
    pub spot_price_auto_product: Option<String>,
    /// Tags of the spot request (with `spot_price`); kiln's one-time spot launch has no
    /// separate request, so they go on the instance with `run_tags`.
    #[serde(default)]
    pub spot_tags: BTreeMap<String, String>,
    /// `spot_tags` as blocks of `key` and `value` (HCL2).
    #[serde(default)]
    pub spot_tag: Vec<KeyValue>,
    /// Find the subnet to launch in: `filters`, and `most_free` or `random` when several match.
    #[serde(default)]
    pub subnet_filter: Option<SubnetFilter>,
    /// The subnet to launch in (required for a VPC that is not the default one).
    #[serde(default)]
    pub subnet_id: Option<String>,
    /// `default`, `dedicated` or `host`.
    #[serde(default)]
    pub tenancy: Option<String>,
    /// Where the temporary security group lets connections come from. kiln's default is the
    /// one address it connects from (Packer's is `0.0.0.0/0`).
    #[serde(default)]
    pub temporary_security_group_source_cidrs: Vec<String>,
    /// Let connections come from kiln's public address only, as a "what is my IP" service sees it.
    #[serde(default)]
    pub temporary_security_group_source_public_ip: bool,
    /// User data for the instance (cloud-init and the like).
    #[serde(default)]
    pub user_data: Option<String>,
    /// A file whose contents are the user data.
    #[serde(default)]
    pub user_data_file: Option<String>,
    /// Find the VPC: `filters` (exactly one must match).
    #[serde(default)]
    pub vpc_filter: Option<Filters>,
    /// The VPC of the temporary security group.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// How long to wait for a Windows password (WinRM is not supported by kiln yet).
    #[serde(default)]
    pub windows_password_timeout: Option<Duration>,
    /// Which address to connect to: `public_ip`, `private_ip`, `public_dns`, `private_dns`
    /// (`session_manager` is not supported by kiln yet). Default: the public IP if there is
    /// one, else the private IP.
    #[serde(default)]
    pub ssh_interface: Option<String>,
    /// With `session_manager`, wait this long before opening the session.
    #[serde(default)]
    pub pause_before_ssm: Option<Duration>,
    /// With `session_manager`, the local port of the tunnel.
    #[serde(default)]
    pub session_manager_port: Option<u16>,
    /// The instance metadata service's settings: `http_endpoint` (`enabled`/`disabled`),
    /// `http_tokens` (`required` for IMDSv2 only, or `optional`), `http_put_response_hop_limit`,
    /// `instance_metadata_tags`.
    #[serde(default)]
    pub metadata_options: Option<MetadataOptions>,
    /// Placement: `tenancy` (as the top-level option) and `host_resource_group_arn` (not
    /// supported by kiln yet).
    #[serde(default)]
    pub placement: Option<Placement>,
    /// An existing key pair to launch with (needs `ssh_private_key_file` or `ssh_agent_auth`).
    #[serde(default)]
    pub ssh_keypair_name: Option<String>,
    /// The name of the temporary key pair (default `packer_<uuid>`).
    #[serde(default)]
    pub temporary_key_pair_name: Option<String>,
    /// The temporary key pair's type: `rsa` (default) or `ed25519`.
    #[serde(default)]
    pub temporary_key_pair_type: Option<String>,
}

/// `source_ami_filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmiFilter {
    /// DescribeImages filters: name → value (`*` and `?` wildcards).
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Account ids, `self`, `amazon` or `aws-marketplace` the AMI must belong to.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Take the newest image when several match (otherwise several matches are an error).
    #[serde(default)]
    pub most_recent: bool,
}

/// `vpc_filter`, `security_group_filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Describe filters: name → value.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
}

/// `subnet_filter`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetFilter {
    /// DescribeSubnets filters: name → value.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Take the subnet with the most free addresses when several match.
    #[serde(default)]
    pub most_free: bool,
    /// Take a random one when several match.
    #[serde(default)]
    pub random: bool,
}

/// `metadata_options`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetadataOptions {
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub http_endpoint: Option<String>,
    /// `required` (IMDSv2 only) or `optional`.
    #[serde(default)]
    pub http_tokens: Option<String>,
    /// 1 to 64.
    #[serde(default)]
    pub http_put_response_hop_limit: Option<u32>,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub instance_metadata_tags: Option<String>,
}

/// `placement`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `default`, `dedicated` or `host`.
    #[serde(default)]
    pub tenancy: Option<String>,
    /// A host resource group (not supported by kiln yet).
    #[serde(default)]
    pub host_resource_group_arn: Option<String>,
    /// The dedicated host to launch on (with `tenancy` `host`).
    #[serde(default)]
    pub host_id: Option<String>,
}

/// One of `license_specifications`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LicenseSpecification {
    #[serde(default)]
    pub license_configuration_request: LicenseConfigurationRequest,
}

/// `license_configuration_request`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LicenseConfigurationRequest {
    /// The license configuration's ARN.
    #[serde(default)]
    pub license_configuration_arn: String,
}

/// The ways to reach the instance.
pub const SSH_INTERFACES: &[&str] = &["public_ip", "private_ip", "public_dns", "private_dns", "session_manager"];

impl Config {
    /// True when the instance is a spot instance.
    pub fn is_spot(&self) -> bool {
        self.spot_price.as_deref().is_some_and(|p| !p.is_empty() && p != "0")
    }

    /// The instance type to launch.
    pub fn launch_type(&self) -> String {
        self.instance_type
            .clone()
            .filter(|t| !t.is_empty())
            .or_else(|| self.spot_instance_types.first().cloned())
            .unwrap_or_default()
    }

    /// The tenancy, from `placement` or the top-level option.
    pub fn tenancy(&self) -> Option<String> {
        self.placement
            .as_ref()
            .and_then(|p| p.tenancy.clone())
            .or_else(|| self.tenancy.clone())
            .filter(|t| !t.is_empty())
    }

    /// Merges the tag blocks, normalises, and checks what needs no AWS call. `comm` is the
    /// communicator's options (for `ssh_keypair_name`'s requirements).
    pub fn prepare(&mut self, node: &Node, comm: &kiln_comm::Config, d: &mut Diagnostics) {
        let err = |d: &mut Diagnostics, key: &str, msg: String, help: Option<&str>| {
            let mut e = Diagnostic::error(msg).at_opt(node.span_of(key));
            if let Some(h) = help {
                e = e.with_help(h);
            }
            d.push(e);
        };
        tags::merge_blocks(&mut self.run_tags, &self.run_tag, node.span_of("run_tag"), "run_tag", d);
        tags::merge_blocks(&mut self.spot_tags, &self.spot_tag, node.span_of("spot_tag"), "spot_tag", d);

        let empty = |s: &Option<String>| s.as_deref().unwrap_or("").is_empty();
        match &self.source_ami_filter {
            None if empty(&self.source_ami) => err(
                d,
                "source_ami",
                "A source_ami or source_ami_filter must be specified".into(),
                Some("add \"source_ami\": \"ami-…\" or a \"source_ami_filter\""),
            ),
            Some(f) if empty(&self.source_ami) && f.owners.is_empty() => err(
                d,
                "source_ami_filter",
                "For security reasons, your source AMI filter must declare an owner.".into(),
                Some("add \"owners\": [\"<account id>\"], \"self\" or \"amazon\" to source_ami_filter"),
            ),
            Some(f) if empty(&self.source_ami) && f.filters.is_empty() => err(
                d,
                "source_ami_filter",
                "source_ami_filter has no filters: every image of its owners would match".into(),
                Some("add \"filters\": {\"name\": \"…\"}"),
            ),
            _ => {}
        }
        let has_type = !empty(&self.instance_type);
        if !has_type && self.spot_instance_types.is_empty() {
            err(
                d,
                "instance_type",
                "either instance_type or spot_instance_types must be specified".into(),
                Some("add \"instance_type\": \"t3.micro\""),
            );
        }
        if has_type && !self.spot_instance_types.is_empty() {
            err(
                d,
                "spot_instance_types",
                "either instance_type or spot_instance_types must be specified, not both".into(),
                None,
            );
        }
        if !self.spot_instance_types.is_empty() && !self.is_spot() {
            err(
                d,
                "spot_instance_types",
                "spot_instance_types needs spot_price".into(),
                Some("add \"spot_price\": \"auto\""),
            );
        }
        if let Some(p) = self.spot_price.as_deref().filter(|p| !p.is_empty() && *p != "auto") {
            if p.parse::<f64>().map_or(true, |v| v < 0.0) {
                err(
                    d,
                    "spot_price",
                    format!("spot_price {p:?} is neither \"auto\" nor a price"),
                    Some("write a price in dollars per hour, like \"0.05\", or \"auto\""),
                );
            }
        }
        if self.block_duration_minutes.is_some_and(|m| m > 0) {
            err(
                d,
                "block_duration_minutes",
                "block_duration_minutes is not supported by kiln (AWS retired spot blocks)".into(),
                Some("remove it"),
            );
        }
        if !self.spot_tags.is_empty() && !self.is_spot() {
            err(d, "spot_tags", "spot_tags should not be set when not requesting a spot instance".into(), None);
        }
        if self.spot_price_auto_product.as_deref().is_some_and(|p| !p.is_empty()) {
            d.push(
                Diagnostic::warning("spot_price_auto_product is deprecated and no longer necessary")
                    .at_opt(node.span_of("spot_price_auto_product"))
                    .with_help("remove it (`kiln fix` does)"),
            );
        }
        if !empty(&self.user_data) && !empty(&self.user_data_file) {
            err(d, "user_data_file", "Only one of user_data or user_data_file can be specified.".into(), None);
        } else if let Some(f) = self.user_data_file.as_deref().filter(|f| !f.is_empty()) {
            if std::fs::metadata(f).is_err() {
                err(d, "user_data_file", format!("user_data_file not found: {f}"), None);
            }
        }
        if let Some(id) = self.security_group_id.take().filter(|s| !s.is_empty()) {
            if self.security_group_ids.is_empty() {
                self.security_group_ids = vec![id];
            } else {
                err(
                    d,
                    "security_group_id",
                    "Only one of security_group_id or security_group_ids can be specified.".into(),
                    None,
                );
            }
        }
        for c in &self.temporary_security_group_source_cidrs {
            if !valid_cidr(c) {
                err(
                    d,
                    "temporary_security_group_source_cidrs",
                    format!("Error parsing CIDR in temporary_security_group_source_cidrs: invalid CIDR address: {c}"),
                    Some("write an address and prefix length, like \"203.0.113.7/32\""),
                );
            }
        }
        if self.temporary_security_group_source_public_ip && !self.temporary_security_group_source_cidrs.is_empty() {
            err(
                d,
                "temporary_security_group_source_public_ip",
                "set temporary_security_group_source_cidrs or temporary_security_group_source_public_ip, not both"
                    .into(),
                None,
            );
        }
        self.check_values(node, d);
        if let Some(name) = self.ssh_keypair_name.as_deref().filter(|n| !n.is_empty()) {
            if empty(&comm.ssh_private_key_file) && comm.ssh_agent_auth != Some(true) {
                err(
                    d,
                    "ssh_keypair_name",
                    format!("ssh_private_key_file must be provided or ssh_agent_auth enabled when ssh_keypair_name is specified ({name:?})."),
                    Some("add \"ssh_private_key_file\" with the key pair's private key"),
                );
            }
        }
        if self.enable_unlimited_credits {
            let t = self.launch_type();
            if self.is_spot() {
                err(
                    d,
                    "enable_unlimited_credits",
                    "unlimited CPU credits cannot be used with spot instances".into(),
                    None,
                );
            } else if !["t2.", "t3.", "t3a.", "t4g."].iter().any(|f| t.starts_with(f)) {
                err(
                    d,
                    "enable_unlimited_credits",
                    format!("unlimited CPU credits need a burstable instance type (T2, T3, T3a or T4g), not {t}"),
                    None,
                );
            }
        }
        match self.capacity_reservation_preference.as_deref() {
            None | Some("") | Some("open") | Some("none") => {}
            Some(other) => err(
                d,
                "capacity_reservation_preference",
                format!("invalid capacity_reservation_preference {other:?}"),
                Some("use \"open\" or \"none\""),
            ),
        }
        let target = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if target(&self.capacity_reservation_id) && target(&self.capacity_reservation_group_arn) {
            err(
                d,
                "capacity_reservation_group_arn",
                "capacity_reservation_id and capacity_reservation_group_arn cannot both be set".into(),
                Some("keep one: a reservation, or a resource group of them"),
            );
        }
        if (target(&self.capacity_reservation_id) || target(&self.capacity_reservation_group_arn))
            && target(&self.capacity_reservation_preference)
        {
            err(
                d,
                "capacity_reservation_preference",
                "capacity_reservation_preference cannot be used with capacity_reservation_id or capacity_reservation_group_arn".into(),
                Some("remove capacity_reservation_preference: a target reservation is its own preference"),
            );
        }
        if self.enable_nitro_enclave && self.is_spot() {
            err(d, "enable_nitro_enclave", "Nitro Enclaves cannot be used with spot instances".into(), None);
        }
        for (i, l) in self.license_specifications.iter().enumerate() {
            if !l.license_configuration_request.license_configuration_arn.starts_with("arn:") {
                err(
                    d,
                    "license_specifications",
                    format!("license_specifications entry {}: license_configuration_arn must be an ARN", i + 1),
                    None,
                );
            }
        }
        if self.enable_t2_unlimited {
            if self.is_spot() {
                err(
                    d,
                    "enable_t2_unlimited",
                    "Error: T2 Unlimited cannot be used in conjunction with Spot Instances".into(),
                    None,
                );
            }
            let t = self.launch_type();
            if !t.starts_with("t2.") {
                err(
                    d,
                    "enable_t2_unlimited",
                    format!("Error: T2 Unlimited enabled with a non-T2 Instance Type: {t}"),
                    None,
                );
            }
        }
        let unsupported: [(&str, bool); 3] = [
            (
                "temporary_iam_instance_profile_policy_document",
                self.temporary_iam_instance_profile_policy_document.is_some(),
            ),
            ("placement", self.placement.as_ref().is_some_and(|p| !empty(&p.host_resource_group_arn))),
            ("windows_password_timeout", comm.kind() == "winrm" && self.windows_password_timeout.is_some()),
        ];
        for (key, set) in unsupported {
            if set {
                err(d, key, format!("{key} is not supported by kiln yet"), Some("remove it"));
            }
        }
    }

    /// Options with a fixed set of values.
    fn check_values(&self, node: &Node, d: &mut Diagnostics) {
        let one_of = |d: &mut Diagnostics, key: &str, v: Option<&str>, allowed: &[&str]| {
            let Some(v) = v.filter(|v| !v.is_empty()) else { return };
            if !allowed.contains(&v) {
                let mut e = Diagnostic::error(format!("invalid {key} {v:?}"))
                    .at_opt(node.span_of(key.split('.').next().unwrap_or(key)))
                    .with_detail(format!("the accepted values are: {}", allowed.join(", ")));
                if let Some(s) = did_you_mean(v, allowed.iter().copied()) {
                    e = e.with_help(format!("did you mean {s:?}?"));
                }
                d.push(e);
            }
        };
        one_of(d, "shutdown_behavior", self.shutdown_behavior.as_deref(), &["stop", "terminate"]);
        one_of(d, "tenancy", self.tenancy.as_deref(), &["default", "dedicated", "host"]);
        one_of(d, "ssh_interface", self.ssh_interface.as_deref(), SSH_INTERFACES);
        one_of(d, "temporary_key_pair_type", self.temporary_key_pair_type.as_deref(), &["rsa", "ed25519"]);
        if let Some(p) = &self.placement {
            one_of(d, "placement.tenancy", p.tenancy.as_deref(), &["default", "dedicated", "host"]);
        }
        if let Some(m) = &self.metadata_options {
            one_of(d, "metadata_options.http_endpoint", m.http_endpoint.as_deref(), &["enabled", "disabled"]);
            one_of(d, "metadata_options.http_tokens", m.http_tokens.as_deref(), &["required", "optional"]);
            one_of(
                d,
                "metadata_options.instance_metadata_tags",
                m.instance_metadata_tags.as_deref(),
                &["enabled", "disabled"],
            );
            if m.http_put_response_hop_limit.is_some_and(|h| !(1..=64).contains(&h)) {
                d.push(
                    Diagnostic::error("metadata_options.http_put_response_hop_limit must be between 1 and 64")
                        .at_opt(node.span_of("metadata_options")),
                );
            }
        }
        if self.ssh_interface.as_deref() == Some("session_manager") {
            d.push(
                Diagnostic::error("ssh_interface \"session_manager\" is not supported by kiln yet")
                    .at_opt(node.span_of("ssh_interface"))
                    .with_help("use \"public_ip\", \"private_ip\", \"public_dns\" or \"private_dns\""),
            );
        }
    }
}

/// `a.b.c.d/n` or an IPv6 address with a prefix length.
pub fn valid_cidr(c: &str) -> bool {
    let Some((ip, len)) = c.split_once('/') else { return false };
    let Ok(len) = len.parse::<u8>() else { return false };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        assert!(valid_cidr("0.0.0.0/0"));
        assert!(valid_cidr("203.0.113.7/32"));
        assert!(valid_cidr("2001:db8::/32"));
        assert!(!valid_cidr("1.2.3.4"));
        assert!(!valid_cidr("1.2.3.4/33"));
        assert!(!valid_cidr("nope/8"));
    }
}
