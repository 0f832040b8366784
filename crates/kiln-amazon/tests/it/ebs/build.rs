//! Whole builds: the AMI and its copy as the template asks, nothing else left, the call count
//! against Packer's, and the temporary security group's one-address rule.

use std::sync::Arc;

use kiln_amazon::client::{DescribeBy, Ec2Client, LaunchPermission};
use kiln_amazon::ebs::BUILDER_ID;
use kiln_core::{Builder, RunContext};

use super::{config, inventory, print_calls, run, Inventory, Opts, Probe, Seen};
use crate::support::{HttpServer, Moto};

/// Packer 1.6.6's amazon-ebs made 26 EC2 calls for this template against moto (DEPENDENCIES.md §5).
const PACKER_CALLS: usize = 26;

#[tokio::test]
async fn whole_build_with_communicator_none() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    // The template of DEPENDENCIES.md §5 (communicator none), with a fixed name.
    let node = config(
        &moto,
        r#""ami_name": "kiln-moto-e2e", "ami_regions": ["us-west-2"], "ami_users": ["111122223333"],
           "tags": {"Base_AMI_Name": "{{ .SourceAMIName }}"}, "communicator": "none""#,
    );
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    assert_eq!(r.journal, [], "the finished AMIs and everything deleted are out of the journal");
    print_calls("kiln amazon-ebs, communicator none", &r.calls);
    println!("Packer 1.6.6 made {PACKER_CALLS} calls for the same template");
    assert!(r.calls.iter().all(|c| c.status == Some(200) && c.attempts == 1), "{:?}", r.calls);
    assert!(r.calls.len() <= PACKER_CALLS, "{} calls, Packer made {PACKER_CALLS}", r.calls.len());

    assert_eq!(artifact.builder_id(), BUILDER_ID);
    let id = artifact.id();
    let amis: Vec<(&str, &str)> = id.split(',').map(|p| p.split_once(':').unwrap()).collect();
    assert_eq!(amis.iter().map(|(r, _)| *r).collect::<Vec<_>>(), ["us-east-1", "us-west-2"], "{id}");
    assert_eq!(
        artifact.description(),
        format!("AMIs were created:\nus-east-1: {}\nus-west-2: {}\n", amis[0].1, amis[1].1)
    );
    assert_eq!(artifact.state("generated_data").unwrap()["SourceAMI"], "ami-0focal000000000b2");
    assert!(artifact.files().is_empty());

    let source_name = "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209";
    for (region, ami) in &amis {
        let ec2 = Ec2Client::new(&moto.config(region, None));
        let image = ec2.describe_image(ami).await.unwrap();
        assert_eq!(image.name, "kiln-moto-e2e");
        assert_eq!(image.tags.get("Base_AMI_Name").map(String::as_str), Some(source_name), "{region}");
        let perms = ec2.describe_launch_permissions(ami).await.unwrap();
        assert_eq!(perms, [LaunchPermission::User("111122223333".into())], "{region}");
        let snaps: Vec<String> =
            image.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()?.snapshot_id.clone()).collect();
        assert!(!snaps.is_empty(), "{region}");
        for s in ec2.describe_snapshots(&DescribeBy::ids(snaps)).await.unwrap() {
            assert_eq!(
                s.tags.get("Base_AMI_Name").map(String::as_str),
                Some(source_name),
                "{region} {}",
                s.snapshot_id
            );
        }
    }

    let added = inventory(&moto).await.added_since(&before);
    assert!(added.instances.is_empty() && added.key_pairs.is_empty() && added.groups.is_empty(), "{added:#?}");
    assert!(added.volumes.is_empty(), "{added:#?}");
    assert_eq!(added.images.len(), 2, "{added:#?}");

    // The artifact's destroy deregisters both AMIs and deletes their snapshots.
    artifact.destroy().await.unwrap();
    let left = inventory(&moto).await.added_since(&before);
    assert_eq!(left, Inventory::default(), "after destroy");
}

#[tokio::test]
async fn descriptions_tags_and_permissions_everywhere() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let node = config(
        &moto,
        r#""ami_name": "kiln {{ .SourceAMIName }}", "ami_description": "from {{ .SourceAMI }} in {{ .BuildRegion }}",
           "ami_regions": ["us-west-2"], "ami_groups": ["all"], "snapshot_users": ["444455556666"],
           "tags": {"Region": "{{ .BuildRegion }}", "Owner": "{{ .SourceAMIOwner }}"}, "snapshot_tags": {"kind": "snapshot"},
           "run_tags": {"Name": "kiln builder"}, "run_volume_tags": {"vol": "{{ .SourceAMIName }}"},
           "launch_block_device_mappings": [{"device_name": "/dev/sda1", "volume_size": 12, "volume_type": "gp3", "delete_on_termination": true}],
           "communicator": "none""#,
    );
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    print_calls("kiln amazon-ebs, descriptions, snapshot tags and permissions", &r.calls);
    let source_name = "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209";
    for part in artifact.id().split(',') {
        let (region, ami) = part.split_once(':').unwrap();
        let ec2 = Ec2Client::new(&moto.config(region, None));
        let image = ec2.describe_image(ami).await.unwrap();
        assert_eq!(image.name, format!("kiln {source_name}"));
        assert_eq!(image.description.as_deref(), Some("from ami-0focal000000000b2 in us-east-1"), "{region}");
        assert_eq!(
            image.tags.get("Region").map(String::as_str),
            Some("us-east-1"),
            "{region}: BuildRegion is the build's"
        );
        assert_eq!(image.tags.get("Owner").map(String::as_str), Some("099720109477"));
        assert!(!image.tags.contains_key("kind"), "snapshot_tags are not the AMI's");
        assert_eq!(ec2.describe_launch_permissions(ami).await.unwrap(), [LaunchPermission::Group("all".into())]);
        for m in image.block_device_mappings.iter().filter_map(|m| m.ebs.as_ref()) {
            let snap = m.snapshot_id.clone().unwrap();
            let s = ec2.describe_snapshots(&DescribeBy::ids([snap.clone()])).await.unwrap().remove(0);
            assert_eq!(s.tags.get("kind").map(String::as_str), Some("snapshot"), "{region} {snap}");
            assert_eq!(s.tags.get("Region").map(String::as_str), Some("us-east-1"));
            let (users, _) = ec2.describe_snapshot_permissions(&snap).await.unwrap();
            assert_eq!(users, ["444455556666"], "{region} {snap}");
        }
    }
    let text = r.transcript();
    for line in [
        "==> amazon-ebs: Prevalidating AMI Name: kiln ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209",
        "    amazon-ebs: Found Image ID: ami-0focal000000000b2",
        "    amazon-ebs: Adding tag: \"Name\": \"kiln builder\"",
        "    amazon-ebs: Adding tag: \"vol\": \"ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209\"",
        "==> amazon-ebs: Stopping the source instance...",
        "    amazon-ebs: Copying to: us-west-2",
        "    amazon-ebs: Modifying: groups",
        "    amazon-ebs: Modifying: create volume permission",
        "==> amazon-ebs: Terminating the source AWS instance...",
        "==> amazon-ebs: Deleting temporary security group...",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let added = inventory(&moto).await.added_since(&before);
    assert!(added.instances.is_empty() && added.groups.is_empty() && added.volumes.is_empty(), "{added:#?}");
    artifact.destroy().await.unwrap();
}

async fn probe_run(moto: &Moto, extra: &str, checkip_url: Option<String>) -> (super::Run, Option<Seen>) {
    let (probe, seen) = Probe::new(moto);
    let node = config(moto, &format!("\"ssh_username\": \"ubuntu\", {extra}"));
    let r = run(&node, Opts { slot: vec![Box::new(probe)], checkip_url, ..Opts::default() }).await;
    let s = seen.lock().unwrap().clone();
    (r, s)
}

fn single_rule(seen: &Seen) -> (&str, i32, i32, Vec<String>) {
    assert_eq!(seen.rules.len(), 1, "{:?}", seen.rules);
    let r = &seen.rules[0];
    (r.ip_protocol.as_str(), r.from_port.unwrap(), r.to_port.unwrap(), r.ipv4_ranges.clone())
}

#[tokio::test]
async fn temporary_group_lets_in_one_address() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let checkip = HttpServer::start(Arc::new(|_req, _i| (200, "198.51.100.23\n".to_string()))).await;

    // Public address: kiln's public address as the lookup service sees it, /32.
    let (r, seen) =
        probe_run(&moto, r#""ami_name": "kiln-sg-public", "ssh_interface": "public_ip""#, Some(checkip.url.clone()))
            .await;
    println!("{}", r.transcript());
    print_calls("kiln amazon-ebs, ssh communicator (the slot stands for the connect step)", &r.calls);
    r.artifact().destroy().await.unwrap();
    let seen = seen.expect("the slot ran");
    assert_eq!(single_rule(&seen), ("tcp", 22, 22, vec!["198.51.100.23/32".to_string()]));
    assert_eq!(seen.host, seen.instance.public_ip_address, "connects to the public IP");
    assert_eq!(seen.port, 22);
    assert!(
        seen.private_key.as_deref().is_some_and(|k| k.starts_with("-----BEGIN RSA PRIVATE KEY-----")),
        "the temporary key"
    );
    assert!(
        seen.instance.key_name.as_deref().is_some_and(|k| k.starts_with("packer_")),
        "{:?}",
        seen.instance.key_name
    );
    assert_eq!(checkip.requests().len(), 1, "one lookup");
    assert!(r
        .transcript()
        .contains("Authorizing access to port 22 from [198.51.100.23/32] in the temporary security groups..."));
    assert!(!r.transcript().contains("BEGIN RSA"), "the private key never shows");

    // Private address: the local address that reaches it, /32; no lookup.
    let (r, seen) = probe_run(
        &moto,
        r#""ami_name": "kiln-sg-private", "ssh_interface": "private_ip", "ssh_port": 2222"#,
        Some(checkip.url.clone()),
    )
    .await;
    r.artifact().destroy().await.unwrap();
    let seen = seen.expect("the slot ran");
    let private: std::net::IpAddr = seen.instance.private_ip_address.clone().unwrap().parse().unwrap();
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.connect((private, 2222)).unwrap();
    let local = sock.local_addr().unwrap().ip();
    assert_eq!(single_rule(&seen), ("tcp", 2222, 2222, vec![format!("{local}/32")]));
    assert_eq!(seen.host, seen.instance.private_ip_address);
    assert_eq!(checkip.requests().len(), 1, "no lookup for a private address");

    // The template's CIDRs win.
    let (r, seen) = probe_run(
        &moto,
        r#""ami_name": "kiln-sg-cidrs", "temporary_security_group_source_cidrs": ["10.9.0.0/16", "192.0.2.1/32"]"#,
        None,
    )
    .await;
    r.artifact().destroy().await.unwrap();
    assert_eq!(single_rule(&seen.unwrap()).3, ["10.9.0.0/16", "192.0.2.1/32"]);

    // temporary_security_group_source_public_ip: the lookup, whatever the address.
    let (r, seen) = probe_run(
        &moto,
        r#""ami_name": "kiln-sg-flag", "ssh_interface": "private_ip", "temporary_security_group_source_public_ip": true"#,
        Some(checkip.url.clone()),
    )
    .await;
    r.artifact().destroy().await.unwrap();
    assert_eq!(single_rule(&seen.unwrap()).3, ["198.51.100.23/32"]);

    let added = inventory(&moto).await.added_since(&before);
    assert_eq!(added, Inventory::default(), "keys, groups, instances and AMIs all gone");
}

#[tokio::test]
async fn no_public_address_stops_the_build_and_says_what_to_set() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let checkip = HttpServer::start(Arc::new(|_req, _i| (503, "unavailable".to_string()))).await;
    let (r, seen) =
        probe_run(&moto, r#""ami_name": "kiln-sg-nolookup", "ssh_interface": "public_ip""#, Some(checkip.url.clone()))
            .await;
    println!("{}", r.transcript());
    let e = r.error();
    assert!(e.contains("cannot find kiln's public address") && e.contains("HTTP 503"), "{e}");
    assert!(e.contains("set temporary_security_group_source_cidrs"), "{e}");
    assert!(seen.is_none(), "stopped before connecting");
    assert!(!r.actions().contains(&"AuthorizeSecurityGroupIngress".to_string()), "never opened to anyone");
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}

/// `Builder::run` connects over SSH (to `ssh_host`, here a port where nothing answers): the
/// connect step retries until `ssh_timeout`, the build fails with Packer's message, and its
/// cleanups leave nothing in moto.
#[tokio::test]
async fn builder_run_connects_and_a_failed_connect_cleans_up() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let node = config(
        &moto,
        &format!(
            r#""ami_name": "kiln-ssh", "ssh_username": "ubuntu", "ssh_host": "127.0.0.1", "ssh_port": {closed},
               "ssh_timeout": "2s""#
        ),
    );
    let journal = tempfile::tempdir().unwrap();
    let mut b = kiln_amazon::ebs::EbsBuilder::default()
        .with_env(kiln_amazon::client::Env::from_vars::<&str, &str>([]))
        .with_journal_dir(journal.path());
    b.prepare(&node, &kiln_core::BuildInfo::default()).unwrap();
    let renderer = kiln_core::event::MemoryRenderer::default();
    let ctx = RunContext {
        ui: kiln_core::Ui::new(Box::new(renderer.clone())),
        cancel: kiln_core::Cancel::new(),
        info: Arc::new(kiln_core::BuildInfo::default()),
    };
    let start = std::time::Instant::now();
    let e = match b.run(&ctx, Arc::new(kiln_core::component::NoProvisioners)).await {
        Err(e) => e,
        Ok(_) => panic!("connected to a closed port"),
    };
    assert!(e.message.contains(&format!("Timeout waiting for SSH on 127.0.0.1:{closed}")), "{e}");
    assert!(start.elapsed() < std::time::Duration::from_secs(60), "took {:?}", start.elapsed());
    let said: Vec<String> = renderer
        .events()
        .into_iter()
        .filter_map(|ev| match ev {
            kiln_core::event::Event::Say { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert!(said.iter().any(|t| t == "Using ssh communicator to connect: 127.0.0.1"), "{said:?}");
    let waiting = format!("Waiting for SSH to become available on 127.0.0.1:{closed} (timeout 2s)...");
    assert!(said.contains(&waiting), "{said:?}");
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
    assert!(kiln_core::journal::entries(journal.path()).is_empty(), "everything deleted is crossed out");
}
