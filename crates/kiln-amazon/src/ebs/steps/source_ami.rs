//! Finds the source AMI (`source_ami`, or `source_ami_filter` with its owners and
//! `most_recent`) and sets the build data templates use.

use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::Image;
use crate::common::find_image;
use crate::ebs::State;

pub struct StepSourceAmi;

#[async_trait]
impl Step<State> for StepSourceAmi {
    fn name(&self) -> &'static str {
        "StepSourceAMIInfo"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let run = &s.run;
        let ids: Vec<String> = run.source_ami.iter().filter(|i| !i.is_empty()).cloned().collect();
        let filter = run.source_ami_filter.as_ref();
        let input = find_image::query(&ids, filter);
        let most_recent = filter.is_some_and(|f| f.most_recent);
        let image = find_image::find_image(&state.ec2, &input, most_recent, "source_ami_filter").await?;
        ctx.ui.message(format!("Found Image ID: {}", image.image_id));
        check_networking(state, &image)?;
        set_build_data(state, &image);
        state.source_image = Some(image);
        if s.ami.ami_name.contains("{{") && !(s.ami.force_deregister || s.force) {
            let name = super::prevalidate::ami_name(state)?;
            super::prevalidate::check_name_free(state, ctx, &name).await?;
        }
        Ok(())
    }
}

/// ENA and SR-IOV need an HVM image (Packer's check).
fn check_networking(state: &State, image: &Image) -> Result<()> {
    let ami = &state.settings.ami;
    if ami.ena_support != Some(true) && !ami.sriov_support {
        return Ok(());
    }
    if let Some(v) = ami.ami_virtualization_type.as_deref().filter(|v| *v != "hvm") {
        return Err(Error::new(format!("Cannot enable enhanced networking, AMIVirtType '{v}' is not HVM")));
    }
    if image.virtualization_type.as_deref().is_some_and(|v| v != "hvm") {
        return Err(Error::new(format!(
            "Cannot enable enhanced networking, source AMI '{}' is not HVM",
            image.image_id
        )));
    }
    Ok(())
}

/// Packer's build data for templates (`{{ .SourceAMIName }}`) and generated data (`build.SourceAMI`).
fn set_build_data(state: &mut State, image: &Image) {
    let fields = [
        ("BuildRegion", state.region.clone()),
        ("SourceAMI", image.image_id.clone()),
        ("SourceAMIName", image.name.clone()),
        ("SourceAMIOwner", image.owner_id.clone()),
        ("SourceAMIOwnerName", image.owner_alias.clone().unwrap_or_default()),
        ("SourceAMICreationDate", image.creation_date.clone().unwrap_or_default()),
    ];
    for (k, v) in fields {
        state.build_data.insert(k.to_string(), v.clone());
        state.generated.insert(k.to_string(), v);
    }
    for (k, v) in &image.tags {
        state.build_data.insert(format!("SourceAMITags.{k}"), v.clone());
    }
}
