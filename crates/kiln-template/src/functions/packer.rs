//! Functions only Packer has: `env` (Packer allows it only in variable defaults; the evaluator
//! enforces where), `sensitive`/`nonsensitive` (identity: kiln does not track sensitivity) and
//! the secret-fetching functions kiln does not support.

use super::{func, nullable, Func};
use crate::value::Value;

pub(super) const FUNCS: &[Func] = &[
    func("env", &["key"], |a| {
        let key = a.string(0)?;
        Ok(Value::String(std::env::var(&key).unwrap_or_default()))
    }),
    nullable(func("sensitive", &["value"], |a| Ok(a.get(0).clone()))),
    nullable(func("nonsensitive", &["value"], |a| Ok(a.get(0).clone()))),
    func("aws_secretsmanager", &["name", "key"], |_| Err(unsupported("aws_secretsmanager"))),
    func("aws_secretsmanager_raw", &["name"], |_| Err(unsupported("aws_secretsmanager_raw"))),
    func("vault", &["path", "key"], |_| Err(unsupported("vault"))),
    func("consul_key", &["key"], |_| Err(unsupported("consul_key"))),
];

fn unsupported(name: &str) -> String {
    format!(
        "the {name}() function is not supported by kiln: it reads secrets from a remote service at template \
         evaluation time; pass the value in a variable instead (-var, -var-file or a PKR_VAR_ environment variable)"
    )
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    #[test]
    fn unsupported_functions_say_so() {
        let e = call("vault", &[Value::string("p"), Value::string("k")]).unwrap_err();
        assert!(e.contains("not supported by kiln") && e.contains("PKR_VAR_"), "{e}");
        assert_eq!(call("sensitive", &[Value::string("s")]), Ok(Value::string("s")));
        assert_eq!(call("nonsensitive", &[Value::Null]), Ok(Value::Null));
    }

    #[test]
    fn env_reads_the_environment() {
        // PATH is set for any test process; an unset variable is the empty string, as in Packer.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(call("env", &[Value::string("PATH")]), Ok(Value::String(path)));
        assert_eq!(call("env", &[Value::string("KILN_SURELY_UNSET_VARIABLE_42")]), Ok(Value::string("")));
    }
}
