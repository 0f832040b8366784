//! Maps an offset in a decoded JSON string back to the string's raw text in the file, so an
//! error in `"echo \"{{ uper `x` }}\""` points at the right column despite the escapes.

/// Given the raw contents of a JSON string literal (between the quotes, escapes as written)
/// and a byte offset into its decoded value, returns the byte offset into the raw contents.
/// An offset past the end maps to the end.
pub fn raw_offset(raw: &str, decoded_offset: usize) -> usize {
    let b = raw.as_bytes();
    let mut i = 0;
    let mut decoded = 0;
    while i < b.len() && decoded < decoded_offset {
        if b[i] != b'\\' {
            decoded += 1;
            i += 1;
            continue;
        }
        match b.get(i + 1) {
            Some(b'u') => {
                let unit = hex4(b, i + 2);
                let is_high = unit.is_some_and(|u| (0xD800..0xDC00).contains(&u));
                let low = if is_high && b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u') {
                    hex4(b, i + 8).filter(|u| (0xDC00..0xE000).contains(u))
                } else {
                    None
                };
                match (unit, low) {
                    (Some(_), Some(_)) => {
                        decoded += 4;
                        i += 12;
                    }
                    (Some(u), None) => {
                        // Lone surrogates decode to U+FFFD (3 bytes).
                        decoded += char::from_u32(u).map(char::len_utf8).unwrap_or(3);
                        i += 6;
                    }
                    (None, _) => {
                        decoded += 1;
                        i += 2;
                    }
                }
            }
            Some(_) => {
                decoded += 1;
                i += 2;
            }
            None => {
                decoded += 1;
                i += 1;
            }
        }
    }
    i.min(b.len())
}

fn hex4(b: &[u8], at: usize) -> Option<u32> {
    let s = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_skip_escapes() {
        let raw = r#"echo \"{{ uper `x` }}\""#;
        let decoded: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_default();
        let at = decoded.find("uper").unwrap_or(0);
        assert_eq!(&raw[raw_offset(raw, at)..raw_offset(raw, at) + 4], "uper");
        let raw = r#"\u00e9\ud83d\ude00\n{{ x }}"#;
        let decoded: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_default();
        let at = decoded.find("{{").unwrap_or(0);
        assert_eq!(&raw[raw_offset(raw, at)..], "{{ x }}");
        assert_eq!(raw_offset("abc", 99), 3);
        assert_eq!(raw_offset("é{{", 2), 2);
    }
}
