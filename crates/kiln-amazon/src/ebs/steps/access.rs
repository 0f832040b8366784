//! The instance's security groups: the template's, the ones its filter finds, or a temporary
//! group; and the temporary group's one rule, which lets in the communicator's port from the
//! address kiln connects from only (or from `temporary_security_group_source_cidrs`).

use std::net::IpAddr;
use std::time::Duration;

use kiln_core::step::{Outcome, Step};
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{CreateSecurityGroup, DescribeBy, Filter, IpPermission};
use crate::common::source_address::{host_cidr, is_private, outbound_address, public_address};
use crate::common::{aws_error, journal, names};
use crate::ebs::state::GroupHandle;
use crate::ebs::State;

pub struct StepSecurityGroup;

#[async_trait]
impl Step<State> for StepSecurityGroup {
    fn name(&self) -> &'static str {
        "StepSecurityGroup"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        if !s.run.security_group_ids.is_empty() {
            state
                .ec2
                .describe_security_groups(&DescribeBy::ids(s.run.security_group_ids.clone()))
                .await
                .map_err(|e| aws_error(e, "Couldn't find specified security group"))?;
            state.security_group_ids = s.run.security_group_ids.clone();
            return Ok(());
        }
        if let Some(f) = &s.run.security_group_filter {
            let mut fs = f.filters.clone();
            if let Some(v) = &state.vpc_id {
                fs.insert("vpc-id".into(), v.clone());
            }
            let fs: Vec<Filter> = fs.iter().map(|(k, v)| Filter::new(k, [v])).collect();
            let groups = state
                .ec2
                .describe_security_groups(&DescribeBy::filters(fs.clone()))
                .await
                .map_err(|e| aws_error(e, "Couldn't find security groups for filter"))?;
            if groups.is_empty() {
                let described: Vec<String> =
                    fs.iter().map(|f| format!("{} = {:?}", f.name, f.values.join(","))).collect();
                return Err(Error::new(format!(
                    "No security group matches security_group_filter: {}",
                    described.join(", ")
                )));
            }
            state.security_group_ids = groups.into_iter().map(|g| g.group_id).collect();
            ctx.ui.message(format!("Found Security Group(s): {}", state.security_group_ids.join(", ")));
            return Ok(());
        }

        let name = names::temporary_name();
        ctx.ui.say(format!("Creating temporary security group for this instance: {name}"));
        state.temporary_group = Some(GroupHandle { name: name.clone(), id: None, vpc_id: state.vpc_id.clone() });
        let vpc = state.vpc_id.clone().unwrap_or_default();
        state.journal.record(&ctx.ui, journal::SECURITY_GROUP, &name, &state.region, &[(journal::VPC, &vpc)]);
        let input = CreateSecurityGroup {
            group_name: name.clone(),
            description: "Temporary group for Packer".into(),
            vpc_id: state.vpc_id.clone(),
            ..CreateSecurityGroup::default()
        };
        match state.ec2.create_security_group(&input).await {
            Ok(id) => {
                state.journal.update(&ctx.ui, journal::SECURITY_GROUP, &name, &id);
                state.temporary_group = Some(GroupHandle { name, id: Some(id.clone()), vpc_id: state.vpc_id.clone() });
                state.security_group_ids = vec![id];
                Ok(())
            }
            Err(e) => {
                if matches!(e, crate::client::Error::Service(_)) {
                    state.temporary_group = None;
                    state.journal.forget(&ctx.ui, journal::SECURITY_GROUP, &name);
                }
                Err(aws_error(e, "Error creating temporary security group"))
            }
        }
    }

    fn cleans(&self, state: &State) -> Option<String> {
        let g = state.temporary_group.as_ref()?;
        Some(format!("deleting temporary security group {}", g.id.as_deref().unwrap_or(&g.name)))
    }

    async fn cleanup(&self, state: &mut State, ctx: &RunContext, _outcome: Outcome) {
        let Some(group) = state.temporary_group.clone() else { return };
        ctx.ui.say("Deleting temporary security group...");
        let id = match group.id.clone() {
            Some(id) => id,
            None => match find_group(state, &group).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    state.temporary_group = None;
                    state.journal.forget(&ctx.ui, journal::SECURITY_GROUP, &group.name);
                    return;
                }
                Err(e) => {
                    ctx.ui.error(format!(
                        "Error cleaning up security group. Please delete the group {} manually: {e}",
                        group.name
                    ));
                    return;
                }
            },
        };
        // The instance's network interface detaches a little after it is terminated; until
        // then EC2 answers DependencyViolation.
        let mut delay = Duration::from_secs(1);
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        loop {
            match state.ec2.delete_security_group(&id).await {
                Ok(()) => break,
                Err(e) if e.is_not_found() => break,
                Err(e) if e.code() == Some("DependencyViolation") && std::time::Instant::now() < deadline => {
                    ctx.ui.log(format!("security group {id} still in use, retrying in {delay:?}"));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(15));
                }
                Err(e) => {
                    ctx.ui.error(format!(
                        "Error cleaning up security group. Please delete the group manually: err: {e}; security group ID: {id}"
                    ));
                    return;
                }
            }
        }
        state.temporary_group = None;
        // Recorded by name until the id came.
        state.journal.forget(&ctx.ui, journal::SECURITY_GROUP, &id);
        state.journal.forget(&ctx.ui, journal::SECURITY_GROUP, &group.name);
    }
}

/// The group's id by its name, when CreateSecurityGroup's answer was lost.
async fn find_group(state: &State, group: &GroupHandle) -> crate::client::Result<Option<String>> {
    let mut filters = vec![Filter::new("group-name", [group.name.as_str()])];
    if let Some(v) = &group.vpc_id {
        filters.push(Filter::new("vpc-id", [v.as_str()]));
    }
    let found = state.ec2.describe_security_groups(&DescribeBy::filters(filters)).await?;
    Ok(found.into_iter().next().map(|g| g.group_id))
}

/// Opens the communicator's port in the temporary group, once the instance's address is known.
pub struct StepAuthorizeAccess;

#[async_trait]
impl Step<State> for StepAuthorizeAccess {
    fn name(&self) -> &'static str {
        "StepAuthorizeAccess"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let Some(group_id) = state.temporary_group.as_ref().and_then(|g| g.id.clone()) else { return Ok(()) };
        if s.comm.kind() == "none" {
            return Ok(());
        }
        let cidrs = source_cidrs(state).await?;
        let port = i32::from(state.ssh_port);
        ctx.ui.say(format!(
            "Authorizing access to port {port} from [{}] in the temporary security groups...",
            cidrs.join(" ")
        ));
        let (v6, v4): (Vec<String>, Vec<String>) = cidrs.into_iter().partition(|c| c.contains(':'));
        let rule = IpPermission {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            ipv4_ranges: v4,
            ipv6_ranges: v6,
            ..IpPermission::default()
        };
        // A new group may not be visible everywhere yet (EC2 is eventually consistent).
        let mut delay = Duration::from_millis(500);
        for attempt in 1.. {
            match state.ec2.authorize_security_group_ingress(&group_id, std::slice::from_ref(&rule)).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() && attempt < 8 => {
                    ctx.cancel.run(tokio::time::sleep(delay)).await?;
                    delay = (delay * 2).min(Duration::from_secs(10));
                }
                Err(e) => return Err(aws_error(e, "Error authorizing temporary security group")),
            }
        }
        Ok(())
    }
}

const HOW_TO_SET: &str = "set temporary_security_group_source_cidrs to the addresses kiln's connections come from, \
                          like [\"203.0.113.7/32\"] (or [\"0.0.0.0/0\"] to let anyone connect, as Packer does by default)";

/// The CIDRs the rule lets in: the template's, or the one address kiln connects from.
async fn source_cidrs(state: &State) -> Result<Vec<String>> {
    let s = &state.settings;
    if !s.run.temporary_security_group_source_cidrs.is_empty() {
        return Ok(s.run.temporary_security_group_source_cidrs.clone());
    }
    if s.run.temporary_security_group_source_public_ip {
        let ip = public_address(&state.http, &s.checkip_url)
            .await
            .map_err(|e| Error::new(format!("cannot find kiln's public address: {e}; {HOW_TO_SET}")))?;
        return Ok(vec![host_cidr(ip)]);
    }
    if s.comm.ssh_bastion_host.as_deref().is_some_and(|b| !b.is_empty()) {
        return Err(Error::new(format!(
            "kiln connects through ssh_bastion_host, so it cannot tell which address the connections come from; {HOW_TO_SET}"
        )));
    }
    let Some(host) = state.ssh_host.clone() else {
        return Err(Error::new(format!("the instance has no address to connect to yet; {HOW_TO_SET}")));
    };
    let target = tokio::net::lookup_host((host.as_str(), state.ssh_port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Error::new(format!("cannot resolve {host}; {HOW_TO_SET}")))?;
    let ip: IpAddr = if is_private(target.ip()) {
        outbound_address(target)
            .map_err(|e| Error::new(format!("cannot tell which local address reaches {host}: {e}; {HOW_TO_SET}")))?
    } else {
        public_address(&state.http, &s.checkip_url)
            .await
            .map_err(|e| Error::new(format!("cannot find kiln's public address: {e}; {HOW_TO_SET}")))?
    };
    Ok(vec![host_cidr(ip)])
}
