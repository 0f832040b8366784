//! Temporary SSH key pairs for builders that create a machine and must log in to it
//! (Packer's `ssh_temporary_key_pair_*`): ed25519, from the OS's random source.

use kiln_core::{Error, Result};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::{LineEnding, PrivateKey};

/// A fresh key pair: the private key in OpenSSH format (for `Config::ssh_private_key` or a
/// debug file) and the public key as an `authorized_keys` line.
pub struct TempKeyPair {
    pub private_openssh: String,
    pub public_authorized_key: String,
}

impl TempKeyPair {
    /// `comment` ends the public line (Packer uses `packer_<id>`).
    pub fn generate(comment: &str) -> Result<TempKeyPair> {
        let mut seed = [0u8; 32];
        kiln_config::random::fill(&mut seed).map_err(|e| Error::new(format!("{e}, for a temporary SSH key")))?;
        let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        key.set_comment(comment);
        let private_openssh =
            key.to_openssh(LineEnding::LF).map_err(|e| Error::new(format!("encoding the temporary key: {e}")))?;
        let public_authorized_key =
            key.public_key().to_openssh().map_err(|e| Error::new(format!("encoding the temporary key: {e}")))?;
        Ok(TempKeyPair { private_openssh: private_openssh.to_string(), public_authorized_key })
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
    }
}
