//! Block device mappings of `launch_block_device_mappings` and `ami_block_device_mappings`.

use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use serde::Deserialize;

use crate::client::{BlockDeviceMapping, EbsBlockDevice};

/// One block device mapping.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDevice {
    /// Delete the volume when the instance is terminated.
    #[serde(default)]
    pub delete_on_termination: bool,
    /// The device name (`/dev/sda1`, `/dev/xvdb`); required.
    #[serde(default)]
    pub device_name: String,
    /// Encrypt the volume (unset: as the snapshot or the account's default).
    #[serde(default)]
    pub encrypted: Option<bool>,
    /// Provisioned IOPS (`io1`, `io2`, `gp3`).
    #[serde(default)]
    pub iops: Option<u32>,
    /// Suppress this device of the AMI.
    #[serde(default)]
    pub no_device: bool,
    /// The snapshot to create the volume from.
    #[serde(default)]
    pub snapshot_id: Option<String>,
    /// Throughput in MiB/s (`gp3` only).
    #[serde(default)]
    pub throughput: Option<u32>,
    /// An instance store volume (`ephemeral0` …).
    #[serde(default)]
    pub virtual_name: Option<String>,
    /// `gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1` or `standard`.
    #[serde(default)]
    pub volume_type: Option<String>,
    /// Size in GiB.
    #[serde(default)]
    pub volume_size: Option<u32>,
    /// The KMS key of an encrypted volume.
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

const VOLUME_TYPES: &[&str] = &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

impl BlockDevice {
    /// Packer's checks of one mapping.
    pub fn check(&self, option: &str, span: Option<Span>, d: &mut Diagnostics) {
        let mut err = |msg: String| d.push(Diagnostic::error(format!("{option}: {msg}")).at_opt(span.clone()));
        if self.device_name.is_empty() {
            err("The `device_name` must be specified for every device in the block device mapping.".into());
            return;
        }
        let dev = &self.device_name;
        if self.kms_key_id.as_deref().is_some_and(|k| !k.is_empty()) && self.encrypted == Some(false) {
            err(format!("The device {dev}, must also have `encrypted: true` when setting a kms_key_id."));
        }
        let vt = self.volume_type.as_deref().unwrap_or("");
        if !vt.is_empty() && !VOLUME_TYPES.contains(&vt) {
            err(format!("unknown volume_type {vt:?} for {dev} (one of {})", VOLUME_TYPES.join(", ")));
        }
        let iops = self.iops.unwrap_or(0);
        let ratio = match vt {
            "io1" => Some(50),
            "io2" => Some(500),
            _ => None,
        };
        if let (Some(ratio), Some(size)) = (ratio, self.volume_size.filter(|s| *s > 0)) {
            if iops / size > ratio {
                err(format!("{dev}: the maximum ratio of provisioned IOPS to requested volume size (in GiB) is {ratio}:1 for {vt} volumes"));
            }
            if !(100..=64000).contains(&iops) {
                err(format!("IOPS must be between 100 and 64000 for device {dev}"));
            }
        }
        if vt == "gp3" {
            // Unset means AWS's baseline (3000 IOPS, 125 MiB/s); Packer 1.6.6 insisted on both.
            if self.throughput.is_some_and(|t| !(125..=1000).contains(&t)) {
                err(format!("Throughput must be between 125 and 1000 for device {dev}"));
            }
            if self.iops.is_some_and(|i| !(3000..=16000).contains(&i)) {
                err(format!("IOPS must be between 3000 and 16000 for device {dev}"));
            }
        } else if self.throughput.is_some_and(|t| t > 0) {
            err(format!("Throughput is not available for device {dev}"));
        }
    }

    /// The mapping as EC2 takes it (Packer's rules: `no_device` and instance store volumes
    /// carry nothing else; IOPS only for the types that take them, throughput only for gp3).
    pub fn mapping(&self) -> BlockDeviceMapping {
        let mut m = BlockDeviceMapping { device_name: self.device_name.clone(), ..BlockDeviceMapping::default() };
        if self.no_device {
            m.no_device = true;
            return m;
        }
        if let Some(v) = self.virtual_name.as_deref().filter(|v| !v.is_empty()) {
            if v.starts_with("ephemeral") {
                m.virtual_name = Some(v.to_string());
            }
            return m;
        }
        let vt = self.volume_type.as_deref().filter(|v| !v.is_empty());
        m.ebs = Some(EbsBlockDevice {
            delete_on_termination: Some(self.delete_on_termination),
            encrypted: self.encrypted,
            iops: self.iops.filter(|_| matches!(vt, Some("io1" | "io2" | "gp3"))),
            throughput: self.throughput.filter(|_| vt == Some("gp3")),
            kms_key_id: self.kms_key_id.clone().filter(|k| !k.is_empty()),
            snapshot_id: self.snapshot_id.clone().filter(|s| !s.is_empty()),
            volume_size: self.volume_size.filter(|s| *s > 0),
            volume_type: vt.map(String::from),
        });
        m
    }
}

/// Checks a list option (`launch_block_device_mappings`).
pub fn check_all(devices: &[BlockDevice], option: &str, span: Option<Span>, d: &mut Diagnostics) {
    for b in devices {
        b.check(option, span.clone(), d);
    }
}

/// The mappings Windows needs so that ephemeral drives stay hidden (`no_ephemeral`): every
/// instance store device name suppressed.
pub fn no_ephemeral_mappings() -> Vec<BlockDevice> {
    // xvdca … xvdcz, as the EC2 console does.
    (b'a'..=b'z')
        .map(|c| BlockDevice {
            device_name: format!("xvdc{}", char::from(c)),
            no_device: true,
            ..BlockDevice::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packer_rules() {
        let gp3 = BlockDevice {
            device_name: "/dev/sda1".into(),
            volume_type: Some("gp3".into()),
            volume_size: Some(20),
            iops: Some(4000),
            throughput: Some(250),
            delete_on_termination: true,
            ..BlockDevice::default()
        };
        let m = gp3.mapping();
        let ebs = m.ebs.unwrap();
        assert_eq!((ebs.iops, ebs.throughput, ebs.volume_size), (Some(4000), Some(250), Some(20)));
        let gp2 = BlockDevice { volume_type: Some("gp2".into()), iops: Some(100), throughput: None, ..gp3.clone() };
        assert_eq!(gp2.mapping().ebs.unwrap().iops, None);
        let eph = BlockDevice {
            device_name: "/dev/sdb".into(),
            virtual_name: Some("ephemeral0".into()),
            ..Default::default()
        };
        assert!(eph.mapping().ebs.is_none());

        let mut d = Diagnostics::new();
        BlockDevice { throughput: Some(100), volume_type: Some("gp2".into()), ..gp3.clone() }.check("x", None, &mut d);
        BlockDevice::default().check("x", None, &mut d);
        BlockDevice {
            volume_type: Some("io1".into()),
            iops: Some(2000),
            volume_size: Some(10),
            throughput: None,
            ..gp3
        }
        .check("x", None, &mut d);
        let msgs: Vec<&str> = d.0.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("Throughput is not available"));
        assert!(msgs[1].contains("`device_name` must be specified"));
        assert!(msgs[2].contains("maximum ratio"));
    }
}
