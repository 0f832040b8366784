//! `clean_resource_name` and its older names: make a string usable as an image name. Packer
//! defines it per builder (each cloud allows different characters); kiln picks the rules from
//! the build's type and uses the AMI rules when there is none.

/// Which cloud's naming rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rules {
    Amazon,
    Google,
    Azure,
}

impl Rules {
    /// The rules of `clean_resource_name` for a builder type.
    pub(crate) fn for_builder(build_type: Option<&str>) -> Rules {
        match build_type {
            Some("googlecompute" | "yandex") => Rules::Google,
            Some(t) if t.starts_with("azure") => Rules::Azure,
            _ => Rules::Amazon,
        }
    }
}

pub(crate) fn clean(s: &str, rules: Rules) -> String {
    match rules {
        // Bytes, not characters, as Packer: each byte of a multi-byte character becomes `-`.
        Rules::Amazon => s
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"()[] ./-'@_".contains(&b) { b as char } else { '-' })
            .collect(),
        Rules::Google => {
            if is_gce_name(s) {
                return s.to_string();
            }
            // GCE names are at most 63 characters.
            s.to_ascii_lowercase()
                .bytes()
                .take(63)
                .map(|b| if b.is_ascii_lowercase() || b.is_ascii_digit() { b as char } else { '-' })
                .collect()
        }
        Rules::Azure => {
            let cleaned: String = s
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() || b"._-".contains(&b) { b as char } else { '-' })
                .collect();
            // Azure names may not end in `.`, `-` or `_`.
            cleaned.trim_end_matches(['-', '_', '.']).to_string()
        }
    }
}

/// `^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`
fn is_gce_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amazon_rules_keep_ami_characters() {
        assert_eq!(clean("a b:c@d(é)[x]/y.z'_-", Rules::Amazon), "a b-c@d(--)[x]/y.z'_-");
    }

    #[test]
    fn google_rules_lowercase_and_dash() {
        assert_eq!(clean("already-ok-1", Rules::Google), "already-ok-1");
        assert_eq!(clean("My Image_1.2", Rules::Google), "my-image-1-2");
        assert_eq!(clean(&"A".repeat(70), Rules::Google), "a".repeat(63));
    }

    #[test]
    fn azure_rules_trim_the_end() {
        assert_eq!(clean("My Image 1.2 (x)", Rules::Azure), "My-Image-1.2--x");
        assert_eq!(clean("name._-", Rules::Azure), "name");
    }

    #[test]
    fn builder_types_pick_rules() {
        assert_eq!(Rules::for_builder(Some("googlecompute")), Rules::Google);
        assert_eq!(Rules::for_builder(Some("azure-arm")), Rules::Azure);
        assert_eq!(Rules::for_builder(Some("amazon-ebs")), Rules::Amazon);
        assert_eq!(Rules::for_builder(None), Rules::Amazon);
    }
}
