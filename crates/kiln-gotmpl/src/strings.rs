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

/// Go's `strings.ToUpper` / `strings.ToLower`: each character mapped to one character by
/// Unicode's simple case mapping (`unicode.ToUpper` / `unicode.ToLower`).
pub fn simple_case(s: &str, upper: bool) -> String {
    s.chars().map(|c| if upper { to_upper(c) } else { to_lower(c) }).collect()
}

/// Go's `unicode.ToUpper`: `ß` and `ǰ` stay (their full mappings are several characters),
/// `ᾀ` becomes `ᾈ` (its simple mapping, where Rust's full one gives `ἈΙ`).
pub fn to_upper(c: char) -> char {
    let mut m = c.to_uppercase();
    match (m.next(), m.next()) {
        (Some(one), None) => one,
        _ => greek_iota_title(c).unwrap_or(c),
    }
}

/// Go's `unicode.ToLower`: `İ` becomes `i` (Rust's full mapping adds a combining dot).
pub fn to_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut m = c.to_lowercase();
    match (m.next(), m.next()) {
        (Some(one), None) => one,
        _ => c,
    }
}

/// Go's `unicode.ToTitle`: the upper case, except the digraphs (`ǆ` → `ǅ`), which have a
/// title case of their own.
pub fn to_title(c: char) -> char {
    match c {
        '\u{1c4}'..='\u{1c6}' => '\u{1c5}',
        '\u{1c7}'..='\u{1c9}' => '\u{1c8}',
        '\u{1ca}'..='\u{1cc}' => '\u{1cb}',
        '\u{1f1}'..='\u{1f3}' => '\u{1f2}',
        c => to_upper(c),
    }
}

/// The simple upper (and title) case of the Greek letters with a iota subscript, whose full
/// upper case is two letters: `ᾀ`..`ᾧ` → `ᾈ`..`ᾯ`, `ᾳ` → `ᾼ`, `ῃ` → `ῌ`, `ῳ` → `ῼ`.
fn greek_iota_title(c: char) -> Option<char> {
    let u = c as u32;
    let mapped = match u {
        0x1f80..=0x1f87 | 0x1f90..=0x1f97 | 0x1fa0..=0x1fa7 => u + 8,
        0x1f88..=0x1f8f | 0x1f98..=0x1f9f | 0x1fa8..=0x1faf | 0x1fbc | 0x1fcc | 0x1ffc => u,
        0x1fb3 | 0x1fc3 | 0x1ff3 => u + 9,
        _ => return None,
    };
    char::from_u32(mapped)
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

/// Go's `url.QueryEscape`: unreserved bytes stay, space becomes `+`, the rest `%XX`.
pub fn escape_query(s: &str) -> String {
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
