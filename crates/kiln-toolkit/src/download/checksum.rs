//! Packer's `iso_checksum` forms: `type:value` (md5, sha1, sha256, sha512), `file:URL` of a
//! checksum file in GNU (`value  name`) or BSD (`SHA256 (name) = value`) format, `none`, and a
//! bare value whose type is its length (or `iso_checksum_type` in old templates).

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// A checksum algorithm Packer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl Kind {
    pub const NAMES: &'static [&'static str] = &["md5", "sha1", "sha256", "sha512"];

    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Some(Kind::Md5),
            "sha1" => Some(Kind::Sha1),
            "sha256" => Some(Kind::Sha256),
            "sha512" => Some(Kind::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Sha512 => "sha512",
        }
    }

    /// The algorithm whose digests have `hex_len` hex digits.
    pub fn from_len(hex_len: usize) -> Option<Kind> {
        match hex_len {
            32 => Some(Kind::Md5),
            40 => Some(Kind::Sha1),
            64 => Some(Kind::Sha256),
            128 => Some(Kind::Sha512),
            _ => None,
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Kind::Md5 => 32,
            Kind::Sha1 => 40,
            Kind::Sha256 => 64,
            Kind::Sha512 => 128,
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            Kind::Md5 => Hasher::Md5(Md5::new()),
            Kind::Sha1 => Hasher::Sha1(Sha1::new()),
            Kind::Sha256 => Hasher::Sha256(Sha256::new()),
            Kind::Sha512 => Hasher::Sha512(Box::default()),
        }
    }
}

/// A running digest of one of Packer's algorithms.
pub enum Hasher {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Box<Sha512>),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest in lower-case hex.
    pub fn finish(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// An expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub kind: Kind,
    /// Lower-case hex.
    pub hex: String,
}

impl Expected {
    /// `type:value` as Packer writes it (and keys its cache with).
    pub fn packer_form(&self) -> String {
        format!("{}:{}", self.kind.name(), self.hex)
    }
}

/// What `iso_checksum` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// `none`: nothing checked (with a warning).
    None,
    Value(Expected),
    /// `file:URL`: the entry for the downloaded file's name in this checksum file.
    File(String),
}

fn parse_hex(kind: Kind, value: &str) -> Result<Expected, String> {
    let hex = value.trim().to_ascii_lowercase();
    if hex.len() != kind.hex_len() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{value:?} is not a {} checksum: it must be {} hexadecimal digits",
            kind.name(),
            kind.hex_len()
        ));
    }
    Ok(Expected { kind, hex })
}

impl Checksum {
    /// Reads `iso_checksum` (and the old `iso_checksum_type`, empty when not set).
    pub fn parse(value: &str, old_type: &str) -> Result<Checksum, String> {
        let value = value.trim();
        if value.eq_ignore_ascii_case("none") || old_type.eq_ignore_ascii_case("none") {
            return Ok(Checksum::None);
        }
        if value.is_empty() {
            return Err(
                "iso_checksum must be set: \"sha256:<hex>\", \"file:<url of a checksum file>\" or \"none\"".into()
            );
        }
        if let Some(url) = value.strip_prefix("file:") {
            return Ok(Checksum::File(url.to_string()));
        }
        if let Some((t, v)) = value.split_once(':') {
            let Some(kind) = Kind::parse(t) else {
                return Err(format!(
                    "unknown checksum type {t:?} in iso_checksum: use one of {}, or file:<url>",
                    Kind::NAMES.join(", ")
                ));
            };
            return parse_hex(kind, v).map(Checksum::Value);
        }
        if !old_type.is_empty() {
            let kind = Kind::parse(old_type).ok_or_else(|| {
                format!("unknown iso_checksum_type {old_type:?}: use one of {}", Kind::NAMES.join(", "))
            })?;
            return parse_hex(kind, value).map(Checksum::Value);
        }
        match Kind::from_len(value.len()) {
            Some(kind) => parse_hex(kind, value).map(Checksum::Value),
            None => Err(format!(
                "cannot tell the type of iso_checksum {value:?} from its length: write it as \"sha256:<hex>\" (or md5, sha1, sha512)"
            )),
        }
    }
}

/// The digest for the file `name` in a checksum file's `text`: GNU lines (`<hex>  name`,
/// `<hex> *name`, `./name`) or BSD lines (`SHA256 (name) = <hex>`). A file with a single
/// entry and no name matches any file.
pub fn find_in_file(text: &str, name: &str) -> Option<Expected> {
    let same = |n: &str| {
        let n = n.trim().trim_start_matches('*').trim_start_matches("./");
        n == name || n.rsplit('/').next() == Some(name)
    };
    let mut lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    if lines.len() == 1 && !lines[0].contains(char::is_whitespace) {
        let hex = lines.remove(0);
        return Kind::from_len(hex.len()).and_then(|k| parse_hex(k, hex).ok());
    }
    for line in lines {
        // BSD: `SHA256 (file.iso) = <hex>`
        if let Some((left, hex)) = line.rsplit_once(" = ") {
            if let Some((tag, rest)) = left.split_once(" (") {
                let file = rest.strip_suffix(')').unwrap_or(rest);
                if same(file) {
                    if let Some(kind) = Kind::parse(tag) {
                        if let Ok(e) = parse_hex(kind, hex) {
                            return Some(e);
                        }
                    }
                }
                continue;
            }
        }
        // GNU: `<hex>  file.iso` or `<hex> *file.iso`
        if let Some((hex, file)) = line.split_once(char::is_whitespace) {
            if same(file) {
                if let Some(kind) = Kind::from_len(hex.len()) {
                    if let Ok(e) = parse_hex(kind, hex) {
                        return Some(e);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn packer_forms() {
        let v = Checksum::parse(&format!("SHA256:{}", SHA256_ABC.to_uppercase()), "").unwrap();
        assert_eq!(v, Checksum::Value(Expected { kind: Kind::Sha256, hex: SHA256_ABC.into() }));
        assert_eq!(Checksum::parse(SHA256_ABC, "").unwrap(), v);
        assert_eq!(Checksum::parse(SHA256_ABC, "sha256").unwrap(), v);
        assert_eq!(Checksum::parse("none", "").unwrap(), Checksum::None);
        assert_eq!(Checksum::parse("x", "none").unwrap(), Checksum::None);
        assert_eq!(Checksum::parse("file:http://h/SUMS", "").unwrap(), Checksum::File("http://h/SUMS".into()));
        assert!(Checksum::parse("sha3:abc", "").unwrap_err().contains("unknown checksum type \"sha3\""));
        assert!(Checksum::parse("sha1:abc", "").unwrap_err().contains("40 hexadecimal digits"));
        assert!(Checksum::parse("abc", "").unwrap_err().contains("cannot tell the type"));
        assert!(Checksum::parse("", "").unwrap_err().contains("iso_checksum must be set"));
        assert!(Checksum::parse(SHA256_ABC, "crc").unwrap_err().contains("unknown iso_checksum_type"));
    }

    #[test]
    fn hashers_agree_with_known_digests() {
        let mut h = Kind::Sha256.hasher();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), SHA256_ABC);
        let mut h = Kind::Md5.hasher();
        h.update(b"abc");
        assert_eq!(h.finish(), "900150983cd24fb0d6963f7d28e17f72");
        let mut h = Kind::Sha1.hasher();
        h.update(b"abc");
        assert_eq!(h.finish(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let mut h = Kind::Sha512.hasher();
        h.update(b"abc");
        assert!(h.finish().starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn checksum_files_gnu_and_bsd() {
        let gnu = format!("# comment\n{}  other.iso\n{SHA256_ABC} *disk.iso\n", "0".repeat(64));
        assert_eq!(find_in_file(&gnu, "disk.iso").unwrap().hex, SHA256_ABC);
        let dotted = format!("{SHA256_ABC}  ./images/disk.iso\n");
        assert_eq!(find_in_file(&dotted, "disk.iso").unwrap().kind, Kind::Sha256);
        let bsd = format!("MD5 (x.iso) = {}\nSHA256 (disk.iso) = {SHA256_ABC}\n", "1".repeat(32));
        assert_eq!(find_in_file(&bsd, "disk.iso").unwrap().hex, SHA256_ABC);
        assert_eq!(find_in_file(&bsd, "x.iso").unwrap().kind, Kind::Md5);
        assert!(find_in_file(&bsd, "missing.iso").is_none());
        assert_eq!(find_in_file(SHA256_ABC, "anything").unwrap().hex, SHA256_ABC);
    }
}
