//! `ansible` and `ansible-local` run real Ansible (ansible-core) against a private sshd on
//! 127.0.0.1 through the null builder's SSH communicator; each test checks what the playbooks
//! did (files written, templates rendered). The seed templates' playbooks run too, with the
//! paths they write under /etc moved into the test's folder.

mod common;

use common::{build_on_sshd as build, read_file as read, write_file as write, TempDir};
use kiln_testing::sshd::sshd_or_skip;

fn ansible_or_skip() -> bool {
    let ok = std::process::Command::new("ansible-playbook").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        kiln_testing::skip("ansible-playbook is not installed (apt-get install ansible-core)");
    }
    ok
}

/// A playbook folder (site.yml with a template), a role, and group variables, all writing
/// into `out_dir`.
fn ansible_tree(d: &TempDir) {
    write(
        &d.0.join("tree/site.yml"),
        "- hosts: all\n  gather_facts: false\n  roles:\n    - writer\n  tasks:\n\
         \x20   - name: marker\n      copy:\n        dest: \"{{ out_dir }}/marker.txt\"\n\
         \x20       content: \"{{ greeting }} from {{ packer_build_name }}\\n\"\n\
         \x20   - name: motd\n      template:\n        src: motd.j2\n        dest: \"{{ out_dir }}/motd\"\n",
    );
    write(
        &d.0.join("tree/templates/motd.j2"),
        "Welcome to {{ inventory_hostname }} in {{ group_names | join(',') }} via {{ packer_builder_type }}\n",
    );
    write(
        &d.0.join("roles/writer/tasks/main.yml"),
        "- name: role file\n  copy:\n    dest: \"{{ out_dir }}/role.txt\"\n    content: \"role ran\\n\"\n",
    );
    write(&d.0.join("group_vars/all.yml"), "greeting: hello\n");
    write(
        &d.0.join("fail.yml"),
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - fail:\n        msg: planned failure\n",
    );
}

#[test]
fn ansible_local_uploads_the_tree_and_runs_the_playbook_on_the_machine() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let d = TempDir::new("ansible-local");
    ansible_tree(&d);
    let out = d.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let staging = d.0.join("staging");
    let (code, log) = build(
        &sshd,
        serde_json::json!([{
            "type": "ansible-local",
            "playbook_dir": d.0.join("tree"),
            "playbook_file": d.0.join("tree/site.yml"),
            "role_paths": [d.0.join("roles/writer")],
            "group_vars": d.0.join("group_vars"),
            "inventory_groups": "web,db",
            "extra_arguments": ["--extra-vars", format!("out_dir={}", out.display())],
            "staging_directory": staging,
            "clean_staging_directory": true
        }]),
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(read(&out.join("marker.txt")), "hello from null\n");
    assert_eq!(read(&out.join("motd")), "Welcome to 127.0.0.1 in db,web via null\n");
    assert_eq!(read(&out.join("role.txt")), "role ran\n");
    assert!(!staging.exists(), "clean_staging_directory removes the staging folder");
    assert!(log.contains("==> null: Provisioning with Ansible..."), "{log}");

    // A failing playbook fails the build, and the staging folder still goes.
    let (code, log) = build(
        &sshd,
        serde_json::json!([{"type": "ansible-local", "playbook_file": d.0.join("fail.yml"),
            "staging_directory": staging, "clean_staging_directory": true}]),
    );
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("planned failure"), "{log}");
    assert!(log.contains("failed: non-zero exit status 2"), "{log}");
    assert!(!staging.exists());
}

#[test]
fn ansible_local_runs_the_seed_playbooks_with_their_roles() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let Some(shared) = kiln_testing::shared_or_skip() else { return };
    let seeds = shared.join("seed-templates");
    let d = TempDir::new("ansible-local-seed");
    // app_playbook.yml writes /etc/app-provisioned: the same play, writing into the test's folder.
    let marker = d.0.join("app-provisioned");
    let app = read(&seeds.join("app_playbook.yml")).replace("/etc/app-provisioned", &marker.to_string_lossy());
    write(&d.0.join("app_playbook.yml"), &app);
    write(&d.0.join("more/extra.yml"), "- hosts: all\n  gather_facts: false\n  tasks: []\n");
    let staging = d.0.join("staging");
    // elasticsearch.json's provisioner: bootstrap.yml with its four roles by role_paths.
    let roles: Vec<_> =
        ["elasticsearch", "telegraf", "sudo", "fail2ban"].iter().map(|r| seeds.join("roles").join(r)).collect();
    let (code, log) = build(
        &sshd,
        serde_json::json!([{
            "type": "ansible-local",
            "playbook_files": [seeds.join("bootstrap.yml"), d.0.join("app_playbook.yml")],
            "role_paths": roles,
            "playbook_paths": [d.0.join("more")],
            "staging_directory": staging,
            "command": "ANSIBLE_NOCOLOR=1 ansible-playbook"
        }]),
    );
    assert_eq!(code, 0, "{log}");
    for role in ["elasticsearch", "telegraf", "sudo", "fail2ban"] {
        assert!(log.contains(&format!("\"msg\": \"{role}\"")), "role {role} did not run:\n{log}");
        assert!(staging.join("roles").join(role).join("tasks/main.yml").is_file());
    }
    assert_eq!(read(&marker), "provisioned\n");
    // Without clean_staging_directory the uploads stay, laid out as Packer lays them out.
    assert!(staging.join("bootstrap.yml").is_file() && staging.join("app_playbook.yml").is_file());
    assert!(staging.join("playbooks/more/extra.yml").is_file());
    assert_eq!(read(&staging.join("packer-provisioner-ansible-local-inventory")), "127.0.0.1\n");
}

#[test]
fn ansible_runs_the_playbook_here_against_the_machine_over_ssh() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let d = TempDir::new("ansible-remote");
    ansible_tree(&d);
    let out = d.0.join("out");
    let inv = d.0.join("inv");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&inv).unwrap();
    let (code, log) = build(
        &sshd,
        serde_json::json!([{
            "type": "ansible",
            "playbook_file": d.0.join("tree/site.yml"),
            "groups": ["web"],
            "empty_groups": ["spare"],
            "host_alias": "machine",
            // One item, one argument: the space reaches Ansible inside its JSON.
            "extra_arguments": ["-e", format!("out_dir={}", out.display()), "-e", r#"{"greeting": "hi there"}"#],
            "ansible_env_vars": ["ANSIBLE_NOCOLOR=1"],
            "roles_path": d.0.join("roles"),
            "inventory_directory": inv,
            "keep_inventory_file": true
        }]),
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(read(&out.join("marker.txt")), "hi there from null\n");
    assert_eq!(read(&out.join("motd")), "Welcome to machine in web via null\n");
    assert_eq!(read(&out.join("role.txt")), "role ran\n");
    let kept: Vec<_> = std::fs::read_dir(&inv).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        read(&kept[0]),
        format!(
            "[web]\nmachine ansible_host=127.0.0.1 ansible_user={} ansible_port={}\n[spare]\n",
            sshd.user, sshd.port
        )
    );
    // The build's key never shows in the output.
    let key = read(&sshd.key);
    let key_line = key.lines().nth(1).unwrap();
    assert!(!log.contains(key_line), "{log}");

    let (code, log) = build(&sshd, serde_json::json!([{"type": "ansible", "playbook_file": d.0.join("fail.yml")}]));
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("planned failure") && log.contains("the playbook failed: non-zero exit status 2"), "{log}");
}

/// iter3-ansible.json's provisioner (the seed app_playbook.yml, its /etc path moved into the
/// test's folder) from ansible on this machine.
#[test]
fn ansible_runs_the_seed_app_playbook() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let Some(shared) = kiln_testing::shared_or_skip() else { return };
    let d = TempDir::new("ansible-seed");
    let marker = d.0.join("app-provisioned");
    let app = read(&shared.join("seed-templates/app_playbook.yml"))
        .replace("/etc/app-provisioned", &marker.to_string_lossy());
    write(&d.0.join("app_playbook.yml"), &app);
    let (code, log) =
        build(&sshd, serde_json::json!([{"type": "ansible", "playbook_file": d.0.join("app_playbook.yml")}]));
    assert_eq!(code, 0, "{log}");
    assert_eq!(read(&marker), "provisioned\n");
}

/// With use_proxy, Ansible connects to kiln's SSH endpoint on 127.0.0.1, which relays to the
/// build's communicator: commands with their exit status, file copies by scp and by SFTP (the
/// endpoint's host key is ECDSA, then RSA, as `ansible_proxy_key_type` says).
#[test]
fn ansible_through_kilns_ssh_proxy_with_scp_and_sftp() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let d = TempDir::new("ansible-proxy");
    ansible_tree(&d);
    // ECDSA keys with scp, RSA keys with SFTP (ansible_proxy_key_type).
    for (sftp, key_type) in [(false, "ECDSA"), (true, "RSA")] {
        let out = d.0.join(format!("out-{sftp}"));
        std::fs::create_dir_all(&out).unwrap();
        let (code, log) = build(
            &sshd,
            serde_json::json!([{
                "type": "ansible",
                "use_proxy": true,
                "use_sftp": sftp,
                "ansible_proxy_key_type": key_type,
                "playbook_file": d.0.join("tree/site.yml"),
                "groups": ["proxied"],
                "extra_arguments": ["-e", format!("out_dir={}", out.display()), "-e", "greeting=via-proxy"],
                "ansible_env_vars": ["ANSIBLE_NOCOLOR=1"],
                "roles_path": d.0.join("roles")
            }]),
        );
        assert_eq!(code, 0, "use_sftp {sftp}: {log}");
        assert!(log.contains("==> null: Serving an SSH endpoint for Ansible on 127.0.0.1:"), "{log}");
        assert_eq!(read(&out.join("marker.txt")), "via-proxy from null\n");
        assert_eq!(read(&out.join("motd")), "Welcome to default in proxied via null\n");
        assert_eq!(read(&out.join("role.txt")), "role ran\n");
        let algorithm = if key_type == "RSA" { "ssh-rsa" } else { "ecdsa-sha2-nistp256" };
        assert!(log.contains(&format!("(client key {algorithm})")), "{log}");
    }
    // A failing task's status comes back through the proxy.
    let (code, log) = build(
        &sshd,
        serde_json::json!([{"type": "ansible", "use_proxy": true, "playbook_file": d.0.join("fail.yml")}]),
    );
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("planned failure") && log.contains("the playbook failed: non-zero exit status 2"), "{log}");
}

/// galaxy_file: both provisioners install the requirements' roles (a role archive on this
/// machine, as Galaxy takes `file://` sources) before the playbook that uses them runs.
#[test]
fn galaxy_requirements_are_installed_before_the_playbook() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let d = TempDir::new("ansible-galaxy");
    write(
        &d.0.join("src/greeter/tasks/main.yml"),
        "- copy:\n    dest: \"{{ out_dir }}/galaxy-{{ mode }}.txt\"\n    content: \"from galaxy\\n\"\n",
    );
    write(
        &d.0.join("src/greeter/meta/main.yml"),
        "galaxy_info:\n  author: kiln\n  description: test role\n  license: MIT\n  min_ansible_version: '2.9'\n  platforms: []\ndependencies: []\n",
    );
    let archive = d.0.join("greeter.tar.gz");
    let ok = std::process::Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(d.0.join("src"))
        .arg("greeter")
        .status()
        .unwrap();
    assert!(ok.success());
    write(&d.0.join("requirements.yml"), &format!("- src: file://{}\n  name: greeter\n", archive.display()));
    write(&d.0.join("play.yml"), "- hosts: all\n  gather_facts: false\n  roles:\n    - greeter\n");
    let out = d.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let vars = |mode: &str| format!("{{\"out_dir\": \"{}\", \"mode\": \"{mode}\"}}", out.display());
    let (code, log) = build(
        &sshd,
        serde_json::json!([
            {"type": "ansible", "playbook_file": d.0.join("play.yml"), "galaxy_file": d.0.join("requirements.yml"),
             "roles_path": d.0.join("galaxy-roles"), "extra_arguments": ["-e", vars("remote")]},
            {"type": "ansible-local", "playbook_file": d.0.join("play.yml"), "galaxy_file": d.0.join("requirements.yml"),
             "staging_directory": d.0.join("staging"), "extra_arguments": ["--extra-vars", format!("'{}'", vars("local"))]}
        ]),
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(read(&out.join("galaxy-remote.txt")), "from galaxy\n");
    assert_eq!(read(&out.join("galaxy-local.txt")), "from galaxy\n");
    assert!(d.0.join("galaxy-roles/greeter/tasks/main.yml").is_file());
    assert!(d.0.join("staging/roles/greeter/tasks/main.yml").is_file());
}

/// ansible-local with a v2 Galaxy file: its role goes to `galaxy_roles_path`, its collection
/// (an archive built here, as Galaxy takes `type: file`) to `galaxy_collections_path`, a local
/// collection comes with `collection_paths`; the playbook uses all three.
#[test]
fn ansible_local_installs_galaxy_collections_and_uploads_collection_paths() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !ansible_or_skip() {
        return;
    }
    let d = TempDir::new("ansible-collections");
    let out = d.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let task =
        |name: &str| format!("- copy:\n    dest: \"{}/{name}.txt\"\n    content: \"{name}\\n\"\n", out.display());
    write(&d.0.join("src/greeter/tasks/main.yml"), &task("role"));
    write(
        &d.0.join("src/greeter/meta/main.yml"),
        "galaxy_info:\n  author: kiln\n  description: test role\n  license: MIT\n  min_ansible_version: '2.9'\n  platforms: []\ndependencies: []\n",
    );
    let role_archive = d.0.join("greeter.tar.gz");
    let tar = std::process::Command::new("tar")
        .arg("czf")
        .arg(&role_archive)
        .arg("-C")
        .arg(d.0.join("src"))
        .arg("greeter")
        .status();
    assert!(tar.unwrap().success());
    // A collection with a role, built into an archive offline.
    let coll = d.0.join("coll/kiln/demo");
    write(
        &coll.join("galaxy.yml"),
        "namespace: kiln\nname: demo\nversion: 1.0.0\nreadme: README.md\nauthors: [kiln]\n",
    );
    write(&coll.join("README.md"), "demo\n");
    write(&coll.join("roles/hello/tasks/main.yml"), &task("galaxy-collection"));
    let built = std::process::Command::new("ansible-galaxy")
        .args(["collection", "build", "--output-path"])
        .arg(&d.0)
        .arg(&coll)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let coll_archive = d.0.join("kiln-demo-1.0.0.tar.gz");
    assert!(coll_archive.is_file());
    // A collection as a folder.
    write(&d.0.join("local/ansible_collections/kiln/local/roles/world/tasks/main.yml"), &task("local-collection"));
    write(
        &d.0.join("requirements.yml"),
        &format!(
            "roles:\n  - src: file://{}\n    name: greeter\ncollections:\n  - name: {}\n    type: file\n",
            role_archive.display(),
            coll_archive.display()
        ),
    );
    write(
        &d.0.join("play.yml"),
        "- hosts: all\n  gather_facts: false\n  roles:\n    - greeter\n    - kiln.demo.hello\n    - kiln.local.world\n",
    );
    let (code, log) = build(
        &sshd,
        serde_json::json!([
            {"type": "ansible-local", "playbook_file": d.0.join("play.yml"), "galaxy_file": d.0.join("requirements.yml"),
             "galaxy_roles_path": d.0.join("remote-roles"), "galaxy_force_install": true,
             "collection_paths": [d.0.join("local/ansible_collections")],
             "staging_directory": d.0.join("staging")}
        ]),
    );
    assert_eq!(code, 0, "{log}");
    for name in ["role", "galaxy-collection", "local-collection"] {
        assert_eq!(read(&out.join(format!("{name}.txt"))), format!("{name}\n"), "{log}");
    }
    assert!(d.0.join("remote-roles/greeter/tasks/main.yml").is_file(), "{log}");
    assert!(
        d.0.join("staging/galaxy_collections/ansible_collections/kiln/demo/galaxy.yml").is_file()
            || d.0.join("staging/galaxy_collections/ansible_collections/kiln/demo/MANIFEST.json").is_file(),
        "{log}"
    );
    assert!(
        d.0.join("staging/collections/ansible_collections/kiln/local/roles/world/tasks/main.yml").is_file(),
        "{log}"
    );
    assert!(log.contains("collection install -r"), "{log}");
    assert!(log.contains(" -f"), "galaxy_force_install: {log}");
}
