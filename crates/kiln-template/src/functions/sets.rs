//! Set functions: setintersection setproduct setsubtract setunion. Sets are lists kept in cty's
//! order (see [`crate::types::set_normalize`]).

use super::{func, variadic, Args, Func};
use crate::types::{set_normalize, unify};
use crate::value::Value;

pub(super) const FUNCS: &[Func] = &[
    variadic("setintersection", &["first_set"], "other_sets", |a| {
        let sets = all_sets(a)?;
        let mut acc = sets[0].clone();
        for s in &sets[1..] {
            acc.retain(|v| s.contains(v));
        }
        Ok(Value::List(acc))
    }),
    variadic("setproduct", &[], "sets", setproduct),
    func("setsubtract", &["a", "b"], |a| {
        let sets = all_sets(a)?;
        Ok(Value::List(sets[0].iter().filter(|v| !sets[1].contains(v)).cloned().collect()))
    }),
    variadic("setunion", &["first_set"], "other_sets", |a| {
        let sets = all_sets(a)?;
        Ok(Value::List(set_normalize(sets.concat())))
    }),
];

fn set_arg(a: &Args, i: usize) -> Result<Vec<Value>, String> {
    let items = a.list(i).map_err(|_| a.err(i, "a set, list or tuple is required"))?;
    Ok(set_normalize(unify(items.clone()).map_err(|e| a.err(i, e))?))
}

fn all_sets(a: &Args) -> Result<Vec<Vec<Value>>, String> {
    let sets = (0..a.len()).map(|i| set_arg(a, i)).collect::<Result<Vec<_>, _>>()?;
    // Mixed element kinds across sets unify to strings, as cty's set functions do.
    let flat: Vec<Value> = sets.concat();
    if unify(flat.clone()).map(|u| u != flat).unwrap_or(false) {
        let to_string = |v: Value| crate::types::convert(&v, &crate::types::Type::String);
        return sets
            .into_iter()
            .map(|s| s.into_iter().map(to_string).collect::<Result<Vec<_>, _>>().map(set_normalize))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("all arguments must have the same element type: {e}"));
    }
    Ok(sets)
}

fn setproduct(a: &Args) -> Result<Value, String> {
    if a.len() < 2 {
        return Err("invalid value for \"sets\" parameter: at least two arguments are required".into());
    }
    let sets: Vec<&Vec<Value>> = (0..a.len()).map(|i| a.list(i)).collect::<Result<_, _>>()?;
    let mut acc: Vec<Vec<Value>> = vec![Vec::new()];
    for s in sets {
        let mut next = Vec::with_capacity(acc.len() * s.len());
        for prefix in &acc {
            for v in s {
                let mut row = prefix.clone();
                row.push(v.clone());
                next.push(row);
            }
        }
        if next.len() > 100_000 {
            return Err("the product has more than 100000 elements".into());
        }
        acc = next;
    }
    Ok(Value::List(acc.into_iter().map(Value::List).collect()))
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    fn l(items: &[&str]) -> Value {
        Value::List(items.iter().map(|x| Value::string(*x)).collect())
    }

    #[test]
    fn set_operations() {
        assert_eq!(call("setunion", &[l(&["b", "a"]), l(&["c", "a"])]), Ok(l(&["a", "b", "c"])));
        assert_eq!(call("setintersection", &[l(&["a", "b"]), l(&["b", "c"])]), Ok(l(&["b"])));
        assert_eq!(call("setsubtract", &[l(&["a", "b", "c"]), l(&["a", "c"])]), Ok(l(&["b"])));
        let p = call("setproduct", &[l(&["a", "b"]), l(&["x"])]).unwrap();
        assert_eq!(p.to_string(), r#"[["a", "x"], ["b", "x"]]"#);
        assert!(call("setproduct", &[l(&["a"])]).unwrap_err().contains("at least two"));
    }
}
