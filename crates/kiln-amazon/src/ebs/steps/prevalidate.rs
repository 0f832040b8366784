//! Checks before anything is made: the credentials, the VPC, the region, and that the AMI's
//! name is free in every region it will be made in.

use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{DescribeBy, DescribeImages, Filter, StsClient};
use crate::common::{aws_error, regions, tags};
use crate::ebs::State;

pub struct StepPreValidate;

#[async_trait]
impl Step<State> for StepPreValidate {
    fn name(&self) -> &'static str {
        "StepPreValidate"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        if !s.access.skip_credential_validation {
            StsClient::new(state.ec2.config()).get_caller_identity().await.map_err(|e| {
                aws_error(e, "checking the AWS credentials (STS GetCallerIdentity); set skip_credential_validation to skip this check")
            })?;
        }
        // A region from the environment or a profile was not checked at prepare time.
        if !s.ami.skip_region_validation && !regions::is_known(&state.region) {
            let hint = regions::closest(&state.region).map(|r| format!(" (did you mean {r:?}?)")).unwrap_or_default();
            return Err(Error::new(format!(
                "unknown region {:?}{hint}; set skip_region_validation for a region kiln does not know yet",
                state.region
            )));
        }
        if s.ebs.skip_create_ami {
            ctx.ui.say("skip_create_ami is set: no AMI will be made, so its name is not checked");
            return Ok(());
        }
        if s.ami.force_deregister || s.force {
            ctx.ui.say("Force Deregister flag found, skipping prevalidating AMI Name");
            return Ok(());
        }
        ctx.ui.say("Prevalidating any provided VPC information");
        check_vpc(state).await?;
        if s.ami.ami_name.contains("{{") {
            // The name uses the build data: checked once the source AMI is known.
            return Ok(());
        }
        check_name_free(state, ctx, &s.ami.ami_name).await
    }
}

/// A `vpc_id` without a subnet must be the default VPC (elsewhere EC2 needs a subnet).
async fn check_vpc(state: &State) -> Result<()> {
    let r = &state.settings.run;
    let Some(vpc) = r.vpc_id.as_deref().filter(|v| !v.is_empty()) else { return Ok(()) };
    if r.subnet_id.as_deref().is_some_and(|s| !s.is_empty()) || r.subnet_filter.is_some() {
        return Ok(());
    }
    let vpcs = state
        .ec2
        .describe_vpcs(&DescribeBy::ids([vpc]))
        .await
        .map_err(|e| aws_error(e, format!("Error retrieving VPC information for vpc_id {vpc}")))?;
    if vpcs.first().is_some_and(|v| !v.is_default) {
        return Err(Error::new(format!(
            "Error: subnet_id or subnet_filter must be provided for non-default VPCs ({vpc})"
        )));
    }
    Ok(())
}

/// Fails when an AMI of the caller's is named `name` in a region the build will make one in
/// (Packer checks the build region only; a copy region with the name taken would fail after
/// the whole build).
pub(super) async fn check_name_free(state: &State, ctx: &RunContext, name: &str) -> Result<()> {
    let s = &state.settings;
    ctx.ui.say(format!("Prevalidating AMI Name: {name}"));
    let mut regions = Vec::new();
    if !s.ami.skip_save_build_region {
        regions.push(state.region.clone());
    }
    regions.extend(s.ami.ami_regions.iter().filter(|r| **r != state.region).cloned());
    for region in regions {
        let ec2 = state.ec2.in_region(&region).map_err(|e| aws_error(e, "Error querying AMI"))?;
        let found = ec2
            .describe_images(&DescribeImages {
                owners: vec!["self".into()],
                filters: vec![Filter::new("name", [name])],
                ..DescribeImages::default()
            })
            .await
            .map_err(|e| aws_error(e, "Error querying AMI"))?;
        if let Some(i) = found.first() {
            return Err(Error::new(format!(
                "Error: AMI Name: '{}' is used by an existing AMI: {} (in {region}); set force_deregister (or run with -force) to replace it",
                i.name, i.image_id
            )));
        }
    }
    Ok(())
}

/// The AMI's name, rendered with the build data and checked as AWS does.
pub(super) fn ami_name(state: &State) -> Result<String> {
    let name = tags::render(&state.settings.ami.ami_name, &state.build_data, "ami_name").map_err(Error::new)?;
    if let Some(e) = crate::common::ami::check_ami_name(&name).into_iter().next() {
        return Err(Error::new(format!("ami_name {name:?}: {e}")));
    }
    Ok(name)
}
