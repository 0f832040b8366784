//! The amazon data sources in `kiln build` and `kiln validate` of an HCL2 template, against
//! moto: `amazon-ami` chooses as `source_ami_filter` does, `amazon-secretsmanager` and
//! `amazon-parameterstore` read what the test stored, and their secret values reach the
//! provisioner intact while every output and log shows them as `<sensitive>`.

mod amazon_support;

use std::process::Command;

use amazon_support::{all_output, moto_config, seed_amis, NEWEST_FOCAL};
use kiln_amazon::client::{PutParameter, SecretsManagerClient, SsmClient};
use kiln_testing::moto::{Moto, ACCESS_KEY, SECRET_KEY};
use kiln_testing::TempDir;

const DB_SECRET: &str = "s3cr3t-pa55-for-kiln";
const TOKEN: &str = "tok-98127361-parameter";

const TEMPLATE: &str = r#"
data "amazon-ami" "focal" {
  region = "us-east-1"
  filters = {
    name                = "ubuntu/images/*ubuntu-focal-20.04-amd64-server-*"
    root-device-type    = "ebs"
    virtualization-type = "hvm"
  }
  owners      = ["099720109477"]
  most_recent = true
}

data "amazon-secretsmanager" "db" {
  region = "us-east-1"
  name   = "kiln/db"
  key    = "password"
}

data "amazon-parameterstore" "token" {
  region          = "us-east-1"
  name            = "/kiln/token"
  with_decryption = true
}

source "null" "data" {
  communicator = "none"
}

build {
  sources = ["source.null.data"]
  provisioner "shell-local" {
    inline = [
      "echo ami=${data.amazon-ami.focal.id} name=${data.amazon-ami.focal.name} owner=${data.amazon-ami.focal.owner}",
      "echo secret=${data.amazon-secretsmanager.db.value} version=${data.amazon-parameterstore.token.version}",
      "echo token=${data.amazon-parameterstore.token.value}",
      "printf '%s\\n%s\\n' '${data.amazon-secretsmanager.db.value}' '${data.amazon-parameterstore.token.value}' > values.txt",
    ]
  }
}
"#;

fn kiln(moto: &Moto, dir: &TempDir, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.args(args)
        .current_dir(&dir.0)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", dir.path("home"))
        .env("PACKER_LOG", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_REGION");
    c
}

#[test]
fn amazon_data_sources_feed_a_build_and_their_secrets_stay_masked() {
    let Some(moto) = Moto::start(&seed_amis()) else { return };
    let dir = TempDir::new("ebs-data");
    let cfg = moto_config(&moto, "us-east-1");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let secret = format!(r#"{{"user": "app", "password": "{DB_SECRET}"}}"#);
    rt.block_on(SecretsManagerClient::new(&cfg).create_secret("kiln/db", &secret.as_str().into(), None))
        .expect("CreateSecret");
    let put = PutParameter {
        name: "/kiln/token".into(),
        value: TOKEN.into(),
        kind: Some("SecureString".into()),
        ..PutParameter::default()
    };
    rt.block_on(SsmClient::new(&cfg).put_parameter(&put)).expect("PutParameter");
    std::fs::write(dir.0.join("data.pkr.hcl"), TEMPLATE).expect("template");

    let out = kiln(&moto, &dir, &["validate", "data.pkr.hcl"]).output().expect("kiln validate");
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains(DB_SECRET) && !text.contains(TOKEN), "a secret was shown:\n{text}");

    let out = kiln(&moto, &dir, &["build", "data.pkr.hcl"]).output().expect("kiln build");
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "ami={NEWEST_FOCAL} name=ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-20230209 owner=099720109477"
        )),
        "{text}"
    );
    assert!(text.contains("secret=<sensitive> version=1"), "{text}");
    assert!(text.contains("token=<sensitive>"), "{text}");
    assert!(!text.contains(DB_SECRET) && !text.contains(TOKEN), "a secret was shown:\n{text}");
    // The provisioner got the real values.
    let values = std::fs::read_to_string(dir.0.join("values.txt")).expect("values.txt");
    assert_eq!(values, format!("{DB_SECRET}\n{TOKEN}\n"));
}

#[test]
fn a_missing_secret_fails_with_the_secret_named() {
    let Some(moto) = Moto::start(&seed_amis()) else { return };
    let dir = TempDir::new("ebs-data-missing");
    std::fs::write(
        dir.0.join("t.pkr.hcl"),
        "data \"amazon-secretsmanager\" \"x\" {\n  region = \"us-east-1\"\n  name = \"kiln/nothing\"\n}\n\
         source \"null\" \"n\" {\n  communicator = \"none\"\n}\n\
         build {\n  sources = [\"source.null.n\"]\n  provisioner \"shell-local\" {\n    inline = [\"echo ${data.amazon-secretsmanager.x.value}\"]\n  }\n}\n",
    )
    .expect("template");
    let out = kiln(&moto, &dir, &["build", "t.pkr.hcl"]).output().expect("kiln build");
    let text = all_output(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("reading the secret \"kiln/nothing\"") && text.contains("ResourceNotFoundException"),
        "{text}"
    );
    assert!(text.contains("t.pkr.hcl:1"), "the error points at the data block:\n{text}");
}

/// `{{aws_secretsmanager `name` `key`}}` in a JSON template's variables: read from moto's
/// Secrets Manager (region from `AWS_REGION`), handed to the provisioner intact, shown as
/// `<sensitive>` everywhere.
#[test]
fn json_aws_secretsmanager_function_reads_the_secret_and_masks_it() {
    let Some(moto) = Moto::start(&seed_amis()) else { return };
    let dir = TempDir::new("ebs-json-secret");
    let sm = SecretsManagerClient::new(&moto_config(&moto, "us-east-1"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let secret = format!(r#"{{"password": "{DB_SECRET}"}}"#);
    rt.block_on(sm.create_secret("kiln/db", &secret.as_str().into(), None)).expect("CreateSecret");
    std::fs::write(
        dir.0.join("t.json"),
        r#"{
  "variables": {"db_password": "{{aws_secretsmanager `kiln/db` `password`}}"},
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "shell-local", "inline": [
    "echo pw={{user `db_password`}}",
    "printf '%s' '{{user `db_password`}}' > pw.txt"
  ]}]
}"#,
    )
    .expect("template");
    let out = kiln(&moto, &dir, &["build", "t.json"]).env("AWS_REGION", "us-east-1").output().expect("kiln build");
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("pw=<sensitive>"), "{text}");
    assert!(!text.contains(DB_SECRET), "the secret was shown:\n{text}");
    assert_eq!(std::fs::read_to_string(dir.0.join("pw.txt")).expect("pw.txt"), DB_SECRET);

    // A secret that does not exist: the error names it and the function.
    std::fs::write(dir.0.join("bad.json"), r#"{"variables": {"x": "{{aws_secretsmanager `kiln/none` `k`}}"}, "builders": [{"type": "null", "communicator": "none"}]}"#)
        .expect("template");
    let out =
        kiln(&moto, &dir, &["validate", "bad.json"]).env("AWS_REGION", "us-east-1").output().expect("kiln validate");
    let text = all_output(&out);
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("aws_secretsmanager") && text.contains("kiln/none"), "{text}");
}
