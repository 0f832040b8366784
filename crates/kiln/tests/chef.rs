//! `chef-solo`: only its configuration checks are tested (no Chef package exists for the test
//! machines); errors name the option and its place in the template.

mod common;

use common::{plain, run, template};
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
}
