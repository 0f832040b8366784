//! `prepare`: decodes the options of `amazon-ebs` (its own, access, AMI, run, communicator)
//! from one object, then checks everything that needs no AWS call.

use kiln_config::decode::fields_of;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::BuildInfo;

use super::{Config, Settings};
use crate::common::block_device::check_all;
use crate::common::decode::{decode_part, split_members, Renamed};
use crate::common::source_address::DEFAULT_CHECKIP_URL;
use crate::common::tags::{self, check_template, check_templates};
use crate::common::{access, ami, run};

pub const COMPONENT: &str = "the \"amazon-ebs\" builder";

/// Options `packer fix` renames (Packer 1.6.6 refuses the old names).
pub const RENAMED: &[Renamed] = &[
    Renamed { old: "shutdown_behaviour", new: "shutdown_behavior" },
    Renamed { old: "enhanced_networking", new: "ena_support" },
    Renamed { old: "ssh_private_ip", new: "ssh_interface" },
    Renamed { old: "temporary_security_group_source_cidr", new: "temporary_security_group_source_cidrs" },
    Renamed { old: "ssh_key_path", new: "ssh_private_key_file" },
    Renamed { old: "ssh_wait_timeout", new: "ssh_timeout" },
    Renamed { old: "ssh_disable_agent", new: "ssh_disable_agent_forwarding" },
];

/// Decodes and checks; returns the settings and the warnings, or every error found.
pub fn prepare(node: &Node, info: &BuildInfo) -> Result<(Settings, Vec<Diagnostic>), Diagnostics> {
    let sets = [
        fields_of::<access::Config>(),
        fields_of::<ami::Config>(),
        fields_of::<run::Config>(),
        fields_of::<Config>(),
        fields_of::<kiln_comm::Config>(),
    ];
    let (parts, mut d) = split_members(node, &sets, RENAMED, COMPONENT);
    let access: access::Config = decode_part(&parts[0], COMPONENT, &mut d);
    let mut ami: ami::Config = decode_part(&parts[1], COMPONENT, &mut d);
    let mut run: run::Config = decode_part(&parts[2], COMPONENT, &mut d);
    let mut ebs: Config = decode_part(&parts[3], COMPONENT, &mut d);
    let comm: kiln_comm::Config = decode_part(&parts[4], COMPONENT, &mut d);
    if d.has_errors() {
        return Err(d);
    }

    d.extend(comm.check(node, false));
    access.check(node, &mut d);
    ami.prepare(node, access.region.as_deref().filter(|r| !r.is_empty()), &mut d);
    run.prepare(node, &comm, &mut d);
    check_ebs(&mut ebs, &ami, &run, node, &mut d);

    if d.has_errors() {
        return Err(d);
    }
    let set = |o: &Option<String>| o.as_deref().is_some_and(|v| !v.is_empty());
    // The temporary key pair is made unless the template gives a way in (see StepKeyPair).
    let makes_temp_key =
        !(set(&comm.ssh_private_key_file) || comm.ssh_agent_auth == Some(true) || set(&comm.ssh_password));
    if let Some(w) = comm.check_clear_authorized_keys(node, makes_temp_key) {
        d.push(w);
    }
    let warnings = d.0;
    let settings = Settings { access, ami, run, ebs, comm, force: info.force, checkip_url: DEFAULT_CHECKIP_URL.into() };
    Ok((settings, warnings))
}

fn check_ebs(ebs: &mut Config, ami: &ami::Config, run: &run::Config, node: &Node, d: &mut Diagnostics) {
    tags::merge_named(
        &mut ebs.run_volume_tags,
        &ebs.run_volume_tag,
        node.span_of("run_volume_tag"),
        "run_volume_tag",
        d,
    );
    check_all(
        &ebs.launch_block_device_mappings,
        "launch_block_device_mappings",
        node.span_of("launch_block_device_mappings"),
        d,
    );
    check_all(
        &ebs.ami_block_device_mappings,
        "ami_block_device_mappings",
        node.span_of("ami_block_device_mappings"),
        d,
    );

    check_template(&ami.ami_name, "ami_name", node.span_of("ami_name"), d);
    if let Some(desc) = &ami.ami_description {
        check_template(desc, "ami_description", node.span_of("ami_description"), d);
    }
    check_templates(&ami.tags, if node.get("tag").is_some() { "tag" } else { "tags" }, node, d);
    check_templates(&ami.snapshot_tags, "snapshot_tags", node, d);
    check_templates(&run.run_tags, "run_tags", node, d);
    check_templates(&ebs.run_volume_tags, "run_volume_tags", node, d);

    if run.is_spot() && (ami.ena_support == Some(true) || ami.sriov_support) {
        d.push(
            Diagnostic::error(
                "Spot instances do not support modification, which is required when either `ena_support` or \
                 `sriov_support` are set. Please ensure you use an AMI that already has either SR-IOV or ENA enabled.",
            )
            .at_opt(node.span_of(if ami.sriov_support { "sriov_support" } else { "ena_support" })),
        );
    }
    if ami.skip_save_build_region && ami.ami_regions.is_empty() {
        d.push(
            Diagnostic::error("skip_save_build_region keeps only the copies, but ami_regions names no other region")
                .at_opt(node.span_of("skip_save_build_region"))
                .with_help("add the regions to copy to in \"ami_regions\", or remove skip_save_build_region"),
        );
    }
}

#[cfg(test)]
mod tests;
