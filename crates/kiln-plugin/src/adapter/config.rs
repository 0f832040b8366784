//! A component's configuration as a plugin takes it. Legacy JSON templates send plain maps (the
//! plugin decodes and checks them itself); HCL2 bodies are decoded here against the plugin's
//! spec, as Packer's HCL2 engine does, so a wrong option or type is reported at its
//! `file:line:col` before the plugin sees anything. The plugin's own `Prepare` errors are then
//! placed at the option they name.

use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::node::{Node, NodeKind};
use kiln_core::component::{BuildInfo, OnError};
use serde_json::{json, Map, Value};

use crate::components::ConfigValue;
use crate::hcldec::{CtyType, Spec};

/// The `packer_*` values Packer passes every component next to its own configuration.
pub fn packer_values(info: &BuildInfo) -> Value {
    let on_error = match info.on_error {
        OnError::Cleanup => "cleanup",
        OnError::Abort => "abort",
        OnError::Ask => "ask",
        OnError::RunCleanupProvisioner => "run-cleanup-provisioner",
    };
    json!({
        "packer_build_name": info.name,
        "packer_builder_type": info.builder_type,
        "packer_core_version": kiln_config::PACKER_COMPAT_VERSION,
        "packer_debug": info.debug,
        "packer_force": info.force,
        "packer_on_error": on_error,
        "packer_template_path": "",
        "packer_user_variables": {},
    })
}

/// What Packer passes provisioners and post-processors last: every build variable as a
/// placeholder, so that a legacy template's ``{{ build `Host` }}`` renders while the build has
/// not run yet (the plugin recognises the map by its `PackerRunUUID`). kiln prepares the
/// component again with the real values before it runs.
pub fn build_placeholders() -> Value {
    let msg = "To set this dynamically in the Packer template, you must use the `build` function";
    Value::Object(
        kiln_core::generated::COMMON_KEYS.iter().map(|k| (k.to_string(), format!("Build_{k}. {msg}").into())).collect(),
    )
}

/// The values for `Prepare`/`Configure`: JSON `[config, packer values]`, HCL2
/// `[packer values, config as cty]` (the orders Packer uses), and for provisioners and
/// post-processors (`placeholders`) the build variables' [`build_placeholders`].
pub fn config_values(
    config: &Node,
    spec: Option<&Spec>,
    info: &BuildInfo,
    placeholders: bool,
) -> Result<Vec<ConfigValue>, Diagnostics> {
    let packer = ConfigValue::Json(packer_values(info));
    let mut values = match spec {
        None => vec![ConfigValue::Json(config.to_json()), packer],
        Some(spec) => {
            let mut errors = Diagnostics::new();
            let (value, ty) = decode(config, spec, config.span.as_ref(), &mut errors);
            errors.into_result()?;
            vec![packer, ConfigValue::Cty { value, ty: ty.to_json() }]
        }
    };
    if placeholders {
        values.push(ConfigValue::Json(build_placeholders()));
    }
    Ok(values)
}

/// Decodes `node` (a body: an object) against `spec`; every error goes to `errors`.
fn decode(node: &Node, spec: &Spec, at: Option<&Span>, errors: &mut Diagnostics) -> (Value, CtyType) {
    let Spec::Object(entries) = spec else {
        errors.push(Diagnostic::error("the plugin's configuration spec is not an object").at_opt(at.cloned()));
        return (Value::Null, CtyType::Dynamic);
    };
    let node = node.settled();
    let members: &[(kiln_config::node::Key, Node)] = match &node.kind {
        NodeKind::Object(m) => m,
        NodeKind::Null => &[],
        _ => {
            errors.push(
                Diagnostic::error(format!("expected a block, got {}", node.kind_name())).at_opt(node.span.clone()),
            );
            return (Value::Null, CtyType::Dynamic);
        }
    };
    let name_of = |s: &Spec| -> Option<String> {
        match s {
            Spec::Attr { name, .. } => Some(name.clone()),
            Spec::Block { type_name, .. }
            | Spec::BlockList { type_name, .. }
            | Spec::BlockSet { type_name, .. }
            | Spec::BlockMap { type_name, .. }
            | Spec::BlockAttrs { type_name, .. } => Some(type_name.clone()),
            Spec::Default { primary, .. } => None.or_else(|| match primary.as_ref() {
                Spec::Attr { name, .. } => Some(name.clone()),
                _ => None,
            }),
            _ => None,
        }
    };
    let names: Vec<(String, &String, &Spec)> =
        entries.iter().map(|(key, s)| (name_of(s).unwrap_or_else(|| key.clone()), key, s)).collect();
    for (key, _) in members {
        if !names.iter().any(|(n, ..)| *n == key.name) {
            let d = Diagnostic::error(format!("unknown option {:?}", key.name));
            let d = match did_you_mean(&key.name, names.iter().map(|(n, ..)| n.as_str())) {
                Some(s) => d.with_help(format!("did you mean {s:?}?")),
                None => d.with_detail("the plugin's configuration has no such option"),
            };
            errors.push(d.at_opt(key.span.clone().or_else(|| at.cloned())));
        }
    }
    let mut value = Map::new();
    let mut types = Vec::new();
    for (name, key, s) in names {
        let member = members.iter().find(|(k, _)| k.name == name).map(|(_, v)| v);
        let (v, t) = entry(member, &name, s, node.span.as_ref().or(at), errors);
        value.insert(key.clone(), v);
        types.push((key.clone(), t));
    }
    (Value::Object(value), CtyType::Object(types))
}

/// One entry of an object spec: an attribute or nested blocks.
fn entry(
    member: Option<&Node>,
    name: &str,
    spec: &Spec,
    block_at: Option<&Span>,
    errors: &mut Diagnostics,
) -> (Value, CtyType) {
    match spec {
        Spec::Attr { ty, required, .. } => match member {
            Some(n) => (convert(n, ty, name, errors), ty.clone()),
            None => {
                if *required {
                    errors
                        .push(Diagnostic::error(format!("missing required option {name:?}")).at_opt(block_at.cloned()));
                }
                (Value::Null, ty.clone())
            }
        },
        Spec::Default { primary, default } => match member {
            Some(_) => entry(member, name, primary, block_at, errors),
            None => entry(None, name, default, block_at, errors),
        },
        Spec::Block { nested, required, .. } => {
            let blocks = block_items(member, name, errors);
            let (_, ty) = decode(&Node::null(), nested, block_at, &mut Diagnostics::new());
            match blocks.as_slice() {
                [] => {
                    if *required {
                        errors.push(
                            Diagnostic::error(format!("missing required block {name:?}")).at_opt(block_at.cloned()),
                        );
                    }
                    (Value::Null, ty)
                }
                [one] => decode(one, nested, one.span.as_ref().or(block_at), errors),
                [_, second, ..] => {
                    errors.push(
                        Diagnostic::error(format!("only one {name:?} block is allowed")).at_opt(second.span.clone()),
                    );
                    (Value::Null, ty)
                }
            }
        }
        Spec::BlockList { nested, min_items, max_items, .. } | Spec::BlockSet { nested, min_items, max_items, .. } => {
            let blocks = block_items(member, name, errors);
            let (_, elem) = decode(&Node::null(), nested, block_at, &mut Diagnostics::new());
            let count = blocks.len() as u64;
            if count < *min_items || (*max_items > 0 && count > *max_items) {
                let at = member.and_then(|m| m.span.clone()).or_else(|| block_at.cloned());
                errors.push(
                    Diagnostic::error(format!(
                        "{count} {name:?} blocks; the plugin takes {}",
                        match max_items {
                            0 => format!("at least {min_items}"),
                            max => format!("{min_items} to {max}"),
                        }
                    ))
                    .at_opt(at),
                );
            }
            let items: Vec<Value> =
                blocks.iter().map(|b| decode(b, nested, b.span.as_ref().or(block_at), errors).0).collect();
            let ty = match spec {
                Spec::BlockSet { .. } => CtyType::Set(Box::new(elem)),
                _ => CtyType::List(Box::new(elem)),
            };
            (Value::Array(items), ty)
        }
        Spec::BlockAttrs { element_type, required, .. } => {
            let ty = CtyType::Map(Box::new(element_type.clone()));
            match member {
                Some(n) => (convert(n, &ty, name, errors), ty),
                None => {
                    if *required {
                        errors.push(
                            Diagnostic::error(format!("missing required block {name:?}")).at_opt(block_at.cloned()),
                        );
                    }
                    (Value::Null, ty)
                }
            }
        }
        other => {
            if let Some(n) = member {
                errors.push(
                    Diagnostic::error(format!("kiln cannot decode option {name:?} for this plugin"))
                        .with_detail(format!("its spec is {other:?}"))
                        .at_opt(n.span.clone()),
                );
            }
            (Value::Null, CtyType::Dynamic)
        }
    }
}

/// The blocks a member holds: HCL2 nested blocks, or (in a `.pkr.json` file) an object or a
/// list of objects.
fn block_items<'a>(member: Option<&'a Node>, name: &str, errors: &mut Diagnostics) -> Vec<&'a Node> {
    let Some(m) = member else { return Vec::new() };
    let m = m.settled();
    match &m.kind {
        NodeKind::Blocks(items) | NodeKind::Array(items) => items.iter().collect(),
        NodeKind::Object(_) => vec![m],
        NodeKind::Null => Vec::new(),
        _ => {
            errors.push(
                Diagnostic::error(format!("{name:?} is a block, not {}", m.kind_name()))
                    .with_help(format!("write it as a block: {name} {{ … }}"))
                    .at_opt(m.span.clone()),
            );
            Vec::new()
        }
    }
}

/// `node` as a value of cty type `ty`, with cty's conversions (a number or bool where a string
/// is wanted, a numeric string where a number is).
fn convert(node: &Node, ty: &CtyType, name: &str, errors: &mut Diagnostics) -> Value {
    let node = node.settled();
    let mut wrong = |what: &str| {
        errors.push(
            Diagnostic::error(format!("option {name:?}: expected {ty}, got {}", node.kind_name()))
                .with_detail(what.to_string())
                .at_opt(node.span.clone()),
        );
        Value::Null
    };
    match (&node.kind, ty) {
        (NodeKind::Null, _) => Value::Null,
        (_, CtyType::Dynamic) => node.to_json(),
        (NodeKind::String(s), CtyType::String) => Value::String(s.clone()),
        (NodeKind::Number(n), CtyType::String) => Value::String(kiln_config::number::format_number(*n)),
        (NodeKind::Bool(b), CtyType::String) => Value::String(b.to_string()),
        (NodeKind::Number(_), CtyType::Number) => node.to_json(),
        (NodeKind::String(s), CtyType::Number) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => kiln_config::number::to_json(n),
            _ => wrong("a string converts to a number only when it is one"),
        },
        (NodeKind::Bool(b), CtyType::Bool) => Value::Bool(*b),
        (NodeKind::String(s), CtyType::Bool) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => wrong("a string converts to a bool only when it is \"true\" or \"false\""),
        },
        (NodeKind::Array(items) | NodeKind::Blocks(items), CtyType::List(t) | CtyType::Set(t)) => {
            Value::Array(items.iter().map(|i| convert(i, t, name, errors)).collect())
        }
        (NodeKind::Array(items), CtyType::Tuple(ts)) if items.len() == ts.len() => {
            Value::Array(items.iter().zip(ts).map(|(i, t)| convert(i, t, name, errors)).collect())
        }
        (NodeKind::Object(m), CtyType::Map(t)) => {
            Value::Object(m.iter().map(|(k, v)| (k.name.clone(), convert(v, t, &k.name, errors))).collect())
        }
        (NodeKind::Object(m), CtyType::Object(attrs)) => {
            for (k, _) in m {
                if !attrs.iter().any(|(a, _)| *a == k.name) {
                    let d = Diagnostic::error(format!("option {name:?} has no attribute {:?}", k.name));
                    let d = match did_you_mean(&k.name, attrs.iter().map(|(a, _)| a.as_str())) {
                        Some(s) => d.with_help(format!("did you mean {s:?}?")),
                        None => d,
                    };
                    errors.push(d.at_opt(k.span.clone()));
                }
            }
            let mut out = Map::new();
            for (a, t) in attrs {
                let v = m.iter().find(|(k, _)| k.name == *a).map(|(_, v)| convert(v, t, a, errors));
                out.insert(a.clone(), v.unwrap_or(Value::Null));
            }
            Value::Object(out)
        }
        _ => wrong("the plugin's spec says which type the option takes"),
    }
}

/// The plugin's `Prepare` errors (Packer joins several as `N errors occurred:` and `* …`
/// lines), each at the option it names when the configuration has it, else at the block.
pub fn prepare_errors(message: &str, config: &Node, plugin: &str) -> Diagnostics {
    let mut out = Diagnostics::new();
    let lines: Vec<&str> =
        message.lines().map(str::trim).filter_map(|l| l.strip_prefix("* ")).filter(|l| !l.is_empty()).collect();
    let items = if lines.is_empty() { vec![message.trim()] } else { lines };
    for item in items {
        let at = option_named(item, config).or_else(|| config.span.clone());
        out.push(
            Diagnostic::error(item.to_string()).with_detail(format!("reported by the plugin {plugin}")).at_opt(at),
        );
    }
    out
}

/// The span of the option of `config` that `text` names (the longest such name, as a word).
fn option_named(text: &str, config: &Node) -> Option<Span> {
    let mut best: Option<(usize, Span)> = None;
    let mut visit = |name: &str, span: Option<&Span>| {
        let Some(span) = span else { return };
        let found = text.match_indices(name).any(|(i, _)| {
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
            !text[..i].ends_with(word) && !text[i + name.len()..].starts_with(word)
        });
        if found && best.as_ref().is_none_or(|(b, _)| name.len() > *b) {
            best = Some((name.len(), span.clone()));
        }
    };
    fn walk<'a>(node: &'a Node, f: &mut dyn FnMut(&'a str, Option<&'a Span>), depth: usize) {
        if depth > 8 {
            return;
        }
        match &node.settled().kind {
            NodeKind::Object(m) => {
                for (k, v) in m {
                    f(&k.name, k.span.as_ref().or(v.span.as_ref()));
                    walk(v, f, depth + 1);
                }
            }
            NodeKind::Blocks(items) | NodeKind::Array(items) => items.iter().for_each(|i| walk(i, f, depth + 1)),
            _ => {}
        }
    }
    walk(config, &mut visit, 0);
    best.map(|(_, s)| s)
}
