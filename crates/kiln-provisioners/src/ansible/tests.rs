use super::*;
use kiln_core::Ui;
use kiln_template::testing::json_node;

fn prepare(json: &str) -> Result<Ansible, Diagnostics> {
    let mut p = Ansible::default();
    p.prepare(&json_node("t.json", json).unwrap(), &BuildInfo::default())?;
    Ok(p)
}

fn summaries(d: &Diagnostics) -> Vec<&str> {
    d.0.iter().map(|d| d.summary.as_str()).collect()
}

#[test]
fn options_are_checked_before_the_build() {
    let e = prepare("{}").err().unwrap();
    assert_eq!(summaries(&e), ["the ansible provisioner needs a playbook_file"]);
    let e = prepare(
        r#"{"playbook_file": "none.yml", "ansible_env_vars": ["NOEQUALS"], 
            "command": "surely-not-a-program-kiln", "inventory_file_template": "{{ .Nope }}"}"#,
    )
    .err()
    .unwrap();
    let s = summaries(&e);
    assert_eq!(s[0], "playbook_file: \"none.yml\" does not exist");
    assert_eq!(s[1], "ansible_env_vars: \"NOEQUALS\" is not KEY=value");
    assert!(s[2].starts_with("inventory_file_template: "), "{s:?}");
    assert_eq!(s[3], "surely-not-a-program-kiln is not installed (not found on PATH)");
    // skip_version_check: the program may come later.
    assert!(prepare(r#"{"playbook_file": "Cargo.toml", "command": "X=1 not-there-yet", "skip_version_check": true}"#)
        .is_ok());
    let e = prepare(r#"{"playbook_file": "Cargo.toml", "command": "sh", "use_sftpp": true}"#).err().unwrap();
    assert!(e.0[0].summary.contains("use_sftpp"), "{:?}", e.0[0]);
}

#[test]
fn inventory_lines_groups_and_empty_groups() {
    let i =
        Inventory { host_alias: "default".into(), host: "10.0.0.5".into(), port: "2222".into(), user: "deb".into() };
    let c = Config::default();
    assert_eq!(
        render_inventory(&c, DEFAULT_INVENTORY_TEMPLATE, &i).unwrap(),
        "default ansible_host=10.0.0.5 ansible_user=deb ansible_port=2222\n"
    );
    let c = Config { groups: vec!["web".into(), "db".into()], empty_groups: vec!["none".into()], ..Config::default() };
    assert_eq!(
        render_inventory(&c, "{{ .HostAlias }} ansible_host={{ .Host }}", &i).unwrap(),
        "[web]\ndefault ansible_host=10.0.0.5\n[db]\ndefault ansible_host=10.0.0.5\n[none]\n"
    );
}

#[test]
fn environment_defaults_yield_to_the_users_values() {
    let c = Config { roles_path: Some("r".into()), ..Config::default() };
    let env = ansible_env(&c);
    assert!(env.contains(&("ANSIBLE_HOST_KEY_CHECKING".into(), "False".into())));
    assert!(env.contains(&("ANSIBLE_SSH_TRANSFER_METHOD".into(), "scp".into())));
    assert!(env.contains(&("ANSIBLE_ROLES_PATH".into(), "r".into())));
    let c =
        Config { ansible_env_vars: vec!["ANSIBLE_HOST_KEY_CHECKING=True".into()], use_sftp: true, ..Config::default() };
    let env = ansible_env(&c);
    let checking: Vec<_> = env.iter().filter(|(k, _)| k == "ANSIBLE_HOST_KEY_CHECKING").collect();
    assert_eq!(checking, [&("ANSIBLE_HOST_KEY_CHECKING".to_string(), "True".to_string())]);
    assert!(env.contains(&("ANSIBLE_SSH_TRANSFER_METHOD".into(), "sftp".into())));
}

#[test]
fn commands_run_through_the_shell_with_their_arguments_intact() {
    assert_eq!(
        shell_argv("X=1 ansible-playbook", vec!["a b".into()]),
        ["/bin/sh", "-c", "X=1 ansible-playbook \"$@\"", "ansible", "a b"]
    );
    assert_eq!(program_of("X=1 Y=2 ansible-playbook -v"), Some("ansible-playbook"));
    assert!(findable("sh"));
    assert!(!findable("/nonexistent/ansible-playbook"));
}

#[test]
fn kept_inventories_stay_others_go() {
    let dir = std::env::temp_dir().join(format!("kiln-ansible-inv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let c = Config { inventory_directory: Some(dir.to_string_lossy().into()), ..Config::default() };
    let w = inventory::write(&c, "x\n").unwrap();
    let p = w.path().to_path_buf();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "x\n");
    drop(w);
    assert!(!p.exists());
    let c = Config { keep_inventory_file: true, ..c };
    let w = inventory::write(&c, "y\n").unwrap();
    let p = w.path().to_path_buf();
    drop(w);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "y\n");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The build's communicator as the proxy sees it, with what it was asked to run.
struct Recording {
    inner: Arc<dyn Communicator>,
    /// Answers subsystem requests with `Unavailable`, as a machine without one.
    refuse_subsystems: bool,
    execs: std::sync::Mutex<Vec<String>>,
    subsystems: std::sync::Mutex<Vec<String>>,
}

#[kiln_core::async_trait]
impl Communicator for Recording {
    async fn exec(&self, command: &str, io: kiln_core::ExecIo<'_>) -> kiln_core::Result<Option<i32>> {
        self.execs.lock().unwrap().push(command.to_string());
        self.inner.exec(command, io).await
    }
    async fn subsystem(&self, name: &str, io: kiln_core::ExecIo<'_>) -> kiln_core::Result<kiln_core::Subsystem> {
        self.subsystems.lock().unwrap().push(name.to_string());
        if self.refuse_subsystems {
            return Ok(kiln_core::Subsystem::Unavailable);
        }
        self.inner.subsystem(name, io).await
    }
    async fn upload(
        &self,
        dst: &str,
        src: kiln_core::communicator::Reader<'_>,
        meta: kiln_core::UploadMeta,
    ) -> kiln_core::Result<()> {
        self.inner.upload(dst, src, meta).await
    }
    async fn upload_dir(&self, dst: &str, src: &std::path::Path, exclude: &[String]) -> kiln_core::Result<()> {
        self.inner.upload_dir(dst, src, exclude).await
    }
    async fn download(&self, src: &str, dst: kiln_core::communicator::Writer<'_>) -> kiln_core::Result<()> {
        self.inner.download(src, dst).await
    }
    async fn download_dir(&self, src: &str, dst: &std::path::Path, exclude: &[String]) -> kiln_core::Result<()> {
        self.inner.download_dir(src, dst, exclude).await
    }
}

/// SFTP through the proxy (OpenSSH's `sftp` in front, a real sshd behind): relayed to the
/// machine's sftp subsystem, with no command (no login shell) on the machine; to the first
/// sftp-server found when the machine has no subsystem; to `sftp_command` when it is set.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_relays_sftp_to_the_machines_subsystem_else_to_a_command() {
    let Some(sshd) = kiln_testing::sshd::sshd_or_skip() else { return };
    let server = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let (Some(server), Some(_)) = (server, kiln_testing::base_image::which("sftp")) else {
        assert!(!kiln_testing::require_tools(), "OpenSSH's sftp and sftp-server are required");
        eprintln!("notice: skipping: OpenSSH's sftp client or sftp-server is not installed");
        return;
    };
    let cfg = kiln_comm::config::Config {
        communicator: Some("ssh".into()),
        ssh_host: Some("127.0.0.1".into()),
        ssh_port: Some(sshd.port),
        ssh_username: Some(sshd.user.clone()),
        ssh_private_key_file: Some(sshd.key.to_string_lossy().into_owned()),
        ..Default::default()
    };
    let ssh: Arc<dyn Communicator> = Arc::new(kiln_comm::ssh::connect(&cfg, &|_: &str| {}).await.unwrap());
    let dir = kiln_testing::TempDir::new("ansible-proxy-sftp");
    let src = dir.0.join("src.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let ui = Ui::new(Box::new(kiln_core::event::MemoryRenderer::default()));

    for (case, refuse, sftp_command) in
        [("subsystem", false, None), ("no subsystem", true, None), ("sftp_command", false, Some(server.to_string()))]
    {
        let comm = Arc::new(Recording {
            inner: Arc::clone(&ssh),
            refuse_subsystems: refuse,
            execs: Default::default(),
            subsystems: Default::default(),
        });
        let c = Config { sftp_command: sftp_command.clone(), ..Config::default() };
        let proxy = proxy::start(&c, Arc::clone(&comm) as Arc<dyn Communicator>, &ui).await.unwrap();
        let key = proxy.client_key.as_ref().unwrap().path().to_path_buf();
        let dst = dir.0.join(format!("dst-{refuse}-{}.bin", sftp_command.is_some()));
        let batch = dir.0.join("batch");
        std::fs::write(&batch, format!("put {} {}\n", src.display(), dst.display())).unwrap();
        let (port, user) = (proxy.port, sshd.user.clone());
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("sftp")
                .args(["-b"])
                .arg(&batch)
                .args(["-P", &port.to_string(), "-i"])
                .arg(&key)
                .args(["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
                .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
                .arg(format!("{user}@127.0.0.1"))
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{case}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(std::fs::read(&dst).unwrap() == data, "{case}: the file arrived changed");
        let (execs, subsystems) = (comm.execs.lock().unwrap().clone(), comm.subsystems.lock().unwrap().clone());
        match case {
            "subsystem" => assert!(execs.is_empty() && subsystems == ["sftp"], "{execs:?} {subsystems:?}"),
            "no subsystem" => {
                assert_eq!(subsystems, ["sftp"]);
                assert!(execs.len() == 1 && execs[0].contains("sftp-server"), "{execs:?}");
            }
            _ => assert!(execs == [server] && subsystems.is_empty(), "{execs:?} {subsystems:?}"),
        }
    }
}

#[test]
fn proxy_key_types_and_later_packers_galaxy_and_winrm_options() {
    use super::proxy::key_type;
    use kiln_comm::keys::KeyType;
    assert_eq!(key_type(None), Ok(KeyType::Ed25519));
    assert_eq!(key_type(Some("ecdsa")), Ok(KeyType::Ecdsa(256)));
    assert_eq!(key_type(Some("Ed25519")), Ok(KeyType::Ed25519));
    assert_eq!(key_type(Some("RSA")), Ok(KeyType::Rsa(2048)));
    assert_eq!(
        key_type(Some("dsa")),
        Err("unknown ansible_proxy_key_type \"DSA\": use \"ECDSA\" or \"RSA\"".to_string())
    );
}
