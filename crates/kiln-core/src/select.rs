//! `-only` / `-except`: which builds of a template run.
//!
//! Names are matched with Packer's glob rules (`*` any run of characters, `?` one character).
//! An HCL2 build named `buildname.type.name` is also matched by `type.name`.

use kiln_config::build::Build;
use kiln_config::diag::{did_you_mean, escape_controls, Diagnostic};

/// The builds selected by `only` (if non-empty) minus those matched by `except`.
pub fn select_builds<'a>(builds: &'a [Build], only: &[String], except: &[String]) -> Vec<&'a Build> {
    builds
        .iter()
        .filter(|b| only.is_empty() || only.iter().any(|p| matches_build(p, &b.name)))
        .filter(|b| !except.iter().any(|p| matches_build(p, &b.name)))
        .collect()
}

/// A warning for each `-only` / `-except` pattern that names no build, with the build names
/// (and the closest one). Packer runs nothing and exits 0 silently; kiln still exits 0 but says
/// why nothing (or everything) ran.
pub fn unmatched(builds: &[Build], only: &[String], except: &[String]) -> Vec<Diagnostic> {
    let names: Vec<&str> = builds.iter().map(|b| b.name.as_str()).collect();
    let mut out = Vec::new();
    for (flag, patterns) in [("-only", only), ("-except", except)] {
        for p in patterns {
            if names.iter().any(|n| matches_build(p, n)) {
                continue;
            }
            let mut d = Diagnostic::warning(format!(
                "{flag}={} matches no build; the builds are: {}",
                escape_controls(p, false),
                names.iter().map(|n| escape_controls(n, false)).collect::<Vec<_>>().join(", ")
            ));
            if let Some(s) = did_you_mean(p, names.iter().copied()) {
                d = d.with_help(format!("did you mean {flag}={s}?"));
            }
            out.push(d);
        }
    }
    out
}

/// Whether pattern `pattern` names build `name`.
pub fn matches_build(pattern: &str, name: &str) -> bool {
    if glob(pattern, name) {
        return true;
    }
    // "buildname.type.name" is also known as "type.name".
    let parts: Vec<&str> = name.splitn(2, '.').collect();
    parts.len() == 2 && parts[1].contains('.') && glob(pattern, parts[1])
}

/// Glob matching with `*` and `?`, no character classes.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_that_match_nothing_are_reported() {
        let b = |name: &str| Build {
            name: name.to_string(),
            builder_type: "null".into(),
            config: kiln_config::Node::null(),
            provisioners: Vec::new(),
            error_cleanup_provisioner: None,
            post_processors: Vec::new(),
            span: None,
            hcl2: false,
        };
        let builds = [b("docker.ubuntu"), b("null.n")];
        let w = unmatched(&builds, &["docker.ubuntoo".into(), "null.*".into()], &["x\u{1b}".into()]);
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(w[0].summary, "-only=docker.ubuntoo matches no build; the builds are: docker.ubuntu, null.n");
        assert_eq!(w[0].help.as_deref(), Some("did you mean -only=docker.ubuntu?"));
        assert!(w[1].summary.starts_with("-except=x\\u{1b} matches no build"), "{}", w[1].summary);
    }

    #[test]
    fn globs() {
        assert!(glob("amazon-*", "amazon-ebs"));
        assert!(glob("*.ubuntu", "docker.ubuntu"));
        assert!(glob("d?cker", "docker"));
        assert!(!glob("docker", "docker.ubuntu"));
        assert!(glob("*", ""));
    }

    #[test]
    fn named_build_matches_without_build_prefix() {
        assert!(matches_build("docker.ubuntu", "app.docker.ubuntu"));
        assert!(matches_build("app.*", "app.docker.ubuntu"));
        assert!(!matches_build("ubuntu", "app.docker.ubuntu"));
        assert!(!matches_build("docker", "docker-local"));
    }
}
