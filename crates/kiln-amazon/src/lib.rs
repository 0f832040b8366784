//! kiln's amazon components: the `amazon-ebs` builder ([`ebs`]), what amazon builders share
//! ([`common`]), and the AWS client they use ([`client`]). The amazon data sources and the
//! `aws_secretsmanager` template function will live here too, so the AWS code and its
//! dependencies stay in one crate that nothing else pulls in.
//!
//! The client is small on purpose: SigV4 signing, the EC2 and STS Query APIs, the SSM and
//! Secrets Manager JSON APIs, a credentials chain like the SDK's, retries, pagination and
//! waiters, with typed requests and responses for what kiln uses and nothing more. See
//! `README.md` for why it is not the official SDK (compile time, memory and size, measured).

pub mod client;
pub mod common;
pub mod data;
pub mod ebs;
pub mod inventory;
pub mod share;
