//! EC2 waiters: instance running, stopped, terminated; image available; snapshots completed.
//! A `*.NotFound` right after creation is EC2's eventual consistency and counts as pending.

use std::future::Future;

pub use crate::client::waiter::WaitConfig;
use crate::client::waiter::{wait_until, Check};

use super::*;

impl Ec2Client {
    pub async fn wait_instance_running(
        &self,
        instance_id: &str,
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance> {
        self.wait_instance(instance_id, "running", &["shutting-down", "terminated", "stopping", "stopped"], cfg, cancel)
            .await
    }

    pub async fn wait_instance_stopped(
        &self,
        instance_id: &str,
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance> {
        self.wait_instance(instance_id, "stopped", &["pending", "shutting-down", "terminated"], cfg, cancel).await
    }

    /// Done when terminated or gone.
    pub async fn wait_instance_terminated(
        &self,
        instance_id: &str,
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<()> {
        let what = format!("instance {instance_id} to be terminated");
        wait_until(&what, cfg, cancel, || async {
            match self.describe_instance(instance_id).await {
                Ok(i) if i.state.name == "terminated" => Ok(Check::Done(())),
                Ok(i) => Ok(Check::Pending(i.state.name)),
                Err(e) if e.is_not_found() => Ok(Check::Done(())),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn wait_instance(
        &self,
        instance_id: &str,
        target: &str,
        failures: &[&str],
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<Instance> {
        let what = format!("instance {instance_id} to be {target}");
        wait_until(&what, cfg, cancel, || async {
            match self.describe_instance(instance_id).await {
                Ok(i) if i.state.name == target => Ok(Check::Done(i)),
                Ok(i) if failures.contains(&i.state.name.as_str()) => {
                    Ok(Check::Failed { state: i.state.name.clone(), reason: i.state_reason.clone() })
                }
                Ok(i) => Ok(Check::Pending(i.state.name)),
                Err(e) if e.is_not_found() => Ok(Check::Pending("not visible yet".into())),
                Err(e) => Err(e),
            }
        })
        .await
    }

    pub async fn wait_image_available(
        &self,
        image_id: &str,
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<Image> {
        let what = format!("image {image_id} to be available");
        wait_until(&what, cfg, cancel, || async {
            match self.describe_image(image_id).await {
                Ok(i) if i.state == "available" => Ok(Check::Done(i)),
                Ok(i) if matches!(i.state.as_str(), "failed" | "error" | "invalid" | "deregistered") => {
                    Ok(Check::Failed { state: i.state.clone(), reason: i.state_reason.clone() })
                }
                Ok(i) => Ok(Check::Pending(i.state)),
                Err(e) if e.is_not_found() => Ok(Check::Pending("not visible yet".into())),
                Err(e) => Err(e),
            }
        })
        .await
    }

    pub async fn wait_snapshots_completed(
        &self,
        snapshot_ids: &[String],
        cfg: &WaitConfig,
        cancel: impl Future<Output = ()>,
    ) -> Result<Vec<Snapshot>> {
        let what = format!("snapshots {} to be completed", snapshot_ids.join(", "));
        wait_until(&what, cfg, cancel, || async {
            let snaps = match self.describe_snapshots(&DescribeBy::ids(snapshot_ids.iter().cloned())).await {
                Ok(s) => s,
                Err(e) if e.is_not_found() => return Ok(Check::Pending("not visible yet".into())),
                Err(e) => return Err(e),
            };
            if let Some(bad) = snaps.iter().find(|s| s.state == "error") {
                return Ok(Check::Failed {
                    state: bad.state.clone(),
                    reason: Some(format!("snapshot {}", bad.snapshot_id)),
                });
            }
            if snaps.len() == snapshot_ids.len() && snaps.iter().all(|s| s.state == "completed") {
                return Ok(Check::Done(snaps));
            }
            let states: Vec<String> = snaps.iter().map(|s| format!("{}: {}", s.snapshot_id, s.state)).collect();
            Ok(Check::Pending(states.join(", ")))
        })
        .await
    }
}
