//! The AWS client against real peers: moto's server, and a tiny local HTTP server for what moto
//! cannot do (failing answers, IMDS, container credentials).

mod ebs;
mod local;
mod packer_sequence;
mod s3;
mod services;
mod support;
