//! The artifact of the amazon builders: AMIs by region (Packer's `mitchellh.amazonebs` artifact:
//! id `us-east-1:ami-…,us-west-2:ami-…`), and deleting them again.

use std::collections::BTreeMap;

use kiln_core::{Artifact, GeneratedData};
use serde_json::{json, Value};

use crate::client::Ec2Client;

/// AMIs made by a build, one per region.
#[derive(Debug, Clone)]
pub struct AmiArtifact {
    pub builder_id: String,
    /// region → AMI id.
    pub amis: BTreeMap<String, String>,
    /// The build's generated data (for post-processors and the manifest).
    pub generated_data: GeneratedData,
    /// A client of the build region (any region is reached from it), for `destroy`.
    pub ec2: Ec2Client,
}

impl AmiArtifact {
    /// Deregisters every AMI and deletes its snapshots, region by region; collects the errors.
    pub async fn destroy_async(&self) -> kiln_core::Result<()> {
        let mut errors = Vec::new();
        for (region, id) in &self.amis {
            if let Err(e) = destroy_ami(&self.ec2, region, id).await {
                errors.push(format!("{region}: {id}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(kiln_core::Error::new(format!("deleting the AMIs: {}", errors.join("; "))))
        }
    }
}

/// Deregisters `image_id` in `region` and deletes the snapshots it used; an image already gone
/// is not an error.
pub async fn destroy_ami(ec2: &Ec2Client, region: &str, image_id: &str) -> crate::client::Result<Vec<String>> {
    let ec2 = ec2.in_region(region)?;
    let image = match ec2.describe_image(image_id).await {
        Ok(i) => Some(i),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let snapshots: Vec<String> = image
        .iter()
        .flat_map(|i| &i.block_device_mappings)
        .filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone())
        .collect();
    if image.is_some() {
        match ec2.deregister_image(image_id).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    delete_snapshots(&ec2, &snapshots).await?;
    Ok(snapshots)
}

/// Deletes snapshots; ones already gone are fine.
pub async fn delete_snapshots(ec2: &Ec2Client, ids: &[String]) -> crate::client::Result<()> {
    for s in ids {
        match ec2.delete_snapshot(s).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[kiln_core::async_trait]
impl Artifact for AmiArtifact {
    fn builder_id(&self) -> &str {
        &self.builder_id
    }

    fn files(&self) -> Vec<String> {
        Vec::new()
    }

    fn id(&self) -> String {
        self.amis.iter().map(|(r, id)| format!("{r}:{id}")).collect::<Vec<_>>().join(",")
    }

    fn description(&self) -> String {
        let lines: Vec<String> = self.amis.iter().map(|(r, id)| format!("{r}: {id}")).collect();
        format!("AMIs were created:\n{}\n", lines.join("\n"))
    }

    fn state(&self, name: &str) -> Option<Value> {
        match name {
            "generated_data" => Some(json!(self.generated_data)),
            "atlas.artifact.metadata" => Some(json!(self
                .amis
                .iter()
                .map(|(r, id)| (format!("region.{r}"), id.clone()))
                .collect::<BTreeMap<_, _>>())),
            _ => None,
        }
    }

    async fn destroy(&self) -> kiln_core::Result<()> {
        self.destroy_async().await
    }
}
