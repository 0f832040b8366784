//! Instances and their volumes.

use base64::Engine as _;
use roxmltree::Node;

use super::images::not_found;
use super::*;

impl Ec2Client {
    /// Launches instances; returns them as EC2 first reports them (usually `pending`).
    pub async fn run_instances(&self, input: &RunInstances) -> Result<Vec<Instance>> {
        let mut p = Self::params("RunInstances");
        p.set("ImageId", &input.image_id).set("InstanceType", &input.instance_type);
        p.set("MinCount", input.min_count.unwrap_or(1)).set("MaxCount", input.max_count.unwrap_or(1));
        p.opt("KeyName", input.key_name.as_ref());
        p.list("SecurityGroupId", &input.security_group_ids);
        p.opt("SubnetId", input.subnet_id.as_ref());
        if let Some(data) = &input.user_data {
            p.set("UserData", base64::engine::general_purpose::STANDARD.encode(data.expose()));
        }
        match input.iam_instance_profile.as_deref() {
            Some(arn) if arn.starts_with("arn:") => p.set("IamInstanceProfile.Arn", arn),
            Some(name) => p.set("IamInstanceProfile.Name", name),
            None => &mut p,
        };
        put_block_device_mappings(&mut p, "BlockDeviceMapping", &input.block_device_mappings);
        put_tag_specifications(&mut p, &input.tag_specifications);
        p.opt("EbsOptimized", input.ebs_optimized.map(bool_str));
        p.opt("InstanceInitiatedShutdownBehavior", input.instance_initiated_shutdown_behavior.as_ref());
        p.opt("ClientToken", input.client_token.as_ref());
        p.opt("Placement.AvailabilityZone", input.availability_zone.as_ref());
        p.opt("Placement.Tenancy", input.tenancy.as_ref());
        for (i, n) in input.network_interfaces.iter().enumerate() {
            let pre = format!("NetworkInterface.{}", i + 1);
            p.set(format!("{pre}.DeviceIndex"), n.device_index);
            p.opt(format!("{pre}.SubnetId"), n.subnet_id.as_ref());
            p.list(&format!("{pre}.SecurityGroupId"), &n.security_group_ids);
            p.opt(format!("{pre}.AssociatePublicIpAddress"), n.associate_public_ip_address.map(bool_str));
            p.opt(format!("{pre}.DeleteOnTermination"), n.delete_on_termination.map(bool_str));
        }
        p.opt("Monitoring.Enabled", input.monitoring.map(bool_str));
        if let Some(m) = &input.metadata_options {
            p.opt("MetadataOptions.HttpEndpoint", m.http_endpoint.as_ref());
            p.opt("MetadataOptions.HttpTokens", m.http_tokens.as_ref());
            p.opt("MetadataOptions.HttpPutResponseHopLimit", m.http_put_response_hop_limit);
            p.opt("MetadataOptions.InstanceMetadataTags", m.instance_metadata_tags.as_ref());
        }
        if let Some(max_price) = &input.spot_max_price {
            p.set("InstanceMarketOptions.MarketType", "spot");
            p.set("InstanceMarketOptions.SpotOptions.SpotInstanceType", "one-time");
            p.set("InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior", "terminate");
            p.opt("InstanceMarketOptions.SpotOptions.MaxPrice", max_price.as_ref());
        }
        p.opt("CreditSpecification.CpuCredits", input.cpu_credits.as_ref());
        p.opt("Placement.HostId", input.host_id.as_ref());
        if input.enclave {
            p.set("EnclaveOptions.Enabled", "true");
        }
        let cr = "CapacityReservationSpecification";
        p.opt(format!("{cr}.CapacityReservationPreference"), input.capacity_reservation_preference.as_ref());
        p.opt(format!("{cr}.CapacityReservationTarget.CapacityReservationId"), input.capacity_reservation_id.as_ref());
        p.opt(
            format!("{cr}.CapacityReservationTarget.CapacityReservationResourceGroupArn"),
            input.capacity_reservation_group_arn.as_ref(),
        );
        for (i, arn) in input.license_configuration_arns.iter().enumerate() {
            p.set(format!("LicenseSpecification.{}.LicenseConfigurationArn", i + 1), arn);
        }
        self.call_with(&p, |root| Ok(xml::items(root, "instancesSet").map(read_instance).collect())).await
    }

    /// All instances matching `input`, every page read.
    pub async fn describe_instances(&self, input: &DescribeInstances) -> Result<Vec<Instance>> {
        let mut p = Self::params("DescribeInstances");
        p.list("InstanceId", &input.instance_ids);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| {
            for r in xml::items(root, "reservationSet") {
                out.extend(xml::items(r, "instancesSet").map(read_instance));
            }
        })
        .await
    }

    /// One instance by id; `InvalidInstanceID.NotFound` when it does not exist.
    pub async fn describe_instance(&self, instance_id: &str) -> Result<Instance> {
        let input = DescribeInstances { instance_ids: vec![instance_id.to_string()], ..DescribeInstances::default() };
        self.describe_instances(&input)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| not_found("InvalidInstanceID.NotFound", "DescribeInstances", instance_id))
    }

    pub async fn stop_instances(&self, instance_ids: &[String], force: bool) -> Result<Vec<InstanceStateChange>> {
        let mut p = Self::params("StopInstances");
        p.list("InstanceId", instance_ids);
        if force {
            p.set("Force", "true");
        }
        self.call_with(&p, |root| Ok(read_state_changes(root))).await
    }

    pub async fn terminate_instances(&self, instance_ids: &[String]) -> Result<Vec<InstanceStateChange>> {
        let mut p = Self::params("TerminateInstances");
        p.list("InstanceId", instance_ids);
        self.call_with(&p, |root| Ok(read_state_changes(root))).await
    }

    /// Volumes by id and filters (e.g. `attachment.instance-id`).
    pub async fn describe_volumes(&self, input: &DescribeBy) -> Result<Vec<Volume>> {
        let mut p = Self::params("DescribeVolumes");
        p.list("VolumeId", &input.ids);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| out.extend(xml::items(root, "volumeSet").map(read_volume)))
            .await
    }

    /// Changes one attribute of an instance.
    pub async fn modify_instance_attribute(&self, instance_id: &str, attribute: &InstanceAttribute) -> Result<()> {
        let mut p = Self::params("ModifyInstanceAttribute");
        p.set("InstanceId", instance_id);
        match attribute {
            InstanceAttribute::EnaSupport(on) => p.set("EnaSupport.Value", bool_str(*on)),
            InstanceAttribute::SriovNetSupport(v) => p.set("SriovNetSupport.Value", v),
        };
        self.call_ok(&p).await
    }

    pub async fn delete_volume(&self, volume_id: &str) -> Result<()> {
        let mut p = Self::params("DeleteVolume");
        p.set("VolumeId", volume_id);
        self.call_ok(&p).await
    }
}

fn read_instance(i: Node<'_, '_>) -> Instance {
    let state = xml::child(i, "instanceState");
    Instance {
        instance_id: xml::text_or_empty(i, "instanceId"),
        image_id: xml::text_or_empty(i, "imageId"),
        instance_type: xml::text_or_empty(i, "instanceType"),
        state: InstanceState {
            code: state.and_then(|s| xml::number(s, "code")).unwrap_or(-1),
            name: state.map(|s| xml::text_or_empty(s, "name")).unwrap_or_default(),
        },
        state_reason: read_state_reason(i),
        key_name: xml::text(i, "keyName"),
        launch_time: xml::text(i, "launchTime"),
        availability_zone: xml::child(i, "placement").and_then(|p| xml::text(p, "availabilityZone")),
        subnet_id: xml::text(i, "subnetId"),
        vpc_id: xml::text(i, "vpcId"),
        private_ip_address: xml::text(i, "privateIpAddress"),
        public_ip_address: xml::text(i, "ipAddress").or_else(|| {
            xml::items(i, "networkInterfaceSet")
                .find_map(|n| xml::child(n, "association").and_then(|a| xml::text(a, "publicIp")))
        }),
        private_dns_name: xml::text(i, "privateDnsName"),
        public_dns_name: xml::text(i, "dnsName"),
        security_group_ids: read_group_ids(i),
        root_device_name: xml::text(i, "rootDeviceName"),
        root_device_type: xml::text(i, "rootDeviceType"),
        architecture: xml::text(i, "architecture"),
        platform: xml::text(i, "platform"),
        spot_instance_request_id: xml::text(i, "spotInstanceRequestId"),
        instance_lifecycle: xml::text(i, "instanceLifecycle"),
        iam_instance_profile_arn: xml::child(i, "iamInstanceProfile").and_then(|p| xml::text(p, "arn")),
        block_devices: xml::items(i, "blockDeviceMapping")
            .map(|m| {
                let ebs = xml::child(m, "ebs");
                InstanceBlockDevice {
                    device_name: xml::text_or_empty(m, "deviceName"),
                    volume_id: ebs.map(|e| xml::text_or_empty(e, "volumeId")).unwrap_or_default(),
                    delete_on_termination: ebs.and_then(|e| xml::boolean(e, "deleteOnTermination")),
                }
            })
            .collect(),
        tags: read_tags(i),
    }
}

/// The instance's groups; when they were given on a network interface, some EC2 doubles
/// (moto) list them only there.
fn read_group_ids(i: Node<'_, '_>) -> Vec<String> {
    let mut ids: Vec<String> = xml::items(i, "groupSet").filter_map(|g| xml::text(g, "groupId")).collect();
    if ids.is_empty() {
        for n in xml::items(i, "networkInterfaceSet") {
            for id in xml::items(n, "groupSet").filter_map(|g| xml::text(g, "groupId")) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

fn read_state_changes(root: Node<'_, '_>) -> Vec<InstanceStateChange> {
    let name = |i: Node<'_, '_>, el: &str| xml::child(i, el).map(|s| xml::text_or_empty(s, "name")).unwrap_or_default();
    xml::items(root, "instancesSet")
        .map(|i| InstanceStateChange {
            instance_id: xml::text_or_empty(i, "instanceId"),
            previous_state: name(i, "previousState"),
            current_state: name(i, "currentState"),
        })
        .collect()
}

fn read_volume(v: Node<'_, '_>) -> Volume {
    Volume {
        volume_id: xml::text_or_empty(v, "volumeId"),
        size: xml::number(v, "size").unwrap_or(0),
        state: xml::text_or_empty(v, "status"),
        snapshot_id: xml::text(v, "snapshotId"),
        availability_zone: xml::text_or_empty(v, "availabilityZone"),
        volume_type: xml::text(v, "volumeType"),
        encrypted: xml::boolean(v, "encrypted").unwrap_or(false),
        attached_to: xml::items(v, "attachmentSet").filter_map(|a| xml::text(a, "instanceId")).collect(),
        tags: read_tags(v),
    }
}
