//! Finds the source AMI (`source_ami`, or `source_ami_filter` with its owners and
//! `most_recent`) and sets the build data templates use.

use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{DescribeImages, Filter, Image};
use crate::common::aws_error;
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
        let mut input = DescribeImages::default();
        if let Some(id) = run.source_ami.as_deref().filter(|i| !i.is_empty()) {
            input.image_ids.push(id.to_string());
        }
        let mut most_recent = false;
        if let Some(f) = &run.source_ami_filter {
            input.owners = f.owners.clone();
            input.filters = f.filters.iter().map(|(k, v)| Filter::new(k, [v])).collect();
            most_recent = f.most_recent;
        }
        let mut images = state.ec2.describe_images(&input).await.map_err(|e| aws_error(e, "Error querying AMI"))?;
        if images.is_empty() {
            return Err(Error::new(format!(
                "No AMI was found matching {} in {}",
                describe_query(&input),
                state.region
            )));
        }
        if images.len() > 1 && !most_recent {
            let names: Vec<String> = images.iter().take(5).map(|i| format!("{} ({})", i.image_id, i.name)).collect();
            return Err(Error::new(format!(
                "Your query returned more than one result. Please try a more specific search, or set most_recent to true. Found {}: {}{}",
                images.len(),
                names.join(", "),
                if images.len() > 5 { ", …" } else { "" }
            )));
        }
        // ISO 8601 dates sort as strings; an image without a date is the oldest.
        images.sort_by(|a, b| a.creation_date.cmp(&b.creation_date).then_with(|| a.image_id.cmp(&b.image_id)));
        let Some(image) = images.pop() else { return Err(Error::new("No AMI was found")) };
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

/// The query in words, for "nothing matched": owners, ids and each filter.
fn describe_query(input: &DescribeImages) -> String {
    let mut parts = Vec::new();
    if !input.image_ids.is_empty() {
        parts.push(format!("source_ami {}", input.image_ids.join(", ")));
    }
    if !input.filters.is_empty() || !input.owners.is_empty() {
        let filters: Vec<String> =
            input.filters.iter().map(|f| format!("{} = {:?}", f.name, f.values.join(","))).collect();
        parts.push(format!("source_ami_filter {{ owners [{}], {} }}", input.owners.join(", "), filters.join(", ")));
    }
    parts.join(" and ")
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
