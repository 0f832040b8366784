//! The line a plugin prints on stdout when it is ready: `5|unix|/path` (Packer 1.6.6) or
//! `5|0|unix|/path` (packer-plugin-sdk: API major, minor, network, address).

/// The plugin API major version kiln speaks.
pub const API_MAJOR: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    Unix,
    Tcp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub api_major: u32,
    /// Absent in Packer 1.6.6's three-field form.
    pub api_minor: Option<u32>,
    pub network: Network,
    pub address: String,
}

impl Handshake {
    pub fn parse(line: &str) -> Result<Handshake, String> {
        let bad = || format!("printed {line:?} instead of a handshake line like `5|0|unix|/path/to/socket`");
        let fields: Vec<&str> = line.trim().split('|').collect();
        let (major, minor, network, address) = match fields.as_slice() {
            [major, network, address] => (*major, None, *network, *address),
            [major, minor, network, address] => (*major, Some(*minor), *network, *address),
            _ => return Err(bad()),
        };
        let api_major: u32 = major.parse().map_err(|_| bad())?;
        let api_minor = match minor {
            Some(m) => Some(m.parse::<u32>().map_err(|_| bad())?),
            None => None,
        };
        if api_major != API_MAJOR {
            return Err(format!(
                "speaks plugin API version {api_major}, kiln speaks {API_MAJOR} (handshake line {line:?})"
            ));
        }
        let network = match network {
            "unix" => Network::Unix,
            "tcp" => Network::Tcp,
            other => return Err(format!("offers a connection over {other:?}; kiln knows unix and tcp")),
        };
        if address.is_empty() {
            return Err(bad());
        }
        Ok(Handshake { api_major, api_minor, network, address: address.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packer_1_6_6_form() {
        let h = Handshake::parse("5|unix|/tmp/packer-plugin3370692072\n").unwrap();
        assert_eq!(h.api_minor, None);
        assert_eq!(h.network, Network::Unix);
        assert_eq!(h.address, "/tmp/packer-plugin3370692072");
    }

    #[test]
    fn sdk_form_and_tcp() {
        let h = Handshake::parse("5|0|tcp|127.0.0.1:10001").unwrap();
        assert_eq!((h.api_major, h.api_minor, h.network), (5, Some(0), Network::Tcp));
        assert_eq!(h.address, "127.0.0.1:10001");
    }

    #[test]
    fn rejects_what_is_not_a_handshake() {
        assert!(Handshake::parse("Please do not execute plugins directly.").unwrap_err().contains("instead of"));
        assert!(Handshake::parse("4|0|unix|/x").unwrap_err().contains("version 4"));
        assert!(Handshake::parse("5|0|pipe|/x").unwrap_err().contains("pipe"));
        assert!(Handshake::parse("5|x|unix|/x").is_err());
        assert!(Handshake::parse("5|unix|").is_err());
    }
}
