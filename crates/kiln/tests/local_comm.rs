//! The shell and file provisioners over the `local` communicator (a `null` build on this
//! machine), with the options that decide where scripts and files go.

mod common;

use common::{plain, run, template, TempDir};
use kiln_core::RunSettings;

#[test]
fn shell_provisioner_uploads_runs_and_cleans_its_script() {
    let d = TempDir::new("shell");
    std::fs::write(d.path("s.sh"), "#!/bin/sh\necho from script $GREETING\n").unwrap();
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","communicator":"local"}}],
  "provisioners": [
    {{"type":"shell","inline":["echo $PACKER_BUILD_NAME $GREETING", "echo warn >&2"],"environment_vars":["GREETING=it's me"],
      "remote_folder":"{dir}"}},
    {{"type":"shell","script":"{dir}/s.sh","environment_vars":["GREETING=again"],"remote_path":"{dir}/kept.sh","skip_clean":true}},
    {{"type":"shell","inline":["exit 7"],"valid_exit_codes":[7],"remote_folder":"{dir}","use_env_var_file":true}}
  ]}}"#,
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("==> null: Provisioning with shell script: /"), "{out}");
    assert!(out.contains("    null: null it's me\n"), "{out}");
    assert!(out.contains("==> null: warn\n"), "{out}");
    assert!(out.contains("    null: from script again\n"), "{out}");
    // Only the skip_clean script is left in the remote folder.
    let mut left: Vec<String> =
        std::fs::read_dir(&d.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    assert_eq!(left, ["kept.sh", "s.sh"]);
}

#[test]
fn shell_provisioner_failure_names_the_exit_code() {
    let d = TempDir::new("shellfail");
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","communicator":"local"}}],
  "provisioners": [{{"type":"shell","inline":["exit 4"],"remote_folder":"{}"}}]}}"#,
        d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1);
    assert!(out.contains("--> null: Script exited with non-zero exit status: 4. Allowed exit codes are: [0]"), "{out}");
}

#[test]
fn file_provisioner_uploads_and_downloads_with_packers_rules() {
    let d = TempDir::new("file");
    std::fs::create_dir_all(d.path("app/conf")).unwrap();
    std::fs::write(d.path("app/index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(d.path("app/conf/site"), "site").unwrap();
    std::fs::create_dir_all(d.path("remote")).unwrap();
    std::fs::create_dir_all(d.path("back")).unwrap();
    let t = template(&format!(
        r#"{{"builders": [{{"type":"null","communicator":"local"}}],
  "provisioners": [
    {{"type":"file","source":"{dir}/app/index.html","destination":"{dir}/remote/"}},
    {{"type":"file","source":"{dir}/app","destination":"{dir}/remote/withdir"}},
    {{"type":"file","source":"{dir}/app/","destination":"{dir}/remote/contents"}},
    {{"type":"file","content":"literal","destination":"{dir}/remote/literal.txt"}},
    {{"type":"file","direction":"download","source":"{dir}/remote/literal.txt","destination":"{dir}/back/"}}
  ]}}"#,
        dir = d.0.display()
    ));
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 0, "{out}");
    assert_eq!(std::fs::read_to_string(d.path("remote/index.html")).unwrap(), "<h1>hi</h1>");
    assert!(std::path::Path::new(&d.path("remote/withdir/app/conf/site")).is_file());
    assert!(std::path::Path::new(&d.path("remote/contents/conf/site")).is_file());
    assert_eq!(std::fs::read_to_string(d.path("back/literal.txt")).unwrap(), "literal");
    assert!(
        out.contains(&format!("==> null: Uploading {}/app/index.html => {}/remote/", d.0.display(), d.0.display())),
        "{out}"
    );
}

#[test]
fn file_provisioner_config_errors() {
    let t = template(
        r#"{"builders": [{"type":"null","communicator":"local"}],
  "provisioners": [{"type":"file","source":"/nonexistent/x","destination":"/tmp/","direction":"sideways"}]}"#,
    );
    let (code, out) = run(&t, &RunSettings::default(), plain());
    assert_eq!(code, 1);
    assert!(out.contains("Error: invalid direction \"sideways\""), "{out}");
    assert!(out.contains("use \"upload\" or \"download\""), "{out}");
}
