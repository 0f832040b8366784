//! `hcl2_upgrade`: legacy JSON template → HCL2 configuration.
