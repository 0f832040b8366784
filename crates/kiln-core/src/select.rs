//! `-only` / `-except`: which builds of a template run.
//!
//! Names are matched with Packer's glob rules (`*` any run of characters, `?` one character).
//! An HCL2 build named `buildname.type.name` is also matched by `type.name`.

use kiln_config::build::Build;

/// The builds selected by `only` (if non-empty) minus those matched by `except`.
pub fn select_builds<'a>(builds: &'a [Build], only: &[String], except: &[String]) -> Vec<&'a Build> {
    builds
        .iter()
        .filter(|b| only.is_empty() || only.iter().any(|p| matches_build(p, &b.name)))
        .filter(|b| !except.iter().any(|p| matches_build(p, &b.name)))
        .collect()
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
