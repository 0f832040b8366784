//! The build instance: launch it and wait until it runs, find its address, stop it, and set
//! its networking attributes; terminate it in the cleanup.

use std::time::Duration;

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{
    DescribeBy, DescribeInstances, Filter, Instance, InstanceAttribute, MetadataOptions, NetworkInterfaceSpec,
    RunInstances, Secret, TagSpecification,
};
use crate::common::block_device::no_ephemeral_mappings;
use crate::common::{aws_error, journal, names};
use crate::ebs::state::LaunchHandle;
use crate::ebs::State;

pub struct StepRunInstance;

#[async_trait]
impl Step<State> for StepRunInstance {
    fn name(&self) -> &'static str {
        "StepRunSourceInstance"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let input = launch_input(state, ctx)?;
        let token = names::time_ordered_uuid();
        state.launch = Some(LaunchHandle { client_token: token.clone(), instance_id: None });
        // What finds the instance if RunInstances' answer is lost (moto and some EC2 look-alikes
        // cannot filter by client token).
        let group = state.temporary_group.as_ref().and_then(|g| g.id.clone()).unwrap_or_default();
        let key = state.temporary_key.as_ref().filter(|k| k.created).map(|k| k.name.clone()).unwrap_or_default();
        let traces = [(journal::GROUP_ID, group.as_str()), (journal::KEY_NAME, key.as_str())];
        state.journal.record(&ctx.ui, journal::INSTANCE, &token, &state.region, &traces);
        let input = RunInstances { client_token: Some(token.clone()), ..input };
        let launched = match run_instances(state, &input).await {
            Ok(l) => l,
            Err(e) => {
                if matches!(e, crate::client::Error::Service(_)) {
                    state.launch = None;
                    state.journal.forget(&ctx.ui, journal::INSTANCE, &token);
                }
                if e.code() == Some("VPCIdNotSpecified") {
                    return Err(Error::new("Error launching source instance: a valid Subnet Id was not specified"));
                }
                return Err(aws_error(e, "Error launching source instance"));
            }
        };
        let Some(id) = launched.into_iter().next().map(|i| i.instance_id) else {
            return Err(Error::new("Error launching source instance: EC2 returned no instance"));
        };
        if let Some(l) = &mut state.launch {
            l.instance_id = Some(id.clone());
        }
        state.journal.update(&ctx.ui, journal::INSTANCE, &token, &id);
        ctx.ui.message(format!("Instance ID: {id}"));
        ctx.ui.say(format!("Waiting for instance ({id}) to become ready..."));
        let instance = state
            .ec2
            .wait_instance_running(&id, &state.waits.instance, ctx.cancel.cancelled())
            .await
            .map_err(|e| aws_error(e, format!("Error waiting for instance ({id}) to become ready")))?;
        if ctx.info.debug {
            for (what, v) in [
                ("Public DNS", &instance.public_dns_name),
                ("Public IP", &instance.public_ip_address),
                ("Private IP", &instance.private_ip_address),
            ] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    ctx.ui.message(format!("{what}: {v}"));
                }
            }
        }
        // Volumes of the AMI that outlive the instance and were not asked for: Packer deletes them.
        let asked: Vec<&str> =
            state.settings.ebs.launch_block_device_mappings.iter().map(|b| b.device_name.as_str()).collect();
        state.orphan_volume_candidates = instance
            .block_devices
            .iter()
            .filter(|b| b.delete_on_termination == Some(false) && !asked.contains(&b.device_name.as_str()))
            .map(|b| b.volume_id.clone())
            .collect();
        if !state.orphan_volume_candidates.is_empty() {
            let volumes = state.orphan_volume_candidates.join(",");
            state.journal.set_param(&ctx.ui, journal::INSTANCE, &id, journal::VOLUMES, &volumes);
        }
        state.generated.insert("InstanceId".into(), id);
        state.instance = Some(instance);
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        let l = state.launch.as_ref()?;
        Some(match &l.instance_id {
            Some(id) => format!("terminating instance {id}"),
            None => format!("terminating the instance launched with client token {}, if any", l.client_token),
        })
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let launch = state.launch.clone();
        if let Some(launch) = &launch {
            terminate(state, ctx, launch).await;
        }
        delete_volumes(state, ctx).await;
        // Crossed out once the instance is gone and the volumes it kept were deleted (recorded
        // by client token until its id came).
        if let Some(l) = launch.filter(|_| state.launch.is_none()) {
            for id in l.instance_id.iter().chain([&l.client_token]) {
                state.journal.forget(&ctx.ui, journal::INSTANCE, id);
            }
        }
    }
}

/// Deletes the volumes the instance kept that the template did not ask for, once free.
async fn delete_volumes(state: &mut State, ctx: &RunContext) {
    ctx.ui.say("Cleaning up any extra volumes...");
    let candidates = std::mem::take(&mut state.orphan_volume_candidates);
    if candidates.is_empty() {
        ctx.ui.say("No volumes to clean up, skipping");
        return;
    }
    let volumes = match state.ec2.describe_volumes(&DescribeBy::ids(candidates.clone())).await {
        Ok(v) => v,
        Err(e) => {
            ctx.ui.error(format!("Error describing volumes {}: {e}", candidates.join(", ")));
            return;
        }
    };
    let free: Vec<_> = volumes.into_iter().filter(|v| v.state == "available").collect();
    if free.is_empty() {
        ctx.ui.say("No volumes to clean up, skipping");
    }
    for v in free {
        ctx.ui.say(format!("Destroying volume ({})...", v.volume_id));
        if let Err(e) = state.ec2.delete_volume(&v.volume_id).await {
            ctx.ui.say(format!("Error deleting volume: {e}"));
        }
    }
}

/// RunInstances, retried while a new instance profile is not visible yet (as Packer does);
/// the client token makes the retries safe.
async fn run_instances(state: &State, input: &RunInstances) -> crate::client::Result<Vec<Instance>> {
    let mut delay = Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match state.ec2.run_instances(input).await {
            Err(e)
                if attempt < 11
                    && input.iam_instance_profile.is_some()
                    && e.code() == Some("InvalidParameterValue")
                    && e.to_string().contains("iamInstanceProfile") =>
            {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            r => return r,
        }
    }
}

/// RunInstances' input from the options and what the earlier steps found.
fn launch_input(state: &State, ctx: &RunContext) -> Result<RunInstances> {
    let s = state.settings.clone();
    let (run, ebs) = (&s.run, &s.ebs);
    let Some(image) = &state.source_image else { return Err(Error::new("no source AMI")) };
    ctx.ui.say("Launching a source AWS instance...");
    if image.root_device_type.as_deref().is_some_and(|t| t != "ebs") {
        return Err(Error::new(format!(
            "The provided source AMI has an invalid root device type.\nExpected 'ebs', got '{}'.",
            image.root_device_type.as_deref().unwrap_or("")
        )));
    }
    let user_data = match (&run.user_data, &run.user_data_file) {
        (Some(d), _) if !d.is_empty() => Some(d.clone().into_bytes()),
        (_, Some(f)) if !f.is_empty() => {
            Some(std::fs::read(f).map_err(|e| Error::new(format!("Problem reading user data file: {e}")))?)
        }
        _ => None,
    };

    ctx.ui.say("Adding tags to source instance");
    let mut run_tags = run.run_tags.clone();
    run_tags.entry("Name".into()).or_insert_with(|| "Packer Builder".into());
    if run.is_spot() {
        // One-time spot instances have no separate request to tag.
        run_tags.extend(run.spot_tags.clone());
    }
    let instance_tags = super::render_tags(state, &run_tags, "run_tags")?;
    let volume_tags = super::render_tags(state, &ebs.run_volume_tags, "run_volume_tags")?;
    super::report_tags(&ctx.ui, &instance_tags);
    super::report_tags(&ctx.ui, &volume_tags);

    let mut mappings: Vec<_> = ebs.launch_block_device_mappings.iter().map(|b| b.mapping()).collect();
    if ebs.no_ephemeral {
        mappings.extend(no_ephemeral_mappings().iter().map(|b| b.mapping()));
    }
    let mut input = RunInstances {
        image_id: image.image_id.clone(),
        instance_type: run.launch_type(),
        key_name: state.key_name.clone(),
        user_data: user_data.map(Secret::new),
        iam_instance_profile: run.iam_instance_profile.clone().filter(|p| !p.is_empty()),
        block_device_mappings: mappings,
        tag_specifications: vec![
            TagSpecification { resource_type: "instance".into(), tags: instance_tags },
            TagSpecification { resource_type: "volume".into(), tags: volume_tags },
        ],
        ebs_optimized: Some(run.ebs_optimized),
        instance_initiated_shutdown_behavior: Some(run.shutdown_behavior.clone().unwrap_or_else(|| "stop".into())),
        tenancy: run.tenancy(),
        metadata_options: run.metadata_options.as_ref().map(|m| MetadataOptions {
            http_endpoint: m.http_endpoint.clone(),
            http_tokens: m.http_tokens.clone(),
            http_put_response_hop_limit: m.http_put_response_hop_limit,
            instance_metadata_tags: m.instance_metadata_tags.clone(),
        }),
        cpu_credits: (run.enable_t2_unlimited || run.enable_unlimited_credits).then(|| "unlimited".to_string()),
        host_id: run.placement.as_ref().and_then(|p| p.host_id.clone()).filter(|h| !h.is_empty()),
        enclave: run.enable_nitro_enclave,
        capacity_reservation_preference: run.capacity_reservation_preference.clone().filter(|v| !v.is_empty()),
        capacity_reservation_id: run.capacity_reservation_id.clone().filter(|v| !v.is_empty()),
        capacity_reservation_group_arn: run.capacity_reservation_group_arn.clone().filter(|v| !v.is_empty()),
        license_configuration_arns: (run.license_specifications.iter())
            .map(|l| l.license_configuration_request.license_configuration_arn.clone())
            .collect(),
        ..RunInstances::default()
    };
    if run.is_spot() {
        input.spot_max_price = Some(run.spot_price.clone().filter(|p| p != "auto"));
    }
    match (&state.subnet_id, run.associate_public_ip_address) {
        (Some(subnet), Some(public)) => {
            input.network_interfaces = vec![NetworkInterfaceSpec {
                device_index: 0,
                subnet_id: Some(subnet.clone()),
                security_group_ids: state.security_group_ids.clone(),
                associate_public_ip_address: Some(public),
                delete_on_termination: Some(true),
            }];
        }
        (subnet, _) => {
            input.subnet_id = subnet.clone();
            input.security_group_ids = state.security_group_ids.clone();
            if subnet.is_none() {
                input.availability_zone = state.availability_zone.clone();
            }
        }
    }
    Ok(input)
}

/// Terminates the instance (found by its client token when RunInstances' answer was lost)
/// and waits until it is gone, so its security group can be deleted.
async fn terminate(state: &mut State, ctx: &RunContext, launch: &LaunchHandle) {
    let id = match &launch.instance_id {
        Some(id) => id.clone(),
        None => {
            let found = state
                .ec2
                .describe_instances(&DescribeInstances {
                    filters: lost_launch_filter(state, launch),
                    ..DescribeInstances::default()
                })
                .await;
            match found {
                Ok(list) => match list.into_iter().find(|i| i.state.name != "terminated") {
                    Some(i) => i.instance_id,
                    None => {
                        state.launch = None;
                        return;
                    }
                },
                Err(e) => {
                    ctx.ui.error(format!(
                        "Could not tell whether an instance was launched with client token {} ({e}); check the EC2 console",
                        launch.client_token
                    ));
                    return;
                }
            }
        }
    };
    ctx.ui.say("Terminating the source AWS instance...");
    match state.ec2.terminate_instances(std::slice::from_ref(&id)).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {}
        Err(e) => {
            ctx.ui.error(format!("Error terminating instance, may still be around: {e}"));
            return;
        }
    }
    match state.ec2.wait_instance_terminated(&id, &state.waits.instance, ctx.cancel.cancelled()).await {
        Ok(()) => state.launch = None,
        Err(e) => ctx.ui.error(format!("Error waiting for instance {id} to terminate: {e}")),
    }
}

/// How to find an instance whose RunInstances answer never came: by the build's temporary
/// group or key pair (nothing else uses them), else by the launch's client token.
fn lost_launch_filter(state: &State, launch: &LaunchHandle) -> Vec<Filter> {
    if let Some(id) = state.temporary_group.as_ref().and_then(|g| g.id.as_deref()) {
        vec![Filter::new("instance.group-id", [id])]
    } else if let Some(k) = state.temporary_key.as_ref().filter(|k| k.created) {
        vec![Filter::new("key-name", [k.name.as_str()])]
    } else {
        vec![Filter::new("client-token", [launch.client_token.as_str()])]
    }
}

/// Where the communicator connects: `ssh_host`, or the instance's address per `ssh_interface`.
pub struct StepInstanceAddress;

#[async_trait]
impl Step<State> for StepInstanceAddress {
    fn name(&self) -> &'static str {
        "StepInstanceAddress"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        if s.comm.kind() == "none" {
            return Ok(());
        }
        if let Some(h) = s.comm.ssh_host.clone().filter(|h| !h.is_empty()) {
            state.ssh_host = Some(h);
            return Ok(());
        }
        let Some(id) = state.instance_id().map(String::from) else { return Err(Error::new("no instance")) };
        // Addresses can show up a moment after "running": look again a couple of times.
        for attempt in 0..3 {
            if let Some(i) = &state.instance {
                if let Some(h) = address(i, s.run.ssh_interface.as_deref()) {
                    ctx.ui.log(format!("Using host value: {h}"));
                    state.ssh_host = Some(h);
                    return Ok(());
                }
            }
            if attempt == 2 {
                break;
            }
            ctx.cancel.run(tokio::time::sleep(Duration::from_secs(2))).await?;
            let fresh = state.ec2.describe_instance(&id).await.map_err(|e| aws_error(e, "describing the instance"))?;
            state.instance = Some(fresh);
        }
        Err(Error::new(format!(
            "couldn't determine address for instance {id} (ssh_interface {:?})",
            s.run.ssh_interface.as_deref().unwrap_or("")
        )))
    }
}

/// The instance's address as Packer picks it.
fn address(i: &Instance, interface: Option<&str>) -> Option<String> {
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    match interface.unwrap_or("") {
        "public_ip" => nonempty(&i.public_ip_address),
        "private_ip" => nonempty(&i.private_ip_address),
        "public_dns" => nonempty(&i.public_dns_name),
        "private_dns" => nonempty(&i.private_dns_name),
        _ if i.vpc_id.as_deref().is_some_and(|v| !v.is_empty()) => {
            nonempty(&i.public_ip_address).or_else(|| nonempty(&i.private_ip_address))
        }
        _ => nonempty(&i.public_dns_name),
    }
}

/// Stops the instance so its volumes are consistent for the image.
pub struct StepStopInstance;

#[async_trait]
impl Step<State> for StepStopInstance {
    fn name(&self) -> &'static str {
        "StepStopEBSBackedInstance"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        // A one-time spot instance cannot be stopped; CreateImage reboots it instead.
        if s.run.is_spot() {
            return Ok(());
        }
        let Some(id) = state.instance_id().map(String::from) else { return Err(Error::new("no instance")) };
        if s.run.disable_stop_instance {
            ctx.ui.say("Automatic instance stop disabled. Please stop instance manually.");
        } else {
            ctx.ui.say("Stopping the source instance...");
            ctx.ui.message("Stopping instance");
            let mut delay = Duration::from_secs(2);
            for attempt in 1.. {
                match state.ec2.stop_instances(std::slice::from_ref(&id), false).await {
                    Ok(_) => break,
                    Err(e) if e.is_not_found() && attempt < 6 => {
                        ctx.cancel.run(tokio::time::sleep(delay)).await?;
                        delay = (delay * 2).min(Duration::from_secs(60));
                    }
                    Err(e) => return Err(aws_error(e, "Error stopping instance")),
                }
            }
        }
        ctx.ui.say("Waiting for the instance to stop...");
        let stopped = state
            .ec2
            .wait_instance_stopped(&id, &state.waits.instance, ctx.cancel.cancelled())
            .await
            .map_err(|e| aws_error(e, "Error waiting for instance to stop"))?;
        state.instance = Some(stopped);
        Ok(())
    }
}

/// `sriov_support` and `ena_support` on the stopped instance, so the AMI has them.
pub struct StepModifyInstance;

#[async_trait]
impl Step<State> for StepModifyInstance {
    fn name(&self) -> &'static str {
        "StepModifyEBSBackedInstance"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let Some(id) = state.instance_id().map(String::from) else { return Ok(()) };
        if s.ami.sriov_support {
            ctx.ui.say("Enabling Enhanced Networking (SR-IOV)...");
            state
                .ec2
                .modify_instance_attribute(&id, &InstanceAttribute::SriovNetSupport("simple".into()))
                .await
                .map_err(|e| aws_error(e, format!("Error enabling Enhanced Networking (SR-IOV) on {id}")))?;
        }
        if let Some(on) = s.ami.ena_support {
            let verb = if on { "Enabling" } else { "Disabling" };
            ctx.ui.say(format!("{verb} Enhanced Networking (ENA)..."));
            state.ec2.modify_instance_attribute(&id, &InstanceAttribute::EnaSupport(on)).await.map_err(|e| {
                aws_error(e, format!("Error {} Enhanced Networking (ENA) on {id}", verb.to_lowercase()))
            })?;
        }
        Ok(())
    }
}
