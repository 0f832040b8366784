use super::*;
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
