//! Plugin versions and `required_plugins` version constraints, with the operators HashiCorp's
//! go-version takes: `=`, `!=`, `>`, `>=`, `<`, `<=` and `~>` (pessimistic), joined by commas.

use std::cmp::Ordering;
use std::fmt;

/// `1.2.3`, `v1.2.3`, `1.2.3-dev`: up to three numbers and an optional pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub parts: [u64; 3],
    /// How many numbers were written (for `~>`).
    pub written: usize,
    pub pre: String,
}

impl Version {
    pub fn parse(s: &str) -> Result<Version, String> {
        let t = s.trim().trim_start_matches('v');
        let (nums, pre) = match t.split_once(['-', '+']) {
            Some((n, p)) => (n, p.to_string()),
            None => (t, String::new()),
        };
        let mut parts = [0u64; 3];
        let mut written = 0;
        for (i, n) in nums.split('.').enumerate() {
            if i >= 3 {
                return Err(format!("{s:?} is not a version (at most three numbers)"));
            }
            parts[i] = n.parse().map_err(|_| format!("{s:?} is not a version like 1.2.3"))?;
            written += 1;
        }
        Ok(Version { parts, written, pre })
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            // A pre-release comes before its release.
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.parts;
        write!(f, "{a}.{b}.{c}")?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        Ok(())
    }
}

/// A comma-separated list of conditions, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Constraints(Vec<(Op, Version)>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Pessimistic,
}

impl Constraints {
    pub fn parse(s: &str) -> Result<Constraints, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (op, rest) = [
                ("~>", Op::Pessimistic),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Eq),
            ]
            .iter()
            .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, part));
            let v = Version::parse(rest).map_err(|e| format!("version constraint {s:?}: {e}"))?;
            out.push((op, v));
        }
        Ok(Constraints(out))
    }

    pub fn matches(&self, v: &Version) -> bool {
        self.0.iter().all(|(op, c)| match op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => v > c,
            Op::Ge => v >= c,
            Op::Lt => v < c,
            Op::Le => v <= c,
            Op::Pessimistic => {
                // `~> 1.2` allows 1.x from 1.2; `~> 1.2.3` allows 1.2.x from 1.2.3.
                let fixed = c.written.saturating_sub(1).max(1);
                v >= c && v.parts[..fixed] == c.parts[..fixed]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(c: &str, v: &str) -> bool {
        Constraints::parse(c).unwrap().matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn constraints_as_go_version_reads_them() {
        assert!(ok(">= 1.2.3", "v1.2.3"));
        assert!(!ok(">= 1.2.3", "1.2.2"));
        assert!(ok(">= 1.0, < 2.0", "1.9.9"));
        assert!(!ok(">= 1.0, < 2.0", "2.0.0"));
        assert!(ok("~> 1.2", "1.9.0"));
        assert!(!ok("~> 1.2", "2.0.0"));
        assert!(ok("~> 1.2.3", "1.2.9"));
        assert!(!ok("~> 1.2.3", "1.3.0"));
        assert!(ok("1.0.0", "v1.0.0"));
        assert!(!ok("!= 1.0.0", "1.0.0"));
        assert!(ok("", "0.0.1"));
        assert!(Version::parse("1.0.0-dev").unwrap() < Version::parse("1.0.0").unwrap());
        assert!(Constraints::parse(">= one").is_err());
    }
}
