//! Packer's AMI options: the image's name, description, sharing, regions, encryption and tags.

use std::collections::BTreeMap;

use kiln_config::diag::{Diagnostic, Diagnostics, Span};
use kiln_config::node::Node;
use serde::Deserialize;

use super::regions;
use super::tags::{self, KeyValue};

/// Options of the AMI a build makes (Packer's `AMIConfig`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The AMI's name: 3 to 128 letters, digits and `()[] ./-'@_` (`clean_resource_name` makes
    /// any string fit). It may use the build data (`{{ .SourceAMIName }}`), rendered at run time.
    #[serde(default)]
    pub ami_name: String,
    /// The AMI's description; may use the build data (`{{ .SourceAMIName }}`, `{{ .BuildRegion }}` …).
    #[serde(default)]
    pub ami_description: Option<String>,
    /// `hvm` or `paravirtual`: checked against `ena_support` and `sriov_support`.
    #[serde(default)]
    pub ami_virtualization_type: Option<String>,
    /// Account ids that may launch the AMI.
    #[serde(default)]
    pub ami_users: Vec<String>,
    /// Groups that may launch the AMI (`all` makes it public).
    #[serde(default)]
    pub ami_groups: Vec<String>,
    /// AWS Organizations (their ARNs) whose accounts may launch the AMI.
    #[serde(default)]
    pub ami_org_arns: Vec<String>,
    /// Organizational units (their ARNs) whose accounts may launch the AMI.
    #[serde(default)]
    pub ami_ou_arns: Vec<String>,
    /// Make instances launched from the AMI use IMDSv2 only: `v2.0`. Unset: the instance's
    /// own setting decides.
    #[serde(default)]
    pub imds_support: Option<String>,
    /// When the AMI becomes deprecated, as an RFC 3339 time (`2027-06-01T00:00:00Z`; EC2 rounds
    /// it to the minute), in every region.
    #[serde(default)]
    pub deprecate_at: Option<String>,
    /// Protect the AMI from deregistration, in every region: `{"enabled": true,
    /// "with_cooldown": true}` (with the cool-down, removing the protection takes 24 hours
    /// to apply).
    #[serde(default)]
    pub deregistration_protection: Option<DeregistrationProtection>,
    /// Marketplace product codes to attach to the AMI.
    #[serde(default)]
    pub ami_product_codes: Vec<String>,
    /// Regions to copy the AMI to (the build's own region is left out).
    #[serde(default)]
    pub ami_regions: Vec<String>,
    /// Time-based copies: EC2 copies the snapshots to `ami_regions` within this many minutes
    /// (15 to 2880, a multiple of 15; it costs extra). Unset: as fast as EC2 can.
    #[serde(default)]
    pub snapshot_copy_duration_minutes: Option<u64>,
    /// Do not check region names against the list of known regions.
    #[serde(default)]
    pub skip_region_validation: bool,
    /// Tags for the AMI and its snapshots, in every region. Keys and values may use the build data.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `tags` as blocks of `key` and `value` (HCL2).
    #[serde(default)]
    pub tag: Vec<KeyValue>,
    /// Enable ENA networking on the AMI (unset: as the source AMI).
    #[serde(default)]
    pub ena_support: Option<bool>,
    /// Enable SR-IOV networking on the AMI.
    #[serde(default)]
    pub sriov_support: bool,
    /// Deregister an existing AMI of the same name before making this one (also `-force`).
    #[serde(default)]
    pub force_deregister: bool,
    /// With `force_deregister`, also delete the old AMI's snapshots.
    #[serde(default)]
    pub force_delete_snapshot: bool,
    /// Encrypt the AMI's volumes (the build region's AMI is replaced by an encrypted copy).
    #[serde(default)]
    pub encrypt_boot: Option<bool>,
    /// The KMS key to encrypt with (default: the account's EBS key); needs `encrypt_boot`.
    #[serde(default)]
    pub kms_key_id: Option<String>,
    /// A KMS key per region of `ami_regions` (every one of them must be listed).
    #[serde(default)]
    pub region_kms_key_ids: BTreeMap<String, String>,
    /// Keep only the copies: the AMI in the build region is removed once they exist.
    #[serde(default)]
    pub skip_save_build_region: bool,
    /// More tags for the snapshots only. Keys and values may use the build data.
    #[serde(default)]
    pub snapshot_tags: BTreeMap<String, String>,
    /// `snapshot_tags` as blocks of `key` and `value` (HCL2).
    #[serde(default)]
    pub snapshot_tag: Vec<KeyValue>,
    /// Account ids that may create volumes from the snapshots.
    #[serde(default)]
    pub snapshot_users: Vec<String>,
    /// Groups that may create volumes from the snapshots (`all`).
    #[serde(default)]
    pub snapshot_groups: Vec<String>,
}

/// `deregistration_protection`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DeregistrationProtection {
    /// Turn the protection on.
    #[serde(default)]
    pub enabled: bool,
    /// Keep the AMI protected for 24 hours after the protection is turned off.
    #[serde(default)]
    pub with_cooldown: bool,
}

impl Config {
    /// The launch permissions the options give (accounts, groups, organizations, units).
    pub fn launch_permissions(&self) -> Vec<crate::client::LaunchPermission> {
        use crate::client::LaunchPermission as P;
        let mut perms: Vec<P> = self.ami_users.iter().cloned().map(P::User).collect();
        perms.extend(self.ami_groups.iter().cloned().map(P::Group));
        perms.extend(self.ami_org_arns.iter().cloned().map(P::OrganizationArn));
        perms.extend(self.ami_ou_arns.iter().cloned().map(P::OrganizationalUnitArn));
        perms
    }

    /// `deregistration_protection` when it is enabled.
    pub fn protection(&self) -> Option<&DeregistrationProtection> {
        self.deregistration_protection.as_ref().filter(|p| p.enabled)
    }

    /// Merges the tag blocks into the maps and checks everything that needs no AWS call.
    /// `build_region` is the region given in the template, when it is.
    pub fn prepare(&mut self, node: &Node, build_region: Option<&str>, d: &mut Diagnostics) {
        tags::merge_blocks(&mut self.tags, &self.tag, node.span_of("tag"), "tag", d);
        tags::merge_blocks(
            &mut self.snapshot_tags,
            &self.snapshot_tag,
            node.span_of("snapshot_tag"),
            "snapshot_tag",
            d,
        );

        if self.ami_name.is_empty() {
            d.push(
                Diagnostic::error("ami_name must be specified")
                    .at_opt(node.span.clone())
                    .with_help("add \"ami_name\", e.g. \"my-image-{{timestamp}}\""),
            );
        } else {
            for e in check_ami_name(&self.ami_name) {
                d.push(Diagnostic::error(e).at_opt(node.span_of("ami_name")).with_help(
                    "AMI names take letters, digits, spaces and ()[]./-'@_; `{{ clean_resource_name \"...\" }}` replaces the others",
                ));
            }
        }
        if let Some(v) = self.ami_virtualization_type.as_deref() {
            if !matches!(v, "hvm" | "paravirtual") {
                d.push(
                    Diagnostic::error(format!("invalid ami_virtualization_type {v:?}"))
                        .at_opt(node.span_of("ami_virtualization_type"))
                        .with_help("use \"hvm\" or \"paravirtual\""),
                );
            }
        }

        // Copy targets: no duplicates and not the build region (Packer drops those quietly).
        let mut seen = Vec::new();
        for r in std::mem::take(&mut self.ami_regions) {
            if Some(r.as_str()) != build_region && !seen.contains(&r) {
                seen.push(r);
            }
        }
        self.ami_regions = seen;
        if !self.skip_region_validation {
            let named = build_region.into_iter().map(|r| (r, node.span_of("region")));
            for (r, span) in named.chain(self.ami_regions.iter().map(|r| (r.as_str(), node.span_of("ami_regions")))) {
                check_region(r, span, d);
            }
        }
        for r in self.region_kms_key_ids.keys() {
            if !self.ami_regions.contains(r) && Some(r.as_str()) != build_region {
                d.push(
                    Diagnostic::error(format!("Region {r} is in region_kms_key_ids but not in ami_regions"))
                        .at_opt(node.span_of("region_kms_key_ids")),
                );
            }
        }
        if !self.region_kms_key_ids.is_empty() {
            for r in &self.ami_regions {
                if !self.region_kms_key_ids.contains_key(r) {
                    d.push(
                        Diagnostic::error(format!("Region {r} is in ami_regions but not in region_kms_key_ids"))
                            .at_opt(node.span_of("ami_regions"))
                            .with_help("give every copy region a key (an empty string for the default key)"),
                    );
                }
            }
        }
        self.check_encryption(node, d);
        self.check_lifecycle(node, d);
        if self.force_delete_snapshot && !self.force_deregister {
            d.push(
                Diagnostic::warning("force_delete_snapshot does nothing without force_deregister")
                    .at_opt(node.span_of("force_delete_snapshot")),
            );
        }
    }

    /// `imds_support`, `deprecate_at`, `deregistration_protection`, the organization ARNs.
    fn check_lifecycle(&self, node: &Node, d: &mut Diagnostics) {
        if let Some(v) = self.imds_support.as_deref().filter(|v| !v.is_empty() && *v != "v2.0") {
            d.push(
                Diagnostic::error(format!("invalid imds_support {v:?}"))
                    .at_opt(node.span_of("imds_support"))
                    .with_help("use \"v2.0\" (instances launched from the AMI use IMDSv2 only), or leave it unset"),
            );
        }
        if let Some(t) = self.deprecate_at.as_deref().filter(|t| !t.is_empty()) {
            if let Err(e) = kiln_config::civil::parse_rfc3339(t) {
                d.push(
                    Diagnostic::error(format!("deprecate_at {t:?} is not an RFC 3339 time: {e}"))
                        .at_opt(node.span_of("deprecate_at"))
                        .with_help("write a UTC time such as \"2027-06-01T00:00:00Z\""),
                );
            }
        }
        if let Some(m) = self.snapshot_copy_duration_minutes {
            if !(15..=2880).contains(&m) || m % 15 != 0 {
                d.push(
                    Diagnostic::error(format!(
                        "snapshot_copy_duration_minutes {m} is not a multiple of 15 from 15 to 2880"
                    ))
                    .at_opt(node.span_of("snapshot_copy_duration_minutes"))
                    .with_help("use 15, 30, 45 … 2880 minutes, or leave it unset for a standard copy"),
                );
            }
        }
        if self.deregistration_protection.as_ref().is_some_and(|p| p.with_cooldown && !p.enabled) {
            d.push(
                Diagnostic::warning("deregistration_protection's with_cooldown does nothing without enabled")
                    .at_opt(node.span_of("deregistration_protection"))
                    .with_help("add \"enabled\": true"),
            );
        }
        let kinds = [
            (
                "ami_org_arns",
                &self.ami_org_arns,
                ":organization/",
                "organization",
                "arn:aws:organizations::111122223333:organization/o-abcdefghij",
            ),
            (
                "ami_ou_arns",
                &self.ami_ou_arns,
                ":ou/",
                "organizational unit",
                "arn:aws:organizations::111122223333:ou/o-abcdefghij/ou-ab12-cdef3456",
            ),
        ];
        for (key, arns, marker, what, example) in kinds {
            for arn in arns.iter().filter(|a| !(a.starts_with("arn:") && a.contains(marker))) {
                d.push(
                    Diagnostic::error(format!("{key}: {arn:?} is not an {what} ARN"))
                        .at_opt(node.span_of(key))
                        .with_help(format!("an {what} ARN looks like {example}")),
                );
            }
        }
    }

    fn check_encryption(&self, node: &Node, d: &mut Diagnostics) {
        let encrypt = self.encrypt_boot == Some(true);
        let default_key = self.kms_key_id.as_deref().unwrap_or("").is_empty();
        let region_default = self.region_kms_key_ids.values().any(String::is_empty);
        if !self.ami_users.is_empty() && encrypt && default_key {
            d.push(
                Diagnostic::error("Cannot share AMI encrypted with default KMS key")
                    .at_opt(node.span_of("ami_users"))
                    .with_help("set kms_key_id to a customer managed key the accounts may use"),
            );
        }
        if !self.ami_users.is_empty() && region_default {
            d.push(
                Diagnostic::error("Cannot share AMI encrypted with default KMS key for other regions")
                    .at_opt(node.span_of("region_kms_key_ids")),
            );
        }
        if !self.snapshot_users.is_empty() && encrypt && default_key && self.region_kms_key_ids.is_empty() {
            d.push(
                Diagnostic::error("Cannot share snapshot encrypted with default KMS key")
                    .at_opt(node.span_of("snapshot_users")),
            );
        }
        let keys: Vec<&str> = self
            .kms_key_id
            .iter()
            .chain(self.region_kms_key_ids.values())
            .map(String::as_str)
            .filter(|k| !k.is_empty())
            .collect();
        if !keys.is_empty() && !encrypt {
            d.push(
                Diagnostic::error(
                    "If you have set either region_kms_key_ids or kms_key_id, encrypt_boot must also be true.",
                )
                .at_opt(node.span_of(if self.kms_key_id.is_some() { "kms_key_id" } else { "region_kms_key_ids" }))
                .with_help("add \"encrypt_boot\": true"),
            );
        }
        for k in keys {
            if !valid_kms_key(k) {
                d.push(
                    Diagnostic::error(format!("{k:?} is not a valid KMS Key Id."))
                        .at_opt(node.span_of(if self.kms_key_id.as_deref() == Some(k) {
                            "kms_key_id"
                        } else {
                            "region_kms_key_ids"
                        }))
                        .with_help("use a key id, an alias (alias/name) or a key or alias ARN"),
                );
            }
        }
    }
}

fn check_region(r: &str, span: Option<Span>, d: &mut Diagnostics) {
    if regions::is_known(r) {
        return;
    }
    let mut e = Diagnostic::error(format!("unknown region {r:?}")).at_opt(span);
    e = match regions::closest(r) {
        Some(s) => {
            e.with_help(format!("did you mean {s:?}? (set skip_region_validation for a region kiln does not know yet)"))
        }
        None => e.with_help("set skip_region_validation for a region kiln does not know yet"),
    };
    d.push(e);
}

/// AWS's rules for AMI names, as Packer checks them; errors are Packer's messages. Parts that
/// are template actions (`{{ .SourceAMIName }}`) are checked once rendered.
pub fn check_ami_name(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let literal = literal_text(name);
    if !name.contains("{{") && !(3..=128).contains(&name.len()) {
        errs.push("ami_name must be between 3 and 128 characters long".to_string());
    }
    if let Some(c) = literal.bytes().find(|b| !ami_name_byte(*b)) {
        errs.push(format!(
            "AMIName should only contain alphanumeric characters, parentheses (()), square brackets ([]), spaces ( ), \
             periods (.), slashes (/), dashes (-), single quotes ('), at-signs (@), or underscores(_); found {:?}",
            char::from(c)
        ));
    }
    errs
}

fn ami_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"()[] ./-'@_".contains(&b)
}

/// `s` without its `{{ … }}` actions (found by kiln-gotmpl's lexer). Nothing when the lexer
/// rejects `s`: the template error is what gets reported.
fn literal_text(s: &str) -> String {
    let Ok(spans) = kiln_gotmpl::action_spans(s) else { return String::new() };
    let mut out = String::new();
    let mut pos = 0;
    for span in spans {
        out.push_str(&s[pos..span.start]);
        pos = span.end;
    }
    out.push_str(&s[pos..]);
    out
}

/// A KMS key id, alias, or key/alias ARN (what Packer accepts).
pub fn valid_kms_key(k: &str) -> bool {
    let key_id =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase() || b == b'-');
    let alias = |s: &str| {
        s.strip_prefix("alias/")
            .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b":/_-".contains(&b)))
    };
    if key_id(k) || alias(k) {
        return true;
    }
    // arn:aws[-us-gov|-cn]:kms:<region>:<12 digits>:key/<id> or :alias/<name>
    let parts: Vec<&str> = k.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !parts[1].starts_with("aws") || parts[2] != "kms" {
        return false;
    }
    let account_ok = parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit());
    account_ok && (parts[5].strip_prefix("key/").is_some_and(key_id) || alias(parts[5]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_names_follow_aws_rules() {
        assert!(check_ami_name("packer-example apache 1700000000").is_empty());
        assert!(check_ami_name("a (b) [c] ./-'@_").is_empty());
        assert_eq!(check_ami_name("ab"), ["ami_name must be between 3 and 128 characters long"]);
        assert_eq!(check_ami_name(&"x".repeat(129)).len(), 1);
        let e = check_ami_name("my:image");
        assert!(e[0].ends_with("found ':'"), "{e:?}");
        // Actions are checked once rendered; the text around them now.
        assert!(check_ami_name("{{ .SourceAMIName }}").is_empty());
        assert_eq!(check_ami_name("x!{{ .SourceAMIName }}").len(), 1);
    }

    #[test]
    fn kms_keys() {
        assert!(valid_kms_key("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(valid_kms_key("alias/my-key"));
        assert!(valid_kms_key("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(valid_kms_key("arn:aws:kms:us-east-1:111122223333:alias/my-key"));
        assert!(!valid_kms_key("bad key!"));
        assert!(!valid_kms_key("arn:aws:kms:us-east-1:1111:key/abc"));
    }
}
