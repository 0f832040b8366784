//! `.dockerignore`: which files of a build context the engine does not get, with the docker
//! CLI's rules.
//!
//! One pattern a line; empty lines and lines starting with `#` are skipped; a leading `!` makes
//! an exception (the path is sent after all). A pattern is matched against the whole path
//! relative to the context (leading `/` and `./` dropped, `..` resolved as Go's
//! `filepath.Clean` does): `*` is any run of characters within a path component, `?` one
//! character, `[a-z]` and `[^a-z]` a class, `\x` the character `x`, `**` any number of
//! components (`**/*.log` finds logs everywhere; `*.log` only at the top). A pattern that names
//! a folder names everything in it. The last pattern that matches a path decides.

use std::path::Path;

use regex::Regex;

/// The parsed patterns of a `.dockerignore`.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug)]
struct Pattern {
    regex: Regex,
    exception: bool,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore`; a malformed pattern is an error naming its line.
    pub fn parse(text: &str) -> Result<DockerIgnore, String> {
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(raw);
            if cleaned.is_empty() {
                continue;
            }
            let regex = Regex::new(&to_regex(&cleaned))
                .map_err(|e| format!(".dockerignore line {}: {line:?} is not a valid pattern: {e}", n + 1))?;
            patterns.push(Pattern { regex, exception });
        }
        Ok(DockerIgnore { patterns })
    }

    /// Reads `DIR/.dockerignore`; none is an empty set of patterns.
    pub fn read(dir: &Path) -> Result<DockerIgnore, String> {
        match std::fs::read_to_string(dir.join(".dockerignore")) {
            Ok(text) => DockerIgnore::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerIgnore::default()),
            Err(e) => Err(format!("reading {}: {e}", dir.join(".dockerignore").display())),
        }
    }

    /// Whether `rel` (relative to the context, `/`-separated) is left out of the context.
    pub fn excludes(&self, rel: &str) -> bool {
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that could change the verdict is tried.
            if p.exception != excluded {
                continue;
            }
            if matches_or_parent(&p.regex, rel) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Excludes `rel` exactly, after every pattern of the file (kiln's own additions).
    pub fn add_exclusion(&mut self, rel: &str) {
        let regex = Regex::new(&format!("^{}$", regex::escape(rel))).expect("an escaped path is a valid pattern");
        self.patterns.push(Pattern { regex, exception: false });
    }

    /// Whether some exception could bring back a path inside an excluded folder (then the
    /// folder is read through rather than skipped whole).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

/// The pattern matches `rel` or one of its parent folders.
fn matches_or_parent(regex: &Regex, rel: &str) -> bool {
    let mut path = rel;
    loop {
        if regex.is_match(path) {
            return true;
        }
        match path.rsplit_once('/') {
            Some((parent, _)) => path = parent,
            None => return false,
        }
    }
}

/// A pattern as the docker CLI reads it: Go's `filepath.Clean`, then without a leading `/`
/// (`.` is the empty pattern, which is skipped).
fn clean(pattern: &str) -> String {
    let cleaned = kiln_config::golang::clean_path(pattern);
    match cleaned.trim_start_matches('/') {
        "." => String::new(),
        rest => rest.to_string(),
    }
}

/// The regular expression for a cleaned pattern, anchored at both ends.
fn to_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if i + 1 == chars.len() {
                    re.push_str(".*");
                } else if chars.get(i + 1) == Some(&'/') {
                    // `**/`: any number of leading folders, none included.
                    i += 1;
                    re.push_str("(.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '\\' => {
                i += 1;
                if let Some(next) = chars.get(i) {
                    re.push_str(&regex::escape(&next.to_string()));
                } else {
                    re.push_str(r"\\");
                }
            }
            '[' => {
                // A class as Go writes it: `[^...]` negates, `\x` escapes, ranges as they are.
                let mut class = String::from("[");
                let mut j = i + 1;
                if chars.get(j) == Some(&'^') {
                    class.push('^');
                    j += 1;
                }
                let mut closed = false;
                while j < chars.len() {
                    match chars[j] {
                        ']' => {
                            closed = true;
                            break;
                        }
                        '\\' if j + 1 < chars.len() => {
                            j += 1;
                            class.push_str(&regex::escape(&chars[j].to_string()));
                        }
                        // Special inside the regex crate's classes (nesting, `&&`, `~~`).
                        '[' | '&' | '~' => class.push_str(&format!("\\{}", chars[j])),
                        other => class.push(other),
                    }
                    j += 1;
                }
                if closed {
                    class.push(']');
                    re.push_str(&class);
                    i = j;
                } else {
                    re.push_str(r"\[");
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn patterns_match_whole_paths_and_what_folders_hold() {
        let d = ignore("# comment\n\n*.log\n/build\n./tmp/\nsecret?.txt\n");
        for (path, out) in [
            ("app.log", true),
            ("src/app.log", false), // `*` stays in its component: only the top
            ("build", true),
            ("build/out/a.o", true), // a folder's contents go with it
            ("builder", false),
            ("tmp/x", true),
            ("secret1.txt", true),
            ("secret10.txt", false),
            ("src/main.rs", false),
        ] {
            assert_eq!(d.excludes(path), out, "{path}");
        }
        assert!(!d.has_exceptions());
    }

    #[test]
    fn double_stars_classes_escapes_and_dots() {
        let d = ignore("**/*.tmp\ndocs/**\n[ab]?.bin\n[^x]y.c\nlit\\*eral\nsub/../top.txt\nqs.?\n");
        for (path, out) in [
            ("a.tmp", true),
            ("deep/er/b.tmp", true),
            ("docs/x/y", true),
            ("docs", false), // `docs/**` is what is inside
            ("a1.bin", true),
            ("c1.bin", false),
            ("ay.c", true),
            ("xy.c", false),
            ("lit*eral", true),
            ("litteral", false),
            ("top.txt", true),
            ("qs.a", true),
            ("qsxa", false), // `.` is a dot, not any character
        ] {
            assert_eq!(d.excludes(path), out, "{path}");
        }
    }

    #[test]
    fn exceptions_and_the_last_match_decides() {
        let d = ignore("*.md\n!README.md\nREADME-secret.md\n!keep/\nkeep/drop.txt\n**\n!src/**\n");
        assert!(d.has_exceptions());
        for (path, out) in [
            ("CHANGES.md", true),
            ("README.md", true), // `**` (later) excludes it again
            ("src/lib.rs", false),
            ("src", true), // excluded, but read through for the exception
            ("other/file", true),
        ] {
            assert_eq!(d.excludes(path), out, "{path}");
        }
        let d = ignore("*.md\n!README.md\n");
        assert!(!d.excludes("README.md") && d.excludes("NOTES.md"));
        let d = ignore("logs\n!logs/keep.txt\n");
        assert!(d.excludes("logs") && d.excludes("logs/a.txt") && !d.excludes("logs/keep.txt"));
    }

    #[test]
    fn a_malformed_pattern_names_its_line() {
        // An unclosed class is taken literally, as a `[`.
        assert!(ignore("a[b\n").excludes("a[b"));
        let e = DockerIgnore::parse("ok\n[z-a]\n").unwrap_err();
        assert!(e.starts_with(".dockerignore line 2: \"[z-a]\" is not a valid pattern"), "{e}");
    }
}
