//! Version constraints as Packer writes them: `>= 1.7.0, < 2`, `~> 1.2`, `= 1.8.0`, `!= 1.9.1`.

/// Whether `version` satisfies every comma-separated constraint in `constraints`.
/// `Err` names the part that cannot be parsed.
pub(crate) fn satisfies(version: &str, constraints: &str) -> Result<bool, String> {
    let v = parse_version(version).ok_or_else(|| format!("invalid version {version:?}"))?;
    let mut ok = true;
    for part in constraints.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err("empty constraint".to_string());
        }
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("=", part));
        let (want, parts) = parse_version_n(rest).ok_or_else(|| format!("invalid version {rest:?} in {part:?}"))?;
        let hit = match op {
            "=" => v == want,
            "!=" => v != want,
            ">" => v > want,
            ">=" => v >= want,
            "<" => v < want,
            "<=" => v <= want,
            _ => {
                // `~> 1.2` allows 1.x from 1.2; `~> 1.2.3` allows 1.2.x from 1.2.3.
                let upper = match parts {
                    1 | 2 => [want[0] + 1, 0, 0],
                    _ => [want[0], want[1] + 1, 0],
                };
                v >= want && v < upper
            }
        };
        ok &= hit;
    }
    Ok(ok)
}

fn parse_version(s: &str) -> Option<[u64; 3]> {
    parse_version_n(s).map(|(v, _)| v)
}

/// Up to three numeric parts (a leading `v` and any pre-release/build suffix are ignored).
fn parse_version_n(s: &str) -> Option<([u64; 3], usize)> {
    let s = s.trim().trim_start_matches('v');
    let core = s.split(['-', '+']).next()?;
    let mut out = [0u64; 3];
    let mut n = 0;
    for (i, p) in core.split('.').enumerate() {
        if i >= 3 {
            return None;
        }
        out[i] = p.parse().ok()?;
        n = i + 1;
    }
    Some((out, n))
}

#[cfg(test)]
mod tests {
    use super::satisfies;

    #[test]
    fn constraints_like_packer() {
        assert_eq!(satisfies("1.11.2", ">= 1.7.0, < 2"), Ok(true));
        assert_eq!(satisfies("1.11.2", "< 1.5.0"), Ok(false));
        assert_eq!(satisfies("1.11.2", "~> 1.2"), Ok(true));
        assert_eq!(satisfies("1.11.2", "~> 1.10.0"), Ok(false));
        assert_eq!(satisfies("1.11.2", "~> 1.11.0"), Ok(true));
        assert_eq!(satisfies("1.11.2", "1.11.2"), Ok(true));
        assert_eq!(satisfies("1.11.2", "!= 1.11.2"), Ok(false));
        assert!(satisfies("1.11.2", ">= banana").is_err());
    }
}
