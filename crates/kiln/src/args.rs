//! Packer-compatible flag parsing.
//!
//! Accepts Go's `flag` forms (`-name`, `-name=value`, `-name value`) and the GNU forms
//! (`--name`, `--name=value`, `--name value`). Boolean flags take a value only with `=`
//! (`-force=false`). Repeatable flags (`-var`, `-var-file`) accumulate. Unlike Go's `flag`,
//! flags may also follow the positional arguments; `--` ends flag parsing.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `-force`, `-force=true`, `-force=false`.
    Bool,
    /// `-only=a,b` / `-only a,b`; the last one wins.
    Value,
    /// `-var a=1 -var b=2`; every occurrence is kept.
    Multi,
    /// `-cache` (the value `true`) or `-cache=refresh`: a value only in the `=` form.
    OptionalValue,
}

#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    pub kind: FlagKind,
    /// One line for `--help`; the value's placeholder is the first backquoted word, if any.
    pub help: &'static str,
}

pub const fn flag(name: &'static str, kind: FlagKind, help: &'static str) -> Flag {
    Flag { name, kind, help }
}

#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn bool(&self, name: &str) -> bool {
        self.values.get(name).and_then(|v| v.last()).is_some_and(|v| v == "true")
    }

    /// `Some(bool)` when the flag was given, for flags whose default is `true` (`-write`).
    pub fn bool_or(&self, name: &str, default: bool) -> bool {
        self.values.get(name).and_then(|v| v.last()).map_or(default, |v| v == "true")
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(|v| v.last()).map(String::as_str)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    /// A comma-separated list flag (`-only=a,b`), empty items dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.value(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
            .unwrap_or_default()
    }
}

/// Parses `argv` (the command's arguments, without the command name) against `flags`.
/// Errors read like Go's: `flag provided but not defined: -foo`.
pub fn parse(flags: &[Flag], argv: &[String]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < argv.len() {
        let arg = &argv[i];
        i += 1;
        if arg == "--" {
            out.args.extend(argv[i..].iter().cloned());
            break;
        }
        let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            out.args.push(arg.clone());
            continue;
        };
        if body.is_empty() {
            // A lone "-" is a positional argument (stdin for fmt).
            out.args.push(arg.clone());
            continue;
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(spec) = flags.iter().find(|f| f.name == name) else {
            return Err(format!("flag provided but not defined: -{name}"));
        };
        let value = match (spec.kind, inline) {
            (FlagKind::Bool | FlagKind::OptionalValue, None) => "true".to_string(),
            (FlagKind::Bool, Some(v)) => match kiln_config::golang::parse_go_bool(&v) {
                Some(b) => b.to_string(),
                None => return Err(format!("invalid boolean value {v:?} for -{name}: parse error")),
            },
            (_, Some(v)) => v,
            (_, None) => match argv.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => return Err(format!("flag needs an argument: -{name}")),
            },
        };
        out.values.entry(spec.name).or_default().push(value);
    }
    Ok(out)
}

/// The `Options:` section of a command's help text.
pub fn options_help(flags: &[Flag]) -> String {
    let mut out = String::new();
    for f in flags {
        let left = match f.kind {
            FlagKind::Bool => format!("-{}", f.name),
            FlagKind::OptionalValue => format!("-{}[=...]", f.name),
            _ => format!("-{}=...", f.name),
        };
        out.push_str(&format!("  {left:<28} {}\n", f.help));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] =
        &[flag("force", FlagKind::Bool, ""), flag("only", FlagKind::Value, ""), flag("var", FlagKind::Multi, "")];

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_and_gnu_forms() {
        let p = parse(FLAGS, &argv(&["-var", "a=1", "--var=b=2", "-only=x,y", "--force", "t.json"])).unwrap();
        assert_eq!(p.all("var"), ["a=1", "b=2"]);
        assert_eq!(p.list("only"), ["x", "y"]);
        assert!(p.bool("force"));
        assert_eq!(p.args, ["t.json"]);
    }

    #[test]
    fn bool_takes_value_only_with_equals() {
        let p = parse(FLAGS, &argv(&["-force=false", "t.json"])).unwrap();
        assert!(!p.bool("force"));
        assert!(parse(FLAGS, &argv(&["-force=maybe"])).is_err());
    }

    #[test]
    fn flags_after_positionals_and_double_dash() {
        let p = parse(FLAGS, &argv(&["t.json", "-force", "--", "-x"])).unwrap();
        assert!(p.bool("force"));
        assert_eq!(p.args, ["t.json", "-x"]);
    }

    #[test]
    fn unknown_and_missing_values_are_errors() {
        assert_eq!(parse(FLAGS, &argv(&["-nope"])).unwrap_err(), "flag provided but not defined: -nope");
        assert_eq!(parse(FLAGS, &argv(&["-only"])).unwrap_err(), "flag needs an argument: -only");
    }
}
