//! Go's `filepath.Glob` and `filepath.Match` (Unix flavour), which Packer uses to expand
//! `cd_files`, `floppy_files` and `floppy_dirs`.
//!
//! `*` matches any run of characters within one path component (dot files included), `?` one
//! character, `[abc]`, `[a-z]` and `[^a-z]` a character class, `\x` the character `x`.
//! There is no `**`. Matches come out sorted per directory, as Go lists them.

use std::path::{Path, PathBuf};

/// Why a pattern is malformed.
pub(crate) type BadPattern = &'static str;

/// True when Packer treats `s` as a pattern rather than a path (`strings.ContainsAny(s, "*?[")`).
pub(crate) fn is_pattern(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Every existing path matching `pattern`, sorted per directory. A relative pattern starts at
/// `base`. Each match is `(path on disk, path as written)`, where the written form keeps the
/// pattern's relative spelling (Go's `filepath.Join` of the pieces, so cleaned).
pub(crate) fn glob(base: &Path, pattern: &str) -> Result<Vec<(PathBuf, String)>, BadPattern> {
    let absolute = pattern.starts_with('/');
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for part in &parts {
        if has_meta(part) {
            validate(part)?;
        }
    }
    // Go splits off the last component as the pattern for names; after a trailing `/` that
    // is the empty pattern, which matches no name.
    if pattern.ends_with('/') {
        return Ok(Vec::new());
    }
    let start = if absolute { (PathBuf::from("/"), "/".to_string()) } else { (base.to_path_buf(), String::new()) };
    let mut current = vec![start];
    for part in parts {
        let mut next = Vec::new();
        for (disk, shown) in current {
            if has_meta(part) {
                // Unreadable directories and non-directories match nothing, as in Go.
                let Ok(read) = std::fs::read_dir(&disk) else { continue };
                let mut names: Vec<String> =
                    read.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
                names.sort();
                for name in names {
                    if matches(part, &name)? {
                        next.push((disk.join(&name), join_shown(&shown, &name)));
                    }
                }
            } else {
                let literal = unescape(part);
                next.push((disk.join(&literal), join_shown(&shown, &literal)));
            }
        }
        current = next;
    }
    Ok(current.into_iter().filter(|(disk, _)| disk.symlink_metadata().is_ok()).collect())
}

fn join_shown(shown: &str, name: &str) -> String {
    match shown {
        "" => name.to_string(),
        "/" => format!("/{name}"),
        _ => format!("{shown}/{name}"),
    }
}

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '[', '\\'])
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(if c == '\\' { chars.next().unwrap_or('\\') } else { c });
    }
    out
}

fn validate(pattern: &str) -> Result<(), BadPattern> {
    // Matching against the empty name walks the whole pattern's syntax only partly, so parse
    // every class and escape explicitly.
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err("a \\ at the end escapes nothing");
                }
                i += 2;
            }
            '[' => i = class(&p, i, None)?.1,
            _ => i += 1,
        }
    }
    Ok(())
}

/// Whether `name` matches the whole of `pattern` (one path component).
pub(crate) fn matches(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> Result<bool, BadPattern> {
    let (mut pi, mut ni) = (0, 0);
    // Backtracking point for the last `*`: where in the pattern, and how much of the name it ate.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() && n[ni] != '/' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    let (ok, end) = class(p, pi, Some(n[ni]))?;
                    if ok {
                        pi = end;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let c = *p.get(pi + 1).ok_or("a \\ at the end escapes nothing")?;
                    if ni < n.len() && n[ni] == c {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c if c != '?' && c != '[' && ni < n.len() && n[ni] == c => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return Ok(true);
        }
        match star {
            Some((sp, sn)) if sn < n.len() && n[sn] != '/' => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => {
                // Go reports a malformed rest of the pattern even after a mismatch.
                validate(&p[pi.min(p.len())..].iter().collect::<String>())?;
                return Ok(false);
            }
        }
    }
}

/// Parses the class starting at `p[start] == '['`; returns whether `c` is in it (false when
/// `c` is None) and the index just past the closing `]`.
fn class(p: &[char], start: usize, c: Option<char>) -> Result<(bool, usize), BadPattern> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut found = false;
    let mut ranges = 0;
    loop {
        match p.get(i) {
            None => return Err("a [ has no closing ]"),
            Some(']') if ranges > 0 => {
                i += 1;
                break;
            }
            _ => {}
        }
        let (lo, after) = class_char(p, i)?;
        i = after;
        let mut hi = lo;
        if p.get(i) == Some(&'-') {
            let (h, after) = class_char(p, i + 1)?;
            hi = h;
            i = after;
        }
        if let Some(c) = c {
            if lo <= c && c <= hi {
                found = true;
            }
        }
        ranges += 1;
    }
    Ok((c.is_some() && found != negated, i))
}

fn class_char(p: &[char], i: usize) -> Result<(char, usize), BadPattern> {
    match p.get(i) {
        None => Err("a [ has no closing ]"),
        Some('-') | Some(']') => Err("a character class has a bare - or is empty"),
        Some('\\') => p.get(i + 1).map(|c| (*c, i + 2)).ok_or("a \\ at the end escapes nothing"),
        Some(c) => Ok((*c, i + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_like_go() {
        // Cases from Go's documented semantics of filepath.Match.
        let yes = [
            ("abc", "abc"),
            ("*", "abc"),
            ("*", ".hidden"),
            ("*c", "abc"),
            ("a*", "a"),
            ("a*", "abc"),
            ("a*/b", "abc/b"),
            ("a*b*c*d*e*", "axbxcxdxexxx"),
            ("ab[c]", "abc"),
            ("ab[b-d]", "abc"),
            ("ab[^e-g]", "abc"),
            ("a\\*b", "a*b"),
            ("a?b", "a☺b"),
            ("a[^a]b", "a☺b"),
            ("[\\-]", "-"),
            ("[x\\-]", "-"),
            ("*x", "xxx"),
            ("user-*", "user-data"),
        ];
        for (p, n) in yes {
            assert_eq!(matches(p, n), Ok(true), "{p} vs {n}");
        }
        let no = [
            ("*c", "abcd"),
            ("a*", "ab/c"),
            ("a*/b", "a/c/b"),
            ("ab[e-g]", "abc"),
            ("ab[^c]", "abc"),
            ("a\\*b", "ab"),
            ("a???b", "a☺b"),
            ("a[^a]b", "aab"),
            ("[x\\-]", "z"),
        ];
        for (p, n) in no {
            assert_eq!(matches(p, n), Ok(false), "{p} vs {n}");
        }
        for bad in ["[]a]", "[-]", "[x-]", "[a-b-c]", "[", "[^", "[^bc", "a[", "a\\"] {
            assert!(validate(bad).is_err(), "{bad} should be malformed");
        }
    }

    #[test]
    fn glob_lists_sorted_matches() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.txt", "a.txt", ".h.txt", "c.log"] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        std::fs::create_dir_all(dir.path().join("sub/deep")).unwrap();
        std::fs::write(dir.path().join("sub/deep/z.txt"), "x").unwrap();
        let shown = |p: &str| glob(dir.path(), p).unwrap().into_iter().map(|(_, s)| s).collect::<Vec<_>>();
        assert_eq!(shown("*.txt"), [".h.txt", "a.txt", "b.txt"]);
        assert_eq!(shown("./[ab].txt"), ["a.txt", "b.txt"]);
        assert_eq!(shown("s*/*/z.txt"), ["sub/deep/z.txt"]);
        assert_eq!(shown("*/nothing"), Vec::<String>::new());
        assert_eq!(shown("s*/"), Vec::<String>::new());
        assert!(glob(dir.path(), "[").is_err());
        let abs = format!("{}/*.log", dir.path().display());
        assert_eq!(glob(Path::new("/nowhere"), &abs).unwrap().len(), 1);
    }
}
