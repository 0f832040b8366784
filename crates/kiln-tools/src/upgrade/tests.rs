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

#[test]
fn variables_using_variables_become_locals_and_undeclared_ones_are_declared() {
    let out = up(r#"{"variables": {"a": "", "b": "{{user `a`}}-x", "c": "{{ uuid }}"},
        "sensitive-variables": ["b"],
        "builders": [{"type": "null", "communicator": "{{user `comm`}}"}]}"#);
    assert!(out.contains("variable \"a\" {\n  type    = string\n  default = \"\"\n}"), "{out}");
    assert!(out.contains("variable \"comm\" {\n  type = string\n}"), "{out}");
    assert!(out.contains("locals {\n  b = \"${var.a}-x\"\n  c = \"${uuidv4()}\"\n}"), "{out}");
    assert!(out.contains("# - \"b\" was a sensitive variable"), "{out}");
    assert!(!out.contains("variable \"b\""), "{out}");
    assert!(out.contains("communicator = \"${var.comm}\""), "{out}");
}

#[test]
fn provisioners_post_processor_chains_and_cleanup() {
    let out = up(r#"{"builders": [{"type": "null", "communicator": "none", "name": "n"}],
        "provisioners": [{"type": "shell", "only": ["n"], "inline": ["echo {{ split `a-b` `-` 0 }}"],
                          "override": {"n": {"inline": ["x"]}}}],
        "error-cleanup-provisioner": {"type": "shell-local", "inline": ["echo bye"]},
        "post-processors": ["manifest", [{"type": "checksum", "checksum_types": ["sha256"]}, "compress"]]}"#);
    for want in [
        "# - the \"split\" call cannot be upgraded automatically",
        "provisioner \"shell\" {\n    inline = [\"echo {{ split `a-b` `-` 0 }}\"]\n    only   = [\"null.n\"]\n    override = {\n      n = {\n        inline = [\"x\"]\n      }\n    }\n  }",
        "error-cleanup-provisioner \"shell-local\" {",
        "post-processor \"manifest\" {\n  }",
        "post-processors {\n    post-processor \"checksum\" {\n      checksum_types = [\"sha256\"]\n    }\n    post-processor \"compress\" {\n    }\n  }",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn objects_become_blocks_except_maps() {
    let out = up(r#"{"builders": [{"type": "amazon-ebs", "tags": {"Name": "x", "a b": "y"},
        "source_ami_filter": {"filters": {"name": "u*"}, "owners": ["1"]},
        "launch_block_device_mappings": [{"device_name": "/dev/sda1"}, {"device_name": "/dev/sdb"}]}]}"#);
    assert!(out.contains("tags = {\n    Name  = \"x\"\n    \"a b\" = \"y\"\n  }"), "{out}");
    assert!(
        out.contains("source_ami_filter {\n    filters = {\n      name = \"u*\"\n    }\n    owners = [\"1\"]\n  }"),
        "{out}"
    );
    assert_eq!(out.matches("launch_block_device_mappings {").count(), 2, "{out}");
}

#[test]
fn errors_point_into_the_json() {
    let f = SourceFile::new("t.json", "{\n  \"builders\": [{\"name\": \"x\"}],\n  \"provisoners\": []\n}\n");
    let d = upgrade(&f.text, &f, &UpgradeOptions::default()).unwrap_err();
    let texts: Vec<String> = d.0.iter().map(|d| format!("{} @ {:?} help {:?}", d.summary, d.span, d.help)).collect();
    assert!(texts.iter().any(|t| t.contains("builders 1 has no \"type\"") && t.contains("t.json:2:16")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("unknown template key \"provisoners\"")
            && t.contains("t.json:3:3")
            && t.contains("provisioners")),
        "{texts:?}"
    );
    let json_err = |text: &str| {
        let f = SourceFile::new("t.json", text);
        let d = upgrade(&f.text, &f, &UpgradeOptions::default()).unwrap_err();
        let first = d.0[0].clone();
        (first.span.map(|s| s.line_col()), first.help.unwrap_or_default())
    };
    // kiln-template's JSON parser reads the template: its positions and advice.
    let (at, help) = json_err("{\n  \"a\": 1,\n}\n");
    assert_eq!(at, Some((3, 1)), "the `}}` after the trailing comma, the line Packer reports");
    assert!(help.contains("remove the `,` at line 2, column 9"), "{help}");
    let (at, help) = json_err("{\n  \"a\": 1\n  \"b\": 2\n}\n");
    assert_eq!(at, Some((2, 9)), "right after the item missing its comma");
    assert!(help.contains("add a `,`"), "{help}");
    let (at, help) = json_err("{\n//// note\n}\n");
    assert_eq!(at, Some((2, 1)));
    assert!(help.contains("remove the comment"), "{help}");
    let (at, help) = json_err("{\"a\" \"b\"}");
    assert_eq!(at, Some((1, 6)));
    assert!(help.contains("`\"a\": \"b\"`"), "{help}");
}

#[test]
fn description_goes_into_the_build_block() {
    let out = up(
        r#"{"description": "Built {{ `x` | upper }} by {{user `who`}}", "builders": [{"type": "null", "communicator": "none"}]}"#,
    );
    assert!(out.contains("build {\n  description = \"Built {{ `x` | upper }} by ${var.who}\"\n"), "{out}");
    let note = out.find("the \"upper\" call").expect("a note about upper");
    assert!(note < out.find("build {").unwrap_or(0), "{out}");
    assert!(out.contains("variable \"who\""), "{out}");
}
