//! Random bytes from the operating system (`getrandom`, already in the tree through `ring`
//! and `bcrypt`): the one source behind run ids, nonces, temporary keys, VNC passwords,
//! `uuid`/`uuidv4` and retry jitter.

/// Fills `buf` from the operating system's random source. Use it for secrets (keys,
/// passwords): its error says the source could not be read.
pub fn fill(buf: &mut [u8]) -> Result<(), String> {
    getrandom::getrandom(buf).map_err(|e| format!("reading random bytes from the operating system: {e}"))
}

/// `N` random bytes for identifiers (never for secrets): where the operating system's source
/// cannot be read, std's randomly keyed hasher mixed with the clock, the process id and a
/// counter, which keeps ids unique.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    if fill(&mut b).is_err() {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for chunk in b.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    b
}

/// A random version-4 UUID, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn uuid_v4() -> String {
    let mut b = bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_string(&b)
}

/// 16 bytes in the UUID's dashed hexadecimal form.
pub fn uuid_string(b: &[u8; 16]) -> String {
    let h = hex(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Lower-case hexadecimal of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A number in [0, 1), for jitter.
pub fn fraction() -> f64 {
    (u64::from_le_bytes(bytes::<8>()) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (uuid_v4(), uuid_v4());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_ne!(bytes::<16>(), [0u8; 16]);
        let f = fraction();
        assert!((0.0..1.0).contains(&f));
    }
}
