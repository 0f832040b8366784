//! IP network functions: cidrhost cidrnetmask cidrsubnet cidrsubnets, for IPv4 and IPv6.
//! Addresses are handled as u128 with a bit width of 32 or 128.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{func, variadic, Args, Func};
use crate::value::Value;

pub(super) const FUNCS: &[Func] = &[
    func("cidrhost", &["prefix", "hostnum"], cidrhost),
    func("cidrnetmask", &["prefix"], |a| {
        let n = net(a, 0)?;
        Ok(Value::String(addr_string(mask(n.len, n.bits), n.bits)))
    }),
    func("cidrsubnet", &["prefix", "newbits", "netnum"], |a| {
        let n = net(a, 0)?;
        let (newbits, netnum) = (a.int(1)?, a.int(2)?);
        subnet(&n, newbits, netnum).map(|s| Value::String(s.to_string()))
    }),
    variadic("cidrsubnets", &["prefix"], "newbits", cidrsubnets),
];

struct Net {
    addr: u128,
    len: u32,
    /// 32 or 128.
    bits: u32,
}

impl std::fmt::Display for Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", addr_string(self.addr, self.bits), self.len)
    }
}

fn mask(len: u32, bits: u32) -> u128 {
    let full = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
    let host = bits - len;
    if host >= 128 {
        0
    } else {
        full & !((1u128 << host) - 1)
    }
}

fn addr_string(a: u128, bits: u32) -> String {
    if bits == 32 {
        Ipv4Addr::from(a as u32).to_string()
    } else {
        Ipv6Addr::from(a).to_string()
    }
}

fn net(a: &Args, i: usize) -> Result<Net, String> {
    let s = a.string(i)?;
    let bad = || a.err(i, format!("invalid CIDR address: {s}"));
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    if !len.bytes().all(|b| b.is_ascii_digit()) || len.is_empty() {
        return Err(bad());
    }
    let len: u32 = len.parse().map_err(|_| bad())?;
    let (addr, bits) = match ip {
        IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    };
    if len > bits {
        return Err(bad());
    }
    Ok(Net { addr: addr & mask(len, bits), len, bits })
}

fn subnet(n: &Net, newbits: i64, netnum: i64) -> Result<Net, String> {
    if newbits < 0 {
        return Err("invalid value for \"newbits\" parameter: must not be negative".into());
    }
    if newbits > 32 {
        return Err("may not extend prefix by more than 32 bits".into());
    }
    let newlen = i64::from(n.len) + newbits;
    if newlen > i64::from(n.bits) {
        return Err(format!("insufficient address space to extend prefix of {} by {newbits}", n.len));
    }
    let newlen = newlen as u32;
    if netnum < 0 || (newbits < 64 && netnum as u128 >= (1u128 << newbits)) {
        return Err(format!("prefix extension of {newbits} does not accommodate a subnet numbered {netnum}"));
    }
    let shift = n.bits - newlen;
    let add = if shift >= 128 { 0 } else { (netnum as u128) << shift };
    Ok(Net { addr: n.addr | add, len: newlen, bits: n.bits })
}

fn cidrhost(a: &Args) -> Result<Value, String> {
    let n = net(a, 0)?;
    let hostnum = a.int(1)?;
    let hostbits = n.bits - n.len;
    let size: Option<u128> = if hostbits >= 127 { None } else { Some(1u128 << hostbits) };
    let fits = |h: u128| size.is_none_or(|s| h < s);
    let offset = if hostnum >= 0 {
        let h = hostnum as u128;
        if !fits(h) {
            return Err(format!("prefix of {} does not accommodate a host numbered {hostnum}", n.len));
        }
        h
    } else {
        // Negative numbers count back from the end of the range.
        let back = hostnum.unsigned_abs() as u128;
        match size {
            Some(s) if back <= s => s - back,
            None => u128::MAX - back + 1,
            _ => return Err(format!("prefix of {} does not accommodate a host numbered {hostnum}", n.len)),
        }
    };
    Ok(Value::String(addr_string(n.addr | offset, n.bits)))
}

fn cidrsubnets(a: &Args) -> Result<Value, String> {
    let n = net(a, 0)?;
    let mut out = Vec::new();
    // Each subnet starts right after the previous one, aligned to its own size.
    let mut next: u128 = n.addr;
    let full = if n.bits == 32 { u128::from(u32::MAX) } else { u128::MAX };
    let end: u128 = n.addr | (!mask(n.len, n.bits) & full);
    let mut exhausted = false;
    for i in 1..a.len() {
        let newbits = a.int(i)?;
        if newbits < 1 {
            return Err(a.err(i, "must extend prefix by at least one bit"));
        }
        let newlen = i64::from(n.len) + newbits;
        if newlen > i64::from(n.bits) {
            return Err(a.err(
                i,
                format!(
                    "would extend prefix to {newlen} bits, which is too long for an IPv{} address",
                    if n.bits == 32 { 4 } else { 6 }
                ),
            ));
        }
        let newlen = newlen as u32;
        let size_shift = n.bits - newlen;
        let align = if size_shift >= 128 { 0 } else { (1u128 << size_shift) - 1 };
        let start = match next.checked_add(align) {
            Some(v) => v & !align,
            None => u128::MAX,
        };
        if exhausted || start > end || start < n.addr {
            return Err(a.err(
                i,
                format!(
                    "not enough remaining address space for a subnet with a prefix of {newlen} bits after {}",
                    out.last().map(|v: &String| v.as_str()).unwrap_or("the start")
                ),
            ));
        }
        let sub = Net { addr: start, len: newlen, bits: n.bits };
        out.push(sub.to_string());
        match start.checked_add(align).and_then(|v| v.checked_add(1)) {
            Some(v) => next = v,
            None => exhausted = true,
        }
    }
    Ok(Value::List(out.into_iter().map(Value::String).collect()))
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

    #[test]
    fn ipv4() {
        assert_eq!(call("cidrhost", &[s("10.12.112.0/20"), n(16.0)]), Ok(s("10.12.112.16")));
        assert_eq!(call("cidrhost", &[s("10.12.112.0/20"), n(-1.0)]), Ok(s("10.12.127.255")));
        assert_eq!(call("cidrnetmask", &[s("172.16.0.0/12")]), Ok(s("255.240.0.0")));
        assert_eq!(call("cidrsubnet", &[s("172.16.0.0/12"), n(4.0), n(2.0)]), Ok(s("172.18.0.0/16")));
        assert_eq!(call("cidrsubnet", &[s("10.1.2.0/24"), n(4.0), n(15.0)]), Ok(s("10.1.2.240/28")));
        let e = call("cidrsubnet", &[s("10.0.0.0/30"), n(4.0), n(1.0)]).unwrap_err();
        assert_eq!(e, "insufficient address space to extend prefix of 30 by 4");
        let e = call("cidrsubnet", &[s("10.0.0.0/24"), n(2.0), n(4.0)]).unwrap_err();
        assert!(e.contains("does not accommodate a subnet numbered 4"), "{e}");
        assert_eq!(
            call("cidrhost", &[s("10.0.0.0/30"), n(5.0)]),
            Err("prefix of 30 does not accommodate a host numbered 5".into())
        );
        assert!(call("cidrhost", &[s("10.0.0/8"), n(1.0)]).unwrap_err().contains("invalid CIDR address"));
        let subs = call("cidrsubnets", &[s("10.1.0.0/16"), n(4.0), n(4.0), n(8.0), n(4.0)]).unwrap();
        assert_eq!(subs.to_string(), r#"["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/24", "10.1.48.0/20"]"#);
    }

    #[test]
    fn ipv6() {
        assert_eq!(call("cidrnetmask", &[s("fe80::/64")]), Ok(s("ffff:ffff:ffff:ffff::")));
        assert_eq!(
            call("cidrsubnet", &[s("fd00:fd12:3456:7890::/56"), n(16.0), n(162.0)]),
            Ok(s("fd00:fd12:3456:7800:a200::/72"))
        );
        assert_eq!(call("cidrhost", &[s("fd00:fd12:3456:7890:00a2::/72"), n(34.0)]), Ok(s("fd00:fd12:3456:7890::22")));
        let subs = call("cidrsubnets", &[s("fd00:fd12:3456:7890::/56"), n(16.0), n(16.0)]).unwrap();
        assert_eq!(subs.to_string(), r#"["fd00:fd12:3456:7800::/72", "fd00:fd12:3456:7800:100::/72"]"#);
    }
}
