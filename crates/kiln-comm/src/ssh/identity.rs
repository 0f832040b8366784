//! The keys and OpenSSH user certificates kiln logs in with. `ssh_private_key_file` and
//! `ssh_certificate_file` (and the bastion's) are read and checked when the template is
//! validated, as Packer does, so a wrong file stops a build before it has made anything; a
//! certificate login signs with the file's key through [`KeySigner`], which picks the RSA hash
//! the server asked for (`rsa-sha2-512-cert-v01@openssh.com` rather than the SHA-1 form that
//! OpenSSH refuses).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use russh::keys::agent::AgentIdentity;
use russh::keys::ssh_encoding::Encode;
use russh::keys::ssh_key::certificate::CertType;
use russh::keys::ssh_key::private::KeypairData;
use russh::keys::{Certificate, HashAlg, PrivateKey};
use russh::AgentAuthError;

/// Reads the private key at `path` (a leading `~` is the home folder); the error names `option`.
pub fn read_key(option: &str, path: &str) -> Result<PrivateKey, String> {
    let text = std::fs::read_to_string(kiln_config::golang::expand_user(path))
        .map_err(|e| format!("{option}: cannot read {path}: {e}"))?;
    russh::keys::decode_secret_key(&text, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => {
            format!("{option}: {path} is protected by a passphrase, which kiln cannot ask for")
        }
        e => format!("{option}: {path} is not a private key kiln can read: {e}"),
    })
}

/// Reads the OpenSSH certificate at `path` and checks that it is a user certificate for `key`.
pub fn read_certificate(option: &str, path: &str, key: &PrivateKey) -> Result<Certificate, String> {
    let text = std::fs::read_to_string(kiln_config::golang::expand_user(path))
        .map_err(|e| format!("{option}: cannot read {path}: {e}"))?;
    let cert = Certificate::from_openssh(text.trim())
        .map_err(|e| format!("{option}: {path} is not an OpenSSH certificate: {e}"))?;
    if cert.cert_type() != CertType::User {
        return Err(format!("{option}: {path} is a host certificate; logging in takes a user certificate"));
    }
    if cert.public_key() != key.public_key().key_data() {
        return Err(format!("{option}: {path} certifies another key than the private key it goes with"));
    }
    Ok(cert)
}

/// What a certificate says that makes the server refuse it now, or refuse `user`: expired, not
/// yet valid, or for other principals. Empty when none applies. `now` in seconds since 1970.
pub fn certificate_problems(cert: &Certificate, user: &str, now: u64) -> Vec<String> {
    let mut out = Vec::new();
    let when = |t: u64| {
        let d = kiln_config::civil::DateTime::from_unix(t as i64, 0, 0, true);
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", d.year, d.month, d.day, d.hour, d.minute, d.second)
    };
    if now >= cert.valid_before() {
        out.push(format!("it expired on {}", when(cert.valid_before())));
    } else if now < cert.valid_after() {
        out.push(format!("it is not valid before {}", when(cert.valid_after())));
    }
    let principals = cert.valid_principals();
    if !principals.is_empty() && !principals.iter().any(|p| p == user) {
        out.push(format!("it is for {}, not for {user:?}", quoted_list(principals)));
    }
    out
}

fn quoted_list(items: &[String]) -> String {
    items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
}

/// Seconds since 1970, now.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs a login with a private key held here, for russh's certificate login (which otherwise
/// signs only through an SSH agent).
pub struct KeySigner(pub Arc<PrivateKey>);

impl russh::Signer for KeySigner {
    type Error = AgentAuthError;

    #[allow(clippy::manual_async_fn)]
    fn auth_sign(
        &mut self,
        _identity: &AgentIdentity,
        hash_alg: Option<HashAlg>,
        mut to_sign: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, Self::Error>> + Send {
        async move {
            use russh::keys::signature::Signer as _;
            let signature = match self.0.key_data() {
                KeypairData::Rsa(rsa) => (rsa, hash_alg).try_sign(&to_sign),
                _ => self.0.try_sign(&to_sign),
            }
            .map_err(|e| AgentAuthError::Key(russh::keys::ssh_key::Error::from(e).into()))?;
            // The request ends with the signature as an SSH string (its algorithm and blob).
            let encoded = signature.encode_vec().map_err(|e| AgentAuthError::Key(e.into()))?;
            encoded.encode(&mut to_sign).map_err(|e| AgentAuthError::Key(e.into()))?;
            Ok(to_sign)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use russh::keys::ssh_key::certificate::Builder;
    use russh::keys::ssh_key::private::Ed25519Keypair;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::new(KeypairData::from(Ed25519Keypair::from_seed(&[seed; 32])), "").unwrap()
    }

    fn certificate(key: &PrivateKey, after: u64, before: u64, principals: &[&str]) -> Certificate {
        let mut b = Builder::new([7u8; 16], key.public_key().key_data().clone(), after, before).unwrap();
        b.cert_type(CertType::User).unwrap();
        for p in principals {
            b.valid_principal(*p).unwrap();
        }
        if principals.is_empty() {
            b.all_principals_valid().unwrap();
        }
        b.sign(&self::key(9)).unwrap()
    }

    #[test]
    fn a_certificates_problems_are_named() {
        let k = key(1);
        let now = 1_800_000_000;
        assert!(certificate_problems(&certificate(&k, now - 60, now + 60, &["kiln"]), "kiln", now).is_empty());
        assert!(certificate_problems(&certificate(&k, now - 60, now + 60, &[]), "anyone", now).is_empty());
        assert_eq!(
            certificate_problems(&certificate(&k, now - 120, now - 60, &["ops", "root"]), "kiln", now),
            ["it expired on 2027-01-15 07:59:00 UTC", "it is for \"ops\", \"root\", not for \"kiln\""]
        );
        assert_eq!(
            certificate_problems(&certificate(&k, now + 60, now + 120, &["kiln"]), "kiln", now),
            ["it is not valid before 2027-01-15 08:01:00 UTC"]
        );
    }

    #[test]
    fn a_certificate_must_be_a_user_certificate_for_its_key() {
        let dir = kiln_testing::TempDir::new("identity");
        let k = key(1);
        let cert = certificate(&k, 0, u64::MAX, &["kiln"]);
        let p = &dir.file("k-cert.pub", cert.to_openssh().unwrap().as_bytes());
        assert_eq!(read_certificate("ssh_certificate_file", p, &k).unwrap(), cert);
        let e = read_certificate("ssh_certificate_file", p, &key(2)).unwrap_err();
        assert!(e.ends_with("certifies another key than the private key it goes with"), "{e}");
        let mut b = Builder::new([7u8; 16], k.public_key().key_data().clone(), 0, u64::MAX).unwrap();
        b.cert_type(CertType::Host).unwrap();
        b.all_principals_valid().unwrap();
        std::fs::write(p, b.sign(&key(9)).unwrap().to_openssh().unwrap()).unwrap();
        let e = read_certificate("ssh_certificate_file", p, &k).unwrap_err();
        assert!(e.ends_with("is a host certificate; logging in takes a user certificate"), "{e}");
        std::fs::write(p, k.public_key().to_openssh().unwrap()).unwrap();
        let e = read_certificate("ssh_certificate_file", p, &k).unwrap_err();
        assert!(e.contains("is not an OpenSSH certificate"), "{e}");
        let e = read_certificate("ssh_certificate_file", "/nonexistent/k-cert.pub", &k).unwrap_err();
        assert!(e.starts_with("ssh_certificate_file: cannot read /nonexistent/k-cert.pub: "), "{e}");
    }
}
