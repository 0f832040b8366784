//! The HCL2 formatter: canonical layout byte-identical to `packer fmt`.
