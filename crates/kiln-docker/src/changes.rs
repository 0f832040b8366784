//! `changes`: Dockerfile instructions applied by `commit` and `import`.
//!
//! Engines disagree on the lines they accept. Docker reads each change with its
//! Dockerfile parser; podman 4.3 has a simpler parser that takes one key per line
//! (`ENV A=1 B=2` becomes `A="1 B=2"`, `LABEL a=b c=d` and `EXPOSE 80 443` fail or
//! mangle) and that ignores newlines in a single `changes` value on import. So kiln
//! checks each change, rewrites multi-key lines into one line per key, and sends
//! every line as its own `changes` query parameter: what both engines read alike.

use crate::error::{Error, Result};

/// Instructions the Engine API's commit and import accept.
pub const INSTRUCTIONS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Checks `changes` and rewrites them into the one-key-per-line form every engine
/// reads alike. The error names the offending change and says what is allowed.
pub fn canonical_changes(changes: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        canonical_change(change, &mut out)?;
    }
    Ok(out)
}

fn canonical_change(change: &str, out: &mut Vec<String>) -> Result<()> {
    let line = change.trim();
    if line.contains('\n') || line.contains('\r') {
        return Err(Error::Invalid(format!(
            "change {change:?}: a change is one Dockerfile instruction on one line; put each instruction in its own list item"
        )));
    }
    let (word, rest) = line.split_once(char::is_whitespace).map(|(w, r)| (w, r.trim())).unwrap_or((line, ""));
    let instruction = word.to_ascii_uppercase();
    if !INSTRUCTIONS.contains(&instruction.as_str()) {
        let hint = if instruction == "RUN" || instruction == "COPY" || instruction == "ADD" {
            " (it changes files: use a provisioner instead)"
        } else if instruction == "MAINTAINER" {
            " (use the builder's author option, or LABEL maintainer=...)"
        } else {
            ""
        };
        return Err(Error::Invalid(format!(
            "change {change:?}: {word:?} cannot be applied to a committed image{hint}; allowed: {}",
            INSTRUCTIONS.join(", ")
        )));
    }
    if rest.is_empty() {
        return Err(Error::Invalid(format!("change {change:?}: {instruction} needs an argument")));
    }
    match instruction.as_str() {
        "ENV" | "LABEL" => {
            for (key, value) in key_values(&instruction, rest, change)? {
                out.push(format!("{instruction} {}={}", quote(&key), quote(&value)));
            }
        }
        "EXPOSE" => {
            for port in rest.split_whitespace() {
                out.push(format!("EXPOSE {port}"));
            }
        }
        _ => out.push(format!("{instruction} {rest}")),
    }
    Ok(())
}

/// `KEY=VALUE KEY2="VALUE 2"` pairs, or the legacy `KEY VALUE WITH SPACES` form
/// (ENV only, as in Dockerfiles).
fn key_values(instruction: &str, rest: &str, change: &str) -> Result<Vec<(String, String)>> {
    let words = shell_words(rest).ok_or_else(|| Error::Invalid(format!("change {change:?}: a quote is not closed")))?;
    let first_has_eq = words.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        if instruction == "ENV" {
            let (key, value) = rest
                .split_once(char::is_whitespace)
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .unwrap_or((rest.to_string(), String::new()));
            return Ok(vec![(key, value)]);
        }
        return Err(Error::Invalid(format!("change {change:?}: expected {instruction} KEY=VALUE [KEY=VALUE ...]")));
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::Invalid(format!("change {change:?}: {w:?} is not KEY=VALUE"))),
        })
        .collect()
}

/// Splits on unquoted whitespace, removing quotes: `"..."` (where `\` escapes `"`
/// and `\`), `'...'` (literal), and `\x` outside quotes. None when a quote is open.
fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            e @ ('"' | '\\') => cur.push(e),
                            e => {
                                cur.push('\\');
                                cur.push(e);
                            }
                        },
                        e => cur.push(e),
                    }
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        e => cur.push(e),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Quotes a key or value when it needs it. Docker unquotes `"..."` with `\` escapes;
/// podman 4.3 only trims the outer quotes, so values holding `"` or `\` differ there.
fn quote(s: &str) -> String {
    if !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(list: &[&str]) -> Result<Vec<String>> {
        canonical_changes(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn multi_key_lines_become_one_line_per_key() {
        let got = canon(&[
            "ENV A=1 B=\"two words\" C=",
            "env LEGACY value with spaces",
            "LABEL version=1.0 \"my key\"='v w'",
            "EXPOSE 80 443/udp",
            "CMD [\"/bin/bash\", \"-c\", \"echo hi\"]",
            "  WORKDIR /srv  ",
        ])
        .unwrap();
        assert_eq!(
            got,
            vec![
                "ENV A=1",
                "ENV B=\"two words\"",
                "ENV C=\"\"",
                "ENV LEGACY=\"value with spaces\"",
                "LABEL version=1.0",
                "LABEL \"my key\"=\"v w\"",
                "EXPOSE 80",
                "EXPOSE 443/udp",
                "CMD [\"/bin/bash\", \"-c\", \"echo hi\"]",
                "WORKDIR /srv",
            ]
        );
    }

    #[test]
    fn bad_changes_say_why() {
        for (bad, expect) in [
            ("RUN apt-get update", "use a provisioner"),
            ("MAINTAINER me", "author"),
            ("FROBNICATE x", "allowed: CMD"),
            ("USER", "needs an argument"),
            ("LABEL justakey", "KEY=VALUE"),
            ("ENV A=\"open", "not closed"),
            ("ENV A=1\nCMD x", "one line"),
        ] {
            let err = canon(&[bad]).unwrap_err().to_string();
            assert!(err.contains(expect), "{bad:?}: {err}");
        }
    }
}
