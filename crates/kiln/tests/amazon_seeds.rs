//! Every valid seed template (../shared/seed-templates) whose components kiln implements, built
//! with `kiln build` against moto's EC2 API, its provisioners run over SSH on a stand-in
//! instance (sshd in a podman container on 127.0.0.1; see kiln_testing::standin for the
//! recorders that stand for `apt-get`, `yum`, `systemctl`, `ufw` and `sleep`).
//!
//! The test copy of each template adds only `custom_endpoint_ec2` (moto), `ssh_host`/`ssh_port`
//! (the stand-in) and `ssh_keypair_name`/`ssh_private_key_file` (a key pair imported into moto
//! whose public half the stand-in accepts). Afterwards moto must hold the AMI with the
//! template's name and its snapshot, and nothing else the build made.
//!
//! The ansible seeds run ansible-core for real: `ansible` runs `ansible-playbook` here against
//! the stand-in (through kiln's SSH proxy, the default), `ansible-local` runs it on the stand-in
//! (whose image has python3 and ansible-core; the templates' own `apt`/`yum install ansible`
//! lines go to the recorders). Each checks the playbook's effect on the stand-in.

mod amazon_support;

use amazon_support::{all_output, amis_in_output, copy_files, World, NEWEST_BIONIC, NEWEST_FOCAL};
use kiln_amazon::client::DescribeImages;
use kiln_testing::moto::SECRET_KEY;

struct Seed {
    file: &'static str,
    region: &'static str,
    /// The AMI name, up to `{{timestamp}}` when `timestamped`.
    ami_name: &'static str,
    timestamped: bool,
    /// The source AMI the build must find.
    source_ami: &'static str,
    /// What the recorders must have been asked, in order.
    recorded: &'static [&'static str],
    /// Files next to the template that it reads.
    files: &'static [&'static str],
}

/// Builds `seed`'s test copy; the world (for more checks) and the build's output.
fn build(seed: &Seed) -> Option<(World, String)> {
    let seeds = kiln_testing::shared_or_skip()?.join("seed-templates");
    let w = World::start(seed.file.trim_end_matches(".json").trim_end_matches(".pkr.hcl"), &[seed.region])?;
    let src = std::fs::read_to_string(seeds.join(seed.file)).expect("seed template");
    let copy = if seed.file.ends_with(".pkr.hcl") { w.hcl_copy(&src) } else { w.json_copy(&src) };
    std::fs::write(w.dir.0.join(seed.file), copy).expect("test copy");
    copy_files(&seeds, &w.dir.0, seed.files);
    let before = w.inventory(&[seed.region]);

    let start = std::time::Instant::now();
    let out = w.kiln(&["build", seed.file]).env("PACKER_LOG", "1").output().expect("kiln runs");
    let text = all_output(&out);
    // Shown with --nocapture (the debug log's lines left out).
    let is_log = |l: &str| l.len() > 20 && l.as_bytes()[4] == b'/' && l.as_bytes()[7] == b'/';
    let shown: Vec<&str> = text.lines().filter(|l| !is_log(l)).collect();
    eprintln!("{}: kiln build took {:?}\n{}", seed.file, start.elapsed(), shown.join("\n"));
    assert_eq!(out.status.code(), Some(0), "{text}");

    // The secret key is in every build's credentials (environment or template): never shown,
    // not even in the debug log, which shows every AWS call with its duration.
    assert!(!text.contains(SECRET_KEY), "the secret key was printed:\n{text}");
    // Nor is the SSH key the build hands to provisioners (ansible gets it in a private file).
    let key = std::fs::read_to_string(&w.key).expect("the stand-in's key");
    let key_line = key.lines().nth(1).expect("a PEM body");
    assert!(!text.contains(key_line), "the SSH private key was printed:\n{text}");
    assert!(text.contains("aws: EC2 RunInstances in "), "no AWS call in the debug log:\n{text}");
    // The build is `amazon-ebs` in JSON, `<build>.amazon-ebs.<source>` in HCL2.
    assert!(
        text.lines().any(|l| l.contains("==> ") && l.contains("amazon-ebs") && l.ends_with(": Connected to SSH!")),
        "{text}"
    );
    assert!(text.contains(&format!("Found Image ID: {}", seed.source_ami)), "{text}");

    // moto holds the AMI and its snapshot, and nothing else the build made.
    let amis = amis_in_output(&text, seed.region);
    assert_eq!(amis.len(), 1, "one AMI in the artifact:\n{text}");
    let images = w
        .rt
        .block_on(w.ec2(seed.region).describe_images(&DescribeImages { image_ids: amis.clone(), ..Default::default() }))
        .expect("DescribeImages");
    assert_eq!(images.len(), 1);
    let name = &images[0].name;
    match name.strip_prefix(seed.ami_name) {
        Some(rest) if seed.timestamped => {
            assert!(!rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit()), "AMI name {name:?}")
        }
        Some(rest) => assert!(rest.is_empty(), "AMI name {name:?}"),
        None => panic!("AMI name {name:?} is not {:?}", seed.ami_name),
    }
    assert_eq!(images[0].state, "available");
    let added = w.inventory(&[seed.region]).added_since(&before);
    assert_eq!(added.images.iter().cloned().collect::<Vec<_>>(), vec![format!("{}/{}", seed.region, amis[0])]);
    assert_eq!(added.snapshots.len(), 1, "{added:?}");
    assert!(added.instances.is_empty(), "an instance is left: {added:?}");
    assert_eq!(w.journal_entries(), Vec::<String>::new(), "the cleanup journal keeps nothing of a finished build");
    assert!(added.key_pairs.is_empty(), "a key pair is left: {added:?}");
    assert!(added.groups.is_empty(), "a security group is left: {added:?}");
    assert!(added.volumes.is_empty(), "a volume is left: {added:?}");
    assert!(text.contains("Deleting temporary security group..."), "{text}");

    // Ansible ends each command it runs on the target with `&& sleep 0`: not the template's.
    let recorded: Vec<String> = w.standin.recorded().into_iter().filter(|l| l != "sleep 0").collect();
    assert_eq!(recorded, seed.recorded, "what the provisioners asked the stand-in");
    Some((w, text))
}

#[test]
fn bk_ami() {
    build(&Seed {
        file: "bk-ami.json",
        region: "us-east-1",
        ami_name: "bk-ami",
        timestamped: false,
        source_ami: "ami-0022f774911c1d690",
        recorded: &[],
        files: &[],
    });
}

#[test]
fn iter1_amazon_ebs() {
    build(&Seed {
        file: "iter1-amazon-ebs.json",
        region: "eu-west-1",
        ami_name: "packer-example ",
        timestamped: true,
        source_ami: NEWEST_BIONIC,
        recorded: &[],
        files: &[],
    });
}

#[test]
fn iter2_env_vars() {
    build(&Seed {
        file: "iter2-env-vars.json",
        region: "eu-west-1",
        ami_name: "eng74-jared-packer-ami-",
        timestamped: true,
        source_ami: NEWEST_BIONIC,
        recorded: &[],
        files: &[],
    });
}

/// The marker file `app_playbook.yml` writes (as root, through `become`).
fn assert_app_provisioned(w: &World) {
    let marker = w.standin.exec("stat -c '%U %a' /etc/app-provisioned && cat /etc/app-provisioned");
    assert_eq!(marker.expect("the playbook's marker file"), "root 644\nprovisioned\n");
}

#[test]
fn iter3_ansible() {
    let Some((w, text)) = build(&Seed {
        file: "iter3-ansible.json",
        region: "eu-west-1",
        ami_name: "eng74-jared-packer-ami-",
        timestamped: true,
        source_ami: NEWEST_BIONIC,
        recorded: &[],
        files: &["app_playbook.yml"],
    }) else {
        return;
    };
    assert_app_provisioned(&w);
    assert!(text.contains("TASK [marker file]"), "ansible-playbook's output is not shown:\n{text}");
    assert!(text.contains("ok=2") && text.contains("changed=1") && text.contains("failed=0"), "{text}");
}

#[test]
fn iter4_ansible_shell() {
    let Some((w, text)) = build(&Seed {
        file: "iter4-ansible-shell.json",
        region: "eu-west-1",
        ami_name: "eng74-jared-packer-provisioned-ami",
        timestamped: false,
        source_ami: NEWEST_BIONIC,
        // The shell provisioner after the playbook (pm2 is a recorder).
        recorded: &["pm2 startup systemd -u ubuntu --hp /home/ubuntu", "pm2 save"],
        files: &["app_playbook.yml"],
    }) else {
        return;
    };
    assert_app_provisioned(&w);
    assert!(text.contains("changed=1"), "{text}");
}

#[test]
fn elasticsearch() {
    let Some((w, text)) = build(&Seed {
        file: "elasticsearch.json",
        region: "us-east-1",
        ami_name: "elasticsearch-1-0-0",
        timestamped: false,
        source_ami: "ami-af4333cf",
        recorded: &["yum install -y epel-release", "yum install -y ansible", "yum erase ansible -y"],
        files: &["bootstrap.yml", "roles"],
    }) else {
        return;
    };
    // Each role's task ran on the stand-in, in the playbook's order.
    let mut at = 0;
    for role in ["elasticsearch", "telegraf", "sudo", "fail2ban"] {
        let msg = format!("\"msg\": \"{role}\"");
        let found =
            text[at..].find(&msg).unwrap_or_else(|| panic!("role {role}'s message not after byte {at}:\n{text}"));
        at += found + msg.len();
    }
    assert!(text.contains("ok=5") && text.contains("failed=0"), "{text}");
    // The last shell provisioner removed the staging folder.
    let left = w.standin.exec("ls -A /tmp/packer-provisioner-ansible-local 2>&1 || true").expect("ls");
    assert!(left.contains("No such file"), "the staging folder is left: {left}");
}

#[test]
fn ansible_local_app() {
    let Some((w, text)) = build(&Seed {
        file: "ansible-local-app.json",
        region: "us-east-1",
        ami_name: "packer-base-ami-",
        timestamped: true,
        source_ami: NEWEST_FOCAL,
        recorded: &["apt update -y", "apt upgrade -y", "apt install ansible -y"],
        files: &["app", "app_playbook.yml"],
    }) else {
        return;
    };
    assert_app_provisioned(&w);
    assert!(text.contains("changed=1") && text.contains("failed=0"), "{text}");
    // The file provisioner's folder upload, next to the playbook's effect.
    let app = std::fs::read_to_string(w.dir.0.join("app/app.js")).expect("app.js");
    assert_eq!(w.standin.exec("cat /home/ubuntu/app/app.js").expect("the uploaded app"), app);
}

#[test]
fn apache_build() {
    build(&Seed {
        file: "apache-build.json",
        region: "eu-west-3",
        ami_name: "packer-example apache ",
        timestamped: true,
        source_ami: "ami-0ebc281c20e89ba4b",
        recorded: &[
            "sleep 30",
            "apt-get update",
            "apt-get -y upgrade",
            "apt-get install -y apache2 php5 libapache2-mod-php5 php5-curl php5-mysql",
        ],
        files: &[],
    });
}

#[test]
fn nginx_file() {
    let Some((w, text)) = build(&Seed {
        file: "nginx-file.json",
        region: "us-east-1",
        ami_name: "Bk-ubuntu-ami-project-4-",
        timestamped: true,
        source_ami: "ami-09d56f8956ab235b3",
        recorded: &["sleep 30", "apt update", "apt install nginx -y"],
        files: &["index.html"],
    }) else {
        return;
    };
    // The file provisioner's upload, copied into place by the last shell provisioner.
    let page = std::fs::read_to_string(w.dir.0.join("index.html")).expect("index.html");
    assert_eq!(w.standin.exec("cat /var/www/html/index.html").expect("the page"), page);
    // The manifest post-processor names the AMI as region:id.
    let manifest = std::fs::read_to_string(w.dir.0.join("manifest.json")).expect("manifest.json");
    let m: serde_json::Value = serde_json::from_str(&manifest).expect("manifest JSON");
    let ami = &amis_in_output(&text, "us-east-1")[0];
    assert_eq!(m["builds"][0]["artifact_id"], format!("us-east-1:{ami}"), "{manifest}");
    assert_eq!(m["builds"][0]["builder_type"], "amazon-ebs", "{manifest}");
}

#[test]
fn hardcoded_keys() {
    let Some((_w, text)) = build(&Seed {
        file: "hardcoded-keys.json",
        region: "us-east-1",
        ami_name: "packer-base-ami-",
        timestamped: true,
        source_ami: NEWEST_FOCAL,
        recorded: &[],
        files: &[],
    }) else {
        return;
    };
    assert!(text.contains("hard-coded credential"), "no warning about the hard-coded keys:\n{text}");
}

/// amazon-ebs + shell, then two post-processor chains on the AMI: `vagrant` (an aws box naming
/// it) and `compress` (an AMI has no files: an empty archive and a warning, see
/// docs/compatibility.md). The AMI stays: the vagrant chain keeps its input.
#[test]
fn nginx_ubuntu() {
    let Some((w, text)) = build(&Seed {
        file: "nginx-ubuntu.pkr.hcl",
        region: "us-east-1",
        ami_name: "nginx-ubuntu-custom-image",
        timestamped: false,
        source_ami: "ami-0ae1a000000000a1",
        recorded: &[
            "apt update",
            "apt install -y nginx",
            "systemctl enable nginx",
            "systemctl start nginx",
            "ufw allow proto tcp from any to any port 22,80,443",
            "ufw enable",
        ],
        files: &[],
    }) else {
        return;
    };
    let ami = &amis_in_output(&text, "us-east-1")[0];
    let named = |suffix: &str| {
        let found: Vec<_> = std::fs::read_dir(&w.dir.0)
            .expect("the build folder")
            .map(|e| e.expect("an entry").path())
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        assert_eq!(found.len(), 1, "one *{suffix} in the build folder: {found:?}\n{text}");
        found[0].clone()
    };
    // Read back with GNU tar, not kiln's code.
    let boxed = named("_aws.box");
    let tar = |args: &[&str]| {
        let o = std::process::Command::new("tar").args(args).arg(&boxed).output().expect("tar runs");
        assert!(o.status.success(), "tar {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).expect("text")
    };
    assert_eq!(tar(&["-tzf"]), "Vagrantfile\nmetadata.json\n");
    let all = tar(&["-xzOf"]);
    assert!(all.contains(&format!("aws.region_config \"us-east-1\", ami: \"{ami}\"")), "{all}");
    assert!(all.contains(r#"{"provider":"aws"}"#), "{all}");
    assert!(text.contains("Creating Vagrant box for 'aws' provider"), "{text}");
    // compress on the AMI, which has no files.
    named("_amazon-ebs");
    assert!(text.contains("has no files: packer_"), "no warning about the empty archive:\n{text}");
}
