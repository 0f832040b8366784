//! The `qemu` builder: Packer's options and steps, with the toolkit's common steps around the
//! QEMU-specific ones of [`super::steps`].

use std::path::Path;
use std::sync::Arc;

use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::node::Node;
use kiln_core::hook::StepProvision;
use kiln_core::step::{run_steps, Step};
use kiln_core::{async_trait, Artifact, BasicArtifact, BuildInfo, Builder, ProvisionHook, Result, RunContext};
use kiln_toolkit::download::{IsoConfig, StepDownload};
use kiln_toolkit::http::{HttpConfig, StepHttpServer};
use kiln_toolkit::keypair::StepTempKeyPair;
use kiln_toolkit::media_steps::{CdConfig, FloppyConfig, StepCreateCd, StepCreateFloppy};
use kiln_toolkit::output::{OutputConfig, StepOutputDir};
use kiln_toolkit::shutdown::{ShutdownConfig, StepShutdown};

use super::config::{BootConfig, Config};
use super::snapshot::StepCacheLookup;
use super::state::State;
use super::steps::{
    StepConfigureVnc, StepConnectWhenUp, StepConvertDisk, StepCreateDisk, StepDriveUploads, StepPortForward, StepRun,
    StepTypeBootCommand, WhileGuestRuns,
};

/// Packer's id for the qemu builder's artifacts.
pub const BUILDER_ID: &str = "transcend.qemu";

/// The generated data the builder sets, besides Packer's common keys.
pub const GENERATED: &[&str] = &["SSHHostPort", "HTTPIP", "HTTPPort"];

/// The parts, in the order options are looked up.
type All = (
    Config,
    BootConfig,
    kiln_comm::Config,
    IsoConfig,
    HttpConfig,
    CdConfig,
    FloppyConfig,
    ShutdownConfig,
    OutputConfig,
);

/// Every part of a `qemu` source, decoded from one configuration object.
#[derive(Clone)]
struct Parts {
    qemu: Arc<Config>,
    boot: Arc<BootConfig>,
    comm: kiln_comm::Config,
    iso: IsoConfig,
    http: HttpConfig,
    cd: CdConfig,
    floppy: FloppyConfig,
    shutdown: ShutdownConfig,
    output: OutputConfig,
    /// The digest of the options that change the machine (the step cache's source key).
    config_digest: String,
}

#[derive(Default)]
pub struct QemuBuilder {
    /// Set by `prepare`.
    parts: Option<Parts>,
}

pub fn new() -> Box<dyn Builder> {
    Box::<QemuBuilder>::default()
}

#[async_trait]
impl Builder for QemuBuilder {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        let (qemu, boot, comm, iso, http, cd, floppy, shutdown, output): All =
            kiln_config::decode::decode_parts(config, "the \"qemu\" builder")?;
        let mut d = Diagnostics::new();
        d.extend(qemu.check(config));
        d.extend(boot.check(config));
        d.extend(comm.check(config, false));
        if let Some(w) = check_skip_nat_mapping(&qemu, &comm, config) {
            d.push(w);
        }
        d.extend(http.check(config));
        let mut warnings = match iso.check(config) {
            Ok(w) => w,
            Err(e) => {
                d.extend(e);
                Vec::new()
            }
        };
        if d.has_errors() {
            return Err(d);
        }
        warnings.extend(d.0);
        self.parts = Some(Parts {
            qemu: Arc::new(qemu),
            boot: Arc::new(boot),
            comm,
            iso,
            http,
            cd,
            floppy,
            shutdown,
            output,
            config_digest: super::snapshot::config_digest(config),
        });
        Ok(warnings)
    }

    fn generated_data_keys(&self) -> Vec<String> {
        GENERATED.iter().map(|k| k.to_string()).collect()
    }

    async fn run(&self, ctx: &RunContext, hook: Arc<dyn ProvisionHook>) -> Result<Option<Arc<dyn Artifact>>> {
        let Some(p) = &self.parts else {
            return Err(kiln_core::Error::new("the qemu builder was not prepared"));
        };
        let c = &p.qemu;
        // Packer's steps, in Packer's order.
        let steps: Vec<Box<dyn Step<State>>> = vec![
            Box::new(StepDownload::new(&p.iso)),
            Box::new(StepOutputDir::new(&p.output, &ctx.info)),
            Box::new(StepCreateFloppy::new(&p.floppy, &ctx.info.template_dir)),
            Box::new(StepCreateCd::new(&p.cd, &ctx.info.template_dir)),
            Box::new(StepCacheLookup {
                hook: Arc::clone(&hook),
                config: Arc::clone(c),
                comm_kind: p.comm.kind().to_string(),
            }),
            Box::new(StepCreateDisk(Arc::clone(c))),
            Box::new(StepHttpServer::new(&p.http)),
            Box::new(StepTempKeyPair::new(&p.comm)),
            Box::new(StepPortForward { config: Arc::clone(c), connects: p.comm.kind() != "none" }),
            Box::new(StepConfigureVnc { config: Arc::clone(c), boot: Arc::clone(&p.boot) }),
            Box::new(StepRun(Arc::clone(c))),
            Box::new(WhileGuestRuns(StepTypeBootCommand(Arc::clone(&p.boot)))),
            Box::new(WhileGuestRuns(StepConnectWhenUp { config: p.comm.clone() })),
            Box::new(StepDriveUploads { ssh: p.comm.kind() == "ssh" }),
            Box::new(WhileGuestRuns(StepProvision { hook })),
            Box::new(StepShutdown::new(&p.shutdown)),
            Box::new(StepConvertDisk),
        ];
        let vm_name = c.vm_name(&ctx.info.name);
        let mut state = State {
            vm_name,
            boot_from_iso: !c.disk_image,
            guest_port: p.comm.ssh_port.unwrap_or(22),
            bridged: !c.net_bridge.is_empty(),
            qemu_binary: c.qemu_binary().to_string(),
            config_digest: p.config_digest.clone(),
            ..State::default()
        };
        run_steps(&steps, &mut state, ctx).await?;
        Ok(Some(Arc::new(artifact(c, &state)?)))
    }
}

/// `skip_nat_mapping` without `ssh_host` connects to 127.0.0.1 on `ssh_port`, as Packer does:
/// with the default port 22 that is this machine's own SSH server unless `qemuargs` forward it,
/// and provisioners would run here. A warning says so.
fn check_skip_nat_mapping(c: &Config, comm: &kiln_comm::Config, node: &Node) -> Option<Diagnostic> {
    let unset = |o: &Option<String>| o.as_deref().unwrap_or("").is_empty();
    (c.skip_nat_mapping && comm.kind() == "ssh" && unset(&comm.ssh_host) && comm.ssh_port.unwrap_or(22) == 22).then(|| {
        Diagnostic::warning("with skip_nat_mapping and no ssh_host, kiln connects to 127.0.0.1:22: this machine's own SSH server, unless qemuargs forward that port to the guest")
            .at_opt(node.span_of("skip_nat_mapping"))
            .with_help("set ssh_port to the host port your qemuargs forward to the guest's SSH port, or ssh_host to the guest's address")
    })
}

/// The artifact: every file in the output directory (Packer's qemu artifact), but the UEFI
/// variable store with `efi_drop_efivars`.
fn artifact(c: &Config, state: &State) -> Result<BasicArtifact> {
    let dir = state.output_dir();
    let mut files = list_files(dir)?;
    if let (true, Some(vars)) = (c.efi_drop_efivars, &state.efi_vars) {
        let vars = vars.display().to_string();
        files.retain(|f| *f != vars);
    }
    files.sort();
    let mut st = std::collections::BTreeMap::new();
    st.insert("diskName".to_string(), serde_json::json!(state.vm_name));
    st.insert("diskType".to_string(), serde_json::json!(c.format.as_str()));
    st.insert("diskSize".to_string(), serde_json::json!(c.disk_size().map(|s| s.text).unwrap_or_default()));
    st.insert("domainType".to_string(), serde_json::json!(state.accelerator.as_str()));
    Ok(BasicArtifact {
        builder_id: BUILDER_ID.into(),
        id: "VM".into(),
        files,
        description: format!("VM files in directory: {}", dir.display()),
        state: st,
        generated: state.common.generated.clone(),
        owns_files: true,
        user_files: false,
    })
}

fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| kiln_core::Error::new(format!("listing {}: {e}", dir.display())))?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list_files(&p)?);
        } else {
            out.push(p.display().to_string());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Config {
        let n = kiln_template::testing::json_node("t.json", json).unwrap();
        kiln_config::decode::decode_component(&n, "the \"qemu\" builder").unwrap()
    }

    #[test]
    fn the_artifact_lists_the_output_directory_and_efivars_only_when_kept() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["disk.qcow2", "efivars.fd"] {
            std::fs::write(dir.path().join(f), b"x").unwrap();
        }
        let mut state = State { vm_name: "disk.qcow2".into(), ..State::default() };
        state.common.output_dir = Some(dir.path().to_path_buf());
        state.efi_vars = Some(dir.path().join("efivars.fd"));
        let names = |json: &str| -> Vec<String> {
            let files = artifact(&config(json), &state).unwrap().files;
            files.iter().map(|f| Path::new(f).file_name().unwrap().to_string_lossy().into_owned()).collect()
        };
        assert_eq!(names(r#"{"efi_boot": true}"#), ["disk.qcow2", "efivars.fd"]);
        assert_eq!(names(r#"{"efi_boot": true, "efi_drop_efivars": true}"#), ["disk.qcow2"]);
        // The file itself stays.
        assert!(dir.path().join("efivars.fd").is_file());
    }

    /// `skip_nat_mapping` onto 127.0.0.1:22 warns (that is this machine's sshd); with the
    /// port of the user's own forward, or a guest address, it does not.
    #[test]
    fn skip_nat_mapping_onto_this_machines_ssh_port_warns() {
        let warnings = |extra: &str| {
            let src = format!(
                "{{\"iso_url\": \"base.qcow2\", \"iso_checksum\": \"none\", \"disk_image\": true,\n \"ssh_username\": \"u\", \"ssh_password\": \"p\",\n \"skip_nat_mapping\": true{extra}}}"
            );
            let n = kiln_template::testing::json_node("t.json", &src).unwrap();
            let w = QemuBuilder::default().prepare(&n, &BuildInfo::default()).unwrap();
            w.iter()
                .filter(|w| w.summary.contains("skip_nat_mapping"))
                .map(|w| w.span.as_ref().unwrap().line_col())
                .collect::<Vec<_>>()
        };
        assert_eq!(warnings(""), [(3, 22)]);
        assert_eq!(warnings(", \"ssh_port\": 22"), [(3, 22)]);
        assert!(warnings(", \"ssh_port\": 2299").is_empty());
        assert!(warnings(", \"ssh_host\": \"192.0.2.7\"").is_empty());
    }
}
