//! Resolves `vpc_filter` and `subnet_filter`, and a subnet's VPC and zone.

use kiln_core::step::Step;
use kiln_core::{async_trait, Error, Result, RunContext};

use crate::client::{DescribeBy, Filter, Subnet};
use crate::common::aws_error;
use crate::ebs::State;

pub struct StepNetworkInfo;

fn filters(map: &std::collections::BTreeMap<String, String>) -> Vec<Filter> {
    map.iter().map(|(k, v)| Filter::new(k, [v])).collect()
}

fn described(f: &[Filter]) -> String {
    f.iter().map(|f| format!("{} = {:?}", f.name, f.values.join(","))).collect::<Vec<_>>().join(", ")
}

#[async_trait]
impl Step<State> for StepNetworkInfo {
    fn name(&self) -> &'static str {
        "StepNetworkInfo"
    }

    async fn run(&self, state: &mut State, ctx: &RunContext) -> Result<()> {
        let s = state.settings.clone();
        let r = &s.run;
        let nonempty = |o: &Option<String>| o.clone().filter(|v| !v.is_empty());
        state.vpc_id = nonempty(&r.vpc_id);
        state.subnet_id = nonempty(&r.subnet_id);
        state.availability_zone = nonempty(&r.availability_zone);

        if let (None, Some(f)) = (&state.vpc_id, &r.vpc_filter) {
            let mut fs = f.filters.clone();
            fs.entry("state".into()).or_insert_with(|| "available".into());
            let fs = filters(&fs);
            let vpcs = state
                .ec2
                .describe_vpcs(&DescribeBy::filters(fs.clone()))
                .await
                .map_err(|e| aws_error(e, "Error querying VPCs"))?;
            if vpcs.len() != 1 {
                return Err(Error::new(format!(
                    "Exactly one VPC should match the filter, but {} VPC's was found matching filters: {}",
                    vpcs.len(),
                    described(&fs)
                )));
            }
            ctx.ui.message(format!("Found VPC ID: {}", vpcs[0].vpc_id));
            state.vpc_id = Some(vpcs[0].vpc_id.clone());
        }

        if let (None, Some(f)) = (&state.subnet_id, &r.subnet_filter) {
            let mut fs = f.filters.clone();
            fs.entry("state".into()).or_insert_with(|| "available".into());
            if let Some(v) = &state.vpc_id {
                fs.insert("vpc-id".into(), v.clone());
            }
            if let Some(az) = &state.availability_zone {
                fs.insert("availability-zone".into(), az.clone());
            }
            let fs = filters(&fs);
            let subnets = state
                .ec2
                .describe_subnets(&DescribeBy::filters(fs.clone()))
                .await
                .map_err(|e| aws_error(e, "Error querying Subnets"))?;
            let subnet = pick_subnet(subnets, f.most_free, f.random, &fs)?;
            ctx.ui.message(format!("Found Subnet ID: {}", subnet.subnet_id));
            state.subnet_id = Some(subnet.subnet_id);
            state.vpc_id.get_or_insert(subnet.vpc_id);
            state.availability_zone.get_or_insert(subnet.availability_zone);
        }

        if let Some(id) = state.subnet_id.clone() {
            if state.vpc_id.is_none() || state.availability_zone.is_none() {
                let subnets = state
                    .ec2
                    .describe_subnets(&DescribeBy::ids([id.clone()]))
                    .await
                    .map_err(|e| aws_error(e, format!("Describing the subnet: {id} returned error")))?;
                let Some(subnet) = subnets.into_iter().next() else {
                    return Err(Error::new(format!("subnet {id} was not found")));
                };
                state.vpc_id.get_or_insert(subnet.vpc_id);
                state.availability_zone.get_or_insert(subnet.availability_zone);
            }
        }
        Ok(())
    }
}

fn pick_subnet(mut subnets: Vec<Subnet>, most_free: bool, random: bool, fs: &[Filter]) -> Result<Subnet> {
    if subnets.is_empty() {
        return Err(Error::new(format!("No Subnets was found matching filters: {}", described(fs))));
    }
    if subnets.len() > 1 && !most_free && !random {
        return Err(Error::new(format!(
            "Your filter matched {} Subnets. Please try a more specific search, or set random or most_free to true.",
            subnets.len()
        )));
    }
    let i = if most_free {
        subnets.iter().enumerate().max_by_key(|(_, s)| s.available_ip_address_count).map(|(i, _)| i).unwrap_or(0)
    } else if random {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        nanos as usize % subnets.len()
    } else {
        0
    };
    Ok(subnets.swap_remove(i))
}
