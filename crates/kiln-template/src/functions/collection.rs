//! Collection functions: alltrue anytrue chunklist coalesce coalescelist compact concat contains
//! distinct element flatten index keys length lookup merge one range reverse slice sort sum
//! transpose values zipmap.

use std::collections::BTreeMap;

use super::{func, nullable, variadic, Args, Func};
use crate::types::{unify, Type};
use crate::value::{Number, Value};

pub(super) const FUNCS: &[Func] = &[
    func("alltrue", &["list"], |a| truth(a, true)),
    func("anytrue", &["list"], |a| truth(a, false)),
    func("chunklist", &["list", "size"], chunklist),
    nullable(variadic("coalesce", &[], "vals", coalesce)),
    variadic("coalescelist", &[], "vals", coalescelist),
    func("compact", &["list"], |a| {
        let items = a.list_of(0, &Type::String)?;
        Ok(Value::List(items.into_iter().filter(|v| !matches!(v, Value::Null) && v.as_str() != Some("")).collect()))
    }),
    variadic("concat", &[], "seqs", concat),
    func("contains", &["list", "value"], |a| Ok(Value::Bool(a.list(0)?.contains(a.get(1))))),
    func("distinct", &["list"], |a| {
        let mut out: Vec<Value> = Vec::new();
        for v in unified(a, 0)? {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(Value::List(out))
    }),
    func("element", &["list", "index"], element),
    func("flatten", &["list"], |a| {
        let mut out = Vec::new();
        flatten_into(a.list(0)?, &mut out);
        Ok(Value::List(out))
    }),
    func("index", &["list", "value"], |a| {
        let items = a.list(0)?;
        if items.is_empty() {
            return Err(a.err(0, "cannot search an empty list"));
        }
        match items.iter().position(|v| v == a.get(1)) {
            Some(i) => Ok(Value::int(i as i64)),
            None => Err(a.err(1, "item not found")),
        }
    }),
    func("keys", &["inputMap"], |a| Ok(Value::List(a.object(0)?.keys().map(Value::string).collect()))),
    func("length", &["value"], |a| match a.get(0) {
        Value::String(s) => Ok(Value::int(super::graphemes::graphemes(s).len() as i64)),
        Value::List(items) => Ok(Value::int(items.len() as i64)),
        Value::Object(m) => Ok(Value::int(m.len() as i64)),
        _ => Err(a.err(0, "argument must be a string, a collection type, or a structural type")),
    }),
    func("lookup", &["inputMap", "key", "default"], lookup),
    nullable(variadic("merge", &[], "maps", merge)),
    func("one", &["list"], |a| match a.list(0)?.as_slice() {
        [] => Ok(Value::Null),
        [v] => Ok(v.clone()),
        _ => Err(a.err(0, "must be a list, set, or tuple value with either zero or one elements")),
    }),
    variadic("range", &[], "params", range),
    func("reverse", &["list"], |a| Ok(Value::List(a.list(0)?.iter().rev().cloned().collect()))),
    func("slice", &["list", "start_index", "end_index"], slice),
    func("sort", &["list"], sort),
    func("sum", &["list"], sum),
    func("transpose", &["values"], transpose),
    func("values", &["mapping"], |a| Ok(Value::List(a.object(0)?.values().cloned().collect()))),
    func("zipmap", &["keys", "values"], zipmap),
];

/// A list argument whose elements must share one type (cty's `list(any)` parameters).
fn unified(a: &Args, i: usize) -> Result<Vec<Value>, String> {
    unify(a.list(i)?.clone()).map_err(|e| a.err(i, e))
}

fn truth(a: &Args, all: bool) -> Result<Value, String> {
    let items = a.list_of(0, &Type::Bool)?;
    let is_true = |v: &Value| matches!(v, Value::Bool(true));
    Ok(Value::Bool(if all { items.iter().all(is_true) } else { items.iter().any(is_true) }))
}

fn chunklist(a: &Args) -> Result<Value, String> {
    let items = unified(a, 0)?;
    let size = a.int(1)?;
    if size < 0 {
        return Err(a.err(1, "the size argument must be positive"));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items)]));
    }
    Ok(Value::List(items.chunks(size as usize).map(|c| Value::List(c.to_vec())).collect()))
}

fn coalesce(a: &Args) -> Result<Value, String> {
    let vals = unify(a.all().to_vec()).map_err(|e| a.err(0, e))?;
    vals.into_iter()
        .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
        .ok_or_else(|| "no non-null, non-empty-string arguments".to_string())
}

fn coalescelist(a: &Args) -> Result<Value, String> {
    for v in a.all() {
        match v {
            Value::Null => {}
            Value::List(items) if items.is_empty() => {}
            Value::List(_) => return Ok(v.clone()),
            _ => return Err("coalescelist arguments must be lists or tuples".into()),
        }
    }
    Err("no non-null arguments".into())
}

fn concat(a: &Args) -> Result<Value, String> {
    if a.len() == 0 {
        return Err("invalid value for \"seqs\" parameter: at least one argument is required".into());
    }
    let mut out = Vec::new();
    for i in 0..a.len() {
        match a.get(i) {
            Value::List(items) => out.extend(items.iter().cloned()),
            _ => return Err(a.err(i, format!("all arguments must be lists or tuples; got {}", a.get(i).type_name()))),
        }
    }
    Ok(Value::List(out))
}

fn element(a: &Args) -> Result<Value, String> {
    let items = a.list(0)?;
    let i = a.int(1)?;
    if items.is_empty() {
        return Err(a.err(0, "cannot use element function with an empty list"));
    }
    // Indexes wrap around in both directions: -1 is the last element.
    Ok(items[i.rem_euclid(items.len() as i64) as usize].clone())
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for v in items {
        match v {
            Value::List(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

fn lookup(a: &Args) -> Result<Value, String> {
    let m = a.object(0)?;
    let key = a.string(1)?;
    Ok(m.get(&key).unwrap_or(a.get(2)).clone())
}

fn merge(a: &Args) -> Result<Value, String> {
    let mut out = BTreeMap::new();
    for (i, v) in a.all().iter().enumerate() {
        match v {
            Value::Null => {}
            Value::Object(m) => out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
            other => return Err(a.err(i, format!("arguments must be maps or objects, got {:?}", other.type_name()))),
        }
    }
    Ok(Value::Object(out))
}

fn range(a: &Args) -> Result<Value, String> {
    let nums = (0..a.len()).map(|i| a.number(i)).collect::<Result<Vec<_>, _>>()?;
    let (zero, one) = (Number::from_i64(0), Number::from_i64(1));
    let (start, end, step) = match nums.as_slice() {
        [end] => (zero.clone(), end.clone(), if *end < zero { one.neg() } else { one }),
        [start, end] => (start.clone(), end.clone(), if start > end { one.neg() } else { one }),
        [start, end, step] => (start.clone(), end.clone(), step.clone()),
        _ => return Err("range requires one, two, or three arguments".into()),
    };
    if step.is_zero() {
        return Err(a.err(0, "step must not be zero"));
    }
    let down = step.is_negative();
    if down && start < end {
        return Err(a.err(0, "end must be less than start when step is negative"));
    }
    if !down && start > end {
        return Err(a.err(0, "end must be greater than start when step is positive"));
    }
    let mut out = Vec::new();
    let mut x = start;
    // cty adds the step each time at the numbers' precision: 0 + 3 × 0.3 is 0.9 plus a
    // 512-bit rounding error, as in Packer.
    while (!down && x < end) || (down && x > end) {
        if out.len() >= 1024 {
            return Err(a.err(0, "more than 1024 values were generated; either decrease the difference between start and end or use a smaller step"));
        }
        let next = x.add(&step).ok_or_else(|| a.err(0, "the step does not progress"))?;
        out.push(Value::Number(x));
        x = next;
    }
    Ok(Value::List(out))
}

fn slice(a: &Args) -> Result<Value, String> {
    let items = a.list(0)?;
    let (start, end) = (a.int(1)?, a.int(2)?);
    if start < 0 {
        return Err(a.err(1, "start index must not be less than zero"));
    }
    if end > items.len() as i64 {
        return Err(a.err(2, "end index must not be greater than the length of the list"));
    }
    if start > end {
        return Err(a.err(1, "start index must not be greater than end index"));
    }
    Ok(Value::List(items[start as usize..end as usize].to_vec()))
}

fn sort(a: &Args) -> Result<Value, String> {
    let items = a.list_of(0, &Type::String)?;
    let mut strs = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        match v {
            Value::String(s) => strs.push(s),
            _ => return Err(a.err(0, format!("given list element {i} is null; a null string cannot be sorted"))),
        }
    }
    strs.sort();
    Ok(Value::List(strs.into_iter().map(Value::String).collect()))
}

fn sum(a: &Args) -> Result<Value, String> {
    let items = a.list(0)?;
    if items.is_empty() {
        return Err(a.err(0, "cannot sum an empty list"));
    }
    let mut total: Option<Number> = None;
    for (i, v) in items.iter().enumerate() {
        match crate::types::convert(v, &Type::Number) {
            Ok(Value::Number(n)) => {
                total = Some(match total {
                    None => n,
                    Some(t) => {
                        t.add(&n).ok_or_else(|| a.err(0, "the sum is not a number (infinities of both signs)"))?
                    }
                })
            }
            Ok(_) => return Err(a.err(0, format!("element {i}: argument must not be null"))),
            Err(_) => return Err(a.err(0, "argument must be list, set, or tuple of number values")),
        }
    }
    Ok(total.map_or(Value::Null, Value::Number))
}

fn transpose(a: &Args) -> Result<Value, String> {
    let m = a.convert(0, &Type::Map(Box::new(Type::List(Box::new(Type::String)))))?;
    let Value::Object(m) = m else { return Err(a.err(0, "map of list of string required")) };
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in &m {
        let Value::List(items) = v else { continue };
        for item in items {
            match item {
                Value::String(s) => out.entry(s.clone()).or_default().push(Value::string(k)),
                _ => return Err(a.err(0, "input must not contain null list elements")),
            }
        }
    }
    Ok(Value::Object(out.into_iter().map(|(k, v)| (k, Value::List(v))).collect()))
}

fn zipmap(a: &Args) -> Result<Value, String> {
    let keys = a.strings(0)?;
    let vals = a.list(1)?;
    if keys.len() != vals.len() {
        return Err(format!("number of keys ({}) does not match number of values ({})", keys.len(), vals.len()));
    }
    Ok(Value::Object(keys.into_iter().zip(vals.iter().cloned()).collect()))
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
    fn l(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    #[test]
    fn range_forms() {
        assert_eq!(call("range", &[n(3.0)]), Ok(l(vec![n(0.0), n(1.0), n(2.0)])));
        assert_eq!(call("range", &[n(3.0), n(1.0)]), Ok(l(vec![n(3.0), n(2.0)])));
        assert_eq!(call("range", &[n(1.0), n(2.0), n(0.5)]), Ok(l(vec![n(1.0), n(1.5)])));
        assert!(call("range", &[n(1.0), n(2.0), n(0.0)]).unwrap_err().contains("zero"));
        assert!(call("range", &[n(5000.0)]).unwrap_err().contains("1024"));
        assert!(call("range", &[]).is_err());
    }

    #[test]
    fn flatten_merge_lookup() {
        let nested = l(vec![l(vec![s("a"), l(vec![s("b")])]), l(vec![]), s("c")]);
        assert_eq!(call("flatten", &[nested]), Ok(l(vec![s("a"), s("b"), s("c")])));
        let m1 = Value::Object([("a".into(), n(1.0)), ("b".into(), n(2.0))].into());
        let m2 = Value::Object([("b".into(), n(3.0))].into());
        assert_eq!(call("merge", &[m1.clone(), Value::Null, m2]).unwrap().to_string(), "{a = 1, b = 3}");
        assert_eq!(call("lookup", &[m1.clone(), s("a"), s("d")]), Ok(n(1.0)));
        assert_eq!(call("lookup", &[m1.clone(), s("z"), s("d")]), Ok(s("d")));
        assert!(call("lookup", &[m1, s("z")]).unwrap_err().contains("missing value for \"default\""));
        assert!(call("merge", &[s("x")]).unwrap_err().contains("maps or objects"));
    }

    #[test]
    fn element_slice_and_friends() {
        let abc = l(vec![s("a"), s("b"), s("c")]);
        assert_eq!(call("element", &[abc.clone(), n(4.0)]), Ok(s("b")));
        assert_eq!(call("element", &[abc.clone(), n(-1.0)]), Ok(s("c")));
        assert_eq!(call("slice", &[abc.clone(), n(1.0), n(3.0)]), Ok(l(vec![s("b"), s("c")])));
        assert!(call("slice", &[abc.clone(), n(1.0), n(4.0)]).unwrap_err().contains("\"end_index\""));
        assert_eq!(call("index", &[abc.clone(), s("c")]), Ok(n(2.0)));
        assert_eq!(call("reverse", std::slice::from_ref(&abc)), Ok(l(vec![s("c"), s("b"), s("a")])));
        assert_eq!(call("length", &[s("héllo")]), Ok(n(5.0)));
        assert_eq!(call("chunklist", &[abc.clone(), n(2.0)]), Ok(l(vec![l(vec![s("a"), s("b")]), l(vec![s("c")])])));
        assert_eq!(call("sort", &[l(vec![s("b"), n(10.0), s("a")])]), Ok(l(vec![s("10"), s("a"), s("b")])));
        assert_eq!(call("distinct", &[l(vec![s("a"), s("a"), n(1.0)])]), Ok(l(vec![s("a"), s("1")])));
        assert_eq!(call("compact", &[l(vec![s("a"), s(""), Value::Null])]), Ok(l(vec![s("a")])));
        assert_eq!(call("coalesce", &[Value::Null, s(""), s("x")]), Ok(s("x")));
        assert_eq!(call("coalesce", &[n(1.0), s("x")]), Ok(s("1")));
        assert_eq!(call("sum", &[l(vec![n(1.0), n(2.5)])]), Ok(n(3.5)));
        assert_eq!(call("one", &[l(vec![])]), Ok(Value::Null));
        assert_eq!(call("alltrue", &[l(vec![Value::Bool(true), s("true")])]), Ok(Value::Bool(true)));
        assert_eq!(call("anytrue", &[l(vec![])]), Ok(Value::Bool(false)));
    }

    #[test]
    fn transpose_and_zipmap() {
        let m = Value::Object([("a".into(), l(vec![s("1"), s("2")])), ("b".into(), l(vec![s("2"), s("3")]))].into());
        assert_eq!(call("transpose", &[m]).unwrap().to_string(), r#"{1 = ["a"], 2 = ["a", "b"], 3 = ["b"]}"#);
        let z = call("zipmap", &[l(vec![s("a"), s("b")]), l(vec![n(1.0), n(2.0)])]).unwrap();
        assert_eq!(z.to_string(), "{a = 1, b = 2}");
        assert!(call("zipmap", &[l(vec![s("a")]), l(vec![])]).unwrap_err().contains("does not match"));
    }
}
