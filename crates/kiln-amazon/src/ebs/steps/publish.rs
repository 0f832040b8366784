//! The finished AMIs: who may launch them and their snapshots, product codes, and tags, in
//! every region. (The description is given when each AMI is made.)

use kiln_core::step::Step;
use kiln_core::{async_trait, Result, RunContext};

use crate::client::{LaunchPermission, ModifyImageAttribute, ModifySnapshotPermissions, Tags};
use crate::common::aws_error;
use crate::ebs::state::ImageHandle;
use crate::ebs::State;

/// Launch permissions (`ami_users`, `ami_groups`), `ami_product_codes`, and volume permissions
/// of the snapshots (`snapshot_users`, `snapshot_groups`).
pub struct StepModifyAttributes;

#[async_trait]
impl Step<State> for StepModifyAttributes {
    fn name(&self) -> &'static str {
        "StepModifyAMIAttributes"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let ami = &s.ami;
        let perms: Vec<LaunchPermission> = ami.launch_permissions();
        let imds = ami.imds_support.clone().filter(|v| !v.is_empty());
        let images: Vec<ImageHandle> = state.final_images().cloned().collect();
        for h in &images {
            let Some(id) = &h.image_id else { continue };
            if perms.is_empty() && ami.ami_product_codes.is_empty() && imds.is_none() {
                break;
            }
            let ec2 = state.ec2.in_region(&h.region).map_err(|e| aws_error(e, "Error modify AMI attributes"))?;
            ctx.ui.say(format!("Modifying attributes on AMI ({id})..."));
            if !perms.is_empty() {
                for (what, set) in [
                    ("users", !ami.ami_users.is_empty()),
                    ("groups", !ami.ami_groups.is_empty()),
                    ("organizations", !ami.ami_org_arns.is_empty()),
                    ("organizational units", !ami.ami_ou_arns.is_empty()),
                ] {
                    if set {
                        ctx.ui.message(format!("Modifying: {what}"));
                    }
                }
                let input = ModifyImageAttribute {
                    image_id: id.clone(),
                    add_launch_permissions: perms.clone(),
                    ..ModifyImageAttribute::default()
                };
                ec2.modify_image_attribute(&input).await.map_err(|e| aws_error(e, "Error modify AMI attributes"))?;
            }
            if !ami.ami_product_codes.is_empty() {
                ctx.ui.message("Modifying: product codes");
                let input = ModifyImageAttribute {
                    image_id: id.clone(),
                    product_codes: ami.ami_product_codes.clone(),
                    ..ModifyImageAttribute::default()
                };
                ec2.modify_image_attribute(&input).await.map_err(|e| aws_error(e, "Error modify AMI attributes"))?;
            }
            if let Some(v) = &imds {
                ctx.ui.message(format!("Modifying: IMDS support ({v})"));
                let input = ModifyImageAttribute {
                    image_id: id.clone(),
                    imds_support: Some(v.clone()),
                    ..ModifyImageAttribute::default()
                };
                ec2.modify_image_attribute(&input).await.map_err(|e| aws_error(e, "Error modify AMI attributes"))?;
            }
        }
        if ami.snapshot_users.is_empty() && ami.snapshot_groups.is_empty() {
            return Ok(());
        }
        for h in &images {
            let ec2 = state.ec2.in_region(&h.region).map_err(|e| aws_error(e, "Error modify snapshot attributes"))?;
            for snap in &h.snapshot_ids {
                ctx.ui.say(format!("Modifying attributes on snapshot ({snap})..."));
                ctx.ui.message("Modifying: create volume permission");
                let input = ModifySnapshotPermissions {
                    snapshot_id: snap.clone(),
                    add_users: ami.snapshot_users.clone(),
                    add_groups: ami.snapshot_groups.clone(),
                };
                ec2.modify_snapshot_permissions(&input)
                    .await
                    .map_err(|e| aws_error(e, "Error modify snapshot attributes"))?;
            }
        }
        Ok(())
    }
}

/// `tags` on every AMI and its snapshots, `snapshot_tags` on the snapshots, in every region.
pub struct StepCreateTags;

#[async_trait]
impl Step<State> for StepCreateTags {
    fn name(&self) -> &'static str {
        "StepCreateTags"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        if s.ami.tags.is_empty() && s.ami.snapshot_tags.is_empty() {
            return Ok(());
        }
        let ami_tags = super::render_tags(state, &s.ami.tags, "tags")?;
        let only_snapshot_tags = super::render_tags(state, &s.ami.snapshot_tags, "snapshot_tags")?;
        let mut snapshot_tags = ami_tags.clone();
        snapshot_tags.extend(only_snapshot_tags.clone());
        let images: Vec<ImageHandle> = state.final_images().cloned().collect();
        for h in &images {
            let Some(id) = &h.image_id else { continue };
            let ec2 = state.ec2.in_region(&h.region).map_err(|e| aws_error(e, "Error adding tags"))?;
            ctx.ui.say(format!("Adding tags to AMI ({id})..."));
            for snap in &h.snapshot_ids {
                ctx.ui.say(format!("Tagging snapshot: {snap}"));
            }
            ctx.ui.say("Creating AMI tags");
            super::report_tags(&ctx.ui, &ami_tags);
            ctx.ui.say("Creating snapshot tags");
            super::report_tags(&ctx.ui, &only_snapshot_tags);
            for (resources, tags) in tag_calls(h, id, &ami_tags, &snapshot_tags) {
                ec2.create_tags(&resources, &tags)
                    .await
                    .map_err(|e| aws_error(e, format!("Error adding tags to Resources ({})", resources.join(", "))))?;
            }
        }
        Ok(())
    }
}

/// The fewest CreateTags calls: the AMI and its snapshots together when they get the same
/// tags, and nothing for an AMI tagged when it was made.
fn tag_calls(h: &ImageHandle, id: &str, ami_tags: &Tags, snapshot_tags: &Tags) -> Vec<(Vec<String>, Tags)> {
    let snaps = h.snapshot_ids.clone();
    let mut calls = Vec::new();
    let ami_needs = !h.tagged && !ami_tags.is_empty();
    if ami_needs && ami_tags == snapshot_tags {
        let mut all = vec![id.to_string()];
        all.extend(snaps);
        calls.push((all, ami_tags.clone()));
        return calls;
    }
    if ami_needs {
        calls.push((vec![id.to_string()], ami_tags.clone()));
    }
    if !snaps.is_empty() && !snapshot_tags.is_empty() {
        calls.push((snaps, snapshot_tags.clone()));
    }
    calls
}

/// `deprecate_at` and `deregistration_protection` on every AMI, last: a protected AMI cannot be
/// deregistered, not even by a later step's failure.
pub struct StepImageLifecycle;

#[async_trait]
impl Step<State> for StepImageLifecycle {
    fn name(&self) -> &'static str {
        "StepImageLifecycle"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let deprecate_at = s.ami.deprecate_at.as_deref().filter(|t| !t.is_empty());
        let protection = s.ami.protection();
        if deprecate_at.is_none() && protection.is_none() {
            return Ok(());
        }
        let images: Vec<ImageHandle> = state.final_images().cloned().collect();
        for h in &images {
            let Some(id) = &h.image_id else { continue };
            let ec2 = state.ec2.in_region(&h.region).map_err(|e| aws_error(e, "Error on the AMI's lifecycle"))?;
            if let Some(t) = deprecate_at {
                ctx.ui.say(format!("Enabling deprecation on AMI ({id}) at {t}..."));
                ec2.enable_image_deprecation(id, t)
                    .await
                    .map_err(|e| aws_error(e, format!("Error enabling deprecation on AMI {id}")))?;
            }
            if let Some(p) = protection {
                let cooldown = if p.with_cooldown { " (with the 24-hour cool-down)" } else { "" };
                ctx.ui.say(format!("Enabling deregistration protection on AMI ({id}){cooldown}..."));
                ec2.enable_image_deregistration_protection(id, p.with_cooldown)
                    .await
                    .map_err(|e| aws_error(e, format!("Error enabling deregistration protection on AMI {id}")))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ebs::state::ImageRole;

    fn tags(p: &[(&str, &str)]) -> Tags {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fewest_calls() {
        let mut h = ImageHandle::new("us-west-2", "n", ImageRole::Copy);
        h.snapshot_ids = vec!["snap-1".into()];
        let t = tags(&[("a", "1")]);
        assert_eq!(tag_calls(&h, "ami-1", &t, &t), vec![(vec!["ami-1".to_string(), "snap-1".to_string()], t.clone())]);
        let st = tags(&[("a", "1"), ("s", "2")]);
        assert_eq!(tag_calls(&h, "ami-1", &t, &st).len(), 2);
        h.tagged = true;
        assert_eq!(tag_calls(&h, "ami-1", &t, &st), vec![(vec!["snap-1".to_string()], st)]);
    }
}
