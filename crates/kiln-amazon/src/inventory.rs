//! What an account holds that a build could leave behind, region by region: the check the
//! tests make after every build ("nothing temporary left"), and that `kiln cleanup` can
//! report with.

use std::collections::BTreeSet;

use crate::client::{DescribeBy, DescribeImages, DescribeInstances, Ec2Client, Result};

/// Instances not terminated, key pairs, security groups, the caller's AMIs and snapshots, and
/// volumes, each as `region/id[/detail]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    /// `region/i-…/state` of instances not terminated.
    pub instances: BTreeSet<String>,
    /// `region/name`.
    pub key_pairs: BTreeSet<String>,
    /// `region/sg-…/name`.
    pub groups: BTreeSet<String>,
    /// `region/ami-…` of the caller's images.
    pub images: BTreeSet<String>,
    /// `region/snap-…` of the caller's snapshots.
    pub snapshots: BTreeSet<String>,
    /// `region/vol-…`.
    pub volumes: BTreeSet<String>,
}

impl Inventory {
    /// Reads what `ec2`'s account holds in each of `regions`.
    pub async fn take(ec2: &Ec2Client, regions: &[&str]) -> Result<Inventory> {
        let mut inv = Inventory::default();
        for region in regions {
            let ec2 = ec2.in_region(region)?;
            for i in ec2.describe_instances(&DescribeInstances::default()).await? {
                if i.state.name != "terminated" {
                    inv.instances.insert(format!("{region}/{}/{}", i.instance_id, i.state.name));
                }
            }
            inv.key_pairs.extend(ec2.describe_key_pairs(&[]).await?.into_iter().map(|k| format!("{region}/{k}")));
            let groups = ec2.describe_security_groups(&DescribeBy::default()).await?;
            inv.groups.extend(groups.into_iter().map(|g| format!("{region}/{}/{}", g.group_id, g.group_name)));
            let mine = DescribeImages { owners: vec!["self".into()], ..DescribeImages::default() };
            inv.images
                .extend(ec2.describe_images(&mine).await?.into_iter().map(|i| format!("{region}/{}", i.image_id)));
            let snaps = DescribeBy { names: vec!["self".into()], ..DescribeBy::default() };
            inv.snapshots.extend(
                ec2.describe_snapshots(&snaps).await?.into_iter().map(|s| format!("{region}/{}", s.snapshot_id)),
            );
            inv.volumes.extend(
                ec2.describe_volumes(&DescribeBy::default())
                    .await?
                    .into_iter()
                    .map(|v| format!("{region}/{}", v.volume_id)),
            );
        }
        Ok(inv)
    }

    /// What is in `self` and was not in `before`.
    pub fn added_since(&self, before: &Inventory) -> Inventory {
        let diff = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect();
        Inventory {
            instances: diff(&self.instances, &before.instances),
            key_pairs: diff(&self.key_pairs, &before.key_pairs),
            groups: diff(&self.groups, &before.groups),
            images: diff(&self.images, &before.images),
            snapshots: diff(&self.snapshots, &before.snapshots),
            volumes: diff(&self.volumes, &before.volumes),
        }
    }

    /// Nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == Inventory::default()
    }
}
