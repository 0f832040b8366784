//! Packer's HCL2 function library over [`crate::value::Value`].
