//! One configuration object shared by several option sets (access, AMI, run, the builder's own,
//! the communicator's): [`kiln_config::decode::decode_split`] for more than two structs, since
//! serde's `flatten` cannot be combined with unknown-option errors.

use kiln_config::decode::decode_component;
use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics};
use kiln_config::node::{Node, NodeKind};
use serde::de::DeserializeOwned;

/// An option Packer renamed, and what `packer fix` turns it into.
pub struct Renamed {
    pub old: &'static str,
    pub new: &'static str,
}

/// Splits the members of `node` among the option sets whose field names are `sets` (the first
/// set that knows a name gets it). Unknown names are errors with a did-you-mean over every set;
/// `renamed` options are errors that say what Packer's `fix` turns them into, as Packer 1.6.6
/// refuses them too.
pub fn split_members(node: &Node, sets: &[&[&str]], renamed: &[Renamed], component: &str) -> (Vec<Node>, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut parts: Vec<Vec<_>> = vec![Vec::new(); sets.len()];
    match &node.kind {
        NodeKind::Object(members) => {
            for (k, v) in members {
                if let Some(i) = sets.iter().position(|s| s.contains(&k.name.as_str())) {
                    parts[i].push((k.clone(), v.clone()));
                } else if let Some(r) = renamed.iter().find(|r| r.old == k.name) {
                    diags.push(
                        Diagnostic::error(format!("deprecated option {:?}: it is now {:?}", r.old, r.new))
                            .at_opt(k.span.clone())
                            .at_opt(node.span.clone())
                            .with_help(format!("rename it to {:?}, or run `kiln fix` on the template", r.new)),
                    );
                } else {
                    let all = || sets.iter().flat_map(|s| s.iter().copied());
                    let mut d = Diagnostic::error(format!("unknown option {:?}", k.name))
                        .at_opt(k.span.clone())
                        .at_opt(node.span.clone())
                        .with_detail(format!(
                            "the options of {component} are: {}",
                            all().collect::<Vec<_>>().join(", ")
                        ));
                    if let Some(s) = did_you_mean(&k.name, all()) {
                        d = d.with_help(format!("did you mean {s:?}?"));
                    }
                    diags.push(d);
                }
            }
        }
        NodeKind::Null => {}
        _ => diags.push(
            Diagnostic::error(format!("expected an object, found {}", node.kind_name())).at_opt(node.span.clone()),
        ),
    }
    let nodes = parts.into_iter().map(|m| Node::object(m, node.span.clone())).collect();
    (nodes, diags)
}

/// Decodes one part, adding its errors to `diags`; `T::default()` stands in when it fails, so
/// the other parts are still checked.
pub fn decode_part<T: DeserializeOwned + Default>(part: &Node, component: &str, diags: &mut Diagnostics) -> T {
    match decode_component(part, component) {
        Ok(v) => v,
        Err(d) => {
            diags.extend(d);
            T::default()
        }
    }
}
