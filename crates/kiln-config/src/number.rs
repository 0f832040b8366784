//! Numbers as templates print them. Configuration numbers are `f64` (JSON's and cty's numbers);
//! messages, `${}` interpolation and JSON output all show them the same way (tested with the
//! values that use them, in kiln-template's `value`).

/// Numbers as cty prints them: integers without a fractional part, others in shortest form.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e21 {
        format!("{}", n as i128)
    } else {
        format!("{n}")
    }
}

/// Integers as JSON integers, everything else as floats.
pub fn to_json(n: f64) -> serde_json::Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        serde_json::Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number)
    }
}
