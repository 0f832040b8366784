//! HCL2 loader and evaluator: no input may make them panic.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::load_as(data, "fuzz.pkr.hcl"));
