//! Vectors from AWS's published SigV4 test suite (credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z,
//! us-east-1, service `service`) and the IAM `ListUsers` example of AWS's signing guide. The
//! same inputs give the same signatures through the `aws-sigv4` crate (checked when this signer
//! was written; see README.md).

use std::time::{Duration, UNIX_EPOCH};

use super::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn params<'a>(service: &'a str, token: Option<&'a str>) -> SigningParams<'a> {
    SigningParams {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: SECRET,
        session_token: token,
        region: "us-east-1",
        service,
        time: UNIX_EPOCH + Duration::from_secs(1_440_938_160),
    }
}

fn authorization(params: &SigningParams<'_>, req: &SignableRequest<'_>) -> String {
    let out = sign(params, req);
    assert_eq!(out[0], ("x-amz-date", "20150830T123600Z".to_string()));
    out.into_iter().find(|(k, _)| *k == "authorization").map(|(_, v)| v).unwrap_or_default()
}

fn request<'a>(
    method: &'a str,
    query: &'a str,
    headers: &'a [(&'a str, &'a str)],
    payload: &'a [u8],
) -> SignableRequest<'a> {
    SignableRequest { method, host: "example.amazonaws.com", path: "/", query, headers, payload, payload_hash: None }
}

#[test]
fn get_vanilla() {
    let req = request("GET", "", &[], b"");
    let headers = vec![("host".to_string(), req.host.to_string()), ("x-amz-date".into(), "20150830T123600Z".into())];
    let canonical = canonical_request(&req, &headers, "host;x-amz-date");
    assert_eq!(
        canonical,
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(hex_sha256(canonical.as_bytes()), "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    assert_eq!(
        authorization(&params("service", None), &req),
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );
}

#[test]
fn post_vanilla() {
    let auth = authorization(&params("service", None), &request("POST", "", &[], b""));
    assert!(auth.ends_with("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"), "{auth}");
}

#[test]
fn get_vanilla_query_order_key_case() {
    let auth = authorization(&params("service", None), &request("GET", "Param2=value2&Param1=value1", &[], b""));
    assert!(auth.ends_with("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"), "{auth}");
}

#[test]
fn post_x_www_form_urlencoded() {
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let auth = authorization(&params("service", None), &request("POST", "", &headers, b"Param1=value1"));
    assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date,"), "{auth}");
    assert!(auth.ends_with("Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"), "{auth}");
}

#[test]
fn iam_list_users_example() {
    let headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")];
    let req = SignableRequest {
        method: "GET",
        host: "iam.amazonaws.com",
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: &headers,
        payload: b"",
        payload_hash: None,
    };
    let auth = authorization(&params("iam", None), &req);
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    );
}

#[test]
fn session_token_is_sent_and_signed() {
    let token = "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW";
    let out = sign(&params("service", Some(token)), &request("POST", "", &[], b""));
    assert_eq!(out[1], ("x-amz-security-token", token.to_string()));
    let auth = &out[2].1;
    assert!(auth.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"), "{auth}");
    // Same inputs through aws-sigv4 1.6.4 (SessionTokenMode::Include).
    assert!(auth.ends_with("Signature=ddd2e47663906bc9bb883e955a72326230afce17578efa009f0141944758cd92"), "{auth}");
}

#[test]
fn encoding_and_normalisation() {
    assert_eq!(uri_encode("a b/c~d*é"), "a%20b%2Fc~d%2A%C3%A9");
    assert_eq!(percent_decode("a%20b%zz%2f"), "a b%zz/");
    assert_eq!(canonical_query("b=2&a=%7e&a=1&c"), "a=1&a=~&b=2&c=");
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a b/%41"), "/a%20b/A");
    assert_eq!(normalize_value("  a   b  "), "a b");
}

/// The GET Object example of AWS's S3 signing guide: path-signed object keys and the
/// `x-amz-content-sha256` header S3 requires.
#[test]
fn s3_get_object_example() {
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let headers = [("Range", "bytes=0-9"), ("x-amz-content-sha256", empty)];
    let req = SignableRequest {
        method: "GET",
        host: "examplebucket.s3.amazonaws.com",
        path: "/test.txt",
        query: "",
        headers: &headers,
        payload: b"",
        payload_hash: Some(empty),
    };
    let params = SigningParams {
        access_key_id: "AKIAIOSFODNN7EXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        session_token: None,
        region: "us-east-1",
        service: "s3",
        time: UNIX_EPOCH + Duration::from_secs(1_369_353_600),
    };
    let out = sign(&params, &req);
    let auth = out.into_iter().find(|(k, _)| *k == "authorization").map(|(_, v)| v).unwrap_or_default();
    assert_eq!(
        auth,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}
