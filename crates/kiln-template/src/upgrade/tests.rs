use super::*;

fn up(src: &str) -> String {
    let f = SourceFile::new("t.json", src);
    match upgrade(src, &f, &UpgradeOptions::default()) {
        Ok(s) => s,
        Err(d) => panic!("upgrade failed: {d}"),
    }
}

#[test]
fn minimal_template() {
    let out = up(r#"{"variables": {"region": null, "size": "1"},
        "builders": [{"type": "null", "communicator": "none", "name": "my box"}],
        "provisioners": [{"type": "shell-local", "inline": ["echo {{user `region`}}"]}]}"#);
    let want = r#"variable "region" {
  type = string
}

variable "size" {
  type    = string
  default = "1"
}

source "null" "my_box" {
  communicator = "none"
}

build {
  sources = ["source.null.my_box"]

  provisioner "shell-local" {
    inline = ["echo ${var.region}"]
  }
}
"#;
    assert_eq!(out, want);
}
