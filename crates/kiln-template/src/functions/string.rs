//! String functions: chomp format formatlist indent join lower upper replace regex_replace regex
//! regexall split strrev substr title trim trimprefix trimsuffix trimspace startswith endswith
//! strcontains.

use std::collections::BTreeMap;

use kiln_gotmpl::strings::{simple_case, to_title};
use regex::Regex;

use super::graphemes::graphemes;
use super::{format, func, nullable, variadic, Args, Func};
use crate::value::Value;

pub(super) const FUNCS: &[Func] = &[
    func("chomp", &["str"], |a| Ok(Value::String(a.string(0)?.trim_end_matches(['\n', '\r']).to_string()))),
    nullable(variadic("format", &["format"], "args", |a| {
        let f = a.string(0)?;
        format::format(&f, &a.all()[1..]).map(Value::String).map_err(|e| a.err(1, e))
    })),
    nullable(variadic("formatlist", &["format"], "args", |a| {
        let f = a.string(0)?;
        format::formatlist(&f, &a.all()[1..]).map_err(|e| a.err(1, e))
    })),
    func("indent", &["spaces", "str"], indent),
    variadic("join", &["separator"], "lists", join),
    func("lower", &["str"], |a| Ok(Value::String(simple_case(&a.string(0)?, false)))),
    func("upper", &["str"], |a| Ok(Value::String(simple_case(&a.string(0)?, true)))),
    func("replace", &["str", "substr", "replace"], replace),
    func("regex_replace", &["str", "substr", "replace"], regex_replace),
    func("regex", &["pattern", "string"], |a| regex_fn(a, false)),
    func("regexall", &["pattern", "string"], |a| regex_fn(a, true)),
    func("split", &["separator", "str"], split),
    func("strrev", &["str"], |a| Ok(Value::String(graphemes(&a.string(0)?).into_iter().rev().collect()))),
    func("substr", &["str", "offset", "length"], substr),
    func("title", &["str"], |a| Ok(Value::String(title(&a.string(0)?)))),
    func("trim", &["str", "cutset"], |a| {
        let cut: Vec<char> = a.string(1)?.chars().collect();
        Ok(Value::String(a.string(0)?.trim_matches(cut.as_slice()).to_string()))
    }),
    func("trimprefix", &["str", "prefix"], |a| {
        let (s, p) = (a.string(0)?, a.string(1)?);
        Ok(Value::String(s.strip_prefix(p.as_str()).unwrap_or(&s).to_string()))
    }),
    func("trimsuffix", &["str", "suffix"], |a| {
        let (s, p) = (a.string(0)?, a.string(1)?);
        Ok(Value::String(s.strip_suffix(p.as_str()).unwrap_or(&s).to_string()))
    }),
    func("trimspace", &["str"], |a| Ok(Value::String(a.string(0)?.trim().to_string()))),
    func("startswith", &["str", "prefix"], |a| Ok(Value::Bool(a.string(0)?.starts_with(&a.string(1)?)))),
    func("endswith", &["str", "suffix"], |a| Ok(Value::Bool(a.string(0)?.ends_with(&a.string(1)?)))),
    func("strcontains", &["str", "substr"], |a| Ok(Value::Bool(a.string(0)?.contains(&a.string(1)?)))),
];

fn indent(a: &Args) -> Result<Value, String> {
    let n = a.int(0)?;
    if !(0..=10_000).contains(&n) {
        return Err(a.err(0, "must be a number of spaces from 0 to 10000"));
    }
    let pad = " ".repeat(n as usize);
    let s = a.string(1)?;
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Ok(Value::String(out))
}

fn join(a: &Args) -> Result<Value, String> {
    let sep = a.string(0)?;
    if a.len() < 2 {
        return Err("invalid value for \"lists\" parameter: at least one list is required".into());
    }
    let mut parts = Vec::new();
    for i in 1..a.len() {
        parts.extend(a.strings(i)?);
    }
    Ok(Value::String(parts.join(&sep)))
}

/// Compiles a user pattern; Go's RE2 syntax is close enough to the regex crate's.
pub(super) fn compile(a: &Args, i: usize, pat: &str) -> Result<Regex, String> {
    Regex::new(pat).map_err(|e| a.err(i, format!("invalid regular expression pattern: {}", first_line(&e.to_string()))))
}

fn first_line(s: &str) -> String {
    s.lines().filter(|l| l.trim_start().starts_with("error:")).map(str::trim).next().unwrap_or(s).to_string()
}

fn replace(a: &Args) -> Result<Value, String> {
    let (s, sub, rep) = (a.string(0)?, a.string(1)?, a.string(2)?);
    // Packer's replace is cty's: a "/.../" substring is literal text, unlike Terraform's
    // replace; regular expressions go through regex_replace.
    if sub.is_empty() {
        // Go's strings.Replace with an empty old string inserts at every rune boundary.
        let mut out = rep.clone();
        for c in s.chars() {
            out.push(c);
            out.push_str(&rep);
        }
        return Ok(Value::String(out));
    }
    Ok(Value::String(s.replace(&sub, &rep)))
}

fn regex_replace(a: &Args) -> Result<Value, String> {
    let (s, pat, rep) = (a.string(0)?, a.string(1)?, a.string(2)?);
    let re = compile(a, 1, &pat)?;
    Ok(Value::String(re.replace_all(&s, rep.as_str()).into_owned()))
}

fn regex_fn(a: &Args, all: bool) -> Result<Value, String> {
    let (pat, s) = (a.string(0)?, a.string(1)?);
    let re = compile(a, 0, &pat)?;
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    let named = names.iter().filter(|n| n.is_some()).count();
    if named > 0 && named != names.len() {
        return Err(a.err(0, "can't mix both named and unnamed capture groups"));
    }
    let shape = |caps: regex::Captures| -> Value {
        let get = |i: usize| caps.get(i).map(|m| Value::string(m.as_str())).unwrap_or(Value::Null);
        if names.is_empty() {
            get(0)
        } else if named > 0 {
            let m: BTreeMap<String, Value> =
                names.iter().enumerate().filter_map(|(i, n)| n.map(|n| (n.to_string(), get(i + 1)))).collect();
            Value::Object(m)
        } else {
            Value::List((1..=names.len()).map(get).collect())
        }
    };
    if all {
        return Ok(Value::List(re.captures_iter(&s).map(shape).collect()));
    }
    match re.captures(&s) {
        Some(c) => Ok(shape(c)),
        None => Err("pattern did not match any part of the given string".into()),
    }
}

fn split(a: &Args) -> Result<Value, String> {
    let (sep, s) = (a.string(0)?, a.string(1)?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

fn substr(a: &Args) -> Result<Value, String> {
    let s = a.string(0)?;
    let (offset, length) = (a.int(1)?, a.int(2)?);
    let chars = graphemes(&s);
    let total = chars.len() as i64;
    let mut start = offset;
    if start < 0 {
        start = (start + total).max(0);
    } else if length == 0 {
        return Ok(Value::string(""));
    }
    if start >= total {
        return Ok(Value::string(""));
    }
    let end = if length < 0 { total } else { (start + length).min(total) };
    Ok(Value::String(chars[start as usize..end as usize].concat()))
}

/// Go's strings.Title: upper-cases the first letter of each word; letters, digits and `_`
/// continue a word.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.push(to_title(c));
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    fn s(x: &str) -> Value {
        Value::string(x)
    }
    fn n(x: f64) -> Value {
        Value::float(x)
    }
    fn l(items: &[&str]) -> Value {
        Value::List(items.iter().map(|x| s(x)).collect())
    }

    #[test]
    fn substr_negative_and_open_ended() {
        assert_eq!(call("substr", &[s("hello world"), n(1.0), n(4.0)]), Ok(s("ello")));
        assert_eq!(call("substr", &[s("hello world"), n(-5.0), n(-1.0)]), Ok(s("world")));
        assert_eq!(call("substr", &[s("héllo"), n(1.0), n(1.0)]), Ok(s("é")));
        assert_eq!(call("substr", &[s("he\u{301}llo"), n(1.0), n(1.0)]), Ok(s("e\u{301}")));
        assert_eq!(call("strrev", &[s("ae\u{301}")]), Ok(s("e\u{301}a")));
        assert_eq!(call("substr", &[s("abc"), n(10.0), n(1.0)]), Ok(s("")));
        assert_eq!(call("substr", &[s("abc"), n(1.0), n(100.0)]), Ok(s("bc")));
    }

    #[test]
    fn regex_shapes() {
        assert_eq!(call("regex", &[s("[a-z]+"), s("53453453.345345aaabbbccc23454")]), Ok(s("aaabbbccc")));
        assert_eq!(call("regex", &[s("(\\d+)-(\\d+)"), s("x 12-34")]), Ok(l(&["12", "34"])));
        let obj = call("regex", &[s("(?P<k>\\w+)=(?P<v>\\w+)"), s("a=b")]).unwrap();
        assert_eq!(obj.to_string(), "{k = \"a\", v = \"b\"}");
        assert!(call("regex", &[s("z"), s("abc")]).unwrap_err().contains("did not match"));
        assert_eq!(call("regexall", &[s("\\d"), s("a1b2")]), Ok(l(&["1", "2"])));
        assert_eq!(call("regexall", &[s("\\d"), s("ab")]), Ok(l(&[])));
        let e = call("regex", &[s("("), s("a")]).unwrap_err();
        assert!(e.starts_with("invalid value for \"pattern\" parameter: invalid regular expression"), "{e}");
    }

    #[test]
    fn split_join_replace() {
        assert_eq!(call("split", &[s(","), s("")]), Ok(l(&[""])));
        assert_eq!(call("split", &[s(","), s("a,,b")]), Ok(l(&["a", "", "b"])));
        assert_eq!(call("join", &[s("-"), l(&["a", "b"]), l(&["c"])]), Ok(s("a-b-c")));
        assert_eq!(call("join", &[s("-"), Value::List(vec![n(1.0), Value::Bool(true)])]), Ok(s("1-true")));
        assert_eq!(call("replace", &[s("1 + 2 + 3"), s("+"), s("-")]), Ok(s("1 - 2 - 3")));
        assert_eq!(call("replace", &[s("hello world"), s("/w.*d/"), s("everybody")]), Ok(s("hello world")));
        assert_eq!(call("replace", &[s("a/b/c"), s("/b/"), s("-")]), Ok(s("a-c")));
        assert_eq!(call("regex_replace", &[s("a-b"), s("[-]"), s("_")]), Ok(s("a_b")));
    }

    #[test]
    fn small_string_functions() {
        assert_eq!(call("chomp", &[s("hello\n\r\n")]), Ok(s("hello")));
        assert_eq!(call("indent", &[n(2.0), s("a\nb\n")]), Ok(s("a\n  b\n  ")));
        assert_eq!(call("title", &[s("hello world-wide o'neil")]), Ok(s("Hello World-Wide O'Neil")));
        assert_eq!(call("trim", &[s("?!hello?!"), s("!?")]), Ok(s("hello")));
        assert_eq!(call("trimprefix", &[s("helloworld"), s("hello")]), Ok(s("world")));
        assert_eq!(call("trimsuffix", &[s("helloworld"), s("world")]), Ok(s("hello")));
        assert_eq!(call("trimspace", &[s("  a \n")]), Ok(s("a")));
        assert_eq!(call("strrev", &[s("abc")]), Ok(s("cba")));
        assert_eq!(call("upper", &[n(1.5)]), Ok(s("1.5")));
        assert_eq!(call("startswith", &[s("hello"), s("he")]), Ok(Value::Bool(true)));
        assert_eq!(call("endswith", &[s("hello"), s("he")]), Ok(Value::Bool(false)));
        assert_eq!(call("strcontains", &[s("hello"), s("ll")]), Ok(Value::Bool(true)));
    }

    #[test]
    fn format_verbs() {
        let f = |fmt: &str, args: &[Value]| {
            let mut all = vec![s(fmt)];
            all.extend_from_slice(args);
            call("format", &all)
        };
        assert_eq!(f("%5s|%-5s|", &[s("a"), s("b")]), Ok(s("    a|b    |")));
        assert_eq!(f("%q %t %%", &[s("c\"d"), Value::Bool(true)]), Ok(s("\"c\\\"d\" true %")));
        assert_eq!(f("%.2f %d %v", &[n(1.23456), n(42.0), n(1.5)]), Ok(s("1.23 42 1.5")));
        assert_eq!(f("%03d|%x|%e", &[n(7.0), n(255.0), n(1234.5)]), Ok(s("007|ff|1.234500e+03")));
        assert_eq!(f("%[2]s %[1]s", &[s("a"), s("b")]), Ok(s("b a")));
        let e = f("%d", &[n(1.5)]).unwrap_err();
        assert!(e.contains("\"args\"") && e.contains("integer"), "{e}");
        assert!(f("%s %s", &[s("a")]).unwrap_err().contains("not enough arguments"));
        assert!(f("x", &[s("a")]).unwrap_err().contains("no verbs"));
        let fl = call("formatlist", &[s("%s=%s"), l(&["a", "b"]), s("x")]);
        assert_eq!(fl, Ok(l(&["a=x", "b=x"])));
    }
}
