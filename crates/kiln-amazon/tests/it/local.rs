//! What moto cannot play, against a tiny local HTTP server: failing answers and retries,
//! timeouts, the instance metadata service (IMDSv2) and a container credentials endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kiln_amazon::client::*;

use crate::support::{CallLog, Handler, HttpServer, ACCESS_KEY, SECRET_KEY};

const REGIONS_XML: &str = "<DescribeRegionsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
    <requestId>r</requestId><regionInfo><item><regionName>us-east-1</regionName>\
    <regionEndpoint>ec2.us-east-1.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>\
    </regionInfo></DescribeRegionsResponse>";

fn throttled() -> String {
    "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error>\
     </Errors><RequestID>t-1</RequestID></Response>"
        .into()
}

fn fast_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig { max_attempts, base: Duration::from_millis(10), max_backoff: Duration::from_millis(50) }
}

fn config(endpoint: &str, log: &CallLog, retry: RetryConfig, timeout: Duration) -> AwsConfig {
    let mut l = ConfigLoader::new()
        .env(Env::from_vars::<&str, &str>([]))
        .region("us-east-1")
        .credentials(Credentials::new(ACCESS_KEY, SECRET_KEY, Some("SESSIONTOKENEXAMPLE".into())))
        .hook(log.hook())
        .retry(retry)
        .timeout(timeout);
    for s in Service::ALL {
        l = l.endpoint(s, endpoint);
    }
    l.load().unwrap()
}

fn handler(f: impl Fn(&crate::support::Request, usize) -> (u16, String) + Send + Sync + 'static) -> Handler {
    Arc::new(f)
}

#[tokio::test]
async fn retries_server_errors_and_throttling_then_succeeds() {
    let server = HttpServer::start(handler(|_, i| match i {
        0 => (503, String::new()),
        1 => (400, throttled()),
        _ => (200, REGIONS_XML.into()),
    }))
    .await;
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&config(&server.url, &log, fast_retry(5), Duration::from_secs(5)));
    let regions = ec2.describe_regions(false).await.unwrap();
    assert_eq!(regions[0].region_name, "us-east-1");
    let calls = log.calls();
    assert_eq!(calls.len(), 1, "one call, reported once");
    assert_eq!((calls[0].attempts, calls[0].status), (3, Some(200)));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/"));
        assert_eq!(r.body, "Action=DescribeRegions&Version=2016-11-15");
        let auth = r.header("authorization").unwrap_or_default();
        assert!(auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")), "{auth}");
        assert!(auth
            .contains("/us-east-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"));
        assert_eq!(r.header("x-amz-security-token"), Some("SESSIONTOKENEXAMPLE"));
        assert!(!auth.contains(SECRET_KEY));
    }
    let shown = format!("{calls:?} {:?}", ec2.config());
    assert!(!shown.contains(SECRET_KEY) && !shown.contains("SESSIONTOKENEXAMPLE"), "{shown}");
}

#[tokio::test]
async fn gives_up_after_the_cap_and_does_not_retry_client_errors() {
    let server = HttpServer::start(handler(|r, _| {
        if r.body.contains("DescribeRegions") {
            (503, "<html>busy</html>".into())
        } else {
            (
                400,
                "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad</Message></Error></Errors>\
                 <RequestID>x-1</RequestID></Response>"
                    .into(),
            )
        }
    }))
    .await;
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&config(&server.url, &log, fast_retry(3), Duration::from_secs(5)));
    let e = ec2.describe_regions(false).await.unwrap_err();
    assert_eq!(e.code(), Some("HTTP503"), "{e}");
    assert!(e.to_string().contains("Service Unavailable: <html>busy</html>"), "{e}");
    assert_eq!(log.calls()[0].attempts, 3);

    let e = ec2.delete_key_pair("k").await.unwrap_err();
    let Error::Service(se) = &e else { panic!("{e:?}") };
    assert_eq!(
        (se.code.as_str(), se.message.as_str(), se.request_id.as_deref()),
        ("InvalidParameterValue", "bad", Some("x-1"))
    );
    assert_eq!(log.calls()[1].attempts, 1);
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn per_request_timeout_and_connection_errors_are_retried() {
    let server = HttpServer::start(handler(|_, _| (0, String::new()))).await;
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&config(&server.url, &log, fast_retry(2), Duration::from_millis(300)));
    let start = Instant::now();
    let e = ec2.describe_regions(false).await.unwrap_err();
    assert!(matches!(e, Error::Http { timed_out: true, .. }), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(3), "{:?}", start.elapsed());
    assert_eq!(server.requests().len(), 2);
    assert_eq!(log.calls()[0].status, None);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let ec2 = Ec2Client::new(&config(&format!("http://{closed}"), &log, fast_retry(2), Duration::from_secs(1)));
    let e = ec2.describe_regions(false).await.unwrap_err();
    assert!(matches!(e, Error::Http { timed_out: false, .. }), "{e:?}");
    assert_eq!(log.calls()[1].attempts, 2);
}

#[tokio::test]
async fn json_protocol_headers_and_retry() {
    let server = HttpServer::start(handler(|_, i| match i {
        0 => (400, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        _ => (200, r#"{"Parameter":{"Name":"/p","Type":"String","Value":"v","Version":3,"ARN":"arn:x"}}"#.into()),
    }))
    .await;
    let log = CallLog::default();
    let ssm = SsmClient::new(&config(&server.url, &log, fast_retry(3), Duration::from_secs(5)));
    let p = ssm.get_parameter("/p", true).await.unwrap();
    assert_eq!((p.value.expose().as_str(), p.version), ("v", 3));
    let r = &server.requests()[1];
    assert_eq!(r.header("x-amz-target"), Some("AmazonSSM.GetParameter"));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert_eq!(r.body, r#"{"Name":"/p","WithDecryption":true}"#);
    assert!(r.header("authorization").unwrap_or_default().contains("/us-east-1/ssm/aws4_request"));
    assert_eq!(log.calls()[0].attempts, 2);
}

fn expiring_in(d: Duration) -> String {
    kiln_amazon::client::time::format_iso8601(SystemTime::now() + d)
}

/// IMDSv2: a token first, then the role name and its credentials with the token; the
/// credentials are refreshed when they are about to expire, and sign the EC2 request.
#[tokio::test]
async fn imdsv2_credentials_flow() {
    let imds = HttpServer::start(handler(|r, _| {
        let token_ok = r.header("x-aws-ec2-metadata-token") == Some("TOKEN-1");
        match (r.method.as_str(), r.path.as_str()) {
            ("PUT", "/latest/api/token") if r.header("x-aws-ec2-metadata-token-ttl-seconds").is_some() => (200, "TOKEN-1".into()),
            (_, _) if !token_ok => (401, String::new()),
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, "kiln-role\n".into()),
            ("GET", "/latest/meta-data/iam/security-credentials/kiln-role") => (
                200,
                format!(
                    r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIAIMDSEXAMPLE","SecretAccessKey":"imds-secret",
                        "Token":"IMDSTOKEN","Expiration":"{}"}}"#,
                    expiring_in(Duration::from_secs(120))
                ),
            ),
            ("GET", "/latest/meta-data/placement/region") => (200, "eu-north-1".into()),
            _ => (404, String::new()),
        }
    }))
    .await;
    let ec2_server = HttpServer::start(handler(|_, _| (200, REGIONS_XML.into()))).await;
    let cfg = ConfigLoader::new()
        .env(Env::from_vars::<&str, &str>([]))
        .region("us-east-1")
        .imds_endpoint(&imds.url)
        .endpoint(Service::Ec2, &ec2_server.url)
        .load()
        .unwrap();
    assert!(cfg.credentials().description().starts_with("instance metadata (IMDSv2)"));
    Ec2Client::new(&cfg).describe_regions(false).await.unwrap();
    let signed = &ec2_server.requests()[0];
    assert!(signed.header("authorization").unwrap_or_default().contains("Credential=ASIAIMDSEXAMPLE/"));
    assert_eq!(signed.header("x-amz-security-token"), Some("IMDSTOKEN"));

    // Two minutes left is inside the refresh margin: the next use fetches again.
    let c = cfg.credentials().credentials().await.unwrap();
    assert_eq!(c.secret_access_key.expose(), "imds-secret");
    let seen: Vec<(String, String)> = imds.requests().iter().map(|r| (r.method.clone(), r.path.clone())).collect();
    let once = [
        ("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/kiln-role"),
    ];
    let expected: Vec<(String, String)> =
        once.iter().chain(once.iter()).map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(seen, expected);

    let client = Imds::new(&imds.url, Duration::from_secs(1)).unwrap();
    assert_eq!(client.region().await.unwrap(), "eu-north-1");
}

#[tokio::test]
async fn missing_imds_fails_fast() {
    let silent = HttpServer::start(handler(|_, _| (0, String::new()))).await;
    let cfg = ConfigLoader::new()
        .env(Env::from_vars::<&str, &str>([]))
        .region("us-east-1")
        .imds_endpoint(&silent.url)
        .metadata_timeout(Duration::from_millis(200))
        .load()
        .unwrap();
    let start = Instant::now();
    let e = cfg.credentials().credentials().await.unwrap_err().to_string();
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(e.contains("no credentials in the template, the environment") && e.contains("not reachable"), "{e}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let cfg = ConfigLoader::new()
        .env(Env::from_vars([("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://{closed}"))]))
        .region("us-east-1")
        .load()
        .unwrap();
    let e = cfg.credentials().credentials().await.unwrap_err().to_string();
    assert!(e.contains(&closed.to_string()), "{e}");
}

#[tokio::test]
async fn container_credentials_with_token_file() {
    let server = HttpServer::start(handler(|r, _| {
        if r.path == "/creds" && r.header("authorization") == Some("Bearer from-file") {
            (200, r#"{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"c-secret","Token":"c-token","Expiration":"2099-01-01T00:00:00Z"}"#.into())
        } else {
            (403, String::new())
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "Bearer from-file\n").unwrap();
    let env = Env::from_vars([
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/creds", server.url)),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer ignored-when-a-file-is-set".to_string()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_file.display().to_string()),
    ]);
    let cfg = ConfigLoader::new().env(env).region("us-east-1").load().unwrap();
    assert_eq!(cfg.credentials().description(), "container credentials endpoint");
    let c = cfg.credentials().credentials().await.unwrap();
    assert_eq!((c.access_key_id.as_str(), c.secret_access_key.expose().as_str()), ("ASIACONTAINER", "c-secret"));
    cfg.credentials().credentials().await.unwrap();
    assert_eq!(server.requests().len(), 1, "cached until near expiry");
}

/// What moto 5.2.5 does not implement, on the wire: `deprecate_at`'s EnableImageDeprecation,
/// `deregistration_protection`'s EnableImageDeregistrationProtection, and `imds_support` as an
/// image attribute of its own.
#[tokio::test]
async fn image_lifecycle_calls_on_the_wire() {
    let server = HttpServer::start(handler(|r, _| {
        let action = r.body.split('&').find_map(|p| p.strip_prefix("Action=")).unwrap_or("").to_string();
        (200, format!("<{action}Response><requestId>r</requestId><return>true</return></{action}Response>"))
    }))
    .await;
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&config(&server.url, &log, fast_retry(1), Duration::from_secs(5)));
    ec2.enable_image_deprecation("ami-1", "2027-06-01T00:00:00Z").await.unwrap();
    ec2.enable_image_deregistration_protection("ami-1", true).await.unwrap();
    ec2.enable_image_deregistration_protection("ami-2", false).await.unwrap();
    let input = ModifyImageAttribute {
        image_id: "ami-1".into(),
        imds_support: Some("v2.0".into()),
        ..ModifyImageAttribute::default()
    };
    ec2.modify_image_attribute(&input).await.unwrap();
    let bodies: Vec<String> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        [
            "Action=EnableImageDeprecation&Version=2016-11-15&ImageId=ami-1&DeprecateAt=2027-06-01T00%3A00%3A00Z",
            "Action=EnableImageDeregistrationProtection&Version=2016-11-15&ImageId=ami-1&WithCooldown=true",
            "Action=EnableImageDeregistrationProtection&Version=2016-11-15&ImageId=ami-2",
            "Action=ModifyImageAttribute&Version=2016-11-15&ImageId=ami-1&ImdsSupport.Value=v2.0",
        ]
    );
}

/// Later Packers' launch options on the wire (moto takes and ignores them): unlimited credits,
/// a dedicated host, Nitro Enclaves, a capacity reservation, license configurations; and a
/// time-based AMI copy.
#[tokio::test]
async fn launch_and_copy_options_on_the_wire() {
    let server = HttpServer::start(handler(|r, _| {
        let action = r.body.split('&').find_map(|p| p.strip_prefix("Action=")).unwrap_or("").to_string();
        let body = match action.as_str() {
            "CopyImage" => "<imageId>ami-2</imageId>",
            _ => "<instancesSet/>",
        };
        (200, format!("<{action}Response><requestId>r</requestId>{body}</{action}Response>"))
    }))
    .await;
    let log = CallLog::default();
    let ec2 = Ec2Client::new(&config(&server.url, &log, fast_retry(1), Duration::from_secs(5)));
    let input = RunInstances {
        image_id: "ami-1".into(),
        instance_type: "t3.micro".into(),
        cpu_credits: Some("unlimited".into()),
        host_id: Some("h-1".into()),
        enclave: true,
        capacity_reservation_group_arn: Some("arn:aws:resource-groups:us-east-1:1:group/g".into()),
        license_configuration_arns: vec!["arn:aws:license-manager:us-east-1:1:license-configuration:lic-1".into()],
        ..RunInstances::default()
    };
    ec2.run_instances(&input).await.unwrap();
    let copy = CopyImage {
        source_image_id: "ami-1".into(),
        source_region: "us-east-1".into(),
        name: "n".into(),
        snapshot_copy_completion_minutes: Some(30),
        ..CopyImage::default()
    };
    assert_eq!(ec2.copy_image(&copy).await.unwrap(), "ami-2");
    let reqs = server.requests();
    let params = |i: usize| -> Vec<String> {
        reqs[i].body.split('&').map(|p| p.replace("%3A", ":").replace("%2F", "/")).collect()
    };
    let run = params(0);
    for want in [
        "CreditSpecification.CpuCredits=unlimited",
        "Placement.HostId=h-1",
        "EnclaveOptions.Enabled=true",
        "CapacityReservationSpecification.CapacityReservationTarget.CapacityReservationResourceGroupArn=arn:aws:resource-groups:us-east-1:1:group/g",
        "LicenseSpecification.1.LicenseConfigurationArn=arn:aws:license-manager:us-east-1:1:license-configuration:lic-1",
    ] {
        assert!(run.contains(&want.to_string()), "{want} not in {run:?}");
    }
    assert!(!run.iter().any(|p| p.contains("CapacityReservationPreference")), "{run:?}");
    assert!(params(1).contains(&"SnapshotCopyCompletionDurationMinutes=30".to_string()), "{:?}", params(1));
}
