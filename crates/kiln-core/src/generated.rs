//! Generated data: the values a builder makes known while it runs (Packer's "build variables":
//! HCL2 `build.Host`, JSON ``{{ build `Host` }}``). Builders declare the keys they set
//! ([`crate::Builder::generated_data_keys`]); `validate` checks every reference against them and
//! Packer's common keys; the engine assembles the values in one place ([`build_data`]) for
//! provisioners and, through the artifact, for post-processors.

use kiln_config::diag::{did_you_mean, Diagnostic};
use kiln_config::node::Node;

use crate::component::BuildInfo;

pub use kiln_config::node::GeneratedData;

/// The keys every build has (Packer's `BuilderDataCommonKeys`), set by the engine or the
/// communicator; empty when the build has no such thing (`Password` with key authentication).
pub const COMMON_KEYS: &[&str] = &[
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "PackerRunUUID",
    "PackerHTTPIP",
    "PackerHTTPPort",
    "PackerHTTPAddr",
    "SSHPublicKey",
    "SSHPrivateKey",
    "WinRMPassword",
];

/// The data provisioners and post-processors of a build see: the builder's values over the
/// common keys' defaults, and the run's id.
pub fn build_data(builder: &GeneratedData, info: &BuildInfo) -> GeneratedData {
    let mut d = builder.clone();
    for k in COMMON_KEYS {
        d.entry((*k).to_string()).or_default();
    }
    let uuid = d.entry("PackerRunUUID".into()).or_default();
    if uuid.is_empty() {
        *uuid = info.run_uuid.clone();
    }
    d
}

/// An error for every reference in `config` to a key that neither Packer's common keys nor
/// `builder_keys` (what the build's builder sets) hold.
pub fn check_refs(config: &Node, builder_keys: &[String], builder_type: &str) -> Vec<Diagnostic> {
    let known: Vec<&str> = COMMON_KEYS.iter().copied().chain(builder_keys.iter().map(String::as_str)).collect();
    let mut out = Vec::new();
    for r in config.late_refs() {
        if known.contains(&r.name.as_str()) {
            continue;
        }
        let d = Diagnostic::error(format!("unknown build variable {:?}", r.name)).at_opt(r.span.clone());
        let mut names = known.clone();
        names.sort_unstable();
        out.push(match did_you_mean(&r.name, known.iter().copied()) {
            Some(s) => d.with_help(format!("did you mean {s:?}?")),
            None => d.with_detail(format!("the {builder_type} builder's build variables: {}", names.join(", "))),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_values_win_and_common_keys_are_always_there() {
        let info = BuildInfo { run_uuid: "u-1".into(), ..BuildInfo::default() };
        let mut b = GeneratedData::new();
        b.insert("Host".into(), "10.0.0.5".into());
        b.insert("SourceAMI".into(), "ami-1".into());
        let d = build_data(&b, &info);
        assert_eq!(d["Host"], "10.0.0.5");
        assert_eq!(d["SourceAMI"], "ami-1");
        assert_eq!(d["PackerRunUUID"], "u-1");
        assert_eq!(d["Password"], "");
        assert_eq!(d.len(), COMMON_KEYS.len() + 1);
    }
}
