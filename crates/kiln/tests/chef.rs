//! `chef-solo`: only its configuration checks are tested (no Chef package exists for the test
//! machines); errors name the option and its place in the template.

mod common;

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;

#[test]
fn chef_solo_configuration_errors_name_the_option_and_its_place() {
    let t = "{\n  \"builders\": [{\"type\": \"null\", \"communicator\": \"none\"}],\n  \"provisioners\": [{\n    \
             \"type\": \"chef-solo\",\n    \"cookbook_paths\": [\"/nonexistent/cookbooks\"],\n    \
             \"run_lists\": [\"recipe[app]\"]\n  }]\n}\n";
    let (code, out) = run(&template(t), &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unknown option \"run_lists\""), "{out}");
    assert!(out.contains("template.json:6:5"), "{out}");
    let t = t.replace("\"run_lists\"", "\"run_list\"");
    let (code, out) = run(&template(&t), &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cookbook_paths: \"/nonexistent/cookbooks\" does not exist"), "{out}");
    assert!(out.contains("template.json:5:23"), "{out}");

    // A solo.rb template is checked for the fields kiln gives it.
    let d = TempDir::new("chef-config");
    let solo = d.0.join("solo.rb.tmpl");
    std::fs::write(&solo, "cookbook_path [{{.CookbookPaths}}]\nnode_name \"{{.NodeName}}\"\n").unwrap();
    let t = serde_json::json!({"builders": [{"type": "null", "communicator": "none"}],
        "provisioners": [{"type": "chef-solo", "config_template": solo}]});
    let (code, out) = run(&template(&t.to_string()), &RunSettings::default(), plain());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("config_template uses unknown field(s) NodeName"), "{out}");
}
