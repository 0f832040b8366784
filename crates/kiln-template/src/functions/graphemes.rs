//! An approximation of Unicode extended grapheme clusters, enough for what cty counts as one
//! character in `length`, `substr` and `strrev`: a base character with its combining marks,
//! variation selectors, emoji modifiers, ZWJ sequences, regional-indicator pairs and CRLF.

fn extends(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF
        | 0x200C | 0x200D | 0x20D0..=0x20FF | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF)
}

fn regional(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Splits `s` into grapheme clusters.
pub(crate) fn graphemes(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<char> = None;
    let mut regional_run = 0;
    for (i, c) in s.char_indices() {
        let join = match prev {
            None => false,
            Some('\r') => c == '\n',
            Some('\u{200D}') => true,
            Some(p) if regional(p) && regional(c) => regional_run % 2 == 1,
            Some(_) => extends(c),
        };
        regional_run = if regional(c) { regional_run + 1 } else { 0 };
        if !join && i > start {
            out.push(&s[start..i]);
            start = i;
        }
        prev = Some(c);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::graphemes;

    #[test]
    fn clusters() {
        assert_eq!(graphemes("abc"), ["a", "b", "c"]);
        assert_eq!(graphemes("e\u{301}x"), ["e\u{301}", "x"]);
        assert_eq!(graphemes("👍🏽!"), ["👍🏽", "!"]);
        assert_eq!(graphemes("👨\u{200D}👩\u{200D}👧a"), ["👨\u{200D}👩\u{200D}👧", "a"]);
        assert_eq!(graphemes("🇫🇷🇩🇪"), ["🇫🇷", "🇩🇪"]);
        assert_eq!(graphemes("a\r\nb"), ["a", "\r\n", "b"]);
        assert!(graphemes("").is_empty());
    }
}
