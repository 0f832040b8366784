//! A small AWS client: what kiln's amazon components call, and nothing else.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kiln_amazon::client::Error> {
//! use kiln_amazon::client::{AwsConfig, Ec2Client, DescribeImages, Filter};
//! let cfg = AwsConfig::loader().region("us-east-1").load()?;
//! let ec2 = Ec2Client::new(&cfg);
//! let images = ec2
//!     .describe_images(&DescribeImages {
//!         owners: vec!["099720109477".into()],
//!         filters: vec![Filter::new("name", ["ubuntu/images/*"])],
//!         ..DescribeImages::default()
//!     })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! - [`config`]: [`ConfigLoader`] → [`AwsConfig`] (region, credentials source, endpoints, HTTP
//!   client, retries, timeouts, the [`CallHook`]).
//! - [`credentials`]: the chain (static, environment, shared files, `credential_process`,
//!   assume role, container endpoint, IMDSv2) and [`CredentialsProvider`]'s cache.
//! - [`ec2`], [`sts`], [`ssm`], [`secretsmanager`], [`s3`] (objects only): one client per service, typed requests
//!   and answers; EC2 waiters in [`ec2`] on [`waiter`].
//! - Internals: `sigv4` (signing), `transport` (send, retry, report), `query`/`xml`/`json`
//!   (the wire formats), `time` (UTC dates).

pub mod config;
pub mod credentials;
pub mod ec2;
pub mod env;
pub mod error;
mod json;
mod query;
pub mod retry;
pub mod s3;
pub mod secret;
pub mod secretsmanager;
mod sigv4;
pub mod ssm;
pub mod sts;
pub mod time;
mod transport;
pub mod waiter;
mod xml;

pub use config::{AwsConfig, ConfigLoader, Service};
pub use credentials::{AssumeRole, Credentials, CredentialsProvider, Imds};
pub use ec2::*;
pub use env::Env;
pub use error::{Error, Result, ServiceError};
pub use retry::RetryConfig;
pub use s3::S3Client;
pub use secret::Secret;
pub use secretsmanager::{SecretValue, SecretsManagerClient};
pub use ssm::{Parameter, PutParameter, SsmClient};
pub use sts::{AssumedRole, CallerIdentity, StsClient};
pub use transport::{CallHook, CallReport};
pub use waiter::{Check, WaitConfig};
