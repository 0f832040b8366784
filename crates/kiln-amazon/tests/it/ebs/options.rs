//! Options that change the build's course: spot instances, encryption, keeping only the
//! copies, enhanced networking, finding the network with filters, sharing with organizations,
//! and making no AMI at all.

use kiln_amazon::client::{DescribeBy, Ec2Client, Filter, LaunchPermission};

use super::{config, inventory, run, Inventory, Opts, Probe};
use crate::support::Moto;

fn amis_of(id: &str) -> Vec<(String, String)> {
    id.split(',').map(|p| p.split_once(':').map(|(r, a)| (r.to_string(), a.to_string())).unwrap()).collect()
}

#[tokio::test]
async fn spot_instance_through_a_one_time_request() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let (probe, seen) = Probe::new(&moto);
    let node = config(
        &moto,
        r#""ami_name": "kiln-spot", "spot_price": "auto", "spot_tags": {"bid": "auto"}, "communicator": "none""#,
    );
    let r = run(&node, Opts { slot: vec![Box::new(probe)], ..Opts::default() }).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    let seen = seen.lock().unwrap().clone().expect("the slot ran");
    assert_eq!(seen.instance.instance_lifecycle.as_deref(), Some("spot"), "{:?}", seen.instance);
    assert_eq!(seen.instance.tags.get("bid").map(String::as_str), Some("auto"), "spot_tags on the instance");
    assert!(!r.actions().contains(&"StopInstances".to_string()), "a one-time spot instance is not stopped");
    artifact.destroy().await.unwrap();
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}

#[tokio::test]
async fn encrypt_boot_replaces_the_build_region_ami_with_an_encrypted_copy() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let node = config(
        &moto,
        r#""ami_name": "kiln-encrypted", "encrypt_boot": true, "kms_key_id": "alias/kiln",
           "ami_regions": ["us-west-2"], "region_kms_key_ids": {"us-west-2": "alias/kiln-west"},
           "tags": {"enc": "yes"}, "communicator": "none""#,
    );
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    let copies: Vec<String> = r.calls.iter().filter(|c| c.action == "CopyImage").map(|c| c.region.clone()).collect();
    assert_eq!(copies, ["us-east-1", "us-west-2"], "an encrypted copy in the build region, then the other");
    assert!(r.transcript().contains("Deregistering the AMI and deleting unencrypted temporary AMIs and snapshots"));
    let amis = amis_of(&artifact.id());
    assert_eq!(amis.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(), ["us-east-1", "us-west-2"]);
    for (region, ami) in &amis {
        let image = Ec2Client::new(&moto.config(region, None)).describe_image(ami).await.unwrap();
        assert_eq!(image.name, "kiln-encrypted", "{region}");
        assert_eq!(image.tags.get("enc").map(String::as_str), Some("yes"), "{region}");
    }
    let added = inventory(&moto).await.added_since(&before);
    assert_eq!(added.images.len(), 2, "the intermediary AMI is gone: {added:#?}");
    artifact.destroy().await.unwrap();
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}

#[tokio::test]
async fn skip_save_build_region_keeps_only_the_copies() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let node = config(
        &moto,
        r#""ami_name": "kiln-copies-only", "skip_save_build_region": true, "ami_regions": ["us-west-2"], "communicator": "none""#,
    );
    let r = run(&node, Opts::default()).await;
    let artifact = r.artifact();
    assert!(artifact.id().starts_with("us-west-2:ami-") && !artifact.id().contains(','), "{}", artifact.id());
    let added = inventory(&moto).await.added_since(&before);
    assert!(added.images.iter().all(|i| i.starts_with("us-west-2/")) && added.images.len() == 1, "{added:#?}");
    artifact.destroy().await.unwrap();
}

#[tokio::test]
async fn enhanced_networking_is_set_on_the_stopped_instance() {
    let Some(moto) = Moto::start() else { return };
    let node =
        config(&moto, r#""ami_name": "kiln-ena", "ena_support": true, "sriov_support": true, "communicator": "none""#);
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    let actions = r.actions();
    let stop = actions.iter().position(|a| a == "StopInstances").unwrap();
    let modify: Vec<usize> =
        actions.iter().enumerate().filter(|(_, a)| *a == "ModifyInstanceAttribute").map(|(i, _)| i).collect();
    assert_eq!(modify.len(), 2, "{actions:?}");
    assert!(modify.iter().all(|i| *i > stop), "after the stop: {actions:?}");
    assert!(r.transcript().contains("Enabling Enhanced Networking (SR-IOV)..."));
    assert!(r.transcript().contains("Enabling Enhanced Networking (ENA)..."));
    artifact.destroy().await.unwrap();
}

#[tokio::test]
async fn network_from_filters() {
    let Some(moto) = Moto::start() else { return };
    let check = Ec2Client::new(&moto.config("us-east-1", None));
    let default_vpc =
        check.describe_vpcs(&DescribeBy::filters(vec![Filter::new("is-default", ["true"])])).await.unwrap().remove(0);
    let subnet = check
        .describe_subnets(&DescribeBy::filters(vec![
            Filter::new("vpc-id", [default_vpc.vpc_id.as_str()]),
            Filter::new("availability-zone", ["us-east-1b"]),
        ]))
        .await
        .unwrap()
        .remove(0);
    let default_group = check
        .describe_security_groups(&DescribeBy::filters(vec![
            Filter::new("group-name", ["default"]),
            Filter::new("vpc-id", [default_vpc.vpc_id.as_str()]),
        ]))
        .await
        .unwrap()
        .remove(0);
    let (probe, seen) = Probe::new(&moto);
    let node = config(
        &moto,
        r#""ami_name": "kiln-filters", "communicator": "none",
           "vpc_filter": {"filters": {"is-default": "true"}},
           "subnet_filter": {"filters": {"availability-zone": "us-east-1b"}, "most_free": true},
           "security_group_filter": {"filters": {"group-name": "default"}}"#,
    );
    let r = run(&node, Opts { slot: vec![Box::new(probe)], ..Opts::default() }).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    let seen = seen.lock().unwrap().clone().expect("the slot ran");
    assert_eq!(seen.instance.subnet_id.as_deref(), Some(subnet.subnet_id.as_str()));
    assert_eq!(seen.security_group_ids, std::slice::from_ref(&default_group.group_id));
    assert_eq!(seen.instance.security_group_ids, [default_group.group_id]);
    assert!(!r.actions().contains(&"CreateSecurityGroup".to_string()), "no temporary group");
    let text = r.transcript();
    assert!(text.contains(&format!("Found VPC ID: {}", default_vpc.vpc_id)), "{text}");
    assert!(text.contains(&format!("Found Subnet ID: {}", subnet.subnet_id)), "{text}");
    artifact.destroy().await.unwrap();
}

#[tokio::test]
async fn credentials_checked_with_sts_and_region_from_the_environment() {
    let Some(moto) = Moto::start() else { return };
    // No region in the template: AWS_REGION gives it; STS is moto too (AWS_ENDPOINT_URL_STS).
    let node = config(&moto, r#""ami_name": "kiln-sts", "communicator": "none""#);
    let node = kiln_template::testing::json_node(
        "t.json",
        &node
            .to_json()
            .to_string()
            .replace(r#""region":"us-east-1","#, "")
            .replace(r#""skip_credential_validation":true"#, r#""skip_credential_validation":false"#),
    )
    .unwrap();
    assert!(node.get("region").is_none());
    let env = vec![("AWS_REGION", "us-east-1".to_string()), ("AWS_ENDPOINT_URL_STS", moto.url.clone())];
    let r = run(&node, Opts { env, ..Opts::default() }).await;
    let artifact = r.artifact();
    assert_eq!((r.calls[0].service, r.calls[0].action.as_str()), ("STS", "GetCallerIdentity"));
    assert!(artifact.id().starts_with("us-east-1:ami-"));
    artifact.destroy().await.unwrap();

    // A region the environment names that kiln does not know stops the build before any EC2 call.
    let env = vec![("AWS_REGION", "us-esat-1".to_string()), ("AWS_ENDPOINT_URL_STS", moto.url.clone())];
    let r = run(&node, Opts { env, ..Opts::default() }).await;
    let e = r.error();
    assert!(e.contains("unknown region \"us-esat-1\" (did you mean \"us-east-1\"?)"), "{e}");
    assert!(r.calls.iter().all(|c| c.service == "STS"), "{:?}", r.actions());
}

#[tokio::test]
async fn shared_with_organizations_and_imdsv2_only_with_later_launch_and_copy_options() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let org = "arn:aws:organizations::111122223333:organization/o-abcdefghij";
    let ou = "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdef3456";
    let node = config(
        &moto,
        &format!(
            r#""ami_name": "kiln-org", "ami_org_arns": ["{org}"], "ami_ou_arns": ["{ou}"], "imds_support": "v2.0",
               "enable_unlimited_credits": true, "capacity_reservation_preference": "open",
               "ami_regions": ["us-west-2"], "snapshot_copy_duration_minutes": 15, "communicator": "none""#
        ),
    );
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    let ami = amis_of(&artifact.id())[0].1.clone();
    let ec2 = Ec2Client::new(&moto.config("us-east-1", None));
    let mut perms = ec2.describe_launch_permissions(&ami).await.unwrap();
    perms.sort_by_key(|p| format!("{p:?}"));
    assert_eq!(
        perms,
        [LaunchPermission::OrganizationArn(org.into()), LaunchPermission::OrganizationalUnitArn(ou.into())]
    );
    let modifies = r.actions().iter().filter(|a| *a == "ModifyImageAttribute").count();
    assert_eq!(modifies, 4, "launch permissions, then IMDS support, in both regions: {:?}", r.actions());
    assert!(r.transcript().contains("Modifying: IMDS support (v2.0)"), "{}", r.transcript());
    artifact.destroy().await.unwrap();
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}

#[tokio::test]
async fn skip_create_ami_provisions_and_makes_nothing() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let (probe, seen) = Probe::new(&moto);
    let node = config(&moto, r#""ami_name": "kiln-no-ami", "skip_create_ami": true, "communicator": "none""#);
    let r = run(&node, Opts { slot: vec![Box::new(probe)], ..Opts::default() }).await;
    println!("{}", r.transcript());
    assert!(matches!(r.result, Ok(None)), "no artifact: {:?}", r.result.as_ref().map(|a| a.as_ref().map(|a| a.id())));
    assert!(seen.lock().unwrap().is_some(), "the provisioning slot ran");
    let actions = r.actions();
    for never in ["CreateImage", "StopInstances", "ModifyImageAttribute", "CreateTags"] {
        assert!(!actions.iter().any(|a| a == never), "{never} in {actions:?}");
    }
    // The source AMI's lookup only: the AMI name is not checked.
    assert_eq!(actions.iter().filter(|a| *a == "DescribeImages").count(), 1, "{actions:?}");
    assert!(actions.iter().any(|a| a == "TerminateInstances"), "{actions:?}");
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}
