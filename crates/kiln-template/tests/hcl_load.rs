//! Blocks, variables and builds: what the loader puts in the plan.

mod hcl_util;
use hcl_util::*;
use kiln_config::node::NodeKind;
use kiln_template::{LoadOptions, Stage, Value};

const BUILD: &str = r#"
variable "region" {
  default = "eu-west-1"
}
locals {
  greeting = "hello ${local.who}"
  who      = "world"
}
source "null" "a" {
  communicator = "none"
  tag {
    key = "k1"
  }
}
source "null" "b" {
  communicator = "none"
}
build {
  name    = "web"
  sources = ["source.null.a", "source.null.b"]
  source "source.null.a" {
    name = "renamed"
    communicator = "ssh"
  }
  provisioner "shell" {
    only   = ["null.a"]
    inline = ["echo ${build.Host} ${source.name}"]
  }
  provisioner "shell" {
    except = ["null.b"]
    inline = ["echo base"]
    override = {
      "null.a" = { inline = ["echo overridden"] }
    }
    pause_before = "1m30s"
    max_retries  = 2
  }
  post-processor "manifest" {
    keep_input_artifact = true
  }
  post-processors {
    post-processor "compress" {}
    post-processor "checksum" {}
  }
}
"#;

#[test]
fn one_build_per_build_block_and_source() {
    let t = load_ok(BUILD);
    let names: Vec<&str> = t.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["web.null.a", "web.null.b", "web.null.renamed"]);
    assert_eq!(local(&t, "greeting"), s("hello world"));
    assert_eq!(t.build_blocks.len(), 1);
    // `inspect` shows each reference as written, as Packer does: the renamed use is `null.a`.
    assert_eq!(t.build_blocks[0].sources, ["null.a", "null.b", "null.a"]);
    assert_eq!(
        t.build_blocks[0].post_processors,
        vec![vec!["manifest".to_string()], vec!["compress".into(), "checksum".into()]]
    );

    let a = &t.builds[0];
    assert_eq!(a.builder_type, "null");
    assert_eq!(a.config.get("communicator").and_then(|n| n.as_str()), Some("none"));
    assert!(matches!(a.config.get("tag").map(|n| &n.kind), Some(NodeKind::Blocks(b)) if b.len() == 1));
    // only = ["null.a"] keeps the first provisioner for null.a only; build.Host is a late value.
    assert_eq!(a.provisioners.len(), 2);
    // Before the build, a late value reads as Packer's placeholder; it names what it waits for.
    let inline = a.provisioners[0].config.get("inline").unwrap();
    assert_eq!(inline.to_json(), serde_json::json!(["echo <unknown> a"]));
    assert!(inline.has_late());
    assert_eq!(inline.late_refs().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["Host"]);
    assert!(a.provisioners[0].config.get("only").is_none());
    // override applies to null.a.
    assert_eq!(a.provisioners[1].config.get("inline").unwrap().to_json(), serde_json::json!(["echo overridden"]));
    assert_eq!(a.provisioners[1].pause_before, Some(std::time::Duration::from_secs(90)));
    assert_eq!(a.provisioners[1].max_retries, 2);
    assert_eq!(a.post_processors.len(), 2);
    assert_eq!(a.post_processors[0][0].keep_input_artifact, Some(true));
    assert_eq!(a.post_processors[1].len(), 2);

    // except = ["null.b"] drops the second provisioner for null.b.
    let b = &t.builds[1];
    assert_eq!(b.provisioners.len(), 0);

    // The build's source block renames the source and overrides its settings.
    let r = &t.builds[2];
    assert_eq!(r.config.get("communicator").and_then(|n| n.as_str()), Some("ssh"));
    assert!(r.config.get("tag").is_some());
    assert!(r.config.get("name").is_none());
}

#[test]
fn config_nodes_carry_the_attribute_span() {
    let t = load_ok(BUILD);
    let n = t.builds[0].config.get("communicator").unwrap();
    let (line, col) = n.span.as_ref().unwrap().line_col();
    assert_eq!((line, col), (10, 18));
}

/// Items of a list literal and members of an object literal keep their own spans (a problem
/// with one points at it, as in JSON templates); computed values keep the attribute's.
#[test]
fn literal_items_and_members_carry_their_own_spans() {
    let src = r#"
source "null" "a" {
  communicator = "none"
  boot_command = [
    "<esc>",
    ("caf\u00e9"),
  ]
  qemuargs = [["-m", "1G"], []]
  http_content = {
    "/a" = "x"
    b    = "y"
  }
  computed = [for s in ["p", "q"] : upper(s)]
}
build { sources = ["source.null.a"] }
"#;
    let t = load_ok(src);
    let c = &t.builds[0].config;
    let at = |n: &kiln_config::node::Node| n.span.as_ref().unwrap().line_col();
    let items = |key: &str| match &c.get(key).unwrap().kind {
        NodeKind::Array(items) => items.clone(),
        other => panic!("{key}: {other:?}"),
    };
    let boot = items("boot_command");
    assert_eq!((at(&boot[0]), at(&boot[1])), ((5, 5), (6, 6)), "a parenthesised item points inside");
    assert_eq!(boot[0].span.as_ref().unwrap().text(), "\"<esc>\"");
    let args = items("qemuargs");
    assert_eq!((at(&args[0]), at(&args[1])), ((8, 15), (8, 29)));
    match &args[0].kind {
        NodeKind::Array(inner) => assert_eq!(at(&inner[1]), (8, 22)),
        other => panic!("{other:?}"),
    }
    let NodeKind::Object(members) = &c.get("http_content").unwrap().kind else { panic!() };
    let spans: Vec<_> =
        members.iter().map(|(k, v)| (k.name.as_str(), k.span.as_ref().unwrap().line_col(), at(v))).collect();
    assert_eq!(spans, [("/a", (10, 5), (10, 12)), ("b", (11, 5), (11, 12))]);
    // A for expression's items are computed: the attribute's span.
    let computed = items("computed");
    assert_eq!((at(&computed[0]), at(&computed[1])), ((13, 14), (13, 14)));
}

#[test]
fn dynamic_blocks_expand() {
    let t = load_ok(
        r#"
source "null" "a" {
  dynamic "tag" {
    for_each = { a = "1", b = "2" }
    iterator = t
    content {
      key   = t.key
      value = t.value
    }
  }
  dynamic "disk" {
    for_each = [10, 20]
    content {
      size = disk.value
    }
  }
}
build {
  sources = ["source.null.a"]
}
"#,
    );
    let cfg = &t.builds[0].config;
    assert_eq!(
        cfg.get("tag").unwrap().to_json(),
        serde_json::json!([{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    );
    assert_eq!(cfg.get("disk").unwrap().to_json(), serde_json::json!([{"size": 10}, {"size": 20}]));
}

/// One validator serves both kinds of `dynamic` block (a component's nested blocks and a
/// build's provisioners/sources): Packer 1.6.6 rejects a null `for_each` and an unknown
/// argument in either.
#[test]
fn dynamic_blocks_are_checked_alike_in_both_places() {
    let cases = [
        ("for_each = null", "`for_each` is null"),
        ("for_each = [1]\n    bogus = 1", "unsupported argument \"bogus\" in a dynamic block"),
        ("for_each = [1]\n    content {}", "a dynamic block takes only one `content` block"),
    ];
    for (body, want) in cases {
        let nested = format!(
            "source \"null\" \"a\" {{\n  dynamic \"tag\" {{\n    {body}\n    content {{}}\n  }}\n}}\nbuild {{\n  sources = [\"source.null.a\"]\n}}\n"
        );
        let build = format!(
            "source \"null\" \"a\" {{\n}}\nbuild {{\n  sources = [\"source.null.a\"]\n  dynamic \"provisioner\" {{\n    labels = [\"shell-local\"]\n    {body}\n    content {{}}\n  }}\n}}\n"
        );
        for src in [nested, build] {
            let summaries: Vec<String> = load_err(&src).0.iter().map(|d| d.summary.clone()).collect();
            assert!(summaries.iter().any(|s| s == want), "{want:?} not in {summaries:?} for:\n{src}");
        }
    }
}

#[test]
fn locals_in_any_order_and_cycles_reported() {
    let t = load_ok("locals {\n  c = local.b + 1\n}\nlocals {\n  b = local.a * 2\n  a = 1\n}\n");
    assert_eq!(local(&t, "c"), n(3.0));
    let d = load_err("locals {\n  a = local.b\n  b = local.a\n}\n");
    let text = d.to_string();
    assert!(text.contains("depends on itself"), "{text}");
    assert_eq!(d.errors().count(), 1, "{text}");
    let t = load_ok("local \"secret\" {\n  expression = \"s3cr3t\"\n  sensitive  = true\n}\n");
    assert!(t.sensitive_values.contains(&"s3cr3t".to_string()));
}

#[test]
fn variable_precedence() {
    let src = "variable \"a\" {\n  default = \"default\"\n}\nvariable \"b\" {\n  default = \"default\"\n}\nvariable \"c\" {\n  default = \"default\"\n}\nvariable \"d\" {\n  default = \"default\"\n}\nvariable \"e\" {\n  default = \"default\"\n}\n";
    let d = dir_with(&[
        ("t.pkr.hcl", src),
        ("1.auto.pkrvars.hcl", "b = \"auto1\"\nc = \"auto1\"\nd = \"auto1\"\n"),
        ("2.auto.pkrvars.hcl", "c = \"auto2\"\n"),
        ("x.pkrvars.hcl", "d = \"file\"\ne = \"file\"\nundeclared = 1\n"),
    ]);
    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.env.insert("PKR_VAR_a".into(), "env".into());
    o.env.insert("PKR_VAR_b".into(), "env".into());
    o.var_files.push(d.join("x.pkrvars.hcl"));
    o.vars.push(("e".into(), "cli".into()));
    let t = kiln_template::load(&d, &o).unwrap_or_else(|e| panic!("{e}"));
    let val = |n: &str| t.variables.iter().find(|v| v.name == n).and_then(|v| v.value.clone());
    assert_eq!(val("a"), Some(s("env")));
    assert_eq!(val("b"), Some(s("auto1")));
    assert_eq!(val("c"), Some(s("auto2")));
    assert_eq!(val("d"), Some(s("file")));
    assert_eq!(val("e"), Some(s("cli")));
    // Undeclared in a var file: a warning, pointing at the file.
    let w: Vec<String> = t.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|w| w.contains("undeclared variable \"undeclared\"") && w.contains("x.pkrvars.hcl:3")),
        "{w:?}"
    );

    // Undeclared -var: an error with a suggestion.
    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.vars.push(("aa".into(), "x".into()));
    let e = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_err().to_string();
    assert!(e.contains("there is no variable named \"aa\"") && e.contains("did you mean"), "{e}");
}

#[test]
fn required_variables_and_validation() {
    let src = "variable \"a\" {}\nvariable \"b\" {\n  description = \"needed\"\n}\nvariable \"size\" {\n  default = 3\n  validation {\n    condition     = var.size > 5\n    error_message = \"size must be more than 5\"\n  }\n}\n";
    let d = load_err(src);
    let text = d.to_string();
    assert_eq!(d.errors().count(), 3, "{text}");
    assert!(text.contains("required variable \"a\" is not set") && text.contains("t.pkr.hcl:1:10"), "{text}");
    assert!(text.contains("size must be more than 5") && text.contains("t.pkr.hcl:8:21"), "{text}");
    // The syntax stage needs no values.
    let dir = dir_with(&[("t.pkr.hcl", src)]);
    let t = kiln_template::load(&dir.join("t.pkr.hcl"), &opts(Stage::Syntax)).unwrap_or_else(|e| panic!("{e}"));
    let a = t.variables.iter().find(|v| v.name == "a").unwrap();
    assert!(a.required);
    assert_eq!(a.default_display.as_deref(), Some("<unknown>"));
    assert_eq!(t.variables.iter().find(|v| v.name == "size").unwrap().default_display.as_deref(), Some("3"));
}

#[test]
fn structure_errors_with_suggestions() {
    let d = load_err("sorce \"null\" \"a\" {}\nbuild {\n  provisoner \"shell\" {}\n}\n");
    let text = d.to_string();
    assert!(text.contains("unsupported block type \"sorce\"") && text.contains("did you mean \"source\"?"), "{text}");
    assert!(text.contains("did you mean \"provisioner\"?") && text.contains("t.pkr.hcl:3:3"), "{text}");

    let d = load_err("source \"null\" {}\n");
    assert!(d.to_string().contains("missing name for source block"), "{d}");

    let d = load_err("variable \"x\" {}\nvariable \"x\" {}\n");
    let text = d.to_string();
    assert!(text.contains("duplicate variable \"x\"") && text.contains("t.pkr.hcl:2:10"), "{text}");

    let d = load_err("variable \"x\" {\n  defualt = 1\n}\n");
    assert!(d.to_string().contains("did you mean \"default\"?"), "{d}");

    let d = load_err("packer {\n  version = \">= 1.0\"\n}\n");
    assert!(d.to_string().contains("did you mean \"required_version\"?"), "{d}");

    let d = load_err("source \"null\" \"a\" {}\nbuild {\n  sources = [\"source.null.b\"]\n}\n");
    assert!(d.to_string().contains("did you mean \"source.null.a\"?"), "{d}");
}

#[test]
fn packer_block_version_and_plugins() {
    let t = load_ok("packer {\n  required_version = \">= 1.7.0, < 2\"\n  required_plugins {\n    amazon = {\n      source  = \"github.com/hashicorp/amazon\"\n      version = \">= 1.2\"\n    }\n  }\n}\n");
    assert_eq!(t.required_version.as_deref(), Some(">= 1.7.0, < 2"));
    assert_eq!(t.required_plugins.len(), 1);
    assert_eq!(t.required_plugins[0].source, "github.com/hashicorp/amazon");
    assert_eq!(t.required_plugins[0].version.as_deref(), Some(">= 1.2"));
    let d = load_err("packer {\n  required_version = \"< 1.0\"\n}\n");
    assert!(d.to_string().contains("t.pkr.hcl:2:22"), "{d}");
}

#[test]
fn folders_load_every_file_in_lexical_order() {
    let d = dir_with(&[
        ("b.pkr.hcl", "build {\n  sources = [\"source.null.x\"]\n}\n"),
        ("a.pkr.hcl", "source \"null\" \"x\" {\n  communicator = var.c\n}\n"),
        ("vars.pkr.hcl", "variable \"c\" {\n  default = \"none\"\n}\n"),
        ("ignored.hcl", "this is not read"),
    ]);
    let t = kiln_template::load(&d, &opts(Stage::Full)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.files.len(), 3);
    assert_eq!(t.builds[0].config.get("communicator").and_then(|n| n.as_str()), Some("none"));
}

#[test]
fn parse_errors_name_the_line() {
    let d = load_err("source \"null\" \"a\" {\n  list = [\n    \"a\"\n    \"b\"\n  ]\n}\n");
    let text = d.to_string();
    assert!(text.contains("missing comma between list items") && text.contains("t.pkr.hcl:4:5"), "{text}");
}

#[test]
fn seed_templates() {
    let Some(shared) = kiln_testing::shared_or_skip() else { return };
    let seeds = shared.join("seed-templates");
    let e = kiln_template::load(&seeds.join("nginx-ubuntu.broken.pkr.hcl"), &opts(Stage::Syntax)).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("nginx-ubuntu.broken.pkr.hcl:37:") && text.contains("missing comma"), "{text}");
    let r = kiln_template::load(&seeds.join("nginx-ubuntu.pkr.hcl"), &opts(Stage::Syntax));
    assert!(r.is_ok(), "{}", r.err().map(|e| e.to_string()).unwrap_or_default());
}

#[test]
fn values_of_unset_required_variable_are_unknown_at_syntax_stage() {
    let d = dir_with(&[("t.pkr.hcl", "variable \"x\" {}\nlocals {\n  y = \"${var.x}-suffix\"\n}\n")]);
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &opts(Stage::Syntax)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(local(&t, "y"), Value::Unknown);
}

#[test]
fn dynamic_sources_and_provisioners_in_build_blocks() {
    let t = load_ok(
        r#"
variable "images" {
  default = {
    dummy    = { image = "dummy" }
    postgres = { image = "postgres/13" }
  }
}
locals {
  files = { foo = { destination = "fooo" }, bar = { destination = "baar" } }
}
source "file" "base" {
}
build {
  dynamic "source" {
    for_each = var.images
    labels   = ["file.base"]
    content {
      name   = source.key
      target = "${source.value.image}.txt"
    }
  }
  dynamic "provisioner" {
    for_each = local.files
    labels   = ["shell-local"]
    content {
      inline = ["echo ${var.images[source.name].image}-${provisioner.value.destination}"]
    }
  }
  post-processors {
    dynamic "post-processor" {
      for_each = ["a", "b"]
      iterator = pp
      labels   = ["shell-local"]
      content {
        inline = ["echo ${pp.value}"]
      }
    }
  }
}
"#,
    );
    let names: Vec<&str> = t.builds.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["file.dummy", "file.postgres"]);
    let pg = &t.builds[1];
    assert_eq!(pg.config.get("target").and_then(|n| n.as_str()), Some("postgres/13.txt"));
    let inl: Vec<serde_json::Value> =
        pg.provisioners.iter().map(|p| p.config.get("inline").unwrap().to_json()).collect();
    assert_eq!(inl, [serde_json::json!(["echo postgres/13-baar"]), serde_json::json!(["echo postgres/13-fooo"])]);
    assert_eq!(pg.provisioners[0].provisioner_type, "shell-local");
    assert_eq!(pg.post_processors.len(), 1);
    assert_eq!(pg.post_processors[0].len(), 2);
    assert_eq!(pg.post_processors[0][1].config.get("inline").unwrap().to_json(), serde_json::json!(["echo b"]));
    assert_eq!(t.build_blocks[0].provisioners, ["shell-local", "shell-local"]);
}

#[test]
fn env_function_only_in_variable_defaults() {
    let d = dir_with(&[(
        "t.pkr.hcl",
        "variable \"proxy\" {\n  default = env(\"http_proxy\")\n}\nvariable \"unset\" {\n  default = env(\"KILN_SURELY_UNSET\")\n}\n",
    )]);
    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.env.insert("http_proxy".into(), "http://proxy:3128".into());
    let t = kiln_template::load(&d, &o).unwrap_or_else(|e| panic!("{e}"));
    let val = |n: &str| t.variables.iter().find(|v| v.name == n).and_then(|v| v.value.clone());
    assert_eq!(val("proxy"), Some(s("http://proxy:3128")));
    assert_eq!(val("unset"), Some(s("")));

    let d = dir_with(&[("t.pkr.hcl", "locals {\n  p = env(\"HOME\")\n}\n")]);
    let e = kiln_template::load(&d, &o).unwrap_err().to_string();
    assert!(e.contains("env() can only be used in the default value of a variable"), "{e}");
    assert!(e.contains("t.pkr.hcl:2:7"), "{e}");
}

#[test]
fn references_that_are_not_allowed_where_they_are() {
    let d = load_err("variable \"a\" {\n  default = \"x\"\n}\nvariable \"b\" {\n  default = var.a\n}\n");
    let text = d.to_string();
    assert!(text.contains("variables may not be used here") && text.contains("t.pkr.hcl:5:13"), "{text}");
    let d = load_err("locals {\n  n = source.name\n}\n");
    assert!(d.to_string().contains("`source` can only be used inside a build block"), "{d}");
}

#[test]
fn build_references_are_late_in_post_processors_and_unknown_in_sources() {
    let t = load_ok(
        "source \"null\" \"a\" {\n  x = build.ID\n}\nbuild {\n  sources = [\"source.null.a\"]\n  post-processor \"shell-local\" {\n    inline = [\"echo ${build.ID}\"]\n  }\n  error-cleanup-provisioner \"shell-local\" {\n    inline = [\"echo ${source.type}-${source.name}\"]\n  }\n  hcp_packer_registry {\n    bucket_name = \"x\"\n  }\n}\n",
    );
    let b = &t.builds[0];
    assert_eq!(b.config.get("x").map(|n| n.kind.clone()), Some(NodeKind::Null));
    let inline = b.post_processors[0][0].config.get("inline").unwrap();
    assert_eq!(inline.to_json(), serde_json::json!(["echo <unknown>"]));
    assert_eq!(inline.late_refs().iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["ID"]);
    let cleanup = b.error_cleanup_provisioner.as_ref().expect("error-cleanup-provisioner");
    assert_eq!(cleanup.config.get("inline").unwrap().to_json(), serde_json::json!(["echo null-a"]));
    assert!(t.warnings.iter().any(|w| w.summary.contains("hcp_packer_registry")), "{:?}", t.warnings);
}

#[test]
fn old_variables_block_and_single_local_blocks() {
    let t = load_ok("variables {\n  region = \"eu\"\n}\nlocal \"where\" {\n  expression = \"in-${var.region}\"\n}\n");
    assert_eq!(local(&t, "where"), s("in-eu"));
    assert_eq!(t.variables[0].default_display.as_deref(), Some("eu"));
}

#[test]
fn complex_cli_values_are_parsed_as_hcl() {
    let d = dir_with(&[(
        "t.pkr.hcl",
        "variable \"l\" {\n  type = list(string)\n}\nvariable \"s\" {\n  type = string\n}\n",
    )]);
    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.vars.push(("l".into(), "[\"a\", \"b\"]".into()));
    o.env.insert("PKR_VAR_s".into(), "[not parsed]".into());
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_or_else(|e| panic!("{e}"));
    let val = |n: &str| t.variables.iter().find(|v| v.name == n).and_then(|v| v.value.clone());
    assert_eq!(val("l"), Some(list(vec![s("a"), s("b")])));
    assert_eq!(val("s"), Some(s("[not parsed]")));
}

#[test]
fn hard_coded_credentials_warn_without_printing_them() {
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let src = format!(
        "variable \"aws_secret_key\" {{\n  default = \"{SECRET}\"\n}}\nvariable \"region\" {{\n  default = \"eu-west-1\"\n}}\nsource \"null\" \"x\" {{\n  communicator = \"none\"\n  ssh_password = \"hunter2\"\n  secret_key   = \"${{var.aws_secret_key}}\"\n}}\nbuild {{\n  sources = [\"source.null.x\"]\n}}\n"
    );
    let d = dir_with(&[("t.pkr.hcl", &src)]);
    let t = kiln_template::load(&d, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let text: String = t.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(t.warnings.iter().filter(|w| w.summary.starts_with("hard-coded credential")).count(), 2, "{text}");
    assert!(text.contains("option \"aws_secret_key\"") && text.contains("t.pkr.hcl:2:3"), "{text}");
    assert!(text.contains("option \"ssh_password\"") && text.contains("t.pkr.hcl:9:3"), "{text}");
    assert!(!text.contains(SECRET) && !text.contains("hunter2"), "{text}");
    assert!(t.sensitive_values.iter().any(|v| v == SECRET) && t.sensitive_values.iter().any(|v| v == "hunter2"));
    // A reference to a variable is not a hard-coded value, and the region is no credential.
    assert!(!text.contains("\"secret_key\"") && !text.contains("region"), "{text}");
}

#[test]
fn build_sources_accept_the_sources_prefix_packer_takes() {
    let t = load_ok(
        "source \"null\" \"a\" {\n  communicator = \"none\"\n}\nbuild {\n  sources = [\"sources.null.a\"]\n}\n",
    );
    assert_eq!(t.builds.len(), 1);
    assert_eq!(t.builds[0].name, "null.a");
}

/// The step cache must know which provisioner options change on every run, also through locals.
#[test]
fn options_that_change_every_run_are_marked() {
    let t = load_ok(
        r#"
locals {
  stamp = formatdate("YYYY", local.now)
  now   = timestamp()
  fixed = "x"
}
source "null" "a" {
  communicator = "none"
}
build {
  sources = ["source.null.a"]
  provisioner "shell" {
    inline           = ["echo ${local.fixed}"]
    environment_vars = ["STAMP=${local.stamp}"]
  }
  provisioner "shell" {
    inline = ["echo ${uuidv4()}"]
  }
  provisioner "shell" {
    inline = ["echo ${upper(local.fixed)}"]
  }
}
"#,
    );
    let marks: Vec<Vec<(String, String, String)>> = t.builds[0]
        .provisioners
        .iter()
        .map(|p| {
            p.volatile
                .iter()
                .map(|v| {
                    (
                        v.option.clone(),
                        v.what.clone(),
                        v.span.as_ref().map(|s| s.text().to_string()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect();
    let m = |o: &str, w: &str, at: &str| (o.to_string(), w.to_string(), at.to_string());
    assert_eq!(
        marks,
        vec![
            vec![m("environment_vars", "local.stamp (which uses timestamp())", "local.stamp")],
            vec![m("inline", "uuidv4()", "uuidv4()")],
            vec![],
        ]
    );
}

/// `.pkrvars.json` files are read by the template's JSON parser: values keep their types (a
/// number keeps all its digits), and warnings and errors point at line:col of the var file.
#[test]
fn json_var_files_have_positions() {
    let src = "variable \"a\" {\n  default = \"default\"\n}\nvariable \"n\" {\n  default = 0\n}\nvariable \"l\" {\n  default = []\n}\n";
    let d = dir_with(&[
        ("t.pkr.hcl", src),
        (
            "v.pkrvars.json",
            "{\n  \"a\": \"json\",\n  \"n\": 12345678901234567890,\n  \"l\": [1, \"x\"],\n  \"undeclared\": 1\n}\n",
        ),
        ("bad.pkrvars.json", "{\n  \"a\": \"x\",\n}\n"),
    ]);
    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.var_files.push(d.join("v.pkrvars.json"));
    let t = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_or_else(|e| panic!("{e}"));
    let val = |n: &str| t.variables.iter().find(|v| v.name == n).and_then(|v| v.value.clone());
    assert_eq!(val("a"), Some(s("json")));
    assert_eq!(val("n").map(|v| v.to_template_string().unwrap()).as_deref(), Some("12345678901234567890"));
    assert_eq!(val("l").map(|v| v.type_name()), Some("list"));
    let w: Vec<String> = t.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        w.iter().any(|w| w.contains("undeclared variable \"undeclared\"") && w.contains("v.pkrvars.json:5:3")),
        "{w:?}"
    );

    let mut o = LoadOptions { stage: Stage::Full, ..LoadOptions::default() };
    o.var_files.push(d.join("bad.pkrvars.json"));
    let e = kiln_template::load(&d.join("t.pkr.hcl"), &o).unwrap_err().to_string();
    assert!(e.contains("bad.pkrvars.json:3:1"), "{e}");
    assert!(e.contains("trailing comma"), "{e}");
}
