//! Hash and crypto functions: bcrypt md5 sha1 sha256 sha512 uuidv4 uuidv5 rsadecrypt.

use md5::Md5;
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

use kiln_config::random::{hex, uuid_string};

use super::{func, variadic, Args, Func};
use crate::value::Value;

pub(super) const FUNCS: &[Func] = &[
    variadic("bcrypt", &["str"], "cost", bcrypt),
    func("md5", &["str"], |a| Ok(Value::String(hex(&Md5::digest(a.string(0)?.as_bytes()))))),
    func("sha1", &["str"], |a| Ok(Value::String(hex(&Sha1::digest(a.string(0)?.as_bytes()))))),
    func("sha256", &["str"], |a| Ok(Value::String(hex(&Sha256::digest(a.string(0)?.as_bytes()))))),
    func("sha512", &["str"], |a| Ok(Value::String(hex(&Sha512::digest(a.string(0)?.as_bytes()))))),
    func("uuidv4", &[], |_| Ok(Value::String(kiln_config::random::uuid_v4()))),
    func("uuidv5", &["namespace", "name"], uuidv5),
    func("rsadecrypt", &["ciphertext", "privatekey"], |_| {
        Err("the rsadecrypt() function is not supported by kiln; decrypt the value before the build and pass it in a variable".into())
    }),
];

fn bcrypt(a: &Args) -> Result<Value, String> {
    let s = a.string(0)?;
    let cost = if a.len() > 1 { a.int(1)? } else { 10 };
    if a.len() > 2 {
        return Err("too many function arguments: bcrypt expects at most 2 (str, cost)".into());
    }
    if !(4..=31).contains(&cost) {
        return Err(a.err(1, format!("crypto/bcrypt: cost {cost} is outside allowed range (4,31)")));
    }
    let h = ::bcrypt::hash_with_result(s.as_bytes(), cost as u32)
        .map_err(|e| format!("error occured generating password {e}"))?;
    // Go's bcrypt writes the $2a$ prefix.
    Ok(Value::String(h.format_for_version(::bcrypt::Version::TwoA)))
}

/// The forms Go's uuid.Parse accepts: dashed, bare hex, `{...}` and `urn:uuid:...`.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    let s = s.strip_prefix('{').and_then(|x| x.strip_suffix('}')).unwrap_or(s);
    let dashed = s.len() == 36 && [8, 13, 18, 23].iter().all(|i| s.as_bytes()[*i] == b'-');
    if !(dashed || s.len() == 32) {
        return None;
    }
    let h: String = s.chars().filter(|c| *c != '-').collect();
    if h.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn uuidv5(a: &Args) -> Result<Value, String> {
    let ns = a.string(0)?;
    let ns_bytes = match ns.as_str() {
        "dns" => parse_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        "url" => parse_uuid("6ba7b811-9dad-11d1-80b4-00c04fd430c8"),
        "oid" => parse_uuid("6ba7b812-9dad-11d1-80b4-00c04fd430c8"),
        "x500" => parse_uuid("6ba7b814-9dad-11d1-80b4-00c04fd430c8"),
        other => parse_uuid(other),
    }
    .ok_or_else(|| {
        a.err(
            0,
            format!("uuidv5() doesn't support namespace {ns:?}: use \"dns\", \"url\", \"oid\", \"x500\" or a UUID"),
        )
    })?;
    let mut h = Sha1::new();
    h.update(ns_bytes);
    h.update(a.string(1)?.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(Value::String(uuid_string(&b)))
}

#[cfg(test)]
mod tests {
    use crate::functions::tests::ctx_call as call;
    use crate::value::Value;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn hashes() {
        assert_eq!(call("md5", &[s("hello world")]), Ok(s("5eb63bbbe01eeed093cb22bb8f5acdc3")));
        assert_eq!(call("sha1", &[s("hello world")]), Ok(s("2aae6c35c94fcfb415dbe95f408b9ce91ee846ed")));
        assert_eq!(
            call("sha256", &[s("hello world")]),
            Ok(s("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"))
        );
        assert!(call("sha512", &[s("")]).unwrap().as_str().unwrap().starts_with("cf83e1357eefb8bd"));
    }

    #[test]
    fn uuids() {
        assert_eq!(call("uuidv5", &[s("dns"), s("www.terraform.io")]), Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6")));
        assert_eq!(
            call("uuidv5", &[s("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), s("www.terraform.io")]),
            Ok(s("a5008fae-b28c-5ba5-96cd-82b4c53552d6"))
        );
        assert!(call("uuidv5", &[s("bogus"), s("x")]).unwrap_err().contains("\"namespace\""));
        let u = call("uuidv4", &[]).unwrap();
        let u = u.as_str().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(call("uuidv4", &[]).unwrap().as_str().unwrap(), u);
    }

    #[test]
    fn bcrypt_verifies() {
        let h = call("bcrypt", &[s("secret"), Value::int(4)]).unwrap();
        let h = h.as_str().unwrap();
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert!(::bcrypt::verify("secret", h).unwrap());
        assert!(call("bcrypt", &[s("x"), Value::int(99)]).unwrap_err().contains("cost"));
    }
}
