//! Key pairs, security groups, subnets, VPCs, regions and availability zones.

use base64::Engine as _;
use roxmltree::Node;

use super::*;
use crate::client::secret::Secret;

impl Ec2Client {
    /// Creates a key pair; `key_type` is `rsa` (default) or `ed25519`.
    pub async fn create_key_pair(
        &self,
        key_name: &str,
        key_type: Option<&str>,
        tags: &[TagSpecification],
    ) -> Result<KeyPair> {
        let mut p = Self::params("CreateKeyPair");
        p.set("KeyName", key_name);
        p.opt("KeyType", key_type);
        put_tag_specifications(&mut p, tags);
        self.call_with(&p, |root| Ok(read_key_pair(root))).await
    }

    /// Imports a public key (OpenSSH format).
    pub async fn import_key_pair(&self, key_name: &str, public_key: &str) -> Result<KeyPair> {
        let mut p = Self::params("ImportKeyPair");
        p.set("KeyName", key_name);
        p.set("PublicKeyMaterial", base64::engine::general_purpose::STANDARD.encode(public_key.trim()));
        self.call_with(&p, |root| Ok(read_key_pair(root))).await
    }

    /// The names of the key pairs (all of them, or those of `names` that exist).
    pub async fn describe_key_pairs(&self, names: &[String]) -> Result<Vec<String>> {
        let mut p = Self::params("DescribeKeyPairs");
        p.list("KeyName", names);
        self.call_with(&p, |root| Ok(xml::items(root, "keySet").filter_map(|k| xml::text(k, "keyName")).collect()))
            .await
    }

    pub async fn delete_key_pair(&self, key_name: &str) -> Result<()> {
        let mut p = Self::params("DeleteKeyPair");
        p.set("KeyName", key_name);
        self.call_ok(&p).await
    }

    /// Creates a security group; returns its id.
    pub async fn create_security_group(&self, input: &CreateSecurityGroup) -> Result<String> {
        let mut p = Self::params("CreateSecurityGroup");
        p.set("GroupName", &input.group_name).set("GroupDescription", &input.description);
        p.opt("VpcId", input.vpc_id.as_ref());
        put_tag_specifications(&mut p, &input.tag_specifications);
        self.call_with(&p, |root| {
            xml::text(root, "groupId")
                .ok_or_else(|| Error::response(SERVICE, "CreateSecurityGroup", "no groupId in the answer"))
        })
        .await
    }

    pub async fn authorize_security_group_ingress(&self, group_id: &str, rules: &[IpPermission]) -> Result<()> {
        let mut p = Self::params("AuthorizeSecurityGroupIngress");
        p.set("GroupId", group_id);
        for (i, r) in rules.iter().enumerate() {
            let pre = format!("IpPermissions.{}", i + 1);
            p.set(format!("{pre}.IpProtocol"), &r.ip_protocol);
            p.opt(format!("{pre}.FromPort"), r.from_port);
            p.opt(format!("{pre}.ToPort"), r.to_port);
            for (j, cidr) in r.ipv4_ranges.iter().enumerate() {
                p.set(format!("{pre}.IpRanges.{}.CidrIp", j + 1), cidr);
            }
            for (j, cidr) in r.ipv6_ranges.iter().enumerate() {
                p.set(format!("{pre}.Ipv6Ranges.{}.CidrIpv6", j + 1), cidr);
            }
            for (j, g) in r.source_group_ids.iter().enumerate() {
                p.set(format!("{pre}.Groups.{}.GroupId", j + 1), g);
            }
        }
        self.call_ok(&p).await
    }

    /// Security groups by id, name (`names`) and filters.
    pub async fn describe_security_groups(&self, input: &DescribeBy) -> Result<Vec<SecurityGroup>> {
        let mut p = Self::params("DescribeSecurityGroups");
        p.list("GroupId", &input.ids);
        p.list("GroupName", &input.names);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| {
            out.extend(xml::items(root, "securityGroupInfo").map(read_group))
        })
        .await
    }

    pub async fn delete_security_group(&self, group_id: &str) -> Result<()> {
        let mut p = Self::params("DeleteSecurityGroup");
        p.set("GroupId", group_id);
        self.call_ok(&p).await
    }

    pub async fn describe_subnets(&self, input: &DescribeBy) -> Result<Vec<Subnet>> {
        let mut p = Self::params("DescribeSubnets");
        p.list("SubnetId", &input.ids);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| {
            out.extend(xml::items(root, "subnetSet").map(|s| Subnet {
                subnet_id: xml::text_or_empty(s, "subnetId"),
                vpc_id: xml::text_or_empty(s, "vpcId"),
                state: xml::text_or_empty(s, "state"),
                cidr_block: xml::text_or_empty(s, "cidrBlock"),
                availability_zone: xml::text_or_empty(s, "availabilityZone"),
                available_ip_address_count: xml::number(s, "availableIpAddressCount").unwrap_or(0),
                default_for_az: xml::boolean(s, "defaultForAz").unwrap_or(false),
                map_public_ip_on_launch: xml::boolean(s, "mapPublicIpOnLaunch").unwrap_or(false),
                tags: read_tags(s),
            }))
        })
        .await
    }

    pub async fn describe_vpcs(&self, input: &DescribeBy) -> Result<Vec<Vpc>> {
        let mut p = Self::params("DescribeVpcs");
        p.list("VpcId", &input.ids);
        put_filters(&mut p, &input.filters);
        self.paginate(p, input.max_results, |root, out| {
            out.extend(xml::items(root, "vpcSet").map(|v| Vpc {
                vpc_id: xml::text_or_empty(v, "vpcId"),
                state: xml::text_or_empty(v, "state"),
                cidr_block: xml::text_or_empty(v, "cidrBlock"),
                is_default: xml::boolean(v, "isDefault").unwrap_or(false),
                tags: read_tags(v),
            }))
        })
        .await
    }

    /// The regions enabled for the account (all of them with `all_regions`).
    pub async fn describe_regions(&self, all_regions: bool) -> Result<Vec<Region>> {
        let mut p = Self::params("DescribeRegions");
        if all_regions {
            p.set("AllRegions", "true");
        }
        self.call_with(&p, |root| {
            Ok(xml::items(root, "regionInfo")
                .map(|r| Region {
                    region_name: xml::text_or_empty(r, "regionName"),
                    endpoint: xml::text_or_empty(r, "regionEndpoint"),
                    opt_in_status: xml::text(r, "optInStatus"),
                })
                .collect())
        })
        .await
    }

    pub async fn describe_availability_zones(&self, filters: &[Filter]) -> Result<Vec<AvailabilityZone>> {
        let mut p = Self::params("DescribeAvailabilityZones");
        put_filters(&mut p, filters);
        self.call_with(&p, |root| {
            Ok(xml::items(root, "availabilityZoneInfo")
                .map(|z| AvailabilityZone {
                    zone_name: xml::text_or_empty(z, "zoneName"),
                    zone_id: xml::text(z, "zoneId"),
                    state: xml::text_or_empty(z, "zoneState"),
                    region_name: xml::text_or_empty(z, "regionName"),
                })
                .collect())
        })
        .await
    }
}

fn read_key_pair(root: Node<'_, '_>) -> KeyPair {
    KeyPair {
        key_name: xml::text_or_empty(root, "keyName"),
        key_pair_id: xml::text(root, "keyPairId"),
        key_fingerprint: xml::text_or_empty(root, "keyFingerprint"),
        // Not trimmed by `text`'s caller: keep the PEM as sent, only surrounding whitespace dropped.
        key_material: Secret::new(xml::text(root, "keyMaterial").map(|k| format!("{k}\n")).unwrap_or_default()),
    }
}

fn read_permissions(g: Node<'_, '_>, set: &str) -> Vec<IpPermission> {
    xml::items(g, set)
        .map(|r| IpPermission {
            ip_protocol: xml::text_or_empty(r, "ipProtocol"),
            from_port: xml::number(r, "fromPort"),
            to_port: xml::number(r, "toPort"),
            ipv4_ranges: xml::items(r, "ipRanges").filter_map(|i| xml::text(i, "cidrIp")).collect(),
            ipv6_ranges: xml::items(r, "ipv6Ranges").filter_map(|i| xml::text(i, "cidrIpv6")).collect(),
            source_group_ids: xml::items(r, "groups").filter_map(|i| xml::text(i, "groupId")).collect(),
        })
        .collect()
}

fn read_group(g: Node<'_, '_>) -> SecurityGroup {
    SecurityGroup {
        group_id: xml::text_or_empty(g, "groupId"),
        group_name: xml::text_or_empty(g, "groupName"),
        description: xml::text_or_empty(g, "groupDescription"),
        owner_id: xml::text_or_empty(g, "ownerId"),
        vpc_id: xml::text(g, "vpcId"),
        ingress: read_permissions(g, "ipPermissions"),
        egress: read_permissions(g, "ipPermissionsEgress"),
        tags: read_tags(g),
    }
}
