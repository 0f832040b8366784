//! EC2 (Query API, version 2016-11-15): the actions the `amazon-ebs` builder and the
//! `amazon-ami` data source need, typed, with pagination and waiters.

mod images;
mod instances;
mod model;
mod network;
mod waiters;

use roxmltree::Node;

pub use model::*;
pub use waiters::WaitConfig;

use super::config::{AwsConfig, Service};
use super::error::{Error, Result};
use super::query::Params;
use super::transport::Protocol;
use super::xml;

const VERSION: &str = "2016-11-15";
const SERVICE: &str = "EC2";

/// An EC2 client for one region.
#[derive(Debug, Clone)]
pub struct Ec2Client {
    cfg: AwsConfig,
}

impl Ec2Client {
    pub fn new(cfg: &AwsConfig) -> Ec2Client {
        Ec2Client { cfg: cfg.clone() }
    }

    pub fn region(&self) -> &str {
        self.cfg.region()
    }

    /// The same client in another region (CopyImage is sent to the destination region).
    pub fn in_region(&self, region: &str) -> Result<Ec2Client> {
        Ok(Ec2Client { cfg: self.cfg.with_region(region)? })
    }

    pub fn config(&self) -> &AwsConfig {
        &self.cfg
    }

    fn params(action: &str) -> Params {
        Params::new(action, VERSION)
    }

    async fn call(&self, p: &Params) -> Result<String> {
        self.cfg.send(Service::Ec2, p.action(), Protocol::Query, p.encode().into_bytes()).await
    }

    /// Calls and reads the answer's root element with `read`.
    async fn call_with<T>(&self, p: &Params, read: impl FnOnce(Node<'_, '_>) -> Result<T>) -> Result<T> {
        let body = self.call(p).await?;
        let doc = xml::parse(&body, SERVICE, p.action())?;
        read(doc.root_element())
    }

    /// For actions that answer `<return>true</return>`.
    async fn call_ok(&self, p: &Params) -> Result<()> {
        let action = p.action().to_string();
        self.call_with(p, |root| match xml::text(root, "return").as_deref() {
            Some("false") => Err(Error::response(SERVICE, &action, "the service answered return=false")),
            _ => Ok(()),
        })
        .await
    }

    /// Calls a Describe action page by page (`NextToken`), collecting what `read` finds.
    async fn paginate<T>(
        &self,
        mut p: Params,
        max_results: Option<u32>,
        mut read: impl FnMut(Node<'_, '_>, &mut Vec<T>),
    ) -> Result<Vec<T>> {
        p.opt("MaxResults", max_results);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut page = p.clone();
            page.opt("NextToken", token.as_ref());
            let next = self
                .call_with(&page, |root| {
                    read(root, &mut out);
                    Ok(xml::text(root, "nextToken"))
                })
                .await?;
            match next {
                Some(t) if token.as_ref() == Some(&t) => {
                    return Err(Error::response(SERVICE, p.action(), "the service returned the same NextToken twice"))
                }
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn put_filters(p: &mut Params, filters: &[Filter]) {
    for (i, f) in filters.iter().enumerate() {
        p.set(format!("Filter.{}.Name", i + 1), &f.name);
        p.list(&format!("Filter.{}.Value", i + 1), &f.values);
    }
}

fn put_tags(p: &mut Params, prefix: &str, tags: &Tags) {
    for (i, (k, v)) in tags.iter().enumerate() {
        p.set(format!("{prefix}.{}.Key", i + 1), k);
        p.set(format!("{prefix}.{}.Value", i + 1), v);
    }
}

fn put_tag_specifications(p: &mut Params, specs: &[TagSpecification]) {
    for (i, s) in specs.iter().filter(|s| !s.tags.is_empty()).enumerate() {
        let prefix = format!("TagSpecification.{}", i + 1);
        p.set(format!("{prefix}.ResourceType"), &s.resource_type);
        put_tags(p, &format!("{prefix}.Tag"), &s.tags);
    }
}

fn put_block_device_mappings(p: &mut Params, prefix: &str, mappings: &[BlockDeviceMapping]) {
    for (i, m) in mappings.iter().enumerate() {
        let pre = format!("{prefix}.{}", i + 1);
        p.set(format!("{pre}.DeviceName"), &m.device_name);
        p.opt(format!("{pre}.VirtualName"), m.virtual_name.as_ref());
        if m.no_device {
            p.set(format!("{pre}.NoDevice"), "");
        }
        if let Some(e) = &m.ebs {
            p.opt(format!("{pre}.Ebs.DeleteOnTermination"), e.delete_on_termination.map(bool_str));
            p.opt(format!("{pre}.Ebs.Encrypted"), e.encrypted.map(bool_str));
            p.opt(format!("{pre}.Ebs.Iops"), e.iops);
            p.opt(format!("{pre}.Ebs.Throughput"), e.throughput);
            p.opt(format!("{pre}.Ebs.KmsKeyId"), e.kms_key_id.as_ref());
            p.opt(format!("{pre}.Ebs.SnapshotId"), e.snapshot_id.as_ref());
            p.opt(format!("{pre}.Ebs.VolumeSize"), e.volume_size);
            p.opt(format!("{pre}.Ebs.VolumeType"), e.volume_type.as_ref());
        }
    }
}

fn read_tags(node: Node<'_, '_>) -> Tags {
    xml::items(node, "tagSet").filter_map(|t| Some((xml::text(t, "key")?, xml::text_or_empty(t, "value")))).collect()
}

fn read_block_device_mappings(node: Node<'_, '_>) -> Vec<BlockDeviceMapping> {
    xml::items(node, "blockDeviceMapping")
        .map(|m| BlockDeviceMapping {
            device_name: xml::text_or_empty(m, "deviceName"),
            virtual_name: xml::text(m, "virtualName"),
            no_device: xml::child(m, "noDevice").is_some(),
            ebs: xml::child(m, "ebs").map(|e| EbsBlockDevice {
                delete_on_termination: xml::boolean(e, "deleteOnTermination"),
                encrypted: xml::boolean(e, "encrypted"),
                iops: xml::number(e, "iops"),
                throughput: xml::number(e, "throughput"),
                kms_key_id: xml::text(e, "kmsKeyId"),
                snapshot_id: xml::text(e, "snapshotId"),
                volume_size: xml::number(e, "volumeSize"),
                volume_type: xml::text(e, "volumeType"),
            }),
        })
        .collect()
}

fn read_state_reason(node: Node<'_, '_>) -> Option<String> {
    let r = xml::child(node, "stateReason")?;
    xml::text(r, "message").or_else(|| xml::text(r, "code"))
}

#[cfg(test)]
mod tests;
