//! Masking sensitive values: the one implementation every output of kiln goes through (the
//! build's events and log, `validate`'s and the loaders' diagnostics).
//!
//! Rules, in order:
//! - a value is replaced by `<sensitive>`, whatever its length (the mask never reveals it);
//! - a value over several lines (a PEM key) is also masked line by line, since commands print
//!   it one line at a time;
//! - a value shorter than [`WHOLE_WORD_BELOW`] characters is masked only where it stands as a
//!   whole word (no letter, digit or `_` on either side): a one-letter password must not eat
//!   that letter out of every word kiln prints;
//! - longer values first, so a value containing another is masked whole.
//!
//! Loaders that hide a hard-coded credential in their copy of the source text write it as NUL
//! bytes ([`HIDDEN`]), which keeps every offset; rendering turns each run into `<sensitive>`.

/// What a masked value prints as.
pub const MASK: &str = "<sensitive>";

/// Values with fewer characters than this are masked only as whole words.
pub const WHOLE_WORD_BELOW: usize = 6;

/// The byte a loader writes over a secret in its masked copy of a source file.
pub const HIDDEN: char = '\0';

/// The values to mask, prepared: lines split out, longest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masker {
    values: Vec<String>,
}

impl Masker {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(values: I) -> Masker {
        let mut m = Masker::default();
        m.add(values);
        m
    }

    /// Adds values to mask (empty ones are ignored).
    pub fn add<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, values: I) {
        for v in values {
            let v = v.as_ref();
            if v.trim().is_empty() {
                continue;
            }
            self.values.push(v.to_string());
            if v.contains('\n') {
                self.values.extend(
                    v.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).map(String::from),
                );
            }
        }
        self.values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.values.dedup();
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every value masked (see the module's rules) and hidden runs shown as the mask.
    pub fn mask(&self, text: &str) -> String {
        let mut out = show_hidden(text);
        for v in &self.values {
            if !out.contains(v.as_str()) {
                continue;
            }
            out = if v.chars().count() >= WHOLE_WORD_BELOW {
                out.replace(v.as_str(), MASK)
            } else {
                replace_word(&out, v)
            };
        }
        out
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` with the whole-word occurrences of `word` masked.
fn replace_word(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back().or_else(|| out.chars().next_back());
        let after = rest[i + word.len()..].chars().next();
        let starts_word = word.chars().next().is_some_and(is_word);
        let ends_word = word.chars().next_back().is_some_and(is_word);
        let joined = starts_word && before.is_some_and(is_word) || ends_word && after.is_some_and(is_word);
        let whole = !joined;
        out.push_str(&rest[..i]);
        out.push_str(if whole { MASK } else { word });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// `text` with each run of [`HIDDEN`] shown as the mask.
pub fn show_hidden(text: &str) -> String {
    if !text.contains(HIDDEN) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if c == HIDDEN {
            if !in_run {
                out.push_str(MASK);
            }
            in_run = true;
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_values_are_masked_line_by_line() {
        let key = "-----BEGIN KEY-----\nMIIEowIBAAKCAQEA\r\nqwertyuiop\n-----END KEY-----\n";
        let m = Masker::new([key]);
        assert_eq!(m.mask(&format!("key: {key}")), "key: <sensitive>");
        assert_eq!(m.mask("out: MIIEowIBAAKCAQEA"), "out: <sensitive>");
        assert_eq!(m.mask("qwertyuiop."), "<sensitive>.");
    }

    #[test]
    fn short_values_are_masked_as_whole_words_only() {
        let m = Masker::new(["a", "pw1"]);
        assert_eq!(m.mask("Build 'null' finished after a second"), "Build 'null' finished after <sensitive> second");
        assert_eq!(m.mask("password=a;"), "password=<sensitive>;");
        assert_eq!(m.mask("pw1 and pw12 and xpw1"), "<sensitive> and pw12 and xpw1");
        // Long values mask anywhere, and never by their length.
        let m = Masker::new(["hunter22"]);
        assert_eq!(m.mask("xhunter22x"), "x<sensitive>x");
    }

    #[test]
    fn hidden_runs_show_as_the_mask() {
        assert_eq!(show_hidden("k = \"\0\0\0\0\""), "k = \"<sensitive>\"");
        assert_eq!(Masker::default().mask("a\0\0b"), "a<sensitive>b");
    }
}
