//! Names of temporary resources and idempotency tokens: `packer_<time-ordered uuid>` as Packer
//! names them (IAM policies often allow `packer_*` key pairs and groups).

/// A UUID-shaped id whose first half is the time in nanoseconds, so ids sort by creation.
pub fn time_ordered_uuid() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let r = u64::from_be_bytes(kiln_config::random::bytes::<8>());
    let h = format!("{nanos:016x}{r:016x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// `packer_<uuid>`.
pub fn temporary_name() -> String {
    format!("packer_{}", time_ordered_uuid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_shaped_like_packers() {
        let (a, b) = (temporary_name(), temporary_name());
        assert_ne!(a, b);
        assert!(a.starts_with("packer_"));
        let parts: Vec<usize> = a["packer_".len()..].split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
    }
}
