//! The calls Packer's amazon-ebs builder makes (DEPENDENCIES.md §5), made through the client
//! against moto, counted through the reporting hook, with every result read back.

use std::time::Duration;

use kiln_amazon::client::*;

use crate::support::{never, CallLog, Moto};

fn waits() -> WaitConfig {
    WaitConfig {
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(500),
        timeout: Duration::from_secs(30),
    }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn amazon_ebs_sequence() {
    let Some(moto) = Moto::start() else { return };
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&moto.config("us-east-1", Some(log.hook())));
    // Read-backs go through a client without the hook, so the count is the builder's alone.
    let check = Ec2Client::new(&moto.config("us-east-1", None));
    let check_west = check.in_region("us-west-2").unwrap();
    let ami_name = "kiln-moto-1700000000";

    // Prevalidate: no AMI has the name yet.
    let same_name = ec2
        .describe_images(&DescribeImages {
            owners: vec!["self".into()],
            filters: vec![Filter::new("name", [ami_name])],
            ..DescribeImages::default()
        })
        .await
        .unwrap();
    assert!(same_name.is_empty());

    // source_ami_filter with owners and most_recent.
    let mut candidates = ec2
        .describe_images(&DescribeImages {
            owners: vec!["099720109477".into()],
            filters: vec![
                Filter::new("name", ["ubuntu/images/*ubuntu-focal-20.04-amd64-server-*"]),
                Filter::new("root-device-type", ["ebs"]),
                Filter::new("virtualization-type", ["hvm"]),
            ],
            ..DescribeImages::default()
        })
        .await
        .unwrap();
    let mut ids: Vec<&str> = candidates.iter().map(|i| i.image_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["ami-0focal000000000a1", "ami-0focal000000000b2"], "owner and root-device-type filters");
    candidates.sort_by(|a, b| a.creation_date.cmp(&b.creation_date));
    let source = candidates.pop().unwrap();
    assert_eq!(source.image_id, "ami-0focal000000000b2");
    assert_eq!(source.creation_date.as_deref(), Some("2023-02-09T10:00:00.000Z"));
    assert_eq!((source.owner_id.as_str(), source.root_device_name.as_deref()), ("099720109477", Some("/dev/sda1")));

    // Temporary key pair and security group with a /32 rule.
    let key = ec2.create_key_pair("packer_kiln_test", None, &[]).await.unwrap();
    assert!(key.key_material.expose().starts_with("-----BEGIN RSA PRIVATE KEY-----"), "PEM key");
    assert!(!format!("{key:?}").contains("PRIVATE KEY"), "key material must not show in Debug");
    let group_id = ec2
        .create_security_group(&CreateSecurityGroup {
            group_name: "packer_kiln_test".into(),
            description: "Temporary group for kiln".into(),
            ..CreateSecurityGroup::default()
        })
        .await
        .unwrap();
    let visible = ec2.describe_security_groups(&DescribeBy::ids([group_id.clone()])).await.unwrap();
    assert_eq!(visible.len(), 1);
    let rule = IpPermission {
        ip_protocol: "tcp".into(),
        from_port: Some(22),
        to_port: Some(22),
        ipv4_ranges: vec!["203.0.113.7/32".into()],
        ..IpPermission::default()
    };
    ec2.authorize_security_group_ingress(&group_id, std::slice::from_ref(&rule)).await.unwrap();
    let group = check.describe_security_groups(&DescribeBy::ids([group_id.clone()])).await.unwrap().remove(0);
    assert_eq!(group.group_name, "packer_kiln_test");
    assert_eq!(group.ingress, vec![rule], "the /32 rule reads back");

    // Launch with tags, user data, a root volume and Packer's options.
    let run_tags = tags(&[("Name", "Packer Builder"), ("build", "kiln")]);
    let launched = ec2
        .run_instances(&RunInstances {
            image_id: source.image_id.clone(),
            instance_type: "t3.micro".into(),
            key_name: Some(key.key_name.clone()),
            security_group_ids: vec![group_id.clone()],
            user_data: Some(Secret::new(b"#!/bin/sh\necho hello\n".to_vec())),
            block_device_mappings: vec![BlockDeviceMapping {
                device_name: "/dev/sda1".into(),
                ebs: Some(EbsBlockDevice {
                    volume_size: Some(12),
                    volume_type: Some("gp3".into()),
                    delete_on_termination: Some(true),
                    ..EbsBlockDevice::default()
                }),
                ..BlockDeviceMapping::default()
            }],
            tag_specifications: vec![
                TagSpecification { resource_type: "instance".into(), tags: run_tags.clone() },
                TagSpecification { resource_type: "volume".into(), tags: run_tags.clone() },
            ],
            ebs_optimized: Some(false),
            instance_initiated_shutdown_behavior: Some("stop".into()),
            client_token: Some("kiln-token-1".into()),
            ..RunInstances::default()
        })
        .await
        .unwrap();
    assert_eq!(launched.len(), 1);
    let instance_id = launched[0].instance_id.clone();

    let running = ec2.wait_instance_running(&instance_id, &waits(), never()).await.unwrap();
    assert_eq!(running.state.name, "running");
    assert!(running.public_ip_address.is_some() && running.private_ip_address.is_some(), "{running:?}");
    assert_eq!(running.key_name.as_deref(), Some("packer_kiln_test"));
    assert_eq!(running.security_group_ids, vec![group_id.clone()]);
    assert_eq!(running.tags, run_tags);
    assert_eq!(running.image_id, source.image_id);
    let root = running.block_devices.iter().find(|b| b.device_name == "/dev/sda1").expect("root volume");
    let volume = check.describe_volumes(&DescribeBy::ids([root.volume_id.clone()])).await.unwrap().remove(0);
    assert_eq!((volume.size, volume.volume_type.as_deref()), (12, Some("gp3")));
    assert_eq!(volume.tags, run_tags, "volume tags from TagSpecification");

    // Stop, image, wait.
    let stopping = ec2.stop_instances(std::slice::from_ref(&instance_id), false).await.unwrap();
    assert_eq!(stopping[0].instance_id, instance_id);
    ec2.wait_instance_stopped(&instance_id, &waits(), never()).await.unwrap();
    let image_id = ec2
        .create_image(&CreateImage {
            instance_id: instance_id.clone(),
            name: ami_name.into(),
            description: Some("built by kiln".into()),
            ..CreateImage::default()
        })
        .await
        .unwrap();
    let image = ec2.wait_image_available(&image_id, &waits(), never()).await.unwrap();
    assert_eq!((image.name.as_str(), image.owner_id.as_str()), (ami_name, "123456789012"));

    // Copy to another region with a client for that region.
    let west = ec2.in_region("us-west-2").unwrap();
    let copy_id = west
        .copy_image(&CopyImage {
            source_image_id: image_id.clone(),
            source_region: "us-east-1".into(),
            name: ami_name.into(),
            client_token: Some("kiln-copy-1".into()),
            ..CopyImage::default()
        })
        .await
        .unwrap();
    assert_ne!(copy_id, image_id);
    let copy = west.wait_image_available(&copy_id, &waits(), never()).await.unwrap();
    assert_eq!(copy.name, ami_name);
    assert!(check.describe_image(&copy_id).await.unwrap_err().is_not_found(), "the copy is in us-west-2 only");

    // ami_users, then tags on each AMI and its snapshots, in each region.
    let tags_ami = tags(&[("Base_AMI_Name", &source.name), ("OS", "focal")]);
    for (client, id) in [(&ec2, &image_id), (&west, &copy_id)] {
        client
            .modify_image_attribute(&ModifyImageAttribute {
                image_id: id.clone(),
                add_launch_permissions: vec![LaunchPermission::User("111122223333".into())],
                ..ModifyImageAttribute::default()
            })
            .await
            .unwrap();
    }
    for (client, id) in [(&ec2, &image_id), (&west, &copy_id)] {
        let img = client.describe_image(id).await.unwrap();
        let mut resources = vec![id.clone()];
        resources.extend(img.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()));
        assert!(resources.len() >= 2, "an AMI with snapshots: {img:?}");
        client.create_tags(&resources, &tags_ami).await.unwrap();
    }
    for (client, id) in [(&check, &image_id), (&check_west, &copy_id)] {
        let img = client.describe_image(id).await.unwrap();
        assert_eq!(img.tags, tags_ami);
        let perms = client.describe_launch_permissions(id).await.unwrap();
        assert_eq!(perms, vec![LaunchPermission::User("111122223333".into())]);
        let snaps: Vec<String> =
            img.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()).collect();
        for s in client.describe_snapshots(&DescribeBy::ids(snaps)).await.unwrap() {
            assert_eq!(s.tags, tags_ami, "snapshot {}", s.snapshot_id);
        }
    }

    // Clean up: terminate, then the group and the key.
    ec2.terminate_instances(std::slice::from_ref(&instance_id)).await.unwrap();
    ec2.wait_instance_terminated(&instance_id, &waits(), never()).await.unwrap();
    let attached = ec2
        .describe_volumes(&DescribeBy::filters(vec![Filter::new("attachment.instance-id", [instance_id.clone()])]))
        .await
        .unwrap();
    assert!(attached.is_empty(), "volumes left: {attached:?}");
    ec2.delete_security_group(&group_id).await.unwrap();
    ec2.delete_key_pair(&key.key_name).await.unwrap();

    let e = check.describe_security_groups(&DescribeBy::ids([group_id.clone()])).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidGroup.NotFound"), "{e}");
    assert_eq!(check.describe_instance(&instance_id).await.unwrap().state.name, "terminated");

    let calls = log.calls();
    println!(
        "amazon-ebs sequence through kiln's client: {} API calls (Packer 1.6.6 made 26 for the same build)",
        calls.len()
    );
    for c in &calls {
        let status = c.status.map_or_else(|| "-".to_string(), |s| s.to_string());
        println!(
            "  {:<6} {:<32} {:<10} {:>5} ms  HTTP {status}",
            c.service,
            c.action,
            c.region,
            c.duration.as_millis()
        );
    }
    assert!(calls.iter().all(|c| c.status == Some(200) && c.attempts == 1 && c.error_code.is_none()));
    assert!(calls.len() <= 26, "more calls than Packer: {}", calls.len());
    let west_calls: Vec<&str> = calls.iter().filter(|c| c.region == "us-west-2").map(|c| c.action.as_str()).collect();
    assert_eq!(west_calls, ["CopyImage", "DescribeImages", "ModifyImageAttribute", "DescribeImages", "CreateTags"]);
}
