//! Temporary SSH key pairs for builders that create a machine and must log in to it
//! (Packer's `temporary_key_pair_type` / `temporary_key_pair_bits`): ed25519 (kiln's default),
//! ECDSA or RSA, from the OS's random source.

use kiln_core::{Error, Result};
use russh::keys::ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair};
use russh::keys::ssh_key::{EcdsaCurve, LineEnding, PrivateKey};

/// A fresh key pair: the private key in OpenSSH format (for `Config::ssh_private_key` or a
/// debug file) and the public key as an `authorized_keys` line.
pub struct TempKeyPair {
    pub private_openssh: String,
    pub public_authorized_key: String,
}

/// The kinds of temporary key kiln makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    /// ECDSA on the NIST curve of this many bits (256, 384 or 521).
    Ecdsa(u32),
    /// RSA with this many bits.
    Rsa(usize),
}

/// RSA's size when `temporary_key_pair_bits` is not set (Packer's).
pub const DEFAULT_RSA_BITS: usize = 4096;

/// ECDSA's curve size when `temporary_key_pair_bits` is not set (Packer's).
pub const DEFAULT_ECDSA_BITS: u32 = 521;

impl KeyType {
    /// Reads `temporary_key_pair_type` and `temporary_key_pair_bits` (kiln's default type is
    /// ed25519; Packer's is rsa).
    pub fn from_options(kind: Option<&str>, bits: Option<u32>) -> std::result::Result<KeyType, String> {
        match kind.unwrap_or("").to_ascii_lowercase().as_str() {
            "" | "ed25519" => match bits {
                None | Some(0) | Some(256) => Ok(KeyType::Ed25519),
                Some(b) => Err(format!("temporary_key_pair_bits {b} does not apply to ed25519 keys (always 256 bits)")),
            },
            "rsa" => match bits.map_or(DEFAULT_RSA_BITS, |b| b as usize) {
                0 => Ok(KeyType::Rsa(DEFAULT_RSA_BITS)),
                b @ 2048..=16384 => Ok(KeyType::Rsa(b)),
                b => Err(format!("temporary_key_pair_bits {b} is out of range for RSA: use 2048 to 16384")),
            },
            "ecdsa" => match bits.unwrap_or(0) {
                0 => Ok(KeyType::Ecdsa(DEFAULT_ECDSA_BITS)),
                b @ (256 | 384 | 521) => Ok(KeyType::Ecdsa(b)),
                b => Err(format!("temporary_key_pair_bits {b} is not an ECDSA curve size: use 256, 384 or 521")),
            },
            "dsa" => Err(
                "OpenSSH servers refuse DSA keys (since OpenSSH 7.0): set temporary_key_pair_type to \"ed25519\", \"ecdsa\" or \"rsa\""
                    .to_string(),
            ),
            other => Err(format!("unknown temporary_key_pair_type {other:?}: use \"ed25519\", \"ecdsa\" or \"rsa\"")),
        }
    }

    /// `ED25519` or `RSA`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ED25519",
            KeyType::Ecdsa(_) => "ECDSA",
            KeyType::Rsa(_) => "RSA",
        }
    }
}

impl TempKeyPair {
    /// An ed25519 pair; `comment` ends the public line (Packer uses `packer_<id>`).
    pub fn generate(comment: &str) -> Result<TempKeyPair> {
        TempKeyPair::generate_type(KeyType::Ed25519, comment)
    }

    /// A pair of the given type.
    pub fn generate_type(kind: KeyType, comment: &str) -> Result<TempKeyPair> {
        let data = match kind {
            KeyType::Ed25519 => {
                let mut seed = [0u8; 32];
                kiln_config::random::fill(&mut seed)
                    .map_err(|e| Error::new(format!("{e}, for a temporary SSH key")))?;
                KeypairData::from(Ed25519Keypair::from_seed(&seed))
            }
            KeyType::Ecdsa(bits) => {
                let curve = match bits {
                    256 => EcdsaCurve::NistP256,
                    384 => EcdsaCurve::NistP384,
                    _ => EcdsaCurve::NistP521,
                };
                KeypairData::from(
                    EcdsaKeypair::random(&mut rand::rng(), curve)
                        .map_err(|e| Error::new(format!("generating a {bits}-bit ECDSA key: {e}")))?,
                )
            }
            KeyType::Rsa(bits) => KeypairData::from(
                RsaKeypair::random(&mut rand::rng(), bits)
                    .map_err(|e| Error::new(format!("generating a {bits}-bit RSA key: {e}")))?,
            ),
        };
        let mut key =
            PrivateKey::new(data, comment).map_err(|e| Error::new(format!("making the temporary key: {e}")))?;
        key.set_comment(comment);
        let private_openssh =
            key.to_openssh(LineEnding::LF).map_err(|e| Error::new(format!("encoding the temporary key: {e}")))?;
        let public_authorized_key =
            key.public_key().to_openssh().map_err(|e| Error::new(format!("encoding the temporary key: {e}")))?;
        Ok(TempKeyPair { private_openssh: private_openssh.to_string(), public_authorized_key })
    }

    /// The pair of a private key made elsewhere (EC2's CreateKeyPair answers one in PEM):
    /// the key as given, and its public half as an `authorized_keys` line ending in `comment`.
    pub fn from_private(private: &str, comment: &str) -> Result<TempKeyPair> {
        let mut key = russh::keys::decode_secret_key(private, None)
            .map_err(|e| Error::new(format!("reading the temporary private key: {e}")))?;
        key.set_comment(comment);
        let public_authorized_key =
            key.public_key().to_openssh().map_err(|e| Error::new(format!("encoding the temporary key: {e}")))?;
        Ok(TempKeyPair { private_openssh: private.to_string(), public_authorized_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_distinct_usable_keys() {
        let a = TempKeyPair::generate("packer_test").unwrap();
        let b = TempKeyPair::generate("packer_test").unwrap();
        assert!(a.public_authorized_key.starts_with("ssh-ed25519 "));
        assert!(a.public_authorized_key.ends_with(" packer_test"));
        assert_ne!(a.public_authorized_key, b.public_authorized_key);
        assert!(russh::keys::decode_secret_key(&a.private_openssh, None).is_ok());
        for (bits, name) in [(256, "nistp256"), (384, "nistp384"), (521, "nistp521")] {
            let e = TempKeyPair::generate_type(KeyType::Ecdsa(bits), "packer_ecdsa").unwrap();
            assert!(e.public_authorized_key.starts_with(&format!("ecdsa-sha2-{name} ")), "{}", e.public_authorized_key);
            assert!(russh::keys::decode_secret_key(&e.private_openssh, None).is_ok());
        }
        let r = TempKeyPair::generate_type(KeyType::Rsa(2048), "packer_rsa").unwrap();
        assert!(r.public_authorized_key.starts_with("ssh-rsa "));
        assert!(russh::keys::decode_secret_key(&r.private_openssh, None).is_ok());
    }

    #[test]
    fn a_private_key_made_elsewhere_gives_its_public_line() {
        let made = TempKeyPair::generate_type(KeyType::Rsa(2048), "elsewhere").unwrap();
        let read = TempKeyPair::from_private(&made.private_openssh, "packer_x").unwrap();
        let blob = |l: &str| l.split(' ').nth(1).unwrap().to_string();
        assert_eq!(blob(&read.public_authorized_key), blob(&made.public_authorized_key));
        assert!(read.public_authorized_key.ends_with(" packer_x"));
        assert!(TempKeyPair::from_private("not a key", "c").is_err());
    }

    #[test]
    fn options() {
        assert_eq!(KeyType::from_options(None, None), Ok(KeyType::Ed25519));
        assert_eq!(KeyType::from_options(Some("RSA"), None), Ok(KeyType::Rsa(4096)));
        assert_eq!(KeyType::from_options(Some("rsa"), Some(3072)), Ok(KeyType::Rsa(3072)));
        assert!(KeyType::from_options(Some("rsa"), Some(512)).unwrap_err().contains("out of range"));
        assert!(KeyType::from_options(Some("ed25519"), Some(2048)).is_err());
        assert_eq!(KeyType::from_options(Some("ecdsa"), None), Ok(KeyType::Ecdsa(521)));
        assert_eq!(KeyType::from_options(Some("ECDSA"), Some(256)), Ok(KeyType::Ecdsa(256)));
        assert!(KeyType::from_options(Some("ecdsa"), Some(300)).unwrap_err().contains("use 256, 384 or 521"));
        assert!(KeyType::from_options(Some("dsa"), None).unwrap_err().starts_with("OpenSSH servers refuse DSA keys"));
        assert!(KeyType::from_options(Some("rsb"), None).unwrap_err().contains("unknown"));
    }
}
