//! The shape of a legacy JSON template: which top-level sections exist, what each holds, and
//! the common options of provisioners and post-processors. Produces a [`Raw`] template with
//! every problem collected, not just the first.

use std::time::Duration;

use kiln_config::diag::{did_you_mean, Diagnostic, Diagnostics, Span};
use kiln_config::golang::{parse_go_bool, parse_go_duration};
use kiln_config::node::{Key, Node, NodeKind};

pub const TOP_LEVEL_KEYS: &[&str] = &[
    "builders",
    "description",
    "error-cleanup-provisioner",
    "min_packer_version",
    "post-processors",
    "provisioners",
    "sensitive-variables",
    "variables",
];

/// A name with the place it was written.
pub type Named = (String, Option<Span>);

#[derive(Debug, Default)]
pub struct Raw {
    pub description: Option<String>,
    pub min_version: Option<Named>,
    pub variables: Vec<RawVar>,
    pub sensitive: Vec<Named>,
    pub builders: Vec<RawBuilder>,
    pub provisioners: Vec<RawProv>,
    pub error_cleanup: Option<RawProv>,
    pub post_processors: Vec<Vec<RawPp>>,
    /// Where the builders are (the `"builders"` key), else the template's top object: where
    /// "the template defines no builders" points.
    pub builders_at: Option<Span>,
}

#[derive(Debug)]
pub struct RawVar {
    pub name: String,
    /// `None` when the value is `null` (the variable is required).
    pub default: Option<String>,
    pub key_span: Option<Span>,
    pub value: Node,
}

#[derive(Debug)]
pub struct RawBuilder {
    pub name: String,
    pub builder_type: String,
    /// Everything but `type` and `name`.
    pub config: Node,
    pub span: Option<Span>,
}

#[derive(Debug)]
pub struct RawProv {
    pub provisioner_type: String,
    pub only: Vec<Named>,
    pub except: Vec<Named>,
    pub overrides: Vec<(Key, Node)>,
    pub pause_before: Option<Duration>,
    pub max_retries: u32,
    pub timeout: Option<Duration>,
    pub config: Node,
    pub span: Option<Span>,
}

#[derive(Debug)]
pub struct RawPp {
    pub post_processor_type: String,
    pub name: Option<String>,
    pub only: Vec<Named>,
    pub except: Vec<Named>,
    pub keep_input_artifact: Option<bool>,
    pub config: Node,
    pub span: Option<Span>,
}

fn err(summary: impl Into<String>, node: &Node) -> Diagnostic {
    Diagnostic::error(summary).at_opt(node.span.clone())
}

fn members(node: &Node) -> &[(Key, Node)] {
    match &node.kind {
        NodeKind::Object(m) => m,
        _ => &[],
    }
}

/// Checks the template's structure.
pub fn read(root: &Node, diags: &mut Diagnostics) -> Raw {
    let mut raw = Raw { builders_at: root.span.clone(), ..Raw::default() };
    if !matches!(root.kind, NodeKind::Object(_)) {
        diags.push(
            err(format!("a template must be a JSON object, found {}", root.kind_name()), root)
                .with_help("write the template as { \"builders\": [ ... ], ... }"),
        );
        return raw;
    }
    for (key, value) in members(root) {
        let name = key.name.as_str();
        match name {
            "description" => raw.description = string_or_err(value, "description", diags),
            "min_packer_version" => {
                raw.min_version = string_or_err(value, "min_packer_version", diags).map(|s| (s, value.span.clone()))
            }
            "variables" => raw.variables = variables(value, diags),
            "sensitive-variables" => raw.sensitive = string_list(value, "sensitive-variables", diags),
            "builders" => {
                raw.builders = builders(value, diags);
                raw.builders_at = key.span.clone().or_else(|| value.span.clone());
            }
            "provisioners" => match &value.kind {
                NodeKind::Array(items) => {
                    raw.provisioners =
                        items.iter().enumerate().filter_map(|(i, p)| provisioner(p, i + 1, diags)).collect()
                }
                NodeKind::Null => {}
                _ => diags.push(err(format!("\"provisioners\" must be a list, found {}", value.kind_name()), value)),
            },
            "error-cleanup-provisioner" => raw.error_cleanup = provisioner(value, 1, diags),
            "post-processors" => raw.post_processors = post_processors(value, diags),
            // Atlas push; Packer 1.6.6 still parses and ignores it.
            "push" => diags.push(
                Diagnostic::warning("\"push\" is ignored: Atlas push no longer exists")
                    .at_opt(key.span.clone())
                    .with_help("remove the \"push\" section"),
            ),
            _ if name.starts_with('_') => {
                if value.as_str().is_none() {
                    diags.push(
                        err(format!("the comment \"{name}\" must be a string, found {}", value.kind_name()), value)
                            .with_help("Packer accepts only strings in top-level keys starting with `_`"),
                    );
                }
            }
            _ => {
                let mut d = Diagnostic::error(format!("unknown top-level key \"{name}\" in the template"))
                    .at_opt(key.span.clone());
                d = match did_you_mean(name, TOP_LEVEL_KEYS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                    None => d.with_help(format!(
                        "valid keys are {}; keys starting with `_` are comments",
                        TOP_LEVEL_KEYS.join(", ")
                    )),
                };
                diags.push(d);
            }
        }
    }
    raw
}

fn string_or_err(value: &Node, what: &str, diags: &mut Diagnostics) -> Option<String> {
    match &value.kind {
        NodeKind::String(s) => Some(s.clone()),
        NodeKind::Null => None,
        _ => {
            diags.push(err(format!("\"{what}\" must be a string, found {}", value.kind_name()), value));
            None
        }
    }
}

fn string_list(value: &Node, what: &str, diags: &mut Diagnostics) -> Vec<Named> {
    let items = match &value.kind {
        NodeKind::Array(items) => items,
        NodeKind::Null => return Vec::new(),
        // Packer's weak decoding takes a lone string as a one-item list.
        NodeKind::String(s) => return vec![(s.clone(), value.span.clone())],
        _ => {
            diags.push(
                err(format!("\"{what}\" must be a list of strings, found {}", value.kind_name()), value)
                    .with_help(format!("write \"{what}\": [\"a\", \"b\"]")),
            );
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) => out.push((s.to_string(), item.span.clone())),
            None => diags.push(err(format!("\"{what}\" must hold strings, found {}", item.kind_name()), item)),
        }
    }
    out
}

fn variables(value: &Node, diags: &mut Diagnostics) -> Vec<RawVar> {
    let NodeKind::Object(m) = &value.kind else {
        if !matches!(value.kind, NodeKind::Null) {
            diags.push(
                err(format!("\"variables\" must be an object, found {}", value.kind_name()), value)
                    .with_help("write \"variables\": { \"name\": \"default\" }"),
            );
        }
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, v) in m {
        let default = match &v.kind {
            NodeKind::String(s) => Some(s.clone()),
            NodeKind::Null => None,
            NodeKind::Number(_) | NodeKind::Bool(_) => {
                let text = v.span.as_ref().map_or_else(String::new, |s| s.text().to_string());
                diags.push(
                    err(
                        format!("the default of variable \"{}\" must be a string, found {}", key.name, v.kind_name()),
                        v,
                    )
                    .with_help(format!("quote it: \"{text}\" (legacy JSON variables are strings)")),
                );
                continue;
            }
            _ => {
                diags.push(
                    err(
                        format!("the default of variable \"{}\" must be a string, found {}", key.name, v.kind_name()),
                        v,
                    )
                    .with_help("legacy JSON variables hold strings; use null to make the variable required"),
                );
                continue;
            }
        };
        out.push(RawVar { name: key.name.clone(), default, key_span: key.span.clone(), value: v.clone() });
    }
    out
}

fn builders(value: &Node, diags: &mut Diagnostics) -> Vec<RawBuilder> {
    let items = match &value.kind {
        NodeKind::Array(items) => items,
        NodeKind::Null => return Vec::new(),
        _ => {
            diags.push(
                err(format!("\"builders\" must be a list of objects, found {}", value.kind_name()), value)
                    .with_help("write \"builders\": [ { \"type\": \"...\" } ]"),
            );
            return Vec::new();
        }
    };
    let mut out: Vec<RawBuilder> = Vec::new();
    for (i, b) in items.iter().enumerate() {
        let NodeKind::Object(_) = &b.kind else {
            diags.push(err(format!("builder {} must be an object, found {}", i + 1, b.kind_name()), b));
            continue;
        };
        let Some(builder_type) = required_type(b, &format!("builder {}", i + 1), diags) else {
            continue;
        };
        let name = match b.get("name") {
            Some(n) => match n.as_str() {
                Some(s) => s.to_string(),
                None => {
                    diags.push(err(format!("the \"name\" of builder {} must be a string", i + 1), n));
                    continue;
                }
            },
            None => builder_type.clone(),
        };
        if let Some(first) = out.iter().find(|o| o.name == name) {
            let at =
                first.span.as_ref().map(|s| format!(" (the first is at line {})", s.line_col().0)).unwrap_or_default();
            let span = b.get("name").or_else(|| b.get("type")).and_then(|n| n.span.clone());
            diags.push(
                Diagnostic::error(format!("two builders are named \"{name}\"{at}"))
                    .at_opt(span)
                    .with_help("give each builder a distinct \"name\"; it defaults to the type"),
            );
            continue;
        }
        out.push(RawBuilder { name, builder_type, config: without(b, &["type", "name"]), span: b.span.clone() });
    }
    out
}

/// `type`: present and a non-empty string.
fn required_type(obj: &Node, what: &str, diags: &mut Diagnostics) -> Option<String> {
    match obj.get("type") {
        Some(t) => match t.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_string()),
            _ => {
                diags.push(err(format!("the \"type\" of {what} must be a non-empty string"), t));
                None
            }
        },
        None => {
            diags.push(
                err(format!("{what} has no \"type\""), obj)
                    .with_help("add \"type\": \"...\" naming the component, such as \"shell\" or \"amazon-ebs\""),
            );
            None
        }
    }
}

/// The object without the listed keys and without keys starting with `_` (notes).
fn without(obj: &Node, drop: &[&str]) -> Node {
    let kept = members(obj)
        .iter()
        .filter(|(k, _)| !drop.contains(&k.name.as_str()) && !k.name.starts_with('_'))
        .cloned()
        .collect();
    Node::object(kept, obj.span.clone())
}

fn provisioner(p: &Node, index: usize, diags: &mut Diagnostics) -> Option<RawProv> {
    if !matches!(p.kind, NodeKind::Object(_)) {
        diags.push(err(format!("provisioner {index} must be an object, found {}", p.kind_name()), p));
        return None;
    }
    let what = format!("provisioner {index}");
    let provisioner_type = required_type(p, &what, diags)?;
    let mut overrides = Vec::new();
    if let Some(o) = p.get("override") {
        match &o.kind {
            NodeKind::Object(m) => {
                for (k, v) in m {
                    if matches!(v.kind, NodeKind::Object(_)) {
                        overrides.push((k.clone(), v.clone()));
                    } else {
                        diags.push(err(format!("the override for \"{}\" must be an object", k.name), v));
                    }
                }
            }
            _ => diags.push(
                err(format!("\"override\" of {what} must be an object keyed by builder name"), o)
                    .with_help("write \"override\": { \"builder-name\": { \"option\": \"value\" } }"),
            ),
        }
    }
    let max_retries = match p.get("max_retries") {
        None => 0,
        Some(n) => match &n.kind {
            NodeKind::Number(v) if *v >= 0.0 && v.fract() == 0.0 && *v <= f64::from(u32::MAX) => *v as u32,
            NodeKind::String(s) if s.parse::<u32>().is_ok() => s.parse().unwrap_or(0),
            _ => {
                diags.push(err("\"max_retries\" must be a whole number of retries, such as 3", n));
                0
            }
        },
    };
    Some(RawProv {
        provisioner_type,
        only: p.get("only").map(|n| string_list(n, "only", diags)).unwrap_or_default(),
        except: p.get("except").map(|n| string_list(n, "except", diags)).unwrap_or_default(),
        overrides,
        pause_before: duration(p.get("pause_before"), "pause_before", diags),
        max_retries,
        timeout: duration(p.get("timeout"), "timeout", diags),
        config: without(p, &["type", "only", "except", "override", "pause_before", "max_retries", "timeout"]),
        span: p.span.clone(),
    })
}

fn duration(n: Option<&Node>, what: &str, diags: &mut Diagnostics) -> Option<Duration> {
    let n = n?;
    match &n.kind {
        NodeKind::String(s) => match parse_go_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                diags.push(err(format!("invalid \"{what}\": {e}"), n));
                None
            }
        },
        _ => {
            diags.push(
                err(format!("\"{what}\" must be a duration string, found {}", n.kind_name()), n)
                    .with_help("write it like \"10s\", \"1m30s\" or \"1h\""),
            );
            None
        }
    }
}

fn post_processors(value: &Node, diags: &mut Diagnostics) -> Vec<Vec<RawPp>> {
    let items = match &value.kind {
        NodeKind::Array(items) => items,
        NodeKind::Null => return Vec::new(),
        _ => {
            diags.push(err(format!("\"post-processors\" must be a list, found {}", value.kind_name()), value));
            return Vec::new();
        }
    };
    let mut chains = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let chain: Vec<RawPp> = match &item.kind {
            NodeKind::Array(inner) => inner
                .iter()
                .enumerate()
                .filter_map(|(j, pp)| post_processor(pp, &format!("post-processor {}.{}", i + 1, j + 1), diags))
                .collect(),
            _ => post_processor(item, &format!("post-processor {}", i + 1), diags).into_iter().collect(),
        };
        if !chain.is_empty() {
            chains.push(chain);
        }
    }
    chains
}

fn post_processor(pp: &Node, what: &str, diags: &mut Diagnostics) -> Option<RawPp> {
    match &pp.kind {
        NodeKind::String(s) if !s.is_empty() => Some(RawPp {
            post_processor_type: s.clone(),
            name: None,
            only: Vec::new(),
            except: Vec::new(),
            keep_input_artifact: None,
            config: Node::object(Vec::new(), pp.span.clone()),
            span: pp.span.clone(),
        }),
        NodeKind::Object(_) => {
            let post_processor_type = required_type(pp, what, diags)?;
            let keep_input_artifact = pp.get("keep_input_artifact").and_then(|k| match &k.kind {
                NodeKind::Bool(b) => Some(*b),
                NodeKind::String(s) if parse_go_bool(s).is_some() => parse_go_bool(s),
                _ => {
                    diags.push(err("\"keep_input_artifact\" must be true or false", k));
                    None
                }
            });
            let name = pp.get("name").and_then(|n| match n.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    diags.push(err(format!("the \"name\" of {what} must be a string"), n));
                    None
                }
            });
            Some(RawPp {
                post_processor_type,
                name,
                only: pp.get("only").map(|n| string_list(n, "only", diags)).unwrap_or_default(),
                except: pp.get("except").map(|n| string_list(n, "except", diags)).unwrap_or_default(),
                keep_input_artifact,
                config: without(pp, &["type", "name", "only", "except", "keep_input_artifact"]),
                span: pp.span.clone(),
            })
        }
        _ => {
            diags.push(
                err(format!("{what} must be a type name, an object or a list (a chain), found {}", pp.kind_name()), pp)
                    .with_help("write \"manifest\", { \"type\": \"manifest\" } or [ { ... }, { ... } ]"),
            );
            None
        }
    }
}
