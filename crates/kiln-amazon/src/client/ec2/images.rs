//! AMIs, their launch permissions, tags and snapshots.

use roxmltree::Node;

use super::*;

impl Ec2Client {
    /// All images matching `input`, every page read. Sorting (`most_recent`) is the caller's.
    pub async fn describe_images(&self, input: &DescribeImages) -> Result<Vec<Image>> {
        let mut p = Self::params("DescribeImages");
        p.list("ImageId", &input.image_ids);
        p.list("Owner", &input.owners);
        p.list("ExecutableBy", &input.executable_users);
        put_filters(&mut p, &input.filters);
        p.opt("IncludeDeprecated", input.include_deprecated.map(bool_str));
        self.paginate(p, input.max_results, |root, out| out.extend(xml::items(root, "imagesSet").map(read_image))).await
    }

    /// One image by id; `InvalidAMIID.NotFound` when it does not exist.
    pub async fn describe_image(&self, image_id: &str) -> Result<Image> {
        let input = DescribeImages { image_ids: vec![image_id.to_string()], ..DescribeImages::default() };
        self.describe_images(&input)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| not_found("InvalidAMIID.NotFound", "DescribeImages", image_id))
    }

    /// Starts an AMI from an instance; returns its id.
    pub async fn create_image(&self, input: &CreateImage) -> Result<String> {
        let mut p = Self::params("CreateImage");
        p.set("InstanceId", &input.instance_id).set("Name", &input.name);
        p.opt("Description", input.description.as_ref());
        p.opt("NoReboot", input.no_reboot.map(bool_str));
        put_block_device_mappings(&mut p, "BlockDeviceMapping", &input.block_device_mappings);
        put_tag_specifications(&mut p, &input.tag_specifications);
        self.image_id_answer(&p).await
    }

    /// Registers an AMI from snapshots; returns its id.
    pub async fn register_image(&self, input: &RegisterImage) -> Result<String> {
        let mut p = Self::params("RegisterImage");
        p.set("Name", &input.name);
        p.opt("Description", input.description.as_ref());
        p.opt("Architecture", input.architecture.as_ref());
        p.opt("RootDeviceName", input.root_device_name.as_ref());
        p.opt("VirtualizationType", input.virtualization_type.as_ref());
        p.opt("EnaSupport", input.ena_support.map(bool_str));
        p.opt("SriovNetSupport", input.sriov_net_support.as_ref());
        p.opt("BootMode", input.boot_mode.as_ref());
        put_block_device_mappings(&mut p, "BlockDeviceMapping", &input.block_device_mappings);
        put_tag_specifications(&mut p, &input.tag_specifications);
        self.image_id_answer(&p).await
    }

    pub async fn deregister_image(&self, image_id: &str) -> Result<()> {
        let mut p = Self::params("DeregisterImage");
        p.set("ImageId", image_id);
        self.call_ok(&p).await
    }

    /// Copies an AMI into this client's region; returns the new id.
    pub async fn copy_image(&self, input: &CopyImage) -> Result<String> {
        let mut p = Self::params("CopyImage");
        p.set("SourceImageId", &input.source_image_id)
            .set("SourceRegion", &input.source_region)
            .set("Name", &input.name);
        p.opt("Description", input.description.as_ref());
        p.opt("Encrypted", input.encrypted.map(bool_str));
        p.opt("KmsKeyId", input.kms_key_id.as_ref());
        p.opt("ClientToken", input.client_token.as_ref());
        p.opt("SnapshotCopyCompletionDurationMinutes", input.snapshot_copy_completion_minutes);
        self.image_id_answer(&p).await
    }

    /// Adds or removes launch permissions, or sets the description (EC2 takes one attribute per
    /// call: launch permissions and a description need two calls).
    pub async fn modify_image_attribute(&self, input: &ModifyImageAttribute) -> Result<()> {
        let mut p = Self::params("ModifyImageAttribute");
        p.set("ImageId", &input.image_id);
        for (op, perms) in [("Add", &input.add_launch_permissions), ("Remove", &input.remove_launch_permissions)] {
            for (i, perm) in perms.iter().enumerate() {
                let (field, value) = match perm {
                    LaunchPermission::User(v) => ("UserId", v),
                    LaunchPermission::Group(v) => ("Group", v),
                    LaunchPermission::OrganizationArn(v) => ("OrganizationArn", v),
                    LaunchPermission::OrganizationalUnitArn(v) => ("OrganizationalUnitArn", v),
                };
                p.set(format!("LaunchPermission.{op}.{}.{field}", i + 1), value);
            }
        }
        p.opt("Description.Value", input.description.as_ref());
        p.list("ProductCode", &input.product_codes);
        p.opt("ImdsSupport.Value", input.imds_support.as_ref());
        self.call_ok(&p).await
    }

    /// Deprecates the image at `deprecate_at` (RFC 3339; EC2 rounds it to the minute).
    pub async fn enable_image_deprecation(&self, image_id: &str, deprecate_at: &str) -> Result<()> {
        let mut p = Self::params("EnableImageDeprecation");
        p.set("ImageId", image_id).set("DeprecateAt", deprecate_at);
        self.call_ok(&p).await
    }

    /// Protects the image from deregistration (`with_cooldown`: for 24 hours after the
    /// protection is turned off).
    pub async fn enable_image_deregistration_protection(&self, image_id: &str, with_cooldown: bool) -> Result<()> {
        let mut p = Self::params("EnableImageDeregistrationProtection");
        p.set("ImageId", image_id);
        if with_cooldown {
            p.set("WithCooldown", "true");
        }
        self.call_ok(&p).await
    }

    /// Lets accounts or groups create volumes from a snapshot.
    pub async fn modify_snapshot_permissions(&self, input: &ModifySnapshotPermissions) -> Result<()> {
        let mut p = Self::params("ModifySnapshotAttribute");
        p.set("SnapshotId", &input.snapshot_id).set("Attribute", "createVolumePermission");
        p.set("OperationType", "add");
        p.list("UserId", &input.add_users);
        p.list("UserGroup", &input.add_groups);
        self.call_ok(&p).await
    }

    /// Who may create volumes from a snapshot: (user ids, groups).
    pub async fn describe_snapshot_permissions(&self, snapshot_id: &str) -> Result<(Vec<String>, Vec<String>)> {
        let mut p = Self::params("DescribeSnapshotAttribute");
        p.set("SnapshotId", snapshot_id).set("Attribute", "createVolumePermission");
        self.call_with(&p, |root| {
            let items: Vec<_> = xml::items(root, "createVolumePermission").collect();
            Ok((
                items.iter().filter_map(|i| xml::text(*i, "userId")).collect(),
                items.iter().filter_map(|i| xml::text(*i, "group")).collect(),
            ))
        })
        .await
    }

    /// Who may launch the image (`DescribeImageAttribute launchPermission`).
    pub async fn describe_launch_permissions(&self, image_id: &str) -> Result<Vec<LaunchPermission>> {
        let mut p = Self::params("DescribeImageAttribute");
        p.set("ImageId", image_id).set("Attribute", "launchPermission");
        self.call_with(&p, |root| {
            Ok(xml::items(root, "launchPermission")
                .filter_map(|i| {
                    xml::text(i, "userId")
                        .map(LaunchPermission::User)
                        .or_else(|| xml::text(i, "group").map(LaunchPermission::Group))
                        .or_else(|| xml::text(i, "organizationArn").map(LaunchPermission::OrganizationArn))
                        .or_else(|| xml::text(i, "organizationalUnitArn").map(LaunchPermission::OrganizationalUnitArn))
                })
                .collect())
        })
        .await
    }

    /// Adds or overwrites tags on any resources (AMIs, snapshots, instances …).
    pub async fn create_tags(&self, resource_ids: &[String], tags: &Tags) -> Result<()> {
        if resource_ids.is_empty() || tags.is_empty() {
            return Ok(());
        }
        let mut p = Self::params("CreateTags");
        p.list("ResourceId", resource_ids);
        put_tags(&mut p, "Tag", tags);
        self.call_ok(&p).await
    }

    /// Snapshots by id (`ids`), owner (`names`: account ids or `self`) and filters.
    pub async fn describe_snapshots(&self, input: &DescribeBy) -> Result<Vec<Snapshot>> {
        let mut p = Self::params("DescribeSnapshots");
        p.list("SnapshotId", &input.ids);
        p.list("Owner", &input.names);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| out.extend(xml::items(root, "snapshotSet").map(read_snapshot)))
            .await
    }

    pub async fn delete_snapshot(&self, snapshot_id: &str) -> Result<()> {
        let mut p = Self::params("DeleteSnapshot");
        p.set("SnapshotId", snapshot_id);
        self.call_ok(&p).await
    }

    async fn image_id_answer(&self, p: &Params) -> Result<String> {
        let action = p.action().to_string();
        self.call_with(p, |root| {
            xml::text(root, "imageId").ok_or_else(|| Error::response(SERVICE, &action, "no imageId in the answer"))
        })
        .await
    }
}

pub(super) fn not_found(code: &str, action: &str, id: &str) -> Error {
    Error::Service(crate::client::error::ServiceError {
        service: SERVICE,
        action: action.to_string(),
        status: 400,
        code: code.to_string(),
        message: format!("{id} does not exist"),
        request_id: None,
    })
}

fn read_image(i: Node<'_, '_>) -> Image {
    Image {
        image_id: xml::text_or_empty(i, "imageId"),
        name: xml::text_or_empty(i, "name"),
        owner_id: xml::text_or_empty(i, "imageOwnerId"),
        owner_alias: xml::text(i, "imageOwnerAlias"),
        state: xml::text_or_empty(i, "imageState"),
        state_reason: read_state_reason(i),
        creation_date: xml::text(i, "creationDate"),
        description: xml::text(i, "description"),
        architecture: xml::text(i, "architecture"),
        virtualization_type: xml::text(i, "virtualizationType"),
        hypervisor: xml::text(i, "hypervisor"),
        root_device_type: xml::text(i, "rootDeviceType"),
        root_device_name: xml::text(i, "rootDeviceName"),
        platform: xml::text(i, "platform"),
        platform_details: xml::text(i, "platformDetails"),
        image_location: xml::text(i, "imageLocation"),
        image_type: xml::text(i, "imageType"),
        public: xml::boolean(i, "isPublic").unwrap_or(false),
        ena_support: xml::boolean(i, "enaSupport"),
        sriov_net_support: xml::text(i, "sriovNetSupport"),
        boot_mode: xml::text(i, "bootMode"),
        deprecation_time: xml::text(i, "deprecationTime"),
        block_device_mappings: read_block_device_mappings(i),
        tags: read_tags(i),
    }
}

fn read_snapshot(s: Node<'_, '_>) -> Snapshot {
    Snapshot {
        snapshot_id: xml::text_or_empty(s, "snapshotId"),
        volume_id: xml::text(s, "volumeId"),
        state: xml::text_or_empty(s, "status"),
        progress: xml::text(s, "progress"),
        start_time: xml::text(s, "startTime"),
        owner_id: xml::text_or_empty(s, "ownerId"),
        volume_size: xml::number(s, "volumeSize"),
        description: xml::text(s, "description"),
        encrypted: xml::boolean(s, "encrypted").unwrap_or(false),
        tags: read_tags(s),
    }
}
