//! STS (Query API): `GetCallerIdentity` and `AssumeRole`.

use std::time::Duration;

use reqwest::Url;

use super::config::{AwsConfig, Service};
use super::credentials::{AssumeRole, Credentials, CredentialsProvider};
use super::error::{Error, Result};
use super::query::Params;
use super::secret::Secret;
use super::transport::{Call, Protocol, Transport};
use super::{time, xml};

const VERSION: &str = "2011-06-15";

/// Who the credentials belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

/// The temporary credentials of an assumed role.
#[derive(Debug, Clone)]
pub struct AssumedRole {
    pub credentials: Credentials,
    pub assumed_role_arn: String,
    pub assumed_role_id: String,
}

/// An STS client.
#[derive(Debug, Clone)]
pub struct StsClient {
    cfg: AwsConfig,
}

impl StsClient {
    pub fn new(cfg: &AwsConfig) -> StsClient {
        StsClient { cfg: cfg.clone() }
    }

    pub async fn get_caller_identity(&self) -> Result<CallerIdentity> {
        let p = Params::new("GetCallerIdentity", VERSION);
        let body = self.cfg.send(Service::Sts, p.action(), Protocol::Query, p.encode().into_bytes()).await?;
        let doc = xml::parse(&body, "STS", p.action())?;
        let r = xml::find(doc.root_element(), "GetCallerIdentityResult")
            .ok_or_else(|| Error::response("STS", p.action(), "no GetCallerIdentityResult"))?;
        Ok(CallerIdentity {
            account: xml::text_or_empty(r, "Account"),
            arn: xml::text_or_empty(r, "Arn"),
            user_id: xml::text_or_empty(r, "UserId"),
        })
    }

    /// Assumes `role` with this client's credentials.
    pub async fn assume_role(&self, role: &AssumeRole) -> Result<AssumedRole> {
        let p = assume_role_params(role);
        let body = self.cfg.send(Service::Sts, p.action(), Protocol::Query, p.encode().into_bytes()).await?;
        parse_assume_role(&body)
    }
}

/// `AssumeRole` for a credentials provider (which has no [`AwsConfig`] of its own).
pub(crate) async fn assume_role_with(
    transport: &Transport,
    endpoint: &Url,
    region: &str,
    base: &CredentialsProvider,
    role: &AssumeRole,
) -> Result<AssumedRole> {
    let p = assume_role_params(role);
    let call = Call {
        service: Service::Sts,
        action: p.action(),
        region,
        endpoint,
        protocol: Protocol::Query,
        body: p.encode().into_bytes(),
    };
    parse_assume_role(&transport.send(&call, base).await?)
}

fn assume_role_params(role: &AssumeRole) -> Params {
    let mut p = Params::new("AssumeRole", VERSION);
    p.set("RoleArn", &role.role_arn);
    p.set(
        "RoleSessionName",
        role.session_name.clone().unwrap_or_else(super::credentials::profile::default_session_name),
    );
    p.opt("DurationSeconds", role.duration.map(|d: Duration| d.as_secs()));
    p.opt("ExternalId", role.external_id.as_ref());
    p.opt("Policy", role.policy.as_ref());
    for (i, arn) in role.policy_arns.iter().enumerate() {
        p.set(format!("PolicyArns.member.{}.arn", i + 1), arn);
    }
    for (i, (k, v)) in role.tags.iter().enumerate() {
        p.set(format!("Tags.member.{}.Key", i + 1), k);
        p.set(format!("Tags.member.{}.Value", i + 1), v);
    }
    for (i, k) in role.transitive_tag_keys.iter().enumerate() {
        p.set(format!("TransitiveTagKeys.member.{}", i + 1), k);
    }
    p
}

fn parse_assume_role(body: &str) -> Result<AssumedRole> {
    let bad = |m: &str| Error::response("STS", "AssumeRole", m);
    let doc = xml::parse(body, "STS", "AssumeRole")?;
    let result = xml::find(doc.root_element(), "AssumeRoleResult").ok_or_else(|| bad("no AssumeRoleResult"))?;
    let c = xml::child(result, "Credentials").ok_or_else(|| bad("no Credentials"))?;
    let (Some(key), Some(secret)) = (xml::text(c, "AccessKeyId"), xml::text(c, "SecretAccessKey")) else {
        return Err(bad("Credentials without AccessKeyId/SecretAccessKey"));
    };
    let expiration = match xml::text(c, "Expiration") {
        Some(e) => Some(time::parse_iso8601(&e).ok_or_else(|| bad(&format!("unreadable Expiration {e:?}")))?),
        None => None,
    };
    let user = xml::child(result, "AssumedRoleUser");
    Ok(AssumedRole {
        credentials: Credentials {
            access_key_id: key,
            secret_access_key: Secret::new(secret),
            session_token: xml::text(c, "SessionToken").map(Secret::new),
            expiration,
        },
        assumed_role_arn: user.map(|u| xml::text_or_empty(u, "Arn")).unwrap_or_default(),
        assumed_role_id: user.map(|u| xml::text_or_empty(u, "AssumedRoleId")).unwrap_or_default(),
    })
}
