//! HCL's JSON syntax (`.pkr.json`) loads into the same plan as native syntax.

mod hcl_util;
use hcl_util::*;
use kiln_template::Stage;

const JSON: &str = r#"{
  "//": "a comment",
  "variable": {
    "region": {
      "default": "eu-west-1",
      "description": "where"
    }
  },
  "locals": {
    "prefix": "img-${var.region}"
  },
  "source": {
    "null": {
      "a": {
        "communicator": "none",
        "tags": { "Name": "${local.prefix}" }
      }
    }
  },
  "build": {
    "name": "b",
    "sources": ["source.null.a"],
    "provisioner": [
      { "shell": { "inline": ["echo ${build.ID}", "echo \"quoted\""] } },
      { "file": { "source": "a", "destination": "/tmp/a" } }
    ],
    "post-processors": [
      { "post-processor": [ { "compress": {} }, { "checksum": { "checksum_types": ["sha256"] } } ] }
    ]
  }
}
"#;

#[test]
fn json_syntax_loads_like_native_syntax() {
    let d = dir_with(&[("t.pkr.json", JSON)]);
    let t = kiln_template::load(&d.join("t.pkr.json"), &opts(Stage::Full)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local(&t, "prefix"), s("img-eu-west-1"));
    assert_eq!(t.variables[0].description.as_deref(), Some("where"));
    let b = &t.builds[0];
    assert_eq!(b.name, "b.null.a");
    assert_eq!(b.config.get("tags").unwrap().to_json(), serde_json::json!({"Name": "img-eu-west-1"}));
    assert_eq!(b.provisioners.len(), 2);
    // `build.ID` is known when the build runs: "<unknown>" until then (as in Packer), resolved
    // with the build's data.
    let inline = b.provisioners[0].config.get("inline").unwrap();
    assert_eq!(inline.to_json(), serde_json::json!(["echo <unknown>", "echo \"quoted\""]));
    let data = [("ID".to_string(), "i-0abc".to_string())].into_iter().collect();
    assert_eq!(inline.resolve(&data).unwrap().to_json(), serde_json::json!(["echo i-0abc", "echo \"quoted\""]));
    assert_eq!(b.provisioners[1].provisioner_type, "file");
    assert_eq!(b.post_processors.len(), 1);
    let chain: Vec<&str> = b.post_processors[0].iter().map(|p| p.post_processor_type.as_str()).collect();
    assert_eq!(chain, ["compress", "checksum"]);
    // Spans keep the JSON file's line numbers (for JSON written one member a line).
    let (line, _) = b.config.get("communicator").unwrap().span.as_ref().unwrap().line_col();
    assert_eq!(line, 15);
}

#[test]
fn json_errors_point_at_the_json_line() {
    let d = dir_with(&[("bad.pkr.json", "{\n  \"locals\": {\n    \"a\": 1,\n  }\n}\n")]);
    let e = kiln_template::load(&d.join("bad.pkr.json"), &opts(Stage::Syntax)).unwrap_err().to_string();
    assert!(e.contains("trailing comma") && e.contains("bad.pkr.json:4:3"), "{e}");
    let d = dir_with(&[("ref.pkr.json", "{\n  \"locals\": {\n    \"a\": 1,\n    \"b\": \"${local.aa}\"\n  }\n}\n")]);
    let e = kiln_template::load(&d.join("ref.pkr.json"), &opts(Stage::Full)).unwrap_err().to_string();
    assert!(e.contains("ref.pkr.json:4:") && e.contains("did you mean `local.a`?"), "{e}");
}

/// A key given twice is one more block, as Packer 1.6.6 accepts (`packer validate` passes with
/// `"variable"` twice); an argument set twice is still an error, as in Packer.
#[test]
fn json_syntax_keeps_duplicate_block_keys() {
    let src = "{\n  \"variable\": {\"a\": {\"default\": \"x\"}},\n  \"variable\": {\"b\": {\"default\": \"y\"}},\n  \"source\": {\"null\": {\"n\": {\"communicator\": \"none\"}}},\n  \"build\": {\"sources\": [\"source.null.n\"]}\n}\n";
    let d = dir_with(&[("d.pkr.json", src)]);
    let t = kiln_template::load(&d.join("d.pkr.json"), &opts(Stage::Full)).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = t.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let src = "{\n  \"source\": {\"null\": {\"n\": {\"communicator\": \"none\", \"communicator\": \"ssh\"}}},\n  \"build\": {\"sources\": [\"source.null.n\"]}\n}\n";
    let d = dir_with(&[("d2.pkr.json", src)]);
    let e = kiln_template::load(&d.join("d2.pkr.json"), &opts(Stage::Full)).unwrap_err().to_string();
    // The error points at the second use of the key, on its line and column.
    assert!(e.contains("d2.pkr.json:2:53"), "{e}");
    assert!(e.contains("\"communicator\" is set twice in this block (first on line 2)"), "{e}");
    assert!(e.contains("remove one of them"), "{e}");
}

#[test]
fn an_empty_pkr_json_file_says_what_it_should_hold() {
    let d = dir_with(&[("e.pkr.json", "  \n")]);
    let e = kiln_template::load(&d.join("e.pkr.json"), &opts(Stage::Full)).unwrap_err().to_string();
    assert!(e.contains("the file is empty") && e.contains("\"source\""), "{e}");
    assert!(!e.contains("builders"), "{e}");
}
