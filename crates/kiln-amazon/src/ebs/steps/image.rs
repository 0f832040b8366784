//! The AMI: deregister an old one of the same name (`force_deregister`), make it from the
//! stopped instance, copy it to `ami_regions` (encrypting when asked). On failure or
//! cancellation the cleanups deregister what was made and delete its snapshots.

use std::time::Duration;

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{CopyImage, CreateImage, DescribeImages, Ec2Client, Filter, TagSpecification};
use crate::common::artifact::destroy_ami;
use crate::common::{aws_error, journal, names, tags};
use crate::ebs::state::{ImageHandle, ImageRole};
use crate::ebs::State;

/// Removes existing AMIs of the same name (`force_deregister`, `-force`).
pub struct StepDeregisterAmi;

#[async_trait]
impl Step<State> for StepDeregisterAmi {
    fn name(&self) -> &'static str {
        "StepDeregisterAMI"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        if !(s.ami.force_deregister || s.force) {
            return Ok(());
        }
        let name = super::prevalidate::ami_name(state)?;
        let mut regions = vec![state.region.clone()];
        regions.extend(s.ami.ami_regions.iter().filter(|r| **r != state.region).cloned());
        for region in regions {
            let ec2 = state.ec2.in_region(&region).map_err(|e| aws_error(e, "Error describing AMI"))?;
            let old = ec2
                .describe_images(&DescribeImages {
                    owners: vec!["self".into()],
                    filters: vec![Filter::new("name", [name.as_str()])],
                    ..DescribeImages::default()
                })
                .await
                .map_err(|e| aws_error(e, "Error describing AMI"))?;
            for image in old {
                ec2.deregister_image(&image.image_id)
                    .await
                    .map_err(|e| aws_error(e, "Error deregistering existing AMI"))?;
                ctx.ui.say(format!("Deregistered AMI {name}, id: {}", image.image_id));
                if s.ami.force_delete_snapshot {
                    for snap in image.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()) {
                        ec2.delete_snapshot(&snap)
                            .await
                            .map_err(|e| aws_error(e, "Error deleting existing snapshot"))?;
                        ctx.ui.say(format!("Deleted snapshot: {snap}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// True when the AMI made from the instance is only a step towards the kept ones.
fn intermediary(state: &State) -> bool {
    state.settings.ami.encrypt_boot == Some(true) || state.settings.ami.skip_save_build_region
}

fn description(state: &State) -> Result<Option<String>> {
    match state.settings.ami.ami_description.as_deref().filter(|d| !d.is_empty()) {
        Some(d) => tags::render(d, &state.build_data, "ami_description").map(Some).map_err(Error::new),
        None => Ok(None),
    }
}

/// Makes the AMI from the instance and waits until it is available.
pub struct StepCreateImage;

#[async_trait]
impl Step<State> for StepCreateImage {
    fn name(&self) -> &'static str {
        "stepCreateAMI"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let Some(instance_id) = state.instance_id().map(String::from) else { return Err(Error::new("no instance")) };
        let keep = !intermediary(state);
        // An intermediary AMI gets a name of its own: the final name goes to the copies.
        let name = if keep { super::prevalidate::ami_name(state)? } else { names::temporary_name() };
        let mut input = CreateImage {
            instance_id: instance_id.clone(),
            name: name.clone(),
            description: description(state)?,
            block_device_mappings: s.ebs.ami_block_device_mappings.iter().map(|b| b.mapping()).collect(),
            ..CreateImage::default()
        };
        let image_tags = if keep { super::render_tags(state, &s.ami.tags, "tags")? } else { Default::default() };
        input.tag_specifications = vec![TagSpecification { resource_type: "image".into(), tags: image_tags.clone() }];

        ctx.ui.say(format!("Creating AMI {name} from instance {instance_id}"));
        state.images.push(ImageHandle {
            tagged: !image_tags.is_empty(),
            ..ImageHandle::new(&state.region, &name, ImageRole::Original)
        });
        state.journal.record(&ctx.ui, journal::IMAGE, &name, &state.region, &[]);
        let id = match create_image(state, ctx, &input).await {
            Ok(id) => id,
            Err(e) => {
                if matches!(e, crate::client::Error::Service(_)) {
                    state.images.retain(|h| h.role != ImageRole::Original);
                    state.journal.forget(&ctx.ui, journal::IMAGE, &name);
                }
                return Err(aws_error(e, "Error creating AMI"));
            }
        };
        state.journal.update(&ctx.ui, journal::IMAGE, &name, &id);
        set_id(state, ImageRole::Original, &state.region.clone(), &id);
        ctx.ui.message(format!("AMI: {id}"));
        ctx.ui.say("Waiting for AMI to become ready...");
        let image = state
            .ec2
            .wait_image_available(&id, &state.waits.image, ctx.cancel.cancelled())
            .await
            .map_err(|e| aws_error(e, "Error waiting for AMI"))?;
        let snaps = image.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()).collect();
        if let Some(h) = state.images.iter_mut().find(|h| h.role == ImageRole::Original) {
            h.snapshot_ids = snaps;
        }
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        describe_handles(state, &[ImageRole::Original])
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, outcome: Outcome) {
        if !(outcome.failed || outcome.cancelled) {
            // The build's result: no longer the journal's business.
            forget_handles(state, ctx, &[ImageRole::Original]);
            return;
        }
        if !state.images.iter().any(|h| h.role == ImageRole::Original) {
            return;
        }
        ctx.ui.say("Deregistering the AMI and deleting associated snapshots because of cancellation, or error...");
        destroy_handles(state, ctx, &[ImageRole::Original]).await;
    }
}

/// CreateImage, retried while the instance is still on its way to a state EC2 takes.
async fn create_image(state: &State, ctx: &RunContext, input: &CreateImage) -> crate::client::Result<String> {
    let mut delay = Duration::from_millis(500);
    let deadline = std::time::Instant::now() + Duration::from_secs(15 * 60);
    loop {
        match state.ec2.create_image(input).await {
            Err(e)
                if e.code() == Some("InvalidParameterValue")
                    && e.to_string().contains("Instance is not in state")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::select! {
                    _ = ctx.cancel.cancelled() => return Err(crate::client::Error::Cancelled),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
            r => return r,
        }
    }
}

fn set_id(state: &mut State, role: ImageRole, region: &str, id: &str) {
    if let Some(h) = state.images.iter_mut().find(|h| h.role == role && h.region == region) {
        h.image_id = Some(id.to_string());
    }
}

fn describe_handles(state: &State, roles: &[ImageRole]) -> Option<String> {
    let list: Vec<String> = state
        .images
        .iter()
        .filter(|h| roles.contains(&h.role))
        .map(|h| format!("{} in {}", h.image_id.as_deref().unwrap_or(&h.name), h.region))
        .collect();
    (!list.is_empty()).then(|| format!("deregistering AMI {} and deleting its snapshots", list.join(", ")))
}

/// Deregisters the AMIs of `roles` (found by name when their id never came) and deletes
/// their snapshots.
async fn destroy_handles(state: &mut State, ctx: &RunContext, roles: &[ImageRole]) {
    let handles: Vec<ImageHandle> = state.images.iter().filter(|h| roles.contains(&h.role)).cloned().collect();
    for h in handles {
        let ids = match &h.image_id {
            Some(id) => Ok(vec![id.clone()]),
            None => find_by_name(&state.ec2, &h.region, &h.name).await,
        };
        let ids = match ids {
            Ok(ids) => ids,
            Err(e) => {
                ctx.ui.error(format!(
                    "Error looking for AMI {} in {}: {e}; delete it by hand if it exists",
                    h.name, h.region
                ));
                continue;
            }
        };
        let mut ok = true;
        for id in ids {
            match destroy_ami(&state.ec2, &h.region, &id).await {
                Ok(snaps) => {
                    ctx.ui.say(format!("Deregistered AMI id: {id}"));
                    for s in snaps {
                        ctx.ui.say(format!("Deleted snapshot: {s}"));
                    }
                }
                Err(e) => {
                    ok = false;
                    ctx.ui.error(format!("Error deregistering AMI {id} in {}: {e}", h.region));
                }
            }
        }
        if ok {
            state.images.retain(|x| x != &h);
            forget(state, ctx, &h);
        }
    }
}

/// Crosses an AMI out of the cleanup journal (recorded by name until its id came).
fn forget(state: &State, ctx: &RunContext, h: &ImageHandle) {
    for id in h.image_id.iter().chain([&h.name]) {
        state.journal.forget(&ctx.ui, journal::IMAGE, id);
    }
}

/// Crosses the finished AMIs of `roles` out of the cleanup journal.
fn forget_handles(state: &State, ctx: &RunContext, roles: &[ImageRole]) {
    for h in state.images.iter().filter(|h| roles.contains(&h.role)) {
        forget(state, ctx, h);
    }
}

async fn find_by_name(ec2: &Ec2Client, region: &str, name: &str) -> crate::client::Result<Vec<String>> {
    let ec2 = ec2.in_region(region)?;
    let found = ec2
        .describe_images(&DescribeImages {
            owners: vec!["self".into()],
            filters: vec![Filter::new("name", [name])],
            ..DescribeImages::default()
        })
        .await?;
    Ok(found.into_iter().map(|i| i.image_id).collect())
}

/// Copies the AMI to `ami_regions`, and to the build region encrypted with `encrypt_boot`.
pub struct StepCopyImage;

#[async_trait]
impl Step<State> for StepCopyImage {
    fn name(&self) -> &'static str {
        "StepAMIRegionCopy"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let ami = &s.ami;
        let Some(source) = state.images.iter().find(|h| h.role == ImageRole::Original).and_then(|h| h.image_id.clone())
        else {
            return Err(Error::new("no AMI to copy"));
        };
        let encrypt = ami.encrypt_boot == Some(true);
        let mut targets: Vec<(String, ImageRole)> =
            ami.ami_regions.iter().filter(|r| **r != state.region).map(|r| (r.clone(), ImageRole::Copy)).collect();
        if encrypt {
            targets.insert(0, (state.region.clone(), ImageRole::EncryptedCopy));
        }
        if targets.is_empty() {
            return Ok(());
        }
        let name = super::prevalidate::ami_name(state)?;
        let description = description(state)?;
        ctx.ui.say(format!("Copying/Encrypting AMI ({source}) to other regions..."));
        let mut copies = Vec::new();
        for (region, role) in targets {
            ctx.ui.message(format!("Copying to: {region}"));
            let kms_key_id = if encrypt {
                let key = ami.region_kms_key_ids.get(&region).cloned();
                let key = if region == state.region { ami.kms_key_id.clone().or(key) } else { key };
                key.filter(|k| !k.is_empty())
            } else {
                None
            };
            let ec2 =
                state.ec2.in_region(&region).map_err(|e| aws_error(e, "Error getting region connection for copy"))?;
            state.images.push(ImageHandle::new(&region, &name, role));
            state.journal.record(&ctx.ui, journal::IMAGE, &name, &region, &[]);
            let input = CopyImage {
                source_image_id: source.clone(),
                source_region: state.region.clone(),
                name: name.clone(),
                description: description.clone(),
                encrypted: encrypt.then_some(true),
                kms_key_id,
                client_token: Some(names::time_ordered_uuid()),
                snapshot_copy_completion_minutes: ami.snapshot_copy_duration_minutes,
            };
            match ec2.copy_image(&input).await {
                Ok(id) => {
                    state.journal.update(&ctx.ui, journal::IMAGE, &name, &id);
                    set_id(state, role, &region, &id);
                    copies.push((ec2, region, role, id));
                }
                Err(e) => {
                    if matches!(e, crate::client::Error::Service(_)) {
                        state.images.retain(|h| !(h.role == role && h.region == region));
                        state.journal.forget(&ctx.ui, journal::IMAGE, &name);
                    }
                    return Err(aws_error(e, format!("Error Copying AMI ({source}) to region ({region})")));
                }
            }
        }
        ctx.ui.message("Waiting for all copies to complete...");
        // The copies run at once on AWS's side; waiting for them one after the other takes
        // as long as waiting for the slowest.
        for (ec2, region, role, id) in copies {
            let image = ec2
                .wait_image_available(&id, &state.waits.image, ctx.cancel.cancelled())
                .await
                .map_err(|e| aws_error(e, format!("Error waiting for AMI ({id}) in region ({region})")))?;
            let snaps =
                image.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()).collect();
            if let Some(h) = state.images.iter_mut().find(|h| h.role == role && h.region == region) {
                h.snapshot_ids = snaps;
            }
        }
        if intermediary(state) {
            ctx.ui.say("Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots");
            destroy_handles(state, ctx, &[ImageRole::Original]).await;
        }
        Ok(())
    }

    fn cleans(&self, state: &State) -> Option<String> {
        describe_handles(state, &[ImageRole::Copy, ImageRole::EncryptedCopy])
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, outcome: Outcome) {
        if !(outcome.failed || outcome.cancelled) {
            forget_handles(state, ctx, &[ImageRole::Copy, ImageRole::EncryptedCopy]);
            return;
        }
        if !state.images.iter().any(|h| matches!(h.role, ImageRole::Copy | ImageRole::EncryptedCopy)) {
            return;
        }
        ctx.ui.say("Deregistering the AMI copies and deleting their snapshots because of cancellation, or error...");
        destroy_handles(state, ctx, &[ImageRole::Copy, ImageRole::EncryptedCopy]).await;
    }
}
