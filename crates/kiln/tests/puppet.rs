//! `puppet-masterless` runs real Puppet (`puppet apply`) on a private sshd on 127.0.0.1 through
//! the null builder's SSH communicator; each test checks the files the manifests wrote. The
//! test user cannot sudo, so every run sets `prevent_sudo`; Puppet's own state goes into the
//! test's folder through `extra_arguments`.

mod common;

use std::path::Path;

use common::{build_on_sshd, plain, read_file as read, run, template, write_file as write, TempDir};
use kiln_core::RunSettings;
use kiln_testing::sshd::{sshd_or_skip, Sshd};

fn puppet_or_skip() -> bool {
    let ok = std::process::Command::new("puppet").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        kiln_testing::skip("puppet is not installed (apt-get install --no-install-recommends puppet)");
    }
    ok
}

/// The folder of the `puppet` program on `PATH`.
fn puppet_bin_dir() -> String {
    let out = std::process::Command::new("sh").args(["-c", "command -v puppet"]).output().unwrap();
    let path = String::from_utf8(out.stdout).unwrap();
    Path::new(path.trim()).parent().unwrap().display().to_string()
}

fn build(sshd: &Sshd, provisioner: serde_json::Value) -> (u8, String) {
    build_on_sshd(sshd, serde_json::json!([provisioner]))
}

/// Puppet's state, configuration and code folders inside the test's folder.
fn private_state(d: &TempDir) -> Vec<String> {
    ["vardir", "confdir", "codedir"]
        .iter()
        .flat_map(|k| [format!("--{k}"), d.0.join(k).display().to_string()])
        .collect()
}

#[test]
fn puppet_masterless_applies_the_manifest_with_modules_hiera_and_facts() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !puppet_or_skip() {
        return;
    }
    let d = TempDir::new("puppet");
    let out = d.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    write(
        &d.0.join("manifests/site.pp"),
        "include writer\n\
         file { \"${facts['out_dir']}/facts.txt\":\n  content => \"${facts['packer_build_name']} \
         ${facts['packer_builder_type']} ${facts['color']}\\n\",\n}\n\
         file { \"${facts['out_dir']}/hiera.txt\":\n  content => \"${lookup('greeting')}\\n\",\n}\n",
    );
    write(
        &d.0.join("modules/writer/manifests/init.pp"),
        "class writer {\n  file { \"${facts['out_dir']}/module.txt\":\n    content => \"module ran\\n\",\n  }\n}\n",
    );
    write(
        &d.0.join("hiera.yaml"),
        &format!(
            "---\nversion: 5\ndefaults:\n  datadir: {}\n  data_hash: yaml_data\nhierarchy:\n  - name: common\n    path: common.yaml\n",
            d.0.join("hieradata").display()
        ),
    );
    write(&d.0.join("hieradata/common.yaml"), "greeting: hello from hiera\n");
    let staging = d.0.join("staging");
    let mut extra = private_state(&d);
    // A field in an argument: the run's working folder.
    extra.extend(["--logdir".to_string(), "{{.WorkingDir}}/logs".to_string()]);
    let (code, log) = build(
        &sshd,
        serde_json::json!({
            "type": "puppet-masterless",
            "manifest_file": d.0.join("manifests/site.pp"),
            "module_paths": [d.0.join("modules")],
            "hiera_config_path": d.0.join("hiera.yaml"),
            "facter": {"out_dir": out, "color": "it's blue"},
            "extra_arguments": extra,
            "staging_directory": staging,
            "puppet_bin_dir": puppet_bin_dir(),
            "prevent_sudo": true,
            "clean_staging_directory": true
        }),
    );
    assert_eq!(code, 0, "{log}");
    assert_eq!(read(&out.join("facts.txt")), "null null it's blue\n");
    assert_eq!(read(&out.join("module.txt")), "module ran\n");
    assert_eq!(read(&out.join("hiera.txt")), "hello from hiera\n");
    assert!(d.0.join("vardir").is_dir(), "extra_arguments reach puppet apply");
    assert!(!staging.exists(), "clean_staging_directory removes the staging folder");
    assert!(log.contains("==> null: Provisioning with Puppet..."), "{log}");
    let module_path = format!("--modulepath='{}/module-0'", staging.display());
    assert!(log.contains(&module_path), "{log}");
    assert!(!log.contains("sudo"), "prevent_sudo: {log}");
    assert!(log.contains(&format!("{}/puppet apply --detailed-exitcodes", puppet_bin_dir())), "{log}");
}

#[test]
fn a_failing_manifest_fails_the_build_unless_exit_codes_are_ignored() {
    let Some(sshd) = sshd_or_skip() else { return };
    if !puppet_or_skip() {
        return;
    }
    let d = TempDir::new("puppet-fail");
    let out = d.0.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // A manifest folder: every .pp in it is applied.
    write(&d.0.join("manifests/a.pp"), "exec { 'planned failure': command => '/bin/false' }\n");
    write(&d.0.join("manifests/b.pp"), "file { \"${facts['out_dir']}/after.txt\": content => \"applied\\n\" }\n");
    let staging = d.0.join("staging");
    let provisioner = |ignore: bool| {
        serde_json::json!({
            "type": "puppet-masterless",
            "manifest_file": d.0.join("manifests"),
            "facter": {"out_dir": out},
            "extra_arguments": private_state(&d),
            "staging_directory": staging,
            "working_directory": d.0,
            "execute_command": "cd {{.WorkingDir}} && {{.FacterVars}} puppet apply --detailed-exitcodes {{.ExtraArguments}} {{.ManifestFile}}",
            "prevent_sudo": true,
            "ignore_exit_codes": ignore
        })
    };
    let (code, log) = build(&sshd, provisioner(false));
    assert_eq!(code, 1, "{log}");
    assert!(log.contains("puppet exited with a non-zero exit status: 6"), "{log}");
    assert_eq!(read(&out.join("after.txt")), "applied\n");
    assert!(staging.join("manifests/a.pp").is_file(), "the staging folder stays without clean_staging_directory");
    std::fs::remove_file(out.join("after.txt")).unwrap();

    let (code, log) = build(&sshd, provisioner(true));
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("Puppet exited with status 6; ignored (ignore_exit_codes)"), "{log}");
    assert_eq!(read(&out.join("after.txt")), "applied\n");
}

#[test]
fn configuration_errors_name_the_option_and_its_place() {
    let t = "{\n  \"builders\": [{\"type\": \"null\", \"communicator\": \"none\"}],\n  \"provisioners\": [{\n    \
             \"type\": \"puppet-masterless\",\n    \"manifest_file\": \"/nonexistent/site.pp\",\n    \
             \"module_path\": [\"modules\"]\n  }]\n}\n";
    let (code, out) = run(&template(t), &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown option \"module_path\""), "{out}");
    assert!(out.contains("template.json:6:5"), "{out}");
    let t = t.replace("\"module_path\"", "\"module_paths\"").replace("[\"modules\"]", "[]");
    let (code, out) = run(&template(&t), &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("manifest_file: \"/nonexistent/site.pp\" does not exist"), "{out}");
    assert!(out.contains("template.json:5:22"), "{out}");
}
