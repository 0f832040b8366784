//! `fix`: Packer's JSON fixers (renamed and moved options), output as Packer prints it.
