use super::*;

#[test]
fn parses_config_and_credentials_files() {
    let config = "\
# comment
[default]
region = us-west-2
[profile dev]
region=eu-west-1 
role_arn = arn:aws:iam::123456789012:role/dev
source_profile = default
s3 =
  max_concurrent_requests = 20
output = json
[sso-session corp]
sso_start_url = https://example.awsapps.com/start
[notaprofile]
x = 1
";
    let map = parse_ini(config, true).unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), ["default", "dev"]);
    assert_eq!(map["dev"]["region"], "eu-west-1");
    assert_eq!(map["dev"]["output"], "json");
    assert!(!map["dev"].contains_key("max_concurrent_requests"));

    let creds = "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n; c\n[profile dev]\nk = v\n";
    let map = parse_ini(creds, false).unwrap();
    assert_eq!(map["default"]["aws_access_key_id"], "AKIAIOSFODNN7EXAMPLE");
    assert!(map.contains_key("profile dev"), "the credentials file has no `profile ` prefix");
}

#[test]
fn reports_the_line_of_a_syntax_error() {
    assert_eq!(parse_ini("[default]\nregion us-east-1\n", true).unwrap_err().0, 2);
    assert_eq!(parse_ini("[default\n", false).unwrap_err().0, 1);
    assert_eq!(parse_ini("key = v\n", false).unwrap_err().0, 1);
}

#[test]
fn merges_a_profile_from_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let credentials = dir.path().join("credentials");
    std::fs::write(&config, "[profile p]\nregion = eu-central-1\naws_access_key_id = OLD\n").unwrap();
    std::fs::write(&credentials, "[p]\naws_access_key_id = NEW\n").unwrap();
    let files = SharedFiles::load(&Env::from_vars::<&str, &str>([]), Some(&config), Some(&credentials)).unwrap();
    let p = files.profile("p").unwrap();
    assert_eq!((p.get("region"), p.get("aws_access_key_id")), (Some("eu-central-1"), Some("NEW")));
    assert!(files.profile("q").is_none());

    std::fs::write(&config, "[profile p]\nnot a line\n").unwrap();
    let e = SharedFiles::load(&Env::from_vars::<&str, &str>([]), Some(&config), Some(&credentials))
        .unwrap_err()
        .to_string();
    assert!(e.contains("config:2: expected `key = value`"), "{e}");
}
