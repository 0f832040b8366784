use std::path::Path;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// An environment with the shared files in `dir` and nothing else.
fn env_with(dir: &Path, extra: &[(&str, &str)]) -> Env {
    let mut vars = vec![
        ("HOME".to_string(), dir.display().to_string()),
        ("AWS_CONFIG_FILE".to_string(), dir.join("config").display().to_string()),
        ("AWS_SHARED_CREDENTIALS_FILE".to_string(), dir.join("credentials").display().to_string()),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Env::from_vars(vars)
}

#[test]
fn region_comes_from_the_first_place_that_has_one() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "config", "[default]\nregion = eu-west-3\n[profile other]\nregion = ap-south-1\n");
    let keys = [("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"), ("AWS_SECRET_ACCESS_KEY", "x")];
    let load = |extra: &[(&str, &str)], explicit: Option<&str>| {
        let mut all = keys.to_vec();
        all.extend_from_slice(extra);
        let mut l = ConfigLoader::new().env(env_with(dir.path(), &all));
        if let Some(r) = explicit {
            l = l.region(r);
        }
        l.load().map(|c| c.region().to_string())
    };
    assert_eq!(load(&[], None).unwrap(), "eu-west-3");
    assert_eq!(load(&[("AWS_PROFILE", "other")], None).unwrap(), "ap-south-1");
    assert_eq!(load(&[("AWS_DEFAULT_REGION", "us-west-1")], None).unwrap(), "us-west-1");
    assert_eq!(load(&[("AWS_REGION", "us-east-2"), ("AWS_DEFAULT_REGION", "us-west-1")], None).unwrap(), "us-east-2");
    assert_eq!(load(&[("AWS_REGION", "us-east-2")], Some("sa-east-1")).unwrap(), "sa-east-1");
    let e = load(&[], Some("us-east-1/evil")).unwrap_err().to_string();
    assert!(e.contains("is not a region name"), "{e}");

    std::fs::remove_file(dir.path().join("config")).unwrap();
    let e = load(&[], None).unwrap_err().to_string();
    assert!(e.contains("no region") && e.contains("AWS_REGION"), "{e}");
}

#[test]
fn endpoints_default_per_region_or_are_custom() {
    let dir = tempfile::tempdir().unwrap();
    let env = env_with(
        dir.path(),
        &[
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("AWS_ENDPOINT_URL_SSM", "http://127.0.0.1:9/"),
        ],
    );
    let cfg = ConfigLoader::new().env(env).region("us-east-1").endpoint(Service::Ec2, "localhost:5000").load().unwrap();
    assert_eq!(cfg.endpoint(Service::Ec2).unwrap().as_str(), "https://localhost:5000/");
    assert_eq!(cfg.endpoint(Service::Ssm).unwrap().as_str(), "http://127.0.0.1:9/");
    assert_eq!(cfg.endpoint(Service::Sts).unwrap().as_str(), "https://sts.us-east-1.amazonaws.com/");
    let cn = cfg.with_region("cn-north-1").unwrap();
    assert_eq!(
        cn.endpoint(Service::SecretsManager).unwrap().as_str(),
        "https://secretsmanager.cn-north-1.amazonaws.com.cn/"
    );
    assert_eq!(
        cn.endpoint(Service::Ec2).unwrap().as_str(),
        "https://localhost:5000/",
        "custom endpoints follow the region change"
    );
    // International host names still work with idna's unicode-rs back end.
    let idn = parse_endpoint(Service::Ec2, "https://bücher.example:8443").unwrap();
    assert_eq!(idn.host_str(), Some("xn--bcher-kva.example"));
    let e = ConfigLoader::new()
        .env(env_with(dir.path(), &[("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "SK")]))
        .region("us-east-1")
        .endpoint(Service::Ec2, "ftp://x")
        .load()
        .unwrap_err()
        .to_string();
    assert!(e.contains("must be an http or https URL"), "{e}");
}

/// Which source the loader picks, by its description (nothing is fetched).
#[test]
fn credentials_source_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "credentials",
        "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s\n[named]\naws_access_key_id = AKNAMED\naws_secret_access_key = s\n",
    );
    write(
        dir.path(),
        "config",
        "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = named\n\
         [profile proc]\ncredential_process = /bin/true\n\
         [profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n\
         [profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n\
         [profile sso]\nsso_session = corp\n\
         [profile empty]\nregion = us-east-1\n",
    );
    let env_keys = [("AWS_ACCESS_KEY_ID", "AKENV"), ("AWS_SECRET_ACCESS_KEY", "s")];
    let describe = |extra: &[(&str, &str)], profile: Option<&str>| {
        let mut l = ConfigLoader::new().env(env_with(dir.path(), extra)).region("us-east-1");
        if let Some(p) = profile {
            l = l.profile(p);
        }
        l.load().map(|c| c.credentials().description().to_string()).map_err(|e| e.to_string())
    };
    assert_eq!(describe(&env_keys, None).unwrap(), "environment (AWS_ACCESS_KEY_ID)");
    assert_eq!(describe(&[], None).unwrap(), "profile \"default\" (shared files)");
    // AWS_PROFILE comes after keys in the environment; a profile given in the template before.
    let mut with_profile = env_keys.to_vec();
    with_profile.push(("AWS_PROFILE", "named"));
    assert_eq!(describe(&with_profile, None).unwrap(), "environment (AWS_ACCESS_KEY_ID)");
    assert_eq!(describe(&env_keys, Some("named")).unwrap(), "profile \"named\" (shared files)");
    assert_eq!(
        describe(&[], Some("role")).unwrap(),
        "profile \"role\" (assume role arn:aws:iam::123456789012:role/r with profile \"named\" (shared files))"
    );
    assert_eq!(describe(&[], Some("proc")).unwrap(), "profile \"proc\" (credential_process)");
    let e = describe(&[], Some("loop-a")).unwrap_err();
    assert!(e.contains("loop through source_profile: loop-a → loop-b → loop-a"), "{e}");
    assert!(describe(&[], Some("sso")).unwrap_err().contains("IAM Identity Center"));
    assert!(describe(&[], Some("empty")).unwrap_err().contains("holds no credentials"));
    assert!(describe(&[], Some("missing")).unwrap_err().contains("profile \"missing\" is not in"));
    assert!(describe(&[("AWS_PROFILE", "missing")], None).unwrap_err().contains("(AWS_PROFILE) is not in"));

    std::fs::remove_file(dir.path().join("credentials")).unwrap();
    let container = [("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")];
    assert_eq!(describe(&container, None).unwrap(), "container credentials endpoint");
    assert!(describe(&[], None).unwrap().starts_with("instance metadata (IMDSv2)"));
    let e = describe(&[("AWS_EC2_METADATA_DISABLED", "true")], None).unwrap_err();
    assert!(e.contains("instance metadata service is disabled"), "{e}");

    let role = AssumeRole { role_arn: "arn:aws:iam::1:role/build".into(), ..AssumeRole::default() };
    let cfg = ConfigLoader::new()
        .env(env_with(dir.path(), &[]))
        .region("us-east-1")
        .credentials(Credentials::new("AK", "SK", None))
        .assume_role(role)
        .load()
        .unwrap();
    assert_eq!(cfg.credentials().description(), "assume role arn:aws:iam::1:role/build with static credentials");
}
