//! Go's string helpers Packer's functions are built on (`strings.Split`, `strings.Replace`,
//! per-character case mapping) and the escapers of the `html`, `js` and `urlquery` builtins.

/// Go's `strings.Split`: an empty separator splits into characters.
pub(crate) fn go_split<'s>(text: &'s str, sep: &str) -> Vec<&'s str> {
    if sep.is_empty() {
        return text.char_indices().map(|(i, c)| &text[i..i + c.len_utf8()]).collect();
    }
    text.split(sep).collect()
}

/// Go's `strings.Replace`: `n < 0` replaces all; an empty `old` matches between characters.
pub(crate) fn go_replace(text: &str, old: &str, new: &str, n: i64) -> String {
    if n == 0 || (old == new) {
        return text.to_string();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if old.is_empty() {
        let mut out = String::new();
        let mut done = 0;
        for (i, c) in text.char_indices() {
            if done < limit {
                out.push_str(new);
                done += 1;
            }
            out.push_str(&text[i..i + c.len_utf8()]);
        }
        if done < limit {
            out.push_str(new);
        }
        return out;
    }
    text.replacen(old, new, limit)
}

/// Go's per-character case mapping: a character whose full mapping is several characters
/// (`ß` → `SS`) keeps its one-character mapping or stays as it is.
pub(crate) fn simple_case(s: &str, upper: bool) -> String {
    s.chars()
        .map(|c| {
            if !upper && c == '\u{130}' {
                return 'i';
            }
            let mut m: Vec<char> = if upper { c.to_uppercase().collect() } else { c.to_lowercase().collect() };
            if m.len() == 1 {
                m.pop().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn escape_js(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn escape_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
