//! The AWS resources of a build in kiln's cleanup journal ([`kiln_core::journal`]), and the
//! cleaners `kiln cleanup` deletes them with after a killed kiln left them behind.
//!
//! Each resource is written down before the call that makes it, by what the build chose
//! beforehand (a key pair's or an AMI's name, a security group's name, an instance's client
//! token), given its id when the call answers, and crossed out when its cleanup deleted it (an
//! AMI also when the build finished it). The entry's endpoint is the region; its parameters
//! say how to reach the account again (`custom_endpoint_ec2`, `profile`, the credentials file,
//! the role to assume), never a key: `kiln cleanup` takes credentials from its environment,
//! as a build does.

use std::collections::BTreeMap;
use std::time::Duration;

use kiln_core::journal::{Entry, Journal};
use kiln_core::registry::CleanerFuture;
use kiln_core::Ui;

use super::access::{self, AssumeRoleConfig};
use super::artifact::destroy_ami;
use crate::client::{DescribeBy, DescribeImages, DescribeInstances, Ec2Client, Env, Filter, WaitConfig};

/// The build instance: recorded by its client token, then by its id.
pub const INSTANCE: &str = "amazon-instance";
/// A temporary key pair, by name.
pub const KEY_PAIR: &str = "amazon-key-pair";
/// A temporary security group: by name, then by id.
pub const SECURITY_GROUP: &str = "amazon-security-group";
/// An AMI (with its snapshots) until the build finished it: by name, then by id.
pub const IMAGE: &str = "amazon-image";

/// Every kind, with its cleaner (for the registry).
pub const CLEANERS: [(&str, kiln_core::registry::Cleaner); 4] =
    [(INSTANCE, cleaner), (KEY_PAIR, cleaner), (SECURITY_GROUP, cleaner), (IMAGE, cleaner)];

/// The registry's cleaner of every amazon kind: [`clean`] with the process environment.
pub fn cleaner(e: Entry) -> CleanerFuture {
    Box::pin(clean(e, Env::process()))
}

/// Deletes the resource of entry `e` (already gone is success), with credentials from `env`.
pub async fn clean(e: Entry, env: Env) -> kiln_core::Result<()> {
    let ec2 = client(&e, env)?;
    match e.kind.as_str() {
        INSTANCE => clean_instance(&e, &ec2).await,
        KEY_PAIR => clean_key_pair(&e, &ec2).await,
        SECURITY_GROUP => clean_security_group(&e, &ec2).await,
        IMAGE => clean_image(&e, &ec2).await,
        other => Err(kiln_core::Error::new(format!("{other:?} is not a kind of amazon resource"))),
    }
}

// Parameter names.
const ENDPOINT: &str = "custom_endpoint_ec2";
const PROFILE: &str = "profile";
const CREDENTIALS_FILE: &str = "shared_credentials_file";
const ROLE_ARN: &str = "assume_role_arn";
const INSECURE: &str = "insecure_skip_tls_verify";
const SKIP_METADATA: &str = "skip_metadata_api_check";
/// The VPC a security group recorded by name is in.
pub const VPC: &str = "vpc_id";
/// What finds an instance whose RunInstances answer was lost: the temporary group's id, the
/// temporary key pair's name.
pub const GROUP_ID: &str = "group_id";
pub const KEY_NAME: &str = "key_name";
/// Volumes that outlive the instance (comma-separated): deleted after it is terminated.
pub const VOLUMES: &str = "volumes";

/// A build's journal and what its entries need to reach the account; does nothing when the
/// build has no journal (a state made by hand in a test).
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    journal: Option<Journal>,
    params: BTreeMap<String, String>,
}

impl Recorder {
    /// Records into `journal`, with the account described by `access`.
    pub fn new(journal: Journal, access: &access::Config) -> Recorder {
        let mut params = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                params.insert(k.to_string(), v);
            }
        };
        put(ENDPOINT, access.custom_endpoint_ec2.clone());
        put(PROFILE, access.profile.clone());
        // Absolute: `kiln cleanup` may run in another folder.
        put(
            CREDENTIALS_FILE,
            access
                .shared_credentials_file
                .as_deref()
                .filter(|f| !f.is_empty())
                .map(|f| std::path::absolute(f).map_or_else(|_| f.to_string(), |p| p.to_string_lossy().into_owned())),
        );
        put(ROLE_ARN, access.assume_role.as_ref().map(|r| r.role_arn.clone()));
        put(INSECURE, access.insecure_skip_tls_verify.then(|| "true".to_string()));
        put(SKIP_METADATA, access.skip_metadata_api_check.then(|| "true".to_string()));
        Recorder { journal: Some(journal), params }
    }

    /// The journal file, when there is one.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.journal.as_ref().map(|j| j.path())
    }

    /// Writes down a resource about to be made in `region`; a journal that cannot be written
    /// is said, and the build goes on (its own cleanups still run).
    pub fn record(&self, ui: &Ui, kind: &str, id: &str, region: &str, extra: &[(&str, &str)]) {
        let Some(j) = &self.journal else { return };
        let mut params = self.params.clone();
        params.extend(extra.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())));
        if let Err(e) = j.record_with(kind, id, region, params) {
            ui.error(format!("Could not write {kind} {id} to the cleanup journal {}: {e}", j.path().display()));
        }
    }

    /// The resource recorded as `old` has the id `new`.
    pub fn update(&self, ui: &Ui, kind: &str, old: &str, new: &str) {
        let Some(j) = &self.journal else { return };
        if let Err(e) = j.update(kind, old, new) {
            ui.error(format!("Could not write {kind} {new} to the cleanup journal {}: {e}", j.path().display()));
        }
    }

    pub fn set_param(&self, ui: &Ui, kind: &str, id: &str, key: &str, value: &str) {
        let Some(j) = &self.journal else { return };
        if let Err(e) = j.set_param(kind, id, key, value) {
            ui.error(format!("Could not update {kind} {id} in the cleanup journal {}: {e}", j.path().display()));
        }
    }

    /// Crosses out a resource that is deleted, never made, or kept as the build's result.
    pub fn forget(&self, ui: &Ui, kind: &str, id: &str) {
        let Some(j) = &self.journal else { return };
        if let Err(e) = j.forget(kind, id) {
            ui.log(format!("could not cross {kind} {id} out of the cleanup journal: {e}"));
        }
    }
}

/// EC2 in the entry's region, reached as the build reached it, with credentials from the
/// environment `kiln cleanup` runs in.
fn client(e: &Entry, env: Env) -> kiln_core::Result<Ec2Client> {
    let p = |k: &str| e.params.get(k).cloned();
    let config = access::Config {
        region: Some(e.endpoint.clone()).filter(|r| !r.is_empty()),
        custom_endpoint_ec2: p(ENDPOINT),
        profile: p(PROFILE),
        shared_credentials_file: p(CREDENTIALS_FILE),
        assume_role: p(ROLE_ARN).map(|role_arn| AssumeRoleConfig { role_arn, ..AssumeRoleConfig::default() }),
        insecure_skip_tls_verify: p(INSECURE).is_some(),
        skip_metadata_api_check: p(SKIP_METADATA).is_some(),
        ..access::Config::default()
    };
    let cfg = config.load(env, None).map_err(|err| kiln_core::Error::new(err.to_string()))?;
    Ok(Ec2Client::new(&cfg))
}

fn failed(e: crate::client::Error) -> kiln_core::Error {
    kiln_core::Error::new(e.to_string())
}

/// How long a cleaner waits for an instance to terminate or a group to be free.
const PATIENCE: Duration = Duration::from_secs(600);

/// Terminates the instance (found through the lost launch's traces when only its client token
/// was recorded), waits until it is gone, and deletes the volumes it kept.
async fn clean_instance(e: &Entry, ec2: &Ec2Client) -> kiln_core::Result<()> {
    let ids = if e.id.starts_with("i-") {
        vec![e.id.clone()]
    } else {
        let filter = match (e.params.get(GROUP_ID), e.params.get(KEY_NAME)) {
            (Some(g), _) => Filter::new("instance.group-id", [g.as_str()]),
            (None, Some(k)) => Filter::new("key-name", [k.as_str()]),
            (None, None) => Filter::new("client-token", [e.id.as_str()]),
        };
        let found = ec2
            .describe_instances(&DescribeInstances { filters: vec![filter], ..DescribeInstances::default() })
            .await
            .map_err(failed)?;
        found.into_iter().filter(|i| i.state.name != "terminated").map(|i| i.instance_id).collect()
    };
    let wait = WaitConfig { timeout: PATIENCE, ..WaitConfig::default() };
    for id in &ids {
        match ec2.terminate_instances(std::slice::from_ref(id)).await {
            Ok(_) => {}
            Err(err) if err.is_not_found() => continue,
            Err(err) => return Err(failed(err)),
        }
        ec2.wait_instance_terminated(id, &wait, std::future::pending()).await.map_err(failed)?;
    }
    let volumes: Vec<String> = e
        .params
        .get(VOLUMES)
        .map(|v| v.split(',').filter(|v| !v.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    if !volumes.is_empty() {
        let found = match ec2.describe_volumes(&DescribeBy::ids(volumes)).await {
            Ok(v) => v,
            Err(err) if err.is_not_found() => Vec::new(),
            Err(err) => return Err(failed(err)),
        };
        for v in found.into_iter().filter(|v| v.state == "available") {
            match ec2.delete_volume(&v.volume_id).await {
                Ok(()) => {}
                Err(err) if err.is_not_found() => {}
                Err(err) => return Err(failed(err)),
            }
        }
    }
    Ok(())
}

async fn clean_key_pair(e: &Entry, ec2: &Ec2Client) -> kiln_core::Result<()> {
    match ec2.delete_key_pair(&e.id).await {
        Err(err) if !err.is_not_found() => Err(failed(err)),
        _ => Ok(()),
    }
}

/// Deletes the group (found by name when its id was never recorded), waiting while an
/// instance's network interface still holds it.
async fn clean_security_group(e: &Entry, ec2: &Ec2Client) -> kiln_core::Result<()> {
    let id = if e.id.starts_with("sg-") {
        e.id.clone()
    } else {
        let mut filters = vec![Filter::new("group-name", [e.id.as_str()])];
        if let Some(v) = e.params.get(VPC) {
            filters.push(Filter::new("vpc-id", [v.as_str()]));
        }
        match ec2.describe_security_groups(&DescribeBy::filters(filters)).await.map_err(failed)?.into_iter().next() {
            Some(g) => g.group_id,
            None => return Ok(()),
        }
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut delay = Duration::from_secs(1);
    loop {
        match ec2.delete_security_group(&id).await {
            Ok(()) => return Ok(()),
            Err(err) if err.is_not_found() => return Ok(()),
            Err(err) if err.code() == Some("DependencyViolation") && std::time::Instant::now() < deadline => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(15));
            }
            Err(err) => return Err(failed(err)),
        }
    }
}

/// Deregisters the AMI (found by name when its id was never recorded) and deletes its snapshots.
async fn clean_image(e: &Entry, ec2: &Ec2Client) -> kiln_core::Result<()> {
    let ids = if e.id.starts_with("ami-") {
        vec![e.id.clone()]
    } else {
        let mine = DescribeImages {
            owners: vec!["self".into()],
            filters: vec![Filter::new("name", [e.id.as_str()])],
            ..DescribeImages::default()
        };
        ec2.describe_images(&mine).await.map_err(failed)?.into_iter().map(|i| i.image_id).collect()
    };
    for id in ids {
        destroy_ami(ec2, &e.endpoint, &id).await.map_err(failed)?;
    }
    Ok(())
}
