//! kiln's built-in data sources (HCL2 `data "type" "name" { }`), one module each: `null`
//! (returns its input, for tests and examples) and `http` (the body and headers of a URL).
//! The amazon data sources live with the AWS client in kiln-amazon.

pub mod http;
pub mod null;
