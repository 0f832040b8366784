//! Failures and cancellations: whatever step a build stops at, moto holds nothing of it after.

use kiln_amazon::client::{DescribeImages, Ec2Client, Filter, RegisterImage};
use kiln_amazon::ebs::State;
use kiln_core::step::Step;
use kiln_core::{async_trait, RunContext};

use super::{config, index_of, inventory, run, Inventory, Opts};
use crate::support::Moto;

/// A step that fails (for failures after a given step).
struct Fail(&'static str);

#[async_trait]
impl Step<State> for Fail {
    fn name(&self) -> &'static str {
        "Fail"
    }
    async fn run(&self, _state: &mut State, _ctx: &RunContext) -> kiln_core::Result<()> {
        Err(kiln_core::Error::new(self.0))
    }
}

/// A step that cancels the build (as Ctrl-C would while it runs).
struct CancelHere;

#[async_trait]
impl Step<State> for CancelHere {
    fn name(&self) -> &'static str {
        "CancelHere"
    }
    async fn run(&self, _state: &mut State, ctx: &RunContext) -> kiln_core::Result<()> {
        ctx.cancel.cancel();
        Ok(())
    }
}

#[tokio::test]
async fn no_matching_source_ami_names_the_filter() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let mut node = config(&moto, r#""ami_name": "kiln-nosource", "communicator": "none""#);
    node = kiln_template::testing::json_node(
        "t.json",
        &node.to_json().to_string().replace("ubuntu/images/*ubuntu-focal-20.04-amd64-server-*", "no-such-image-*"),
    )
    .unwrap();
    let r = run(&node, Opts::default()).await;
    let e = r.error();
    println!("{e}");
    assert!(
        e.contains("No AMI was found matching source_ami_filter { owners [099720109477], name = \"no-such-image-*\""),
        "{e}"
    );
    assert!(e.ends_with("in us-east-1"), "{e}");
    assert_eq!(r.actions(), ["DescribeImages", "DescribeImages"], "nothing made");
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
}

#[tokio::test]
async fn taken_ami_name_stops_before_anything_is_made_unless_forced() {
    let Some(moto) = Moto::start() else { return };
    // An AMI of ours named like the build's, in the copy region.
    let west = Ec2Client::new(&moto.config("us-west-2", None));
    let old = west
        .register_image(&RegisterImage {
            name: "kiln-taken".into(),
            root_device_name: Some("/dev/sda1".into()),
            ..RegisterImage::default()
        })
        .await
        .unwrap();
    let before = inventory(&moto).await;
    let node = config(&moto, r#""ami_name": "kiln-taken", "ami_regions": ["us-west-2"], "communicator": "none""#);
    let r = run(&node, Opts::default()).await;
    let e = r.error();
    assert!(e.contains(&format!("AMI Name: 'kiln-taken' is used by an existing AMI: {old} (in us-west-2)")), "{e}");
    assert!(e.contains("force_deregister"), "{e}");
    assert_eq!(r.actions(), ["DescribeImages", "DescribeImages"], "checked both regions, made nothing");
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());

    // With force_deregister the old one goes and the build goes on.
    let node = config(
        &moto,
        r#""ami_name": "kiln-taken", "ami_regions": ["us-west-2"], "communicator": "none", "force_deregister": true"#,
    );
    let r = run(&node, Opts::default()).await;
    println!("{}", r.transcript());
    let artifact = r.artifact();
    assert!(r.transcript().contains(&format!("Deregistered AMI kiln-taken, id: {old}")));
    let named = west
        .describe_images(&DescribeImages {
            owners: vec!["self".into()],
            filters: vec![Filter::new("name", ["kiln-taken"])],
            ..DescribeImages::default()
        })
        .await
        .unwrap();
    assert_eq!(named.len(), 1);
    assert_ne!(named[0].image_id, old);
    artifact.destroy().await.unwrap();
}

#[tokio::test]
async fn a_failure_after_the_copies_removes_them_all() {
    let Some(moto) = Moto::start() else { return };
    let before = inventory(&moto).await;
    let node = config(
        &moto,
        r#""ami_name": "kiln-fail-late", "ami_regions": ["us-west-2"], "ami_users": ["111122223333"],
           "tags": {"a": "b"}, "ssh_username": "ubuntu", "temporary_security_group_source_cidrs": ["192.0.2.0/24"]"#,
    );
    let end = index_of("StepCreateTags") + 1;
    let r = run(&node, Opts { insert: vec![(end, Box::new(Fail("late failure")))], ..Opts::default() }).await;
    println!("{}", r.transcript());
    assert_eq!(r.error(), "late failure");
    let text = r.transcript();
    for line in [
        "Cleaning up: deregistering AMI ",
        "Deregistering the AMI copies and deleting their snapshots because of cancellation, or error...",
        "Deregistering the AMI and deleting associated snapshots because of cancellation, or error...",
        "Deleted snapshot: snap-",
        "Terminating the source AWS instance...",
        "Deleting temporary security group...",
        "Deleting temporary keypair...",
    ] {
        assert!(text.contains(line), "missing {line:?}");
    }
    assert_eq!(inventory(&moto).await.added_since(&before), Inventory::default());
    assert_eq!(r.journal, [], "everything deleted is crossed out");
}

#[tokio::test]
async fn cancelling_at_any_point_leaves_nothing() {
    let Some(moto) = Moto::start() else { return };
    let base = r#""ami_regions": ["us-west-2"], "ssh_username": "ubuntu", "temporary_security_group_source_cidrs": ["192.0.2.0/24"]"#;
    // (what, how): a call after which the build is cancelled, or a step at which it is.
    let cases: Vec<(&str, Opts)> = vec![
        (
            "before the instance runs",
            Opts { insert: vec![(index_of("StepRunSourceInstance"), Box::new(CancelHere))], ..Opts::default() },
        ),
        ("while the key pair is made", Opts { cancel_after: Some("CreateKeyPair"), ..Opts::default() }),
        ("while the instance starts", Opts { cancel_after: Some("RunInstances"), ..Opts::default() }),
        ("while it runs", Opts { slot: vec![Box::new(CancelHere)], ..Opts::default() }),
        ("while it stops", Opts { cancel_after: Some("StopInstances"), ..Opts::default() }),
        ("while the AMI is made", Opts { cancel_after: Some("CreateImage"), ..Opts::default() }),
        ("during the copy", Opts { cancel_after: Some("CopyImage"), ..Opts::default() }),
        ("while the AMI is shared", Opts { cancel_after: Some("ModifyImageAttribute"), ..Opts::default() }),
    ];
    for (i, (what, opts)) in cases.into_iter().enumerate() {
        let before = inventory(&moto).await;
        let node =
            config(&moto, &format!("\"ami_name\": \"kiln-cancel-{i}\", \"ami_users\": [\"111122223333\"], {base}"));
        let r = run(&node, opts).await;
        let e = match &r.result {
            Err(e) => e.clone(),
            Ok(_) => panic!("{what}: not cancelled\n{}", r.transcript()),
        };
        assert!(e.cancelled, "{what}: {e}\n{}", r.transcript());
        let left = inventory(&moto).await.added_since(&before);
        assert_eq!(left, Inventory::default(), "{what}: left behind\n{}", r.transcript());
        assert_eq!(r.journal, [], "{what}: left in the journal");
        println!("cancelled {what}: {} calls, nothing left ({})", r.calls.len(), r.actions().join(" "));
    }
}
