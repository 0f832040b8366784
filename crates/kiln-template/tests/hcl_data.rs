//! The loader's side of data sources: it hands each data block's evaluated body to the
//! [`DataSources`] runner in dependency order, gives `data.type.name` the runner's value, and
//! registers the values of outputs the runner marks sensitive as secrets. The runner here is the
//! smallest real one: it returns its configuration's strings, `secret` marked sensitive (the
//! built-in data sources run through the binary in crates/kiln/tests/datasources.rs).

mod hcl_util;

use std::sync::{Arc, Mutex};

use hcl_util::{dir_with, local, opts, s};
use kiln_config::node::NodeKind;
use kiln_template::{DataOutput, DataRequest, DataSources, Diagnostics, Stage, Value};

#[derive(Debug, Default)]
struct Echo {
    /// `type.name` of each request, in order.
    seen: Mutex<Vec<String>>,
}

impl DataSources for Echo {
    fn run(&self, r: &DataRequest) -> Result<DataOutput, Diagnostics> {
        self.seen.lock().unwrap().push(format!("{}.{}", r.ty, r.name));
        let NodeKind::Object(members) = &r.config.kind else { panic!("a data block's body is an object") };
        let value = members
            .iter()
            .filter_map(|(k, v)| match &v.kind {
                NodeKind::String(text) => Some((k.name.clone(), Value::string(text))),
                _ => None,
            })
            .collect();
        Ok(DataOutput { value: Value::Object(value), sensitive: vec!["secret".into()], warnings: Vec::new() })
    }
}

const TEMPLATE: &str = r#"
data "echo" "a" {
  public = "a-${data.echo.b.public}"
  secret = "s3cr3t-${data.echo.b.public}"
}

data "echo" "b" {
  public = "b"
}

locals {
  both = "${data.echo.a.public}+${data.echo.a.secret}"
}

source "null" "n" {
  communicator = "none"
}

build {
  sources = ["source.null.n"]
}
"#;

#[test]
fn data_blocks_run_in_dependency_order_and_sensitive_outputs_become_secrets() {
    let d = dir_with(&[("t.pkr.hcl", TEMPLATE)]);
    let echo = Arc::new(Echo::default());
    let mut o = opts(Stage::Full);
    o.data_sources = Some(echo.clone());
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*echo.seen.lock().unwrap(), ["echo.b", "echo.a"]);
    assert_eq!(local(&t, "both"), s("a-b+s3cr3t-b"));
    assert!(t.sensitive_values.contains(&"s3cr3t-b".to_string()), "{:?}", t.sensitive_values);
    assert!(!t.sensitive_values.iter().any(|v| v.starts_with("a-")), "{:?}", t.sensitive_values);
    // Without a runner (`validate -syntax-only`, `inspect`) nothing runs and the values are
    // unknown.
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &opts(Stage::Full)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local(&t, "both"), Value::Unknown);
    assert!(t.sensitive_values.is_empty(), "{:?}", t.sensitive_values);
}

#[test]
fn a_data_source_whose_configuration_is_not_known_does_not_run() {
    // At the syntax stage (the console) a variable without a default has no value: the data
    // source that uses it is unknown, the other one runs.
    let d = dir_with(&[(
        "t.pkr.hcl",
        "variable \"v\" {\n  type = string\n}\n\ndata \"echo\" \"a\" {\n  public = var.v\n}\n\ndata \"echo\" \"b\" {\n  public = \"b\"\n}\n\nlocals {\n  a = data.echo.a.public\n  b = data.echo.b.public\n}\n",
    )]);
    let echo = Arc::new(Echo::default());
    let mut o = opts(Stage::Syntax);
    o.data_sources = Some(echo.clone());
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(*echo.seen.lock().unwrap(), ["echo.b"]);
    assert_eq!(local(&t, "a"), Value::Unknown);
    assert_eq!(local(&t, "b"), s("b"));
}
