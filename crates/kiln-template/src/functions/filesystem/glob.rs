//! `fileset` patterns: `*` and `?` within a path segment, `**` across segments, `[...]` classes
//! and `{a,b}` alternatives (the doublestar syntax Packer and Terraform use).

use std::path::Path;

/// Regular files under `root` whose `/`-separated relative path matches `pattern`, sorted.
pub(crate) fn fileset(root: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let alts = expand_braces(pattern)?;
    let mut files = Vec::new();
    walk(root, "", 0, &mut files);
    let mut out: Vec<String> = files
        .into_iter()
        .filter(|f| {
            alts.iter().any(|p| match_path(&p.split('/').collect::<Vec<_>>(), &f.split('/').collect::<Vec<_>>()))
        })
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<String>) {
    // Bounded depth guards against symlink loops.
    if depth > 64 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        let Ok(meta) = std::fs::metadata(e.path()) else { continue };
        if meta.is_dir() {
            walk(&e.path(), &rel, depth + 1, out);
        } else if meta.is_file() {
            out.push(rel);
        }
    }
}

fn expand_braces(p: &str) -> Result<Vec<String>, String> {
    let Some(open) = p.find('{') else { return Ok(vec![p.to_string()]) };
    let mut depth = 0;
    let mut close = None;
    let mut splits = Vec::new();
    for (i, c) in p[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => splits.push(open + i),
            _ => {}
        }
    }
    let close = close.ok_or_else(|| format!("unclosed '{{' in pattern {p:?}"))?;
    let mut bounds = vec![open];
    bounds.extend(splits);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &p[w[0] + 1..w[1]];
        out.extend(expand_braces(&format!("{}{alt}{}", &p[..open], &p[close + 1..]))?);
    }
    Ok(out)
}

fn match_path(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| match_path(rest, &path[i..])),
        Some((seg, rest)) => match path.split_first() {
            Some((p, prest)) => {
                match_segment(&seg.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>())
                    && match_path(rest, prest)
            }
            None => false,
        },
    }
}

fn match_segment(pat: &[char], s: &[char]) -> bool {
    match pat.first() {
        None => s.is_empty(),
        Some('*') => (0..=s.len()).any(|i| match_segment(&pat[1..], &s[i..])),
        Some('?') => !s.is_empty() && match_segment(&pat[1..], &s[1..]),
        Some('[') => {
            let Some(end) = pat.iter().skip(1).position(|c| *c == ']').map(|e| e + 1) else {
                return s.first() == Some(&'[') && match_segment(&pat[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let class = &pat[1..end];
            let (neg, class) = match class.first() {
                Some('^' | '!') => (true, &class[1..]),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != neg && match_segment(&pat[end + 1..], &s[1..])
        }
        Some('\\') if pat.len() > 1 => s.first() == Some(&pat[1]) && match_segment(&pat[2..], &s[1..]),
        Some(c) => s.first() == Some(c) && match_segment(&pat[1..], &s[1..]),
    }
}
