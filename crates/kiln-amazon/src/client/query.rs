//! The Query API's request side: flattened, form-encoded parameters (`Filter.1.Value.2=…`).

use super::sigv4::uri_encode;

/// The parameters of one Query API call, in the order they were set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn new(action: &str, version: &str) -> Params {
        Params(vec![("Action".into(), action.into()), ("Version".into(), version.into())])
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl ToString) -> &mut Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    pub fn opt(&mut self, key: impl Into<String>, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.set(key, v);
        }
        self
    }

    /// `prefix.1=a&prefix.2=b` (EC2 lists; STS uses `prefix.member.N`).
    pub fn list<S: AsRef<str>>(&mut self, prefix: &str, values: &[S]) -> &mut Self {
        for (i, v) in values.iter().enumerate() {
            self.set(format!("{prefix}.{}", i + 1), v.as_ref());
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.get("Action").unwrap_or_default()
    }

    /// The form body.
    pub fn encode(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v))).collect::<Vec<_>>().join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lists_and_escapes() {
        let mut p = Params::new("DescribeImages", "2016-11-15");
        p.list("Owner", &["self", "099720109477"])
            .opt("NextToken", None::<String>)
            .set("Filter.1.Value.1", "ubuntu/*a b");
        assert_eq!(
            p.encode(),
            "Action=DescribeImages&Version=2016-11-15&Owner.1=self&Owner.2=099720109477&Filter.1.Value.1=ubuntu%2F%2Aa%20b"
        );
        assert_eq!(p.action(), "DescribeImages");
    }
}
