//! Packer 1.6.6's fixers, in the order Packer runs them. Each rewrites the decoded template in
//! place; behaviour (which value wins when both the old and the new option are set, which
//! builder types are touched) follows `packer fix` as observed.

use serde_json::{Map, Value};

pub type FixFn = fn(&mut Map<String, Value>) -> Result<(), String>;

pub struct Fixer {
    pub name: &'static str,
    pub synopsis: &'static str,
    pub run: FixFn,
}

const fn fixer(name: &'static str, synopsis: &'static str, run: FixFn) -> Fixer {
    Fixer { name, synopsis, run }
}

pub const FIXERS: &[Fixer] = &[
    fixer("iso-md5", "Replaces \"iso_md5\" in builders with \"iso_checksum\"", iso_md5),
    fixer("createtime", "Replaces \".CreateTime\" in Amazon builders' \"ami_name\" with \"{{timestamp}}\"", createtime),
    fixer("virtualbox-gaattach", "Turns VirtualBox \"guest_additions_attach\" into \"guest_additions_mode\"", gaattach),
    fixer("pp-vagrant-override", "Moves provider sections of the Vagrant post-processor into \"override\"", vagrant_override),
    fixer("virtualbox-rename", "Renames \"virtualbox\" builders to \"virtualbox-iso\"", virtualbox_rename),
    fixer("vmware-rename", "Renames \"vmware\" builders to \"vmware-iso\"", vmware_rename),
    fixer("parallels-headless", "Removes the unused \"headless\" from Parallels builders", parallels_headless),
    fixer(
        "parallels-deprecations",
        "Removes \"parallels_tools_host_path\" and renames \"guest_os_distribution\" to \"guest_os_type\" in Parallels builders",
        parallels_deprecations,
    ),
    fixer("sshkeypath", "Renames \"ssh_key_path\" to \"ssh_private_key_file\"", sshkeypath),
    fixer("sshdisableagent", "Renames \"ssh_disable_agent\" to \"ssh_disable_agent_forwarding\"", sshdisableagent),
    fixer("scaleway-access-key", "Renames Scaleway \"access_key\" to \"organization_id\"", scaleway_access_key),
    fixer("manifest-filename", "Renames the manifest post-processor's \"filename\" to \"output\"", manifest_filename),
    fixer("amazon-shutdown_behavior", "Renames \"shutdown_behaviour\" to \"shutdown_behavior\" in Amazon builders", amazon_shutdown),
    fixer("amazon-enhanced-networking", "Renames \"enhanced_networking\" to \"ena_support\" in Amazon builders", amazon_ena),
    fixer("amazon-private-ip", "Turns Amazon \"ssh_private_ip\" into \"ssh_interface\"", amazon_private_ip),
    fixer(
        "amazon-temp-sec-cidrs",
        "Turns \"temporary_security_group_source_cidr\" into the list \"temporary_security_group_source_cidrs\"",
        amazon_temp_cidrs,
    ),
    fixer("docker-email", "Removes \"login_email\" from Docker builders and post-processors", docker_email),
    fixer("docker-tag-tags", "Merges the docker-tag post-processor's \"tag\" into \"tags\"", docker_tag_tags),
    fixer("powershell-escapes", "Removes PowerShell escapes from environment variables and elevated credentials", powershell_escapes),
    fixer("vmware-compaction", "Sets \"skip_compaction\" on ESXi vmware-iso builders whose disk cannot be compacted", vmware_compaction),
    fixer("hyperv-deprecations", "Removes \"vhd_temp_path\" from hyperv-iso builders", hyperv_deprecations),
    fixer("hyperv-vmxc-typo", "Renames \"clone_from_vmxc_path\" to \"clone_from_vmcx_path\" in hyperv-vmcx builders", hyperv_vmxc_typo),
    fixer("hyperv-cpu-and-ram", "Renames \"cpu\" to \"cpus\" and \"ram_size\" to \"memory\" in Hyper-V builders", hyperv_cpu_ram),
    fixer("clean-image-name", "Replaces clean_image_name/clean_ami_name in builder options with clean_resource_name", clean_image_name),
    fixer("spot-price-auto-product", "Removes \"spot_price_auto_product\" from Amazon builders", spot_price_auto_product),
    fixer("qemu-disk-size", "Turns a numeric QEMU \"disk_size\" into a string with a unit", qemu_disk_size),
    fixer("galaxy-command", "Renames \"galaxycommand\" to \"galaxy_command\" in ansible-local provisioners", galaxy_command),
    fixer("comm-config", "Renames VirtualBox \"ssh_host_port_min/max\" and \"ssh_skip_nat_mapping\"", comm_config),
    fixer("ssh-wait-timeout", "Renames \"ssh_wait_timeout\" to \"ssh_timeout\"", ssh_wait_timeout),
    fixer("vsphere-iso-net-disk", "Moves vsphere-iso network and disk options into \"network_adapters\" and \"storage\"", vsphere_net_disk),
    fixer(
        "iso-checksum-type-and-url",
        "Folds \"iso_checksum_type\" and \"iso_checksum_url\" into \"iso_checksum\"",
        iso_checksum_type_and_url,
    ),
    fixer("qemu-host-port", "Renames QEMU \"ssh_host_port_min/max\" to \"host_port_min/max\"", qemu_host_port),
    fixer("azure-exclude_from_latest", "Fixes the \"exlude_from_latest\" typo in azure-chroot builders", azure_exclude),
    fixer("proxmox-type", "Renames \"proxmox\" builders to \"proxmox-iso\"", proxmox_type),
];

type Obj = Map<String, Value>;

/// The builder objects. `builders` must be a list of objects, as Packer's decoder demands.
fn builders(t: &mut Obj) -> Result<Vec<&mut Obj>, String> {
    let Some(b) = t.get_mut("builders") else { return Ok(Vec::new()) };
    match b {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(m),
                other => Err(format!("builder {} must be an object, found {}", i + 1, kind(other))),
            })
            .collect(),
        other => Err(format!("\"builders\" must be a list of objects, found {}", kind(other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Builders whose `type` is one of `types` (or, for a trailing `*`, starts with it).
fn builders_of<'a>(t: &'a mut Obj, types: &[&str]) -> Result<Vec<&'a mut Obj>, String> {
    Ok(builders(t)?.into_iter().filter(|b| type_matches(b, types)).collect())
}

fn type_matches(obj: &Obj, types: &[&str]) -> bool {
    let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
    types.iter().any(|t| match t.strip_suffix('*') {
        Some(prefix) => ty.starts_with(prefix),
        None => ty == *t,
    })
}

fn provisioners(t: &mut Obj) -> Vec<&mut Obj> {
    match t.get_mut("provisioners") {
        Some(Value::Array(items)) => items.iter_mut().filter_map(Value::as_object_mut).collect(),
        _ => Vec::new(),
    }
}

/// Post-processor objects, including those inside chains.
fn post_processors(t: &mut Obj) -> Vec<&mut Obj> {
    let mut out = Vec::new();
    if let Some(Value::Array(items)) = t.get_mut("post-processors") {
        for item in items {
            match item {
                Value::Object(m) => out.push(m),
                Value::Array(chain) => out.extend(chain.iter_mut().filter_map(Value::as_object_mut)),
                _ => {}
            }
        }
    }
    out
}

/// Moves `old` to `new`. When both are set, `old_wins` decides which value stays.
fn rename(obj: &mut Obj, old: &str, new: &str, old_wins: bool) {
    if let Some(v) = obj.remove(old) {
        if old_wins || !obj.contains_key(new) {
            obj.insert(new.to_string(), v);
        }
    }
}

fn iso_md5(t: &mut Obj) -> Result<(), String> {
    for b in builders(t)? {
        if let Some(v) = b.remove("iso_md5") {
            b.insert("iso_checksum".into(), v);
            b.insert("iso_checksum_type".into(), Value::from("md5"));
        }
    }
    Ok(())
}

fn createtime(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["amazon-*"])? {
        if let Some(Value::String(s)) = b.get_mut("ami_name") {
            *s = replace_actions(s, |inner| (inner.trim() == ".CreateTime").then(|| "{{timestamp}}".to_string()));
        }
    }
    Ok(())
}

/// Replaces each `{{ ... }}` action whose inner text `f` maps to something (actions found by
/// kiln-gotmpl's lexer; a string it rejects is left as it is).
fn replace_actions(s: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let Ok(spans) = kiln_gotmpl::action_spans(s) else { return s.to_string() };
    let mut out = String::new();
    let mut pos = 0;
    for span in spans {
        out.push_str(&s[pos..span.start]);
        match f(&s[span.inner]) {
            Some(r) => out.push_str(&r),
            None => out.push_str(&s[span.start..span.end]),
        }
        pos = span.end;
    }
    out.push_str(&s[pos..]);
    out
}

fn gaattach(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["virtualbox"])? {
        if let Some(Value::Bool(attach)) = b.get("guest_additions_attach").cloned() {
            b.remove("guest_additions_attach");
            b.insert("guest_additions_mode".into(), Value::from(if attach { "attach" } else { "upload" }));
        }
    }
    Ok(())
}

/// Provider sections Vagrant once read at the top level.
const VAGRANT_PROVIDERS: &[&str] = &["aws", "digitalocean", "virtualbox", "vmware"];

fn vagrant_override(t: &mut Obj) -> Result<(), String> {
    for pp in post_processors(t).into_iter().filter(|p| type_matches(p, &["vagrant"])) {
        let moved: Vec<(String, Value)> =
            VAGRANT_PROVIDERS.iter().filter_map(|k| pp.remove(*k).map(|v| (k.to_string(), v))).collect();
        if moved.is_empty() {
            continue;
        }
        // Packer replaces an existing "override" here, losing its other providers; kiln merges.
        let over = pp.entry("override").or_insert_with(|| Value::Object(Map::new()));
        if !over.is_object() {
            *over = Value::Object(Map::new());
        }
        if let Some(m) = over.as_object_mut() {
            m.extend(moved);
        }
    }
    Ok(())
}

fn virtualbox_rename(t: &mut Obj) -> Result<(), String> {
    let mut renamed = false;
    for b in builders_of(t, &["virtualbox"])? {
        b.insert("type".into(), Value::from("virtualbox-iso"));
        renamed |= !b.contains_key("name");
    }
    if renamed {
        for p in provisioners(t) {
            if let Some(Value::Object(o)) = p.get_mut("override") {
                rename(o, "virtualbox", "virtualbox-iso", true);
            }
        }
    }
    Ok(())
}

fn retype(t: &mut Obj, from: &str, to: &str) -> Result<(), String> {
    for b in builders_of(t, &[from])? {
        b.insert("type".into(), Value::from(to));
    }
    Ok(())
}

fn vmware_rename(t: &mut Obj) -> Result<(), String> {
    retype(t, "vmware", "vmware-iso")
}

fn proxmox_type(t: &mut Obj) -> Result<(), String> {
    retype(t, "proxmox", "proxmox-iso")
}

const PARALLELS: &[&str] = &["parallels-iso", "parallels-pvm"];

fn parallels_headless(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, PARALLELS)? {
        b.remove("headless");
    }
    Ok(())
}

fn parallels_deprecations(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, PARALLELS)? {
        b.remove("parallels_tools_host_path");
        rename(b, "guest_os_distribution", "guest_os_type", true);
    }
    Ok(())
}

fn sshkeypath(t: &mut Obj) -> Result<(), String> {
    builders(t)?.into_iter().for_each(|b| rename(b, "ssh_key_path", "ssh_private_key_file", false));
    Ok(())
}

fn sshdisableagent(t: &mut Obj) -> Result<(), String> {
    for b in builders(t)? {
        if matches!(b.get("ssh_disable_agent"), Some(Value::Bool(_))) {
            rename(b, "ssh_disable_agent", "ssh_disable_agent_forwarding", false);
        }
    }
    Ok(())
}

fn ssh_wait_timeout(t: &mut Obj) -> Result<(), String> {
    builders(t)?.into_iter().for_each(|b| rename(b, "ssh_wait_timeout", "ssh_timeout", false));
    Ok(())
}

fn scaleway_access_key(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["scaleway"])? {
        if matches!(b.get("access_key"), Some(Value::String(_))) {
            rename(b, "access_key", "organization_id", false);
        }
    }
    Ok(())
}

fn manifest_filename(t: &mut Obj) -> Result<(), String> {
    for pp in post_processors(t).into_iter().filter(|p| type_matches(p, &["manifest"])) {
        rename(pp, "filename", "output", true);
    }
    Ok(())
}

fn amazon_shutdown(t: &mut Obj) -> Result<(), String> {
    builders_of(t, &["amazon-*"])?.into_iter().for_each(|b| rename(b, "shutdown_behaviour", "shutdown_behavior", true));
    Ok(())
}

fn amazon_ena(t: &mut Obj) -> Result<(), String> {
    builders_of(t, &["amazon-*"])?.into_iter().for_each(|b| rename(b, "enhanced_networking", "ena_support", true));
    Ok(())
}

fn amazon_private_ip(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["amazon-*"])? {
        if b.contains_key("ssh_interface") {
            continue;
        }
        let private = match b.get("ssh_private_ip") {
            None => continue,
            Some(Value::Bool(v)) => *v,
            Some(Value::String(s)) => kiln_config::golang::parse_go_bool(s)
                .ok_or_else(|| format!("ssh_private_ip is not a boolean: {s:?} (write true or false)"))?,
            Some(other) => return Err(format!("ssh_private_ip is not a boolean: found {}", kind(other))),
        };
        b.remove("ssh_private_ip");
        b.insert("ssh_interface".into(), Value::from(if private { "private_ip" } else { "public_ip" }));
    }
    Ok(())
}

fn amazon_temp_cidrs(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["amazon-*"])? {
        if let Some(Value::String(s)) = b.get("temporary_security_group_source_cidr").cloned() {
            b.remove("temporary_security_group_source_cidr");
            b.insert("temporary_security_group_source_cidrs".into(), Value::Array(vec![Value::String(s)]));
        }
    }
    Ok(())
}

fn docker_email(t: &mut Obj) -> Result<(), String> {
    // Packer drops it from every builder and post-processor, whatever the type.
    for b in builders(t)? {
        b.remove("login_email");
    }
    for pp in post_processors(t) {
        pp.remove("login_email");
    }
    Ok(())
}

fn docker_tag_tags(t: &mut Obj) -> Result<(), String> {
    for pp in post_processors(t).into_iter().filter(|p| type_matches(p, &["docker-tag"])) {
        let Some(tag) = pp.remove("tag") else {
            if let Some(Value::String(one)) = pp.get("tags").cloned() {
                pp.insert("tags".into(), Value::Array(vec![Value::String(one)]));
            }
            continue;
        };
        let strings = |v: Option<Value>| -> Vec<String> {
            match v {
                Some(Value::String(s)) => vec![s],
                Some(Value::Array(a)) => a.into_iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                _ => Vec::new(),
            }
        };
        let mut tags = strings(Some(tag));
        for t in strings(pp.remove("tags")) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        pp.insert("tags".into(), Value::Array(tags.into_iter().map(Value::String).collect()));
    }
    Ok(())
}

/// PowerShell's backtick escapes that Packer once required users to write.
fn unescape_powershell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '`' {
            if let Some(&next @ ('$' | '"' | '\'' | '`')) = chars.peek() {
                out.push(next);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn powershell_escapes(t: &mut Obj) -> Result<(), String> {
    for p in provisioners(t).into_iter().filter(|p| type_matches(p, &["powershell"])) {
        for key in ["elevated_user", "elevated_password"] {
            if let Some(Value::String(s)) = p.get_mut(key) {
                *s = unescape_powershell(s);
            }
        }
        if let Some(Value::Array(vars)) = p.get_mut("environment_vars") {
            for v in vars {
                if let Value::String(s) = v {
                    *s = unescape_powershell(s);
                }
            }
        }
    }
    Ok(())
}

fn vmware_compaction(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["vmware-iso"])? {
        if b.get("remote_type").and_then(Value::as_str) != Some("esx5") {
            continue;
        }
        let disk = b.entry("disk_type_id").or_insert_with(|| Value::from("zeroedthick"));
        if disk.as_str() != Some("thin") {
            b.insert("skip_compaction".into(), Value::Bool(true));
        }
    }
    Ok(())
}

fn hyperv_deprecations(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["hyperv-iso"])? {
        b.remove("vhd_temp_path");
    }
    Ok(())
}

fn hyperv_vmxc_typo(t: &mut Obj) -> Result<(), String> {
    builders_of(t, &["hyperv-vmcx"])?
        .into_iter()
        .for_each(|b| rename(b, "clone_from_vmxc_path", "clone_from_vmcx_path", true));
    Ok(())
}

fn hyperv_cpu_ram(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["hyperv-iso", "hyperv-vmcx"])? {
        rename(b, "cpu", "cpus", true);
        rename(b, "ram_size", "memory", true);
    }
    Ok(())
}

fn clean_image_name(t: &mut Obj) -> Result<(), String> {
    for b in builders(t)? {
        for v in b.values_mut() {
            if let Value::String(s) = v {
                *s = s
                    .replace("clean_image_name", "clean_resource_name")
                    .replace("clean_ami_name", "clean_resource_name");
            }
        }
    }
    Ok(())
}

fn spot_price_auto_product(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["amazon-*"])? {
        b.remove("spot_price_auto_product");
    }
    Ok(())
}

fn qemu_disk_size(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["qemu"])? {
        if let Some(n) = b.get("disk_size").and_then(Value::as_f64) {
            // Go converts the float to an int, dropping the fraction.
            b.insert("disk_size".into(), Value::from(format!("{}M", n.trunc() as i64)));
        }
    }
    Ok(())
}

fn galaxy_command(t: &mut Obj) -> Result<(), String> {
    for p in provisioners(t).into_iter().filter(|p| type_matches(p, &["ansible-local"])) {
        rename(p, "galaxycommand", "galaxy_command", false);
    }
    Ok(())
}

fn comm_config(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["virtualbox-iso", "virtualbox-ovf", "virtualbox-vm"])? {
        rename(b, "ssh_host_port_min", "host_port_min", false);
        rename(b, "ssh_host_port_max", "host_port_max", false);
        rename(b, "ssh_skip_nat_mapping", "skip_nat_mapping", false);
    }
    Ok(())
}

fn qemu_host_port(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["qemu"])? {
        rename(b, "ssh_host_port_min", "host_port_min", true);
        rename(b, "ssh_host_port_max", "host_port_max", true);
    }
    Ok(())
}

/// Prepends an object made of `keys` (those present) to the list `into`.
fn gather(b: &mut Obj, keys: &[&str], into: &str) {
    let mut item = Map::new();
    for k in keys {
        if let Some(v) = b.remove(*k) {
            item.insert(k.to_string(), v);
        }
    }
    if item.is_empty() {
        return;
    }
    let mut list = match b.remove(into) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    list.insert(0, Value::Object(item));
    b.insert(into.to_string(), Value::Array(list));
}

fn vsphere_net_disk(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["vsphere-iso"])? {
        gather(b, &["network", "network_card"], "network_adapters");
        gather(b, &["disk_size", "disk_thin_provisioned", "disk_eagerly_scrub"], "storage");
    }
    Ok(())
}

fn iso_checksum_type_and_url(t: &mut Obj) -> Result<(), String> {
    for b in builders(t)? {
        let ty = b.remove("iso_checksum_type");
        if let Some(url) = b.remove("iso_checksum_url") {
            if let Some(u) = url.as_str() {
                b.insert("iso_checksum".into(), Value::from(format!("file:{u}")));
            }
            continue;
        }
        if let (Some(Value::String(ty)), Some(Value::String(sum))) = (ty, b.get("iso_checksum")) {
            let combined = format!("{ty}:{sum}");
            b.insert("iso_checksum".into(), Value::from(combined));
        }
    }
    Ok(())
}

fn azure_exclude(t: &mut Obj) -> Result<(), String> {
    for b in builders_of(t, &["azure-chroot"])? {
        if let Some(Value::Object(d)) = b.get_mut("shared_image_destination") {
            rename(d, "exlude_from_latest", "exclude_from_latest", true);
        }
    }
    Ok(())
}
