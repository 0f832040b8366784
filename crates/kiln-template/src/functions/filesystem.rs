//! Filesystem functions: abspath basename dirname file fileexists fileset pathexpand templatefile.
//! Relative paths resolve against [`super::FuncContext::base_dir`].

use std::path::{Path, PathBuf};

use super::{func, Args, Func};
use crate::value::Value;
use kiln_config::golang::clean_path as clean;

mod glob;

pub(super) const FUNCS: &[Func] = &[
    func("abspath", &["path"], |a| {
        let p = a.string(0)?;
        let abs = resolve(a, &p);
        Ok(Value::String(clean(&abs.to_string_lossy())))
    }),
    func("basename", &["path"], |a| Ok(Value::String(basename(&a.string(0)?)))),
    func("dirname", &["path"], |a| Ok(Value::String(dirname(&a.string(0)?)))),
    func("file", &["path"], |a| {
        let p = a.string(0)?;
        let bytes = read(a, &p)?;
        String::from_utf8(bytes).map(Value::String).map_err(|_| {
            a.err(0, format!("contents of {p} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead"))
        })
    }),
    func("filebase64", &["path"], |a| {
        let p = a.string(0)?;
        Ok(Value::String(super::encoding::base64_encode(&read(a, &p)?)))
    }),
    func("fileexists", &["path"], |a| {
        let p = a.string(0)?;
        match std::fs::metadata(resolve(a, &kiln_config::golang::expand_user(&p))) {
            Ok(m) if m.is_file() => Ok(Value::Bool(true)),
            Ok(_) => Err(format!("{p} is not a regular file")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
            Err(e) => Err(format!("failed to stat {p}: {e}")),
        }
    }),
    func("fileset", &["path", "pattern"], |a| {
        let (p, pat) = (a.string(0)?, a.string(1)?);
        let root = resolve(a, &p);
        glob::fileset(&root, &pat)
            .map(|v| Value::List(v.into_iter().map(Value::String).collect()))
            .map_err(|e| a.err(1, e))
    }),
    func("pathexpand", &["path"], |a| {
        let p = a.string(0)?;
        if p.starts_with('~') && p != "~" && !p.starts_with("~/") {
            return Err("cannot expand user-specific home dir".into());
        }
        Ok(Value::String(kiln_config::golang::expand_user(&p)))
    }),
    func("templatefile", &["path", "vars"], |a| {
        let p = a.string(0)?;
        let vars = a.get(1);
        if !matches!(vars, Value::Object(_)) {
            return Err(a.err(1, "a map or object of template variables is required"));
        }
        let bytes = read(a, &p)?;
        let src = String::from_utf8(bytes).map_err(|_| a.err(0, format!("contents of {p} are not valid UTF-8")))?;
        let _guard =
            TemplateChain::enter(&resolve(a, &kiln_config::golang::expand_user(&p)), &p).map_err(|e| a.err(0, e))?;
        (a.ctx().render_template)(&src, vars).map(Value::String).map_err(|e| format!("{p}: {e}"))
    }),
];

/// How deep `templatefile()` calls may nest (a template that renders a template …).
const MAX_TEMPLATE_DEPTH: usize = 16;

thread_local! {
    /// The template files being rendered on this thread, outermost first, as (file identity,
    /// name as written). Evaluation is synchronous, so a thread-local stack is exact.
    static TEMPLATE_CHAIN: std::cell::RefCell<Vec<(PathBuf, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One `templatefile()` being rendered; leaving the scope pops it. A template that includes
/// itself, directly or through others, is an error naming the chain instead of a stack overflow.
struct TemplateChain;

impl TemplateChain {
    fn enter(path: &Path, shown: &str) -> Result<TemplateChain, String> {
        let id = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        TEMPLATE_CHAIN.with(|c| {
            let mut chain = c.borrow_mut();
            let names = |chain: &[(PathBuf, String)]| {
                let mut v: Vec<&str> = chain.iter().map(|(_, n)| n.as_str()).collect();
                v.push(shown);
                v.join(" -> ")
            };
            if chain.iter().any(|(p, _)| *p == id) {
                return Err(format!("templatefile() includes itself: {}", names(&chain)));
            }
            if chain.len() >= MAX_TEMPLATE_DEPTH {
                return Err(format!(
                    "templatefile() calls nest more than {MAX_TEMPLATE_DEPTH} deep: {}",
                    names(&chain)
                ));
            }
            chain.push((id, shown.to_string()));
            Ok(TemplateChain)
        })
    }
}

impl Drop for TemplateChain {
    fn drop(&mut self) {
        TEMPLATE_CHAIN.with(|c| c.borrow_mut().pop());
    }
}

fn resolve(a: &Args, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        a.ctx().base_dir.join(path)
    }
}

fn read(a: &Args, p: &str) -> Result<Vec<u8>, String> {
    let path = resolve(a, &kiln_config::golang::expand_user(p));
    kiln_config::limits::read_input(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => a.err(0, format!("no file exists at {p}; this function works only with files that are distributed as part of the configuration source code")),
        _ => a.err(0, format!("failed to read {p}: {e}")),
    })
}

/// Go's filepath.Base.
fn basename(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

/// Go's filepath.Dir.
fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::{basename, clean, dirname};
    use crate::functions::{call, FuncContext};
    use crate::value::Value;

    #[test]
    fn go_path_semantics() {
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename(""), ".");
        assert_eq!(basename("/"), "/");
        assert_eq!(dirname("/a/b/c.txt"), "/a/b");
        assert_eq!(dirname("c.txt"), ".");
        assert_eq!(dirname("/a/b/"), "/a/b");
        assert_eq!(clean("a/./b/../c//"), "a/c");
        assert_eq!(clean("/../x"), "/x");
    }

    #[test]
    fn files_templates_and_globs() {
        let dir = std::env::temp_dir().join(format!("kiln-fs-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub/deep")).unwrap();
        std::fs::write(dir.join("a.txt"), "hello ${name}").unwrap();
        std::fs::write(dir.join("sub/b.txt"), "b").unwrap();
        std::fs::write(dir.join("sub/deep/c.sh"), "c").unwrap();
        let render = |src: &str, vars: &Value| -> Result<String, String> {
            let Value::Object(m) = vars else { return Err("vars".into()) };
            Ok(src.replace("${name}", m.get("name").and_then(Value::as_str).unwrap_or("?")))
        };
        let ctx = FuncContext { base_dir: dir.clone(), now: SystemTime::UNIX_EPOCH, render_template: &render };
        let c = |name: &str, args: &[Value]| call(name, args, &ctx);
        let s = Value::string;
        assert_eq!(c("file", &[s("a.txt")]), Ok(s("hello ${name}")));
        assert_eq!(c("filebase64", &[s("sub/b.txt")]), Ok(s("Yg==")));
        let e = c("file", &[s("missing.txt")]).unwrap_err();
        assert!(e.contains("\"path\"") && e.contains("no file exists at missing.txt"), "{e}");
        assert_eq!(c("fileexists", &[s("a.txt")]), Ok(Value::Bool(true)));
        assert_eq!(c("fileexists", &[s("nope")]), Ok(Value::Bool(false)));
        assert!(c("fileexists", &[s("sub")]).unwrap_err().contains("not a regular file"));
        let vars = Value::Object([("name".to_string(), s("kiln"))].into());
        assert_eq!(c("templatefile", &[s("a.txt"), vars]), Ok(s("hello kiln")));
        assert_eq!(c("fileset", &[s("."), s("**/*.txt")]).unwrap().to_string(), r#"["a.txt", "sub/b.txt"]"#);
        assert_eq!(c("fileset", &[s("sub"), s("*")]).unwrap().to_string(), r#"["b.txt"]"#);
        assert_eq!(
            c("fileset", &[s("."), s("sub/{deep/*.sh,*.txt}")]).unwrap().to_string(),
            r#"["sub/b.txt", "sub/deep/c.sh"]"#
        );
        let abs = c("abspath", &[s("sub/../a.txt")]).unwrap();
        assert_eq!(PathBuf::from(abs.as_str().unwrap()), dir.join("a.txt"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
