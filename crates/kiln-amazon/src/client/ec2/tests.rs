use super::*;

#[test]
fn encodes_nested_lists() {
    let mut p = Ec2Client::params("RunInstances");
    put_filters(&mut p, &[Filter::new("name", ["a", "b"]), Filter::new("state", ["available"])]);
    let tags: Tags = [("Name".to_string(), "kiln".to_string()), ("Empty".to_string(), String::new())].into();
    put_tag_specifications(
        &mut p,
        &[
            TagSpecification { resource_type: "instance".into(), tags: tags.clone() },
            TagSpecification { resource_type: "volume".into(), tags: Tags::new() },
            TagSpecification { resource_type: "volume".into(), tags },
        ],
    );
    let ebs = EbsBlockDevice { volume_size: Some(20), delete_on_termination: Some(true), ..EbsBlockDevice::default() };
    put_block_device_mappings(
        &mut p,
        "BlockDeviceMapping",
        &[
            BlockDeviceMapping { device_name: "/dev/sda1".into(), ebs: Some(ebs), ..Default::default() },
            BlockDeviceMapping { device_name: "/dev/sdb".into(), no_device: true, ..Default::default() },
        ],
    );
    let body = p.encode();
    for part in [
        "Filter.1.Name=name&Filter.1.Value.1=a&Filter.1.Value.2=b&Filter.2.Name=state&Filter.2.Value.1=available",
        "TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Empty&TagSpecification.1.Tag.1.Value=&\
         TagSpecification.1.Tag.2.Key=Name&TagSpecification.1.Tag.2.Value=kiln",
        "TagSpecification.2.ResourceType=volume",
        "BlockDeviceMapping.1.DeviceName=%2Fdev%2Fsda1&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true&\
         BlockDeviceMapping.1.Ebs.VolumeSize=20",
        "BlockDeviceMapping.2.DeviceName=%2Fdev%2Fsdb&BlockDeviceMapping.2.NoDevice=",
    ] {
        assert!(body.contains(part), "{part}\nnot in\n{body}");
    }
    assert!(!body.contains("TagSpecification.3"), "a specification without tags is left out: {body}");
}
